"""Tamper-evident plans, through the CLI against the sandbox: a saved plan or review workbook applies
exactly what it was made with, or is refused (exit 2) with nothing sent.

Each edit is tried twice where it matters: as it is (the digest catches it) and "forged", with the
digest recomputed as someone who knows the format could, to show the checks that hold without it.
"""

from __future__ import annotations

import json

import openpyxl
import pytest

from conftest import on_small_csv, sheet_rows, write_sheet
from syncer import plan
from syncer.associations import Link
from syncer import planfiles
from syncer.errors import InputError
from test_trust_features import cars

CHANGED = "the plan was changed after it was made: plan again"


@pytest.fixture
def small(project):
    """The sample on its CSV sheet, cut to 40 rows, without the association column."""
    return on_small_csv(project, 40)


def writes(sandbox) -> list:
    """The requests that may write: every POST but reads and searches."""
    return [e for e in sandbox.request_log
            if e.method == "POST" and not e.path.endswith(("/batch/read", "/search"))]


def planned_updates(run, small):
    """Push the 40 rows, change the price of the first two in the sheet and save that plan.
    Returns the plan document and the sheet's rows as they are now."""
    assert run("push", "mappings/cars.yaml", "--yes").exit_code == 0
    sheet = small / "sample_data" / "cars.csv"
    rows = sheet_rows(sheet)
    rows[0]["Listing price"], rows[1]["Listing price"] = "11111", "22222"
    write_sheet(sheet, rows)
    assert run("plan", "mappings/cars.yaml", "-o", "plan.json").exit_code == 0
    return json.loads((small / "plan.json").read_text(encoding="utf-8")), rows


def save(small, document, *, forge: bool = False, name: str = "plan.json") -> str:
    if forge:
        document["digest"] = planfiles.digest(document)
    (small / name).write_text(json.dumps(document), encoding="utf-8")
    return name


def prices(client) -> dict[str, str]:
    return {key: record.properties["price"] for key, record in cars(client, "price").items()}


def action_of(document, key) -> dict:
    [action] = [a for a in document["actions"] if a["key"] == key]
    return action


# --- saved plans ------------------------------------------------------------------------------------


def test_an_untouched_plan_and_the_plan_json_output_both_apply(run, small, client):
    document, rows = planned_updates(run, small)
    assert document["digest"]["sha256"] == planfiles.digest(document)["sha256"]
    printed = run("plan", "mappings/cars.yaml", "--json")  # the --json document is a plan for apply too
    (small / "printed.json").write_text(printed.stdout, encoding="utf-8")
    applied = run("apply", "printed.json", "--yes")
    assert applied.exit_code == 0, applied.output
    assert prices(client)[rows[0]["VIN"]] == "11111" and prices(client)[rows[1]["VIN"]] == "22222"


def test_an_update_whose_record_id_was_changed_is_refused_and_nothing_is_written(run, small, sandbox, client):
    document, rows = planned_updates(run, small)
    before = prices(client)
    other = cars(client)[rows[5]["VIN"]].id
    action_of(document, rows[0]["VIN"])["record_id"] = other  # car A's new price aimed at car F
    sandbox.clear_log()
    refused = run("apply", save(small, document), "--yes")
    assert refused.exit_code == 2
    assert refused.output.startswith(f"Error: plan.json: {CHANGED} (changed: actions)")
    assert writes(sandbox) == [] and prices(client) == before


def test_a_forged_digest_still_cannot_send_an_update_to_another_keys_record(run, small, sandbox, client):
    document, rows = planned_updates(run, small)
    before = prices(client)
    other = cars(client)[rows[5]["VIN"]].id
    action_of(document, rows[0]["VIN"])["record_id"] = other
    applied = run("apply", save(small, document, forge=True), "--yes", "--report", "report.csv")
    assert applied.exit_code == 1  # the key's record is not the plan's: a conflict, not a write to car F
    [conflict] = [r for r in sheet_rows(small / "report.csv") if r["outcome"] == "conflict"]
    assert conflict["key"] == rows[0]["VIN"] and f"not the plan's {other}" in conflict["error_message"]
    after = prices(client)
    assert after[rows[5]["VIN"]] == before[rows[5]["VIN"]] and after[rows[0]["VIN"]] == before[rows[0]["VIN"]]
    assert after[rows[1]["VIN"]] == "22222"  # the untouched action still applies


@pytest.mark.parametrize("forge", [False, True], ids=["edited", "forged"])
def test_an_update_turned_into_an_archive_is_refused_outside_mirror_mode(run, small, sandbox, client, forge):
    document, rows = planned_updates(run, small)
    key = rows[0]["VIN"]
    action_of(document, key)["action"] = "archive"
    sandbox.clear_log()
    refused = run("apply", save(small, document, forge=forge), "--yes")
    assert refused.exit_code == 2 and CHANGED in refused.output
    if forge:
        assert f"action 0 ({key}) is archive, which mode upsert never does" in refused.output
    assert writes(sandbox) == [] and key in cars(client)


@pytest.mark.parametrize("forge", [False, True], ids=["edited", "forged"])
def test_duplicated_actions_are_refused_before_any_call(run, small, sandbox, client, forge):
    document, rows = planned_updates(run, small)
    updates = [a for a in document["actions"] if a["action"] == "update"]
    document["actions"] += updates * 200
    sandbox.clear_log()
    refused = run("apply", save(small, document, forge=forge), "--yes")
    assert refused.exit_code == 2 and CHANGED in refused.output
    if forge:
        assert f"vin {rows[0]['VIN']!r} is written by more than one action (0, 40, 42, 44, 46, …)" in refused.output
    assert writes(sandbox) == []
    assert prices(client)[rows[0]["VIN"]] != "11111"


def test_apply_sends_exactly_the_write_calls_the_plan_needs(run, project, sandbox):
    on_small_csv(project, 250)  # 3 batches of creates
    assert run("plan", "mappings/cars.yaml", "-o", "plan.json").exit_code == 0
    sandbox.clear_log()
    applied = json.loads(run("apply", "plan.json", "--yes", "--json").stdout)
    calls = applied["plan"]["estimate"]["calls"]
    needed = calls["create"] + calls["update"] + calls["archive"] + calls["associations"]
    assert needed == 3 and len(writes(sandbox)) == needed
    assert applied["results"]["calls"] == applied["results"]["estimated_calls"]


@pytest.mark.parametrize("forge", [False, True], ids=["edited", "forged"])
def test_zeroed_mapping_and_source_digests_are_refused(run, small, sandbox, forge):
    document, _ = planned_updates(run, small)
    document["mapping_digest"] = document["source_digest"] = "0" * 64
    sandbox.clear_log()
    refused = run("apply", save(small, document, forge=forge), "--yes")
    assert refused.exit_code == 2 and CHANGED in refused.output
    zeroed = "0" * 64
    shown = f"mapping_digest '{zeroed}' is not the SHA-256 of a file" if forge else "(changed: mapping and source)"
    assert shown in refused.output
    assert writes(sandbox) == []


@pytest.mark.parametrize("digest", [None, {"sha256": "0" * 64}], ids=["missing", "zeroed"])
def test_a_plan_without_its_digest_is_refused(run, small, sandbox, digest):
    """A plan saved by a syncer from before plans had a digest reads as one whose digest was removed."""
    document, _ = planned_updates(run, small)
    document.pop("digest")
    if digest is not None:
        document["digest"] = digest
    sandbox.clear_log()
    refused = run("apply", save(small, document), "--yes")
    assert refused.exit_code == 2
    why = "it carries no plan digest" if digest is None else "its digest differs"
    assert refused.output.startswith(f"Error: plan.json: {CHANGED} ({why}")
    assert writes(sandbox) == []


def test_the_estimate_is_recomputed_from_the_actions_never_read_from_the_file(run, small):
    document, _ = planned_updates(run, small)
    document["estimate"]["calls"]["update"] = 0
    document["estimate"]["total_calls"] = 0
    refused = run("apply", save(small, document), "--yes")
    assert refused.exit_code == 2 and f"{CHANGED} (changed: estimate)" in refused.output
    applied = json.loads(run("apply", save(small, document, forge=True), "--yes", "--json").stdout)
    estimate = applied["plan"]["estimate"]
    assert (estimate["calls"]["update"], estimate["calls"]["stale_check"], estimate["total_calls"]) == (1, 1, 2)
    assert applied["results"]["calls"] == 2


# --- the digest itself (no portal) -----------------------------------------------------------------------


def made_plan() -> dict:
    import pandas as pd

    local = pd.DataFrame({"vin": ["A", "B"], "price": ["1", "2"]}, index=[2, 3])
    remote = pd.DataFrame({"id": ["7"], "updated_at": ["t"], "price": ["5"]}, index=["B"])
    built = plan.build(local, remote, object_type="cars", id_property="vin",
                       meta=plan.PlanMeta(mapping_digest="a" * 64, source_digest="b" * 64, portal="portal 1",
                                          estimate={"total_calls": 2},
                                          associations={"assoc:Owner": Link("Owner", "0-1", 1)}))
    return planfiles.to_json(built)


@pytest.mark.parametrize(("field", "value", "part"), [
    ("mode", "mirror", "target"),
    ("object_type", "0-1", "target"),
    ("portal", "portal 2", "target"),
    ("estimate", {"total_calls": 0}, "estimate"),
    ("max_daily_share", 1.0, "estimate"),
    ("associations", {"assoc:Owner": {"type_id": 2}}, "associations"),
    ("source_digest", "c" * 64, "mapping and source"),
    ("created_at", "yesterday", "other"),
], ids=lambda v: v if isinstance(v, str) else None)
def test_an_edit_to_any_part_of_the_plan_is_refused_naming_the_part(field, value, part):
    document = made_plan()
    assert planfiles.to_json(planfiles.from_json(document)) == document
    document[field] = value
    with pytest.raises(InputError, match=rf"^x.json: {CHANGED} \(changed: {part}\)$"):
        planfiles.from_json(document, source="x.json")


@pytest.mark.parametrize("edit", ["key", "after", "before", "updated_at", "row"])
def test_an_edit_to_any_field_of_an_action_is_refused(edit):
    document = made_plan()
    update = document["actions"][1]
    if edit in ("after", "before"):
        update["changes"]["price"][edit] = "99"
    else:
        update[edit] = 9 if edit == "row" else "X"
    with pytest.raises(InputError, match=rf"{CHANGED} \(changed: actions\)"):
        planfiles.from_json(document)


def test_an_undo_plan_may_archive_whatever_its_runs_mode_but_other_plans_follow_theirs():
    document = made_plan()
    document["actions"][0].update(action="archive", record_id="8")
    document["digest"] = planfiles.digest(document)
    with pytest.raises(InputError, match="is archive, which mode upsert never does"):
        planfiles.from_json(document)
    document["undo_of"] = "run-1"  # build_undo archives the records its run created
    document["digest"] = planfiles.digest(document)
    assert list(planfiles.from_json(document).actions["action"]) == ["archive", "update"]


# --- review workbooks --------------------------------------------------------------------------------


def review_rows(path, sheet_name):
    book = openpyxl.load_workbook(path)
    sheet = book[sheet_name]
    header = [c.value for c in sheet[1]]
    return book, sheet, {name: header.index(name) + 1 for name in header}


def test_swapping_two_rows_plan_action_in_a_review_is_refused_naming_sheet_and_row(run, small, sandbox, client):
    assert run("plan", "mappings/cars.yaml", "--review", "review.xlsx").exit_code == 0
    book, sheet, column = review_rows(small / "review.xlsx", "Create")
    first, second = (sheet.cell(r, column["key"]).value for r in (2, 3))
    sheet.cell(2, column["approve"]).value = "no"  # the reviewer declines the first car
    a, b = (sheet.cell(r, column["plan_action"]).value for r in (2, 3))
    sheet.cell(2, column["plan_action"]).value, sheet.cell(3, column["plan_action"]).value = b, a
    book.save(small / "review.xlsx")
    sandbox.clear_log()
    refused = run("apply", "review.xlsx", "--yes")
    assert refused.exit_code == 2
    assert refused.output.startswith(f'Error: review.xlsx, sheet "Create", row 2: plan_action {b} is the action '
                                     f"of key {second!r}, not {first!r}")
    assert writes(sandbox) == [] and cars(client) == {}


@pytest.mark.parametrize("edit", ["record_id", "duplicate-row"])
def test_a_review_row_must_be_the_row_of_its_plan_action(run, small, sandbox, client, edit):
    document, rows = planned_updates(run, small)
    assert run("plan", "mappings/cars.yaml", "--review", "review.xlsx").exit_code == 0
    book, sheet, column = review_rows(small / "review.xlsx", "Update")
    if edit == "record_id":
        sheet.cell(2, column["record_id"]).value = cars(client)[rows[5]["VIN"]].id
        planned = action_of(document, rows[0]["VIN"])["record_id"]
        expected = f"sheet \"Update\", row 2: plan_action 0 is the action of record {planned!r}"
    else:  # the first row copied over the second, its approval with it
        for name, position in column.items():
            sheet.cell(3, position).value = sheet.cell(2, position).value
        expected = "sheet \"Update\": rows 2 and 3 both carry plan_action 0"
    book.save(small / "review.xlsx")
    sandbox.clear_log()
    refused = run("apply", "review.xlsx", "--yes")
    assert refused.exit_code == 2 and refused.output.startswith(f"Error: review.xlsx, {expected}")
    assert writes(sandbox) == [] and prices(client)[rows[0]["VIN"]] != "11111"
