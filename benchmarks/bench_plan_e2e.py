"""End to end: `syncer plan` of a big CSV against as many records in a portal, as a process of its own.

    python benchmarks/bench_plan_e2e.py --rows 100000                          # the default, a few minutes
    python benchmarks/bench_plan_e2e.py --rows 1000000 --workdir /tmp/e2e1m    # the issue's size (seeding ~3-5 min once)
    python benchmarks/bench_plan_e2e.py --rows 1000000 --workdir /tmp/e2e1m --out   # also -o plan.json

The sheet is bench_read.py's realistic CSV (12 columns, distinct values in most cells). A sandbox
portal runs as its own process (`syncer sandbox serve`, SQLite file in --workdir, its rate limit
lifted, search lag 0); it is filled once per --workdir through HTTP batch upserts (100 records a
call) with the sheet's own canonical values, `--changed` of them with another price, so the plan
updates that share and leaves the rest unchanged. Then `syncer plan` (-q; with --out, `-o
plan.json` too) runs as a child process, `--repeat` times: its wall time from start to exit and its
peak RSS (ru_maxrss of that child alone, os.wait4), against the issue's bound of 2 GB.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

CARS = "2-3465404"
TOKEN = "sandbox"
LIMIT_MB = 2048
MAPPING = """object: cars
id_property: vin
source: {source}
columns:
  VIN: vin
  Make: make
  Model: model
  Year: year
  Listing price: price
  Mileage (km): mileage
  Colour: color
  Listed on: {{property: listing_date, format: "%d/%m/%Y"}}
  Features: {{property: features, separator: ","}}
  Available: available
  Owner: owner
  Last serviced: {{property: last_serviced_at, timezone: Europe/Paris}}
sync:
  mode: upsert
  blank_cells: keep
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_portal(db: Path) -> tuple[subprocess.Popen, str]:
    """`syncer sandbox serve` on a free port with its rate limit lifted; waits until it answers."""
    port = free_port()
    portal = subprocess.Popen([sys.executable, "-m", "syncer", "sandbox", "serve", "--port", str(port), "--db", str(db),
                               "--token", TOKEN, "--rate-limit", "100000000", "--search-lag", "0", "-q"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            request = urllib.request.Request(f"{url}/crm/v3/schemas", headers={"Authorization": f"Bearer {TOKEN}"})
            urllib.request.urlopen(request, timeout=2).read()
            return portal, url
        except OSError:
            if portal.poll() is not None:
                raise SystemExit("the sandbox portal did not start")
            time.sleep(0.1)
    portal.terminate()
    raise SystemExit("the sandbox portal did not answer")


def fill(url: str, sheet: Path, mapping: Path, changed: float) -> float:
    """Upsert every row of the sheet as a record (its canonical values), `changed` of them with
    another price. Returns the seconds it took."""
    import numpy as np

    from syncer import mapping as mapping_module, tables, values
    from syncer.hubspot import HubSpotClient

    started = time.perf_counter()
    m = mapping_module.load(mapping)
    properties = json.loads((REPO / "sample_data" / "cars.properties.json").read_text())
    frame = values.canonicalize(tables.read(sheet), m, properties).frame
    other = np.random.default_rng(11).random(len(frame)) < changed
    price = frame["price"].to_numpy(dtype=object).copy()
    price[other] = [str(int(float(p)) + 1) if p is not None else "1" for p in price[other]]
    frame["price"] = price
    names = [c for c in frame.columns if c != "vin"]
    with HubSpotClient(url, TOKEN, default_rate_limit=(100_000_000, 10_000)) as client:
        chunk = 20_000
        for start in range(0, len(frame), chunk):
            part = frame.iloc[start:start + chunk]
            columns = [part[n].tolist() for n in names]
            inputs = [{"id": key, "properties": {n: v for n, v in zip(names, cells) if v is not None}}
                      for key, *cells in zip(part["vin"].tolist(), *columns)]
            for answer in client.batch_upsert(CARS, inputs, id_property="vin"):
                assert answer.ok, answer.error
            done = start + len(part)
            print(f"  filled {done:,} of {len(frame):,} ({done / (time.perf_counter() - started):,.0f} records/s)",
                  flush=True)
    return time.perf_counter() - started


def run_plan(url: str, mapping: Path, out: Path | None) -> dict:
    """`syncer plan` as a child process: wall time from start to exit and its own peak RSS."""
    command = [sys.executable, "-m", "syncer", "plan", str(mapping), "--base-url", url, "--token", TOKEN, "-q"]
    if out is not None:
        command += ["-o", str(out)]
    with tempfile.TemporaryFile("w+") as stdout, tempfile.TemporaryFile("w+") as stderr:
        started = time.perf_counter()
        child = subprocess.Popen(command, stdout=stdout, stderr=stderr, text=True)
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)
        stdout.seek(0)
        stderr.seek(0)
        return {"wall_s": wall, "peak_mb": usage.ru_maxrss / 1024, "exit": child.returncode, "stdout": stdout.read(),
                "stderr": stderr.read()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--changed", type=float, default=0.1, help="share of records whose price differs")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--out", action="store_true", help="also save the plan file (-o plan.json)")
    parser.add_argument("--workdir", type=Path, default=None, help="keeps the sheet and the filled portal between runs")
    args = parser.parse_args()
    from bench_read import prepare, versions

    with tempfile.TemporaryDirectory() as tmp:
        workdir = args.workdir or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        sheet = prepare(workdir, args.rows, "realistic", ["csv"])["csv"]
        mapping = workdir / f"e2e_{args.rows}.yaml"
        mapping.write_text(MAPPING.format(source=sheet.name), encoding="utf-8")
        db = workdir / f"e2e_{args.rows}_{args.changed}.sqlite"
        filled = db.with_suffix(".filled")
        if not filled.exists():
            db.unlink(missing_ok=True)
        portal, url = start_portal(db)
        try:
            if not filled.exists():
                print(f"filling the portal with {args.rows:,} records ({args.changed:.0%} with another price)...")
                seconds = fill(url, sheet, mapping, args.changed)
                filled.write_text(f"{seconds:.1f}\n")
                print(f"filled in {seconds:.0f} s ({args.rows / seconds:,.0f} records/s)")
            print(f"{args.rows:,} rows x 12 columns ({sheet.stat().st_size / 2**20:.0f} MiB CSV) against {args.rows:,} "
                  f"records; {versions()}")
            for number in range(args.repeat):
                found = run_plan(url, mapping, workdir / "plan.json" if args.out else None)
                last = [line for line in found["stdout"].splitlines() if line.strip()][-3:]
                print(f"round {number + 1}: `syncer plan{' -o plan.json' if args.out else ''}` exit {found['exit']}, "
                      f"wall {found['wall_s']:.1f} s, peak RSS {found['peak_mb']:,.0f} MiB "
                      f"({found['peak_mb'] / LIMIT_MB:.0%} of 2 GB)")
                for line in last:
                    print(f"    {line}")
                if found["exit"] not in (0, 1):
                    print(found["stderr"][-2000:])
        finally:
            portal.terminate()
            portal.wait(timeout=30)


if __name__ == "__main__":
    main()
