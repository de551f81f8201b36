"""The sandbox's definition WRITES driven by HubSpot's official Python client (hubspot-api-client):
custom object schemas, property groups, properties (one at a time and in batch), association labels,
and their error answers. The client builds each request from HubSpot's API definitions and parses
every answer into its models, so an answer of a shape HubSpot's client cannot take fails here.
"""

from __future__ import annotations

import json

import pytest
from hubspot import HubSpot  # hubspot-api-client, the test dependency
from hubspot.crm import properties, schemas
from hubspot.crm.associations.v4 import schema as v4_schema
from hubspot.crm.properties import (BatchInputPropertyCreate, OptionInput, PropertyCreate, PropertyGroupCreate,
                                    PropertyUpdate)
from hubspot.crm.schemas import (ObjectSchemaEgg, ObjectTypeDefinitionLabels, ObjectTypeDefinitionPatch,
                                 ObjectTypePropertyCreate)

from syncer.sandbox import Sandbox

READ_ONLY = {"crm.objects.custom.read", "crm.schemas.custom.read", "crm.objects.contacts.read"}


@pytest.fixture(scope="module")
def portal():
    with Sandbox(extra_tokens={"readonly": READ_ONLY}) as sandbox:
        yield sandbox, HubSpot(access_token=sandbox.token, host=sandbox.base_url)


@pytest.fixture(scope="module")
def boats(portal):
    """A custom object made through the client: the ObjectSchema it answered."""
    _, client = portal
    return client.crm.schemas.core_api.create(object_schema_egg=ObjectSchemaEgg(
        name="boats", labels=ObjectTypeDefinitionLabels(singular="Boat", plural="Boats"),
        primary_display_property="hull_id", required_properties=["hull_id"], searchable_properties=["hull_id"],
        secondary_display_properties=["berth"], associated_objects=["CONTACT"],
        properties=[ObjectTypePropertyCreate(name="hull_id", label="Hull ID", type="string", field_type="text",
                                             has_unique_value=True),
                    ObjectTypePropertyCreate(name="berth", label="Berth", type="number", field_type="number")]))


def error_of(raised, status: int, category: str) -> dict:
    """HubSpot's error body from an ApiException: its status, JSON with category and message."""
    assert raised.value.status == status
    body = json.loads(raised.value.body)
    assert body["status"] == "error" and body["category"] == category and body["message"] and body["correlationId"]
    return body


def test_a_custom_object_schema_is_created_and_updated(portal, boats):
    sandbox, client = portal
    assert isinstance(boats, schemas.ObjectSchema) and boats.object_type_id.startswith("2-")
    assert boats.fully_qualified_name == f"p{sandbox.portal_id}_boats" and boats.labels.plural == "Boats"
    assert boats.primary_display_property == "hull_id" and boats.required_properties == ["hull_id"]
    made = {p.name: p for p in boats.properties}
    assert made["hull_id"].has_unique_value and made["berth"].type == "number"
    assert made["hull_id"].group_name == "boats_information"
    assert "hs_object_id" in made  # HubSpot's own properties of every custom object
    assert any(a.to_object_type_id == "0-1" for a in boats.associations)
    updated = client.crm.schemas.core_api.update(object_type=boats.object_type_id, object_type_definition_patch=(
        ObjectTypeDefinitionPatch(labels=ObjectTypeDefinitionLabels(singular="Vessel", plural="Vessels"),
                                  searchable_properties=["hull_id", "berth"], description="Boats in the marina")))
    assert isinstance(updated, schemas.ObjectTypeDefinition) and updated.portal_id == sandbox.portal_id
    assert updated.object_type_id == boats.object_type_id and updated.labels.singular == "Vessel"
    assert updated.searchable_properties == ["hull_id", "berth"] and updated.description == "Boats in the marina"
    again = client.crm.schemas.core_api.get_by_id(object_type=boats.fully_qualified_name)
    assert again.labels.plural == "Vessels" and again.required_properties == ["hull_id"]


def test_a_group_and_its_properties_are_created_updated_and_archived(portal, boats):
    _, client = portal
    kind = boats.object_type_id
    group = client.crm.properties.groups_api.create(kind, property_group_create=PropertyGroupCreate(
        name="rigging", label="Rigging", display_order=2))
    assert isinstance(group, properties.PropertyGroup)
    assert (group.name, group.label, group.display_order, group.archived) == ("rigging", "Rigging", 2, False)
    mast = client.crm.properties.core_api.create(kind, property_create=PropertyCreate(
        name="mast", label="Mast", type="enumeration", field_type="select", group_name="rigging",
        options=[OptionInput(label="Sloop", value="sloop", display_order=0, hidden=False)]))
    assert isinstance(mast, properties.ModelProperty) and mast.group_name == "rigging" and not mast.archived
    assert [(o.label, o.value) for o in mast.options] == [("Sloop", "sloop")]
    changed = client.crm.properties.core_api.update(kind, "mast", property_update=PropertyUpdate(
        label="Mast type", options=[OptionInput(label="Sloop", value="sloop", display_order=0, hidden=False),
                                    OptionInput(label="Ketch", value="ketch", display_order=1, hidden=False)]))
    assert changed.label == "Mast type" and [o.value for o in changed.options] == ["sloop", "ketch"]
    assert client.crm.properties.core_api.archive(kind, "mast") is None
    live = client.crm.properties.core_api.get_all(kind).results
    assert "mast" not in {p.name for p in live}
    gone = {p.name: p for p in client.crm.properties.core_api.get_all(kind, archived=True).results}
    assert gone["mast"].archived is True and gone["mast"].archived_at
    batch = client.crm.properties.batch_api.create(kind, batch_input_property_create=BatchInputPropertyCreate(inputs=[
        PropertyCreate(name="sail_area", label="Sail area", type="number", field_type="number", group_name="rigging"),
        PropertyCreate(name="has_engine", label="Has engine", type="bool", field_type="booleancheckbox",
                       group_name="rigging")]))
    assert isinstance(batch, properties.BatchResponseProperty) and batch.status == "COMPLETE"
    assert {p.name: p.type for p in batch.results} == {"sail_area": "number", "has_engine": "bool"}
    assert batch.started_at and batch.completed_at
    assert [o.value for o in {p.name: p for p in batch.results}["has_engine"].options] == ["true", "false"]
    listed = {p.name for p in client.crm.properties.core_api.get_all(kind).results}
    assert {"sail_area", "has_engine", "hull_id"} <= listed


def test_an_association_label_is_created_renamed_and_deleted(portal, boats):
    _, client = portal
    api = client.crm.associations.v4.schema.definitions_api
    made = api.create(boats.object_type_id, "contacts", public_association_definition_create_request=(
        v4_schema.PublicAssociationDefinitionCreateRequest(label="Skipper", name="skipper")))
    assert isinstance(made, v4_schema.CollectionResponseAssociationSpecWithLabelNoPaging)
    assert {(r.category, r.label) for r in made.results} == {("USER_DEFINED", "Skipper")} and len(made.results) == 2
    [forward] = [r for r in api.get_all(boats.object_type_id, "contacts").results if r.label == "Skipper"]
    assert forward.type_id in {r.type_id for r in made.results}
    assert api.update(boats.object_type_id, "contacts", public_association_definition_update_request=(
        v4_schema.PublicAssociationDefinitionUpdateRequest(association_type_id=forward.type_id,
                                                           label="Captain"))) is None
    labels = {r.type_id: r.label for r in api.get_all(boats.object_type_id, "contacts").results}
    assert labels[forward.type_id] == "Captain" and "Skipper" not in labels.values()
    assert "Captain" in {r.label for r in api.get_all("contacts", boats.object_type_id).results}
    assert api.remove(boats.object_type_id, "contacts", forward.type_id) is None
    left = api.get_all(boats.object_type_id, "contacts").results
    assert forward.type_id not in {r.type_id for r in left}
    with pytest.raises(v4_schema.ApiException) as raised:
        api.remove(boats.object_type_id, "contacts", forward.type_id)
    error_of(raised, 404, "OBJECT_NOT_FOUND")


def test_refused_definition_writes_answer_hubspot_errors(portal, boats):
    sandbox, client = portal
    kind = boats.object_type_id
    with pytest.raises(properties.ApiException) as raised:  # a name the object already has
        client.crm.properties.core_api.create(kind, property_create=PropertyCreate(
            name="berth", label="Berth", type="number", field_type="number", group_name="boats_information"))
    assert "berth" in error_of(raised, 409, "OBJECT_ALREADY_EXISTS")["message"]
    with pytest.raises(properties.ApiException) as raised:  # a fieldType the type does not take
        client.crm.properties.core_api.create(kind, property_create=PropertyCreate(
            name="keel", label="Keel", type="number", field_type="select", group_name="boats_information"))
    assert "fieldType 'select'" in error_of(raised, 400, "VALIDATION_ERROR")["message"]
    assert "keel" not in {p.name for p in client.crm.properties.core_api.get_all(kind).results}
    with pytest.raises(properties.ApiException) as raised:  # a group that exists
        client.crm.properties.groups_api.create(kind, property_group_create=PropertyGroupCreate(
            name="boats_information", label="Again"))
    error_of(raised, 409, "OBJECT_ALREADY_EXISTS")
    with pytest.raises(schemas.ApiException) as raised:  # a schema name that is taken
        client.crm.schemas.core_api.create(object_schema_egg=ObjectSchemaEgg(
            name="boats", labels=ObjectTypeDefinitionLabels(singular="Boat", plural="Boats"),
            required_properties=[], associated_objects=[], properties=[ObjectTypePropertyCreate(
                name="hull_id", label="Hull ID", type="string", field_type="text")]))
    error_of(raised, 409, "OBJECT_ALREADY_EXISTS")
    reader = HubSpot(access_token="readonly", host=sandbox.base_url)
    assert reader.crm.schemas.core_api.get_by_id(object_type=kind).name == "boats"  # reading is allowed
    with pytest.raises(schemas.ApiException) as raised:  # writing needs crm.schemas.custom.write
        reader.crm.schemas.core_api.update(object_type=kind, object_type_definition_patch=ObjectTypeDefinitionPatch(
            description="not allowed"))
    body = error_of(raised, 403, "MISSING_SCOPES")
    assert "crm.schemas.custom.write" in body["errors"][0]["context"]["requiredGranularScopes"]
    with pytest.raises(properties.ApiException) as raised:
        reader.crm.properties.core_api.create(kind, property_create=PropertyCreate(
            name="keel", label="Keel", type="string", field_type="text", group_name="boats_information"))
    error_of(raised, 403, "MISSING_SCOPES")
    assert client.crm.schemas.core_api.get_by_id(object_type=kind).description != "not allowed"
