"""Reading CSV and xlsx into tables with the sheet's own row numbers; writing and editing in place."""

from __future__ import annotations

import codecs
import datetime as dt
import sys
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from openpyxl.styles import Font

from syncer import InputError, tables

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bad_inputs import rawxlsx  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
ROWS = [["VIN", "Make", "Note"], ["A1", "Citroën", "first"], ["B2", "Škoda", 'line one\nline "two"']]


def csv_text(delimiter: str) -> str:
    def quote(cell: str) -> str:
        return '"' + cell.replace('"', '""') + '"' if any(c in cell for c in f'{delimiter}"\n') else cell
    return "".join(delimiter.join(quote(c) for c in row) + "\r\n" for row in ROWS)


@pytest.mark.parametrize("encoding, bom", [("utf-8", b""), ("utf-8", codecs.BOM_UTF8), ("utf-16-le", codecs.BOM_UTF16_LE),
                                           ("utf-16-be", codecs.BOM_UTF16_BE), ("cp1252", b"")],
                         ids=["utf8", "utf8-bom", "utf16le", "utf16be", "cp1252"])
@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"], ids=["comma", "semicolon", "tab", "pipe"])
def test_read_csv_encodings_and_delimiters(tmp_path, encoding, bom, delimiter):
    path = tmp_path / "cars.csv"
    path.write_bytes(bom + csv_text(delimiter).encode(encoding))
    table = tables.read(path)
    assert table.header == ["VIN", "Make", "Note"]
    assert table.frame.loc[3].tolist() == ["B2", "Škoda", 'line one\nline "two"']
    assert table.frame.loc[2, "Make"] == "Citroën"
    assert list(table.frame.index) == [2, 3]
    assert table.delimiter == delimiter
    assert table.encoding in {"utf-8", "utf-8-sig", "utf-16", "cp1252"}


def test_csv_row_numbers_follow_the_sheet(tmp_path):
    path = tmp_path / "cars.csv"
    path.write_text('title line\nVIN,Make\nA,"multi\nline"\n\nB,Kia\n , \n', encoding="utf-8")
    table = tables.read(path, header_row=2)
    assert table.frame.to_dict("index") == {3: {"VIN": "A", "Make": "multi\nline"}, 5: {"VIN": "B", "Make": "Kia"}}
    assert len(table.digest) == 64


def test_read_xlsx_types_dates_formulas_and_errors(tmp_path):
    path = rawxlsx.write(tmp_path / "cars.xlsx", [
        [rawxlsx.text("A1", "VIN"), rawxlsx.text("B1", "Listed on"), rawxlsx.text("C1", "Price"), rawxlsx.text("D1", "Total")],
        [rawxlsx.text("A2", "V1"), rawxlsx.number("B2", 46037, date=True), rawxlsx.number("C2", 100),
         rawxlsx.number("D2", 200, formula="C2*2")],
        [rawxlsx.text("A3", "V2"), rawxlsx.error("B3"), rawxlsx.number("C3", 1.5), rawxlsx.error("D3", "#DIV/0!", formula="C3/0")],
    ], sheet="Inventory")
    table = tables.read(path, sheet="Inventory")
    assert table.frame.loc[2].tolist() == ["V1", dt.date(2026, 1, 15), 100, 200]  # formula: its cached value
    assert [str(e) for e in table.errors] == [
        'cars.xlsx, row 3, column "Listed on": the cell holds the Excel error #N/A',
        'cars.xlsx, row 3, column "Total": the cell holds the Excel error #DIV/0!']
    assert table.sheet == "Inventory"


def test_read_xlsx_sheet_by_position_and_header_row(tmp_path):
    workbook = openpyxl.Workbook()
    workbook.active.title = "Notes"
    data = workbook.create_sheet("Data")
    data.append(["exported 2026-01-15"])
    data.append([])
    data.append(["VIN", "Year"])
    data.append(["V1", 2020])
    workbook.save(tmp_path / "w.xlsx")
    table = tables.read(tmp_path / "w.xlsx", sheet=1, header_row=3)
    assert table.frame.to_dict("index") == {4: {"VIN": "V1", "Year": 2020}}


def test_sample_xlsx_reads_like_the_csv():
    xlsx = tables.read(REPO / "sample_data" / "cars.xlsx", sheet="Inventory")
    csv = tables.read(REPO / "sample_data" / "cars.csv")
    assert xlsx.header == csv.header and list(xlsx.frame.index) == list(csv.frame.index)
    assert len(xlsx.frame) == 300
    assert isinstance(xlsx.frame.loc[2, "Listed on"], dt.date)


# --- writing ---------------------------------------------------------------------------------


HOSTILE = ["=HYPERLINK(\"http://x\",\"y\")", "@SUM(A1)", "+cmd|' /C calc'!A0", "-2+3+cmd|' /C calc'!A0", "\t=1", "\r=1",
           "+44 20 7946 0958", "'hello"]  # Excel evaluates a phone number as a formula; an apostrophe is doubled
HARMLESS = ["-12.5", "+3", "1e5", "plain", ""]


def test_escape_formula():
    assert [tables.escape_formula(v) for v in HOSTILE] == ["'" + v for v in HOSTILE]
    assert [tables.escape_formula(v) for v in HARMLESS] == HARMLESS
    assert [tables.unescape_formula(tables.escape_formula(v)) for v in HOSTILE + HARMLESS] == HOSTILE + HARMLESS
    assert tables.escape_formula(5) == 5


def frame() -> pd.DataFrame:
    return pd.DataFrame({"VIN": ["V1", "V2"], "Listed on": [dt.date(2026, 1, 15), None], "Price": [52000, 1.5],
                         "Note": [HOSTILE[0], "+44 20 7946 0958"]}, dtype=object)


def test_write_csv_is_formula_safe(tmp_path):
    tables.write(frame(), tmp_path / "out.csv")
    text = (tmp_path / "out.csv").read_text(encoding="utf-8")
    assert "'=HYPERLINK" in text and ",'+44 20 7946 0958" in text
    back = tables.read(tmp_path / "out.csv").frame
    assert back.loc[2, "Price"] == "52000" and back["Note"].tolist() == [HOSTILE[0], "+44 20 7946 0958"]


def test_write_xlsx_styled_frozen_filtered_and_safe(tmp_path):
    path = tmp_path / "out.xlsx"
    tables.write(frame(), path, sheet_name="Cars")
    ws = openpyxl.load_workbook(path)["Cars"]
    assert ws.freeze_panes == "A2" and ws.auto_filter.ref == "A1:D3"
    assert ws["A1"].font.bold and ws["A1"].fill.fgColor.rgb.endswith("305496")
    assert ws.column_dimensions["D"].width > ws.column_dimensions["A"].width
    assert ws["D2"].data_type == "s" and ws["D2"].value == HOSTILE[0]  # stored as text, never a formula
    assert ws["B2"].is_date and ws["C2"].value == 52000
    back = tables.read(path)
    assert back.frame.loc[2, "Note"] == HOSTILE[0] and back.frame.loc[2, "Listed on"] == dt.date(2026, 1, 15)


# --- editing in place --------------------------------------------------------------------------


def formatted_workbook(path: Path) -> Path:
    workbook = openpyxl.Workbook()
    ws = workbook.active
    ws.title = "Inventory"
    ws.append(["VIN", "Price", "Double"])
    for i, price in enumerate([100, 200], start=2):
        ws.append([f"V{i}", price, f"=B{i}*2"])
        ws.cell(row=i, column=2).number_format = '#,##0 "€"'
    for cell in ws[1]:
        cell.font = Font(bold=True)
    workbook.create_sheet("Notes")["A1"] = "keep me"
    workbook.save(path)
    return path


def test_edit_workbook_in_place_keeps_formatting_formulas_and_sheets(tmp_path):
    path = formatted_workbook(tmp_path / "w.xlsx")
    tables.edit_workbook(path, sheet="Inventory", cells={(2, "Price"): 150, (3, "VIN"): "=evil()"},
                         append_rows=[{"VIN": "V4", "Price": 400}], add_columns=["sync_status"])
    tables.edit_workbook(path, cells={(4, "sync_status"): "created"})
    workbook = openpyxl.load_workbook(path)
    ws = workbook["Inventory"]
    assert [c.value for c in ws[1]] == ["VIN", "Price", "Double", "sync_status"]
    assert ws["D1"].font.bold
    assert ws["B2"].value == 150 and ws["B2"].number_format == '#,##0 "€"'
    assert ws["C2"].value == "=B2*2"  # formula elsewhere untouched
    assert ws["A3"].value == "=evil()" and ws["A3"].data_type == "s"
    assert [ws["A4"].value, ws["B4"].value, ws["D4"].value] == ["V4", 400, "created"]
    assert ws["B4"].number_format == '#,##0 "€"'
    assert workbook["Notes"]["A1"].value == "keep me"


def test_edit_csv_keeps_encoding_and_delimiter(tmp_path):
    path = tmp_path / "c.csv"
    path.write_bytes("VIN;Marque\nV1;Citroën\n".encode("cp1252"))
    tables.edit_workbook(path, cells={(2, "Marque"): "Renault"}, append_rows=[{"VIN": "V2", "Marque": "Peugeot"}],
                         add_columns=["sync_status"])
    assert path.read_bytes().decode("cp1252").splitlines() == ["VIN;Marque;sync_status", "V1;Renault;", "V2;Peugeot;"]


def test_edit_unknown_column_is_an_input_error(tmp_path):
    path = formatted_workbook(tmp_path / "w.xlsx")
    with pytest.raises(InputError, match='w.xlsx: no column "Prise"; did you mean "Price"?'):
        tables.edit_workbook(path, cells={(2, "Prise"): 1})


# --- streaming writer ----------------------------------------------------------------------------


def chunks() -> list[pd.DataFrame]:
    """Three chunks of one sheet: a hostile formula, a control character, a tz-aware datetime."""
    columns = ["VIN", "Note", "Serviced"]
    return [pd.DataFrame([["V1", "=HYPERLINK(\"http://x\")", dt.datetime(2026, 1, 15, 13, 30, tzinfo=dt.timezone.utc)],
                          ["V2", "a very long note that sets the width of its column", None]], columns=columns),
            pd.DataFrame([["V3", "bell\x07ring", dt.datetime(2026, 1, 15, 14, 30,
                                                              tzinfo=dt.timezone(dt.timedelta(hours=1)))]],
                         columns=columns),
            pd.DataFrame([["V4", "+44 20 7946 0958", None]], columns=columns)]


def test_sheet_writer_streams_csv_chunks_formula_safe(tmp_path):
    path = tmp_path / "out.csv"
    with tables.SheetWriter(path, ["VIN", "Note", "Serviced"], delimiter=";") as writer:
        for chunk in chunks():
            writer.write(chunk)
        assert not path.exists()  # nothing at the target until the block ends
    back = tables.read(path)
    assert back.delimiter == ";" and list(back.frame["VIN"]) == ["V1", "V2", "V3", "V4"]
    assert back.frame.loc[2, "Note"] == "=HYPERLINK(\"http://x\")" and back.frame.loc[5, "Note"] == "+44 20 7946 0958"
    assert "'=HYPERLINK" in path.read_text(encoding="utf-8")  # neutralised in the file, removed on reading
    assert writer.rows == 4 and [p.name for p in tmp_path.iterdir()] == ["out.csv"]


def test_sheet_writer_streams_xlsx_chunks_styled_and_safe(tmp_path):
    path = tmp_path / "out.xlsx"
    with tables.SheetWriter(path, ["VIN", "Note", "Serviced"], sheet_name="Cars") as writer:
        for chunk in chunks():
            writer.write(chunk)
    ws = openpyxl.load_workbook(path)["Cars"]
    assert ws.freeze_panes == "A2" and ws.auto_filter.ref == "A1:C5"
    assert ws["A1"].font.bold and ws["C1"].fill.fgColor.rgb.endswith("305496")
    assert ws.column_dimensions["B"].width > ws.column_dimensions["A"].width >= 8  # fitted to the first chunk
    assert ws["B2"].value == '=HYPERLINK("http://x")' and ws["B2"].data_type == "s"  # text, never a formula
    assert ws["B4"].value == "bell_x0007_ring"  # as Excel stores a control character: it reads back as written
    assert tables.read(path).frame.loc[4, "Note"] == "bell\x07ring"
    assert ws["C2"].value == dt.datetime(2026, 1, 15, 13, 30) and ws["C4"].value == dt.datetime(2026, 1, 15, 13, 30)
    assert [p.name for p in tmp_path.iterdir()] == ["out.xlsx"]


def test_sheet_writer_several_sheets_and_a_header_alone(tmp_path):
    path = tmp_path / "book.xlsx"
    with tables.SheetWriter(path) as writer:
        writer.sheet("Summary", ["item", "value"])
        writer.write(pd.DataFrame({"item": ["rows"], "value": [2]}))
        writer.sheet("Empty", ["VIN", "Make"])
    book = openpyxl.load_workbook(path)
    assert book.sheetnames == ["Summary", "Empty"]
    assert [c.value for c in book["Summary"]["A"]] == ["item", "rows"]
    empty = book["Empty"]
    assert [c.value for c in empty[1]] == ["VIN", "Make"] and empty["A1"].font.bold
    assert empty.auto_filter.ref == "A1:B1" and empty.freeze_panes == "A2"


@pytest.mark.parametrize("suffix", ["csv", "xlsx"])
def test_sheet_writer_failure_leaves_the_old_file_and_no_temporary(tmp_path, suffix):
    path = tmp_path / f"out.{suffix}"
    path.write_bytes(b"the previous export")
    with pytest.raises(RuntimeError, match="listing failed"):
        with tables.SheetWriter(path, ["VIN", "Note", "Serviced"]) as writer:
            writer.write(chunks()[0])
            raise RuntimeError("listing failed")
    assert path.read_bytes() == b"the previous export"
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


def test_sheet_writer_refuses_a_missing_folder_before_writing(tmp_path):
    target = tmp_path / "no such folder" / "out.xlsx"
    with pytest.raises(InputError, match=r"out.xlsx: cannot write here \(no folder .*no such folder\)"):
        tables.SheetWriter(target, ["VIN"])
    with pytest.raises(InputError, match=r"out.txt.gz: cannot write '.gz'; use .csv or .xlsx"):
        tables.SheetWriter(tmp_path / "out.txt.gz", ["VIN"])
    assert list(tmp_path.iterdir()) == []


def test_sheet_writer_refuses_chunks_of_other_columns_and_a_second_csv_sheet(tmp_path):
    with tables.SheetWriter(tmp_path / "out.csv", ["VIN"]) as writer:
        with pytest.raises(ValueError, match=r"columns \['Make'\] are not the sheet's \['VIN'\]"):
            writer.write(pd.DataFrame({"Make": ["Kia"]}))
        with pytest.raises(ValueError, match="a CSV holds one sheet"):
            writer.sheet("More", ["VIN"])
    assert (tmp_path / "out.csv").read_text() == "VIN\n"


# --- replacing whole sheets ----------------------------------------------------------------------


def conflicts() -> pd.DataFrame:
    return pd.DataFrame({"row": [2], "property": ["price"], "sheet": ["=1+1"], "hubspot": [150]}, dtype=object)


def test_replace_sheets_adds_and_replaces_keeping_the_rest(tmp_path):
    path = formatted_workbook(tmp_path / "w.xlsx")
    tables.edit_workbook(path, cells={(2, "Price"): 150}, replace_sheets={"Conflicts": conflicts()})
    tables.edit_workbook(path, replace_sheets={"Notes": pd.DataFrame({"note": ["new"]})})
    book = openpyxl.load_workbook(path)
    assert book.sheetnames == ["Inventory", "Notes", "Conflicts"]  # replaced in place, added at the end
    ws = book["Inventory"]
    assert ws["B2"].value == 150 and ws["B3"].number_format == '#,##0 "€"' and ws["C3"].value == "=B3*2"
    assert ws["A1"].font.bold and book.active.title == "Inventory"
    added = book["Conflicts"]
    assert [c.value for c in added[1]] == ["row", "property", "sheet", "hubspot"]
    assert added["A1"].fill.fgColor.rgb.endswith("305496") and added.freeze_panes == "A2"
    assert added.auto_filter.ref == "A1:D2" and added["C2"].data_type == "s" and added["C2"].value == "=1+1"
    assert [c.value for c in book["Notes"]["A"]] == ["note", "new"]


def test_replace_sheets_removes_a_sheet_and_leaves_a_workbook_without_it_untouched(tmp_path):
    path = formatted_workbook(tmp_path / "w.xlsx")
    tables.edit_workbook(path, replace_sheets={"Conflicts": conflicts()})
    tables.edit_workbook(path, replace_sheets={"Conflicts": None})
    assert openpyxl.load_workbook(path).sheetnames == ["Inventory", "Notes"]
    before = (path.stat().st_mtime_ns, tables.file_digest(path))
    tables.edit_workbook(path, replace_sheets={"Conflicts": None})
    assert (path.stat().st_mtime_ns, tables.file_digest(path)) == before  # nothing to remove: not rewritten


def test_replace_sheets_removing_the_active_sheet_keeps_the_workbook_valid(tmp_path):
    path = formatted_workbook(tmp_path / "w.xlsx")
    tables.edit_workbook(path, replace_sheets={"Inventory": None})
    assert tables.read(path).frame.columns.tolist() == ["keep me"]
    with pytest.raises(InputError, match='w.xlsx: cannot remove every sheet \\("Notes"\\); a workbook needs one'):
        tables.edit_workbook(path, replace_sheets={"Notes": None})


def test_replace_sheets_of_a_csv_is_an_input_error(tmp_path):
    path = tmp_path / "c.csv"
    path.write_text("VIN\nV1\n", encoding="utf-8")
    with pytest.raises(InputError, match='c.csv: a CSV file has one sheet; cannot replace the sheets "Conflicts"'):
        tables.edit_workbook(path, replace_sheets={"Conflicts": conflicts()})
    assert path.read_text(encoding="utf-8") == "VIN\nV1\n"
