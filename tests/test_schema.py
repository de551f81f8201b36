"""Schema plans without a portal: what each column's cells call for, names and labels, the plan of a
new object and its file (syncer/schema.py is pure)."""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import pytest

from syncer import schema
from syncer.errors import InputError
from syncer.mapping import ColumnSpec
from syncer.tables import Table

REPEATED = ["Red", "Blue", "red", "Blue", "Red", "Blue", "Red", "Blue", "Red", "Green"]

INFERRED = [
    (["52000", "1.50", "-3"], None, ("number", "number", None, None)),
    ([52000.0, 1.5, None], None, ("number", "number", None, None)),
    (["0042", "0043"], None, ("string", "text", None, None)),  # codes keep their zeros
    (["+33 1 42 68 53 00", "+44 20 7946 0958"] * 3, None, ("string", "phonenumber", None, None)),
    (["2026-01-15", "2025-12-31"], None, ("date", "date", None, None)),
    (["09/08/2025", "21/11/2025"], None, ("date", "date", "%d/%m/%Y", None)),
    ([dt.datetime(2025, 1, 1), dt.datetime(2025, 2, 1)], None, ("date", "date", None, None)),
    (["2025-12-06 14:30", "2025-01-02 08:00"], None, ("datetime", "date", None, None)),
    (["06/12/2025 14:30", "13/01/2025 08:00"], None, ("datetime", "date", "%d/%m/%Y %H:%M", None)),
    ([dt.datetime(2025, 1, 1, 10, 30), dt.datetime(2025, 2, 1)], None, ("datetime", "date", None, None)),
    (["Yes", "No", "yes", None], None, ("bool", "booleancheckbox", None, None)),
    ([True, False], None, ("bool", "booleancheckbox", None, None)),
    (["0", "1", "1"], None, ("number", "number", None, None)),  # 0/1 counts, not flags
    (REPEATED, None, ("enumeration", "select", None, None)),
    (["Ann", "Bo", "Cy", "Di", "Ed"], None, ("string", "text", None, None)),  # all distinct: not options
    (["a;b", "b", "a;c", "c", "a", "b;c", "a", "b", "c"], None, ("enumeration", "checkbox", None, ";")),
    (["Sunroof,Navigation", "Navigation", "Sunroof", "Bluetooth,Sunroof"] * 3, None,
     ("enumeration", "checkbox", None, ",")),
    (["a,b", "b", "a"] * 3, ColumnSpec(property="x", separator="|"), ("enumeration", "select", None, None)),
    (["ann@example.com", "bo@example.com"] * 5, None, ("string", "text", None, None)),
    (["x" * 300], None, ("string", "textarea", None, None)),
    (["line one\nline two"], None, ("string", "textarea", None, None)),
    ([None, " "], None, ("string", "text", None, None)),
    (["09/08/2025"], ColumnSpec(property="x", format="%d/%m/%Y"), ("date", "date", None, None)),
]


@pytest.mark.parametrize(("cells", "spec", "expected"), INFERRED, ids=[
    "number", "excel-number", "leading-zeros", "phone", "iso-date", "text-date", "excel-date", "iso-datetime",
    "text-datetime", "excel-datetime", "yes-no", "excel-bool", "zero-one", "few-labels", "names", "multi-semicolon",
    "multi-comma", "mapping-separator", "emails", "long-text", "multi-line", "blank", "mapping-format"])
def test_infer_reads_each_column_as_the_engine_will(cells, spec, expected):
    guess = schema.infer(pd.Series(cells, dtype=object), "Column", spec)
    assert (guess.type, guess.field_type, guess.format, guess.separator) == expected, guess.why


def test_inferred_options_are_labelled_by_the_cells_and_valued_by_their_slug():
    guess = schema.infer(pd.Series(REPEATED + ["Dark blue", "Dark blue"], dtype=object), "Colour")
    assert guess.options == (("Blue", "blue"), ("Dark blue", "dark_blue"), ("Green", "green"), ("Red", "red"))
    spec = ColumnSpec(property="colour", values={"Rouge": "red"})
    guess = schema.infer(pd.Series(["Rouge", "Bleu", "Bleu", "red"], dtype=object), "Colour", spec)
    assert guess.options == (("Rouge", "red"), ("Bleu", "bleu"))


def test_missing_options_are_the_texts_no_option_names():
    prop = {"name": "color", "type": "enumeration", "fieldType": "select",
            "options": [{"label": "Dark blue", "value": "blue"}, {"label": "Red", "value": "red"}]}
    cells = pd.Series(["dark BLUE", "blue", "Orange", "orange", "Mauve", "Rot", None], dtype=object)
    assert schema.missing_options(cells, prop, ColumnSpec(property="color", values={"Rot": "red"})) == ["Orange", "Mauve"]
    multi = dict(prop, fieldType="checkbox")
    cells = pd.Series(["Red, Orange", "blue,,Teal"], dtype=object)
    assert schema.missing_options(cells, multi, ColumnSpec(property="color", separator=",")) == ["Orange", "Teal"]


@pytest.mark.parametrize(("text", "name"), [("Mileage (km)", "mileage_km"), ("2nd phone", "p_2nd_phone"),
                                            ("hs_score", "p_hs_score"), ("Événement", "evenement"), ("VIN", "vin")])
def test_property_names_are_what_hubspot_accepts(text, name):
    assert schema.slug(text) == name


@pytest.mark.parametrize(("name", "labels"), [("boats", ("Boat", "Boats")), ("inventory", ("Inventory", "Inventories")),
                                              ("buses", ("Bus", "Buses")), ("Status", ("Status", "Statuses")),
                                              ("rental_cars", ("Rental car", "Rental cars"))])
def test_object_labels_from_its_name(name, labels):
    assert schema.object_labels(name) == labels


def table(frame: pd.DataFrame) -> Table:
    frame.index = range(2, len(frame) + 2)
    return Table(frame=frame.astype(object), path=__import__("pathlib").Path("boats.csv"))


BOATS = pd.DataFrame({
    "Name": ["Aurora", "Bora", "Cirrus", "Delta"], "Hull ID": ["H-01", "H-02", "H-03", "H-04"],
    "Length (m)": ["7.5", "12", "9.25", "7.5"], "Built": ["2019-05-01", "2020-01-15", "2021-03-03", "2019-05-01"],
    "Status": ["Docked", "Sailing", "Docked", "Docked"]})


def test_a_new_object_is_matched_by_its_id_column_and_shown_by_its_name():
    plan = schema.plan_new_object(table(BOATS.copy()), "boats", meta=schema.SchemaPlanMeta(portal="sandbox"))
    (call,) = plan.calls
    assert (call.method, call.path) == ("POST", "/crm/v3/schemas")
    body = call.body
    assert body["labels"] == {"singular": "Boat", "plural": "Boats"}
    assert body["primaryDisplayProperty"] == "name" and body["requiredProperties"] == ["hull_id"]
    assert body["searchableProperties"] == ["hull_id", "name"]
    assert set(body) >= {"name", "labels", "properties", "requiredProperties", "associatedObjects"}  # the spec's required
    by_name = {p["name"]: p for p in body["properties"]}
    assert by_name["hull_id"] == {"name": "hull_id", "label": "Hull ID", "type": "string", "fieldType": "text",
                                  "hasUniqueValue": True}
    assert (by_name["length_m"]["type"], by_name["built"]["type"]) == ("number", "date")
    assert by_name["status"]["options"][0] == {"label": "Docked", "value": "docked", "displayOrder": 0, "hidden": False}
    assert schema.mapping_columns(plan) == {"Name": "name", "Hull ID": "hull_id", "Length (m)": "length_m",
                                            "Built": "built", "Status": "status"}


def test_a_new_object_needs_a_custom_name_and_a_column_of_keys():
    with pytest.raises(InputError, match="is a standard HubSpot object"):
        schema.plan_new_object(table(BOATS.copy()), "contacts")
    with pytest.raises(InputError, match="cannot name a custom object"):
        schema.plan_new_object(table(BOATS.copy()), "my boats")
    with pytest.raises(InputError, match="no column holds a value of its own on every row"):
        schema.plan_new_object(table(BOATS[["Length (m)", "Status"]].copy()), "boats")
    with pytest.raises(InputError, match='no column "Serial"'):
        schema.plan_new_object(table(BOATS.copy()), "boats", id_property="Serial")
    plan = schema.plan_new_object(table(BOATS.copy()), "boats", id_property="Name")
    assert plan.object["id_property"] == "name"


def test_a_plan_file_reads_back_only_as_it_was_written():
    plan = schema.plan_new_object(table(BOATS.copy()), "boats", meta=schema.SchemaPlanMeta(portal="sandbox", hub_id="123"))
    document = json.loads(json.dumps(schema.to_json(plan)))
    again = schema.from_json(document)
    assert again.calls == plan.calls and again.columns == plan.columns and again.object == plan.object
    edited = json.loads(json.dumps(document))
    edited["calls"][0]["body"]["name"] = "ships"
    with pytest.raises(InputError, match="changed after it was made"):
        schema.from_json(edited)
    forged = json.loads(json.dumps(document))
    forged["calls"][0].update(method="DELETE", path="/crm/v3/schemas/2-1")
    forged["digest"] = schema.digest(forged)
    with pytest.raises(InputError, match="is not what a create_schema call sends"):
        schema.from_json(forged)
    with pytest.raises(InputError, match="not a schema plan"):
        schema.from_json({"syncer_plan": 1})


def test_an_existing_object_gains_only_what_it_lacks_and_keeps_every_option():
    from syncer.hubspot.models import ObjectType
    from syncer.mapping import Mapping

    color = {"name": "color", "label": "Color", "type": "enumeration", "fieldType": "select", "groupName": "info",
             "options": [{"label": "Red", "value": "red", "displayOrder": 0, "hidden": False}]}
    vin = {"name": "vin", "label": "VIN", "type": "string", "fieldType": "text", "groupName": "info",
           "hasUniqueValue": True}
    cars = ObjectType("2-1", "cars", "p1_cars", {"singular": "Car", "plural": "Cars"})
    m = Mapping.model_validate({"object": "cars", "id_property": "vin", "path": "cars.yaml", "digest": "", "columns": {
        "VIN": "vin", "Colour": {"property": "color", "values": {"Bleu": "blue"}}, "Seats": "seats"}})
    frame = pd.DataFrame({"VIN": ["A", "B", "C", "D"], "Colour": ["red", "Bleu", "Mauve", "mauve"],
                          "Seats": ["4", "5", "4", "2"]})
    plan = schema.plan_existing(table(frame), cars, [vin, color], [], m=m)
    kinds = [(c.kind, c.method, c.path) for c in plan.calls]
    assert kinds == [("create_property_group", "POST", "/crm/v3/properties/2-1/groups"),
                     ("create_properties", "POST", "/crm/v3/properties/2-1/batch/create"),
                     ("update_property", "PATCH", "/crm/v3/properties/2-1/color")]
    assert plan.calls[0].body == {"name": "cars_information", "label": "Car information", "displayOrder": -1}
    assert plan.calls[1].body == {"inputs": [{"name": "seats", "label": "Seats", "type": "number",
                                              "fieldType": "number", "groupName": "cars_information"}]}
    options = [(o["label"], o["value"]) for o in plan.calls[2].body["options"]]
    assert options == [("Red", "red"), ("Bleu", "blue"), ("Mauve", "mauve")]  # the old first, none lost
    assert plan.expect == {"absent_properties": ["seats"], "options": {"color": ["red"]},
                           "absent_groups": ["cars_information"]}
    grouped = schema.plan_existing(table(frame), cars, [vin, color], [{"name": "info", "archived": False}], m=m)
    assert grouped.calls[0].kind == "create_properties" and grouped.calls[0].body["inputs"][0]["groupName"] == "info"
