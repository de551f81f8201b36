"""Which records a two-way sync lets into the sheet (issue #11, item 11), through the CLI against the
sandbox: only records created since the last sync, never records merely modified; with a mapping
`where`, only records matching it, on export and on sync alike.

Time is the sandbox's own: every write gets a strictly later millisecond, and a record's createdAt
and updatedAt come back from the portal. A test that needs "created before the last sync began, less
the margin" moves the snapshot's `since_ms` to a point between two such instants; it never sleeps.
"""

from __future__ import annotations

import datetime as dt

import pytest

from conftest import on_small_csv, sheet_rows, snapshot_path, write_sheet
from syncer import mapping, state
from syncer.sync import DEFAULT_MARGIN_SECONDS

CARS = "2-3465404"
ROWS = 30
MARGIN_MS = int(DEFAULT_MARGIN_SECONDS * 1000)
VIN = "SXK0HEVNTNKFHHKLE"  # the sheet's first row: a 2024 Renault
OUTSIDE, NEW = "OUTSIDETHESHEET01", "CREATEDINHUBSPOT1"


@pytest.fixture
def cars(project):
    """The sample mapping on its CSV sheet cut to ROWS rows (no association column)."""
    on_small_csv(project, ROWS)
    return project / "sample_data" / "cars.csv"


@pytest.fixture
def sync(run, cars):
    return lambda *args: run("sync", "mappings/cars.yaml", *args)


def records(client, *properties) -> dict:
    return {r.properties["vin"]: r for r in client.list_records(CARS, properties=["vin", *properties])}


def upsert(client, vin: str, **properties) -> None:
    [answer] = client.batch_upsert(CARS, [{"id": vin, "properties": properties}], id_property="vin")
    assert answer.ok


def edit(client, vin: str, **properties) -> None:
    [answer] = client.batch_update(CARS, [{"id": records(client)[vin].id, "properties": properties}])
    assert answer.ok


def ms(iso: str) -> int:
    return round(dt.datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000)


def vins(sheet) -> list[str]:
    return [r["VIN"] for r in sheet_rows(sheet)]


def snapshot(project) -> state.Snapshot:
    return state.load(snapshot_path(project / "mappings" / "cars.yaml"))


def last_sync_began(project, since_ms: int) -> None:
    """Rewrite the snapshot as if the last sync's search had begun at `since_ms`."""
    path = snapshot_path(project / "mappings" / "cars.yaml")
    taken = state.load(path)
    taken.meta["since_ms"] = since_ms
    state.save(taken, path)


def set_mapping(project, old: str, new: str) -> None:
    path = project / "mappings" / "cars.yaml"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def posts(sandbox) -> list[str]:
    return [e.path for e in sandbox.request_log if e.method != "GET"]


# --- (a) modified, never in the sheet -------------------------------------------------------------------


@pytest.mark.parametrize("margin", ["0", "default"])
def test_a_record_modified_in_hubspot_that_never_was_in_the_sheet_is_not_appended(sync, client, cars, project,
                                                                                  margin):
    upsert(client, OUTSIDE, make="Kia", year="2018")  # a colleague's record, not the sheet's
    first = sync()
    assert first.exit_code == 0 and "appended 0 rows" in first.output, first.output
    assert ms(records(client)[OUTSIDE].created_at) < snapshot(project).meta["since_ms"]
    edit(client, OUTSIDE, price="9999")
    edit(client, VIN, price="27500")  # a row's record, which the sync must still pull
    if margin == "default":
        # OUTSIDE's edit falls within the margin before the last sync began; its creation before that.
        last_sync_began(project, ms(records(client)[OUTSIDE].updated_at) + MARGIN_MS - 1)
    result = sync(*(["--margin", "0"] if margin == "0" else []))
    assert result.exit_code == 0, result.output
    assert "pushed 0, archived 0, pulled 1 cells, appended 0 rows" in result.output
    assert OUTSIDE not in vins(cars) and len(vins(cars)) == ROWS
    assert sheet_rows(cars)[0]["Listing price"] == "27500"
    assert OUTSIDE not in snapshot(project).records.index
    found = records(client, "price")
    assert found[OUTSIDE].properties["price"] == "9999" and len(found) == ROWS + 1  # neither pushed nor archived


def test_a_sheet_exported_with_where_does_not_grow_with_records_changed_outside_it(run, sync, client, cars,
                                                                                  project):
    assert run("push", "mappings/cars.yaml", "--yes", "--quiet").exit_code == 0
    set_mapping(project, "source: ../sample_data/cars.csv", "source: ../sample_data/recent.csv")
    assert run("export", "mappings/cars.yaml", "-o", "sample_data/recent.csv", "--where", "year >= 2020").exit_code == 0
    sheet = project / "sample_data" / "recent.csv"
    exported = vins(sheet)
    assert sync().exit_code == 0
    outside = [r["VIN"] for r in sheet_rows(cars) if int(r["Year"]) < 2020]
    for vin in outside[:5]:
        edit(client, vin, price="4321")
    result = sync("--margin", "0")
    assert result.exit_code == 0, result.output
    assert "appended 0 rows" in result.output and vins(sheet) == exported


# --- (b) created since the last sync --------------------------------------------------------------------


def test_a_record_created_in_hubspot_since_the_last_sync_is_appended_once(sync, client, cars, project):
    assert sync().exit_code == 0
    upsert(client, NEW, make="Kia", model="Ceed", year="2025")
    result = sync()
    assert result.exit_code == 0, result.output
    assert "appended 1 rows" in result.output
    row = sheet_rows(cars)[-1]
    assert (row["VIN"], row["Make"], row["Model"], row["Year"]) == (NEW, "Kia", "Ceed", "2025")
    assert NEW in snapshot(project).records.index
    again = sync()
    assert "appended 0 rows" in again.output and vins(cars).count(NEW) == 1


def test_the_margin_reaches_back_to_records_created_just_before_the_last_sync(sync, client, cars, project):
    """A record created within the margin before the last sync began may have been missing from
    that sync's search (index lag): it is appended. One created before that point is not."""
    assert sync().exit_code == 0
    upsert(client, OUTSIDE, make="Fiat")
    upsert(client, NEW, make="Kia")
    edit(client, OUTSIDE, price="5000")  # both modified since
    created = ms(records(client)[NEW].created_at)
    assert ms(records(client)[OUTSIDE].created_at) < created
    last_sync_began(project, created + MARGIN_MS - 1)  # NEW created 1 ms after "since less the margin"
    result = sync()
    assert result.exit_code == 0, result.output
    assert "appended 1 rows" in result.output
    assert NEW in vins(cars) and OUTSIDE not in vins(cars)


# --- (c) rows deleted before the first sync -------------------------------------------------------------


def test_rows_deleted_before_the_first_sync_do_not_come_back(run, sync, client, cars, project):
    assert run("push", "mappings/cars.yaml", "--yes", "--quiet").exit_code == 0
    rows = sheet_rows(cars)
    deleted = [r["VIN"] for r in rows[:3]]
    write_sheet(cars, rows[3:])
    for vin in deleted:  # touched in HubSpot (a workflow, say) after the push, before the first sync
        edit(client, vin, mileage="1")
    first = sync()
    assert first.exit_code == 0 and "appended 0 rows" in first.output, first.output
    assert vins(cars) == [r["VIN"] for r in rows[3:]]
    # The first sync began within the margin after those edits, and longer than it after the push.
    touched = min(ms(records(client)[vin].updated_at) for vin in deleted)
    assert max(ms(r.created_at) for r in records(client).values()) < touched
    last_sync_began(project, touched + MARGIN_MS - 1)
    second = sync()
    assert second.exit_code == 0, second.output
    assert "appended 0 rows" in second.output
    assert vins(cars) == [r["VIN"] for r in rows[3:]]
    assert not set(deleted) & set(snapshot(project).records.index)
    assert set(deleted) <= set(records(client))  # still live in HubSpot: nothing archived


def test_a_row_deleted_after_a_sync_stays_out_in_upsert_mode_and_archives_in_mirror(sync, client, cars, project):
    assert sync().exit_code == 0
    write_sheet(cars, [r for r in sheet_rows(cars) if r["VIN"] != VIN])
    edit(client, VIN, price="27500")  # changed in HubSpot after its row was deleted
    kept = sync()
    assert kept.exit_code == 0 and "appended 0 rows" in kept.output, kept.output
    assert VIN not in vins(cars) and VIN in snapshot(project).records.index
    set_mapping(project, "mode: upsert", "mode: mirror")
    mirrored = sync("--yes")
    assert mirrored.exit_code == 0, mirrored.output
    assert "archived 1" in mirrored.output and VIN not in records(client)


# --- (d) a mapping `where` -------------------------------------------------------------------------------


@pytest.fixture
def recent(run, cars, project):
    """The 30 cars pushed, then the mapping narrowed to `year >= 2020` on a sheet exported with it."""
    assert run("push", "mappings/cars.yaml", "--yes", "--quiet").exit_code == 0
    set_mapping(project, "sync:", 'where: ["year >= 2020"]\nsync:')
    set_mapping(project, "source: ../sample_data/cars.csv", "source: ../sample_data/recent.csv")
    exported = run("export", "mappings/cars.yaml", "-o", "sample_data/recent.csv")
    assert exported.exit_code == 0, exported.output
    sheet = project / "sample_data" / "recent.csv"
    expected = [r["VIN"] for r in sheet_rows(cars) if int(r["Year"]) >= 2020]
    assert sorted(vins(sheet)) == sorted(expected) and len(expected) == 11
    return sheet


def test_a_sheet_exported_with_the_mappings_where_stays_filtered(sync, client, recent, cars, sandbox):
    first = sync()
    assert first.exit_code == 0 and "pushed 0" in first.output and "appended 0 rows" in first.output, first.output
    old = next(r["VIN"] for r in sheet_rows(cars) if int(r["Year"]) < 2020)
    inside = vins(recent)[0]
    edit(client, old, price="1111")  # outside the filter, changed in HubSpot
    edit(client, inside, price="2222")
    upsert(client, NEW, make="Kia", year="2024")  # new, matching
    upsert(client, OUTSIDE, make="Fiat", year="2015")  # new, not matching
    sandbox.clear_log()
    result = sync()
    assert result.exit_code == 0, result.output
    assert "pulled 1 cells, appended 1 rows" in result.output
    assert NEW in vins(recent) and OUTSIDE not in vins(recent) and old not in vins(recent)
    assert len(vins(recent)) == 12
    [search] = [e for e in sandbox.request_log if e.path.endswith("/search")]
    assert {"propertyName": "year", "operator": "GTE", "value": "2020"} in search.body["filterGroups"][0]["filters"]
    full = sync("--full")  # lists every record; still appends only what the where lets in
    assert full.exit_code == 0, full.output
    assert "appended 0 rows" in full.output and len(vins(recent)) == 12


def test_a_row_whose_record_leaves_the_where_is_refreshed_by_a_full_sync(sync, client, recent):
    assert sync().exit_code == 0
    inside = vins(recent)[0]
    edit(client, inside, year="2019")
    quick = sync()  # the search looks only inside the where: the row is out of its reach
    assert "pulled 0 cells" in quick.output, quick.output
    full = sync("--full")
    assert full.exit_code == 0 and "pulled 1 cells" in full.output, full.output
    assert next(r for r in sheet_rows(recent) if r["VIN"] == inside)["Year"] == "2019"


def test_a_where_on_an_unmapped_property_keeps_working_on_a_quiet_resync(sync, client, cars, project, sandbox):
    set_mapping(project, "  Year: year\n", "")
    set_mapping(project, "sync:", 'where: ["year >= 2020"]\nsync:')
    assert sync().exit_code == 0
    sandbox.clear_log()
    quiet = sync()  # the snapshot holds the mapped properties' definitions only: one call more
    assert quiet.exit_code == 0, quiet.output
    assert sorted(e.path for e in sandbox.request_log) == [
        "/account-info/v3/details", f"/crm/v3/objects/{CARS}", f"/crm/v3/objects/{CARS}/search",
        f"/crm/v3/properties/{CARS}"]
    upsert(client, NEW, make="Kia", year="2024")
    upsert(client, OUTSIDE, make="Fiat", year="2015")
    result = sync()
    assert result.exit_code == 0, result.output
    assert "appended 1 rows" in result.output
    assert NEW in vins(cars) and OUTSIDE not in vins(cars)


def test_export_ands_the_mappings_where_with_where(run, cars, project):
    assert run("push", "mappings/cars.yaml", "--yes", "--quiet").exit_code == 0
    set_mapping(project, "sync:", 'where: ["year >= 2020"]\nsync:')
    result = run("export", "mappings/cars.yaml", "-o", "some.csv", "--where", "make in Ford,Tesla")
    assert result.exit_code == 0, result.output
    expected = {r["VIN"] for r in sheet_rows(cars) if int(r["Year"]) >= 2020 and r["Make"] in ("Ford", "Tesla")}
    assert set(vins(project / "some.csv")) == expected and len(expected) == 2
    archived = run("export", "mappings/cars.yaml", "-o", "gone.csv", "--archived")
    assert archived.exit_code == 2
    assert "cars.yaml's where and --archived cannot be combined" in archived.output


# --- (e) a bad `where` ------------------------------------------------------------------------------------


@pytest.mark.parametrize("condition, problem", [
    ("year >> 2020", "write it as PROPERTY OPERATOR VALUE"),
    ("colour = Red", 'no column or property "colour"; did you mean "Colour"?'),
    ("year > soon", '"soon" is not a number'),
], ids=["syntax", "property", "value"])
@pytest.mark.parametrize("command", ["sync", "export"])
def test_a_bad_where_in_the_mapping_exits_2_naming_the_file_and_sends_nothing(run, cars, project, sandbox,
                                                                            command, condition, problem):
    set_mapping(project, "sync:", f'where: ["make = Ford", "{condition}"]\nsync:')
    before = cars.read_bytes()
    sandbox.clear_log()
    args = ["-o", "out.csv"] if command == "export" else []
    result = run(command, "mappings/cars.yaml", *args)
    assert result.exit_code == 2
    assert f'Error: cars.yaml: where[1] "{condition}": {problem}' in result.output
    assert posts(sandbox) == []  # no search, no write
    assert cars.read_bytes() == before and not (project / "out.csv").exists()
    assert not snapshot_path(project / "mappings" / "cars.yaml").exists()


def test_too_many_conditions_are_refused_with_the_line(run, cars, project):
    conditions = ", ".join(f'"year > {2000 + i}"' for i in range(mapping.MAX_WHERE + 1))
    set_mapping(project, "sync:", f"where: [{conditions}]\nsync:")
    result = run("sync", "mappings/cars.yaml")
    assert result.exit_code == 2
    assert "cars.yaml, line " in result.output and "where: at most 4 conditions" in result.output


def test_the_json_schema_describes_where():
    where = mapping.json_schema()["properties"]["where"]
    assert where["type"] == "array" and where["items"] == {"type": "string"} and where["maxItems"] == 4
    assert "export --where" in where["description"]


def test_a_record_created_just_before_the_first_sync_is_never_appended(sync, cars, client):
    upsert(client, OUTSIDE, make="Lada", year="1990")  # within the margin of the first sync
    assert sync().exit_code == 0
    assert snapshot(cars.parents[1]).meta["first_sync_ms"] >= ms(records(client)[OUTSIDE].created_at)
    edit(client, OUTSIDE, make="Lada Niva")  # reported modified by the next search
    again = sync()
    assert again.exit_code == 0, again.output
    assert OUTSIDE not in vins(cars)
    upsert(client, NEW, make="Dacia", year="2025")
    assert sync().exit_code == 0
    assert NEW in vins(cars)


def test_validate_names_a_bad_where_condition(run, cars, project):
    set_mapping(project, "sync:", 'where: ["year >= 2020", "year > soon"]\nsync:')
    checked = run("validate", "mappings/cars.yaml")
    assert checked.exit_code == 2
    assert 'cars.yaml: where[1]: "soon" is not a number' in checked.output
    assert "where[0]" not in checked.output
