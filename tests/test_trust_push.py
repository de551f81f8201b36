"""Operator trust on the push side, through the CLI (and the Python API a script uses) against the
sandbox: retry matched by key, estimates that equal the calls made, a review workbook that carries
its own plan, and plan listings condensed to the terminal."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

import syncer
from conftest import REPO, on_small_csv, sheet_rows, write_sheet
from syncer import plan, planfiles, report
from test_trust_features import cars, upserted_inputs

CARS = "2-3465404"


@pytest.fixture
def small(project):
    """The sample on its CSV sheet, cut to 40 rows, without the association column."""
    return on_small_csv(project, 40)


def fail_rows(sheet, numbers):
    """Break the Year of some rows; returns the rows as they were."""
    rows = sheet_rows(sheet)
    fixed = [dict(r) for r in rows]
    for n in numbers:
        rows[n]["Year"] = "twenty"
    write_sheet(sheet, rows)
    return fixed


# --- retry matched by key ----------------------------------------------------------------------------


def test_retry_after_rows_were_inserted_above_sends_exactly_the_failed_rows(run, small, sandbox, client):
    sheet = small / "sample_data" / "cars.csv"
    fixed = fail_rows(sheet, [10, 30])
    assert run("push", "mappings/cars.yaml", "--yes", "--report", "report.csv").exit_code == 1
    original = [r["VIN"] for r in fixed]
    inserted = sheet_rows(REPO / "sample_data" / "cars.csv")[200]
    write_sheet(sheet, [inserted, *fixed])  # every row moves down by one; the first run's row numbers are stale
    sent_before = upserted_inputs(sandbox)
    retried = run("push", "mappings/cars.yaml", "--yes", "--retry-failed", "report.csv")
    assert retried.exit_code == 0, retried.output
    assert upserted_inputs(sandbox) - sent_before == 2
    assert inserted["VIN"] not in cars(client) and set(original) <= set(cars(client))
    ledger = sheet_rows(small / "report.csv")
    assert sorted(r["key"] for r in ledger) == sorted(original)
    assert {r["outcome"] for r in ledger} == {"created"}
    retried_rows = {r["key"]: int(r["row"]) for r in ledger if r["key"] in (original[10], original[30])}
    assert retried_rows == {original[10]: 13, original[30]: 33}  # their rows in the sheet as it is now


def test_retry_names_a_failed_row_whose_key_left_the_sheet_and_keeps_it_failed(small, sandbox, client):
    # Through the Python API a scheduler would use for the same retry.
    sheet = small / "sample_data" / "cars.csv"
    fixed = fail_rows(sheet, [5, 6])
    keyless = sheet_rows(sheet)
    keyless[8]["VIN"] = ""  # row 10 fails without a key to find it by
    write_sheet(sheet, keyless)
    mapping = small / "mappings" / "cars.yaml"
    first = syncer.apply_plan(syncer.build_plan(mapping, client), client)
    syncer.write_results(first, small / "report.json")
    gone = fixed[6]["VIN"]
    write_sheet(sheet, fixed[:6] + fixed[7:])
    previous = syncer.read_results(small / "report.json")
    retry = syncer.retry_plan(syncer.build_plan(mapping, client), previous)
    assert list(retry.actions["key"]) == [fixed[5]["VIN"]]
    assert retry.meta.not_retried == [
        f"row 8 ({gone}): not retried: no row of the sheet has vin '{gone}' now (deleted, or its key changed?)",
        "row 10: not retried: it had no vin value, so it cannot be found again; push without --retry-failed "
        "to send it"]
    assert f"row 8 ({gone}): not retried" in syncer.render_plan(retry)
    merged = syncer.merge_results(previous, syncer.apply_plan(retry, client))
    assert [(o.row, o.key, o.outcome.value) for o in merged.problems] == [(8, gone, "failed"), (10, None, "failed")]
    assert len(merged.outcomes) == 40 and merged.exit_code == 1
    assert fixed[5]["VIN"] in cars(client) and gone not in cars(client)


# --- the estimate counts every call --------------------------------------------------------------------


def test_sample_push_with_its_association_column_makes_exactly_the_estimated_calls(run, project):
    pushed = run("push", "mappings/cars.yaml", "--yes", "--report", "report.json")
    assert pushed.exit_code == 0, pushed.output
    document = json.loads((project / "report.json").read_text())
    assert document["calls"] == document["estimated_calls"]
    assert document["estimate"]["calls"]["associations"] > 0
    assert document["estimate"]["calls"]["association_types"] == 0  # the plan carries the type's category
    assert f"({document['calls']} API calls of {document['calls']} estimated)" in pushed.output


def test_replacing_association_targets_makes_exactly_the_estimated_calls(run, project):
    sheet = project / "sample_data" / "cars.csv"
    assert run("push", "mappings/cars.yaml", "--source", "sample_data/cars.csv", "--yes").exit_code == 0
    rows = sheet_rows(sheet)
    for r in rows[:3]:
        r["Owner email"] = next(e["Owner email"] for e in rows if e["Owner email"] != r["Owner email"])
    write_sheet(sheet, rows)
    pushed = run("push", "mappings/cars.yaml", "--source", "sample_data/cars.csv", "--yes", "--report", "r.json")
    assert pushed.exit_code == 0, pushed.output
    document = json.loads((project / "r.json").read_text())
    calls = document["estimate"]["calls"]
    assert (calls["update"], calls["associations"], calls["association_types"]) == (1, 2, 0)  # unlink, link
    assert document["calls"] == document["estimated_calls"] == 3


def test_a_saved_plan_counts_its_stale_check_reads_and_makes_exactly_the_estimated_calls(run, project):
    assert run("plan", "mappings/cars.yaml", "-o", "plan.json").exit_code == 0
    document = json.loads(run("apply", "plan.json", "--yes", "--json").stdout)
    estimate = document["plan"]["estimate"]
    assert estimate["calls"]["stale_check"] == estimate["calls"]["create"] > 0
    assert estimate["calls"]["association_types"] == 0  # the plan file carries the type's category
    assert document["results"]["calls"] == document["results"]["estimated_calls"] == estimate["total_calls"]


# --- the review workbook carries its plan ------------------------------------------------------------


def kept_plan(book):
    return "".join(line[0] for line in book[planfiles.PLAN_SHEET].iter_rows(min_row=2, values_only=True))


def test_a_review_workbook_copied_alone_to_another_folder_applies(run, small, client, tmp_path_factory):
    assert run("plan", "mappings/cars.yaml", "--review", "review.xlsx").exit_code == 0
    assert not list(small.glob("*.plan.json"))
    book = openpyxl.load_workbook(small / "review.xlsx")
    assert book[planfiles.PLAN_SHEET].sheet_state == "veryHidden" and book.sheetnames[0] == "Summary"
    create = book["Create"]
    header = [c.value for c in create[1]]
    [choice] = create.data_validations.dataValidation
    assert choice.formula1 == '"yes,no"' and str(choice.sqref) == f"{openpyxl.utils.get_column_letter(header.index('approve') + 1)}2:" \
        f"{openpyxl.utils.get_column_letter(header.index('approve') + 1)}41"
    highlighted = {str(rule.sqref).split(":")[0] for rule in create.conditional_formatting}
    letter = lambda name: openpyxl.utils.get_column_letter(header.index(name) + 1)
    assert letter("Make") + "2" in highlighted and letter("key") + "2" not in highlighted
    [rule] = create.conditional_formatting[f"{letter('Make')}2:{letter('Make')}41"]
    assert rule.formula == [f"LEN({letter('Make')}2)>0"] and rule.dxf.fill.end_color.rgb.endswith("FFEB9C")
    elsewhere = tmp_path_factory.mktemp("mailed")
    shutil.copy(small / "review.xlsx", elsewhere / "review.xlsx")
    applied = run("apply", str(elsewhere / "review.xlsx"), "--yes")
    assert applied.exit_code == 0, applied.output
    assert len(cars(client)) == 40


def test_a_tampered_hidden_plan_is_refused(run, small, client):
    assert run("plan", "mappings/cars.yaml", "--review", "review.xlsx").exit_code == 0
    book = openpyxl.load_workbook(small / "review.xlsx")
    edited = kept_plan(book).replace('"action":"create"', '"action":"archive"', 1)
    sheet = book[planfiles.PLAN_SHEET]
    sheet.delete_rows(1, sheet.max_row)
    sheet["A1"].value = edited
    book.save(small / "review.xlsx")
    refused = run("apply", "review.xlsx", "--yes")
    assert refused.exit_code == 2
    assert refused.output.startswith("Error: review.xlsx: the plan kept in its hidden sheet syncer_plan is not "
                                     "the plan this workbook was made with (digest differs)")
    assert cars(client) == {}


def test_an_old_style_workbook_with_its_plan_file_beside_it_still_applies(run, small, client):
    assert run("plan", "mappings/cars.yaml", "--review", "review.xlsx").exit_code == 0
    book = openpyxl.load_workbook(small / "review.xlsx")
    text = kept_plan(book)
    (small / "review.plan.json").write_text(text, encoding="utf-8")
    del book[planfiles.PLAN_SHEET]
    summary = book["Summary"]
    [line] = [r for r in summary.iter_rows(min_row=2) if r[0].value == "plan"]
    line[0].value, line[1].value = "plan file", "review.plan.json"
    book.save(small / "review.xlsx")
    assert run("apply", "review.xlsx", "--yes").exit_code == 0
    assert len(cars(client)) == 40
    (small / "review.plan.json").write_text(text.replace('"create"', '"update"', 1), encoding="utf-8")
    stale = run("apply", "review.xlsx", "--yes")
    assert stale.exit_code == 2 and "review.plan.json is not the plan this workbook was made with" in stale.output


@pytest.mark.parametrize("value", [None, "seven", 99999], ids=["blank", "text", "not-in-plan"])
def test_an_approved_row_without_a_valid_plan_action_is_named(run, small, client, value):
    assert run("plan", "mappings/cars.yaml", "--review", "review.xlsx").exit_code == 0
    book = openpyxl.load_workbook(small / "review.xlsx")
    sheet = book["Create"]
    header = [c.value for c in sheet[1]]
    sheet.cell(4, header.index("plan_action") + 1).value = value
    book.save(small / "review.xlsx")
    refused = run("apply", "review.xlsx", "--yes")
    assert refused.exit_code == 2
    shown = "a blank" if value is None else repr(value)
    assert refused.output.startswith('Error: review.xlsx, sheet "Create", row 4, column "plan_action": '
                                     f"{shown} is not one of this sheet's plan actions")
    assert cars(client) == {}


# --- plan listings ------------------------------------------------------------------------------------


def test_create_lines_fit_the_width_and_update_lines_keep_every_change():
    properties = [f"property_{i}" for i in range(12)]
    local = pd.DataFrame({"vin": ["NEW1", "OLD1"], **{p: ["a value", "new"] for p in properties}}, index=[2, 3])
    remote = pd.DataFrame({"id": ["7"], "updated_at": ["t"], **{p: ["old"] for p in properties}}, index=["OLD1"])
    built = plan.build(local, remote, object_type=CARS, id_property="vin")
    text = report.render_plan(built, width=80)
    [create] = [line for line in text.splitlines() if line.startswith("  row 2")]
    [update] = [line for line in text.splitlines() if line.startswith("  row 3")]
    assert len(create) <= 80 and create.startswith("  row 2  NEW1: property_0=a value, ")
    shown = create.count("=")
    assert 1 <= shown < 12 and create.endswith(f", +{12 - shown} more")
    assert update.count("old → new") == 12
    wide = report.render_plan(built, width=1000)
    assert "+" not in [line for line in wide.splitlines() if line.startswith("  row 2")][0]


def test_the_python_api_exports_what_a_script_needs_for_the_trust_features():
    for name in ("retry_plan", "merge_results", "build_undo", "with_estimate", "read_review", "read_results",
                 "estimate", "over_budget", "check_portal", "render_estimate", "results_document", "undo_path"):
        assert callable(getattr(syncer, name)) and name in syncer.__all__, name


def test_undo_lists_a_planned_create_that_found_its_record_already_there(small, client):
    mapping = small / "mappings" / "cars.yaml"
    built = syncer.build_plan(mapping, client)
    key = built.actions["key"].iloc[0]
    client.batch_upsert(CARS, [{"id": key, "idProperty": "vin", "properties": {"make": "Meanwhile"}}],
                        id_property="vin")
    results = syncer.apply_plan(built, client)
    undo = json.loads(Path(results.meta.undo).read_text(encoding="utf-8"))
    [kept] = undo["not_restorable"]
    assert kept["key"] == key and "planned as a create" in kept["note"]
    assert undo["counts"]["archive"] == 39  # the 39 records the run did create


def test_a_csv_report_gives_back_keys_it_escaped_against_formula_injection(tmp_path):
    outcome = syncer.RowOutcome(row=2, key="=1+2", action="create", outcome=syncer.Outcome.FAILED,
                                error_category="INVALID_INPUT", error_message="-bad @value")
    syncer.write_results(syncer.Results([outcome]), tmp_path / "report.csv")
    assert "'=1+2" in (tmp_path / "report.csv").read_text()
    assert syncer.read_results(tmp_path / "report.csv").outcomes == [outcome]


def test_an_xlsx_report_colours_outcomes_in_one_pass_and_reads_back(tmp_path):
    outcomes = [syncer.RowOutcome(row=2, key="=1+2", action="create", outcome=syncer.Outcome.FAILED,
                                  error_category="INVALID_INPUT", error_message="bad"),
                syncer.RowOutcome(row=3, key="V2", action="create", outcome=syncer.Outcome.CREATED, record_id="9",
                                  changed=("make", "price"))]
    syncer.write_results(syncer.Results(outcomes), tmp_path / "report.xlsx")
    sheet = openpyxl.load_workbook(tmp_path / "report.xlsx")["Results"]
    header = [c.value for c in sheet[1]]
    column = openpyxl.utils.get_column_letter(header.index("outcome") + 1)
    rules = {rule.formula[0]: rule for rule in sheet.conditional_formatting[f"{column}2:{column}3"]}
    assert rules['"failed"'].dxf.font.b and rules['"failed"'].dxf.fill.end_color.rgb.endswith("FFC7CE")
    assert not rules['"created"'].dxf.font.b and sheet.freeze_panes == "A2" and sheet["A1"].font.b
    assert syncer.read_results(tmp_path / "report.xlsx").outcomes == outcomes


def test_the_kept_plan_survives_text_that_excel_reads_as_an_escape(tmp_path):
    local = pd.DataFrame({"vin": ["V_x0041_1"], "make": ["Ford _x000D_ \\\\_x0042_"]}, index=[2])
    remote = pd.DataFrame({"id": [], "updated_at": [], "make": []}, dtype=object)
    built = plan.build(local, remote, object_type=CARS, id_property="vin")
    report.write_review(built, tmp_path / "review.xlsx")
    document, approved = planfiles.read_review(tmp_path / "review.xlsx")
    [action] = document["actions"]
    assert action["key"] == "V_x0041_1" and action["changes"]["make"]["after"] == "Ford _x000D_ \\\\_x0042_"
    assert approved == {0}
