"""The Python API behind `plan`: the stages wired from a mapping to a Plan (prepare, read HubSpot,
plan (association columns through syncer.associations), the estimate), the stale check of a saved
plan, and write-back.
Applying a plan as a run, with its undo journal, undo plan and retry, is syncer/runs.py.

A scheduler (cron, Airflow, Dagster) calls these exactly as the CLI does:

    with HubSpotClient(url, token) as client:
        built = syncer.build_plan("mappings/cars.yaml", client)
        results = syncer.apply_plan(built, client)
        syncer.write_results(results, "report.xlsx")
        results.raise_for_failures()
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from syncer import associations, mapping, ownership, plan, portals, tables, talk, values
from syncer.errors import InputError, PortalError
from syncer.execute import STATUS_COLUMNS, Results
from syncer.plan import ActionKind, Mode, Plan, PlanMeta, with_estimate

if TYPE_CHECKING:
    from syncer.hubspot.protocol import PortalClient



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
        return [c for c in self.local.frame.columns if not associations.is_link(c)]


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
    local = prepared.local.frame[prepared.mapped_properties].copy(deep=False)  # its own columns, not the values
    remote = read_remote(prepared, client, mirror=mode is Mode.MIRROR)
    row_errors = _row_errors(prepared.local)
    if not allow_numeric_keys:
        keys = prepared.local.frame[m.id_property]
        for row, message in lost_zeros(prepared, client, keys[keys.notna() & ~keys.isin(remote.index)]).items():
            add_row_error(row_errors, row, message)
    meta = _plan_meta(prepared)
    meta.max_daily_share = m.sync.max_daily_share
    meta.display = display_description(prepared)
    if m.associations:
        meta.associations = _plan_associations(prepared, client, local, remote, row_errors)
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
    built.meta.display["archived"] = {
        record_id: {p: v for p, v in zip(built.properties, line) if not pd.isna(v)}
        for record_id, line in zip(keys["record_id"], current.to_numpy(dtype=object))}


def _plan_associations(prepared: Prepared, client: PortalClient, local: pd.DataFrame, remote: pd.DataFrame,
                       row_errors: dict[int, str]) -> dict[str, associations.Link]:
    """Add each association column to `local` and `remote` as a pseudo-property whose value is the
    target record id, so the planner diffs it like any property. Returns the links, each with the
    values a person knows its named targets by (see _shown_targets)."""
    found = {}
    keys = local[prepared.mapping.id_property]
    for link in associations.resolve(prepared.mapping, client, prepared.object_type, prepared.local.frame.columns):
        cells = prepared.local.frame[link.name]
        targets = associations.find_targets(client, link, cells.dropna().unique())
        wanted = cells.map(lambda value: targets.get(value)).astype(object)
        for row, value in cells[cells.notna() & wanted.isna()].items():
            add_row_error(row_errors, row, associations.not_found(link, value))
        wanted = wanted.where(wanted.notna(), None)
        local[link.name] = wanted
        desired = dict(zip(keys[wanted.notna()], wanted[wanted.notna()]))
        record_ids = remote["id"].dropna()
        current = associations.current_targets(client, prepared.object_type, link, record_ids,
                                               {i: desired.get(k) for k, i in record_ids.items()})
        remote[link.name] = [current.get(record_id) if isinstance(record_id, str) else None
                             for record_id in remote["id"]]
        found[link.name] = link.showing(_shown_targets(cells, wanted, remote[link.name], desired, link, client))
    return found


def add_row_error(row_errors: dict[int, str], row: int, problem: str) -> None:
    """Add a problem to a row's error (problems of one row read `a; b`)."""
    row_errors[row] = f"{row_errors[row]}; {problem}" if row in row_errors else problem


def _shown_targets(cells: pd.Series, wanted: pd.Series, current: pd.Series, desired: dict, link: associations.Link,
                   client: PortalClient) -> dict[str, str]:
    """Target record id → the value a person knows it by (its `match` property, e.g. an email), so
    plans show `ann@x.com → bo@x.com` rather than record ids: the sheet's own values, and for the
    targets a change replaces, their values read (one call per 100 of them)."""
    shown = {target: cell for cell, target in zip(cells, wanted) if target is not None}
    replaced = {target for key, target in current.items()
                if target is not None and target not in shown and desired.get(key) != target}
    return shown | associations.shown_values(client, link, replaced)


# Keys asked of batch_read at a time: whole batches of 100, so the calls are those of one call
# for every key, but only this many records are held as Record objects at once (a million of them
# take about 1.8 GB; their mapped values alone, kept as columns, under half of that).
READ_SLICE = 50_000


def read_remote(prepared: Prepared, client: PortalClient, *, mirror: bool = False) -> pd.DataFrame:
    """Remote records as a frame: index = canonical id value; columns id, updated_at and properties."""
    m = prepared.mapping
    names = prepared.mapped_properties
    found = _RemoteColumns(names)
    with talk.phase("read HubSpot's records") as done:
        if mirror:
            records = {r.properties.get(m.id_property): r
                       for r in client.list_records(prepared.object_type, properties=names)}
            records.pop(None, None)
            found.add(records)
            del records
        else:
            column = prepared.local.frame[m.id_property]
            firsts = column.notna().to_numpy() & ~column.duplicated().to_numpy()
            keys, rows = column.to_numpy()[firsts], np.flatnonzero(firsts)  # each key once, and its first row
            local = {n: prepared.local.frame[n].to_numpy() for n in names}
            for start in range(0, len(keys), READ_SLICE):
                part = keys[start:start + READ_SLICE]
                records = client.batch_read(prepared.object_type, part, id_property=m.id_property, properties=names)
                at = dict(zip(part.tolist(), rows[start:start + READ_SLICE].tolist()))
                found.add(records, local, [at[key] for key in records])
        done(f"{len(found.keys):,} found" + ("" if mirror else f" of {len(keys):,} keys"))
    return found.frame(prepared.properties)


class _RemoteColumns:
    """Records' keys, ids, updatedAt and mapped values as lists, filled a batch_read at a time."""

    def __init__(self, names: list[str]) -> None:
        self.names = names
        self.keys: list = []
        self.ids: list[str] = []
        self.updated: list[str] = []
        self.columns: dict[str, list] = {n: [] for n in names}

    def add(self, records: dict, local: dict[str, np.ndarray] | None = None, rows: list[int] | None = None) -> None:
        """Append the records; a value equal to the sheet's canonical value on the key's row (`rows`,
        positions in the `local` columns) is kept as that same str object, so a record unchanged
        since the sheet costs no memory of its own for its values (the conversion, which sees only
        the text, is the same)."""
        self.keys += records
        self.ids += [r.id for r in records.values()]
        self.updated += [r.updated_at for r in records.values()]
        for name, column in self.columns.items():
            found = [r.properties.get(name) for r in records.values()]
            if local is not None and name in local:
                sheet = local[name][rows].tolist()
                found = [mine if mine == theirs else theirs for mine, theirs in zip(sheet, found)]
            column += found

    def frame(self, properties: list[dict]) -> pd.DataFrame:
        # Objects throughout, as the sheet's canonical values are: inferred, the keys, ids and times
        # would become Arrow text when pyarrow is installed (a copy of a million of each, which the
        # planner then converts back to match them with the sheet's keys).
        frame = pd.DataFrame(self.columns, index=pd.Index(self.keys, dtype=object), columns=self.names, dtype=object)
        frame = values.normalize_remote(frame, properties) if len(frame) else frame
        frame.insert(0, "id", pd.Series(self.ids, index=frame.index, dtype=object))
        frame.insert(1, "updated_at", pd.Series(self.updated, index=frame.index, dtype=object))
        return frame


def lost_zeros(prepared: Prepared, client: PortalClient, new_keys: pd.Series) -> dict[int, str]:
    """values.lost_zeros for `new_keys` (by sheet row: keys HubSpot lacks), looked up by batch read."""
    m = prepared.mapping
    id_prop = next((p for p in prepared.properties if p["name"] == m.id_property), None)
    if id_prop is None or not len(new_keys):
        return {}
    return values.lost_zeros(new_keys, id_prop, lambda wanted: set(client.batch_read(
        prepared.object_type, wanted, id_property=m.id_property)))


def remote_frame(records: dict, names: list[str], properties: list[dict]) -> pd.DataFrame:
    found = _RemoteColumns(names)
    found.add(records)
    return found.frame(properties)


def _row_errors(local: values.LocalRows) -> dict[int, str]:
    messages = defaultdict(list)
    for error in local.errors:
        messages[error.row].append(f'column "{error.column}": {error.message}')
    return {row: "; ".join(found) for row, found in messages.items()}


def _plan_meta(prepared: Prepared) -> PlanMeta:
    return PlanMeta(
        created_at=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        portal=prepared.portal.name, hub_id=prepared.portal.hub_id,
        mapping=str(prepared.mapping.path), mapping_digest=prepared.mapping.digest,
        source=str(prepared.table.path), source_digest=prepared.table.digest,
        sheet=prepared.table.sheet, header_row=prepared.mapping.header_row,
    )


def check_portal(built: Plan, client: PortalClient) -> None:
    """Refuse (PortalError, exit 3) to apply a plan made against another portal than `client`'s:
    compared by hub id where both are known (a reset sandbox is another portal), else by name."""
    planned, current = portals.planned(built.meta.portal, built.meta.hub_id), portals.of(client)
    if planned is None:
        return
    if not planned.same_as(current):
        raise PortalError(f"the plan was made against {planned}, not {current}, which this run reached; "
                          "nothing was done: make a new plan there")


# --- the cost guard and the stale check of a saved plan -------------------------------------------


def over_budget(built: Plan) -> str | None:
    """Why the plan needs a second yes: it would use more than the mapping's max_daily_share of the
    portal's daily allowance (None when within it, or when the portal reports no daily limit)."""
    share = (built.meta.estimate or {}).get("daily_share")
    threshold = built.meta.max_daily_share if built.meta.max_daily_share is not None else 0.1
    if share is None or share <= threshold:
        return None
    calls = built.meta.estimate["total_calls"]
    return (f"this run would make {calls:,} API calls, {talk.percent(share)} of the portal's daily allowance, "
            f"more than sync.max_daily_share {talk.percent(threshold)}")


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


def replan_stale(built: Plan, stale: dict, client: PortalClient) -> Plan:
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
                built.before, built.meta.copy())


# --- write-back --------------------------------------------------------------------------------


def write_back(results: Results, built: Plan) -> Path:
    """Add sync_status, sync_record_id and sync_error to the plan's source sheet (an xlsx is edited
    in place) and return its path. Refused, with nothing written, when the file changed since the
    plan read it: its rows may have moved, and a status on the wrong row is worse than none."""
    source = Path(built.meta.source)
    cells = {}
    for o in results.outcomes:
        if o.row is None:
            continue
        cells.update({(o.row, column): value for column, value in
                      zip(STATUS_COLUMNS, (o.outcome.value, o.record_id or "", o.error_message or ""))})
    try:
        tables.edit_workbook(source, sheet=built.meta.sheet, header_row=built.meta.header_row or 1,
                             cells=cells, add_columns=list(STATUS_COLUMNS), expect_digest=built.meta.source_digest)
    except tables.SheetChanged as exc:
        raise tables.SheetChanged(f"{exc}; the results are not written back into it (the report has them)") from None
    return source
