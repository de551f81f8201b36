"""The engine under each of the sandbox's HubSpot variants (syncer.sandbox.Variants): a core of push,
two-way sync, export and undo run against every one, and the cases a variant makes hard proven on
their own: no HubSpot edit missed under search lag (the margin's work), rows a whole-batch rejection
hides still each get their outcome within the calls the estimate states, unique values by case and
after archiving, and the shapes of "no associations".

Search lag is waited out by moving the sandbox's clock (`settle`), never by sleeping.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import threading

import pytest

from conftest import on_small_csv, sheet_rows, snapshot_path, write_sheet
from syncer import state
from syncer.hubspot import HubSpotClient
from syncer.sandbox import INSTANT_INDEX, Sandbox, Variants
from syncer.sync import DEFAULT_MARGIN_SECONDS
from syncer.sync import sync as sync_api

CARS = "2-3465404"
MAPPING = "mappings/cars.yaml"
ROWS = 12
NEW = "CREATEDINHUBSPOT1"

VARIANTS = {
    "instant-index": INSTANT_INDEX,
    "serve-defaults": Variants(),  # search lag up to 5 s, as `syncer sandbox serve` runs
    "search-lag-10min": INSTANT_INDEX.but(search_lag=600),
    "whole-batch-errors": INSTANT_INDEX.but(batch_errors="whole"),
    "unique-case-insensitive": INSTANT_INDEX.but(unique_case="insensitive"),
    "archived-unique-kept": INSTANT_INDEX.but(archived_unique="kept"),
    "no-associations-aggregated": INSTANT_INDEX.but(no_associations="aggregated"),
    "no-associations-empty": INSTANT_INDEX.but(no_associations="empty"),
    "competing-integration": INSTANT_INDEX.but(competing_share=0.5),
    "rate-headers-sometimes": INSTANT_INDEX.but(rate_headers="sometimes"),
    "rate-headers-never": INSTANT_INDEX.but(rate_headers="never"),
}


def settle(sandbox) -> None:
    """Let the time pass after which HubSpot's search has caught up (a scheduled run's interval)."""
    if sandbox.variants.search_lag:
        sandbox.advance_clock(sandbox.variants.search_lag + 1)


def ms(iso: str) -> int:
    return round(dt.datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000)


def as_json(result) -> dict:
    assert result.stdout.strip(), result.output
    return json.loads(result.stdout)


def linked_sheet(project, rows: int):
    """The sample mapping on its CSV sheet cut to `rows` rows, the Owner email association kept."""
    mapping = project / "mappings" / "cars.yaml"
    text = mapping.read_text().replace("source: ../sample_data/cars.xlsx", "source: ../sample_data/cars.csv")
    mapping.write_text(text.replace("sheet: Inventory\n", ""))
    sheet = project / "sample_data" / "cars.csv"
    write_sheet(sheet, sheet_rows(sheet)[:rows])
    return sheet


def records(client, *properties) -> dict:
    return {r.properties["vin"]: r for r in client.list_records(CARS, properties=["vin", *properties])}


def refused(sandbox) -> list:
    return [e for e in sandbox.request_log if e.status == 429]


@pytest.mark.parametrize("sandbox", VARIANTS.values(), ids=VARIANTS.keys(), indirect=True)
def test_push_sync_export_and_undo_under_each_variant(sandbox, run, client, project):
    sheet = linked_sheet(project, ROWS)
    rows = sheet_rows(sheet)

    pushed = as_json(run("push", MAPPING, "--yes", "--json"))
    assert pushed["exit_code"] == 0 and pushed["results"]["counts"]["created"] == ROWS, pushed["results"]["counts"]
    assert pushed["results"]["calls"] == pushed["results"]["estimated_calls"]  # the minimum: nothing split
    first = as_json(run("sync", MAPPING, "--yes", "--json"))
    assert first["exit_code"] == 0 and first["first_sync"]

    # An edit on each side, and a record created in HubSpot without an owner (no associations).
    rows[0]["Listing price"] = "11111"
    write_sheet(sheet, rows)
    found = records(client)
    [edited] = client.batch_update(CARS, [{"id": found[rows[1]["VIN"]].id, "properties": {"price": "22222"}}])
    [created] = client.batch_upsert(CARS, [{"id": NEW, "properties": {"make": "Kia", "year": "2025"}}],
                                    id_property="vin")
    assert edited.ok and created.ok
    settle(sandbox)
    synced = as_json(run("sync", MAPPING, "--yes", "--json"))
    assert synced["exit_code"] == 0, synced
    assert (synced["counts"]["push"], synced["counts"]["pull"], synced["counts"]["append"]) == (1, 1, 1)
    now = {r["VIN"]: r for r in sheet_rows(sheet)}
    assert now[rows[1]["VIN"]]["Listing price"] == "22222" and now[NEW]["Make"] == "Kia"
    assert now[NEW]["Owner email"] == ""
    assert records(client, "price")[rows[0]["VIN"]].properties["price"] == "11111"
    settle(sandbox)
    quiet = as_json(run("sync", MAPPING, "--yes", "--json"))
    assert quiet["exit_code"] == 0 and not any(quiet["counts"].values()), quiet["counts"]
    assert quiet["calls"] == 3  # which portal, the search, the archived ids: the minimum, lag or not

    settle(sandbox)
    exported = run("export", MAPPING, "-o", "sample_data/recent.csv", "--where", "year >= 2020")
    assert exported.exit_code == 0, exported.output
    expected = {r["VIN"] for r in sheet_rows(sheet) if int(r["Year"]) >= 2020}
    assert {r["VIN"] for r in sheet_rows(project / "sample_data" / "recent.csv")} == expected

    # Undo a run that created a record, then push the row again.
    spare = sheet_rows(project.parent / project.name / "sample_data" / "cars.csv")
    extra = {**rows[2], "VIN": "UNDONE00000000001", "Listing price": "999"}
    write_sheet(sheet, [*spare, extra])
    added = as_json(run("push", MAPPING, "--yes", "--json"))
    assert added["results"]["counts"]["created"] == 1 and added["results"]["undo"]
    undone = as_json(run("apply", added["results"]["undo"], "--yes", "--json"))
    assert undone["exit_code"] == 0 and undone["results"]["counts"]["archived"] == 1
    assert "UNDONE00000000001" not in records(client)
    again = as_json(run("push", MAPPING, "--yes", "--json"))
    [row] = [r for r in again["results"]["rows"] if r["key"] == "UNDONE00000000001"]
    if sandbox.variants.archived_unique == "kept":  # the recycle bin still holds the value
        assert again["exit_code"] == 1 and row["outcome"] == "failed" and "already exists" in row["error_message"]
    else:
        assert again["exit_code"] == 0 and row["outcome"] == "created"
    assert not refused(sandbox)  # within the rate limits, whoever else uses them


# --- search lag: sync misses no HubSpot edit ---------------------------------------------------------

LAG = INSTANT_INDEX.but(search_lag=600, search_lag_jitter=0.5)  # every write waits 300-600 s
DAY = 86_400.0


def edit(client, vin: str, **properties) -> None:
    [answer] = client.batch_update(CARS, [{"id": records(client)[vin].id, "properties": properties}])
    assert answer.ok


@pytest.fixture
def small(project):
    on_small_csv(project, 10)
    return project / "sample_data" / "cars.csv"


@contextlib.contextmanager
def synced_a_day_ago(variants: Variants, project):
    """A portal the sheet was first synced with a day ago, on the portal's clock, which then runs
    with the real time (the engine's): (sandbox, client). Its records' last writes are a day old,
    so a search for recent changes finds only what happened since."""
    with Sandbox(variants=variants, clock_offset=-DAY) as sandbox, \
            HubSpotClient(sandbox.base_url, sandbox.token) as client:
        assert sync_api(project / "mappings" / "cars.yaml", client).exit_code == 0
        sandbox.advance_clock(DAY)
        yield sandbox, client


@pytest.mark.parametrize("margin", [DEFAULT_MARGIN_SECONDS, 0], ids=["default-margin", "no-margin"])
def test_under_search_lag_edits_made_before_and_during_a_sync_reach_the_sheet_by_the_next(project, small, margin):
    mapping = project / "mappings" / "cars.yaml"
    before, during = (r["VIN"] for r in sheet_rows(small)[:2])
    with synced_a_day_ago(LAG, project) as (sandbox, client):
        edit(client, before, price="1111")  # just before the sync begins, and a record created then
        [created] = client.batch_upsert(CARS, [{"id": NEW, "properties": {"make": "Kia"}}], id_property="vin")
        assert created.ok
        gate = sandbox.hold("POST", "/search")  # the sync has begun: its search waits at the portal
        outcome = {}
        running = threading.Thread(target=lambda: outcome.update(result=sync_api(mapping, client,
                                                                                 margin_seconds=margin)))
        running.start()
        assert gate.reached.wait(30)
        edit(client, during, price="2222")  # while it runs
        gate.release()
        running.join(30)
        assert outcome["result"].exit_code == 0 and outcome["result"].counts["pull"] == 0  # neither is searchable yet
        settle(sandbox)
        after = sync_api(mapping, client, margin_seconds=margin)
    prices = {r["VIN"]: r["Listing price"] for r in sheet_rows(small)}
    assert prices[during] == "2222"  # made after the last sync began: found without a margin
    if margin:
        assert (after.counts["pull"], after.counts["append"]) == (2, 1) and prices[before] == "1111"
        assert NEW in prices
    else:  # the negative control: with no margin, what search had not shown is lost
        assert (after.counts["pull"], after.counts["append"]) == (1, 0) and prices[before] != "1111"
        assert NEW not in prices


WORST = INSTANT_INDEX.but(search_lag=DEFAULT_MARGIN_SECONDS, search_lag_jitter=0)


@pytest.mark.parametrize("margin, pulled", [(DEFAULT_MARGIN_SECONDS, 1), (DEFAULT_MARGIN_SECONDS - 1, 0)],
                         ids=["margin-equal-to-lag", "margin-below-lag"])
def test_the_margin_covers_an_edit_that_waited_the_whole_lag_in_the_index(project, small, margin, pulled):
    """An edit search shows only DEFAULT_MARGIN_SECONDS after it was made, missed by a sync that
    began just before then: as far behind a sync's start as that lag can put an edit."""
    mapping = project / "mappings" / "cars.yaml"
    vin = sheet_rows(small)[0]["VIN"]
    with synced_a_day_ago(WORST, project) as (sandbox, client):
        edit(client, vin, price="3333")
        record = records(client)[vin]
        searchable = sandbox.searchable_at(record.id)
        assert searchable - ms(record.updated_at) == DEFAULT_MARGIN_SECONDS * 1000  # the lag, from the edit
        assert sync_api(mapping, client, margin_seconds=margin).counts["pull"] == 0
        path = snapshot_path(mapping)
        taken = state.load(path)
        taken.meta["since_ms"] = searchable - 1  # the sync began 1 ms before search showed the edit
        state.save(taken, path)
        settle(sandbox)
        after = sync_api(mapping, client, margin_seconds=margin)
    assert after.counts["pull"] == pulled
    assert (sheet_rows(small)[0]["Listing price"] == "3333") == bool(pulled)


# --- whole-batch rejections: every row its outcome, calls within the stated worst case ----------------


@pytest.mark.parametrize("sandbox", [INSTANT_INDEX.but(archived_unique="kept"),
                                     INSTANT_INDEX.but(archived_unique="kept", batch_errors="whole")],
                         ids=["per-input-207", "whole-batch-400"], indirect=True)
def test_rows_hubspot_rejects_each_get_their_outcome_within_the_calls_the_estimate_states(sandbox, run, client,
                                                                                        project):
    on_small_csv(project, 250)
    sheet = sheet_rows(project / "sample_data" / "cars.csv")
    held = [sheet[10]["VIN"], sheet[160]["VIN"]]  # their values stay with records in the recycle bin
    answers = client.batch_upsert(CARS, [{"id": vin, "properties": {}} for vin in held], id_property="vin")
    client.batch_archive(CARS, [a.record.id for a in answers])
    document = as_json(run("push", MAPPING, "--yes", "--json"))
    results, estimate = document["results"], document["plan"]["estimate"]
    assert results["counts"]["created"] == 248 and results["counts"]["failed"] == 2
    failed = {r["key"]: r for r in results["rows"] if r["outcome"] == "failed"}
    assert set(failed) == set(held) and all("already exists" in r["error_message"] for r in failed.values())
    assert estimate["calls"]["create"] == 3 and estimate["calls_per_rejected_row"] == 14
    if sandbox.variants.batch_errors == "per-input":
        assert results["calls"] == results["estimated_calls"]
    else:  # two batches split until their bad row stood alone
        assert results["estimated_calls"] < results["calls"] <= results["estimated_calls"] + 2 * 14
    assert len(records(client)) == 248


# --- unique values by case ---------------------------------------------------------------------------------


@pytest.mark.parametrize("sandbox", [INSTANT_INDEX, INSTANT_INDEX.but(unique_case="insensitive")],
                         ids=["case-sensitive", "case-insensitive"], indirect=True)
def test_a_key_differing_only_in_case_is_matched_as_the_portal_matches_it(sandbox, run, client, project):
    on_small_csv(project, 3)
    sheet = project / "sample_data" / "cars.csv"
    rows = sheet_rows(sheet)
    client.batch_upsert(CARS, [{"id": rows[0]["VIN"].lower(), "properties": {"make": "Old"}}], id_property="vin")
    document = as_json(run("push", MAPPING, "--yes", "--json"))
    assert document["exit_code"] == 0, document["results"]["rows"]
    found = records(client, "make")
    if sandbox.variants.unique_case == "insensitive":  # one record, with the sheet's values
        assert document["results"]["counts"] == {**document["results"]["counts"], "created": 2, "updated": 1}
        assert len(found) == 3 and found[rows[0]["VIN"].lower()].properties["make"] == rows[0]["Make"]
    else:  # two records that differ by case
        assert document["results"]["counts"]["created"] == 3
        assert len(found) == 4 and found[rows[0]["VIN"].lower()].properties["make"] == "Old"
    assert as_json(run("plan", MAPPING, "--json"))["counts"]["unchanged"] == 3  # in step afterwards


@pytest.mark.parametrize("sandbox", [INSTANT_INDEX, INSTANT_INDEX.but(unique_case="insensitive")],
                         ids=["case-sensitive", "case-insensitive"], indirect=True)
def test_two_rows_whose_keys_differ_only_in_case_are_two_records_or_wait_for_the_sheet_to_keep_one(sandbox, run,
                                                                                                    client, project):
    on_small_csv(project, 3)
    sheet = project / "sample_data" / "cars.csv"
    rows = sheet_rows(sheet)
    twin = rows[1]["VIN"] = rows[0]["VIN"].lower()
    write_sheet(sheet, rows)
    first = as_json(run("push", MAPPING, "--yes", "--json"))
    assert first["results"]["counts"]["failed"] == 0  # HubSpot's answer decides: created, or found already there
    second = as_json(run("push", MAPPING, "--yes", "--json"))
    synced = as_json(run("sync", MAPPING, "--yes", "--json"))
    if sandbox.variants.unique_case == "insensitive":  # one record: neither row may overwrite the other
        assert len(records(client)) == 2
        failed = [r for r in second["results"]["rows"] if r["outcome"] == "failed"]
        assert {r["key"] for r in failed} == {rows[0]["VIN"], twin} and second["exit_code"] == 1
        assert "without regard to case" in failed[0]["error_message"]
        assert synced["exit_code"] == 1 and {e["row"] for e in synced["errors"]} == {2, 3}
        assert synced["plan"] is None  # nothing written
    else:
        assert len(records(client)) == 3 and second["exit_code"] == 0 and synced["exit_code"] == 0


# --- no associations ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("sandbox", [INSTANT_INDEX.but(no_associations=shape) for shape in ("item", "aggregated", "empty")],
                         ids=["item", "aggregated", "empty"], indirect=True)
def test_reading_associations_takes_every_shape_of_no_associations(sandbox, client):
    contact = next(client.list_records("contacts")).id
    linked, alone = (client.batch_upsert(CARS, [{"id": vin, "properties": {}} for vin in ("LINKED1", "ALONE1")],
                                         id_property="vin"))
    [link] = client.batch_associate(CARS, "contacts", [(linked.record.id, contact)], None)
    assert link.ok
    found = client.batch_read_associations(CARS, "contacts", [linked.record.id, alone.record.id, "99999999"])
    assert [a.to_id for a in found[linked.record.id]] == [contact]
    assert found[alone.record.id] == [] and found["99999999"] == []
