"""The planner alone: pure values in, a Plan out. No server needed (plan.build does no I/O)."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given, settings, strategies as st

from syncer import plan
from syncer import planfiles
from syncer.errors import InputError
from syncer.plan import ActionKind, Mode


def local_rows(*rows, start=2):
    """Sheet rows as canonical values: (vin, price, color) tuples, numbered from sheet row 2."""
    frame = pd.DataFrame(rows, columns=["vin", "price", "color"], dtype=object)
    frame.index = range(start, start + len(rows))
    return frame


def remote_records(*records):
    """HubSpot's side: (vin, id, updated_at, price, color) tuples."""
    frame = pd.DataFrame(records, columns=["vin", "id", "updated_at", "price", "color"], dtype=object)
    return frame.set_index("vin")


REMOTE = remote_records(("A", "101", "t1", "10", "red"), ("B", "102", "t2", "20", None),
                        ("Z", "109", "t9", "90", "blue"))


def build(local, remote=REMOTE, **options):
    return plan.build(local, remote, object_type="2-3465404", id_property="vin", **options)


def kinds(built):
    return dict(zip(built.actions["key"].fillna("∅"), built.actions["action"]))


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("upsert", {"A": "unchanged", "B": "update", "C": "create"}),
        ("update", {"A": "unchanged", "B": "update", "C": "skip"}),
        ("create", {"A": "skip", "B": "skip", "C": "create"}),
        ("mirror", {"A": "unchanged", "B": "update", "C": "create", "Z": "archive"}),
    ],
    ids=["upsert", "update", "create", "mirror"],
)
def test_each_mode_decides_one_action_per_row(mode, expected):
    local = local_rows(("A", "10", "red"), ("B", "25", None), ("C", "30", "green"))
    built = build(local, mode=mode, max_archive_fraction=1.0)
    assert kinds(built) == expected
    assert built.mode is Mode(mode)


def test_update_carries_only_changed_properties_with_before_and_after():
    built = build(local_rows(("B", "25", "blue")))
    assert built.changed_properties(0) == {"price": ("20", "25"), "color": (None, "blue")}
    assert built.actions.at[0, "record_id"] == "102"
    assert built.actions.at[0, "updated_at"] == "t2"


def test_create_sends_every_non_blank_value_and_no_before():
    built = build(local_rows(("C", "30", None)))
    assert built.changed_properties(0) == {"price": (None, "30")}


@pytest.mark.parametrize(("blank_cells", "expected"), [("keep", {}), ("clear", {"color": ("red", "")})],
                         ids=["keep", "clear"])
def test_blank_cells_keep_or_clear_the_remote_value(blank_cells, expected):
    built = build(local_rows(("A", "10", None)), blank_cells=blank_cells)
    assert built.changed_properties(0) == expected
    assert built.actions.at[0, "action"] == ("unchanged" if not expected else "update")


def test_every_row_of_a_duplicated_key_is_an_error_naming_the_rows():
    built = build(local_rows(("A", "1", None), ("C", "2", None), ("A", "3", None)))
    errors = built.actions[built.actions["action"] == "error"]
    assert list(errors["row"]) == [2, 4]
    assert set(errors["message"]) == {"vin 'A' appears on more than one row (2, 4)"}
    assert kinds(built)["C"] == "create"


def test_a_missing_key_and_a_bad_cell_are_errors_and_never_sent():
    built = build(local_rows((None, "1", None), ("B", "2", None)), row_errors={3: 'column "Price": bad'})
    assert list(built.actions["action"]) == ["error", "error"]
    assert list(built.actions["message"]) == ["no value for the id property vin", 'column "Price": bad']
    assert not built.has_changes


def test_mirror_refuses_to_archive_more_than_the_allowed_share():
    local = local_rows(("A", "10", "red"))
    with pytest.raises(InputError, match=r"archive 2 of 3 records \(67%\).*--allow-mass-archive"):
        build(local, mode="mirror", max_archive_fraction=0.5)
    allowed = build(local, mode="mirror", max_archive_fraction=0.5, allow_mass_archive=True)
    assert plan.Plan.counts(allowed)["archive"] == 2


def test_mirror_with_no_usable_row_never_archives():
    with pytest.raises(InputError, match="no usable rows"):
        build(local_rows((None, "1", None)), mode="mirror", max_archive_fraction=1.0)


def test_rows_with_errors_still_protect_their_records_from_mirror_archive():
    built = build(local_rows(("A", "x", None), ("Z", "1", None)), mode="mirror",
                  row_errors={2: "bad"}, max_archive_fraction=1.0)
    assert kinds(built) == {"A": "error", "Z": "update", "B": "archive"}


def test_batches_hold_at_most_100_actions():
    local = local_rows(*[(f"K{i}", "1", None) for i in range(250)])
    sizes = [len(b) for b in build(local).batches(ActionKind.CREATE)]
    assert sizes == [100, 100, 50]


def test_plan_file_round_trips_and_is_versioned():
    built = build(local_rows(("A", "10", None), ("B", "25", "blue"), ("C", "1", None), (None, "1", None)),
                  blank_cells="clear", meta=plan.PlanMeta(source="cars.csv"))
    document = planfiles.to_json(built)
    assert document["syncer_plan"] == planfiles.PLAN_FILE_VERSION
    assert document["source"] == "cars.csv"
    again = planfiles.from_json(document)
    assert planfiles.to_json(again) == document
    assert again.changed_properties(1) == built.changed_properties(1)


@pytest.mark.parametrize("document", [{}, {"syncer_plan": 99}, {"syncer_plan": 1, "actions": 3}, []],
                         ids=["empty", "future-version", "damaged", "not-an-object"])
def test_unreadable_plan_files_are_refused_with_a_fix(document):
    with pytest.raises(InputError, match="syncer plan -o"):
        planfiles.from_json(document, source="old.json")


def test_select_keeps_only_the_chosen_actions():
    built = build(local_rows(("B", "25", None), ("C", "1", None)))
    chosen = built.select([1])
    assert list(chosen.actions["key"]) == ["C"]
    assert chosen.changed_properties(1) == {"price": (None, "1")}


# --- every combination, against the rule written row by row -------------------------------------

KEYS = st.sampled_from([None, "K1", "K2", "K3", "K4"])
VALUE = st.sampled_from([None, "a", "b"])


def expected_row(key, cells, keys, remote, blank_cells, bad) -> tuple[str, dict]:
    """(action, {property: (before, after)}) for one sheet row, as docs/ARCHITECTURE.md states the rule."""
    if key is None or keys.count(key) > 1 or bad:
        return "error", {}
    if key not in remote:
        return "create", {p: (None, v) for p, v in cells.items() if v is not None}
    theirs = remote[key]
    sent = {p: (theirs[p], v) for p, v in cells.items() if v is not None and v != theirs[p]}
    if blank_cells == "clear":
        sent |= {p: (theirs[p], "") for p, v in cells.items() if v is None and theirs[p] is not None}
    return ("update" if sent else "unchanged"), sent


@settings(max_examples=200, deadline=None)
@given(rows=st.lists(st.tuples(KEYS, VALUE, VALUE, st.booleans()), min_size=1, max_size=8),
       remote=st.dictionaries(st.sampled_from(["K1", "K2", "K3"]), st.tuples(VALUE, VALUE), max_size=3),
       blank_cells=st.sampled_from(["keep", "clear"]))
def test_each_row_follows_the_planning_rule(rows, remote, blank_cells):
    local = local_rows(*[(key, price, color) for key, price, color, _ in rows])
    records = pd.DataFrame({"id": [f"id-{k}" for k in remote], "updated_at": "t",
                            "price": [v[0] for v in remote.values()], "color": [v[1] for v in remote.values()]},
                           index=list(remote), dtype=object)
    bad = {number: "a cell could not be converted" for number, row in zip(local.index, rows) if row[3]}
    built = plan.build(local, records, object_type="cars", id_property="vin", blank_cells=blank_cells,
                       row_errors=bad)
    keys = [row[0] for row in rows]
    theirs = {k: {"price": v[0], "color": v[1]} for k, v in remote.items()}
    assert len(built.actions) == len(rows)
    for number, line in built.actions.iterrows():
        position = int(line["row"]) - 2
        key, price, color, broken = rows[position]
        action, sent = expected_row(key, {"price": price, "color": color}, keys, theirs, blank_cells, broken)
        assert line["action"] == action, (key, rows, remote)
        assert built.changed_properties(number) == sent, (key, rows, remote)


def test_plan_metadata_is_typed_and_keeps_fields_a_later_syncer_wrote():
    from syncer.associations import Link

    owner = Link("Owner", "0-1", 279, "HUBSPOT_DEFINED", shown={"51": "ann@example.com"})
    meta = plan.PlanMeta(portal="sandbox", hub_id="123", source="cars.csv", associations={owner.name: owner},
                         other={"made_by": "syncer 9"})
    document = planfiles.to_json(build(local_rows(("A", "10", None)), meta=meta))
    assert document["made_by"] == "syncer 9" and "sheet" not in document  # only what is known is written
    assert document["associations"] == {"assoc:Owner": {"to": "0-1", "type_id": 279, "category": "HUBSPOT_DEFINED",
                                                        "column": "Owner", "shown": {"51": "ann@example.com"}}}
    again = planfiles.from_json(document)
    assert again.meta.associations["assoc:Owner"] == owner and again.meta.associations["assoc:Owner"].shown == owner.shown
    assert (again.meta.portal, again.meta.hub_id, again.meta.other) == ("sandbox", "123", {"made_by": "syncer 9"})
    assert planfiles.to_json(again) == document


def test_a_link_reads_back_from_each_form_it_is_kept_in():
    from syncer.associations import Link

    owner = Link("Owner", "0-1", 279, "HUBSPOT_DEFINED", "email", "contacts")
    assert Link.from_cached(owner.cached()) == owner
    planned = Link.from_planned(owner.name, owner.planned())
    assert (planned.to, planned.type_id, planned.category, planned.column) == ("0-1", 279, "HUBSPOT_DEFINED", "Owner")
    assert Link("Owner", "0-1", 279).kind == 279  # a plan from before plans carried the category: looked up
    assert owner.kind.type_id == 279 and owner.kind.category == "HUBSPOT_DEFINED"


def test_validate_plan_and_sync_share_one_rule_for_keys():
    from syncer import keys

    sheet = pd.Series(["A", None, "B", "A", "b"], index=[2, 3, 4, 5, 6], dtype=object)
    found = keys.errors(sheet, "vin")
    assert found[3] == "no value for the id property vin"
    assert found[2] == found[5] == "vin 'A' appears on more than one row (2, 5)"
    assert found[[4, 6]].isna().all()
    # B and b name one record on a portal that compares keys without regard to case
    ids = pd.Series(["7", None, "9", "7", "9"], index=sheet.index, dtype=object)
    shared = keys.sharing_a_record(sheet, ids, "vin")
    assert shared[4] == shared[6] == ("vin 'B' (row 4), 'b' (row 6) name one HubSpot record (9): the portal "
                                      "compares vin without regard to case; keep one of these rows")
    assert shared[[2, 3, 5]].isna().all()  # a repeated key is the other rule's


def test_a_plain_dict_of_metadata_is_read_as_plan_metadata():
    built = build(local_rows(("A", "10", None)), meta={"source": "cars.csv", "max_daily_share": 0.5})
    assert isinstance(built.meta, plan.PlanMeta)
    assert (built.meta.source, built.meta.max_daily_share) == ("cars.csv", 0.5)
