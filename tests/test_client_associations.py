"""Batch associations through the client: ceil(N/100) calls, one outcome per pair tied by ids, labels,
paging, retries; over HTTP against the sandbox portal, whose request log shows what was sent."""

from __future__ import annotations

import pytest

from syncer.hubspot import Association, AssociationType, HubSpotClient, Retrying, batches
from syncer.hubspot.errors import IncompleteResponseError, MissingScopesError, NotFoundError, ValidationError
from syncer.sandbox import Sandbox, behaviour
from test_sandbox_associations import check_request

OWNER = AssociationType(77, "USER_DEFINED", "Car owner")
PLAIN = AssociationType(75, "USER_DEFINED", None)
V4_CARS_CONTACTS = "/crm/v4/associations/2-3465404/0-1"


def make_cars(client, count: int) -> list[str]:
    outcomes = client.batch_upsert("cars", [{"id": f"VIN{n:05d}", "properties": {}} for n in range(count)],
                                   id_property="vin")
    assert all(o.ok for o in outcomes)
    return [o.record.id for o in outcomes]


def seeded_contacts(client) -> list[str]:
    return [record.id for record in client.list_records("contacts")]


def sent(sandbox, endpoint: str) -> list:
    """The bodies of the v4 batch calls the portal received, each checked against the spec."""
    bodies = [e.body for e in sandbox.request_log if e.path.endswith(f"/batch/{endpoint}")]
    for body in bodies:
        check_request(endpoint, body)
    return bodies


def test_linking_and_reading_many_records_costs_one_call_per_100(client, sandbox):
    cars, contacts = make_cars(client, 250), seeded_contacts(client)
    pairs = [(car, contacts[n % len(contacts)]) for n, car in enumerate(cars)]
    sandbox.clear_log()
    outcomes = client.batch_associate("cars", "contacts", pairs, "car_owner")
    assert [o.index for o in outcomes] == list(range(250)) and all(o.ok for o in outcomes)
    bodies = sent(sandbox, "create")
    assert sorted(len(b["inputs"]) for b in bodies) == [50, 100, 100]
    assert bodies[-1]["inputs"][-1]["types"] == [{"associationCategory": "USER_DEFINED", "associationTypeId": 77}]
    assert len(sandbox.request_log) == 1 + 3  # the labels, to resolve "car_owner", then the batches

    sandbox.clear_log()
    linked = client.batch_read_associations("cars", "contacts", [*cars, "404", cars[0]])
    assert sorted(len(b["inputs"]) for b in sent(sandbox, "read")) == [51, 100, 100]
    assert list(linked) == [*cars, "404"]
    assert linked["404"] == []
    assert all(linked[car] == [Association(to_id, (OWNER,))] for car, to_id in pairs)
    assert linked[cars[0]][0].labels == ["Car owner"] and linked[cars[0]][0].type_ids == [77]


def test_outcomes_are_tied_to_pairs_by_ids_when_results_come_back_shuffled(client, sandbox):
    cars, contacts = make_cars(client, 6), seeded_contacts(client)
    pairs = [(cars[0], contacts[0]), (cars[1], "1"), (cars[2], contacts[2]), ("2", contacts[3]),
             (cars[4], contacts[4]), (cars[0], contacts[0]), (cars[5], contacts[5])]
    outcomes = client.batch_associate("cars", "contacts", pairs, 75)
    assert [o.ok for o in outcomes] == [True, False, True, False, True, True, True]
    assert isinstance(outcomes[1].error, NotFoundError) and "CONTACT 1" in outcomes[1].error.message
    assert isinstance(outcomes[3].error, NotFoundError) and "CARS 2" in outcomes[3].error.message
    linked = client.batch_read_associations("contacts", "cars", contacts[:6])
    assert {c: [a.to_id for a in linked[c]] for c in contacts[:6]} == {
        contacts[0]: [cars[0]], contacts[1]: [], contacts[2]: [cars[2]], contacts[3]: [],
        contacts[4]: [cars[4]], contacts[5]: [cars[5]]}
    assert linked[contacts[0]][0].types == (AssociationType(76, "USER_DEFINED", None),)


def test_an_unknown_label_or_type_id_is_refused_before_anything_is_sent(client, sandbox):
    car = make_cars(client, 1)[0]
    sandbox.clear_log()
    with pytest.raises(NotFoundError) as label:
        client.batch_associate("cars", "contacts", [(car, "1")], "co-owner")
    assert label.value.message == "no association label 'co-owner' from cars to contacts; labels defined: 'Car owner'"
    with pytest.raises(NotFoundError) as type_id:
        client.batch_associate("cars", "contacts", [(car, "1")], 279)
    assert type_id.value.message == (
        "no association type 279 from cars to contacts; types defined: 75 (unlabeled), 77 (Car owner)")
    assert [e.path for e in sandbox.request_log] == [f"{V4_CARS_CONTACTS}/labels"]  # asked once, then kept
    assert client.batch_associate("cars", "contacts", [], "nonsense") == []


def test_disassociating_removes_one_label_or_every_link_of_each_pair(client, sandbox):
    cars, contacts = make_cars(client, 2), seeded_contacts(client)
    pairs = [(cars[0], contacts[0]), (cars[1], contacts[1])]
    for kind in ("Car owner", 75):
        assert all(o.ok for o in client.batch_associate("cars", "contacts", pairs, kind))
    assert client.batch_read_associations("cars", "contacts", cars)[cars[0]][0].type_ids == [75, 77]
    outcomes = client.batch_disassociate("cars", "contacts", pairs, "car_owner")
    assert [o.ok for o in outcomes] == [True, True]
    assert sent(sandbox, "labels/archive")[0]["inputs"][0]["types"] == [
        {"associationCategory": "USER_DEFINED", "associationTypeId": 77}]
    assert client.batch_read_associations("cars", "contacts", cars) == {
        car: [Association(contact, (PLAIN,))] for car, contact in pairs}
    outcomes = client.batch_disassociate("cars", "contacts", [*pairs, ("3", "4")])
    assert [o.index for o in outcomes] == [0, 1, 2] and all(o.ok for o in outcomes)
    assert sent(sandbox, "archive")[0]["inputs"][2] == {"from": {"id": "3"}, "to": [{"id": "4"}]}
    assert client.batch_read_associations("contacts", "cars", contacts[:2]) == {contacts[0]: [], contacts[1]: []}


def test_reading_follows_the_paging_of_a_record_with_many_links(client, sandbox):
    many = behaviour.V4_ASSOCIATIONS_PAGE_SIZE + 1
    cars, owner = make_cars(client, many), seeded_contacts(client)[0]
    assert all(o.ok for o in client.batch_associate("contacts", "cars", [(owner, car) for car in cars], 78))
    sandbox.clear_log()
    linked = client.batch_read_associations("contacts", "cars", [owner])
    assert sorted(a.to_id for a in linked[owner]) == sorted(cars)
    assert [b["inputs"][0].keys() for b in sent(sandbox, "read")] == [{"id"}, {"id", "after"}]


def test_faults_are_retried_until_every_pair_lands(sandbox):
    events = []
    with HubSpotClient(sandbox.base_url, sandbox.token, backoff_base=0.02, max_attempts=8,
                       on_event=events.append) as client:
        cars, contacts = make_cars(client, 300), seeded_contacts(client)
        client.association_labels("cars", "contacts")
        pairs = [(car, contacts[n % 20]) for n, car in enumerate(cars)]
        sandbox.set_faults("429:0.2,503:0.2,drop:0.1", seed=5)
        outcomes = client.batch_associate("cars", "contacts", pairs, 77)
        linked = client.batch_read_associations("cars", "contacts", cars)
        removed = client.batch_disassociate("cars", "contacts", pairs[:150])
        sandbox.set_faults("")
        after = client.batch_read_associations("cars", "contacts", cars)
    assert all(o.ok for o in outcomes + removed), [str(o.error) for o in outcomes + removed if not o.ok][:2]
    assert {car: [a.to_id for a in found] for car, found in linked.items()} == {car: [c] for car, c in pairs}
    assert sum(1 for found in after.values() if found) == 150
    assert any(isinstance(e, Retrying) for e in events), "the fault never struck: the test proves nothing"


def test_a_missing_scope_ends_the_call_and_the_token_stays_out_of_the_message():
    secret = "pat-na1-associations-secret-0001"
    with Sandbox(token=secret, extra_tokens={"pat-na1-reader-secret": {"crm.objects.custom.read"}}) as portal:
        with HubSpotClient(portal.base_url, secret) as owner:
            car = make_cars(owner, 1)[0]
        with HubSpotClient(portal.base_url, "pat-na1-reader-secret") as reader:
            assert reader.batch_read_associations("cars", "contacts", [car]) == {car: []}
            with pytest.raises(MissingScopesError) as caught:
                reader.batch_associate("cars", "contacts", [(car, "1")], 77)
    assert "crm.objects.custom.write" in str(caught.value)
    assert "secret" not in str(caught.value) and "secret" not in repr(reader)


def test_empty_inputs_send_nothing(client, sandbox):
    client.object_type("cars")
    sandbox.clear_log()
    assert client.batch_read_associations("cars", "contacts", []) == {}
    assert client.batch_disassociate("cars", "contacts", []) == []
    assert sandbox.request_log == []


# --- tying answers to pairs, without a portal (batches.association_outcomes) ------------------------

def pairs_sent(*pairs: tuple[str, str]) -> dict[int, dict]:
    return {i: batches.association_input("associate", f, t, [{"associationCategory": "USER_DEFINED",
                                                              "associationTypeId": 75}])
            for i, (f, t) in enumerate(pairs)}


def test_an_error_naming_several_ids_is_tied_to_every_pair_it_names():
    inputs = pairs_sent(("1", "10"), ("2", "20"), ("3", "30"), ("4", "40"))
    body = {"results": [{"fromObjectId": 3, "toObjectId": 30, "fromObjectTypeId": "2-1", "toObjectTypeId": "0-1",
                         "labels": []}],
            "errors": [{"category": "VALIDATION_ERROR", "message": "bad", "context": {"fromObjectId": ["1", "2"]}},
                       {"category": "OBJECT_NOT_FOUND", "message": "gone", "context": {"toObjectId": ["99"]}}]}
    outcomes = batches.association_outcomes("associate", inputs, body, "POST /x")
    assert [type(o.error) for o in outcomes] == [ValidationError, ValidationError, type(None),
                                                 IncompleteResponseError]
    assert "neither results nor errors; the response also held an error tied to no pair: gone" in str(
        outcomes[3].error)

