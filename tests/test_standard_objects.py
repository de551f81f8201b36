"""Contacts, companies and deals as targets, as cars are: the sample mappings pushed, exported and
synced against the sandbox; contacts matched by email whatever its case; contact → company links
from a sheet column; each object's own modification-date property in sync's search."""

from __future__ import annotations

import csv

import pytest

from conftest import sheet_rows, snapshot_path, write_sheet

CONTACTS, COMPANIES = "mappings/contacts.yaml", "mappings/companies.yaml"


@pytest.fixture
def crm(run, project):
    """The sample companies pushed (after `schema apply` creates their unique company_number)."""
    assert run("schema", "apply", COMPANIES, "--yes").exit_code == 0
    pushed = run("push", COMPANIES, "--yes")
    assert pushed.exit_code == 0 and "created 8" in pushed.output, pushed.output
    return project


def test_companies_need_their_unique_property_first_and_say_how_to_make_it(run):
    refused = run("push", COMPANIES, "--yes")
    assert refused.exit_code == 2
    assert 'object "companies" has no property "company_number"' in refused.output
    assert "to create the missing properties: syncer schema plan mappings/companies.yaml" in refused.output


def test_companies_push_export_and_sync_like_cars(run, crm, client, sandbox):
    assert "unchanged 8" in run("push", COMPANIES, "--yes").output
    exported = run("export", COMPANIES, "-o", "companies-export.csv")
    assert exported.exit_code == 0, exported.output
    rows = sheet_rows(crm / "companies-export.csv")
    assert rows[0]["Company number"] == "C-1001" and rows[0]["Industry"] == "Automotive" and rows[0]["Record ID"]
    assert run("plan", COMPANIES, "--source", "companies-export.csv").output.count("unchanged 8") == 1
    assert run("sync", COMPANIES).exit_code == 0  # the first sync takes the snapshot
    found = client.batch_read("companies", ["C-1003"], id_property="company_number")["C-1003"]
    client.batch_update("companies", [{"id": found.id, "properties": {"numberofemployees": "4321"}}])
    synced = run("sync", COMPANIES)
    assert synced.exit_code == 0, synced.output
    assert "pulled 1 cells" in synced.output
    pulled = {r["Company number"]: r for r in sheet_rows(crm / "sample_data" / "companies.csv")}
    assert pulled["C-1003"]["Employees"] == "4321"
    searched = [e.body for e in sandbox.request_log if e.path.endswith("/0-2/search")]
    assert searched and searched[-1]["filterGroups"][0]["filters"][0]["propertyName"] == "hs_lastmodifieddate"


def test_contacts_match_by_email_whatever_its_case_and_link_their_company(run, crm, client):
    pushed = run("push", CONTACTS, "--yes")
    assert pushed.exit_code == 0, pushed.output
    assert "created 6  updated 20" in pushed.output  # the sandbox's 20 contacts, three typed Alice.Martin@…
    assert sum(1 for _ in client.list_records("contacts")) == 26  # no duplicates
    assert "unchanged 26" in run("push", CONTACTS, "--yes").output
    alice = client.batch_read("contacts", ["alice.martin@example.com"], id_property="email",
                              properties=["jobtitle", "lifecyclestage"])["alice.martin@example.com"]
    assert alice.properties["jobtitle"] == "Operations lead" and alice.properties["lifecyclestage"] == "lead"
    company = client.batch_read("companies", ["C-1004"], id_property="company_number")["C-1004"]
    (link,) = client.batch_read_associations("contacts", "companies", [alice.id])[alice.id]
    assert link.to_id == company.id
    exported = run("export", CONTACTS, "-o", "contacts-export.csv")
    assert exported.exit_code == 0, exported.output
    rows = {r["Email"]: r for r in sheet_rows(crm / "contacts-export.csv")}
    assert rows["alice.martin@example.com"]["Company number"] == "C-1004"
    assert rows["alice.martin@example.com"]["Lifecycle stage"] == "Lead"
    assert "unchanged 26" in run("plan", CONTACTS, "--source", "contacts-export.csv").output


def test_contacts_sync_both_ways_through_lastmodifieddate(run, crm, client, sandbox):
    assert run("push", CONTACTS, "--yes").exit_code == 0
    first = run("sync", CONTACTS)
    assert first.exit_code == 0 and "First sync" in first.output, first.output
    assert snapshot_path(crm / CONTACTS).exists()
    bruno = client.batch_read("contacts", ["bruno.silva@example.com"], id_property="email")["bruno.silva@example.com"]
    client.batch_update("contacts", [{"id": bruno.id, "properties": {"jobtitle": "Head of fleet"}}])
    sheet = crm / "sample_data" / "contacts.csv"
    rows = sheet_rows(sheet)
    next(r for r in rows if r["Email"].lower() == "daniel.kim@example.com")["City"] = "Lisbon"
    write_sheet(sheet, rows)
    synced = run("sync", CONTACTS)
    assert synced.exit_code == 0, synced.output
    assert "pushed 1" in synced.output and "pulled 1 cells" in synced.output
    by_email = {r["Email"].lower(): r for r in sheet_rows(sheet)}
    assert by_email["bruno.silva@example.com"]["Job title"] == "Head of fleet"
    daniel = client.batch_read("contacts", ["daniel.kim@example.com"], id_property="email", properties=["city"])
    assert daniel["daniel.kim@example.com"].properties["city"] == "Lisbon"
    searches = [e.body for e in sandbox.request_log if e.path.endswith("/0-1/search")]
    assert searches and all(b["filterGroups"][0]["filters"][0]["propertyName"] == "lastmodifieddate"
                            and b["sorts"][0]["propertyName"] == "lastmodifieddate" for b in searches)


def test_deals_take_a_unique_property_from_a_sheet_and_push(run, project, client):
    sheet = project / "deals.csv"
    with open(sheet, "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([["Deal number", "Deal name", "Amount", "Deal stage", "Close date"],
                                 ["D-1", "Fleet renewal", "125000", "Qualified To Buy", "2026-03-31 17:00"],
                                 ["D-2", "Van lease", "48000.50", "Contract Sent", "2026-02-15 09:30"]])
    planned = run("schema", "plan", "deals.csv", "--object", "deals", "--id-property", "Deal number")
    assert planned.exit_code == 0, planned.output
    assert 'new property deal_number (column "Deal number"): string (text), unique: the id property' in planned.output
    assert "deal_name" not in planned.output  # Deal name is dealname, matched as init matches it
    applied = run("schema", "apply", "deals.csv", "--object", "deals", "--id-property", "Deal number", "--yes")
    assert applied.exit_code == 0, applied.output
    properties = {p["name"]: p for p in client.properties("deals")}
    assert properties["deal_number"]["groupName"] == "dealinformation" and properties["deal_number"]["hasUniqueValue"]
    created = run("init", "deals.csv", "--object", "deals", "--id-property", "deal_number", "-o", "deals.yaml")
    assert created.exit_code == 0, created.output
    pushed = run("push", "deals.yaml", "--yes")
    assert pushed.exit_code == 0 and "created 2" in pushed.output, pushed.output
    deal = client.batch_read("deals", ["D-2"], id_property="deal_number",
                             properties=["amount", "dealstage", "closedate"])["D-2"]
    assert deal.properties["amount"] == "48000.5"
    assert deal.properties["dealstage"] == "contractsent" and deal.properties["closedate"] == "2026-02-15T09:30:00.000Z"
    assert run("sync", "deals.yaml").exit_code == 0 and run("sync", "deals.yaml").exit_code == 0


def test_the_sandbox_seeds_standard_objects_with_their_core_properties(client):
    contacts = {p["name"] for p in client.properties("contacts")}
    companies = {p["name"] for p in client.properties("companies")}
    deals = {p["name"] for p in client.properties("deals")}
    assert {"email", "firstname", "lastname", "jobtitle", "lifecyclestage", "lastmodifieddate"} <= contacts
    assert {"name", "domain", "industry", "annualrevenue", "hs_lastmodifieddate"} <= companies
    assert {"dealname", "amount", "dealstage", "pipeline", "closedate", "hs_lastmodifieddate"} <= deals


def test_searches_sorted_on_either_modification_date_page_past_the_ceiling():
    from syncer.hubspot import search
    from syncer.hubspot.models import ObjectType

    assert ObjectType("0-1", "contacts", "contacts").modified_property == "lastmodifieddate"
    assert ObjectType("0-2", "companies", "companies").modified_property == "hs_lastmodifieddate"
    for name in ("lastmodifieddate", "hs_lastmodifieddate"):
        assert search.window_key(search.sort_rules([name])) == name
