"""A corpus of broken and hostile inputs: each gets a clear message naming the file (and row and
column where they apply) and exit code 2 from `syncer validate`, with no traceback and nothing sent.

Small files are committed in tests/bad_inputs/ (written by make_corpus.py); big ones are made here.
Files that fail before the portal is needed run against a portal address where nothing listens:
reaching it would fail the test with exit 3, so the exit 2 proves nothing was sent.
"""

from __future__ import annotations

import shutil
import sys
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from syncer.cli import cli

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bad_inputs import rawxlsx  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO / "tests" / "bad_inputs"
NOWHERE = ["--base-url", "http://127.0.0.1:9", "--token", "pat-na1-unused"]


def run(*args: str):
    return CliRunner().invoke(cli, ["validate", *args], catch_exceptions=False)


def assert_refused(result, *expected: str) -> None:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    for text in expected:
        assert text in result.output


def mapping_for(tmp_path: Path, source: Path) -> Path:
    text = (REPO / "mappings" / "cars.yaml").read_text(encoding="utf-8")
    text = text.replace("source: ../sample_data/cars.xlsx", f"source: {source.as_posix()}")
    path = tmp_path / "cars.yaml"
    path.write_text(text, encoding="utf-8")
    return path


SHEETS = [
    ("empty.csv", "empty.csv: the file is empty"),
    ("ragged_rows.csv", "ragged_rows.csv: row 3 has 16 fields but the header has 14"),
    ("duplicate_headers.csv", 'duplicate_headers.csv: duplicate column names in the header: "Make" in columns B, C'),
    ("binary.csv", "binary.csv: this is not a text (CSV) file"),
    ("nul_bytes.csv", "nul_bytes.csv: this is not a text (CSV) file"),
    ("mixed_encodings.csv", "mixed_encodings.csv, line 3: byte 0xeb is not utf-8; the file mixes text encodings"),
    ("unterminated_quote.csv", 'unterminated_quote.csv: row 3: a quote (") is never closed'),
    ("blank_header.csv", "blank_header.csv: row 1 is blank; it should hold the column names"),
    ("only_blank_lines.csv", "only_blank_lines.csv: no header on row 1"),
    ("not_a_zip.xlsx", "not_a_zip.xlsx: not a valid xlsx file (corrupt or truncated)"),
    ("corrupt.xlsx", "corrupt.xlsx: not a valid xlsx file"),
    ("truncated.xlsx", "truncated.xlsx: not a valid xlsx file"),
    ("password_protected.xlsx", "password_protected.xlsx: the workbook is password-protected"),
    ("legacy_binary.xlsx", "legacy_binary.xlsx: this is an old binary Excel file, not xlsx"),
    ("zip_not_xlsx.xlsx", "zip_not_xlsx.xlsx: cannot read the workbook"),
    ("wrong_sheet.xlsx", 'wrong_sheet.xlsx: no sheet "Inventory"; sheets are "Stock"'),
    ("empty_sheet.xlsx", 'empty_sheet.xlsx, sheet "Inventory": no header on row 1'),
    ("sheet.json", "sheet.json: unsupported file type '.json'; use .csv, .xlsx or .xlsm"),
]


@pytest.mark.parametrize("name, message", SHEETS, ids=[s[0] for s in SHEETS])
def test_broken_sheet(tmp_path, name, message):
    assert_refused(run(str(mapping_for(tmp_path, CORPUS / name)), *NOWHERE), message)


def test_a_workbook_named_as_a_csv_is_refused_with_the_fix(tmp_path):
    misnamed = tmp_path / "cars.csv"
    misnamed.write_bytes((REPO / "sample_data" / "cars.xlsx").read_bytes())
    assert_refused(run(str(mapping_for(tmp_path, misnamed)), *NOWHERE),
                   "cars.csv: this is an Excel workbook named as a CSV file; rename it to cars.xlsx")


MAPPINGS = [
    ("bad_yaml.yaml", "bad_yaml.yaml, line 3: not valid YAML"),
    ("list_mapping.yaml", "list_mapping.yaml: the mapping must be a YAML mapping"),
    ("unknown_key.yaml", 'unknown_key.yaml, line 2: id_propety: unknown key "id_propety"; did you mean "id_property"?'),
    ("missing_keys.yaml", "missing_keys.yaml, line 1: columns: required key is missing"),
    ("not_utf8.yaml", "not_utf8.yaml: the mapping is not UTF-8 text"),
    ("empty.yaml", "empty.yaml: the mapping must be a YAML mapping"),
    ("bad_values.yaml", "bad_values.yaml, line 6: sync.mode: Input should be"),
]


@pytest.mark.parametrize("name, message", MAPPINGS, ids=[m[0] for m in MAPPINGS])
def test_broken_mapping(name, message):
    assert_refused(run(str(CORPUS / name), *NOWHERE), message)


def test_missing_files(tmp_path):
    assert_refused(run(str(tmp_path / "nope.yaml"), *NOWHERE), "nope.yaml: cannot read the mapping")
    assert_refused(run(str(mapping_for(tmp_path, tmp_path / "gone.csv")), *NOWHERE), "gone.csv: no such file")
    assert_refused(run(str(mapping_for(tmp_path, tmp_path)), *NOWHERE), ": no such file")


def test_mapping_without_source_needs_one(tmp_path):
    path = tmp_path / "m.yaml"
    path.write_text("object: cars\nid_property: vin\ncolumns: {VIN: vin}\n")
    assert_refused(run(str(path), *NOWHERE), "m.yaml: no source in the mapping; pass --source FILE")


def test_sheet_position_out_of_range(tmp_path):
    path = mapping_for(tmp_path, REPO / "sample_data" / "cars.xlsx")
    path.write_text(path.read_text().replace("sheet: Inventory", "sheet: 5"))
    assert_refused(run(str(path), *NOWHERE), 'cars.xlsx: no sheet at position 5; the workbook has 2: "Inventory", "About"')


def test_header_row_beyond_the_sheet(tmp_path):
    path = mapping_for(tmp_path, CORPUS / "empty_sheet.xlsx")
    path.write_text(path.read_text().replace("sheet: Inventory", "sheet: Inventory\nheader_row: 40"))
    assert_refused(run(str(path), *NOWHERE), "no header on row 40")


def test_zip_bomb_is_refused_before_inflating(tmp_path):
    bomb = tmp_path / "bomb.xlsx"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        with z.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as f:
            block = b"<row/>" * (1 << 20)
            for _ in range(12):  # 72 MiB of XML in a few hundred KiB
                f.write(block)
    assert bomb.stat().st_size < 1_000_000
    assert_refused(run(str(mapping_for(tmp_path, bomb)), *NOWHERE), "bomb.xlsx: refusing to open", "zip bomb")


@pytest.mark.parametrize("workbook, said", [("bomb", "zip bomb"), ("password_protected.xlsx", "password-protected"),
                                            ("truncated.xlsx", "corrupt or truncated")])
def test_a_hostile_review_workbook_is_refused_before_it_is_read(tmp_path, workbook, said):
    """A review workbook is an input like any other: apply checks it as any workbook first."""
    if workbook == "bomb":
        path = tmp_path / "review.xlsx"
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z, \
                z.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as f:
            for _ in range(12):
                f.write(b"<row/>" * (1 << 20))
    else:
        path = CORPUS / workbook
    result = CliRunner().invoke(cli, ["apply", str(path), "--yes", *NOWHERE], catch_exceptions=False)
    assert_refused(result, "cannot read the review workbook", said)


# --- inputs that reach the value checks need the portal's property definitions ------------------


def portal(sandbox) -> list[str]:
    return ["--base-url", sandbox.base_url, "--token", sandbox.token]


def test_header_only(tmp_path, sandbox):
    result = run(str(mapping_for(tmp_path, CORPUS / "header_only.csv")), *portal(sandbox))
    assert_refused(result, "header_only.csv has a header but no data rows")


def test_ten_megabyte_cell(tmp_path, sandbox):
    source = tmp_path / "huge_cell.csv"
    good = (REPO / "sample_data" / "cars.csv").read_text(encoding="utf-8").splitlines(keepends=True)[:4]
    good[2] = good[2].replace(",Renault,", ",Renault " + "x" * 10_000_000 + ",", 1) if ",Renault," in good[2] \
        else good[2].split(",", 1)[0] + "," + "x" * 10_000_000 + "," + good[2].split(",", 2)[2]
    source.write_text("".join(good), encoding="utf-8")
    result = run(str(mapping_for(tmp_path, source)), *portal(sandbox))
    assert_refused(result, 'column "Make"', "row 3: the text is 10,000,0")
    assert len(result.output) < 2_000


def test_excel_error_cells_are_row_errors(tmp_path, sandbox):
    source = rawxlsx.write(tmp_path / "errors.xlsx", [
        [rawxlsx.text("A1", "VIN"), rawxlsx.text("B1", "Listing price")],
        [rawxlsx.text("A2", "V1"), rawxlsx.error("B2")],
        [rawxlsx.text("A3", "V2"), rawxlsx.number("B3", 100)],
    ], sheet="Inventory")
    path = tmp_path / "m.yaml"
    path.write_text(f"object: cars\nid_property: vin\nsource: {source}\ncolumns: {{VIN: vin, Listing price: price}}\n")
    assert_refused(run(str(path), *portal(sandbox)), 'column "Listing price"', "row 2: the cell holds the Excel error #N/A")


def test_cars_with_errors_names_each_bad_row(sandbox):
    result = run(str(REPO / "mappings" / "cars.yaml"), "--source", str(REPO / "sample_data" / "cars_with_errors.csv"),
                 *portal(sandbox))
    # both rows of the repeated VIN (2 and 9), as push refuses both
    assert_refused(result, "cars_with_errors.csv: 10 of 300 rows have problems")
    for row in (2, 5, 9, 12, 17, 21, 26, 30, 33, 38):
        assert f"    row {row}: " in result.output
    assert '  column "Listed on" (1):\n    row 12: "31/02/2026" is not a date in format %d/%m/%Y' in result.output


def test_sample_passes(sandbox, tmp_path):
    result = run(str(REPO / "mappings" / "cars.yaml"), *portal(sandbox))
    assert result.exit_code == 0, result.output
    assert "cars.yaml: OK, 300 rows of cars.xlsx are valid" in result.output
    copy = tmp_path / "cars.csv"
    shutil.copy(REPO / "sample_data" / "cars.csv", copy)
    assert run(str(REPO / "mappings" / "cars.yaml"), "--source", str(copy), *portal(sandbox)).exit_code == 0
