"""Portal pinning (README, "Portal pinning"): a mapping names its portal, every command refuses
another one (exit 3, naming both), a pinned mapping never falls back to the embedded sandbox, and
plans, ownership and sync snapshots belong to the portal they were made with."""

from __future__ import annotations

import json
import os

import pytest
import yaml
from click.testing import CliRunner
from conftest import on_small_csv, sheet_rows, snapshot_path, write_sheet

from syncer import state
from syncer.cli import cli
from syncer.hubspot import HubSpotClient
from syncer.sandbox import Sandbox

CARS = "2-3465404"
MAPPING = "mappings/cars.yaml"
ELSEWHERE = "99999999"  # a hub id no sandbox here has (theirs are random, 10_000_000 and up, ≠ this)


@pytest.fixture
def project(project):
    return on_small_csv(project, 30)


@pytest.fixture
def embedded(project, monkeypatch):
    """Invoke the CLI as a user with no token set: the embedded sandbox portal (in project/.syncer)."""
    for name in [n for n in os.environ if n.startswith("HUBSPOT_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(project)
    return lambda *args: CliRunner().invoke(cli, list(args))


def pin(project, portal) -> None:
    mapping = project / MAPPING
    mapping.write_text(f"portal: {portal}\n" + mapping.read_text())


def writes_and_reads(sandbox) -> list[str]:
    """Requests that read or write records (searches included): none may precede a refusal."""
    return [e.path for e in sandbox.request_log if e.method == "POST" or "/objects/" in e.path]


# --- init writes the pin -------------------------------------------------------------------------


def test_init_pins_the_mapping_to_the_portal_it_read(run, project, sandbox):
    result = run("init", "sample_data/cars.csv", "--object", "cars", "-o", "mappings/new.yaml")
    assert result.exit_code == 0, result.output
    assert f"pinned to portal {sandbox.portal_id}" in result.output
    written = yaml.safe_load((project / "mappings" / "new.yaml").read_text())
    assert written["portal"] == sandbox.portal_id  # an integer, as `syncer info` shows it
    plan = run("plan", "mappings/new.yaml")  # exit 1: the drafted mapping lacks the Features separator
    assert plan.exit_code == 1 and plan.output.splitlines()[0] == f"On portal {sandbox.portal_id}:", plan.output


def test_init_on_the_embedded_sandbox_pins_sandbox_and_plans_name_it(embedded, project):
    result = embedded("init", "sample_data/cars.csv", "--object", "cars", "-o", "mappings/new.yaml")
    assert result.exit_code == 0, result.output
    assert yaml.safe_load((project / "mappings" / "new.yaml").read_text())["portal"] == "sandbox"
    planned = embedded("plan", "mappings/new.yaml", "--json")
    document = json.loads(planned.stdout)
    assert planned.exit_code == 1 and document["portal"] == "sandbox" and document["hub_id"].isdigit()
    assert "On the embedded sandbox portal (portal " in embedded("plan", "mappings/new.yaml").output


def test_an_unpinned_mapping_keeps_the_embedded_default_and_says_so(embedded, project):
    planned = embedded("plan", MAPPING, "--json")
    assert planned.exit_code == 0, planned.output
    assert json.loads(planned.stdout)["portal"] == "sandbox"
    pushed = embedded("push", MAPPING, "--yes", "--json", "--report", "report.json")
    assert pushed.exit_code == 0, pushed.output
    assert json.loads(pushed.stdout)["portal"] == "sandbox"
    report = json.loads((project / "report.json").read_text())
    assert report["portal"] == "sandbox" and report["hub_id"] == json.loads(planned.stdout)["hub_id"]


# --- a pinned mapping needs its portal -----------------------------------------------------------


@pytest.mark.parametrize("command", [["validate"], ["plan"], ["push", "--yes"], ["export", "-o", "out.xlsx"],
                                     ["sync", "--yes"]])
def test_a_mapping_pinned_to_a_real_portal_with_no_token_is_refused_not_sent_to_the_sandbox(
        embedded, project, command):
    pin(project, 12345678)
    result = embedded(command[0], MAPPING, *command[1:])
    assert result.exit_code == 3, result.output
    assert result.output == ("Error: HUBSPOT_ACCESS_TOKEN is not set; cars.yaml targets portal 12345678. Set "
                             "HUBSPOT_ACCESS_TOKEN to that portal's access token (or pass --token); nothing "
                             "was done\n")
    assert not (project / ".syncer").exists()  # the embedded sandbox was never started
    assert not (project / "out.xlsx").exists() and not (project / "mappings" / ".syncer").exists()


@pytest.mark.parametrize("command", [["validate"], ["plan"], ["push", "--yes"], ["export", "-o", "out.xlsx"],
                                     ["sync", "--yes"]])
def test_another_portal_is_refused_naming_both_before_any_record_is_read(run, project, sandbox, command):
    pin(project, ELSEWHERE)
    sandbox.clear_log()
    result = run(command[0], MAPPING, *command[1:])
    assert result.exit_code == 3, result.output
    assert (f"Error: cars.yaml is pinned to portal {ELSEWHERE}, but this run reached portal {sandbox.portal_id} "
            f"at {sandbox.base_url}; nothing was done.") in result.output
    assert writes_and_reads(sandbox) == []
    assert not (project / "out.xlsx").exists() and not (project / "mappings" / ".syncer").exists()


def test_a_mapping_pinned_to_the_sandbox_refuses_a_real_token(run, project, sandbox):
    pin(project, "sandbox")
    result = run("push", MAPPING, "--yes")
    assert result.exit_code == 3
    assert "cars.yaml is pinned to the embedded sandbox portal, but this run reached portal" in result.output
    assert "Unset HUBSPOT_ACCESS_TOKEN and HUBSPOT_BASE_URL" in result.output
    assert writes_and_reads(sandbox) == []


def test_an_object_the_other_portal_lacks_is_explained_by_the_pin(run, project, sandbox):
    pin(project, ELSEWHERE)
    mapping = project / MAPPING
    mapping.write_text(mapping.read_text().replace("object: cars", "object: boats"))
    result = run("plan", MAPPING)
    assert result.exit_code == 3 and f"pinned to portal {ELSEWHERE}" in result.output


def test_the_right_pin_runs_at_no_extra_cost(run, project, sandbox, client):
    pin(project, sandbox.portal_id)
    sandbox.clear_log()
    pushed = run("push", MAPPING, "--yes")
    assert pushed.exit_code == 0, pushed.output
    assert len(list(client.list_records(CARS))) == 30
    # a custom object's schema names its portal (p<hub id>_cars): no account details call is needed
    assert "/account-info/v3/details" not in [e.path for e in sandbox.request_log]


@pytest.mark.parametrize("bad", ["abc", "0", "-5", "true", "[1]"])
def test_a_pin_that_is_no_portal_is_a_mapping_problem(run, project, bad):
    pin(project, bad)
    result = run("validate", MAPPING)
    assert result.exit_code == 2
    assert "cars.yaml, line 1: portal:" in result.output and "give its hub id" in result.output


# --- files belong to their portal ----------------------------------------------------------------


def test_a_plan_made_on_one_portal_is_refused_by_another(run, project, sandbox):
    assert run("plan", MAPPING, "-o", "plan.json").exit_code == 0
    with Sandbox() as other:
        applied = CliRunner().invoke(cli, ["apply", "plan.json", "--yes", "--base-url", other.base_url,
                                           "--token", other.token])
        assert applied.exit_code == 3, applied.output
        assert (f"the plan was made against portal {sandbox.portal_id}, not portal {other.portal_id}"
                in applied.output)
        assert writes_and_reads(other) == []


def test_a_plan_for_a_real_portal_is_refused_with_no_token(run, project, sandbox, embedded):
    assert run("plan", MAPPING, "-o", "plan.json").exit_code == 0
    applied = embedded("apply", "plan.json", "--yes")
    assert applied.exit_code == 3
    assert f"HUBSPOT_ACCESS_TOKEN is not set; plan.json targets portal {sandbox.portal_id}" in applied.output
    assert not (project / ".syncer").exists()


def test_after_a_sandbox_reset_mirror_archives_nothing_it_did_not_create_there(run, project, sandbox):
    """The ledger of owned records is per portal: a reset sandbox (a new portal) reuses record
    ids, and records another tool made there under those ids are not syncer's to archive."""
    rows = sheet_rows(project / "sample_data" / "cars.csv")
    assert run("push", MAPPING, "--yes").exit_code == 0  # owns 30 records of this portal
    with Sandbox() as reset, HubSpotClient(reset.base_url, reset.token) as other:
        made = other.batch_create(CARS, [{"properties": {"vin": f"OTHERTOOL{i:08d}", "make": "Theirs"}}
                                         for i in range(30)])
        with HubSpotClient(sandbox.base_url, sandbox.token) as first:
            assert {o.record.id for o in made} == {r.id for r in first.list_records(CARS)}  # the same ids
        write_sheet(project / "sample_data" / "cars.csv", rows[:27])
        args = ["push", MAPPING, "--mode", "mirror", "--yes", "--json", "--base-url", reset.base_url,
                "--token", reset.token]
        mirrored = CliRunner().invoke(cli, args)
        assert mirrored.exit_code == 0, mirrored.output
        counts = json.loads(mirrored.stdout)["results"]["counts"]
        assert counts["created"] == 27 and counts["archived"] == 0
        assert {r.properties["make"] for r in other.list_records(CARS, properties=["make"])} >= {"Theirs"}
        assert len(list(other.list_records(CARS))) == 57


def test_sync_snapshots_are_kept_per_portal(run, project, sandbox):
    mapping = project / MAPPING
    assert "First sync" in run("sync", MAPPING, "--yes").output
    with Sandbox() as other:
        args = ["sync", MAPPING, "--yes", "--base-url", other.base_url, "--token", other.token]
        there = CliRunner().invoke(cli, args)
        assert there.exit_code == 0 and there.output.startswith("First sync"), there.output
    assert sorted(p.name for p in (mapping.parent / ".syncer").glob("*.sync.sqlite")) == sorted(
        [f"cars.{sandbox.portal_id}.sync.sqlite", f"cars.{other.portal_id}.sync.sqlite"])
    again = run("sync", MAPPING, "--json")
    assert again.exit_code == 0 and again.stderr.startswith("Sync of"), again.output
    document = json.loads(again.stdout)
    assert document["portal"] == document["hub_id"] == str(sandbox.portal_id) and not document["first_sync"]


def test_a_snapshot_of_syncer_0_1_is_taken_over_by_its_portal(run, project, sandbox):
    mapping = project / MAPPING
    assert run("sync", MAPPING, "--yes").exit_code == 0
    snapshot_path(mapping).rename(state.legacy_path(mapping))
    again = run("sync", MAPPING)
    assert again.exit_code == 0 and again.output.startswith("Sync of"), again.output  # not a first sync
    assert not state.legacy_path(mapping).exists()
    assert snapshot_path(mapping) == state.path_for(mapping, str(sandbox.portal_id))


def test_a_snapshot_of_syncer_0_1_for_another_portals_object_is_left_to_it(run, project, sandbox):
    mapping = project / MAPPING
    assert run("sync", MAPPING, "--yes").exit_code == 0
    legacy = state.legacy_path(mapping)
    snapshot_path(mapping).rename(legacy)
    with Sandbox() as other:
        args = ["sync", MAPPING, "--yes", "--base-url", other.base_url, "--token", other.token]
        there = CliRunner().invoke(cli, args)
        assert there.exit_code == 0 and there.output.startswith("First sync"), there.output
    assert legacy.exists()  # p<first hub id>_cars: the first portal's, kept for it
