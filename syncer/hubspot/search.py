"""Search that pages past HubSpot's 10,000-result ceiling.

One query reaches at most 10,000 results. Sorted ascending on hs_object_id (or hs_lastmodifieddate),
the results are read in windows: when a window nears the ceiling, the next starts after the last
value seen (`hs_object_id GT last`, or `hs_lastmodifieddate GTE last` skipping the ids already
yielded at that instant, since many records can share one timestamp).
"""

from __future__ import annotations

from typing import Any, Callable, Iterator, Sequence

from syncer.hubspot.errors import ValidationError
from syncer.hubspot.models import Record, epoch_ms

REACHABLE = 10_000
FILTERS_PER_GROUP = 6  # HubSpot's limit on the filters of one search filter group
PAGE_SIZE = 200
WINDOW_KEYS = ("hs_object_id", "hs_lastmodifieddate")
MODIFIED_KEYS = ("hs_lastmodifieddate", "lastmodifieddate")  # the second: contacts' own


def sort_rules(sorts: Sequence[str | dict]) -> list[dict]:
    """Sort rules as HubSpot wants them: `"price"` / `"-price"` or `{propertyName, direction}` dicts."""
    rules = []
    for rule in sorts:
        if isinstance(rule, dict):
            rules.append(rule)
        else:
            name = rule.lstrip("-")
            rules.append({"propertyName": name,
                          "direction": "DESCENDING" if rule.startswith("-") else "ASCENDING"})
    return rules or [{"propertyName": "hs_object_id", "direction": "ASCENDING"}]


def window_key(rules: list[dict]) -> str | None:
    """The property a search can be windowed on, or None when its sort allows no windows."""
    first = rules[0]
    if first["propertyName"] in {*WINDOW_KEYS, *MODIFIED_KEYS} and first.get("direction", "ASCENDING") == "ASCENDING":
        return first["propertyName"]
    return None


def iterate(post: Callable[[dict], dict], *, filter_groups: list[list[dict]], sorts: Sequence,
            properties: Sequence[str], query: str | None, page_size: int = PAGE_SIZE) -> Iterator[Record]:
    """Every record matching the search, window after window; `post` sends one search body."""
    rules = sort_rules(sorts)
    key = window_key(rules)
    wanted = list(dict.fromkeys([*properties, *([key] if key else [])]))
    window = _Window(key)
    while True:
        body = {"filterGroups": _bounded(filter_groups, key, window.bound), "sorts": rules[:1],
                "properties": wanted, "limit": page_size, **({"query": query} if query else {})}
        after, total, reached = 0, 0, 0
        while after is not None and after + page_size <= REACHABLE:
            page = post({**body, "after": str(after)})
            results = page.get("results") or []
            yield from window.fresh(Record.from_json(item) for item in results)
            following = ((page.get("paging") or {}).get("next") or {}).get("after")
            reached, total = after + len(results), int(page.get("total") or 0)
            after = None if following is None else int(following)
        # A portal may stop offering `next` at the ceiling, or offer one past it: `total` tells.
        if after is None and (total <= reached or reached == 0):
            return
        window.advance()


class _Window:
    """The lower bound of the current window, and the ids already yielded at that bound."""

    def __init__(self, key: str | None) -> None:
        self.key = key
        self.bound: Any = None
        self.seen_at_bound: set[str] = set()
        self._tail: tuple[Any, set[str]] = (None, set())  # the last value yielded, and its ids
        self._yielded = False

    def fresh(self, records: Iterator[Record]) -> Iterator[Record]:
        for record in records:
            if record.id in self.seen_at_bound:
                continue
            value = self._value(record)
            self._tail = (value, self._tail[1] | {record.id} if value == self._tail[0] else {record.id})
            self._yielded = True
            yield record

    def advance(self) -> None:
        if self.key is None:
            raise ValidationError(
                f"this search matches more than {REACHABLE} records, and only a search sorted "
                "ascending on hs_object_id or the modification date can page past that; "
                "sort on one of them or narrow the filters")
        if not self._yielded:
            raise ValidationError(
                f"more than {REACHABLE} records share {self.key} = {self.bound}; narrow the filters")
        value, ids = self._tail
        self.seen_at_bound = (self.seen_at_bound | ids) if value == self.bound else ids
        self.bound, self._yielded = value, False

    def _value(self, record: Record) -> Any:
        if self.key == "hs_object_id":
            return int(record.id)
        if self.key in MODIFIED_KEYS:
            return epoch_ms(record.properties.get(self.key) or record.updated_at)
        return None


def _bounded(groups: list[list[dict]], key: str | None, bound: Any) -> list[dict]:
    """Each filter group, AND-ed with the window's lower bound (OR-ed groups each get it)."""
    if bound is None:
        return [{"filters": list(group)} for group in groups]
    operator = "GT" if key == "hs_object_id" else "GTE"
    limit = {"propertyName": key, "operator": operator, "value": str(bound)}
    return [{"filters": [*group, limit]} for group in groups or [[]]]


