"""syncer.push and syncer.apply: one call each, as the CLI makes them."""

from __future__ import annotations

import pytest

import syncer
from conftest import on_small_csv, sheet_rows, write_sheet
from syncer.errors import Cancelled

CARS = "2-3465404"


@pytest.fixture
def mapping(project):
    return on_small_csv(project, 30) / "mappings" / "cars.yaml"


def test_push_plans_asks_applies_and_writes_the_report(mapping, client, tmp_path):
    asked = []
    done = syncer.push(mapping, client, confirm=asked.append, report_path=tmp_path / "report.csv")
    assert [p.counts()["create"] for p in asked] == [30]  # the callback saw the plan before anything was sent
    assert done.exit_code == 0 and done.results.counts()["created"] == 30
    assert len(sheet_rows(tmp_path / "report.csv")) == 30 and done.report == tmp_path / "report.csv"
    assert len(list(client.list_records(CARS))) == 30
    assert repr(done).startswith("<PushResult <Results created=30;")


def test_a_confirm_that_says_no_sends_nothing(mapping, client, sandbox):
    def refuse(plan):
        raise Cancelled("not now")

    sandbox.clear_log()
    with pytest.raises(Cancelled):
        syncer.push(mapping, client, confirm=refuse)
    assert [e for e in sandbox.request_log if e.method == "POST" and "/batch/read" not in e.path] == []
    assert list(client.list_records(CARS)) == []


def test_failed_rows_go_to_the_errors_file_and_the_sheet_gets_their_status(mapping, client, tmp_path):
    sheet = mapping.parent.parent / "sample_data" / "cars.csv"
    rows = sheet_rows(sheet)
    rows[0]["Year"] = "not a year"
    write_sheet(sheet, rows)
    done = syncer.push(mapping, client, errors_path=tmp_path / "errors.csv", write_back=True)
    assert done.results.counts()["failed"] == 1 and done.failed_rows_written == 1 and done.exit_code == 1
    assert [r["VIN"] for r in sheet_rows(tmp_path / "errors.csv")] == [rows[0]["VIN"]]
    assert done.written_back == sheet and sheet_rows(sheet)[0]["sync_status"] == "failed"


def test_what_cannot_be_written_after_the_run_is_noted_not_raised(mapping, client, tmp_path):
    sheet = mapping.parent.parent / "sample_data" / "cars.csv"
    rows = sheet_rows(sheet)
    rows[0]["Year"] = "not a year"
    write_sheet(sheet, rows)
    done = syncer.push(mapping, client, errors_path=tmp_path / "errors.csv", write_back=True,
                       confirm=lambda plan: sheet.write_text(sheet.read_text() + "\n"))  # saved meanwhile
    assert done.results.counts()["created"] == 29  # the run happened
    assert [n.split(":")[0] for n in done.not_done] == ["failed rows not written", "not written back"]
    assert done.exit_code == 1 and not (tmp_path / "errors.csv").exists()


def test_apply_takes_a_saved_plan_and_refuses_another_portals(mapping, client, tmp_path):
    syncer.save_plan(syncer.build_plan(mapping, client), tmp_path / "plan.json")
    done = syncer.apply(tmp_path / "plan.json", client)
    assert done.results.counts()["created"] == 30 and done.exit_code == 0
    from syncer.errors import PortalError
    from syncer.hubspot import HubSpotClient
    from syncer.sandbox import Sandbox

    with Sandbox() as other, HubSpotClient(other.base_url, other.token) as elsewhere:
        with pytest.raises(PortalError, match="the plan was made against portal"):
            syncer.apply(tmp_path / "plan.json", elsewhere)
