"""Cells ⇄ HubSpot property values, by property type, through one canonical form.

A local cell and a remote value are compared only as the string HubSpot itself would return
(DESIGN.md "Canonical form"): numbers without trailing zeros ("52000", "1.5", exact for long
numbers), dates "YYYY-MM-DD", datetimes "YYYY-MM-DDTHH:MM:SS.mmmZ" in UTC, booleans "true"/"false",
option values (never labels), multi-selects joined by ";" in the property's option order, text with
surrounding whitespace stripped (on both sides, so a stray space never counts as a change).
A blank cell is None ("no value").

Every conversion runs a column at a time with pandas string and datetime operations; Python runs
per cell only to word the message of a bad cell and for rare forms (numbers in scientific notation).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Callable, Union

import numpy as np
import pandas as pd

from syncer import mapping as mapping_module
from syncer.errors import InputError
from syncer.mapping import ColumnSpec, Mapping, MappingProblem
from syncer.tables import CellError, Table

MAX_STRING = 65_536
TRUE_WORDS = {"true", "yes", "y", "1", "on"}
FALSE_WORDS = {"false", "no", "n", "0", "off"}
NUMBER = r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?"
OFFSET = r"(?:Z|[+-]\d\d:?\d\d)$"
ASSOCIATION_PREFIX = "assoc:"


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
        text = cells.astype("string").str.strip()
        return text.mask(text.eq(""))
    types = cells.map(type)
    if types[cells.notna()].eq(float).all():  # a column of Excel numbers: all in numpy
        return _float_text(cells.astype(float)) if cells.notna().any() else cells.astype("string")
    text = pd.Series(pd.NA, index=cells.index, dtype="string")
    strings = types.eq(str)
    text[strings] = cells[strings].astype("string").str.strip()
    floats = types.eq(float) & cells.notna()
    if floats.any():
        text[floats] = _float_text(cells[floats])
    bools = types.eq(bool)
    if bools.any():
        text[bools] = cells[bools].map({True: "true", False: "false"}).astype("string")
    other = ~(strings | floats | bools) & cells.notna()
    if other.any():  # ints, dates, times: their str() is what a person reads
        text[other] = cells[other].astype(str).astype("string")
    return text.mask(text.eq(""))


def canonical_numbers(text: pd.Series) -> pd.Series:
    """Decimal text in HubSpot's form: "52000.0" → "52000", "01.50" → "1.5"; <NA> where not a number."""
    result = text.where(text.str.fullmatch(r"-?[1-9]\d*|0").fillna(False).astype(bool)).astype("string")
    rest = result.isna() & text.notna()
    if rest.any():
        result[rest] = _canonical_decimals(text[rest])
    return result


def _canonical_decimals(text: pd.Series) -> pd.Series:
    ok = text.str.fullmatch(NUMBER).fillna(False).astype(bool)
    plain = ok & ~text.str.contains("[eE]", regex=True).fillna(False).astype(bool)
    body = text.where(plain).str.lstrip("+-")
    parts = body.str.extract(r"^(\d*)\.?(\d*)$")
    whole = parts[0].str.lstrip("0").replace("", "0")
    fraction = parts[1].str.rstrip("0")
    number = whole.where(fraction.eq("") | fraction.isna(), whole + "." + fraction)
    negative = text.str.startswith("-").fillna(False).astype(bool) & number.ne("0")
    number = number.where(~negative, "-" + number)
    result = number.where(plain).astype("string")
    scientific = ok & ~plain
    if scientific.any():
        result[scientific] = text[scientific].map(_decimal_text).astype("string")
    return result


def _float_text(numbers: pd.Series) -> pd.Series:
    """Excel numbers as HubSpot text: whole numbers without ".0", others in their shortest form."""
    values_ = numbers.to_numpy(dtype=float)
    whole = np.isfinite(values_) & (values_ == np.round(values_)) & (np.abs(values_) < 2**53)
    text = np.where(whole, np.where(whole, values_, 0).astype(np.int64).astype(str), values_.astype(str))
    text = pd.Series(text, index=numbers.index, dtype="string").where(~np.isnan(values_))
    return text if whole[~np.isnan(values_)].all() else canonical_numbers(text)


def _decimal_text(text: str) -> str:
    value = Decimal(text).normalize()
    return "0" if value == 0 else format(value, "f")


# --- converters: raw cells → (canonical, message) ------------------------------------------------


@dataclass(frozen=True)
class Converted:
    """One column converted: canonical strings (None for blank or bad) and a message per bad cell."""

    canonical: pd.Series
    messages: pd.Series


def convert(cells: pd.Series, prop: dict, spec: ColumnSpec | None = None, *, remote: bool = False) -> Converted:
    """Convert one column of raw cells (or remote values) to canonical strings.

    Sheets repeat themselves (makes, colours, dates, option lists), so a column with few distinct
    cells is converted once per distinct cell and spread back by position.
    """
    if spec is None or remote:  # HubSpot's own forms: ISO or epoch times, option values, ";"
        spec = ColumnSpec(property=prop["name"])
    distinct = _distinct_cells(cells)
    if distinct is None:
        return _convert(cells, prop, spec, remote)
    codes, uniques = distinct
    once = _convert(pd.Series(uniques, dtype=cells.dtype), prop, spec, remote)
    return Converted(_spread(once.canonical, codes, cells.index), _spread(once.messages, codes, cells.index))


def _distinct_cells(cells: pd.Series) -> tuple[np.ndarray, Any] | None:
    """(codes, distinct cells) when worth it: few distinct cells, and none that hash alike but
    convert differently (True == 1 == 1.0 in Python)."""
    if len(cells) < 1000 or cells.iloc[:5000].nunique() > 1000:
        return None
    if cells.dtype == object:
        types = set(cells.map(type).unique())
        if bool in types and types & {int, float, Decimal, np.int64, np.float64}:
            return None
    codes, uniques = pd.factorize(cells)
    return (codes, uniques) if len(uniques) <= len(cells) // 4 else None


def _spread(converted: pd.Series, codes: np.ndarray, index: pd.Index) -> pd.Series:
    values_ = np.append(converted.to_numpy(dtype=object), None)  # code -1 (a blank cell) → None
    return pd.Series(values_[codes], index=index, dtype=object)


def _convert(cells: pd.Series, prop: dict, spec: ColumnSpec, remote: bool) -> Converted:
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
    too_long = text.str.len().gt(MAX_STRING).fillna(False).astype(bool)
    return text, too_long & ~remote


def _number(cells, text, prop, spec, remote):
    number = canonical_numbers(text)
    return number, number.isna()


def _bool(cells, text, prop, spec, remote):
    lowered = text.str.lower()
    result = pd.Series(pd.NA, index=text.index, dtype="string")
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


def _iso(when: pd.Series, unit: str, suffix: str = "") -> pd.Series:
    """ISO 8601 text of UTC timestamps, formatted by numpy in C (strftime is a Python call per cell)."""
    naive = when.dt.tz_convert(None).to_numpy(dtype=f"datetime64[{unit}]")
    text = np.char.add(np.datetime_as_string(naive, unit=unit), suffix)
    return pd.Series(text, index=when.index, dtype="string").where(when.notna())


def _parse_times(cells, text, spec, remote, *, zone: str = "UTC") -> pd.Series:
    """Parse cells to UTC timestamps (NaT where impossible). Values without an offset are in `zone`.

    Dates are parsed with zone UTC, so a date never moves to another day.
    """
    when = pd.Series(pd.NaT, index=text.index, dtype="datetime64[us, UTC]")
    typed = cells.map(lambda v: isinstance(v, (dt.date, pd.Timestamp))) if cells.dtype == object else pd.Series(False, index=cells.index)
    if typed.any():
        when[typed] = _in_zone(pd.to_datetime(cells[typed].astype(object), errors="coerce"), zone)
    strings = text.notna() & ~typed
    if remote:
        epoch = strings & text.str.fullmatch(r"-?\d{9,}").fillna(False).astype(bool)
        when[epoch] = pd.to_datetime(text[epoch].astype("int64"), unit="ms", utc=True, errors="coerce")
        strings &= ~epoch
    if spec.format:
        when[strings] = _in_zone(pd.to_datetime(text[strings], format=spec.format, errors="coerce"), zone)
        return when
    aware = strings & text.str.contains(OFFSET, regex=True).fillna(False).astype(bool)
    when[aware] = pd.to_datetime(text[aware], format="ISO8601", utc=True, errors="coerce")
    naive = strings & ~aware
    when[naive] = _in_zone(pd.to_datetime(text[naive], format="ISO8601", errors="coerce"), zone)
    return when


def _in_zone(times: pd.Series, zone: str) -> pd.Series:
    if getattr(times.dt, "tz", None) is not None:
        return times.dt.tz_convert("UTC")
    # A wall-clock time repeated by a DST change reads as its first (summer-time) occurrence; one
    # skipped by the change moves forward to the first valid time. Both are rare, and a row error
    # would be harder on the person than a documented rule.
    first = np.ones(len(times), dtype=bool)
    return times.dt.tz_localize(zone, ambiguous=first, nonexistent="shift_forward").dt.tz_convert("UTC")


def _enumeration(cells, text, prop, spec, remote):
    exact, folded = _option_lookup(prop, spec)
    result = text.map(exact).astype("string")
    missing = result.isna() & text.notna()
    result[missing] = text[missing].str.lower().map(folded).astype("string")
    if remote:
        return result.fillna(text), pd.Series(False, index=text.index)
    return result, result.isna()


def _multi(cells, text, prop, spec, remote):
    separator = ";" if remote else spec.separator
    parts = text.str.split(separator, regex=False).explode().str.strip()
    parts = parts[parts.notna() & parts.ne("")]
    exact, folded = _option_lookup(prop, spec)
    values = parts.map(exact).astype("string")
    values = values.fillna(parts.str.lower().map(folded).astype("string"))
    bad_rows = values.index[values.isna()].unique()
    if remote:
        values = values.fillna(parts)
    order = {o["value"]: i for i, o in enumerate(prop.get("options") or [])}
    chosen = pd.DataFrame({"value": values, "order": values.map(order).astype(float)}).dropna(subset=["value"])
    chosen = chosen.rename_axis("row").reset_index().drop_duplicates(["row", "value"])
    chosen = chosen.sort_values(["row", "order", "value"], na_position="last")
    joined = chosen.groupby("row", sort=False)["value"].agg(";".join)
    result = joined.reindex(text.index).astype("string")
    bad = pd.Series(text.index.isin(bad_rows), index=text.index)
    return result, bad & ~remote


def _option_lookup(prop: dict, spec: ColumnSpec) -> tuple[dict[str, str], dict[str, str]]:
    """Option values matched exactly, then the mapping's `values`, labels and values without case."""
    options = prop.get("options") or []
    exact = {o["value"]: o["value"] for o in options}
    folded: dict[str, str] = {}
    for text, value in spec.values.items():
        folded.setdefault(text.lower(), value)
    for o in options:
        folded.setdefault(str(o.get("label", "")).lower(), o["value"])
    for o in options:
        folded.setdefault(o["value"].lower(), o["value"])
    if set(exact) <= {"true", "false"} and exact:
        folded.update({w: "true" for w in TRUE_WORDS if "true" in exact})
        folded.update({w: "false" for w in FALSE_WORDS if "false" in exact})
    return exact, folded


_CONVERTERS = {"string": _string, "number": _number, "bool": _bool, "date": _date, "datetime": _datetime,
               "enumeration": _enumeration, "multi": _multi}


def _message(kind_: str, value: str, prop: dict, spec: ColumnSpec) -> str:
    shown = _show(value)
    if kind_ == "string":
        return f"the text is {len(value):,} characters long; HubSpot keeps at most {MAX_STRING:,}"
    if kind_ == "number":
        return f"{shown} is not a number (digits with an optional . for decimals)"
    if kind_ == "bool":
        return f"{shown} is not a yes/no value (true, false, yes, no, 1, 0)"
    if kind_ in {"date", "datetime"}:
        what = "a date" if kind_ == "date" else "a date and time"
        return f"{shown} is not {what} in format {spec.format}" if spec.format else f"{shown} is not {what} (YYYY-MM-DD{'' if kind_ == 'date' else 'THH:MM:SS'})"
    return _option_message(value, prop, spec)


def _option_message(value: str, prop: dict, spec: ColumnSpec) -> str:
    exact, folded = _option_lookup(prop, spec)
    labels = [str(o.get("label", o["value"])) for o in prop.get("options") or []]
    parts = [p.strip() for p in value.split(spec.separator)] if kind(prop) == "multi" else [value]
    unknown = [p for p in parts if p and p not in exact and p.lower() not in folded]
    word = unknown[0] if unknown else value
    hint = mapping_module.closest(word, labels + list(exact))
    suggestion = f'; did you mean "{hint}"?' if hint else ""
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
            errors += _cell_errors(table, column, converted.messages)
    for association in m.associations:
        if association.column in table.frame.columns:
            columns[ASSOCIATION_PREFIX + association.column] = association_keys(table.frame[association.column], association.match)
    frame = pd.DataFrame(columns, index=table.frame.index, dtype=object)
    return LocalRows(frame=frame, errors=sorted(errors, key=lambda e: (e.row, e.column)))


def association_keys(cells: pd.Series, match: str) -> pd.Series:
    text = cell_text(cells)
    if match == "email":
        text = text.str.lower()
    return text.astype(object).where(text.notna(), None)


def _cell_errors(table: Table, column: str, messages: pd.Series) -> list[CellError]:
    bad = messages.dropna()
    raw = table.frame.loc[bad.index, column]
    return [CellError(table.path, int(row), column, _short_value(raw[row]), message) for row, message in bad.items()]


def _short_value(value: Any) -> Any:
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
    converted = convert(series, prop, remote=True)
    text = cell_text(series).astype(object)
    kept = converted.canonical.where(converted.canonical.notna() | text.isna(), text)
    return kept.where(kept.notna(), None).rename(series.name)


# --- remote values → natural cells ----------------------------------------------------------------


def to_cells(remote: pd.DataFrame, m: Mapping, properties: list[dict]) -> pd.DataFrame:
    """Natural spreadsheet cells for remote records, under the mapping's column names.

    Dates become datetime.date, datetimes naive datetimes in the column's timezone (UTC by
    default), numbers int (float when exact, else Decimal), booleans bool, options their labels
    (or values, per the column's `options`). Association columns are not filled here.
    """
    by_name = {p["name"]: p for p in properties}
    columns = {}
    for column, spec in m.columns.items():
        prop = by_name.get(spec.property)
        if prop is None or spec.property not in remote.columns:
            columns[column] = pd.Series(None, index=remote.index, dtype=object)
            continue
        canonical = _normalize_series(remote[spec.property], by_name)
        columns[column] = _natural(canonical, prop, spec)
    frame = pd.DataFrame(columns, index=remote.index, dtype=object)
    return frame.where(frame.notna(), None)


def _natural(canonical: pd.Series, prop: dict, spec: ColumnSpec) -> pd.Series:
    text = canonical.astype("string")
    k = kind(prop)
    if k == "number":
        out = _natural_numbers(text)
    elif k == "date":
        out = pd.to_datetime(text, format="%Y-%m-%d", errors="coerce").dt.date
    elif k == "datetime":
        when = pd.to_datetime(text, format="ISO8601", utc=True, errors="coerce")
        out = when.dt.tz_convert(spec.timezone or "UTC").dt.tz_localize(None).astype(object)
    elif k == "bool":
        out = text.map({"true": True, "false": False})
    elif k in {"enumeration", "multi"}:
        out = _natural_options(text, prop, spec)
    else:
        out = text
    out = out.astype(object)
    return out.where(text.notna() & pd.notna(out), None)


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


def _natural_options(text: pd.Series, prop: dict, spec: ColumnSpec) -> pd.Series:
    shown: dict[str, str] = {}
    if spec.options == "label":
        shown = {o["value"]: str(o.get("label") or o["value"]) for o in prop.get("options") or []}
    shown.update({value: label for label, value in reversed(list(spec.values.items()))})
    if kind(prop) == "enumeration":
        return text.map(shown).astype("string").fillna(text)
    parts = text.dropna().str.split(";", regex=False).explode()
    named = parts.map(shown).fillna(parts).astype(str)
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

    @property
    def ok(self) -> bool:
        return not self.problems and not self.errors

    @property
    def error_rows(self) -> set[int]:
        return {e.row for e in self.errors}

    def render(self) -> str:
        """Problems as text: mapping problems first, then cell errors grouped by column."""
        name = self.source.name if self.source else "the sheet"
        if self.ok:
            return f"{self.mapping.path.name}: OK, {self.rows:,} rows of {name} are valid"
        lines = [str(p) for p in self.problems]
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


def validate(m: Mapping | str | Path, properties: PropertySource, *, source: str | Path | None = None) -> Validation:
    """Check a mapping (loaded, or its path) against the portal's properties, then its sheet's
    header and every cell.

    `properties` is the object's property list, or a function object type → list (such as
    `client.properties`), called only once the mapping and the sheet have been read, so a bad file
    never costs a request. Sends nothing. Unreadable mapping or sheet files raise InputError;
    everything else is reported in the returned Validation.
    """
    from syncer import tables

    m = m if isinstance(m, Mapping) else mapping_module.load(m)
    path = Path(source) if source else m.source
    if path is None:
        raise InputError(f"{m.path.name}: no source in the mapping; pass --source FILE")
    table = tables.read(path, sheet=m.sheet, header_row=m.header_row)
    properties = _properties(properties, m.object)
    result = Validation(mapping=m, source=path, rows=len(table.frame))
    result.problems = mapping_module.check(m, properties, table.header)
    if table.frame.empty:
        result.problems.append(MappingProblem(m.path, "source", f"{path.name} has a header but no data rows"))
    local = canonicalize(table, m, properties)
    result.errors = sorted(local.errors + _key_errors(table, m), key=lambda e: (e.row, e.column))
    return result


def _key_errors(table: Table, m: Mapping) -> list[CellError]:
    """Blank and repeated values in the id column: the planner could not match those rows."""
    column = m.id_column
    if column is None or column not in table.frame.columns:
        return []
    keys = cell_text(table.frame[column])
    errors = [CellError(table.path, int(r), column, None, f"no {m.id_property}: every row needs one") for r in keys.index[keys.isna()]]
    present = keys[keys.notna()]
    first = pd.Series(present.index, index=present.index).groupby(present.to_numpy()).transform("first")
    for row in present.index[present.duplicated(keep="first")]:
        key = present[row]
        errors.append(CellError(table.path, int(row), column, key, f"{_show(key)} is repeated; first on row {first[row]}"))
    return errors


def init_mapping(source: str | Path, properties: PropertySource, *, object_type: str, id_property: str | None = None,
                 sheet: str | int | None = None, output: str | Path | None = None) -> mapping_module.Draft:
    """A first mapping for `source` (see `mapping.draft`); `source` is written relative to `output`."""
    from syncer import tables

    source = Path(source)
    table = tables.read(source, sheet=sheet)
    base = Path(output).resolve().parent if output else Path.cwd()
    relative = Path(_relative(source.resolve(), base)).as_posix()
    return mapping_module.draft(table.header, _properties(properties, object_type), object_type=object_type, id_property=id_property,
                                source=relative, sheet=table.sheet if isinstance(sheet, str) else None)


def _relative(path: Path, base: Path) -> str:
    import os

    try:
        return os.path.relpath(path, base)
    except ValueError:  # another drive on Windows
        return str(path)
