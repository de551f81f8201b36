"""POST .../search: operators, case rules, sorts, query, paging and the limits (reference §11)."""

from __future__ import annotations

import pytest

from syncer.sandbox import Sandbox
from test_sandbox_support import CARS, CONTACTS, Client

FLEET = [
    {"vin": "A1", "make": "Ford", "model": "Focus", "year": "2019", "price": "12000", "color": "red",
     "features": "sunroof;navigation", "listing_date": "2026-01-10", "owner": "alice@hubspot.com"},
    {"vin": "B2", "make": "ford", "model": "Fiesta", "year": "2021", "price": "15500.5", "color": "blue",
     "features": "bluetooth", "listing_date": "2026-02-01", "owner": "bruno@example.com"},
    {"vin": "C3", "make": "Audi", "model": "A4 Avant", "year": "2023", "price": "41000", "color": "black",
     "listing_date": "2026-03-15"},
    {"vin": "D4", "make": "Kia", "year": "2018", "price": "9000"},
]


@pytest.fixture(scope="module")
def fleet():
    """One portal with four cars, shared by the read-only search tests of this module."""
    with Sandbox(search_rate_limit=1000, rate_limit=100_000, ordered_results=True) as portal:
        client = Client(portal)
        created = client.post(f"{CARS}/batch/create", {"inputs": [{"properties": p} for p in FLEET]}).json()
        client.ids = {r["properties"]["vin"]: r["id"] for r in created["results"]}
        yield client
        client.close()


def vins(client, *filters, groups=None, **body) -> list[str]:
    request = {"filterGroups": groups or [{"filters": list(filters)}], "properties": ["vin"], "limit": 200, **body}
    response = client.post(f"{CARS}/search", request)
    assert response.status_code == 200, response.text
    assert "X-HubSpot-RateLimit-Max" not in response.headers  # search answers carry no rate headers
    return [r["properties"]["vin"] for r in response.json()["results"]]


def f(name, operator, value=None, **extra) -> dict:
    return {"propertyName": name, "operator": operator, **({"value": value} if value is not None else {}), **extra}


CASES = [
    ("EQ string case-insensitive", [f("make", "EQ", "FORD")], ["A1", "B2"]),
    ("NEQ includes unset", [f("make", "NEQ", "ford")], ["C3", "D4"]),
    ("EQ enumeration case-sensitive", [f("color", "EQ", "RED")], []),
    ("EQ enumeration", [f("color", "EQ", "red")], ["A1"]),
    ("EQ number normalised", [f("price", "EQ", "12000.00")], ["A1"]),
    ("LT number", [f("price", "LT", "12000")], ["D4"]),
    ("LTE number", [f("price", "LTE", "12000")], ["A1", "D4"]),
    ("GT number", [f("year", "GT", "2019")], ["B2", "C3"]),
    ("GTE number", [f("year", "GTE", "2021")], ["B2", "C3"]),
    ("BETWEEN inclusive", [f("price", "BETWEEN", "12000", highValue="41000")], ["A1", "B2", "C3"]),
    ("IN enumeration", [f("color", "IN", values=["red", "black"])], ["A1", "C3"]),
    ("IN string needs lower case", [f("make", "IN", values=["Ford", "audi"])], ["C3"]),
    ("NOT_IN", [f("color", "NOT_IN", values=["red"])], ["B2", "C3", "D4"]),
    ("HAS_PROPERTY", [f("color", "HAS_PROPERTY")], ["A1", "B2", "C3"]),
    ("NOT_HAS_PROPERTY", [f("color", "NOT_HAS_PROPERTY")], ["D4"]),
    ("CONTAINS_TOKEN word", [f("model", "CONTAINS_TOKEN", "avant")], ["C3"]),
    ("CONTAINS_TOKEN wildcard", [f("owner", "CONTAINS_TOKEN", "*@hubspot.com")], ["A1"]),
    ("NOT_CONTAINS_TOKEN", [f("owner", "NOT_CONTAINS_TOKEN", "*@hubspot.com")], ["B2", "C3", "D4"]),
    ("multi-select EQ is one of", [f("features", "EQ", "navigation")], ["A1"]),
    ("date by ISO", [f("listing_date", "GTE", "2026-02-01")], ["B2", "C3"]),
    ("date by epoch ms", [f("listing_date", "LT", "1769904000000")], ["A1"]),
    ("AND within a group", [f("make", "EQ", "ford"), f("year", "GT", "2020")], ["B2"]),
]


@pytest.mark.parametrize("filters, expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_operators(fleet, filters, expected):
    assert vins(fleet, *filters) == expected


def test_filter_groups_are_ored(fleet):
    groups = [{"filters": [f("make", "EQ", "kia")]}, {"filters": [f("color", "EQ", "black")]}]
    assert vins(fleet, groups=groups) == ["C3", "D4"]


def test_system_properties_filter_and_sort(fleet):
    ids = sorted(fleet.ids.values(), key=int)
    assert vins(fleet, f("hs_object_id", "GTE", ids[2])) == ["C3", "D4"]
    assert vins(fleet, f("hs_object_id", "BETWEEN", ids[1], highValue=ids[2])) == ["B2", "C3"]
    for vin in ("B2", "D4", "A1"):  # identical writes still move hs_lastmodifieddate
        fleet.patch(f"{CARS}/{vin}", {"properties": {"vin": vin}}, params={"idProperty": "vin"})
    newest_first = [{"propertyName": "hs_lastmodifieddate", "direction": "DESCENDING"}]
    assert vins(fleet, f("hs_lastmodifieddate", "GT", "0"), sorts=newest_first) == ["A1", "D4", "B2", "C3"]
    stamp = fleet.get(f"{CARS}/B2", params={"idProperty": "vin"}).json()["updatedAt"]
    assert vins(fleet, f("hs_lastmodifieddate", "GT", stamp)) == ["A1", "D4"]


def test_sorts(fleet):
    by_price = vins(fleet, sorts=[{"propertyName": "price", "direction": "DESCENDING"}], filterGroups=[])
    assert by_price == ["C3", "B2", "A1", "D4"]
    by_color = vins(fleet, sorts=[{"propertyName": "color", "direction": "ASCENDING"}], filterGroups=[])
    assert by_color == ["C3", "B2", "A1", "D4"]  # unset last
    ignored = vins(fleet, sorts=['{"propertyName":"price"}'], filterGroups=[])  # strings are ignored
    assert ignored == ["A1", "B2", "C3", "D4"]


def test_query_matches_searchable_properties(fleet):
    assert vins(fleet, query="fies", filterGroups=[]) == ["B2"]
    assert vins(fleet, query="ford focus", filterGroups=[]) == ["A1"]


def test_paging_total_and_last_page(fleet):
    first = fleet.post(f"{CARS}/search", {"limit": 3}).json()
    assert first["total"] == 4 and len(first["results"]) == 3 and first["paging"]["next"]["after"] == "3"
    last = fleet.post(f"{CARS}/search", {"limit": 3, "after": "3"}).json()
    assert len(last["results"]) == 1 and "paging" not in last
    assert len(fleet.post(f"{CARS}/search", {}).json()["results"]) == 4  # default limit 10


def test_results_carry_defaults_and_requested_properties(fleet):
    result = fleet.post(f"{CARS}/search", {"properties": ["make", "nope"], "limit": 1}).json()["results"][0]
    assert set(result["properties"]) == {"hs_createdate", "hs_lastmodifieddate", "hs_object_id", "make"}
    assert result["archived"] is False


REFUSED = [
    ("limit above 200", {"limit": 201}, "limit must be between 0 and 200"),
    ("beyond 10,000", {"limit": 100, "after": "9950"}, "Paging beyond 10000 results"),
    ("unknown operator", {"filterGroups": [{"filters": [f("make", "LIKE", "x")]}]}, "Invalid operator"),
    ("unknown property", {"filterGroups": [{"filters": [f("colour", "EQ", "x")]}]}, "Property 'colour'"),
    ("too many groups", {"filterGroups": [{"filters": [f("make", "EQ", "x")]}] * 6}, "Too many filter groups"),
    ("too many filters", {"filterGroups": [{"filters": [f("make", "EQ", "x")] * 7}]}, "Too many filters"),
    ("two sorts", {"sorts": [{"propertyName": "make"}, {"propertyName": "year"}]}, "Only 1 sort rule"),
    ("bad number", {"filterGroups": [{"filters": [f("price", "GT", "cheap")]}]}, "cheap is not a valid number"),
    ("IN without values", {"filterGroups": [{"filters": [f("make", "IN", "x")]}]}, "needs `values`"),
]


@pytest.mark.parametrize("body, message", [c[1:] for c in REFUSED], ids=[c[0] for c in REFUSED])
def test_refused_searches_are_400(fleet, body, message):
    response = fleet.post(f"{CARS}/search", body)
    assert response.status_code == 400
    assert response.json()["category"] == "VALIDATION_ERROR"
    assert message in response.json()["message"]


def test_the_last_reachable_page_is_allowed(fleet):
    response = fleet.post(f"{CARS}/search", {"limit": 100, "after": "9900"})
    assert response.status_code == 200 and response.json() == {"total": 4, "results": []}


def test_body_over_3000_characters_is_400(fleet):
    big = {"filterGroups": [{"filters": [f("vin", "IN", values=[f"VIN{i:05d}" for i in range(400)])]}]}
    assert fleet.post(f"{CARS}/search", big).status_code == 400


def test_archived_records_never_match(sandbox):
    client = Client(sandbox)
    created = client.create_car(vin="Z9")
    client.delete(f"{CARS}/{created['id']}")
    assert client.post(f"{CARS}/search", {}).json()["total"] == 0
    contacts = client.post(f"{CONTACTS}/search", {"filterGroups": [{"filters": [
        f("email", "CONTAINS_TOKEN", "*@example.com")]}]}).json()
    assert contacts["total"] == 20
    client.close()
