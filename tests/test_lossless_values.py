"""Values that must read back exactly (issue #11): options, numbers, DST hours, invisible and
numeric keys. Conversions are pure; key checks run through the CLI against the sandbox."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pandas as pd
import pytest

from conftest import on_small_csv, sheet_rows, write_sheet
from syncer import mapping, values
from syncer.errors import InputError
from syncer.mapping import ColumnSpec

REPO = Path(__file__).resolve().parents[1]
CARS = mapping.load(REPO / "mappings" / "cars.yaml")

# "1" is the label of option "2" while "1" is itself an option; "One" names option "1".
RATING = {"name": "rating", "type": "enumeration", "fieldType": "select",
          "options": [{"value": "1", "label": "One"}, {"value": "2", "label": "1"}, {"value": "3", "label": "Three"}]}
TAGS = {"name": "tags", "type": "enumeration", "fieldType": "checkbox",
        "options": [{"value": "bug_urgent", "label": "Bug; urgent"}, {"value": "docs", "label": "Docs"}]}
SAME_LABEL = {"name": "tier", "type": "enumeration", "fieldType": "select",
              "options": [{"value": "gold", "label": "Gold"}, {"value": "gold_old", "label": "Gold"}]}


def read(prop: dict, spec: ColumnSpec, *cells) -> list:
    return values.convert(pd.Series(list(cells), dtype=object), prop, spec).canonical.tolist()


def written(prop: dict, spec: ColumnSpec, *canonical) -> list:
    m = CARS.model_copy(update={"columns": {"Column": spec}})
    return values.to_cells(pd.DataFrame({prop["name"]: list(canonical)}, dtype=object), m, [prop])["Column"].tolist()


@pytest.mark.parametrize("options", ["label", "value"])
@pytest.mark.parametrize("prop", [RATING, TAGS, SAME_LABEL], ids=["label-is-a-value", "separator-in-label", "shared-label"])
def test_every_option_written_reads_back_as_itself(prop, options):
    spec = ColumnSpec(property=prop["name"], options=options)
    every = [o["value"] for o in prop["options"]]
    assert read(prop, spec, *written(prop, spec, *every)) == every


def test_a_label_that_equals_another_value_reads_as_its_own_option_in_a_label_column():
    assert written(RATING, ColumnSpec(property="rating"), "2", "1") == ["1", "One"]
    assert read(RATING, ColumnSpec(property="rating"), "1", "One", "one", "3") == ["2", "1", "1", "3"]
    assert read(RATING, ColumnSpec(property="rating", options="value"), "1") == ["1"]


def test_a_multi_select_label_holding_the_separator_is_written_as_its_value():
    spec = ColumnSpec(property="tags", separator=";")
    assert written(TAGS, spec, "bug_urgent;docs") == ["bug_urgent;Docs"]
    assert read(TAGS, spec, "bug_urgent;Docs") == ["bug_urgent;docs"]


def test_an_option_no_text_can_name_is_refused_before_writing_with_the_fix():
    # option b shares its label with a, and its value is c's label: every text it has names another option
    tangled = {"name": "t", "type": "enumeration", "fieldType": "select",
               "options": [{"value": "a", "label": "Z"}, {"value": "b", "label": "Z"}, {"value": "c", "label": "b"}]}
    spec = ColumnSpec(property="t")
    assert values.option_forms(tangled, spec)[1] == ["b"]
    with pytest.raises(InputError, match=r"option b of t .*add a `values:` entry"):
        written(tangled, spec, "b")
    fixed = ColumnSpec(property="t", values={"Bee": "b"})
    assert read(tangled, fixed, *written(tangled, fixed, "a", "b", "c")) == ["a", "b", "c"]


def test_validate_warns_about_colliding_option_texts():
    warnings = values.option_warnings(RATING, ColumnSpec(property="rating"))
    assert warnings == ['the label "1" (option 2) is also the value of option 1: a cell "1" means 2']
    assert "holds the separator" in values.option_warnings(TAGS, ColumnSpec(property="tags"))[0]
    assert any("share the label" in w for w in values.option_warnings(SAME_LABEL, ColumnSpec(property="tier")))


PRICE = {"name": "price", "type": "number", "fieldType": "number"}


@pytest.mark.parametrize("cell, canonical", [
    ("-26.123456789012345", "-26.123456789012345"),
    ("12345678901234567890", "12345678901234567890"),
    ("1e-20", "0.00000000000000000001"),
    ("1.5e300", "15" + "0" * 299),
    ("1.2345678901234567890123456789012e5", "123456.78901234567890123456789012"),
])
def test_numbers_are_exact_decimals(cell, canonical):
    assert read(PRICE, ColumnSpec(property="price"), cell) == [canonical]


@pytest.mark.parametrize("cell", ["1e400", "1e999999999", "-1e-400", "9" * 400])
def test_numbers_beyond_hubspots_range_are_row_errors(cell):
    converted = values.convert(pd.Series([cell], dtype=object), PRICE, ColumnSpec(property="price"))
    assert converted.canonical.tolist() == [None]
    assert "beyond the numbers HubSpot holds" in converted.messages[0]


LAST_SERVICED = {"name": "last_serviced_at", "type": "datetime", "fieldType": "date"}


@pytest.mark.parametrize("zone, instants", [
    ("Europe/Paris", ["2026-10-25T00:30:00.000Z", "2026-10-25T01:30:00.000Z"]),
    ("America/New_York", ["2026-11-01T05:30:00.000Z", "2026-11-01T06:30:00.000Z"]),
    ("Australia/Sydney", ["2026-04-04T15:30:00.000Z", "2026-04-04T16:30:00.000Z"]),
])
@pytest.mark.parametrize("fmt", [None, "%d/%m/%Y %H:%M"])
def test_both_instants_of_a_repeated_dst_hour_read_back(zone, instants, fmt):
    spec = ColumnSpec(property="last_serviced_at", timezone=zone, format=fmt)
    cells = written(LAST_SERVICED, spec, *instants)
    assert all(isinstance(c, str) for c in cells)  # the wall-clock time alone cannot say which
    assert read(LAST_SERVICED, spec, *cells) == instants


def test_ordinary_datetimes_stay_datetime_cells():
    spec = ColumnSpec(property="last_serviced_at", timezone="Europe/Paris")
    assert written(LAST_SERVICED, spec, "2026-07-15T08:30:00.000Z") == [dt.datetime(2026, 7, 15, 10, 30)]


def test_a_date_written_as_iso_text_reads_in_a_formatted_column():
    date = {"name": "listing_date", "type": "date", "fieldType": "date"}
    assert read(date, ColumnSpec(property="listing_date", format="%d/%m/%Y"), "1850-03-01", "01/03/1850") == \
        ["1850-03-01", "1850-03-01"]


# --- keys --------------------------------------------------------------------------------------


@pytest.fixture
def small(project):
    return on_small_csv(project, 3)


@pytest.mark.parametrize("invisible", ["\ufeff", "\u200b", "\u2060"])
def test_an_invisible_character_in_a_key_is_an_error_naming_row_and_column(run, small, invisible):
    sheet = small / "sample_data" / "cars.csv"
    rows = sheet_rows(sheet)
    rows[1]["VIN"] = rows[1]["VIN"][:3] + invisible + rows[1]["VIN"][3:]
    write_sheet(sheet, rows)
    result = run("plan", "mappings/cars.yaml", "--json")
    document = json.loads(result.stdout)
    assert document["counts"]["create"] == 2 and document["counts"]["error"] == 1
    error = next(a for a in document["actions"] if a["action"] == "error")
    assert error["row"] == 3
    assert f"U+{ord(invisible):04X}" in error["message"] and "position 4" in error["message"]
    checked = run("validate", "mappings/cars.yaml")
    assert checked.exit_code == 2
    assert 'row 3: the key holds an invisible character' in checked.output


def test_a_key_that_lost_its_leading_zeros_is_not_created_without_the_flag(run, small, client):
    client.batch_upsert("2-3465404", [{"id": "0042", "idProperty": "vin", "properties": {"vin": "0042"}}],
                        id_property="vin")
    sheet = small / "sample_data" / "cars.csv"
    rows = sheet_rows(sheet)
    rows[0]["VIN"] = "42"  # Excel turned 0042 into a number
    write_sheet(sheet, rows)
    planned = run("plan", "mappings/cars.yaml", "--json")
    document = json.loads(planned.stdout)
    error = next(a for a in document["actions"] if a["row"] == 2)
    assert error["action"] == "error"
    assert "vin 42 is not in HubSpot, but 0042 is" in error["message"] and "--allow-numeric-keys" in error["message"]
    checked = run("validate", "mappings/cars.yaml")
    assert checked.exit_code == 2 and "row 2: vin 42 is not in HubSpot, but 0042 is" in checked.output
    allowed = run("plan", "mappings/cars.yaml", "--json", "--allow-numeric-keys")
    assert json.loads(allowed.stdout)["counts"]["create"] == 3


def test_digit_keys_with_no_padded_twin_are_created_as_usual(run, small):
    sheet = small / "sample_data" / "cars.csv"
    rows = sheet_rows(sheet)
    rows[0]["VIN"] = "42"
    write_sheet(sheet, rows)
    document = json.loads(run("plan", "mappings/cars.yaml", "--json").stdout)
    assert document["counts"]["create"] == 3 and document["counts"]["error"] == 0


def test_sync_leaves_out_a_row_whose_key_lost_its_leading_zeros(run, small, client):
    client.batch_upsert("2-3465404", [{"id": "0042", "idProperty": "vin", "properties": {"vin": "0042"}}],
                        id_property="vin")
    sheet = small / "sample_data" / "cars.csv"
    rows = sheet_rows(sheet)
    rows[0]["VIN"] = "42"
    write_sheet(sheet, rows)
    result = run("sync", "mappings/cars.yaml", "--json")
    assert result.exit_code == 1
    [error] = json.loads(result.stdout)["errors"]
    assert error["row"] == 2 and "but 0042 is" in error["message"]
    assert {r.properties["vin"] for r in client.list_records("2-3465404", properties=["vin"])} == \
        {"0042", rows[1]["VIN"], rows[2]["VIN"]}
    assert run("sync", "mappings/cars.yaml", "--allow-numeric-keys").exit_code == 0
    assert "42" in {r.properties["vin"] for r in client.list_records("2-3465404", properties=["vin"])}
