"""The executor: Plan → Results through the client. Every row ends with exactly one outcome.

Creates go out as `batch/upsert` by the id property, so a retried or re-run batch can never
duplicate a record; updates as `batch/update` by record id carrying only the changed properties;
archives as `batch/archive`. Each input carries the sheet row as its `objectWriteTraceId`, so a
multi-status answer maps back to rows whatever order HubSpot returns results in.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING

import pandas as pd

from syncer import associations
from syncer.errors import SyncerError
from syncer.plan import BATCH_SIZE, STEP_INPUTS, WRITES, ActionKind, Plan

if TYPE_CHECKING:
    from syncer.hubspot.protocol import PortalClient


class Outcome(str, Enum):
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    ARCHIVED = "archived"
    SKIPPED = "skipped"
    CONFLICT = "conflict"
    FAILED = "failed"


PROBLEMS = (Outcome.FAILED, Outcome.CONFLICT)

# What each planned action ends as when HubSpot does what the plan predicted. Anything else (a
# create that the upsert answered `new: false`, a conflict, a failure) differs from the plan.
PREDICTED = {
    ActionKind.CREATE.value: Outcome.CREATED,
    ActionKind.UPDATE.value: Outcome.UPDATED,
    ActionKind.ARCHIVE.value: Outcome.ARCHIVED,
    ActionKind.UNCHANGED.value: Outcome.UNCHANGED,
    ActionKind.SKIP.value: Outcome.SKIPPED,
    ActionKind.ERROR.value: Outcome.FAILED,
}


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

    @property
    def as_planned(self) -> bool:
        """False when HubSpot did something other than the planned action (see PREDICTED)."""
        return PREDICTED.get(self.action) is self.outcome


class RowsFailed(SyncerError):
    """Raised by Results.raise_for_failures(): the run finished but some rows failed or conflicted."""

    exit_code = 1


# The columns a row's result goes into in a sheet: write-back (jobs.write_back) adds them to the
# source, and the failed rows' file (report.write_errors) has them beside the row's cells.
STATUS_COLUMNS = ("sync_status", "sync_record_id", "sync_error")


@dataclass
class RunMeta:
    """What a run's results say about it besides the rows, as the results document keeps it.

    From its plan: the portal (`portal`, `hub_id`), the mapping and the sheet read (`mapping`,
    `source`, `source_digest`, `sheet`, `header_row`) and the plan's `estimate`. From the run:
    `run_id`, `started_at`, `finished_at`, `undo` (the undo plan's path; None when nothing was
    written), `recovered_undo` (undo plans made from earlier runs' journals). A retry names the failed
    rows it could not find (`not_retried`) and how many rows it retried (`retried_rows`); an undo
    run the writes it could not revert (`not_restorable`). Results read back from a report know only
    `mapping` and `source`.
    """

    mapping: str | None = None
    source: str | None = None
    source_digest: str | None = None
    sheet: str | int | None = None
    header_row: int | None = None
    portal: str | None = None
    hub_id: str | None = None
    run_id: str | None = None
    started_at: str | None = None
    recovered_undo: list[str] | None = None
    estimate: dict | None = None
    undo: str | None = None
    finished_at: str | None = None
    not_retried: list[str] | None = None
    not_restorable: list[dict] | None = None
    retried_rows: int | None = None

    # A run's own fields: written whenever it ran, even when None (the results schema needs `undo`), and
    # a retry's replace the first run's when results are merged (runs.merge_results).
    RUN_FIELDS = ("run_id", "started_at", "recovered_undo", "estimate", "undo", "finished_at")

    @classmethod
    def of_plan(cls, meta) -> RunMeta:
        """The fields a run takes from its plan's meta (a plan.PlanMeta)."""
        return cls(**{name: getattr(meta, name) for name in
                      ("mapping", "source", "source_digest", "sheet", "header_row", "portal", "hub_id", "estimate")})

    def to_json(self) -> dict:
        ran = self.run_id is not None
        return {item.name: getattr(self, item.name) for item in dataclasses.fields(self)
                if getattr(self, item.name) is not None or (ran and item.name in self.RUN_FIELDS)}


@dataclass
class Results:
    outcomes: list[RowOutcome]
    calls: int = 0
    interrupted: bool = False
    meta: RunMeta = field(default_factory=RunMeta)
    # record id → the updatedAt HubSpot answered a write with: the undo plan's stale check starts there
    updated_at: dict[str, str] = field(default_factory=dict)

    def __repr__(self) -> str:
        """Short, for notebooks and logs: the counts, the calls and the portal, never the rows."""
        counts = ", ".join(f"{kind}={n:,}" for kind, n in self.counts().items() if n) or "no rows"
        portal = f", portal={self.meta.portal!r}" if self.meta.portal else ""
        stopped = ", interrupted" if self.interrupted else ""
        return f"<Results {counts}; {self.calls:,} calls{portal}{stopped}>"

    def counts(self) -> dict[str, int]:
        found = Counter(o.outcome for o in self.outcomes)
        return {kind.value: found.get(kind, 0) for kind in Outcome}

    @property
    def differences(self) -> list[RowOutcome]:
        """Rows whose outcome is not what the plan predicted."""
        return [o for o in self.outcomes if not o.as_planned]

    @property
    def problems(self) -> list[RowOutcome]:
        return [o for o in self.outcomes if o.outcome in PROBLEMS]

    @property
    def exit_code(self) -> int:
        """docs/ARCHITECTURE.md, "Exit codes": 0 when every row succeeded, 1 when some failed or conflicted."""
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
        frame.insert(frame.columns.get_loc("outcome") + 1, "as_planned", [o.as_planned for o in self.outcomes])
        # From the members: with pyarrow, pandas stores a column of str Enum members as plain text.
        frame["outcome"] = [o.outcome.value for o in self.outcomes]
        frame["changed"] = frame["changed"].map(", ".join)
        frame["row"] = frame["row"].astype("Int64")
        return frame


@dataclass(frozen=True)
class Progress:
    """Sent to the `on_progress` callback after each step: rows sent to HubSpot so far, of those the
    run sends (unchanged, skipped and conflicting rows are not counted: a rate shows real work)."""

    done: int
    total: int


def apply(
    plan: Plan,
    client,
    *,
    conflicts: dict[int, str] | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    should_stop: Callable[[], bool] = lambda: False,
    before_send: Callable[[ActionKind, list[int]], None] | None = None,
    started_at: str | None = None,
) -> Results:
    """Send the plan's writes and return one outcome per action, in the plan's order.

    `conflicts`: action number → why it must not be touched (its record changed since the plan
    was made); those actions end as conflicts without a request. `before_send(kind, numbers)` is
    called before each step's batches go out (the undo journal records them there, so a killed run
    leaves a record of every write that may have reached HubSpot). `started_at` (ISO, UTC; default:
    now) is when the run began writing: a planned create that the upsert answers `new: false` for a
    record HubSpot created since then was created by this run (its first attempt landed, its answer
    was lost, the retry found the record) and ends `created`, not `updated`.
    """
    run = _Run(plan, client, started_at or now_iso())
    conflicts = conflicts or {}
    outcomes: dict[int, RowOutcome] = {}
    for number in run.lines:
        settled = run.settle_without_request(number, conflicts.get(number))
        if settled:
            outcomes[number] = settled
    calls_before = client.calls
    interrupted = False
    to_send = sum(n not in outcomes for kind in WRITES for n in plan.of_kind(kind))
    sent_so_far = 0
    for kind, send in ((ActionKind.CREATE, run.send_creates), (ActionKind.UPDATE, run.send_updates),
                       (ActionKind.ARCHIVE, run.send_archives)):
        pending = [n for n in plan.of_kind(kind) if n not in outcomes]
        # Steps of STEP_INPUTS (which plan.estimate counts by): between them a stop request is
        # honoured, so Ctrl-C ends the run after the batches in flight, their outcomes recorded.
        for start in range(0, len(pending), STEP_INPUTS):
            if should_stop():
                interrupted = True
                break
            step = list(pending[start : start + STEP_INPUTS])
            if before_send:
                before_send(kind, step)
            sent = send(step)
            if kind is not ActionKind.ARCHIVE:
                sent = run.link_associations(sent)
            outcomes.update(sent)
            sent_so_far += len(step)
            if on_progress:
                on_progress(Progress(sent_so_far, to_send))
    for number in run.lines:
        if number not in outcomes:
            outcomes[number] = run.outcome(number, Outcome.SKIPPED, error_category="INTERRUPTED",
                                           error_message="not sent: the run was stopped before this row")
    calls = client.calls - calls_before
    return Results([outcomes[n] for n in run.lines], calls=calls, interrupted=interrupted,
                   updated_at=run.updated_at)


def now_iso() -> str:
    """Now, UTC, to the millisecond (floored), as HubSpot writes createdAt."""
    now = dt.datetime.now(dt.timezone.utc)
    return now.replace(microsecond=now.microsecond // 1000 * 1000).isoformat(timespec="milliseconds")


def created_since(created_at: str | None, started_at: str) -> bool:
    """Whether HubSpot's createdAt is at or after `started_at` (False when either is unreadable)."""
    try:
        return dt.datetime.fromisoformat(created_at) >= dt.datetime.fromisoformat(started_at)
    except (TypeError, ValueError):
        return False


def _present(value) -> bool:
    return value is not None and value == value  # NaN is the one value unequal to itself


class _Run:
    """One execution of a plan: its actions read once into plain Python values, so building
    100,000 inputs costs dictionary look-ups, not pandas indexing per cell."""

    def __init__(self, plan: Plan, client: PortalClient, started_at: str) -> None:
        self.plan, self.client, self.started_at = plan, client, started_at
        self.updated_at: dict[str, str] = {}
        self.links = plan.meta.associations
        self.lines = {n: {k: (v if _present(v) else None) for k, v in line.items()}
                      for n, line in zip(plan.actions.index, plan.actions.to_dict("records"))}
        after = plan.after.to_numpy(dtype=object)
        before = plan.before.to_numpy(dtype=object)
        self.after, self.before = {}, {}
        for position, number in enumerate(plan.actions.index):
            sent = {p: v for p, v in zip(plan.properties, after[position]) if _present(v)}
            if sent:
                self.after[number] = sent
                self.before[number] = {p: before[position][plan.properties.index(p)] for p in sent}

    def settle_without_request(self, number: int, conflict: str | None) -> RowOutcome | None:
        line = self.lines[number]
        if line["action"] == ActionKind.UNCHANGED.value:
            return self.outcome(number, Outcome.UNCHANGED)
        if line["action"] == ActionKind.SKIP.value:
            return self.outcome(number, Outcome.SKIPPED, error_category="MODE", error_message=line["message"])
        if line["action"] == ActionKind.ERROR.value:
            return self.outcome(number, Outcome.FAILED, error_category="INVALID_INPUT",
                                error_message=line["message"])
        if conflict:
            return self.outcome(number, Outcome.CONFLICT, error_category="CONFLICT", error_message=conflict)
        return None

    def outcome(self, number: int, outcome: Outcome, *, record_id=None, error=None, context=None,
                **fields) -> RowOutcome:
        line = self.lines[number]
        written = outcome in (Outcome.CREATED, Outcome.UPDATED)
        if error is not None:
            message = f"{context}: {error.message}" if context else error.message
            fields = {"error_category": error.category or type(error).__name__, "error_message": message}
        return RowOutcome(row=None if line["row"] is None else int(line["row"]), key=line["key"],
                          action=line["action"], outcome=outcome, record_id=record_id or line["record_id"],
                          changed=tuple(self.after.get(number, ())) if written else (), **fields)

    def trace_id(self, number: int) -> str:
        row = self.lines[number]["row"]
        return f"row-{row}" if row is not None else f"action-{number}"

    def properties(self, number: int) -> dict[str, str]:
        return {p: v for p, v in self.after.get(number, {}).items() if p not in self.links}

    def send_creates(self, numbers: list[int]) -> dict[int, RowOutcome]:
        plan = self.plan
        inputs = [{"id": self.lines[n]["key"], "idProperty": plan.id_property, "properties": self.properties(n),
                   "objectWriteTraceId": self.trace_id(n)} for n in numbers]
        answers = self.client.batch_upsert(plan.object_type, inputs, id_property=plan.id_property)
        # A chunk (BATCH_SIZE consecutive inputs, as the client sends them) that created any record
        # was not a replay of an attempt that had already landed: a new: false there is a record
        # someone else made. A chunk answered new: false throughout, for records created since the
        # run began, is such a replay (its first answer was lost): those records are the run's.
        fresh = {a.index // BATCH_SIZE for a in answers if a.error is None and a.record and a.record.new}
        replayed = {a.index for a in answers if a.index // BATCH_SIZE not in fresh}
        return self.collect(numbers, answers, lambda record, index: self.created_or_found(record, index in replayed))

    def created_or_found(self, record, replayed: bool) -> Outcome:
        """A planned create's outcome: `updated` only when the record was there before this run wrote it."""
        if record is None or record.new is not False:
            return Outcome.CREATED
        return Outcome.CREATED if replayed and created_since(record.created_at, self.started_at) else Outcome.UPDATED

    def send_updates(self, numbers: list[int]) -> dict[int, RowOutcome]:
        inputs = [{"id": self.lines[n]["record_id"], "properties": self.properties(n),
                   "objectWriteTraceId": self.trace_id(n)} for n in numbers]
        answers = self.client.batch_update(self.plan.object_type, inputs)
        return self.collect(numbers, answers, lambda record, index: Outcome.UPDATED)

    def send_archives(self, numbers: list[int]) -> dict[int, RowOutcome]:
        ids = [self.lines[n]["record_id"] for n in numbers]
        answers = self.client.batch_archive(self.plan.object_type, ids)
        return self.collect(numbers, answers, lambda record, index: Outcome.ARCHIVED)

    def collect(self, numbers, answers, success) -> dict[int, RowOutcome]:
        """One outcome per input from the client's per-input answers (matched by index, never position)."""
        outcomes = {}
        for answer in answers:
            number = numbers[answer.index]
            if answer.error is not None:
                outcomes[number] = self.outcome(number, Outcome.FAILED, error=answer.error)
            else:
                record = answer.record
                if record is not None and record.updated_at:
                    self.updated_at[record.id] = record.updated_at
                outcomes[number] = self.outcome(number, success(record, answer.index),
                                                record_id=record.id if record is not None else None)
        return outcomes

    def link_associations(self, outcomes: dict[int, RowOutcome]) -> dict[int, RowOutcome]:
        """Set the associations the plan changes, for the rows whose record was written.

        A new target is linked with the mapping's association type; the target it replaces (or a
        cleared one) loses that type. A row whose link fails ends as failed, naming the association.
        """
        for name, link in self.links.items():
            adds, removes = [], []
            for number, outcome in outcomes.items():
                after = self.after.get(number, {}).get(name)
                if outcome.outcome not in (Outcome.CREATED, Outcome.UPDATED) or after is None:
                    continue
                before = self.before[number][name]
                if after:
                    adds.append((number, (outcome.record_id, after)))
                if _present(before) and before:
                    removes.append((number, (outcome.record_id, before)))
            answered = associations.write(self.client, self.plan.object_type, link,
                                          unlink=[pair for _, pair in removes], link_to=[pair for _, pair in adds])
            for entries, answers in zip((removes, adds), answered):
                for answer in answers:
                    if answer.error is not None:
                        number = entries[answer.index][0]
                        outcomes[number] = self.outcome(number, Outcome.FAILED, record_id=outcomes[number].record_id,
                                                        error=answer.error, context=f'column "{link.column}"')
        return outcomes
