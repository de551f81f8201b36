"""POST .../search (reference §3.5, §11): filter groups, operators, sorts, query and paging; and
the search index with its lag (behaviour.Variants.search_lag).

Filters on the indexed record columns (hs_object_id, the create and modify dates) become SQL, so
the sync's slicing queries (`hs_lastmodifieddate GT x` ascending, id ranges) stay fast at 100k
records; any other filter is evaluated in Python over the narrowed rows.

HubSpot's search reads an index that catches up with writes "after a few moments". Here every write
of a record (create, update, archive) reaches the index a delay later on the portal's clock, a draw
between lag x (1 - jitter) and the lag for each record. Until then search matches, sorts and counts
the record as the index last held it (absent, for a record not yet indexed) and returns its current
values, as HubSpot was seen to do. Only records with a write still on its way are kept in
`SearchIndex`; every other record is in the index exactly as it is stored. The pending writes live
in memory: a portal opened again from its file starts with its index caught up.
"""

from __future__ import annotations

import copy
import fnmatch
import json
import random
import re
from dataclasses import dataclass, field
from typing import Iterable
from decimal import Decimal, InvalidOperation

from syncer.sandbox import behaviour, values
from syncer.sandbox.errors import PropertyProblem, validation
from syncer.sandbox.portal import ObjectType
from syncer.sandbox.store import Clock, Record

OPERATORS = {"EQ", "NEQ", "LT", "LTE", "GT", "GTE", "BETWEEN", "IN", "NOT_IN", "HAS_PROPERTY",
             "NOT_HAS_PROPERTY", "CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"}
SQL_OPERATORS = {"EQ": "=", "NEQ": "!=", "LT": "<", "LTE": "<=", "GT": ">", "GTE": ">="}
TOKEN_SPLIT = re.compile(r"[\s,;]+")


@dataclass
class Filter:
    name: str
    operator: str
    definition: dict
    column: str | None
    value: object = None
    high: object = None
    values: tuple = ()


@dataclass
class Query:
    groups: list[list[Filter]]
    sort_name: str | None
    descending: bool
    text: str
    properties: list[str]
    limit: int
    after: int


def parse(object_type: ObjectType, body: dict, raw_size: int) -> Query:
    """Validate a PublicObjectSearchRequest; every refusal is HubSpot's 400."""
    if raw_size > behaviour.SEARCH_MAX_BODY_CHARS:
        raise validation(f"The request body is {raw_size} characters long; the maximum is "
                         f"{behaviour.SEARCH_MAX_BODY_CHARS}.")
    groups = body.get("filterGroups") or []
    if len(groups) > behaviour.SEARCH_MAX_GROUPS:
        raise validation(f"Too many filter groups: {len(groups)} (maximum {behaviour.SEARCH_MAX_GROUPS}).")
    parsed = [[_filter(object_type, f) for f in (group.get("filters") or [])] for group in groups]
    if any(len(g) > behaviour.SEARCH_MAX_FILTERS_PER_GROUP for g in parsed):
        raise validation(f"Too many filters in a group (maximum {behaviour.SEARCH_MAX_FILTERS_PER_GROUP}).")
    if sum(len(g) for g in parsed) > behaviour.SEARCH_MAX_FILTERS:
        raise validation(f"Too many filters (maximum {behaviour.SEARCH_MAX_FILTERS}).")
    sort_name, descending = _sort(object_type, body.get("sorts") or [])
    limit = _integer(body.get("limit", behaviour.SEARCH_DEFAULT_LIMIT), "limit")
    after = _integer(body.get("after") or 0, "after")
    if limit > behaviour.SEARCH_MAX_LIMIT or limit < 0:
        raise validation(f"limit must be between 0 and {behaviour.SEARCH_MAX_LIMIT}; got {limit}.")
    if after + limit > behaviour.SEARCH_MAX_RESULTS:
        raise validation(f"Paging beyond {behaviour.SEARCH_MAX_RESULTS} results is not supported "
                         f"(after={after}, limit={limit}).")
    return Query([g for g in parsed if g], sort_name, descending, str(body.get("query") or ""),
                 list(body.get("properties") or []), limit, after)


def _integer(raw, name: str) -> int:
    try:
        return int(raw)
    except (TypeError, ValueError):
        raise validation(f"{name} must be an integer; got {raw!r}.") from None


def _sort(object_type: ObjectType, sorts: list) -> tuple[str | None, bool]:
    rules = [s for s in sorts if isinstance(s, dict)]  # JSON-encoded strings are ignored (§3.5)
    if len(rules) > behaviour.SEARCH_MAX_SORTS:
        raise validation(f"Only {behaviour.SEARCH_MAX_SORTS} sort rule is supported; got {len(rules)}.")
    if not rules:
        return None, False
    name = rules[0].get("propertyName")
    if name not in object_type.properties:
        raise validation(f"Property '{name}' in sorts does not exist.")
    return name, rules[0].get("direction", "ASCENDING") == "DESCENDING"


def _filter(object_type: ObjectType, raw: dict) -> Filter:
    name, operator = raw.get("propertyName"), raw.get("operator")
    if operator not in OPERATORS:
        raise validation(f"Invalid operator {operator!r}; use one of {sorted(OPERATORS)}.")
    definition = object_type.properties.get(name)
    if definition is None:
        raise validation(f"Property '{name}' in filterGroups does not exist.")
    f = Filter(name, operator, definition, object_type.system_column(name))
    if operator in ("HAS_PROPERTY", "NOT_HAS_PROPERTY"):
        return f
    if operator in ("IN", "NOT_IN"):
        if not isinstance(raw.get("values"), list):
            raise validation(f"Operator {operator} on {name} needs `values`.")
        f.values = tuple(_operand(definition, v) for v in raw["values"])
        return f
    if "value" not in raw:
        raise validation(f"Operator {operator} on {name} needs `value`.")
    f.value = _operand(definition, raw["value"])
    if operator == "BETWEEN":
        if "highValue" not in raw:
            raise validation(f"Operator BETWEEN on {name} needs `highValue`.")
        f.high = _operand(definition, raw["highValue"])
    return f


def _operand(definition: dict, raw):
    """A filter value in the form stored values compare in (dates as epoch ms, numbers as Decimal)."""
    text = values.as_text(raw) or ""
    kind = definition["type"]
    try:
        if kind == "number":
            return Decimal(text)
        if kind in ("date", "datetime"):
            return values.date_ms(text) if values.ISO_DATE.match(text) else values.datetime_ms(definition["name"], text)
    except (InvalidOperation, PropertyProblem):
        raise validation(f"{text} is not a valid {kind} value for filter on {definition['name']}.") from None
    return text


# --- evaluation ----------------------------------------------------------------------------------

def sql_narrowing(query: Query) -> tuple[str, tuple]:
    """SQL that narrows the rows to a superset of the matches, when there is one group (an AND):
    filters on record columns, and exact enumeration and presence tests on stored values."""
    if len(query.groups) != 1:
        return "", ()
    clauses, params = [], []
    for f in query.groups[0]:
        clause = _column_clause(f) if f.column else _value_clause(f)
        if clause:
            clauses.append(clause[0])
            params += clause[1]
    return "".join(f" AND {c}" for c in clauses), tuple(params)


def _column_clause(f: Filter) -> tuple[str, list] | None:
    if f.operator == "BETWEEN":
        return f"{f.column} BETWEEN ? AND ?", [int(f.value), int(f.high)]
    if f.operator in SQL_OPERATORS:
        return f"{f.column} {SQL_OPERATORS[f.operator]} ?", [int(f.value)]
    return None


def _value_clause(f: Filter) -> tuple[str, list] | None:
    stored = "json_extract(props, ?)"
    path = "$." + json.dumps(f.name)
    if f.operator == "HAS_PROPERTY":
        return f"{stored} IS NOT NULL", [path]
    exact = f.definition["type"] in ("enumeration", "bool") and f.definition["fieldType"] != "checkbox"
    if exact and f.operator == "EQ":
        return f"{stored} = ?", [path, str(f.value)]
    if exact and f.operator == "IN" and f.values:
        return f"{stored} IN ({','.join('?' * len(f.values))})", [path, *map(str, f.values)]
    return None


def fully_in_sql(query: Query) -> bool:
    return not query.text and (not query.groups or (
        len(query.groups) == 1 and all(f.column and (f.operator in SQL_OPERATORS or f.operator == "BETWEEN")
                                       for f in query.groups[0])))


def matches(object_type: ObjectType, record: Record, query: Query, value_of) -> bool:
    if query.text and not _query_matches(object_type, record, query.text, value_of):
        return False
    if not query.groups:
        return True
    return any(all(_holds(f, value_of(object_type, record, f.name)) for f in group) for group in query.groups)


def _query_matches(object_type: ObjectType, record: Record, text: str, value_of) -> bool:
    tokens = [t for name in object_type.searchable
              for t in TOKEN_SPLIT.split((value_of(object_type, record, name) or "").lower()) if t]
    tokens += [str(record.id)]
    return all(any(t.startswith(word) for t in tokens) for word in text.lower().split())


def _holds(f: Filter, stored: str | None) -> bool:
    op = f.operator
    if op == "HAS_PROPERTY":
        return stored is not None
    if op == "NOT_HAS_PROPERTY":
        return stored is None
    if stored is None:
        return behaviour.UNSET_MATCHES_NEGATIONS and op in ("NEQ", "NOT_IN", "NOT_CONTAINS_TOKEN")
    if op in ("CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"):
        return _contains_token(stored, str(f.value)) == (op == "CONTAINS_TOKEN")
    if op in ("IN", "NOT_IN"):
        return any(_equal(f, stored, v, exact=True) for v in f.values) == (op == "IN")
    if op in ("EQ", "NEQ"):
        return _equal(f, stored, f.value) == (op == "EQ")
    left = _comparable(f.definition, stored)
    if op == "BETWEEN":
        return _comparable(f.definition, f.value) <= left <= _comparable(f.definition, f.high)
    right = _comparable(f.definition, f.value)
    return {"LT": left < right, "LTE": left <= right, "GT": left > right, "GTE": left >= right}[op]


def _equal(f: Filter, stored: str, operand, exact: bool = False) -> bool:
    """Enumerations compare case-sensitively; strings case-insensitively, except that IN values
    must already be lower case (§11)."""
    kind = f.definition["type"]
    if kind in ("number", "date", "datetime"):
        return _comparable(f.definition, stored) == _comparable(f.definition, operand)
    if kind == "enumeration" or kind == "bool":
        if f.definition["fieldType"] == "checkbox" and behaviour.MULTI_SELECT_EQ_MEANS_CONTAINS:
            return str(operand) in stored.split(";")
        return stored == str(operand)
    if exact:
        return stored.lower() == str(operand)
    return stored.lower() == str(operand).lower()


def _comparable(definition: dict, value):
    if isinstance(value, (Decimal, int)):
        return value
    kind = definition["type"]
    if kind == "number":
        return Decimal(value)
    if kind == "date":
        return values.date_ms(value) if values.ISO_DATE.match(value) else values.datetime_ms("", value)
    if kind == "datetime":
        return values.datetime_ms("", value)
    return str(value).lower()


def _contains_token(stored: str, pattern: str) -> bool:
    pattern = pattern.lower()
    stored = stored.lower()
    candidates = [stored] + [t for t in TOKEN_SPLIT.split(stored) if t]
    if "*" in pattern:
        return any(fnmatch.fnmatchcase(c, pattern) for c in candidates)
    return pattern in candidates


def ranked_ids(object_type: ObjectType, records: Iterable[Record], query: Query, value_of) -> list[int]:
    """Ids of the matching records in result order. `records` come in id order; only (key, id)
    pairs are held, so memory stays small even when most of 100k records match."""
    definition = object_type.properties[query.sort_name] if query.sort_name else None
    present, absent = [], []
    for record in records:
        if not matches(object_type, record, query, value_of):
            continue
        key = values.sort_key(definition, value_of(object_type, record, query.sort_name)) if definition else None
        if key is None:
            absent.append(record.id)
        else:
            present.append((key, record.id))
    present.sort(key=lambda pair: pair[0], reverse=query.descending)  # stable: ties stay in id order
    return [record_id for _, record_id in present] + absent


# --- the index and its lag --------------------------------------------------------------------------


@dataclass
class _Pending:
    """One record's writes on their way to the index: what the index holds now (`indexed`, None
    when it holds nothing), and the later versions with the instant each becomes searchable."""

    type: str
    indexed: Record | None
    versions: list[tuple[int, Record]] = field(default_factory=list)

    def catch_up(self, now: int) -> None:
        """Index what has arrived: the latest-written version whose instant has come (an indexer
        never goes back to an older version, though a later write may arrive before an earlier one)."""
        arrived = [i for i, (at, _) in enumerate(self.versions) if at <= now]
        if arrived:
            self.indexed = self.versions[arrived[-1]][1]
            self.versions = self.versions[arrived[-1] + 1:]


class SearchIndex:
    def __init__(self, clock: Clock, lag_seconds: float = 0.0, jitter: float = 0.5, seed: int | None = None) -> None:
        self.clock = clock
        self.lag_ms = round(lag_seconds * 1000)
        self.jitter = jitter
        self._random = random.Random(seed)
        self._pending: dict[int, _Pending] = {}

    @property
    def lags(self) -> bool:
        return self.lag_ms > 0

    def written(self, changes: list[tuple[Record | None, Record]], at: int) -> None:
        """Records written at the instant `at` (epoch ms), each as (before, after); `before` is None
        for a new record. Each reaches search its own delay after `at`."""
        if not self.lags:
            return
        for before, after in changes:
            pending = self._pending.get(after.id)
            if pending is None:
                pending = self._pending[after.id] = _Pending(after.type, copy.deepcopy(before))
            pending.versions.append((at + self._delay(), copy.deepcopy(after)))

    def _delay(self) -> int:
        return round(self.lag_ms * (1 - self.jitter * self._random.random()))

    def behind(self, type_id: str) -> dict[int, Record | None]:
        """Record id → the version search sees (None: not in the index yet), for the records of
        `type_id` whose latest write has not reached the index."""
        now = self.clock.now()
        seen: dict[int, Record | None] = {}
        for record_id, pending in list(self._pending.items()):
            pending.catch_up(now)
            if not pending.versions:
                del self._pending[record_id]
            elif pending.type == type_id:
                seen[record_id] = pending.indexed
        return seen

    def searchable_at(self, record_id: int) -> int | None:
        """The instant (portal clock, epoch ms) the record's latest write reaches search; None when
        it already has."""
        pending = self._pending.get(record_id)
        return pending.versions[-1][0] if pending and pending.versions else None

    def catch_up(self) -> None:
        """Index every write now, whatever its lag (a test's "the index has caught up")."""
        self._pending.clear()
