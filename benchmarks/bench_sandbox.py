"""Sandbox portal throughput: batch upsert and batch read through HTTP, 1 and 4 client threads.

    python benchmarks/bench_sandbox.py                  # 100,000 records, SQLite file store
    python benchmarks/bench_sandbox.py --records 10000 --memory

Targets (issue #2): >= 3,000 records/s upsert and >= 5,000 records/s read on a 2-core machine, and
memory flat as records grow (RSS reported at 10k / 50k / 100k records). The ratio column compares
each figure with its target. The rate limit is effectively off.
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

from syncer.sandbox import Sandbox

CARS = "/crm/v3/objects/2-3465404"
TARGETS = {"upsert": 3000, "read": 5000}
COLORS = ["red", "blue", "black", "white", "silver", "green"]


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def car(i: int) -> dict:
    return {"idProperty": "vin", "id": f"VIN{i:08d}",
            "properties": {"make": "Ford", "model": f"Model {i % 50}", "year": str(2000 + i % 25),
                           "price": f"{10000 + i % 9000}.50", "mileage": str(i * 7 % 200000),
                           "color": COLORS[i % 6], "listing_date": "2026-01-15", "available": "true"}}


class Clients:
    """One pooled session per thread, as syncer's client would hold."""

    def __init__(self, portal: Sandbox) -> None:
        self.portal = portal
        self.local = threading.local()

    def post(self, path: str, body: dict) -> dict:
        session = getattr(self.local, "session", None)
        if session is None:
            session = self.local.session = requests.Session()
            session.headers["Authorization"] = f"Bearer {self.portal.token}"
        response = session.post(self.portal.base_url + path, json=body, timeout=60)
        if response.status_code not in (200, 201):
            raise RuntimeError(f"{path}: {response.status_code} {response.text[:300]}")
        return response.json()


def run_batches(clients: Clients, threads: int, batches: list[tuple[str, dict]], checkpoints: dict,
                batch_size: int) -> float:
    """Seconds to send every batch; records RSS at the checkpoints (record counts)."""
    done = [0]
    lock = threading.Lock()

    def send(item):
        path, body = item
        clients.post(path, body)
        with lock:
            done[0] += batch_size
            if done[0] in checkpoints:
                checkpoints[done[0]] = rss_mb()

    start = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(send, batches))
    return time.perf_counter() - start


def measure(records: int, threads: int, batch_size: int, db_path: str | None) -> dict:
    with Sandbox(db_path=db_path, rate_limit=10**9, search_rate_limit=10**9, log_limit=100) as portal:
        clients = Clients(portal)
        marks = {n: None for n in (10_000, 50_000, 100_000) if n <= records}
        upserts = [(f"{CARS}/batch/upsert", {"inputs": [car(i) for i in range(s, min(s + batch_size, records))]})
                   for s in range(0, records, batch_size)]
        upsert_s = run_batches(clients, threads, upserts, marks, batch_size)
        del upserts
        ids = [r["id"] for r in clients.post(f"{CARS}/search", {"limit": 1}).get("results", [])]
        reads = [(f"{CARS}/batch/read", {"idProperty": "vin", "properties": ["price", "color", "year"],
                                         "inputs": [{"id": f"VIN{i:08d}"} for i in range(s, min(s + batch_size, records))]})
                 for s in range(0, records, batch_size)]
        read_s = run_batches(clients, threads, reads, {}, batch_size)
        search_ms = time_searches(clients, ids)
    return {"upsert": records / upsert_s, "read": records / read_s, "rss": marks, "search_ms": search_ms}


def time_searches(clients: Clients, ids: list[str]) -> dict:
    """The two-way sync's slicing searches at full size, in milliseconds per call."""
    queries = {
        "hs_lastmodifieddate GT x ASC": {"filterGroups": [{"filters": [
            {"propertyName": "hs_lastmodifieddate", "operator": "GT", "value": "0"}]}],
            "sorts": [{"propertyName": "hs_lastmodifieddate", "direction": "ASCENDING"}], "limit": 200},
        "hs_object_id range": {"filterGroups": [{"filters": [
            {"propertyName": "hs_object_id", "operator": "GTE", "value": ids[0] if ids else "0"},
            {"propertyName": "hs_object_id", "operator": "LT", "value": str(int(ids[0]) + 5000) if ids else "0"}]}],
            "sorts": [{"propertyName": "hs_object_id", "direction": "ASCENDING"}], "limit": 200},
        "color EQ (JSON value filter)": {"filterGroups": [{"filters": [
            {"propertyName": "color", "operator": "EQ", "value": "red"}]}], "limit": 200},
    }
    timings = {}
    for name, body in queries.items():
        start = time.perf_counter()
        for _ in range(3):
            clients.post(f"{CARS}/search", body)
        timings[name] = (time.perf_counter() - start) / 3 * 1000
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--threads", default="1,4", help="comma-separated client thread counts")
    parser.add_argument("--memory", action="store_true", help="keep the store in memory instead of a file")
    args = parser.parse_args()
    print(f"{args.records:,} records, batches of {args.batch}, store: {'memory' if args.memory else 'SQLite file'}")
    print(f"{'threads':>7} {'upsert rec/s':>13} {'ratio':>6} {'read rec/s':>11} {'ratio':>6}  RSS MB at 10k/50k/100k")
    searches = {}
    for threads in (int(t) for t in args.threads.split(",")):
        with tempfile.TemporaryDirectory() as tmp:
            result = measure(args.records, threads, args.batch, None if args.memory else f"{tmp}/bench.sqlite")
        rss = " / ".join(f"{v:.0f}" for v in result["rss"].values() if v is not None)
        print(f"{threads:>7} {result['upsert']:>13,.0f} {result['upsert'] / TARGETS['upsert']:>6.1f} "
              f"{result['read']:>11,.0f} {result['read'] / TARGETS['read']:>6.1f}  {rss}")
        searches = result["search_ms"]
    for name, ms in searches.items():
        print(f"search at {args.records:,} records, {name}: {ms:.0f} ms/call")


if __name__ == "__main__":
    main()
