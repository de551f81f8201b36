"""Two-way sync: the sheet and HubSpot reconciled through the last-sync snapshot (DESIGN.md).

    with HubSpotClient(url, token) as client:
        result = syncer.sync("mappings/cars.yaml", client, prefer="hubspot")

One run: read the sheet and the snapshot; ask HubSpot for the records modified since the last
sync began (less `margin_seconds` for its search index lag) and for the ids it has archived; read
the keys the sheet has that the snapshot lacks; merge (merge.py); push through plan.build and
execute.apply (upserts by the id property, so a re-run never duplicates); write pulls, new rows,
marks and conflicts into the sheet; and only then replace the snapshot. A run killed at any moment
leaves the previous snapshot, and the next run finds every change again: values both sides now
share merge as agreed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from syncer import execute, jobs, mapping, merge, plan, state, tables, values
from syncer.errors import InputError
from syncer.export import sheet_cells

DEFAULT_MARGIN_SECONDS = 120.0  # HubSpot's search index lags writes by seconds; clocks drift
STATUS_COLUMN = "sync_status"
ARCHIVED_MARK = "archived in HubSpot"
CONFLICTS_SHEET = "Conflicts"


@dataclass
class SyncResult:
    """What a sync did. `exit_code`: 0 when all is in step, 1 when conflicts or failed rows remain."""

    source: Path
    snapshot: Path
    first: bool
    counts: dict[str, int]
    conflicts: pd.DataFrame
    results: execute.Results | None = None
    errors: list[tables.CellError] = field(default_factory=list)
    calls: int = 0

    @property
    def exit_code(self) -> int:
        failed = self.results is not None and self.results.exit_code != 0
        return 1 if len(self.conflicts) or failed or self.errors else 0


def sync(mapping_path: str | Path, client, *, source: str | Path | None = None, prefer: str | None = None,
         margin_seconds: float = DEFAULT_MARGIN_SECONDS, allow_mass_archive: bool = False,
         on_progress=None) -> SyncResult:
    """Reconcile the mapping's sheet and HubSpot; see the module docstring."""
    if prefer not in (None, merge.SHEET, merge.HUBSPOT):
        raise InputError(f"prefer must be sheet or hubspot, not {prefer!r}")
    m = mapping.load(mapping_path)
    snapshot_path = state.path_for(m.path)
    snapshot = state.load(snapshot_path)
    calls = getattr(client, "calls", 0)
    cached = snapshot.meta.get("definitions") if snapshot and snapshot.meta.get("mapping_digest") == m.digest else None
    prepared = _prepare(m, client, source, snapshot, cached)
    started_ms = int(time.time() * 1000)
    changed, archived_ids = _remote_changes(prepared, client, snapshot, prepared.mapped_properties, margin_seconds)
    base = snapshot.records.reindex(columns=["record_id", "archived", *_properties_of(prepared)]) if snapshot else None
    merged, local, errors = _merge(prepared, client, base, changed, archived_ids, prefer)
    if cached is not None and (changed or any(merged.counts.values()) or errors):
        # Something will be written: check it against the portal's definitions as they are now.
        fresh = client.properties(prepared.object_type)
        if _definitions(prepared, fresh) != cached:
            prepared = _prepare(m, client, source, snapshot, fresh)
            merged, local, errors = _merge(prepared, client, base, changed, archived_ids, prefer)
    _check_archive_share(merged, base, m, allow_mass_archive)
    results = _push(merged, prepared, client, on_progress, _steady_rows(merged, local, base)) \
        if len(merged.push_local) or merged.archive_keys else None
    next_base = _settle(merged, base, results)
    _write_sheet(prepared, merged)
    meta = {"since_ms": started_ms, "object": m.object, "mapping_digest": m.digest,
            "definitions": _definitions(prepared, prepared.properties),
            "object_type": {"object_type_id": prepared.object_type.object_type_id,
                            "name": prepared.object_type.name,
                            "fully_qualified_name": prepared.object_type.fully_qualified_name}}
    state.save(state.Snapshot(next_base, meta), snapshot_path)
    return SyncResult(prepared.table.path, snapshot_path, snapshot is None, merged.counts, merged.conflicts,
                      results, errors, getattr(client, "calls", 0) - calls)


def _merge(prepared: jobs.Prepared, client, base, changed: dict, archived_ids: set, prefer):
    """The merge of the sheet, the snapshot and HubSpot's changes, after reading the records of
    keys new to the sheet (the only per-row reads a sync makes). Returns it, the rows it used and
    the row errors."""
    m = prepared.mapping
    names = prepared.mapped_properties
    local, held, errors = _usable_rows(prepared)
    wanted = set(local[m.id_property]) - set(base.index if base is not None else ()) - set(changed)
    found = dict(changed)
    if wanted:
        found |= client.batch_read(prepared.object_type, wanted, id_property=m.id_property, properties=names)
    remote = jobs.remote_frame(found, names, prepared.properties)
    merged = merge.merge(local, base, remote, id_property=m.id_property, archived_ids=archived_ids,
                         held_keys=held, mirror=m.sync.mode == "mirror", prefer=prefer,
                         blank_cells=m.sync.blank_cells)
    return merged, local, errors


def _properties_of(prepared: jobs.Prepared) -> list[str]:
    return [n for n in prepared.mapped_properties if n != prepared.mapping.id_property]


def _definitions(prepared: jobs.Prepared, properties: list[dict]) -> list[dict]:
    """The portal's definitions of the mapped properties: kept in the snapshot, so a re-sync with
    nothing to write needs no properties call."""
    mapped = set(prepared.mapped_properties)
    return [p for p in properties if p["name"] in mapped]


def _prepare(m: mapping.Mapping, client, source, snapshot, properties: list[dict] | None) -> jobs.Prepared:
    """jobs.prepare, with the object type taken from the snapshot when the mapping still names it
    (a schemas call saved on every re-sync), and the given property definitions if any."""
    from syncer.hubspot.models import ObjectType  # lazily: syncer/__init__ exports sync before hubspot loads

    path = Path(source) if source else m.source
    if path is None:
        raise InputError(f"{m.path}: the mapping names no source; give one with --source FILE")
    table = tables.read(path, sheet=m.sheet if path.suffix.lower() not in tables.CSV_SUFFIXES else None,
                        header_row=m.header_row)
    known = (snapshot.meta.get("object_type") if snapshot and snapshot.meta.get("object") == m.object else None)
    object_type = ObjectType(**known) if known else client.object_type(m.object)
    properties = properties if properties is not None else client.properties(object_type)
    problems = mapping.check(m, properties, table.header)
    if problems:
        raise InputError("the mapping does not fit the portal or the sheet:\n" +
                         "\n".join(f"  {p}" for p in problems))
    return jobs.Prepared(m, table, values.canonicalize(table, m, properties), object_type, properties)


def _usable_rows(prepared: jobs.Prepared) -> tuple[pd.DataFrame, set, list]:
    """Rows the merge may use, the keys of rows it must leave alone (bad cells, repeated keys),
    and those rows' errors. A held row's record is neither pulled into nor archived."""
    m = prepared.mapping
    local = prepared.local.frame[prepared.mapped_properties]
    keys = local[m.id_property]
    errors = list(prepared.local.errors)
    bad = local.index.isin([e.row for e in errors]) | keys.isna().to_numpy() | keys.duplicated(keep=False).to_numpy()
    for row in local.index[keys.isna().to_numpy()]:
        errors.append(tables.CellError(prepared.table.path, int(row), m.id_column, None, f"no {m.id_property}"))
    for row in local.index[(keys.notna() & keys.duplicated(keep=False)).to_numpy()]:
        errors.append(tables.CellError(prepared.table.path, int(row), m.id_column, keys[row],
                                       f"{m.id_property} {keys[row]!r} appears on more than one row"))
    return local[~bad], set(keys[bad].dropna()), sorted(errors, key=lambda e: (e.row, e.column))


def _remote_changes(prepared, client, snapshot, names, margin_seconds) -> tuple[dict, set[str]]:
    """Key → record for records modified in HubSpot since the last sync began (less the margin),
    and the ids HubSpot has archived. Nothing to ask before the first sync."""
    if snapshot is None:
        return {}, set()
    since = int(snapshot.meta["since_ms"] - margin_seconds * 1000)
    m = prepared.mapping
    found = client.search(prepared.object_type, properties=names, sorts=["hs_lastmodifieddate"],
                          filters=[{"propertyName": "hs_lastmodifieddate", "operator": "GT", "value": str(since)}])
    changed = {r.properties.get(m.id_property): r for r in found}
    changed.pop(None, None)
    archived = {r.id for r in client.list_records(prepared.object_type, archived=True)}
    return changed, archived


def _check_archive_share(merged: merge.Merge, base, m: mapping.Mapping, allowed: bool) -> None:
    """Mirror mode's guard, against the snapshot's records: a truncated sheet must not wipe the object."""
    archives, records = len(merged.archive_keys), 0 if base is None else int((~base["archived"]).sum())
    if archives and not allowed and archives > m.sync.max_archive_fraction * records:
        raise InputError(
            f"mirror mode would archive {archives} of {records} records ({archives / records:.0%}) whose rows "
            f"left the sheet, more than max_archive_fraction {m.sync.max_archive_fraction:.0%}; nothing was "
            "changed. Check the sheet, or pass --allow-mass-archive if that is intended")


def _steady_rows(merged: merge.Merge, local: pd.DataFrame, base) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The sheet's rows that push nothing, as plan.build inputs that plan `unchanged`. Mirror mode
    archives only beside the sheet's usable rows (plan.build refuses to archive from a sheet with
    none), so an archive-only run hands them over too; they cost no request."""
    if not merged.archive_keys or base is None:
        return local.iloc[:0], merged.push_remote.iloc[:0]
    id_property = merged.push_local.columns[0]  # merge puts the id property first
    keys = local[id_property]
    live = base.index[~base["archived"].astype(bool)]
    steady = local[keys.isin(live).to_numpy() & ~local.index.isin(merged.push_local.index)]
    known = base.loc[steady[id_property].to_numpy()]
    rows = known.drop(columns=["record_id", "archived"]).set_axis(steady.index)
    rows.insert(0, id_property, steady[id_property])
    remote = known.drop(columns=["archived"]).rename(columns={"record_id": "id"})
    remote.insert(1, "updated_at", None)
    return rows.reindex(columns=merged.push_local.columns), remote.reindex(columns=merged.push_remote.columns)


def _push(merged: merge.Merge, prepared: jobs.Prepared, client, on_progress, steady) -> execute.Results:
    m = prepared.mapping
    mode = plan.Mode.MIRROR if merged.archive_keys else plan.Mode.UPSERT
    local = pd.concat([merged.push_local, steady[0]]) if len(steady[0]) else merged.push_local
    remote = pd.concat([merged.push_remote, steady[1]]) if len(steady[1]) else merged.push_remote
    built = plan.build(local, remote, object_type=prepared.object_type.object_type_id,
                       id_property=m.id_property, mode=mode, blank_cells="clear", allow_mass_archive=True)
    return execute.apply(built, client, on_progress=on_progress)


def _settle(merged: merge.Merge, base, results) -> pd.DataFrame:
    """The next snapshot: the merge's, with record ids of created records, and the old base kept
    for every row whose write failed (so the next run tries it again)."""
    next_base = merged.base
    if results is None:
        return next_base
    for outcome in results.outcomes:
        if outcome.outcome in (execute.Outcome.CREATED, execute.Outcome.UPDATED) and outcome.key in next_base.index:
            next_base.loc[outcome.key, "record_id"] = outcome.record_id
        elif outcome.outcome not in (execute.Outcome.ARCHIVED, execute.Outcome.UNCHANGED):
            next_base = next_base.drop(index=[outcome.key], errors="ignore")
            if base is not None and outcome.key in base.index:
                next_base = pd.concat([next_base, base.loc[[outcome.key]].astype(object)])
    next_base["archived"] = next_base["archived"].astype(bool)
    return next_base


# --- writing into the sheet ---------------------------------------------------------------------


def _write_sheet(prepared: jobs.Prepared, merged: merge.Merge) -> None:
    m, table = prepared.mapping, prepared.table
    is_csv = table.path.suffix.lower() in tables.CSV_SUFFIXES
    column_of = {spec.property: column for column, spec in m.columns.items()}
    cells: dict[tuple[int, str], object] = {}
    if merged.pulls:
        rows = sorted({row for row, _ in merged.pulls})
        frame = pd.DataFrame(None, index=rows, columns=prepared.mapped_properties, dtype=object)
        for (row, prop), value in merged.pulls.items():
            frame.at[row, prop] = value
        natural = sheet_cells(frame, m, prepared.properties, text_dates=is_csv)
        cells.update({(row, column_of[prop]): natural.at[row, column_of[prop]] for row, prop in merged.pulls})
    cells.update({(row, STATUS_COLUMN): ARCHIVED_MARK for row in merged.marks})
    appended = []
    if len(merged.appends):
        natural = sheet_cells(merged.appends, m, prepared.properties, text_dates=is_csv)
        appended = [{c: v for c, v in row.items() if v is not None} for row in natural.to_dict("records")]
    if cells or appended:
        tables.edit_workbook(table.path, sheet=None if is_csv else m.sheet, header_row=m.header_row,
                             cells=cells, append_rows=appended,
                             add_columns=[STATUS_COLUMN] if merged.marks else [])
    _write_conflicts(table.path, merged.conflicts, is_csv, m.sheet)


def conflicts_path(source: Path) -> Path:
    """Where a CSV's conflicts go: beside it (a CSV has no second sheet)."""
    return source.with_name(f"{source.stem}.conflicts.csv")


def _write_conflicts(source: Path, conflicts: pd.DataFrame, is_csv: bool, sheet) -> None:
    """The Conflicts sheet (xlsx) or file (CSV): written when conflicts remain, removed when none do."""
    if is_csv:
        target = conflicts_path(source)
        if len(conflicts):
            tables.write(conflicts, target)
        elif target.exists():
            target.unlink()
        return
    import openpyxl

    if not len(conflicts):
        peek = openpyxl.load_workbook(source, read_only=True)  # reads the sheet list only
        present = CONFLICTS_SHEET in peek.sheetnames
        peek.close()
        if not present:
            return
    book = openpyxl.load_workbook(source, rich_text=True, keep_vba=source.suffix.lower() == ".xlsm")
    if CONFLICTS_SHEET in book.sheetnames:
        del book[CONFLICTS_SHEET]
    if len(conflicts):
        ws = book.create_sheet(CONFLICTS_SHEET)
        ws.append(list(conflicts.columns))
        for row in conflicts.itertuples(index=False, name=None):
            ws.append([tables._xlsx_plain(v) if not isinstance(v, str) or not v.startswith("=") else "'" + v
                       for v in row])
    tables._atomic_write(source, book.save)
