"""Batch read, create, update, upsert and archive: 200/201/207/400/409 as HubSpot answers them."""

from __future__ import annotations

import pytest

from syncer.sandbox import Sandbox
from test_sandbox_support import CARS, CONTACTS, Client


@pytest.fixture
def hs(sandbox):
    """A checking client of the `sandbox` portal."""
    client = Client(sandbox)
    yield client
    client.close()


def create(hs, *vins, **extra) -> dict[str, str]:
    """vin → id of new cars."""
    response = hs.post(f"{CARS}/batch/create", {"inputs": [{"properties": {"vin": v, **extra}} for v in vins]})
    assert response.status_code == 201, response.text
    return {r["properties"]["vin"]: r["id"] for r in response.json()["results"]}


# --- batch/read (E6) ------------------------------------------------------------------------------

def test_batch_read_by_id_and_by_id_property(hs):
    ids = create(hs, "V1", "V2", make="Ford")
    by_id = hs.post(f"{CARS}/batch/read", {"inputs": [{"id": i} for i in ids.values()], "properties": ["make"]})
    assert by_id.status_code == 200
    assert {r["id"]: r["properties"]["make"] for r in by_id.json()["results"]} == {i: "Ford" for i in ids.values()}
    by_vin = hs.post(f"{CARS}/batch/read", {"inputs": [{"id": "V1"}, {"id": "V2"}], "idProperty": "vin"}).json()
    assert {r["properties"]["vin"]: r["id"] for r in by_vin["results"]} == ids


def test_batch_read_with_missing_ids_is_207_with_one_aggregated_error(hs):
    ids = create(hs, "V1")
    response = hs.post(f"{CARS}/batch/read", {"inputs": [{"id": "V1"}, {"id": "NOPE"}, {"id": "GONE"}],
                                              "idProperty": "vin"})
    assert response.status_code == 207
    body = response.json()
    assert [r["id"] for r in body["results"]] == [ids["V1"]]
    assert body["numErrors"] == 1
    error = body["errors"][0]
    assert error["category"] == "OBJECT_NOT_FOUND" and error["status"] == "error"
    assert error["message"] == ("Could not get some CARS objects, they may be deleted or not exist. "
                                "Check that ids are valid.")
    assert error["context"] == {"ids": ["NOPE", "GONE"]}
    contacts = hs.post(f"{CONTACTS}/batch/read", {"inputs": [{"id": "1"}]}).json()
    assert contacts["errors"][0]["message"].startswith("Could not get some CONTACT objects")


def test_batch_read_history_is_limited_to_50_inputs(hs):
    response = hs.post(f"{CARS}/batch/read", {"inputs": [{"id": str(i)} for i in range(51)],
                                              "propertiesWithHistory": ["price"]})
    assert response.status_code == 400
    assert response.json()["message"].startswith("The maximum number of inputs supported in a batch request "
                                                  "for property histories is 50")


def test_batch_read_archived(hs):
    ids = create(hs, "V1")
    assert hs.post(f"{CARS}/batch/archive", {"inputs": [{"id": ids["V1"]}]}).status_code == 204
    live = hs.post(f"{CARS}/batch/read", {"inputs": [{"id": ids["V1"]}]})
    assert live.status_code == 207 and live.json()["results"] == []
    archived = hs.post(f"{CARS}/batch/read", {"inputs": [{"id": ids["V1"]}]}, params={"archived": "true"}).json()
    assert archived["results"][0]["archived"] is True


# --- limits and malformed bodies -------------------------------------------------------------------

@pytest.mark.parametrize("action", ["read", "create", "update", "upsert", "archive"])
def test_more_than_100_inputs_fail_the_whole_batch(hs, action):
    inputs = [{"id": str(i), "idProperty": "vin", "properties": {"vin": f"V{i}"}} for i in range(101)]
    if action == "update":
        inputs = [{"id": str(i), "properties": {"make": "x"}} for i in range(101)]
    response = hs.post(f"{CARS}/batch/{action}", {"inputs": inputs})
    assert response.status_code == 400
    assert response.json()["category"] == "VALIDATION_ERROR"
    assert "exceeds the limit of 100" in response.json()["message"]
    assert hs.post(f"{CARS}/search", {}).json()["total"] == 0


def test_body_without_inputs_is_a_silent_no_op(hs):
    response = hs.post(f"{CARS}/batch/create", {"input": [{"properties": {"vin": "V1"}}]})
    assert response.status_code == 200 and response.json()["results"] == []


# --- batch/create (E7) ------------------------------------------------------------------------------

def test_batch_create_without_trace_ids_is_all_or_nothing(hs):
    response = hs.post(f"{CARS}/batch/create", {"inputs": [
        {"properties": {"vin": "V1", "price": "10"}},
        {"properties": {"vin": "V2", "price": "ten"}},
        {"properties": {"vin": "V3", "color": "purple"}}]})
    assert response.status_code == 400
    assert [e["code"] for e in response.json()["errors"]] == ["INVALID_INTEGER", "INVALID_OPTION"]
    assert hs.post(f"{CARS}/search", {}).json()["total"] == 0


def test_batch_create_conflict_without_trace_ids_is_409_naming_the_first(hs):
    ids = create(hs, "V1", "V2")
    response = hs.post(f"{CARS}/batch/create", {"inputs": [{"properties": {"vin": v}} for v in ("V9", "V1", "V2")]})
    assert response.status_code == 409
    assert response.json()["message"] == f"Car already exists. Existing ID: {ids['V1']}"
    assert hs.post(f"{CARS}/search", {}).json()["total"] == 2


def test_batch_create_with_trace_ids_is_207_per_item(hs):
    existing = create(hs, "V1")["V1"]
    response = hs.post(f"{CARS}/batch/create", {"inputs": [
        {"properties": {"vin": "V2"}, "objectWriteTraceId": "row-2"},
        {"properties": {"vin": "V1"}, "objectWriteTraceId": "row-3"},
        {"properties": {"vin": "V4", "year": "soon"}, "objectWriteTraceId": "row-4"},
        {"properties": {"vin": "V2"}, "objectWriteTraceId": "row-5"}]})
    assert response.status_code == 207
    body = response.json()
    assert [(r["properties"]["vin"], r["objectWriteTraceId"]) for r in body["results"]] == [("V2", "row-2")]
    errors = {e["context"]["objectWriteTraceId"][0]: e for e in body["errors"]}
    assert errors["row-3"]["category"] == "CONFLICT" and errors["row-3"]["context"]["existingId"] == [existing]
    assert errors["row-4"]["category"] == "VALIDATION_ERROR" and "INVALID_INTEGER" in errors["row-4"]["message"]
    assert errors["row-5"]["category"] == "CONFLICT"  # V2 was taken earlier in the same batch
    assert body["numErrors"] == 3


# --- batch/update (E8) ------------------------------------------------------------------------------

def test_batch_update_by_id_and_by_id_property(hs):
    ids = create(hs, "V1", "V2")
    by_id = hs.post(f"{CARS}/batch/update", {"inputs": [{"id": ids["V1"], "properties": {"price": "5.0"}}]})
    assert by_id.status_code == 200 and by_id.json()["results"][0]["properties"]["price"] == "5"
    by_vin = hs.post(f"{CARS}/batch/update", {"inputs": [{"id": "V2", "idProperty": "vin",
                                                          "properties": {"price": "7"}}]})
    assert by_vin.json()["results"][0]["id"] == ids["V2"]


def test_batch_update_with_unknown_ids_is_207_and_applies_the_rest(hs):
    ids = create(hs, "V1")
    response = hs.post(f"{CARS}/batch/update", {"inputs": [
        {"id": ids["V1"], "properties": {"make": "Kia"}},
        {"id": "404404", "properties": {"make": "Kia"}, "objectWriteTraceId": "7"}]})
    assert response.status_code == 207
    error = response.json()["errors"][0]
    assert error["category"] == "OBJECT_NOT_FOUND"
    assert error["context"] == {"ids": ["404404"], "objectWriteTraceId": ["7"]}
    assert hs.get(f"{CARS}/{ids['V1']}", params={"properties": "make"}).json()["properties"]["make"] == "Kia"


def test_duplicate_ids_fail_the_whole_batch(hs):
    ids = create(hs, "V1")
    for action, inputs in [
            ("update", [{"id": ids["V1"], "properties": {"make": "a"}}, {"id": ids["V1"], "properties": {"make": "b"}}]),
            ("upsert", [{"id": "V1", "idProperty": "vin", "properties": {}, "objectWriteTraceId": "1"},
                        {"id": "V1", "idProperty": "vin", "properties": {}, "objectWriteTraceId": "2"}])]:
        response = hs.post(f"{CARS}/batch/{action}", {"inputs": inputs})
        assert response.status_code == 400
        body = response.json()
        assert body["category"] == "VALIDATION_ERROR"
        duplicate = ids["V1"] if action == "update" else "V1"
        assert body["message"] == f"Duplicate IDs found in batch input: [{duplicate}]. IDs must be unique"
        assert body["context"] == {"ids": [duplicate]}


def test_batch_update_unique_conflict(hs):
    ids = create(hs, "V1", "V2")
    whole = hs.post(f"{CARS}/batch/update", {"inputs": [{"id": ids["V2"], "properties": {"vin": "V1"}}]})
    assert whole.status_code == 409
    item = hs.post(f"{CARS}/batch/update", {"inputs": [
        {"id": ids["V2"], "properties": {"vin": "V1"}, "objectWriteTraceId": "a"},
        {"id": ids["V1"], "properties": {"make": "ok"}, "objectWriteTraceId": "b"}]})
    assert item.status_code == 207 and item.json()["errors"][0]["context"]["existingId"] == [ids["V1"]]


# --- batch/upsert (E9) ------------------------------------------------------------------------------

def test_batch_upsert_creates_and_updates_by_unique_property(hs):
    ids = create(hs, "V1", price="1")
    response = hs.post(f"{CARS}/batch/upsert", {"inputs": [
        {"idProperty": "vin", "id": "V1", "properties": {"price": "2"}},
        {"idProperty": "vin", "id": "V2", "properties": {"price": "3"}}]})
    assert response.status_code == 200
    results = {r["properties"]["vin"]: r for r in response.json()["results"]}
    assert results["V1"]["new"] is False and results["V1"]["id"] == ids["V1"]
    assert results["V2"]["new"] is True and results["V2"]["properties"]["price"] == "3"
    again = hs.post(f"{CARS}/batch/upsert", {"inputs": [{"idProperty": "vin", "id": "V2", "properties": {}}]})
    assert again.json()["results"][0]["new"] is False  # a retried upsert never duplicates


def test_upsert_by_a_non_unique_property_is_refused(hs, sandbox):
    for key in ("make", "hs_object_id"):
        response = hs.post(f"{CARS}/batch/upsert", {"inputs": [{"idProperty": key, "id": "1", "properties": {}}]})
        assert response.status_code == 400
        assert response.json()["message"] == (f"Unable to perform update/upsert by non-unique 2-3465404 "
                                               f"property {key} in portal ID {sandbox.portal_id}")


def test_upsert_bad_value_whole_400_without_trace_ids_and_207_with(hs):
    bad = [{"idProperty": "vin", "id": "V1", "properties": {"price": "1"}},
           {"idProperty": "vin", "id": "V2", "properties": {"price": "x"}}]
    assert hs.post(f"{CARS}/batch/upsert", {"inputs": bad}).status_code == 400
    assert hs.post(f"{CARS}/search", {}).json()["total"] == 0
    traced = [dict(item, objectWriteTraceId=str(n)) for n, item in enumerate(bad)]
    response = hs.post(f"{CARS}/batch/upsert", {"inputs": traced})
    assert response.status_code == 207
    assert [r["properties"]["vin"] for r in response.json()["results"]] == ["V1"]
    assert response.json()["errors"][0]["context"]["objectWriteTraceId"] == ["1"]


def test_upsert_contacts_by_email_is_case_insensitive(hs):
    response = hs.post(f"{CONTACTS}/batch/upsert", {"inputs": [
        {"idProperty": "email", "id": "ALICE.MARTIN@example.com", "properties": {"city": "Lyon"}}]})
    result = response.json()["results"][0]
    assert result["new"] is False and result["properties"]["email"] == "alice.martin@example.com"


# --- batch/archive (E10) and result order -------------------------------------------------------------

def test_batch_archive_answers_204_whatever_the_ids(hs):
    ids = create(hs, "V1", "V2")
    response = hs.post(f"{CARS}/batch/archive", {"inputs": [{"id": ids["V1"]}, {"id": "999"}]})
    assert response.status_code == 204
    assert [r["id"] for r in hs.get(CARS).json()["results"]] == [ids["V2"]]


def test_batch_results_come_in_an_order_unrelated_to_the_inputs(hs):
    vins = [f"V{i:03d}" for i in range(100)]
    results = hs.post(f"{CARS}/batch/create", {"inputs": [{"properties": {"vin": v}} for v in vins]}).json()["results"]
    assert sorted(r["properties"]["vin"] for r in results) == vins
    assert [r["properties"]["vin"] for r in results] != vins


def test_ordered_results_keeps_input_order():
    with Sandbox(ordered_results=True) as portal:
        client = Client(portal)
        vins = [f"V{i:03d}" for i in range(50)]
        body = client.post(f"{CARS}/batch/create", {"inputs": [{"properties": {"vin": v}} for v in vins]}).json()
        assert [r["properties"]["vin"] for r in body["results"]] == vins
        client.close()
