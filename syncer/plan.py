"""The diff planner: canonical local rows + canonical remote records → a Plan. Pure: no I/O, no clock.

A Plan is a value. `syncer plan` renders it and `syncer apply` executes the same value, so a dry run
shows exactly what a real run sends. Its tables are wide and aligned on one index, the action number:

- `actions`: one line per action — sheet row (NA for an archive), key, kind, record id, the record's
  `updatedAt` when planned, and a message for errors and skips;
- `after`: per action and property, the value to send (`""` clears) or None when nothing is sent;
- `before`: the remote value of each property that `after` sends, for review and undo.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import Enum

import numpy as np
import pandas as pd

from syncer import associations, keys as keys_rules, talk
from syncer.associations import Link
from syncer.errors import InputError
from syncer.modes import Mode  # the planner's modes; re-exported here

BATCH_SIZE = 100  # HubSpot's limit on inputs per batch call
# Rows of one kind the executor sends per step; it checks for a stop request and links the
# step's associations between steps, so the estimate counts association calls per step too.
STEP_INPUTS = 1000
ACTION_COLUMNS = ["row", "key", "action", "record_id", "updated_at", "message"]


class ActionKind(str, Enum):
    CREATE = "create"
    UPDATE = "update"
    UNCHANGED = "unchanged"
    ARCHIVE = "archive"
    SKIP = "skip"
    ERROR = "error"


WRITES = (ActionKind.CREATE, ActionKind.UPDATE, ActionKind.ARCHIVE)
# The writes each mode may plan. An undo plan (meta `undo_of`) restores updates and archives the
# records its run created, whatever that run's mode.
MODE_WRITES = {
    Mode.UPSERT: {ActionKind.CREATE, ActionKind.UPDATE},
    Mode.UPDATE: {ActionKind.UPDATE},
    Mode.CREATE: {ActionKind.CREATE},
    Mode.MIRROR: {ActionKind.CREATE, ActionKind.UPDATE, ActionKind.ARCHIVE},
}
UNDO_WRITES = {ActionKind.UPDATE, ActionKind.ARCHIVE}


@dataclass
class PlanMeta:
    """What a plan says about itself besides its rows, as its file keeps it.

    Where it was made: `portal` and `hub_id` (see syncer.portals), `created_at`, the mapping and
    the sheet read (`mapping`, `source`, their SHA-256 `*_digest`, the `sheet` of a workbook and
    its `header_row`). What it needs to run and to be shown: `associations` (column pseudo-property
    → associations.Link), `display` (the object, the mapping's columns and the definitions a review
    workbook shows them by; jobs.display_description), `estimate` (see estimate) and
    `max_daily_share` (the cost guard's threshold). An undo plan names the run it reverts
    (`undo_of`) and the writes it cannot revert (`not_restorable`); a retry plan the failed rows it
    leaves (`not_retried`). `other`: fields a later syncer wrote, kept as they were.
    """

    created_at: str | None = None
    portal: str | None = None
    hub_id: str | None = None
    mapping: str | None = None
    mapping_digest: str | None = None
    source: str | None = None
    source_digest: str | None = None
    sheet: str | int | None = None
    header_row: int | None = None
    max_daily_share: float | None = None
    display: dict | None = None
    associations: dict[str, Link] = field(default_factory=dict)
    estimate: dict | None = None
    undo_of: str | None = None
    not_restorable: list[dict] | None = None
    not_retried: list[str] | None = None
    other: dict = field(default_factory=dict)

    @property
    def is_undo(self) -> bool:
        return self.undo_of is not None

    def copy(self) -> PlanMeta:
        return dataclasses.replace(self, associations=dict(self.associations), other=dict(self.other))

    def to_json(self) -> dict:
        """The fields a plan file holds: those known (not None), associations as Link.planned."""
        found = {}
        for item in dataclasses.fields(self):
            value = getattr(self, item.name)
            if item.name == "other":
                found.update(value)
            elif item.name == "associations":
                if value:
                    found["associations"] = associations.planned(value)
            elif value is not None:
                found[item.name] = value
        return found

    @classmethod
    def from_json(cls, fields: dict) -> PlanMeta:
        """Read back to_json's fields (TypeError or ValueError when one is not what it writes)."""
        known = {item.name for item in dataclasses.fields(cls)} - {"other", "associations"}
        meta = cls(**{k: v for k, v in fields.items() if k in known},
                   other={k: v for k, v in fields.items() if k not in known and k != "associations"})
        if not isinstance(fields.get("associations") or {}, dict):
            raise ValueError("associations is not an object")
        meta.associations = associations.from_planned(fields.get("associations"))
        return meta


@dataclass(frozen=True)
class Plan:
    object_type: str
    id_property: str
    mode: Mode
    properties: list[str]
    actions: pd.DataFrame
    after: pd.DataFrame
    before: pd.DataFrame
    meta: PlanMeta = field(default_factory=PlanMeta)

    def __post_init__(self) -> None:
        if isinstance(self.meta, dict):  # a caller of the Python API may still hand a plain dict
            object.__setattr__(self, "meta", PlanMeta.from_json(self.meta))

    def __repr__(self) -> str:
        """Short, for notebooks and logs: the object, the mode, the portal and the counts, never the rows."""
        counts = ", ".join(f"{kind}={n:,}" for kind, n in self.counts().items() if n) or "no actions"
        portal = f", portal={self.meta.portal!r}" if self.meta.portal else ""
        return f"<Plan {self.object_type} {Mode(self.mode).value}{portal}: {counts}>"

    def counts(self) -> dict[str, int]:
        """Actions per kind, every kind present (zero when absent), in ActionKind order."""
        found = self.actions["action"].value_counts()
        return {kind.value: int(found.get(kind.value, 0)) for kind in ActionKind}

    @property
    def has_changes(self) -> bool:
        return bool(self.actions["action"].isin([k.value for k in WRITES]).any())

    def of_kind(self, kind: ActionKind) -> pd.Index:
        return self.actions.index[self.actions["action"] == kind.value]

    def batches(self, kind: ActionKind, size: int = BATCH_SIZE) -> Iterator[pd.Index]:
        """The action numbers of one kind, in chunks of at most `size` (HubSpot's batch limit)."""
        numbers = self.of_kind(kind)
        for start in range(0, len(numbers), size):
            yield numbers[start : start + size]

    def changed_properties(self, number: int) -> dict[str, tuple[str | None, str]]:
        """property → (before, after) for the properties action `number` sends."""
        after = self.after.loc[number]
        sent = after[after.notna()]
        return {prop: (_value(self.before.at[number, prop]), value) for prop, value in sent.items()}

    def skipping(self, numbers, why: str) -> Plan:
        """The same plan with some actions turned into skips (sent nothing, reported with `why`)."""
        actions, after, before = self.actions.copy(), self.after.copy(), self.before.copy()
        actions.loc[numbers, "action"] = ActionKind.SKIP.value
        actions.loc[numbers, "message"] = why
        after.loc[numbers] = None
        before.loc[numbers] = None
        return Plan(self.object_type, self.id_property, self.mode, self.properties, actions, after, before,
                    self.meta.copy())

    def select(self, numbers) -> Plan:
        """The same plan restricted to some action numbers (an approval, a retry, a replan)."""
        keep = pd.Index(numbers)
        return Plan(self.object_type, self.id_property, self.mode, self.properties,
                    self.actions.loc[keep], self.after.loc[keep], self.before.loc[keep], self.meta.copy())


def build(
    local: pd.DataFrame,
    remote: pd.DataFrame,
    *,
    object_type: str,
    id_property: str,
    mode: Mode | str = Mode.UPSERT,
    blank_cells: str = "keep",
    row_errors: dict[int, str] | None = None,
    max_archive_fraction: float = 1.0,
    allow_mass_archive: bool = False,
    owned: set[str] | None = None,
    meta: PlanMeta | dict | None = None,
) -> Plan:
    """Join local rows and remote records on the id property and decide one action per row.

    `local`: index = the sheet's row numbers, one column per property (the id property included),
    canonical strings or None for a blank cell. `remote`: index = the id property's canonical value,
    columns `id`, `updated_at` and the properties, canonical strings or None. `row_errors`: row →
    message for rows whose cells could not be converted; they become error actions. `owned`: in
    mirror mode, the record ids syncer created or synced for this mapping; any other record missing
    from the sheet is skipped, not archived (None: archive any record missing from the sheet).
    """
    mode = Mode(mode)
    properties = [p for p in local.columns if p != id_property]
    keys = local[id_property].astype(object)
    keys = keys.where(keys.notna(), None)
    where = _record_positions(keys, remote)
    errors = keys_rules.errors(keys, id_property, where)
    errors = errors.where(errors.notna(), _same_record_errors(keys, remote, id_property, where))
    for row, message in (row_errors or {}).items():
        if row in errors.index:
            errors[row] = message if pd.isna(errors[row]) else f"{errors[row]}; {message}"
    valid = errors.isna().to_numpy()
    if valid.all():  # the usual case: no copy of the sheet's rows
        planned = _plan_rows(local, remote, where, properties, id_property, mode, blank_cells)
    else:
        planned = _plan_rows(local[valid], remote, where[valid], properties, id_property, mode, blank_cells)
    parts = [planned, _error_rows(local[~valid], errors[~valid], id_property, properties)]
    if mode is Mode.MIRROR:
        archives = _archive_rows(remote, set(keys.dropna()), properties, owned)
        archived = int((archives[0]["action"] == ActionKind.ARCHIVE.value).sum())
        check_archive_share(archived, len(remote), max_archive_fraction, allow_mass_archive,
                            usable_rows=int(valid.sum()))
        parts.append(archives)
    # The action columns' dtypes are what concatenating the parts gives, so always concatenate them;
    # the wide tables only when a second part has rows (copying 10 million cells costs).
    actions = pd.concat([p[0] for p in parts], ignore_index=True)
    filled = [p for p in parts if len(p[0])] or parts[:1]
    after, before = (filled[0][i] if len(filled) == 1 else pd.concat([p[i] for p in filled], ignore_index=True)
                     for i in (1, 2))
    # Sheet order; archives (no row) last. Rows are unique, so one numeric key sorts them.
    rows = actions["row"]
    if not (rows.notna().all() and rows.is_monotonic_increasing):
        order = np.argsort(rows.fillna(np.inf).to_numpy(dtype=float), kind="stable")
        actions, after, before = (t.take(order).reset_index(drop=True) for t in (actions, after, before))
    actions["row"] = actions["row"].astype("Int64")
    return Plan(object_type, id_property, mode, properties, actions, after, before,
                PlanMeta.from_json(meta) if isinstance(meta, dict) else (meta or PlanMeta()).copy())


def _value(cell):
    """None for any of pandas' missing markers, else the cell."""
    return None if pd.isna(cell) else cell


def _record_positions(keys: pd.Series, remote: pd.DataFrame) -> np.ndarray:
    """Per row, the position in `remote` of the record its key names, -1 where none does: the join,
    made once and shared by the checks and the diff (each `reindex` would hash every key again)."""
    # Both sides as objects, as the values are: given text of another dtype (an index of Arrow text, or
    # an array pandas would infer as one), get_indexer converts a side first, up to 3x its own cost.
    index = remote.index.astype(object, copy=False)
    if not index.is_unique:
        remote.reindex(keys.to_numpy())  # refuses as the planner always has: a key names one record
    return index.get_indexer(pd.Index(keys.to_numpy(), dtype=object))


def _taken(column: pd.Series, where: np.ndarray) -> np.ndarray:
    """The column's values at `where`, its dtype's missing value at -1: what `reindex` gives."""
    return column.array.take(where, allow_fill=True).to_numpy()


def _same_record_errors(keys: pd.Series, remote: pd.DataFrame, id_property: str, where: np.ndarray) -> pd.Series:
    """keys.sharing_a_record for the records the rows' keys name, without the look-up when no two
    of those records share an id (the usual case)."""
    errors = pd.Series(None, index=keys.index, dtype=object)
    if not len(remote) or "id" not in remote:
        return errors
    # Rows share a record id only through one record (a repeated key, refused above) unless two of
    # the records they name carry the same id: when none do, no row is affected.
    named = remote["id"].to_numpy(dtype=object)[np.flatnonzero(np.bincount(where[where >= 0], minlength=1))]
    if _all_distinct(named[~pd.isna(named)].tolist()):
        return errors
    return keys_rules.sharing_a_record(keys, pd.Series(_taken(remote["id"], where), index=keys.index), id_property)


def _all_distinct(values: list) -> bool:
    """Whether no two values are equal. HubSpot's record ids are whole numbers: as int64 they are
    checked several times faster than as text, and distinct numbers mean distinct texts."""
    try:
        numbers = np.array(values, dtype=np.int64)
    except (ValueError, TypeError, OverflowError):
        numbers = None
    if numbers is not None and pd.Index(numbers).is_unique:
        return True
    return len(set(values)) == len(values)


def _plan_rows(local, remote, where, properties, id_property, mode, blank_cells):
    keys = local[id_property].astype(object)
    exists = where >= 0
    after, before, changed = _diff(local, remote, where, properties, exists, blank_cells)
    kind = np.full(len(local), ActionKind.UNCHANGED.value, dtype=object)
    kind[changed] = ActionKind.UPDATE.value
    kind[~exists] = ActionKind.CREATE.value
    kind, message = _apply_mode(pd.Series(kind, index=local.index, dtype=object), mode, id_property, keys)
    # Unchanged rows send nothing already; rows the mode turned into skips send nothing either.
    skipped = np.flatnonzero(kind.to_numpy() == ActionKind.SKIP.value)
    after[:, skipped] = None
    before[:, skipped] = None
    actions = pd.DataFrame({
        "row": local.index.to_numpy(),
        "key": _objects(keys.to_numpy()),
        "action": kind.to_numpy(),
        "record_id": _objects(_taken(remote["id"], where)),
        "updated_at": _objects(_taken(remote["updated_at"], where)),
        "message": _objects(message.to_numpy()),
    }, columns=ACTION_COLUMNS)
    # One object block per table, built in place (property-major, as pandas stores it).
    frame = lambda values: pd.DataFrame(values.T, columns=pd.Index(properties), dtype=object, copy=False)
    return actions, frame(after), frame(before)


def _objects(values: np.ndarray) -> pd.Series:
    """An action table's text column (key, record id, updated at, message) as objects, as the after
    and before tables hold their values, whatever the rows. Left to infer, pandas builds a string
    column (in Arrow when pyarrow is installed: a million cells cost a tenth of a second each way)
    that concatenating the parts mostly turned back into objects anyway."""
    return pd.Series(values, dtype=object, copy=False)


def _diff(local, remote, where, properties, exists, blank_cells):
    """Values to send and the values they replace, per property and row (None where nothing is
    sent), and whether each row sends anything.

    Only cells that differ at all (`!=`, which also holds between text and a missing value) are
    looked at further, so the work beyond one comparison per cell follows the changes, not the sheet.
    """
    after = np.empty((len(properties), len(local)), dtype=object)  # None throughout
    before = np.empty((len(properties), len(local)), dtype=object)
    changed = np.zeros(len(local), dtype=bool)
    for number, prop in enumerate(properties):
        mine = local[prop].to_numpy(dtype=object)
        if prop in remote:
            theirs = _taken(remote[prop], where).astype(object, copy=False)
        else:
            theirs = np.full(len(local), None, dtype=object)
        cells = np.flatnonzero(mine != theirs)
        mine, theirs = mine[cells], theirs[cells]
        has_mine = ~pd.isna(mine)
        has_theirs = ~pd.isna(theirs)
        differs = has_mine & ((~has_theirs) | (mine != theirs))
        send = mine[differs]
        if blank_cells == "clear":
            clear = ~has_mine & has_theirs & exists[cells]
            send = np.where(clear, "", np.where(differs, mine, None))[differs | clear]
            differs |= clear
        after[number, cells[differs]] = send
        changed[cells[differs]] = True
        replaced = differs & has_theirs
        before[number, cells[replaced]] = theirs[replaced]
    return after, before, changed


def _apply_mode(kind: pd.Series, mode: Mode, id_property: str, keys: pd.Series):
    """Turn actions the mode forbids into skips, with the reason a person needs."""
    message = pd.Series(None, index=kind.index, dtype=object)
    if mode is Mode.UPDATE:
        blocked = kind == ActionKind.CREATE.value
        message[blocked] = "no record with this " + id_property + " in HubSpot; mode update never creates"
    elif mode is Mode.CREATE:
        blocked = kind.isin([ActionKind.UPDATE.value, ActionKind.UNCHANGED.value])
        message[blocked] = "a record with this " + id_property + " exists in HubSpot; mode create never updates"
    else:
        return kind, message
    kind = kind.where(~blocked, ActionKind.SKIP.value)
    return kind, message


def _error_rows(local, errors, id_property, properties):
    actions = pd.DataFrame({
        "row": local.index.to_numpy(),
        "key": _objects(local[id_property].to_numpy()),
        "action": ActionKind.ERROR.value,
        "record_id": _objects(np.full(len(local), None)),
        "updated_at": _objects(np.full(len(local), None)),
        "message": _objects(errors.to_numpy()),
    }, columns=ACTION_COLUMNS)
    empty = pd.DataFrame(None, index=range(len(local)), columns=properties, dtype=object)
    return actions, empty, empty.copy()


UNOWNED = ("not archived: syncer never created or synced this record for this mapping "
           "(pass --archive-unowned to archive it anyway)")


def _archive_rows(remote, local_keys, properties, owned):
    gone = remote[~remote.index.isin(list(local_keys))]
    ours = np.ones(len(gone), dtype=bool) if owned is None else gone["id"].isin(list(owned)).to_numpy()
    actions = pd.DataFrame({
        "row": pd.NA,
        "key": _objects(gone.index.to_numpy()),
        "action": np.where(ours, ActionKind.ARCHIVE.value, ActionKind.SKIP.value),
        "record_id": _objects(gone["id"].to_numpy()),
        "updated_at": _objects(gone["updated_at"].to_numpy()),
        "message": _objects(np.where(ours, None, UNOWNED)),
    }, columns=ACTION_COLUMNS)
    empty = pd.DataFrame(None, index=range(len(gone)), columns=properties, dtype=object)
    return actions, empty, empty.copy()


def check_archive_share(archives: int, records: int, max_fraction: float, allowed: bool, *,
                        usable_rows: int | None = None, nothing: str = "sent") -> None:
    """Mirror mode's guard, for push and sync alike: an empty or truncated sheet must not wipe the
    object. Refuses (InputError) archiving more than `max_fraction` of the `records` unless
    `allowed`, and, from a sheet without one usable row (`usable_rows` 0), any archive at all.
    `nothing`: what the message says did not happen ("nothing was sent")."""
    if archives == 0:
        return
    if usable_rows == 0:
        raise InputError(
            f"mirror mode would archive all {archives} records because the sheet has no usable rows; "
            f"nothing was {nothing}. Check the source file")
    if archives > max_fraction * records and not allowed:
        raise InputError(
            f"mirror mode would archive {archives} of {records} records ({talk.percent(archives / records)}) "
            f"whose rows left the sheet, more than max_archive_fraction {talk.percent(max_fraction)}; nothing was "
            f"{nothing}. Check the sheet, or pass --allow-mass-archive if that is intended")


# --- cost ---------------------------------------------------------------------------------------


def estimate(plan: Plan, rate_limit=None, *, stale_check: bool = False) -> dict:
    """The API calls applying `plan` will make, per kind, and what they cost at the portal's rate
    limit (a hubspot RateLimit, or None when the portal has not reported one).

    Each kind goes out in batches of 100. Association links go out per step of the executor
    (STEP_INPUTS rows of a kind): per association column, a batch of links for the new targets and
    a batch of unlinks for the replaced ones (and `association_types`, look-ups only a plan file
    from before plans carried the type's category needs). `stale_check` (a saved plan) adds the
    read of every record it writes.
    `seconds` is the least time the calls take at the interval limit; `daily_share` the part of
    the daily allowance they use.
    `calls_per_rejected_row`: the most calls each row HubSpot rejects can add. The counts assume it
    accepts every row, or answers a bad one with a 207 item; a portal that rejects a batch whole
    (a 400, or 409 for a unique value in use) has it split in two, and the half that fails split
    again, until the bad row stands alone: two calls per halving of the largest batch.
    """
    calls = {kind.value: math.ceil(len(plan.of_kind(kind)) / BATCH_SIZE) for kind in WRITES}
    calls["associations"], calls["association_types"] = _association_calls(plan)
    calls["stale_check"] = _stale_check_calls(plan) if stale_check else 0
    total = sum(calls.values())
    largest = min(BATCH_SIZE, max(len(plan.of_kind(kind)) for kind in WRITES))
    limit = _limit_fields(rate_limit)
    interval = limit.get("max_per_interval")
    per_second = interval / ((limit.get("interval_ms") or 10_000) / 1000) if interval else None
    daily = limit.get("daily")
    return {
        "calls": calls,
        "total_calls": total,
        "seconds": round(total / per_second, 2) if per_second else None,
        "daily_share": total / daily if daily else None,
        "rate_limit": limit or None,
        "calls_per_rejected_row": 2 * math.ceil(math.log2(largest)) if largest > 1 else 0,
    }


def _stale_check_calls(plan: Plan) -> int:
    """One batch read per 100 distinct keys the plan writes (jobs.find_stale)."""
    writes = plan.actions.loc[plan.actions["action"].isin([k.value for k in WRITES]), "key"]
    return math.ceil(writes.dropna().nunique() / BATCH_SIZE)


def _association_calls(plan: Plan) -> tuple[int, int]:
    """(link and unlink batches, association type look-ups), step by step as the executor sends
    them. A plan carries each association type's category, so it needs no look-up; a plan file
    made before it did asks once per association column."""
    batches = lookups = 0
    for name, link in plan.meta.associations.items():
        if name not in plan.after:
            continue
        pairs = 0
        for kind in (ActionKind.CREATE, ActionKind.UPDATE):
            for step in plan.batches(kind, STEP_INPUTS):
                after, before = plan.after.loc[step, name], plan.before.loc[step, name]
                linked = after.notna() & (after != "")
                unlinked = after.notna() & before.notna() & (before != "")
                for count in (int(unlinked.sum()), int(linked.sum())):
                    batches += math.ceil(count / BATCH_SIZE)
                    pairs += count
        if pairs and not link.category:
            lookups += 1
    return batches, lookups


def _limit_fields(rate_limit) -> dict:
    """A RateLimit (from the client) or its dict (from a plan file) as a plain dict."""
    if rate_limit is None:
        return {}
    if isinstance(rate_limit, dict):
        return dict(rate_limit)
    return {name: getattr(rate_limit, name) for name in
            ("max_per_interval", "interval_ms", "daily", "daily_remaining")}


SHA256_TEXT = re.compile(r"[0-9a-f]{64}")


def with_estimate(built: Plan, rate_limit=None, *, stale_check: bool = False) -> Plan:
    """Store estimate() in the plan's meta; without `rate_limit`, at the one it was made with.
    `stale_check`: the plan will be applied as a saved one, reading its records first."""
    if rate_limit is None:
        rate_limit = (built.meta.estimate or {}).get("rate_limit")
    built.meta.estimate = estimate(built, rate_limit, stale_check=stale_check)
    return built


# --- a plan's own checks -------------------------------------------------------------------


def problems(plan: Plan) -> list[str]:
    """What makes a plan unsafe to apply whatever its digest says: a write its mode never makes, a
    key or record written twice (the batch would be refused and bisected, call after call), a write
    without the key or record id it is sent by, a malformed mapping or source digest. Empty when fine."""
    found = []
    kinds = plan.actions["action"]
    known = kinds.isin([k.value for k in ActionKind])
    for number in plan.actions.index[~known][:3]:
        found.append(f"action {number} has the unknown kind {kinds[number]!r}")
    allowed = UNDO_WRITES if plan.meta.is_undo else MODE_WRITES[plan.mode]
    for kind in set(WRITES) - allowed:
        numbers = plan.of_kind(kind)
        if len(numbers):
            found.append(f"action {numbers[0]} ({plan.actions.at[numbers[0], 'key']}) is {kind.value}, "
                         f"which mode {plan.mode.value} never does" + _more(len(numbers)))
    writes = plan.actions[kinds.isin([k.value for k in WRITES])]
    needs = {"key": [ActionKind.CREATE.value], "record_id": [ActionKind.UPDATE.value, ActionKind.ARCHIVE.value]}
    for column, name in (("key", plan.id_property), ("record_id", "record id")):
        values = writes[column]
        missing = values.isna() & writes["action"].isin(needs[column])
        if missing.any():
            found.append(f"action {values.index[missing][0]} ({writes.at[values.index[missing][0], 'action']}) "
                         f"has no {name}" + _more(int(missing.sum())))
        repeated = values[values.notna() & values.duplicated(keep=False)]
        if len(repeated):
            first = repeated.iloc[0]
            numbers = list(repeated.index[repeated == first])
            found.append(f"{name} {first!r} is written by more than one action ({', '.join(map(str, numbers[:5]))}"
                         + (", …" if len(numbers) > 5 else "") + ")" + _more(repeated.nunique(), "value"))
    for name in ("mapping_digest", "source_digest"):
        value = getattr(plan.meta, name)
        if value is not None and not (isinstance(value, str) and SHA256_TEXT.fullmatch(value) and value.strip("0")):
            found.append(f"{name} {value!r} is not the SHA-256 of a file")
    return found


def _more(count: int, what: str = "action") -> str:
    return f" (and {count - 1} more {what}{'' if count == 2 else 's'} like it)" if count > 1 else ""
