"""The sandbox's v4 batch associations: read, create, archive and labels/archive, checked against
HubSpot's v4 associations OpenAPI document (openapi/hubspot_crm_crm_associations.oas.json)."""

from __future__ import annotations

import json
from functools import lru_cache

import pytest
import requests
from openapi_schema_validator import OAS30Validator

from syncer.sandbox import Sandbox
from test_sandbox_support import CARS, CONTACTS, OPENAPI, Client, check, inlined

V4 = "/crm/v4/associations"
V4_SPEC = OPENAPI / "hubspot_crm_crm_associations.oas.json"
CAR_TO_CONTACT = f"{V4}/2-3465404/contacts"
OWNER = {"associationCategory": "USER_DEFINED", "associationTypeId": 77}  # car → contact, "Car owner"
PLAIN = {"associationCategory": "USER_DEFINED", "associationTypeId": 75}  # car → contact, unlabeled


@lru_cache(maxsize=None)
def v4_schema(name: str) -> dict:
    """A component of the v4 spec with its references inlined, as HubSpot really answers it: `label`
    is null for unlabeled types (as on the labels endpoint, §3.9) and an error item's `subCategory`
    is a string such as "crm.associations.NO_ASSOCIATIONS_FOUND", and its `category` a string like
    "OBJECT_NOT_FOUND" (as in the objects spec), where this spec says string / object / ErrorCategory
    object."""
    components = json.loads(V4_SPEC.read_text())["components"]["schemas"]
    components["AssociationSpecWithLabel"]["properties"]["label"] = {"type": "string", "nullable": True}
    components["StandardError"]["properties"]["subCategory"] = {"type": "string"}
    components["StandardError"]["properties"]["category"] = {"type": "string"}
    return inlined(components, name)


@lru_cache(maxsize=None)
def operation(endpoint: str) -> dict:
    return json.loads(V4_SPEC.read_text())["paths"][f"/{{fromObjectType}}/{{toObjectType}}/batch/{endpoint}"]["post"]


def schema_of(content: dict) -> dict:
    ref = next(iter(content.values()))["schema"]["$ref"]
    return v4_schema(ref.rsplit("/", 1)[1])


def check_request(endpoint: str, body: dict) -> None:
    """Fail unless `body` is a valid request body of POST .../batch/{endpoint}."""
    OAS30Validator(schema_of(operation(endpoint)["requestBody"]["content"])).validate(body)


def check_v4(response: requests.Response) -> None:
    """Errors, 204s and 429s as every sandbox response; 2xx bodies against the operation's schema."""
    endpoint = response.request.path_url.split("/batch/", 1)[1].split("?")[0]
    if response.status_code >= 400 or response.status_code == 204:
        check(response, "")
        return
    if response.json().get("results") == [] and response.status_code == 200 and "numErrors" not in response.json():
        return  # the silent no-op of a body without inputs (§4.1), in no spec
    documented = operation(endpoint)["responses"]
    assert str(response.status_code) in documented, f"{endpoint} is not documented to answer {response.status_code}"
    OAS30Validator(schema_of(documented[str(response.status_code)]["content"])).validate(response.json())


class V4Client(Client):
    """The checking client, sending only spec-valid bodies to the v4 batch endpoints."""

    def v4(self, path: str, endpoint: str, inputs, *, check_body: bool = True) -> requests.Response:
        body = {"inputs": inputs}
        if check_body:
            check_request(endpoint, body)
        response = self.session.post(self.base_url + f"{path}/batch/{endpoint}", json=body, timeout=10)
        check_v4(response)
        return response


@pytest.fixture
def hs(sandbox):
    client = V4Client(sandbox)
    yield client
    client.close()


@pytest.fixture
def linked(hs):
    """Two cars and three seeded contacts; car 0 owned by contact 0 and plainly linked to contact 1."""
    cars = [hs.create_car(vin=f"V{n}")["id"] for n in range(2)]
    contacts = [c["id"] for c in hs.get(CONTACTS, params={"limit": 3}).json()["results"]]
    created = hs.v4(CAR_TO_CONTACT, "create", [link(cars[0], contacts[0], OWNER), link(cars[0], contacts[1], PLAIN)])
    assert created.status_code == 201, created.text
    return cars, contacts


def link(from_id: str, to_id: str, *types: dict) -> dict:
    return {"from": {"id": from_id}, "to": {"id": to_id}, "types": list(types)}


def read(hs, path: str, *ids: str) -> dict[str, dict[str, set[int]]]:
    """from id → to id → type ids, from one batch/read (ids without associations left out)."""
    body = hs.v4(path, "read", [{"id": i} for i in ids]).json()
    return {r["from"]["id"]: {str(t["toObjectId"]): {s["typeId"] for s in t["associationTypes"]} for t in r["to"]}
            for r in body["results"]}


def test_created_links_read_back_in_both_directions_with_labels(hs, linked, sandbox):
    cars, contacts = linked
    body = hs.v4(CAR_TO_CONTACT, "read", [{"id": cars[0]}]).json()
    assert body["status"] == "COMPLETE" and "errors" not in body
    [result] = body["results"]
    assert result["from"] == {"id": cars[0]}
    assert sorted(result["to"], key=lambda t: t["toObjectId"]) == [
        {"toObjectId": int(contacts[0]),
         "associationTypes": [{"category": "USER_DEFINED", "typeId": 77, "label": "Car owner"}]},
        {"toObjectId": int(contacts[1]),
         "associationTypes": [{"category": "USER_DEFINED", "typeId": 75, "label": None}]}]
    back = read(hs, f"{V4}/contacts/p{sandbox.portal_id}_cars", contacts[0], contacts[1])
    assert back == {contacts[0]: {cars[0]: {78}}, contacts[1]: {cars[0]: {76}}}
    v3 = hs.get(f"{CARS}/{cars[0]}", params={"associations": "contacts"}).json()["associations"]["contacts"]
    assert {(r["id"], r["type"]) for r in v3["results"]} == {(contacts[0], "car_owner"),
                                                             (contacts[1], "cars_to_contacts")}


def test_create_answers_each_pair_with_its_labels_and_relinking_is_no_error(hs, linked):
    cars, contacts = linked
    again = hs.v4(CAR_TO_CONTACT, "create", [link(cars[0], contacts[0], OWNER, PLAIN)])
    assert again.status_code == 201
    [result] = again.json()["results"]
    assert result == {"fromObjectTypeId": "2-3465404", "fromObjectId": int(cars[0]), "toObjectTypeId": "0-1",
                      "toObjectId": int(contacts[0]), "labels": ["Car owner"]}
    assert read(hs, CAR_TO_CONTACT, cars[0])[cars[0]] == {contacts[0]: {75, 77}, contacts[1]: {75}}


BAD_LINKS = [
    ("unknown from record", lambda c, k: link("1", k[2], PLAIN), "OBJECT_NOT_FOUND", "Could not find CARS 1"),
    ("unknown to record", lambda c, k: link(c[1], "2", PLAIN), "OBJECT_NOT_FOUND", "Could not find CONTACT 2"),
    ("type of another pair", lambda c, k: link(c[1], k[2], {"associationCategory": "HUBSPOT_DEFINED",
                                                              "associationTypeId": 279}),
     "VALIDATION_ERROR", "279 is not a valid association type id from 2-3465404 to 0-1."),
    ("category not the type's", lambda c, k: link(c[1], k[2], {**OWNER, "associationCategory": "HUBSPOT_DEFINED"}),
     "VALIDATION_ERROR", "77 is not a valid association type id in category HUBSPOT_DEFINED"),
    ("no types", lambda c, k: link(c[1], k[2]), "VALIDATION_ERROR", "types must list at least one association type."),
]


@pytest.mark.parametrize("make, category, message", [b[1:] for b in BAD_LINKS], ids=[b[0] for b in BAD_LINKS])
def test_a_bad_input_is_a_207_item_naming_its_pair_and_the_rest_is_written(hs, linked, make, category, message):
    cars, contacts = linked
    bad = make(cars, contacts)
    response = hs.v4(CAR_TO_CONTACT, "create", [bad, link(cars[1], contacts[0], OWNER)])
    assert response.status_code == 207
    body = response.json()
    [error] = body["errors"]
    assert body["numErrors"] == 1 and error["category"] == category and error["message"].startswith(message)
    assert (error["context"]["fromObjectId"], error["context"]["toObjectId"]) == ([bad["from"]["id"]], [bad["to"]["id"]])
    assert [(r["fromObjectId"], r["toObjectId"]) for r in body["results"]] == [(int(cars[1]), int(contacts[0]))]
    assert read(hs, CAR_TO_CONTACT, cars[1]) == {cars[1]: {contacts[0]: {77}}}


def test_read_answers_ids_without_links_or_records_as_no_associations_items(hs, linked):
    cars, contacts = linked
    response = hs.v4(CAR_TO_CONTACT, "read", [{"id": cars[0]}, {"id": cars[1]}, {"id": "999"}])
    assert response.status_code == 207
    body = response.json()
    assert [r["from"]["id"] for r in body["results"]] == [cars[0]]
    assert body["numErrors"] == 2
    assert sorted(body["errors"], key=lambda e: e["context"]["fromObjectId"]) == sorted([
        {"status": "error", "category": "OBJECT_NOT_FOUND", "subCategory": "crm.associations.NO_ASSOCIATIONS_FOUND",
         "message": f"No contact is associated with car {key}.", "errors": [], "links": {},
         "context": {"fromObjectId": [key], "fromObjectType": ["car"], "toObjectType": ["contact"]}}
        for key in (cars[1], "999")], key=lambda e: e["context"]["fromObjectId"])
    assert hs.v4(CAR_TO_CONTACT, "read", [{"id": "999"}]).json()["results"] == []


def test_read_pages_a_record_with_more_links_than_one_answer_holds(hs):
    from syncer.sandbox import behaviour

    size = behaviour.V4_ASSOCIATIONS_PAGE_SIZE
    owner = hs.get(CONTACTS, params={"limit": 1}).json()["results"][0]["id"]
    cars = []
    for start in range(0, size + 1, 100):
        batch = [{"properties": {"vin": f"P{n}"}} for n in range(start, min(start + 100, size + 1))]
        cars += [r["id"] for r in hs.post(f"{CARS}/batch/create", {"inputs": batch}).json()["results"]]
        assert hs.v4(CAR_TO_CONTACT, "create", [link(c, owner, OWNER) for c in cars[-len(batch):]]).status_code == 201
    path = f"{V4}/contacts/2-3465404"
    [first] = hs.v4(path, "read", [{"id": owner}]).json()["results"]
    assert len(first["to"]) == size and set(first["paging"]["next"]) == {"after"}
    [rest] = hs.v4(path, "read", [{"id": owner, "after": first["paging"]["next"]["after"]}]).json()["results"]
    assert "paging" not in rest
    assert sorted(str(t["toObjectId"]) for t in first["to"] + rest["to"]) == sorted(cars)
    bad = hs.v4(path, "read", [{"id": owner, "after": "not-a-cursor"}])
    assert bad.status_code == 400 and bad.json()["category"] == "VALIDATION_ERROR"


def test_archive_removes_every_type_between_each_pair_both_ways(hs, linked):
    cars, contacts = linked
    hs.v4(CAR_TO_CONTACT, "create", [link(cars[0], contacts[0], PLAIN)])
    archived = hs.v4(CAR_TO_CONTACT, "archive", [{"from": {"id": cars[0]}, "to": [{"id": contacts[0]}, {"id": "7"}]},
                                                  {"from": {"id": "nope"}, "to": [{"id": contacts[1]}]}])
    assert archived.status_code == 204
    assert read(hs, CAR_TO_CONTACT, cars[0]) == {cars[0]: {contacts[1]: {75}}}
    assert read(hs, f"{V4}/contacts/2-3465404", contacts[0]) == {}


def test_labels_archive_removes_the_named_types_and_the_unlabeled_one_removes_all(hs, linked):
    cars, contacts = linked
    hs.v4(CAR_TO_CONTACT, "create", [link(cars[0], contacts[0], PLAIN)])
    assert hs.v4(CAR_TO_CONTACT, "labels/archive", [link(cars[0], contacts[0], OWNER)]).status_code == 204
    assert read(hs, CAR_TO_CONTACT, cars[0])[cars[0]] == {contacts[0]: {75}, contacts[1]: {75}}
    assert read(hs, f"{V4}/contacts/2-3465404", contacts[0]) == {contacts[0]: {cars[0]: {76}}}
    hs.v4(CAR_TO_CONTACT, "create", [link(cars[0], contacts[1], OWNER)])
    assert hs.v4(CAR_TO_CONTACT, "labels/archive", [link(cars[0], contacts[1], PLAIN)]).status_code == 204
    assert read(hs, CAR_TO_CONTACT, cars[0])[cars[0]] == {contacts[0]: {75}}


@pytest.mark.parametrize("endpoint, limit", [("read", 1000), ("create", 100), ("archive", 100),
                                             ("labels/archive", 100)])
def test_inputs_beyond_the_limit_are_refused_whole(hs, endpoint, limit):
    one = {"read": {"id": "1"}, "archive": {"from": {"id": "1"}, "to": [{"id": "2"}]}}.get(
        endpoint, link("1", "2", PLAIN))
    assert hs.v4(CAR_TO_CONTACT, endpoint, [one] * limit).status_code in (200, 201, 204, 207)
    refused = hs.v4(CAR_TO_CONTACT, endpoint, [one] * (limit + 1))
    assert refused.status_code == 400
    assert refused.json()["message"] == f"Batch input size of {limit + 1} exceeds the limit of {limit} inputs."


def test_a_body_without_inputs_is_a_silent_no_op(hs):
    for endpoint in ("read", "create"):
        response = hs.session.post(f"{hs.base_url}{CAR_TO_CONTACT}/batch/{endpoint}", json={}, timeout=10)
        assert response.status_code == 200 and response.json()["results"] == []


def test_scopes_and_authentication_as_on_every_endpoint():
    with Sandbox(extra_tokens={"reader": {"crm.objects.custom.read"}}) as portal:
        reader = V4Client(portal, token="reader")
        assert reader.v4(CAR_TO_CONTACT, "read", [{"id": "1"}]).status_code == 207
        refused = reader.v4(CAR_TO_CONTACT, "create", [link("1", "2", PLAIN)])
        assert refused.status_code == 403 and refused.json()["category"] == "MISSING_SCOPES"
        assert reader.v4(CAR_TO_CONTACT, "archive", [{"from": {"id": "1"}, "to": []}]).status_code == 403
        stranger = V4Client(portal, token="wrong")
        assert stranger.v4(CAR_TO_CONTACT, "read", [{"id": "1"}]).status_code == 401
        for client in (reader, stranger):
            client.close()


def test_rate_limits_faults_and_the_request_log_apply(sandbox, hs):
    first = hs.v4(CAR_TO_CONTACT, "read", [{"id": "1"}])
    assert first.headers["X-HubSpot-RateLimit-Max"] == "190" and "X-HubSpot-RateLimit-Remaining" in first.headers
    sandbox.set_faults("503:1.0", seed=1)
    assert hs.v4(CAR_TO_CONTACT, "create", [link("1", "2", PLAIN)]).status_code == 503
    sandbox.set_faults("")
    sandbox.set_rate_limit(1)
    assert hs.v4(CAR_TO_CONTACT, "read", [{"id": "1"}]).status_code == 207
    limited = hs.v4(CAR_TO_CONTACT, "read", [{"id": "1"}])
    assert limited.status_code == 429 and limited.json()["policyName"] == "TEN_SECONDLY_ROLLING"
    log = [(e.path, e.status, e.fault) for e in sandbox.request_log]
    assert log == [(f"{CAR_TO_CONTACT}/batch/read", 207, None), (f"{CAR_TO_CONTACT}/batch/create", 503, "503"),
                   (f"{CAR_TO_CONTACT}/batch/read", 207, None), (f"{CAR_TO_CONTACT}/batch/read", 429, None)]
    assert sandbox.request_log[1].body == {"inputs": [link("1", "2", PLAIN)]}
