"""The rules of a sheet's keys (the id property's values), written once for validate, plan and sync.

A row is matched to its record by its key, so a row without one, a key on more than one row, and
keys that HubSpot takes for one record (they differ only in case, on a portal that compares unique
values without regard to case) cannot be sent: each such row is an error, and the message names the
rows that collide. Pure: no I/O.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def errors(keys: pd.Series, id_property: str, where: np.ndarray | None = None) -> pd.Series:
    """Per row (keys' index: sheet rows), why its key cannot be used (blank, or on more than one
    row), else NA. `where`: per row, the position of the record its key names (-1: none), which
    lets the planner hash only the keys no record has; None when no records are known."""
    found = pd.Series(None, index=keys.index, dtype=object)
    found[keys.isna()] = f"no value for the id property {id_property}"
    if where is None:
        repeated = (keys.notna() & keys.duplicated(keep=False)).to_numpy()
    else:
        repeated = _duplicated(keys, where)
    repeated = pd.Series(repeated, index=keys.index)
    if repeated.any():
        for key, rows in keys[repeated].groupby(keys[repeated]).groups.items():
            listed = ", ".join(str(r) for r in rows)
            found[rows] = f"{id_property} {key!r} appears on more than one row ({listed})"
    return found


def _duplicated(keys: pd.Series, where: np.ndarray) -> np.ndarray:
    """keys.notna() & keys.duplicated(keep=False), hashing only the keys no record has: keys that
    name a record are equal exactly when their record positions are."""
    found = where >= 0
    duplicated = np.zeros(len(keys), dtype=bool)
    duplicated[found] = np.bincount(where[found], minlength=1)[where[found]] > 1
    new = ~found & keys.notna().to_numpy()
    if new.any():
        fresh = keys[new]
        if len(set(fresh.tolist())) < len(fresh):
            duplicated[new] = fresh.duplicated(keep=False).to_numpy()
    return duplicated


def sharing_a_record(keys: pd.Series, record_ids: pd.Series, id_property: str) -> pd.Series:
    """Per row, NA unless its key and another row's (a different key) name one HubSpot record
    (`record_ids`: per row, the id of the record its key names, or NA): keys that differ only in
    case, on a portal that compares unique values without regard to case. Either row would
    overwrite the other's values, so both wait until the sheet keeps one."""
    found = pd.Series(None, index=keys.index, dtype=object)
    shared = record_ids.notna() & record_ids.duplicated(keep=False) & ~keys.duplicated(keep=False)
    for record_id, rows in record_ids[shared].groupby(record_ids[shared]).groups.items():
        named = ", ".join(f"{keys[r]!r} (row {r})" for r in rows)
        found[rows] = (f"{id_property} {named} name one HubSpot record ({record_id}): the portal compares "
                       f"{id_property} without regard to case; keep one of these rows")
    return found
