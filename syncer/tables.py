"""Read and write spreadsheets: CSV and Excel in, a table of raw cells out, and back.

A `Table` keeps the spreadsheet's own row numbers as its index (header on row 1 → first data row 2),
so every later message can point at the row a person sees. Cells stay raw here (strings from a CSV,
typed values from xlsx); `values` turns them into HubSpot's canonical form.

Reading xlsx uses python-calamine (fast, Rust); writing and editing in place use openpyxl.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import datetime as dt
import hashlib
import io
import os
import re
import tempfile
import zipfile
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any
from xml.etree import ElementTree

import charset_normalizer
import openpyxl
import pandas as pd
import python_calamine
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from syncer.errors import InputError

CSV_SUFFIXES = {".csv", ".tsv", ".txt"}
XLSX_SUFFIXES = {".xlsx", ".xlsm"}
DELIMITERS = ",;\t|"
SNIFF_BYTES = 64 * 1024
# An xlsx is a zip; refuse archives that would inflate far beyond any real workbook.
MAX_UNZIPPED_BYTES = 4 * 1024**3
MAX_COMPRESSION_RATIO = 200
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
EXCEL_ERRORS = {"#N/A", "#REF!", "#VALUE!", "#DIV/0!", "#NAME?", "#NUM!", "#NULL!", "#SPILL!", "#CALC!"}


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

    @property
    def header(self) -> list[str]:
        return [str(c) for c in self.frame.columns]


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
    table.digest = file_digest(path)
    return table


# --- CSV ---------------------------------------------------------------------------------------


def _read_csv(path: Path, header_row: int) -> Table:
    with open(path, "rb") as f:
        sample = f.read(SNIFF_BYTES)
    encoding = detect_encoding(path, sample)
    text = sample.decode(encoding, errors="ignore")
    delimiter = sniff_delimiter(text)
    try:
        frame = pd.read_csv(
            path, sep=delimiter, header=None, dtype=str, na_filter=False, encoding=encoding,
            skiprows=header_row - 1, skip_blank_lines=False, engine="c", quotechar='"',
        )
    except UnicodeDecodeError:
        raise InputError(_mixed_encoding_message(path, encoding)) from None
    except pd.errors.EmptyDataError:
        raise InputError(f"{path.name}: no header on row {header_row}") from None
    except pd.errors.ParserError as exc:
        raise InputError(f"{path.name}: {_parser_message(exc, header_row)}") from None
    frame = _with_header(path, frame, header_row)
    return Table(frame=frame, path=path, encoding=encoding, delimiter=delimiter)


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
    """The delimiter among , ; tab | that splits the first lines most consistently."""
    lines = [line for line in text.splitlines()[:50] if line.strip()][:20] or [""]
    try:
        return csv.Sniffer().sniff("\n".join(lines), delimiters=DELIMITERS).delimiter
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
    try:
        workbook = python_calamine.CalamineWorkbook.from_path(str(path))
        calamine_sheet = _pick_sheet(path, workbook, sheet)
        rows = calamine_sheet.to_python(skip_empty_area=False)
    except python_calamine.PasswordError:
        raise InputError(f"{path.name}: the workbook is password-protected; save an unprotected copy") from None
    except (python_calamine.CalamineError, ValueError, OSError) as exc:
        raise InputError(f"{path.name}: cannot read the workbook ({_short(exc)})") from None
    if len(rows) < header_row:
        raise InputError(f'{path.name}, sheet "{calamine_sheet.name}": no header on row {header_row}')
    frame = pd.DataFrame(rows[header_row - 1:], dtype=object)
    frame = _with_header(path, frame, header_row)
    errors = [e for e in _error_cells(path, calamine_sheet.name, header_row, frame) if e.row in frame.index]
    return Table(frame=frame, path=path, errors=errors, sheet=calamine_sheet.name)


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
    names = workbook.sheet_names
    if sheet is None:
        sheet = 0
    if isinstance(sheet, int):
        if not 0 <= sheet < len(names):
            raise InputError(f"{path.name}: no sheet at position {sheet}; the workbook has {len(names)}: {_quoted(names)}")
        return workbook.get_sheet_by_index(sheet)
    if sheet not in names:
        raise InputError(f'{path.name}: no sheet "{sheet}"{closest_hint(sheet, names)}; sheets are {_quoted(names)}')
    return workbook.get_sheet_by_name(sheet)


def _quoted(names) -> str:
    return ", ".join(f'"{n}"' for n in names)


def closest_hint(word: str, candidates) -> str:
    """`; did you mean "x"?` for the nearest candidate, matched without regard to case, or ''."""
    import difflib

    lowered = {str(c).lower(): str(c) for c in candidates}
    found = difflib.get_close_matches(str(word).lower(), list(lowered), n=1, cutoff=0.6)
    return f'; did you mean "{lowered[found[0]]}"?' if found else ""


_CELL_REF = re.compile(rb'<c r="([A-Z]+)(\d+)"[^>]*?t="e"[^>]*>.*?<v>([^<]*)</v>', re.S)


def _error_cells(path: Path, sheet_name: str, header_row: int, frame: pd.DataFrame) -> list[CellError]:
    """Excel error cells (#N/A, #REF!, ...): calamine reads them as blanks, so scan the sheet XML.

    Streams the part in chunks, so the scan costs one decompression and little memory.
    """
    part = _sheet_part(path, sheet_name)
    if part is None:
        return []
    errors, columns = [], list(frame.columns)
    with zipfile.ZipFile(path) as z, z.open(part) as f:
        tail = b""
        while chunk := f.read(1 << 22):
            data = tail + chunk
            last = 0
            if b't="e"' not in data:  # the common case: no error cell here, skip the regex
                tail = data[-4096:]
                continue
            for m in _CELL_REF.finditer(data):
                errors.append(_error_cell(path, m, columns))
                last = m.end()
            tail = data[max(last, len(data) - 4096):]
    return errors


def _error_cell(path: Path, match: re.Match, columns: list) -> CellError:
    letters, row, code = (g.decode() for g in match.groups())
    index = _column_index(letters)
    column = str(columns[index]) if index < len(columns) else letters
    return CellError(path, int(row), column, code, f"the cell holds the Excel error {code}")


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


def _with_header(path: Path, raw: pd.DataFrame, header_row: int) -> pd.DataFrame:
    """Use the first row as the header and number the rest as the spreadsheet does."""
    if raw.empty:
        raise InputError(f"{path.name}: no header on row {header_row}")
    header = [_header_name(v, i) for i, v in enumerate(raw.iloc[0])]
    if _blank_rows(raw.iloc[:1]).all():
        raise InputError(f"{path.name}: row {header_row} is blank; it should hold the column names")
    _refuse_duplicates(path, header)
    frame = raw.iloc[1:].copy()
    frame.columns = header
    frame.index = pd.RangeIndex(header_row + 1, header_row + 1 + len(frame))
    frame = frame.loc[:, [h for h in header if not (h.startswith("Column ") and _blank_column(frame[h]))]]
    return frame[~_blank_rows(frame)]


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
    text = column.astype("string")
    return (text.isna() | text.str.strip().eq("")).fillna(True).astype(bool)


# --- writing -----------------------------------------------------------------------------------

_FORMULA_START = ("=", "@", "\t", "\r")
_HARMLESS_SIGNED = re.compile(r"[+-][0-9 ().,+\-eE]*")
_DANGEROUS = r"[=@\t\r]|[+-].*[^0-9 ().,+\-eE]"  # escape_formula's test, for a whole column at once
HEADER_FONT = Font(bold=True, color="FFFFFF")
HEADER_FILL = PatternFill("solid", fgColor="305496")


def escape_formula(value: Any) -> Any:
    """Prefix text that a spreadsheet would run as a formula (OWASP CSV injection) with `'`.

    Signed numbers and phone numbers (`+44 20 7946 0958`) stay as they are: without letters or
    operators other than + and -, they cannot call anything.
    """
    if not isinstance(value, str) or not value:
        return value
    if value.startswith(_FORMULA_START) or (value[0] in "+-" and not _HARMLESS_SIGNED.fullmatch(value)):
        return "'" + value
    return value


def escape_formulas(column: pd.Series) -> pd.Series:
    """`escape_formula` for a whole column; numbers, booleans and dates pass through unchanged.

    Any other column comes back with object dtype (a categorical could not hold the quoted text).
    """
    if pd.api.types.is_numeric_dtype(column) or pd.api.types.is_datetime64_any_dtype(column):
        return column
    column = column.astype(object)
    is_text = column.map(lambda v: isinstance(v, str)).astype(bool)
    text = column.astype("string")
    dangerous = is_text & text.str.match(_DANGEROUS, flags=re.S).fillna(False).astype(bool)
    return column.where(~dangerous, "'" + text).astype(object) if dangerous.any() else column


def write(frame: pd.DataFrame, path: str | os.PathLike, *, sheet_name: str = "Sheet1",
          encoding: str = "utf-8", delimiter: str = ",") -> None:
    """Write `frame` as CSV or xlsx (by extension), as one `SheetWriter.write`. The index is not written."""
    with SheetWriter(path, frame.columns, sheet_name=sheet_name, encoding=encoding, delimiter=delimiter) as writer:
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
    temporary file is deleted and `path` is left as it was. Cells are made safe as in `write`:
    text that would run as a formula is escaped, characters XML cannot hold are dropped, and
    tz-aware datetimes become naive UTC (xlsx). An xlsx sheet gets a bold filled header, a frozen
    header row, an autofilter over every row, and column widths fitted to the header and the
    sheet's first chunk.

        with tables.SheetWriter("out.xlsx", ["VIN", "Price"], sheet_name="Cars") as writer:
            for chunk in chunks:
                writer.write(chunk)

    Without `columns`, call `sheet(name, columns)` before writing; calling it again starts another
    sheet of the same workbook (xlsx only).
    """

    def __init__(self, path: str | os.PathLike, columns: Iterable[Any] | None = None, *,
                 sheet_name: str = "Sheet1", encoding: str = "utf-8", delimiter: str = ",") -> None:
        self.path = Path(path)
        suffix = self.path.suffix.lower()
        if suffix not in CSV_SUFFIXES | XLSX_SUFFIXES:
            raise InputError(f"{self.path.name}: cannot write {suffix!r}; use .csv or .xlsx")
        _check_folder(self.path)
        self.is_csv = suffix in CSV_SUFFIXES
        self.encoding, self.delimiter = encoding, delimiter
        self.columns: list[str] | None = None
        self.rows = 0  # data rows written to the current sheet
        self._header_due = False  # xlsx: the header waits for the first chunk, which sets the widths
        self._first_sheet = (sheet_name, columns)
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
            header = pd.DataFrame(columns=[escape_formula(c) for c in self.columns])
            self._guarded(lambda: header.to_csv(self._file, index=False, sep=self.delimiter))
        else:
            self._ws, self._header_due = _new_sheet(self.path, self._book, name), True

    def write(self, frame: pd.DataFrame) -> None:
        """Append the rows of `frame`, whose columns are the sheet's, in order; the index is not written."""
        if self.columns is None:
            raise ValueError("SheetWriter.write before sheet(): name the sheet's columns first")
        if [str(c) for c in frame.columns] != self.columns:
            raise ValueError(f"{self.path.name}: the chunk's columns {list(frame.columns)} are not the sheet's "
                             f"{self.columns}")
        if self.is_csv:
            safe = _csv_safe(frame)
            self._guarded(lambda: safe.to_csv(self._file, index=False, header=False, sep=self.delimiter))
        else:
            if self._header_due:
                _start_xlsx_sheet(self._ws, self.columns, frame)
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
            self._guarded(lambda: os.replace(self._tmp, self.path))
        finally:
            self._discard()

    def _finish_sheet(self) -> None:
        if self._ws is None:
            return
        if self._header_due:  # no row written: a header alone
            _start_xlsx_sheet(self._ws, self.columns, pd.DataFrame(columns=self.columns))
        _end_xlsx_sheet(self._ws, len(self.columns), self.rows)
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


def _csv_safe(frame: pd.DataFrame) -> pd.DataFrame:
    safe = frame.copy()
    for i in range(safe.shape[1]):
        safe.isetitem(i, escape_formulas(safe.iloc[:, i]))
    return safe


def _start_xlsx_sheet(ws, columns: list[str], first_rows: pd.DataFrame) -> None:
    """Fitted widths, frozen header row and the styled header. A write-only sheet writes its widths
    and panes with its first row, so this comes before any row."""
    for i, width in enumerate(column_widths(first_rows), start=1):
        ws.column_dimensions[get_column_letter(i)].width = width
    ws.freeze_panes = "A2"
    ws.append([_header_cell(ws, c) for c in columns])


def _append_xlsx_rows(ws, frame: pd.DataFrame) -> None:
    for row in zip(*(_xlsx_column(ws, frame.iloc[:, i]) for i in range(frame.shape[1]))):
        ws.append(row)


_PLAIN_TYPES = (int, float, bool, type(None))


def _xlsx_column(ws, column: pd.Series) -> list:
    """`_xlsx_value` of every cell of a column, with the common cells (numbers, blanks, ordinary
    text) passed through as they are: this loop runs once per cell of every sheet written."""
    values = column.astype(object).where(column.notna(), None).tolist()
    return [v if v.__class__ in _PLAIN_TYPES and v == v  # NaN != NaN
            or v.__class__ is str and not v.startswith("=") and not _ILLEGAL.search(v)
            else _xlsx_value(ws, v) for v in values]


def _end_xlsx_sheet(ws, columns: int, rows: int) -> None:
    if columns:
        ws.auto_filter.ref = f"A1:{get_column_letter(columns)}{rows + 1}"


def _fill_sheet(ws, frame: pd.DataFrame) -> None:
    """A whole frame into an empty sheet (write-only or not), styled as SheetWriter styles one."""
    _start_xlsx_sheet(ws, [str(c) for c in frame.columns], frame)
    _append_xlsx_rows(ws, frame)
    _end_xlsx_sheet(ws, len(frame.columns), len(frame))


def _header_cell(ws, name: str):
    cell = WriteOnlyCell(ws, value=_strip_illegal(name))
    cell.data_type = "s"
    cell.font, cell.fill = HEADER_FONT, HEADER_FILL
    cell.alignment = Alignment(vertical="center")
    return cell


def _xlsx_value(ws, value: Any):
    """A value openpyxl can store; text starting with = becomes a text cell, never a formula."""
    value = _xlsx_plain(value)
    if isinstance(value, str) and value.startswith("="):
        cell = WriteOnlyCell(ws, value=value)
        cell.data_type = "s"
        return cell
    return value


def _xlsx_plain(value: Any) -> Any:
    """None for blanks, naive UTC for tz-aware datetimes, text without XML-illegal characters."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return _strip_illegal(value) if isinstance(value, str) else value


_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def _strip_illegal(text: str) -> str:
    """Drop control characters XML cannot hold (openpyxl refuses them)."""
    return _ILLEGAL.sub("", text)


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


def _temporary_beside(path: Path) -> str:
    """An empty temporary file in `path`'s folder, so the final rename stays on one file system."""
    _check_folder(path)
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=path.suffix)
    except OSError as exc:
        raise InputError(f"{path}: cannot write here ({exc.strerror or exc})") from None
    os.close(fd)
    return tmp


def atomic_write(path: Path, save) -> None:
    """Write to a temporary file beside `path`, then rename: a crash never leaves half a file."""
    tmp = _temporary_beside(path)
    try:
        save(tmp)
        os.replace(tmp, path)
    except OSError as exc:
        raise InputError(f"{path}: cannot write it ({exc.strerror or exc})") from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


# --- editing in place --------------------------------------------------------------------------


def edit_workbook(path: str | os.PathLike, *, sheet: str | int | None = None, header_row: int = 1,
                  cells: dict[tuple[int, str], Any] | None = None,
                  append_rows: list[dict[str, Any]] | None = None,
                  add_columns: list[str] | None = None,
                  replace_sheets: dict[str, pd.DataFrame | None] | None = None) -> None:
    """Change cells, append rows and add columns of an existing sheet, and replace whole sheets, in place.

    `cells` maps (spreadsheet row number, column name) to a new value. An xlsx keeps its formatting,
    its formulas elsewhere and its other sheets; appended rows copy the style of the last row.
    A CSV is rewritten with its own encoding and delimiter.

    `replace_sheets` (xlsx only) maps a sheet name to a frame written as that whole sheet, styled as
    `write` styles one, where the sheet of that name was or else after the others; None removes
    the sheet, if there is one. Replacing comes after the other edits, in the same save; a workbook
    where nothing would change is not rewritten.
    """
    path = Path(path)
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
    if edits or not replace_sheets:
        _edit_sheet(path, _openpyxl_sheet(path, workbook, sheet), header_row, cells, append_rows, add_columns)
    _replace_sheets(path, workbook, replace_sheets)
    atomic_write(path, workbook.save)


def _edit_sheet(path: Path, ws, header_row: int, cells, append_rows, add_columns) -> None:
    positions = _header_positions(ws, header_row)
    for name in add_columns:
        if name not in positions:
            positions[name] = _add_column(ws, header_row, name)
    for (row, column), value in cells.items():
        _set_cell(ws.cell(row=row, column=_position(path, positions, column)), value)
    for values in append_rows:
        _append_row(ws, path, positions, values)


def _replaces_anything(path: Path, replace_sheets: dict[str, pd.DataFrame | None]) -> bool:
    """False when every replacement removes a sheet the workbook does not have."""
    present = _sheet_parts(path)
    return any(frame is not None or name in present for name, frame in replace_sheets.items())


def _replace_sheets(path: Path, workbook, replace_sheets: dict[str, pd.DataFrame | None]) -> None:
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
        raise InputError(f'{path.name}: no sheet "{sheet}"{closest_hint(sheet, names)}')
    return workbook[sheet]


def _header_positions(ws, header_row: int) -> dict[str, int]:
    return {str(c.value).strip(): c.column for c in ws[header_row] if c.value not in (None, "")}


def _position(path: Path, positions: dict[str, int], column: str) -> int:
    if column not in positions:
        raise InputError(f'{path.name}: no column "{column}"{closest_hint(column, positions)}')
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
    cell.value = _xlsx_plain(value)
    if isinstance(cell.value, str) and cell.value.startswith("="):
        cell.data_type = "s"  # text, not a formula: a value from HubSpot must never run


def _edit_csv(path: Path, header_row: int, cells, append_rows, add_columns) -> None:
    table = read(path, header_row=header_row)
    frame = table.frame.astype(object)
    for name in add_columns:
        if name not in frame.columns:
            frame[name] = ""
    for (row, column), value in cells.items():
        _position(path, {c: 0 for c in frame.columns}, column)
        frame.loc[row, column] = "" if value is None else value
    if append_rows:
        start = int(frame.index.max()) + 1 if len(frame) else header_row + 1
        extra = pd.DataFrame(append_rows, index=range(start, start + len(append_rows)), dtype=object)
        for column in extra.columns:
            _position(path, {c: 0 for c in frame.columns}, column)
        frame = pd.concat([frame, extra]).fillna("")
    write(frame, path, encoding=table.encoding or "utf-8", delimiter=table.delimiter or ",")


def to_text(frame: pd.DataFrame) -> str:
    """CSV text of `frame` (for messages and tests)."""
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False)
    return buffer.getvalue()
