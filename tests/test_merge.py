"""The pure three-way merge: one table of cases (base, sheet, HubSpot) → what the sync does."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given, settings, strategies as st

from syncer.merge import merge

UNCHANGED = object()  # HubSpot did not report the record as changed
CLEAR = "clear"


def frames(base, sheet, hubspot):
    local = pd.DataFrame({"vin": ["V1"], "price": [sheet]}, index=[2], dtype=object)
    based = pd.DataFrame({"record_id": ["7"], "archived": [False], "price": [base]}, index=["V1"], dtype=object)
    remote = pd.DataFrame(columns=["id", "updated_at", "vin", "price"], dtype=object)
    if hubspot is not UNCHANGED:
        remote.loc["V1"] = ["7", "t", "V1", hubspot]
    return local, based, remote


@pytest.mark.parametrize("base, sheet, hubspot, prefer, push, pull, conflict, next_base", [
    ("1", "1", UNCHANGED, None, None, None, False, "1"),
    ("1", "2", UNCHANGED, None, "2", None, False, "2"),
    ("1", "1", "3", None, None, "3", False, "3"),
    ("1", "2", "2", None, None, None, False, "2"),
    ("1", "2", "3", None, None, None, True, "1"),
    ("1", "2", "3", "sheet", "2", None, False, "2"),
    ("1", "2", "3", "hubspot", None, "3", False, "3"),
    ("1", None, UNCHANGED, None, "", None, False, None),
    ("1", "1", None, None, None, CLEAR, False, None),
], ids=["unchanged", "sheet-only", "hubspot-only", "both-same", "both-differ", "prefer-sheet",
        "prefer-hubspot", "cleared-in-sheet", "cleared-in-hubspot"])
def test_three_way_cases(base, sheet, hubspot, prefer, push, pull, conflict, next_base):
    local, based, remote = frames(base, sheet, hubspot)
    result = merge(local, based, remote, id_property="vin", prefer=prefer)
    pushed = result.push_local["price"].tolist() if len(result.push_local) else []
    if push is None:
        assert pushed == []
    else:  # None in the sheet is sent as a clear by plan.build (blank_cells "clear")
        assert pushed == [None if push == "" else push] and result.push_remote.loc["V1", "id"] == "7"
    assert result.pulls == ({} if pull is None else {(2, "price"): None if pull == CLEAR else pull})
    assert len(result.conflicts) == int(conflict)
    assert result.base.loc["V1", "price"] == next_base


def test_records_outside_the_sheet():
    local = pd.DataFrame({"vin": ["V1"], "price": ["1"]}, index=[2], dtype=object)
    base = pd.DataFrame({"record_id": ["7", "8", "9"], "archived": [False] * 3, "price": ["1", "2", "3"]},
                        index=["V1", "V2", "V3"], dtype=object)
    remote = pd.DataFrame({"id": ["10", "8"], "updated_at": ["t", "t"], "vin": ["NEW", "V2"], "price": ["5", "6"]},
                          index=["NEW", "V2"], dtype=object)
    upsert = merge(local, base, remote, id_property="vin", archived_ids={"9"})
    assert upsert.appends.index.tolist() == ["NEW"] and upsert.archive_keys == []
    assert set(upsert.base.index) == {"V1", "V2", "NEW"}  # V3: gone from both sides
    mirror = merge(local, base, remote, id_property="vin", mirror=True)
    assert mirror.archive_keys == ["V3"]  # V2 changed in HubSpot since: a conflict, not an archive
    assert mirror.conflicts["key"].tolist() == ["V2"]


def test_first_sync_pushes_the_sheet_and_fills_its_blanks():
    local = pd.DataFrame({"vin": ["V1", "V2"], "price": ["1", None]}, index=[2, 3], dtype=object)
    remote = pd.DataFrame({"id": ["7", "8"], "updated_at": ["t", "t"], "vin": ["V1", "V2"], "price": ["9", "4"]},
                          index=["V1", "V2"], dtype=object)
    result = merge(local, None, remote, id_property="vin")
    assert result.push_local["price"].tolist() == ["1"] and result.pulls == {(3, "price"): "4"}
    cleared = merge(local, None, remote, id_property="vin", blank_cells="clear")
    assert cleared.push_local["price"].tolist() == ["1", None] and cleared.pulls == {}


# --- every combination, against the rule written cell by cell -----------------------------------


VALUES = st.sampled_from([None, "a", "b", "c"])
PROPS = ["p", "q"]
CELL = st.tuples(VALUES, VALUES, st.one_of(st.just(UNCHANGED), VALUES))  # base, sheet, HubSpot


def same(a, b) -> bool:
    """Equal, where every missing marker (None, NaN) is the same blank."""
    return (pd.isna(a) and pd.isna(b)) if pd.isna(a) or pd.isna(b) else a == b


def expected(base, sheet, hubspot, prefer):
    """(push, pull, conflict, next base) for one cell, as the module docstring states the rule."""
    theirs = base if hubspot is UNCHANGED else hubspot
    mine_changed, theirs_changed = sheet != base, theirs != base
    if mine_changed and theirs_changed and sheet != theirs:
        if prefer is None:
            return False, False, True, base
        return prefer == "sheet", prefer == "hubspot", False, sheet if prefer == "sheet" else theirs
    return mine_changed and not theirs_changed, theirs_changed and not mine_changed, False, \
        sheet if mine_changed else theirs


@settings(max_examples=200, deadline=None)
@given(rows=st.lists(st.tuples(CELL, CELL), min_size=1, max_size=6),
       prefer=st.sampled_from([None, "sheet", "hubspot"]))
def test_each_cell_follows_the_three_way_rule(rows, prefer):
    keys = [f"V{i}" for i in range(len(rows))]
    numbers = list(range(2, len(rows) + 2))
    local = pd.DataFrame({"vin": keys, **{p: [r[j][1] for r in rows] for j, p in enumerate(PROPS)}},
                         index=numbers, dtype=object)
    base = pd.DataFrame({"record_id": [str(i) for i in range(len(rows))], "archived": False,
                         **{p: [r[j][0] for r in rows] for j, p in enumerate(PROPS)}}, index=keys, dtype=object)
    changed = [i for i, r in enumerate(rows) if any(cell[2] is not UNCHANGED for cell in r)]
    remote = pd.DataFrame({"id": [str(i) for i in changed], "updated_at": "t", "vin": [keys[i] for i in changed],
                           **{p: [rows[i][j][0] if rows[i][j][2] is UNCHANGED else rows[i][j][2] for i in changed]
                              for j, p in enumerate(PROPS)}}, index=[keys[i] for i in changed], dtype=object)
    result = merge(local, base, remote, id_property="vin", prefer=prefer)
    conflicts = {(c["key"], c["property"]) for c in result.conflicts.to_dict("records")}
    for i, (key, number) in enumerate(zip(keys, numbers)):
        pushes = {}
        for j, prop in enumerate(PROPS):
            b, s, h = rows[i][j]
            push, pull, conflict, next_base = expected(b, s, h, prefer)
            pushes[prop] = push
            assert ((number, prop) in result.pulls) == pull, (key, prop)
            if pull:
                assert result.pulls[(number, prop)] == (b if h is UNCHANGED else h)
            assert ((key, prop) in conflicts) == conflict, (key, prop)
            assert same(result.base.loc[key, prop], next_base), (key, prop)
        assert (number in result.push_local.index) == any(pushes.values()), key
        for j, prop in enumerate(PROPS):
            if number in result.push_local.index and pushes[prop]:
                assert same(result.push_local.loc[number, prop], rows[i][j][1])
