"""Association columns in two-way sync, through the CLI against the sandbox, each for xlsx and CSV:
re-linked in the sheet, re-linked in HubSpot, re-linked on both sides, cleared on either side."""

from __future__ import annotations

import openpyxl
import pytest

from test_sync import CARS, FORMATS, OTHER, VIN, Sheet, records

OWNER = "Owner email"
ROWS = 12  # the sample's first rows: every case below needs two of them


@pytest.fixture(params=FORMATS)
def sheet(request, project):
    """The sample sheet cut to ROWS rows, in one format, named by the mapping as its source."""
    mapping = project / "mappings" / "cars.yaml"
    path = project / "sample_data" / f"cars.{request.param}"
    if request.param == "csv":
        mapping.write_text(mapping.read_text().replace("cars.xlsx", "cars.csv").replace("sheet: Inventory\n", ""))
        lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
        path.write_text("".join(lines[:ROWS + 1]), encoding="utf-8")
    else:
        book = openpyxl.load_workbook(path)
        book["Inventory"].delete_rows(ROWS + 2, book["Inventory"].max_row)
        book.save(path)
    return Sheet(path)


@pytest.fixture
def sync(run):
    return lambda *args: run("sync", "mappings/cars.yaml", *args)


def owners(client, *vins) -> dict[str, list[str]]:
    """VIN → the emails of the contacts its car is linked to under any type."""
    found = records(client)
    links = client.batch_read_associations(CARS, "contacts", [found[v].id for v in vins])
    emails = {r.id: r.properties["email"] for r in client.list_records("contacts", properties=["email"])}
    return {v: sorted(emails[a.to_id] for a in links[found[v].id]) for v in vins}


def contact(client, email: str) -> str:
    return client.batch_read("contacts", [email], id_property="email")[email].id


def relink_in_hubspot(client, vin: str, email: str | None, **properties) -> None:
    """Replace the car's owner link, as a person would in HubSpot, and edit a property with it
    (HubSpot reports a record changed only when a property changes, not a link)."""
    car = records(client)[vin].id
    linked = client.batch_read_associations(CARS, "contacts", [car])[car]
    assert all(o.ok for o in client.batch_disassociate(CARS, "contacts", [(car, a.to_id) for a in linked]))
    if email:
        assert all(o.ok for o in client.batch_associate(CARS, "contacts", [(car, contact(client, email))], "car_owner"))
    [answer] = client.batch_update(CARS, [{"id": car, "properties": properties or {"mileage": "1"}}])
    assert answer.ok


@pytest.fixture
def synced(sync, sheet, client):
    """After a first sync of the cut sheet: the owners HubSpot has for VIN and OTHER."""
    first = sync()
    assert first.exit_code == 0, first.output
    linked = owners(client, VIN, OTHER)
    assert linked == {VIN: ["farid.haddad@example.com"], OTHER: ["priya.sharma@example.com"]}
    return linked


def test_relinked_in_the_sheet_relinks_the_record_in_hubspot(sync, sheet, client, synced, sandbox):
    sheet.set(VIN, OWNER, "Tara.Walsh@example.com")  # matched whatever its case, as push matches it
    result = sync()
    assert result.exit_code == 0, result.output
    assert "pushed 1," in result.output and "pulled 0 cells" in result.output
    assert owners(client, VIN, OTHER) == {VIN: ["tara.walsh@example.com"], OTHER: ["priya.sharma@example.com"]}
    assert "updated 1  (3 API calls of 3 estimated)" in result.output  # update, unlink, link: no look-ups
    sandbox.clear_log()
    quiet = sync("--margin", "0")
    assert "pushed 0," in quiet.output and "pulled 0 cells" in quiet.output and quiet.exit_code == 0
    # the write's own record read back as written: no link read, no contact lookup
    assert not [e for e in sandbox.request_log if "associations" in e.path or "/0-1/" in e.path]


def test_relinked_in_hubspot_writes_the_new_owners_email_into_the_sheet(sync, sheet, client, synced):
    relink_in_hubspot(client, VIN, "grace.okafor@example.com", price="26000")
    result = sync()
    assert result.exit_code == 0, result.output
    assert "pulled 2 cells" in result.output and "pushed 0," in result.output
    rows = sheet.rows()
    assert rows[VIN][OWNER] == "grace.okafor@example.com" and str(rows[VIN]["Listing price"]) == "26000"
    assert rows[OTHER][OWNER] == "priya.sharma@example.com"
    assert owners(client, VIN)[VIN] == ["grace.okafor@example.com"]
    assert "pulled 0 cells" in sync().output


def test_relinked_on_both_sides_is_a_conflict_settled_by_prefer(sync, sheet, client, synced):
    sheet.set(VIN, OWNER, "tara.walsh@example.com")
    relink_in_hubspot(client, VIN, "grace.okafor@example.com")
    result = sync()
    assert result.exit_code == 1, result.output
    assert (f"{VIN} assoc:{OWNER}: sheet 'tara.walsh@example.com', HubSpot 'grace.okafor@example.com' "
            "(was 'farid.haddad@example.com')") in result.output
    assert owners(client, VIN)[VIN] == ["grace.okafor@example.com"]  # neither side touched
    assert sheet.rows()[VIN][OWNER] == "tara.walsh@example.com"
    settled = sync("--prefer", "sheet")
    assert settled.exit_code == 0, settled.output
    assert owners(client, VIN)[VIN] == ["tara.walsh@example.com"]
    assert "pushed 0," in sync().output


def test_cleared_on_either_side_is_cleared_on_the_other(sync, sheet, client, synced):
    sheet.set(VIN, OWNER, None)
    relink_in_hubspot(client, OTHER, None)
    result = sync()
    assert result.exit_code == 0, result.output
    assert owners(client, VIN, OTHER) == {VIN: [], OTHER: []}
    assert sheet.rows()[OTHER][OWNER] in (None, "")
    again = sync()
    assert "pushed 0," in again.output and "pulled 0 cells" in again.output


def test_an_owner_no_contact_has_fails_its_row_and_is_tried_again(sync, sheet, client, synced):
    sheet.set(VIN, OWNER, "nobody@example.com")
    sheet.set(OTHER, "Listing price", 19999)
    result = sync()
    assert result.exit_code == 1
    assert "no contacts record with email 'nobody@example.com'" in result.output
    assert owners(client, VIN)[VIN] == ["farid.haddad@example.com"]
    assert records(client, "price")[OTHER].properties["price"] == "19999"
    sheet.set(VIN, OWNER, "emma.schmidt@example.com")  # fixed in the sheet: the next sync sends it
    fixed = sync()
    assert fixed.exit_code == 0, fixed.output
    assert owners(client, VIN)[VIN] == ["emma.schmidt@example.com"]


def test_a_record_new_in_hubspot_is_appended_with_its_owner(sync, sheet, client, synced):
    [created] = client.batch_upsert(CARS, [{"id": "NEWHUBSPOT0000009", "properties": {"make": "Kia"}}],
                                    id_property="vin")
    client.batch_associate(CARS, "contacts", [(created.record.id, contact(client, "hugo.rossi@example.com"))],
                           "car_owner")
    result = sync()
    assert result.exit_code == 0, result.output
    assert "appended 1 rows" in result.output
    assert sheet.rows()["NEWHUBSPOT0000009"][OWNER] == "hugo.rossi@example.com"


def test_the_plan_a_sync_asks_about_names_owners_by_email(sync, sheet, project, synced):
    mapping = project / "mappings" / "cars.yaml"
    mapping.write_text(mapping.read_text().replace("mode: upsert", "mode: mirror"))
    sheet.set(VIN, OWNER, "tara.walsh@example.com")
    sheet.delete(OTHER)  # an archive: mirror mode asks first, and without a terminal refuses
    refused = sync()
    assert refused.exit_code == 2, refused.output
    assert "Owner email: farid.haddad@example.com → tara.walsh@example.com" in refused.output


def test_a_relink_made_only_in_hubspot_is_found_by_a_full_sync(sync, sheet, client, synced):
    car = records(client)[VIN].id
    [old] = client.batch_read_associations(CARS, "contacts", [car])[car]
    assert all(o.ok for o in client.batch_disassociate(CARS, "contacts", [(car, old.to_id)]))
    assert all(o.ok for o in client.batch_associate(CARS, "contacts", [(car, contact(client, "grace.okafor@example.com"))],
                                                    "car_owner"))
    quiet = sync("--margin", "0")  # no property changed, so HubSpot does not report the record
    assert "pulled 0 cells" in quiet.output and sheet.rows()[VIN][OWNER] == "farid.haddad@example.com"
    full = sync("--full")
    assert full.exit_code == 0, full.output
    assert "pulled 1 cells" in full.output and "pushed 0," in full.output
    assert sheet.rows()[VIN][OWNER] == "grace.okafor@example.com"
