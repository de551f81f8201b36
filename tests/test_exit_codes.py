"""Honest exit codes and messages (issue #12, items 5 and 7), through the CLI against the sandbox.

0 all well; 1 rows failed, had errors or the run was interrupted; 2 bad usage, mapping or input
(nothing sent); 3 the portal refused the run; 4 cancelled at a prompt (nothing sent). Under
`plan --detailed-exitcode`, 2 means changes and 1 any error. Hostile mapping files are refused
at once, with exit 2.
"""

from __future__ import annotations

import json
import os
import pty
import re
import select
import signal
import subprocess
import sys
import time

import pytest

from conftest import REPO, on_small_csv, sheet_rows, write_sheet
from sample_data.make_samples import grow
from syncer.errors import InputError
from syncer.mapping import load
from syncer.sandbox import Sandbox

CARS = "2-3465404"


def cars(client) -> list:
    return list(client.list_records(CARS, properties=["vin"]))


def edit_mapping(project, old: str, new: str, name: str = "cars.yaml"):
    mapping = project / "mappings" / "cars.yaml"
    text = mapping.read_text()
    assert old in text
    (project / "mappings" / name).write_text(text.replace(old, new))
    return f"mappings/{name}"


def year_everywhere(project, value: str, rows: int | None = None) -> None:
    """Set the Year cell of the small CSV sheet's first `rows` rows (all by default)."""
    sheet = project / "sample_data" / "cars.csv"
    lines = sheet_rows(sheet)
    for line in lines[:rows]:
        line["Year"] = value
    write_sheet(sheet, lines)


# --- a plan whose rows have errors ----------------------------------------------------------------


def test_a_plan_of_error_rows_only_says_nothing_to_send_and_exits_1(run, project, client):
    on_small_csv(project, 3)
    year_everywhere(project, "soon")
    for extra in ([], ["--detailed-exitcode"]):
        shown = run("plan", "mappings/cars.yaml", *extra)
        assert shown.exit_code == 1, shown.output
        assert "Nothing to send; 3 rows have errors" in shown.output
        assert "Nothing to change" not in shown.output and "already matches" not in shown.output
    as_json = run("plan", "mappings/cars.yaml", "--json")
    assert as_json.exit_code == 1 and json.loads(as_json.stdout)["exit_code"] == 1
    pushed = run("push", "mappings/cars.yaml", "--yes")
    assert pushed.exit_code == 1 and "Nothing to send; 3 rows have errors" in pushed.output
    assert "Nothing to change" not in pushed.output and cars(client) == []


def test_a_plan_with_changes_and_error_rows_says_which_are_left_out_and_exits_1(run, project):
    on_small_csv(project, 3)
    year_everywhere(project, "soon", rows=1)
    for extra in ([], ["--detailed-exitcode"]):  # not 2: a script acting on "changes" would push broken rows
        shown = run("plan", "mappings/cars.yaml", *extra)
        assert shown.exit_code == 1, shown.output
        assert "create 2" in shown.output and "1 row has errors and will not be sent" in shown.output


def test_a_plan_that_matches_still_says_so_and_exits_0(run, project):
    on_small_csv(project, 3)
    assert run("push", "mappings/cars.yaml", "--yes").exit_code == 0
    for extra in ([], ["--detailed-exitcode"]):
        shown = run("plan", "mappings/cars.yaml", *extra)
        assert shown.exit_code == 0 and "Nothing to change: HubSpot already matches the sheet." in shown.output


# --- usage errors under --detailed-exitcode --------------------------------------------------------


@pytest.mark.parametrize("args", [["--bogus"], ["--mode", "sideways"], []],
                         ids=["unknown-option", "bad-choice", "missing-mapping"])
def test_a_usage_error_under_detailed_exitcode_is_1_not_the_2_of_changes(run, project, args):
    mapping = [] if args == [] else ["mappings/cars.yaml"]
    with_flag = run("plan", *mapping, "--detailed-exitcode", *args)
    assert with_flag.exit_code == 1, with_flag.output
    assert "Error:" in with_flag.output
    without = run("plan", *mapping, *args)
    assert without.exit_code == 2, without.output  # click's usage error, as everywhere else


# --- bad mappings exit 2 in every command ----------------------------------------------------------


@pytest.mark.parametrize("object_type", ["carz", "2-999999"], ids=["name", "object-type-id"])
@pytest.mark.parametrize("command", [
    ["validate", "MAPPING"], ["plan", "MAPPING"], ["push", "MAPPING", "--yes"], ["export", "MAPPING"],
    ["sync", "MAPPING", "--yes"], ["init", "sample_data/cars.csv", "--object", "OBJECT"],
], ids=lambda c: c[0])
def test_an_unknown_object_type_exits_2_in_every_command(run, project, command, object_type):
    on_small_csv(project, 3)
    mapping = edit_mapping(project, "object: cars", f"object: {object_type}", "unknown.yaml")
    args = [{"MAPPING": mapping, "OBJECT": object_type}.get(a, a) for a in command]
    result = run(*args)
    assert result.exit_code == 2, result.output
    assert f'the portal has no object type "{object_type}"' in result.output


@pytest.mark.parametrize("old, new, key, message", [
    ("to: contacts", "to: contactz", "associations[0].to", 'no object type "contactz"; did you mean "contacts"?'),
    ("match: email", "match: emale", "associations[0].match", 'has no property "emale"; did you mean "email"?'),
    ("match: email", "match: firstname", "associations[0].match", '"firstname" is not a unique property'),
], ids=["missing-object-type", "missing-property", "not-unique"])
def test_validate_checks_association_targets(run, project, old, new, key, message):
    mapping = edit_mapping(project, old, new, "linked.yaml")
    result = run("validate", mapping)
    assert result.exit_code == 2, result.output
    assert f"linked.yaml: {key}: " in result.output and message in result.output


def test_validate_accepts_the_sample_associations(run):
    result = run("validate", "mappings/cars.yaml")
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("old, new, message", [
    ("to: contacts", "to: contactz", 'no object type "contactz"'),
    ("label: car_owner", "label: car_ownr", "no association label 'car_ownr'"),
], ids=["association-object-type", "association-label"])
def test_plan_refuses_a_bad_association_with_exit_2(run, project, client, old, new, message):
    result = run("plan", edit_mapping(project, old, new, "linked.yaml"))
    assert result.exit_code == 2 and message in result.output


# --- a declined prompt is a cancellation, exit 4 ---------------------------------------------------


def on_a_terminal(args: list[str], cwd, question: bytes, answer: bytes) -> tuple[int, str]:
    """Run syncer on a pseudo-terminal, answer `question`, return the exit code and all it showed."""
    main, other = pty.openpty()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUBSPOT_")}
    process = subprocess.Popen([sys.executable, "-m", "syncer", *args], cwd=cwd, env=env,
                               stdin=other, stdout=other, stderr=other)
    os.close(other)
    shown = b""
    try:
        while question not in shown:
            assert select.select([main], [], [], 60)[0], shown.decode(errors="replace")
            shown += os.read(main, 4096)
        os.write(main, answer)
        while select.select([main], [], [], 60)[0]:
            try:
                chunk = os.read(main, 4096)
            except OSError:  # EIO: the child has exited and closed the terminal
                break
            if not chunk:
                break
            shown += chunk
        return process.wait(60), shown.decode(errors="replace")
    finally:
        os.close(main)
        if process.poll() is None:
            process.kill()
            process.wait()


def test_answering_no_at_the_prompt_cancels_with_exit_4_and_no_error(run, project, sandbox, client):
    on_small_csv(project, 3)
    portal = ["--base-url", sandbox.base_url, "--token", sandbox.token]
    assert run("plan", "mappings/cars.yaml", "-o", "plan.json").exit_code == 0
    for args in (["push", "mappings/cars.yaml"], ["apply", "plan.json"]):
        code, shown = on_a_terminal([*args, *portal], project, b"Apply these changes?", b"n\n")
        assert code == 4, shown
        assert "Cancelled: nothing was sent to HubSpot." in shown and "Error:" not in shown
    assert cars(client) == []


# --- Ctrl-C: the summary says interrupted ----------------------------------------------------------


def test_after_ctrl_c_the_summary_says_interrupted_not_that_hubspot_skipped_rows(tmp_path):
    mapping = grow(tmp_path, 1200, associations=False)  # two steps of 1,000: Ctrl-C in the first
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUBSPOT_")}
    with Sandbox() as portal:
        gate = portal.hold("POST", "/batch/upsert")
        push = subprocess.Popen([sys.executable, "-m", "syncer", "push", str(mapping), "--yes", "--quiet",
                                 "--base-url", portal.base_url, "--token", portal.token],
                                cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            assert gate.reached.wait(60), "no upsert seen"
            push.send_signal(signal.SIGINT)
        finally:
            gate.release()
        out, err = push.communicate(timeout=120)
    assert push.returncode == 1, out + err
    assert "HubSpot skipped" not in out and "ended differently than planned" not in out  # HubSpot never saw them
    assert "created 1000  skipped 200" in out
    assert "Stopped early: interrupted after the batches in flight; 200 rows not sent are marked skipped" in out


# --- hostile mapping files -------------------------------------------------------------------------

HEAD = "object: cars\nid_property: vin\ncolumns: {VIN: vin}\n"


def test_a_mapping_over_1_mib_is_refused_at_once_naming_the_file_and_its_size(run, project):
    big = project / "mappings" / "big.yaml"
    big.write_text(HEAD + ("# " + "x" * 98 + "\n") * 30_000)
    size = big.stat().st_size
    started = time.perf_counter()
    with pytest.raises(InputError) as refused:
        load(big)
    assert time.perf_counter() - started < 0.5
    assert f"big.yaml: {size:,} bytes is too large for a mapping" in str(refused.value)
    result = run("validate", "mappings/big.yaml")
    assert result.exit_code == 2 and f"{size:,} bytes is too large" in result.output


def _laughs(levels: int) -> str:
    lines = ["  - &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    lines += [f"  - &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, levels)]
    return HEAD + "associations:\n" + "\n".join(lines) + f"\nwhere: *a{levels - 1}\n"


HOSTILE = {
    "deep-flow-sequences": (HEAD + "where: " + "[" * 100_000 + "]" * 100_000 + "\n", "nested more than 32 levels"),
    "deep-flow-mappings": (HEAD + "sync: " + "{a: " * 50_000 + "b" + "}" * 50_000 + "\n", "nested more than 32"),
    "deep-block-mappings": (HEAD + "sync:\n" + "".join("  " * i + "  a:\n" for i in range(500)),
                            "nested more than 32 levels"),
    "billion-laughs": (_laughs(9), "more than 100,000 values once its aliases"),
    "self-alias": (HEAD.replace("columns: {VIN: vin}", "columns: &x {VIN: *x}"), "*x is inside the value it names"),
    "huge-integer": (HEAD + f"header_row: {'9' * 5_000}\n", "not valid YAML: Exceeds the limit"),
    "impossible-date": (HEAD + "header_row: 2024-13-45\n", "not valid YAML: month must be in 1..12"),
}


@pytest.mark.parametrize("text, message", HOSTILE.values(), ids=HOSTILE.keys())
def test_a_hostile_mapping_is_refused_in_well_under_a_second(tmp_path, text, message):
    path = tmp_path / "hostile.yaml"
    path.write_text(text)
    started = time.perf_counter()
    with pytest.raises(InputError) as refused:
        load(path)
    assert time.perf_counter() - started < 1.0
    assert message in str(refused.value) and "hostile.yaml" in str(refused.value)


def test_merge_keys_that_double_at_each_level_are_refused_in_well_under_a_second(tmp_path):
    """An 800-byte file whose `<<` merges double 25 times: it kept `load` busy for good (and
    growing in memory). In a child process, so a regression fails on the timeout, not hangs."""
    lines = ["sync:", "  m0: &m0 {k: v}", *(f"  m{i}: &m{i} {{<<: [*m{i - 1}, *m{i - 1}]}}" for i in range(1, 26))]
    path = tmp_path / "merges.yaml"
    path.write_text(HEAD + "\n".join(lines) + "\n")
    child = ("import sys, time\nfrom syncer.errors import InputError\nfrom syncer.mapping import load\n"
             "started = time.perf_counter()\ntry:\n    load(sys.argv[1])\nexcept InputError as exc:\n"
             "    print(time.perf_counter() - started)\n    print(exc)\n")
    done = subprocess.run([sys.executable, "-c", child, str(path)], capture_output=True, text=True, timeout=60)
    seconds, message = done.stdout.split("\n", 1)
    assert float(seconds) < 1.0
    assert "merges.yaml, line" in message and "more than 100,000 values once its aliases" in message


def test_a_mapping_with_a_few_anchors_and_aliases_still_loads(tmp_path):
    path = tmp_path / "aliases.yaml"
    path.write_text("object: cars\nid_property: &id vin\ncolumns:\n  VIN: *id\n"
                    "  Colour: {property: color, values: &colours {Red: red, Dark blue: blue}}\n")
    m = load(path)
    assert m.columns["VIN"].property == "vin" and m.columns["Colour"].values == {"Red": "red", "Dark blue": "blue"}


# --- the README ------------------------------------------------------------------------------------


def test_the_readme_documents_every_exit_code():
    readme = (REPO / "README.md").read_text()
    table = readme[readme.index("### Exit codes"):readme.index("## Running against a production portal")]
    codes = dict(re.findall(r"^\| (\d) \| (.+) \|$", table, flags=re.MULTILINE))
    assert sorted(codes) == ["0", "1", "2", "3", "4"]
    assert "cancelled" in codes["4"] and "interrupted" in codes["1"] and "errors" in codes["1"]


def test_an_association_match_hubspot_cannot_look_up_by_exits_2_in_plan_and_push(run, project, client):
    mapping = project / "mappings" / "cars.yaml"
    mapping.write_text(mapping.read_text().replace("match: email", "match: firstname"))
    for command in (["plan"], ["push", "--yes"]):
        result = run(*command, "mappings/cars.yaml")
        assert result.exit_code == 2, result.output
        assert 'associations[0].match: contacts records cannot be found by "firstname"' in result.output
    assert cars(client) == []
