"""The pure three-way merge: one table of cases (base, sheet, HubSpot) → what the sync does."""

from __future__ import annotations

import pandas as pd
import pytest

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
