"""Each sandbox is a portal of its own: its id (HubSpot's portalId), kept in its store, and the
account details endpoint that reports it."""

from __future__ import annotations

import sqlite3

import pytest
import requests

from syncer.sandbox import Sandbox
from test_sandbox_support import CARS

DETAILS = "/account-info/v3/details"


def get(portal: Sandbox, path: str, token: str | None = None) -> requests.Response:
    return requests.get(portal.base_url + path, headers={"Authorization": f"Bearer {token or portal.token}"},
                        timeout=10)


def post(portal: Sandbox, path: str, body: dict) -> requests.Response:
    return requests.post(portal.base_url + path, json=body, headers={"Authorization": f"Bearer {portal.token}"},
                         timeout=10)


def custom_names(portal: Sandbox) -> list[str]:
    response = get(portal, "/crm/v3/schemas")
    assert response.status_code == 200
    return [schema["fullyQualifiedName"] for schema in response.json()["results"]]


# --- account details ------------------------------------------------------------------------------

@pytest.mark.parametrize("path", [DETAILS, "/account-info/2026-03/details"])
def test_account_details(sandbox, path):
    response = get(sandbox, path)
    assert response.status_code == 200
    assert response.json() == {
        "portalId": sandbox.portal_id, "accountType": "DEVELOPER_TEST", "timeZone": "UTC",
        "companyCurrency": "USD", "additionalCurrencies": [], "utcOffset": "+00:00", "utcOffsetMilliseconds": 0,
        "uiDomain": "app.hubspot.com", "dataHostingLocation": "na1"}
    assert isinstance(sandbox.portal_id, int) and 10_000_000 <= sandbox.portal_id <= 99_999_999


def test_any_valid_token_may_ask_and_a_wrong_one_is_401():
    with Sandbox(extra_tokens={"no-crm-scopes": set()}) as portal:
        assert get(portal, CARS, "no-crm-scopes").status_code == 403
        details = get(portal, DETAILS, "no-crm-scopes")
        assert details.status_code == 200 and details.json()["portalId"] == portal.portal_id
        for refused in (get(portal, DETAILS, "wrong"), requests.get(portal.base_url + DETAILS, timeout=10)):
            assert refused.status_code == 401
            assert refused.json()["category"] == "INVALID_AUTHENTICATION"


def test_details_count_against_the_rate_limit():
    with Sandbox(rate_limit=2) as portal:
        answers = [get(portal, DETAILS) for _ in range(3)]
        assert [a.status_code for a in answers] == [200, 200, 429]
        assert answers[2].json()["groupName"] == f"publicapi:hapikey-api-calls-ten-secondly:{portal.portal_id}"


# --- the portal's id ------------------------------------------------------------------------------

def test_two_fresh_sandboxes_are_different_portals():
    with Sandbox() as first, Sandbox() as second:
        assert first.portal_id != second.portal_id
        assert get(first, DETAILS).json()["portalId"] == first.portal_id
        assert get(second, DETAILS).json()["portalId"] == second.portal_id
        assert custom_names(first) == [f"p{first.portal_id}_cars"]
        assert custom_names(second) == [f"p{second.portal_id}_cars"]


def test_the_id_shows_wherever_hubspot_shows_it(sandbox):
    assert get(sandbox, f"/crm/v3/objects/p{sandbox.portal_id}_cars").status_code == 200
    created = post(sandbox, CARS, {"properties": {"vin": "V1"}}).json()
    assert created["url"] == f"https://app.hubspot.com/contacts/{sandbox.portal_id}/record/2-3465404/{created['id']}"
    bad = post(sandbox, CARS, {"properties": {"price": "cheap"}}).json()
    assert f'"portalId":{sandbox.portal_id}' in bad["message"]
    by_make = get(sandbox, f"{CARS}/Ford?idProperty=make").json()
    assert by_make["message"].endswith(f"in portal ID {sandbox.portal_id}")


def test_a_db_file_keeps_its_id_and_its_custom_objects_names(tmp_path):
    db = tmp_path / "portal.sqlite"
    with Sandbox(db_path=db) as portal:
        first = portal.portal_id
        boats = post(portal, "/crm/v3/schemas", {
            "name": "boats", "labels": {"singular": "Boat", "plural": "Boats"},
            "properties": [{"name": "hull_id", "label": "Hull", "type": "string", "fieldType": "text"}]})
        assert boats.status_code == 201 and boats.json()["fullyQualifiedName"] == f"p{first}_boats"
    with Sandbox(db_path=db) as portal:
        assert portal.portal_id == first
        assert get(portal, DETAILS).json()["portalId"] == first
        assert custom_names(portal) == [f"p{first}_cars", f"p{first}_boats"]
        assert get(portal, f"/crm/v3/objects/p{first}_boats").status_code == 200


def test_portal_id_is_honoured_and_a_file_of_another_portal_refuses_it(tmp_path):
    with Sandbox(portal_id=12_345_678) as portal:
        assert portal.portal_id == 12_345_678 and get(portal, DETAILS).json()["portalId"] == 12_345_678
        assert custom_names(portal) == ["p12345678_cars"]
    db = tmp_path / "portal.sqlite"
    with Sandbox(db_path=db, portal_id=23_456_789):
        pass
    with Sandbox(db_path=db, portal_id=23_456_789) as portal:  # its own id is welcome
        assert portal.portal_id == 23_456_789
    refused = Sandbox(db_path=db, portal_id=34_567_890)
    with pytest.raises(ValueError, match=f"{db} is portal 23456789, not portal 34567890"):
        refused.start()
    with Sandbox(db_path=db) as portal:  # nothing written by the refused start
        assert portal.portal_id == 23_456_789


def test_a_file_from_before_portal_ids_stays_portal_8470001(tmp_path):
    db = tmp_path / "old.sqlite"
    with Sandbox(db_path=db):
        pass
    with sqlite3.connect(db) as old:  # what an older version left: definitions and seed, no id
        old.execute("DELETE FROM meta WHERE key = 'portal_id'")
    old.close()
    with pytest.raises(ValueError, match="is portal 8470001, not portal 12345678"):
        Sandbox(db_path=db, portal_id=12_345_678).start()
    with Sandbox(db_path=db) as portal:
        assert portal.portal_id == 8470001 and custom_names(portal) == ["p8470001_cars"]
    with sqlite3.connect(db) as reopened:
        assert reopened.execute("SELECT value FROM meta WHERE key = 'portal_id'").fetchone() == ("8470001",)
    reopened.close()
    with Sandbox(db_path=db, portal_id=8470001) as portal:
        assert get(portal, DETAILS).json()["portalId"] == 8470001
