"""Export at scale: time and peak memory of `export` of N records, streamed, beside a whole-frame export.

    python benchmarks/bench_export.py --records 100000
    python benchmarks/bench_export.py --records 1000000 --no-baseline

A sandbox portal (SQLite file, rate limit off) is filled with N cars in this process; each export
then runs in a child process of its own, so its peak RSS (ru_maxrss) is its alone. The candidate is
syncer.export (records page by page, written in chunks: openpyxl write-only, CSV appends); the
baseline reads every record first, converts them in one frame and writes it with tables.write.
`--no-baseline` runs the candidate alone, for sizes where the baseline's memory grows too large.
Each line of the table is printed as soon as its export ends.
"""

from __future__ import annotations

import argparse
import csv
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

CARS = "2-3465404"


def fill(client, records: int) -> None:
    with open(REPO / "sample_data" / "cars.csv", newline="", encoding="utf-8") as f:
        sample = list(csv.DictReader(f))
    properties = {"Make": "make", "Model": "model", "Year": "year", "Listing price": "price",
                  "Mileage (km)": "mileage", "Owner": "owner", "Dealer phone": "dealer_phone"}
    inputs = [{"id": f"EXPORT{i:011d}", "properties": {p: sample[i % len(sample)][c] for c, p in properties.items()}
               | {"color": "red", "available": "true", "listing_date": "2025-08-09",
                  "features": "sunroof;navigation", "last_serviced_at": "2025-12-06T13:30:00.000Z"}}
              for i in range(records)]
    for answer in client.batch_upsert(CARS, inputs, id_property="vin"):
        assert answer.ok, answer.error


def child(kind: str, base_url: str, token: str, mapping: str, out: str) -> None:
    from syncer.hubspot import HubSpotClient

    with HubSpotClient(base_url, token, default_rate_limit=(10_000_000, 10_000)) as client:
        started = time.perf_counter()
        if kind == "streamed":
            from syncer.export import export

            records = export(mapping, client, out).records
        else:
            records = whole_frame(mapping, client, out)
        seconds = time.perf_counter() - started
    peak = peak_rss_mb()
    print(json.dumps({"records": records, "seconds": seconds, "peak_mb": peak}))


def peak_rss_mb() -> float:
    """This process's peak RSS (VmHWM). Not ru_maxrss: Linux carries that over from the parent
    across fork and exec, and the parent holds the sandbox and its records."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def whole_frame(mapping_path: str, client, out: str) -> int:
    from syncer import mapping, tables
    from syncer.export import RECORD_ID_COLUMN, record_cells

    m = mapping.load(mapping_path)
    object_type = client.object_type(m.object)
    properties = client.properties(object_type)
    names = [s.property for s in m.columns.values()]
    records = list(client.list_records(object_type, properties=names))
    cells = record_cells(records, m, properties, names, client, object_type, text_dates=out.endswith(".csv"))
    tables.write(cells, out)
    return len(cells[RECORD_ID_COLUMN])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--no-baseline", action="store_true", help="skip the whole-frame exports")
    parser.add_argument("--formats", default="xlsx,csv", help="comma-separated: xlsx, csv (default both)")
    parser.add_argument("--child", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(*args.child)
    with tempfile.TemporaryDirectory(prefix="bench-export-") as folder:  # the portal file is GBs at 1M
        measure(args, Path(folder))


def measure(args: argparse.Namespace, folder: Path) -> None:
    from syncer.hubspot import HubSpotClient
    from syncer.sandbox import Sandbox

    mapping = folder / "cars.yaml"
    text = (REPO / "mappings" / "cars.yaml").read_text()
    mapping.write_text(text[:text.index("associations:")] + text[text.index("sync:"):])
    with Sandbox(db_path=folder / "portal.sqlite", rate_limit=10_000_000, search_rate_limit=10_000_000) as portal:
        started = time.perf_counter()
        with HubSpotClient(portal.base_url, portal.token, default_rate_limit=(10_000_000, 10_000)) as client:
            fill(client, args.records)
        print(f"{args.records:,} records, no association column (portal filled in "
              f"{time.perf_counter() - started:.0f} s); each export in its own process\n", flush=True)
        print("| export | format | time | peak RSS |\n| --- | --- | ---: | ---: |", flush=True)
        kinds = ("streamed",) if args.no_baseline else ("streamed", "whole frame (baseline)")
        for kind in kinds:  # the candidates first: their lines stand even if a baseline is cut short
            for suffix in args.formats.split(","):
                out = folder / f"out-{kind[:5]}.{suffix}"
                done = subprocess.run([sys.executable, __file__, "--child", kind.split()[0], portal.base_url,
                                       portal.token, str(mapping), str(out)], capture_output=True, text=True)
                if done.returncode:
                    raise SystemExit(done.stderr)
                figures = json.loads(done.stdout.strip().splitlines()[-1])
                assert figures["records"] == args.records
                print(f"| {kind} | {suffix} | {figures['seconds']:.1f} s | {figures['peak_mb']:,.0f} MB |", flush=True)


if __name__ == "__main__":
    main()
