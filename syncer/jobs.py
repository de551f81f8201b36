"""The Python API behind `plan`, `push` and `apply`: each job wires the stages together.

A scheduler (cron, Airflow, Dagster) calls these exactly as the CLI does:

    with HubSpotClient(url, token) as client:
        built = syncer.build_plan("mappings/cars.yaml", client)
        results = syncer.apply_plan(built, client)
        syncer.write_results(results, "report.xlsx")
        results.raise_for_failures()
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import secrets
from collections import defaultdict, deque
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from syncer import execute, mapping, ownership, plan, report, tables, values
from syncer.errors import InputError
from syncer.execute import Outcome, Results, RowOutcome
from syncer.plan import ActionKind, Mode, Plan

STATUS_COLUMNS = ("sync_status", "sync_record_id", "sync_error")


@dataclass
class Prepared:
    """A mapping, its sheet and the portal's view of the object: everything a plan is built from."""

    mapping: mapping.Mapping
    table: tables.Table
    local: values.LocalRows
    object_type: object
    properties: list[dict]

    @property
    def mapped_properties(self) -> list[str]:
        return [c for c in self.local.frame.columns if not c.startswith(values.ASSOCIATION_PREFIX)]


def prepare(mapping_path: str | Path | mapping.Mapping, client, *, source: str | Path | None = None,
            object_type=None, properties: list[dict] | None = None) -> Prepared:
    """Load the mapping and the sheet, check both against the portal, convert cells to canonical form.

    `object_type` and `properties`, when the caller already knows them (sync keeps them in its
    snapshot), save the calls that would ask the portal for them.
    """
    m = mapping_path if isinstance(mapping_path, mapping.Mapping) else mapping.load(mapping_path)
    path = Path(source) if source else m.source
    if path is None:
        raise InputError(f"{m.path}: the mapping names no source; give one with --source FILE")
    is_csv = path.suffix.lower() in tables.CSV_SUFFIXES
    table = tables.read(path, sheet=None if is_csv else m.sheet, header_row=m.header_row)
    object_type = object_type or client.object_type(m.object)
    properties = properties if properties is not None else client.properties(object_type)
    problems = mapping.check(m, properties, table.header)
    if problems:
        raise InputError("the mapping does not fit the portal or the sheet:\n" +
                         "\n".join(f"  {p}" for p in problems))
    return Prepared(m, table, values.canonicalize(table, m, properties), object_type, properties)


def build_plan(mapping_path: str | Path, client, *, source: str | Path | None = None,
               mode: str | None = None, allow_mass_archive: bool = False,
               archive_unowned: bool = False, allow_numeric_keys: bool = False) -> Plan:
    """Read the sheet and the records it names (every record in mirror mode) and plan the changes.

    The plan's meta carries `estimate` (see plan.estimate) at the rate limit the portal reported
    while the plan was read. Mirror mode archives only records syncer owns for this mapping
    (see syncer.ownership) unless `archive_unowned`. A new key that looks like one a spreadsheet
    stripped of its leading zeros ("1" where HubSpot has "0001") is a row error unless
    `allow_numeric_keys` (see values.lost_zeros).
    """
    prepared = prepare(mapping_path, client, source=source)
    return plan_prepared(prepared, client, mode=mode, allow_mass_archive=allow_mass_archive,
                         archive_unowned=archive_unowned, allow_numeric_keys=allow_numeric_keys)


def plan_prepared(prepared: Prepared, client, *, mode: str | None = None,
                  allow_mass_archive: bool = False, archive_unowned: bool = False,
                  allow_numeric_keys: bool = False) -> Plan:
    m = prepared.mapping
    mode = Mode(mode or m.sync.mode)
    local = prepared.local.frame[prepared.mapped_properties].copy()
    remote = read_remote(prepared, client, mirror=mode is Mode.MIRROR)
    row_errors = _row_errors(prepared.local)
    if not allow_numeric_keys:
        for row, message in lost_zeros(prepared, client, remote).items():
            row_errors[row] = f"{row_errors[row]}; {message}" if row in row_errors else message
    meta = _plan_meta(prepared, client)
    meta["max_daily_share"] = m.sync.max_daily_share
    if m.associations:
        meta["associations"] = _plan_associations(prepared, client, local, remote, row_errors)
    object_type = prepared.object_type.object_type_id
    owned = None
    if mode is Mode.MIRROR and not archive_unowned:
        owned = ownership.owned(m.path, object_type)
    built = plan.build(
        local, remote, object_type=object_type, id_property=m.id_property,
        mode=mode, blank_cells=m.sync.blank_cells, row_errors=row_errors,
        max_archive_fraction=m.sync.max_archive_fraction, allow_mass_archive=allow_mass_archive,
        owned=owned, meta=meta)
    return with_estimate(built, getattr(client, "rate_limit", None))


def with_estimate(built: Plan, rate_limit=None, *, stale_check: bool = False) -> Plan:
    """Store plan.estimate in the plan's meta; without `rate_limit`, at the one it was made with.
    `stale_check`: the plan will be applied as a saved one, reading its records first."""
    if rate_limit is None:
        rate_limit = (built.meta.get("estimate") or {}).get("rate_limit")
    built.meta["estimate"] = plan.estimate(built, rate_limit, stale_check=stale_check)
    return built


def _plan_associations(prepared: Prepared, client, local: pd.DataFrame, remote: pd.DataFrame,
                       row_errors: dict[int, str]) -> dict[str, dict]:
    """Add each association column to `local` and `remote` as a pseudo-property whose value is the
    target record id, so the planner diffs it like any property. Returns what the executor needs."""
    described = {}
    keys = local[prepared.mapping.id_property]
    for spec in prepared.mapping.associations:
        name = values.ASSOCIATION_PREFIX + spec.column
        if name not in prepared.local.frame:
            continue
        to_type = client.object_type(spec.to)
        kind = client.association_spec(prepared.object_type, to_type, spec.label)
        wanted = _association_targets(prepared.local.frame[name], spec, client, to_type, row_errors)
        local[name] = wanted
        desired = dict(zip(keys[wanted.notna()], wanted[wanted.notna()]))
        current = client.batch_read_associations(prepared.object_type, to_type, remote["id"].dropna())
        remote[name] = [current_target(current.get(record_id, []), kind.type_id, desired.get(key))
                        for key, record_id in zip(remote.index, remote["id"])]
        described[name] = {"to": to_type.object_type_id, "type_id": kind.type_id, "category": kind.category,
                           "column": spec.column,
                           "shown": _shown_targets(prepared.local.frame[name], wanted, remote[name], desired,
                                                   spec, client, to_type)}
    return described


def _association_targets(cells: pd.Series, spec, client, to_type, row_errors: dict[int, str]) -> pd.Series:
    """Target record id per row, found by the spec's match property; unknown targets are row errors."""
    found = client.batch_read(to_type, cells.dropna().unique(), id_property=spec.match)
    targets = cells.map(lambda value: found[value].id if value in found else None).astype(object)
    for row, value in cells[cells.notna() & targets.isna()].items():
        problem = f'column "{spec.column}": no {spec.to} record with {spec.match} {value!r}'
        row_errors[row] = f"{row_errors[row]}; {problem}" if row in row_errors else problem
    return targets.where(targets.notna(), None)


def _shown_targets(cells: pd.Series, wanted: pd.Series, current: pd.Series, desired: dict, spec, client,
                   to_type) -> dict[str, str]:
    """Target record id → the value a person knows it by (its `match` property, e.g. an email), so
    plans show `ann@x.com → bo@x.com` rather than record ids: the sheet's own values, and for the
    targets a change replaces, their values read (one call per 100 of them)."""
    shown = {target: cell for cell, target in zip(cells, wanted) if target is not None}
    replaced = {target for key, target in current.items()
                if target is not None and target not in shown and desired.get(key) != target}
    return shown | target_values(client, to_type, spec.match, replaced)


def target_values(client, to_type, match: str, targets) -> dict[str, str]:
    """Target record id → its `match` value, canonical as a cell of the association column is
    (an email lower-cased): one call per 100 distinct ids; ids without a value are left out."""
    wanted = {t for t in targets if t}
    found = client.batch_read(to_type, wanted, properties=[match]) if wanted else {}
    ids = list(found)
    shown = values.association_keys(pd.Series([found[i].properties.get(match) for i in ids], dtype=object), match)
    return {i: value for i, value in zip(ids, shown) if value is not None}


def current_target(associations, type_id: int, preferred: str | None) -> str | None:
    """A record's current target under one association type: `preferred` (the one the sheet names,
    or the one the last sync saw) while still linked, else the first (the sheet shows one)."""
    linked = [a.to_id for a in associations if type_id in a.type_ids]
    return preferred if preferred in linked else (linked[0] if linked else None)


def read_remote(prepared: Prepared, client, *, mirror: bool = False) -> pd.DataFrame:
    """Remote records as a frame: index = canonical id value; columns id, updated_at and properties."""
    m = prepared.mapping
    names = prepared.mapped_properties
    if mirror:
        records = {r.properties.get(m.id_property): r
                   for r in client.list_records(prepared.object_type, properties=names)}
        records.pop(None, None)
    else:
        keys = prepared.local.frame[m.id_property].dropna().unique()
        records = client.batch_read(prepared.object_type, keys, id_property=m.id_property, properties=names)
    return remote_frame(records, names, prepared.properties)


def lost_zeros(prepared: Prepared, client, remote: pd.DataFrame) -> dict[int, str]:
    """values.lost_zeros for the sheet's keys HubSpot lacks, looked up by batch read."""
    m = prepared.mapping
    id_prop = next((p for p in prepared.properties if p["name"] == m.id_property), None)
    keys = prepared.local.frame[m.id_property]
    new = keys[keys.notna() & ~keys.isin(remote.index)]
    if id_prop is None or not len(new):
        return {}
    return values.lost_zeros(new, id_prop, lambda wanted: set(client.batch_read(
        prepared.object_type, wanted, id_property=m.id_property)))


def remote_frame(records: dict, names: list[str], properties: list[dict]) -> pd.DataFrame:
    frame = pd.DataFrame([{n: r.properties.get(n) for n in names} for r in records.values()],
                         index=list(records), columns=names, dtype=object)
    frame = values.normalize_remote(frame, properties) if len(frame) else frame
    frame.insert(0, "id", [r.id for r in records.values()])
    frame.insert(1, "updated_at", [r.updated_at for r in records.values()])
    return frame


def _row_errors(local: values.LocalRows) -> dict[int, str]:
    messages = defaultdict(list)
    for error in local.errors:
        messages[error.row].append(f'column "{error.column}": {error.message}')
    return {row: "; ".join(found) for row, found in messages.items()}


def _plan_meta(prepared: Prepared, client) -> dict:
    return {
        "created_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "portal": portal_identity(client, prepared.object_type),
        "mapping": str(prepared.mapping.path),
        "mapping_digest": prepared.mapping.digest,
        "source": str(prepared.table.path),
        "source_digest": prepared.table.digest,
        "sheet": prepared.table.sheet,
        "header_row": prepared.mapping.header_row,
    }


def portal_identity(client, object_type) -> str:
    """Which portal a plan belongs to: its id where a custom object's name carries it
    (p{portalId}_name), else the base URL. The embedded sandbox's port changes; its id does not."""
    name = client.object_type(object_type).fully_qualified_name
    portal_id = name[1:].split("_", 1)[0] if name.startswith("p") and "_" in name else ""
    return f"portal {portal_id}" if portal_id.isdigit() else client.base_url


def check_portal(built: Plan, client) -> None:
    """Refuse to apply a plan made against another portal."""
    planned = built.meta.get("portal")
    current = portal_identity(client, built.object_type)
    if planned and planned != current:
        raise InputError(f"the plan was made against {planned}, not {current}; make a new plan there")


# --- applying ----------------------------------------------------------------------------------


def apply_plan(built: Plan, client, *, check_stale: bool = False, replan: bool = False,
               on_progress=None, should_stop=lambda: False, undo: bool = True) -> Results:
    """Execute a plan. With `check_stale` (a plan read from a file), records that changed in
    HubSpot since the plan was made are left alone and reported as conflicts — or, with `replan`,
    planned again against their current values.

    Afterwards the records written or found in step are recorded as owned by the plan's mapping,
    and (with `undo`, when anything was written) an undo plan is saved; `results.meta` carries
    `run_id`, `estimate` and `undo` (its path, or None). `results.calls` counts every request the
    run made, the stale check's reads included, as the estimate does.
    """
    built = with_estimate(dataclasses.replace(built, meta=dict(built.meta)), stale_check=check_stale)
    calls_before = getattr(client, "calls", 0)
    conflicts: dict[int, str] = {}
    if check_stale:
        stale = find_stale(built, client)
        if replan:
            built = _replan(built, stale, client)
        else:
            conflicts = {n: why for n, (why, _) in stale.items()}
    results = execute.apply(built, client, conflicts=conflicts, on_progress=on_progress,
                            should_stop=should_stop)
    results.meta.update({k: built.meta[k] for k in ("mapping", "source") if k in built.meta})
    results.meta["run_id"] = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ-") + secrets.token_hex(2)
    results.meta["estimate"] = built.meta.get("estimate")
    _record_ownership(built, results)
    undo_plan = build_undo(built, results, client) if undo else None
    results.meta["undo"] = None
    if undo_plan is not None:
        path = undo_path(built, results.meta["run_id"])
        path.parent.mkdir(parents=True, exist_ok=True)
        save_plan(undo_plan, path)
        results.meta["undo"] = str(path)
    results.calls = getattr(client, "calls", 0) - calls_before  # the stale check's reads included
    return results


def _record_ownership(built: Plan, results: Results) -> None:
    if not built.meta.get("mapping"):
        return
    kept = (Outcome.CREATED, Outcome.UPDATED, Outcome.UNCHANGED)
    ownership.record(built.meta["mapping"], built.object_type,
                     synced=[o.record_id for o in results.outcomes if o.outcome in kept and o.record_id],
                     archived=[o.record_id for o in results.outcomes if o.outcome is Outcome.ARCHIVED])


def over_budget(built: Plan) -> str | None:
    """Why the plan needs a second yes: it would use more than the mapping's max_daily_share of the
    portal's daily allowance (None when within it, or when the portal reports no daily limit)."""
    share = (built.meta.get("estimate") or {}).get("daily_share")
    threshold = built.meta.get("max_daily_share", 0.1)
    if share is None or share <= threshold:
        return None
    calls = built.meta["estimate"]["total_calls"]
    return (f"this run would make {calls:,} API calls, {share:.2%} of the portal's daily allowance, "
            f"more than sync.max_daily_share {threshold:.2%}")


# --- retry -------------------------------------------------------------------------------------


def _identity(key, record_id) -> tuple | None:
    """What finds a row again after the sheet changed: its key (the id property's value), else its
    record id; None for a line with neither. Never the sheet row: rows move when others are inserted."""
    if not pd.isna(key):
        return ("key", key)
    if not pd.isna(record_id):
        return ("record", record_id)
    return None


def _outcome_identity(outcome: RowOutcome) -> tuple | None:
    return _identity(outcome.key, outcome.record_id)


def retry_plan(built: Plan, previous: Results) -> Plan:
    """Only the actions for the rows that failed or conflicted in a previous run's results, found
    again by key (record id for a line without one), so rows inserted or deleted since do not shift
    the match. The failed rows it cannot find are listed, one message each, in meta `not_retried`."""
    wanted = {_outcome_identity(o) for o in previous.problems} - {None}
    found = [_identity(k, r) for k, r in zip(built.actions["key"], built.actions["record_id"])]
    keep = built.actions.index[[identity in wanted for identity in found]]
    present = set(found) - {None}
    retried = built.select(keep)
    lost = [o for o in previous.problems if _outcome_identity(o) not in present]
    retried.meta["not_retried"] = [_not_retried(o, built.id_property) for o in lost]
    return with_estimate(retried)


def _not_retried(outcome: RowOutcome, id_property: str) -> str:
    where = f"row {outcome.row}" if outcome.row is not None else f"record {outcome.record_id}"
    if outcome.key is None:
        return (f"{where}: not retried: it had no {id_property} value, so it cannot be found again; "
                "push without --retry-failed to send it")
    return (f"{where} ({outcome.key}): not retried: no row of the sheet has {id_property} {outcome.key!r} "
            "now (deleted, or its key changed?)")


def merge_results(previous: Results, retried: Results) -> Results:
    """One ledger: the previous report's rows, each replaced by its retry's outcome where retried
    (matched by key, as retry_plan matches them); anything else the retry did is added at the end."""
    newer: dict[tuple | None, deque[RowOutcome]] = defaultdict(deque)
    for outcome in retried.outcomes:
        newer[_outcome_identity(outcome)].append(outcome)
    merged = []
    for outcome in previous.outcomes:
        identity = _outcome_identity(outcome)
        queue = newer.get(identity) if identity is not None else None
        merged.append(queue.popleft() if queue else outcome)
    merged.extend(outcome for queue in newer.values() for outcome in queue)
    meta = {**previous.meta, **retried.meta, "retried_rows": len(retried.outcomes)}
    return Results(merged, calls=retried.calls, interrupted=retried.interrupted, meta=meta,
                   updated_at=retried.updated_at)


# --- undo --------------------------------------------------------------------------------------

RECYCLE_BIN_DAYS = 90  # HubSpot keeps archived records restorable in the UI this long; the API cannot restore


def undo_path(built: Plan, run_id: str) -> Path:
    """`.syncer/undo-<run id>.json` beside the plan's mapping (the working directory without one)."""
    mapping_path = built.meta.get("mapping")
    folder = Path(mapping_path).parent / ".syncer" if mapping_path else Path(".syncer")
    return folder / f"undo-{run_id}.json"


def build_undo(built: Plan, results: Results, client) -> Plan | None:
    """The plan that reverts a run: updated records get their before values back (a property that
    was empty is cleared), records the run created are archived. None when the run wrote nothing.

    Its `updated_at` per record is the one HubSpot answered the run's write with (read again only
    where an answer lacked it), so applying it refuses records changed since. Records the run
    archived cannot be restored through the API, nor can values the run overwrote on a record a
    planned create found already there; both are listed in meta `not_restorable`.
    """
    by_row = {n: o for n, o in zip(built.actions.index, results.outcomes)}
    updated = [n for n, o in by_row.items() if o.outcome is Outcome.UPDATED and o.action == ActionKind.UPDATE.value]
    created = [n for n, o in by_row.items() if o.outcome is Outcome.CREATED]
    archived = [o for o in by_row.values() if o.outcome is Outcome.ARCHIVED]
    # planned creates that found the record already there (upsert answered new: false)
    found_existing = [o for o in by_row.values()
                      if o.outcome is Outcome.UPDATED and o.action == ActionKind.CREATE.value]
    if not (updated or created or archived or found_existing):
        return None
    numbers = updated + created
    now = dict(results.updated_at)
    unanswered = [n for n in numbers if by_row[n].record_id not in now]
    if unanswered:  # a write answered without updatedAt: read it
        now.update(_updated_at(built, client, unanswered))
    actions = built.actions.loc[numbers].copy()
    actions["action"] = [ActionKind.UPDATE.value] * len(updated) + [ActionKind.ARCHIVE.value] * len(created)
    actions["record_id"] = [by_row[n].record_id for n in numbers]
    actions["updated_at"] = [now.get(by_row[n].record_id) for n in numbers]
    actions["message"] = None
    sent = built.after.loc[numbers]
    after = built.before.loc[numbers].where(sent.notna(), None).astype(object)
    after = after.where(after.notna() | sent.isna(), "")  # a property that had no value is cleared
    after.loc[created] = None
    before = sent.astype(object).where(sent.notna(), None)
    before.loc[created] = None
    meta = {k: built.meta[k] for k in ("portal", "mapping", "associations") if k in built.meta}
    meta.update({
        "created_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "undo_of": results.meta.get("run_id"),
        "not_restorable": [{"key": o.key, "record_id": o.record_id,
                            "note": f"archived by the run; restore it from HubSpot's recycle bin within "
                                    f"{RECYCLE_BIN_DAYS} days (the API cannot restore archived records)"}
                           for o in archived] +
                          [{"key": o.key, "record_id": o.record_id,
                            "note": "planned as a create, but HubSpot already had the record; its values "
                                    "before the run are unknown, so undo leaves it as it is"}
                           for o in found_existing],
    })
    undo = Plan(built.object_type, built.id_property, built.mode, built.properties,
                actions.reset_index(drop=True), after.reset_index(drop=True), before.reset_index(drop=True), meta)
    return with_estimate(undo, getattr(client, "rate_limit", None))


def _updated_at(built: Plan, client, numbers: list[int]) -> dict[str, str]:
    """record id → updatedAt now, read by id property (the key every plan action carries)."""
    keys = built.actions.loc[numbers, "key"].dropna().unique()
    if not len(keys):
        return {}
    found = client.batch_read(built.object_type, keys, id_property=built.id_property)
    return {record.id: record.updated_at for record in found.values()}


def find_stale(built: Plan, client) -> dict[int, tuple[str, object]]:
    """Action number → (why, current record) for every write whose record changed since planning."""
    writes = built.actions[built.actions["action"].isin([k.value for k in plan.WRITES])]
    if writes.empty:
        return {}
    current = client.batch_read(built.object_type, writes["key"].dropna().unique(),
                                id_property=built.id_property, properties=built.properties)
    stale = {}
    for number, line in writes.iterrows():
        record = current.get(line["key"])
        if line["action"] == ActionKind.CREATE.value:
            if record is not None:
                stale[number] = (f"a record with this {built.id_property} was created in HubSpot "
                                 "since the plan was made", record)
        elif record is None:
            stale[number] = ("the record is no longer in HubSpot (archived since the plan was made)", None)
        elif record.updated_at != line["updated_at"]:
            stale[number] = (f"changed in HubSpot since the plan was made (updatedAt {line['updated_at']} → "
                             f"{record.updated_at}); make a new plan or apply with --replan", record)
    return stale


def _replan(built: Plan, stale: dict, client) -> Plan:
    """Plan stale actions again: the plan's intended values against the records as they are now."""
    if not stale:
        return built
    after, actions = built.after.copy(), built.actions.copy()
    for number, (_, record) in stale.items():
        if actions.at[number, "action"] == ActionKind.ARCHIVE.value:
            actions.at[number, "updated_at"] = record.updated_at if record else None
            if record is None:
                actions.at[number, "action"] = ActionKind.UNCHANGED.value
            continue
        if record is None:  # an update whose record is gone: create it again
            actions.loc[number, ["action", "record_id", "updated_at"]] = [ActionKind.CREATE.value, None, None]
            continue
        wanted = after.loc[number]
        for prop, value in wanted[wanted.notna()].items():
            now = record.properties.get(prop)
            if (now or "") == value:
                after.at[number, prop] = None
        changed = after.loc[number].notna().any()
        actions.loc[number, ["action", "record_id", "updated_at"]] = [
            ActionKind.UPDATE.value if changed else ActionKind.UNCHANGED.value, record.id, record.updated_at]
    return Plan(built.object_type, built.id_property, built.mode, built.properties, actions, after,
                built.before, dict(built.meta))


def skip_actions(built: Plan, numbers, why: str) -> Plan:
    """The same plan with some actions turned into skips (sent nothing, reported with `why`)."""
    actions, after, before = built.actions.copy(), built.after.copy(), built.before.copy()
    actions.loc[numbers, "action"] = ActionKind.SKIP.value
    actions.loc[numbers, "message"] = why
    after.loc[numbers] = None
    before.loc[numbers] = None
    return Plan(built.object_type, built.id_property, built.mode, built.properties, actions, after, before,
                dict(built.meta))


def load_plan(path: str | Path) -> Plan:
    """A plan file, or a review workbook's plan restricted to the rows still approved (see
    report.read_review). Its estimate counts the reads of apply_plan's stale check."""
    path = Path(path)
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        document, approved = report.read_review(path)
        built = plan.from_json(document, source=str(path))
        declined = built.actions.index[built.actions["action"].isin([k.value for k in plan.WRITES])
                                       & ~built.actions.index.isin(approved)]
        return with_estimate(skip_actions(built, declined, f"not approved in {path.name}"), stale_check=True)
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise InputError(f"{path}: cannot read the plan file ({exc})") from None
    return with_estimate(plan.from_json(document, source=str(path)), stale_check=True)


def save_plan(built: Plan, path: str | Path) -> None:
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(plan.dumps(built), encoding="utf-8")
    tmp.replace(path)


# --- write-back --------------------------------------------------------------------------------


def write_back(results: Results, built: Plan) -> Path:
    """Add sync_status, sync_record_id and sync_error to the plan's source sheet (an xlsx is edited
    in place) and return its path. Refused, with nothing written, when the file changed since the
    plan read it: its rows may have moved, and a status on the wrong row is worse than none."""
    source = Path(built.meta["source"])
    if built.meta.get("source_digest") and tables.file_digest(source) != built.meta["source_digest"]:
        raise InputError(f"{source}: changed since syncer read it (saved meanwhile?), so its rows may have "
                         "moved; the results are not written back into it (the report has them)")
    cells = {}
    for o in results.outcomes:
        if o.row is None:
            continue
        cells[(o.row, "sync_status")] = o.outcome.value
        cells[(o.row, "sync_record_id")] = o.record_id or ""
        cells[(o.row, "sync_error")] = o.error_message or ""
    tables.edit_workbook(source, sheet=built.meta.get("sheet"), header_row=built.meta.get("header_row") or 1,
                         cells=cells, add_columns=list(STATUS_COLUMNS))
    return source
