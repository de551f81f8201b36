"""Files syncer writes keep normal permissions and are written durably (README, "Reports").

A new file (report, review, export, plan, undo plan, snapshot) gets the mode open() would give it,
0o666 less the umask; a sheet rewritten in place (`push --write-back`, a sync that pulls cells)
keeps its own mode and group. Every file is written to a temporary file, fsynced, and renamed:
a process killed before the rename leaves the old file as it was.
"""

from __future__ import annotations

import os
import select
import shutil
import signal
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from conftest import on_small_csv
from syncer import state, tables

CARS = "2-3465404"
MAPPING = "mappings/cars.yaml"
UMASK = 0o002  # a new file gets 0o664: neither mkstemp's 0600 nor the usual 0644
NEW_MODE = 0o666 & ~UMASK

needs_proc_umask = pytest.mark.skipif(
    not Path("/proc/self/status").exists(),
    reason="a umask set after import is read from /proc (Linux); elsewhere the umask at import counts")


@pytest.fixture
def umask():
    """The process's umask set to UMASK for the test, then restored."""
    old = os.umask(UMASK)
    yield UMASK
    os.umask(old)


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def only(folder: Path, pattern: str) -> Path:
    [found] = folder.glob(pattern)
    return found


# --- the helper --------------------------------------------------------------------------------


def _write_callable(path):
    return lambda tmp: Path(tmp).write_text("new", encoding="utf-8")


CONTENTS = [("text", lambda path: "new"), ("bytes", lambda path: b"new"),
            ("pieces", lambda path: iter(["n", b"e", "w"])), ("function", _write_callable)]


@needs_proc_umask
@pytest.mark.parametrize("make", [m for _, m in CONTENTS], ids=[name for name, _ in CONTENTS])
def test_atomic_write_gives_a_new_file_the_umasks_mode(tmp_path, umask, make):
    target = tmp_path / "new.json"
    tables.atomic_write(target, make(target))
    assert target.read_text(encoding="utf-8") == "new"
    assert mode(target) == NEW_MODE
    assert [p.name for p in tmp_path.iterdir()] == ["new.json"]  # no temporary file left


@needs_proc_umask
@pytest.mark.parametrize("kept", [0o644, 0o640, 0o600, 0o660], ids=oct)
def test_atomic_write_keeps_an_existing_files_mode(tmp_path, umask, kept):
    target = tmp_path / "report.csv"
    target.write_text("old", encoding="utf-8")
    os.chmod(target, kept)
    tables.atomic_write(target, "new")
    assert target.read_text(encoding="utf-8") == "new" and mode(target) == kept


@needs_proc_umask
def test_a_failed_write_leaves_the_old_file_and_no_temporary_file(tmp_path, umask):
    target = tmp_path / "plan.json"
    target.write_text("old", encoding="utf-8")
    os.chmod(target, 0o640)

    def pieces():
        yield "half"
        raise ValueError("the content failed")

    with pytest.raises(ValueError, match="the content failed"):
        tables.atomic_write(target, pieces())
    assert target.read_text(encoding="utf-8") == "old" and mode(target) == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["plan.json"]


@needs_proc_umask
def test_new_file_mode_follows_a_umask_set_after_import(umask):
    assert tables.new_file_mode() == NEW_MODE
    os.umask(0o027)
    assert tables.new_file_mode() == 0o640


def test_the_umask_is_read_without_changing_it():
    before = os.umask(0o022)
    os.umask(before)
    tables.new_file_mode()
    after = os.umask(before)
    assert after == before


@needs_proc_umask
def test_a_state_snapshot_keeps_its_mode_and_a_first_one_gets_the_umasks(tmp_path, umask):
    path = tmp_path / ".syncer" / "cars.sync.sqlite"
    records = pd.DataFrame([["1", False, None, "x"]], index=["K1"],
                           columns=["record_id", "archived", "updated_at", "price"], dtype=object)
    state.save(state.Snapshot(records, {"since_ms": 1}), path)
    assert mode(path) == NEW_MODE
    os.chmod(path, 0o600)  # a user who keeps it private
    state.save(state.Snapshot(records.assign(price="y"), {"since_ms": 2}), path)
    assert mode(path) == 0o600
    assert state.load(path).records.at["K1", "price"] == "y"
    assert sorted(p.name for p in path.parent.iterdir()) == ["cars.sync.sqlite"]


# --- a killed writer ---------------------------------------------------------------------------

BLOCKED_WRITER = textwrap.dedent("""
    import sys
    from syncer import tables

    def pieces():
        yield b"half of the new file"
        print("written", flush=True)
        sys.stdin.buffer.read(1)  # blocks here until the test kills this process
        yield b"the rest"

    tables.atomic_write(sys.argv[1], pieces())
""")


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="SIGKILL is POSIX")
def test_a_writer_killed_before_the_rename_leaves_the_file_untouched(tmp_path):
    target = tmp_path / "cars.csv"
    target.write_bytes(b"VIN,Price\nA,1\n")
    os.chmod(target, 0o640)
    writer = subprocess.Popen([sys.executable, "-c", BLOCKED_WRITER, str(target)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        ready, _, _ = select.select([writer.stdout], [], [], 60)
        assert ready, "the writer did not start writing within 60 s"
        line = writer.stdout.readline()
        assert line == b"written\n", writer.stderr.read().decode()
        assert len(list(tmp_path.glob(".cars.csv.*"))) == 1  # the temporary file is being written
        writer.send_signal(signal.SIGKILL)
        assert writer.wait(timeout=60) == -signal.SIGKILL
    finally:
        if writer.poll() is None:
            writer.kill()
            writer.wait(timeout=60)
        writer.stdin.close()
        writer.stdout.close()
        writer.stderr.close()
    assert target.read_bytes() == b"VIN,Price\nA,1\n" and mode(target) == 0o640


# --- fsync, observed with strace ---------------------------------------------------------------

WRITERS = {
    "atomic_write": "tables.atomic_write(target, 'new')",
    "SheetWriter": "tables.write(pd.DataFrame({'VIN': ['A']}), target)",
    "state.save": "state.save(state.Snapshot(pd.DataFrame(columns=['record_id', 'archived', 'updated_at'])), target)",
}
SUFFIXES = {"atomic_write": ".json", "SheetWriter": ".xlsx", "state.save": ".sqlite"}


def _strace_works() -> bool:
    if shutil.which("strace") is None:
        return False
    probe = subprocess.run(["strace", "-o", os.devnull, "true"], capture_output=True, timeout=60, check=False)
    return probe.returncode == 0  # ptrace may be refused in a container


@pytest.mark.skipif(not _strace_works(), reason="needs strace and permission to trace")
@pytest.mark.parametrize("writer", list(WRITERS))
def test_the_file_and_then_its_folder_are_fsynced_around_the_rename(tmp_path, writer):
    """The system calls a real write makes, in order: fsync of the temporary file, its rename over
    the target, fsync of the folder (without it, a power cut can lose the rename)."""
    target = tmp_path / f"out{SUFFIXES[writer]}"
    log = tmp_path.parent / f"{tmp_path.name}.strace"
    script = f"import pandas as pd\nfrom syncer import state, tables\ntarget = {str(target)!r}\n{WRITERS[writer]}\n"
    if writer == "state.save":
        script = script.replace("target)", "__import__('pathlib').Path(target))")
    done = subprocess.run(["strace", "-f", "-y", "-s", "4096", "-o", str(log),
                           "-e", "trace=fsync,fdatasync,rename,renameat,renameat2", sys.executable, "-c", script],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    calls = [line.split(None, 1)[1] for line in log.read_text().splitlines() if str(tmp_path) in line]
    temporary = f"{tmp_path}/.{target.name}."
    synced = [i for i, c in enumerate(calls) if c.startswith("fsync(") and temporary in c]
    renamed = [i for i, c in enumerate(calls) if c.startswith("rename") and temporary in c and f'"{target}"' in c]
    folder = [i for i, c in enumerate(calls) if c.startswith("fsync(") and f"<{tmp_path}>)" in c]
    assert synced and renamed and folder, "\n".join(calls)
    assert max(synced) < renamed[-1] < min(i for i in folder if i > renamed[-1]), "\n".join(calls)
    assert target.exists()


# --- through the CLI: new files ----------------------------------------------------------------


@pytest.fixture
def small(project):
    return on_small_csv(project, 5)


@needs_proc_umask
def test_push_report_plan_review_and_undo_files_get_the_umasks_mode(run, small, umask):
    planned = run("plan", MAPPING, "-o", "plan.json", "--review", "review.xlsx")
    assert planned.exit_code == 0, planned.output
    assert mode(small / "plan.json") == NEW_MODE and mode(small / "review.xlsx") == NEW_MODE
    for suffix in ("csv", "xlsx", "json"):
        pushed = run("push", MAPPING, "--yes", "--report", f"report.{suffix}")
        assert pushed.exit_code == 0, pushed.output
        assert mode(small / f"report.{suffix}") == NEW_MODE, suffix
    undo = only(small / "mappings" / ".syncer", "undo-*.json")  # the first push created the records
    assert mode(undo) == NEW_MODE


@needs_proc_umask
@pytest.mark.parametrize("suffix", ["csv", "xlsx"])
def test_an_export_gets_the_umasks_mode(run, small, umask, suffix):
    assert run("push", MAPPING, "--yes").exit_code == 0
    exported = run("export", MAPPING, "-o", f"out.{suffix}")
    assert exported.exit_code == 0, exported.output
    assert mode(small / f"out.{suffix}") == NEW_MODE


@needs_proc_umask
def test_a_sync_snapshot_gets_the_umasks_mode(run, small, umask):
    synced = run("sync", MAPPING)
    assert synced.exit_code == 0, synced.output
    assert mode(only(small / "mappings" / ".syncer", "*.sync.sqlite")) == NEW_MODE


@needs_proc_umask
def test_a_report_written_again_keeps_the_mode_its_owner_gave_it(run, small, umask):
    assert run("push", MAPPING, "--yes", "--report", "report.csv").exit_code == 0
    os.chmod(small / "report.csv", 0o640)
    assert run("push", MAPPING, "--yes", "--report", "report.csv").exit_code == 0
    assert mode(small / "report.csv") == 0o640


# --- through the CLI: a sheet rewritten in place -----------------------------------------------


@pytest.fixture(params=["csv", "xlsx"])
def sheet(request, project) -> Path:
    """A five-row sheet of the sample, in one format, named by the mapping as its source."""
    if request.param == "csv":
        return on_small_csv(project, 5) / "sample_data" / "cars.csv"
    path = project / "sample_data" / "cars.xlsx"
    book = openpyxl.load_workbook(path)
    book["Inventory"].delete_rows(7, book["Inventory"].max_row)
    book.save(path)
    return path


@needs_proc_umask
@pytest.mark.parametrize("kept", [0o644, 0o640], ids=oct)
def test_push_write_back_keeps_the_sheets_mode(run, sheet, umask, kept):
    os.chmod(sheet, kept)
    pushed = run("push", MAPPING, "--yes", "--write-back")
    assert pushed.exit_code == 0, pushed.output
    table = tables.read(sheet, sheet="Inventory" if sheet.suffix == ".xlsx" else None)
    assert list(table.frame["sync_status"]) == ["created"] * 5  # written back, in place
    assert mode(sheet) == kept


@needs_proc_umask
@pytest.mark.parametrize("kept", [0o644, 0o640], ids=oct)
def test_a_sync_that_pulls_a_cell_keeps_the_sheets_mode(run, sheet, client, umask, kept):
    assert run("sync", MAPPING).exit_code == 0
    os.chmod(sheet, kept)
    [record] = [r for r in client.list_records(CARS, properties=["vin"])][:1]
    [answer] = client.batch_update(CARS, [{"id": record.id, "properties": {"price": "12345"}}])
    assert answer.ok
    pulled = run("sync", MAPPING)
    assert pulled.exit_code == 0, pulled.output
    assert "pulled 1 cell" in pulled.output
    assert mode(sheet) == kept


def _another_group() -> int | None:
    """A group this process may give a file: any as root, else one of its other groups."""
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        return 4242
    others = [g for g in os.getgroups() if g != os.getegid()] if hasattr(os, "getgroups") else []
    return others[0] if others else None


@pytest.mark.skipif(_another_group() is None, reason="needs a second group to give the sheet")
def test_push_write_back_keeps_the_sheets_group(run, sheet):
    group = _another_group()
    os.chown(sheet, -1, group)
    os.chmod(sheet, 0o640)  # chown may have cleared bits: set the mode after it
    pushed = run("push", MAPPING, "--yes", "--write-back")
    assert pushed.exit_code == 0, pushed.output
    assert os.stat(sheet).st_gid == group and mode(sheet) == 0o640
