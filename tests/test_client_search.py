"""Search pages past HubSpot's 10,000-result ceiling by windowing, without losing or repeating a record.

One test runs the whole way over HTTP against a sandbox holding 10,250 records. The windowing rules
(ties on hs_lastmodifieddate, both ways a portal may end paging at the ceiling, sorts that cannot
be windowed) are checked on `search.iterate` with an in-memory portal that answers search bodies.
"""

from __future__ import annotations

import pytest

from syncer.hubspot import HubSpotClient, search
from syncer.hubspot.errors import ValidationError

from tests.test_client_calls import cars

TOTAL = 10_250


@pytest.mark.slow  # 10,250 records, 52 search pages
def test_search_over_http_reaches_past_ten_thousand():
    from syncer.sandbox import Sandbox

    with Sandbox(rate_limit=10_000, search_rate_limit=1_000) as portal:
        with HubSpotClient(portal.base_url, portal.token, search_rate_limit=(1_000, 1_000)) as client:
            assert all(o.ok for o in client.batch_upsert("cars", cars(TOTAL), id_property="vin"))
            portal.clear_log()
            found = list(client.search("cars", properties=["vin"]))
        statuses = [entry.status for entry in portal.request_log]
    vins = [r.properties["vin"] for r in found]
    assert len(vins) == TOTAL and set(vins) == {f"VIN{n:06d}" for n in range(TOTAL)}
    assert set(statuses) == {200} and len(statuses) == 52  # 50 pages, then a second window of 2


def memory_portal(records: list[dict], *, next_past_ceiling: bool):
    """A `post` for search.iterate: HubSpot's search paging over `records`, refusing after+limit > 10,000."""
    values = {name: {r["id"]: int(r["id"]) if name == "hs_object_id" else
                     search.epoch_ms(r["properties"][name]) for r in records}
              for name in search.WINDOW_KEYS}

    ordered = {(name, direction): sorted(records, key=lambda r: (key[r["id"]], int(r["id"])),
                                         reverse=direction == "DESCENDING")
               for name, key in values.items() for direction in ("ASCENDING", "DESCENDING")}

    def post(body: dict) -> dict:
        rule = body["sorts"][0]
        rows = ordered[(rule["propertyName"], rule["direction"])]
        for group in body["filterGroups"]:
            for f in group["filters"]:
                at_least = int(f["value"]) + (1 if f["operator"] == "GT" else 0)
                rows = [r for r in rows if values[f["propertyName"]][r["id"]] >= at_least]
        after, limit = int(body["after"]), body["limit"]
        assert after + limit <= search.REACHABLE, "HubSpot answers 400 past the ceiling"
        page = {"total": len(rows), "results": rows[after:after + limit]}
        reached = after + len(page["results"])
        if reached < len(rows) and (next_past_ceiling or reached < search.REACHABLE):
            page["paging"] = {"next": {"after": str(reached)}}
        return page
    return post


def records_with_shared_timestamps(count: int, instants: int) -> list[dict]:
    """`count` records whose hs_lastmodifieddate takes only `instants` values: many ties per value."""
    return [{"id": str(1000 + n), "properties": {
        "hs_lastmodifieddate": f"2026-01-01T00:00:{n % instants:02d}.000Z"}} for n in range(count)]


@pytest.mark.parametrize("next_past_ceiling", [True, False], ids=["next-past-ceiling", "no-next-at-ceiling"])
@pytest.mark.parametrize("sorts", [(), ["hs_lastmodifieddate"]], ids=["by-object-id", "by-last-modified"])
def test_windows_yield_every_record_once(sorts, next_past_ceiling):
    records = records_with_shared_timestamps(20_300, instants=7)
    found = list(search.iterate(memory_portal(records, next_past_ceiling=next_past_ceiling),
                                filter_groups=[], sorts=sorts, properties=[], query=None))
    ids = [r.id for r in found]
    assert len(ids) == len(records) and set(ids) == {r["id"] for r in records}


def test_more_ties_than_one_window_holds_is_refused():
    records = records_with_shared_timestamps(10_300, instants=1)
    with pytest.raises(ValidationError, match="more than 10000 records share hs_lastmodifieddate"):
        list(search.iterate(memory_portal(records, next_past_ceiling=True), filter_groups=[],
                            sorts=["hs_lastmodifieddate"], properties=[], query=None))


def test_a_sort_that_cannot_be_windowed_is_refused_at_the_ceiling():
    records = records_with_shared_timestamps(10_300, instants=50)
    with pytest.raises(ValidationError, match="only a search sorted ascending on hs_object_id"):
        list(search.iterate(memory_portal(records, next_past_ceiling=False), filter_groups=[],
                            sorts=["-hs_lastmodifieddate"], properties=[], query=None))


def test_hubspot_times_read_as_exact_epoch_milliseconds():
    from syncer.hubspot.models import epoch_ms

    assert epoch_ms("1764496800123") == 1764496800123
    assert epoch_ms("2025-11-30T10:00:00.123Z") == 1764496800123
    assert epoch_ms("2025-11-30T11:00:00.123+01:00") == 1764496800123
    assert epoch_ms("2025-11-30T10:00:00.123") == 1764496800123  # no zone: UTC, whatever the machine's
    # every millisecond of a second, where a float product can land one below
    assert [epoch_ms(f"2025-11-30T10:00:00.{n:03d}Z") % 1000 for n in range(1000)] == list(range(1000))
