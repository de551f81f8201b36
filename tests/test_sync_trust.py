"""Operator trust in two-way sync, through the CLI against the sandbox: the question before archives
and costly runs (--yes), the --json document against its schema, and what a re-sync after a sync
that wrote costs without ever losing a HubSpot edit made while that sync was writing."""

from __future__ import annotations

import json
import threading

import jsonschema
import pytest

from conftest import REPO, snapshot_path
from syncer.hubspot import HubSpotClient
from syncer.sync import sync as sync_api
from test_sync import CARS, OTHER, VIN, Sheet, edit_in_hubspot, records

SCHEMA = json.loads((REPO / "syncer" / "schemas" / "output.schema.json").read_text())


@pytest.fixture
def csv_project(project):
    """The sample mapping on the CSV sheet, cut to 40 rows (keeps each test small)."""
    mapping = project / "mappings" / "cars.yaml"
    mapping.write_text(mapping.read_text().replace("cars.xlsx", "cars.csv").replace("sheet: Inventory\n", ""))
    path = project / "sample_data" / "cars.csv"
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    path.write_text("".join(lines[:41]), encoding="utf-8")
    return project


@pytest.fixture
def sheet(csv_project):
    return Sheet(csv_project / "sample_data" / "cars.csv")


@pytest.fixture
def sync(run, csv_project):
    return lambda *args: run("sync", "mappings/cars.yaml", *args)


def set_mapping(project, old: str, new: str) -> None:
    mapping = project / "mappings" / "cars.yaml"
    mapping.write_text(mapping.read_text().replace(old, new))


def snapshot_bytes(project) -> bytes:
    return snapshot_path(project / "mappings" / "cars.yaml").read_bytes()


def writes(sandbox) -> list[str]:
    return [e.path for e in sandbox.request_log if e.method in ("POST", "PUT", "DELETE", "PATCH")
            and not e.path.endswith(("/search", "/batch/read"))]


# --- the question before archives and costly runs ---------------------------------------------------


def test_mirror_archives_need_yes_without_a_terminal_and_nothing_changes_until_then(sync, sheet, csv_project,
                                                                                     client, sandbox):
    assert sync().exit_code == 0
    set_mapping(csv_project, "mode: upsert", "mode: mirror")
    sheet.delete(VIN)
    sheet.set(OTHER, "Listing price", 11111)
    before, text = snapshot_bytes(csv_project), sheet.path.read_bytes()
    sandbox.clear_log()
    refused = sync()
    assert refused.exit_code == 2
    assert refused.stderr.endswith("Error: not synced: the sync would archive 1 record(s) whose rows left the "
                                   "sheet (mirror mode); nothing was changed. Pass --yes to sync anyway\n")
    assert "update 1  unchanged 38  archive 1" in refused.stderr  # what it would do, shown before refusing
    assert writes(sandbox) == [] and snapshot_bytes(csv_project) == before and sheet.path.read_bytes() == text
    assert VIN in records(client) and records(client, "price")[OTHER].properties["price"] != "11111"
    accepted = sync("--yes")
    assert accepted.exit_code == 0, accepted.output
    assert "archived 1" in accepted.output
    assert VIN not in records(client) and records(client, "price")[OTHER].properties["price"] == "11111"


def test_a_sync_over_max_daily_share_needs_yes(sync, sheet, csv_project, client, sandbox):
    set_mapping(csv_project, "max_archive_fraction: 0.1", "max_archive_fraction: 0.1\n  max_daily_share: 0.000001")
    refused = sync()  # the first sync pushes 40 rows: 1 upsert and its links, over 0.0001 %
    assert refused.exit_code == 2
    assert "Error: not synced: the sync would make" in refused.stderr
    assert "more than sync.max_daily_share 0.0001%" in refused.stderr and "Pass --yes" in refused.stderr
    assert records(client) == {}
    assert not snapshot_path(csv_project / "mappings" / "cars.yaml").exists()
    assert sync("--yes").exit_code == 0
    assert len(records(client)) == 40
    sandbox.clear_log()
    quiet = sync()  # nothing to write: nothing to ask
    assert quiet.exit_code == 0 and writes(sandbox) == []


# --- --json ------------------------------------------------------------------------------------------


def json_out(result) -> dict:
    document = json.loads(result.stdout)
    jsonschema.validate(document, SCHEMA)
    return document


def test_json_is_one_document_on_stdout_matching_the_schema(sync, sheet, client):
    first = json_out(sync("--json"))
    assert first["command"] == "sync" and first["exit_code"] == 0 and first["first_sync"] is True
    assert first["counts"]["push"] == 40 and first["results"]["counts"]["created"] == 40
    assert first["plan"]["counts"]["create"] == 40 and first["calls"] > 0
    sheet.set(VIN, "Listing price", 30000)
    edit_in_hubspot(client, VIN, price="35000")
    conflicted = sync("--json")
    document = json_out(conflicted)
    assert conflicted.exit_code == document["exit_code"] == 1
    assert document["conflicts"] == [{"row": 2, "key": VIN, "property": "price", "base": "24800",
                                      "sheet": "30000", "hubspot": "35000"}]
    assert document["results"] is None and document["plan"] is None  # nothing was written
    assert "conflicts 1" in conflicted.stderr and "conflicts 1" not in conflicted.stdout
    sheet.set(OTHER, "Year", "twenty")
    errors = json_out(sync("--json", "--prefer", "hubspot"))
    assert errors["counts"]["pull"] == 1 and errors["conflicts"] == []
    assert errors["errors"] == [{"row": 3, "column": "Year", "value": "twenty",
                                 "message": errors["errors"][0]["message"]}]


def test_json_on_a_refused_sync_leaves_stdout_empty(sync, sheet, csv_project):
    set_mapping(csv_project, "max_archive_fraction: 0.1", "max_archive_fraction: 0.1\n  max_daily_share: 0.000001")
    refused = sync("--json")
    assert refused.exit_code == 2 and refused.stdout == "" and "Error: not synced" in refused.stderr


# --- the cost of a re-sync after a sync that wrote --------------------------------------------------


def test_records_a_sync_wrote_are_read_back_once_in_searches_and_cost_nothing_more(sync, sheet, sandbox):
    assert sync().exit_code == 0
    sandbox.clear_log()
    settle = sync("--margin", "0")
    assert settle.exit_code == 0 and "pushed 0," in settle.output and "pulled 0 cells" in settle.output
    # 40 records, 200 a page: which portal, one search, then the archived ids; no link or contact
    # read, no properties
    assert [(e.method, e.path.rsplit("/", 1)[-1]) for e in sandbox.request_log] == [
        ("GET", "details"), ("POST", "search"), ("GET", CARS)]


def test_a_hubspot_edit_made_while_sync_was_writing_is_pulled_not_overwritten(sheet, csv_project, sandbox, client):
    mapping = csv_project / "mappings" / "cars.yaml"
    with HubSpotClient(sandbox.base_url, sandbox.token) as syncing:
        assert sync_api(mapping, syncing).exit_code == 0
        sheet.set(VIN, "Listing price", 31000)
        gate = sandbox.hold("POST", "/batch/update")
        run = threading.Thread(target=lambda: sync_api(mapping, syncing))
        run.start()
        assert gate.reached.wait(30)
        edit_in_hubspot(client, VIN, mileage="777")  # after sync read HubSpot, before its write lands
        gate.release()
        run.join(30)
        assert records(client, "price")[VIN].properties["price"] == "31000"
        after = sync_api(mapping, syncing, margin_seconds=0)
    assert after.counts["pull"] == 1 and after.counts["push"] == 0, after.counts
    assert sheet.rows()[VIN]["Mileage (km)"] == "777"
    assert records(client, "mileage")[VIN].properties["mileage"] == "777"


def test_on_a_terminal_sync_asks_and_no_changes_nothing(sheet, csv_project, sandbox, client):
    """A real terminal (a pty): the question is asked, and answering no leaves everything as it was."""
    import os
    import pty
    import select
    import subprocess
    import sys

    mapping = csv_project / "mappings" / "cars.yaml"
    assert sync_api(mapping, client).exit_code == 0
    set_mapping(csv_project, "mode: upsert", "mode: mirror")
    sheet.delete(VIN)
    before = snapshot_bytes(csv_project)
    main, other = pty.openpty()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUBSPOT_")}
    run = subprocess.Popen([sys.executable, "-m", "syncer", "sync", str(mapping), "--base-url", sandbox.base_url,
                            "--token", sandbox.token], cwd=csv_project, env=env,
                           stdin=other, stdout=other, stderr=other)
    os.close(other)
    shown = b""
    while b"Sync anyway?" not in shown:
        assert select.select([main], [], [], 60)[0], shown.decode(errors="replace")
        shown += os.read(main, 4096)
    os.write(main, b"n\n")
    assert run.wait(60) == 4  # cancelled at the prompt
    os.close(main)
    assert b"This sync would archive 1 record(s)" in shown
    assert snapshot_bytes(csv_project) == before and VIN in records(client)


def test_a_sheet_saved_while_sync_runs_is_left_alone_and_the_next_sync_finishes(sheet, csv_project, sandbox, client):
    mapping = csv_project / "mappings" / "cars.yaml"
    with HubSpotClient(sandbox.base_url, sandbox.token) as syncing:
        assert sync_api(mapping, syncing).exit_code == 0
        sheet.set(VIN, "Listing price", 31000)  # for this sync to push
        edit_in_hubspot(client, OTHER, mileage="777")  # and to pull
        gate = sandbox.hold("POST", "/batch/update")
        outcome = {}
        run = threading.Thread(target=lambda: outcome.update(result=sync_api(mapping, syncing, margin_seconds=0)))
        run.start()
        assert gate.reached.wait(30)
        sheet.set(VIN, "Colour", "Green")  # someone saves the sheet while the sync writes to HubSpot
        saved = sheet.path.read_bytes()
        gate.release()
        run.join(30)
        assert outcome["result"].sheet_changed and outcome["result"].exit_code == 1
        assert sheet.path.read_bytes() == saved  # the pull waits: the sheet's rows may have moved
        after = sync_api(mapping, syncing, margin_seconds=0)
    assert after.exit_code == 0 and not after.sheet_changed
    assert sheet.rows()[OTHER]["Mileage (km)"] == "777"
    now = records(client, "price", "color")[VIN].properties
    assert (now["price"], now["color"]) == ("31000", "green")
