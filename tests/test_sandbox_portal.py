"""Authentication, scopes, rate limits, faults, the request log, definitions, persistence and the CLI."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys

import pytest
import requests
from click.testing import CliRunner

from syncer.cli import cli
from syncer.sandbox import FaultSpecError, Sandbox
from test_sandbox_support import CARS, CONTACTS, Client


@pytest.fixture
def hs(sandbox):
    """A checking client of the `sandbox` portal."""
    client = Client(sandbox)
    yield client
    client.close()


# --- authentication and scopes (§12) --------------------------------------------------------------

@pytest.mark.parametrize("header", [None, "Bearer wrong", "sandbox", "Basic c2FuZGJveA=="])
def test_requests_without_the_token_are_401(sandbox, header):
    response = requests.get(sandbox.base_url + CARS, headers={"Authorization": header} if header else {})
    assert response.status_code == 401
    body = response.json()
    assert body["category"] == "INVALID_AUTHENTICATION" and body["status"] == "error" and body["correlationId"]
    assert body["message"].startswith("Authentication credentials not found.")


def test_a_token_without_the_scope_is_403_missing_scopes():
    with Sandbox(extra_tokens={"reader": {"crm.objects.custom.read"}}) as portal:
        reader = Client(portal, token="reader")
        assert reader.get(CARS).status_code == 200
        refused = reader.post(CARS, {"properties": {"vin": "V1"}})
        assert refused.status_code == 403
        body = refused.json()
        assert body["category"] == "MISSING_SCOPES"
        assert body["errors"][0]["context"]["requiredGranularScopes"] == ["crm.objects.custom.write"]
        assert body["links"] == {"scopes": "https://developers.hubspot.com/scopes"}
        assert reader.get(CONTACTS).status_code == 403  # contacts need crm.objects.contacts.read
        reader.close()


# --- rate limits (§6) ------------------------------------------------------------------------------

def test_ten_secondly_window_headers_and_429():
    with Sandbox(rate_limit=5) as portal:
        client = Client(portal)
        remaining = []
        for _ in range(5):
            response = client.get(CARS)
            assert response.headers["X-HubSpot-RateLimit-Max"] == "5"
            assert response.headers["X-HubSpot-RateLimit-Interval-Milliseconds"] == "10000"
            assert int(response.headers["X-HubSpot-RateLimit-Daily-Remaining"]) < 1_000_000
            remaining.append(int(response.headers["X-HubSpot-RateLimit-Remaining"]))
        assert remaining == [4, 3, 2, 1, 0]
        refused = client.get(CARS)
        assert refused.status_code == 429 and "Retry-After" not in refused.headers
        body = refused.json()
        assert body["policyName"] == "TEN_SECONDLY_ROLLING"
        assert body["message"] == "You have reached your ten_secondly_rolling limit."
        assert [e.status for e in portal.request_log][-1] == 429
        portal.set_rate_limit(100)
        assert client.get(CARS).status_code == 200
        client.close()


def test_search_has_its_own_per_second_limit():
    with Sandbox(search_rate_limit=2) as portal:
        client = Client(portal)
        statuses = [client.post(f"{CARS}/search", {}).status_code for _ in range(3)]
        assert statuses == [200, 200, 429]
        refused = client.post(f"{CARS}/search", {})
        assert refused.json()["message"] == "You have reached your secondly limit."
        assert refused.json()["policyName"] == "SECONDLY"
        assert client.get(CARS).status_code == 200  # other endpoints are not held back
        client.close()


# --- faults ----------------------------------------------------------------------------------------

def test_bad_fault_specs_are_refused(sandbox):
    for spec in ("418:0.1", "503", "503:lots", "503:0.7,429:0.7"):
        with pytest.raises(FaultSpecError):
            sandbox.set_faults(spec)


def test_faults_strike_the_share_asked_and_some_after_the_write():
    with Sandbox(faults="503:1", fault_seed=3) as portal:
        client = Client(portal)
        statuses = [client.post(CARS, {"properties": {"vin": f"V{i}"}}).status_code for i in range(30)]
        assert statuses == [503] * 30
        applied = {e.body["properties"]["vin"] for e in portal.request_log if e.applied}
        assert 5 < len(applied) < 25  # about half of faulted writes went through
        portal.set_faults("")
        stored = client.post(f"{CARS}/search", {"properties": ["vin"], "limit": 100}).json()["results"]
        assert {r["properties"]["vin"] for r in stored} == applied
        client.close()


def test_faults_are_deterministic_with_a_seed():
    def sequence() -> list[int]:
        with Sandbox(faults="429:0.2,500:0.1,502:0.1", fault_seed=42, rate_limit=1000) as portal:
            client = Client(portal)
            statuses = [client.get(CARS).status_code for _ in range(40)]
            client.close()
            return statuses

    first = sequence()
    assert first == sequence()
    assert {429, 500, 502, 200} <= set(first)


def test_a_429_fault_carries_hubspots_body(sandbox):
    client = Client(sandbox)
    sandbox.set_faults("429:1")
    response = client.get(CARS)
    assert response.status_code == 429 and response.json()["policyName"] == "TEN_SECONDLY_ROLLING"
    assert response.headers["X-HubSpot-RateLimit-Max"] == "190"
    client.close()


@pytest.mark.parametrize("code, category", [(423, "LOCKED"), (500, "INTERNAL_ERROR"), (502, "BAD_GATEWAY"),
                                            (503, "SERVICE_UNAVAILABLE"), (504, "GATEWAY_TIMEOUT")])
def test_server_error_faults(sandbox, hs, code, category):
    sandbox.set_faults(f"{code}:1")
    response = hs.post(f"{CARS}/batch/read", {"inputs": []})
    assert response.status_code == code and response.json()["category"] == category
    assert sandbox.request_log[-1].fault == str(code) and not sandbox.request_log[-1].applied


def test_slow_fault_outlasts_the_client_timeout():
    with Sandbox(faults="slow:1", slow_seconds=0.3) as portal:
        with pytest.raises(requests.exceptions.ReadTimeout):
            requests.get(portal.base_url + CARS, headers={"Authorization": "Bearer sandbox"}, timeout=0.05)


def test_drop_fault_cuts_the_connection(sandbox):
    sandbox.set_faults("drop:1", seed=1)
    session = requests.Session()
    session.headers["Authorization"] = "Bearer sandbox"
    for i in range(6):
        with pytest.raises((requests.exceptions.ConnectionError, requests.exceptions.ChunkedEncodingError)):
            session.post(sandbox.base_url + CARS, json={"properties": {"vin": f"V{i}"}}, timeout=5)
    log = sandbox.request_log
    assert [e.status for e in log] == [0] * 6 and {e.fault for e in log} == {"drop"}
    sandbox.set_faults("")
    assert session.get(sandbox.base_url + CARS, timeout=5).status_code == 200  # a new connection works
    session.close()


# --- request log ------------------------------------------------------------------------------------

def test_request_log_records_every_request(sandbox, hs):
    hs.get(CARS, params={"limit": 2})
    hs.post(f"{CARS}/search", {"limit": 1})
    requests.get(sandbox.base_url + CARS)
    log = sandbox.request_log
    assert [(e.method, e.path, e.status) for e in log] == [
        ("GET", CARS, 200), ("POST", f"{CARS}/search", 200), ("GET", CARS, 401)]
    assert log[0].query == "limit=2" and log[1].body == {"limit": 1}
    assert log[0].time <= log[1].time <= log[2].time and log[0].duration >= 0
    sandbox.clear_log()
    assert sandbox.request_log == []


# --- properties and schemas (E12-E14) -----------------------------------------------------------------

def test_seeded_cars_schema(hs, sandbox):
    schema = hs.get("/crm/v3/schemas/2-3465404").json()
    assert (schema["objectTypeId"], schema["name"], schema["fullyQualifiedName"]) == (
        "2-3465404", "cars", f"p{sandbox.portal_id}_cars")
    assert schema["labels"] == {"singular": "Car", "plural": "Cars"} and schema["primaryDisplayProperty"] == "vin"
    assert [s["objectTypeId"] for s in hs.get("/crm/v3/schemas").json()["results"]] == ["2-3465404"]
    assert hs.get(f"/crm/v3/schemas/p{sandbox.portal_id}_cars").json()["id"] == "3465404"


def test_seeded_car_properties(hs):
    properties = {p["name"]: p for p in hs.get("/crm/v3/properties/2-3465404").json()["results"]}
    assert properties["vin"]["hasUniqueValue"] is True
    assert (properties["color"]["type"], properties["color"]["fieldType"]) == ("enumeration", "select")
    assert {"label": "Dark blue", "value": "blue"}.items() <= properties["color"]["options"][1].items()
    assert properties["features"]["fieldType"] == "checkbox"
    assert (properties["available"]["type"], properties["listing_date"]["type"]) == ("bool", "date")
    assert properties["dealer_phone"]["fieldType"] == "phonenumber"
    assert properties["last_serviced_at"]["type"] == "datetime"
    for name in ("hs_object_id", "hs_createdate", "hs_lastmodifieddate"):
        assert properties[name]["modificationMetadata"]["readOnlyValue"] is True
    assert "hs_pinned_engagement_id" in properties
    contacts = {p["name"] for p in hs.get("/crm/v3/properties/contacts").json()["results"]}
    assert {"email", "firstname", "lastname"} <= contacts


def test_create_property_then_write_it(hs):
    body = {"name": "trim", "label": "Trim", "type": "enumeration", "fieldType": "radio",
            "groupName": "car_information", "options": [{"label": "Base", "value": "base"}]}
    assert hs.post("/crm/v3/properties/2-3465404", body).status_code == 201
    assert hs.post("/crm/v3/properties/2-3465404", body).status_code == 409
    assert hs.create_car(vin="V1", trim="base")["properties"]["trim"] == "base"
    bad = hs.post("/crm/v3/properties/2-3465404", dict(body, name="t2", fieldType="number"))
    assert bad.status_code == 400 and "fieldType 'number' is not valid" in bad.json()["message"]


def test_create_schema_then_use_it(hs, sandbox):
    response = hs.post("/crm/v3/schemas", {
        "name": "boats", "labels": {"singular": "Boat", "plural": "Boats"}, "primaryDisplayProperty": "hull_id",
        "requiredProperties": ["hull_id"], "associatedObjects": ["CONTACT"],
        "properties": [{"name": "hull_id", "label": "Hull", "type": "string", "fieldType": "text",
                        "hasUniqueValue": True}]})
    assert response.status_code == 201
    schema = response.json()
    assert schema["objectTypeId"].startswith("2-") and schema["fullyQualifiedName"] == f"p{sandbox.portal_id}_boats"
    path = f"/crm/v3/objects/{schema['objectTypeId']}"
    created = hs.post(f"{path}/batch/upsert", {"inputs": [{"idProperty": "hull_id", "id": "H1", "properties": {}}]})
    assert created.json()["results"][0]["new"] is True
    labels = hs.get(f"/crm/v4/associations/{schema['objectTypeId']}/contacts/labels").json()["results"]
    assert len(labels) == 1
    assert hs.post("/crm/v3/schemas", {"name": "boats", "labels": {}, "properties": []}).status_code == 409


# --- persistence and seeding -------------------------------------------------------------------------

def test_state_survives_a_restart_with_db_path(tmp_path):
    db = tmp_path / "portal.sqlite"
    with Sandbox(db_path=db) as portal:
        client = Client(portal)
        first = client.create_car(vin="V1", price="10")
        client.post("/crm/v3/properties/2-3465404", {"name": "trim", "label": "Trim", "type": "string",
                                                     "fieldType": "text", "groupName": "car_information"})
        client.close()
    with Sandbox(db_path=db) as portal:
        client = Client(portal)
        read = client.get(f"{CARS}/V1", params={"idProperty": "vin", "properties": "price"}).json()
        assert read["id"] == first["id"] and read["properties"]["price"] == "10"
        assert client.post(f"{CONTACTS}/search", {}).json()["total"] == 20  # not seeded twice
        second = client.create_car(vin="V2", trim="x")
        assert int(second["id"]) > int(first["id"]) and second["updatedAt"] > first["updatedAt"]
        client.close()


def test_no_seed_has_standard_objects_only():
    with Sandbox(seed=False) as portal:
        client = Client(portal)
        assert client.get(CARS).status_code == 404
        assert client.get(CONTACTS).json()["results"] == []
        assert client.get("/crm/v3/schemas").json()["results"] == []
        client.close()


def test_seeded_contacts(hs):
    body = hs.get(CONTACTS, params={"limit": 100}).json()
    names = [(r["properties"]["firstname"], r["properties"]["lastname"], r["properties"]["email"])
             for r in body["results"]]
    assert len(names) == 20 and names[0] == ("Alice", "Martin", "alice.martin@example.com")
    assert names[-1] == ("Tara", "Walsh", "tara.walsh@example.com")


# --- CLI ------------------------------------------------------------------------------------------

def test_cli_serve_runs_until_interrupted(tmp_path):
    command = [sys.executable, "-c", "from syncer.cli import main; main()", "sandbox", "serve", "--port", "0",
               "--db", str(tmp_path / "cli.sqlite"), "--token", "t0k3n"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        first = process.stdout.readline()
        announced, url = re.search(r"Sandbox portal (\d+) at (http://127\.0\.0\.1:\d+)", first).groups()
        assert "t0k3n" in process.stdout.readline()
        response = requests.post(url + CARS, json={"properties": {"vin": "CLI1"}},
                                 headers={"Authorization": "Bearer t0k3n"}, timeout=5)
        assert response.status_code == 201
        details = requests.get(url + "/account-info/v3/details", headers={"Authorization": "Bearer t0k3n"}, timeout=5)
        assert details.json()["portalId"] == int(announced)
    finally:
        process.send_signal(signal.SIGINT)
        try:
            _, err = process.communicate(timeout=60)  # generous: CI machines are shared and slow
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()  # reap it and close its pipes before failing
            raise
    assert process.returncode == 0 and "Traceback" not in err


def test_cli_bad_faults_is_a_usage_error():
    result = CliRunner().invoke(cli, ["sandbox", "serve", "--faults", "503:2"])
    assert result.exit_code == 2
    assert "Invalid value for '--faults'" in result.output and "Traceback" not in result.output


def test_cli_refuses_a_taken_port_and_a_bad_store(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(cli, ["sandbox", "serve", "--port", str(port)])
    assert result.exit_code == 1
    assert f"cannot serve on 127.0.0.1:{port}: Address already in use" in result.output
    result = CliRunner().invoke(cli, ["sandbox", "serve", "--port", "0", "--db", str(tmp_path / "no" / "x.db")])
    assert result.exit_code == 1 and "cannot use" in result.output and "Traceback" not in result.output
