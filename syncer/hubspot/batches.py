"""Batch inputs out, per-input outcomes back.

HubSpot returns batch results in no particular order, so results and errors are tied to inputs by
objectWriteTraceId, record id or idProperty value, never by position. An input the response does
not account for gets an IncompleteResponseError: a short answer is a failure, not a success.
"""

from __future__ import annotations

from typing import Any, Sequence

from syncer.hubspot import errors
from syncer.hubspot.errors import HubSpotError, IncompleteResponseError
from syncer.hubspot.models import BatchOutcome, Record

BATCH_SIZE = 100  # the portal's limit on inputs per batch call


def chunks(indices: Sequence[int], size: int = BATCH_SIZE) -> list[list[int]]:
    return [list(indices[start:start + size]) for start in range(0, len(indices), size)]


def prepare(operation: str, index: int, given: dict[str, Any], id_property: str | None) -> dict:
    """A copy of one input ready to send: a trace id (its index unless the caller set one) and idProperty."""
    if operation == "archive":
        return {"id": str(given["id"])}
    ready = {key: value for key, value in given.items() if value is not None}
    ready.setdefault("properties", {})
    ready.setdefault("objectWriteTraceId", str(index))
    if "id" in ready:
        ready["id"] = str(ready["id"])
    if id_property and operation in ("update", "upsert"):
        ready.setdefault("idProperty", id_property)
    return ready


class _Inputs:
    """Look-ups from what a response may quote (trace id, id, unique value) to input indices."""

    def __init__(self, sent: dict[int, dict]) -> None:
        self.sent = sent
        self.by_trace = {value["objectWriteTraceId"]: i for i, value in sent.items()
                         if "objectWriteTraceId" in value}
        self.by_key: dict[tuple[str | None, str], int] = {}
        for i, value in sent.items():
            if "id" in value:
                self.by_key[(value.get("idProperty"), _fold(value["id"]))] = i
        self.id_properties = {value.get("idProperty") for value in sent.values() if "id" in value}

    def for_record(self, body: dict[str, Any], record: Record) -> int | None:
        trace = body.get("objectWriteTraceId")
        if trace in self.by_trace:
            return self.by_trace[trace]
        for id_property in self.id_properties:
            value = record.id if id_property is None else record.properties.get(id_property)
            if value is not None and (id_property, _fold(value)) in self.by_key:
                return self.by_key[(id_property, _fold(value))]
        return self._by_properties(record)

    def for_error(self, context: dict[str, Any]) -> list[int]:
        traced = [self.by_trace[t] for t in context.get("objectWriteTraceId", []) if t in self.by_trace]
        if traced:
            return traced
        return [self.by_key[(p, _fold(value))] for value in context.get("ids", [])
                for p in self.id_properties if (p, _fold(value)) in self.by_key]

    def _by_properties(self, record: Record) -> int | None:
        """A create echoed without its trace id: the one input whose values all match, if only one."""
        matches = [i for i, value in self.sent.items() if "id" not in value and value["properties"]
                   and all(_same(record.properties.get(k), v) for k, v in value["properties"].items())]
        return matches[0] if len(matches) == 1 else None


def outcomes(operation: str, sent: dict[int, dict], body: Any, request: str) -> list[BatchOutcome]:
    """One outcome per sent input, from a 2xx batch response (200, 201, 204 or 207)."""
    if operation == "archive":  # 204, no body: HubSpot archives whatever ids it is given
        return [BatchOutcome(i) for i in sorted(sent)]
    if not isinstance(body, dict):
        return _unaccounted(sent, [], request)
    inputs, found = _Inputs(sent), {}
    for item in body.get("results") or []:
        record = Record.from_json(item)
        index = inputs.for_record(item, record)
        if index is not None:
            found.setdefault(index, BatchOutcome(index, record))
    stray: list[HubSpotError] = []
    for item in body.get("errors") or []:
        error = errors.from_body(item, request=request)
        targets = inputs.for_error(item.get("context") or {})
        stray += [] if targets else [error]
        for index in targets:
            found.setdefault(index, BatchOutcome(index, None, error))
    missing = {i: v for i, v in sent.items() if i not in found}
    return sorted([*found.values(), *_unaccounted(missing, stray, request)], key=lambda o: o.index)


def _unaccounted(missing: dict[int, dict], stray: list[HubSpotError], request: str) -> list[BatchOutcome]:
    note = f"; the response also held an error tied to no input: {stray[0].message}" if stray else ""
    return [BatchOutcome(i, None, IncompleteResponseError(
        f"input {i} (objectWriteTraceId {value.get('objectWriteTraceId', '-')}) is in neither "
        f"results nor errors{note}", request=request)) for i, value in sorted(missing.items())]


def association_input(operation: str, from_id: Any, to_id: Any, types: list[dict]) -> dict:
    """One v4 association input: a pair to link, or to unlink (every type, or only `types`)."""
    pair = {"from": {"id": str(from_id)}, "to": {"id": str(to_id)}}
    if operation == "disassociate" and not types:
        return {"from": pair["from"], "to": [pair["to"]]}  # batch/archive takes a list of targets
    return {**pair, "types": types}


def association_outcomes(operation: str, sent: dict[int, dict], body: Any, request: str) -> list[BatchOutcome]:
    """One outcome per sent pair, tied to results and errors by its from and to ids."""
    if operation != "associate":  # batch/archive and batch/labels/archive: 204, no body
        return [BatchOutcome(i) for i in sorted(sent)]
    pairs = {i: (value["from"]["id"], value["to"]["id"]) for i, value in sent.items()}
    found: dict[int, BatchOutcome] = {}
    for item in (body.get("results") or []) if isinstance(body, dict) else []:
        linked = (str(item.get("fromObjectId")), str(item.get("toObjectId")))
        found.update((i, BatchOutcome(i)) for i, pair in pairs.items() if pair == linked and i not in found)
    stray: list[HubSpotError] = []
    for item in (body.get("errors") or []) if isinstance(body, dict) else []:
        error = errors.from_body(item, request=request)
        targets = _pairs_named(pairs, item.get("context") or {})
        stray += [] if targets else [error]
        found.update((i, BatchOutcome(i, None, error)) for i in targets if i not in found)
    note = f"; the response also held an error tied to no pair: {stray[0].message}" if stray else ""
    return sorted([*found.values(), *(BatchOutcome(i, None, IncompleteResponseError(
        f"pair {i} ({pair[0]} -> {pair[1]}) is in neither results nor errors{note}", request=request))
        for i, pair in pairs.items() if i not in found)], key=lambda o: o.index)


def _pairs_named(pairs: dict[int, tuple[str, str]], context: dict[str, Any]) -> list[int]:
    """The pairs an item error names: every id list it carries (fromObjectId, toObjectId) holds theirs."""
    named = [{str(v) for v in context.get(key) or []} for key in ("fromObjectId", "toObjectId")]
    if not any(named):
        return []
    return [i for i, pair in pairs.items() if all(not ids or end in ids for end, ids in zip(pair, named))]


def _fold(value: Any) -> str:
    return str(value).casefold()  # HubSpot stores emails lower-cased


def _same(remote: str | None, local: Any) -> bool:
    return remote is not None and _fold(remote) == _fold(local)
