"""Which HubSpot records syncer owns for a mapping: the ones it created or synced. SQLite, beside the mapping.

Mirror mode archives only these, so a record someone made in HubSpot by hand, or another tool's
record, is never archived just because the sheet does not have it. The ledger lives in
`owned-<mapping name>.sqlite` in the mapping's state folder (`.syncer` beside it; see
settings.state_folder), keyed by portal (portals.Portal.key)
and object type: a record id means nothing on another portal, nor on a sandbox that was reset
(which is a new portal with a new hub id). The two-way sync snapshot (`syncer/state.py`) is a
separate file.

Ledgers of syncer 0.1 (table `owned`, with no portal) are left unread: their records count as not
owned, so mirror mode leaves them alone (--archive-unowned archives them) until a run syncs them.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from contextlib import closing
from pathlib import Path

from syncer import settings
from syncer.errors import InputError

_SCHEMA = ("CREATE TABLE IF NOT EXISTS owned_records (portal TEXT, object_type TEXT, record_id TEXT, "
           "PRIMARY KEY (portal, object_type, record_id))")


def ledger_path(mapping_path: str | Path) -> Path:
    return settings.state_folder(mapping_path) / f"owned-{Path(mapping_path).stem}.sqlite"


def owned(mapping_path: str | Path, portal: str, object_type: str) -> set[str]:
    """Record ids syncer created or synced for this mapping, portal and object (empty before the first run)."""
    path = ledger_path(mapping_path)
    if not path.exists():
        return set()
    with closing(_connect(path)) as db:
        found = db.execute("SELECT record_id FROM owned_records WHERE portal = ? AND object_type = ?",
                           (portal, object_type))
        return {record_id for (record_id,) in found}


def record(mapping_path: str | Path, portal: str, object_type: str, *, synced: Iterable[str],
           archived: Iterable[str] = ()) -> None:
    """Add the records a run wrote or found in step with the sheet; forget those it archived."""
    path = ledger_path(mapping_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with closing(_connect(path)) as db, db:
        db.executemany("INSERT OR IGNORE INTO owned_records VALUES (?, ?, ?)",
                       ((portal, object_type, i) for i in synced))
        db.executemany("DELETE FROM owned_records WHERE portal = ? AND object_type = ? AND record_id = ?",
                       ((portal, object_type, i) for i in archived))


def _connect(path: Path) -> sqlite3.Connection:
    try:
        db = sqlite3.connect(path)
        db.execute(_SCHEMA)
    except sqlite3.DatabaseError as exc:
        raise InputError(f"{path}: cannot read syncer's record of owned records ({exc}); "
                         "move it away to start a new one") from None
    return db
