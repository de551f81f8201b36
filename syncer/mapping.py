"""The mapping file: which sheet columns feed which properties of which HubSpot object.

`load` reads and validates the YAML (every problem at once, each with file, line, key and the
nearest valid key); `check` compares a mapping with the portal's property definitions and the
sheet's header; `draft` writes a first mapping from a header and the portal's properties.
The file format is documented in README.md and by `json_schema()`.
"""

from __future__ import annotations

import difflib
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from syncer.errors import InputError
from syncer.hubspot.search import FILTERS_PER_GROUP
from syncer.talk import closest, did_you_mean
from syncer.portals import HUB_ID, SANDBOX


MAX_WHERE = FILTERS_PER_GROUP - 2  # less sync's hs_lastmodifieddate one and the one that pages past 10,000


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ColumnSpec(_Strict):
    """How one sheet column maps to one property. A bare string in YAML means `{property: ...}`."""

    property: str = Field(description="Internal name of the HubSpot property.")
    values: dict[str, str] = Field(
        default_factory=dict,
        description="Enumerations: sheet text → option value, for texts that are neither an option's label nor its value. Matched without regard to case.")
    options: Literal["label", "value"] = Field(
        "label", description="Enumerations: write option labels or option values into the sheet (export, sync). Reading accepts both.")
    format: str | None = Field(
        None, description='Dates and datetimes: strptime format of text cells, e.g. "%d/%m/%Y". ISO 8601 by default; Excel date cells need none.')
    timezone: str | None = Field(
        None, description='Datetimes: IANA zone of values without an offset, e.g. "Europe/Paris". UTC by default.')
    separator: str = Field(";", min_length=1, description="Multi-select (checkbox) enumerations: separator between values in a cell.")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, zone: str | None) -> str | None:
        if zone is not None:
            from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

            try:
                ZoneInfo(zone)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(f'unknown time zone "{zone}"; use an IANA name such as "Europe/Paris"') from None
        return zone


class AssociationSpec(_Strict):
    """A column whose text finds a record of another object, to associate each row's record with."""

    column: str = Field(description="Sheet column holding the other record's key, e.g. an email.")
    to: str = Field(description="The other object: contacts, companies, a custom object name or objectTypeId.")
    match: str = Field(description="Unique property of the other object that the column's text is matched against.")
    label: str | None = Field(None, description="Association label (its name); HubSpot's default association if absent.")


class SyncSettings(_Strict):
    mode: Literal["upsert", "update", "create", "mirror"] = Field(
        "upsert", description="mirror also archives records missing from the sheet.")
    blank_cells: Literal["keep", "clear"] = Field(
        "keep", description="keep: a blank cell leaves the HubSpot value alone; clear: it clears it.")
    max_archive_fraction: float = Field(
        0.1, ge=0, le=1, description="mirror refuses to archive more than this share of records without --allow-mass-archive.")
    max_daily_share: float = Field(
        0.1, ge=0, le=1, description="push and apply ask again (refuse without a terminal unless --accept-cost) "
        "before a run that would use more than this share of the portal's daily API allowance.")


class MappingFile(_Strict):
    """The YAML mapping file, as written by a person."""

    portal: str | None = Field(
        None, description="The portal this mapping belongs to: its hub id (e.g. 12345678), or sandbox for the "
        "embedded sandbox portal. Every command refuses another portal (exit 3). `syncer init` writes it.")
    object: str = Field(description="Object name, fully qualified name or objectTypeId (e.g. 2-3465404).")
    id_property: str = Field(description="A unique property (hasUniqueValue) matching rows to records.")
    source: str | None = Field(None, description="The sheet (csv, xlsx, xlsm), relative to the mapping file.")
    sheet: str | int | None = Field(None, description="xlsx only: sheet name or 0-based position; the first sheet by default.")
    header_row: int = Field(1, ge=1, description="Row holding the column names; rows above it are ignored.")
    columns: dict[str, ColumnSpec] = Field(description="Sheet column → property name, or → {property, ...options}.")
    associations: list[AssociationSpec] = Field(default_factory=list)
    where: list[str] = Field(
        default_factory=list, json_schema_extra={"maxItems": MAX_WHERE},
        description='The records this sheet holds: conditions in `export --where` syntax, AND-ed, e.g. '
        '["year >= 2020", "color in red,blue"]. export writes only matching records (with any --where); sync '
        f"appends only new records that match. At most {MAX_WHERE} (HubSpot's search takes 6 filters per group; "
        "sync adds its own two).")
    sync: SyncSettings = Field(default_factory=SyncSettings)

    @field_validator("columns", mode="before")
    @classmethod
    def _shorthand(cls, columns: Any) -> Any:
        if isinstance(columns, dict):
            return {str(k): ({"property": v} if isinstance(v, str) else v) for k, v in columns.items()}
        return columns

    @field_validator("portal", mode="before")
    @classmethod
    def _hub_id_or_sandbox(cls, portal: Any) -> Any:
        text = str(portal).strip() if isinstance(portal, (int, str)) and not isinstance(portal, bool) else None
        if portal is not None and not (text == SANDBOX or (text and HUB_ID.fullmatch(text))):
            raise ValueError(f"{portal!r} is not a portal: give its hub id (digits, as `syncer info` shows it) "
                             f"or {SANDBOX}")
        return text

    @field_validator("where")
    @classmethod
    def _few_conditions(cls, where: list[str]) -> list[str]:
        if len(where) > MAX_WHERE:
            raise ValueError(f"at most {MAX_WHERE} conditions (HubSpot's search takes 6 filters per group and "
                             f"sync uses two), not {len(where)}; join conditions on one property, e.g. "
                             '"year between 2020 2024" for "year >= 2020" and "year <= 2024"')
        return where

    @model_validator(mode="after")
    def _one_column_per_property(self) -> MappingFile:
        seen: dict[str, str] = {}
        for column, spec in self.columns.items():
            if spec.property in seen:
                raise ValueError(f'columns "{seen[spec.property]}" and "{column}" both map to property "{spec.property}"')
            seen[spec.property] = column
        return self


class Mapping(MappingFile):
    """A loaded mapping: the file's content plus where it came from."""

    source: Path | None = None  # resolved relative to the mapping file
    path: Path = Field(exclude=True)
    digest: str = Field(exclude=True, description="sha256 of the file's bytes")

    @property
    def id_column(self) -> str | None:
        """The sheet column that maps to the id property."""
        return next((c for c, s in self.columns.items() if s.property == self.id_property), None)


def json_schema() -> dict:
    """JSON Schema of the mapping file, for editors (yaml-language-server) to complete and check."""
    schema = MappingFile.model_json_schema()
    column = schema["properties"]["columns"]
    column["additionalProperties"] = {"anyOf": [{"type": "string"}, {"$ref": "#/$defs/ColumnSpec"}]}
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "syncer mapping"
    return schema


# --- loading -----------------------------------------------------------------------------------


MAX_MAPPING_BYTES = 1 << 20  # a mapping is a few KB: this bounds the work any file can ask for
MAX_DEPTH = 32  # of nested YAML collections; a mapping needs 4
MAX_VALUES = 100_000  # YAML values once aliases (*name) are expanded; a mapping holds a few hundred
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's parser when PyYAML has it: 10× faster


def load(path: str | Path) -> Mapping:
    """Read and validate a mapping file. Raises InputError listing every problem at once.

    Hostile files are refused before they cost time: more than MAX_MAPPING_BYTES, collections
    nested deeper than MAX_DEPTH, aliases that expand to more than MAX_VALUES values (a "billion
    laughs"), or an alias inside the collection it names.
    """
    path = Path(path)
    data = _read(path)
    text = _decode(path, data)
    tree, raw = _parse_yaml(path, text)
    try:
        spec = MappingFile.model_validate(raw)
    except ValidationError as exc:
        raise InputError(_validation_message(path, tree, exc)) from None
    fields = spec.model_dump()
    if spec.source:
        fields["source"] = (path.resolve().parent / spec.source).resolve()
    return Mapping(**fields, path=path.resolve(), digest=hashlib.sha256(data).hexdigest())


def _read(path: Path) -> bytes:
    """The file's bytes, reading no more than one byte past MAX_MAPPING_BYTES."""
    try:
        with path.open("rb") as f:
            data = f.read(MAX_MAPPING_BYTES + 1)
        if len(data) <= MAX_MAPPING_BYTES:
            return data
        size = max(path.stat().st_size, len(data))  # a device or a pipe has no size to stat
    except OSError as exc:
        raise InputError(f"{path}: cannot read the mapping ({exc.strerror or exc})") from None
    said = f"{size:,} bytes" if size > len(data) else f"more than {MAX_MAPPING_BYTES:,} bytes"
    raise InputError(f"{path}: {said} is too large for a mapping, which holds at most {MAX_MAPPING_BYTES:,} "
                     "bytes (1 MiB; a mapping is a few KB): is this the right file?")


def _decode(path: Path, data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputError(f"{path}: the mapping is not UTF-8 text") from None


def _parse_yaml(path: Path, text: str) -> tuple[yaml.Node | None, Any]:
    """The YAML's node tree (for the line numbers of messages) and its values, parsed once."""
    try:
        _check_shape(path, text)
        loader = _Loader(text)
        try:
            tree = loader.get_single_node()
            raw = loader.construct_document(tree) if tree is not None else None
        finally:
            loader.dispose()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f", line {mark.line + 1}" if mark else ""
        problem = str(getattr(exc, "problem", None) or exc)
        if "nesting depth" in problem:  # libyaml's own limit, met before _check_shape's in some builds
            raise InputError(f"{path}{where}: nested more than {MAX_DEPTH} levels deep; a mapping needs 4") from None
        raise InputError(f"{path}{where}: not valid YAML: {problem}") from None
    except ValueError as exc:  # a value YAML's types cannot hold: a date 2024-13-45, an int of 5,000 digits
        raise InputError(f"{path}: not valid YAML: {str(exc).split(';')[0]}") from None
    if not isinstance(raw, dict):
        raise InputError(f"{path}: the mapping must be a YAML mapping with keys object, id_property, columns")
    return tree, raw


def _check_shape(path: Path, text: str) -> None:
    """Refuse YAML whose nesting or aliases would make composing or validating it costly, from the
    parser's event stream alone (which builds nothing and keeps no stack of Python calls)."""
    sizes: list[int] = [0]  # values so far in each open collection, the stream's first
    opened: list[str | None] = [None]  # the anchor of each open collection
    anchored: dict[str, int] = {}  # anchor → values it stands for
    total = 0
    for event in yaml.parse(text, Loader=_Loader):
        if isinstance(event, yaml.AliasEvent):
            if event.anchor in opened:
                raise InputError(f"{_at(path, event)}: the alias *{event.anchor} is inside the value it names")
            grown = anchored.get(event.anchor, 1)
        elif isinstance(event, (yaml.ScalarEvent, yaml.CollectionStartEvent)):
            grown = 1
        else:
            grown = 0
        total += grown
        if total > MAX_VALUES:
            raise InputError(f"{_at(path, event)}: the mapping holds more than {MAX_VALUES:,} values once its "
                             "aliases (*name) are expanded; a mapping holds a few hundred")
        if isinstance(event, yaml.CollectionStartEvent):
            if len(sizes) > MAX_DEPTH:
                raise InputError(f"{_at(path, event)}: nested more than {MAX_DEPTH} levels deep; a mapping needs 4")
            sizes.append(1)
            opened.append(event.anchor)
        elif isinstance(event, yaml.CollectionEndEvent):
            size, anchor = sizes.pop(), opened.pop()
            sizes[-1] += size
            if anchor:
                anchored[anchor] = size
        else:
            sizes[-1] += grown
            if isinstance(event, yaml.ScalarEvent) and event.anchor:
                anchored[event.anchor] = 1


def _at(path: Path, event: yaml.Event) -> str:
    return f"{path}, line {event.start_mark.line + 1}" if event.start_mark else str(path)


def _validation_message(path: Path, tree: yaml.Node | None, exc: ValidationError) -> str:
    lines = [f"{path}: {exc.error_count()} problem{'s' if exc.error_count() > 1 else ''} in the mapping"]
    for error in exc.errors():
        loc = [p for p in error["loc"] if not (isinstance(p, str) and p in {"str", "int", "ColumnSpec", "function-after[_known_zone(), str]"})]
        lines.append("  " + _one_problem(path, tree, loc, error))
    return "\n".join(lines)


def _one_problem(path: Path, tree, loc: list, error: dict) -> str:
    key = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".") or "(top level)"
    node = _node_at(tree, loc)
    line = f", line {node.start_mark.line + 1}" if node is not None else ""
    kind, message = error["type"], error["msg"].removeprefix("Value error, ")
    if kind == "extra_forbidden":
        message = f'unknown key "{loc[-1]}"' + did_you_mean(str(loc[-1]), _valid_keys(loc[:-1]))
    elif kind == "missing":
        message = "required key is missing"
    return f"{path.name}{line}: {key}: {message}"


def _valid_keys(parent: list) -> list[str]:
    model: type[BaseModel] = MappingFile
    for part in parent:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(str(part))
        if field is None:  # a column name: its value is a ColumnSpec
            model = ColumnSpec
            continue
        target = {"sync": SyncSettings, "associations": AssociationSpec, "columns": ColumnSpec}.get(str(part))
        if target is None:
            break
        model = target
    return list(model.model_fields)


def _node_at(tree, loc: list):
    """The YAML node at a pydantic error location (the key's node for unknown keys), or None."""
    node = tree
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            match = next(((k, v) for k, v in node.value if k.value == str(part)), None)
            if match is None:
                return node
            node = match[1] if part != loc[-1] else match[0]
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
        else:
            return node
    return node


# --- checking against the portal and the sheet --------------------------------------------------


@dataclass(frozen=True)
class MappingProblem:
    """One way a mapping does not fit the portal or the sheet. `key` is the mapping key at fault."""

    path: Path
    key: str
    message: str

    def __str__(self) -> str:
        return f"{self.path.name}: {self.key}: {self.message}"


def check(m: Mapping, properties: list[dict], header: list[str] | None = None) -> list[MappingProblem]:
    """Every problem of `m` against the portal's property definitions and, if given, the sheet header."""
    by_name = {p["name"]: p for p in properties}
    problems = _id_problems(m, by_name)
    for column, spec in m.columns.items():
        problems += _column_problems(m, column, spec, by_name, properties)
    if header is not None:
        problems += _header_problems(m, header)
    return problems


def _problem(m: Mapping, key: str, message: str) -> MappingProblem:
    return MappingProblem(m.path, key, message)


def _id_problems(m: Mapping, by_name: dict[str, dict]) -> list[MappingProblem]:
    prop = by_name.get(m.id_property)
    if prop is None:
        return [_problem(m, "id_property", _no_property(m, m.id_property, by_name.values()))]
    problems = []
    if not is_unique(prop, m.object):
        unique = [p["name"] for p in by_name.values() if is_unique(p, m.object) and not _read_only(p)]
        hint = f"; unique properties: {', '.join(unique)}" if unique else ""
        problems.append(_problem(m, "id_property", f'"{m.id_property}" is not a unique property (hasUniqueValue){hint}'))
    if m.id_column is None:
        problems.append(_problem(m, "columns", f'no column maps to the id property "{m.id_property}"'))
    return problems


def is_unique(prop: dict, object_type: str = "") -> bool:
    """Whether a property can be an idProperty: hasUniqueValue, or a contact's email."""
    return bool(prop.get("hasUniqueValue")) or (prop["name"] == "email" and object_type in {"contacts", "contact", "0-1"})


def _read_only(prop: dict) -> bool:
    return bool((prop.get("modificationMetadata") or {}).get("readOnlyValue")) or bool(prop.get("calculated"))


def _no_property(m: Mapping, name: str, properties) -> str:
    properties = list(properties)
    by_label = {p.get("label", ""): p["name"] for p in properties}
    suggestion = closest(name, [p["name"] for p in properties])
    label = closest(name, by_label, cutoff=0.8)
    if suggestion is None and label is not None:
        suggestion = by_label[label]
    hint = f'; did you mean "{suggestion}"?' if suggestion else ""
    return f'object "{m.object}" has no property "{name}"{hint}'


def _column_problems(m: Mapping, column: str, spec: ColumnSpec, by_name, properties) -> list[MappingProblem]:
    key = f"columns.{column}"
    prop = by_name.get(spec.property)
    if prop is None:
        return [_problem(m, key, _no_property(m, spec.property, properties))]
    problems = []
    if _read_only(prop):
        writable = [p["name"] for p in properties if not _read_only(p)]
        problems.append(_problem(m, key, f'property "{spec.property}" is read-only in HubSpot'
                                 + did_you_mean(spec.property, writable).replace("; did", "; writable and close: did")))
    option_values = [o["value"] for o in prop.get("options") or []]
    for text, value in spec.values.items():
        if value not in option_values:
            problems.append(_problem(m, f"{key}.values.{text}", f'"{value}" is not an option of "{spec.property}"'
                                     + did_you_mean(value, option_values) + f"; options: {', '.join(option_values) or '(none)'}"))
    if spec.values and prop.get("type") != "enumeration":
        problems.append(_problem(m, f"{key}.values", f'"{spec.property}" is a {prop.get("type")} property, not an enumeration'))
    return problems


def _header_problems(m: Mapping, header: list[str]) -> list[MappingProblem]:
    problems = []
    lowered = [h.lower() for h in header]
    for dup in sorted({h for h in header if lowered.count(h.lower()) > 1}):
        problems.append(_problem(m, "source", f'the sheet has more than one column named "{dup}"'))
    wanted = [(f"columns.{c}", c) for c in m.columns] + [(f"associations[{i}].column", a.column) for i, a in enumerate(m.associations)]
    for key, column in wanted:
        if column not in header:
            problems.append(_problem(m, key, f'the sheet has no column "{column}"' + did_you_mean(column, header)))
    return problems


# --- drafting a mapping -------------------------------------------------------------------------


@dataclass(frozen=True)
class Draft:
    """A first mapping for a sheet: its YAML text, the matches made and the columns left out."""

    text: str
    columns: dict[str, str]
    unmatched: list[str]
    portal: str | None = None


def draft(header: list[str], properties: list[dict], *, object_type: str, id_property: str | None = None,
          source: str | None = None, sheet: str | None = None, header_row: int = 1, portal: str | None = None) -> Draft:
    """Match each header to a writable property: exact name, then case-insensitive name or label,
    then the closest name or label. Each property is used once. `header_row` is written when not 1;
    `portal` (a hub id, or sandbox) pins the mapping to the portal it was drafted against."""
    writable = [p for p in properties if not _read_only(p)]
    matches: dict[str, str] = {}
    for matcher in (_exact, _case_insensitive, _nearest):
        for column in header:
            if column in matches:
                continue
            free = [p for p in writable if p["name"] not in matches.values()]
            found = matcher(column, free)
            if found:
                matches[column] = found
    ordered = {c: matches[c] for c in header if c in matches}
    id_property = id_property or _pick_id(ordered.values(), properties, object_type)
    text = _draft_yaml(object_type, id_property, source, sheet, ordered, header_row, portal)
    return Draft(text=text, columns=ordered, unmatched=[c for c in header if c not in ordered], portal=portal)


def _exact(column: str, props: list[dict]) -> str | None:
    return next((p["name"] for p in props if p["name"] == column), None)


def _case_insensitive(column: str, props: list[dict]) -> str | None:
    want = _simplify(column)
    return next((p["name"] for p in props if want in {_simplify(p["name"]), _simplify(p.get("label", ""))}), None)


def _simplify(text: str) -> str:
    return "".join(ch for ch in str(text).lower() if ch.isalnum())


def _nearest(column: str, props: list[dict]) -> str | None:
    names = {_simplify(p["name"]): p["name"] for p in props}
    names.update({_simplify(p.get("label", "")): p["name"] for p in props if p.get("label")})
    found = difflib.get_close_matches(_simplify(column), list(names), n=1, cutoff=0.75)
    return names[found[0]] if found else None


def _pick_id(mapped, properties: list[dict], object_type: str) -> str:
    mapped = list(mapped)
    unique = [p["name"] for p in properties if is_unique(p, object_type) and not _read_only(p)]
    return next((n for n in mapped if n in unique), unique[0] if unique else "hs_object_id")


def _draft_yaml(object_type, id_property, source, sheet, columns: dict[str, str], header_row: int = 1,
                portal: str | None = None) -> str:
    doc: dict[str, Any] = {"portal": int(portal) if HUB_ID.fullmatch(portal) else portal} if portal else {}
    doc.update({"object": object_type, "id_property": id_property})
    if source:
        doc["source"] = source
    if sheet:
        doc["sheet"] = sheet
    if header_row != 1:
        doc["header_row"] = header_row
    doc["columns"] = columns
    header = "# yaml-language-server: $schema=mapping.schema.json\n# Written by `syncer init`; check the matches.\n"
    return header + yaml.safe_dump(doc, sort_keys=False, allow_unicode=True)
