"""The three-way merge of a two-way sync. Pure: canonical frames in, a Merge out; no I/O, no clock.

Per key and property, with the snapshot as the base: changed only in the sheet → pushed; changed
only in HubSpot → pulled into the sheet; changed on both sides to the same value → agreed; to
different values → a conflict, settled by `prefer` or left for a person (neither side is touched
and the base stays, so it is found again next time). A record HubSpot does not report as changed
holds its base values, which is why unchanged rows cost no API call.

Whole records: a record new in HubSpot is appended to the sheet; a record archived in HubSpot is
marked on its row (a conflict if the row was edited since); a row deleted from the sheet archives
its record in mirror mode only (a conflict if the record changed in HubSpot since), and otherwise
stays out of the sheet, the record kept in the base. Keys new to the sheet and the first sync have
no base: the sheet is pushed, blanks are filled from HubSpot.

"New in HubSpot" is the caller's word: every `remote` record that neither the sheet nor the base
has is appended, so the caller passes only those that belong to the sheet (sync passes records
created since the last sync that match the mapping's `where`; one created earlier never belonged,
its row perhaps deleted before the first sync).

Any column of `local` besides the id property merges as a property, so an association column
(`assoc:<column>`, its value the target's display value such as the owner's email) merges like one.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

SHEET, HUBSPOT = "sheet", "hubspot"
RECORD = "(record)"  # the property named by a whole-record conflict
CONFLICT_COLUMNS = ["row", "key", "property", "base", "sheet", "hubspot"]
_UNKNOWN = object()  # a base that equals nothing: the first sync in blank_cells "clear"


@dataclass
class Merge:
    """What a sync will do. `push_local`/`push_remote` are plan.build's inputs (blank_cells "clear":
    every property a row does not push holds the remote value, so only pushed ones differ).
    `pulls`: (sheet row, property) → canonical value (None clears). `appends`: canonical values of
    new HubSpot records by key. `marks`: rows whose record HubSpot archived. `base`: the next
    snapshot's records, as if every push succeeds."""

    push_local: pd.DataFrame
    push_remote: pd.DataFrame
    archive_keys: list[str]
    pulls: dict[tuple[int, str], str | None]
    appends: pd.DataFrame
    marks: list[int]
    conflicts: pd.DataFrame
    base: pd.DataFrame
    counts: dict[str, int] = field(default_factory=dict)


def merge(local: pd.DataFrame, base: pd.DataFrame | None, remote: pd.DataFrame, *, id_property: str,
          archived_ids: set[str] = frozenset(), held_keys: set[str] = frozenset(), mirror: bool = False,
          prefer: str | None = None, blank_cells: str = "keep") -> Merge:
    """`local`: valid sheet rows (index = row number), canonical values by property, keys unique.
    `base`: the snapshot's records (state.Snapshot.records) or None for the first sync.
    `remote`: records changed in HubSpot since the last sync and records looked up for keys new to
    the sheet (index = key; columns id, updated_at, properties). `archived_ids`: record ids HubSpot
    has archived. `held_keys`: keys of rows left out for errors, which must not count as deleted."""
    first = base is None
    properties = [p for p in local.columns if p != id_property]
    if first:
        base = pd.DataFrame(columns=["record_id", "archived", *local.columns], dtype=object)
        prefer = prefer or SHEET
    state = _State(local, base, remote, id_property, properties, archived_ids, prefer)
    state.rows(_UNKNOWN if first and blank_cells == "clear" else None)
    state.gone_from_sheet(held_keys, mirror)
    return state.result()


def differs(a, b) -> np.ndarray:
    """Elementwise a != b where None equals None (and only None)."""
    a_none, b_none = pd.isna(a), pd.isna(b)
    return np.where(a_none | b_none, a_none != b_none, a != b).astype(bool)


class _State:
    def __init__(self, local, base, remote, id_property, properties, archived_ids, prefer) -> None:
        self.local, self.base, self.remote = local, base, remote
        self.id_property, self.properties, self.prefer = id_property, properties, prefer
        self.archived_ids = set(archived_ids)
        self.new_parts: list[pd.DataFrame] = []  # whole frames of next-snapshot records, by key
        self.new_rows: dict[str, dict | None] = {}  # single records (None: drop the key)
        self.push_rows: dict[int, dict] = {}
        self.push_remote: dict[str, dict] = {}
        self.archive_keys: list[str] = []
        self.pulls: dict[tuple[int, str], str | None] = {}
        self.appends: dict[str, dict] = {}
        self.marks: list[int] = []
        self.conflicts: list[dict] = []

    # --- rows in the sheet ---------------------------------------------------------------------

    def rows(self, no_base) -> None:
        keys = self.local[self.id_property].astype(object)
        in_base = keys.isin(self.base.index).to_numpy()
        in_remote = keys.isin(self.remote.index).to_numpy()
        based = self.base.reindex(keys.to_numpy())
        known_ids = based["record_id"].to_numpy(dtype=object)
        gone = in_base & ~in_remote & (based["archived"].fillna(False).astype(bool).to_numpy()
                                       | np.isin(known_ids.astype(str), list(self.archived_ids)))
        exists = in_remote | (in_base & ~gone)
        remote = self.remote.reindex(keys.to_numpy())
        record_ids = np.where(in_remote, remote["id"].to_numpy(dtype=object), np.where(exists, known_ids, None))
        b, l, r = {}, {}, {}
        for prop in self.properties:
            b[prop] = based[prop].to_numpy(dtype=object) if prop in based else np.full(len(keys), None, object)
            b[prop] = np.where(in_base, b[prop], no_base)
            l[prop] = self.local[prop].to_numpy(dtype=object)
            theirs = remote[prop].to_numpy(dtype=object) if prop in remote else np.full(len(keys), None, object)
            r[prop] = np.where(in_remote, theirs, np.where(exists, b[prop], None))
            b[prop], l[prop], r[prop] = (_nones(v) for v in (b[prop], l[prop], r[prop]))
        edited = np.zeros(len(keys), dtype=bool)
        for prop in self.properties:
            edited |= differs(l[prop], b[prop])
        self._archived_rows(keys, gone, edited, based, l)
        self._three_way(keys, ~gone, exists, record_ids, b, l, r, remote)

    def _archived_rows(self, keys, gone, edited, based, l) -> None:
        """Rows whose record HubSpot archived: marked, unless edited since (a conflict, or with
        prefer sheet, created again)."""
        for position in np.flatnonzero(gone):
            row, key = int(self.local.index[position]), keys.iloc[position]
            if not edited[position] or self.prefer == HUBSPOT:
                if not bool(based["archived"].iloc[position]):
                    self.marks.append(row)
                self.new_rows[key] = {**self._base_row(key), "archived": True}
            elif self.prefer == SHEET:
                self.push_rows[row] = {p: l[p][position] for p in self.properties} | {self.id_property: key}
                self.new_rows[key] = {"record_id": None, "archived": False,
                                      **{p: l[p][position] for p in self.properties}}
            else:
                self._conflict(row, key, RECORD, "in HubSpot", "edited", "archived")

    def _three_way(self, keys, live, exists, record_ids, b, l, r, remote) -> None:
        n = len(keys)
        pushes, pulls, conflicts, new = {}, {}, {}, {}
        for prop in self.properties:
            mine, theirs = differs(l[prop], b[prop]), differs(r[prop], b[prop])
            clash = mine & theirs & differs(l[prop], r[prop])
            pushes[prop] = live & ((mine & ~theirs) | (clash & (self.prefer == SHEET)))
            pulls[prop] = live & ((theirs & ~mine) | (clash & (self.prefer == HUBSPOT)))
            conflicts[prop] = live & clash & (self.prefer is None)
            new[prop] = np.where(conflicts[prop], b[prop], np.where(pulls[prop], r[prop], l[prop]))
            new[prop] = np.where(new[prop] == _UNKNOWN, None, new[prop]) if n else new[prop]
        creates = live & ~exists
        busy = creates.copy()
        for prop in self.properties:
            busy |= pushes[prop] | pulls[prop] | conflicts[prop]
        for position in np.flatnonzero(busy):
            row, key = int(self.local.index[position]), keys.iloc[position]
            sent = [p for p in self.properties if pushes[p][position]]
            for prop in self.properties:
                if pulls[prop][position]:
                    self.pulls[(row, prop)] = r[prop][position]
                if conflicts[prop][position]:
                    self._conflict(row, key, prop, b[prop][position], l[prop][position], r[prop][position])
            if sent or creates[position]:
                self.push_rows[row] = {p: (l[p][position] if p in sent else r[p][position])
                                       for p in self.properties} | {self.id_property: key}
                if exists[position]:
                    self.push_remote[key] = {"id": record_ids[position],
                                             "updated_at": remote["updated_at"].iloc[position]
                                             if "updated_at" in remote else None,
                                             **{p: r[p][position] for p in self.properties}}
        frame = pd.DataFrame({"record_id": record_ids, "archived": False, **new}, index=keys.to_numpy(),
                             columns=["record_id", "archived", *self.properties])
        self.new_parts.append(frame[live])

    # --- records not in the sheet ----------------------------------------------------------------

    def gone_from_sheet(self, held_keys, mirror: bool) -> None:
        in_sheet = set(self.local[self.id_property]) | set(held_keys)
        for key in self.remote.index:
            if key in in_sheet:
                continue
            record = self.remote.loc[key]
            theirs = {p: _none(record.get(p)) for p in self.properties}
            if key not in self.base.index or bool(self.base.at[key, "archived"]):
                self._append(key, record["id"], theirs)
            elif mirror:
                self._deleted_in_sheet(key, record["id"], theirs, changed=self._changed(key, theirs))
            else:
                self.new_rows[key] = {"record_id": record["id"], "archived": False, **theirs}
        for key in self.base.index:
            if key in in_sheet or key in self.remote.index or bool(self.base.at[key, "archived"]):
                continue
            record_id = self.base.at[key, "record_id"]
            if str(record_id) in self.archived_ids:
                self.new_rows[key] = None
            elif mirror:
                values = {p: _none(self.base.at[key, p]) if p in self.base else None for p in self.properties}
                self._deleted_in_sheet(key, record_id, values, changed=False)

    def _changed(self, key, theirs: dict) -> bool:
        return any(_none(self.base.at[key, p]) != v for p, v in theirs.items() if p in self.base)

    def _append(self, key, record_id, theirs: dict) -> None:
        self.appends[key] = {self.id_property: key, **theirs}
        self.new_rows[key] = {"record_id": record_id, "archived": False, **theirs}

    def _deleted_in_sheet(self, key, record_id, theirs: dict, *, changed: bool) -> None:
        """Mirror mode: archive the record, unless HubSpot changed it since (then a conflict)."""
        if changed and self.prefer == HUBSPOT:
            return self._append(key, record_id, theirs)
        if changed and self.prefer is None:
            return self._conflict(None, key, RECORD, "in the sheet", "deleted", "edited")
        self.archive_keys.append(key)
        self.push_remote[key] = {"id": record_id, "updated_at": None, **theirs}
        self.new_rows[key] = None

    def _conflict(self, row, key, prop, base, sheet, hubspot) -> None:
        base = None if base is _UNKNOWN else base
        self.conflicts.append(dict(zip(CONFLICT_COLUMNS, (row, key, prop, base, sheet, hubspot))))

    # --- the value ----------------------------------------------------------------------------

    def result(self) -> Merge:
        columns = [self.id_property, *self.properties]
        push_local = pd.DataFrame.from_dict(self.push_rows, orient="index", columns=columns, dtype=object)
        push_remote = pd.DataFrame.from_dict(self.push_remote, orient="index",
                                             columns=["id", "updated_at", *self.properties], dtype=object)
        appends = pd.DataFrame.from_dict(self.appends, orient="index", columns=columns, dtype=object)
        conflicts = pd.DataFrame(self.conflicts, columns=CONFLICT_COLUMNS, dtype=object)
        counts = {"push": len(push_local), "archive": len(self.archive_keys), "pull": len(self.pulls),
                  "append": len(appends), "mark": len(self.marks), "conflict": len(conflicts)}
        return Merge(push_local, push_remote, self.archive_keys, self.pulls, appends, sorted(self.marks),
                     conflicts, self._next_base(), counts)

    def _base_row(self, key) -> dict:
        return {c: _none(v) for c, v in self.base.loc[key].items()}

    def _next_base(self) -> pd.DataFrame:
        columns = ["record_id", "archived", *self.properties]
        parts = [p for p in self.new_parts if len(p)]
        replaced = pd.Index([k for p in parts for k in p.index]).append(pd.Index(list(self.new_rows)))
        kept = self.base.reindex(columns=columns)[~self.base.index.isin(replaced)]
        singles = {k: v for k, v in self.new_rows.items() if v is not None}
        rows = pd.DataFrame.from_dict(singles, orient="index", columns=columns, dtype=object)
        frames = [f.astype(object) for f in (kept, *parts, rows) if len(f)]
        result = pd.concat(frames) if frames else pd.DataFrame(columns=columns, dtype=object)
        result["archived"] = result["archived"].fillna(False).astype(bool)
        return result


def _nones(cells: np.ndarray) -> np.ndarray:
    """None for every missing marker (NaN, <NA>) in an object array; other cells as they are."""
    return np.where(pd.isna(cells), None, cells).astype(object)


def _none(value):
    return None if value is None or (not isinstance(value, str) and pd.isna(value)) else value
