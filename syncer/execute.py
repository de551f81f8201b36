"""The executor: Plan → Results through the client. Every row ends with exactly one outcome.

Creates go out as `batch/upsert` by the id property, so a retried or re-run batch can never
duplicate a record; updates as `batch/update` by record id carrying only the changed properties;
archives as `batch/archive`. Each input carries the sheet row as its `objectWriteTraceId`, so a
multi-status answer maps back to rows whatever order HubSpot returns results in.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum

import pandas as pd

from syncer.errors import SyncerError
from syncer.plan import ActionKind, Plan

# How many inputs go to the client per step; between steps the executor checks for a stop request,
# so Ctrl-C ends the run after the batches in flight and their outcomes are still recorded.
STEP_INPUTS = 1000


class Outcome(str, Enum):
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    ARCHIVED = "archived"
    SKIPPED = "skipped"
    CONFLICT = "conflict"
    FAILED = "failed"


PROBLEMS = (Outcome.FAILED, Outcome.CONFLICT)


@dataclass(frozen=True)
class RowOutcome:
    row: int | None
    key: str | None
    action: str
    outcome: Outcome
    record_id: str | None = None
    changed: tuple[str, ...] = ()
    error_category: str | None = None
    error_message: str | None = None


class RowsFailed(SyncerError):
    """Raised by Results.raise_for_failures(): the run finished but some rows failed or conflicted."""

    exit_code = 1


@dataclass
class Results:
    outcomes: list[RowOutcome]
    calls: int = 0
    interrupted: bool = False
    meta: dict = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        found = Counter(o.outcome for o in self.outcomes)
        return {kind.value: found.get(kind, 0) for kind in Outcome}

    @property
    def problems(self) -> list[RowOutcome]:
        return [o for o in self.outcomes if o.outcome in PROBLEMS]

    @property
    def exit_code(self) -> int:
        """DESIGN.md: 0 when every row succeeded, 1 when some failed or conflicted."""
        return 1 if self.problems or self.interrupted else 0

    def raise_for_failures(self) -> None:
        problems = self.problems
        if problems:
            first = problems[0]
            raise RowsFailed(f"{len(problems)} row(s) failed or conflicted; the first, row {first.row} "
                             f"({first.key}): {first.error_message}")

    def to_frame(self) -> pd.DataFrame:
        frame = pd.DataFrame([o.__dict__ for o in self.outcomes],
                             columns=list(RowOutcome.__dataclass_fields__))
        frame["outcome"] = frame["outcome"].map(lambda o: o.value)
        frame["changed"] = frame["changed"].map(", ".join)
        frame["row"] = frame["row"].astype("Int64")
        return frame


@dataclass(frozen=True)
class Progress:
    """Sent to the `on_progress` callback after each step: rows settled so far of the total."""

    done: int
    total: int


def apply(
    plan: Plan,
    client,
    *,
    conflicts: dict[int, str] | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    should_stop: Callable[[], bool] = lambda: False,
) -> Results:
    """Send the plan's writes and return one outcome per action, in the plan's order.

    `conflicts`: action number → why it must not be touched (its record changed since the plan
    was made); those actions end as conflicts without a request.
    """
    conflicts = conflicts or {}
    outcomes: dict[int, RowOutcome] = {}
    for number in plan.actions.index:
        settled = _settle_without_request(plan, number, conflicts.get(number))
        if settled:
            outcomes[number] = settled
    total = len(plan.actions)
    calls_before = getattr(client, "calls", 0)
    interrupted = False
    for kind, send in ((ActionKind.CREATE, _send_creates), (ActionKind.UPDATE, _send_updates),
                       (ActionKind.ARCHIVE, _send_archives)):
        pending = [n for n in plan.of_kind(kind) if n not in outcomes]
        for start in range(0, len(pending), STEP_INPUTS):
            if should_stop():
                interrupted = True
                break
            step = pending[start : start + STEP_INPUTS]
            outcomes.update(send(plan, client, step))
            if on_progress:
                on_progress(Progress(len(outcomes), total))
    for number in plan.actions.index:
        if number not in outcomes:
            outcomes[number] = _outcome(plan, number, Outcome.SKIPPED, error_category="INTERRUPTED",
                                        error_message="not sent: the run was stopped before this row")
    calls = getattr(client, "calls", 0) - calls_before
    return Results([outcomes[n] for n in plan.actions.index], calls=calls, interrupted=interrupted)


def _settle_without_request(plan: Plan, number: int, conflict: str | None) -> RowOutcome | None:
    action = plan.actions.at[number, "action"]
    message = plan.actions.at[number, "message"]
    message = None if pd.isna(message) else message
    if action == ActionKind.UNCHANGED.value:
        return _outcome(plan, number, Outcome.UNCHANGED)
    if action == ActionKind.SKIP.value:
        return _outcome(plan, number, Outcome.SKIPPED, error_category="MODE", error_message=message)
    if action == ActionKind.ERROR.value:
        return _outcome(plan, number, Outcome.FAILED, error_category="INVALID_INPUT", error_message=message)
    if conflict:
        return _outcome(plan, number, Outcome.CONFLICT, error_category="CONFLICT", error_message=conflict)
    return None


def _outcome(plan: Plan, number: int, outcome: Outcome, *, record_id=None, error=None, **fields) -> RowOutcome:
    line = plan.actions.loc[number]
    row = None if pd.isna(line["row"]) else int(line["row"])
    if record_id is None and not pd.isna(line["record_id"]):
        record_id = line["record_id"]
    changed = tuple(plan.changed_properties(number)) if outcome in (Outcome.CREATED, Outcome.UPDATED) else ()
    if error is not None:
        fields = {"error_category": error.category or type(error).__name__, "error_message": error.message}
    return RowOutcome(row=row, key=None if pd.isna(line["key"]) else line["key"], action=line["action"],
                      outcome=outcome, record_id=record_id, changed=changed, **fields)


def _trace_id(plan: Plan, number: int) -> str:
    row = plan.actions.at[number, "row"]
    return f"row-{row}" if not pd.isna(row) else f"action-{number}"


def _properties(plan: Plan, number: int) -> dict[str, str]:
    return {prop: after for prop, (_, after) in plan.changed_properties(number).items()}


def _send_creates(plan: Plan, client, numbers: list[int]) -> dict[int, RowOutcome]:
    inputs = [{"id": plan.actions.at[n, "key"], "idProperty": plan.id_property,
               "properties": _properties(plan, n), "objectWriteTraceId": _trace_id(plan, n)}
              for n in numbers]
    answers = client.batch_upsert(plan.object_type, inputs, id_property=plan.id_property)
    return _collect(plan, numbers, answers, lambda record: Outcome.CREATED
                    if record.new is not False else Outcome.UPDATED)


def _send_updates(plan: Plan, client, numbers: list[int]) -> dict[int, RowOutcome]:
    inputs = [{"id": plan.actions.at[n, "record_id"], "properties": _properties(plan, n),
               "objectWriteTraceId": _trace_id(plan, n)} for n in numbers]
    answers = client.batch_update(plan.object_type, inputs)
    return _collect(plan, numbers, answers, lambda record: Outcome.UPDATED)


def _send_archives(plan: Plan, client, numbers: list[int]) -> dict[int, RowOutcome]:
    answers = client.batch_archive(plan.object_type, [plan.actions.at[n, "record_id"] for n in numbers])
    return _collect(plan, numbers, answers, lambda record: Outcome.ARCHIVED)


def _collect(plan, numbers, answers, success) -> dict[int, RowOutcome]:
    """One outcome per input from the client's per-input answers (matched by index, never position)."""
    outcomes = {}
    for answer in answers:
        number = numbers[answer.index]
        if answer.error is not None:
            outcomes[number] = _outcome(plan, number, Outcome.FAILED, error=answer.error)
        else:
            record = answer.record
            outcomes[number] = _outcome(plan, number, success(record),
                                        record_id=record.id if record is not None else None)
    return outcomes
