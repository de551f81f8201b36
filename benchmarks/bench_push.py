"""End-to-end push against a rate-limited sandbox: API calls and wall time against the ideal.

    python benchmarks/bench_push.py --rows 100000 --rate 1000

The sandbox runs as its own process (`syncer sandbox serve --rate-limit R`), so it does not share
the engine's interpreter. A first push creates every row; a second, after changing `--changes`
rows, updates only those. For each, the calls HubSpot saw are compared with the exact count a
push should cost, ceil(rows/100) batch reads plus ceil(writes/100) writes (+2 set-up calls for the
schema and the properties), and the wall time with calls / (R per 10 s), the time the rate limit
sets for that many calls (a fresh window lets the first R through at once, so a run can beat it).
"""

from __future__ import annotations

import argparse
import math
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sample_data.make_samples import grow  # noqa: E402
from syncer import jobs, runs  # noqa: E402
from syncer.hubspot import HubSpotClient  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_sandbox(rate: int, db: Path):
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "syncer", "sandbox", "serve", "--port", str(port),
                               "--rate-limit", str(rate), "--db", str(db)],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    line = server.stdout.readline()
    if not re.search(r"http://\S+", line):
        raise SystemExit(f"sandbox did not start: {line}")
    return server, f"http://127.0.0.1:{port}"


def push(mapping: Path, base_url: str, rate: int) -> tuple[float, int, dict]:
    with HubSpotClient(base_url, "sandbox", default_rate_limit=(rate, 10_000)) as client:
        start = time.perf_counter()
        built = jobs.build_plan(mapping, client)
        results = runs.apply_plan(built, client)
        return time.perf_counter() - start, client.calls, results.counts()


def report(label: str, rows: int, writes: int, seconds: float, calls: int, rate: int) -> None:
    ideal_calls = 2 + math.ceil(rows / 100) + math.ceil(writes / 100)
    floor = calls / (rate / 10)
    print(f"{label}: {calls} calls (exact count {ideal_calls}), {seconds:.1f} s; "
          f"rate-limit floor {floor:.1f} s; ratio {seconds / floor:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--changes", type=int, default=1_000)
    parser.add_argument("--rate", type=int, default=1_000, help="sandbox requests per 10 s")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        server, base_url = start_sandbox(args.rate, folder / "portal.sqlite")
        try:
            mapping = grow(folder, args.rows, vin_prefix="BENCH", associations=False)
            seconds, calls, counts = push(mapping, base_url, args.rate)
            assert counts["created"] == args.rows, counts
            report(f"first push of {args.rows:,} rows", args.rows, args.rows, seconds, calls, args.rate)
            grow(folder, args.rows, vin_prefix="BENCH", changed=args.changes, associations=False)
            time.sleep(10)  # let the portal's rolling 10 s window drain, so each push starts alike
            seconds, calls, counts = push(mapping, base_url, args.rate)
            assert counts["updated"] == args.changes, counts
            report(f"re-push with {args.changes:,} changed", args.rows, args.changes, seconds, calls, args.rate)
        finally:
            server.terminate()
            server.wait()


if __name__ == "__main__":
    os.environ.pop("HUBSPOT_ACCESS_TOKEN", None)
    main()
