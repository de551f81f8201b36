"""Two-way sync at scale: API calls and wall time of a re-sync with 0, k, K changes, beside a full push.

    python benchmarks/bench_sync.py --rows 100000 --changes 0,100,1000 [--links]

A CSV of N cars (the sample's rows with fresh VINs) is synced once against a sandbox portal (SQLite
file, rate limit off, so times show syncer's own work plus loopback HTTP). Then, for each k: k/2
prices edited in the sheet and k/2 in HubSpot, and a `sync` is timed; the baseline is a full
`push` of the same sheet (batch reads of every key, then the writes). Each sync is followed by a
settling sync, which reads the records the previous one wrote back once (only a read proves no one
edited them while it was writing; records read back exactly as written cost nothing more), and its
cost is shown too. `--links` keeps the mapping's association column (Owner email, cycling through
the sandbox's 20 contacts) and re-links k/10 of the edited rows in the sheet.

Syncs run as the CLI runs them, with its default `--margin` (sync.DEFAULT_MARGIN_SECONDS): one
right after another, each search looks back over the writes made within the margin before the
last sync began, and reads them again ("runs close together"). `--margin 0` gives the cost of runs
far apart (the previous sync's writes older than the margin): the search window then starts where
the last sync's began, as it does when the runs are further apart than the margin.
"""

from __future__ import annotations

import argparse
import csv
import shutil
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sample_data.make_samples import grow  # noqa: E402
from syncer.hubspot import HubSpotClient  # noqa: E402
from syncer.jobs import build_plan  # noqa: E402
from syncer.runs import apply_plan  # noqa: E402
from syncer import state  # noqa: E402
from syncer.sandbox import Sandbox  # noqa: E402
from syncer.sync import DEFAULT_MARGIN_SECONDS, sync  # noqa: E402

CARS = "2-3465404"


EMAILS = ["alice.martin", "bruno.silva", "chloe.dubois", "daniel.kim", "emma.schmidt", "farid.haddad",
          "grace.okafor", "hugo.rossi"]  # some of the sandbox's seeded contacts


def owner(i: int) -> str:
    return f"{EMAILS[i % len(EMAILS)]}@example.com"


def make_project(folder: Path, rows: int, links: bool) -> tuple[Path, Path]:
    """The sample grown to `rows` rows, with its owner links (cycling over the seeded contacts) or
    without the association column; returns the mapping and the sheet."""
    mapping = grow(folder, rows, vin_prefix="BENCH", associations=links)
    if links:
        with open(folder / "cars.csv", newline="", encoding="utf-8") as f:
            grown = list(csv.DictReader(f))
        for i, row in enumerate(grown):
            row["Owner email"] = owner(i)
        write_rows(folder / "cars.csv", grown)
    return mapping, folder / "cars.csv"


def edit_sheet(sheet: Path, count: int, round_: int, links: bool) -> None:
    with open(sheet, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    for i in range(count):
        rows[(i * 7919) % len(rows)]["Listing price"] = str(50_000 + round_ * 1000 + i)
        if links and i % 5 == 0:
            rows[(i * 7919) % len(rows)]["Owner email"] = owner(i + round_ + 1)
    write_rows(sheet, rows)


def write_rows(sheet: Path, rows: list[dict]) -> None:
    with open(sheet, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def edit_hubspot(client, rows: int, count: int, round_: int) -> None:
    vins = [f"BENCH{(i * 104729 + 1) % rows:012d}" for i in range(count)]
    inputs = [{"id": vin, "properties": {"mileage": str(round_ * 10_000 + i)}} for i, vin in enumerate(vins)]
    if inputs:
        client.batch_update(CARS, inputs, id_property="vin")


def forget_updated_at(kept: Path, snapshot: Path) -> None:
    """Put back the first sync's snapshot without the updatedAt it keeps per record: the settling
    sync then reads every record it finds as if it could not prove it unchanged (the baseline)."""
    with sqlite3.connect(kept) as db:
        db.execute("UPDATE records SET updated_at = NULL")
    db.close()
    shutil.copy(kept, snapshot)


def timed(label: str, function):
    started = time.perf_counter()
    value = function()
    return label, time.perf_counter() - started, value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--changes", default="0,100,1000", help="comma-separated k values")
    parser.add_argument("--links", action="store_true", help="sync the Owner email association column too")
    parser.add_argument("--margin", type=float, default=DEFAULT_MARGIN_SECONDS,
                        help="sync's --margin (default: the CLI's); 0 = runs further apart than the margin")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-sync-"))
    mapping, sheet = make_project(folder, args.rows, args.links)
    lines = []
    with Sandbox(db_path=folder / "portal.sqlite", rate_limit=10_000_000, search_rate_limit=10_000_000) as portal, \
            HubSpotClient(portal.base_url, portal.token, default_rate_limit=(10_000_000, 10_000)) as client:
        label, seconds, result = timed("first sync (push all, take the snapshot)", lambda: sync(mapping, client))
        lines.append((label, result.calls, seconds))
        taken = state.path_for(mapping, str(portal.portal_id))
        shutil.copy(taken, folder / "first.sqlite")
        label, seconds, result = timed("settling sync (reads the first sync's writes back)",
                                       lambda: sync(mapping, client, margin_seconds=args.margin))
        lines.append((label, result.calls, seconds))
        forget_updated_at(folder / "first.sqlite", taken)
        label, seconds, result = timed("  baseline: the same, without the updatedAt proof",
                                       lambda: sync(mapping, client, margin_seconds=args.margin))
        lines.append((label, result.calls, seconds))
        for round_, k in enumerate(int(c) for c in args.changes.split(",")):
            edit_sheet(sheet, k // 2, round_, args.links)
            edit_hubspot(client, args.rows, k - k // 2, round_)
            label, seconds, result = timed(f"re-sync, {k} changes ({k // 2} sheet, {k - k // 2} HubSpot)",
                                           lambda: sync(mapping, client, margin_seconds=args.margin))
            assert result.exit_code == 0 and result.counts["push"] == k // 2, result.counts
            lines.append((label, result.calls, seconds))
            label, seconds, result = timed("  its settling sync", lambda: sync(mapping, client, margin_seconds=args.margin))
            lines.append((label, result.calls, seconds))
            before = client.calls
            label, seconds, results = timed("  baseline: full push of the same sheet",
                                            lambda: apply_plan(build_plan(mapping, client), client))
            lines.append((label, client.calls - before, seconds))
    print(f"{args.rows:,} rows{' with the Owner email association' if args.links else ''}; margin {args.margin:g} s; "
          "sandbox rate limit off\n")
    print(f"| {'run':<58} | API calls | wall time |")
    print(f"| {'-' * 58} | ---: | ---: |")
    for label, calls, seconds in lines:
        print(f"| {label:<58} | {calls:,} | {seconds:.1f} s |")
    shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
