"""Schema plans: what a sheet needs of HubSpot's definitions, and the calls that make it so (pure).

`infer` reads one column's cells and says which property type holds them, trying the engine's
own conversions (values.py), so an inferred type is one whose push of those cells cannot fail:
bool, number, date, datetime (with the text format the cells are in), then, for text, a
multi-select when the cells hold a separator and their parts are few, an enumeration when the
distinct labels are few, else a string (textarea when long or multi-line).

`plan_new_object` proposes a custom object for a sheet (name, labels, primary display property,
the unique id property, required and searchable properties); `plan_existing` proposes, for an
object the portal has, the properties it lacks and the options its enumerations lack. A plan
never changes a property's type and never removes anything. Both return a SchemaPlan: a value
that a dry run shows (its calls exactly as they will be sent), a file keeps, and
`schema_jobs.apply_schema` runs.
"""

from __future__ import annotations

import datetime as dt
import dataclasses
import hashlib
import json
import math
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from syncer import mapping as mapping_module, values
from syncer.errors import InputError
from syncer.hubspot.definitions import DefinitionCall
from syncer.mapping import ColumnSpec, Mapping

PLAN_VERSION = 1
MAX_OPTIONS = 25  # an enumeration inferred from a sheet has at most this many options
MAX_OPTION_TEXT = 60  # longer texts are not option labels
LONG_TEXT = 255  # longer (or multi-line) text is a textarea
MAX_SEARCHABLE = 10
SEPARATORS = (";", ",")  # tried for multi-selects when no mapping names one
DATE_FORMATS = (None, "%d/%m/%Y", "%m/%d/%Y", "%d.%m.%Y", "%Y/%m/%d", "%d-%m-%Y")  # None: ISO or Excel cells
TIME_SUFFIXES = (" %H:%M", " %H:%M:%S")
STANDARD_GROUPS = {"0-1": "contactinformation", "0-2": "companyinformation", "0-3": "dealinformation"}
STANDARD_NAMES = {"contacts", "contact", "companies", "company", "deals", "deal", "tickets", "ticket"}
OBJECT_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
URL = re.compile(r"^(https?://|www\.)\S+$", re.IGNORECASE)
PHONE = re.compile(r"^\+?[\d\s().-]{6,}$")
ID_HINT = re.compile(r"(^|[^a-z])(id|code|number|no|key|ref|sku|vin|email|reference)([^a-z]|$)", re.IGNORECASE)
DATE_LIKE = re.compile(r"^\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}")
NAME_HINT = re.compile(r"(^|[^a-z])(name|title|label)([^a-z]|$)", re.IGNORECASE)


# --- one column ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Guess:
    """The property a column's cells call for: its definition, the mapping options that read the
    cells (`format`, `separator`), and why, in words."""

    column: str
    name: str
    label: str
    type: str
    field_type: str
    options: tuple[tuple[str, str], ...] = ()  # (label, value)
    format: str | None = None
    separator: str | None = None
    why: str = ""

    def definition(self, *, unique: bool = False, group: str | None = None) -> dict:
        """The PropertyCreate (or ObjectTypePropertyCreate, without a group) body."""
        body: dict[str, Any] = {"name": self.name, "label": self.label, "type": self.type,
                                "fieldType": self.field_type}
        if group:
            body["groupName"] = group
        if unique:
            body["hasUniqueValue"] = True
        if self.options:
            body["options"] = option_inputs(self.options)
        return body

    def column_spec(self) -> str | dict:
        """How a mapping names this column: the property, and the options reading its cells need."""
        extra = {k: v for k, v in (("format", self.format), ("separator", self.separator)) if v and v != ";"}
        return {"property": self.name, **extra} if extra else self.name

    def describe(self) -> str:
        kind = self.type if self.type in ("number", "date", "datetime", "bool") else f"{self.type} ({self.field_type})"
        parts = [kind]
        if self.separator:
            parts.append(f'separator "{self.separator}"')
        if self.format:
            parts.append(f"format {self.format}")
        if self.options and self.type == "enumeration":
            shown = ", ".join(label for label, _ in self.options[:8])
            more = f" and {len(self.options) - 8} more" if len(self.options) > 8 else ""
            parts.append(f"{len(self.options)} options: {shown}{more}")
        return ", ".join(parts)

    def to_json(self) -> dict:
        return {"column": self.column, "property": self.name, "label": self.label, "type": self.type,
                "field_type": self.field_type, "options": [list(o) for o in self.options], "format": self.format,
                "separator": self.separator, "why": self.why}

    @classmethod
    def from_json(cls, data: dict) -> Guess:
        return cls(data["column"], data["property"], data["label"], data["type"], data["field_type"],
                   tuple((str(a), str(b)) for a, b in data.get("options") or []), data.get("format"),
                   data.get("separator"), data.get("why") or "")


def infer(cells: pd.Series, column: str, spec: ColumnSpec | None = None, *, name: str | None = None) -> Guess:
    """The property type `cells` call for (see the module's docstring). `spec`, a mapping's column,
    fixes the separator, date format and time zone the cells are read with, and its `values:`
    make an enumeration."""
    name = name or (spec.property if spec else slug(column))
    label = column.strip() or name
    text = values.cell_text(cells).dropna()
    guess = lambda t, f, why, **kw: Guess(column, name, label, t, f, why=why, **kw)  # noqa: E731
    if text.empty:
        return guess("string", "text", "the column is blank: text until it holds values")
    n = len(text)
    if spec is not None and spec.values:
        return guess("enumeration", "select", f"the mapping lists its values ({len(spec.values)})",
                     options=_options_with_values(spec, text))
    if _all_bool(cells, text):
        return guess("bool", "booleancheckbox", f"all {n:,} values are yes/no", options=(("Yes", "true"), ("No", "false")))
    if _all_numbers(cells, text):
        return guess("number", "number", f"all {n:,} values are numbers")
    timed = _times(cells, text, spec)
    if timed is not None:
        return guess(*timed[:2], timed[3], format=timed[2])
    if text.str.contains("\n", regex=False).any() or text.str.len().max() > LONG_TEXT:
        return guess("string", "textarea", "long or multi-line text")
    if _all_match(text, EMAIL) or _all_match(text, URL):
        return guess("string", "text", "emails or web addresses: text, never options")
    if _all_match(text, PHONE) and text.str.contains(r"[+\s().-]", regex=True).any():
        return guess("string", "phonenumber", "phone numbers")
    for separator in ([spec.separator] if spec else SEPARATORS):
        parts = _parts(text, separator)
        if parts is not None:
            return guess("enumeration", "checkbox", f'cells list values separated by "{separator}", '
                         f"{len(parts)} distinct", options=_labelled(parts), separator=separator)
    distinct = _distinct(text)
    if _few(len(distinct), n) and text.str.len().max() <= MAX_OPTION_TEXT:
        return guess("enumeration", "select", f"{len(distinct)} distinct values in {n:,} cells",
                     options=_labelled(distinct))
    return guess("string", "text", "text")


def missing_options(cells: pd.Series, prop: dict, spec: ColumnSpec) -> list[str]:
    """The texts of an enumeration column that name no option of `prop` (by label or value, in
    any case, or through the column's `values:`), in the order the sheet first has them."""
    text = values.cell_text(cells).dropna()
    if values.kind(prop) == "multi":
        text = text.str.split(spec.separator, regex=False).explode().str.strip()
        text = text[text.ne("")]
    known = {str(o.get(k, "")).strip().casefold() for o in prop.get("options") or [] for k in ("label", "value")}
    known |= {t.strip().casefold() for t in spec.values}
    found: dict[str, str] = {}
    for value in text:
        if value.casefold() not in known:
            found.setdefault(value.casefold(), value)
    return list(found.values())


def _all_bool(cells: pd.Series, text: pd.Series) -> bool:
    if cells.dtype == bool:
        return True
    lowered = set(text.str.lower())
    return lowered <= (values.TRUE_WORDS | values.FALSE_WORDS) and not lowered <= {"0", "1"}


def _all_numbers(cells: pd.Series, text: pd.Series) -> bool:
    """Numbers, except texts that only look like them: codes with leading zeros (0042) or a plus
    sign, and more digits than a spreadsheet keeps (15)."""
    if text.str.match(r"^\+|^-?0\d").any() or text.str.count(r"\d").max() > 15:
        return False
    converted = values.convert(cells.loc[text.index], {"name": "x", "type": "number", "fieldType": "number"})
    return converted.messages.isna().all()


def _times(cells: pd.Series, text: pd.Series, spec: ColumnSpec | None) -> tuple[str, str, str | None, str] | None:
    """(type, fieldType, format, why) when every cell is a date, or every cell a date and time."""
    cells = cells.loc[text.index]
    typed = cells.map(lambda v: isinstance(v, (dt.date, pd.Timestamp)))
    if not text[~typed].str.match(DATE_LIKE).all():  # "0042" is a code, not the year 42
        return None
    zone = spec.timezone if spec else None
    formats = [spec.format] if spec and spec.format else list(DATE_FORMATS)
    readable = []
    for date_format in formats:
        as_date = ColumnSpec(property="x", format=date_format, timezone=zone)
        if values.convert(cells, {"name": "x", "type": "date", "fieldType": "date"}, as_date).messages.isna().all():
            readable.append(("date", "date", date_format))
    if not readable:
        for date_format in formats:
            with_time = [None] if date_format is None else [date_format + s for s in TIME_SUFFIXES]
            for time_format in with_time:
                as_time = ColumnSpec(property="x", format=time_format, timezone=zone)
                if values.convert(cells, {"name": "x", "type": "datetime", "fieldType": "date"},
                                  as_time).messages.isna().all():
                    readable.append(("datetime", "date", time_format))
                    break
    if not readable:
        return None
    kind, field_type, found = readable[0]
    why = f"all {len(text):,} values are {'dates' if kind == 'date' else 'dates and times'}"
    if found:
        why += f" written {found}"
    if len(readable) > 1 and found and (spec is None or not spec.format):
        why += f" (they read as {readable[1][2]} too: check the format)"
    if spec and spec.format:
        found = None  # the mapping says it already
    return kind, field_type, found, why


def _all_match(text: pd.Series, pattern: re.Pattern) -> bool:
    return bool(text.map(lambda v: bool(pattern.match(v))).all())


def _distinct(texts) -> list[str]:
    """Distinct texts, compared without regard to case (the first spelling kept), sorted."""
    found: dict[str, str] = {}
    for value in texts:
        found.setdefault(value.casefold(), value)
    return sorted(found.values(), key=str.casefold)


def _few(distinct: int, cells: int) -> bool:
    """Few enough distinct labels for options: at most MAX_OPTIONS, at most 1.5 times the square
    root of the cells, and each used twice on average (7 colours in 40 cars, 3 statuses in 10 rows;
    not 30 models in 300 cars, nor 5 names in 8 rows)."""
    return 0 < distinct <= min(MAX_OPTIONS, int(1.5 * math.sqrt(cells))) and 2 * distinct <= cells


def _parts(text: pd.Series, separator: str) -> list[str] | None:
    """The distinct parts of cells split on `separator`, when they make a multi-select."""
    if not text.str.contains(separator, regex=False).any():
        return None
    parts = text.str.split(separator, regex=False).explode().str.strip()
    parts = parts[parts.ne("")]
    distinct = _distinct(parts)
    if not _few(len(distinct), len(parts)) or parts.str.len().max() > MAX_OPTION_TEXT:
        return None
    return distinct


def _labelled(labels: list[str], taken: set[str] = frozenset()) -> tuple[tuple[str, str], ...]:
    """(label, value) options: each value the label's slug, unique among `taken` and each other."""
    used = {t.casefold() for t in taken}
    options = []
    for label in labels:
        value = unique_name(slug(label, prefix="option"), used)
        used.add(value.casefold())
        options.append((label, value))
    return tuple(options)


def _options_with_values(spec: ColumnSpec, text: pd.Series) -> tuple[tuple[str, str], ...]:
    """Options of a new enumeration whose mapping column lists `values:` (text → option value):
    one per value, labelled by its first text, then one per other text of the cells."""
    options = {}
    for shown, value in spec.values.items():
        options.setdefault(value, shown)
    named = {t.casefold() for t in spec.values} | {v.casefold() for v in spec.values.values()}
    rest = [t for t in _distinct(text) if t.casefold() not in named]
    listed = tuple((label, value) for value, label in options.items())
    return listed + _labelled(rest, set(options))


def option_inputs(options) -> list[dict]:
    """OptionInput bodies, in the order given."""
    return [{"label": label, "value": value, "displayOrder": i, "hidden": False}
            for i, (label, value) in enumerate(options)]


def slug(text: str, prefix: str = "p") -> str:
    """A HubSpot internal name for `text`: lower-case ASCII letters, digits and underscores,
    starting with a letter, never with hs_ (HubSpot's own)."""
    ascii_text = unicodedata.normalize("NFKD", str(text)).encode("ascii", "ignore").decode()
    name = re.sub(r"[^a-z0-9]+", "_", ascii_text.lower()).strip("_")[:90]
    if not name or not name[0].isalpha() or name.startswith("hs_"):
        name = f"{prefix}_{name}".rstrip("_")
    return name


def unique_name(name: str, taken) -> str:
    folded = {t.casefold() for t in taken}
    if name.casefold() not in folded:
        return name
    n = 2
    while f"{name}_{n}".casefold() in folded:
        n += 1
    return f"{name}_{n}"


def object_labels(name: str) -> tuple[str, str]:
    """(singular, plural) labels for an object name: boats → Boat, Boats; inventory → Inventory, Inventories."""
    words = name.replace("_", " ").strip()
    lower = words.lower()
    if lower.endswith("ies"):
        singular = words[:-3] + "y"
    elif lower.endswith(("sses", "xes", "ches", "shes", "uses")):
        singular = words[:-2]
    elif lower.endswith("s") and not lower.endswith(("ss", "us", "is")):
        singular = words[:-1]
    else:
        singular = words
    if singular.lower().endswith("y") and singular[-2:-1].lower() not in "aeiou":
        plural = singular[:-1] + "ies"
    elif singular.lower().endswith(("s", "x", "ch", "sh")):
        plural = singular + "es"
    else:
        plural = singular + "s"
    return singular[:1].upper() + singular[1:], plural[:1].upper() + plural[1:]


# --- the plan ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    """One thing a plan does, for people: `kind` is object, property, options, group or label."""

    kind: str
    subject: str
    detail: str
    column: str | None = None


@dataclass
class SchemaPlanMeta:
    """Where a schema plan was made: the portal (`portal`, `hub_id`), the sheet read (`source`, its
    `sheet` and `header_row`) and the mapping (None for a new object's plan)."""

    portal: str | None = None
    hub_id: str | None = None
    source: str | None = None
    mapping: str | None = None
    sheet: str | int | None = None
    header_row: int | None = None

    def to_json(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, document: dict) -> SchemaPlanMeta:
        return cls(**{item.name: document.get(item.name) for item in dataclasses.fields(cls)})


@dataclass
class SchemaPlan:
    """What a sheet needs of the portal's definitions, and the calls that provide it.

    `object` describes the object: name, objectTypeId (None when the plan creates it), and for a
    new one its labels, id property, primary display, required and searchable properties.
    `expect` is what the portal held when the plan was made (properties absent, option values of
    the properties whose options change, groups and labels absent), checked before a saved plan
    is applied. `columns` are the guesses for every column considered, new or not."""

    object: dict
    calls: list[DefinitionCall]
    changes: list[Change]
    columns: list[Guess]
    expect: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    meta: SchemaPlanMeta = field(default_factory=SchemaPlanMeta)

    @property
    def has_changes(self) -> bool:
        return bool(self.calls)

    @property
    def creates_object(self) -> bool:
        return self.object.get("object_type_id") is None

    def guess_for(self, column: str) -> Guess | None:
        return next((g for g in self.columns if g.column == column), None)

    def __repr__(self) -> str:
        return f"<SchemaPlan {self.object.get('name')!r}: {len(self.calls)} calls, {len(self.changes)} changes>"


def to_json(plan: SchemaPlan) -> dict:
    document = {"syncer_schema_plan": PLAN_VERSION, **plan.meta.to_json(), "object": plan.object,
                "changes": [c.__dict__ for c in plan.changes], "calls": [c.to_json() for c in plan.calls],
                "columns": [g.to_json() for g in plan.columns], "expect": plan.expect, "notes": plan.notes}
    document["digest"] = digest(document)
    return document


def digest(document: dict) -> str:
    body = {k: v for k, v in document.items() if k not in ("digest", "syncer_output", "command", "exit_code")}
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
                          .encode()).hexdigest()


def from_json(document: Any, source: str = "the schema plan") -> SchemaPlan:
    """A plan read back; InputError (exit 2) for anything but a schema plan written by syncer and
    left as it was (its digest), whose calls are the writes their kinds make."""
    if not isinstance(document, dict) or "syncer_schema_plan" not in document:
        raise InputError(f"{source} is not a schema plan (syncer schema plan -o FILE writes one)")
    if document["syncer_schema_plan"] != PLAN_VERSION:
        raise InputError(f"{source} is a schema plan of version {document['syncer_schema_plan']}; this syncer "
                         f"reads version {PLAN_VERSION}: plan again")
    if document.get("digest") != digest(document):
        raise InputError(f"{source} was changed after it was made (its digest does not match): plan again")
    try:
        calls = [DefinitionCall.from_json(c) for c in document["calls"]]
        meta = SchemaPlanMeta.from_json(document)
        return SchemaPlan(document["object"], calls, [Change(**c) for c in document["changes"]],
                          [Guess.from_json(g) for g in document["columns"]], document.get("expect") or {},
                          list(document.get("notes") or []), meta)
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(f"{source} is not a valid schema plan: {exc}") from None


def plan_new_object(table, name: str, *, m: Mapping | None = None, id_property: str | None = None,
                    singular: str | None = None, plural: str | None = None,
                    associated: list[str] = (), meta: SchemaPlanMeta | None = None) -> SchemaPlan:
    """A new custom object `name` for the sheet `table` (all its columns, or the mapping's)."""
    if not OBJECT_NAME.match(name) or len(name) > 100:
        raise InputError(f'"{name}" cannot name a custom object: use letters, digits and underscores, starting '
                         "with a letter (e.g. boats)")
    if name.lower() in STANDARD_NAMES:
        raise InputError(f'"{name}" is a standard HubSpot object, not a custom one: use --object {name}')
    guesses = _guesses(table, m)
    if not guesses:
        raise InputError(f"{table.path.name}: no column to make a property of")
    id_guess = _id_guess(table, guesses, m, id_property)
    guesses = [_as_id(g) if g is id_guess else g for g in guesses]
    id_guess = next(g for g in guesses if g.name == id_guess.name)
    primary = next((g for g in guesses if NAME_HINT.search(g.column) and g.type == "string"), id_guess)
    searchable = [id_guess.name] + ([primary.name] if primary is not id_guess else [])
    searchable += [g.name for g in guesses if g.type == "string" and g.field_type == "text"
                   and g.name not in searchable][:MAX_SEARCHABLE - len(searchable)]
    default_singular, default_plural = object_labels(name)
    labels = {"singular": singular or default_singular, "plural": plural or default_plural}
    body = {"name": name, "labels": labels, "primaryDisplayProperty": primary.name,
            "requiredProperties": [id_guess.name], "searchableProperties": searchable,
            "secondaryDisplayProperties": [], "associatedObjects": list(associated),
            "properties": [g.definition(unique=g is id_guess) for g in guesses]}
    described = {"name": name, "object_type_id": None, "labels": labels, "id_property": id_guess.name,
                 "primary_display_property": primary.name, "required_properties": [id_guess.name],
                 "searchable_properties": searchable}
    changes = [Change("object", name, f"a custom object ({labels['singular']} / {labels['plural']}), "
                      f"{len(guesses)} properties, matched by {id_guess.name}")]
    changes += [Change("property", g.name, g.describe() + (", unique: the id property" if g is id_guess else ""),
                       g.column) for g in guesses]
    labelled = m is not None and any(a.label for a in m.associations)
    notes = ["the associations the mapping names are defined with the object; their labels are made by the next "
             "`syncer schema plan`, once the object exists"] if labelled else []
    return SchemaPlan(described, [DefinitionCall("create_schema", body)], changes, guesses,
                      {"absent_object": name}, notes + _unmapped_notes(table, m), meta or SchemaPlanMeta())


def plan_existing(table, object_type, properties: list[dict], groups: list[dict], *, m: Mapping | None = None,
                  id_property: str | None = None, labels: dict[str, tuple[str, list[dict]]] | None = None,
                  meta: SchemaPlanMeta | None = None) -> SchemaPlan:
    """The properties and options `object_type` lacks for the sheet `table` (the mapping's columns;
    without a mapping, every column, matched to properties as `syncer init` matches them).
    `id_property` (a sheet's; a mapping names its own): the property, or the column, that matches
    rows to records, made unique when the plan creates it. `labels`: per association `to` of the
    mapping, its objectTypeId and the labels the portal has from this object to it."""
    by_name = {p["name"]: p for p in properties}
    type_id = object_type.object_type_id
    columns = _columns(table, m, properties, object_type.name)
    id_name = m.id_property if m else None
    if id_property and not m:
        id_name = columns[id_property].property if id_property in columns else id_property
        if id_name not in by_name and not any(spec.property == id_name for spec in columns.values()):
            raise InputError(f'{table.path.name}: no column "{id_property}" to be the id property')
    if id_name and id_name in by_name and not mapping_module.is_unique(by_name[id_name], object_type.name):
        where = f"{m.path.name}: id_property: " if m else ""
        raise InputError(f"{where}{id_name} exists on {object_type.name} but is not unique (hasUniqueValue), and "
                         "HubSpot cannot make an existing property unique; name a new property as the id property "
                         "and plan again")
    group, group_call = _group(object_type, properties, groups)
    found = _Lacking(type_id, id_name, group, from_mapping=m is not None)
    for column, spec in columns.items():
        cells = table.frame[column] if column in table.frame.columns else pd.Series([], dtype=object)
        prop = by_name.get(spec.property)
        if prop is None:
            found.property(column, spec, cells)
        else:
            found.options(column, spec, cells, prop)
    calls, changes, expect = [], found.changes, found.expect
    if found.new and group_call is not None:
        calls.append(group_call)
        expect["absent_groups"] = [group]
        changes.insert(0, Change("group", group, "a property group for the new properties"))
    if found.new:
        calls.append(DefinitionCall("create_properties", {"inputs": found.new}, type_id))
    calls += found.patches
    label_calls, label_changes = _label_calls(type_id, m, labels or {})
    calls += label_calls
    changes += label_changes
    if label_calls:
        expect["absent_labels"] = [[c.to_type, c.body["name"]] for c in label_calls]
    described = {"name": object_type.name, "object_type_id": type_id, "id_property": id_name}
    return SchemaPlan(described, calls, changes, found.guesses, expect, found.notes + _unmapped_notes(table, m),
                      meta or SchemaPlanMeta())


class _Lacking:
    """What an existing object lacks, column by column: new property definitions, option patches,
    the changes and notes people read, and what the portal held (`expect`)."""

    def __init__(self, type_id: str, id_name: str | None, group: str, *, from_mapping: bool) -> None:
        self.type_id, self.id_name, self.group = type_id, id_name, group
        self.from_mapping = from_mapping  # else the columns' specs are made up: no separator or format of theirs
        self.new: list[dict] = []
        self.patches: list[DefinitionCall] = []
        self.changes: list[Change] = []
        self.guesses: list[Guess] = []
        self.notes: list[str] = []
        self.expect: dict[str, Any] = {"absent_properties": [], "options": {}}

    def property(self, column: str, spec: ColumnSpec, cells: pd.Series) -> None:
        guess = infer(cells, column, spec if self.from_mapping else None, name=spec.property)
        unique = guess.name == self.id_name
        guess = _as_id(guess) if unique else guess
        self.guesses.append(guess)
        self.new.append(guess.definition(unique=unique, group=self.group))
        self.expect["absent_properties"].append(guess.name)
        self.changes.append(Change("property", guess.name, guess.describe()
                                   + (", unique: the id property" if unique else ""), column))

    def options(self, column: str, spec: ColumnSpec, cells: pd.Series, prop: dict) -> None:
        self.guesses.append(_existing_guess(column, prop, spec))
        if values.kind(prop) not in ("enumeration", "multi"):
            note = _type_note(column, cells, prop, spec)
            self.notes += [note] if note else []
            return
        named, unnamed = _unknown_values(prop, spec), missing_options(cells, prop, spec)
        wanted = unnamed + [text for text, _ in named]
        if wanted and (prop.get("modificationMetadata") or {}).get("readOnlyOptions"):
            self.notes.append(f'column "{column}": {", ".join(wanted)} name no option of {prop["name"]}, whose '
                              "options HubSpot does not let change; fix those cells")
        elif wanted:
            self.patches.append(_options_patch(self.type_id, prop, unnamed, named))
            self.expect["options"][prop["name"]] = [o["value"] for o in prop.get("options") or []]
            self.changes.append(Change("options", prop["name"], f"{len(wanted)} new: {', '.join(wanted)}", column))


def _guesses(table, m: Mapping | None) -> list[Guess]:
    if m is None:
        used: set[str] = set()
        guesses = []
        for column in table.header:
            name = unique_name(slug(column), used)
            used.add(name)
            guesses.append(infer(table.frame[column], column, name=name))
        return guesses
    missing = [c for c in m.columns if c not in table.frame.columns]
    if missing:
        raise InputError(f"{m.path.name}: the sheet {table.path.name} has no column "
                         + ", ".join(f'"{c}"' for c in missing) + ": a new object's properties are read from its cells")
    return [infer(table.frame[c], c, spec) for c, spec in m.columns.items()]


def _columns(table, m: Mapping | None, properties: list[dict], object_name: str) -> dict[str, ColumnSpec]:
    if m is not None:
        return dict(m.columns)
    draft = mapping_module.draft(table.header, properties, object_type=object_name)
    used = {p["name"] for p in properties}
    columns = {}
    for column in table.header:
        if column in draft.columns:
            columns[column] = ColumnSpec(property=draft.columns[column])
        else:
            name = unique_name(slug(column), used)
            used.add(name)
            columns[column] = ColumnSpec(property=name)
    return columns


def _id_guess(table, guesses: list[Guess], m: Mapping | None, wanted: str | None) -> Guess:
    """The id property: the one named (by property or column), else the first column whose every
    row holds its own value, preferring one whose name says it is an id."""
    wanted = wanted or (m.id_property if m else None)
    if wanted:
        found = next((g for g in guesses if wanted in (g.name, g.column)), None)
        if found is None:
            names = ", ".join(f'"{g.column}"' for g in guesses)
            raise InputError(f'{table.path.name}: no column "{wanted}" to be the id property; the columns: {names}')
        return found
    candidates = []
    for g in guesses:
        cells = values.cell_text(table.frame[g.column])
        if len(cells) and cells.notna().all() and not cells.duplicated().any() and g.type in ("string", "number"):
            candidates.append(g)
    if not candidates:
        raise InputError(f"{table.path.name}: no column holds a value of its own on every row, so none can match "
                         "rows to records; add one (a code, a number), or name it with --id-property COLUMN")
    return next((g for g in candidates if ID_HINT.search(g.column)), candidates[0])


def _as_id(guess: Guess) -> Guess:
    """An id property is text (a key keeps its leading zeros), one line, and unique."""
    return Guess(guess.column, guess.name, guess.label, "string", "text", why=guess.why + "; the id property: "
                 "unique text")


def _existing_guess(column: str, prop: dict, spec: ColumnSpec) -> Guess:
    options = tuple((str(o.get("label")), str(o.get("value"))) for o in prop.get("options") or [])
    return Guess(column, prop["name"], prop.get("label") or prop["name"], prop.get("type", "string"),
                 prop.get("fieldType", "text"), options, spec.format, spec.separator if values.kind(prop) == "multi"
                 else None, "the portal has it")


def _type_note(column: str, cells: pd.Series, prop: dict, spec: ColumnSpec) -> str | None:
    """A note when the cells do not fit an existing property: its type stays (syncer never changes
    one); `syncer validate` names the cells."""
    converted = values.convert(cells, prop, spec)
    bad = int(converted.messages.notna().sum())
    if not bad:
        return None
    return (f'column "{column}": {bad} cell(s) do not fit {prop["name"]} ({prop.get("type")}); its type stays as it '
            "is (syncer never changes one): `syncer validate` names them")


def _unknown_values(prop: dict, spec: ColumnSpec) -> list[tuple[str, str]]:
    """(text, value) of the column's `values:` whose option value the property lacks: the mapping
    says which value to make (one per value, labelled by its first text)."""
    have = {str(o.get("value")) for o in prop.get("options") or []}
    found: dict[str, str] = {}
    for text, value in spec.values.items():
        if value not in have:
            found.setdefault(value, text)
    return [(text, value) for value, text in found.items()]


def _options_patch(type_id: str, prop: dict, wanted: list[str], named: list[tuple[str, str]] = ()) -> DefinitionCall:
    """PATCH replaces a property's options: every option it has, then the new ones: `named`
    (label, value) pairs as the mapping names them, and a slug-valued option per label `wanted`."""
    kept = [{k: o[k] for k in ("label", "value", "displayOrder", "hidden", "description") if k in o}
            for o in prop.get("options") or []]
    taken = {str(o.get("value", "")) for o in kept} | {str(o.get("label", "")) for o in kept}
    taken |= {v for pair in named for v in pair}
    start = max([o.get("displayOrder", -1) for o in kept if isinstance(o.get("displayOrder"), int)] + [len(kept) - 1])
    added = [{"label": label, "value": value, "displayOrder": start + 1 + i, "hidden": False}
             for i, (label, value) in enumerate([*named, *_labelled(wanted, taken)])]
    return DefinitionCall("update_property", {"options": kept + added}, type_id, name=prop["name"])


def _group(object_type, properties: list[dict], groups: list[dict]) -> tuple[str, DefinitionCall | None]:
    """The group new properties join: the standard object's own, else the one most of the object's
    own properties are in, else a new `<name>_information` (and the call that makes it)."""
    live = [g["name"] for g in groups if not g.get("archived")]
    standard = STANDARD_GROUPS.get(object_type.object_type_id)
    if standard in live:
        return standard, None
    used = Counter(p.get("groupName") for p in properties
                   if not p.get("hubspotDefined") and p.get("groupName") in live)
    if used:
        return used.most_common(1)[0][0], None
    name = f"{slug(object_type.name, prefix='object')}_information"
    if name in live:
        return name, None
    singular = object_type.labels.get("singular") or object_type.name
    body = {"name": name, "label": f"{singular} information", "displayOrder": -1}
    return name, DefinitionCall("create_property_group", body, object_type.object_type_id)


def _label_calls(type_id: str, m: Mapping | None, labels: dict[str, tuple[str, list[dict]]]) -> tuple[list, list]:
    """A label call for each association of the mapping whose label the portal lacks."""
    calls, changes = [], []
    for association in (m.associations if m else []):
        if not association.label or association.to not in labels:
            continue
        to_type, known = labels[association.to]
        if any(_label_key(k.get("label") or "") == _label_key(association.label) for k in known):
            continue
        text = association.label.replace("_", " ").strip()
        body = {"label": text[:1].upper() + text[1:], "name": slug(association.label, prefix="label")}
        calls.append(DefinitionCall("create_association_label", body, type_id, to_type=to_type))
        changes.append(Change("label", body["label"], f"an association label to {association.to}", association.column))
    return calls, changes


def _label_key(label: str) -> str:
    return " ".join(label.replace("_", " ").split()).casefold()


def _unmapped_notes(table, m: Mapping | None) -> list[str]:
    if m is None:
        return []
    mapped = set(m.columns) | {a.column for a in m.associations}
    return [f'column "{c}" is not in the mapping: add `{c}: {slug(c)}` under columns in {m.path.name} to sync it, '
            "then plan again" for c in table.header if c not in mapped]


def mapping_columns(plan: SchemaPlan) -> dict[str, str | dict]:
    """The mapping's `columns` for the sheet a new object was planned from."""
    return {g.column: g.column_spec() for g in plan.columns}


def source_path(plan: SchemaPlan) -> Path | None:
    return Path(plan.meta.source) if plan.meta.source else None
