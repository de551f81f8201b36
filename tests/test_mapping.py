"""The mapping file: loading with precise messages, its JSON Schema, checks against the portal, drafts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from syncer import InputError, mapping, tables, values

REPO = Path(__file__).resolve().parents[1]
PROPERTIES = json.loads((REPO / "sample_data" / "cars.properties.json").read_text())
HEADER = tables.read(REPO / "sample_data" / "cars.csv").header


def write(tmp_path: Path, text: str, name: str = "m.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_load_sample_mapping():
    m = mapping.load(REPO / "mappings" / "cars.yaml")
    assert (m.object, m.id_property, m.sheet) == ("cars", "vin", "Inventory")
    assert m.source == (REPO / "sample_data" / "cars.xlsx").resolve()
    assert m.columns["VIN"].property == "vin"  # shorthand `VIN: vin`
    assert m.columns["Listed on"].format == "%d/%m/%Y"
    assert m.columns["Features"].separator == ","
    assert m.columns["Make"].separator == ";"
    assert m.associations[0].model_dump() == {"column": "Owner email", "to": "contacts", "match": "email", "label": "car_owner"}
    assert (m.sync.mode, m.sync.blank_cells, m.sync.max_archive_fraction) == ("upsert", "keep", 0.1)
    assert len(m.digest) == 64 and m.id_column == "VIN"


def test_load_lists_every_problem_with_line_key_and_suggestion(tmp_path):
    path = write(tmp_path, (
        "object: cars\n"
        "id_propety: vin\n"
        "columns:\n"
        "  VIN: vin\n"
        "  Colour: {property: color, valuez: {Red: red}}\n"
        "associations:\n"
        "  - column: Owner email\n"
        "    to: contacts\n"
        "    mach: email\n"
        "sync:\n"
        "  mode: upsrt\n"))
    with pytest.raises(InputError) as caught:
        mapping.load(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: 6 problems in the mapping")
    assert 'm.yaml, line 2: id_propety: unknown key "id_propety"; did you mean "id_property"?' in message
    assert 'm.yaml, line 5: columns.Colour.valuez: unknown key "valuez"; did you mean "values"?' in message
    assert 'm.yaml, line 9: associations[0].mach: unknown key "mach"; did you mean "match"?' in message
    assert "m.yaml, line 7: associations[0].match: required key is missing" in message
    assert "m.yaml, line 11: sync.mode: Input should be 'upsert', 'update', 'create' or 'mirror'" in message
    assert "id_property: required key is missing" in message


@pytest.mark.parametrize("text, expected", [
    ("object: cars\ncolumns: [VIN: vin\n", "line 3: not valid YAML"),
    ("- a\n- b\n", "the mapping must be a YAML mapping"),
    ("object: cars\nid_property: vin\ncolumns: {A: x, B: x}\n", 'columns "A" and "B" both map to property "x"'),
    ("object: cars\nid_property: vin\ncolumns: {A: {property: d, timezone: Mars/Base}}\n", 'unknown time zone "Mars/Base"'),
    ("object: cars\nid_property: vin\ncolumns: {}\nsync: {max_archive_fraction: 2}\n", "less than or equal to 1"),
], ids=["yaml-syntax", "not-a-dict", "property-twice", "bad-timezone", "fraction"])
def test_load_refuses(tmp_path, text, expected):
    with pytest.raises(InputError, match=None) as caught:
        mapping.load(write(tmp_path, text))
    assert expected in str(caught.value)


def test_json_schema_describes_the_file():
    schema = mapping.json_schema()
    assert set(schema["required"]) == {"object", "id_property", "columns"}
    assert schema["additionalProperties"] is False
    assert {"property", "values", "format", "separator", "timezone", "options"} <= set(schema["$defs"]["ColumnSpec"]["properties"])
    assert "path" not in schema["properties"] and "digest" not in schema["properties"]
    json.dumps(schema)


def test_sample_mapping_fits_the_portal_and_sheet():
    m = mapping.load(REPO / "mappings" / "cars.yaml")
    assert mapping.check(m, PROPERTIES, HEADER) == []


def test_check_names_every_problem_with_suggestions(tmp_path):
    path = write(tmp_path, (
        "object: cars\n"
        "id_property: make\n"
        "columns:\n"
        "  VIN: vin\n"
        "  Make: make\n"
        "  Colour: {property: colour, values: {Navy: navy}}\n"
        "  Created: hs_createdate\n"
        "  Shade: {property: color, values: {Navy: navvy}}\n"
        "  Milage: mileage\n"
        "associations:\n"
        "  - {column: Owner e-mail, to: contacts, match: email}\n"))
    problems = [str(p) for p in mapping.check(mapping.load(path), PROPERTIES, HEADER + ["Make"])]
    assert problems == [
        'm.yaml: id_property: "make" is not a unique property (hasUniqueValue); unique properties: vin',
        'm.yaml: columns.Colour: object "cars" has no property "colour"; did you mean "color"?',
        'm.yaml: columns.Created: property "hs_createdate" is read-only in HubSpot',
        'm.yaml: columns.Shade.values.Navy: "navvy" is not an option of "color"; options: red, blue, black, white, silver, green',
        'm.yaml: source: the sheet has more than one column named "Make"',
        'm.yaml: columns.Created: the sheet has no column "Created"',
        'm.yaml: columns.Shade: the sheet has no column "Shade"',
        'm.yaml: columns.Milage: the sheet has no column "Milage"; did you mean "Mileage (km)"?',
        'm.yaml: associations[0].column: the sheet has no column "Owner e-mail"; did you mean "Owner email"?',
    ]


def test_check_id_property_missing_and_unmapped(tmp_path):
    m = mapping.load(write(tmp_path, "object: cars\nid_property: vim\ncolumns: {Make: make}\n"))
    assert [str(p) for p in mapping.check(m, PROPERTIES)] == ['m.yaml: id_property: object "cars" has no property "vim"; did you mean "vin"?']
    m = mapping.load(write(tmp_path, "object: cars\nid_property: vin\ncolumns: {Make: make}\n"))
    assert [p.key for p in mapping.check(m, PROPERTIES)] == ["columns"]


def test_draft_matches_names_labels_and_near_names():
    header = ["VIN", "make", "Listing date", "Colour", "Mileage (km)", "Dealer Phone", "Owner email", "Notes", "Record ID"]
    draft = mapping.draft(header, PROPERTIES, object_type="cars", source="cars.csv")
    assert draft.columns == {"VIN": "vin", "make": "make", "Listing date": "listing_date", "Colour": "color",
                             "Mileage (km)": "mileage", "Dealer Phone": "dealer_phone"}
    assert draft.unmatched == ["Owner email", "Notes", "Record ID"]  # read-only hs_object_id is never offered
    assert "id_property: vin\n" in draft.text and "source: cars.csv\n" in draft.text


def test_init_mapping_writes_a_mapping_that_validates(tmp_path):
    draft = values.init_mapping(REPO / "sample_data" / "cars.csv", PROPERTIES, object_type="cars",
                                output=tmp_path / "new.yaml")
    path = write(tmp_path, draft.text, "new.yaml")
    m = mapping.load(path)
    assert m.source == (REPO / "sample_data" / "cars.csv").resolve()
    assert m.id_property == "vin" and mapping.check(m, PROPERTIES, HEADER) == []
    assert "Owner email" in draft.unmatched and "Notes" in draft.unmatched
