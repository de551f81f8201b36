"""The last-sync snapshot of a two-way sync: the base of its three-way merge (SQLite).

One file per mapping and portal, `<mapping stem>.<portal key>.sync.sqlite` in the mapping's state
folder (`.syncer` beside the mapping; see settings.state_folder) (portals.Portal.key: the hub id), so syncing one mapping with two portals keeps two bases,
and a reset sandbox (a new portal) starts with a first sync. Per key (the id
property's canonical value): the record id, whether HubSpot had archived the record, the record's
`updatedAt` as the last sync last saw it (the answer to its write, or its read), the canonical value
of each property both sides agreed on and, per association column (`assoc:<column>`), the target's
display value (the `match` property, e.g. the owner's email) and the target's record id
(`target:<column>`). Beside them: the schema version, `since` (the time the last sync's search for
remote changes started), and what a quiet re-sync would otherwise ask the portal for: the object
type, the mapped properties' definitions and the association types, valid while the mapping's
digest is unchanged.

A snapshot is written whole to a temporary file and renamed over the old one (fsynced first) only
after a successful run, so a run killed at any moment, or a power cut, leaves the previous snapshot
in place.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from syncer import settings, tables
from syncer.errors import InputError
from syncer.hubspot.models import ObjectType

SCHEMA_VERSION = 2  # 2: updated_at per record; association values and their target record ids
BASE_COLUMNS = ["record_id", "archived", "updated_at"]
TARGET_PREFIX = "target:"


@dataclass
class Snapshot:
    """`records`: index = key; columns record_id, archived (bool), updated_at, then one per property
    and association pseudo-property (str or None), and target:<column> per association column.
    `meta`: since_ms, first_sync_ms (when the first sync began), mapping_digest, object_type
    {object_type_id, name, fully_qualified_name},
    definitions (the mapped properties'), links (see associations.Link.cached)."""

    records: pd.DataFrame
    meta: dict = field(default_factory=dict)

    @property
    def properties(self) -> list[str]:
        return [c for c in self.records.columns if c not in BASE_COLUMNS]


def target_column(name: str) -> str:
    """The column holding the target record ids of association pseudo-property `name` (assoc:<column>)."""
    return TARGET_PREFIX + name.split(":", 1)[1]


def path_for(mapping_path: str | Path, portal: str) -> Path:
    """The snapshot of `mapping_path`'s syncs with the portal whose key (portals.Portal.key) is `portal`."""
    return settings.state_folder(mapping_path) / f"{Path(mapping_path).stem}.{portal}.sync.sqlite"


def legacy_path(mapping_path: str | Path) -> Path:
    """Where syncer 0.1 kept a mapping's one snapshot, whatever the portal."""
    return settings.state_folder(mapping_path) / f"{Path(mapping_path).stem}.sync.sqlite"


def load_legacy(mapping_path: str | Path, portal) -> Snapshot | None:
    """Syncer 0.1's snapshot of this mapping, when it may be `portal`'s (a portals.Portal): it named
    no portal, so it is taken unless the custom object it names carries another hub id
    (p<hub id>_<name>). The caller saves it under the portal's name and removes this file."""
    snapshot = load(legacy_path(mapping_path))
    if snapshot is None:
        return None
    known = snapshot.meta.get("object_type")
    hub_id = ObjectType(**known).hub_id if known else None
    return snapshot if hub_id is None or hub_id == portal.hub_id else None


def load(path: Path) -> Snapshot | None:
    """The snapshot at `path`, or None before the first sync."""
    if not path.exists():
        return None
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            meta = {k: json.loads(v) for k, v in db.execute("SELECT key, value FROM meta")}
            if meta.get("schema_version") not in (1, SCHEMA_VERSION):
                raise InputError(f"{path}: a sync snapshot of schema version {meta.get('schema_version')!r}, "
                                 f"not {SCHEMA_VERSION} (another syncer version wrote it); delete it to start "
                                 "over: the next sync is then a first sync, which pushes the sheet and fills "
                                 "its blank cells from HubSpot")
            # Version 1 kept no updatedAt: none is known, so every record HubSpot reports changed is
            # read and merged, as version 1 did; the next successful sync saves version 2.
            updated_at = "updated_at" if meta["schema_version"] == SCHEMA_VERSION else "NULL"
            rows = db.execute(f"SELECT key, record_id, archived, {updated_at}, vals FROM records").fetchall()
        finally:
            db.close()
    except sqlite3.Error as exc:
        raise InputError(f"{path}: cannot read the sync snapshot ({exc}); delete it to start over") from None
    names = meta.get("properties", [])
    frame = pd.DataFrame([[rid, bool(arch), at, *json.loads(vals)] for _, rid, arch, at, vals in rows],
                         index=[r[0] for r in rows], columns=[*BASE_COLUMNS, *names], dtype=object)
    frame["archived"] = frame["archived"].astype(bool)
    return Snapshot(frame, {**meta, "schema_version": SCHEMA_VERSION})


def save(snapshot: Snapshot, path: Path) -> None:
    """Write the whole snapshot to a temporary file and put it in place of `path`: fsynced, with the
    old snapshot's mode (a first one gets the umask's), renamed (tables.replacing)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tables.replacing(path) as tmp:
        db = sqlite3.connect(tmp)
        try:
            _fill(db, snapshot)
        finally:
            db.close()  # closed before the rename: SQLite holds nothing of the file open


def _fill(db: sqlite3.Connection, snapshot: Snapshot) -> None:
    db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    db.execute("CREATE TABLE records (key TEXT PRIMARY KEY, record_id TEXT, archived INTEGER NOT NULL, "
               "updated_at TEXT, vals TEXT NOT NULL)")
    meta = {**snapshot.meta, "schema_version": SCHEMA_VERSION, "properties": snapshot.properties}
    db.executemany("INSERT INTO meta VALUES (?, ?)", [(k, json.dumps(v)) for k, v in meta.items()])
    frame = snapshot.records
    values = frame[snapshot.properties].astype(object)
    values = values.where(values.notna(), None).to_numpy(dtype=object).tolist()
    updated = frame["updated_at"] if "updated_at" in frame else pd.Series(None, index=frame.index, dtype=object)
    rows = zip(frame.index, frame["record_id"], frame["archived"].astype(int), updated, values)
    db.executemany("INSERT INTO records VALUES (?, ?, ?, ?, ?)",
                   ((str(k), _text(r), int(a), _text(u), json.dumps(v)) for k, r, a, u, v in rows))
    db.commit()


def _text(value) -> str | None:
    return None if value is None or (not isinstance(value, str) and pd.isna(value)) else str(value)
