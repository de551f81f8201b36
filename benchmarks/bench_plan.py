"""Planner speed and memory: syncer's vectorised plan.build beside a plain dict loop and a bare
pandas merge + column compare.

    python benchmarks/bench_plan.py                                    # 1,000,000 x 1,000,000, 10 properties
    python benchmarks/bench_plan.py --rows 100000 --repeat 3
    python benchmarks/bench_plan.py --new 0.25 --changed 0.33          # a quarter of the rows new

All three get the same canonical local rows and remote records (object columns, as
values.canonicalize gives them; the remote side built as jobs.read_remote builds it): `--changed` of the existing records have
one property changed, `--new` of the rows have no record. The baselines:

- dict loop: what a competent engineer writes first: the remote side as a dict key -> position and
  one list per property, then one pass over the sheet's columns zipped together, each row's
  changes collected in a dict;
- merge + compare: a bare `local.merge(remote)` and one `!=` per property (the changed mask only:
  no key checks, no before/after tables), the floor a vectorised planner is measured against.

Each run is its own child process (its peak, ru_maxrss, is its own, inputs included); the planners
run interleaved, `--repeat` rounds, and ratios are taken within a round.
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import statistics
import time

import numpy as np
import pandas as pd

PLANNERS = ("syncer", "dict loop", "merge + compare")


def make_data(rows: int, properties: int, changed: float = 1 / 3, new: float = 0.25):
    rng = np.random.default_rng(7)
    keys = np.char.add("VIN", np.arange(rows).astype(str)).astype(object)
    names = [f"p{i}" for i in range(properties)]
    local = pd.DataFrame({n: rng.integers(0, 1000, rows).astype(str).astype(object) for n in names}, dtype=object)
    local.insert(0, "vin", pd.Series(keys, dtype=object))
    local.index = pd.RangeIndex(2, rows + 2)
    existing = rows - int(rows * new)
    columns = {n: local[n].iloc[:existing].tolist() for n in names}
    for at in rng.choice(existing, int(existing * changed), replace=False):
        columns[names[0]][at] = "changed"
    # Built as jobs._RemoteColumns.frame builds what it read: the records' keys, ids, times and
    # values, all as objects.
    remote = pd.DataFrame(columns, index=pd.Index(local["vin"].iloc[:existing].tolist(), dtype=object), columns=names,
                          dtype=object)
    remote.insert(0, "id", pd.Series(rng.permutation(existing).astype(str).tolist(), index=remote.index, dtype=object))
    remote.insert(1, "updated_at", pd.Series("2026-01-01T00:00:00.000Z", index=remote.index, dtype=object))
    return local, remote


def syncer_plan(local, remote):
    from syncer import plan

    return plan.build(local, remote, object_type="2-3465404", id_property="vin").counts()


def dict_loop(local, remote):
    props = [c for c in local.columns if c != "vin"]
    position = dict(zip(remote.index.tolist(), range(len(remote))))
    theirs = [remote[p].tolist() for p in props]
    counts = {"create": 0, "update": 0, "unchanged": 0}
    actions = []
    for row, key, *mine in zip(local.index.tolist(), local["vin"].tolist(), *(local[p].tolist() for p in props)):
        at = position.get(key)
        if at is None:
            counts["create"] += 1
            actions.append((row, "create", {p: v for p, v in zip(props, mine) if v is not None}))
            continue
        changes = {}
        for p, column, value in zip(props, theirs, mine):
            if value is not None and value != column[at]:
                changes[p] = (column[at], value)
        kind = "update" if changes else "unchanged"
        counts[kind] += 1
        actions.append((row, kind, changes))
    return counts


def merge_compare(local, remote):
    props = [c for c in local.columns if c != "vin"]
    merged = local.merge(remote, left_on="vin", right_index=True, how="left", suffixes=("", "_remote"))
    exists = merged["id"].notna().to_numpy()
    changed = np.zeros(len(merged), dtype=bool)
    for p in props:
        changed |= (merged[p].notna() & (merged[p] != merged[f"{p}_remote"])).to_numpy()
    return {"create": int((~exists).sum()), "update": int((changed & exists).sum()),
            "unchanged": int((~changed & exists).sum())}


def _measure(name, args, queue):
    local, remote = make_data(args.rows, args.properties, args.changed, args.new)
    inputs = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    counts = {"syncer": syncer_plan, "dict loop": dict_loop, "merge + compare": merge_compare}[name](local, remote)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    queue.put((seconds, inputs / 1024, peak / 1024, {k: counts[k] for k in ("create", "update", "unchanged")}))


def run(name, args):
    queue = multiprocessing.get_context("fork").Queue()
    child = multiprocessing.get_context("fork").Process(target=_measure, args=(name, args, queue))
    child.start()
    result = queue.get()
    child.join()
    if child.exitcode != 0:
        raise SystemExit(f"{name} failed (exit {child.exitcode})")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--properties", type=int, default=10)
    parser.add_argument("--changed", type=float, default=0.1, help="share of existing records with a change")
    parser.add_argument("--new", type=float, default=0.0, help="share of rows with no record")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    from bench_read import versions

    print(f"{args.rows:,} rows x {args.properties} properties, {args.changed:.0%} changed, {args.new:.0%} new; "
          f"{versions()}")
    rounds = []
    for number in range(args.repeat):
        found = {name: run(name, args) for name in PLANNERS}
        counts = {name: r[3] for name, r in found.items()}
        assert len({str(c) for c in counts.values()}) == 1, f"the planners disagree: {counts}"
        rounds.append(found)
        print(f"round {number + 1}: " + "  ".join(f"{name} {r[0]:.2f} s / {r[2]:.0f} MB" for name, r in found.items()))
    print(f"counts {rounds[0]['syncer'][3]}; inputs {rounds[0]['syncer'][1]:.0f} MB")
    for name in PLANNERS:
        times = [r[name][0] for r in rounds]
        print(f"{name:>16}: median {statistics.median(times):6.2f} s  (min {min(times):.2f})  "
              f"peak RSS {max(r[name][2] for r in rounds):6.0f} MB")
    for other in PLANNERS[1:]:
        ratios = [r[other][0] / r["syncer"][0] for r in rounds]
        print(f"{other} / syncer: median {statistics.median(ratios):.2f}x  (rounds: "
              + ", ".join(f"{x:.2f}" for x in ratios) + ")")


if __name__ == "__main__":
    main()
