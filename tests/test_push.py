"""plan, push and apply end to end through the CLI, against the sandbox portal over HTTP."""

from __future__ import annotations

import json

import openpyxl
import pytest

from conftest import sheet_rows, write_sheet

CARS = "2-3465404"
WRITES = ("/batch/upsert", "/batch/update", "/batch/archive", "/batch/create")


def cars(client, *properties):
    return {r.properties["vin"]: r for r in client.list_records(CARS, properties=["vin", *properties])}


def write_requests(sandbox):
    return [e for e in sandbox.request_log if e.method in ("PATCH", "DELETE")
            or (e.method == "POST" and e.path.endswith(WRITES))]


def test_push_creates_every_row_and_a_second_plan_shows_no_change(run, client):
    first = run("push", "mappings/cars.yaml", "--yes", "--quiet")
    assert first.exit_code == 0, first.output
    assert "create 300" in first.output
    assert "created 300" in first.output
    assert len(cars(client)) == 300
    again = run("plan", "mappings/cars.yaml")
    assert again.exit_code == 0
    assert "unchanged 300" in again.output
    assert "Nothing to change" in again.output


@pytest.mark.parametrize("blank_cells", ["keep", "clear"])
@pytest.mark.parametrize("source", ["sample_data/cars.xlsx", "sample_data/cars.csv"])
def test_push_is_idempotent_for_every_property_type(run, project, blank_cells, source):
    mapping = project / "mappings" / "cars.yaml"
    mapping.write_text(mapping.read_text().replace("blank_cells: keep", f"blank_cells: {blank_cells}"))
    assert run("push", "mappings/cars.yaml", "--source", source, "--yes").exit_code == 0
    again = run("plan", "mappings/cars.yaml", "--source", source, "--json")
    assert json.loads(again.stdout)["counts"]["unchanged"] == 300


def test_a_dry_run_sends_no_write_request(run, sandbox, client):
    result = run("plan", "mappings/cars.yaml", "-o", "plan.json", "--review", "review.xlsx")
    assert result.exit_code == 0, result.output
    assert write_requests(sandbox) == []
    assert cars(client) == {}
    review = openpyxl.load_workbook("review.xlsx")
    assert [s for s in review.sheetnames if review[s].sheet_state == "visible"] == ["Summary", "Create"]
    assert review["Create"].max_row == 301


def test_push_without_a_terminal_or_yes_refuses_and_sends_nothing(run, sandbox):
    result = run("push", "mappings/cars.yaml")
    assert result.exit_code == 2
    assert "pass --yes" in result.output
    assert write_requests(sandbox) == []


def test_update_carries_only_changed_properties(run, sandbox, project, client):
    assert run("push", "mappings/cars.yaml", "--source", "sample_data/cars.csv", "--yes").exit_code == 0
    rows = sheet_rows(project / "sample_data" / "cars.csv")
    rows[0]["Listing price"] = "99999"
    rows[1]["Colour"] = "Dark blue"
    write_sheet(project / "sample_data" / "cars.csv", rows)
    sandbox.clear_log()
    result = run("push", "mappings/cars.yaml", "--source", "sample_data/cars.csv", "--yes")
    assert result.exit_code == 0, result.output
    assert "update 2" in result.output and "unchanged 298" in result.output
    assert "price: 24800 → 99999" in result.output
    [update] = write_requests(sandbox)
    assert update.path.endswith("/batch/update")
    assert sorted(tuple(i["properties"]) for i in update.body["inputs"]) == [("color",), ("price",)]
    assert cars(client, "price")[rows[0]["VIN"]].properties["price"] == "99999"


def test_modes_update_and_create_report_what_they_refuse(run, project, client):
    path = project / "sample_data" / "cars.csv"
    rows = sheet_rows(path)
    write_sheet(path, rows[:10])
    assert run("push", "mappings/cars.yaml", "--source", "sample_data/cars.csv", "--yes").exit_code == 0
    rows[0]["Listing price"] = "1"
    write_sheet(path, rows[:12])
    update = run("push", "mappings/cars.yaml", "--source", "sample_data/cars.csv", "--mode", "update", "--yes")
    assert update.exit_code == 0
    assert "update 1" in update.output and "skip 2" in update.output
    assert "mode update never creates" in update.output
    assert len(cars(client)) == 10
    create = run("push", "mappings/cars.yaml", "--source", "sample_data/cars.csv", "--mode", "create", "--yes")
    assert "create 2" in create.output and "skip 10" in create.output
    assert len(cars(client)) == 12


def test_mirror_archives_records_the_sheet_no_longer_has_within_the_limit(run, project, client):
    path = project / "sample_data" / "cars.csv"
    rows = sheet_rows(path)
    assert run("push", "mappings/cars.yaml", "--source", "sample_data/cars.csv", "--yes").exit_code == 0
    write_sheet(path, rows[:-20])
    within = run("push", "mappings/cars.yaml", "--source", "sample_data/cars.csv", "--mode", "mirror", "--yes")
    assert within.exit_code == 0, within.output
    assert "archived 20" in within.output  # 20 of 300 is within max_archive_fraction 10%
    write_sheet(path, rows[:-60])
    refused = run("push", "mappings/cars.yaml", "--source", "sample_data/cars.csv", "--mode", "mirror", "--yes")
    assert refused.exit_code == 2
    assert "would archive 40 of 280 records (14%)" in refused.output
    assert len(cars(client)) == 280
    allowed = run("push", "mappings/cars.yaml", "--source", "sample_data/cars.csv", "--mode", "mirror",
                  "--allow-mass-archive", "--yes", "--report", "report.csv")
    assert allowed.exit_code == 0, allowed.output
    assert "archived 40" in allowed.output
    assert set(cars(client)) == {r["VIN"] for r in rows[:-60]}
    archived = [r for r in sheet_rows(project / "report.csv") if r["outcome"] == "archived"]
    assert len(archived) == 40 and all(r["row"] == "" and r["record_id"] for r in archived)


def test_one_bad_row_among_250_leaves_the_other_249_applied(run, project, client):
    path = project / "sample_data" / "cars.csv"
    rows = sheet_rows(path)[:250]
    rows[99]["Year"] = "twenty"
    write_sheet(path, rows)
    result = run("push", "mappings/cars.yaml", "--source", "sample_data/cars.csv", "--yes",
                 "--report", "report.json")
    assert result.exit_code == 1
    assert len(cars(client)) == 249
    report = json.loads((project / "report.json").read_text())
    assert report["counts"]["created"] == 249 and report["counts"]["failed"] == 1
    [failed] = [r for r in report["rows"] if r["outcome"] == "failed"]
    assert failed["row"] == 101 and failed["key"] == rows[99]["VIN"]
    assert 'column "Year"' in failed["error_message"]


def test_a_value_too_long_for_hubspot_fails_its_row_before_sending(run, project, client, sandbox):
    path = project / "sample_data" / "cars.csv"
    rows = sheet_rows(path)[:150]
    rows[120]["Owner"] = "x" * 70_000  # longer than HubSpot's 65,536 characters
    write_sheet(path, rows)
    result = run("push", "mappings/cars.yaml", "--source", "sample_data/cars.csv", "--yes", "--report", "r.csv")
    assert result.exit_code == 1, result.output
    assert len(cars(client)) == 149
    [failed] = [r for r in sheet_rows(project / "r.csv") if r["outcome"] == "failed"]
    assert failed["row"] == "122" and failed["error_category"] == "INVALID_INPUT"
    sent = [i["id"] for e in write_requests(sandbox) if e.path.endswith("/batch/upsert")
            for i in e.body["inputs"]]
    assert rows[120]["VIN"] not in sent and len(sent) == 149


def test_faults_still_end_every_row_with_the_right_outcome(run, sandbox, client):
    sandbox.set_faults("429:0.15,500:0.05,503:0.1,drop:0.1", seed=11)
    result = run("push", "mappings/cars.yaml", "--yes", "--report", "report.csv")
    sandbox.set_faults("")
    assert result.exit_code == 0, result.output
    assert any(e.fault for e in sandbox.request_log)
    outcomes = {r["outcome"] for r in sheet_rows("report.csv")}
    assert outcomes <= {"created", "updated"}  # a retried upsert that had landed reports `updated`
    assert len(cars(client)) == 300
    assert "unchanged 300" in run("plan", "mappings/cars.yaml").output


def test_a_stale_plan_leaves_changed_records_alone_unless_replanned(run, project, client):
    path = project / "sample_data" / "cars.csv"
    rows = sheet_rows(path)[:5]
    write_sheet(path, rows)
    assert run("push", "mappings/cars.yaml", "--source", "sample_data/cars.csv", "--yes").exit_code == 0
    rows[0]["Listing price"], rows[1]["Listing price"] = "1000", "2000"
    write_sheet(path, rows)
    assert run("plan", "mappings/cars.yaml", "--source", "sample_data/cars.csv", "-o", "plan.json").exit_code == 0
    record = cars(client)[rows[0]["VIN"]]
    client.batch_update(CARS, [{"id": record.id, "properties": {"mileage": "5"}}])
    stale = run("apply", "plan.json", "--yes", "--report", "r.csv")
    assert stale.exit_code == 1
    outcomes = {r["key"]: r["outcome"] for r in sheet_rows(project / "r.csv")}
    assert outcomes[rows[0]["VIN"]] == "conflict" and outcomes[rows[1]["VIN"]] == "updated"
    now = cars(client, "price", "mileage")
    assert now[rows[0]["VIN"]].properties["price"] != "1000"
    replanned = run("apply", "plan.json", "--yes", "--replan")
    assert replanned.exit_code == 0, replanned.output
    now = cars(client, "price", "mileage")[rows[0]["VIN"]].properties
    assert (now["price"], now["mileage"]) == ("1000", "5")


def test_write_back_adds_status_columns_to_the_workbook_in_place(run, project):
    result = run("push", "mappings/cars.yaml", "--yes", "--write-back")
    assert result.exit_code == 0, result.output
    book = openpyxl.load_workbook(project / "sample_data" / "cars.xlsx")
    assert book.sheetnames == ["Inventory", "About"]
    sheet = book["Inventory"]
    header = [c.value for c in sheet[1]]
    assert header[-3:] == ["sync_status", "sync_record_id", "sync_error"]
    status = [sheet.cell(row=r, column=header.index("sync_status") + 1).value for r in range(2, 302)]
    assert status == ["created"] * 300
    # the pushed workbook, with its new columns, still plans no change
    assert "unchanged 300" in run("plan", "mappings/cars.yaml").output


def test_a_sheet_under_a_title_row_behind_another_sheet_is_pushed_and_written_back(run, project, client):
    path = project / "sample_data" / "cars.xlsx"
    book = openpyxl.load_workbook(path)
    book.move_sheet("About", offset=-1)  # Inventory is no longer the first sheet
    book["Inventory"].delete_rows(12, 300)
    book["Inventory"].insert_rows(1)
    book["Inventory"]["A1"] = "Stock list, November"  # a title above the header
    book.save(path)
    mapping = project / "mappings" / "cars.yaml"
    mapping.write_text(mapping.read_text().replace("sheet: Inventory\n", "sheet: Inventory\nheader_row: 2\n"))
    result = run("push", "mappings/cars.yaml", "--yes", "--write-back")
    assert result.exit_code == 0, result.output
    assert "created 10" in result.output and len(cars(client)) == 10
    sheet = openpyxl.load_workbook(path)["Inventory"]
    header = [c.value for c in sheet[2]]
    assert header[-3:] == ["sync_status", "sync_record_id", "sync_error"]
    assert [sheet.cell(row=r, column=len(header) - 2).value for r in range(3, 13)] == ["created"] * 10
    assert openpyxl.load_workbook(path)["About"].max_column == 1  # the other sheet untouched


def test_write_back_is_refused_when_the_sheet_changed_after_it_was_read(project, client):
    import syncer
    from syncer.errors import InputError

    sheet = project / "sample_data" / "cars.csv"
    write_sheet(sheet, sheet_rows(sheet)[:5])
    built = syncer.build_plan(project / "mappings" / "cars.yaml", client, source=sheet)
    results = syncer.apply_plan(built, client)
    write_sheet(sheet, sheet_rows(sheet)[1:])  # a row deleted meanwhile: the rest moved up
    saved = sheet.read_bytes()
    with pytest.raises(InputError, match="changed since syncer read it"):
        syncer.write_back(results, built)
    assert sheet.read_bytes() == saved


@pytest.mark.parametrize("suffix", ["csv", "xlsx", "json"])
def test_results_report_has_one_line_per_row(run, project, suffix):
    result = run("push", "mappings/cars.yaml", "--yes", "--report", f"report.{suffix}")
    assert result.exit_code == 0
    path = project / f"report.{suffix}"
    if suffix == "json":
        rows = json.loads(path.read_text())["rows"]
    elif suffix == "csv":
        rows = sheet_rows(path)
    else:
        sheet = openpyxl.load_workbook(path)["Results"]
        assert sheet.auto_filter.ref and sheet.freeze_panes == "A2"
        rows = list(sheet.iter_rows(min_row=2, values_only=True))
    assert len(rows) == 300


def owners(client, vins):
    records = cars(client)
    links = client.batch_read_associations(CARS, "contacts", [records[v].id for v in vins])
    emails = {r.id: r.properties["email"] for r in client.list_records("contacts", properties=["email"])}
    return {v: sorted(emails[a.to_id] for a in links[records[v].id]) for v in vins}


def test_association_columns_link_each_row_and_follow_edits(run, project, client):
    path = project / "sample_data" / "cars.csv"
    rows = sheet_rows(path)[:3]
    write_sheet(path, rows)
    assert run("push", "mappings/cars.yaml", "--source", "sample_data/cars.csv", "--yes").exit_code == 0
    vins = [r["VIN"] for r in rows]
    assert owners(client, vins) == {r["VIN"]: [r["Owner email"]] for r in rows}
    before, rows[0]["Owner email"] = rows[0]["Owner email"], "Tara.Walsh@example.com"  # any case matches
    write_sheet(path, rows)
    review = run("plan", "mappings/cars.yaml", "--source", "sample_data/cars.csv", "--review", "review.xlsx")
    # the plan names owners as the sheet does, not by record id
    assert f"Owner email: {before.lower()} → tara.walsh@example.com" in review.output
    [line] = openpyxl.load_workbook("review.xlsx")["Update"].iter_rows(min_row=2, values_only=True)
    assert (before.lower(), "tara.walsh@example.com") == line[3:5]  # Owner email (before), (after)
    changed = run("push", "mappings/cars.yaml", "--source", "sample_data/cars.csv", "--yes")
    assert changed.exit_code == 0, changed.output
    assert "update 1" in changed.output
    assert owners(client, vins)[vins[0]] == ["tara.walsh@example.com"]
    assert "unchanged 3" in run("plan", "mappings/cars.yaml", "--source", "sample_data/cars.csv").output


def test_an_association_without_a_label_links_with_the_default_type(run, project, client):
    mapping = project / "mappings" / "cars.yaml"
    mapping.write_text(mapping.read_text().replace("    label: car_owner\n", ""))
    path = project / "sample_data" / "cars.csv"
    rows = sheet_rows(path)[:2]
    write_sheet(path, rows)
    result = run("push", "mappings/cars.yaml", "--source", "sample_data/cars.csv", "--yes")
    assert result.exit_code == 0, result.output
    records = cars(client)
    links = client.batch_read_associations(CARS, "contacts", [records[r["VIN"]].id for r in rows])
    assert [[a.type_ids for a in found] for found in links.values()] == [[[75]], [[75]]]  # unlabeled


def test_an_unknown_association_target_fails_only_its_row(run, project, client):
    path = project / "sample_data" / "cars.csv"
    rows = sheet_rows(path)[:3]
    rows[1]["Owner email"] = "nobody@example.com"
    write_sheet(path, rows)
    result = run("push", "mappings/cars.yaml", "--source", "sample_data/cars.csv", "--yes")
    assert result.exit_code == 1
    assert "row 3" in result.output
    assert "no contacts record with email 'nobody@example.com'" in result.output
    assert len(cars(client)) == 2


def test_a_report_path_that_cannot_be_written_is_refused_before_sending(run, sandbox):
    result = run("push", "mappings/cars.yaml", "--yes", "--report", "report.txt")
    assert result.exit_code == 2
    assert "must end in .csv, .xlsx or .json" in result.output
    assert write_requests(sandbox) == []
