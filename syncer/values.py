"""Cells ⇄ HubSpot property values, by property type, through one canonical form.

A local cell and a remote value are compared only as the string HubSpot itself would return
(docs/ARCHITECTURE.md, "Canonical form" under Rules): numbers without trailing zeros ("52000", "1.5", exact for long
numbers), dates "YYYY-MM-DD", datetimes "YYYY-MM-DDTHH:MM:SS.mmmZ" in UTC, booleans "true"/"false",
option values (never labels), multi-selects joined by ";" in the property's option order, text with
surrounding whitespace stripped (on both sides, so a stray space never counts as a change).
A blank cell is None ("no value").

Every conversion runs a column at a time. A column of plain text (every CSV column) goes through
str methods and dict look-ups mapped over it in C (`_convert_plain`), the cells outside the common
forms through the general rules; other columns (a workbook's numbers, dates, booleans) through
pandas string and datetime operations (`_convert_general`). Both give the same values, with or
without pyarrow (text is always Python-stored, `_TEXT`); tests/test_perf_values.py holds them to it.
"""

from __future__ import annotations

import datetime as dt
import itertools
import operator
import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Callable, Union

import numpy as np
import pandas as pd

from syncer import associations, keys as key_rules, mapping as mapping_module, talk
from syncer.errors import InputError
from syncer.mapping import ColumnSpec, Mapping, MappingProblem
from syncer.tables import CellError, Table

MAX_STRING = 65_536
# HubSpot's number properties hold what a double's range holds (about 2.2e-308 to 1.8e308 in
# magnitude); syncer refuses numbers outside it rather than send a 400-digit string.
MIN_EXPONENT, MAX_EXPONENT = -307, 307
TRUE_WORDS = {"true", "yes", "y", "1", "on"}
FALSE_WORDS = {"false", "no", "n", "0", "off"}
NUMBER = r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?"
OFFSET = r"(?:Z|[+-]\d\d:?\d\d)$"
# The dtype of text in every pipeline here: Python's own str rules (strip, lower, regular
# expressions), whether or not pyarrow is installed. With pyarrow, pandas' default "string" is
# Arrow's, whose rules differ (an Arrow-lowered "İ" is "i", Python's "i̇"; RE2's \d is ASCII only;
# "\x1c" is not whitespace), so a cell would convert differently with pyarrow than without.
_TEXT = pd.StringDtype("python")


def kind(prop: dict) -> str:
    """The conversion a property needs: string, number, date, datetime, bool, enumeration or multi."""
    type_, field_type = prop.get("type"), prop.get("fieldType")
    if type_ == "enumeration":
        return "multi" if field_type == "checkbox" else "enumeration"
    if type_ in {"bool", "number", "date", "datetime"}:
        return type_
    return "string"  # string, phonenumber, textarea, html; unknown types are compared as text


# --- reading cells -----------------------------------------------------------------------------


def cell_text(cells: pd.Series) -> pd.Series:
    """Stripped text of raw cells (string dtype, <NA> for blanks). Excel numbers lose their `.0`."""
    if cells.dtype != object:
        if isinstance(cells.dtype, pd.StringDtype) and not cells.hasnans:  # a CSV column: text alone
            return _stripped(cells)
        text = cells.astype(_TEXT).str.strip()
        return text.mask(text.eq(""))
    types = cells.map(type)
    if types.eq(str).all():
        return _stripped(cells)
    if types[cells.notna()].eq(float).all():  # a column of Excel numbers: all in numpy
        return _float_text(cells.astype(float)) if cells.notna().any() else cells.astype(_TEXT)
    text = pd.Series(pd.NA, index=cells.index, dtype=_TEXT)
    strings = types.eq(str)
    text[strings] = cells[strings].astype(_TEXT).str.strip()
    floats = types.eq(float) & cells.notna()
    if floats.any():
        text[floats] = _float_text(cells[floats])
    bools = types.eq(bool)
    if bools.any():
        text[bools] = cells[bools].map({True: "true", False: "false"}).astype(_TEXT)
    other = ~(strings | floats | bools) & cells.notna()
    if other.any():  # ints, dates, times: their str() is what a person reads
        text[other] = cells[other].astype(str).astype(_TEXT)
    return text.mask(text.eq(""))


def _stripped(cells: pd.Series) -> pd.Series:
    """cell_text of cells that are all str: str.strip and the blank test run in C, one pass each."""
    stripped = [text or None for text in map(str.strip, cells.tolist())]
    return pd.Series(pd.array(stripped, dtype=_TEXT), index=cells.index, name=cells.name)


# Decimal text already in HubSpot's form (ASCII digits, no sign but "-", no leading or trailing zeros, not "-0"):
# most cells of a number column, kept as they are; only the others go through the general rules.
_CANONICAL_NUMBER = re.compile(r"-?[1-9][0-9]*(?:\.[0-9]*[1-9])?|-?0\.[0-9]*[1-9]|0")


def canonical_numbers(text: pd.Series) -> pd.Series:
    """Decimal text in HubSpot's form: "52000.0" → "52000", "01.50" → "1.5"; <NA> where not a number."""
    done = np.fromiter(map(bool, map(_CANONICAL_NUMBER.fullmatch, _texts(text))), dtype=bool, count=len(text))
    result = text.where(done).astype(_TEXT)
    rest = ~done & text.notna().to_numpy()
    if rest.any():
        result[rest] = _canonical_decimals(text[rest])
    return result


def _texts(text: pd.Series) -> list[str]:
    """A Series of text as a list of str, "" where missing (for str methods mapped in C)."""
    return text.to_numpy(dtype=object, na_value="").tolist()


def _lengths(text: pd.Series) -> pd.Series:
    """text.str.len() for a Series of text, 0 where missing, counted in C."""
    return pd.Series(np.fromiter(map(len, _texts(text)), dtype=np.int64, count=len(text)), index=text.index)


def _ascii_digits(text: str) -> str:
    """A number's text with the decimal digits of other scripts (Arabic-Indic "١٢", full-width "１２")
    as 0-9. The value is the number: HubSpot's text of it has ASCII digits, and so must the sheet's
    canonical value, or a plan would send the same number again on every run."""
    return text if text.isascii() else "".join(c if c.isascii() else str(unicodedata.decimal(c, c)) for c in text)


def _canonical_decimals(text: pd.Series) -> pd.Series:
    ok = text.str.fullmatch(NUMBER).fillna(False).astype(bool)
    text = text.where(~ok, text[ok].map(_ascii_digits)).astype(_TEXT)
    plain = ok & ~text.str.contains("[eE]", regex=True).fillna(False).astype(bool)
    body = text.where(plain).str.lstrip("+-")
    parts = body.str.extract(r"^(\d*)\.?(\d*)$")
    whole = parts[0].str.lstrip("0").replace("", "0")
    fraction = parts[1].str.rstrip("0")
    number = whole.where(fraction.eq("") | fraction.isna(), whole + "." + fraction)
    negative = text.str.startswith("-").fillna(False).astype(bool) & number.ne("0")
    number = number.where(~negative, "-" + number)
    result = number.where(plain).astype(_TEXT)
    scientific = ok & ~plain
    if scientific.any():
        result[scientific] = text[scientific].map(_decimal_text).astype(_TEXT)
    return result


def _float_text(numbers: pd.Series) -> pd.Series:
    """Excel numbers as HubSpot text: whole numbers without ".0", others in their shortest form."""
    values_ = numbers.to_numpy(dtype=float)
    whole = np.isfinite(values_) & (values_ == np.round(values_)) & (np.abs(values_) < 2**53)
    text = np.where(whole, np.where(whole, values_, 0).astype(np.int64).astype(str), values_.astype(str))
    text = pd.Series(text, index=numbers.index, dtype=_TEXT).where(~np.isnan(values_))
    return text if whole[~np.isnan(values_)].all() else canonical_numbers(text)


def _decimal_text(text: str) -> str | None:
    """Scientific notation as plain decimal text; None beyond what HubSpot's numbers hold (a
    double's range), checked before formatting, so "1e999999999" costs nothing."""
    value = Decimal(text)
    if value.is_zero():
        return "0"
    if not MIN_EXPONENT <= value.adjusted() <= MAX_EXPONENT:
        return None
    plain = format(value, "f")  # exact: normalize() would round to the context's 28 digits
    return plain.rstrip("0").rstrip(".") if "." in plain else plain


# --- converters: raw cells → (canonical, message) ------------------------------------------------


@dataclass(frozen=True)
class Converted:
    """One column converted: canonical strings (None for blank or bad) and a message per bad cell."""

    canonical: pd.Series
    messages: pd.Series
    clean: bool = False  # known to have no bad cell (messages all None) without looking


def convert(cells: pd.Series, prop: dict, spec: ColumnSpec | None = None, *, remote: bool = False) -> Converted:
    """Convert one column of raw cells (or remote values) to canonical strings.

    Sheets repeat themselves (makes, colours, dates, option lists), so a column with few distinct
    cells is converted once per distinct cell and spread back by position.
    """
    if spec is None or remote:  # HubSpot's own forms: ISO or epoch times, option values, ";"
        spec = ColumnSpec(property=prop["name"])
    # A look-up per cell in C costs less than finding the distinct cells, unless the cells are in
    # Arrow (pyarrow installed): Arrow finds them faster than Python objects can be made of them.
    arrow = getattr(cells.dtype, "storage", None) == "pyarrow"
    if kind(prop) in _LOOKED_UP and not arrow and (plain := _convert_plain(cells, prop, spec, remote)) is not None:
        return plain
    distinct = _distinct_cells(cells)
    if distinct is None:
        return _convert(cells, prop, spec, remote)
    codes, uniques = distinct
    once = _convert(pd.Series(uniques, dtype=cells.dtype), prop, spec, remote)
    return Converted(_spread(once.canonical, codes, cells.index), _spread(once.messages, codes, cells.index),
                     clean=once.clean)


def _distinct_cells(cells: pd.Series) -> tuple[np.ndarray, Any] | None:
    """(codes, distinct cells) when worth it: few distinct cells, and none that hash alike but
    convert differently (True == 1 == 1.0 in Python).

    A sample of 5,000 cells tells: with at most 1,000 distinct, surely; else, drawn from K equally
    common values it repeats about 5,000² / 2K cells (a column of dates over 25 years, 9,000 values,
    repeats about 1,400; one of distinct prices or times a few), worth it when K is at most a
    quarter of the column.
    """
    if len(cells) < 1000:
        return None
    sample = min(len(cells), 5000)
    repeats = sample - cells.iloc[:sample].nunique()
    if sample - repeats > 1000 and repeats * 2 * (len(cells) // 4) < sample * sample:
        return None
    if cells.dtype == object:
        types = set(cells.map(type).unique())
        if bool in types and types & {int, float, Decimal, np.int64, np.float64}:
            return None
    python_text = isinstance(cells.dtype, pd.StringDtype) and cells.dtype.storage == "python"
    # pandas factorizes Python-stored text about twice as fast as an object array than as strings
    codes, uniques = pd.factorize(cells.to_numpy(dtype=object) if python_text else cells)
    return (codes, uniques) if len(uniques) <= len(cells) // 4 else None


def _spread(converted: pd.Series, codes: np.ndarray, index: pd.Index) -> pd.Series:
    values_ = np.append(converted.to_numpy(dtype=object), None)  # code -1 (a blank cell) → None
    return pd.Series(values_[codes], index=index, dtype=object, copy=False)


def _convert(cells: pd.Series, prop: dict, spec: ColumnSpec, remote: bool) -> Converted:
    fast = _convert_plain(cells, prop, spec, remote)
    return fast if fast is not None else _convert_general(cells, prop, spec, remote)


def _convert_general(cells: pd.Series, prop: dict, spec: ColumnSpec, remote: bool) -> Converted:
    """_convert by pandas string pipelines: any cells (text, numbers, dates, booleans, blanks)."""
    text = cell_text(cells)
    canonical, bad = _CONVERTERS[kind(prop)](cells, text, prop, spec, remote)
    bad = bad & text.notna()
    messages = pd.Series(None, index=cells.index, dtype=object)
    if bad.any():
        messages[bad] = [_message(kind(prop), v, prop, spec) for v in text[bad]]
    return Converted(_none_for_missing(canonical.where(~bad)), _none_for_missing(messages))


def _none_for_missing(series: pd.Series) -> pd.Series:
    """Object Series with None (not NaN or <NA>) for missing values, as the rest of syncer expects."""
    out = series.astype(object)
    return out.where(out.notna(), None)


def _string(cells, text, prop, spec, remote):
    too_long = _lengths(text).gt(MAX_STRING)
    if prop.get("name") == "email" and prop.get("hubspotDefined"):  # contacts: HubSpot keeps emails lower-cased
        text = text.str.lower()
    return text, too_long & ~remote


def _number(cells, text, prop, spec, remote):
    number = canonical_numbers(text)
    long = _lengths(number).gt(MAX_EXPONENT)
    if long.any():  # only a number with hundreds of digits can be out of range
        number[long] = number[long].map(lambda t: t if _in_range(t) else pd.NA).astype(_TEXT)
    return number, number.isna()


def _in_range(canonical: str) -> bool:
    value = Decimal(canonical)
    return value == 0 or MIN_EXPONENT <= value.adjusted() <= MAX_EXPONENT


def _bool(cells, text, prop, spec, remote):
    lowered = text.str.lower()
    result = pd.Series(pd.NA, index=text.index, dtype=_TEXT)
    result[lowered.isin(TRUE_WORDS).fillna(False).astype(bool)] = "true"
    result[lowered.isin(FALSE_WORDS).fillna(False).astype(bool)] = "false"
    return result, result.isna()


def _date(cells, text, prop, spec, remote):
    when = _parse_times(cells, text, spec, remote)
    midnight = when.dt.normalize().eq(when).fillna(False).astype(bool)
    return _iso(when, "D").where(midnight), ~midnight


def _datetime(cells, text, prop, spec, remote):
    when = _parse_times(cells, text, spec, remote, zone=spec.timezone or "UTC")
    return _iso(when, "ms", suffix="Z"), when.isna()


# The instants a datetime can be: years 1 to 9999 in UTC (the ISO text HubSpot's values take, and
# what Python's datetime holds). A wall-clock time near either end can leave them in its zone
# ("0001-01-01 00:00" in Asia/Tokyo is in year 0 in UTC).
_FIRST_INSTANT = pd.Timestamp("0001-01-01", tz="UTC")
_LAST_INSTANT = pd.Timestamp("9999-12-31T23:59:59.999999", tz="UTC")


def _in_years(when: pd.Series) -> pd.Series:
    """`when` with NaT for an instant outside years 1-9999 in UTC (a bad cell)."""
    outside = (when < _FIRST_INSTANT) | (when > _LAST_INSTANT)
    return when.where(~outside) if outside.any() else when


def _iso(when: pd.Series, unit: str, suffix: str = "") -> pd.Series:
    """ISO 8601 text of UTC timestamps (string dtype, <NA> for NaT)."""
    text = _iso_texts(when, unit, suffix)
    # From str objects: pandas makes a "string" array of numpy's fixed-width text several times slower.
    return pd.Series(pd.array(text, dtype=_TEXT), index=when.index)


def _iso_texts(when: pd.Series, unit: str, suffix: str = "") -> np.ndarray:
    """ISO 8601 text of UTC timestamps as an object array of str, None for NaT: "YYYY-MM-DD" (unit
    "D") or "YYYY-MM-DDTHH:MM:SS.mmm" (unit "ms"), then `suffix`; numpy's datetime_as_string, to
    the byte, but built as ASCII records split into str objects in C (numpy's own text, made into
    str one by one, costs several times more), a block of rows at a time (small temporaries stay in
    the allocator's and the CPU's caches). Years outside 1-9999 (numpy writes them with a sign or a
    fifth digit) are left to numpy."""
    naive = when.dt.tz_convert(None).to_numpy(dtype=f"datetime64[{unit}]")
    out = np.full(len(naive), None, dtype=object)
    per_day = 1 if unit == "D" else 86_400_000
    for start in range(0, len(naive), _BLOCK):
        block = naive[start:start + _BLOCK]
        ticks = block.view(np.int64)
        missing = np.isnat(block)
        days = ticks // per_day
        fits = ~missing & (days >= -719_162) & (days <= 2_932_896)  # 0001-01-01 and 9999-12-31
        if fits.all():
            out[start:start + len(block)] = _format_days(days, ticks - days * per_day if unit != "D" else None, suffix)
        elif fits.any():
            chosen = np.flatnonzero(fits)
            millis = ticks[chosen] - days[chosen] * per_day if unit != "D" else None
            out[start + chosen] = _format_days(days[chosen], millis, suffix)
        other = ~missing & ~fits
        if other.any():
            out[start + np.flatnonzero(other)] = np.char.add(np.datetime_as_string(block[other], unit=unit),
                                                            suffix).astype(object)
    return out


_BLOCK = 1 << 16


def _format_days(days: np.ndarray, millis: np.ndarray | None, suffix: str) -> list[str]:
    """"YYYY-MM-DD" (and "THH:MM:SS.mmm" given the milliseconds into each day) + suffix, for days
    since 1970-01-01 in years 1-9999: each value's ASCII bytes gathered, as whole integers, from
    tables (the dates of the days the column spans, the times of the seconds of a day, the
    milliseconds) into one record per value, and the records decoded and split in C."""
    tail = (suffix + "\n").encode("ascii")
    fields = [("date", "<u8", 0), ("date2", "<u2", 8)]
    if millis is not None:
        fields += [("T", "u1", 10), ("clock", "<u8", 11), ("millis", "<u4", 19)]
    start = fields[-1][2] + np.dtype(fields[-1][1]).itemsize
    fields += [(f"tail{i}", "u1", start + i) for i in range(len(tail))]
    names, formats, offsets = zip(*fields)
    records = np.empty(len(days), dtype=np.dtype({"names": list(names), "formats": list(formats),
                                                  "offsets": list(offsets), "itemsize": start + len(tail)}))
    if len(days):
        first, last = int(days.min()), int(days.max())
        if last - first < len(days):  # a table of the days spanned, gathered per value
            heads, ends = _date_words(np.arange(first, last + 1, dtype=np.int32))
            records["date"], records["date2"] = heads[days - first], ends[days - first]
        else:
            records["date"], records["date2"] = _date_words(days)
    if millis is not None:
        millis = millis.astype(np.int32)
        records["T"] = ord("T")
        records["clock"] = _clock_words()[millis // 1000]
        records["millis"] = _MILLIS[millis % 1000]
    for i, byte in enumerate(tail):
        records[f"tail{i}"] = byte
    return records.tobytes().decode("ascii").split("\n")[:-1]


def _date_words(days: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """"YYYY-MM-DD" of days since 1970-01-01 (years 1-9999) as ASCII bytes, the first eight as one
    little-endian uint64 and the last two as a uint16: the civil date by H. Hinnant's
    civil_from_days, in numpy (int32: days and years fit)."""
    z = days.astype(np.int32) + 719_468
    era = z // 146_097
    doe = z - era * 146_097
    yoe = (doe - doe // 1460 + doe // 36_524 - doe // 146_096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    day = doy - (153 * mp + 2) // 5 + 1
    month = np.where(mp < 10, mp + 3, mp - 9)
    year = yoe + era * 400 + (month <= 2)
    text = np.empty((len(days), 10), dtype=np.uint8)
    text[:, [4, 7]] = ord("-")
    text[:, 0:2] = _DIGITS2[year // 100]
    text[:, 2:4] = _DIGITS2[year % 100]
    text[:, 5:7] = _DIGITS2[month]
    text[:, 8:10] = _DIGITS2[day]
    return (np.ascontiguousarray(text[:, :8]).view("<u8").ravel(),
            np.ascontiguousarray(text[:, 8:]).view("<u2").ravel())


_DIGITS2 = np.frombuffer("".join(f"{i:02d}" for i in range(100)).encode("ascii"), dtype=np.uint8).reshape(100, 2)
_MILLIS = np.frombuffer("".join(f".{i:03d}" for i in range(1000)).encode("ascii"), dtype="<u4")  # ".mmm"
_CLOCK: list[np.ndarray] = []


def _clock_words() -> np.ndarray:
    """"HH:MM:SS" of each second of a day, as ASCII bytes in one little-endian uint64 (built once)."""
    if not _CLOCK:
        seconds = np.arange(86_400)
        clock = np.empty((86_400, 8), dtype=np.uint8)
        clock[:, [2, 5]] = ord(":")
        clock[:, 0:2] = _DIGITS2[seconds // 3600]
        clock[:, 3:5] = _DIGITS2[seconds // 60 % 60]
        clock[:, 6:8] = _DIGITS2[seconds % 60]
        _CLOCK.append(clock.view("<u8").ravel())
    return _CLOCK[0]


def _parse_times(cells, text, spec, remote, *, zone: str = "UTC", plain: np.ndarray | None = None) -> pd.Series:
    """Parse cells to UTC timestamps (NaT where impossible, or outside years 1-9999 in UTC). Values
    without an offset are in `zone`.

    Dates are parsed with zone UTC, so a date never moves to another day. `plain`: every cell is
    text, and this is its text ("" for a blank; no date objects to look for).
    """
    when = pd.Series(pd.NaT, index=text.index, dtype="datetime64[us, UTC]")
    if cells.dtype == object and plain is None:
        typed = cells.map(lambda v: isinstance(v, (dt.date, pd.Timestamp)))
    else:
        typed = pd.Series(False, index=cells.index)
    if typed.any():
        when[typed] = _us(_in_zone(pd.to_datetime(cells[typed].astype(object), errors="coerce"), zone))
    strings = (text.notna() if plain is None else pd.Series(np.not_equal(plain, ""), index=text.index)) & ~typed
    if remote:
        epoch = strings & text.str.fullmatch(r"-?\d{9,}").fillna(False).astype(bool)
        when[epoch] = _us(pd.to_datetime(text[epoch].astype("int64"), unit="ms", utc=True, errors="coerce"))
        strings &= ~epoch
    if spec.format:
        when[strings] = _us(_in_zone(pd.to_datetime(text[strings], format=spec.format, errors="coerce"), zone))
        # ISO text reads too: syncer writes it where the format cannot say which instant (an hour
        # a DST change repeats) or a spreadsheet cannot hold the date (before 1900).
        strings &= when.isna()
    aware = strings & _has_offset(text, plain)
    when[aware] = _us(pd.to_datetime(text[aware], format="ISO8601", utc=True, errors="coerce"))
    naive = strings & ~aware
    try:
        when[naive] = _us(_in_zone(pd.to_datetime(text[naive], format="ISO8601", errors="coerce"), zone))
    except ValueError:  # an offset of hours alone ("+01") among times without one: pandas refuses the mix
        when[naive] = pd.Series([_one_time(cell, zone) for cell in text[naive]], index=text.index[naive.to_numpy()],
                                dtype="datetime64[us, UTC]")
    return _in_years(when)


def _one_time(cell: str, zone: str):
    """One cell's UTC time, read as _parse_times reads a column (NaT where impossible): its own
    offset if it has one, else `zone`."""
    moment = pd.to_datetime(cell, format="ISO8601", errors="coerce")
    if pd.isna(moment):
        return pd.NaT
    if moment.tzinfo is not None:
        return moment.tz_convert("UTC").as_unit("us")
    found = _in_zone(pd.Series([moment]), zone).iloc[0]
    return found if pd.isna(found) else found.as_unit("us")


def _us(times: pd.Series) -> pd.Series:
    """Times in microseconds, as _parse_times holds them: a text with nanoseconds parses to
    nanoseconds, which a microsecond series refuses to take. The digits below a millisecond go
    either way: HubSpot keeps milliseconds (and a datetime's canonical text has three digits)."""
    return times.dt.as_unit("us") if len(times) else times


_OFFSET = re.compile(OFFSET)


def _has_offset(text: pd.Series, texts: np.ndarray | None = None) -> pd.Series:
    """text.str.contains(OFFSET), False where missing. An offset ends the text and is at most six
    characters long, so only the last six of a text that may hold one are searched (a search of
    the whole text tries every position); a text ending in "Z" (as HubSpot's own times do) needs
    no search. `texts`: the same text, "" where missing, if at hand."""
    texts = _texts(text) if texts is None else texts
    n = len(texts)
    found = np.zeros(n, dtype=bool)
    maybe = _offset_candidates(texts)
    if maybe is None:  # not ASCII lines: by the last occurrence of each character an offset starts with
        joined = "".join(texts)
        if "Z" in joined:
            found |= np.fromiter(map(str.endswith, texts, itertools.repeat("Z")), dtype=bool, count=n)
        marks = [mark for mark in ("+", "-", "Z") if mark in joined]
        maybe = np.zeros(n, dtype=bool)
        if marks:
            lengths = np.fromiter(map(len, texts), dtype=np.int64, count=n)
            for mark in marks:
                last = np.fromiter(map(str.rfind, texts, itertools.repeat(mark)), dtype=np.int64, count=n)
                maybe |= last >= lengths - 6
    else:
        found, maybe = maybe
    rows = np.flatnonzero(maybe & ~found)
    tails = map(operator.itemgetter(slice(-6, None)), [texts[i] for i in rows])
    found[rows] = np.fromiter(map(bool, map(_OFFSET.search, tails)), dtype=bool, count=len(rows))
    return pd.Series(found, index=text.index)


def _offset_candidates(texts) -> tuple[np.ndarray, np.ndarray] | None:
    """(ends in Z, may end in another offset) per text, read from the bytes of the texts joined by
    newlines: a "+" or "-" five or six characters from the end, or a "Z" at the end. None unless
    every text is ASCII without a newline."""
    n = len(texts)
    joined = "\n".join(texts)
    if not n or not joined.isascii() or joined.count("\n") != n - 1:
        return None
    data = np.frombuffer(joined.encode("ascii") + b"\n", dtype=np.uint8)
    ends = np.flatnonzero(data == 10)
    # The byte `back` characters before each text's end; for a text shorter than that, a byte of an
    # earlier text (or a newline): a candidate too many, which the search then rules out. A blank
    # text's last byte is a newline, never "Z".
    sign = lambda back: np.isin(data[np.maximum(ends - back, 0)], _SIGNS)  # noqa: E731
    return data[ends - 1] == ord("Z"), sign(5) | sign(6)


_SIGNS = np.frombuffer(b"+-", dtype=np.uint8)


def _in_zone(times: pd.Series, zone: str) -> pd.Series:
    if getattr(times.dt, "tz", None) is not None:
        return times.dt.tz_convert("UTC")
    # A wall-clock time repeated by a DST change reads as its first (summer-time) occurrence; one
    # skipped by the change moves forward to the first valid time. Both are rare, and a row error
    # would be harder on the person than a documented rule.
    first = np.ones(len(times), dtype=bool)
    try:
        return times.dt.tz_localize(zone, ambiguous=first, nonexistent="shift_forward").dt.tz_convert("UTC")
    except (NotImplementedError, OverflowError, pd.errors.OutOfBoundsDatetime):
        # A wall-clock time within a day of year 1 or of the end of 9999 may fall outside the years
        # a zone can be computed in: such a time is no instant HubSpot can hold (a bad cell).
        inside = times.between(pd.Timestamp("0001-01-02"), pd.Timestamp("9999-12-30")).to_numpy()
        found = pd.Series(pd.NaT, index=times.index, dtype="datetime64[us, UTC]")
        found[inside] = _in_zone(times[inside], zone)
        return found


def _enumeration(cells, text, prop, spec, remote):
    exact, folded = _option_lookup(prop, spec, remote)
    result = text.map(exact).astype(_TEXT)
    missing = result.isna() & text.notna()
    result[missing] = text[missing].str.lower().map(folded).astype(_TEXT)
    if remote:
        return result.fillna(text), pd.Series(False, index=text.index)
    return result, result.isna()


def _multi(cells, text, prop, spec, remote):
    separator = ";" if remote else spec.separator
    parts = text.str.split(separator, regex=False).explode().str.strip()
    parts = parts[parts.notna() & parts.ne("")]
    exact, folded = _option_lookup(prop, spec, remote)
    values = parts.map(exact).astype(_TEXT)
    values = values.fillna(parts.str.lower().map(folded).astype(_TEXT))
    bad_rows = values.index[values.isna()].unique()
    if remote:
        values = values.fillna(parts)
    order = {o["value"]: i for i, o in enumerate(prop.get("options") or [])}
    chosen = pd.DataFrame({"value": values, "order": values.map(order).astype(float)}).dropna(subset=["value"])
    chosen = chosen.rename_axis("row").reset_index().drop_duplicates(["row", "value"])
    chosen = chosen.sort_values(["row", "order", "value"], na_position="last")
    joined = chosen.groupby("row", sort=False)["value"].agg(";".join)
    result = joined.reindex(text.index).astype(_TEXT)
    bad = pd.Series(text.index.isin(bad_rows), index=text.index)
    return result, bad & ~remote


def _option_lookup(prop: dict, spec: ColumnSpec, remote: bool = False) -> tuple[dict[str, str], dict[str, str]]:
    """(exact, folded): a cell's text → option value, matched exactly, then without regard to case.

    The one rule for reading options, so that what export writes reads back as the same value:
    the mapping's `values` first, then what the column holds (`options: label`, the default: labels,
    then values; `options: value`: values, then labels), each tier exactly before any tier without
    case. So a label that equals another option's value ("1" → "2" while "1" is an option) reads
    as its own option in a label column; `validate` warns about such sets. HubSpot's own values
    (`remote`) are option values.
    """
    options = prop.get("options") or []
    labels = [(str(o.get("label") if o.get("label") is not None else o["value"]).strip(), o["value"]) for o in options]
    own = [(str(o["value"]).strip(), o["value"]) for o in options]
    tiers = [own] if remote else [list(spec.values.items()), *((labels, own) if spec.options == "label" else (own, labels))]
    exact: dict[str, str] = {}
    folded: dict[str, str] = {}
    for tier in tiers:
        for text, value in tier:
            exact.setdefault(text, value)
    for tier in tiers:
        for text, value in tier:
            folded.setdefault(text.lower(), value)
    values_ = {o["value"] for o in options}
    if values_ and values_ <= {"true", "false"}:
        for word in TRUE_WORDS if "true" in values_ else ():
            folded.setdefault(word, "true")
        for word in FALSE_WORDS if "false" in values_ else ():
            folded.setdefault(word, "false")
    return exact, folded


def read_option(text: str, prop: dict, spec: ColumnSpec) -> str | None:
    """The option value a cell's (stripped) text reads as, by `_option_lookup`'s rule, or None."""
    return _option_reader(prop, spec)(text)


def _option_reader(prop: dict, spec: ColumnSpec) -> Callable[[str], str | None]:
    """`read_option` for one column, its look-up tables built once."""
    exact, folded = _option_lookup(prop, spec)
    return lambda text: exact.get(text, folded.get(text.lower()))


def option_forms(prop: dict, spec: ColumnSpec) -> tuple[dict[str, str], list[str]]:
    """(forms, unnameable): per option value, the text export and sync write for it, chosen so that
    reading it gives back the same value (the mapping's `values` text, the label or the value, in
    the column's `options` order; for a multi-select, never a text holding the separator), and the
    values no text can name in this column."""
    forms: dict[str, str] = {}
    unnameable = []
    multi = kind(prop) == "multi"
    read = _option_reader(prop, spec)
    for option in prop.get("options") or []:
        value = option["value"]
        named = [t for t, v in spec.values.items() if v == value]
        label = str(option.get("label") if option.get("label") is not None else value)
        candidates = [*named, *((label, value) if spec.options == "label" else (value, label))]
        found = next((c for c in candidates if c.strip() and read(c.strip()) == value
                      and not (multi and spec.separator in c)), None)
        if found is None:
            unnameable.append(value)
        else:
            forms[value] = found
    return forms, unnameable


def option_warnings(prop: dict, spec: ColumnSpec) -> list[str]:
    """What a person should know about an option set in this column: a label that is also another
    option's value (the label wins), labels shared by options, labels holding the multi-select
    separator (written as the value), and options that no text can name."""
    options = prop.get("options") or []
    by_value = {str(o["value"]).strip().lower(): o["value"] for o in options}
    warnings, seen = [], {}
    for o in options:
        label = str(o.get("label") if o.get("label") is not None else o["value"]).strip()
        other = by_value.get(label.lower())
        if other is not None and other != o["value"]:
            warnings.append(f'the label "{label}" (option {o["value"]}) is also the value of option {other}: '
                            f'a cell "{label}" means {read_option(label, prop, spec)}')
        if label.lower() in seen and seen[label.lower()] != o["value"]:
            warnings.append(f'options {seen[label.lower()]} and {o["value"]} share the label "{label}"; '
                            f'cells name {o["value"]} by its value')
        seen.setdefault(label.lower(), o["value"])
        if kind(prop) == "multi" and spec.separator in label:
            warnings.append(f'the label "{label}" holds the separator "{spec.separator}"; '
                            f'cells name that option by its value {o["value"]}')
    unnameable = option_forms(prop, spec)[1]
    if unnameable:
        warnings.append(f"no cell text reads as option(s) {', '.join(unnameable)}; give each a `values:` entry "
                        "(text: value) in the mapping")
    return warnings


# --- fast paths: columns of plain text -----------------------------------------------------------
# A CSV column (and a workbook's text column) holds str alone. Such a column is converted with str
# methods and dict look-ups mapped over a list (loops in C) instead of pandas string pipelines, and
# only the cells outside the common forms go through the general converter, so every value and
# message is the general path's to the byte (tests/test_perf_values.py runs both on the same cells).


def _plain_texts(cells: pd.Series) -> np.ndarray | None:
    """The stripped text of every cell ("" for a blank), as an object array, when each cell is a
    str or missing; None for any other column (numbers, dates and booleans from a workbook take
    the general path)."""
    count = len(cells)
    if isinstance(cells.dtype, pd.StringDtype):
        try:  # no copy of Python-stored text; a missing cell (NaN, <NA>) is not a str: TypeError
            return np.fromiter(map(str.strip, cells.to_numpy()), dtype=object, count=count)
        except TypeError:
            raw = cells.to_numpy(dtype=object, na_value="")
    elif cells.dtype == object:
        raw = cells.to_numpy()
        types = set(map(type, raw))
        if not types <= {str, type(None)}:
            return None
        if type(None) in types:
            raw = np.where(np.equal(raw, None), "", raw)
    else:
        return None
    return np.fromiter(map(str.strip, raw), dtype=object, count=count)


def _convert_plain(cells: pd.Series, prop: dict, spec: ColumnSpec, remote: bool) -> Converted | None:
    """_convert of a column of plain text, or None where the general path must do it."""
    convert_ = _PLAIN.get(kind(prop))
    if convert_ is None:
        return None
    texts = _plain_texts(cells)
    if texts is None:
        return None
    blank = np.equal(texts, "")
    done = convert_(texts, blank, cells, prop, spec, remote)
    if done is None:
        return None
    canonical, bad = done
    canonical[blank] = None
    messages = np.full(len(texts), None, dtype=object)
    bad = np.zeros(len(texts), dtype=bool) if bad is None else bad & ~blank
    if bad.any():
        rows = np.flatnonzero(bad)
        canonical[rows] = None
        messages[rows] = [_message(kind(prop), texts[i], prop, spec) for i in rows]
    return Converted(pd.Series(canonical, index=cells.index, dtype=object, copy=False),
                     pd.Series(messages, index=cells.index, dtype=object, copy=False), clean=not bad.any())


def _plain_string(texts, blank, cells, prop, spec, remote):
    lower = prop.get("name") == "email" and prop.get("hubspotDefined")
    canonical = np.fromiter(map(str.lower, texts), dtype=object, count=len(texts)) if lower else texts.copy()
    bad = None
    if not remote and max(map(len, texts), default=0) > MAX_STRING:
        bad = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts)) > MAX_STRING
    return canonical, bad


def _plain_number(texts, blank, cells, prop, spec, remote):
    # A cell already in HubSpot's form is its own value (canonical_numbers); the others, and any
    # long enough to be out of range, go through the general rules cell by cell (_number_text).
    done = np.fromiter(map(bool, map(_CANONICAL_NUMBER.fullmatch, texts)), dtype=bool, count=len(texts))
    if max(map(len, texts), default=0) > MAX_EXPONENT:
        done &= np.fromiter(map(len, texts), dtype=np.int64, count=len(texts)) <= MAX_EXPONENT
    canonical = texts.copy()
    bad = None
    rest = np.flatnonzero(~done & ~blank)
    if len(rest):
        canonical[rest] = [_number_text(text) for text in texts[rest]]
        bad = np.zeros(len(texts), dtype=bool)
        bad[rest] = np.equal(canonical[rest], None)
    return canonical, bad


_NUMBER = re.compile(NUMBER)
_DECIMAL_PARTS = re.compile(r"^(\d*)\.?(\d*)$")


def _number_text(text: str) -> str | None:
    """_number of one cell's (stripped, not blank) text, cell by cell: canonical_numbers'
    general rules (_canonical_decimals), then the range check; None where not a number."""
    if not _NUMBER.fullmatch(text):
        return None
    text = _ascii_digits(text)
    if "e" in text or "E" in text:
        number = _decimal_text(text)
    else:
        whole, fraction = _DECIMAL_PARTS.search(text.lstrip("+-")).groups()
        whole, fraction = whole.lstrip("0") or "0", fraction.rstrip("0")
        number = whole + "." + fraction if fraction else whole
        if text.startswith("-") and number != "0":
            number = "-" + number
    if number is not None and len(number) > MAX_EXPONENT and not _in_range(number):
        return None
    return number


_BOOL_WORDS = {**{word: "true" for word in TRUE_WORDS}, **{word: "false" for word in FALSE_WORDS}}


def _plain_bool(texts, blank, cells, prop, spec, remote):
    canonical = np.fromiter(map(_BOOL_WORDS.get, map(str.lower, texts)), dtype=object, count=len(texts))
    return canonical, np.equal(canonical, None)


def _plain_enumeration(texts, blank, cells, prop, spec, remote):
    exact, folded = _option_lookup(prop, spec, remote)
    if not all(type(value) is str for value in [*exact.values(), *folded.values()]):
        return None  # option values that are not text: the general path casts them
    canonical = np.fromiter(map(exact.get, texts), dtype=object, count=len(texts))
    canonical[blank] = None
    unknown = np.flatnonzero(np.equal(canonical, None) & ~blank)
    if len(unknown):
        canonical[unknown] = [folded.get(text.lower()) for text in texts[unknown]]
        still = unknown[np.equal(canonical[unknown], None)]
        if remote:  # HubSpot's value, kept as it is
            canonical[still] = texts[still]
        else:
            bad = np.zeros(len(texts), dtype=bool)
            bad[still] = True
            return canonical, bad
    return canonical, None


def _plain_times(texts, blank, cells, prop, spec, remote):
    if remote:
        return None
    text = texts.copy()
    text[blank] = None
    text = pd.Series(text, index=cells.index, dtype=object, copy=False)
    if kind(prop) == "date":
        when = _parse_times(cells, text, spec, remote, plain=texts)
        midnight = when.dt.normalize().eq(when).fillna(False).astype(bool).to_numpy()
        return _iso_texts(when, "D"), ~midnight
    when = _parse_times(cells, text, spec, remote, zone=spec.timezone or "UTC", plain=texts)
    return _iso_texts(when, "ms", "Z"), when.isna().to_numpy()


_LOOKED_UP = {"string", "bool", "enumeration"}
_PLAIN = {"string": _plain_string, "number": _plain_number, "bool": _plain_bool, "enumeration": _plain_enumeration,
          "date": _plain_times, "datetime": _plain_times}


_CONVERTERS = {"string": _string, "number": _number, "bool": _bool, "date": _date, "datetime": _datetime,
               "enumeration": _enumeration, "multi": _multi}


def _message(kind_: str, value: str, prop: dict, spec: ColumnSpec) -> str:
    shown = _show(value)
    if kind_ == "string":
        return f"the text is {len(value):,} characters long; HubSpot keeps at most {MAX_STRING:,}"
    if kind_ == "number":
        if re.fullmatch(NUMBER, value):
            return f"{shown} is beyond the numbers HubSpot holds (from 1e{MIN_EXPONENT} to 1e{MAX_EXPONENT + 1} in size)"
        return f"{shown} is not a number (digits with an optional . for decimals)"
    if kind_ == "bool":
        return f"{shown} is not a yes/no value (true, false, yes, no, 1, 0)"
    if kind_ == "datetime" and _outside_years(value, spec):
        return (f"{shown} is too near the edge of the years 1 to 9999 to convert from {spec.timezone or 'UTC'} "
                "to UTC; HubSpot holds times within those years")
    if kind_ in {"date", "datetime"}:
        what = "a date" if kind_ == "date" else "a date and time"
        return f"{shown} is not {what} in format {spec.format}" if spec.format else f"{shown} is not {what} (YYYY-MM-DD{'' if kind_ == 'date' else 'THH:MM:SS'})"
    return _option_message(value, prop, spec)


def _outside_years(value: str, spec: ColumnSpec) -> bool:
    """Whether a datetime cell is bad only for the instant it names: it reads as a time (in the
    column's format, or as ISO text, which every datetime column also reads)."""
    for form in dict.fromkeys([spec.format or "ISO8601", "ISO8601"]):
        try:
            if not pd.isna(pd.to_datetime(value, format=form)):
                return True
        except (ValueError, TypeError, OverflowError):
            continue
    return False


def _option_message(value: str, prop: dict, spec: ColumnSpec) -> str:
    exact, folded = _option_lookup(prop, spec)
    labels = [str(o.get("label", o["value"])) for o in prop.get("options") or []]
    parts = [p.strip() for p in value.split(spec.separator)] if kind(prop) == "multi" else [value]
    unknown = [p for p in parts if p and p not in exact and p.lower() not in folded]
    word = unknown[0] if unknown else value
    suggestion = talk.did_you_mean(word, labels + list(exact))
    return f'{_show(word)} is not an option of {prop["name"]}{suggestion} (options: {", ".join(labels)})'


def _show(value: Any, limit: int = 60) -> str:
    text = str(value)
    return f'"{text[:limit]}…"' if len(text) > limit else f'"{text}"'


# --- whole tables --------------------------------------------------------------------------------


@dataclass
class LocalRows:
    """Canonical local rows. `frame`: index = sheet row numbers, columns = property names, plus
    `assoc:<column>` for each association column (its stripped text; lower-cased when matched by
    email). Values are str or None."""

    frame: pd.DataFrame
    errors: list[CellError] = field(default_factory=list)

    @property
    def error_rows(self) -> set[int]:
        return {e.row for e in self.errors}


def canonicalize(table: Table, m: Mapping, properties: list[dict]) -> LocalRows:
    """Convert a table's mapped columns to canonical strings; bad cells become row errors.

    Columns or properties missing from the sheet or portal are left out (`mapping.check` names them).
    """
    by_name = {p["name"]: p for p in properties}
    columns: dict[str, pd.Series] = {}
    mapped = set(m.columns) | {a.column for a in m.associations}
    errors = [e for e in table.errors if e.column in mapped]
    for column, spec in m.columns.items():
        if column in table.frame.columns and spec.property in by_name:
            converted = convert(table.frame[column], by_name[spec.property], spec)
            columns[spec.property] = converted.canonical
            if not converted.clean:
                errors += _cell_errors(table, column, converted.messages)
            if spec.property == m.id_property:
                errors += _invisible_in_keys(table, column, converted.canonical)
    for association in m.associations:
        if association.column in table.frame.columns:
            columns[associations.name_of(association.column)] = association_keys(table.frame[association.column], association.match)
    # copy=False: each converted column becomes the frame's own, as it is (no copy into one block)
    frame = pd.DataFrame(columns, index=table.frame.index, dtype=object, copy=False)
    return LocalRows(frame=frame, errors=sorted(errors, key=lambda e: (e.row, e.column)))


# Characters a person cannot see (zero-width spaces and joiners, BOMs, soft hyphens, direction
# marks): inside a key they make a different key that looks the same, so a duplicate record.
INVISIBLE = "[\u00ad\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff]"


def _invisible_in_keys(table: Table, column: str, keys: pd.Series) -> list[CellError]:
    joined = "".join(keys.dropna().tolist())
    if joined.isascii() or not re.search(INVISIBLE, joined):  # every key at once, in C (ASCII: none)
        return []
    text = keys.astype(_TEXT)
    hit = text.str.contains(INVISIBLE, regex=True).fillna(False).astype(bool)
    errors = []
    for row, key in text[hit].items():
        position = next(i for i, ch in enumerate(key) if re.match(INVISIBLE, ch))
        name = unicodedata.name(key[position], "a format character")
        errors.append(CellError(table.path, int(row), column, key,
                                f"the key holds an invisible character, U+{ord(key[position]):04X} {name}, at "
                                f"position {position + 1}; retype the key without it"))
    return errors


PAD_WIDTHS = 3  # lost leading zeros looked for: up to this many, and as many as the sheet's padded keys show


def zero_padded_forms(keys: pd.Series, id_prop: dict) -> dict[str, str]:
    """Zero-padded form → key, for the keys a spreadsheet may have turned into numbers (digits
    with no leading zero) when the id property is text: "1" → "01", "001", "0001", and the
    widths of the sheet's keys that kept their zeros. Empty for other id properties."""
    if kind(id_prop) != "string":
        return {}
    text = pd.Series(keys.dropna().unique(), dtype=_TEXT)
    digits = text[text.str.fullmatch(r"\d{1,18}").fillna(False).astype(bool)]
    padded = digits.str.startswith("0")
    widths = set(digits[padded].str.len())
    forms: dict[str, str] = {}
    for key in digits[~padded]:
        for width in sorted(set(range(len(key) + 1, len(key) + 1 + PAD_WIDTHS)) | {w for w in widths if w > len(key)}):
            forms.setdefault(key.zfill(width), key)
    return forms


def lost_zeros(keys: pd.Series, id_prop: dict, existing: Callable[[list[str]], set[str]]) -> dict[int, str]:
    """Row → message for rows whose key HubSpot lacks while a zero-padded form of it exists
    ("1" where HubSpot has "0001"): likely a key a spreadsheet turned into a number, which would
    otherwise create a duplicate record. `existing(keys)` returns those of `keys` HubSpot has
    (one batch read per 100)."""
    forms = zero_padded_forms(keys, id_prop)
    if not forms:
        return {}
    present = existing(sorted({*forms, *forms.values()}))
    padded = {forms[p]: p for p in sorted(present) if p in forms}
    name = id_prop["name"]
    return {int(row): (f"{name} {key} is not in HubSpot, but {padded[key]} is: a spreadsheet may have turned the key "
                       f"into a number and dropped its leading zeros; format the column as text and retype it, or "
                       f"pass --allow-numeric-keys to create {key}")
            for row, key in keys.dropna().items() if key in padded and key not in present}


def association_keys(cells: pd.Series, match: str) -> pd.Series:
    text = cell_text(cells)
    if match == "email":
        text = text.str.lower()
    return text.astype(object).where(text.notna(), None)


def _cell_errors(table: Table, column: str, messages: pd.Series) -> list[CellError]:
    bad = messages.dropna()
    raw = table.frame.loc[bad.index, column]
    return [CellError(table.path, int(row), column, short_value(raw[row]), message) for row, message in bad.items()]


def short_value(value: Any) -> Any:
    """A long text cut to 200 characters for messages and reports."""
    return value[:200] + "…" if isinstance(value, str) and len(value) > 200 else value


def normalize_remote(values: pd.DataFrame | pd.Series, properties: list[dict]) -> pd.DataFrame | pd.Series:
    """Canonical strings for values read from HubSpot (columns or Series name = property name).

    Tolerates HubSpot's odd forms ("b;a", "52000.0", epoch milliseconds); values that fit no form
    are kept as text rather than dropped, so a difference still shows.
    """
    by_name = {p["name"]: p for p in properties}
    if isinstance(values, pd.Series):
        return _normalize_series(values, by_name)
    return pd.DataFrame({c: _normalize_series(values[c], by_name) for c in values.columns}, index=values.index, dtype=object)


def _normalize_series(series: pd.Series, by_name: dict[str, dict]) -> pd.Series:
    prop = by_name.get(str(series.name))
    if prop is None:
        text = cell_text(series)
        return text.astype(object).where(text.notna(), None).rename(series.name)
    kept = convert(series, prop, remote=True).canonical.to_numpy(dtype=object).copy()
    gap = pd.isna(kept) & series.notna().to_numpy()
    if gap.any():  # values that fit no form: kept as text
        text = cell_text(series[gap]).astype(object)
        kept[gap] = text.where(text.notna(), None).to_numpy()
    raw = series.to_numpy(dtype=object)
    if set(map(type, raw)) <= {str, type(None)}:
        # A value already canonical stays the str object HubSpot's answer made (shared with the sheet's
        # cell when jobs read it so) instead of an equal copy: a million records hold one set of values.
        same = np.equal(kept, raw)
        kept[same] = raw[same]
    return pd.Series(kept, index=series.index, dtype=object, name=series.name, copy=False)


# --- remote values → natural cells ----------------------------------------------------------------


def to_cells(remote: pd.DataFrame, m: Mapping, properties: list[dict], *, strict: bool = True) -> pd.DataFrame:
    """Natural spreadsheet cells for remote records, under the mapping's column names.

    Dates become datetime.date, datetimes naive datetimes in the column's timezone (UTC by
    default; ISO text with the offset in an hour a DST change repeats), numbers int (float when
    exact, else Decimal), booleans bool, options the text `option_forms` chose (the label, or the
    value, per the column's `options`). Every cell reads back as the value it came from; an option
    no text of the column can name raises InputError, or, without `strict` (a sheet people read
    and syncer never reads back, such as a review workbook), shows as its value. Association
    columns are not filled here.
    """
    by_name = {p["name"]: p for p in properties}
    columns = {}
    for column, spec in m.columns.items():
        prop = by_name.get(spec.property)
        if prop is None or spec.property not in remote.columns:
            columns[column] = pd.Series(None, index=remote.index, dtype=object)
            continue
        canonical = _normalize_series(remote[spec.property], by_name)
        forms = None
        if kind(prop) in {"enumeration", "multi"}:
            forms, unnameable = option_forms(prop, spec)
            if strict:
                _refuse_unnameable(canonical, unnameable, prop, column, m)
        columns[column] = _natural(canonical, prop, spec, forms)
    frame = pd.DataFrame(columns, index=remote.index, dtype=object)
    return frame.where(frame.notna(), None)


def _refuse_unnameable(canonical: pd.Series, unnameable: list[str], prop: dict, column: str, m: Mapping) -> None:
    """InputError when a record holds an option no text of this column reads back as."""
    if not unnameable:
        return
    held = canonical.dropna().astype(str).str.split(";").explode()
    found = held[held.isin(set(unnameable))]
    if len(found):
        value = found.iloc[0]
        raise InputError(
            f'{m.path.name}: columns.{column}: option {value} of {prop["name"]} (record {found.index[0]}) cannot be '
            f'written into the sheet so that it reads back: its label and value read as other options; '
            f'add a `values:` entry to the column, e.g. values: {{"{value} (exact)": {value}}}')


def _natural(canonical: pd.Series, prop: dict, spec: ColumnSpec, forms: dict[str, str] | None) -> pd.Series:
    """Natural cells of one column; `forms`: an option column's `option_forms` (None for others)."""
    text = canonical.astype(_TEXT)
    k = kind(prop)
    if k == "number":
        out = _natural_numbers(text)
    elif k == "date":
        out = pd.to_datetime(text, format="%Y-%m-%d", errors="coerce").dt.date
    elif k == "datetime":
        out = _natural_datetimes(text, spec.timezone or "UTC")
    elif k == "bool":
        out = text.map({"true": True, "false": False})
    elif k in {"enumeration", "multi"}:
        out = _natural_options(text, prop, spec, forms)
    else:
        out = text
    out = out.astype(object)
    return out.where(text.notna() & pd.notna(out), None)


def _natural_datetimes(text: pd.Series, zone: str) -> pd.Series:
    """Naive datetimes in `zone`, as a sheet shows them; a time in an hour a DST change repeats
    is ISO text with its offset instead ("2026-10-25T02:30:00.000+01:00"), since the wall-clock
    time alone would read back as the hour's first occurrence."""
    when = pd.to_datetime(text, format="ISO8601", utc=True, errors="coerce")
    local = when.dt.tz_convert(zone)
    naive = local.dt.tz_localize(None)
    out = naive.astype(object)
    if zone != "UTC":
        again = naive.dt.tz_localize(zone, ambiguous="NaT", nonexistent="NaT")
        repeated = again.isna() & when.notna()
        if repeated.any():
            out[repeated] = [t.isoformat(timespec="milliseconds") for t in local[repeated]]
    return out


def _natural_numbers(text: pd.Series) -> pd.Series:
    """int for integers, float for short decimals (exact in binary), Decimal for the rest."""
    small_int = text.str.fullmatch(r"-?\d{1,15}").fillna(False).astype(bool)
    short = ~small_int & text.str.fullmatch(r"-?\d{1,9}\.\d{1,6}").fillna(False).astype(bool)
    rest = ~small_int & ~short & text.notna()
    pieces = [text[small_int].astype("int64").astype(object), text[short].astype("float64").astype(object),
              text[rest].astype(object).map(_exact_number).astype(object)]
    return pd.concat([p for p in pieces if len(p)] or [pd.Series(dtype=object)]).astype(object).reindex(text.index)


def _exact_number(text: str) -> Any:
    try:
        value = Decimal(text)
    except InvalidOperation:
        return text
    return int(value) if value == value.to_integral_value() else value


def _natural_options(text: pd.Series, prop: dict, spec: ColumnSpec, forms: dict[str, str]) -> pd.Series:
    """Each option value as the text `option_forms` chose (one that reads back as that value).
    A value HubSpot holds but no longer defines is written as itself."""
    if kind(prop) == "enumeration":
        return text.map(forms).astype(_TEXT).fillna(text)
    parts = text.dropna().str.split(";", regex=False).explode()
    named = parts.map(forms).fillna(parts).astype(str)
    return named.groupby(level=0, sort=False).agg(spec.separator.join).reindex(text.index)


# --- validate: mapping, sheet and values, without writing ---------------------------------------


@dataclass
class Validation:
    """What `syncer validate` found. `ok` when there is nothing to fix."""

    mapping: Mapping
    source: Path | None
    rows: int = 0
    problems: list[MappingProblem] = field(default_factory=list)
    errors: list[CellError] = field(default_factory=list)
    warnings: list[MappingProblem] = field(default_factory=list)  # worth knowing; not wrong

    @property
    def ok(self) -> bool:
        return not self.problems and not self.errors

    @property
    def error_rows(self) -> set[int]:
        return {e.row for e in self.errors}

    def render(self) -> str:
        """Problems as text: mapping problems first, then cell errors grouped by column."""
        name = self.source.name if self.source else "the sheet"
        notes = [f"warning: {w}" for w in self.warnings]
        if self.ok:
            return "\n".join([*notes, f"{self.mapping.path.name}: OK, {self.rows:,} rows of {name} are valid"])
        lines = [*notes, *(str(p) for p in self.problems)]
        by_column: dict[str, list[CellError]] = defaultdict(list)
        for error in self.errors:
            by_column[error.column].append(error)
        if self.errors:
            lines.append(f"{name}: {len(self.error_rows):,} of {self.rows:,} rows have problems")
        for column, errors in by_column.items():
            lines.append(f'  column "{column}" ({len(errors)}):')
            lines += [f"    row {e.row}: {e.message}" for e in errors]
        return "\n".join(lines)


PropertySource = Union[list[dict], Callable[[str], list[dict]]]


def _properties(properties: PropertySource, object_type: str) -> list[dict]:
    return properties(object_type) if callable(properties) else properties


def validate(m: Mapping | str | Path, properties: PropertySource, *, source: str | Path | None = None,
             existing: Callable[[str, str, list[str]], set[str]] | None = None) -> Validation:
    """Check a mapping (loaded, or its path) against the portal's properties, then its sheet's
    header and every cell.

    `properties` is the object's property list, or a function object type → list (such as
    `client.properties`), called only once the mapping and the sheet have been read, so a bad file
    never costs a request. `existing(object_type, id_property, keys)`, if given, returns the keys
    HubSpot has, to find keys that lost their leading zeros (`lost_zeros`). Writes nothing.
    Unreadable mapping or sheet files raise InputError; everything else is reported in the
    returned Validation (option sets whose texts collide as warnings).
    """
    from syncer import tables

    m = m if isinstance(m, Mapping) else mapping_module.load(m)
    path = Path(source) if source else m.source
    if path is None:
        raise InputError(f"{m.path.name}: no source in the mapping; pass --source FILE")
    with talk.phase(f"read {path.name}") as done:
        table = tables.read(path, sheet=m.sheet, header_row=m.header_row)
        done(f"{len(table.frame):,} rows")
    with talk.phase("asked the portal for the object's properties"):
        lookup, properties = properties, _properties(properties, m.object)
    result = Validation(mapping=m, source=path, rows=len(table.frame))
    result.problems = (mapping_module.check(m, properties, table.header) + association_problems(m, lookup)
                       + _where_problems(m, properties))
    if table.frame.empty:
        result.problems.append(MappingProblem(m.path, "source", f"{path.name} has a header but no data rows"))
    with talk.phase("checked every cell") as done:
        local = canonicalize(table, m, properties)
        done(f"{len(local.errors):,} cell errors")
    result.errors = local.errors + _key_errors(table, m, local)
    by_name = {p["name"]: p for p in properties}
    if existing is not None and m.id_property in local.frame and m.id_property in by_name:
        lost = lost_zeros(local.frame[m.id_property], by_name[m.id_property],
                          lambda keys: existing(m.object, m.id_property, keys))
        result.errors += [CellError(path, row, m.id_column, local.frame.at[row, m.id_property], message)
                          for row, message in lost.items()]
    result.errors.sort(key=lambda e: (e.row, e.column))
    for column, spec in m.columns.items():
        prop = by_name.get(spec.property)
        if prop is not None and kind(prop) in {"enumeration", "multi"}:
            result.warnings += [MappingProblem(m.path, f"columns.{column}", w) for w in option_warnings(prop, spec)]
    return result


def _where_problems(m: Mapping, properties: list[dict]) -> list[MappingProblem]:
    """Each of the mapping's `where` conditions that export and sync would refuse."""
    from syncer.conditions import parse_condition  # lazily: conditions builds on this module

    problems = []
    for number, text in enumerate(m.where):
        try:
            parse_condition(text, m, properties, origin=f"where[{number}]")
        except InputError as exc:
            problems.append(MappingProblem(m.path, f"where[{number}]", str(exc).split(": ", 1)[-1]))
    return problems


def association_problems(m: Mapping, properties: PropertySource) -> list[MappingProblem]:
    """Each association's target checked against the portal: an object type it lacks, or a `match`
    property the target lacks or that is not unique (so a cell could not name one record). Needs
    `properties` as a function object type → list; a plain list (one object's) checks nothing."""
    if not callable(properties):
        return []
    problems = []
    for number, spec in enumerate(m.associations):
        key = f"associations[{number}]"
        try:
            target = {p["name"]: p for p in properties(spec.to)}
        except InputError as exc:  # the portal has no such object type
            problems.append(MappingProblem(m.path, f"{key}.to", str(exc)))
            continue
        prop = target.get(spec.match)
        if prop is None:
            problems.append(MappingProblem(m.path, f"{key}.match", f'object "{spec.to}" has no property '
                                           f'"{spec.match}"' + talk.did_you_mean(spec.match, list(target))))
        elif not mapping_module.is_unique(prop, spec.to):
            unique = [name for name, p in target.items() if mapping_module.is_unique(p, spec.to)]
            problems.append(MappingProblem(m.path, f"{key}.match", f'"{spec.match}" is not a unique property of '
                                           f'"{spec.to}" (hasUniqueValue), so a cell cannot name one record'
                                           + (f"; unique properties: {', '.join(unique)}" if unique else "")))
    return problems


def _key_errors(table: Table, m: Mapping, local: LocalRows) -> list[CellError]:
    """The rows whose key the planner could not use (syncer.keys: blank, or on more than one row),
    found as push finds them, on the canonical keys. A key cell that holds a value it could not
    convert is a cell error already, not a blank key."""
    column = m.id_column
    if column is None or column not in table.frame.columns or m.id_property not in local.frame:
        return []
    canonical = local.frame[m.id_property]
    raw = cell_text(table.frame[column])
    found = key_rules.errors(canonical, m.id_property)
    found[canonical.isna().to_numpy() & raw.notna().to_numpy()] = None
    return [CellError(table.path, int(row), column, None if pd.isna(raw[row]) else raw[row], message)
            for row, message in found.dropna().items()]


def init_mapping(source: str | Path, properties: PropertySource, *, object_type: str, id_property: str | None = None,
                 sheet: str | int | None = None, output: str | Path | None = None,
                 header_row: int = 1, portal: Callable[[], str | None] | None = None) -> mapping_module.Draft:
    """A first mapping for `source` (see `mapping.draft`); `source` is written relative to `output`.
    `portal`, called once the properties are read, gives the pin to write (see syncer.portals).

    `header_row` is the row holding the column names. A sheet none of whose columns matches a
    property of the object raises InputError naming both, and the row the names seem to be on
    when that is another (or when the header row is blank).
    """
    from syncer import tables

    source = Path(source)

    def names_row() -> int | None:
        try:
            return tables.guess_header_row(source, sheet=sheet)
        except (InputError, OSError):
            return None

    try:
        table = tables.read(source, sheet=sheet, header_row=header_row)
    except InputError as exc:
        found = names_row()
        if found is None or found == header_row:
            raise
        raise InputError(f"{exc}; the column names look like they are on row {found}: "
                         f"pass --header-row {found}") from None
    base = Path(output).resolve().parent if output else Path.cwd()
    relative = Path(_relative(source.resolve(), base)).as_posix()
    props = _properties(properties, object_type)
    draft = mapping_module.draft(table.header, props, object_type=object_type, id_property=id_property,
                                 source=relative, sheet=table.sheet if isinstance(sheet, str) else None,
                                 header_row=header_row, portal=portal() if portal else None)
    if draft.columns:
        return draft
    writable = sorted(p["name"] for p in props if not mapping_module._read_only(p))
    found = names_row()
    if found is None:
        hint = f"row {header_row} looks like data, not column names: pass --header-row N with the row that holds them"
    elif found != header_row:
        hint = f"the column names look like they are on row {found}: pass --header-row {found}"
    else:
        hint = f'check that the sheet holds "{object_type}" records (--object), or write the mapping by hand'

    def listed(names: list[str], most: int = 25) -> str:
        return ", ".join(names[:most]) + (f" and {len(names) - most} more" if len(names) > most else "")

    columns = listed([f'"{c}"' for c in table.header])
    raise InputError(f'{source.name}: no column of the sheet matches a property of "{object_type}", so there is '
                     f"nothing to map; {hint}.\n  the sheet's columns (row {header_row}): {columns}\n"
                     f"  the properties of {object_type}: {listed(writable)}")


def _relative(path: Path, base: Path) -> str:
    import os

    try:
        return os.path.relpath(path, base)
    except ValueError:  # another drive on Windows
        return str(path)
