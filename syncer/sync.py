"""Two-way sync: the sheet and HubSpot reconciled through the last-sync snapshot (docs/ARCHITECTURE.md).

    with HubSpotClient(url, token) as client:
        result = syncer.sync("mappings/cars.yaml", client, prefer="hubspot")

One run: read the sheet and the snapshot; ask HubSpot for the records modified since the last
sync began (less `margin_seconds` for its search index lag) and for the ids it has archived; read
the keys the sheet has that the snapshot lacks, and the association links of every record read
(skipping records read back exactly as the snapshot holds them); merge (merge.py); push through
plan.build and runs.apply_plan (upserts by the id property, so a re-run never duplicates; links
through the executor's association machinery, as push does); write pulls, new rows, marks and
conflicts into the sheet; and only then replace the snapshot. A run killed at any moment leaves the
previous snapshot, and the next run finds every change again: values both sides now share merge
as agreed.

Association columns merge on their display value (the target's `match` property, e.g. the owner's
email). HubSpot does not move a record's hs_lastmodifieddate when only its links change, so a
re-link made in HubSpot is seen when the record is next reported changed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from syncer import associations, execute, jobs, keys as keys_rules, mapping, merge, plan, portals, report, runs, state, tables, values
from syncer.errors import InputError
from syncer.associations import Link
from syncer.conditions import conditions
from syncer.export import sheet_cells
from syncer.hubspot.models import ObjectType, epoch_ms

if TYPE_CHECKING:
    from syncer.hubspot.protocol import PortalClient

# How far before the last sync began a sync looks for HubSpot's changes. HubSpot's search index
# shows a write "after a few moments" (its docs; several seconds, integrations report) and
# publishes no bound; connectors that read changes through search, as sync does, found records
# missing and look back further: five minutes to an hour (estuary/connectors PRs 1549 and 2210,
# airbytehq/airbyte PR 69203). Ten minutes covers twice the five. Its cost: each sync's search
# returns again the records modified in the margin before the last sync began, one search call
# per 200; those read back as the snapshot holds them cost nothing more.
DEFAULT_MARGIN_SECONDS = 600.0
STATUS_COLUMN = "sync_status"
ARCHIVED_MARK = "archived in HubSpot"
CONFLICTS_SHEET = "Conflicts"


@dataclass
class SyncResult:
    """What a sync did. `exit_code`: 0 when all is in step, 1 when conflicts or failed rows remain.
    `push_plan` and `results`: the writes to HubSpot, planned and done (None when there were none)."""

    source: Path
    snapshot: Path
    first: bool
    counts: dict[str, int]
    conflicts: pd.DataFrame
    results: execute.Results | None = None
    errors: list[tables.CellError] = field(default_factory=list)
    calls: int = 0
    push_plan: plan.Plan | None = None
    sheet_changed: bool = False  # saved by someone else meanwhile: not written into, snapshot kept
    held: list[tables.CellError] = field(default_factory=list)  # HubSpot values the sheet cannot hold
    portal: portals.Portal | None = None  # the portal synced with

    def __repr__(self) -> str:
        """Short, for notebooks and logs: what moved each way and the calls, never the rows."""
        counts = ", ".join(f"{kind}={n:,}" for kind, n in self.counts.items() if n) or "nothing to do"
        first = "first " if self.first else ""
        return f"<SyncResult {first}sync of {self.source.name}: {counts}; {self.calls:,} calls>"

    @property
    def exit_code(self) -> int:
        failed = self.results is not None and self.results.exit_code != 0
        return 1 if len(self.conflicts) or failed or self.errors or self.held or self.sheet_changed else 0


@dataclass
class _Reads:
    """What this run read from HubSpot: records by key (changed since the last sync, or new to the
    sheet), per association key → (target record id, display value) for those records, and their
    canonical values as the merge saw them (`frame`, as merge's `remote`)."""

    records: dict
    links: dict[str, dict[str, tuple]]
    frame: pd.DataFrame | None = None


Approve = Callable[[plan.Plan, list[str]], None]


def sync(mapping_path: str | Path, client: PortalClient, *, source: str | Path | None = None, prefer: str | None = None,
         margin_seconds: float = DEFAULT_MARGIN_SECONDS, allow_mass_archive: bool = False,
         approve: Approve | None = None, on_progress=None, should_stop=lambda: False,
         full: bool = False, allow_numeric_keys: bool = False) -> SyncResult:
    """Reconcile the mapping's sheet and HubSpot; see the module docstring.

    `full` reads every record and its links instead of those HubSpot reports changed (about
    records/100 calls more): it finds what the search cannot, such as a re-link made only in
    HubSpot, which does not mark its record changed. `allow_numeric_keys`: create records for
    new digit-only keys even where HubSpot has the key with leading zeros (see values.lost_zeros).

    `approve(plan, reasons)` is called before anything is written when the run would archive
    records or use more than the mapping's sync.max_daily_share of the daily allowance; it raises
    (InputError without a terminal, Cancelled on a no) to stop the run with nothing changed.
    `on_progress` and `should_stop` go to the executor (execute.Progress events; a stop leaves
    unsent rows for the next run).
    """
    if prefer not in (None, merge.SHEET, merge.HUBSPOT):
        raise InputError(f"prefer must be sheet or hubspot, not {prefer!r}")
    m = mapping.load(mapping_path)
    calls = client.calls
    portal = portals.check(m.portal, client, pinned_by=m.path.name)  # before the snapshot, which is the portal's
    snapshot_path = state.path_for(m.path, portal.key)
    snapshot = state.load(snapshot_path)
    legacy = state.load_legacy(m.path, portal) if snapshot is None else None
    snapshot = snapshot or legacy
    same = snapshot is not None and snapshot.meta.get("mapping_digest") == m.digest
    cached = snapshot.meta.get("definitions") if same else None
    prepared = _prepare(m, client, source, snapshot, cached)
    links = _links(prepared, client, snapshot.meta.get("links") if same else None)
    started_ms = int(time.time() * 1000)
    changed, archived_ids = _remote_changes(prepared, client, snapshot, prepared.mapped_properties, margin_seconds,
                                            full)
    merged, local, errors, reads = _merge(prepared, client, links, snapshot, changed, archived_ids, prefer, full,
                                          allow_numeric_keys)
    if cached is not None and (reads.records or any(merged.counts.values()) or errors):
        # Something will be written: check it against the portal's definitions as they are now.
        fresh = client.properties(prepared.object_type)
        if _definitions(prepared, fresh) != cached:
            prepared = _prepare(m, client, source, snapshot, fresh)
            merged, local, errors, reads = _merge(prepared, client, links, snapshot, changed, archived_ids, prefer,
                                                  full, allow_numeric_keys)
    base = _base(snapshot, _columns(prepared, links))
    plan.check_archive_share(len(merged.archive_keys), 0 if base is None else int((~base["archived"]).sum()),
                             m.sync.max_archive_fraction, allow_mass_archive, nothing="changed")
    built = results = None
    pushed: dict = {}
    if len(merged.push_local) or merged.archive_keys:
        built, pushed = _push_plan(merged, prepared, client, links, reads, snapshot,
                                   _steady_rows(merged, local, base))
        reasons = _reasons(built)
        if approve is not None and reasons:
            approve(built, reasons)
        if on_progress:
            on_progress(execute.Progress(0, sum(len(built.of_kind(kind)) for kind in plan.WRITES)))
        results = runs.apply_plan(built, client, on_progress=on_progress, should_stop=should_stop)
    next_base = _settle(_with_reads(merged.base, links, reads, pushed, snapshot), snapshot, results)
    # A conflict keeps the base, not HubSpot's values: no updatedAt may vouch for that record.
    next_base.loc[next_base.index.isin(merged.conflicts["key"]), "updated_at"] = None
    edits = _sheet_edits(prepared, merged, links)
    next_base = _hold(next_base, edits.held, snapshot)
    result = SyncResult(prepared.table.path, snapshot_path, snapshot is None, merged.counts, merged.conflicts,
                        results, errors, 0, built, held=[error for error, _, _ in edits.held], portal=portal)
    try:
        _write_sheet(prepared, edits, merged.conflicts, prepared.table.digest if _edits_sheet(merged) else None)
    except tables.SheetChanged:
        # Saved meanwhile (in Excel, say): its rows may have moved, so nothing goes into it, and the
        # snapshot stays as it was, so the next sync finds this run's pulls again.
        result.sheet_changed = True
    else:
        first_sync_ms = started_ms if snapshot is None else snapshot.meta.get("first_sync_ms")
        state.save(state.Snapshot(next_base, _meta(prepared, links, started_ms, first_sync_ms)), snapshot_path)
        if legacy is not None:  # now saved under this portal's name
            state.legacy_path(m.path).unlink(missing_ok=True)
    result.calls = client.calls - calls
    return result


def _edits_sheet(merged: merge.Merge) -> bool:
    return bool(merged.pulls or len(merged.appends) or merged.marks or len(merged.conflicts))


def _meta(prepared: jobs.Prepared, links: list[Link], started_ms: int, first_sync_ms: int | None) -> dict:
    m, object_type = prepared.mapping, prepared.object_type
    return {"since_ms": started_ms, "first_sync_ms": first_sync_ms, "object": m.object, "mapping_digest": m.digest,
            "definitions": _definitions(prepared, prepared.properties),
            "links": [link.cached() for link in links],
            "object_type": {"object_type_id": object_type.object_type_id, "name": object_type.name,
                            "fully_qualified_name": object_type.fully_qualified_name}}


def _columns(prepared: jobs.Prepared, links: list[Link]) -> list[str]:
    """The merged columns besides the id property: mapped properties, then association columns."""
    return [*(n for n in prepared.mapped_properties if n != prepared.mapping.id_property), *(l.name for l in links)]


def _base(snapshot: state.Snapshot | None, columns: list[str]) -> pd.DataFrame | None:
    return snapshot.records.reindex(columns=["record_id", "archived", *columns]) if snapshot else None


def _merge(prepared: jobs.Prepared, client: PortalClient, links: list[Link], snapshot, changed: dict, archived_ids: set,
           prefer, full: bool = False, allow_numeric_keys: bool = False
           ) -> tuple[merge.Merge, pd.DataFrame, list, _Reads]:
    """The merge of the sheet, the snapshot and HubSpot's changes, after reading the records of
    keys new to the sheet and the links of every record read (the only per-row reads a sync
    makes). Returns it, the rows it used, the row errors and what was read. A new key that looks
    like one a spreadsheet stripped of its leading zeros is a row error unless `allow_numeric_keys`."""
    m = prepared.mapping
    names = prepared.mapped_properties
    base = _base(snapshot, _columns(prepared, links))
    local, held, errors = _usable_rows(prepared, links)
    wanted = set(local[m.id_property]) - set(base.index if base is not None else ()) - set(changed)
    found = dict(changed)
    if wanted:
        found |= client.batch_read(prepared.object_type, wanted, id_property=m.id_property, properties=names)
        if not allow_numeric_keys:
            local, held, errors = _without_lost_zeros(prepared, client, local, held, errors, wanted - set(found))
    local, held, errors = _one_record_rows(prepared, local, held, errors, found, base)
    remote = jobs.remote_frame(found, names, prepared.properties)
    if not full:  # a full sync reads every record's links, since a re-link changes no updatedAt
        remote = remote.drop(index=_seen(remote, snapshot, [n for n in names if n != m.id_property], m.digest))
    reads = _Reads({k: r for k, r in found.items() if k in remote.index}, {})
    for link in links:
        reads.links[link.name] = _read_links(client, prepared.object_type, link, reads.records, snapshot)
        remote[link.name] = [reads.links[link.name][key][1] for key in remote.index]
    reads.frame = remote
    merged = merge.merge(local, base, remote, id_property=m.id_property, archived_ids=archived_ids,
                         held_keys=held, mirror=m.sync.mode == "mirror", prefer=prefer,
                         blank_cells=m.sync.blank_cells)
    return merged, local, errors, reads


def _without_lost_zeros(prepared: jobs.Prepared, client: PortalClient, local: pd.DataFrame, held: set, errors: list,
                        missing: set) -> tuple[pd.DataFrame, set, list]:
    """The rows, held keys and errors with the rows whose new key lost its leading zeros held
    back (values.lost_zeros): a sync would create a duplicate of the padded record."""
    m = prepared.mapping
    keys = local[m.id_property]
    lost = jobs.lost_zeros(prepared, client, keys[keys.isin(missing)])
    if not lost:
        return local, held, errors
    errors = errors + [tables.CellError(prepared.table.path, row, m.id_column, keys[row], message)
                       for row, message in lost.items()]
    return (local.drop(index=list(lost)), held | {keys[row] for row in lost},
            sorted(errors, key=lambda e: (e.row, e.column)))


def _one_record_rows(prepared: jobs.Prepared, local: pd.DataFrame, held: set, errors: list, found: dict,
                     base) -> tuple[pd.DataFrame, set, list]:
    """The rows, held keys and errors with rows whose different keys name one HubSpot record held
    back: keys that differ only in case, on a portal that compares unique values without regard to
    case. Each would overwrite the other's values, so both wait until the sheet keeps one."""
    m = prepared.mapping
    keys = local[m.id_property]
    known = base["record_id"] if base is not None else {}
    ids = pd.Series([found[k].id if k in found else known.get(k) for k in keys], index=local.index, dtype=object)
    shared = keys_rules.sharing_a_record(keys, ids, m.id_property).dropna()
    if shared.empty:
        return local, held, errors
    errors = errors + [tables.CellError(prepared.table.path, row, m.id_column, keys[row], message)
                       for row, message in shared.items()]
    out = local.index.isin(shared.index)
    return local[~out], held | set(keys[out]), sorted(errors, key=lambda e: (e.row, e.column))


def _seen(remote: pd.DataFrame, snapshot, properties: list[str], mapping_digest: str) -> pd.Index:
    """Keys of records read back exactly as the snapshot holds them: the same updatedAt (the one
    the last sync's write was answered with, or its read saw) and the same values. Nothing about
    them needs more work, not even a read of their links; a HubSpot edit made while that sync was
    writing shows as a differing value, so it is never taken for one of them."""
    if snapshot is None or not len(remote) or snapshot.meta.get("mapping_digest") != mapping_digest:
        return remote.index[:0]  # a changed mapping may bind other links than the snapshot's
    known = snapshot.records.reindex(index=remote.index, columns=["archived", "updated_at", *properties])
    at = remote["updated_at"].to_numpy(dtype=object)
    same = (at != "") & ~merge.differs(at, known["updated_at"].to_numpy(dtype=object))
    same &= known["archived"].eq(False).to_numpy()
    for prop in properties:
        same &= ~merge.differs(remote[prop].to_numpy(dtype=object), known[prop].to_numpy(dtype=object))
    return remote.index[same]


def _read_links(client: PortalClient, object_type, link: Link, records: dict, snapshot) -> dict[str, tuple]:
    """Key → (target record id, display value) of each record's current link: about
    len(records)/100 calls for the links and as many for the targets' display values."""
    if not records:
        return {}
    ids = {key: record.id for key, record in records.items()}
    before = _snapshot_links(snapshot, link)
    current = associations.current_targets(client, object_type, link, ids.values(),
                                           {record_id: before.get(key, (None,))[0] for key, record_id in ids.items()})
    targets = {key: current[record_id] for key, record_id in ids.items()}
    shown = associations.shown_values(client, link, targets.values())
    return {key: (target, shown.get(target)) for key, target in targets.items()}


def _snapshot_links(snapshot, link: Link) -> dict[str, tuple]:
    """Key → (target record id, display value) as the snapshot holds them."""
    column = state.target_column(link.name)
    if snapshot is None or column not in snapshot.records:
        return {}
    targets, shown = (_nones(snapshot.records[c]) for c in (column, link.name))
    return dict(zip(snapshot.records.index, zip(targets, shown)))


def _definitions(prepared: jobs.Prepared, properties: list[dict]) -> list[dict]:
    """The portal's definitions of the mapped properties: kept in the snapshot, so a re-sync with
    nothing to write needs no properties call."""
    mapped = set(prepared.mapped_properties)
    return [p for p in properties if p["name"] in mapped]


def _links(prepared: jobs.Prepared, client: PortalClient, cached: list[dict] | None) -> list[Link]:
    """The mapping's association columns the sheet has: from the snapshot when it was taken with
    this mapping (no call), else the target type and association type from the portal."""
    present = prepared.local.frame.columns
    if cached is not None:
        return [Link.from_cached(c) for c in cached if c["name"] in present]
    return associations.resolve(prepared.mapping, client, prepared.object_type, present)


def _prepare(m: mapping.Mapping, client: PortalClient, source, snapshot, properties: list[dict] | None) -> jobs.Prepared:
    """jobs.prepare, with the object type taken from the snapshot when the mapping still names it
    (a schemas call saved on every re-sync), and the given property definitions if any."""
    known = (snapshot.meta.get("object_type") if snapshot and snapshot.meta.get("object") == m.object else None)
    return jobs.prepare(m, client, source=source, object_type=ObjectType(**known) if known else None,
                        properties=properties)


def _usable_rows(prepared: jobs.Prepared, links: list[Link]) -> tuple[pd.DataFrame, set, list]:
    """Rows the merge may use, the keys of rows it must leave alone (bad cells, repeated keys),
    and those rows' errors. A held row's record is neither pulled into nor archived."""
    m = prepared.mapping
    local = prepared.local.frame[[*prepared.mapped_properties, *(l.name for l in links)]]
    keys = local[m.id_property]
    errors = list(prepared.local.errors)
    unusable = keys_rules.errors(keys, m.id_property)
    bad = local.index.isin([e.row for e in errors]) | unusable.notna().to_numpy()
    errors += [tables.CellError(prepared.table.path, int(row), m.id_column, _cell(keys[row]), message)
               for row, message in unusable.dropna().items()]
    return local[~bad], set(keys[bad].dropna()), sorted(errors, key=lambda e: (e.row, e.column))


def _remote_changes(prepared, client: PortalClient, snapshot, names, margin_seconds, full) -> tuple[dict, set[str]]:
    """Key → record for the records this sync merges, and the ids HubSpot has archived.

    The records are those HubSpot reports modified since the last sync began, less the margin (or,
    when `full`, every record), that belong to the sheet (see _belongs). The mapping's `where`
    narrows the search; it is checked even before the first sync, which asks for nothing else, so
    a bad condition stops any sync before anything is sent."""
    filters = _where_filters(prepared, client)
    if snapshot is None:
        return {}, set()
    since = int(snapshot.meta["since_ms"] - margin_seconds * 1000)
    m = prepared.mapping
    stamp = prepared.object_type.modified_property  # lastmodifieddate on contacts
    modified = [{"propertyName": stamp, "operator": "GT", "value": str(since)}, *filters]
    if full:
        found = client.list_records(prepared.object_type, properties=names)
        # Every record is read, so a row whose record left the where is refreshed too; only the
        # search tells which new records match.
        matching = {r.id for r in client.search(prepared.object_type, filters=modified)} if filters else None
    else:
        found = client.search(prepared.object_type, properties=names, sorts=[stamp],
                              filters=modified)
        matching = None
    known = set(snapshot.records.index) | set(prepared.local.frame[m.id_property].dropna())
    # Nothing created before the first sync began is new to the sheet: the margin looks back for
    # search lag, never past the sheet's own start.
    created_after = max(since, snapshot.meta.get("first_sync_ms") or since)
    changed = {r.properties.get(m.id_property): r for r in found
               if _belongs(r, m.id_property, known, created_after, matching)}
    archived = {r.id for r in client.list_records(prepared.object_type, archived=True)}
    return changed, archived


def _belongs(record, id_property: str, known: set, since_ms: int, matching: set | None) -> bool:
    """Whether a record HubSpot reports changed is the sheet's: its key is in the sheet or the
    snapshot, or it was created after `since_ms` (the last sync's search began, less the margin
    for index lag) and, when the search could not say so itself (`matching`), matches the where.
    Anything else never belonged: a row deleted before the first sync, or a record outside the
    where an export left out; it is not appended, pushed, archived or kept in the snapshot."""
    key = record.properties.get(id_property)
    if key is None:
        return False
    if key in known:
        return True
    created = _created_ms(record)
    return (created is None or created > since_ms) and (matching is None or record.id in matching)


def _created_ms(record) -> int | None:
    """When HubSpot created the record, in epoch ms: its createdAt, else its create-date property
    (hs_createdate; createdate on contacts and companies). None if HubSpot sent neither: such a record
    is taken as new, as before this rule."""
    text = record.created_at or record.properties.get("hs_createdate") or record.properties.get("createdate")
    if not text:
        return None
    return epoch_ms(text)




def _where_filters(prepared: jobs.Prepared, client: PortalClient) -> list[dict]:
    """The mapping's `where` as search filters (InputError naming the file and the condition). A
    re-sync knows only the mapped properties' definitions (from the snapshot): a condition on
    another property costs one properties call."""
    m = prepared.mapping
    if not m.where:
        return []
    try:
        return conditions(m, prepared.properties)
    except InputError:
        return conditions(m, client.properties(prepared.object_type))


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


# --- pushing ------------------------------------------------------------------------------------


def _push_plan(merged: merge.Merge, prepared: jobs.Prepared, client: PortalClient, links: list[Link], reads: _Reads,
               snapshot, steady) -> tuple[plan.Plan, dict]:
    """The plan of the merge's writes, with its cost estimate, and the links it sets (see _to_targets)."""
    m = prepared.mapping
    mode = plan.Mode.MIRROR if merged.archive_keys else plan.Mode.UPSERT
    local = pd.concat([merged.push_local, steady[0]]) if len(steady[0]) else merged.push_local
    remote = pd.concat([merged.push_remote, steady[1]]) if len(steady[1]) else merged.push_remote
    local, remote, row_errors, pushed = _to_targets(local, remote, m.id_property, links, reads, snapshot, client)
    meta = plan.PlanMeta(portal=prepared.portal.name, hub_id=prepared.portal.hub_id, mapping=str(m.path),
                         mapping_digest=m.digest, source=str(prepared.table.path),
                         max_daily_share=m.sync.max_daily_share,
                         associations={link.name: link.showing(_shown(link, local, remote, pushed, reads, snapshot))
                                       for link in links})
    built = plan.build(local, remote, object_type=prepared.object_type.object_type_id, id_property=m.id_property,
                       mode=mode, blank_cells="clear", row_errors=row_errors, allow_mass_archive=True, meta=meta)
    return plan.with_estimate(built, client.rate_limit), pushed


def _shown(link: Link, local: pd.DataFrame, remote: pd.DataFrame, pushed: dict, reads: _Reads, snapshot) -> dict:
    """Target record id → the value its cells show, for the targets this plan names, so its lines
    read `ann@x.com → bo@x.com` as push's do (see jobs._shown_targets)."""
    named = set(local[link.name].dropna()) | set(remote[link.name].dropna())
    known = [*pushed.get(link.name, {}).values(), *reads.links.get(link.name, {}).values(),
             *_snapshot_links(snapshot, link).values()]
    return {target: shown for target, shown in known if target in named and shown}


def _to_targets(local: pd.DataFrame, remote: pd.DataFrame, id_property: str, links: list[Link], reads: _Reads,
                snapshot, client) -> tuple[pd.DataFrame, pd.DataFrame, dict[int, str], dict]:
    """plan.build's association columns as target record ids, as push plans them. A value the
    sheet changed is looked up by the link's match property (about k/100 calls); any other keeps
    the record's current target (read this run, or the snapshot's). Returns the two frames, row
    errors for values no record matches, and per link key → (target id, display value) pushed."""
    local, remote = local.copy(), remote.copy()
    row_errors: dict[int, str] = {}
    pushed: dict[str, dict] = {}
    for link in links:
        current = {k: t for k, (t, _) in _snapshot_links(snapshot, link).items()}
        current.update({k: t for k, (t, _) in reads.links.get(link.name, {}).items()})
        keys = local[id_property].to_numpy(dtype=object)
        mine = local[link.name].to_numpy(dtype=object)
        theirs = remote[link.name].reindex(keys).to_numpy(dtype=object)
        sent = ~pd.isna(mine) & merge.differs(mine, theirs)
        found = associations.find_targets(client, link, mine[sent]) if sent.any() else {}
        targets = [current.get(key) if not pd.isna(value) else None for key, value in zip(keys, mine)]
        for position in np.flatnonzero(sent):
            row, key, value = local.index[position], keys[position], mine[position]
            targets[position] = found.get(value)
            pushed.setdefault(link.name, {})[key] = (targets[position], value)
            if value not in found:
                jobs.add_row_error(row_errors, row, associations.not_found(link, value))
        local[link.name] = pd.Series(targets, index=local.index, dtype=object)
        remote[link.name] = pd.Series([current.get(k) for k in remote.index], index=remote.index, dtype=object)
    return local, remote, row_errors, pushed


def _reasons(built: plan.Plan) -> list[str]:
    """Why a person should say yes before the plan runs (archives, a cost over max_daily_share),
    each as "would …"."""
    reasons = []
    archives = len(built.of_kind(plan.ActionKind.ARCHIVE))
    if archives:
        reasons.append(f"would archive {archives} record(s) whose rows left the sheet (mirror mode)")
    costly = jobs.over_budget(built)
    if costly:
        reasons.append(costly.removeprefix("this run "))
    return reasons


# --- the next snapshot --------------------------------------------------------------------------


def _with_reads(next_base: pd.DataFrame, links: list[Link], reads: _Reads, pushed: dict, snapshot) -> pd.DataFrame:
    """The merge's next snapshot with, per link, the target record id of the display value it
    settled on (pushed, read this run, or the snapshot's), and each record's updatedAt: the one
    read this run where the record now holds exactly the values read, else the snapshot's (see
    _seen, which trusts it)."""
    next_base = next_base.copy()
    known = snapshot.records["updated_at"] if snapshot is not None else pd.Series(dtype=object)
    at = _nones(known.reindex(next_base.index))
    if reads.frame is not None and len(reads.frame):
        columns = [c for c in next_base.columns if c not in ("record_id", "archived")]
        read = reads.frame.reindex(index=next_base.index, columns=columns).to_numpy(dtype=object)
        moved = np.zeros(len(next_base), dtype=bool)
        for position, column in enumerate(columns):
            moved |= merge.differs(next_base[column].to_numpy(dtype=object), read[:, position])
        read_at = {key: record.updated_at or None for key, record in reads.records.items()}
        at = [None if key in read_at and moved[i] else read_at.get(key, at[i]) for i, key in enumerate(next_base.index)]
    next_base.insert(2, "updated_at", at)
    for link in links:
        choices = (pushed.get(link.name, {}), reads.links.get(link.name, {}), _snapshot_links(snapshot, link))
        shown = next_base[link.name].to_numpy(dtype=object)
        next_base[state.target_column(link.name)] = [_target_of(key, _cell(value), choices)
                                                     for key, value in zip(next_base.index, shown)]
    return next_base


def _target_of(key, shown, choices) -> str | None:
    for choice in choices:
        target, display = choice.get(key, (None, _MISSING))
        if display is not _MISSING and display == shown:
            return target
    return None


_MISSING = object()


def _cell(value):
    """None for any missing marker (None, NaN, <NA>), else the value."""
    return None if value is None or (not isinstance(value, str) and pd.isna(value)) else value


def _nones(column: pd.Series) -> list:
    """The column's values, None for every missing marker."""
    cells = column.to_numpy(dtype=object)
    return np.where(pd.isna(cells), None, cells).tolist()


def _settle(next_base: pd.DataFrame, snapshot, results) -> pd.DataFrame:
    """The next snapshot: with the record ids and updatedAt of written records, and the old
    snapshot's row kept for every row whose write failed (so the next run tries it again)."""
    if results is None:
        return next_base
    done = (execute.Outcome.CREATED, execute.Outcome.UPDATED)
    written = {o.key: o.record_id for o in results.outcomes if o.outcome in done}
    failed = [o.key for o in results.outcomes
              if o.outcome not in (*done, execute.Outcome.ARCHIVED, execute.Outcome.UNCHANGED)]
    hit = next_base.index.isin(list(written))
    ids = [written[key] for key in next_base.index[hit]]
    next_base.loc[hit, "record_id"] = pd.Series(ids, index=next_base.index[hit], dtype=object)
    next_base.loc[hit, "updated_at"] = pd.Series([results.updated_at.get(i) for i in ids],
                                                 index=next_base.index[hit], dtype=object)
    if failed:
        next_base = next_base.drop(index=failed, errors="ignore")
        old = snapshot.records if snapshot is not None else None
        kept = old[old.index.isin(failed)] if old is not None else ()
        if len(kept):
            next_base = pd.concat([next_base.astype(object), kept.reindex(columns=next_base.columns).astype(object)])
    next_base["archived"] = next_base["archived"].astype(bool)
    return next_base


# --- writing into the sheet ---------------------------------------------------------------------


@dataclass
class _SheetEdits:
    """What a sync writes into the sheet: cells by (row, column), appended rows, added columns,
    and the cells held back because the file cannot hold them (each with its record's key and
    property)."""

    cells: dict[tuple[int, str], object]
    appended: list[dict]
    add_columns: list[str]
    held: list[tuple[tables.CellError, str, str]]


def _sheet_edits(prepared: jobs.Prepared, merged: merge.Merge, links: list[Link]) -> _SheetEdits:
    """Pulled cells, new rows and archive marks as the sheet shows them (an association cell
    shows the target's display value), less the cells the file cannot hold (Excel's 32,767
    characters, a character a CSV's encoding lacks): those are held back, never written cut."""
    m, table = prepared.mapping, prepared.table
    is_csv = table.path.suffix.lower() in tables.CSV_SUFFIXES
    column_of = {spec.property: column for column, spec in m.columns.items()} | {l.name: l.column for l in links}
    property_of = {column: prop for prop, column in column_of.items()}
    cells: dict[tuple[int, str], object] = {}
    held: list[tuple[tables.CellError, str, str]] = []
    if merged.pulls:
        rows = sorted({row for row, _ in merged.pulls})
        frame = pd.DataFrame(None, index=rows, columns=prepared.mapped_properties, dtype=object)
        for (row, prop), value in merged.pulls.items():
            if prop in frame:
                frame.at[row, prop] = value
        natural = sheet_cells(frame, m, prepared.properties, text_dates=is_csv)
        cells.update({(row, column_of[prop]): natural.at[row, column_of[prop]] if prop in frame else value
                      for (row, prop), value in merged.pulls.items()})
        keys = prepared.local.frame[m.id_property]
        for error in _unwritable_cells(table, cells):
            del cells[(error.row, error.column)]
            held.append((error, keys[error.row], property_of[error.column]))
    cells.update({(row, STATUS_COLUMN): ARCHIVED_MARK for row in merged.marks})
    appended = []
    if len(merged.appends):
        natural = sheet_cells(merged.appends, m, prepared.properties, text_dates=is_csv)
        for link in links:
            natural[link.column] = merged.appends[link.name].to_numpy(dtype=object)
        first = int(table.frame.index.max()) + 1 if len(table.frame) else m.header_row + 1
        keys = list(natural.index)
        numbered = natural.set_axis(range(first, first + len(natural)))
        for error in tables.unwritable(numbered, table.path, encoding=table.encoding, first_row=None):
            numbered.at[error.row, error.column] = None
            held.append((error, keys[error.row - first], property_of[error.column]))
        appended = [{c: v for c, v in row.items() if v is not None} for row in numbered.to_dict("records")]
    held = [(_held_error(error, f"{m.id_property} {key}, {prop}"), key, prop) for error, key, prop in held]
    return _SheetEdits(cells, appended, [STATUS_COLUMN] if merged.marks else [], held)


def _unwritable_cells(table: tables.Table, cells: dict[tuple[int, str], object]) -> list[tables.CellError]:
    rows = sorted({row for row, _ in cells})
    columns = list(dict.fromkeys(column for _, column in cells))
    frame = pd.DataFrame(None, index=rows, columns=columns, dtype=object)
    for (row, column), value in cells.items():
        frame.at[row, column] = value
    return tables.unwritable(frame, table.path, encoding=table.encoding, first_row=None)


def _held_error(error: tables.CellError, record: str) -> tables.CellError:
    return tables.CellError(error.path, error.row, error.column, values.short_value(error.value),
                            f"HubSpot's value of {record} is not written into the sheet: {error.message}. "
                            "HubSpot keeps its value and this cell is left as it was")


def _hold(next_base: pd.DataFrame, held: list, snapshot) -> pd.DataFrame:
    """The next snapshot with each held cell's old agreed value (none for a new record), so no
    later sync reads the sheet's cell as an edit to push, and HubSpot's value shows again as a
    change when that record is next read."""
    old = snapshot.records if snapshot is not None else None
    for _, key, prop in held:
        if key in next_base.index and prop in next_base.columns:
            known = old is not None and key in old.index and prop in old.columns
            next_base.at[key, prop] = old.at[key, prop] if known else None
            next_base.at[key, "updated_at"] = None
    return next_base


def _write_sheet(prepared: jobs.Prepared, edits: _SheetEdits, conflicts: pd.DataFrame,
                 expect_digest: str | None) -> None:
    """The edits into the sheet, and the conflicts beside it (a CSV) or on their own sheet; with
    `expect_digest`, tables.SheetChanged and nothing written when the sheet was saved since."""
    m, table = prepared.mapping, prepared.table
    if table.path.suffix.lower() in tables.CSV_SUFFIXES:
        tables.check_unchanged(table.path, expect_digest)  # before the conflicts file beside it, too
        if edits.cells or edits.appended:
            tables.edit_workbook(table.path, header_row=m.header_row, cells=edits.cells, append_rows=edits.appended,
                                 add_columns=edits.add_columns, expect_digest=expect_digest)
        _write_conflicts_file(table.path, conflicts)
    else:  # one save: the edits and the Conflicts sheet, written while conflicts remain, removed after
        tables.edit_workbook(table.path, sheet=m.sheet, header_row=m.header_row, cells=edits.cells,
                             append_rows=edits.appended, add_columns=edits.add_columns,
                             replace_sheets={CONFLICTS_SHEET: _readable(conflicts) if len(conflicts) else None},
                             expect_digest=expect_digest)


def _readable(conflicts: pd.DataFrame) -> pd.DataFrame:
    """The conflicts as a person reads them on the Conflicts sheet (never read back)."""
    shown = conflicts.copy()
    for side in ("base", "sheet", "hubspot"):
        if side in shown:
            shown[side] = shown[side].map(report.fit_cell)
    return shown


def conflicts_path(source: Path) -> Path:
    """Where a CSV's conflicts go: beside it (a CSV has no second sheet)."""
    return source.with_name(f"{source.stem}.conflicts.csv")


def _write_conflicts_file(source: Path, conflicts: pd.DataFrame) -> None:
    """A CSV's conflicts, beside it: written while conflicts remain, removed when none do."""
    target = conflicts_path(source)
    if len(conflicts):
        tables.write(conflicts, target)
    elif target.exists():
        target.unlink()
