"""Two-way sync through the CLI against the sandbox: the classic cases, each for xlsx and CSV."""

from __future__ import annotations

import csv
import datetime as dt
import os
import signal
import subprocess
import sys

import openpyxl
import pytest
from click.testing import CliRunner

from conftest import copy_project, snapshot_path
from syncer.cli import cli
from syncer.sandbox import Sandbox

CARS = "2-3465404"
FORMATS = ["xlsx", "csv"]


class Sheet:
    """The synced sheet, edited as a person would (openpyxl for xlsx, the csv module for CSV)."""

    def __init__(self, path):
        self.path = path
        self.xlsx = path.suffix == ".xlsx"

    def rows(self) -> dict[str, dict]:
        """VIN → {column: cell}; CSV cells are text, xlsx cells typed."""
        if self.xlsx:
            ws = openpyxl.load_workbook(self.path)["Inventory"]
            header = [c.value for c in ws[1]]
            found = [dict(zip(header, [c.value for c in r])) for r in ws.iter_rows(min_row=2)]
        else:
            with open(self.path, newline="", encoding="utf-8") as f:
                found = list(csv.DictReader(f))
        return {r["VIN"]: r for r in found if r.get("VIN")}

    def set(self, vin: str, column: str, value) -> None:
        if self.xlsx:
            book = openpyxl.load_workbook(self.path)
            ws = book["Inventory"]
            header = [c.value for c in ws[1]]
            row = next(r for r in ws.iter_rows(min_row=2) if r[0].value == vin)
            row[header.index(column)].value = value
            book.save(self.path)
        else:
            rows = list(self.rows().values())
            for r in rows:
                if r["VIN"] == vin:
                    r[column] = "" if value is None else str(value)
            self._write_csv(rows)

    def delete(self, vin: str) -> None:
        if self.xlsx:
            book = openpyxl.load_workbook(self.path)
            ws = book["Inventory"]
            number = next(r[0].row for r in ws.iter_rows(min_row=2) if r[0].value == vin)
            ws.delete_rows(number)
            book.save(self.path)
        else:
            self._write_csv([r for r in self.rows().values() if r["VIN"] != vin])

    def append(self, cells: dict) -> None:
        if self.xlsx:
            book = openpyxl.load_workbook(self.path)
            ws = book["Inventory"]
            header = [c.value for c in ws[1]]
            ws.append([cells.get(h) for h in header])
            book.save(self.path)
        else:
            rows = list(self.rows().values())
            self._write_csv(rows + [{k: cells.get(k, "") for k in rows[0]}])

    def _write_csv(self, rows) -> None:
        with open(self.path, "w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)


ROWS = 30  # of the sample's 300: enough for every case, and each test stays quick


def cut(path, rows: int = ROWS) -> None:
    """Keep the sheet's first `rows` rows (an xlsx keeps its formatting and other sheets)."""
    if path.suffix == ".xlsx":
        book = openpyxl.load_workbook(path)
        book["Inventory"].delete_rows(rows + 2, book["Inventory"].max_row)
        book.save(path)
    else:
        lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
        path.write_text("".join(lines[:rows + 1]), encoding="utf-8")


@pytest.fixture(params=FORMATS)
def sheet(request, project):
    """The sample sheet cut to ROWS rows, in one format, named by the mapping as its source."""
    mapping = project / "mappings" / "cars.yaml"
    if request.param == "csv":
        mapping.write_text(mapping.read_text().replace("cars.xlsx", "cars.csv").replace("sheet: Inventory\n", ""))
    path = project / "sample_data" / f"cars.{request.param}"
    cut(path)
    return Sheet(path)


@pytest.fixture
def sync(sandbox, project, monkeypatch):
    """Run `syncer sync` in the project folder against the sandbox; returns click's Result."""
    monkeypatch.chdir(project)

    def invoke(*args):
        return CliRunner().invoke(cli, ["sync", "mappings/cars.yaml", *args,
                                        "--base-url", sandbox.base_url, "--token", sandbox.token])

    return invoke


def records(client, *properties):
    return {r.properties["vin"]: r for r in client.list_records(CARS, properties=["vin", *properties])}


def first_sync(sync):
    result = sync()
    assert result.exit_code == 0, result.output
    assert "First sync" in result.output
    return result


def edit_in_hubspot(client, vin, **properties):
    record = records(client)[vin]
    [answer] = client.batch_update(CARS, [{"id": record.id, "properties": properties}])
    assert answer.ok


VIN, OTHER = "SXK0HEVNTNKFHHKLE", "2WW7PUPR6WJKFUXMB"


def test_first_sync_pushes_the_sheet_and_a_quiet_resync_costs_three_calls(sync, sheet, client, sandbox):
    first_sync(sync)
    assert len(records(client)) == ROWS
    settle = sync("--margin", "0")  # reads the first sync's own writes back once
    assert "pushed 0" in settle.output and "pulled 0" in settle.output
    sandbox.clear_log()
    again = sync("--margin", "0")
    assert again.exit_code == 0, again.output
    assert "pushed 0" in again.output and "pulled 0" in again.output
    # which portal this is (the snapshot is that portal's), the search for changes and the archived
    # ids; properties come from the snapshot; no per-row call
    assert [(e.path.rsplit("/", 1)[-1], e.query) for e in sandbox.request_log] == [
        ("details", ""), ("search", ""), (CARS, "limit=100&archived=true")]


def test_edited_only_in_the_sheet_is_pushed(sync, sheet, client, sandbox):
    first_sync(sync)
    sheet.set(VIN, "Listing price", 31000)
    result = sync()
    assert result.exit_code == 0, result.output
    assert "pushed 1" in result.output
    assert records(client, "price")[VIN].properties["price"] == "31000"


def test_edited_only_in_hubspot_is_written_into_the_sheet_keeping_the_rest(sync, sheet, client):
    first_sync(sync)
    edit_in_hubspot(client, VIN, price="27500", color="blue", listing_date="2026-01-15")
    result = sync()
    assert result.exit_code == 0, result.output
    assert "pulled 3 cells" in result.output and "pushed 0" in result.output
    row = sheet.rows()[VIN]
    if sheet.xlsx:
        assert (row["Listing price"], row["Colour"], row["Listed on"]) == (27500, "Dark blue", dt.datetime(2026, 1, 15))
        book = openpyxl.load_workbook(sheet.path)
        assert book.sheetnames == ["Inventory", "About"] and book["Inventory"]["A1"].font.b
    else:
        assert (row["Listing price"], row["Colour"], row["Listed on"]) == ("27500", "Dark blue", "15/01/2026")
    assert sheet.rows()[OTHER]["Make"] == "Volkswagen"
    assert "pulled 0" in sync().output  # the pulled cells now read back as the snapshot holds them


def test_edited_on_both_sides_to_the_same_value_is_no_conflict(sync, sheet, client, sandbox):
    first_sync(sync)
    sheet.set(VIN, "Listing price", 29999)
    edit_in_hubspot(client, VIN, price="29999")
    result = sync()
    assert result.exit_code == 0, result.output
    assert "conflicts 0" in result.output and "pushed 0" in result.output and "pulled 0" in result.output


def test_edited_on_both_sides_to_different_values_is_a_conflict_until_settled(sync, sheet, client, project):
    first_sync(sync)
    sheet.set(VIN, "Listing price", 30000)
    edit_in_hubspot(client, VIN, price="35000")
    result = sync()
    assert result.exit_code == 1, result.output
    assert f"{VIN} price: sheet '30000', HubSpot '35000' (was '24800')" in result.output
    assert records(client, "price")[VIN].properties["price"] == "35000"
    if sheet.xlsx:
        conflicts = openpyxl.load_workbook(sheet.path)["Conflicts"]
        assert [c.value for c in conflicts[2]][1:] == [VIN, "price", "24800", "30000", "35000"]
    else:
        assert "price,24800,30000,35000" in (project / "sample_data" / "cars.conflicts.csv").read_text()
    assert sync().exit_code == 1  # still there: neither side was touched
    settled = sync("--prefer", "hubspot")
    assert settled.exit_code == 0, settled.output
    assert str(sheet.rows()[VIN]["Listing price"]) == "35000"
    if sheet.xlsx:
        assert "Conflicts" not in openpyxl.load_workbook(sheet.path).sheetnames
    else:
        assert not (project / "sample_data" / "cars.conflicts.csv").exists()


def test_prefer_sheet_pushes_the_sheet_value(sync, sheet, client):
    first_sync(sync)
    sheet.set(VIN, "Listing price", 30000)
    edit_in_hubspot(client, VIN, price="35000")
    assert sync("--prefer", "sheet").exit_code == 0
    assert records(client, "price")[VIN].properties["price"] == "30000"


def test_archived_in_hubspot_is_marked_and_not_recreated(sync, sheet, client):
    first_sync(sync)
    [answer] = client.batch_archive(CARS, [records(client)[VIN].id])
    assert answer.ok
    result = sync()
    assert result.exit_code == 0, result.output
    assert "marked 1 archived" in result.output
    assert sheet.rows()[VIN]["sync_status"] == "archived in HubSpot"
    again = sync()
    assert "pushed 0" in again.output and "marked 0" in again.output
    assert VIN not in records(client)


def test_deleted_from_the_sheet_archives_only_in_mirror_mode(sync, sheet, client, project):
    first_sync(sync)
    sheet.delete(VIN)
    kept = sync()
    assert kept.exit_code == 0, kept.output
    assert VIN in records(client) and VIN not in sheet.rows()  # upsert mode: not archived, not re-added
    mapping = project / "mappings" / "cars.yaml"
    mapping.write_text(mapping.read_text().replace("mode: upsert", "mode: mirror"))
    mirrored = sync("--yes")  # archiving asks first (see test_sync_trust.py)
    assert mirrored.exit_code == 0, mirrored.output
    assert "archived 1" in mirrored.output
    assert VIN not in records(client) and len(records(client)) == ROWS - 1


def test_new_record_in_hubspot_is_appended_and_a_key_created_on_both_sides_merges(sync, sheet, client):
    first_sync(sync)
    client.batch_upsert(CARS, [{"id": "NEWHUBSPOT0000001", "properties": {"make": "Kia", "year": "2025"}},
                               {"id": "BOTHSIDES00000001", "properties": {"make": "Seat", "price": "9000"}}],
                        id_property="vin")
    sheet.append({"VIN": "BOTHSIDES00000001", "Make": "Seat", "Listing price": 9500, "Model": "Ibiza"})
    result = sync()
    assert result.exit_code == 1, result.output  # the price differs: a conflict; the rest merges
    assert "BOTHSIDES00000001 price: sheet '9500', HubSpot '9000' (was None)" in result.output
    rows = sheet.rows()
    assert str(rows["NEWHUBSPOT0000001"]["Year"]) == "2025" and rows["NEWHUBSPOT0000001"]["Make"] == "Kia"
    assert records(client, "model")["BOTHSIDES00000001"].properties["model"] == "Ibiza"
    assert len(rows) == ROWS + 2 and len(records(client)) == ROWS + 2


def test_a_property_cleared_on_either_side_is_cleared_on_the_other(sync, sheet, client):
    first_sync(sync)
    sheet.set(VIN, "Model", None)
    edit_in_hubspot(client, OTHER, model="")
    result = sync()
    assert result.exit_code == 0, result.output
    assert records(client, "model")[VIN].properties["model"] is None
    assert sheet.rows()[OTHER]["Model"] in (None, "")


def test_first_sync_fills_blank_cells_from_hubspot_and_keeps_a_semicolon_csv(sync, project, client):
    mapping = project / "mappings" / "cars.yaml"
    mapping.write_text(mapping.read_text().replace("cars.xlsx", "cars.csv").replace("sheet: Inventory\n", ""))
    path = project / "sample_data" / "cars.csv"
    cut(path)
    text = path.read_text(encoding="utf-8")
    rows = list(csv.reader(text.splitlines()))
    rows[1][2] = ""  # VIN's model left blank in the sheet
    rows[1][10] = "Zoë Müller"
    with open(path, "w", newline="", encoding="cp1252") as f:
        csv.writer(f, delimiter=";").writerows(rows)
    client.batch_upsert(CARS, [{"id": VIN, "properties": {"model": "Clio Ütopia"}}], id_property="vin")
    first_sync(sync)
    written = path.read_bytes().decode("cp1252")
    assert written.splitlines()[1].startswith(f"{VIN};Renault;Clio Ütopia;")
    assert ";Zoë Müller;" in written


def test_rows_with_bad_cells_are_left_alone_and_reported(sync, sheet, client, project):
    first_sync(sync)
    sheet.set(VIN, "Year", "twenty")
    mapping = project / "mappings" / "cars.yaml"
    mapping.write_text(mapping.read_text().replace("mode: upsert", "mode: mirror"))
    result = sync()
    assert result.exit_code == 1
    assert 'column "Year"' in result.output and "twenty" in result.output
    assert VIN in records(client)  # a held row never counts as deleted


# --- an interrupted sync --------------------------------------------------------------------------


@pytest.mark.parametrize("held", ["/batch/read", "/batch/upsert", "/batch/update"])
def test_a_sync_killed_mid_push_converges_with_no_lost_edit_and_no_duplicate(tmp_path, held):
    copy_project(tmp_path)
    mapping = tmp_path / "mappings" / "cars.yaml"
    mapping.write_text(mapping.read_text().replace("cars.xlsx", "cars.csv").replace("sheet: Inventory\n", ""))
    sheet = Sheet(tmp_path / "sample_data" / "cars.csv")
    cut(sheet.path)
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUBSPOT_")}
    with Sandbox() as portal:
        args = ["sync", str(mapping), "--base-url", portal.base_url, "--token", portal.token]
        assert CliRunner().invoke(cli, args).exit_code == 0
        snapshot = snapshot_path(mapping).read_bytes()
        sheet.set(VIN, "Listing price", 11111)
        sheet.append({"VIN": "KILLEDMIDSYNC0001", "Make": "Dacia"})
        from syncer.hubspot import HubSpotClient

        with HubSpotClient(portal.base_url, portal.token) as client:
            edit_in_hubspot(client, OTHER, price="22222")
        gate = portal.hold("POST", held)  # the read of the new key, its create, or the update
        run = subprocess.Popen([sys.executable, "-m", "syncer", *args], cwd=tmp_path, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert gate.reached.wait(60), run.communicate()
        run.send_signal(signal.SIGKILL)
        run.communicate(timeout=30)
        gate.release()
        assert snapshot_path(mapping).read_bytes() == snapshot
        rerun = CliRunner().invoke(cli, args)
        assert rerun.exit_code == 0, rerun.output
        with HubSpotClient(portal.base_url, portal.token) as client:
            found = records(client, "price")
            listed = [r.properties["vin"] for r in client.list_records(CARS, properties=["vin"])]
        assert len(listed) == len(set(listed)) == ROWS + 1
        assert found[VIN].properties["price"] == "11111" and "KILLEDMIDSYNC0001" in found
        assert sheet.rows()[OTHER]["Listing price"] == "22222"
        quiet = CliRunner().invoke(cli, args)
        assert "pushed 0" in quiet.output and "pulled 0" in quiet.output and quiet.exit_code == 0


def test_a_version_1_snapshot_is_upgraded_and_keeps_both_sides_edits(sync, sheet, project, client):
    import sqlite3

    first_sync(sync)
    path = snapshot_path(project / "mappings" / "cars.yaml")
    with sqlite3.connect(path) as db:  # version 1's layout: no updatedAt per record
        db.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'")
        db.execute("ALTER TABLE records DROP COLUMN updated_at")
    db.close()
    sheet.set(VIN, "Listing price", 12345)
    edit_in_hubspot(client, OTHER, mileage="777")
    result = sync()
    assert result.exit_code == 0, result.output
    assert "pushed 1" in result.output and "pulled 1 cells" in result.output
    assert records(client, "price")[VIN].properties["price"] == "12345"
    assert str(sheet.rows()[OTHER]["Mileage (km)"]) == "777"
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == ("2",)
    db.close()


def test_a_snapshot_of_an_unknown_schema_version_is_refused_with_the_fix(sync, project):
    import sqlite3

    first_sync(sync)
    path = snapshot_path(project / "mappings" / "cars.yaml")
    with sqlite3.connect(path) as db:
        db.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    db.close()
    result = sync()
    assert result.exit_code == 2
    assert result.output == (
        f"Error: {path}: a sync snapshot of schema version 99, not 2 (another syncer version wrote it); "
        "delete it to start over: the next sync is then a first sync, which pushes the sheet and fills its blank "
        "cells from HubSpot\n")
