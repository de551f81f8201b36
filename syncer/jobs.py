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
import logging
import os
import secrets
from collections import defaultdict, deque
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from syncer import execute, mapping, ownership, plan, portals, report, settings, tables, talk, values
from syncer.errors import InputError, PortalError
from syncer.execute import Outcome, Results, RowOutcome
from syncer.hubspot.errors import ValidationError
from syncer.plan import ActionKind, Mode, Plan

if TYPE_CHECKING:
    from syncer.hubspot.protocol import PortalClient

STATUS_COLUMNS = report.STATUS_COLUMNS  # what write-back adds to the sheet (an errors file carries them too)


@dataclass
class Prepared:
    """A mapping, its sheet and the portal's view of the object: everything a plan is built from."""

    mapping: mapping.Mapping
    table: tables.Table
    local: values.LocalRows
    object_type: object
    properties: list[dict]
    portal: portals.Portal

    @property
    def mapped_properties(self) -> list[str]:
        return [c for c in self.local.frame.columns if not c.startswith(values.ASSOCIATION_PREFIX)]


def prepare(mapping_path: str | Path | mapping.Mapping, client: PortalClient, *, source: str | Path | None = None,
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
    with talk.phase(f"read {path.name}") as done:
        table = tables.read(path, sheet=None if is_csv else m.sheet, header_row=m.header_row)
        done(f"{len(table.frame):,} rows")
    with talk.phase("asked the portal for the object and its properties") as done:
        object_type, portal = portals.reach(m, client, object_type)
        properties = properties if properties is not None else client.properties(object_type)
        done(f"{object_type.name} on {portal}")
    problems = mapping.check(m, properties, table.header)
    if problems:
        missing = any(" has no property " in p.message for p in problems)
        shown = m.path.relative_to(Path.cwd()) if m.path.is_relative_to(Path.cwd()) else m.path
        hint = f"\n  to create the missing properties: syncer schema plan {shown}" if missing else ""
        raise InputError("the mapping does not fit the portal or the sheet:\n" +
                         "\n".join(f"  {p}" for p in problems) + hint)
    with talk.phase("converted the cells") as done:
        local = values.canonicalize(table, m, properties)
        done(f"{len(local.errors):,} cell errors")
    return Prepared(m, table, local, object_type, properties, portal)


def build_plan(mapping_path: str | Path, client: PortalClient, *, source: str | Path | None = None,
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


def plan_prepared(prepared: Prepared, client: PortalClient, *, mode: str | None = None,
                  allow_mass_archive: bool = False, archive_unowned: bool = False,
                  allow_numeric_keys: bool = False) -> Plan:
    m = prepared.mapping
    mode = Mode(mode or m.sync.mode)
    local = prepared.local.frame[prepared.mapped_properties].copy()
    remote = read_remote(prepared, client, mirror=mode is Mode.MIRROR)
    row_errors = _row_errors(prepared.local)
    if not allow_numeric_keys:
        keys = prepared.local.frame[m.id_property]
        for row, message in lost_zeros(prepared, client, keys[keys.notna() & ~keys.isin(remote.index)]).items():
            row_errors[row] = f"{row_errors[row]}; {message}" if row in row_errors else message
    meta = _plan_meta(prepared, client)
    meta["max_daily_share"] = m.sync.max_daily_share
    meta["display"] = display_description(prepared)
    if m.associations:
        meta["associations"] = _plan_associations(prepared, client, local, remote, row_errors)
    object_type = prepared.object_type.object_type_id
    owned = None
    if mode is Mode.MIRROR and not archive_unowned:
        owned = ownership.owned(m.path, prepared.portal.key, object_type)
    with talk.phase("planned") as done:
        built = plan.build(
            local, remote, object_type=object_type, id_property=m.id_property,
            mode=mode, blank_cells=m.sync.blank_cells, row_errors=row_errors,
            max_archive_fraction=m.sync.max_archive_fraction, allow_mass_archive=allow_mass_archive,
            owned=owned, meta=meta)
        done(", ".join(f"{kind} {n:,}" for kind, n in built.counts().items() if n))
    _describe_archived(built, remote)
    return with_estimate(built, client.rate_limit)


def display_description(prepared: Prepared) -> dict:
    """What a review workbook needs to show a plan as the sheet shows it (report.write_review):
    the object's name, the mapping's columns and their properties' definitions (types, option
    labels). Kept in the plan's meta `display`, so a plan file read back later shows the same, and
    its digest covers it; small: the mapped properties only, and of each what values.to_cells reads."""
    mapped = {spec.property for spec in prepared.mapping.columns.values()}
    return {
        "object": prepared.object_type.name,
        "columns": {column: spec.model_dump(exclude_defaults=True)
                    for column, spec in prepared.mapping.columns.items()},
        "properties": [_shown_definition(p) for p in prepared.properties if p["name"] in mapped],
    }


def _shown_definition(prop: dict) -> dict:
    """The part of a property definition values.to_cells reads: name, type, field type, options."""
    kept = {k: prop[k] for k in ("name", "type", "fieldType") if k in prop}
    if prop.get("options"):
        kept["options"] = [{"value": o["value"], "label": o.get("label")} for o in prop["options"]]
    return kept


def _describe_archived(built: Plan, remote: pd.DataFrame) -> None:
    """Add each archived record's current values to the plan's display description (record id →
    property → canonical value), so a review shows what goes to the recycle bin, not only a key."""
    keys = built.actions.loc[built.of_kind(ActionKind.ARCHIVE), ["key", "record_id"]]
    if keys.empty:
        return
    current = remote.loc[keys["key"].to_numpy(), built.properties]
    built.meta["display"]["archived"] = {
        record_id: {p: v for p, v in zip(built.properties, line) if not pd.isna(v)}
        for record_id, line in zip(keys["record_id"], current.to_numpy(dtype=object))}


def with_estimate(built: Plan, rate_limit=None, *, stale_check: bool = False) -> Plan:
    """Store plan.estimate in the plan's meta; without `rate_limit`, at the one it was made with.
    `stale_check`: the plan will be applied as a saved one, reading its records first."""
    if rate_limit is None:
        rate_limit = (built.meta.get("estimate") or {}).get("rate_limit")
    built.meta["estimate"] = plan.estimate(built, rate_limit, stale_check=stale_check)
    return built


def _plan_associations(prepared: Prepared, client: PortalClient, local: pd.DataFrame, remote: pd.DataFrame,
                       row_errors: dict[int, str]) -> dict[str, dict]:
    """Add each association column to `local` and `remote` as a pseudo-property whose value is the
    target record id, so the planner diffs it like any property. Returns what the executor needs."""
    described = {}
    keys = local[prepared.mapping.id_property]
    for number, spec in enumerate(prepared.mapping.associations):
        name = values.ASSOCIATION_PREFIX + spec.column
        if name not in prepared.local.frame:
            continue
        to_type = client.object_type(spec.to)
        kind = client.association_spec(prepared.object_type, to_type, spec.label)
        try:
            wanted = _association_targets(prepared.local.frame[name], spec, client, to_type, row_errors)
        except ValidationError as exc:  # HubSpot refuses `match` as an idProperty: a mapping problem
            raise InputError(f"{prepared.mapping.path.name}: associations[{number}].match: {spec.to} records "
                             f'cannot be found by "{spec.match}" ({exc}); name a unique property of {spec.to}, '
                             "such as email for contacts (syncer validate lists the problems)") from None
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


def _association_targets(cells: pd.Series, spec, client: PortalClient, to_type, row_errors: dict[int, str]) -> pd.Series:
    """Target record id per row, found by the spec's match property; unknown targets are row errors."""
    found = client.batch_read(to_type, cells.dropna().unique(), id_property=spec.match)
    targets = cells.map(lambda value: found[value].id if value in found else None).astype(object)
    for row, value in cells[cells.notna() & targets.isna()].items():
        problem = f'column "{spec.column}": no {spec.to} record with {spec.match} {value!r}'
        row_errors[row] = f"{row_errors[row]}; {problem}" if row in row_errors else problem
    return targets.where(targets.notna(), None)


def _shown_targets(cells: pd.Series, wanted: pd.Series, current: pd.Series, desired: dict, spec, client: PortalClient,
                   to_type) -> dict[str, str]:
    """Target record id → the value a person knows it by (its `match` property, e.g. an email), so
    plans show `ann@x.com → bo@x.com` rather than record ids: the sheet's own values, and for the
    targets a change replaces, their values read (one call per 100 of them)."""
    shown = {target: cell for cell, target in zip(cells, wanted) if target is not None}
    replaced = {target for key, target in current.items()
                if target is not None and target not in shown and desired.get(key) != target}
    return shown | target_values(client, to_type, spec.match, replaced)


def target_values(client: PortalClient, to_type, match: str, targets) -> dict[str, str]:
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


def read_remote(prepared: Prepared, client: PortalClient, *, mirror: bool = False) -> pd.DataFrame:
    """Remote records as a frame: index = canonical id value; columns id, updated_at and properties."""
    m = prepared.mapping
    names = prepared.mapped_properties
    with talk.phase("read HubSpot's records") as done:
        if mirror:
            records = {r.properties.get(m.id_property): r
                       for r in client.list_records(prepared.object_type, properties=names)}
            records.pop(None, None)
        else:
            keys = prepared.local.frame[m.id_property].dropna().unique()
            records = client.batch_read(prepared.object_type, keys, id_property=m.id_property, properties=names)
        done(f"{len(records):,} found" + ("" if mirror else f" of {len(keys):,} keys"))
    return remote_frame(records, names, prepared.properties)


def lost_zeros(prepared: Prepared, client: PortalClient, new_keys: pd.Series) -> dict[int, str]:
    """values.lost_zeros for `new_keys` (by sheet row: keys HubSpot lacks), looked up by batch read."""
    m = prepared.mapping
    id_prop = next((p for p in prepared.properties if p["name"] == m.id_property), None)
    if id_prop is None or not len(new_keys):
        return {}
    return values.lost_zeros(new_keys, id_prop, lambda wanted: set(client.batch_read(
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


def _plan_meta(prepared: Prepared, client: PortalClient) -> dict:
    return {
        "created_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "portal": prepared.portal.name,
        "hub_id": prepared.portal.hub_id,
        "mapping": str(prepared.mapping.path),
        "mapping_digest": prepared.mapping.digest,
        "source": str(prepared.table.path),
        "source_digest": prepared.table.digest,
        "sheet": prepared.table.sheet,
        "header_row": prepared.mapping.header_row,
    }


def check_portal(built: Plan, client: PortalClient) -> None:
    """Refuse (PortalError, exit 3) to apply a plan made against another portal than `client`'s:
    compared by hub id where both are known (a reset sandbox is another portal), else by name."""
    planned, current = portals.planned(built.meta), portals.of(client)
    if planned is None:
        return
    same = planned.hub_id == current.hub_id if planned.hub_id and current.hub_id else planned.name == current.name
    if not same:
        raise PortalError(f"the plan was made against {planned}, not {current}, which this run reached; "
                          "nothing was done: make a new plan there")


# --- applying ----------------------------------------------------------------------------------


def apply_plan(built: Plan, client: PortalClient, *, check_stale: bool = False, replan: bool = False,
               on_progress=None, should_stop=lambda: False, undo: bool = True) -> Results:
    """Execute a plan. With `check_stale` (a plan read from a file), records that changed in
    HubSpot since the plan was made are left alone and reported as conflicts — or, with `replan`,
    planned again against their current values.

    With `undo`, each step's undo entries are appended to the run's journal before the step is sent
    (see _Journal), a journal an earlier run on this mapping left behind is first turned into its
    undo plan and named (see recover_journals), and at the end an undo plan is saved when anything
    was written (the journal is then removed). The records written or found in step are recorded
    as owned by the plan's mapping. `results.meta` carries `run_id`, `started_at`, `estimate`,
    `undo` (its path, or None) and `recovered_undo` (undo plans made from earlier runs' journals). `results.calls` counts every request the
    run made, the stale check's reads included, as the estimate does.
    """
    refuse_unsafe(built)
    built = with_estimate(dataclasses.replace(built, meta=dict(built.meta)), stale_check=check_stale)
    recovered = recover_journals(built, client) if undo else []
    calls_before = client.calls
    conflicts: dict[int, str] = {}
    if check_stale:
        stale = find_stale(built, client)
        if replan:
            built = _replan(built, stale, client)
        else:
            conflicts = {n: why for n, (why, _) in stale.items()}
    run_id = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ-") + secrets.token_hex(2)
    started_at = execute.now_iso()
    journal = _Journal(built, run_id, started_at) if undo else None
    try:
        with talk.phase("applied") as done:
            results = execute.apply(built, client, conflicts=conflicts, on_progress=on_progress,
                                    should_stop=should_stop, before_send=journal and journal.append,
                                    started_at=started_at)
            done(", ".join(f"{outcome} {n:,}" for outcome, n in results.counts().items() if n)
                 + f"; {results.calls:,} API calls")
    finally:
        if journal is not None:
            journal.close()  # kept on an error: the next run on this mapping turns it into an undo plan
    results.meta.update({k: built.meta[k] for k in ("mapping", "source", "source_digest", "sheet", "header_row",
                                                    *portals.META_FIELDS) if k in built.meta})
    results.meta.update(run_id=run_id, started_at=started_at, recovered_undo=recovered)
    results.meta["estimate"] = built.meta.get("estimate")
    _record_ownership(built, results)
    undo_plan = build_undo(built, results, client) if undo else None
    results.meta["undo"] = None
    if undo_plan is not None:
        path = undo_path(built, results.meta["run_id"])
        path.parent.mkdir(parents=True, exist_ok=True)
        save_plan(undo_plan, path)
        results.meta["undo"] = str(path)
    if journal is not None:
        journal.remove()  # the undo plan (or, when nothing was written, nothing) replaces it
    results.calls = client.calls - calls_before  # the stale check's reads included
    results.meta["finished_at"] = execute.now_iso()
    return results


def refuse_unsafe(built: Plan) -> None:
    """apply_plan's check before sending, for a plan built in Python as for one read from a file
    (plan.from_json checks its digest too): a write its mode never makes, a key or record written
    twice, a write without its key or record id stop the run with nothing sent."""
    found = plan.problems(built)
    if found:
        raise InputError("the plan cannot be applied; nothing was sent: " + "; ".join(found))


def _record_ownership(built: Plan, results: Results) -> None:
    portal = portals.planned(built.meta)
    if not built.meta.get("mapping") or portal is None:
        return
    kept = (Outcome.CREATED, Outcome.UPDATED, Outcome.UNCHANGED)
    ownership.record(built.meta["mapping"], portal.key, built.object_type,
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
    return (f"this run would make {calls:,} API calls, {talk.percent(share)} of the portal's daily allowance, "
            f"more than sync.max_daily_share {talk.percent(threshold)}")


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
    """`undo-<run id>.json` in the state folder of the plan's mapping (settings.state_folder)."""
    return settings.state_folder(built.meta.get("mapping")) / f"undo-{run_id}.json"


def build_undo(built: Plan, results: Results, client: PortalClient) -> Plan | None:
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
    # planned creates that found the record already there, created before the run (new: false)
    found_existing = [o for o in by_row.values()
                      if o.outcome is Outcome.UPDATED and o.action == ActionKind.CREATE.value]
    uncertain = _uncertain_writes(built, results, client)
    if not (updated or created or archived or found_existing or uncertain):
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
    notes = [{"key": o.key, "record_id": o.record_id, "note": _ARCHIVED_NOTE} for o in archived] + \
            [{"key": o.key, "record_id": o.record_id,
              "note": "planned as a create, but HubSpot already had the record before the run; its values "
                      "before the run are unknown, so undo leaves it as it is"}
             for o in found_existing]
    if uncertain is not None:
        actions, after, before = (pd.concat([mine, theirs.astype(object)]) for mine, theirs in
                                  ((actions, uncertain.actions), (after, uncertain.after), (before, uncertain.before)))
        actions["row"] = actions["row"].astype("Int64")
        notes += uncertain.meta["not_restorable"]
    meta = {k: built.meta[k] for k in (*portals.META_FIELDS, "mapping", "associations") if k in built.meta}
    meta.update({
        "created_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "undo_of": results.meta.get("run_id"),
        "not_restorable": notes,
    })
    undo = Plan(built.object_type, built.id_property, built.mode, built.properties,
                actions.reset_index(drop=True), after.reset_index(drop=True), before.reset_index(drop=True), meta)
    return with_estimate(undo, client.rate_limit)


# Categories of HubSpot's own verdict on an input (a 207 item, or the 400/409 of a batch split down to
# that input): it was refused, so nothing of it was written and there is nothing to check.
REFUSED = frozenset({"VALIDATION_ERROR", "CONFLICT", "OBJECT_ALREADY_EXISTS", "OBJECT_NOT_FOUND"})


def _uncertain_writes(built: Plan, results: Results, client: PortalClient) -> Plan | None:
    """The undo of the writes that failed: a failure after retries (a dropped answer, a 5xx) may
    still have landed, so these are checked against the portal, as a journal is (_undo_of_writes).
    An input HubSpot refused (REFUSED) was not written, and costs no read."""
    failed = {kind: [n for n, o in zip(built.actions.index, results.outcomes)
                     if o.outcome is Outcome.FAILED and o.action == kind.value and o.error_category not in REFUSED]
              for kind in (ActionKind.CREATE, ActionKind.UPDATE)}
    entries = [e for kind, numbers in failed.items() if numbers for e in _journal_entries(built, kind, numbers)]
    if not entries:
        return None
    header = _journal_header(built, results.meta.get("run_id"), results.meta.get("started_at"))
    return _undo_of_writes(header, entries, client, undo_of=results.meta.get("run_id"))


def _updated_at(built: Plan, client: PortalClient, numbers: list[int]) -> dict[str, str]:
    """record id → updatedAt now, read by id property (the key every plan action carries)."""
    keys = built.actions.loc[numbers, "key"].dropna().unique()
    if not len(keys):
        return {}
    found = client.batch_read(built.object_type, keys, id_property=built.id_property)
    return {record.id: record.updated_at for record in found.values()}


# --- the undo journal ----------------------------------------------------------------------------

JOURNAL_VERSION = 1
_log = logging.getLogger(__name__)


def journal_path(undo: Path) -> Path:
    """The run's journal, `.syncer/undo-<run id>.journal`, beside the undo plan it becomes."""
    return undo.with_suffix(".journal")


class _Journal:
    """A run's undo journal: JSON lines, appended, flushed and fsynced before each step is sent, so
    a killed or crashed run leaves a record of every write that may have reached HubSpot.

    The first line is a header (`syncer_undo_journal`, `run_id`, `started_at`, `portal`, `mapping`,
    `object_type`, `id_property`, `mode`, `properties`, `associations`); then one line per write:
    `{"undo": "restore", "row", "key", "record_id", "before", "sent"}` for an update (the before
    values of the properties it sends, as the plan holds them), `{"undo": "archive_if_created", "row",
    "key", "record_id", "sent"}` for a create (archive the record with this key if HubSpot created it
    at or after `started_at`), `{"undo": "not_restorable", "row", "key", "record_id"}` for an archive.
    The file is made at the first step (a run that writes nothing leaves none) and locked while the
    run lives, so a concurrent run never takes it for an interrupted one.
    """

    def __init__(self, built: Plan, run_id: str, started_at: str) -> None:
        self.built, self.run_id, self.started_at = built, run_id, started_at
        self.path = journal_path(undo_path(built, run_id))
        self.file = None

    def append(self, kind: ActionKind, numbers: list[int]) -> None:
        if self.file is None:
            self._open()
        entries = _journal_entries(self.built, kind, numbers)
        self._write("".join(json.dumps(e, ensure_ascii=False) + "\n" for e in entries))

    def _open(self) -> None:
        import fcntl

        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.file = open(self.path, "a", encoding="utf-8")
        fcntl.flock(self.file.fileno(), fcntl.LOCK_EX)
        self._write(json.dumps(_journal_header(self.built, self.run_id, self.started_at), ensure_ascii=False) + "\n")
        folder = os.open(self.path.parent, os.O_RDONLY)  # the new file's name survives a crash too
        try:
            os.fsync(folder)
        finally:
            os.close(folder)

    def _write(self, text: str) -> None:
        self.file.write(text)
        self.file.flush()
        os.fsync(self.file.fileno())

    def close(self) -> None:
        """Close (and unlock) the journal, keeping it: the next run on the mapping recovers it."""
        if self.file is not None:
            self.file.close()
            self.file = None

    def remove(self) -> None:
        self.close()
        self.path.unlink(missing_ok=True)


def _journal_header(built: Plan, run_id: str, started_at: str) -> dict:
    return {"syncer_undo_journal": JOURNAL_VERSION, "run_id": run_id, "started_at": started_at,
            **{k: built.meta.get(k) for k in portals.META_FIELDS}, "mapping": built.meta.get("mapping"),
            "object_type": built.object_type, "id_property": built.id_property, "mode": Mode(built.mode).value,
            "properties": list(built.properties), "associations": built.meta.get("associations") or {}}


def _plain(value):
    return None if pd.isna(value) else value


def _journal_entries(built: Plan, kind: ActionKind, numbers) -> list[dict]:
    """One undo entry per action (see _Journal), read from the plan's tables a step at a time."""
    lines = built.actions.loc[numbers, ["row", "key", "record_id"]].to_numpy(dtype=object)
    after = built.after.loc[numbers].to_numpy(dtype=object)
    before = built.before.loc[numbers].to_numpy(dtype=object)
    undo = {ActionKind.CREATE: "archive_if_created", ActionKind.UPDATE: "restore"}.get(kind, "not_restorable")
    entries = []
    for (row, key, record_id), sent_row, before_row in zip(lines, after, before):
        entry = {"undo": undo, "row": None if pd.isna(row) else int(row), "key": _plain(key),
                 "record_id": _plain(record_id)}
        if kind is not ActionKind.ARCHIVE:
            sent = {p: v for p, v in zip(built.properties, sent_row) if not pd.isna(v)}
            entry["sent"] = sent
            if kind is ActionKind.UPDATE:
                entry["before"] = {p: _plain(b) for p, b in zip(built.properties, before_row) if p in sent}
        entries.append(entry)
    return entries


def read_journal(path: str | Path) -> tuple[dict, list[dict]]:
    """A journal's header and entries. A last line cut short (the run was killed while appending)
    is left out: append returns before its step is sent, so nothing of that line was sent."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read the undo journal ({exc})") from None
    parsed = []
    for number, text in enumerate(lines):
        try:
            parsed.append(json.loads(text))
        except ValueError:
            if number == len(lines) - 1:
                break
            raise InputError(f"{path}, line {number + 1}: the undo journal is damaged") from None
    if not parsed or not isinstance(parsed[0], dict) or parsed[0].get("syncer_undo_journal") != JOURNAL_VERSION:
        raise InputError(f"{path}: not a syncer undo journal of version {JOURNAL_VERSION}")
    return parsed[0], parsed[1:]


def undo_from_journal(path: str | Path, client: PortalClient) -> Plan | None:
    """The undo plan of the run that left this journal, checked against the portal as it is now:
    an update is reverted property by property where HubSpot still holds what the run sent (a
    property changed since by someone else is left, and listed), a create is archived when its
    record exists and HubSpot created it after the run started, an archive is listed under
    `not_restorable`. None when nothing the run sent is left to revert."""
    header, entries = read_journal(path)
    return _undo_of_writes(header, entries, client, undo_of=header["run_id"])


def _undo_of_writes(header: dict, entries: list[dict], client: PortalClient, *, undo_of, lines: list[dict] = (),
                    not_restorable: list[dict] = ()) -> Plan | None:
    """An undo plan from journal entries verified against the portal, plus `lines` already known
    (undo actions with their after/before values) and `not_restorable` notes."""
    latest = {(e["undo"], e["key"]): e for e in entries if e.get("key") is not None}
    lines, notes = list(lines), list(not_restorable)
    notes += [{"key": e["key"], "record_id": e["record_id"], "note": _ARCHIVED_NOTE}
              for e in entries if e["undo"] == "not_restorable"]
    checked = [e for (kind, _), e in latest.items() if kind != "not_restorable"]
    records, now = _current(header, [e["key"] for e in checked], client)
    for entry in checked:
        record = records.get(entry["key"])
        if record is None:
            continue  # never created, or gone since: nothing to revert
        if entry["undo"] == "archive_if_created":
            if execute.created_since(record.created_at, header["started_at"]):
                lines.append({"row": entry["row"], "key": entry["key"], "action": ActionKind.ARCHIVE.value,
                              "record_id": record.id, "updated_at": record.updated_at, "after": {}, "before": {}})
            continue
        after, before, changed = _reverts(entry, now.loc[entry["key"]], header.get("associations") or {})
        notes += [{"key": entry["key"], "record_id": record.id,
                   "note": f"{p} was changed in HubSpot since the run; undo leaves it as it is"} for p in changed]
        if after:
            lines.append({"row": entry["row"], "key": entry["key"], "action": ActionKind.UPDATE.value,
                          "record_id": record.id, "updated_at": record.updated_at, "after": after, "before": before})
    if not lines and not notes:
        return None
    meta = {**{k: header.get(k) for k in portals.META_FIELDS}, "mapping": header.get("mapping"),
            "associations": header.get("associations") or {},
            "created_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "undo_of": undo_of, "not_restorable": notes}
    meta = {k: v for k, v in meta.items() if v is not None}
    undo = _plan_of_lines(header, lines, meta)
    return with_estimate(undo, client.rate_limit)


_ARCHIVED_NOTE = (f"archived by the run; restore it from HubSpot's recycle bin within {RECYCLE_BIN_DAYS} days "
                  "(the API cannot restore archived records)")


def _current(header: dict, keys: list, client: PortalClient) -> tuple[dict, pd.DataFrame]:
    """The records for `keys` now (key → Record) and their values in canonical form (by key)."""
    links = header.get("associations") or {}
    names = [p for p in header["properties"] if p not in links]
    if not keys:
        return {}, pd.DataFrame(columns=["id", "updated_at", *names])
    records = client.batch_read(header["object_type"], list(dict.fromkeys(keys)),
                                id_property=header["id_property"], properties=names)
    return records, remote_frame(records, names, client.properties(header["object_type"]))


def _reverts(entry: dict, now: pd.Series, links: dict) -> tuple[dict, dict, list[str]]:
    """For one journalled update: the values to put back (after), what they replace (before), and
    the properties someone else changed since (left alone)."""
    after, before, changed = {}, {}, []
    for prop, sent in entry["sent"].items():
        was = entry["before"].get(prop)
        if prop in links:  # links are not read back; relinking the before target is harmless
            after[prop], before[prop] = was or "", sent
            continue
        current = _plain(now.get(prop))
        if (current or "") == (sent or ""):
            if (current or "") != (was or ""):
                after[prop], before[prop] = was or "", sent
        elif (current or "") != (was or ""):
            changed.append(prop)
    if after and all(p in links for p in after) and len(after) < len(entry["sent"]):
        return {}, {}, changed  # nothing of the run's values is left on the record: leave its links too
    return after, before, changed


def _plan_of_lines(header: dict, lines: list[dict], meta: dict) -> Plan:
    properties = list(header["properties"])
    actions = pd.DataFrame([{c: line.get(c) for c in plan.ACTION_COLUMNS} for line in lines],
                           columns=plan.ACTION_COLUMNS).astype(object)
    actions["row"] = actions["row"].astype("Int64")
    after = pd.DataFrame([{p: line["after"].get(p) for p in properties} for line in lines],
                         columns=properties, dtype=object)
    before = pd.DataFrame([{p: line["before"].get(p) for p in properties} for line in lines],
                          columns=properties, dtype=object)
    return Plan(header["object_type"], header["id_property"], Mode(header["mode"]), properties,
                actions, after, before, meta)


def _resolved(path: str | None) -> Path | None:
    return Path(path).resolve() if path else None


def recover_journals(built: Plan, client: PortalClient) -> list[str]:
    """Turn the journals earlier runs on this plan's mapping left behind (killed, crashed) into
    their undo plans, `.syncer/undo-<their run id>.json`, name each in a warning, and remove the
    journals. Returns the undo plans' paths. A journal still locked by a live run, or made for
    another mapping, portal or object, is left alone."""
    import fcntl

    folder = undo_path(built, "-").parent
    recovered = []
    for path in sorted(folder.glob("undo-*.journal")) if folder.is_dir() else ():
        with open(path, encoding="utf-8") as held:
            try:
                fcntl.flock(held.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                continue  # a run still writing
            header, entries = read_journal(path)
            if (_resolved(header.get("mapping")), portals.planned(header), header.get("object_type")) != (
                    _resolved(built.meta.get("mapping")), portals.planned(built.meta), built.object_type):
                continue
            target = path.with_suffix(".json")
            if not target.exists():
                undo = _undo_of_writes(header, entries, client, undo_of=header["run_id"])
                if undo is not None:
                    save_plan(undo, target)
            path.unlink()
        if target.exists():
            _log.warning("a previous run was interrupted (run %s); its undo journal %s is now the undo plan %s; "
                         "revert with: syncer apply %s", header["run_id"], path, target, target)
            recovered.append(str(target))
        else:
            _log.warning("a previous run was interrupted (run %s); nothing it sent is left to revert "
                         "(its undo journal %s is removed)", header["run_id"], path)
    return recovered



def find_stale(built: Plan, client: PortalClient) -> dict[int, tuple[str, object]]:
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
        elif record.id != line["record_id"]:  # the action is sent by record id: it must be the key's record
            stale[number] = (f"the record with this {built.id_property} is {record.id}, not the plan's "
                             f"{line['record_id']}; make a new plan or apply with --replan", record)
        elif record.updated_at != line["updated_at"]:
            stale[number] = (f"changed in HubSpot since the plan was made (updatedAt {line['updated_at']} → "
                             f"{record.updated_at}); make a new plan or apply with --replan", record)
    return stale


def _replan(built: Plan, stale: dict, client: PortalClient) -> Plan:
    """Plan stale actions again: the plan's intended values against the records as they are now."""
    if not stale:
        return built
    after, actions = built.after.copy(), built.actions.copy()
    for number, (_, record) in stale.items():
        if actions.at[number, "action"] == ActionKind.ARCHIVE.value:
            actions.at[number, "updated_at"] = record.updated_at if record else None
            if record is not None:
                actions.at[number, "record_id"] = record.id  # the key's record, the one find_stale read
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
    """Write the plan file whole or not at all, fsynced, keeping an existing file's mode (tables.atomic_write)."""
    tables.atomic_write(path, plan.dumps(built))


# --- write-back --------------------------------------------------------------------------------


def write_back(results: Results, built: Plan) -> Path:
    """Add sync_status, sync_record_id and sync_error to the plan's source sheet (an xlsx is edited
    in place) and return its path. Refused, with nothing written, when the file changed since the
    plan read it: its rows may have moved, and a status on the wrong row is worse than none."""
    source = Path(built.meta["source"])
    cells = {}
    for o in results.outcomes:
        if o.row is None:
            continue
        cells[(o.row, "sync_status")] = o.outcome.value
        cells[(o.row, "sync_record_id")] = o.record_id or ""
        cells[(o.row, "sync_error")] = o.error_message or ""
    try:
        tables.edit_workbook(source, sheet=built.meta.get("sheet"), header_row=built.meta.get("header_row") or 1,
                             cells=cells, add_columns=list(STATUS_COLUMNS), expect_digest=built.meta.get("source_digest"))
    except tables.SheetChanged as exc:
        raise tables.SheetChanged(f"{exc}; the results are not written back into it (the report has them)") from None
    return source
