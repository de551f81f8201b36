"""The Python API behind `plan`, `push` and `apply`: each job wires the stages together.

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

import pandas as pd

from syncer import execute, mapping, plan, tables, values
from syncer.errors import InputError
from syncer.execute import Results
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


def prepare(mapping_path: str | Path, client, *, source: str | Path | None = None) -> Prepared:
    """Load the mapping and the sheet, check both against the portal, convert cells to canonical form."""
    m = mapping.load(mapping_path)
    path = Path(source) if source else m.source
    if path is None:
        raise InputError(f"{m.path}: the mapping names no source; give one with --source FILE")
    table = tables.read(path, sheet=m.sheet if path.suffix.lower() != ".csv" else None)
    object_type = client.object_type(m.object)
    properties = client.properties(object_type)
    problems = mapping.check(m, properties, table.header)
    if problems:
        raise InputError("the mapping does not fit the portal or the sheet:\n" +
                         "\n".join(f"  {p}" for p in problems))
    return Prepared(m, table, values.canonicalize(table, m, properties), object_type, properties)


def build_plan(mapping_path: str | Path, client, *, source: str | Path | None = None,
               mode: str | None = None, allow_mass_archive: bool = False) -> Plan:
    """Read the sheet and the records it names (every record in mirror mode) and plan the changes."""
    prepared = prepare(mapping_path, client, source=source)
    return plan_prepared(prepared, client, mode=mode, allow_mass_archive=allow_mass_archive)


def plan_prepared(prepared: Prepared, client, *, mode: str | None = None,
                  allow_mass_archive: bool = False) -> Plan:
    m = prepared.mapping
    mode = Mode(mode or m.sync.mode)
    local = prepared.local.frame[prepared.mapped_properties].copy()
    remote = read_remote(prepared, client, mirror=mode is Mode.MIRROR)
    row_errors = _row_errors(prepared.local)
    meta = _plan_meta(prepared, client)
    if m.associations:
        meta["associations"] = _plan_associations(prepared, client, local, remote, row_errors)
    return plan.build(
        local, remote, object_type=prepared.object_type.object_type_id, id_property=m.id_property,
        mode=mode, blank_cells=m.sync.blank_cells, row_errors=row_errors,
        max_archive_fraction=m.sync.max_archive_fraction, allow_mass_archive=allow_mass_archive,
        meta=meta)


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
        remote[name] = [_current_target(current.get(record_id, []), kind.type_id, desired.get(key))
                        for key, record_id in zip(remote.index, remote["id"])]
        described[name] = {"to": to_type.object_type_id, "type_id": kind.type_id, "column": spec.column}
    return described


def _association_targets(cells: pd.Series, spec, client, to_type, row_errors: dict[int, str]) -> pd.Series:
    """Target record id per row, found by the spec's match property; unknown targets are row errors."""
    found = client.batch_read(to_type, cells.dropna().unique(), id_property=spec.match)
    targets = cells.map(lambda value: found[value].id if value in found else None).astype(object)
    for row, value in cells[cells.notna() & targets.isna()].items():
        problem = f'column "{spec.column}": no {spec.to} record with {spec.match} {value!r}'
        row_errors[row] = f"{row_errors[row]}; {problem}" if row in row_errors else problem
    return targets.where(targets.notna(), None)


def _current_target(associations, type_id: int, desired: str | None) -> str | None:
    """The record's current target under this association type: the desired one if linked, else any."""
    linked = [a.to_id for a in associations if type_id in a.type_ids]
    return desired if desired in linked else (linked[0] if linked else None)


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
               on_progress=None, should_stop=lambda: False) -> Results:
    """Execute a plan. With `check_stale` (a plan read from a file), records that changed in
    HubSpot since the plan was made are left alone and reported as conflicts — or, with `replan`,
    planned again against their current values."""
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
    return results


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


def load_plan(path: str | Path) -> Plan:
    import json

    path = Path(path)
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise InputError(f"{path}: cannot read the plan file ({exc})") from None
    return plan.from_json(document, source=str(path))


def save_plan(built: Plan, path: str | Path) -> None:
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(plan.dumps(built), encoding="utf-8")
    tmp.replace(path)


# --- write-back --------------------------------------------------------------------------------


def write_back(results: Results, source: str | Path, *, sheet: str | None = None) -> None:
    """Add sync_status, sync_record_id and sync_error to the source sheet (an xlsx is edited in place)."""
    cells = {}
    for o in results.outcomes:
        if o.row is None:
            continue
        cells[(o.row, "sync_status")] = o.outcome.value
        cells[(o.row, "sync_record_id")] = o.record_id or ""
        cells[(o.row, "sync_error")] = o.error_message or ""
    tables.edit_workbook(source, sheet=sheet, cells=cells, add_columns=list(STATUS_COLUMNS))
