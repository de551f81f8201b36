"""Fast paths give the results the straightforward code gave: each fast path is run beside the code
it replaced (kept here as the reference) on tricky inputs, and the two must agree exactly, values
and dtypes. No timing here: speed is checked by the benchmarks (benchmarks/README.md)."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest

from syncer import plan
from syncer import plan as plan_module
from syncer import planfiles
from syncer.errors import InputError

# --- the planner -------------------------------------------------------------------------------
# The planner before its one-join, changes-only diff (2026-11-30), verbatim but for the names.


def reference_build(
    local: pd.DataFrame,
    remote: pd.DataFrame,
    *,
    object_type: str,
    id_property: str,
    mode=plan.Mode.UPSERT,
    blank_cells: str = "keep",
    row_errors: dict[int, str] | None = None,
    max_archive_fraction: float = 1.0,
    allow_mass_archive: bool = False,
    owned: set[str] | None = None,
    meta: plan.PlanMeta | None = None,
):
    """Join local rows and remote records on the id property and decide one action per row.

    `local`: index = the sheet's row numbers, one column per property (the id property included),
    canonical strings or None for a blank cell. `remote`: index = the id property's canonical value,
    columns `id`, `updated_at` and the properties, canonical strings or None. `row_errors`: row →
    message for rows whose cells could not be converted; they become error actions. `owned`: in
    mirror mode, the record ids syncer created or synced for this mapping; any other record missing
    from the sheet is skipped, not archived (None: archive any record missing from the sheet).
    """
    mode = plan.Mode(mode)
    properties = [p for p in local.columns if p != id_property]
    keys = local[id_property].astype(object)
    keys = keys.where(keys.notna(), None)
    errors = _key_errors(keys, id_property)
    errors = errors.where(errors.notna(), _same_record_errors(keys, remote, id_property))
    for row, message in (row_errors or {}).items():
        if row in errors.index:
            errors[row] = message if pd.isna(errors[row]) else f"{errors[row]}; {message}"
    valid = errors.isna()
    rows = _plan_rows(local[valid], remote, properties, id_property, mode, blank_cells)
    error_rows = plan._error_rows(local[~valid], errors[~valid], id_property, properties)
    parts = [rows, error_rows]
    if mode is plan.Mode.MIRROR:
        archives = plan._archive_rows(remote, set(keys.dropna()), properties, owned)
        archived = int((archives[0]["action"] == plan.ActionKind.ARCHIVE.value).sum())
        plan.check_archive_share(archived, len(remote), max_archive_fraction, allow_mass_archive,
                                 usable_rows=int(valid.sum()))
        parts.append(archives)
    actions, after, before = (pd.concat([p[i] for p in parts], ignore_index=True) for i in range(3))
    # Sheet order; archives (no row) last. Rows are unique, so one numeric key sorts them.
    order = np.argsort(actions["row"].fillna(np.inf).to_numpy(dtype=float), kind="stable")
    actions, after, before = (t.take(order).reset_index(drop=True) for t in (actions, after, before))
    actions["row"] = actions["row"].astype("Int64")
    return plan.Plan(object_type, id_property, mode, properties, actions, after, before, meta or plan.PlanMeta())


def _key_errors(keys: pd.Series, id_property: str) -> pd.Series:
    """Per row, why its key cannot be used (blank, or shared with other rows), else NA."""
    errors = pd.Series(None, index=keys.index, dtype=object)
    errors[keys.isna()] = f"no value for the id property {id_property}"
    duplicated = keys.notna() & keys.duplicated(keep=False)
    if duplicated.any():
        rows_by_key = keys[duplicated].groupby(keys[duplicated]).groups
        for key, rows in rows_by_key.items():
            listed = ", ".join(str(r) for r in rows)
            errors[rows] = f"{id_property} {key!r} appears on more than one row ({listed})"
    return errors


def _same_record_errors(keys: pd.Series, remote: pd.DataFrame, id_property: str) -> pd.Series:
    """Per row, NA unless its key and another row's name one HubSpot record: keys that differ only
    in case, on a portal that compares unique values without regard to case. Either row would
    overwrite the other's values, so both wait until the sheet keeps one."""
    errors = pd.Series(None, index=keys.index, dtype=object)
    if not len(remote) or "id" not in remote:
        return errors
    ids = remote["id"].reindex(keys.to_numpy()).set_axis(keys.index)
    shared = ids.notna() & ids.duplicated(keep=False) & ~keys.duplicated(keep=False)
    for record_id, rows in ids[shared].groupby(ids[shared]).groups.items():
        named = ", ".join(f"{keys[r]!r} (row {r})" for r in rows)
        errors[rows] = (f"{id_property} {named} name one HubSpot record ({record_id}): the portal compares "
                        f"{id_property} without regard to case; keep one of these rows")
    return errors


def _plan_rows(local, remote, properties, id_property, mode, blank_cells):
    keys = local[id_property].astype(object)
    matched = remote.reindex(keys.to_numpy())
    matched.index = local.index
    exists = matched["id"].notna()
    after, before, changed = _diff(local, matched, properties, exists, blank_cells)
    kind = np.select(
        [~exists, changed],
        [plan.ActionKind.CREATE.value, plan.ActionKind.UPDATE.value],
        plan.ActionKind.UNCHANGED.value,
    )
    kind, message = plan._apply_mode(pd.Series(kind, index=local.index, dtype=object), mode, id_property, keys)
    silent = ~kind.isin([plan.ActionKind.CREATE.value, plan.ActionKind.UPDATE.value])
    after.loc[silent] = None
    before.loc[silent] = None
    actions = pd.DataFrame({
        "row": local.index.to_numpy(),
        "key": keys.to_numpy(),
        "action": kind.to_numpy(),
        "record_id": matched["id"].to_numpy(),
        "updated_at": matched["updated_at"].to_numpy(),
        "message": message.to_numpy(),
    }, columns=plan.ACTION_COLUMNS)
    return actions, after.reset_index(drop=True), before.reset_index(drop=True)


def _diff(local, matched, properties, exists, blank_cells):
    """Values to send and the values they replace, per row and property (None where nothing is sent),
    and whether each row sends anything."""
    after, before = {}, {}
    changed = np.zeros(len(local), dtype=bool)
    none = np.full(len(local), None, dtype=object)
    exists = exists.to_numpy()
    for prop in properties:
        mine = local[prop].to_numpy(dtype=object)
        theirs = matched[prop].to_numpy(dtype=object) if prop in matched else none
        has_mine = ~pd.isna(mine)
        has_theirs = ~pd.isna(theirs)
        differs = has_mine & ((~has_theirs) | (mine != theirs))
        send = np.where(differs, mine, None)
        if blank_cells == "clear":
            clear = ~has_mine & has_theirs & exists
            send = np.where(clear, "", send)
            differs |= clear
        changed |= differs
        after[prop] = send
        before[prop] = np.where(differs & has_theirs, theirs, None)
    frame = lambda columns: pd.DataFrame(columns, index=local.index, columns=properties, dtype=object)
    return frame(after), frame(before), pd.Series(changed, index=local.index)


def reference_to_json(plan):
    """The plan as a versioned JSON document (`syncer plan -o plan.json`), with its `digest`."""
    actions = []
    after = plan.after.to_numpy(dtype=object)
    before = plan.before.to_numpy(dtype=object)
    before = np.where(pd.isna(before), None, before)
    sent = ~pd.isna(after)
    for position, line in enumerate(plan.actions.itertuples(index=False)):
        entry = {
            "row": None if pd.isna(line.row) else int(line.row),
            "key": plan_module._value(line.key),
            "action": line.action,
            "record_id": plan_module._value(line.record_id),
            "updated_at": plan_module._value(line.updated_at),
        }
        if not pd.isna(line.message):
            entry["message"] = line.message
        changes = {prop: {"before": b, "after": a}
                   for prop, a, b, s in zip(plan.properties, after[position], before[position], sent[position]) if s}
        if changes:
            entry["changes"] = changes
        actions.append(entry)
    document = {
        "syncer_plan": planfiles.PLAN_FILE_VERSION,
        **plan.meta.to_json(),
        "object_type": plan.object_type,
        "id_property": plan.id_property,
        "mode": plan.mode.value,
        "properties": plan.properties,
        "counts": plan.counts(),
        "actions": actions,
    }
    document["digest"] = planfiles.digest(document)
    return document


TEXT_ACTION_COLUMNS = ["key", "record_id", "updated_at", "message"]


def _missing_as_none(texts: pd.DataFrame) -> pd.DataFrame:
    texts = texts.astype(object)
    return texts.where(texts.notna(), None)


def same_plan(local, remote, **options):
    options = {"object_type": "2-1", "id_property": "vin", **options}
    try:
        expected = reference_build(local, remote, **options)
    except Exception as exc:  # noqa: BLE001 - the new planner must refuse the same way
        with pytest.raises(type(exc), match=None):
            plan.build(local, remote, **options)
        return None
    built = plan.build(local, remote, **options)
    # The one intended difference: the action table's text columns are objects whatever the rows (the
    # reference's were str or object depending on the parts, so a missing value was NaN or None).
    assert (built.actions[TEXT_ACTION_COLUMNS].dtypes == object).all()
    compared, expected = (dataclasses.replace(p, actions=p.actions.assign(**_missing_as_none(p.actions[TEXT_ACTION_COLUMNS])))
                          for p in (built, expected))
    for name in ("actions", "after", "before"):
        pd.testing.assert_frame_equal(getattr(compared, name), getattr(expected, name), obj=name)
    assert built.properties == expected.properties
    assert planfiles.to_json(built) == reference_to_json(expected)
    same_file(built)
    return built


def frame(rows, columns, dtype=object, index=None):
    made = pd.DataFrame(rows, columns=columns, dtype=dtype)
    if index is not None:
        made.index = index
    return made


LOCAL_COLUMNS = ["vin", "price", "color"]
REMOTE_COLUMNS = ["vin", "id", "updated_at", "price", "color"]
REMOTE = frame([("A", "101", "t1", "10", "red"), ("B", "102", "t2", "20", None), ("b", "102", "t2", "20", None),
                ("Z", "109", "t9", "90", "blue"), ("N", "110", None, None, None)], REMOTE_COLUMNS).set_index("vin")
TRICKY = [
    ("A", "10", "red"), ("B", "25", None), ("C", None, "green"), (None, "1", "x"), ("D", "", ""),
    ("A", "11", "red"), ("b", "20", None), ("N", "5", None), ("E", np.nan, "nan"), ("Z", "90", "blue"),
    ("F", "1", "1"), ("F", "1", "2"), ("G", "x", None),
]


@pytest.mark.parametrize("mode", ["upsert", "update", "create", "mirror"])
@pytest.mark.parametrize("blank_cells", ["keep", "clear"])
def test_planner_agrees_on_tricky_rows(mode, blank_cells):
    local = frame(TRICKY, LOCAL_COLUMNS, index=range(2, 2 + len(TRICKY)))
    for rows in (local, local.iloc[[1, 2, 4, 9]], local.iloc[[2, 12]], local.iloc[:0]):
        for remote in (REMOTE, REMOTE.loc[["A", "Z", "N"]], REMOTE.iloc[:0]):
            same_plan(rows, remote, mode=mode, blank_cells=blank_cells, max_archive_fraction=1.0,
                      row_errors={3: "bad price", 6: "bad color"})


@pytest.mark.parametrize("dtype", [object, "str"])
def test_planner_agrees_on_string_dtypes_unsorted_rows_and_missing_properties(dtype):
    local = frame([("B", "2", "x", "q"), ("A", "1", None, "r"), ("Q", "7", "y", None)],
                  ["vin", "price", "color", "extra"], dtype=dtype, index=[9, 3, 5])
    remote = REMOTE.astype(dtype) if dtype != object else REMOTE
    same_plan(local, remote)
    same_plan(local, remote, mode="mirror", owned={"101"}, blank_cells="clear")


def test_planner_agrees_on_non_numeric_and_repeated_record_ids():
    remote = REMOTE.assign(id=["r-1", "r-2", "r-2", "r-9", "01"])
    local = frame([("B", "1", None), ("b", "1", None), ("Z", "9", "blue"), ("N", "3", None)], LOCAL_COLUMNS)
    same_plan(local, remote)
    same_plan(local, REMOTE.assign(id=["1", "01", "2", "3", "4"]))


def test_planner_refuses_a_remote_side_with_repeated_keys_as_before():
    remote = pd.concat([REMOTE, REMOTE.iloc[:1]])
    with pytest.raises(ValueError):
        plan.build(frame([("A", "1", None)], LOCAL_COLUMNS), remote, object_type="2-1", id_property="vin")


def test_planner_mirror_guard_still_refuses():
    with pytest.raises(InputError, match="no usable rows"):
        plan.build(frame([(None, "1", None)], LOCAL_COLUMNS), REMOTE, object_type="2-1", id_property="vin",
                   mode="mirror")


def test_planner_agrees_on_a_larger_random_sheet():
    rng = np.random.default_rng(3)
    n = 5000
    keys = rng.choice([f"K{i}" for i in range(4000)] + [None], n).astype(object)
    values = lambda: rng.choice(["1", "2", "3", None], n).astype(object)  # noqa: E731
    local = pd.DataFrame({"vin": keys, "price": values(), "color": values()}, dtype=object)
    local.index = rng.permutation(n) + 2
    remote_keys = np.array([f"K{i}" for i in range(0, 6000, 2)], dtype=object)
    remote = pd.DataFrame({"id": np.arange(len(remote_keys)).astype(str).astype(object),
                           "updated_at": "t", "price": rng.choice(["1", "2", None], len(remote_keys)).astype(object),
                           "color": rng.choice(["1", "3", None], len(remote_keys)).astype(object)},
                          index=pd.Index(remote_keys), dtype=object)
    for mode in ("upsert", "update", "create", "mirror"):
        for blank_cells in ("keep", "clear"):
            same_plan(local, remote, mode=mode, blank_cells=blank_cells, allow_mass_archive=True)


# --- plan files ----------------------------------------------------------------------------------


def same_file(built):
    """The plan file holds the document the reference wrote (indent=1), and reads back the same."""
    text = planfiles.dumps(built)
    document = reference_to_json(built)
    assert json.loads(text) == json.loads(json.dumps(document, ensure_ascii=False, indent=1))
    assert text.count("\n") >= len(document["actions"])  # one action per line at least
    if not plan.problems(built):  # from_json refuses a plan that writes one record twice
        assert planfiles.to_json(planfiles.from_json(json.loads(text))) == document


def test_plan_file_of_awkward_values_and_plans_made_elsewhere():
    local = frame([("A", "},{\"row\":1", "x\\"), ("C", "é\u2028\n", None), ("Z", "90", '"quoted"'),
                   ("Q", None, "},\n  {")], LOCAL_COLUMNS, index=[4, 2, 7, 3])
    built = same_plan(local, REMOTE, mode="mirror", max_archive_fraction=1.0, row_errors={7: "bad"})
    same_file(built.select([2, 0]))
    same_file(built.select([]))
    float_rows = plan.Plan(built.object_type, built.id_property, built.mode, built.properties,
                           built.actions.astype({"row": float}), built.after, built.before, plan.PlanMeta(portal="x"))
    assert planfiles.to_json(float_rows) == reference_to_json(float_rows)
    same_file(float_rows)


# --- reading and converting cells ------------------------------------------------------------------

from syncer import tables, values  # noqa: E402

TEXTS = ["", " ", "\u00a0", "\u3000 \t", "\u200b", "a", " a ", "\ta\n", "'=1", "0", "x\u2028", "\u2003b\u2003"]


def reference_blank_cells(column):
    text = column.astype("string")
    return (text.isna() | text.str.strip().eq("")).fillna(True).astype(bool)


@pytest.mark.parametrize("dtype", [object, "str", "string"])
def test_blank_cells_and_cell_text_agree_with_the_pandas_pipelines(dtype):
    column = pd.Series(TEXTS * 3, index=range(5, 5 + 3 * len(TEXTS)), dtype=dtype, name="Make")
    pd.testing.assert_series_equal(tables._blank_cells(column), reference_blank_cells(column), check_names=False)
    expected = column.astype(values._TEXT).str.strip()  # Python's str rules, with or without pyarrow
    pd.testing.assert_series_equal(values.cell_text(column), expected.mask(expected.eq("")))


def test_blank_cells_of_mixed_cells_take_the_general_path():
    column = pd.Series(["", None, np.nan, 0, 1.5, " ", "x", True], dtype=object)
    pd.testing.assert_series_equal(tables._blank_cells(column), reference_blank_cells(column))


NUMBERS = ["0", "-0", "+0", "00", "0.0", "0.5", "-0.5", ".5", "5.", "-5.", "01.50", "1234.56", "1234.560",
           "-1234.56", "+1234.56", "1e3", "1.5E-2", "-0.000", "12", "-12", "١٢", "1٠.5", "1.5٠", "٣.٥", "1,5",
           "abc", "", "9" * 400, "1e999999999", "0.0001", "100", "-100.0100"]


def test_canonical_numbers_agree_with_the_general_rules():
    text = pd.Series(NUMBERS + [None], dtype=values._TEXT)
    reference = text.where(text.str.fullmatch(r"-?[1-9]\d*|0").fillna(False).astype(bool)).astype(values._TEXT)
    rest = reference.isna() & text.notna()
    reference[rest] = values._canonical_decimals(text[rest])
    pd.testing.assert_series_equal(values.canonical_numbers(text), reference)


def test_offset_test_agrees_with_a_search_of_the_whole_text():
    cells = ["2026-01-01T10:00:00Z", "2026-01-01 10:00+01:00", "2026-01-01 10:00+0100", "2026-01-01 10:00",
             "2026-01-01", "Z", "+01:00", "x+01:00", "2026-01-01T10:00:00.000z", "+1:00", "-0530", "", None,
             "+01:00 ", "10:00-05:00"]
    text = pd.Series(cells, dtype="string")
    expected = text.str.contains(values.OFFSET, regex=True).fillna(False).astype(bool)
    pd.testing.assert_series_equal(values._has_offset(text), expected)


def test_converting_once_per_distinct_cell_changes_nothing():
    rng = np.random.default_rng(5)
    n = 100_000
    days = pd.Series([f"{d:02d}/{m:02d}/{y}" for d, m, y in zip(rng.integers(1, 29, n), rng.integers(1, 13, n),
                                                                rng.integers(1990, 2026, n))], dtype="str")
    prop = {"name": "listing_date", "type": "date", "fieldType": "date"}
    spec = values.ColumnSpec(property="listing_date", format="%d/%m/%Y")
    assert values._distinct_cells(days) is not None  # about 12,000 distinct of 100,000: once each
    once, each = values.convert(days, prop, spec), values._convert(days, prop, spec, False)
    pd.testing.assert_series_equal(once.canonical, each.canonical, check_names=False)
    pd.testing.assert_series_equal(once.messages, each.messages, check_names=False)


def test_a_csv_read_carries_the_file_digest(tmp_path):
    path = tmp_path / "cars.csv"
    path.write_text("VIN,Make\nA,'=x\nB,Kia\n", encoding="utf-8")
    table = tables.read(path)
    assert table.digest == tables.file_digest(path)
    assert table.frame["Make"].tolist() == ["=x", "Kia"]
