"""`syncer schema plan|apply` and `syncer init --create-object` through the CLI, against the sandbox:
from a sheet to a new custom object and its first push in two commands, then a new column and a new
option, each as a plan first, with the exact calls, and nothing sent without confirmation."""

from __future__ import annotations

import json

import pytest
import yaml
from click.testing import CliRunner

from conftest import sheet_rows, write_sheet
from syncer import mapping
from syncer.cli import cli
from syncer.hubspot import HubSpotClient
from syncer.sandbox import Sandbox

ROWS = [
    {"Hull ID": f"H-{i:03d}", "Name": name, "Length (m)": length, "Built": built, "Status": status,
     "Extras": extras}
    for i, (name, length, built, status, extras) in enumerate([
        ("Aurora", "7.5", "01/05/2019", "Docked", "Radar;Winch"), ("Bora", "12", "15/01/2020", "Sailing", "Radar"),
        ("Cirrus", "9.25", "03/03/2021", "Docked", ""), ("Delta", "7.5", "01/05/2019", "Docked", "Winch"),
        ("Eos", "10", "20/06/2022", "Sailing", "Radar;Winch"), ("Fram", "8", "02/02/2018", "Docked", "Winch"),
        ("Gale", "11.5", "30/09/2023", "Repair", "Radar"), ("Helix", "6.8", "14/07/2017", "Docked", "")], start=1)]


@pytest.fixture
def boats(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_sheet(tmp_path / "boats.csv", ROWS)
    return tmp_path


def run(sandbox, *args, token=None):
    return CliRunner().invoke(cli, [*args, "--base-url", sandbox.base_url, "--token", token or sandbox.token])


def definition_writes(sandbox) -> list[str]:
    return [f"{e.method} {e.path}" for e in sandbox.request_log
            if e.method != "GET" and ("/schemas" in e.path or "/properties/" in e.path or e.path.endswith("/labels"))]


def test_a_sheet_becomes_a_custom_object_and_its_first_push_in_two_commands(sandbox, boats):
    created = run(sandbox, "init", "boats.csv", "--create-object", "boats", "-o", "boats.yaml", "--yes")
    assert created.exit_code == 0, created.output
    assert "create the custom object boats (Boat / Boats), matched by hull_id" in created.output
    assert "new property built (column \"Built\"): date, format %d/%m/%Y" in created.output
    assert "POST /crm/v3/schemas  {" in created.output and "done    POST /crm/v3/schemas" in created.output
    written = mapping.load(boats / "boats.yaml")
    assert (written.object, written.id_property, written.portal) == ("boats", "hull_id", str(sandbox.portal_id))
    assert written.columns["Built"].format == "%d/%m/%Y" and written.columns["Extras"].property == "extras"
    pushed = run(sandbox, "push", "boats.yaml", "--yes")
    assert pushed.exit_code == 0, pushed.output
    assert "created 8" in pushed.output
    with HubSpotClient(sandbox.base_url, sandbox.token) as client:
        properties = {p["name"]: p for p in client.properties("boats")}
        assert properties["hull_id"]["hasUniqueValue"] is True
        assert (properties["status"]["fieldType"], properties["extras"]["fieldType"]) == ("select", "checkbox")
        record = client.batch_read("boats", ["H-001"], id_property="hull_id",
                                   properties=["built", "length_m", "status", "extras", "name"])["H-001"]
    assert record.properties.items() >= {"built": "2019-05-01", "length_m": "7.5", "status": "docked",
                                         "extras": "radar;winch", "name": "Aurora"}.items()
    again = run(sandbox, "push", "boats.yaml", "--yes")
    assert "unchanged 8" in again.output


def test_a_new_column_and_a_new_option_are_planned_then_applied(sandbox, boats):
    assert run(sandbox, "init", "boats.csv", "--create-object", "boats", "-o", "boats.yaml", "--yes").exit_code == 0
    rows = sheet_rows(boats / "boats.csv")
    for i, row in enumerate(rows):
        row["Engine"] = ["Diesel", "Electric", "Petrol"][i % 3]
    rows[0]["Status"], rows[1]["Extras"] = "Chartered", "Radar;Sonar"
    write_sheet(boats / "boats.csv", rows)
    refused = run(sandbox, "push", "boats.yaml", "--yes")
    assert refused.exit_code == 1 and "Chartered" in refused.output  # a row error, nothing of it sent
    text = (boats / "boats.yaml").read_text().replace("  Extras:", "  Engine: engine\n  Extras:")
    (boats / "boats.yaml").write_text(text)
    sandbox.clear_log()
    planned = run(sandbox, "schema", "plan", "boats.yaml")
    assert planned.exit_code == 0, planned.output
    assert definition_writes(sandbox) == []  # a dry run sends nothing
    assert 'new property engine (column "Engine"): enumeration (select), 3 options: Diesel, Electric, Petrol' \
        in planned.output
    assert 'add options for status (column "Status"): 1 new: Chartered' in planned.output
    assert 'add options for extras (column "Extras"): 1 new: Sonar' in planned.output
    type_id = json.loads(run(sandbox, "schema", "plan", "boats.yaml", "--json").output)["object"]["object_type_id"]
    assert f"POST /crm/v3/properties/{type_id}/batch/create" in planned.output
    assert f"PATCH /crm/v3/properties/{type_id}/status" in planned.output
    applied = run(sandbox, "schema", "apply", "boats.yaml", "--yes")
    assert applied.exit_code == 0, applied.output
    assert definition_writes(sandbox) == [f"POST /crm/v3/properties/{type_id}/batch/create",
                                          f"PATCH /crm/v3/properties/{type_id}/status",
                                          f"PATCH /crm/v3/properties/{type_id}/extras"]
    with HubSpotClient(sandbox.base_url, sandbox.token) as client:
        status = next(p for p in client.properties("boats") if p["name"] == "status")
    assert [o["label"] for o in status["options"]] == ["Docked", "Repair", "Sailing", "Chartered"]  # none lost
    pushed = run(sandbox, "push", "boats.yaml", "--yes")
    # the two rows refused before are created now; the others gain their engine
    assert pushed.exit_code == 0 and "create 2  update 6  unchanged 0  archive 0  skip 0  error 0" in pushed.output
    assert run(sandbox, "schema", "plan", "boats.yaml").output.count("Nothing to change") == 1


def test_a_mapping_for_an_object_the_portal_lacks_plans_the_object(sandbox, boats):
    (boats / "fleet.yaml").write_text(yaml.safe_dump({
        "object": "fleet", "id_property": "hull", "source": "boats.csv",
        "columns": {"Hull ID": "hull", "Name": "title", "Built": {"property": "built", "format": "%d/%m/%Y"},
                    "Status": {"property": "state", "values": {"Docked": "in_port"}}}}))
    plan = run(sandbox, "schema", "plan", "fleet.yaml", "--json")
    assert plan.exit_code == 0, plan.output
    body = json.loads(plan.output)["calls"][0]["body"]
    assert body["requiredProperties"] == ["hull"] and body["primaryDisplayProperty"] == "title"
    state = next(p for p in body["properties"] if p["name"] == "state")
    assert [(o["label"], o["value"]) for o in state["options"]] == [("Docked", "in_port"), ("Repair", "repair"),
                                                                    ("Sailing", "sailing")]
    assert run(sandbox, "schema", "apply", "fleet.yaml", "--yes").exit_code == 0
    assert run(sandbox, "push", "fleet.yaml", "--yes").exit_code == 0


def test_nothing_is_sent_without_yes_or_a_terminal_and_a_no_cancels(sandbox, boats):
    refused = run(sandbox, "init", "boats.csv", "--create-object", "boats")
    assert refused.exit_code == 2 and "pass --yes to apply it" in refused.output
    assert definition_writes(sandbox) == []
    assert run(sandbox, "schema", "apply", "boats.csv", "--create-object", "boats").exit_code == 2
    assert definition_writes(sandbox) == []
    usage = run(sandbox, "init", "boats.csv")
    assert usage.exit_code == 2 and "give --object NAME" in usage.output
    existing = run(sandbox, "init", "boats.csv", "--create-object", "cars", "--yes")
    assert existing.exit_code == 2 and 'the portal already has an object "cars"' in existing.output


def test_a_saved_schema_plan_is_applied_exactly_and_refused_once_stale_or_edited(sandbox, boats):
    assert run(sandbox, "schema", "plan", "boats.csv", "--create-object", "boats", "-o", "plan.json").exit_code == 0
    document = json.loads((boats / "plan.json").read_text())
    edited = dict(document, object=dict(document["object"], name="ships"))
    (boats / "edited.json").write_text(json.dumps(edited))
    tampered = run(sandbox, "schema", "apply", "edited.json", "--yes")
    assert tampered.exit_code == 2 and "changed after it was made" in tampered.output
    applied = run(sandbox, "schema", "apply", "plan.json", "--yes", "--json")
    assert applied.exit_code == 0, applied.output
    result = json.loads(applied.stdout)
    assert result["command"] == "schema apply" and result["results"]["ok"] is True
    assert result["results"]["object_type_id"].startswith("2-")
    stale = run(sandbox, "schema", "apply", "plan.json", "--yes")
    assert stale.exit_code == 2 and 'the object "boats" exists now' in stale.output and "plan again" in stale.output
    with Sandbox() as other:
        elsewhere = run(other, "schema", "apply", "plan.json", "--yes")
    assert elsewhere.exit_code == 3 and f"pinned to portal {sandbox.portal_id}" in elsewhere.output


def test_an_existing_property_keeps_its_type_and_a_non_unique_id_is_refused(sandbox, project, monkeypatch):
    monkeypatch.chdir(project)
    sheet = project / "sample_data" / "cars.csv"
    rows = sheet_rows(sheet)[:20]
    rows[3]["Year"] = "twenty"
    write_sheet(sheet, rows)
    text = (project / "mappings" / "cars.yaml").read_text().replace("cars.xlsx", "cars.csv").replace("sheet: Inventory\n", "")
    (project / "mappings" / "cars.yaml").write_text(text)
    planned = run(sandbox, "schema", "plan", "mappings/cars.yaml")
    assert planned.exit_code == 0, planned.output
    assert 'note: column "Year": 1 cell(s) do not fit year (number); its type stays as it is' in planned.output
    assert 'note: column "Notes" is not in the mapping: add `Notes: notes`' in planned.output
    assert "API calls" not in planned.output
    (project / "mappings" / "cars.yaml").write_text(text.replace("id_property: vin", "id_property: make"))
    refused = run(sandbox, "schema", "plan", "mappings/cars.yaml")
    assert refused.exit_code == 2 and "make exists on cars but is not unique" in refused.output


def test_schema_writes_need_the_schemas_write_scope_and_info_says_the_token_lacks_it(boats):
    scopes = {"crm.objects.custom.read", "crm.objects.custom.write", "crm.schemas.custom.read",
              "crm.objects.contacts.read"}
    with Sandbox(extra_tokens={"limited": scopes}) as portal:
        refused = run(portal, "init", "boats.csv", "--create-object", "boats", "--yes", token="limited")
        assert refused.exit_code == 3
        assert "Grant crm.schemas.custom.write" in refused.output
        info = run(portal, "info", token="limited")
    assert info.exit_code == 0, info.output
    assert "schema apply, init --create-object     crm.schemas.<object>.write" in info.output
    assert "crm.schemas.custom.write  for schema apply, init --create-object on custom" in info.output
    assert "for push, apply, sync on custom" not in info.output


def test_an_association_label_the_mapping_names_is_planned_and_then_links(sandbox, project, monkeypatch):
    monkeypatch.chdir(project)
    assert run(sandbox, "schema", "apply", "mappings/companies.yaml", "--yes").exit_code == 0
    assert run(sandbox, "push", "mappings/companies.yaml", "--yes").exit_code == 0
    path = project / "mappings" / "contacts.yaml"
    path.write_text(path.read_text().replace("    match: company_number\n",
                                             "    match: company_number\n    label: billing_contact\n"))
    refused = run(sandbox, "plan", "mappings/contacts.yaml")
    assert refused.exit_code == 2 and "billing_contact" in refused.output
    planned = run(sandbox, "schema", "plan", "mappings/contacts.yaml")
    assert 'new association label Billing contact (column "Company number")' in planned.output
    assert 'POST /crm/v4/associations/0-1/0-2/labels  {"label":"Billing contact","name":"billing_contact"}' \
        in planned.output
    assert run(sandbox, "schema", "apply", "mappings/contacts.yaml", "--yes").exit_code == 0
    pushed = run(sandbox, "push", "mappings/contacts.yaml", "--yes")
    assert pushed.exit_code == 0, pushed.output
    with HubSpotClient(sandbox.base_url, sandbox.token) as client:
        alice = client.batch_read("contacts", ["alice.martin@example.com"], id_property="email")
        (link,) = client.batch_read_associations("contacts", "companies", [alice["alice.martin@example.com"].id])[
            alice["alice.martin@example.com"].id]
    assert link.labels == ["Billing contact"]
