"""HubSpot client throughput against a rate-limited sandbox portal, batched beside one request per record.

    python benchmarks/bench_client.py --rate 100 --seconds 40 --read-keys 2500 --baseline-records 300

1. Sustained throughput: batch upserts of 100 records for --seconds against a portal allowing --rate
   requests per 10 s. The steady rate (after the first window's burst) is compared with the limit;
   the target is at least 90 % of it, with zero 429s.
2. Reading N keys by idProperty costs exactly ceil(N/100) calls.
3. The same records sent batched and one request per record (single creates through the same
   limiter and retries), side by side: wall time and calls.
"""

from __future__ import annotations

import argparse
import math
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from syncer.hubspot import HubSpotClient, RequestSent  # noqa: E402
from syncer.sandbox import Sandbox  # noqa: E402

INTERVAL = 10.0


def cars(count: int, prefix: str) -> list[dict]:
    return [{"id": f"{prefix}{n:07d}", "properties": {"make": "Volvo", "year": "2020", "price": str(n)}}
            for n in range(count)]


def sustained(portal: Sandbox, rate: int, seconds: float) -> dict:
    """Batch upserts for `seconds`; the steady request rate measured after the first window."""
    answered: list[float] = []
    lock = threading.Lock()

    def note(event: object) -> None:
        if isinstance(event, RequestSent):
            with lock:
                answered.append(time.monotonic())

    portal.clear_log()
    started = time.monotonic()
    sent = 0
    with HubSpotClient(portal.base_url, portal.token, on_event=note) as client:
        client.object_type("cars")
        while time.monotonic() - started < seconds:
            chunk = cars(1000, f"S{sent:05d}-")
            outcomes = client.batch_upsert("cars", chunk, id_property="vin")
            assert all(o.ok for o in outcomes), next(o.error for o in outcomes if not o.ok)
            sent += 1
    steady = [t for t in answered if t >= started + INTERVAL]
    span = (steady[-1] - steady[0]) if len(steady) > 1 else float("nan")
    per_second = (len(steady) - 1) / span if span else float("nan")
    limit = rate / INTERVAL
    return {"requests": len(answered), "steady_per_s": per_second, "limit_per_s": limit,
            "ratio": per_second / limit, "429s": _count_429(portal), "seconds": time.monotonic() - started}


def read_cost(portal: Sandbox, keys: int) -> dict:
    with HubSpotClient(portal.base_url, portal.token) as client:
        client.object_type("cars")
        outcomes = client.batch_upsert("cars", cars(keys, "R"), id_property="vin")
        assert all(o.ok for o in outcomes)
        before = client.calls
        found = client.batch_read("cars", [f"R{n:07d}" for n in range(keys)], id_property="vin")
        return {"keys": keys, "found": len(found), "calls": client.calls - before,
                "expected": math.ceil(keys / 100)}


def batched_vs_single(portal: Sandbox, records: int) -> dict:
    with HubSpotClient(portal.base_url, portal.token) as client:
        type_id = client.object_type("cars").object_type_id
        portal.clear_log()
        started, before = time.monotonic(), client.calls
        outcomes = client.batch_upsert("cars", cars(records, "B"), id_property="vin")
        batched = (time.monotonic() - started, client.calls - before)
        assert all(o.ok for o in outcomes)
        started, before = time.monotonic(), client.calls
        for car in cars(records, "O"):  # the baseline: one create per record, same limiter and retries
            client._transport.request("POST", f"/crm/v3/objects/{type_id}",
                                      json={"properties": {"vin": car["id"], **car["properties"]}})
        single = (time.monotonic() - started, client.calls - before)
    return {"records": records, "batched_s": batched[0], "batched_calls": batched[1],
            "single_s": single[0], "single_calls": single[1], "speedup": single[0] / batched[0],
            "429s": _count_429(portal)}


def _count_429(portal: Sandbox) -> int:
    return sum(entry.status == 429 for entry in portal.request_log)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=int, default=100, help="portal limit: requests per 10 s")
    parser.add_argument("--seconds", type=float, default=40, help="length of the sustained run")
    parser.add_argument("--read-keys", type=int, default=2500)
    parser.add_argument("--baseline-records", type=int, default=300)
    args = parser.parse_args()
    with Sandbox(rate_limit=args.rate) as portal:
        s = sustained(portal, args.rate, args.seconds)
        print(f"sustained: {s['requests']} batch calls ({s['requests'] * 100 / s['seconds']:.0f} records/s) "
              f"in {s['seconds']:.1f} s; steady "
              f"{s['steady_per_s']:.2f} req/s of {s['limit_per_s']:.2f} allowed = {s['ratio']:.1%}; "
              f"429s: {s['429s']}")
    with Sandbox(rate_limit=10_000) as portal:
        r = read_cost(portal, args.read_keys)
        print(f"batch read: {r['keys']} keys -> {r['calls']} calls (ceil(N/100) = {r['expected']}), "
              f"{r['found']} found")
    with Sandbox(rate_limit=args.rate) as portal:
        b = batched_vs_single(portal, args.baseline_records)
        print(f"{b['records']} records: batched {b['batched_s']:.2f} s / {b['batched_calls']} calls; "
              f"one per record {b['single_s']:.2f} s / {b['single_calls']} calls; "
              f"batched is {b['speedup']:.0f}x faster; 429s: {b['429s']}")


if __name__ == "__main__":
    main()
