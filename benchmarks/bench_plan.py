"""Planner speed and memory: syncer's vectorised plan.build beside a straightforward row-by-row planner.

    python benchmarks/bench_plan.py --rows 1000000 --properties 10

Both planners get the same canonical local rows and remote records: half the rows unchanged, a
quarter with one changed property, a quarter new. The baseline is what one would write first: a
dict of remote records and a Python loop over rows comparing each property. Each is run in its own
child process so its peak memory (ru_maxrss) is its own.
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import time

import numpy as np
import pandas as pd


def make_data(rows: int, properties: int):
    rng = np.random.default_rng(7)
    keys = np.char.add("VIN", np.arange(rows).astype(str)).astype(object)
    names = [f"p{i}" for i in range(properties)]
    local = pd.DataFrame({n: rng.integers(0, 1000, rows).astype(str).astype(object) for n in names})
    local.insert(0, "vin", keys)
    local.index = pd.RangeIndex(2, rows + 2)
    existing = rows - rows // 4
    remote = local.iloc[:existing].set_index("vin").copy()
    changed = rng.choice(existing, existing // 3, replace=False)
    remote.iloc[changed, 0] = "changed"
    remote.insert(0, "id", np.arange(existing).astype(str).astype(object))
    remote.insert(1, "updated_at", "2026-01-01T00:00:00.000Z")
    return local, remote


def vectorised(local, remote):
    from syncer import plan

    built = plan.build(local, remote, object_type="2-3465404", id_property="vin")
    return built.counts()


def row_by_row(local, remote):
    records = {key: rec for key, rec in zip(remote.index, remote.to_dict("records"))}
    props = [c for c in local.columns if c != "vin"]
    counts = {"create": 0, "update": 0, "unchanged": 0}
    actions = []
    for row, cells in zip(local.index, local.to_dict("records")):
        record = records.get(cells["vin"])
        if record is None:
            counts["create"] += 1
            actions.append((row, "create", {p: cells[p] for p in props if cells[p] is not None}))
            continue
        changes = {p: (record[p], cells[p]) for p in props if cells[p] is not None and cells[p] != record[p]}
        kind = "update" if changes else "unchanged"
        counts[kind] += 1
        actions.append((row, kind, changes))
    return counts


def _measure(name, rows, properties, queue):
    local, remote = make_data(rows, properties)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    counts = {"vectorised": vectorised, "row-by-row": row_by_row}[name](local, remote)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    queue.put((name, seconds, before / 1024, peak / 1024, {k: counts[k] for k in ("create", "update", "unchanged")}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--properties", type=int, default=10)
    args = parser.parse_args()
    queue = multiprocessing.Queue()
    results = {}
    for name in ("vectorised", "row-by-row"):
        child = multiprocessing.Process(target=_measure, args=(name, args.rows, args.properties, queue))
        child.start()
        child.join()
        if child.exitcode != 0:
            raise SystemExit(f"{name} planner failed (exit {child.exitcode})")
        results[name] = queue.get()
    for name, seconds, data_mb, peak_mb, counts in results.values():
        print(f"{name:>11}: {seconds:7.2f} s  peak RSS {peak_mb:7.0f} MB (inputs {data_mb:.0f} MB)  {counts}")
    assert results["vectorised"][4] == results["row-by-row"][4], "the two planners disagree"
    ratio = results["row-by-row"][1] / results["vectorised"][1]
    print(f"vectorised is {ratio:.1f}x the speed of row-by-row at {args.rows:,} rows x {args.properties} properties")


if __name__ == "__main__":
    main()
