"""The results report as a workbook to act on (`--report report.xlsx`) and the errors file (`--errors`),
against the sandbox: a Summary first, then the failed rows with the sheet's cells beside HubSpot's
error, then every row; and the failed rows in the sheet's own columns, fixed there and pushed again
with --retry-failed."""

from __future__ import annotations

import json

import openpyxl
import pandas as pd
import pytest

import syncer
from conftest import on_small_csv, sheet_rows, write_sheet
from syncer import report, tables
from syncer.errors import InputError
from test_trust_features import CARS, cars

MAPPING = "mappings/cars.yaml"
BROKEN = "sample_data/cars_with_errors.csv"  # nine broken cells on ten rows (sample_data/README.md)
BROKEN_ROWS = [2, 5, 9, 12, 17, 21, 26, 30, 33, 38]
FIXES = {"Year": ("20x4", "2014"), "Colour": ("Purple", "Red"), "Listed on": ("31/02/2026", "28/02/2026"),
         "Features": ("Sunroof,Jetpack", "Sunroof"), "Available": ("maybe", "No"),
         "Last serviced": ("yesterday", "2026-01-05 10:00"), "Listing price": ("52,000", "52000")}


def sheet_lines(ws) -> list[dict]:
    header = [c.value for c in ws[1]]
    return [dict(zip(header, line)) for line in ws.iter_rows(min_row=2, values_only=True)]


def blank(value):
    """A cell as a comparison sees it: None for any blank."""
    return None if value is None or value == "" or (isinstance(value, float) and pd.isna(value)) else value


def same_cells(shown: pd.DataFrame, source: pd.DataFrame, rows: list[int]) -> None:
    """The cells `shown` (read back from what syncer wrote) are the source's cells of `rows`, exactly."""
    for column in source.columns:
        assert [blank(v) for v in shown[column]] == [blank(v) for v in source.loc[rows, column]], column


def test_an_xlsx_report_opens_on_a_summary_then_the_failures_with_their_cells(run, project):
    source = project / BROKEN
    rows = sheet_rows(source)
    rows[3]["Notes"] = "=1+1"  # on row 5, whose Year is broken: text, never a formula
    write_sheet(source, rows)
    pushed = run("push", MAPPING, "--source", BROKEN, "--yes", "--report", "report.xlsx", "--json")
    assert pushed.exit_code == 1, pushed.output
    document = json.loads(pushed.stdout)["results"]
    book = openpyxl.load_workbook(project / "report.xlsx")
    assert book.sheetnames == ["Summary", "Failures", "Results"]

    summary = {line["item"]: line["value"] for line in sheet_lines(book["Summary"])}
    assert summary["portal"] == f"portal {document['hub_id']}" and summary["run id"] == document["run_id"]
    assert summary["created"] == 290 and summary["failed"] == 10 and summary["conflict"] == 0
    assert summary["API calls made"] == document["calls"] == summary["API calls estimated"]
    assert summary["time taken"].endswith(" s") and summary["interrupted"] == "no"
    assert summary["failed rows' cells"] == "on Failures, beside the error, for 10 of the 10 failed rows"
    [chart] = book["Summary"]._charts
    counted = [n for n, line in enumerate(sheet_lines(book["Summary"]), start=2)
               if line["item"] in {o.value for o in syncer.Outcome}]
    assert chart.series[0].val.numRef.f == f"'Summary'!$B${counted[0]}:$B${counted[-1]}" and len(counted) == 7

    failures = book["Failures"]
    sheet = tables.read(source)
    assert [c.value for c in failures[1]] == report.FAILURE_COLUMNS + sheet.header
    lines = sheet_lines(failures)
    assert [line["row"] for line in lines] == BROKEN_ROWS
    year = lines[1]
    assert (year["Year"], year["outcome"], year["error_category"]) == ("20x4", "failed", "INVALID_INPUT")
    assert '"20x4" is not a number' in year["error_message"]
    note = failures.cell(3, [c.value for c in failures[1]].index("Notes") + 1)
    assert note.value == "=1+1" and note.data_type == "s"
    same_cells(tables.read(project / "report.xlsx", sheet="Failures").frame, sheet.frame, BROKEN_ROWS)
    outcome = openpyxl.utils.get_column_letter(report.FAILURE_COLUMNS.index("outcome") + 1)
    rules = {rule.formula[0]: rule for rule in failures.conditional_formatting[f"{outcome}2:{outcome}11"]}
    assert rules['"failed"'].dxf.font.b and rules['"failed"'].dxf.fill.end_color.rgb.endswith("FFC7CE")
    for ws in book.worksheets:
        assert ws.freeze_panes == "A2" and ws.auto_filter.ref.startswith("A1:")
    assert book["Results"].max_row == 301
    assert report.read_results(project / "report.xlsx").counts() == document["counts"]


@pytest.mark.parametrize("suffix", ["csv", "xlsx"])
def test_the_errors_file_holds_the_failed_rows_in_the_sheets_columns_to_fix_and_push_again(run, project, client,
                                                                                          suffix):
    errors = project / f"errors.{suffix}"
    pushed = run("push", MAPPING, "--source", BROKEN, "--yes", "--report", "report.csv", "--errors", errors.name)
    assert pushed.exit_code == 1, pushed.output
    assert f"errors.{suffix}" in pushed.output
    source = tables.read(project / BROKEN)
    written = tables.read(errors, sheet="Inventory")  # the mapping's sheet, for an xlsx: it reads the file as the sheet
    assert written.header == source.header + list(report.STATUS_COLUMNS)
    same_cells(written.frame, source.frame, BROKEN_ROWS)
    assert set(written.frame["sync_status"]) == {"failed"}
    assert written.frame["sync_error"].str.contains("20x4").sum() == 1

    if suffix == "csv":  # fix the cells in the errors file, as a person would
        rows = sheet_rows(errors)
        for line in rows:
            for column, (bad, good) in FIXES.items():
                line[column] = good if line[column] == bad else line[column]
        write_sheet(errors, rows)
    else:
        book = openpyxl.load_workbook(errors)
        sheet = book["Inventory"]
        header = [c.value for c in sheet[1]]
        for line in sheet.iter_rows(min_row=2):
            for column, (bad, good) in FIXES.items():
                cell = line[header.index(column)]
                cell.value = good if cell.value == bad else cell.value
        book.save(errors)
    retried = run("push", MAPPING, "--source", errors.name, "--retry-failed", "report.csv", "--yes")
    assert retried.exit_code == 1, retried.output  # the repeated key and the row without one are still to fix
    ledger = sheet_rows(project / "report.csv")
    assert len(ledger) == 300 and [r["outcome"] for r in ledger].count("created") == 297
    # still failed: the repeated key (rows 2 and 9 of the errors file) and the row without a key (not retried)
    assert sorted(int(r["row"]) for r in ledger if r["outcome"] == "failed") == [2, 9, 26]
    fixed = cars(client, "year", "color")
    assert fixed["SXVYUJK18RE0Z57CG"].properties["year"] == "2014"
    assert fixed["ZZ47UK81Y196306J8"].properties["color"] == "red"


def test_a_ledger_merged_by_retry_failed_shows_cells_only_where_the_key_is_still_on_its_row(run, project):
    assert run("push", MAPPING, "--source", BROKEN, "--yes", "--report", "report.csv").exit_code == 1
    rows = sheet_rows(project / BROKEN)
    del rows[1]  # row 3, a good row: every row below it moves up
    write_sheet(project / BROKEN, rows)
    retried = run("push", MAPPING, "--source", BROKEN, "--retry-failed", "report.csv", "--report", "ledger.xlsx",
                  "--yes")
    assert retried.exit_code == 1, retried.output
    book = openpyxl.load_workbook(project / "ledger.xlsx")
    lines = {line["row"]: line for line in sheet_lines(book["Failures"])}
    assert lines[4]["Year"] == "20x4"  # retried: on its row in the sheet as it is now
    keyless = lines[26]  # not retried (it has no key): row 26 of the sheet it was read from, now another car's row
    assert keyless["key"] is None and keyless["VIN"] is None and keyless["Make"] is None
    summary = {line["item"]: line["value"] for line in sheet_lines(book["Summary"])}
    assert summary["failed rows' cells"].startswith("on Failures, beside the error, for 9 of the 10 failed rows")


def test_a_conflict_is_listed_with_its_cells(run, project, client):
    on_small_csv(project, 3)
    assert run("plan", MAPPING, "-o", "plan.json").exit_code == 0
    key = sheet_rows(project / "sample_data" / "cars.csv")[1]["VIN"]
    client.batch_upsert(CARS, [{"id": key, "idProperty": "vin", "properties": {"make": "Meanwhile"}}],
                        id_property="vin")
    applied = run("apply", "plan.json", "--yes", "--report", "report.xlsx")
    assert applied.exit_code == 1, applied.output
    [conflict] = sheet_lines(openpyxl.load_workbook(project / "report.xlsx")["Failures"])
    assert (conflict["row"], conflict["key"], conflict["VIN"]) == (3, key, key)
    assert conflict["outcome"] == "conflict" and conflict["error_category"] == "CONFLICT"
    assert conflict["Make"] == sheet_rows(project / "sample_data" / "cars.csv")[1]["Make"]


def test_a_sheet_saved_since_the_run_gives_no_cells_and_says_why(project, client, tmp_path):
    on_small_csv(project, 3)
    sheet = project / "sample_data" / "cars.csv"
    rows = sheet_rows(sheet)
    rows[0]["Year"] = "twenty"
    write_sheet(sheet, rows)
    built = syncer.build_plan(project / "mappings" / "cars.yaml", client)
    results = syncer.apply_plan(built, client)
    sheet.write_text(sheet.read_text() + "\n")  # saved again: its rows may have moved
    syncer.write_results(results, tmp_path / "report.xlsx")
    book = openpyxl.load_workbook(tmp_path / "report.xlsx")
    summary = {line["item"]: line["value"] for line in sheet_lines(book["Summary"])}
    assert summary["failed rows' cells"] == "not shown: cars.csv was changed since the run read it, so its rows may have moved"
    [failed] = sheet_lines(book["Failures"])
    assert list(failed) == report.FAILURE_COLUMNS and failed["row"] == 2
    with pytest.raises(InputError, match="the failed rows are not written: cars.csv was changed since"):
        report.write_errors(results, tmp_path / "errors.csv")
    assert not (tmp_path / "errors.csv").exists()


def test_csv_reports_and_the_xlsx_reports_of_earlier_syncers_read_back_as_before(tmp_path):
    outcomes = [syncer.RowOutcome(row=2, key="V1", action="create", outcome=syncer.Outcome.FAILED,
                                  error_category="INVALID_INPUT", error_message="bad"),
                syncer.RowOutcome(row=3, key="V2", action="create", outcome=syncer.Outcome.CREATED, record_id="9",
                                  changed=("make", "price"))]
    tables.write(syncer.Results(outcomes).to_frame(), tmp_path / "old.xlsx", sheet_name="Results")  # one sheet
    assert report.read_results(tmp_path / "old.xlsx").outcomes == outcomes
    report.write_results(syncer.Results(outcomes), tmp_path / "report.csv")
    assert list(sheet_rows(tmp_path / "report.csv")[0]) == ["row", "key", "action", "outcome", "as_planned",
                                                            "record_id", "changed", "error_category", "error_message"]
    report.write_results(syncer.Results(outcomes), tmp_path / "report.xlsx")  # no sheet: no cells, and no error
    summary = {line["item"]: line["value"] for line in sheet_lines(openpyxl.load_workbook(tmp_path / "report.xlsx")["Summary"])}
    assert summary["failed rows' cells"] == "not shown: the run read no sheet" and summary["failed"] == 1
    with pytest.raises(InputError, match="the failed rows are not written: the run read no sheet"):
        report.write_errors(syncer.Results(outcomes), tmp_path / "errors.csv")
    # nothing failed (an undo plan applied, say): a header alone, and no error
    assert report.write_errors(syncer.Results(outcomes[1:]), tmp_path / "errors.csv") == 0
    assert (tmp_path / "errors.csv").read_text() == ",".join(report.STATUS_COLUMNS) + "\n"


def test_an_errors_file_that_cannot_be_written_is_refused_before_anything_is_sent(run, project, client):
    refused = run("push", MAPPING, "--source", BROKEN, "--yes", "--errors", "errors.json")
    assert refused.exit_code == 2 and "a .csv or .xlsx file" in refused.output
    assert cars(client) == {}
