"""export through the CLI against the sandbox: natural cells, --where, and round trips for every type."""

from __future__ import annotations

import csv
import datetime as dt
import json

import openpyxl
import pytest
from click.testing import CliRunner

from conftest import copy_project
from syncer.cli import cli

CARS = "2-3465404"
VIN = "SXK0HEVNTNKFHHKLE"


@pytest.fixture
def run(sandbox, tmp_path, monkeypatch):
    """The CLI in a copied project whose 300 sample cars are already pushed."""
    copy_project(tmp_path)
    monkeypatch.chdir(tmp_path)

    def invoke(*args):
        return CliRunner().invoke(cli, [*args, "--base-url", sandbox.base_url, "--token", sandbox.token])

    assert invoke("push", "mappings/cars.yaml", "--yes", "--quiet").exit_code == 0
    return invoke


def csv_rows(path):
    with open(path, newline="", encoding="utf-8") as f:
        return {r["VIN"]: r for r in csv.DictReader(f)}


def test_export_writes_natural_cells_in_the_mappings_column_order(run, client):
    result = run("export", "mappings/cars.yaml", "-o", "out.xlsx")
    assert result.exit_code == 0, result.output
    assert "Exported 300 records to out.xlsx" in result.output
    ws = openpyxl.load_workbook("out.xlsx").active
    header = [c.value for c in ws[1]]
    assert header[:4] == ["VIN", "Make", "Model", "Year"] and header[-2:] == ["Owner email", "Record ID"]
    row = dict(zip(header, next(r for r in ws.iter_rows(min_row=2, values_only=True) if r[0] == VIN)))
    assert (row["Year"], row["Listing price"], row["Colour"], row["Available"]) == (2024, 24800, "Silver", True)
    assert row["Listed on"] == dt.datetime(2025, 8, 9)
    assert row["Last serviced"] == dt.datetime(2025, 12, 6, 14, 30)  # Europe/Paris wall time, as in the sheet
    assert row["Features"] == "Sunroof,Navigation" and row["Owner email"] == "farid.haddad@example.com"
    record = next(r for r in client.list_records(CARS, properties=["vin"]) if r.properties["vin"] == VIN)
    assert row["Record ID"] == record.id


@pytest.mark.parametrize("suffix", ["xlsx", "csv"])
def test_an_exported_sheet_pushed_back_unchanged_plans_no_change(run, suffix):
    assert run("export", "mappings/cars.yaml", "-o", f"out.{suffix}").exit_code == 0
    plan = run("plan", "mappings/cars.yaml", "--source", f"out.{suffix}", "--json")
    assert plan.exit_code == 0, plan.output
    assert json.loads(plan.stdout)["counts"]["unchanged"] == 300


@pytest.mark.parametrize("suffix", ["xlsx", "csv"])
def test_an_edited_export_pushes_exactly_the_edits(run, suffix, client):
    assert run("export", "mappings/cars.yaml", "-o", f"out.{suffix}").exit_code == 0
    if suffix == "xlsx":
        book = openpyxl.load_workbook("out.xlsx")
        ws = book.active
        ws["E2"] = 1234  # Listing price
        ws.append(["NEWROWFROMEXCEL01", "Kia", "Ceed", 2023])
        book.save("out.xlsx")
    else:
        rows = list(csv_rows("out.csv").values())
        rows[0]["Listing price"] = "1234"
        rows.append({**{k: "" for k in rows[0]}, "VIN": "NEWROWFROMEXCEL01", "Make": "Kia", "Model": "Ceed",
                     "Year": "2023"})
        with open("out.csv", "w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    plan = json.loads(run("plan", "mappings/cars.yaml", "--source", f"out.{suffix}", "--json").stdout)
    assert plan["counts"] == {"create": 1, "update": 1, "unchanged": 299, "archive": 0, "skip": 0, "error": 0}
    [update] = [a for a in plan["actions"] if a["action"] == "update"]
    assert list(update["changes"]) == ["price"] and update["changes"]["price"]["after"] == "1234"


@pytest.mark.parametrize("condition, expected", [
    ("year >= 2020", lambda r: int(r["Year"]) >= 2020),
    ("Colour = Red", lambda r: r["Colour"] == "Red"),
    ("make in Ford,Tesla", lambda r: r["Make"] in ("Ford", "Tesla")),
    ("price between 10000 20000", lambda r: 10000 <= float(r["Listing price"]) <= 20000),
], ids=["gte", "label", "in", "between"])
def test_where_exports_exactly_the_matching_records(run, condition, expected):
    everything = csv_rows("sample_data/cars.csv")
    result = run("export", "mappings/cars.yaml", "-o", "some.csv", "--where", condition)
    assert result.exit_code == 0, result.output
    wanted = {vin for vin, r in everything.items() if expected(r)}
    assert set(csv_rows("some.csv")) == wanted and wanted


def test_a_bad_condition_names_the_fix(run):
    result = run("export", "mappings/cars.yaml", "-o", "x.csv", "--where", "colour = Red")
    assert result.exit_code == 2
    assert 'no column or property "colour"; did you mean "Colour"?' in result.output
    bad_value = run("export", "mappings/cars.yaml", "-o", "x.csv", "--where", "year > soon")
    assert bad_value.exit_code == 2 and '"soon" is not a number' in bad_value.output


def test_all_properties_and_archived(run, client):
    [record] = [r for r in client.list_records(CARS, properties=["vin"]) if r.properties["vin"] == VIN]
    assert client.batch_archive(CARS, [record.id])[0].ok
    result = run("export", "mappings/cars.yaml", "-o", "gone.csv", "--archived", "--all-properties")
    assert result.exit_code == 0, result.output
    rows = csv_rows("gone.csv")
    assert list(rows) == [VIN] and rows[VIN]["hs_object_id"] == record.id


def test_export_streams_chunks_reporting_progress(run, client, tmp_path):
    from syncer.export import export

    seen = []
    summary = export(tmp_path / "mappings" / "cars.yaml", client, tmp_path / "out.xlsx", on_progress=seen.append,
                     chunk_records=120)
    assert seen == [120, 240, 300] and summary.records == 300
    ws = openpyxl.load_workbook(tmp_path / "out.xlsx").active
    assert ws.max_row == 301 and ws.auto_filter.ref == f"A1:{ws.cell(1, ws.max_column).column_letter}301"
    assert ws["A1"].font.bold and ws.freeze_panes == "A2"
    owner = next(c.column_letter for c in ws[1] if c.value == "Owner email")
    assert ws.column_dimensions[owner].width > 20  # fitted to the first chunk's e-mail addresses
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".out")] == []


def test_export_to_a_missing_folder_names_the_file(run):
    result = run("export", "mappings/cars.yaml", "-o", "nowhere/out.csv")
    assert result.exit_code == 2
    assert "out.csv: cannot write here (no folder nowhere)" in result.output
