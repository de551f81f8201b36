"""The sandbox driven by HubSpot's official Python client (hubspot-api-client, a test dependency):
schemas, properties, objects, batch, search and associations, and their error answers. The client
builds its requests from HubSpot's own API definitions and parses every answer into its models
(checking required fields and types), so a request the sandbox misreads, or an answer of a shape
HubSpot's client cannot take, fails here.
"""

from __future__ import annotations

import json

import pytest
from hubspot import HubSpot  # hubspot-api-client, the test dependency
from hubspot.crm import objects, properties
from hubspot.crm.associations import v4
from hubspot.crm.associations.v4 import schema as v4_schema
from hubspot.crm.objects import (BatchInputSimplePublicObjectBatchInput,
                                 BatchInputSimplePublicObjectBatchInputForCreate,
                                 BatchInputSimplePublicObjectBatchInputUpsert, BatchInputSimplePublicObjectId,
                                 BatchReadInputSimplePublicObjectId, Filter, FilterGroup, PublicObjectSearchRequest,
                                 SimplePublicObjectBatchInput, SimplePublicObjectBatchInputForCreate,
                                 SimplePublicObjectBatchInputUpsert, SimplePublicObjectId, SimplePublicObjectInput,
                                 SimplePublicObjectInputForCreate)

from syncer.sandbox import INSTANT_INDEX, Sandbox

CARS = "2-3465404"


@pytest.fixture(params=[INSTANT_INDEX, INSTANT_INDEX.but(batch_errors="whole", no_associations="aggregated",
                                                         unique_case="insensitive", archived_unique="kept",
                                                         rate_headers="never", competing_share=0.5)],
                ids=["defaults", "other-variants"])
def portal(request):
    with Sandbox(variants=request.param) as sandbox:
        yield sandbox, HubSpot(access_token=sandbox.token, host=sandbox.base_url)


def error_of(raised) -> dict:
    """HubSpot's error body from an ApiException, checked for the fields every error carries."""
    body = json.loads(raised.value.body)
    assert body["status"] == "error" and body["message"] and body["correlationId"]
    return body


def car(vin: str, **values) -> SimplePublicObjectInputForCreate:
    return SimplePublicObjectInputForCreate(properties={"vin": vin, **values}, associations=[])


# --- schemas and properties --------------------------------------------------------------------------------


def test_schemas_and_properties(portal):
    sandbox, client = portal
    schemas = client.crm.schemas.core_api.get_all().results
    [cars] = [s for s in schemas if s.object_type_id == CARS]
    assert cars.fully_qualified_name == f"p{sandbox.portal_id}_cars" and cars.labels.plural
    assert client.crm.schemas.core_api.get_by_id(object_type=cars.fully_qualified_name).object_type_id == CARS
    found = {p.name: p for p in client.crm.properties.core_api.get_all(object_type=CARS).results}
    assert found["vin"].has_unique_value and found["color"].type == "enumeration" and found["color"].options
    assert client.crm.properties.core_api.get_by_name(object_type=CARS, property_name="price").type == "number"
    made = client.crm.properties.core_api.create(object_type=CARS, property_create=properties.PropertyCreate(
        name="trim", label="Trim", type="string", field_type="text", group_name="car_information"))
    assert made.name == "trim"
    with pytest.raises(properties.ApiException) as raised:
        client.crm.properties.core_api.create(object_type=CARS, property_create=properties.PropertyCreate(
            name="trim", label="Trim", type="string", field_type="text", group_name="car_information"))
    assert raised.value.status == 409 and error_of(raised)["category"] == "OBJECT_ALREADY_EXISTS"
    with pytest.raises(properties.ApiException) as raised:
        client.crm.properties.core_api.get_by_name(object_type=CARS, property_name="nope")
    assert raised.value.status == 404 and error_of(raised)["category"] == "OBJECT_NOT_FOUND"


# --- objects ---------------------------------------------------------------------------------------------


def test_objects_one_at_a_time(portal):
    sandbox, client = portal
    api = client.crm.objects.basic_api
    made = api.create(CARS, simple_public_object_input_for_create=car("CONF1", price="52000.0", color="red"))
    assert made.properties["price"] == "52000" and made.created_at and made.updated_at
    got = api.get_by_id(CARS, "CONF1", id_property="vin", properties=["price", "color", "make"])
    assert got.id == made.id and got.properties["make"] is None
    changed = api.update(CARS, made.id, simple_public_object_input=SimplePublicObjectInput(properties={"price": "1"}))
    assert changed.properties["price"] == "1" and changed.updated_at > made.updated_at
    for vin in ("CONF2", "CONF3"):
        api.create(CARS, simple_public_object_input_for_create=car(vin))
    page = api.get_page(CARS, limit=2)
    assert len(page.results) == 2 and page.paging.next.after
    assert len(api.get_page(CARS, limit=2, after=page.paging.next.after).results) == 1
    api.archive(CARS, made.id)
    assert api.get_by_id(CARS, made.id, archived=True).archived is True
    with pytest.raises(objects.ApiException) as raised:
        api.get_by_id(CARS, made.id)
    assert raised.value.status == 404 and error_of(raised)["category"] == "OBJECT_NOT_FOUND"
    with pytest.raises(objects.ApiException) as raised:
        api.create(CARS, simple_public_object_input_for_create=car("CONF4", price="cheap"))
    body = error_of(raised)
    assert raised.value.status == 400 and body["category"] == "VALIDATION_ERROR"
    assert body["errors"][0]["context"]["propertyName"] == ["price"]
    if sandbox.variants.unique_case == "insensitive":
        with pytest.raises(objects.ApiException) as raised:
            api.create(CARS, simple_public_object_input_for_create=car("conf2"))
        assert raised.value.status == 409 and error_of(raised)["category"] == "CONFLICT"
    else:
        assert api.create(CARS, simple_public_object_input_for_create=car("conf2")).properties["vin"] == "conf2"


def test_wrong_token_and_scopes(portal):
    sandbox, _ = portal
    stranger = HubSpot(access_token="not-the-token", host=sandbox.base_url)
    with pytest.raises(objects.ApiException) as raised:
        stranger.crm.objects.basic_api.get_page(CARS)
    assert raised.value.status == 401 and error_of(raised)["category"] == "INVALID_AUTHENTICATION"


# --- batch -----------------------------------------------------------------------------------------------


def test_batch_create_read_update_upsert_archive(portal):
    sandbox, client = portal
    api = client.crm.objects.batch_api
    created = api.create(CARS, batch_input_simple_public_object_batch_input_for_create=(
        BatchInputSimplePublicObjectBatchInputForCreate(inputs=[
            SimplePublicObjectBatchInputForCreate(properties={"vin": f"B{i}", "price": "10"}, associations=[],
                                                  object_write_trace_id=str(i)) for i in range(3)])))
    assert created.status == "COMPLETE" and {r.properties["vin"] for r in created.results} == {"B0", "B1", "B2"}
    ids = {r.properties["vin"]: r.id for r in created.results}
    read = api.read(CARS, batch_read_input_simple_public_object_id=BatchReadInputSimplePublicObjectId(
        inputs=[SimplePublicObjectId(id="B0"), SimplePublicObjectId(id="MISSING")], id_property="vin",
        properties=["price"], properties_with_history=[]))
    assert [r.id for r in read.results] == [ids["B0"]] and read.num_errors == 1
    assert read.errors[0].category == "OBJECT_NOT_FOUND" and read.errors[0].context["ids"] == ["MISSING"]
    updated = api.update(CARS, batch_input_simple_public_object_batch_input=BatchInputSimplePublicObjectBatchInput(
        inputs=[SimplePublicObjectBatchInput(id=ids["B1"], properties={"price": "20"}, object_write_trace_id="0")]))
    assert updated.results[0].properties["price"] == "20"
    upserted = api.upsert(CARS, batch_input_simple_public_object_batch_input_upsert=(
        BatchInputSimplePublicObjectBatchInputUpsert(inputs=[
            SimplePublicObjectBatchInputUpsert(id=vin, id_property="vin", properties={"price": "30"},
                                               object_write_trace_id=str(i))
            for i, vin in enumerate(["B2", "B9"])])))
    assert {r.properties["vin"]: r.new for r in upserted.results} == {"B2": False, "B9": True}
    assert api.archive(CARS, batch_input_simple_public_object_id=BatchInputSimplePublicObjectId(
        inputs=[SimplePublicObjectId(id=ids["B0"])])) is None
    bad = BatchInputSimplePublicObjectBatchInputUpsert(inputs=[
        SimplePublicObjectBatchInputUpsert(id="B1", id_property="vin", properties={"price": "40"},
                                           object_write_trace_id="0"),
        SimplePublicObjectBatchInputUpsert(id="B2", id_property="vin", properties={"price": "forty"},
                                           object_write_trace_id="1")])
    if sandbox.variants.batch_errors == "whole":
        with pytest.raises(objects.ApiException) as raised:
            api.upsert(CARS, batch_input_simple_public_object_batch_input_upsert=bad)
        assert raised.value.status == 400 and error_of(raised)["category"] == "VALIDATION_ERROR"
    else:
        answer = api.upsert(CARS, batch_input_simple_public_object_batch_input_upsert=bad)
        assert answer.num_errors == 1 and answer.errors[0].context["objectWriteTraceId"] == ["1"]
    with pytest.raises(objects.ApiException) as raised:
        api.update(CARS, batch_input_simple_public_object_batch_input=BatchInputSimplePublicObjectBatchInput(inputs=[
            SimplePublicObjectBatchInput(id=ids["B1"], properties={}), SimplePublicObjectBatchInput(id=ids["B1"],
                                                                                                   properties={})]))
    assert raised.value.status == 400 and "Duplicate IDs" in error_of(raised)["message"]


# --- search ----------------------------------------------------------------------------------------------


def test_search_filters_sorts_and_pages(portal):
    _, client = portal
    for vin, year in [("S1", "2019"), ("S2", "2021"), ("S3", "2023")]:
        client.crm.objects.basic_api.create(CARS, simple_public_object_input_for_create=car(vin, year=year))
    request = PublicObjectSearchRequest(
        filter_groups=[FilterGroup(filters=[Filter(property_name="year", operator="GTE", value="2020")])],
        sorts=[{"propertyName": "year", "direction": "DESCENDING"}], properties=["vin", "year"], limit=1, after="0")
    first = client.crm.objects.search_api.do_search(CARS, public_object_search_request=request)
    assert first.total == 2 and first.results[0].properties["vin"] == "S3" and first.paging.next.after == "1"
    request.after = first.paging.next.after
    second = client.crm.objects.search_api.do_search(CARS, public_object_search_request=request)
    assert second.results[0].properties["vin"] == "S2" and second.paging is None
    request.limit = 201
    with pytest.raises(objects.ApiException) as raised:
        client.crm.objects.search_api.do_search(CARS, public_object_search_request=request)
    assert raised.value.status == 400 and error_of(raised)["category"] == "VALIDATION_ERROR"


# --- associations ----------------------------------------------------------------------------------------


def test_association_labels_and_batches(portal):
    sandbox, client = portal
    linked = client.crm.objects.basic_api.create(CARS, simple_public_object_input_for_create=car("A1"))
    alone = client.crm.objects.basic_api.create(CARS, simple_public_object_input_for_create=car("A2"))
    contact = client.crm.objects.basic_api.get_page("contacts", limit=1).results[0].id
    labels = client.crm.associations.v4.schema.definitions_api.get_all(CARS, "contacts").results
    [owner] = [k for k in labels if k.label == "Car owner"]
    made = client.crm.associations.v4.batch_api.create(CARS, "contacts", batch_input_public_association_multi_post=(
        v4.BatchInputPublicAssociationMultiPost(inputs=[v4.PublicAssociationMultiPost(
            _from=v4.PublicObjectId(id=linked.id), to=v4.PublicObjectId(id=contact),
            types=[v4.AssociationSpec(association_category=owner.category, association_type_id=owner.type_id)])])))
    assert str(made.results[0].to_object_id) == contact and made.results[0].labels == ["Car owner"]
    page = client.crm.associations.v4.batch_api.get_page(CARS, "contacts",
                                                         batch_input_public_fetch_associations_batch_request=(
        v4.BatchInputPublicFetchAssociationsBatchRequest(inputs=[
            v4.PublicFetchAssociationsBatchRequest(id=linked.id), v4.PublicFetchAssociationsBatchRequest(id=alone.id)])))
    [result] = [r for r in page.results if r._from.id == linked.id]
    assert [str(t.to_object_id) for t in result.to] == [contact]  # int in the 2024 spec, str in the client
    assert page.num_errors == 1 and page.errors[0].category == "OBJECT_NOT_FOUND"
    unlinked = client.crm.associations.v4.batch_api.archive(CARS, "contacts", batch_input_public_association_multi_archive=(
        v4.BatchInputPublicAssociationMultiArchive(inputs=[v4.PublicAssociationMultiArchive(
            _from=v4.PublicObjectId(id=linked.id), to=[v4.PublicObjectId(id=contact)])])))
    assert unlinked is None
    with pytest.raises(v4_schema.ApiException) as raised:
        client.crm.associations.v4.schema.definitions_api.get_all(CARS, "no_such_object")
    assert raised.value.status == 404 and error_of(raised)["category"] == "OBJECT_NOT_FOUND"
