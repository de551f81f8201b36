"""Each client call against the sandbox portal over HTTP: what it returns and what it costs."""

from __future__ import annotations

import math

import pytest
import requests

from syncer.hubspot import ObjectType
from syncer.hubspot.errors import NotFoundError, ValidationError

CARS = "2-3465404"


def cars(count: int, start: int = 0, **extra) -> list[dict]:
    """Upsert inputs for `count` cars keyed by VIN."""
    return [{"id": f"VIN{n:06d}", "properties": {"make": "Volvo", "model": f"V{n % 90}", "year": "2020",
                                                   "price": str(10_000 + n), **extra}}
            for n in range(start, start + count)]


def upsert_cars(client, count: int, start: int = 0) -> list:
    outcomes = client.batch_upsert("cars", cars(count, start), id_property="vin")
    assert all(o.ok for o in outcomes), [str(o.error) for o in outcomes if not o.ok][:3]
    return outcomes


@pytest.mark.parametrize("wanted", ["cars", "Car", "CARS", "{fqn}", CARS])
def test_object_type_resolves_by_name_label_fqn_or_id(client, sandbox, wanted):
    found = client.object_type(wanted.format(fqn=f"p{sandbox.portal_id}_cars"))
    assert isinstance(found, ObjectType)
    assert (found.object_type_id, found.name, found.fully_qualified_name) == (
        CARS, "cars", f"p{sandbox.portal_id}_cars")


def test_standard_object_types_resolve(client):
    assert client.object_type("contacts").object_type_id == "0-1"
    assert client.object_type("0-2").name == "companies"


def test_unknown_object_type_suggests_the_near_name(client):
    with pytest.raises(NotFoundError, match='no object type "crs"; did you mean "cars"'):
        client.object_type("crs")


def test_properties_are_hubspot_property_json(client):
    by_name = {p["name"]: p for p in client.properties("cars")}
    assert by_name["vin"]["hasUniqueValue"] is True
    assert by_name["color"]["type"] == "enumeration" and by_name["color"]["options"]
    assert {"make", "model", "year", "price", "listing_date", "features", "available"} <= set(by_name)


def test_upsert_creates_then_updates_matching_outcomes_to_inputs(client):
    client.object_type("cars")
    before = client.calls
    created = upsert_cars(client, 250)
    assert client.calls - before == 3
    assert [o.index for o in created] == list(range(250))
    assert all(o.record.new is True and o.record.properties["vin"] == f"VIN{o.index:06d}" for o in created)
    updated = client.batch_upsert("cars", cars(250, price="1"), id_property="vin")
    assert all(o.ok and o.record.new is False for o in updated)
    assert [o.record.id for o in updated] == [o.record.id for o in created]


def test_batch_read_by_id_property_costs_one_call_per_hundred_keys(client):
    upsert_cars(client, 250)
    keys = [f"VIN{n:06d}" for n in range(250)] + ["NO-SUCH-VIN"]
    before = client.calls
    found = client.batch_read("cars", keys, id_property="vin", properties=["price"])
    assert client.calls - before == math.ceil(len(keys) / 100)
    assert set(found) == set(keys[:250])
    assert found["VIN000007"].properties["price"] == "10007"


def test_batch_read_keeps_unique_values_that_differ_only_in_case_apart(client):
    client.batch_upsert("cars", [{"id": vin, "properties": {"price": price}} for vin, price in
                                 (("ab-1", "1"), ("AB-1", "2"))], id_property="vin")
    found = client.batch_read("cars", ["ab-1", "AB-1", "Ab-1"], id_property="vin", properties=["price"])
    assert {key: r.properties["price"] for key, r in found.items()} == {"ab-1": "1", "AB-1": "2"}


def test_batch_read_by_email_matches_hubspots_lower_cased_answer(client):
    client.batch_upsert("contacts", [{"id": "ann@example.com", "properties": {}}], id_property="email")
    found = client.batch_read("contacts", ["Ann@Example.COM"], id_property="email")
    assert found["Ann@Example.COM"].properties["email"] == "ann@example.com"


def test_batch_read_by_record_id_and_archived(client):
    ids = [o.record.id for o in upsert_cars(client, 5)]
    assert set(client.batch_read("cars", ids)) == set(ids)
    assert all(o.ok for o in client.batch_archive("cars", ids[:2]))
    assert set(client.batch_read("cars", ids)) == set(ids[2:])
    archived = client.batch_read("cars", ids, archived=True)
    assert set(archived) == set(ids[:2]) and all(r.archived for r in archived.values())


def test_update_by_id_and_by_id_property(client):
    ids = [o.record.id for o in upsert_cars(client, 3)]
    by_id = client.batch_update("cars", [{"id": i, "properties": {"color": "red"}} for i in ids])
    assert [o.record.id for o in by_id] == ids
    by_vin = client.batch_update("cars", [{"id": "VIN000001", "properties": {"price": "5"}}], id_property="vin")
    assert by_vin[0].record.id == ids[1]
    after = client.batch_read("cars", ["VIN000001"], id_property="vin", properties=["price", "color"])
    assert (after["VIN000001"].properties["price"], after["VIN000001"].properties["color"]) == ("5", "red")


def test_mixed_batch_gives_each_input_its_own_outcome(client):
    inputs = cars(10)
    inputs[3]["properties"]["year"] = "not a year"
    inputs[7]["properties"]["colour"] = "red"  # no such property
    outcomes = client.batch_upsert("cars", inputs, id_property="vin")
    assert [o.index for o in outcomes if not o.ok] == [3, 7]
    assert all(isinstance(outcomes[i].error, ValidationError) for i in (3, 7))
    assert "colour" in outcomes[7].error.message
    assert all(o.record.properties["vin"] == inputs[o.index]["id"] for o in outcomes if o.ok)


def test_create_and_unknown_update_ids(client):
    created = client.batch_create("cars", [{"properties": {"vin": f"NEW{n}", "price": str(n)}} for n in range(5)])
    assert [o.record.properties["vin"] for o in created] == [f"NEW{n}" for n in range(5)]
    updated = client.batch_update("cars", [{"id": created[0].record.id, "properties": {"price": "9"}},
                                           {"id": "999999999999", "properties": {"price": "9"}}])
    assert updated[0].ok and isinstance(updated[1].error, NotFoundError)


def test_list_records_pages_through_everything(client, sandbox):
    upsert_cars(client, 230)
    client.object_type("cars")
    before = client.calls
    listed = list(client.list_records("cars", properties=["vin"]))
    assert len({r.id for r in listed}) == len(listed)
    assert {f"VIN{n:06d}" for n in range(230)} <= {r.properties["vin"] for r in listed}
    assert client.calls - before in (math.ceil(len(listed) / 100), len(listed) // 100 + 1)


def test_search_filters_sorts_and_pages(client):
    upsert_cars(client, 450)
    found = list(client.search("cars", filters=[{"propertyName": "price", "operator": "GTE", "value": "10100"}],
                               properties=["vin", "price"]))
    assert len(found) == 350 and all(int(r.properties["price"]) >= 10100 for r in found)
    ids = [int(r.id) for r in found]
    assert ids == sorted(ids)
    newest_first = list(client.search("cars", filters=[{"propertyName": "price", "operator": "LT",
                                                         "value": "10005"}], sorts=["-price"],
                                      properties=["price"]))
    assert [r.properties["price"] for r in newest_first] == ["10004", "10003", "10002", "10001", "10000"]


def test_association_labels_and_links(client, sandbox):
    labels = client.association_labels("cars", "contacts")
    assert "Car owner" in {spec["label"] for spec in labels}
    car = upsert_cars(client, 1)[0].record
    contact = client.batch_upsert("contacts", [{"id": "ann@example.com", "properties": {"firstname": "Ann"}}],
                                  id_property="email")[0].record
    client.associate("cars", car.id, "contacts", contact.id, "car_owner")
    assert linked_contacts(sandbox, car.id) == [contact.id]
    client.disassociate("cars", car.id, "contacts", contact.id, "car_owner")
    assert linked_contacts(sandbox, car.id) == []


def linked_contacts(sandbox, car_id: str) -> list[str]:
    """Read the links straight from the portal, so the check does not depend on the client."""
    response = requests.get(f"{sandbox.base_url}/crm/v3/objects/{CARS}/{car_id}",
                            params={"associations": "contacts"},
                            headers={"Authorization": f"Bearer {sandbox.token}"}, timeout=10)
    response.raise_for_status()
    results = (response.json().get("associations") or {}).get("contacts", {}).get("results", [])
    return sorted({item["id"] for item in results})
