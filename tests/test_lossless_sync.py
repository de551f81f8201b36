"""Values a sheet cannot hold (issue #11): text longer than an Excel cell, characters a CSV's
encoding lacks. Export refuses before writing; sync holds the cell back, says so, and never turns
it into a change. Through the CLI against the sandbox."""

from __future__ import annotations

import codecs
import json

import openpyxl
import pytest

from test_sync import CARS, VIN, Sheet, edit_in_hubspot, first_sync, records  # noqa: F401  (fixtures below)
from test_sync import sheet, sync  # noqa: F401
from test_push import write_requests

LONG = ("A long note. " * 4200)[:49_999] + "!"


def test_export_to_xlsx_refuses_a_value_longer_than_a_cell_naming_record_and_property(run, client):
    assert run("push", "mappings/cars.yaml", "--yes", "--quiet").exit_code == 0
    edit_in_hubspot(client, VIN, owner=LONG)
    record_id = records(client)[VIN].id
    refused = run("export", "mappings/cars.yaml", "-o", "cars-export.xlsx")
    assert refused.exit_code == 2
    assert f"record {record_id}, owner" in refused.output and "32,767" in refused.output
    assert "export to CSV" in refused.output and "Traceback" not in refused.output
    exported = run("export", "mappings/cars.yaml", "-o", "cars-export.csv")
    assert exported.exit_code == 0, exported.output
    planned = run("plan", "mappings/cars.yaml", "--source", "cars-export.csv", "--json")
    assert json.loads(planned.stdout)["counts"]["unchanged"] == 300


def test_export_refusal_leaves_no_file(run, client, project):
    assert run("push", "mappings/cars.yaml", "--yes", "--quiet").exit_code == 0
    edit_in_hubspot(client, VIN, owner=LONG)
    assert run("export", "mappings/cars.yaml", "-o", "out.xlsx").exit_code == 2
    assert sorted(p.name for p in project.iterdir() if "out" in p.name) == []


@pytest.mark.parametrize("sheet", ["xlsx"], indirect=True)
def test_sync_holds_back_a_value_longer_than_an_xlsx_cell_and_never_pushes_it(sync, sheet, client, sandbox):
    first_sync(sync)
    before = sheet.rows()[VIN]["Owner"]
    edit_in_hubspot(client, VIN, owner=LONG)
    held = sync("--json")
    assert held.exit_code == 1
    document = json.loads(held.stdout)
    [cell] = document["held"]
    assert cell["column"] == "Owner" and "32,767" in cell["message"] and "HubSpot keeps its value" in cell["message"]
    assert len(cell["value"]) < 300  # the report names the value, it does not carry 50,000 characters
    assert sheet.rows()[VIN]["Owner"] == before
    for _ in range(2):  # no later sync takes the sheet's old cell for an edit
        sandbox.clear_log()
        again = sync()
        assert write_requests(sandbox) == [], again.output
    assert records(client, "owner")[VIN].properties["owner"] == LONG


@pytest.mark.parametrize("sheet", ["csv"], indirect=True)
def test_sync_into_a_cp1252_csv_holds_back_characters_it_lacks(sync, sheet, client, sandbox):
    text = sheet.path.read_text(encoding="utf-8").replace("\n", "\r\n").replace("Renault", "Citroën", 1)
    sheet.path.write_bytes(text.encode("cp1252"))
    first_sync(sync)
    edit_in_hubspot(client, VIN, owner="Flug ✈ 東京", make="Škoda")
    result = sync("--json")
    assert result.exit_code == 1, result.output
    document = json.loads(result.stdout)
    [cell] = document["held"]
    assert cell["column"] == "Owner" and "cp1252" in cell["message"] and "UTF-8" in cell["message"]
    raw = sheet.path.read_bytes()
    assert not raw.startswith(codecs.BOM_UTF8)
    decoded = raw.decode("cp1252")  # still the sheet's own encoding and line endings
    assert "Škoda" in decoded and "✈" not in decoded and "\r\n" in decoded and "\n" not in decoded.replace("\r\n", "")
    sandbox.clear_log()
    again = sync()
    assert "Traceback" not in again.output
    assert write_requests(sandbox) == []
    assert records(client, "owner")[VIN].properties["owner"] == "Flug ✈ 東京"


def test_a_new_record_too_long_for_the_sheet_is_appended_without_that_cell(sync, project, client, sandbox):
    path = project / "sample_data" / "cars.xlsx"
    book = openpyxl.load_workbook(path)
    book["Inventory"].delete_rows(12, book["Inventory"].max_row)
    book.save(path)
    sheet = Sheet(path)
    first_sync(sync)
    [created] = client.batch_upsert(CARS, [{"id": "NEWCAR0000000001", "properties": {
        "vin": "NEWCAR0000000001", "make": "Lada", "owner": LONG}}], id_property="vin")
    assert created.ok
    result = sync("--json")
    document = json.loads(result.stdout)
    assert document["counts"]["append"] == 1
    assert [c["column"] for c in document["held"]] == ["Owner"]
    row = sheet.rows()["NEWCAR0000000001"]
    assert row["Make"] == "Lada" and row["Owner"] is None
    sandbox.clear_log()
    sync()
    assert write_requests(sandbox) == []
    assert records(client, "owner")["NEWCAR0000000001"].properties["owner"] == LONG


def test_a_review_workbook_shows_a_long_value_cut_and_applies_it_whole(run, project, client):
    from conftest import on_small_csv, sheet_rows, write_sheet

    on_small_csv(project, 3)
    sheet = project / "sample_data" / "cars.csv"
    rows = sheet_rows(sheet)
    rows[0]["Owner"] = LONG
    write_sheet(sheet, rows)
    planned = run("plan", "mappings/cars.yaml", "--review", "review.xlsx")
    assert planned.exit_code == 0, planned.output
    create = openpyxl.load_workbook(project / "review.xlsx")["Create"]
    header = [c.value for c in create[1]]
    shown = create.cell(row=2, column=header.index("Owner") + 1).value
    assert shown.endswith("[cut for display: 50,000 characters in all]")
    assert run("apply", "review.xlsx", "--yes").exit_code == 0
    assert records(client, "owner")[rows[0]["VIN"]].properties["owner"] == LONG
