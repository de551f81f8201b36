"""The review workbook in the sheet's own language (`syncer plan --review`), against the sandbox: the
sheet's column names, values as the sheet shows them (and as export writes them: they read back as
the plan's values), cleared values marked, archived records' current values, a Summary with a chart,
and a workbook edited and saved as Excel saves it that still applies exactly its approved rows."""

from __future__ import annotations

import datetime as dt
import json

import openpyxl
import pandas as pd
from openpyxl.utils import get_column_letter

import syncer
from conftest import on_small_csv, sheet_rows, write_sheet
from syncer import plan, planfiles, report, tables, values
from test_trust_features import CARS, cars

LONG_NUMBER = "12345678901234567890"  # more digits than Excel keeps: a text cell of its exact digits


def edit(project, change) -> list[dict]:
    """Apply `change(rows)` to the project's CSV sheet; returns the rows written."""
    sheet = project / "sample_data" / "cars.csv"
    rows = sheet_rows(sheet)
    change(rows)
    write_sheet(sheet, rows)
    return rows


def set_mapping(project, old, new):
    mapping = project / "mappings" / "cars.yaml"
    mapping.write_text(mapping.read_text().replace(old, new))


def sheet_lines(ws) -> list[dict]:
    header = [c.value for c in ws[1]]
    return [dict(zip(header, line)) for line in ws.iter_rows(min_row=2, values_only=True)]


def rules(ws, column_name):
    """The conditional formats of one column of a review sheet: formula → rule."""
    header = [c.value for c in ws[1]]
    letter = get_column_letter(header.index(column_name) + 1)
    return {rule.formula[0]: rule for rule in ws.conditional_formatting[f"{letter}2:{letter}{ws.max_row}"]}


def letter(ws, column_name) -> str:
    return get_column_letter([c.value for c in ws[1]].index(column_name) + 1)


def changed_sheet(run, project) -> tuple[list[dict], list[dict]]:
    """Four cars pushed, then a reviewer's worth of edits: the first two rows changed (one value
    cleared), one new row with a formula-like owner and a price longer than Excel keeps. Returns the
    rows before and after the edits."""
    on_small_csv(project, 4)
    pushed = sheet_rows(project / "sample_data" / "cars.csv")
    set_mapping(project, "blank_cells: keep", "blank_cells: clear")
    assert run("push", "mappings/cars.yaml", "--yes").exit_code == 0

    def change(rows):
        rows[0].update({"Listing price": "19999.5", "Colour": "Dark blue", "Owner": "",
                        "Features": "Navigation,Bluetooth"})
        rows[1].update({"Available": "No", "Last serviced": "2026-03-01 10:00", "Listed on": "01/03/2026"})
        rows.append(dict(rows[2], VIN="NEWVIN0000000001", Owner="=HYPERLINK(\"http://x.invalid\")",
                         **{"Listing price": LONG_NUMBER}))

    return pushed, edit(project, change)


def test_the_review_speaks_the_sheets_language_and_marks_what_is_cleared(run, project, client):
    pushed, rows = changed_sheet(run, project)
    planned = run("plan", "mappings/cars.yaml", "--review", "review.xlsx", "-o", "plan.json")
    assert planned.exit_code == 0, planned.output
    book = openpyxl.load_workbook(project / "review.xlsx")
    assert [s for s in book.sheetnames if book[s].sheet_state == "visible"] == ["Summary", "Create", "Update"]

    update = book["Update"]
    assert [c.value for c in update[1]] == [
        "row", "key", "record_id", "Listing price (before)", "Listing price (after)", "Colour (before)",
        "Colour (after)", "Listed on (before)", "Listed on (after)", "Features (before)", "Features (after)",
        "Available (before)", "Available (after)", "Owner (before)", "Owner (after)",
        "Last serviced (before)", "Last serviced (after)", "approve", "plan_action"]
    first, second = sheet_lines(update)
    # option labels, real numbers, the mapping's multi-select separator, booleans as cells
    assert (first["Listing price (before)"], first["Listing price (after)"]) == (24800, 19999.5)
    assert (first["Colour (before)"], first["Colour (after)"]) == ("Silver", "Dark blue")
    assert (first["Features (before)"], first["Features (after)"]) == ("Sunroof,Navigation", "Navigation,Bluetooth")
    assert (second["Available (before)"], second["Available (after)"]) == (True, False)
    # dates as dates, datetimes as the wall-clock time in the mapping's zone (Europe/Paris), not UTC text
    assert second["Listed on (after)"] == dt.datetime(2026, 3, 1)
    assert (second["Last serviced (before)"], second["Last serviced (after)"]) == (
        dt.datetime(2025, 7, 2, 9, 30), dt.datetime(2026, 3, 1, 10, 0))
    # a cleared value: blank after, in red; its before struck through; values sent in yellow
    assert (first["Owner (before)"], first["Owner (after)"]) == (pushed[0]["Owner"], None)
    after, before = letter(update, "Owner (after)"), letter(update, "Owner (before)")
    cleared = f"AND(LEN({after}2)=0,LEN({before}2)>0)"
    assert rules(update, "Owner (after)")[cleared].dxf.fill.end_color.rgb.endswith("FFC7CE")
    assert rules(update, "Owner (after)")[f"LEN({after}2)>0"].dxf.fill.end_color.rgb.endswith("FFEB9C")
    assert rules(update, "Owner (before)")[cleared].dxf.font.strike
    assert not any(name.endswith("(before)") and f"LEN({letter(update, name)}2)>0" in rules(update, name)
                   for name in [c.value for c in update[1]])

    create = book["Create"]
    [new] = sheet_lines(create)
    owner = create.cell(2, [c.value for c in create[1]].index("Owner") + 1)
    assert owner.value == '=HYPERLINK("http://x.invalid")' and owner.data_type == "s"  # text, never a formula
    assert new["Listing price"] == LONG_NUMBER and new["Colour"] == rows[2]["Colour"]

    for ws in (book["Summary"], create, update):  # made to be looked at: frozen header, filters, fitted widths
        assert ws.freeze_panes == "A2" and ws.auto_filter.ref.startswith("A1:")
        assert ws.column_dimensions["B"].width > 8
    summary = {line["item"]: line["value"] for line in sheet_lines(book["Summary"])}
    document = json.loads((project / "plan.json").read_text())
    assert summary["object"] == f"cars ({CARS})" and summary["id property"] == "vin (column VIN)"
    assert summary["portal"] == f"portal {document['hub_id']}" and summary["mode"] == "upsert"
    assert summary["create rows"] == 1 and summary["update rows"] == 2 and summary["unchanged rows"] == 2
    assert summary["cost"].startswith(f"Cost: {document['estimate']['total_calls']} API calls")
    assert len(summary["plan digest"]) == 64 and summary["highlighted"] and summary["red"]
    [chart] = book["Summary"]._charts
    counted = [n for n, line in enumerate(sheet_lines(book["Summary"]), start=2) if line["item"].endswith(" rows")]
    assert chart.series[0].val.numRef.f == f"'Summary'!$B${counted[0]}:$B${counted[-1]}"
    assert len(counted) == len(plan.ActionKind)

    applied = run("apply", "review.xlsx", "--yes")
    assert applied.exit_code == 0, applied.output
    now = cars(client, "price", "owner", "color")
    assert now[rows[0]["VIN"]].properties["price"] == "19999.5" and not now[rows[0]["VIN"]].properties.get("owner")
    assert now["NEWVIN0000000001"].properties["price"] == LONG_NUMBER


def test_the_values_shown_read_back_as_the_plans_values(run, project, client):
    """The law for reviews: every cell shown reads back, through the mapping, as the value the plan sends."""
    changed_sheet(run, project)
    assert run("plan", "mappings/cars.yaml", "--review", "review.xlsx", "-o", "plan.json").exit_code == 0
    document = json.loads((project / "plan.json").read_text())
    sent = {a["key"]: {p: c["after"] for p, c in a["changes"].items()} for a in document["actions"] if "changes" in a}
    m = syncer.load_mapping(project / "mappings" / "cars.yaml")
    definitions = {p["name"]: p for p in client.properties(CARS)}
    checked = 0
    for name, suffix in (("Create", ""), ("Update", " (after)")):
        shown = tables.read(project / "review.xlsx", sheet=name).frame
        for column, spec in m.columns.items():
            if column + suffix not in shown:
                continue
            read = values.convert(shown[column + suffix], definitions[spec.property], spec).canonical
            for key, value in zip(shown["key"], read):
                if spec.property in sent[key] and sent[key][spec.property] != "":
                    assert value == sent[key][spec.property], (name, column, key)
                    checked += 1
    assert checked >= 15


def test_the_archive_sheet_shows_each_records_current_values(run, project, client):
    on_small_csv(project, 4)
    assert run("push", "mappings/cars.yaml", "--yes").exit_code == 0
    rows = edit(project, lambda rows: rows.pop(1))  # the Volkswagen Polo of row 3
    planned = run("plan", "mappings/cars.yaml", "--mode", "mirror", "--allow-mass-archive", "--review", "review.xlsx")
    assert planned.exit_code == 0, planned.output
    archive = openpyxl.load_workbook(project / "review.xlsx")["Archive"]
    [line] = sheet_lines(archive)
    record = cars(client)[line["key"]]
    assert line["key"] not in {r["VIN"] for r in rows} and line["record_id"] == record.id
    assert line["row"] is None and line["approve"] == "yes"
    assert line["Make"] == "Volkswagen" and line["Colour"] == "Red"  # the label, not the option value red
    assert line["Listing price"] == 12400 and line["Available"] is True
    assert line["Features"] == "Sunroof,Navigation,Backup camera,Leather seats"
    assert line["Listed on"] == dt.datetime(2025, 11, 2) and line["Last serviced"] == dt.datetime(2025, 7, 2, 9, 30)
    applied = run("apply", "review.xlsx", "--yes")
    assert applied.exit_code == 0, applied.output
    assert line["key"] not in cars(client)


def test_a_review_edited_and_saved_as_excel_saves_it_applies_only_its_approved_rows(run, project, client):
    """Excel rewrites the whole file on save: shared strings for inline ones, numbers as numbers,
    rows sorted or filtered as the reviewer left them. The hidden plan stays the truth: declined rows
    are skipped, and an edit to a value shown changes nothing sent."""
    on_small_csv(project, 6)
    assert run("push", "mappings/cars.yaml", "--yes").exit_code == 0

    def change(rows):
        for line in rows[:4]:
            line["Listing price"] = str(int(line["Listing price"]) + 100)
        rows.append(dict(rows[5], VIN="NEWVIN0000000001"))
        rows.append(dict(rows[5], VIN="NEWVIN0000000002"))

    rows = edit(project, change)
    assert run("plan", "mappings/cars.yaml", "--review", "review.xlsx").exit_code == 0
    book = openpyxl.load_workbook(project / "review.xlsx")
    update = book["Update"]
    header = [c.value for c in update[1]]
    lines = sorted(update.iter_rows(min_row=2, values_only=True), key=lambda line: line[1], reverse=True)
    for number, line in enumerate(lines, start=2):  # sorted by key, descending, as a filter's sort does
        for position, value in enumerate(line, start=1):
            update.cell(number, position).value = value
    declined, edited = lines[0][1], lines[1][1]
    update.cell(2, header.index("approve") + 1).value = "No"
    update.cell(3, header.index("Listing price (after)") + 1).value = 1  # a reviewer's edit of a shown value
    update.cell(1, len(header) + 1).value = "reviewer note"
    update.cell(3, len(header) + 1).value = "checked"
    create = book["Create"]
    create_header = [c.value for c in create[1]]
    create.cell(3, create_header.index("approve") + 1).value = "n"
    declined_new = create.cell(3, create_header.index("key") + 1).value
    book.save(project / "review.xlsx")

    applied = run("apply", "review.xlsx", "--yes", "--report", "report.csv")
    assert applied.exit_code == 0, applied.output
    now = cars(client, "price")
    wanted = {r["VIN"]: r["Listing price"] for r in rows}
    assert now[edited].properties["price"] == wanted[edited]  # the plan's value, not the edited cell
    assert now[declined].properties["price"] == str(int(wanted[declined]) - 100)
    assert declined_new not in now and ({"NEWVIN0000000001", "NEWVIN0000000002"} - {declined_new}) <= set(now)
    skipped = {r["key"] for r in sheet_rows(project / "report.csv") if r["outcome"] == "skipped"}
    assert skipped == {declined, declined_new}


def test_an_option_no_cell_can_name_shows_as_its_value_and_a_column_named_like_a_review_column_is_kept_apart(
        tmp_path):
    """A review never fails where the plan works: HubSpot may hold an option that no text of the
    column reads back as (export refuses it; a review shows its value). A sheet column named `key`
    does not take the place of the review's own key column."""
    options = [{"value": "a", "label": "L"}, {"value": "b", "label": "L"}, {"value": "c", "label": "b"}]
    display = {"object": "cars",
               "columns": {"VIN": {"property": "vin"}, "key": {"property": "make"}, "Colour": {"property": "color"}},
               "properties": [{"name": "vin", "type": "string", "fieldType": "text"},
                              {"name": "make", "type": "string", "fieldType": "text"},
                              {"name": "color", "type": "enumeration", "fieldType": "select", "options": options}]}
    local = pd.DataFrame({"vin": ["OLD1", "NEW1"], "make": [None, "Ford"], "color": ["a", "c"]}, index=[2, 3])
    remote = pd.DataFrame({"id": ["7"], "updated_at": ["t"], "make": ["Kia"], "color": ["b"]}, index=["OLD1"])
    built = plan.build(local, remote, object_type=CARS, id_property="vin", meta=plan.PlanMeta(display=display))
    report.write_review(built, tmp_path / "review.xlsx")
    book = openpyxl.load_workbook(tmp_path / "review.xlsx")
    [update] = sheet_lines(book["Update"])
    assert (update["Colour (before)"], update["Colour (after)"]) == ("b", "L")
    [create] = sheet_lines(book["Create"])
    assert create["key"] == "NEW1" and create["key (column)"] == "Ford" and create["Colour"] == "b"
    document, approved = planfiles.read_review(tmp_path / "review.xlsx")
    assert approved == {0, 1} and document["display"] == display
