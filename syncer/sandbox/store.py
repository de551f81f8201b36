"""The portal's state in SQLite: records, unique values, property history, associations, definitions.

One connection serves every thread behind one lock; a request holds it for the whole of its work
(`with store.transaction():`), so a batch is validated and written atomically, like HubSpot's.
Property values live in one JSON column; the columns search narrows on (id, updated_ms,
created_ms) are real, indexed columns.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Iterable, Iterator

FIRST_RECORD_ID = 10_000_001

SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    id INTEGER PRIMARY KEY, type TEXT NOT NULL, created_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL, archived INTEGER NOT NULL DEFAULT 0, archived_ms INTEGER,
    props TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS records_by_type ON records (type, archived, id);
CREATE INDEX IF NOT EXISTS records_by_updated ON records (type, archived, updated_ms, id);
CREATE INDEX IF NOT EXISTS records_by_created ON records (type, archived, created_ms, id);
CREATE TABLE IF NOT EXISTS uniques (
    type TEXT NOT NULL, name TEXT NOT NULL, value TEXT NOT NULL, record_id INTEGER NOT NULL,
    PRIMARY KEY (type, name, value)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS history (
    record_id INTEGER NOT NULL, name TEXT NOT NULL, value TEXT, ms INTEGER NOT NULL, source TEXT);
CREATE INDEX IF NOT EXISTS history_by_record ON history (record_id, name);
CREATE TABLE IF NOT EXISTS associations (
    from_id INTEGER NOT NULL, type_id INTEGER NOT NULL, to_id INTEGER NOT NULL,
    PRIMARY KEY (from_id, type_id, to_id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""

COLUMNS = "id, type, created_ms, updated_ms, archived, archived_ms, props"


@dataclass
class Record:
    id: int
    type: str
    created_ms: int
    updated_ms: int
    archived: bool = False
    archived_ms: int | None = None
    props: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_row(cls, row) -> "Record":
        return cls(row[0], row[1], row[2], row[3], bool(row[4]), row[5], json.loads(row[6]))


class Clock:
    """The portal's time in epoch milliseconds: the real time plus an offset a test may move
    forward (`advance`), so what waits on the clock (search lag) is reached without sleeping.
    Writes get strictly increasing instants (the two-way sync searches `hs_lastmodifieddate GT x`,
    so two writes must never share a millisecond)."""

    def __init__(self, last_ms: int = 0, offset_ms: int = 0) -> None:
        self.last_ms = last_ms
        self.offset_ms = offset_ms

    def now(self) -> int:
        return int(time.time() * 1000) + self.offset_ms

    def tick(self) -> int:
        self.last_ms = max(self.now(), self.last_ms + 1)
        return self.last_ms

    def advance(self, seconds: float) -> None:
        """Move the portal's time forward (never back: instants already given stay in the past)."""
        if seconds < 0:
            raise ValueError("the sandbox's clock only moves forward")
        self.offset_ms += round(seconds * 1000)


class Store:
    def __init__(self, db_path: str | None) -> None:
        self.path = db_path or ":memory:"
        self.db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        if db_path:
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(SCHEMA)
        self.lock = threading.RLock()
        last = self.db.execute("SELECT MAX(MAX(updated_ms), COALESCE(MAX(archived_ms), 0)) FROM records").fetchone()[0]
        self.clock = Clock(last or 0)
        self.next_id = (self.db.execute("SELECT MAX(id) FROM records").fetchone()[0] or FIRST_RECORD_ID - 1) + 1

    def close(self) -> None:
        with self.lock:
            self.db.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        with self.lock:
            self.db.execute("BEGIN")
            try:
                yield
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
            self.db.execute("COMMIT")

    # --- meta --------------------------------------------------------------------------------

    def meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    # --- records -----------------------------------------------------------------------------

    def allocate_id(self) -> int:
        self.next_id += 1
        return self.next_id - 1

    def get(self, type_id: str, ids: Iterable[int], archived: bool = False) -> dict[int, Record]:
        rows = self._select_in(f"SELECT {COLUMNS} FROM records WHERE type = ? AND archived = ? AND id IN",
                               (type_id, int(archived)), ids)
        return {row[0]: Record.from_row(row) for row in rows}

    def ids_by_unique(self, type_id: str, name: str, values: Iterable[str]) -> dict[str, int]:
        return dict(self._select_in("SELECT value, record_id FROM uniques WHERE type = ? AND name = ? AND value IN",
                                    (type_id, name), values))

    def _select_in(self, query: str, fixed: tuple, values: Iterable) -> list[tuple]:
        """Rows of `query` (ending in IN) for every value, 500 at a time: SQLite caps bound parameters."""
        values, rows = list(values), []
        for start in range(0, len(values), 500):
            chunk = values[start:start + 500]
            rows += self.db.execute(f"{query} ({','.join('?' * len(chunk))})", (*fixed, *chunk)).fetchall()
        return rows

    def archived_ids_by_value(self, type_id: str, name: str, values: Iterable[str],
                              key=lambda value: value) -> dict[str, int]:
        """Archived records' ids by the `key` of their value of `name`, for the keys in `values`,
        found by scanning (archived records may hold no unique-value rows)."""
        wanted = set(values)
        rows = self.db.execute(
            "SELECT id, json_extract(props, '$.' || ?) FROM records WHERE type = ? AND archived = 1",
            (json.dumps(name), type_id))
        return {key(value): record_id for record_id, value in rows if value is not None and key(value) in wanted}

    def insert(self, records: list[Record]) -> None:
        self.db.executemany(
            f"INSERT INTO records ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [(r.id, r.type, r.created_ms, r.updated_ms, int(r.archived), r.archived_ms,
              json.dumps(r.props, separators=(",", ":"))) for r in records])

    def update(self, records: list[Record]) -> None:
        self.db.executemany(
            "UPDATE records SET updated_ms = ?, archived = ?, archived_ms = ?, props = ? WHERE id = ?",
            [(r.updated_ms, int(r.archived), r.archived_ms, json.dumps(r.props, separators=(",", ":")), r.id)
             for r in records])

    def claim_unique(self, rows: list[tuple[str, str, str, int]]) -> None:
        """(type, name, value, record_id) rows: the record now holds that unique value."""
        self.db.executemany("INSERT OR REPLACE INTO uniques VALUES (?, ?, ?, ?)", rows)

    def clear_uniques(self) -> None:
        self.db.execute("DELETE FROM uniques")

    def release_unique(self, rows: list[tuple[str, str, str]]) -> None:
        self.db.executemany("DELETE FROM uniques WHERE type = ? AND name = ? AND value = ?", rows)

    def add_history(self, rows: list[tuple[int, str, str | None, int, str]]) -> None:
        self.db.executemany("INSERT INTO history VALUES (?, ?, ?, ?, ?)", rows)

    def history(self, record_id: int, names: Iterable[str]) -> dict[str, list[tuple]]:
        names = list(names)
        marks = ",".join("?" * len(names))
        rows = self.db.execute(
            f"SELECT name, value, ms, source FROM history WHERE record_id = ? AND name IN ({marks}) "
            "ORDER BY ms DESC, rowid DESC", (record_id, *names))
        found: dict[str, list[tuple]] = {}
        for name, value, ms, source in rows:
            found.setdefault(name, []).append((value, ms, source))
        return found

    def select(self, where: str, params: tuple, order: str, limit: int | None = None,
               offset: int = 0) -> Iterator[Record]:
        tail = f" LIMIT {int(limit)} OFFSET {int(offset)}" if limit is not None else ""
        for row in self.db.execute(f"SELECT {COLUMNS} FROM records WHERE {where} ORDER BY {order}{tail}",
                                   params):
            yield Record.from_row(row)

    def count(self, where: str, params: tuple) -> int:
        return self.db.execute(f"SELECT COUNT(*) FROM records WHERE {where}", params).fetchone()[0]

    # --- associations ------------------------------------------------------------------------

    def associate(self, rows: list[tuple[int, int, int]]) -> None:
        """(from_id, type_id, to_id) rows."""
        self.db.executemany("INSERT OR IGNORE INTO associations VALUES (?, ?, ?)", rows)

    def dissociate(self, rows: list[tuple[int, int, int]]) -> None:
        self.db.executemany("DELETE FROM associations WHERE from_id = ? AND type_id = ? AND to_id = ?", rows)

    def associations(self, from_id: int, type_ids: Iterable[int]) -> list[tuple[int, int]]:
        """(to_id, type_id) pairs leaving `from_id` through any of `type_ids`."""
        type_ids = list(type_ids)
        if not type_ids:
            return []
        marks = ",".join("?" * len(type_ids))
        return list(self.db.execute(
            f"SELECT to_id, type_id FROM associations WHERE from_id = ? AND type_id IN ({marks}) "
            "ORDER BY to_id, type_id", (from_id, *type_ids)))

    def associations_from(self, from_ids: Iterable[int], type_ids: Iterable[int]) -> dict[int, list[tuple[int, int]]]:
        """from_id → its (to_id, type_id) pairs through any of `type_ids`, for many records at once."""
        from_ids, type_ids = list(from_ids), list(type_ids)
        found: dict[int, list[tuple[int, int]]] = {}
        if not type_ids:
            return found
        kinds = ",".join("?" * len(type_ids))
        for start in range(0, len(from_ids), 500):
            chunk = from_ids[start:start + 500]
            marks = ",".join("?" * len(chunk))
            rows = self.db.execute(
                f"SELECT from_id, to_id, type_id FROM associations WHERE from_id IN ({marks}) "
                f"AND type_id IN ({kinds}) ORDER BY from_id, to_id, type_id", (*chunk, *type_ids))
            for from_id, to_id, type_id in rows:
                found.setdefault(from_id, []).append((to_id, type_id))
        return found
