"""Issue #11's round trips, shared by tests/test_roundtrip.py (few examples, in CI) and
benchmarks/roundtrip_soak.py (many): what syncer writes into a sheet reads back exactly, and a
sync with no edits writes nothing.

Everything runs against a sandbox portal over HTTP and through the CLI, as a person runs it: a
custom object made through the schemas API (POST /crm/v3/schemas) with one property per type,
option labels that collide with other options' values and a separator inside a label; records
seeded in HubSpot's stored forms; sheets in every format syncer reads and writes (CSV in four
encodings and three delimiters, xlsx).

The checks, one function each, take a portal, a folder, a format and a batch of records:

- `check_export_plans_nothing`   (a) an unchanged export plans nothing;
- `check_sync_writes_nothing`    (b) a sync with no edits writes nothing (the sheet's bytes too);
- `check_write_back_plans_nothing` (c) `push --write-back`, then a plan: nothing to do;

and each ends with (d): HubSpot's values are as seeded. Where the format cannot hold a value
(cp1252 lacks the character, an xlsx cell holds 32,767 characters) the rule is different: syncer
names the record and the column before writing, and never plans a change from that cell.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import itertools
import json
import traceback
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import openpyxl
import requests
import yaml
from click.testing import CliRunner
from hypothesis import strategies as st

from syncer.cli import cli
from syncer.hubspot import HubSpotClient

XLSX_MAX_CELL = 32_767  # Excel's limit on the characters of one cell
HUBSPOT_MAX_TEXT = 65_536

# --- the object: one property per type --------------------------------------------------------

# Labels that are other options' values ("1" → value "2" while value "1" exists; "blue" → "navy"
# while "blue" exists) and a label holding the multi-select's separator.
CHOICE_OPTIONS = (("One", "1"), ("1", "2"), ("2", "3"), ("Dark blue", "blue"), ("blue", "navy"),
                  ("Bug; urgent", "bug_urgent"))
TAG_OPTIONS = (("Bug; urgent", "bug_urgent"), ("Feature", "feature"), ("One", "1"), ("1", "2"),
               ("a,b", "a_b"), ("x;y", "xy"))
BOOL_OPTIONS = (("True", "true"), ("False", "false"))


@dataclass(frozen=True)
class Prop:
    column: str
    name: str
    type: str
    field_type: str
    options: tuple = ()
    spec: tuple = ()  # extra mapping keys, (key, value) pairs: timezone, separator
    unique: bool = False

    def definition(self) -> dict:
        found = {"name": self.name, "label": self.column, "type": self.type, "fieldType": self.field_type,
                 "hasUniqueValue": self.unique}
        if self.options:
            found["options"] = [{"label": label, "value": value} for label, value in self.options]
        return found

    def mapped(self):
        return {"property": self.name, **dict(self.spec)} if self.spec else self.name


PROPS = (
    Prop("Key", "key", "string", "text", unique=True),
    Prop("Title", "title", "string", "text"),
    Prop("Notes", "notes", "string", "textarea"),
    Prop("Phone", "phone", "string", "phonenumber"),
    # "€": a cp1252 sheet of this header is told from UTF-8 by its bytes (an ASCII file is both)
    Prop("Amount (€)", "amount", "number", "number"),
    Prop("Day", "day", "date", "date"),
    Prop("Moment", "moment", "datetime", "date"),
    Prop("Paris time", "at_paris", "datetime", "date", spec=(("timezone", "Europe/Paris"),)),
    Prop("New York time", "at_new_york", "datetime", "date", spec=(("timezone", "America/New_York"),)),
    Prop("Sydney time", "at_sydney", "datetime", "date", spec=(("timezone", "Australia/Sydney"),)),
    Prop("Flag", "flag", "bool", "booleancheckbox", BOOL_OPTIONS),
    Prop("Choice", "choice", "enumeration", "select", CHOICE_OPTIONS),
    Prop("Tags", "tags", "enumeration", "checkbox", TAG_OPTIONS, spec=(("separator", ";"),)),
)
BY_NAME = {p.name: p for p in PROPS}
COLUMNS = [p.column for p in PROPS]
TEXT = {"key", "title", "notes", "phone"}  # written as text: what an encoding or a cell may not hold
ZONES = {"at_paris": "Europe/Paris", "at_new_york": "America/New_York", "at_sydney": "Australia/Sydney"}


# --- formats -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Format:
    id: str
    suffix: str
    encoding: str | None = None
    delimiter: str | None = None

    @property
    def xlsx(self) -> bool:
        return self.suffix == ".xlsx"

    def holds(self, text: str) -> bool:
        """Whether a cell of this format can hold `text` as syncer writes it (stripped)."""
        text = text.strip()
        if self.xlsx:
            return len(text) <= XLSX_MAX_CELL
        try:
            text.encode(self.encoding)
        except UnicodeEncodeError:
            return False
        return True

    def __str__(self) -> str:
        return self.id


DELIMITERS = (("comma", ","), ("semicolon", ";"), ("tab", "\t"))
ENCODINGS = ("utf-8", "utf-8-sig", "cp1252", "utf-16")
FORMATS = [Format(f"csv-{encoding}-{name}", ".csv", encoding, delimiter)
           for encoding in ENCODINGS for name, delimiter in DELIMITERS] + [Format("xlsx", ".xlsx")]
FORMAT = {f.id: f for f in FORMATS}
EXPORTED_CSV = FORMAT["csv-utf-8-comma"]  # what `syncer export -o x.csv` writes


# --- values: HubSpot's stored forms ------------------------------------------------------------


@dataclass(frozen=True)
class Long:
    """A long text, kept short in hypothesis' reports: `length` characters repeating `unit`."""

    length: int
    unit: str = "Lorem ipsum ✈ dolor. "

    def text(self) -> str:
        return (self.unit * (self.length // len(self.unit) + 1))[: self.length]

    def __repr__(self) -> str:
        return f"Long({self.length}, {self.unit!r})"


def materialize(value):
    return value.text() if isinstance(value, Long) else value


FORMULA_STARTS = ("", "", "", "'", "=", "@", "-", "+", "''", "=-", "+=")
TRICKY_TEXT = (
    "@dealer_shop", "=1+1", "-5 degrees", "+33 (0)1 23 45", "'quoted", "'", "''", "=", "@", "-", "+",
    "  padded both  ", " leading", "trailing ", "\tTabbed\t", "✈ Paris → 東京", "Café crème €5",
    "line one\rline two", "a\r\nb", "one\ntwo\n\nthree", "_x000D_", "_x0041_ (an OOXML escape)",
    '"quoted" text', "semi;colon", "comma, here", "tab\there", "null", "NaN", "N/A", "#N/A", "TRUE",
    "1.0", "0001", "1e5", "-0", "2026-01-15", "Straße", "Zoë “smart” quotes…", "🚗 car", "a\u00a0b",
    "\u200bzero width", "مرحبا", "e\u0301 combining",
)
CP1252_SAFE = st.characters(codec="cp1252", exclude_categories=("Cs", "Cc"))
ANY_CHARACTER = st.one_of(st.characters(exclude_categories=("Cs", "Cc")), st.sampled_from("\n\r\t ✈東京€é"))


def text_values(first: str = TRICKY_TEXT[0], max_size: int = 40) -> st.SearchStrategy:
    """The tricky cases by name (`first` first), and text as a person types it (every script,
    spaces around, a formula-like start)."""
    body = st.one_of(st.text(CP1252_SAFE, max_size=max_size), st.text(ANY_CHARACTER, max_size=max_size))
    typed = st.builds(lambda start, middle, end: start + middle + end, st.sampled_from(FORMULA_STARTS), body,
                      st.sampled_from(("", "", " ", "  ")))
    at = TRICKY_TEXT.index(first)
    return st.one_of(st.sampled_from(TRICKY_TEXT[at:] + TRICKY_TEXT[:at]), typed)


LONG_TEXT = st.builds(Long, st.sampled_from((XLSX_MAX_CELL, XLSX_MAX_CELL + 1, 40_000, 50_000, HUBSPOT_MAX_TEXT)),
                      st.sampled_from(("Lorem ipsum dolor. ", "Lorem ipsum ✈ dolor. ", "x", "line\r\nbreak ")))
PHONES = st.one_of(
    st.sampled_from(("+44 20 7946 0958", "-5", "+1 (555) 010-9999", "=1+1", "'+44 20", "0049 30 901820",
                     "+33 6 12 34 56 78 ext. 5", "(0)20 7946", "+", "00000", "+44 20 7946 0958 ✆")),
    st.builds(lambda start, digits: start + digits, st.sampled_from(("+", "00", "-", "", "=")),
              st.text("0123456789 ()-", min_size=1, max_size=16)))


def _decimal_text(value: Decimal) -> str:
    return "0" if value == 0 else format(value.normalize(), "f")


NUMBERS = st.one_of(
    st.sampled_from(("-26.123456789012345", "1e-20", "12345678901234567890.5", "12345678901234567890",
                     "99999999999999999999", "-0.000001", "0.1", "0", "52000", "1.5", "-1", "9007199254740993",
                     "123456789.123456789")),
    st.integers(-(10**20), 10**20).map(str),
    st.builds(lambda digits, scale: Decimal(digits).scaleb(-scale), st.integers(-(10**20), 10**20),
              st.integers(0, 25)).map(_decimal_text),
    st.floats(-1e300, 1e300, allow_nan=False, allow_subnormal=False).filter(lambda f: f == 0 or abs(f) > 1e-300)
    .map(lambda f: _decimal_text(Decimal(repr(f)))),
)
DATES = st.one_of(
    st.sampled_from(("1850-03-01", "1600-01-01", "1899-12-30", "1899-12-31", "1900-01-01", "1900-02-28",
                     "1900-03-01", "1970-01-01", "2026-01-15", "9999-12-31")),
    st.dates(dt.date(1600, 1, 1), dt.date(9999, 12, 31)).map(dt.date.isoformat))


def _iso_ms(moment: dt.datetime) -> str:
    moment = moment.astimezone(dt.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def dst_changes(zone: str, years=range(2025, 2028)) -> list[dt.datetime]:
    """The UTC instants where `zone`'s offset changes in `years`, those that repeat an hour first."""
    tz = ZoneInfo(zone)
    start = dt.datetime(years[0], 1, 1, tzinfo=dt.timezone.utc)
    hours = int((dt.datetime(years[-1] + 1, 1, 1, tzinfo=dt.timezone.utc) - start).total_seconds() // 3600)
    back, forward, before = [], [], start.astimezone(tz).utcoffset()
    for hour in range(1, hours):
        moment = start + dt.timedelta(hours=hour)
        offset = moment.astimezone(tz).utcoffset()
        if offset != before:
            (back if offset < before else forward).append(moment)
            before = offset
    return back + forward


CHANGES = {name: dst_changes(zone) for name, zone in ZONES.items()}
ANY_MOMENT = st.datetimes(dt.datetime(1600, 1, 1), dt.datetime(9999, 12, 31, 23, 59, 59, 999000)).map(
    lambda d: _iso_ms(d.replace(tzinfo=dt.timezone.utc)))


def moments(name: str | None = None) -> st.SearchStrategy:
    """ISO instants with milliseconds, 1600–9999; for a zoned property, mostly within three hours
    of its DST changes (the repeated hour and the skipped one included)."""
    if name is None:
        return st.one_of(st.sampled_from(("1899-12-30T00:00:00.000Z", "1600-01-01T00:00:00.000Z",
                                          "1970-01-01T00:00:00.000Z", "9999-12-31T23:59:59.999Z")), ANY_MOMENT)
    # 30 minutes after a change that repeats an hour first: the second of two equal wall times
    minutes = st.one_of(st.sampled_from((30, -30)), st.integers(-180, 180).map(lambda m: m - m % 15))
    near = st.builds(lambda change, minutes_, ms: _iso_ms(change + dt.timedelta(minutes=minutes_, milliseconds=ms)),
                     st.sampled_from(CHANGES[name]), minutes, st.sampled_from((0, 0, 0, 1, 500, 999)))
    return st.one_of(near, near, ANY_MOMENT)


def tag_values() -> st.SearchStrategy:
    values = [value for _, value in TAG_OPTIONS]
    return st.lists(st.sampled_from(values), min_size=1, max_size=4, unique=True).map(";".join)


def value_strategies(long_text: bool = True) -> dict[str, st.SearchStrategy]:
    notes = text_values(first="line one\rline two")
    return {
        "title": text_values(), "notes": st.one_of(notes, LONG_TEXT) if long_text else notes, "phone": PHONES,
        "amount": NUMBERS, "day": DATES, "moment": moments(),
        **{name: moments(name) for name in ZONES},
        "flag": st.sampled_from(("false", "true")),
        "choice": st.sampled_from(["2", *(value for _, value in CHOICE_OPTIONS if value != "2")]),  # label "1"
        "tags": tag_values(),
    }


KEY_STARTS = ("=", "", "", "@", "-", "+", "'", "=-")
KEY_ENDS = ("", "", "ABC", "é", "東京", "✈", " x")


def batches(min_size: int = 2, max_size: int = 6, long_text: bool = True) -> st.SearchStrategy:
    """Lists of records ({property: stored value or None}) with distinct keys.

    Hypothesis tries the simplest example first; here that is a batch of the issue's cases (a key
    "=K00", "@dealer_shop", a bare CR, -26.123456789012345, 1850-03-01, the repeated hour in each
    zone, option "2" labelled "1", "Bug; urgent"), so a run of two examples tries them and one random batch."""
    values = value_strategies(long_text)
    record = st.fixed_dictionaries({name: st.one_of(strategy, strategy, strategy, st.none())
                                    for name, strategy in values.items()})
    keyed = st.tuples(st.sampled_from(KEY_STARTS), st.sampled_from(KEY_ENDS), record)
    return st.lists(keyed, min_size=min_size, max_size=max_size).map(
        lambda rows: [{"key": f"{start}K{i:02d}{end}", **values_} for i, (start, end, values_) in enumerate(rows)])


# --- the portal ----------------------------------------------------------------------------------


WRITE_ENDINGS = ("/batch/create", "/batch/update", "/batch/upsert", "/batch/archive")
_NUMBERS = itertools.count(1)


class Portal:
    """A sandbox portal, a client on it, and the CLI pointed at it."""

    def __init__(self, sandbox) -> None:
        self.sandbox = sandbox
        self.client = HubSpotClient(sandbox.base_url, sandbox.token, backoff_base=0.02, max_retry_time=30)

    def close(self) -> None:
        self.client.close()

    def new_object(self) -> tuple[str, str]:
        """A custom object with one property per type, made as on HubSpot: (objectTypeId, its
        fully qualified name)."""
        name = f"roundtrip_{next(_NUMBERS)}"
        body = {"name": name, "labels": {"singular": "Round trip", "plural": "Round trips"},
                "primaryDisplayProperty": "key", "searchableProperties": ["key", "title"],
                "properties": [p.definition() for p in PROPS]}
        answer = requests.post(f"{self.sandbox.base_url}/crm/v3/schemas", json=body, timeout=30,
                               headers={"Authorization": f"Bearer {self.sandbox.token}"})
        assert answer.status_code == 201, answer.text
        return answer.json()["objectTypeId"], answer.json()["fullyQualifiedName"]

    def seed(self, object_type: str, batch: list[dict]) -> None:
        inputs = [{"properties": {k: materialize(v) for k, v in record.items() if v is not None}} for record in batch]
        outcomes = self.client.batch_create(object_type, inputs)
        failed = [f"{show(batch[o.index]['key'])}: {o.error}" for o in outcomes if not o.ok]
        assert not failed, "the sandbox refused seeded records: " + "; ".join(failed)

    def stored(self, object_type: str) -> dict[str, tuple[str, dict]]:
        """Key → (record id, {property: value as HubSpot returns it})."""
        names = [p.name for p in PROPS]
        return {r.properties.get("key"): (r.id, {n: r.properties.get(n) for n in names})
                for r in self.client.list_records(object_type, properties=names)}

    def cli(self, *args) -> Run:
        self.sandbox.clear_log()
        result = CliRunner().invoke(cli, [*map(str, args), "--base-url", self.sandbox.base_url,
                                          "--token", self.sandbox.token])
        crashed = None
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            crashed = crash_summary(result.exception)
        writes = [e for e in self.sandbox.request_log if is_write(e)]
        return Run(" ".join(map(str, args[:1])), result.exit_code, result.output, result.stdout, result.stderr, crashed,
                   writes)


def crash_summary(error: BaseException) -> str:
    """The exception and the innermost frames of syncer it passed through."""
    frames = [f for f in traceback.extract_tb(error.__traceback__) if "/syncer/" in f.filename][-3:]
    where = " ← ".join(f"{f.filename.split('/syncer/')[-1]}:{f.lineno} {f.name}" for f in reversed(frames))
    return f"{type(error).__name__}: {clip(str(error), 300)} (at {where})"


def is_write(entry) -> bool:
    if entry.method in ("PATCH", "PUT", "DELETE"):
        return True
    if entry.method != "POST" or entry.path.endswith(("/search", "/batch/read")):
        return False
    return entry.path.endswith(WRITE_ENDINGS) or entry.path.rstrip("/").count("/") == 4  # POST /crm/v3/objects/T


@dataclass
class Run:
    """One CLI run: its exit code, output (stdout and stderr), the traceback if it crashed, and the
    write requests the portal received meanwhile."""

    command: str
    exit_code: int
    output: str  # stdout and stderr
    stdout: str
    stderr: str  # with --json, the human text alone
    crashed: str | None
    writes: list = field(default_factory=list)

    def document(self) -> dict:
        try:
            return json.loads(self.stdout)
        except ValueError:
            return {}

    def problems(self, step: str, *, exit_codes=(0,)) -> list[str]:
        found = []
        if self.crashed:
            found.append(f"{step}: `syncer {self.command}` crashed with a traceback: {self.crashed}")
        elif self.exit_code not in exit_codes:
            found.append(f"{step}: `syncer {self.command}` exited {self.exit_code} (expected {exit_codes}): "
                         f"{clip(self.stderr.strip() or self.output, 800)}")
        if self.writes:
            found.append(f"{step}: wrote to HubSpot: " + "; ".join(describe_write(e) for e in self.writes[:5]))
        return found


def describe_write(entry) -> str:
    what = f"{entry.method} …{entry.path[-40:]}"
    inputs = (entry.body or {}).get("inputs") if isinstance(entry.body, dict) else None
    if not inputs:
        return what
    shown = []
    for item in inputs[:4]:
        props = item.get("properties") or {}
        shown.append(f"{show(item.get('id'))} {{" + ", ".join(f"{k}: {show(v)}" for k, v in props.items()) + "}")
    return f"{what} [{'; '.join(shown)}{' …' if len(inputs) > 4 else ''}]"


# --- one example -------------------------------------------------------------------------------


@dataclass
class Case:
    """One example: a fresh object holding the batch, and a folder with a mapping whose source is
    `sheet` in the format."""

    portal: Portal
    fmt: Format
    folder: Path
    object_type: str
    object_name: str
    batch: list[dict]
    seeded: dict[str, tuple[str, dict]]
    mapping: Path
    sheet: Path

    @classmethod
    def make(cls, portal: Portal, folder: Path, fmt: Format, batch: list[dict], *, seed: bool = True) -> Case:
        """The object, the mapping and (unless `seed` is False, for `seed()` later) the records."""
        folder.mkdir(parents=True, exist_ok=True)
        object_type, object_name = portal.new_object()
        sheet = folder / f"sheet{fmt.suffix}"
        mapping = folder / "roundtrip.yaml"
        document = {"object": object_name, "id_property": "key", "source": sheet.name,
                    "columns": {p.column: p.mapped() for p in PROPS}}
        mapping.write_text(yaml.safe_dump(document, allow_unicode=True, sort_keys=False), encoding="utf-8")
        case = cls(portal, fmt, folder, object_type, object_name, batch, {}, mapping, sheet)
        if seed:
            case.seed()
        return case

    def seed(self) -> None:
        """Create the batch's records in HubSpot, and keep them as HubSpot returns them."""
        self.portal.seed(self.object_type, self.batch)
        self.seeded = self.portal.stored(self.object_type)

    def cli(self, *args) -> Run:
        return self.portal.cli(*args)

    def held(self, fmt: Format | None = None) -> dict[str, list[str]]:
        """Key → the columns whose values `fmt` cannot hold (see Format.holds)."""
        fmt = fmt or self.fmt
        found = {}
        for key, (_, values_) in self.seeded.items():
            columns = [BY_NAME[n].column for n in TEXT if values_.get(n) and not fmt.holds(values_[n])]
            if columns:
                found[key] = columns
        return found

    def record_id(self, key: str) -> str:
        return self.seeded[key][0]

    def said_so(self, run: Run, held: dict[str, list[str]], step: str) -> list[str]:
        """Problems unless the run's output names each held cell's record (key or record id) and
        column (or property)."""
        found = []
        if run.crashed:
            return found
        for key, columns in held.items():
            names_record = key.strip() in run.output or self.record_id(key) in run.output
            names_column = any(c in run.output or BY_NAME_BY_COLUMN[c] in run.output for c in columns)
            if not (names_record and names_column):
                missing = " and ".join(what for what, named in (
                    (f"the record (neither its key {show(key)} nor its id {self.record_id(key)})", names_record),
                    (f"the column ({' or '.join(columns)})", names_column)) if not named)
                found.append(f"{step}: {self.fmt} cannot hold {', '.join(columns)} of record {show(key)} "
                             f"({describe_values(self.seeded[key][1], columns)}); `syncer {run.command}` (exit "
                             f"{run.exit_code}) did not name {missing}: {clip(run.stderr.strip() or run.output, 600)}")
        return found

    def plan(self, step: str, expected: set[str], held: dict[str, list[str]]) -> list[str]:
        """Problems of a plan of the sheet: every row of `expected` unchanged; a row with held cells
        (key → columns) may be unchanged or an error, never a create, never an update of a held cell
        (nor of another: that is a failed round trip); no other row."""
        run = self.cli("plan", self.mapping, "--source", self.sheet, "--json")
        found = run.problems(f"{step}, plan")
        if found:
            return found
        seen = set()
        for action in run.document().get("actions", []):
            key = action.get("key")
            if key in held:
                kept = {BY_NAME_BY_COLUMN[c] for c in held[key]}
                changes = action.get("changes") or {}
                from_held = {p: c for p, c in changes.items() if p in kept}
                if action["action"] == "create" or from_held:
                    shown = action if action["action"] == "create" else {**action, "changes": from_held}
                    found.append(f"{step}, plan: {self.fmt}: planned a change from a cell the format cannot hold "
                                 f"({', '.join(held[key])}): {describe_action(shown)}")
                others = {p: c for p, c in changes.items() if p not in kept}
                if action["action"] == "update" and others:
                    found.append(f"{step}, plan: {self.fmt}: {describe_action({**action, 'changes': others})}")
                continue
            seen.add(key)
            if action["action"] != "unchanged":
                found.append(f"{step}, plan: {self.fmt}: {describe_action(action)}")
        missing = expected - seen
        if missing:
            lost = ", ".join(map(show, sorted(missing)))
            found.append(f"{step}, plan: {self.fmt}: the sheet lost the rows of {lost}")
        return found

    def hubspot_unchanged(self, step: str) -> list[str]:
        """(d): HubSpot's values as seeded, compared as HubSpot compares them (text stripped,
        multi-selects as sets)."""
        now = self.portal.stored(self.object_type)
        found = []
        for key in sorted(set(now) | set(self.seeded), key=str):
            if key not in now or key not in self.seeded:
                found.append(f"{step}: HubSpot {'lost' if key not in now else 'gained'} record {show(key)}")
                continue
            for name in BY_NAME:
                before, after = self.seeded[key][1].get(name), now[key][1].get(name)
                if canonical(name, before) != canonical(name, after):
                    found.append(f"{step}: HubSpot's {name} of {show(key)} changed: {show(before)} → {show(after)}")
        return found


BY_NAME_BY_COLUMN = {p.column: p.name for p in PROPS}


def canonical(name: str, value):
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if name in TEXT:
        return value.strip()
    if name == "tags":
        return frozenset(value.split(";"))
    return value


def show(value, limit: int = 60) -> str:
    if isinstance(value, str) and len(value) > limit:
        return f"{value[:limit]!r}… ({len(value):,} chars)"
    return repr(value)


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + f"… ({len(text):,} chars)"


def describe_values(values_: dict, columns: list[str]) -> str:
    return ", ".join(f"{c}={show(values_.get(BY_NAME_BY_COLUMN[c]), 30)}" for c in columns)


def describe_action(action: dict, seeded: dict | None = None) -> str:
    line = f"row {action.get('row')} key {show(action.get('key'))}: {action.get('action')}"
    if action.get("message"):
        line += f" ({clip(action['message'], 300)})"
    changes = action.get("changes") or {}
    if changes:
        line += "; " + "; ".join(f"{prop}: {show(c.get('before'))} → {show(c.get('after'))}"
                                 for prop, c in changes.items())
    return line


# --- sheets --------------------------------------------------------------------------------------


def write_header(path: Path, fmt: Format, columns=COLUMNS) -> None:
    """A sheet with the mapping's header and no rows, as a person starts one."""
    if fmt.xlsx:
        book = openpyxl.Workbook()
        book.active.append(list(columns))
        book.save(path)
    else:
        path.write_bytes((fmt.delimiter.join(columns) + "\n").encode(fmt.encoding))


def resave(exported: Path, target: Path, fmt: Format) -> set[str]:
    """The exported UTF-8 CSV saved again in `fmt` (encoding, delimiter, CRLF), cell for cell, as a
    spreadsheet saves it. Rows with a cell the encoding lacks are left out (a person's file cannot
    have them); returns their keys, as the exported cells show them. When no row is left, no file
    is written (a sheet of a header alone is another test's business)."""
    with open(exported, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=fmt.delimiter, lineterminator="\r\n")
    dropped = set()
    for number, row in enumerate(rows):
        if number and not all(fmt.holds(cell) for cell in row):
            dropped.add(row[0])
            continue
        writer.writerow(row)
    if len(dropped) < len(rows) - 1:
        target.write_bytes(buffer.getvalue().encode(fmt.encoding))
    return dropped


def exported_sheet(case: Case, step: str) -> tuple[list[str], set[str], dict[str, list[str]]]:
    """`syncer export` to the case's format: straight to .xlsx, or to UTF-8 CSV saved again in the
    format. Returns (problems, keys expected in the sheet, keys held for the format). An export that
    refused (naming the held cells) leaves no sheet: the expected keys are then empty."""
    held = case.held(EXPORTED_CSV if not case.fmt.xlsx else case.fmt)
    target = case.sheet if case.fmt.xlsx else case.folder / "export.csv"
    run = case.cli("export", case.mapping, "-o", target)
    problems = case.said_so(run, held, f"{step}, export") if held else []
    problems += run.problems(f"{step}, export", exit_codes=(0, 1, 2) if held else (0,))
    if run.crashed or run.exit_code != 0 or not target.exists():
        return problems, set(), held
    expected = set(case.seeded) - set(held)
    if not case.fmt.xlsx:
        dropped = resave(target, case.sheet, case.fmt)
        lost = {key for key in case.seeded if _exported_key_in(key, dropped)}
        expected -= lost
    return problems, expected, held


def _exported_key_in(key: str, cells: set[str]) -> bool:
    """Whether a key's exported cell (maybe behind a formula-neutralising prefix) is among `cells`."""
    return any(cell == key or cell.endswith(key) and len(cell) - len(key) <= 2 for cell in cells)


# --- the checks ----------------------------------------------------------------------------------


def check_export_plans_nothing(portal: Portal, folder: Path, fmt: Format, batch: list[dict]) -> None:
    """(a) `syncer export`, then `syncer plan` of the exported sheet: every row unchanged; (d)."""
    case = Case.make(portal, folder, fmt, batch)
    problems, expected, held = exported_sheet(case, "(a)")
    if case.sheet.exists():
        problems += case.plan("(a) after export", expected, held)
    problems += case.hubspot_unchanged("(d) after (a)")
    assert not problems, f"{fmt}:\n" + "\n".join(problems)


def check_sync_writes_nothing(portal: Portal, folder: Path, fmt: Format, batch: list[dict]) -> None:
    """(b) A sheet with the header only and a first sync; then the records are created in HubSpot,
    and a second sync appends them (syncer writes them in the sheet's format); a third sync, with no
    edit anywhere, makes reads only, counts nothing and leaves the sheet's bytes as they were; (d).
    (Records created before the first sync would stay out of the sheet: it chose not to have them.
    A plan of the sheet would cost another run per example; the third sync's writes and (d) show
    what did not read back.)"""
    case = Case.make(portal, folder, fmt, batch, seed=False)
    write_header(case.sheet, fmt)
    first = case.cli("sync", case.mapping, "--json").problems("(b) first sync")
    assert not first, f"{fmt}:\n" + "\n".join(first)
    case.seed()
    held = case.held()
    second = case.cli("sync", case.mapping, "--json")
    problems = second.problems("(b) second sync (appends HubSpot's records)", exit_codes=(0, 1, 2) if held else (0,))
    if held:
        problems += case.said_so(second, held, "(b) second sync")
    counts = second.document().get("counts") or {}
    appended = counts.get("append")
    if not held and appended != len(case.seeded):
        problems.append(f"(b) second sync: appended {appended} rows, not {len(case.seeded)}")
    before = case.sheet.read_bytes()
    if not fmt.xlsx:
        problems += kept_format(before, fmt, "(b) second sync")
    third = case.cli("sync", case.mapping, "--json")
    problems += third.problems("(b) third sync (no edits)", exit_codes=(0, 1, 2) if held else (0,))
    counts = third.document().get("counts") or {}
    # With held cells, a sync may name them again (and count them); it may never write HubSpot.
    busy = {k: v for k, v in counts.items() if v and (not held or k in ("push", "archive"))}
    if busy:
        problems.append(f"(b) third sync (no edits): counts {busy}, not zero: {describe_sync(third)}")
    after = case.sheet.read_bytes()
    if after != before:
        problems.append(f"(b) third sync (no edits): the sheet's bytes changed: {describe_bytes(before, after)}")
    problems += case.hubspot_unchanged("(d) after (b)")
    assert not problems, f"{fmt}:\n" + "\n".join(problems)


def check_write_back_plans_nothing(portal: Portal, folder: Path, fmt: Format, batch: list[dict]) -> None:
    """(c) An exported sheet in the format; `push --write-back` sends nothing and adds its status
    columns; a plan of the sheet then plans nothing; (d)."""
    case = Case.make(portal, folder, fmt, batch)
    problems, expected, held = exported_sheet(case, "(c)")
    if case.sheet.exists():
        push = case.cli("push", case.mapping, "--yes", "--write-back", "--json")
        problems += push.problems("(c) push --write-back", exit_codes=(0, 1) if held else (0,))
        results = (push.document().get("results") or {})
        rows = [r for r in results.get("rows") or [] if r.get("key") not in held]
        pushed = [r for r in rows if r.get("outcome") not in ("unchanged",)]
        if pushed:
            problems.append("(c) push --write-back: rows not unchanged: " + "; ".join(
                f"row {r.get('row')} {show(r.get('key'))}: {r.get('outcome')} "
                f"{clip(str(r.get('changed') or r.get('error_message') or ''), 200)}"
                for r in pushed[:6]))
        problems += case.plan("(c) after push --write-back", expected, held)
    problems += case.hubspot_unchanged("(d) after (c)")
    assert not problems, f"{fmt}:\n" + "\n".join(problems)


def kept_format(data: bytes, fmt: Format, step: str) -> list[str]:
    """Problems unless a CSV syncer rewrote is still in `fmt`: its encoding (a BOM where it had one,
    none where it had none) and its delimiter."""
    boms = {"utf-8-sig": b"\xef\xbb\xbf", "utf-16": (b"\xff\xfe", b"\xfe\xff")}
    bom = boms.get(fmt.encoding, ())
    if bool(bom) != data.startswith(bom or b"\xef\xbb\xbf"):
        return [f"{step}: {fmt}: the file now starts {data[:4]!r}; it had {'a' if bom else 'no'} byte order mark"]
    try:
        text = data.decode(fmt.encoding)
    except UnicodeDecodeError as error:
        return [f"{step}: {fmt}: the file is no longer {fmt.encoding}: {error}"]
    header = text.lstrip("\ufeff").splitlines()[0] if text else ""
    if header != fmt.delimiter.join(COLUMNS):
        return [f"{step}: {fmt}: the header is now {header[:120]!r}, not delimited by {fmt.delimiter!r}"]
    return []


def describe_sync(run: Run) -> str:
    document = run.document()
    results = document.get("results") or {}
    rows = [r for r in results.get("rows") or [] if r.get("outcome") != "unchanged"]
    shown = "; ".join(f"{show(r.get('key'))}: {r.get('outcome')} {clip(str(r.get('changed') or ''), 200)}"
                      for r in rows[:6])
    conflicts = document.get("conflicts") or []
    if conflicts:
        shown += " conflicts: " + "; ".join(
            f"{show(c['key'])} {c['property']}: sheet {show(c['sheet'])}, HubSpot {show(c['hubspot'])}"
            for c in conflicts[:4])
    errors = document.get("errors") or []
    if errors:
        shown += " errors: " + "; ".join(f"row {e['row']} {e['column']}: {clip(e['message'], 150)}" for e in errors[:4])
    return shown or clip(run.stderr.strip() or run.output, 600)


def describe_bytes(before: bytes, after: bytes) -> str:
    at = next((i for i, (a, b) in enumerate(zip(before, after)) if a != b), min(len(before), len(after)))
    around = slice(max(0, at - 20), at + 30)
    return (f"{len(before):,} → {len(after):,} bytes, first difference at byte {at}: "
            f"{before[around]!r} → {after[around]!r}")
