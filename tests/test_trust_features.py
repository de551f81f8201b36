"""Operator trust features through the CLI against the sandbox: cost estimates, approval in Excel,
predicted against actual, retrying failures, undo, owned archives, exit codes and JSON output."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import jsonschema
import openpyxl
import pandas as pd
import pytest

from conftest import REPO, on_small_csv, sheet_rows, write_sheet
import syncer
from syncer import report
from syncer.hubspot import HubSpotClient
from syncer.hubspot.models import RateLimit

CARS = "2-3465404"
SCHEMA = json.loads((REPO / "syncer" / "schemas" / "output.schema.json").read_text())


@pytest.fixture
def project(project):
    """The sample on its CSV sheet, cut to 120 rows, without the association column."""
    return on_small_csv(project, 120)


def cars(client, *properties):
    return {r.properties["vin"]: r for r in client.list_records(CARS, properties=["vin", *properties])}


def upserted_inputs(sandbox):
    """How many inputs the batch upserts and updates carried, from the portal's request log."""
    return sum(len(e.body["inputs"]) for e in sandbox.request_log
               if e.method == "POST" and e.path.endswith(("/batch/upsert", "/batch/update")))


def set_mapping(project, old, new):
    mapping = project / "mappings" / "cars.yaml"
    mapping.write_text(mapping.read_text().replace(old, new))


def json_out(result):
    document = json.loads(result.stdout)
    jsonschema.validate(document, SCHEMA)
    return document


# --- 1. cost estimate ------------------------------------------------------------------------------


def test_plan_states_calls_time_and_daily_share_and_the_report_sets_calls_made_beside_them(run, project):
    shown = run("plan", "mappings/cars.yaml")
    assert shown.exit_code == 0, shown.output
    assert "Cost: 2 API calls (create 2)" in shown.output
    assert "of the daily allowance of 1,000,000" in shown.output
    estimate = json_out(run("plan", "mappings/cars.yaml", "--json"))["estimate"]
    assert estimate["calls"] == {"create": 2, "update": 0, "archive": 0, "associations": 0,
                                 "association_types": 0, "stale_check": 0}
    assert estimate["daily_share"] == pytest.approx(2 / 1_000_000)
    assert estimate["seconds"] > 0
    pushed = run("push", "mappings/cars.yaml", "--yes", "--report", "report.json")
    assert "(2 API calls of 2 estimated)" in pushed.output
    report = json.loads((project / "report.json").read_text())
    assert report["calls"] == report["estimated_calls"] == 2


@pytest.mark.parametrize(("creates", "updates", "links", "limit", "calls", "seconds", "share"), [
    (0, 0, 0, None, 0, None, None),
    (100, 0, 0, RateLimit(100, 10_000, 100, 1000, 1000), 1, 0.1, 0.001),
    (101, 250, 0, RateLimit(190, 10_000, 5, 500_000, 10), 5, 0.26, 5 / 500_000),
    # 2 create batches, 2 link batches, and one look-up of the association type: this plan's meta,
    # like a plan file's from before plans carried the category, names only its type id
    (150, 0, 150, {"max_per_interval": 10, "interval_ms": 1000, "daily": None}, 5, 0.5, None),
], ids=["empty", "one-batch", "batches-per-kind", "association-links"])
def test_estimate_counts_batches_per_kind_and_prices_them_at_the_rate_limit(creates, updates, links, limit,
                                                                          calls, seconds, share):
    from syncer import plan

    rows = creates + updates
    local = pd.DataFrame({"vin": [f"V{i}" for i in range(rows)], "make": "new"}, index=range(2, rows + 2))
    remote = pd.DataFrame({"id": [str(i) for i in range(updates)], "updated_at": "t", "make": "old"},
                          index=[f"V{i}" for i in range(creates, rows)])
    from syncer.associations import Link

    # a link planned before plans carried its category: the executor looks the type up once
    meta = plan.PlanMeta(associations={"assoc:Owner": Link("Owner", "0-1", 1)} if links else {})
    if links:
        local["assoc:Owner"] = [str(i) for i in range(links)] + [None] * (rows - links)
        remote["assoc:Owner"] = None
    built = plan.build(local, remote, object_type="cars", id_property="vin", meta=meta)
    estimate = plan.estimate(built, limit)
    assert estimate["total_calls"] == calls and sum(estimate["calls"].values()) == calls
    assert estimate["seconds"] == seconds and estimate["daily_share"] == share


def test_push_refuses_a_run_over_max_daily_share_without_accept_cost(run, project, sandbox, client):
    set_mapping(project, "max_archive_fraction: 0.1", "max_archive_fraction: 0.1\n  max_daily_share: 0.000001")
    refused = run("push", "mappings/cars.yaml", "--yes")
    assert refused.exit_code == 2
    assert "more than sync.max_daily_share" in refused.output and "--accept-cost" in refused.output
    assert cars(client) == {}
    accepted = run("push", "mappings/cars.yaml", "--yes", "--accept-cost")
    assert accepted.exit_code == 0, accepted.output
    assert len(cars(client)) == 120


# --- 2. approval in Excel --------------------------------------------------------------------------


def decline(review, keys):
    book = openpyxl.load_workbook(review)
    sheet = book["Create"]
    header = [c.value for c in sheet[1]]
    for line in sheet.iter_rows(min_row=2):
        if line[header.index("key")].value in keys:
            line[header.index("approve")].value = "no"
    book.save(review)


def test_apply_review_workbook_sends_only_rows_still_marked_yes(run, project, client):
    made = run("plan", "mappings/cars.yaml", "--review", "review.xlsx")
    assert made.exit_code == 0 and not (project / "review.plan.json").exists()
    book = openpyxl.load_workbook(project / "review.xlsx")
    header = [c.value for c in book["Create"][1]]
    assert header[-2:] == ["approve", "plan_action"]
    assert {r[header.index("approve")] for r in book["Create"].iter_rows(min_row=2, values_only=True)} == {"yes"}
    keys = [r["VIN"] for r in sheet_rows(project / "sample_data" / "cars.csv")]
    declined = set(keys[3:6])
    decline(project / "review.xlsx", declined)
    applied = run("apply", "review.xlsx", "--yes", "--report", "report.csv")
    assert applied.exit_code == 0, applied.output
    assert set(cars(client)) == set(keys) - declined
    skipped = [r for r in sheet_rows(project / "report.csv") if r["outcome"] == "skipped"]
    assert {r["key"] for r in skipped} == declined
    assert all(r["error_message"] == "not approved in review.xlsx" for r in skipped)


def test_apply_review_refuses_rows_changed_in_hubspot_since(run, project, client):
    assert run("plan", "mappings/cars.yaml", "--review", "review.xlsx").exit_code == 0
    key = sheet_rows(project / "sample_data" / "cars.csv")[0]["VIN"]
    client.batch_upsert(CARS, [{"id": key, "idProperty": "vin", "properties": {"make": "Elsewhere"}}], id_property="vin")
    stale = run("apply", "review.xlsx", "--yes", "--report", "report.csv")
    assert stale.exit_code == 1
    [conflict] = [r for r in sheet_rows(project / "report.csv") if r["outcome"] == "conflict"]
    assert conflict["key"] == key and cars(client, "make")[key].properties["make"] == "Elsewhere"


# --- 3 and 4. predicted against actual; retry only the failures --------------------------------------


def test_a_planned_create_someone_made_meanwhile_is_counted_as_differing_from_the_plan(run, project, client):
    assert run("plan", "mappings/cars.yaml", "-o", "plan.json").exit_code == 0
    key = sheet_rows(project / "sample_data" / "cars.csv")[0]["VIN"]
    client.batch_upsert(CARS, [{"id": key, "idProperty": "vin", "properties": {"make": "Elsewhere"}}], id_property="vin")
    # the saved plan's stale check catches it before sending; the ledger shows planned against actual
    result = run("apply", "plan.json", "--yes", "--json")
    document = json_out(result)
    [row] = [r for r in document["results"]["rows"] if r["key"] == key]
    assert (row["action"], row["outcome"], row["as_planned"]) == ("create", "conflict", False)
    assert document["results"]["differs_from_plan"] == 1


def test_a_create_someone_made_while_the_push_ran_is_reported_beside_its_plan(project, sandbox, client):
    # Through the Python API the CLI calls: the CLI's Ctrl-C handler needs the main thread, and the
    # run must go on in another while the test creates the record at the held moment.
    sheet = project / "sample_data" / "cars.csv"
    write_sheet(sheet, sheet_rows(sheet)[:50])  # one batch, so the held upsert carries row 2
    key = sheet_rows(sheet)[0]["VIN"]
    built = syncer.build_plan(project / "mappings" / "cars.yaml", client)
    gate = sandbox.hold("POST", "/batch/upsert")
    outcome = {}
    pushing = threading.Thread(target=lambda: outcome.update(results=syncer.apply_plan(built, client)))
    pushing.start()
    try:
        assert gate.reached.wait(30)
        with HubSpotClient(sandbox.base_url, sandbox.token) as other:
            other.batch_upsert(CARS, [{"id": key, "idProperty": "vin", "properties": {"make": "Meanwhile"}}],
                               id_property="vin")
    finally:
        gate.release()
        pushing.join(60)
    results = outcome["results"]
    document = report.results_document(results)
    jsonschema.validate(document, SCHEMA["$defs"]["results"])
    [row] = [r for r in document["rows"] if r["key"] == key]
    assert (row["action"], row["outcome"], row["as_planned"]) == ("create", "updated", False)
    assert document["differs_from_plan"] == 1
    assert f"row 2  {key}: planned create, HubSpot updated" in report.render_results(results)


def test_retry_failed_sends_only_the_fixed_rows_and_merges_one_ledger(run, project, sandbox, client):
    sheet = project / "sample_data" / "cars.csv"
    rows = sheet_rows(sheet)
    good = {r: rows[r]["Year"] for r in (10, 70)}
    for r in good:
        rows[r]["Year"] = "twenty"
    write_sheet(sheet, rows)
    first = run("push", "mappings/cars.yaml", "--yes", "--report", "report.csv")
    assert first.exit_code == 1
    assert len(cars(client)) == 118
    for r, year in good.items():
        rows[r]["Year"] = year
    rows[0]["Make"] = "Changed but not failed"  # not retried: only failed rows are sent
    write_sheet(sheet, rows)
    sent_before = upserted_inputs(sandbox)
    retried = run("push", "mappings/cars.yaml", "--yes", "--retry-failed", "report.csv")
    assert retried.exit_code == 0, retried.output
    assert upserted_inputs(sandbox) - sent_before == 2
    ledger = sheet_rows(project / "report.csv")
    assert len(ledger) == 120 and {r["outcome"] for r in ledger} == {"created"}
    assert {int(r["row"]) for r in ledger} == set(range(2, 122))
    assert cars(client, "make")[rows[0]["VIN"]].properties["make"] != "Changed but not failed"


# --- 5. undo --------------------------------------------------------------------------------------


def mixed_run(run, project):
    """Push 120 rows, then a run that updates 5 prices and creates 3 cars; returns its undo plan's path."""
    sheet = project / "sample_data" / "cars.csv"
    rows = sheet_rows(sheet)
    assert run("push", "mappings/cars.yaml", "--yes", "--source", "sample_data/cars.csv").exit_code == 0
    all_rows = sheet_rows(REPO / "sample_data" / "cars.csv")
    original = {r["VIN"]: r["Listing price"] for r in rows[:5]}
    for r in rows[:5]:
        r["Listing price"] = "1"
    write_sheet(sheet, rows + all_rows[200:203])
    mixed = run("push", "mappings/cars.yaml", "--yes", "--json")
    document = json_out(mixed)
    assert document["results"]["counts"]["updated"] == 5 and document["results"]["counts"]["created"] == 3
    return document["results"]["undo"], original, [r["VIN"] for r in all_rows[200:203]]


def test_undo_after_a_mixed_run_restores_updates_and_archives_creates(run, project, client):
    undo, original, created = mixed_run(run, project)
    assert undo.startswith(str(project / "mappings" / ".syncer" / "undo-"))
    reverted = run("apply", undo, "--yes")
    assert reverted.exit_code == 0, reverted.output
    records = cars(client, "price")
    assert not set(created) & set(records)
    assert {k: records[k].properties["price"] for k in original} == original
    assert len(records) == 120


def test_undo_refuses_a_record_changed_since_the_run(run, project, client):
    undo, original, created = mixed_run(run, project)
    touched = next(iter(original))
    client.batch_update(CARS, [{"id": cars(client)[touched].id, "properties": {"price": "7"}}])
    reverted = run("apply", undo, "--yes", "--report", "undo.csv")
    assert reverted.exit_code == 1
    [conflict] = [r for r in sheet_rows(project / "undo.csv") if r["outcome"] == "conflict"]
    assert conflict["key"] == touched
    records = cars(client, "price")
    assert records[touched].properties["price"] == "7"
    assert all(records[k].properties["price"] == v for k, v in original.items() if k != touched)


# --- 6. owned archives ----------------------------------------------------------------------------


def test_mirror_archives_only_records_syncer_owns(run, project, client):
    sheet = project / "sample_data" / "cars.csv"
    rows = sheet_rows(sheet)
    assert run("push", "mappings/cars.yaml", "--yes").exit_code == 0
    outsiders = [r["VIN"] for r in sheet_rows(REPO / "sample_data" / "cars.csv")[250:253]]
    client.batch_upsert(CARS, [{"id": v, "idProperty": "vin", "properties": {"make": "Hand made"}} for v in outsiders],
                        id_property="vin")
    write_sheet(sheet, rows[:-10])
    mirrored = run("push", "mappings/cars.yaml", "--mode", "mirror", "--yes", "--json")
    document = json_out(mirrored)
    assert document["results"]["counts"]["archived"] == 10 and document["results"]["counts"]["skipped"] == 3
    assert set(cars(client)) == {r["VIN"] for r in rows[:-10]} | set(outsiders)
    undo = json.loads(Path(document["results"]["undo"]).read_text())
    assert len(undo["not_restorable"]) == 10 and "90 days" in undo["not_restorable"][0]["note"]
    forced = run("push", "mappings/cars.yaml", "--mode", "mirror", "--yes", "--archive-unowned")
    assert forced.exit_code == 0, forced.output
    assert not set(outsiders) & set(cars(client))


def test_mirror_with_an_empty_sheet_archives_nothing_even_when_mass_archive_is_allowed(run, project, client):
    assert run("push", "mappings/cars.yaml", "--yes").exit_code == 0
    sheet = project / "sample_data" / "cars.csv"
    sheet.write_text(sheet.read_text().splitlines()[0] + "\n")
    refused = run("push", "mappings/cars.yaml", "--mode", "mirror", "--yes", "--allow-mass-archive")
    assert refused.exit_code == 2 and "no usable rows" in refused.output
    assert len(cars(client)) == 120


# --- 7. exit codes and JSON -----------------------------------------------------------------------


def test_detailed_exitcode_is_2_with_changes_0_without_and_1_on_error(run):
    assert run("plan", "mappings/cars.yaml", "--detailed-exitcode").exit_code == 2
    assert run("push", "mappings/cars.yaml", "--yes").exit_code == 0
    assert run("plan", "mappings/cars.yaml", "--detailed-exitcode").exit_code == 0
    missing = run("plan", "mappings/missing.yaml", "--detailed-exitcode")
    assert missing.exit_code == 1 and missing.output.startswith("Error:")


def test_json_on_plan_push_and_apply_is_one_document_on_stdout_matching_the_schema(run, project):
    planned = run("plan", "mappings/cars.yaml", "--json", "-o", "plan.json", "--review", "review.xlsx")
    document = json_out(planned)
    assert document["command"] == "plan" and document["counts"]["create"] == 120
    assert "Plan saved" in planned.stderr and "Plan saved" not in planned.stdout
    applied = json_out(run("apply", "plan.json", "--yes", "--json"))
    assert applied["command"] == "apply" and applied["results"]["counts"]["created"] == 120
    pushed = run("push", "mappings/cars.yaml", "--yes", "--json")
    document = json_out(pushed)
    assert document["exit_code"] == 0 and document["plan"]["has_changes"] is False
    assert document["results"]["counts"]["unchanged"] == 120 and document["results"]["undo"] is None
    assert "unchanged 120" in pushed.stderr
