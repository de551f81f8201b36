"""Reading and converting a big sheet, each beside its honest baseline, as whole processes.

    python benchmarks/bench_read.py --formats csv --rows 1000000 --repeat 3          # CSV vs bare read_csv
    python benchmarks/bench_read.py --formats xlsx --rows 200000 --repeat 3          # xlsx vs openpyxl read-only
    python benchmarks/bench_read.py --formats csv --variety repeated                  # the old, repetitive sample

Every job is a fresh process (`python bench_read.py --job ...`), timed from start to exit, its peak
the child's own ru_maxrss (os.wait4); jobs run interleaved, `--repeat` rounds, and ratios are taken
within a round. Inside the syncer jobs, `tables.read` and `values.canonicalize` are timed apart.

- CSV: `tables.read` (encoding and delimiter detection, formula escapes, blank rows, digest) beside a
  bare `pandas.read_csv(path, dtype=str, na_filter=False)`;
- xlsx: `tables.read` (python-calamine, error cells) beside openpyxl's read-only mode, its rows into
  a DataFrame (no conversion in either baseline);
- `--variety realistic` (the default): distinct values in most cells (prices with cents, mileages,
  models, owners, service times to the minute, dates over 25 years, option lists in any order);
  `repeated`: the sample's few makes, colours and dates, which conversion caches per distinct cell.

Generated sheets are cached in --workdir (default: a temporary directory).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

PROPERTIES_PATH = REPO / "sample_data" / "cars.properties.json"
MAPPING = REPO / "mappings" / "cars.yaml"
COLUMNS = ["VIN", "Make", "Model", "Year", "Listing price", "Mileage (km)", "Colour", "Listed on", "Features",
           "Available", "Owner", "Last serviced"]
FEATURES = ["Sunroof", "Heated seats", "Navigation", "Bluetooth", "Backup camera", "Leather seats"]



def versions() -> str:
    """`pandas 3.1.1, pyarrow installed`: what a figure was measured with (pandas keeps text in Arrow
    when pyarrow is installed)."""
    import importlib.util

    return f"pandas {pd.__version__}, pyarrow {'installed' if importlib.util.find_spec('pyarrow') else 'not installed'}"

def make_frame(rows: int, variety: str = "realistic") -> pd.DataFrame:
    rng = random.Random(7)
    pick = lambda seq: [rng.choice(seq) for _ in range(rows)]  # noqa: E731
    start = dt.date(2025, 1, 1)
    if variety == "repeated":
        return pd.DataFrame({
            "VIN": [f"VIN{i:014d}" for i in range(rows)],
            "Make": pick(["Toyota", "Renault", "Ford", "Kia", "BMW"]),
            "Model": pick(["Corolla", "Clio", "Focus", "Ceed", "X1"]),
            "Year": [rng.randint(2005, 2025) for _ in range(rows)],
            "Listing price": [rng.randrange(4000, 65000, 50) for _ in range(rows)],
            "Mileage (km)": [rng.randint(0, 250000) for _ in range(rows)],
            "Colour": pick(["Red", "Dark blue", "Black", "White", "Silver", "Green"]),
            "Listed on": [start + dt.timedelta(days=rng.randint(0, 400)) for _ in range(rows)],
            "Features": pick(["Sunroof,Navigation", "Bluetooth", "", "Heated seats,Leather seats,Backup camera"]),
            "Available": pick(["Yes", "No"]),
            "Owner": pick(["Alice Martin", "Bruno Silva", "Chloe Dubois"]),
            "Last serviced": [dt.datetime(2025, 1, 1, 8) + dt.timedelta(minutes=15 * rng.randint(0, 30000))
                              for _ in range(rows)],
        }, dtype=object)
    makes = [f"Make {i}" for i in range(60)]
    first = [f"First{i}" for i in range(300)]
    last = [f"Last{i}" for i in range(3000)]
    return pd.DataFrame({
        "VIN": [f"VIN{i:014d}" for i in range(rows)],
        "Make": pick(makes),
        "Model": [f"Model {rng.randint(1, 20000)} {rng.choice('ABCDEFGH')}" for _ in range(rows)],
        "Year": [rng.randint(1995, 2026) for _ in range(rows)],
        "Listing price": [rng.randint(100_000, 9_000_000) / 100 for _ in range(rows)],
        "Mileage (km)": [rng.randint(0, 400_000) for _ in range(rows)],
        "Colour": pick(["Red", "Dark blue", "Black", "White", "Silver", "Green", "red", "blue", ""]),
        "Listed on": [start - dt.timedelta(days=rng.randint(0, 9000)) for _ in range(rows)],
        "Features": [",".join(rng.sample(FEATURES, rng.randint(0, 4))) for _ in range(rows)],
        "Available": pick(["Yes", "No", "TRUE", "false", "yes", ""]),
        "Owner": [f"{rng.choice(first)} {rng.choice(last)}" for _ in range(rows)],
        "Last serviced": [dt.datetime(2020, 1, 1, 8) + dt.timedelta(minutes=rng.randint(0, 3_000_000))
                          for _ in range(rows)],
    }, dtype=object)


def prepare(workdir: Path, rows: int, variety: str, formats: list[str]) -> dict[str, Path]:
    from syncer import tables

    paths = {f: workdir / f"bench_{variety}_{rows}.{f}" for f in formats}
    if all(p.exists() for p in paths.values()):
        return paths
    frame = make_frame(rows, variety)
    if "csv" in paths and not paths["csv"].exists():
        text = frame.copy()
        text["Listed on"] = [d.strftime("%d/%m/%Y") for d in frame["Listed on"]]
        text["Last serviced"] = [d.strftime("%Y-%m-%d %H:%M") for d in frame["Last serviced"]]
        tables.write(text, paths["csv"])
    if "xlsx" in paths and not paths["xlsx"].exists():
        tables.write(frame, paths["xlsx"], sheet_name="Inventory")
    return paths


# --- jobs, each run as its own process ------------------------------------------------------------


OBJECT_TYPE = "2-3465404"


def bench_mapping():
    """The cars mapping restricted to the generated columns, and the portal's properties."""
    from syncer import mapping

    m = mapping.load(MAPPING)
    m = m.model_copy(update={"columns": {c: s for c, s in m.columns.items() if c in COLUMNS}, "associations": []})
    return m, json.loads(PROPERTIES_PATH.read_text())


def syncer_read(path: str) -> dict:
    from syncer import tables, values

    m, properties = bench_mapping()
    start = time.perf_counter()
    table = tables.read(path, sheet="Inventory" if path.endswith(".xlsx") else None)
    read = time.perf_counter() - start
    local = values.canonicalize(table, m, properties)
    convert = time.perf_counter() - start - read
    assert len(local.frame) == len(table.frame) and not local.errors, local.errors[:3]
    return {"read_s": read, "convert_s": convert}


def syncer_read_only(path: str) -> dict:
    from syncer import tables

    start = time.perf_counter()
    table = tables.read(path, sheet="Inventory" if path.endswith(".xlsx") else None)
    assert len(table.frame) > 0 and not table.errors
    return {"read_s": time.perf_counter() - start}


def bare_read_csv(path: str) -> dict:
    start = time.perf_counter()
    frame = pd.read_csv(path, dtype=str, na_filter=False)
    assert len(frame) > 0
    return {"read_s": time.perf_counter() - start}


def openpyxl_read(path: str) -> dict:
    """openpyxl read-only mode, rows into a DataFrame (no conversion)."""
    import openpyxl

    start = time.perf_counter()
    workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    rows = list(workbook["Inventory"].iter_rows(values_only=True))
    frame = pd.DataFrame(rows[1:], columns=rows[0], dtype=object)
    workbook.close()
    assert len(frame) > 0
    return {"read_s": time.perf_counter() - start}


JOBS = {"syncer read": syncer_read_only, "syncer read + convert": syncer_read, "read_csv": bare_read_csv,
        "openpyxl": openpyxl_read}
# Per format: syncer's read alone beside the baseline (both whole processes), then read + convert.
RUNS = {"csv": ("syncer read", "read_csv", "syncer read + convert"),
        "xlsx": ("syncer read", "openpyxl", "syncer read + convert")}


def in_process(job: str, path: Path) -> dict:
    """Run one job as a fresh process: its wall time from start to exit, and its own peak."""
    start = time.perf_counter()
    child = subprocess.Popen([sys.executable, __file__, "--job", job, str(path)], stdout=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - start
    out = child.stdout.read()
    child.stdout.close()
    if status != 0:
        raise SystemExit(f"{job} on {path.name} failed (status {status})")
    return {**json.loads(out), "process_s": wall, "peak_mib": usage.ru_maxrss / 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--formats", default="csv,xlsx")
    parser.add_argument("--variety", choices=["realistic", "repeated"], default="realistic")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--job", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.job:
        print(json.dumps(JOBS[args.job[0]](args.job[1])))
        return
    formats = args.formats.split(",")
    with tempfile.TemporaryDirectory() as tmp:
        workdir = args.workdir or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        paths = prepare(workdir, args.rows, args.variety, formats)
        print(f"{args.rows:,} rows x {len(COLUMNS)} columns ({args.variety}); "
              + ", ".join(f"{f} {p.stat().st_size / 2**20:.0f} MiB" for f, p in paths.items())
              + f" (ready in {time.perf_counter() - start:.0f} s); {versions()}")
        for fmt, path in paths.items():
            rounds = []
            for number in range(args.repeat):
                found = {job: in_process(job, path) for job in RUNS[fmt]}
                rounds.append(found)
                print(f"{fmt} round {number + 1}: " + "  ".join(
                    f"{job} process {r['process_s']:.2f} s (read {r['read_s']:.2f} s"
                    + (f", convert {r['convert_s']:.2f} s" if "convert_s" in r else "")
                    + f") peak {r['peak_mib']:.0f} MiB" for job, r in found.items()))
            ours, theirs, both = RUNS[fmt]
            median = lambda key, job, rounds=rounds: statistics.median(r[job][key] for r in rounds)  # noqa: E731
            peak = lambda job, rounds=rounds: max(r[job]["peak_mib"] for r in rounds)  # noqa: E731
            print(f"{fmt} medians: {ours} {median('read_s', ours):.2f} s (process {median('process_s', ours):.2f} s, "
                  f"peak {peak(ours):.0f} MiB); {theirs} {median('read_s', theirs):.2f} s (process "
                  f"{median('process_s', theirs):.2f} s, peak {peak(theirs):.0f} MiB); {both}: read "
                  f"{median('read_s', both):.2f} s + convert {median('convert_s', both):.2f} s (peak {peak(both):.0f} MiB)")
            for key in ("read_s", "process_s", "peak_mib"):
                ratios = [r[ours][key] / r[theirs][key] for r in rounds]
                print(f"  syncer / {theirs} {key}: median {statistics.median(ratios):.2f}x ("
                      + ", ".join(f"{x:.2f}" for x in ratios) + ")")
            ratios = [r[both]["convert_s"] / r[both]["read_s"] for r in rounds]
            print(f"  convert / read (syncer): median {statistics.median(ratios):.2f}x ("
                  + ", ".join(f"{x:.2f}" for x in ratios) + ")")


if __name__ == "__main__":
    main()
