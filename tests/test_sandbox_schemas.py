"""The sandbox's definition writes: properties, property groups, schemas, association labels and the
token's scopes, each answer checked against HubSpot's OpenAPI documents (test_sandbox_support.Client)."""

from __future__ import annotations

import pytest

from syncer.sandbox import Sandbox
from test_sandbox_support import CARS, CONTACTS, Client

PROPS = "/crm/v3/properties/2-3465404"


@pytest.fixture
def hs(sandbox):
    client = Client(sandbox)
    yield client
    client.close()


def prop(name: str, **fields) -> dict:
    return {"name": name, "label": name.title(), "type": "string", "fieldType": "text",
            "groupName": "car_information", **fields}


@pytest.mark.parametrize(("body", "status", "words"), [
    ({"name": "trim", "label": "Trim", "type": "string", "fieldType": "text"}, 400, "[groupName]"),
    (prop("trim", groupName="nowhere"), 400, "property group 'nowhere' does not exist"),
    (prop("hs_trim"), 400, "reserved"),
    (prop("Trim"), 400, "lower case letters"),
    (prop("trim", type="number", fieldType="select"), 400, "fieldType 'select' is not valid for type 'number'"),
    (prop("trim", type="enumeration", fieldType="select"), 400, "needs options"),
    (prop("trim", type="enumeration", fieldType="select",
          options=[{"label": "A", "value": "a"}, {"label": "B", "value": "a"}]), 400, "distinct labels and values"),
    (prop("trim", options=[{"label": "A", "value": "a"}]), 400, "cannot have options"),
    (prop("vin"), 409, "Property named 'vin' already exists."),
], ids=["no-group", "unknown-group", "hs-prefix", "upper-case", "field-type", "no-options", "same-value",
        "options-on-text", "exists"])
def test_property_create_is_refused_as_hubspot_refuses_it(hs, body, status, words):
    response = hs.post(PROPS, body)
    assert response.status_code == status and words in response.json()["message"]
    assert response.json()["category"] == ("VALIDATION_ERROR" if status == 400 else "OBJECT_ALREADY_EXISTS")
    names = {p["name"] for p in hs.get(PROPS).json()["results"]}
    assert "trim" not in names and "hs_trim" not in names  # nothing half-made


def test_a_created_enumeration_takes_values_and_a_patch_replaces_its_options(hs):
    body = prop("trim", type="enumeration", fieldType="select",
                options=[{"label": "Base", "value": "base", "hidden": False, "displayOrder": 0}])
    created = hs.post(PROPS, body)
    assert created.status_code == 201 and created.json()["options"][0]["value"] == "base"
    assert hs.create_car(vin="V1", trim="base")["properties"]["trim"] == "base"
    options = [{"label": "Base", "value": "base", "hidden": False}, {"label": "Sport", "value": "sport", "hidden": False}]
    patched = hs.patch(f"{PROPS}/trim", {"options": options, "label": "Trim level"})
    assert patched.status_code == 200
    assert [o["value"] for o in patched.json()["options"]] == ["base", "sport"] and patched.json()["label"] == "Trim level"
    assert hs.create_car(vin="V2", trim="sport")["properties"]["trim"] == "sport"
    # the options sent replace the list: one left out is gone
    hs.patch(f"{PROPS}/trim", {"options": options[1:]})
    refused = hs.post(CARS, {"properties": {"vin": "V3", "trim": "base"}})
    assert refused.status_code == 400 and "INVALID_OPTION" in refused.text


def test_a_patch_never_changes_uniqueness_nor_a_type_records_hold(hs):
    hs.create_car(vin="V1", price="10")
    unique = hs.patch(f"{PROPS}/vin", {"hasUniqueValue": False})
    assert unique.status_code == 400 and "hasUniqueValue of vin cannot be changed" in unique.json()["message"]
    retyped = hs.patch(f"{PROPS}/price", {"type": "string", "fieldType": "text"})
    assert retyped.status_code == 400 and "while records hold values" in retyped.json()["message"]
    assert hs.post(PROPS, prop("spare")).status_code == 201
    assert hs.patch(f"{PROPS}/spare", {"type": "number", "fieldType": "number"}).json()["type"] == "number"
    assert hs.patch(f"{PROPS}/nothing", {"label": "x"}).status_code == 404


def test_hubspot_defined_properties_change_only_their_options(hs):
    path = "/crm/v3/properties/contacts/lifecyclestage"
    stage = hs.get(path).json()
    assert hs.patch(path, {"label": "Stage"}).status_code == 400
    options = stage["options"] + [{"label": "Partner", "value": "partner", "hidden": False}]
    assert [o["value"] for o in hs.patch(path, {"options": options}).json()["options"]][-1] == "partner"
    assert hs.delete("/crm/v3/properties/contacts/email").status_code == 400


def test_an_archived_property_is_listed_as_archived_and_no_longer_written(hs):
    hs.post(PROPS, prop("trim"))
    assert hs.delete(f"{PROPS}/trim").status_code == 204
    assert "trim" not in {p["name"] for p in hs.get(PROPS).json()["results"]}
    archived = hs.get(PROPS, params={"archived": "true"}).json()["results"]
    assert [(p["name"], p["archived"]) for p in archived] == [("trim", True)]
    written = hs.post(CARS, {"properties": {"vin": "V1", "trim": "x"}})
    assert written.status_code == 400 and "PROPERTY_DOESNT_EXIST" in written.text
    assert hs.post(PROPS, prop("trim")).status_code == 409
    primary = hs.delete(f"{PROPS}/vin")
    assert primary.status_code == 400 and "primary display property" in primary.json()["message"]


def test_batch_create_makes_the_valid_properties_and_answers_207_for_the_others(hs):
    response = hs.post(f"{PROPS}/batch/create", {"inputs": [prop("trim"), prop("hs_bad"), prop("seats")]})
    assert response.status_code == 207
    body = response.json()
    assert sorted(p["name"] for p in body["results"]) == ["seats", "trim"] and body["numErrors"] == 1
    assert body["errors"][0]["context"]["propertyName"] == ["hs_bad"]
    read = hs.post(f"{PROPS}/batch/read", {"inputs": [{"name": "trim"}, {"name": "nope"}], "archived": False,
                                           "properties": [], "propertiesWithHistory": []})
    assert read.status_code == 207 and [p["name"] for p in read.json()["results"]] == ["trim"]
    assert hs.post(f"{PROPS}/batch/archive", {"inputs": [{"name": "trim"}, {"name": "nope"}]}).status_code == 204
    assert "trim" not in {p["name"] for p in hs.get(PROPS).json()["results"]}


def test_property_groups(hs):
    groups = f"{PROPS}/groups"
    assert {g["name"] for g in hs.get(groups).json()["results"]} >= {"car_information"}
    assert hs.post(groups, {"name": "pricing", "label": "Pricing", "displayOrder": 3}).status_code == 201
    assert hs.post(groups, {"name": "pricing", "label": "Again"}).status_code == 409
    assert hs.post(groups, {"label": "No name"}).status_code == 400
    assert hs.post(PROPS, prop("msrp", groupName="pricing")).status_code == 201
    assert hs.patch(f"{groups}/pricing", {"label": "Prices"}).json()["label"] == "Prices"
    assert hs.get(f"{groups}/pricing").json() == {"name": "pricing", "label": "Prices", "displayOrder": 3,
                                                   "archived": False}
    busy = hs.delete(f"{groups}/pricing")
    assert busy.status_code == 400 and "msrp" in busy.json()["message"]
    hs.delete(f"{PROPS}/msrp")
    assert hs.delete(f"{groups}/pricing").status_code == 204
    assert hs.get(f"{groups}/pricing").status_code == 404
    assert hs.delete("/crm/v3/properties/contacts/groups/contactinformation").status_code == 400


BOATS = {"name": "boats", "labels": {"singular": "Boat", "plural": "Boats"}, "primaryDisplayProperty": "hull_id",
         "requiredProperties": ["hull_id"], "searchableProperties": ["hull_id"], "associatedObjects": ["0-1"],
         "properties": [{"name": "hull_id", "label": "Hull ID", "type": "string", "fieldType": "text",
                         "hasUniqueValue": True},
                        {"name": "length", "label": "Length", "type": "number", "fieldType": "number"}]}


@pytest.mark.parametrize(("change", "words"), [
    ({"name": "my boats"}, "must be letters, digits and underscores"),
    ({"name": "contacts"}, "already exists"),
    ({"labels": {"singular": "Boat"}}, "singular and plural"),
    ({"primaryDisplayProperty": "name"}, "primaryDisplayProperty names properties the object does not have: name"),
    ({"requiredProperties": ["hull_id", "owner"]}, "requiredProperties names properties"),
    ({"associatedObjects": ["planets"]}, "unknown object type planets"),
    ({"properties": []}, "at least one property"),
], ids=["name", "taken", "labels", "primary", "required", "association", "no-properties"])
def test_schema_create_is_refused_as_hubspot_refuses_it(hs, change, words):
    response = hs.post("/crm/v3/schemas", {**BOATS, **change})
    assert response.status_code in (400, 409) and words in response.json()["message"]
    assert [s["name"] for s in hs.get("/crm/v3/schemas").json()["results"]] == ["cars"]


def test_a_created_schema_evolves_by_patch_and_association_definitions(hs, sandbox):
    schema = hs.post("/crm/v3/schemas", BOATS).json()
    type_id = schema["objectTypeId"]
    assert schema["fullyQualifiedName"] == f"p{sandbox.portal_id}_boats" and schema["requiredProperties"] == ["hull_id"]
    groups = hs.get(f"/crm/v3/properties/{type_id}/groups").json()["results"]
    assert "boats_information" in {g["name"] for g in groups}
    assert hs.post(f"/crm/v3/properties/{type_id}", prop("colour", groupName="boats_information")).status_code == 201
    patched = hs.patch(f"/crm/v3/schemas/{type_id}", {"searchableProperties": ["hull_id", "colour"],
                                                       "secondaryDisplayProperties": ["colour"]})
    assert patched.status_code == 200 and patched.json()["searchableProperties"] == ["hull_id", "colour"]
    assert hs.get(f"/crm/v3/schemas/{type_id}").json()["secondaryDisplayProperties"] == ["colour"]
    assert hs.patch(f"/crm/v3/schemas/{type_id}", {"requiredProperties": ["mast"]}).status_code == 400
    assert hs.patch("/crm/v3/schemas/contacts", {"searchableProperties": ["email"]}).status_code == 400
    defined = hs.post(f"/crm/v3/schemas/{type_id}/associations",
                      {"fromObjectTypeId": type_id, "toObjectTypeId": "2-3465404", "name": "boat_car"})
    assert defined.status_code == 201 and defined.json()["toObjectTypeId"] == "2-3465404"
    assert len(hs.get(f"/crm/v4/associations/{type_id}/2-3465404/labels").json()["results"]) == 1


def test_association_labels_are_created_renamed_used_and_deleted(hs):
    path = "/crm/v4/associations/contacts/companies/labels"
    created = hs.post(path, {"label": "Former employer", "name": "former_employer"})
    assert created.status_code == 200
    forward, backward = created.json()["results"]
    assert forward["label"] == backward["label"] == "Former employer" and forward["category"] == "USER_DEFINED"
    back = hs.get("/crm/v4/associations/companies/contacts/labels").json()["results"]
    assert backward["typeId"] in {r["typeId"] for r in back}
    assert hs.post(path, {"label": "former employer", "name": "other"}).status_code == 409
    assert hs.put(path, json={"associationTypeId": forward["typeId"], "label": "Ex-employer"}).status_code == 204
    assert "Ex-employer" in {r["label"] for r in hs.get(path).json()["results"]}
    contact = hs.get(CONTACTS, params={"limit": 1}).json()["results"][0]["id"]
    company = hs.post("/crm/v3/objects/companies", {"properties": {"name": "Acme"}}).json()["id"]
    linked = hs.post("/crm/v4/associations/contacts/companies/batch/create", {"inputs": [
        {"from": {"id": contact}, "to": {"id": company},
         "types": [{"associationCategory": "USER_DEFINED", "associationTypeId": forward["typeId"]}]}]})
    assert linked.status_code == 201
    busy = hs.delete(f"{path}/{forward['typeId']}")
    assert busy.status_code == 400 and "remove those associations first" in busy.json()["message"]
    hs.post("/crm/v4/associations/contacts/companies/batch/archive",
            {"inputs": [{"from": {"id": contact}, "to": [{"id": company}]}]})
    assert hs.delete(f"{path}/{forward['typeId']}").status_code == 204
    assert "Ex-employer" not in {r["label"] for r in hs.get(path).json()["results"]}
    assert hs.delete(f"{path}/1").status_code == 400  # Primary: HubSpot's own


def test_definition_writes_need_the_schemas_write_scope_and_the_token_says_its_scopes():
    scopes = {"crm.objects.custom.read", "crm.schemas.custom.read", "crm.objects.custom.write"}
    with Sandbox(extra_tokens={"limited": scopes}) as portal:
        limited = Client(portal, token="limited")
        refused = limited.post(PROPS, prop("trim"))
        assert refused.status_code == 403 and refused.json()["category"] == "MISSING_SCOPES"
        assert refused.json()["errors"][0]["context"]["requiredGranularScopes"] == ["crm.schemas.custom.write"]
        assert limited.post("/crm/v3/schemas", BOATS).status_code == 403
        info = limited.post("/oauth/v2/private-apps/get/access-token-info", {"tokenKey": "limited"}).json()
        assert sorted(info["scopes"]) == sorted(scopes) and info["hubId"] == portal.portal_id
        full = Client(portal).post("/oauth/v2/private-apps/get/access-token-info", {"tokenKey": "sandbox"}).json()
        assert "crm.schemas.custom.write" in full["scopes"] and "crm.objects.deals.write" in full["scopes"]
        limited.close()


def test_standard_objects_have_their_core_properties_and_associations(hs):
    deals = {p["name"]: p for p in hs.get("/crm/v3/properties/deals").json()["results"]}
    assert {"dealname", "amount", "dealstage", "pipeline", "closedate", "hs_lastmodifieddate"} <= set(deals)
    assert "closedwon" in {o["value"] for o in deals["dealstage"]["options"]}
    companies = {p["name"] for p in hs.get("/crm/v3/properties/companies").json()["results"]}
    assert {"name", "domain", "industry", "numberofemployees", "annualrevenue", "hs_lastmodifieddate"} <= companies
    contacts = {p["name"] for p in hs.get("/crm/v3/properties/contacts").json()["results"]}
    assert {"jobtitle", "lifecyclestage", "lastmodifieddate"} <= contacts and "hs_lastmodifieddate" not in contacts
    deal = hs.post("/crm/v3/objects/deals", {"properties": {"dealname": "Fleet", "amount": "1200.50",
                                                            "dealstage": "qualifiedtobuy"}})
    assert deal.status_code == 201 and deal.json()["properties"]["amount"] == "1200.5"
    labels = hs.get("/crm/v4/associations/deals/companies/labels").json()["results"]
    assert {(r["typeId"], r["label"]) for r in labels} == {(341, None), (5, "Primary")}


def test_definitions_written_survive_a_restart(tmp_path):
    db = tmp_path / "portal.sqlite"
    with Sandbox(db_path=db) as portal:
        client = Client(portal)
        client.post(f"{PROPS}/groups", {"name": "pricing", "label": "Pricing"})
        client.post(PROPS, prop("msrp", groupName="pricing", type="number", fieldType="number"))
        client.post(PROPS, prop("trim"))
        client.delete(f"{PROPS}/trim")
        client.post("/crm/v4/associations/contacts/companies/labels", {"label": "Advisor", "name": "advisor"})
        client.post("/crm/v3/schemas/2-3465404/associations",
                    {"fromObjectTypeId": "2-3465404", "toObjectTypeId": "0-2", "name": "car_dealer"})
        client.close()
    with Sandbox(db_path=db) as portal:
        client = Client(portal)
        assert client.get(f"{PROPS}/msrp").json()["groupName"] == "pricing"
        assert [p["name"] for p in client.get(PROPS, params={"archived": "true"}).json()["results"]] == ["trim"]
        assert "Advisor" in {r["label"] for r in client.get("/crm/v4/associations/contacts/companies/labels")
                             .json()["results"]}
        defined = client.get("/crm/v3/schemas/2-3465404").json()["associations"]
        assert "car_dealer" in {a.get("name") for a in defined}  # an association definition is kept too
        client.close()


def test_definitions_and_batch_answers_are_stamped_on_the_portals_clock():
    """A portal whose clock runs a day behind stamps a new property, and a batch answer, on its
    own clock, as it stamps records: one clock for everything it writes."""
    from syncer.hubspot.models import epoch_ms

    with Sandbox(clock_offset=-86_400) as portal:
        hs = Client(portal)
        try:
            created = hs.post(PROPS, prop("trim")).json()
            answer = hs.post(f"{CARS}/batch/create", {"inputs": [{"properties": {"vin": "V1"}}]}).json()
        finally:
            hs.close()
        now = portal.now_ms()
    for stamp in (created["createdAt"], created["updatedAt"], answer["startedAt"], answer["completedAt"]):
        assert now - 60_000 < epoch_ms(stamp) <= now, stamp
