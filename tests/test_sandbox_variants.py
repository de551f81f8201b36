"""The sandbox's HubSpot variants (syncer/sandbox/behaviour.py, Variants), each over HTTP: search lag
on the portal's own clock, whole-batch rejections, unique values by case and after archiving, the
shapes of "no associations", a competing integration's share of the rate limits, and missing
rate-limit headers. Lag is waited out by moving the sandbox's clock, never by sleeping."""

from __future__ import annotations

from contextlib import closing

import pytest
from click.testing import CliRunner

from syncer.sandbox import INSTANT_INDEX, Sandbox, Variants
from syncer.sandbox.behaviour import seconds
from test_sandbox_support import CARS, Client

LAGGING = INSTANT_INDEX.but(search_lag=600, search_lag_jitter=0.5)  # every write waits 300-600 s


def portal(variants: Variants, **options) -> Sandbox:
    return Sandbox(variants=variants, **{"ordered_results": True, "search_rate_limit": 1000, **options})


def search(client: Client, *filters, **body) -> dict:
    request = {"filterGroups": [{"filters": list(filters)}] if filters else [], "properties": ["vin", "price"],
               "limit": 100, **body}
    response = client.post(f"{CARS}/search", request)
    assert response.status_code == 200, response.text
    return response.json()


def eq(name: str, value: str, operator: str = "EQ") -> dict:
    return {"propertyName": name, "operator": operator, "value": value}


def found(answer: dict) -> dict[str, str | None]:
    return {r["properties"]["vin"]: r["properties"].get("price") for r in answer["results"]}


# --- search lag ------------------------------------------------------------------------------------


def test_a_new_record_reaches_search_only_after_its_lag_on_the_sandbox_clock():
    with portal(LAGGING) as sandbox, closing(Client(sandbox)) as client:
        car = client.create_car(vin="LAG1", price="100")
        assert search(client, eq("vin", "LAG1"))["total"] == 0
        assert client.get(f"{CARS}/LAG1", params={"idProperty": "vin"}).status_code == 200  # reads are current
        due = sandbox.searchable_at(car["id"])
        wait = (due - sandbox.now_ms()) / 1000
        assert 300 - 5 <= wait <= 600  # lag x (1 - jitter) .. lag, less the moments this test took
        sandbox.advance_clock(wait - 30)
        assert search(client, eq("vin", "LAG1"))["total"] == 0
        sandbox.advance_clock(31)
        assert found(search(client, eq("vin", "LAG1"))) == {"LAG1": "100"}
        assert sandbox.searchable_at(car["id"]) is None


def test_an_update_is_matched_on_the_indexed_version_and_returned_as_it_is_now():
    with portal(LAGGING) as sandbox, closing(Client(sandbox)) as client:
        car = client.create_car(vin="LAG2", price="100")
        sandbox.catch_up_search()
        before = sandbox.now_ms()
        assert client.patch(f"{CARS}/{car['id']}", {"properties": {"price": "200"}}).status_code == 200
        # Matched, sorted and counted by what the index holds, returned with the current values.
        assert search(client, eq("price", "200"))["total"] == 0
        assert found(search(client, eq("price", "100"))) == {"LAG2": "200"}
        assert search(client, eq("hs_lastmodifieddate", str(before), "GT"))["total"] == 0
        sandbox.advance_clock(601)
        assert found(search(client, eq("price", "200"))) == {"LAG2": "200"}
        assert found(search(client, eq("hs_lastmodifieddate", str(before), "GT"))) == {"LAG2": "200"}


def test_an_archived_record_stays_in_search_until_the_index_catches_up():
    with portal(LAGGING) as sandbox, closing(Client(sandbox)) as client:
        car = client.create_car(vin="LAG3", price="100")
        sandbox.catch_up_search()
        assert client.delete(f"{CARS}/{car['id']}").status_code == 204
        [stale] = search(client, eq("vin", "LAG3"))["results"]
        assert stale["id"] == car["id"] and stale["archived"] is True  # as it is now
        sandbox.advance_clock(601)
        assert search(client, eq("vin", "LAG3"))["total"] == 0


def test_each_record_draws_its_own_lag_so_search_may_see_a_later_write_first():
    with portal(LAGGING.but(search_lag_jitter=1.0), fault_seed=7) as sandbox, closing(Client(sandbox)) as client:
        ids = [client.create_car(vin=f"ORDER{i}", price="1")["id"] for i in range(20)]
        due = [sandbox.searchable_at(i) for i in ids]
        assert due != sorted(due) and len(set(due)) > 10  # later writes do not wait longer
        sandbox.advance_clock((sorted(due)[10] - sandbox.now_ms()) / 1000 + 0.001)
        seen = {r["id"] for r in search(client, eq("vin", "ORDER*", "CONTAINS_TOKEN"))["results"]}
        assert seen == {i for i, at in zip(ids, due) if at <= sorted(due)[10]} and len(seen) == 11


def test_without_lag_search_sees_every_write_at_once():
    with portal(INSTANT_INDEX) as sandbox, closing(Client(sandbox)) as client:
        car = client.create_car(vin="NOW1", price="5")
        assert found(search(client, eq("vin", "NOW1"))) == {"NOW1": "5"} and sandbox.searchable_at(car["id"]) is None


# --- whole-batch rejections ------------------------------------------------------------------------


def update_inputs(client: Client) -> list[dict]:
    good = client.create_car(vin="GOOD1", price="1")
    bad = client.create_car(vin="BAD1", price="1")
    return [{"id": good["id"], "properties": {"price": "2"}, "objectWriteTraceId": "0"},
            {"id": bad["id"], "properties": {"price": "not a number"}, "objectWriteTraceId": "1"}]


@pytest.mark.parametrize("endpoint", ["update", "upsert"])
def test_per_input_errors_answer_a_bad_input_with_a_207_item_and_write_the_rest(endpoint):
    with portal(INSTANT_INDEX) as sandbox, closing(Client(sandbox)) as client:
        inputs = update_inputs(client)
        if endpoint == "upsert":
            inputs = [{**i, "id": vin, "idProperty": "vin"} for i, vin in zip(inputs, ["GOOD1", "BAD1"])]
        answer = client.post(f"{CARS}/batch/{endpoint}", {"inputs": inputs})
        assert answer.status_code == 207
        [error] = answer.json()["errors"]
        assert error["category"] == "VALIDATION_ERROR" and error["context"]["objectWriteTraceId"] == ["1"]
        assert client.get(f"{CARS}/GOOD1", params={"idProperty": "vin", "properties": "price"}).json()[
            "properties"]["price"] == "2"


@pytest.mark.parametrize("endpoint", ["update", "upsert"])
def test_whole_batch_errors_reject_the_batch_with_one_400_and_write_nothing(endpoint):
    with portal(INSTANT_INDEX.but(batch_errors="whole")) as sandbox, closing(Client(sandbox)) as client:
        inputs = update_inputs(client)
        if endpoint == "upsert":
            inputs = [{**i, "id": vin, "idProperty": "vin"} for i, vin in zip(inputs, ["GOOD1", "BAD1"])]
        answer = client.post(f"{CARS}/batch/{endpoint}", {"inputs": inputs})
        assert answer.status_code == 400 and answer.json()["category"] == "VALIDATION_ERROR"
        assert "not a number" in answer.json()["message"]
        assert client.get(f"{CARS}/GOOD1", params={"idProperty": "vin", "properties": "price"}).json()[
            "properties"]["price"] == "1"


def test_whole_batch_errors_keep_unknown_ids_and_creates_per_input():
    with portal(INSTANT_INDEX.but(batch_errors="whole")) as sandbox, closing(Client(sandbox)) as client:
        car = client.create_car(vin="KNOWN1", price="1")
        unknown = client.post(f"{CARS}/batch/update", {"inputs": [
            {"id": car["id"], "properties": {"price": "3"}, "objectWriteTraceId": "0"},
            {"id": "99999999", "properties": {"price": "3"}, "objectWriteTraceId": "1"}]})
        assert unknown.status_code == 207 and unknown.json()["errors"][0]["category"] == "OBJECT_NOT_FOUND"
        created = client.post(f"{CARS}/batch/create", {"inputs": [
            {"properties": {"vin": "NEW1"}, "objectWriteTraceId": "0"},
            {"properties": {"vin": "NEW2", "price": "x"}, "objectWriteTraceId": "1"}]})
        assert created.status_code == 207 and [r["properties"]["vin"] for r in created.json()["results"]] == ["NEW1"]


def test_whole_batch_errors_answer_a_unique_conflict_with_409():
    with portal(INSTANT_INDEX.but(batch_errors="whole")) as sandbox, closing(Client(sandbox)) as client:
        first, second = client.create_car(vin="U1"), client.create_car(vin="U2")
        answer = client.post(f"{CARS}/batch/update", {"inputs": [
            {"id": second["id"], "properties": {"vin": "U1"}, "objectWriteTraceId": "0"}]})
        assert answer.status_code == 409 and answer.json()["category"] == "CONFLICT"
        assert first["id"] in answer.json()["message"]


# --- unique values -----------------------------------------------------------------------------------


def test_case_sensitive_unique_values_make_two_records():
    with portal(INSTANT_INDEX) as sandbox, closing(Client(sandbox)) as client:
        first = client.create_car(vin="abc123")
        second = client.create_car(vin="ABC123")
        assert first["id"] != second["id"]
        assert client.get(f"{CARS}/ABC123", params={"idProperty": "vin"}).json()["id"] == second["id"]


def test_case_insensitive_unique_values_conflict_and_address_one_record():
    with portal(INSTANT_INDEX.but(unique_case="insensitive")) as sandbox, closing(Client(sandbox)) as client:
        first = client.create_car(vin="abc123")
        clash = client.post(CARS, {"properties": {"vin": "ABC123"}})
        assert clash.status_code == 409 and first["id"] in clash.json()["message"]
        assert client.get(f"{CARS}/ABC123", params={"idProperty": "vin"}).json()["id"] == first["id"]
        upserted = client.post(f"{CARS}/batch/upsert", {"inputs": [
            {"id": "Abc123", "idProperty": "vin", "properties": {"price": "9"}, "objectWriteTraceId": "0"}]}).json()
        [result] = upserted["results"]
        assert result["id"] == first["id"] and result["new"] is False and result["properties"]["vin"] == "Abc123"
        duplicates = client.post(f"{CARS}/batch/upsert", {"inputs": [
            {"id": vin, "idProperty": "vin", "properties": {}} for vin in ("xyz9", "XYZ9")]})
        assert duplicates.status_code == 400 and "Duplicate IDs" in duplicates.json()["message"]


def test_an_archived_records_unique_value_is_released_by_default():
    with portal(INSTANT_INDEX) as sandbox, closing(Client(sandbox)) as client:
        old = client.create_car(vin="GONE1")
        client.delete(f"{CARS}/{old['id']}")
        again = client.create_car(vin="GONE1")
        assert again["id"] != old["id"]


def test_an_archived_records_unique_value_can_be_kept():
    with portal(INSTANT_INDEX.but(archived_unique="kept")) as sandbox, closing(Client(sandbox)) as client:
        old = client.create_car(vin="GONE1")
        client.delete(f"{CARS}/{old['id']}")
        assert client.get(f"{CARS}/GONE1", params={"idProperty": "vin"}).status_code == 404
        clash = client.post(CARS, {"properties": {"vin": "GONE1"}})
        assert clash.status_code == 409 and old["id"] in clash.json()["message"]
        upsert = client.post(f"{CARS}/batch/upsert", {"inputs": [
            {"id": "GONE1", "idProperty": "vin", "properties": {}, "objectWriteTraceId": "0"}]})
        assert upsert.status_code == 207
        assert upsert.json()["errors"][0]["context"]["existingId"] == [old["id"]]


def test_a_store_opened_under_other_unique_rules_claims_its_values_again(tmp_path):
    path = tmp_path / "portal.sqlite"
    with Sandbox(db_path=path) as sandbox, closing(Client(sandbox)) as client:
        kept = client.create_car(vin="OLD1")
        client.delete(f"{CARS}/{kept['id']}")
        client.create_car(vin="Mixed1")
    with Sandbox(db_path=path, variants=INSTANT_INDEX.but(unique_case="insensitive", archived_unique="kept")) as sandbox, \
            closing(Client(sandbox)) as client:
        assert client.post(CARS, {"properties": {"vin": "OLD1"}}).status_code == 409
        assert client.post(CARS, {"properties": {"vin": "MIXED1"}}).status_code == 409


# --- no associations ---------------------------------------------------------------------------------


def associations_of(sandbox, client: Client) -> tuple[dict, str, str]:
    """A v4 batch/read of a linked car and an unlinked one: (body, linked id, unlinked id)."""
    linked, unlinked = client.create_car(vin="LINKED1"), client.create_car(vin="ALONE1")
    contact = client.get("/crm/v3/objects/contacts", params={"limit": 1}).json()["results"][0]["id"]
    [kind] = [k for k in client.get("/crm/v4/associations/2-3465404/contacts/labels").json()["results"]
              if k["label"] is None]
    made = client.post("/crm/v4/associations/2-3465404/contacts/batch/create", {"inputs": [
        {"from": {"id": linked["id"]}, "to": {"id": contact}, "types": [
            {"associationCategory": kind["category"], "associationTypeId": kind["typeId"]}]}]})
    assert made.status_code == 201, made.text
    # Not checked against the spec, which types unlabeled labels and subCategory otherwise (§3.9).
    body = client.session.post(f"{client.base_url}/crm/v4/associations/2-3465404/contacts/batch/read",
                               json={"inputs": [{"id": linked["id"]}, {"id": unlinked["id"]}]}, timeout=10).json()
    return body, linked["id"], unlinked["id"]


@pytest.mark.parametrize("shape", ["item", "aggregated", "empty"])
def test_an_id_without_associations_is_answered_in_the_shape_chosen(shape):
    with portal(INSTANT_INDEX.but(no_associations=shape)) as sandbox, closing(Client(sandbox)) as client:
        body, linked, unlinked = associations_of(sandbox, client)
        results = {r["from"]["id"]: r["to"] for r in body["results"]}
        assert len(results[linked]) == 1
        if shape == "empty":
            assert results[unlinked] == [] and "errors" not in body
            return
        [error] = body["errors"]
        assert error["category"] == "OBJECT_NOT_FOUND" and unlinked not in results
        if shape == "item":
            assert error["subCategory"] == "crm.associations.NO_ASSOCIATIONS_FOUND"
            assert error["context"]["fromObjectId"] == [unlinked]
        else:
            assert error["context"] == {"ids": [unlinked]} and "subCategory" not in error


# --- rate limits -------------------------------------------------------------------------------------


def test_a_competing_integration_uses_its_share_of_the_window_the_day_and_search():
    with portal(INSTANT_INDEX.but(competing_share=0.5), rate_limit=20, search_rate_limit=5) as sandbox, \
            closing(Client(sandbox)) as client:
        # Search: 5 a second for the account, 2 of them the other integration's (4 calls well within a second).
        searches = [client.post(f"{CARS}/search", {"limit": 1}).status_code for _ in range(4)]
        assert searches == [200, 200, 200, 429]
        first = client.get("/crm/v3/properties/2-3465404")
        assert first.headers["X-HubSpot-RateLimit-Max"] == "20"
        assert first.headers["X-HubSpot-RateLimit-Remaining"] == "6"  # 10 the other's, 3 searches and this ours
        assert int(first.headers["X-HubSpot-RateLimit-Daily-Remaining"]) == 500_000 - 4
        statuses = [client.get("/crm/v3/properties/2-3465404").status_code for _ in range(7)]
        assert statuses == [200] * 6 + [429]


@pytest.mark.parametrize("headers, expected", [("always", {True}), ("never", {False}), ("sometimes", {True, False})])
def test_rate_limit_headers_may_be_missing(headers, expected):
    with portal(INSTANT_INDEX.but(rate_headers=headers), fault_seed=3) as sandbox, closing(Client(sandbox)) as client:
        seen = {"X-HubSpot-RateLimit-Max" in client.get("/crm/v3/properties/2-3465404").headers for _ in range(20)}
        assert seen == expected


# --- the options -------------------------------------------------------------------------------------


def test_serve_offers_every_variant_with_the_defaults_of_behaviour_py():
    from syncer.cli import cli

    serve = cli.commands["sandbox"].commands["serve"]
    defaults = {p.name: p.default for p in serve.params}
    expected = Variants()
    for name in ("search_lag_jitter", "batch_errors", "unique_case", "archived_unique", "no_associations",
                 "competing_share", "rate_headers"):
        assert defaults[name] == getattr(expected, name), name
    assert seconds(defaults["search_lag"]) == expected.search_lag
    help_text = CliRunner().invoke(cli, ["sandbox", "serve", "--help"]).output
    assert "--search-lag" in help_text and "--rate-headers" in help_text


@pytest.mark.parametrize("text, expected", [("5s", 5.0), ("500ms", 0.5), ("2m", 120.0), ("1h", 3600.0), ("0", 0.0)])
def test_durations(text, expected):
    assert seconds(text) == expected


def test_a_bad_option_is_refused_before_serving():
    from syncer.cli import cli

    result = CliRunner().invoke(cli, ["sandbox", "serve", "--search-lag", "soon", "--port", "0"])
    assert result.exit_code == 2 and "not a duration" in result.output
    with pytest.raises(ValueError, match="batch_errors"):
        Variants(batch_errors="sometimes")


def test_serve_behaves_as_its_options_say():
    """`syncer sandbox serve` with options: a real process, its announcement, its answers."""
    import re
    import signal
    import subprocess
    import sys

    import requests

    command = [sys.executable, "-m", "syncer", "sandbox", "serve", "--port", "0", "--search-lag", "2m",
               "--batch-errors", "whole"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        url = re.search(r"at (http://127\.0\.0\.1:\d+)", process.stdout.readline()).group(1)
        process.stdout.readline()  # the token
        assert "search lag 60-120 s, batch errors whole" in process.stdout.readline()
        session = requests.Session()
        session.headers["Authorization"] = "Bearer sandbox"
        made = session.post(url + CARS, json={"properties": {"vin": "SERVE1"}}, timeout=5)
        assert made.status_code == 201
        search = session.post(url + CARS + "/search", json={"filterGroups": [{"filters": [
            {"propertyName": "vin", "operator": "EQ", "value": "SERVE1"}]}]}, timeout=5)
        assert search.json()["total"] == 0  # a minute at least before search sees it
        rejected = session.post(url + CARS + "/batch/upsert", json={"inputs": [
            {"id": "SERVE1", "idProperty": "vin", "properties": {"price": "x"}, "objectWriteTraceId": "0"}]}, timeout=5)
        assert rejected.status_code == 400
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()
            raise
    assert process.returncode == 0


def test_sandbox_serve_offers_each_variant_with_its_default_and_choices():
    """`syncer sandbox serve` spells the variants out for --help (the CLI must not import the
    sandbox to start); they must be Variants' own."""
    import dataclasses

    import click

    from syncer.cli import sandbox_serve
    from syncer.sandbox import behaviour

    options = {p.name: p for p in sandbox_serve.params if isinstance(p, click.Option)}
    choices = {"batch_errors": behaviour.BATCH_ERRORS, "unique_case": behaviour.UNIQUE_CASE,
               "archived_unique": behaviour.ARCHIVED_UNIQUE, "no_associations": behaviour.NO_ASSOCIATIONS,
               "rate_headers": behaviour.RATE_HEADERS}
    for item in dataclasses.fields(behaviour.Variants):
        option = options[item.name]
        default = option.default
        if item.name == "search_lag":
            default = option.process_value(click.Context(sandbox_serve), default)
        assert default == item.default, item.name
        if item.name in choices:
            assert tuple(option.type.choices) == choices[item.name], item.name
