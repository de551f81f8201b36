"""Lossless files (issue #11): a value written to a CSV or xlsx reads back as exactly that value,
and a value a format cannot hold is refused, named, before anything is written."""

from __future__ import annotations

import csv
import datetime as dt
import sys
import tempfile
import zipfile
from decimal import Decimal
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from syncer import InputError, mapping, tables
from syncer.cli import cli

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bad_inputs import rawxlsx  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def keyed(values: list, column: str = "Value") -> pd.DataFrame:
    """One row per value under a key column, so no row is blank."""
    return pd.DataFrame({"Key": [f"K{i}" for i in range(len(values))], column: values}, dtype=object)


def csv_cells(path: Path, encoding: str = "utf-8", delimiter: str = ",") -> list[list[str]]:
    """The cells as the file holds them, read by Python's csv (no unescaping)."""
    with open(path, newline="", encoding=encoding) as f:
        return list(csv.reader(f, delimiter=delimiter))


# --- CSV formula neutralisation --------------------------------------------------------------------

ESCAPES = [  # value → the cell as the CSV holds it
    ("=1+1", "'=1+1"),
    ("-2+3", "'-2+3"),
    ("+44 20 7946 0958", "'+44 20 7946 0958"),
    ("-5 degrees", "'-5 degrees"),
    ("@SUM(A1)", "'@SUM(A1)"),
    ("\t=1", "'\t=1"),
    ("\r=1", "'\r=1"),
    ("\nx", "'\nx"),
    ("-5\n", "'-5\n"),
    ("'hello", "''hello"),
    ("'=x", "''=x"),
    ("-5", "-5"),
    ("+3.5", "+3.5"),
    ("1e5", "1e5"),
    ("-.5E-3", "-.5E-3"),
    ("plain", "plain"),
    ("it's", "it's"),
]


@pytest.mark.parametrize("value, cell", ESCAPES, ids=[repr(v) for v, _ in ESCAPES])
def test_a_csv_formula_escape_is_removed_on_reading(tmp_path, value, cell):
    assert tables.escape_formula(value) == cell and tables.unescape_formula(cell) == value
    path = tmp_path / "out.csv"
    tables.write(keyed([value]), path)
    assert csv_cells(path)[1] == ["K0", cell]
    assert tables.read(path).frame.loc[2, "Value"] == value


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16", "cp1252"])
def test_escapes_are_removed_in_every_encoding(tmp_path, encoding):
    path = tmp_path / "out.csv"
    values = ["=1+1", "'hello", "Café", "-5"]
    tables.write(keyed(values), path, encoding=encoding, delimiter=";")
    assert [row[1] for row in csv_cells(path, encoding, ";")[1:]] == ["'=1+1", "''hello", "Café", "-5"]
    assert tables.read(path).frame["Value"].tolist() == values


def test_hand_typed_apostrophes_read_as_excel_reads_a_typed_one(tmp_path):
    path = tmp_path / "typed.csv"
    path.write_text("Key,Value\nA,'hello\nB,'=x\nC,''=x\nD,'-5\nE,'\nF,'+44 20\n", encoding="utf-8")
    assert tables.read(path).frame["Value"].tolist() == ["'hello", "=x", "'=x", "'-5", "'", "+44 20"]


def test_csv_column_names_are_escaped_and_read_back(tmp_path):
    path = tmp_path / "out.csv"
    frame = pd.DataFrame({"Key": ["K1"], "=Total": ["1"], "'quoted": ["2"], "-note": ["3"]})
    tables.write(frame, path)
    assert csv_cells(path)[0] == ["Key", "'=Total", "''quoted", "'-note"]
    assert tables.read(path).header == ["Key", "=Total", "'quoted", "-note"]


TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00;|\t"), max_size=25)


@settings(max_examples=80, deadline=None)
@given(st.lists(TEXT, min_size=1, max_size=6))
def test_any_text_reads_back_from_a_csv_as_written(texts):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "out.csv"
        tables.write(keyed(texts), path)
        assert tables.read(path).frame["Value"].tolist() == texts


@settings(max_examples=80, deadline=None)
@given(st.lists(st.text(st.characters(blacklist_categories=("Cs",)), max_size=25), min_size=1, max_size=6))
def test_any_text_reads_back_from_an_xlsx_as_written(texts):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "out.xlsx"
        tables.write(keyed(texts), path)
        table = tables.read(path)
        assert table.frame["Value"].tolist() == texts and table.errors == []


# --- CSV line breaks, line endings, editing in place ---------------------------------------------


def test_a_bare_cr_inside_a_cell_is_quoted_so_the_row_stays_whole(tmp_path):
    values = ["x\ry", "a\r\nb", "p\nq", "\r", "end\r"]
    path = tmp_path / "out.csv"
    tables.write(keyed(values), path)
    assert csv_cells(path)[1:] == [[f"K{i}", tables.escape_formula(v)] for i, v in enumerate(values)]
    assert tables.read(path).frame["Value"].tolist() == values


@pytest.mark.parametrize("newline", ["\r\n", "\n", "\r"], ids=["crlf", "lf", "cr"])
def test_a_csv_is_written_with_the_line_ending_asked_and_read_back(tmp_path, newline):
    values = ["x\ry", "a\r\nb", "p\nq", "plain"]
    path = tmp_path / "out.csv"
    tables.write(keyed(values), path, newline=newline)
    text = path.read_bytes().decode()
    assert text.startswith(f"Key,Value{newline}K0,") and text.endswith(f"K3,plain{newline}")
    table = tables.read(path)
    assert table.newline == newline and table.frame["Value"].tolist() == values


@pytest.mark.parametrize("newline", ["\r\n", "\n", "\r"], ids=["crlf", "lf", "cr"])
def test_read_records_a_csvs_line_ending(tmp_path, newline):
    path = tmp_path / "in.csv"
    path.write_bytes(f"VIN,Make{newline}V1,Kia{newline}".encode())
    table = tables.read(path)
    assert table.newline == newline and table.frame.to_dict("index") == {2: {"VIN": "V1", "Make": "Kia"}}


def test_editing_a_csv_keeps_its_endings_encoding_delimiter_and_the_rows_above_its_header(tmp_path):
    path = tmp_path / "c.csv"
    path.write_bytes(('exported by "CRM, v2"\r\n\r\nVIN;Marque;;Note\r\nV1;Citroën;x;=1\r\n;;;\r\n'
                      'V2;Peugeot;;"two\r\nlines"\r\n').encode("cp1252"))
    tables.edit_workbook(path, header_row=3, cells={(4, "Marque"): "Škoda"}, append_rows=[{"VIN": "V3", "Note": "-1 each"}],
                         add_columns=["sync_status"])
    assert path.read_bytes().decode("cp1252") == (
        'exported by "CRM, v2"\r\n\r\nVIN;Marque;;Note;sync_status\r\nV1;Škoda;x;\'=1;\r\n;;;;\r\n'
        'V2;Peugeot;;"two\r\nlines";\r\nV3;;;\'-1 each;\r\n')
    table = tables.read(path, header_row=3)
    assert (table.encoding, table.delimiter, table.newline) == ("cp1252", ";", "\r\n")
    assert table.frame.to_dict("index") == {  # rows keep their numbers: the blank row 5 stays
        4: {"VIN": "V1", "Marque": "Škoda", "Column C": "x", "Note": "=1", "sync_status": ""},
        6: {"VIN": "V2", "Marque": "Peugeot", "Column C": "", "Note": "two\r\nlines", "sync_status": ""},
        7: {"VIN": "V3", "Marque": "", "Column C": "", "Note": "-1 each", "sync_status": ""}}


def test_apostrophes_never_make_the_delimiter_a_tab(tmp_path):
    """Python's sniffer takes ' for a quote: a line starting with an escape and a later '<tab> made it
    guess tab, and the file syncer wrote could not be read back."""
    path = tmp_path / "out.csv"
    frame = pd.DataFrame({"Key": ["-K00", "+K01"], "Title": ["N/A", "x"], "Notes": ["''\tĻ\\", ""]})
    tables.write(frame, path)
    table = tables.read(path)
    assert table.delimiter == "," and table.frame.to_dict("list") == frame.to_dict("list")


# --- encodings and Excel's cell limit: refused, named, before anything is written -----------------


def test_a_character_the_csv_encoding_lacks_is_refused_before_anything_is_written(tmp_path):
    path = tmp_path / "out.csv"
    path.write_bytes(b"the previous file")
    frame = pd.DataFrame({"VIN": ["V1", "V2"], "Title": ["Café crème", "✈ Flight"]})
    with pytest.raises(InputError) as refused:
        tables.write(frame, path, encoding="cp1252")
    assert str(refused.value) == (
        'out.csv, row 3, column "Title": "✈" (U+2708) cannot be written in cp1252, this file\'s encoding; save the '
        'sheet as UTF-8 CSV (in Excel: Save As, "CSV UTF-8"), which holds any character; nothing was written')
    assert path.read_bytes() == b"the previous file" and [p.name for p in tmp_path.iterdir()] == ["out.csv"]


def test_editing_a_cp1252_csv_with_a_character_it_lacks_leaves_the_file_as_it_was(tmp_path):
    path = tmp_path / "c.csv"
    path.write_bytes("VIN;Marque\r\nV1;Citroën\r\nV2;Kia\r\n".encode("cp1252"))
    before = path.read_bytes()
    with pytest.raises(InputError, match=r'c.csv, row 3, column "Marque": "東" \(U\+6771\) and "京" \(U\+4EAC\) cannot be '
                                         r'written in cp1252'):
        tables.edit_workbook(path, cells={(3, "Marque"): "東京"})
    assert path.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["c.csv"]


def test_unwritable_lists_every_cell_a_file_cannot_hold_without_writing(tmp_path):
    frame = pd.DataFrame({"Title": ["ok", "✈", "Ω or ✈"], "Notes": ["short", "n" * 40_000, "y" * 32_767]},
                         index=[7, 8, 9])
    in_cp1252 = tables.unwritable(frame, tmp_path / "s.csv", encoding="cp1252", first_row=None)
    assert [(e.path.name, e.row, e.column, e.value) for e in in_cp1252] == [("s.csv", 8, "Title", "✈"),
                                                                         ("s.csv", 9, "Title", "Ω or ✈")]
    assert in_cp1252[1].message.startswith('"Ω" (U+03A9) and "✈" (U+2708) cannot be written in cp1252')
    assert tables.unwritable(frame, tmp_path / "s.csv") == []  # UTF-8 holds every character, CSV any length
    in_xlsx = tables.unwritable(frame, tmp_path / "s.xlsx")  # numbered from row 2
    assert [(e.row, e.column) for e in in_xlsx] == [(3, "Notes")]
    assert str(in_xlsx[0]) == ('s.xlsx, row 3, column "Notes": the text is 40,000 characters long; an Excel cell holds '
                               'at most 32,767, so it cannot be written whole; export to CSV instead, which holds any length')
    assert list(tmp_path.iterdir()) == []


def test_text_longer_than_an_excel_cell_is_refused_never_cut(tmp_path):
    """openpyxl cuts text to 32,767 characters without a word: syncer must refuse it instead."""
    path = tmp_path / "out.xlsx"
    frame = pd.DataFrame({"VIN": ["V1", "V2"], "Notes": ["n" * 32_767, "n" * 40_000]})
    with pytest.raises(InputError, match='out.xlsx, row 3, column "Notes": the text is 40,000 characters long'):
        tables.write(frame, path)
    assert list(tmp_path.iterdir()) == []
    lines = "line\r\n" * 5_461 + "x"  # 32,767 characters, each CR stored as _x000D_: longer in the file
    tables.write(pd.DataFrame({"VIN": ["V1", "V2"], "Notes": ["n" * 32_767, lines]}), path)
    assert tables.read(path).frame["Notes"].tolist() == ["n" * 32_767, lines]  # the most a cell holds, whole
    tables.edit_workbook(path, cells={(2, "Notes"): lines[::-1]})
    assert tables.read(path).frame.loc[2, "Notes"] == lines[::-1]


def test_editing_an_xlsx_with_text_too_long_for_a_cell_leaves_it_as_it_was(tmp_path):
    path = tmp_path / "w.xlsx"
    tables.write(pd.DataFrame({"VIN": ["V1"], "Notes": ["short"]}), path)
    before = path.read_bytes()
    with pytest.raises(InputError, match=r'w.xlsx: 2 cells cannot be written as they are; nothing was written:\n'
                                         r'  w.xlsx, row 2, column "Notes": the text is 40,000 characters long.*\n'
                                         r'  w.xlsx, row 3, column "Notes": the text is 50,000'):
        tables.edit_workbook(path, cells={(2, "Notes"): "n" * 40_000}, append_rows=[{"VIN": "V2", "Notes": "m" * 50_000}])
    assert path.read_bytes() == before


# --- header_row ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", ["csv", "xlsx"])
def test_a_sheet_written_with_its_header_on_row_3_reads_back_with_header_row_3(tmp_path, suffix):
    path = tmp_path / f"out.{suffix}"
    frame = pd.DataFrame({"VIN": ["V1", "V2"], "Make": ["Kia", "=Ford"]})
    with tables.SheetWriter(path, frame.columns, header_row=3) as writer:
        writer.write(frame)
    assert tables.read(path, header_row=3).frame.to_dict("index") == {4: {"VIN": "V1", "Make": "Kia"},
                                                                       5: {"VIN": "V2", "Make": "=Ford"}}
    if suffix == "csv":
        assert path.read_text(encoding="utf-8").startswith("\n\nVIN,Make\nV1,Kia\n")
    else:
        ws = openpyxl.load_workbook(path).active
        assert ws.freeze_panes == "A4" and ws.auto_filter.ref == "A3:B5" and ws["A3"].font.bold
        assert [ws["A1"].value, ws["A2"].value, ws["A3"].value] == [None, None, "VIN"]


@pytest.fixture
def pushed(run):
    """The CLI in a copied project whose 300 sample cars are pushed."""
    assert run("push", "mappings/cars.yaml", "--yes", "--quiet").exit_code == 0
    return run


@pytest.mark.parametrize("suffix", ["csv", "xlsx"])
def test_export_writes_the_header_on_the_mappings_header_row(pushed, suffix):
    text = Path("mappings/cars.yaml").read_text(encoding="utf-8")
    Path("mappings/row3.yaml").write_text(text.replace("sheet: Inventory\n", "sheet: Inventory\nheader_row: 3\n"),
                                          encoding="utf-8")
    assert pushed("export", "mappings/row3.yaml", "-o", f"out.{suffix}").exit_code == 0
    table = tables.read(f"out.{suffix}", header_row=3)
    assert len(table.frame) == 300 and table.header[0] == "VIN" and table.frame.index[0] == 4
    plan = pushed("plan", "mappings/row3.yaml", "--source", f"out.{suffix}")
    assert plan.exit_code == 0 and "unchanged 300" in plan.output, plan.output


def portal(sandbox) -> list[str]:
    return ["--base-url", sandbox.base_url, "--token", sandbox.token]


TITLED = "Inventory export 2026-01-15\n\nVIN,Make,Year\nV1,Ford,2020\n"


def test_init_with_header_row_maps_the_columns_and_writes_header_row(sandbox, tmp_path):
    (tmp_path / "inventory.csv").write_text(TITLED, encoding="utf-8")
    out = tmp_path / "inventory.yaml"
    result = CliRunner().invoke(cli, ["init", str(tmp_path / "inventory.csv"), "--object", "cars", "--header-row", "3",
                                      "-o", str(out), *portal(sandbox)])
    assert result.exit_code == 0, result.output
    assert "header_row: 3\n" in out.read_text(encoding="utf-8")
    m = mapping.load(out)
    assert m.header_row == 3 and {c: s.property for c, s in m.columns.items()} == {"VIN": "vin", "Make": "make",
                                                                                    "Year": "year"}


def test_init_on_the_wrong_header_row_names_the_row_of_the_column_names(sandbox, tmp_path):
    (tmp_path / "inventory.csv").write_text(TITLED, encoding="utf-8")
    out = tmp_path / "inventory.yaml"
    result = CliRunner().invoke(cli, ["init", str(tmp_path / "inventory.csv"), "--object", "cars", "-o", str(out),
                                      *portal(sandbox)])
    assert result.exit_code == 2 and "the column names look like they are on row 3: pass --header-row 3" in result.output
    assert not out.exists()


def test_init_that_maps_no_column_exits_2_naming_the_columns_and_the_properties(sandbox, tmp_path):
    (tmp_path / "data.csv").write_text("V1,Ford,2020\nV2,Kia,2021\n", encoding="utf-8")
    out = tmp_path / "data.yaml"
    result = CliRunner().invoke(cli, ["init", str(tmp_path / "data.csv"), "--object", "cars", "-o", str(out),
                                      *portal(sandbox)])
    assert result.exit_code == 2, result.output
    assert result.output.startswith('Error: data.csv: no column of the sheet matches a property of "cars", so there '
                                    "is nothing to map; row 1 looks like data, not column names: pass --header-row N")
    assert "the sheet's columns (row 1): \"V1\", \"Ford\", \"2020\"" in result.output
    assert "the properties of cars: " in result.output and ", vin, year" in result.output
    assert "Traceback" not in result.output and not out.exists()


# --- xlsx formulas without a saved value ------------------------------------------------------------


def test_formula_cells_without_a_saved_value_are_cell_errors(tmp_path):
    path = tmp_path / "w.xlsx"
    workbook = openpyxl.Workbook()
    workbook.active.append(["VIN", "Price", "Double"])
    workbook.active.append(["V1", 2, "=B2*2"])
    workbook.active.append(["V2", 3, "=B3*2"])
    workbook.save(path)  # openpyxl stores formulas without values, as some programs do
    with zipfile.ZipFile(path) as z:
        parts = {name: z.read(name) for name in z.namelist()}
    sheet = "xl/worksheets/sheet1.xml"
    assert b"<f>B2*2</f><v />" in parts[sheet]
    parts[sheet] = parts[sheet].replace(b"<f>B2*2</f><v />", b"<f>B2*2</f><v>4</v>")  # as Excel saves it
    with zipfile.ZipFile(path, "w") as z:
        for name, data in parts.items():
            z.writestr(name, data)
    table = tables.read(path)
    assert table.frame.loc[2, "Double"] == 4  # a formula with its saved value reads as that value
    assert [str(e) for e in table.errors] == [
        'w.xlsx, row 3, column "Double": the cell holds the formula =B3*2 but no saved value (the program that '
        "wrote the workbook did not calculate it); open and save the workbook in Excel or LibreOffice so the value "
        "is stored, or type the value instead"]
    assert table.errors[0].value == "=B3*2"


def test_formulas_saved_as_empty_text_are_values_and_shared_ones_without_values_are_errors(tmp_path):
    path = rawxlsx.write(tmp_path / "w.xlsx", [
        [rawxlsx.text("A1", "VIN"), rawxlsx.text("B1", "Label"), rawxlsx.text("C1", "Total")],
        [rawxlsx.text("A2", "V1"), '<c r="B2" t="str"><f>IF(1,"","x")</f><v></v></c>',
         '<c r="C2"><f t="shared" ref="C2:C3" si="0">A2&amp;"&quot;"</f></c>'],
        [rawxlsx.text("A3", "V2"), rawxlsx.text("B3", "ok"), '<c r="C3"><f t="shared" si="0"/></c>'],
    ])
    assert [(e.row, e.column, e.value) for e in tables.read(path).errors] == [(2, "Total", '=A2&"""'),
                                                                             (3, "Total", None)]
    assert "shared from another cell" in tables.read(path).errors[1].message


def test_the_streamed_sheet_scan_finds_every_formula_across_its_chunks(tmp_path):
    rows = [[rawxlsx.text("A1", "VIN"), rawxlsx.text("B1", "Total")]]
    rows += [[rawxlsx.text(f"A{i}", f"V{i}"), f'<c r="B{i}"><f>SUM(A{i}:A{i + 1000})</f></c>'] for i in range(2, 90_002)]
    path = rawxlsx.write(tmp_path / "big.xlsx", rows)
    with zipfile.ZipFile(path) as z:
        assert z.getinfo("xl/worksheets/sheet1.xml").file_size > 2 * (1 << 22)  # more than two chunks of the scan
    errors = tables.read(path).errors
    assert [e.row for e in errors] == list(range(2, 90_002)) and {e.column for e in errors} == {"Total"}


# --- values Excel cannot show or hold exactly ------------------------------------------------------

WHEN = [  # written to xlsx → read back
    (dt.date(1600, 1, 1), "1600-01-01"),
    (dt.date(1850, 3, 1), "1850-03-01"),
    (dt.datetime(1850, 3, 1, 10, 30), "1850-03-01 10:30:00"),
    (dt.date(1900, 2, 28), "1900-02-28"),
    (dt.datetime(1900, 2, 28, 23, 59), "1900-02-28 23:59:00"),
    (dt.date(1900, 3, 1), dt.date(1900, 3, 1)),
    (dt.date(9999, 12, 31), dt.date(9999, 12, 31)),
    (dt.datetime(2026, 1, 15, 10, 30, 0, 123000), dt.datetime(2026, 1, 15, 10, 30, 0, 123000)),
    (dt.datetime(2026, 1, 15, 10, 30, 0, 123456), "2026-01-15 10:30:00.123456"),
    (pd.Timestamp("2026-01-15 10:30:00.123456789"), "2026-01-15 10:30:00.123456789"),
]


@pytest.mark.parametrize("value, back", WHEN, ids=[str(v) for v, _ in WHEN])
def test_dates_excel_cannot_show_are_written_to_xlsx_as_iso_text(tmp_path, value, back):
    path = tmp_path / "out.xlsx"
    tables.write(keyed([value], "When"), path)
    read = tables.read(path).frame.loc[2, "When"]
    assert read == back and type(read) is type(back)
    if isinstance(back, str) and back >= "1678":  # within pandas' range: values parses the text back
        assert pd.to_datetime(back, format="ISO8601") == pd.Timestamp(value)


def test_every_millisecond_of_a_datetime_survives_an_xlsx(tmp_path):
    path = tmp_path / "out.xlsx"
    written = [dt.datetime(2026, 1, 15, 10, 30, 59, ms * 1000) for ms in range(1000)]
    written += [dt.datetime(1900 + i * 8, 3, 1, 23, 59, 59, 999000) for i in range(1000)]
    tables.write(keyed(written, "When"), path)
    assert tables.read(path).frame["When"].tolist() == written


NUMBERS = [  # written to xlsx → read back, and whether the cell is a number
    (12345678901234567890, "12345678901234567890", False),
    (-12345678901234567890, "-12345678901234567890", False),
    (Decimal("-26.123456789012345"), "-26.123456789012345", False),
    (Decimal("1E-400"), "0." + "0" * 399 + "1", False),
    (0.30000000000000004, "0.30000000000000004", False),
    (123456789012345, 123456789012345, True),
    (Decimal("-26.1234567890123"), -26.1234567890123, True),
    (Decimal("1.50"), 1.5, True),
    (10**20, 1e20, True),
    (52000.0, 52000, True),
]


@pytest.mark.parametrize("value, back, numeric", NUMBERS, ids=[repr(v) for v, _, _ in NUMBERS])
def test_numbers_beyond_15_significant_digits_are_written_to_xlsx_as_exact_text(tmp_path, value, back, numeric):
    path = tmp_path / "out.xlsx"
    tables.write(keyed([value], "Amount"), path)
    assert tables.read(path).frame.loc[2, "Amount"] == back
    assert (openpyxl.load_workbook(path).active["B2"].data_type == "n") is numeric


@settings(max_examples=100, deadline=None)
@given(st.lists(st.one_of(st.integers(min_value=-10**25, max_value=10**25),
                          st.decimals(allow_nan=False, allow_infinity=False, min_value=-10**12, max_value=10**12, places=12)),
                min_size=1, max_size=6))
def test_any_number_reads_back_with_its_exact_value(numbers):
    with tempfile.TemporaryDirectory() as folder:
        for suffix in ("xlsx", "csv"):
            path = Path(folder) / f"out.{suffix}"
            tables.write(keyed(numbers, "Amount"), path)
            for back, number in zip(tables.read(path).frame["Amount"], numbers):
                assert not (isinstance(back, str) and "E" in back.upper())
                assert Decimal(repr(back) if isinstance(back, float) else back) == Decimal(number)


def test_a_csv_writes_decimals_and_ints_as_exact_text_without_an_exponent(tmp_path):
    path = tmp_path / "out.csv"
    tables.write(keyed([Decimal("1E+2"), Decimal("-1.50"), Decimal("1E-7"), 12345678901234567890], "Amount"), path)
    assert [row[1] for row in csv_cells(path)[1:]] == ["100", "-1.50", "0.0000001", "12345678901234567890"]


# --- xlsx text stays text ---------------------------------------------------------------------------


def test_xlsx_text_that_looks_like_an_escape_an_error_or_a_formula_reads_back_as_written(tmp_path):
    values = ["_x0041_", "__x0041__x0042_", "_xD83D_", "_x3000_", "a\r\nb", "c\rd", "bell\x07", "\x00", "#N/A", "#DIV/0!",
              "=A1", " ", "\n", "\t \r\n", "\x0b", "\u3000"]  # whitespace alone: openpyxl writes it for readers to drop
    path = tmp_path / "out.xlsx"
    tables.write(keyed(values), path)
    table = tables.read(path)
    assert table.frame["Value"].tolist() == values and table.errors == []
    tables.edit_workbook(path, cells={(2, "Value"): "#REF!", (3, "Value"): "_x0042_\r"})
    assert tables.read(path).frame["Value"].tolist()[:2] == ["#REF!", "_x0042_\r"]
    assert tables.read(path).errors == []
    tables.edit_workbook(path, replace_sheets={"Copy": keyed(values)})
    assert tables.read(path, sheet="Copy").frame["Value"].tolist() == values


def test_editing_an_xlsx_keeps_untouched_text_that_looks_like_an_escape(tmp_path):
    """openpyxl loads Excel's escaped "_" (_x005F_) as "_": saved back as it loaded it, the text
    _x0041_ would read as "A"."""
    path = tmp_path / "w.xlsx"
    tables.write(pd.DataFrame({"VIN": ["V1"], "Note": ["_x0041_ and \r"], "Status": [""]}), path)
    with zipfile.ZipFile(path) as z:
        assert b"<t>_x005F_x0041_ and _x000D_</t>" in z.read("xl/worksheets/sheet1.xml")  # as Excel stores it
    assert tables.read(path).frame.loc[2, "Note"] == "_x0041_ and \r"
    tables.edit_workbook(path, cells={(2, "Status"): "created"})
    assert tables.read(path).frame.loc[2].tolist() == ["V1", "_x0041_ and \r", "created"]


def test_replacing_a_sheet_with_text_too_long_for_a_cell_is_refused(tmp_path):
    path = tmp_path / "w.xlsx"
    tables.write(pd.DataFrame({"VIN": ["V1"]}), path)
    before = path.read_bytes()
    with pytest.raises(InputError, match='w.xlsx, row 3, column "Notes": the text is 40,000 characters long'):
        tables.edit_workbook(path, replace_sheets={"Conflicts": pd.DataFrame({"Notes": ["short", "n" * 40_000]})})
    assert path.read_bytes() == before
