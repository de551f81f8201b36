"""The conventions of the CLIs syncer's users know: -h, -V, -v, -q on every command, a start-up
that loads nothing heavy, a quick failure on an unreachable portal, shares that never read 0 %."""

from __future__ import annotations

import re
import socket
import subprocess
import sys

import click
import pytest
from click.testing import CliRunner

import syncer
from conftest import on_small_csv
from syncer.cli import cli
from syncer.talk import percent

HEAVY = ("pandas", "numpy", "openpyxl", "pydantic", "requests", "yaml", "rich", "python_calamine")


def commands(group: click.Group = cli, prefix: tuple[str, ...] = ()):
    for name, command in group.commands.items():
        yield (*prefix, name)
        if isinstance(command, click.Group):
            yield from commands(command, (*prefix, name))


@pytest.mark.parametrize("imported", ["syncer", "syncer.cli"])
def test_importing_syncer_or_its_cli_loads_nothing_heavy(imported):
    loaded = subprocess.run(
        [sys.executable, "-c", f"import sys, {imported}; print(','.join(m for m in {HEAVY!r} if m in sys.modules))"],
        capture_output=True, text=True, check=True).stdout.strip()
    assert loaded == ""


def test_the_api_names_are_the_functions_even_after_their_modules_load():
    import syncer.export
    import syncer.sync

    assert callable(syncer.sync) and syncer.sync.__module__ == "syncer.sync"
    assert callable(syncer.export) and syncer.export.__module__ == "syncer.export"
    assert set(syncer.__all__) <= set(dir(syncer))
    with pytest.raises(AttributeError, match="has no attribute 'nothing_here'"):
        syncer.nothing_here  # noqa: B018


def test_help_is_h_everywhere_and_the_version_is_v():
    runner = CliRunner()
    for path in [(), *commands()]:
        shown = runner.invoke(cli, [*path, "-h"])
        assert shown.exit_code == 0 and shown.output.startswith("Usage: "), (path, shown.output)
        assert "-v, --verbose" in shown.output and "-q, --quiet" in shown.output, path
    assert runner.invoke(cli, ["-V"]).output == f"syncer, version {syncer.__version__}\n"


@pytest.fixture
def small(project):
    return on_small_csv(project, 30)


def test_quiet_plans_show_the_counts_and_the_cost_but_no_listing(run, small):
    loud, quiet = run("plan", "mappings/cars.yaml"), run("plan", "mappings/cars.yaml", "-q")
    assert loud.exit_code == quiet.exit_code == 0
    assert "create (30):" in loud.output and "create (30):" not in quiet.output
    assert "create 30" in quiet.output and "Cost: " in quiet.output


def test_verbose_says_each_phase_with_its_time_and_the_rate_limit_learnt(run, small):
    pushed = run("push", "mappings/cars.yaml", "--yes", "-v")
    assert pushed.exit_code == 0, pushed.output
    said = pushed.stderr
    for phase in ("read cars.csv: 30 rows (", "asked the portal for the object and its properties: cars on portal ",
                  "converted the cells: 0 cell errors (", "read HubSpot's records: 0 found of 30 keys (",
                  "planned: create 30 (", "applied: created 30; 1 API calls ("):
        assert phase in said, phase
    assert "rate limit from the portal's headers: 190 requests per 10 s" in said
    quiet_again = run("plan", "mappings/cars.yaml")  # -v lasts one command
    assert "read cars.csv" not in quiet_again.stderr


def test_very_verbose_shows_every_request(run, small):
    planned = run("plan", "mappings/cars.yaml", "-vv")
    assert re.search(r"POST /crm/v3/objects/2-3465404/batch/read -> 207", planned.stderr), planned.stderr


def test_an_unreachable_portal_fails_at_once_with_exit_3():
    with socket.socket() as free:  # a port nothing listens on
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    result = CliRunner().invoke(cli, ["info", "--base-url", f"http://127.0.0.1:{port}", "--token", "t"])
    assert result.exit_code == 3
    assert "Could not reach the portal" in result.output and "connection refused" in result.output
    attempts = int(re.search(r"after (\d+) attempts", result.output).group(1))
    # A portal never reached gets about 2 s of retries, not the 2 minutes a live one gets: the least
    # backoffs (0.25, 0.5 and 1 s, jitter drawn low) fit three retries in them, never a fourth (2 s more).
    assert attempts <= 4


@pytest.mark.parametrize("share, shown", [(0, "0%"), (0.5, "50%"), (0.1, "10%"), (0.0994, "9.9%"),
                                          (0.005, "0.5%"), (0.000004, "0.0004%"), (0.0000123, "0.0012%")])
def test_shares_read_as_people_write_them_never_a_false_zero(share, shown):
    assert percent(share) == shown


def test_the_cost_guard_names_shares_that_are_not_zero(run, small):
    mapping = small / "mappings" / "cars.yaml"
    mapping.write_text(mapping.read_text().replace("max_archive_fraction: 0.1",
                                                   "max_archive_fraction: 0.1\n  max_daily_share: 0.0000001"))
    refused = run("push", "mappings/cars.yaml", "--json")
    assert refused.exit_code == 2 and refused.stdout == ""  # nothing was sent
    assert "0.0001% of the portal's daily allowance, more than sync.max_daily_share 0.00001%" in refused.stderr


def test_plans_results_and_syncs_print_short_in_a_notebook(small, client, sandbox):
    mapping = small / "mappings" / "cars.yaml"
    built = syncer.build_plan(mapping, client)
    assert repr(built) == f"<Plan 2-3465404 upsert, portal='{sandbox.portal_id}': create=30>"
    results = syncer.apply_plan(built, client)
    assert repr(results) == f"<Results created=30; 1 calls, portal='{sandbox.portal_id}'>"
    synced = syncer.sync(mapping, client)
    assert repr(synced).startswith("<SyncResult first sync of cars.csv: ") and len(repr(synced)) < 200


def test_a_state_dir_keeps_undo_ownership_and_snapshots_out_of_the_mappings_folder(run, small, tmp_path):
    state = tmp_path / "state"
    pushed = run("--state-dir", str(state), "push", "mappings/cars.yaml", "--yes")
    assert pushed.exit_code == 0, pushed.output
    synced = run("--state-dir", str(state), "sync", "mappings/cars.yaml")
    assert synced.exit_code == 0, synced.output
    assert not (small / "mappings" / ".syncer").exists()
    [folder] = state.iterdir()
    assert folder.name.startswith("cars-") and len(folder.name) == len("cars-") + 8
    names = [p.name for p in folder.iterdir()]
    assert "owned-cars.sqlite" in names and any(n.endswith(".sync.sqlite") for n in names)
    assert any(n.startswith("undo-") and n.endswith(".json") for n in names)
    assert f"Undo plan written to {folder}" in pushed.output
    assert not (small / "mappings" / ".syncer").exists()  # nor after: --state-dir lasted the command only
    assert run("plan", "mappings/cars.yaml").exit_code == 0 and not (small / "mappings" / ".syncer").exists()


@pytest.mark.parametrize("args", [["plan", "mappings/cars.yaml", "--review", "-"],
                                  ["push", "mappings/cars.yaml", "--report", "-"],
                                  ["plan", "mappings/cars.yaml", "--source", "-"],
                                  ["export", "mappings/cars.yaml", "-o", "-"],
                                  ["apply", "-"], ["validate", "-"]])
def test_a_dash_where_syncer_needs_a_file_is_refused_not_made_a_file(run, small, args):
    result = run(*args)
    assert result.exit_code == 2
    assert "'-' (standard input or output) cannot be used here: give a file name" in result.output
    assert not (small / "-").exists()


def test_plan_dash_o_prints_a_plan_that_apply_takes(run, small):
    planned = run("plan", "mappings/cars.yaml", "-o", "-")
    assert planned.exit_code == 0 and not (small / "-").exists()
    (small / "saved.json").write_text(planned.stdout)
    applied = run("apply", "saved.json", "--yes")
    assert applied.exit_code == 0 and "created 30" in applied.output, applied.output


def test_each_phase_is_announced_and_progress_counts_only_rows_sent(small, client):
    from syncer import talk

    mapping = small / "mappings" / "cars.yaml"
    syncer.apply_plan(syncer.build_plan(mapping, client), client)
    rows = (small / "sample_data" / "cars.csv").read_text().splitlines()
    rows[1] = rows[1].replace(rows[1].split(",")[1], "Edited", 1)  # one row's make changes
    (small / "sample_data" / "cars.csv").write_text("\n".join(rows) + "\n")
    phases, progress = [], []
    with talk.watch(phases.append):
        built = syncer.build_plan(mapping, client)
    assert phases == ["read cars.csv", "asked the portal for the object and its properties", "converted the cells",
                      "read HubSpot's records", "planned"]
    assert built.counts()["update"] == 1 and built.counts()["unchanged"] == 29
    syncer.apply_plan(built, client, on_progress=progress.append)
    assert [(p.done, p.total) for p in progress] == [(1, 1)]  # not 30: 29 rows were never sent


def test_shell_completion_as_the_readme_installs_it():
    import os

    script = subprocess.run(["syncer"], env={**os.environ, "_SYNCER_COMPLETE": "bash_source"},
                            capture_output=True, text=True, check=True).stdout
    assert "_syncer_completion()" in script and "complete " in script
    words = subprocess.run(["syncer"], env={**os.environ, "_SYNCER_COMPLETE": "bash_complete", "COMP_WORDS": "syncer pu",
                                            "COMP_CWORD": "1"}, capture_output=True, text=True, check=True).stdout
    assert "plain,push" in words.splitlines()


def test_a_row_without_a_key_says_so_never_none_or_nan(run, small):
    from conftest import sheet_rows, write_sheet

    sheet = small / "sample_data" / "cars.csv"
    rows = sheet_rows(sheet)
    rows[2]["VIN"] = ""
    write_sheet(sheet, rows)
    pushed = run("push", "mappings/cars.yaml", "--yes")
    assert pushed.exit_code == 1
    assert "row 4  (no key): no value for the id property vin" in pushed.output
    assert "row 4  (no key): failed: INVALID_INPUT" in pushed.output
    assert not re.search(r"\b(None|nan|NaN)\b", pushed.output)


def test_validate_says_its_phases_too(run, small):
    checked = run("validate", "mappings/cars.yaml", "-v")
    assert checked.exit_code == 0, checked.output
    assert "read cars.csv: 30 rows (" in checked.stderr and "checked every cell: 0 cell errors (" in checked.stderr
