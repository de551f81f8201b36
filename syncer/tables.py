"""Read and write spreadsheets: CSV and Excel in, a table of raw cells out, and back.

A `Table` keeps the spreadsheet's own row numbers as its index (header on row 1 → first data row 2),
so every later message can point at the row a person sees. Cells stay raw here (strings from a CSV,
typed values from xlsx); `values` turns them into HubSpot's canonical form.

Reading xlsx uses python-calamine (fast, Rust); writing and editing in place use openpyxl.

Each format's rules for writing losslessly live here (README "Lossless files"): what syncer writes
reads back as exactly the value it wrote, and a cell a file cannot hold is refused, naming it,
before anything is written (`unwritable` finds such cells beforehand).
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import dataclasses
import datetime as dt
import errno
import hashlib
import io
import itertools
import math
import os
import re
import stat
import tempfile
import zipfile
from collections import Counter
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path, PurePosixPath
from typing import Any, NamedTuple
from xml.etree import ElementTree
from xml.sax.saxutils import unescape as xml_unescape

import charset_normalizer
import numpy as np
import openpyxl
import pandas as pd
import python_calamine
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from syncer.errors import InputError
from syncer.talk import did_you_mean

CSV_SUFFIXES = {".csv", ".tsv", ".txt"}
XLSX_SUFFIXES = {".xlsx", ".xlsm"}
DELIMITERS = ",;\t|"
SNIFF_BYTES = 64 * 1024
# An xlsx is a zip; refuse archives that would inflate far beyond any real workbook.
MAX_UNZIPPED_BYTES = 4 * 1024**3
MAX_COMPRESSION_RATIO = 200
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
EXCEL_ERRORS = {"#N/A", "#REF!", "#VALUE!", "#DIV/0!", "#NAME?", "#NUM!", "#NULL!", "#SPILL!", "#CALC!"}
EXCEL_CELL_LIMIT = 32_767  # characters an Excel cell holds (HubSpot text holds 65,536)
EXCEL_DIGITS = 15  # significant digits of a number Excel keeps
# Excel's serial dates before 1900-03-01 are negative or fall on its 1900 leap-year bug (and other
# programs count them differently); 9999-12-31 is its last day. Dates outside are written as text.
EXCEL_FIRST_DAY = dt.date(1900, 3, 1)
EXCEL_LAST_DAY = dt.date(9999, 12, 31)


@dataclass(frozen=True)
class CellError:
    """A cell that cannot be used, kept as data so reports and tests can read its pieces."""

    path: Path
    row: int
    column: str
    value: Any
    message: str

    def __str__(self) -> str:
        return f'{self.path.name}, row {self.row}, column "{self.column}": {self.message}'


@dataclass
class Table:
    """Raw cells of one sheet. `frame.index` holds the spreadsheet's row numbers."""

    frame: pd.DataFrame
    path: Path
    errors: list[CellError] = field(default_factory=list)
    digest: str = ""
    sheet: str | None = None
    encoding: str | None = None  # CSV only, so a CSV can be rewritten as it was
    delimiter: str | None = None
    newline: str | None = None  # CSV only: "\r\n", "\n" or "\r", from the file's first line ending

    @property
    def header(self) -> list[str]:
        return [str(c) for c in self.frame.columns]


class SheetChanged(InputError):
    """A sheet saved by someone else since syncer read it: its rows may have moved, so nothing that
    names rows (pulled cells, appended rows, statuses, failed rows) may go into or come out of it."""


def check_unchanged(path: str | os.PathLike, digest: str | None) -> None:
    """The one "edit only if unchanged" check: SheetChanged unless `path` still has `digest`
    (file_digest, as the read took it); no digest, no check."""
    if digest and file_digest(Path(path)) != digest:
        raise SheetChanged(f"{Path(path).name} was changed since syncer read it (saved meanwhile?), so its rows "
                           "may have moved")


def file_digest(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def read(path: str | os.PathLike, *, sheet: str | int | None = None, header_row: int = 1) -> Table:
    """Read a CSV or xlsx/xlsm file. Raises InputError naming the file for anything unreadable.

    `sheet` is a sheet name or a 0-based position (xlsx only; the first sheet by default).
    `header_row` is the 1-based row holding the column names; rows above it are ignored.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise InputError(f"{path.name}: the file is empty")
    if header_row < 1:
        raise InputError(f"{path.name}: header_row must be 1 or more, not {header_row}")
    suffix = path.suffix.lower()
    if suffix in CSV_SUFFIXES:
        table = _read_csv(path, header_row)
    elif suffix in XLSX_SUFFIXES:
        table = _read_xlsx(path, sheet, header_row)
    else:
        raise InputError(f"{path.name}: unsupported file type {suffix!r}; use .csv, .xlsx or .xlsm")
    table.digest = table.digest or file_digest(path)
    return table


# --- CSV ---------------------------------------------------------------------------------------


class _Dialect(NamedTuple):
    encoding: str
    delimiter: str
    newline: str


def _read_csv(path: Path, header_row: int) -> Table:
    raw, dialect, digest = _raw_csv(path, header_row)
    frame = _with_header(path, raw, header_row)
    return Table(frame=frame, path=path, digest=digest, encoding=dialect.encoding, delimiter=dialect.delimiter,
                 newline=dialect.newline)


def _raw_csv(path: Path, header_row: int) -> tuple[pd.DataFrame, _Dialect, str]:
    """Every record from the header row on, as text (formula escapes removed), the file's dialect,
    and its digest (file_digest)."""
    with open(path, "rb") as f:
        sample = f.read(SNIFF_BYTES)
    encoding = detect_encoding(path, sample)
    text = sample.decode(encoding, errors="ignore")
    dialect = _Dialect(encoding, sniff_delimiter(text), _line_ending(text))
    # The digest and the apostrophe scan read the file while pandas parses it (hashing and file
    # reads release the GIL), so they cost little beside the parse.
    with ThreadPoolExecutor(1) as pool:
        scan = pool.submit(_digest_and_apostrophes, path, encoding)
        try:
            frame = pd.read_csv(
                path, sep=dialect.delimiter, header=None, dtype=str, na_filter=False, encoding=encoding,
                skiprows=header_row - 1, skip_blank_lines=False, engine="c", quotechar='"',
            )
        except UnicodeDecodeError:
            raise InputError(_mixed_encoding_message(path, encoding)) from None
        except pd.errors.EmptyDataError:
            raise InputError(f"{path.name}: no header on row {header_row}") from None
        except pd.errors.ParserError as exc:
            raise InputError(f"{path.name}: {_parser_message(exc, header_row)}") from None
        digest, apostrophes = scan.result()
    if apostrophes:
        for i in range(frame.shape[1]):
            frame.isetitem(i, unescape_formulas(frame.iloc[:, i]))
    return frame, dialect, digest


def _digest_and_apostrophes(path: Path, encoding: str) -> tuple[str, bool]:
    """The file's digest (as file_digest takes it), and False when the file holds no apostrophe, so
    no cell has a formula escape to remove: one pass over its bytes, in C. (In UTF-16 and UTF-32 the
    byte is not the character, so True.)"""
    found = encoding.lower().replace("_", "-").startswith(("utf-16", "utf-32"))
    sha = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 24):
            sha.update(chunk)
            found = found or b"'" in chunk
    return sha.hexdigest(), found


def _line_ending(text: str) -> str:
    """The line terminator of CSV text, from its first line ending: "\r\n", "\n" or (old Mac) "\r";
    "\n" when there is none."""
    cr, lf = text.find("\r"), text.find("\n")
    if cr != -1 and (lf == -1 or cr < lf):
        return "\r\n" if lf == cr + 1 else "\r"
    return "\n"


def detect_encoding(path: Path, sample: bytes) -> str:
    """UTF-8 (with or without BOM), UTF-16 by BOM, else charset-normalizer's guess (usually cp1252)."""
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if sample.startswith(b"PK\x03\x04"):  # a zip: what Excel saves
        raise InputError(f"{path.name}: this is an Excel workbook named as a CSV file; rename it to "
                         f"{path.with_suffix('.xlsx').name}")
    if b"\x00" in sample:
        raise InputError(f"{path.name}: this is not a text (CSV) file; it holds binary data")
    try:
        sample.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as exc:
        if len(sample) == SNIFF_BYTES and exc.start > len(sample) - 4:  # a character cut by the sample's end
            return "utf-8"
        if _has_utf8_multibyte(sample[: exc.start]):
            raise InputError(_mixed_encoding_message(path, "utf-8")) from None
    return _guess_legacy_encoding(sample)


def _has_utf8_multibyte(data: bytes) -> bool:
    return any(b >= 0x80 for b in data)


def _guess_legacy_encoding(sample: bytes) -> str:
    """cp1252 (Excel's "CSV" on Western Windows) when it fits, else charset-normalizer's guess."""
    try:
        sample.decode("cp1252")
        return "cp1252"
    except UnicodeDecodeError:
        pass
    best = charset_normalizer.from_bytes(sample, cp_isolation=["cp1252", "latin_1", "cp1250", "mac_roman"]).best()
    name = best.encoding if best is not None else "cp1252"
    return "cp1252" if name in {"latin_1", "iso8859_1"} else name


def _mixed_encoding_message(path: Path, encoding: str) -> str:
    data = path.read_bytes()
    try:
        data.decode(encoding)
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        return (f"{path.name}, line {line}: byte 0x{data[exc.start]:02x} is not {encoding}; "
                "the file mixes text encodings; save it again as UTF-8")
    return f"{path.name}: cannot decode the file as {encoding}; save it again as UTF-8"


def sniff_delimiter(text: str) -> str:
    """The delimiter among , ; tab | that splits the first lines most consistently.

    Apostrophes are hidden from Python's sniffer, which would take them for quotes (a CSV here
    quotes with " only, and a formula escape starts a cell with '), and lines end only at CR or LF.
    """
    lines = [line for line in re.split(r"\r\n|\r|\n", text)[:50] if line.strip()][:20] or [""]
    try:
        return csv.Sniffer().sniff("\n".join(lines).replace("'", "x"), delimiters=DELIMITERS).delimiter
    except csv.Error:
        counts = {d: lines[0].count(d) for d in DELIMITERS}
        best = max(counts, key=counts.get)
        return best if counts[best] else ","


_PARSER_LINE = re.compile(r"Expected (\d+) fields in line (\d+), saw (\d+)")


def _parser_message(exc: Exception, header_row: int) -> str:
    found = _PARSER_LINE.search(str(exc))
    if found:
        expected, line, saw = found.groups()
        row = int(line) + header_row - 1
        return f"row {row} has {saw} fields but the header has {expected}"
    quote = re.search(r"EOF inside string starting at row (\d+)", str(exc))
    if quote:
        return f"row {int(quote.group(1)) + header_row}: a quote (\") is never closed"
    return f"cannot parse as CSV: {str(exc).strip()}"


# --- xlsx --------------------------------------------------------------------------------------


def _read_xlsx(path: Path, sheet: str | int | None, header_row: int) -> Table:
    _check_workbook_container(path)
    # The error-cell scan (see _error_cells) reads the sheet's XML in a thread while calamine, which
    # lets go of the GIL, parses it: on two cores it costs little beside the parse. Columns are
    # named once the header is known.
    with ThreadPoolExecutor(1) as pool:
        try:
            workbook = python_calamine.CalamineWorkbook.from_path(str(path))
            name = _sheet_name(path, workbook, sheet)
            scan = pool.submit(_error_cells, path, name, [])
            calamine_sheet = workbook.get_sheet_by_name(name)
            rows = calamine_sheet.to_python(skip_empty_area=False)
            del calamine_sheet, workbook  # calamine's own copy of the cells, before pandas makes its
        except python_calamine.PasswordError:
            raise InputError(f"{path.name}: the workbook is password-protected; save an unprotected copy") from None
        except (python_calamine.CalamineError, ValueError, OSError) as exc:
            raise InputError(f"{path.name}: cannot read the workbook ({_short(exc)})") from None
        if len(rows) < header_row:
            raise InputError(f'{path.name}, sheet "{name}": no header on row {header_row}')
        header = [_header_name(v, i) for i, v in enumerate(rows[header_row - 1])]
        frame = pd.DataFrame(rows[header_row - 1:] if header_row > 1 else rows, dtype=object)
        del rows
        frame = _with_header(path, frame, header_row)
        found = scan.result()
    errors = [dataclasses.replace(e, column=_column_name(e.column, header)) for e in found if e.row in frame.index]
    errors.sort(key=lambda e: (e.row, _column_index_of(e, header)))
    return Table(frame=frame, path=path, errors=errors, sheet=name)


def read_workbook_rows(path: str | os.PathLike) -> dict[str, list[list]]:
    """Every sheet of an xlsx as its raw rows (values as calamine reads them), by name: for files
    syncer wrote and reads back whole (review workbooks), checked as any workbook is first."""
    path = Path(path)
    _check_workbook_container(path)
    try:
        book = python_calamine.CalamineWorkbook.from_path(str(path))
        return {name: book.get_sheet_by_name(name).to_python() for name in book.sheet_names}
    except python_calamine.PasswordError:
        raise InputError(f"{path.name}: the workbook is password-protected; save an unprotected copy") from None
    except (python_calamine.CalamineError, ValueError, OSError) as exc:
        raise InputError(f"{path.name}: cannot read the workbook ({_short(exc)})") from None


def _short(exc: Exception) -> str:
    return str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__


def _check_workbook_container(path: Path) -> None:
    """Refuse encrypted, legacy, corrupt and zip-bomb files before calamine opens them."""
    with open(path, "rb") as f:
        data = f.read(1 << 20)  # an OLE file names its streams near the start
    if data[:8] == OLE_MAGIC:
        if "EncryptedPackage".encode("utf-16-le") in data:
            raise InputError(f"{path.name}: the workbook is password-protected; save an unprotected copy")
        raise InputError(f"{path.name}: this is an old binary Excel file, not xlsx; save it as .xlsx")
    try:
        with zipfile.ZipFile(path) as z:
            infos = z.infolist()
    except (zipfile.BadZipFile, OSError):
        raise InputError(f"{path.name}: not a valid xlsx file (corrupt or truncated)") from None
    total = sum(i.file_size for i in infos)
    bomb = any(i.file_size > 50 * 1024**2 and i.file_size > MAX_COMPRESSION_RATIO * max(i.compress_size, 1) for i in infos)
    if total > MAX_UNZIPPED_BYTES or bomb:
        raise InputError(f"{path.name}: refusing to open: the workbook would inflate to {total:,} bytes (zip bomb?)")


def _pick_sheet(path: Path, workbook, sheet: str | int | None):
    return workbook.get_sheet_by_name(_sheet_name(path, workbook, sheet))


def _sheet_name(path: Path, workbook, sheet: str | int | None) -> str:
    """The name of the sheet `sheet` (a name, a 0-based position, None for the first) names."""
    names = workbook.sheet_names
    if sheet is None:
        sheet = 0
    if isinstance(sheet, int):
        if not 0 <= sheet < len(names):
            raise InputError(f"{path.name}: no sheet at position {sheet}; the workbook has {len(names)}: {_quoted(names)}")
        return names[sheet]
    if sheet not in names:
        raise InputError(f'{path.name}: no sheet "{sheet}"{did_you_mean(sheet, names)}; sheets are {_quoted(names)}')
    return sheet


def _quoted(names) -> str:
    return ", ".join(f'"{n}"' for n in names)


# Cells calamine reads as blanks though they hold something: an Excel error (t="e"), and a formula
# with no saved value (a workbook written by a program that stores formulas without calculating
# them). A formula with a cached <v> is fine: calamine gives the value.
_ERROR_CELL = re.compile(rb'<c r="([A-Z]+)(\d+)"[^>]*?t="e"[^>]*>(?:<f\b[^>]*?(?:/>|>[^<]*</f>))?<v>([^<]*)</v>')
# A formula followed by no value, or an empty one, then the cell's end; a literal start keeps the scan quick.
_BARE_FORMULA = re.compile(rb'<f\b[^>]*?(?:/>|>([^<]*)</f>)(<v\s*/>|<v></v>)?</c>')
_CELL_TAG = re.compile(rb'<c r="([A-Z]+)(\d+)"([^>]*)>')


def _error_cells(path: Path, sheet_name: str, header: list[str]) -> list[CellError]:
    """Cells calamine reads as blanks that hold something: Excel errors (#N/A, #REF!, ...) and
    formulas without a saved value. Found by scanning the sheet XML. With an empty `header`, each
    error's column is its letters.

    Streams the part in chunks, so the scan costs one decompression and little memory; a chunk
    without an error cell or a formula costs one search for each.
    """
    part = _sheet_part(path, sheet_name)
    if part is None:
        return []
    errors = []
    with zipfile.ZipFile(path) as z, z.open(part) as f:
        tail = b""
        while chunk := f.read(1 << 22):
            data = tail + chunk
            last = 0
            if b't="e"' in data:
                for m in _ERROR_CELL.finditer(data):
                    errors.append(_excel_error(path, m, header))
                    last = max(last, m.end())
            if b"<f" in data:
                for m in _BARE_FORMULA.finditer(data):
                    error = _bare_formula(path, data, m, header)
                    if error is not None:
                        errors.append(error)
                    last = max(last, m.end())
            keep = max(last, len(data) - 4096)
            cell = data.rfind(b"<c ", last, keep + 3)  # start the tail at a whole cell
            tail = data[cell if cell != -1 else keep:]
    return sorted(errors, key=lambda e: (e.row, _column_index_of(e, header)))


def _excel_error(path: Path, match: re.Match, header: list[str]) -> CellError:
    letters, row, code = (g.decode() for g in match.groups())
    return CellError(path, int(row), _column_name(letters, header), code, f"the cell holds the Excel error {code}")


def _bare_formula(path: Path, data: bytes, match: re.Match, header: list[str]) -> CellError | None:
    """The formula without a saved value that `match` found, or None for a formula whose saved value
    is the empty text (t="str" and an empty <v>)."""
    start = data.rfind(b"<c ", 0, match.start())
    tag = _CELL_TAG.fullmatch(data, start, match.start()) if start != -1 else None
    if tag is None or (b't="str"' in tag[3] and match[2]):
        return None
    text = match[1]
    formula = "=" + xml_unescape(text.decode(), _XML_QUOTES) if text else None
    return CellError(path, int(tag[2]), _column_name(tag[1].decode(), header), formula,
                     f"the cell holds the formula {formula or 'shared from another cell'} but no saved value (the "
                     "program that wrote the workbook did not calculate it); open and save the workbook in Excel "
                     "or LibreOffice so the value is stored, or type the value instead")


def _column_index_of(error: CellError, header: list[str]) -> int:
    return header.index(error.column) if error.column in header else len(header)


_XML_QUOTES = {"&quot;": '"', "&apos;": "'"}


def _column_name(letters: str, header: list[str]) -> str:
    index = _column_index(letters)
    return header[index] if index < len(header) else letters


def _column_index(letters: str) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + ord(ch) - 64
    return n - 1


def _sheet_part(path: Path, sheet_name: str) -> str | None:
    return _sheet_parts(path).get(sheet_name)


def _sheet_parts(path: Path) -> dict[str, str]:
    """Each sheet's name and the zip member holding its XML, read from the workbook's index alone."""
    ns = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main",
          "r": "http://schemas.openxmlformats.org/officeDocument/2006/relationships",
          "p": "http://schemas.openxmlformats.org/package/2006/relationships"}
    try:
        with zipfile.ZipFile(path) as z:
            book = ElementTree.fromstring(z.read("xl/workbook.xml"))
            rels = ElementTree.fromstring(z.read("xl/_rels/workbook.xml.rels"))
    except (KeyError, ElementTree.ParseError):
        return {}
    targets = {r.get("Id"): r.get("Target") or "" for r in rels.findall("p:Relationship", ns)}
    parts = {}
    for s in book.iterfind("m:sheets/m:sheet", ns):
        target = targets.get(s.get(f"{{{ns['r']}}}id"), "")
        parts[s.get("name")] = target.lstrip("/") if target.startswith("/") else str(PurePosixPath("xl") / target)
    return parts


# --- both --------------------------------------------------------------------------------------


def guess_header_row(path: str | os.PathLike, *, sheet: str | int | None = None, rows: int = 30) -> int | None:
    """The row (1-based) among the first `rows` that looks most like column names, or None: the first
    that is at least half as full as the fullest of them and whose cells are all text that reads as
    neither a number nor a date. For a hint when a sheet's header row is blank or looks like data."""
    path = Path(path)
    if path.suffix.lower() in CSV_SUFFIXES:  # Python's csv reads rows of any length, as a title line is
        with open(path, "rb") as f:
            sample = f.read(SNIFF_BYTES)
        encoding = detect_encoding(path, sample)
        with open(path, encoding=encoding, errors="replace", newline="") as f:
            reader = csv.reader(f, delimiter=sniff_delimiter(sample.decode(encoding, errors="ignore")))
            raw = [[unescape_formula(v) for v in line] for line in itertools.islice(reader, rows)]
    else:
        _check_workbook_container(path)
        try:
            workbook = python_calamine.CalamineWorkbook.from_path(str(path))
            raw = _pick_sheet(path, workbook, sheet).to_python(skip_empty_area=False, nrows=rows)
        except (python_calamine.CalamineError, ValueError, OSError) as exc:
            raise InputError(f"{path.name}: cannot read the workbook ({_short(exc)})") from None
    filled = [[v for v in line if v is not None and str(v).strip()] for line in raw]
    fullest = max(map(len, filled), default=0)
    for number, cells in enumerate(filled, start=1):
        if cells and len(cells) * 2 >= fullest and all(_label_like(v) for v in cells):
            return number
    return None


_DATE_LIKE = re.compile(r"\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}([ T].*)?")


def _label_like(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    text = value.strip().replace(",", "").replace(" ", "")
    return not (_PLAIN_NUMBER.fullmatch(text) or _DATE_LIKE.fullmatch(value.strip()) or "@" in value)


def _with_header(path: Path, raw: pd.DataFrame, header_row: int) -> pd.DataFrame:
    """Use the first row as the header and number the rest as the spreadsheet does."""
    if raw.empty:
        raise InputError(f"{path.name}: no header on row {header_row}")
    header = [_header_name(v, i) for i, v in enumerate(raw.iloc[0])]
    if _blank_rows(raw.iloc[:1]).all():
        raise InputError(f"{path.name}: row {header_row} is blank; it should hold the column names")
    _refuse_duplicates(path, header)
    frame = raw.iloc[1:]  # no copy: pandas copies on write, so raw never changes through it
    frame.columns = header
    frame.index = pd.RangeIndex(header_row + 1, header_row + 1 + len(frame))
    kept = [h for h in header if not (h.startswith("Column ") and _blank_column(frame[h]))]
    if len(kept) < len(header):
        frame = frame.loc[:, kept]
    blank = _blank_rows(frame)
    return frame[~blank] if blank.any() else frame


def _header_name(value: Any, position: int) -> str:
    text = "" if value is None else str(value).strip()
    return text or f"Column {get_column_letter(position + 1)}"


def _refuse_duplicates(path: Path, header: list[str]) -> None:
    counts = Counter(h.lower() for h in header)
    dups = [h for h in dict.fromkeys(header) if counts[h.lower()] > 1]
    if dups:
        where = "; ".join(
            f'"{d}" in columns ' + ", ".join(get_column_letter(i + 1) for i, h in enumerate(header) if h.lower() == d.lower())
            for d in dups)
        raise InputError(f"{path.name}: duplicate column names in the header: {where}")


def _blank_column(column: pd.Series) -> bool:
    return bool(_blank_cells(column).all())


def _blank_rows(frame: pd.DataFrame) -> pd.Series:
    """Rows whose every cell is blank. Narrows the candidates column by column, so a sheet whose
    first column is filled costs one column's check."""
    candidates = frame.index
    for column in range(frame.shape[1]):
        if candidates.empty:
            break
        cells = frame.iloc[:, column]
        candidates = candidates[_blank_cells(cells.loc[candidates] if len(candidates) < len(frame) else cells).to_numpy()]
    return pd.Series(frame.index.isin(candidates), index=frame.index)


def _blank_cells(column: pd.Series) -> pd.Series:
    """True where a cell is empty: None, NaN, or text that is only whitespace."""
    values = column.tolist()
    try:  # a column of text alone (every CSV column): str's own methods, in C, no copies
        spaces = np.fromiter(map(str.isspace, values), dtype=bool, count=len(values))
    except TypeError:  # numbers, dates or missing cells among them
        text = column.astype(pd.StringDtype("python"))  # Python's whitespace, with or without pyarrow
        return (text.isna() | text.str.strip().eq("")).fillna(True).astype(bool)
    return pd.Series(spaces | (column.to_numpy(dtype=object) == ""), index=column.index)


# --- CSV formula escapes -----------------------------------------------------------------------
# A spreadsheet runs text starting with = + - @ tab CR or LF as a formula (OWASP CSV injection), so
# a CSV gets such text with an apostrophe before it, as Excel shows a typed one: `=1+1` is written
# `'=1+1`. Text already starting with an apostrophe gets one more (`'hello` → `''hello`), so the rule
# is a bijection: reading removes exactly the apostrophes writing added, and `=1+1` reads back as
# `=1+1`. Plain signed numbers (`-5`, `+3.5`, `1e5`) stay as they are. An xlsx cell is typed, so
# text there is stored as text and needs no prefix.

_ESCAPED_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n", "'")
_PLAIN_NUMBER = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")


def needs_escape(value: Any) -> bool:
    """True for text a CSV holds with an apostrophe before it (see `escape_formula`)."""
    return isinstance(value, str) and value.startswith(_ESCAPED_STARTS) and not _PLAIN_NUMBER.fullmatch(value)


def escape_formula(value: Any) -> Any:
    """`value` as a CSV cell holds it: text starting with = + - @ tab CR LF (unless a plain number)
    or ' gets an apostrophe before it. Anything else, text or not, is returned as it is."""
    return "'" + value if needs_escape(value) else value


def unescape_formula(cell: Any) -> Any:
    """A CSV cell's value: the inverse of `escape_formula`. An apostrophe is removed only where
    writing would have added it, so a typed `'hello` stays `'hello` and a typed `'=x` reads `=x`."""
    if isinstance(cell, str) and cell.startswith("'") and needs_escape(cell[1:]):
        return cell[1:]
    return cell


def escape_formulas(column: pd.Series) -> pd.Series:
    """`escape_formula` for a whole column; numbers, booleans and dates pass through unchanged.

    Any other column comes back with object dtype (a categorical could not hold the quoted text).
    """
    if _typed_dtype(column):
        return column
    column = column.astype(object)  # a copy
    text = _texts(column)
    needs = _needs_escape(text)
    if needs.any():
        column.iloc[text.index[needs.to_numpy()]] = ("'" + text[needs]).to_numpy()
    return column


def unescape_formulas(column: pd.Series) -> pd.Series:
    """`unescape_formula` for a column of CSV text: only cells starting with an apostrophe are looked at."""
    if _typed_dtype(column) or not _may_start_with(column, "'"):
        return column
    quoted = column.str.startswith("'").fillna(False).astype(bool).to_numpy()
    if not quoted.any():
        return column
    rest = column[quoted].str[1:]
    undo = _needs_escape(rest).to_numpy()
    if not undo.any():
        return column
    column = column.copy()
    positions = np.flatnonzero(quoted)[undo]
    column.iloc[positions] = rest[undo].to_numpy()
    return column


def _needs_escape(text: pd.Series) -> pd.Series:
    """`needs_escape` for a Series of text (no missing values)."""
    needs = text.str.startswith(_ESCAPED_STARTS).astype(bool)
    if needs.any():
        needs[needs] = ~text[needs].str.fullmatch(_PLAIN_NUMBER.pattern).astype(bool)
    return needs


def _may_start_with(column: pd.Series, prefix: str) -> bool:
    """False when no cell of a column of text starts with `prefix`, found in one pass in C."""
    try:
        joined = "\n".join(column.tolist())
    except TypeError:  # not all text
        return True
    return joined.startswith(prefix) or f"\n{prefix}" in joined


def _typed_dtype(column: pd.Series) -> bool:
    dtype = column.dtype
    return (pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype)
            or pd.api.types.is_datetime64_any_dtype(dtype) or pd.api.types.is_timedelta64_dtype(dtype))


_NUMBER_KINDS = {"empty", "integer", "floating", "mixed-integer-float", "boolean"}  # pandas' infer_dtype


def _texts(column: pd.Series) -> pd.Series:
    """The text cells of a column, indexed by their position in it."""
    if _typed_dtype(column):
        return pd.Series([], dtype=object)
    column = column.astype(object).reset_index(drop=True)
    kind = pd.api.types.infer_dtype(column, skipna=True)
    if kind == "string":
        return column.dropna()
    if kind in _NUMBER_KINDS:
        return pd.Series([], dtype=object)
    return column[column.map(type).isin([str]).to_numpy()]


# --- cells a file cannot hold ------------------------------------------------------------------


def unwritable(frame: pd.DataFrame, path: str | os.PathLike, *, encoding: str | None = None,
               first_row: int | None = 2) -> list[CellError]:
    """Every cell of `frame` that the file `path` cannot hold as it is, found without writing anything.

    For a CSV: text holding a character the file's `encoding` lacks (UTF-8 by default; for a CSV read
    before, pass its `Table.encoding`). For an xlsx: text longer than an Excel cell's 32,767
    characters. `SheetWriter` and `edit_workbook` refuse to write such a cell (InputError naming it),
    so a caller that must write the rest holds these back first. Cells are numbered from
    `first_row`, the spreadsheet row of the frame's first row, or, with `first_row=None`, by the
    frame's index (a `Table` frame holds the sheet's row numbers). Column names are not checked.

        held_back = {(e.row, e.column) for e in tables.unwritable(cells, table.path,
                                                                  encoding=table.encoding, first_row=None)}
    """
    path = Path(path)
    rows = list(frame.index) if first_row is None else range(first_row, first_row + len(frame))
    return [CellError(path, rows[position], str(frame.columns[column]), frame.iat[position, column], message)
            for position, column, message in _cell_problems(frame, path, encoding or "utf-8")]


def _cell_problems(frame: pd.DataFrame, path: Path, encoding: str) -> list[tuple[int, int, str]]:
    """(position of the row, position of the column, message) of each cell `path` cannot hold."""
    suffix = path.suffix.lower()
    if suffix in CSV_SUFFIXES:
        return _csv_problems(_csv_cells(frame), encoding)
    if suffix in XLSX_SUFFIXES:
        return _xlsx_problems(frame)
    raise InputError(f"{path.name}: cannot write {suffix!r}; use .csv or .xlsx")


def _csv_problems(cells: pd.DataFrame, encoding: str) -> list[tuple[int, int, str]]:
    """`_cell_problems` of cells as a CSV holds them (`_csv_cells`): characters the encoding lacks."""
    return sorted((position, i, message) for i in range(cells.shape[1])
                  for position, message in _unencodable(_texts(cells.iloc[:, i]), encoding))


def _xlsx_problems(frame: pd.DataFrame) -> list[tuple[int, int, str]]:
    """`_cell_problems` for an xlsx: text longer than a cell holds."""
    return sorted((position, i, message) for i in range(frame.shape[1])
                  for position, message in _too_long(_texts(frame.iloc[:, i])))


def _unencodable(texts: pd.Series, encoding: str) -> list[tuple[int, str]]:
    """(position, message) of each text `encoding` cannot hold; one encode of them all when every one fits."""
    try:
        "\n".join(texts.tolist()).encode(encoding)
        return []
    except UnicodeEncodeError:
        pass
    found = []
    for position, text in texts.items():
        try:
            text.encode(encoding)
        except UnicodeEncodeError:
            lacking = [ch for ch in dict.fromkeys(text) if not _encodes(ch, encoding)]
            shown = " and ".join(_show_character(ch) for ch in lacking[:3]) + (" and others" if len(lacking) > 3 else "")
            found.append((position, f"{shown} cannot be written in {encoding}, this file's encoding; save the "
                                    'sheet as UTF-8 CSV (in Excel: Save As, "CSV UTF-8"), which holds any character'))
    return found


def _encodes(character: str, encoding: str) -> bool:
    try:
        character.encode(encoding)
        return True
    except UnicodeEncodeError:
        return False


def _show_character(ch: str) -> str:
    code = f"U+{ord(ch):04X}"
    return f'"{ch}" ({code})' if ch.isprintable() and not "\ud800" <= ch <= "\udfff" else code


def _too_long(texts: pd.Series) -> list[tuple[int, str]]:
    """(position, message) of each text longer than an Excel cell holds."""
    if texts.empty:
        return []
    lengths = np.fromiter(map(len, texts.tolist()), dtype=np.int64, count=len(texts))
    return [(position, _too_long_message(text)) for position, text in texts[lengths > EXCEL_CELL_LIMIT].items()]


def _too_long_message(text: str) -> str:
    return (f"the text is {len(text):,} characters long; an Excel cell holds at most {EXCEL_CELL_LIMIT:,}, so it "
            "cannot be written whole; export to CSV instead, which holds any length")


def _refusal(path: Path, errors: list[CellError]) -> str:
    """The message refusing to write cells a file cannot hold: each named, with its fix."""
    if len(errors) == 1:
        return f"{errors[0]}; nothing was written"
    shown = "\n".join(f"  {e}" for e in errors[:10])
    more = f"\n  and {len(errors) - 10} more" if len(errors) > 10 else ""
    return f"{path.name}: {len(errors)} cells cannot be written as they are; nothing was written:\n{shown}{more}"


# --- writing -----------------------------------------------------------------------------------

HEADER_FONT = Font(bold=True, color="FFFFFF")
HEADER_FILL = PatternFill("solid", fgColor="305496")


def write(frame: pd.DataFrame, path: str | os.PathLike, *, sheet_name: str = "Sheet1",
          encoding: str = "utf-8", delimiter: str = ",", newline: str = "\n", header_row: int = 1) -> None:
    """Write `frame` as CSV or xlsx (by extension), as one `SheetWriter.write`. The index is not written."""
    with SheetWriter(path, frame.columns, sheet_name=sheet_name, encoding=encoding, delimiter=delimiter,
                     newline=newline, header_row=header_row) as writer:
        writer.write(frame)


def write_sheets(sheets: dict[str, pd.DataFrame], path: str | os.PathLike) -> None:
    """Several frames as the sheets of one xlsx workbook, each styled as `write` styles one."""
    with SheetWriter(path) as writer:
        for name, frame in sheets.items():
            writer.sheet(name, frame.columns)
            writer.write(frame)


class SheetWriter:
    """Rows streamed chunk by chunk (a DataFrame per `write`) into a CSV or xlsx, by extension.

    Memory holds one chunk whatever the number of rows. The file is written beside `path` under a
    temporary name and renamed into place when the `with` block ends cleanly; if it raises, the
    temporary file is deleted and `path` is left as it was. Every cell reads back as the value
    written (README, "Lossless files"): in a CSV, text that would run as a formula gets an
    apostrophe that reading removes, and a cell holding a line break is quoted; in an xlsx, text is
    stored as text (never a formula), control characters as Excel escapes them, tz-aware datetimes
    as naive UTC, and dates Excel cannot show, sub-millisecond times and numbers beyond 15
    significant digits as exact text. A cell the file cannot hold (a character the CSV's encoding
    lacks, text longer than an Excel cell) raises InputError naming its row and column, before the
    file is written. An xlsx sheet gets a bold filled header, a frozen header row, an autofilter
    over every row, and column widths fitted to the header and the sheet's first chunk.

        with tables.SheetWriter("out.xlsx", ["VIN", "Price"], sheet_name="Cars") as writer:
            for chunk in chunks:
                writer.write(chunk)

    Without `columns`, call `sheet(name, columns)` before writing; calling it again starts another
    sheet of the same workbook (xlsx only). `header_row` puts the header on that row, blank rows
    above it, as `read(..., header_row=)` expects; `newline` ends a CSV's lines.
    """

    def __init__(self, path: str | os.PathLike, columns: Iterable[Any] | None = None, *,
                 sheet_name: str = "Sheet1", encoding: str = "utf-8", delimiter: str = ",",
                 newline: str = "\n", header_row: int = 1) -> None:
        self.path = Path(path)
        suffix = self.path.suffix.lower()
        if suffix not in CSV_SUFFIXES | XLSX_SUFFIXES:
            raise InputError(f"{self.path.name}: cannot write {suffix!r}; use .csv or .xlsx")
        if header_row < 1:
            raise ValueError(f"header_row must be 1 or more, not {header_row}")
        _check_folder(self.path)
        self.is_csv = suffix in CSV_SUFFIXES
        self.encoding, self.delimiter, self.newline, self.header_row = encoding, delimiter, newline, header_row
        self.columns: list[str] | None = None
        self.rows = 0  # data rows written to the current sheet
        self._header_due = False  # xlsx: the header waits for the first chunk, which sets the widths
        self._first_sheet = (sheet_name, columns)
        self._above: str | None = None  # CSV: the text above the header, instead of blank lines (_edit_csv)
        self._tmp: str | None = None
        self._file = self._book = self._ws = None

    def __enter__(self) -> SheetWriter:
        self._tmp = _temporary_beside(self.path)
        try:
            if self.is_csv:
                self._file = open(self._tmp, "w", encoding=self.encoding, newline="")
            else:
                self._book = openpyxl.Workbook(write_only=True)
            name, columns = self._first_sheet
            if columns is not None:
                self.sheet(name, columns)
        except BaseException:
            self._discard()
            raise
        return self

    @property
    def worksheet(self):
        """The xlsx sheet being written (openpyxl, write-only; None for a CSV): for conditional
        formats, data validations or its visibility, set before the next `sheet` call."""
        return self._ws

    def sheet(self, name: str, columns: Iterable[Any]) -> None:
        """Start the sheet `name` under these column names; later `write` calls fill it.

        A CSV holds one sheet, so for a CSV this is called once and `name` is unused.
        """
        if self.columns is not None and self.is_csv:
            raise ValueError(f"{self.path.name}: a CSV holds one sheet")
        self._finish_sheet()
        self.columns, self.rows = [str(c) for c in columns], 0
        if self.is_csv:
            header = pd.DataFrame([self.columns], dtype=object)
            cells = _csv_cells(header)
            self._refuse(_csv_problems(cells, self.encoding), self.header_row, header)
            above = self.newline * (self.header_row - 1) if self._above is None else self._above
            self._guarded(lambda: self._file.write(above))
            self._guarded(lambda: _write_csv_rows(self._file, cells, self.delimiter, self.newline))
        else:
            self._ws, self._header_due = _new_sheet(self.path, self._book, name), True

    def write(self, frame: pd.DataFrame) -> None:
        """Append the rows of `frame`, whose columns are the sheet's, in order; the index is not written."""
        if self.columns is None:
            raise ValueError("SheetWriter.write before sheet(): name the sheet's columns first")
        if [str(c) for c in frame.columns] != self.columns:
            raise ValueError(f"{self.path.name}: the chunk's columns {list(frame.columns)} are not the sheet's "
                             f"{self.columns}")
        first_row = self.header_row + 1 + self.rows
        if self.is_csv:
            cells = _csv_cells(frame)
            self._refuse(_csv_problems(cells, self.encoding), first_row, frame)
            self._guarded(lambda: _write_csv_rows(self._file, cells, self.delimiter, self.newline))
        else:
            self._refuse(_xlsx_problems(frame), first_row, frame)
            if self._header_due:
                _start_xlsx_sheet(self._ws, self.columns, frame, self.header_row)
                self._header_due = False
            _append_xlsx_rows(self._ws, frame)
        self.rows += len(frame)

    def __exit__(self, kind, error, trace) -> None:
        if kind is not None:
            self._discard()
            return
        try:
            self._finish_sheet()
            self._guarded(self._save)
            self._guarded(lambda: _put_in_place(self._tmp, self.path))
        finally:
            self._discard()

    def _refuse(self, problems: list[tuple[int, int, str]], first_row: int, frame: pd.DataFrame) -> None:
        """InputError naming each cell of `frame` (its first row on `first_row`) the file cannot hold."""
        if problems:
            errors = [CellError(self.path, first_row + position, self.columns[column], frame.iat[position, column],
                                message) for position, column, message in problems]
            raise InputError(_refusal(self.path, errors))

    def _finish_sheet(self) -> None:
        if self._ws is None:
            return
        if self._header_due:  # no row written: a header alone
            _start_xlsx_sheet(self._ws, self.columns, pd.DataFrame(columns=self.columns), self.header_row)
        _end_xlsx_sheet(self._ws, len(self.columns), self.rows, self.header_row)
        self._ws = None

    def _save(self) -> None:
        if self.is_csv:
            self._file.close()
        else:
            if not self._book.worksheets:
                self._book.create_sheet("Sheet1")  # a workbook needs a sheet
            self._book.save(self._tmp)

    def _guarded(self, action) -> None:
        """Run `action`; a failure of the disk (full, gone, refused) becomes an InputError naming the file."""
        try:
            action()
        except OSError as exc:
            raise InputError(f"{self.path}: cannot write it ({exc.strerror or exc})") from None

    def _discard(self) -> None:
        """Close and delete the temporary files, ours and the per-sheet ones of openpyxl's write-only mode."""
        if self._file is not None:
            self._file.close()
        if self._book is not None:
            for ws in self._book.worksheets:
                _discard_streamed_sheet(ws)
        if self._tmp is not None and os.path.exists(self._tmp):
            os.unlink(self._tmp)


def _discard_streamed_sheet(ws) -> None:
    """Close and delete the temporary file openpyxl's write-only mode streams a sheet into.

    Saving does this; after a failure, closing the sheet here ends its XML before its file is
    deleted (left to the garbage collector, it would write to a closed file).
    """
    writer = getattr(ws, "_writer", None)
    if writer is None or not os.path.exists(writer.out):  # never started, or saved
        return
    with contextlib.suppress(Exception):  # already failing: the first error is the one to report
        ws.close()
    writer.cleanup()


# --- CSV cells ---------------------------------------------------------------------------------

_CSV_AS_IS = [str, int, float, bool, np.int64, np.float64, np.bool_, type(None)]


def _csv_cells(frame: pd.DataFrame) -> pd.DataFrame:
    """The cells as a CSV holds them, numbered from 0: text escaped (`escape_formula`), decimals
    as exact text; numbers, booleans and dates as pandas writes them."""
    cells = frame.copy(deep=False)
    cells.index = pd.RangeIndex(len(cells))
    for i in range(cells.shape[1]):
        cells.isetitem(i, _csv_column(cells.iloc[:, i]))
    return cells


def _csv_column(column: pd.Series) -> pd.Series:
    if _typed_dtype(column):
        return column
    column = column.astype(object)
    kind = pd.api.types.infer_dtype(column, skipna=True)
    if kind in _NUMBER_KINDS:
        return column
    if kind != "string":  # mixed: text of the cells pandas would write with str() (a Decimal with an exponent)
        other = (~column.map(type).isin(_CSV_AS_IS) & column.notna()).to_numpy()
        if other.any():
            column.iloc[np.flatnonzero(other)] = [_csv_text(v) for v in column[other]]
    return escape_formulas(column)


def _csv_text(value: Any) -> str:
    return format(value, "f") if isinstance(value, Decimal) else str(value)  # "f": 1E+2 as 100


def _write_csv_rows(file, cells: pd.DataFrame, delimiter: str, newline: str) -> None:
    """The rows of `cells` as CSV lines ending in `newline`.

    pandas (Python's csv) quotes a cell holding a character of the line terminator, but not the
    other line break: a bare CR in a file of LF lines would split its row on reading. Rows with
    such a cell are written here, every line break quoted.
    """
    breaks = "".join(ch for ch in "\r\n" if ch not in newline)
    unquoted = _rows_holding(cells, breaks, newline[-1]) if breaks else []
    start = 0
    lines = dict(zip(unquoted, cells.iloc[unquoted].itertuples(index=False, name=None))) if len(unquoted) else {}
    for position in unquoted:
        if position > start:
            cells.iloc[start:position].to_csv(file, index=False, header=False, sep=delimiter, lineterminator=newline)
        file.write(_csv_line(lines[position], delimiter, newline))
        start = position + 1
    if start < len(cells):
        cells.iloc[start:].to_csv(file, index=False, header=False, sep=delimiter, lineterminator=newline)


def _rows_holding(cells: pd.DataFrame, characters: str, separator: str) -> list[int]:
    """Positions of the rows with a text cell holding any of `characters` (a column without one is
    passed over after one search of its text joined by `separator`, which is not one of them)."""
    found = np.zeros(len(cells), dtype=bool)
    for i in range(cells.shape[1]):
        text = _texts(cells.iloc[:, i])
        joined = separator.join(text.tolist())
        if any(ch in joined for ch in characters):
            found[text.index[text.str.contains(f"[{characters}]").to_numpy()]] = True
    return np.flatnonzero(found).tolist()


def _csv_line(values: tuple, delimiter: str, newline: str) -> str:
    """One CSV line, quoting (as Python's csv does) the cells holding the delimiter, a quote or a line break."""
    special = (delimiter, '"', "\r", "\n")
    texts = ["" if _missing(v) else str(v) for v in values]
    quoted = ['"' + t.replace('"', '""') + '"' if any(ch in t for ch in special) else t for t in texts]
    return delimiter.join(quoted) + newline


def _missing(value: Any) -> bool:
    return value is None or (pd.api.types.is_scalar(value) and bool(pd.isna(value)))


# --- xlsx cells --------------------------------------------------------------------------------


def _start_xlsx_sheet(ws, columns: list[str], first_rows: pd.DataFrame, header_row: int = 1) -> None:
    """Fitted widths, frozen header row and the styled header on `header_row`, blank rows above it.
    A write-only sheet writes its widths and panes with its first row, so this comes before any row."""
    for i, width in enumerate(column_widths(first_rows), start=1):
        ws.column_dimensions[get_column_letter(i)].width = width
    ws.freeze_panes = f"A{header_row + 1}"
    for _ in range(header_row - 1):
        ws.append([])
    ws.append([_header_cell(ws, c) for c in columns])


def _append_xlsx_rows(ws, frame: pd.DataFrame) -> None:
    for row in zip(*(_xlsx_column(ws, frame.iloc[:, i]) for i in range(frame.shape[1]))):
        ws.append(row)


def _end_xlsx_sheet(ws, columns: int, rows: int, header_row: int = 1) -> None:
    if columns:
        ws.auto_filter.ref = f"A{header_row}:{get_column_letter(columns)}{header_row + rows}"


def _fill_sheet(ws, frame: pd.DataFrame) -> None:
    """A whole frame into an empty sheet (write-only or not), styled as SheetWriter styles one."""
    _start_xlsx_sheet(ws, [str(c) for c in frame.columns], frame)
    _append_xlsx_rows(ws, frame)
    _end_xlsx_sheet(ws, len(frame.columns), len(frame))


def _header_cell(ws, name: str):
    cell = WriteOnlyCell(ws, value=_xlsx_text(name))
    cell.data_type = "s"
    cell.font, cell.fill = HEADER_FONT, HEADER_FILL
    cell.alignment = Alignment(vertical="center")
    return cell


def _xlsx_column(ws, column: pd.Series) -> list:
    """`_xlsx_value` of every cell of a column. This runs once per cell of every sheet written, so
    the cells openpyxl stores as they are (most numbers, blanks, ordinary text) are found a whole
    column at a time where the column allows, and only the others are converted one by one."""
    values = column.astype(object).where(column.notna(), None).tolist()
    for i in _xlsx_special(column, values):
        values[i] = _xlsx_value(ws, values[i])
    return values


_EXACT_INT = 10**EXCEL_DIGITS  # an int below it in size is a number Excel holds exactly
_XLSX_TEXT_STARTS = ("=", "#")  # openpyxl would store such text as a formula or an error code


def _xlsx_special(column: pd.Series, values: list) -> Iterable[int]:
    """Positions of the cells openpyxl cannot be given as they are."""
    dtype = column.dtype
    if isinstance(dtype, np.dtype) and dtype.kind == "b":
        return ()
    if isinstance(dtype, np.dtype) and dtype.kind in "iu":
        numbers = column.to_numpy()
        return np.flatnonzero((numbers >= _EXACT_INT) | (numbers <= -_EXACT_INT))
    if isinstance(dtype, np.dtype) and dtype.kind == "f":
        return np.flatnonzero(~_excel_floats(column.to_numpy()))
    if dtype == object and pd.api.types.infer_dtype(column, skipna=True) == "string" and _plain_texts(column):
        return ()
    return [i for i, v in enumerate(values) if not _plain_xlsx(v)]


def _plain_texts(column: pd.Series) -> bool:
    """True when no text of the column needs more than storing as it is, found in a few passes in C
    (text longer than a cell was refused before, so none is)."""
    texts = column.dropna()
    joined = "\n".join(texts.tolist())
    return not (joined.startswith(_XLSX_TEXT_STARTS) or "\n=" in joined or "\n#" in joined or "_x" in joined
                or _XLSX_CONTROL.search(joined) or texts.str.isspace().any())


def _plain_xlsx(v: Any) -> bool:
    """True for a value openpyxl stores as it is and calamine reads back the same."""
    kind = v.__class__
    if kind is str:
        return v.isprintable() and "_x" not in v and not v.startswith(_XLSX_TEXT_STARTS) and not v.isspace()
    if kind is int:
        return -_EXACT_INT < v < _EXACT_INT
    if kind is float:  # repr holds every significant digit; a longer one is checked exactly
        return len(repr(v)) <= EXCEL_DIGITS and math.isfinite(v)
    return v is None or kind is bool


_POWERS_OF_TEN = np.array([float(10**k) for k in range(23)])  # exact doubles


def _excel_floats(numbers: np.ndarray) -> np.ndarray:
    """True where a float is blank or has at most 15 significant digits, for a whole array.

    Rounds each to 15 significant digits as an integer m and a power of ten 10**k (k <= 22, both
    exact doubles), so m / 10**k is the double nearest that decimal: equal to the float exactly
    when 15 digits hold it. Floats this cannot decide (tiny, huge, or at a rounding edge) come out
    False and are checked one by one.
    """
    with np.errstate(all="ignore"):
        exponent = np.floor(np.log10(np.abs(numbers)))
        k = EXCEL_DIGITS - 1 - exponent
        usable = np.isfinite(k) & (k >= 0) & (k <= 22)
        scale = _POWERS_OF_TEN[np.where(usable, k, 0).astype(np.int64)]
        fits = usable & (np.round(numbers * scale) / scale == numbers)
    return fits | np.isnan(numbers) | (numbers == 0)


def _xlsx_value(ws, value: Any):
    """A value openpyxl stores so that it reads back as written: text stays text (never a formula
    or an error code), anything else as `_xlsx_plain` makes it."""
    value = _xlsx_plain(value)
    if isinstance(value, str) and (value.startswith(_XLSX_TEXT_STARTS) or len(value) > EXCEL_CELL_LIMIT):
        cell = WriteOnlyCell(ws)
        _store_text(cell, value)
        return cell
    return value


def _store_text(cell, text: str) -> None:
    """Put `text`, already as an xlsx stores it (`_xlsx_text`), into an openpyxl cell as a text cell.

    Assigning `cell.value` would make text starting with = a formula and #N/A an error code, and
    cuts text to 32,767 characters without a word; escaped text (a line break as _x000D_) may be
    longer than the characters it stands for, so the value is set as openpyxl's own setter would,
    without that cut. The length Excel limits is checked before (`_too_long`).
    """
    cell._value = text
    cell.data_type = "s"


def _xlsx_plain(value: Any) -> Any:
    """The value an xlsx cell is given: None for blanks; text with control characters escaped as
    Excel escapes them; numbers Excel cannot hold exactly, dates it cannot show and times finer
    than a millisecond as exact text; tz-aware datetimes as naive UTC."""
    if value is None:
        return None
    if isinstance(value, str):
        return _xlsx_text(value)
    if isinstance(value, (np.integer, np.floating, np.bool_)):
        value = value.item()
    elif isinstance(value, np.datetime64):
        value = pd.Timestamp(value)
    if _missing(value):
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float, Decimal)):
        return _xlsx_number(value)
    if isinstance(value, (dt.date, dt.time)):
        return _xlsx_when(value)
    return value


def _xlsx_number(value: int | float | Decimal) -> int | float | str:
    """`value` as a number when Excel holds it exactly (15 significant digits, in a double's range),
    else its exact decimal text, without an exponent."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    exact = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    if not exact.is_finite():
        return str(exact)
    digits = "".join(map(str, exact.as_tuple().digits)).rstrip("0")
    if len(digits) > EXCEL_DIGITS or (exact and not -300 < exact.adjusted() < 300):
        return format(exact, "f")
    if isinstance(value, Decimal):
        return int(exact) if exact == exact.to_integral_value() else float(exact)
    return value


def _xlsx_when(value: dt.date | dt.time) -> Any:
    """A date, datetime or time as Excel holds it; as ISO text where Excel cannot (before 1900-03-01,
    after 9999-12-31) or calamine would round it (finer than a millisecond)."""
    if isinstance(value, pd.Timestamp):
        if value.tzinfo is not None:
            value = value.tz_convert("UTC").tz_localize(None)
        if value.nanosecond:
            return value.isoformat(sep=" ")
        value = value.to_pydatetime()
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
        shown = EXCEL_FIRST_DAY <= value.date() <= EXCEL_LAST_DAY and not value.microsecond % 1000
        return value if shown else value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value if EXCEL_FIRST_DAY <= value <= EXCEL_LAST_DAY else value.isoformat()
    return value.isoformat() if value.microsecond % 1000 or value.tzinfo is not None else value


# Control characters XML cannot hold are stored as Excel stores them, _xHHHH_ (as is a bare CR,
# which XML would turn into LF); text that already looks like such an escape gets its "_" escaped.
_XLSX_ESCAPE = re.compile(r"_(?=x[0-9A-Fa-f]{4}_)|[\x00-\x08\x0b-\x1f]")
_XLSX_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f]")


def _xlsx_text(text: str) -> str:
    """Text as an xlsx cell stores it, so that Excel and calamine read back `text` exactly."""
    if text.isspace():  # openpyxl marks no xml:space="preserve" on it, and readers drop XML whitespace
        return "".join(f"_x{ord(ch):04X}_" if ch <= " " else ch for ch in text)
    if text.isprintable() and "_x" not in text:
        return text
    return _XLSX_ESCAPE.sub(lambda m: f"_x{ord(m.group()):04X}_", text)


def column_widths(frame: pd.DataFrame, *, sample: int = 200) -> list[float]:
    """Widths fitted to the header and the first `sample` rows, between 8 and 60 characters."""
    head = frame.head(sample)
    widths = []
    for i, column in enumerate(frame.columns):
        longest = head.iloc[:, i].map(lambda v: len(str(v)) if v is not None else 0).max() if len(head) else 0
        widths.append(float(min(max(len(str(column)) + 4, (longest or 0) + 2, 8), 60)))
    return widths


def _check_folder(path: Path) -> None:
    if not path.parent.is_dir():
        raise InputError(f"{path}: cannot write here (no folder {path.parent})")


# --- writing files durably ----------------------------------------------------------------------
# Every file syncer writes whole (sheets rewritten in place, reports, review workbooks, exports,
# plans, undo plans, sync snapshots) is written to a temporary file beside it and renamed over it
# by `replacing` (or `atomic_write`, or SheetWriter): a crash at any moment leaves the old file or
# the new one, never half of one, and the renamed file has the mode a file written in place would.


def _umask_now() -> int | None:
    """The process's umask as Linux shows it (/proc/self/status, "Umask:"), or None where it cannot."""
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    return None


def _umask_at_import() -> int:
    # os.umask reads the umask only by setting it, for the whole process: a file another thread
    # created in between would get the wrong mode. So it is done at most once, here, while syncer is
    # imported (before it starts any thread), and only where /proc cannot tell.
    found = _umask_now()
    if found is None:
        found = os.umask(0o022)
        os.umask(found)
    return found


_UMASK_AT_IMPORT = _umask_at_import()


def new_file_mode() -> int:
    """The mode open() gives a new file: 0o666 less the umask.

    On Linux the umask is read from /proc at each call, without changing it, so a umask the program
    sets later counts; elsewhere it is the umask syncer was imported under.
    """
    umask = _umask_now()
    return 0o666 & ~(_UMASK_AT_IMPORT if umask is None else umask)


def _temporary_beside(path: Path) -> str:
    """An empty temporary file in `path`'s folder, so the final rename stays on one file system.

    Its mode is 0600 while it is written (mkstemp); `_put_in_place` gives it its final mode.
    """
    _check_folder(path)
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=path.suffix)
    except OSError as exc:
        raise InputError(f"{path}: cannot write here ({exc.strerror or exc})") from None
    os.close(fd)
    return tmp


def _put_in_place(tmp: str, path: Path) -> None:
    """Make the written, closed file `tmp` the file `path`, durably.

    It gets `path`'s mode (and, where permitted, its group), or a new file's mode (`new_file_mode`);
    then it is fsynced (after the mode, so the mode is on disk too), renamed over `path`, and on
    POSIX the folder is fsynced, so that the rename itself survives a power cut.
    """
    _give_mode(tmp, path)
    with open(tmp, "rb+") as f:  # fsync needs a descriptor open for writing on Windows
        os.fsync(f.fileno())
    os.replace(tmp, path)
    _sync_folder(path.parent)


def _give_mode(tmp: str, path: Path) -> None:
    try:
        old = os.stat(path)
    except FileNotFoundError:
        os.chmod(tmp, new_file_mode())
        return
    if hasattr(os, "chown") and os.stat(tmp).st_gid != old.st_gid:
        with contextlib.suppress(PermissionError):  # a group the user is not in: the user's own
            os.chown(tmp, -1, old.st_gid)
    os.chmod(tmp, stat.S_IMODE(old.st_mode))  # after chown, which may clear the set-group-id bit


def _sync_folder(folder: Path) -> None:
    if os.name != "posix":  # Windows cannot open a folder to fsync it; NTFS journals the rename
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    except OSError as exc:
        if exc.errno not in (errno.EINVAL, errno.ENOTSUP):  # file systems that cannot sync a folder
            raise
    finally:
        os.close(fd)


@contextlib.contextmanager
def replacing(path: str | os.PathLike) -> Iterator[str]:
    """The path of a temporary file beside `path` to write and close; when the block ends it
    replaces `path` (`_put_in_place`: fsynced, with `path`'s mode, renamed), and if the block raises
    it is deleted and `path` is left as it was. A failure of the disk raises InputError naming `path`.

        with tables.replacing(snapshot_path) as tmp:
            db = sqlite3.connect(tmp)
            ...
            db.close()
    """
    path = Path(path)
    tmp = _temporary_beside(path)
    try:
        yield tmp
        _put_in_place(tmp, path)
    except OSError as exc:
        raise InputError(f"{path}: cannot write it ({exc.strerror or exc})") from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def atomic_write(path: str | os.PathLike, content) -> None:
    """Write `path` whole or not at all, durably, keeping its mode (see `replacing`).

    `content` is text (written as UTF-8), bytes, an iterable of either (written piece by piece), or a
    function that writes the file whose path it is given (`workbook.save`).
    """
    with replacing(path) as tmp:
        if callable(content):
            content(tmp)
            return
        pieces = [content] if isinstance(content, (str, bytes)) else content
        with open(tmp, "wb") as f:
            f.writelines(p.encode("utf-8") if isinstance(p, str) else p for p in pieces)


# --- editing in place --------------------------------------------------------------------------


def edit_workbook(path: str | os.PathLike, *, sheet: str | int | None = None, header_row: int = 1,
                  cells: dict[tuple[int, str], Any] | None = None,
                  append_rows: list[dict[str, Any]] | None = None,
                  add_columns: list[str] | None = None,
                  replace_sheets: dict[str, pd.DataFrame | None] | None = None,
                  expect_digest: str | None = None) -> None:
    """Change cells, append rows and add columns of an existing sheet, and replace whole sheets, in place.

    `cells` maps (spreadsheet row number, column name) to a new value. An xlsx keeps its formatting,
    its formulas elsewhere and its other sheets; appended rows copy the style of the last row.
    A CSV is rewritten with its own encoding, delimiter and line endings, every other cell and the
    rows above the header as they were. Values are written as `SheetWriter` writes them, and a
    value the file cannot hold (see `unwritable`) raises InputError before the file is touched.

    `replace_sheets` (xlsx only) maps a sheet name to a frame written as that whole sheet, styled as
    `write` styles one, where the sheet of that name was or else after the others; None removes
    the sheet, if there is one. Replacing comes after the other edits, in the same save; a workbook
    where nothing would change is not rewritten.

    `expect_digest` (file_digest as the sheet was read): SheetChanged, with nothing written, when the
    file has been saved since (check_unchanged), checked before anything is loaded.
    """
    path = Path(path)
    check_unchanged(path, expect_digest)
    cells, append_rows, add_columns = cells or {}, append_rows or [], add_columns or []
    replace_sheets = replace_sheets or {}
    edits = bool(cells or append_rows or add_columns)
    if path.suffix.lower() in CSV_SUFFIXES:
        if replace_sheets:
            raise InputError(f"{path.name}: a CSV file has one sheet; cannot replace the sheets "
                             f"{_quoted(replace_sheets)} (use an .xlsx workbook)")
        return _edit_csv(path, header_row, cells, append_rows, add_columns)
    _check_workbook_container(path)
    if replace_sheets and not edits and not _replaces_anything(path, replace_sheets):
        return
    workbook = openpyxl.load_workbook(path, keep_vba=path.suffix.lower() == ".xlsm", rich_text=True)
    _restore_escaped_underscores(path, workbook)
    if edits or not replace_sheets:
        _edit_sheet(path, _openpyxl_sheet(path, workbook, sheet), header_row, cells, append_rows, add_columns)
    _replace_sheets(path, workbook, replace_sheets)
    atomic_write(path, workbook.save)


def _restore_escaped_underscores(path: Path, workbook) -> None:
    """Store again, as `_xlsx_text` stores them, the text cells openpyxl loaded changed.

    openpyxl reads Excel's escaped "_" (`_x005F_`) as "_", so the text `_x0041_`, stored
    `_x005F_x0041_`, would be saved back as `_x0041_`, an escape that reads as "A". The cells whose
    loaded text holds "_x" are set again from their true text, as calamine reads it (read only
    for a sheet holding such a cell). Rich text (runs of several formats) is left as openpyxl has it.
    """
    book = None
    for ws in workbook.worksheets:
        suspects = [c for c in ws._cells.values() if c.data_type == "s" and isinstance(c.value, str) and "_x" in c.value]
        if not suspects:
            continue
        book = book or python_calamine.CalamineWorkbook.from_path(str(path))
        rows = book.get_sheet_by_name(ws.title).to_python(skip_empty_area=False)
        for cell in suspects:
            line = rows[cell.row - 1] if cell.row <= len(rows) else []
            text = line[cell.column - 1] if cell.column <= len(line) else None
            if isinstance(text, str):
                _store_text(cell, _xlsx_text(text))


def _edit_sheet(path: Path, ws, header_row: int, cells, append_rows, add_columns) -> None:
    _refuse_long_edits(path, ws, cells, append_rows)
    positions = _header_positions(ws, header_row)
    for name in add_columns:
        if name not in positions:
            positions[name] = _add_column(ws, header_row, name)
    for (row, column), value in cells.items():
        _set_cell(ws.cell(row=row, column=_position(path, positions, column)), value)
    for values in append_rows:
        _append_row(ws, path, positions, values)


def _refuse_long_edits(path: Path, ws, cells, append_rows) -> None:
    """InputError for any text of the edits longer than an Excel cell holds, before any is made."""
    edits = [(row, column, value) for (row, column), value in cells.items()]
    edits += [(ws.max_row + 1 + i, column, value) for i, values in enumerate(append_rows) for column, value in values.items()]
    errors = [CellError(path, row, column, value, _too_long_message(value)) for row, column, value in edits
              if isinstance(value, str) and len(value) > EXCEL_CELL_LIMIT]
    if errors:
        raise InputError(_refusal(path, errors))


def _replaces_anything(path: Path, replace_sheets: dict[str, pd.DataFrame | None]) -> bool:
    """False when every replacement removes a sheet the workbook does not have."""
    present = _sheet_parts(path)
    return any(frame is not None or name in present for name, frame in replace_sheets.items())


def _replace_sheets(path: Path, workbook, replace_sheets: dict[str, pd.DataFrame | None]) -> None:
    for frame in replace_sheets.values():
        if frame is not None and (problems := _xlsx_problems(frame)):
            raise InputError(_refusal(path, [CellError(path, 2 + position, str(frame.columns[column]),
                                                       frame.iat[position, column], message)
                                             for position, column, message in problems]))
    active = workbook.active.title if workbook.active is not None else None
    for name, frame in replace_sheets.items():
        position = workbook.sheetnames.index(name) if name in workbook.sheetnames else None
        if position is not None:
            workbook.remove(workbook[name])
        if frame is not None:
            _fill_sheet(_new_sheet(path, workbook, name, position), frame)
    if not workbook.sheetnames:
        raise InputError(f"{path.name}: cannot remove every sheet ({_quoted(replace_sheets)}); a workbook needs one")
    # openpyxl keeps the active sheet as a position, which a removal shifts onto another sheet
    workbook.active = workbook.sheetnames.index(active) if active in workbook.sheetnames else 0


def _new_sheet(path: Path, workbook, name: str, position: int | None = None):
    try:
        return workbook.create_sheet(name, position)
    except ValueError as exc:  # a character Excel forbids in sheet names: / \ ? * [ ] :
        raise InputError(f'{path.name}: cannot name a sheet "{name}" ({exc})') from None


def _openpyxl_sheet(path: Path, workbook, sheet: str | int | None):
    names = workbook.sheetnames
    if sheet is None or isinstance(sheet, int):
        index = sheet or 0
        if not 0 <= index < len(names):
            raise InputError(f"{path.name}: no sheet at position {index}")
        return workbook[names[index]]
    if sheet not in names:
        raise InputError(f'{path.name}: no sheet "{sheet}"{did_you_mean(sheet, names)}')
    return workbook[sheet]


def _header_positions(ws, header_row: int) -> dict[str, int]:
    return {str(c.value).strip(): c.column for c in ws[header_row] if c.value not in (None, "")}


def _position(path: Path, positions: dict[str, int], column: str) -> int:
    if column not in positions:
        raise InputError(f'{path.name}: no column "{column}"{did_you_mean(column, positions)}')
    return positions[column]


def _add_column(ws, header_row: int, name: str) -> int:
    from copy import copy

    column = ws.max_column + 1
    last = ws.cell(row=header_row, column=column - 1)
    cell = ws.cell(row=header_row, column=column)
    _set_cell(cell, name)
    if last.has_style:
        cell._style = copy(last._style)
    ws.column_dimensions[get_column_letter(column)].width = max(len(name) + 4, 10)
    if ws.auto_filter.ref:
        ws.auto_filter.ref = f"A{header_row}:{get_column_letter(column)}{ws.max_row}"
    return column


def _append_row(ws, path: Path, positions: dict[str, int], values: dict[str, Any]) -> None:
    from copy import copy

    row = ws.max_row + 1
    for column, value in values.items():
        target = ws.cell(row=row, column=_position(path, positions, column))
        above = ws.cell(row=row - 1, column=target.column)
        if above.has_style:
            target._style = copy(above._style)
        _set_cell(target, value)


def _set_cell(cell, value: Any) -> None:
    plain = _xlsx_plain(value)
    if isinstance(plain, str):
        _store_text(cell, plain)  # text, never a formula or an error code: a value from HubSpot must never run
    else:
        cell.value = plain


def _edit_csv(path: Path, header_row: int, cells, append_rows, add_columns) -> None:
    """Edit a CSV as a grid of its records from the header row on, so that every cell, blank row
    and unnamed column stays where it was; the rows above the header are kept as the file has them."""
    grid, dialect, _ = _raw_csv(path, header_row)
    grid = grid.astype(object).set_axis(range(grid.shape[1]), axis=1)
    if grid.empty:
        raise InputError(f"{path.name}: no header on row {header_row}")
    header = [_header_name(v, i) for i, v in enumerate(grid.iloc[0])]
    _refuse_duplicates(path, header)
    names = {name: i for i, name in enumerate(header)}
    for name in add_columns:
        if name not in names:
            names[name] = grid.shape[1]
            grid[grid.shape[1]] = [name] + [""] * (len(grid) - 1)
    for (row, column), value in cells.items():
        if not 0 < row - header_row < len(grid):
            raise InputError(f'{path.name}: no row {row} to write column "{column}" into')
        grid.iat[row - header_row, _position(path, names, column)] = "" if value is None else value
    if append_rows:
        extra = [[""] * grid.shape[1] for _ in append_rows]
        for line, values in zip(extra, append_rows):
            for column, value in values.items():
                line[_position(path, names, column)] = "" if value is None else value
        grid = pd.concat([grid, pd.DataFrame(extra, dtype=object)], ignore_index=True)
    as_read = [str(v) for v in grid.iloc[0]]  # a blank name stays blank
    with SheetWriter(path, encoding=dialect.encoding, delimiter=dialect.delimiter, newline=dialect.newline,
                     header_row=header_row) as writer:
        writer._above = _text_above(path, dialect.encoding, header_row)
        writer.sheet(path.stem, as_read)
        writer.write(grid.iloc[1:].set_axis(as_read, axis=1))


def _text_above(path: Path, encoding: str, header_row: int) -> str:
    """The records above the header row, as the file has them (a quoted cell may span lines)."""
    lines, quotes, records = [], 0, 0
    with open(path, encoding=encoding, newline="") as f:
        for line in f:
            if records == header_row - 1:
                break
            lines.append(line)
            quotes += line.count('"')
            records += quotes % 2 == 0
    return "".join(lines)


def to_text(frame: pd.DataFrame) -> str:
    """CSV text of `frame` (for messages and tests)."""
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False)
    return buffer.getvalue()
