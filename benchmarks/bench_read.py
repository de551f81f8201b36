"""Reading and converting a big sheet: CSV and xlsx through tables.read + values.canonicalize,
and the xlsx read side by side with openpyxl's read-only mode (the baseline).

    python benchmarks/bench_read.py                    # 1,000,000 rows x 12 columns
    python benchmarks/bench_read.py --rows 100000      # smaller

Each measurement runs in its own process, so its peak memory (ru_maxrss) is its own.
Generated sheets are cached in --workdir (default: a temporary directory).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import multiprocessing
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from syncer import mapping, tables, values  # noqa: E402

PROPERTIES = json.loads((REPO / "sample_data" / "cars.properties.json").read_text())
MAPPING = REPO / "mappings" / "cars.yaml"
COLUMNS = ["VIN", "Make", "Model", "Year", "Listing price", "Mileage (km)", "Colour", "Listed on", "Features",
           "Available", "Owner", "Last serviced"]


def make_frame(rows: int) -> pd.DataFrame:
    rng = random.Random(7)
    pick = lambda seq: [rng.choice(seq) for _ in range(rows)]  # noqa: E731
    start = dt.date(2025, 1, 1)
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
        "Last serviced": [dt.datetime(2025, 1, 1, 8) + dt.timedelta(minutes=15 * rng.randint(0, 30000)) for _ in range(rows)],
    }, dtype=object)


def prepare(workdir: Path, rows: int) -> tuple[Path, Path]:
    csv, xlsx = workdir / f"bench_{rows}.csv", workdir / f"bench_{rows}.xlsx"
    if not (csv.exists() and xlsx.exists()):
        frame = make_frame(rows)
        text = frame.copy()
        text["Listed on"] = [d.strftime("%d/%m/%Y") for d in frame["Listed on"]]
        text["Last serviced"] = [d.strftime("%Y-%m-%d %H:%M") for d in frame["Last serviced"]]
        tables.write(text, csv)
        tables.write(frame, xlsx, sheet_name="Inventory")
    return csv, xlsx


def read_and_convert(path: str) -> dict:
    m = mapping.load(MAPPING)
    m = m.model_copy(update={"columns": {c: s for c, s in m.columns.items() if c in COLUMNS}, "associations": []})
    start = time.perf_counter()
    table = tables.read(path, sheet="Inventory" if path.endswith(".xlsx") else None)
    read = time.perf_counter() - start
    local = values.canonicalize(table, m, PROPERTIES)
    total = time.perf_counter() - start
    assert len(local.frame) == len(table.frame) and not local.errors, local.errors[:3]
    return {"read_s": read, "convert_s": total - read, "total_s": total}


def openpyxl_read(path: str) -> dict:
    """The baseline: openpyxl read-only mode, rows into a DataFrame (no conversion)."""
    import openpyxl

    start = time.perf_counter()
    workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    rows = list(workbook["Inventory"].iter_rows(values_only=True))
    frame = pd.DataFrame(rows[1:], columns=rows[0], dtype=object)
    workbook.close()
    assert len(frame) > 0
    return {"read_s": time.perf_counter() - start}


def measured(job, path: str) -> dict:
    result = job(path)
    result["peak_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return result


def in_child(job, path: Path) -> dict:
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return pool.apply(measured, (job, str(path)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--skip-openpyxl", action="store_true", help="Skip the (slow) baseline.")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = args.workdir or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        csv, xlsx = prepare(workdir, args.rows)
        print(f"{args.rows:,} rows x {len(COLUMNS)} columns; CSV {csv.stat().st_size / 2**20:.0f} MiB, "
              f"xlsx {xlsx.stat().st_size / 2**20:.0f} MiB (generated in {time.perf_counter() - start:.0f} s)")
        for label, job, path in [("CSV  read + convert (syncer)", read_and_convert, csv),
                                 ("xlsx read + convert (syncer, calamine)", read_and_convert, xlsx)]:
            r = in_child(job, path)
            print(f"{label:<42} read {r['read_s']:6.1f} s  convert {r['convert_s']:6.1f} s  "
                  f"total {r['total_s']:6.1f} s  peak {r['peak_mib']:7.0f} MiB")
            if path == xlsx:
                calamine = r
        if not args.skip_openpyxl:
            r = in_child(openpyxl_read, xlsx)
            print(f"{'xlsx read only (openpyxl read-only)':<42} read {r['read_s']:6.1f} s  "
                  f"{'':>32}peak {r['peak_mib']:7.0f} MiB")
            print(f"xlsx read: calamine is {r['read_s'] / calamine['read_s']:.1f}x faster than openpyxl read-only")


if __name__ == "__main__":
    main()
