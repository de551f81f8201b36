"""The local work of `syncer plan -o plan.json` on a big CSV, in one process, with its peak memory.

    python benchmarks/bench_plan_local.py --rows 1000000 --workdir /tmp/bench1m

Reads bench_read's generated CSV (`--variety realistic`, made if missing) with `tables.read`,
converts it with `values.canonicalize`, plans it with `plan.build` against remote records made
from the canonical rows themselves (every row has a record, `--changed` of them with the mileage
changed; object columns, index = the id property, as `jobs.remote_frame` gives them), and writes
the plan file with `planfiles.save_plan`. Not included: the client's batch reads and the record objects
`jobs.read_remote` builds before its frame (the portal's side). Peak = ru_maxrss of this process.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_read  # noqa: E402

from syncer import plan, planfiles, tables, values  # noqa: E402


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--changed", type=float, default=0.1)
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()))
    args = parser.parse_args()
    csv = bench_read.prepare(args.workdir, args.rows, "realistic", ["csv"])["csv"]
    m, properties = bench_read.bench_mapping()
    stages = []
    start = time.perf_counter()
    table = tables.read(csv)
    stages.append(("tables.read", time.perf_counter() - start, peak_mib()))
    local = values.canonicalize(table, m, properties).frame
    del table
    stages.append(("values.canonicalize", time.perf_counter() - start - sum(s[1] for s in stages), peak_mib()))
    rng = np.random.default_rng(7)
    remote = local.set_index("vin")
    remote.insert(0, "id", np.arange(len(remote)).astype(str).astype(object))
    remote.insert(1, "updated_at", "2026-01-01T00:00:00.000Z")
    remote = remote.astype(object)
    remote.iloc[rng.choice(len(remote), int(len(remote) * args.changed), replace=False),
                remote.columns.get_loc("mileage")] = "1"
    made = time.perf_counter()
    built = plan.build(local, remote, object_type=bench_read.OBJECT_TYPE, id_property="vin")
    stages.append(("plan.build", time.perf_counter() - made, peak_mib()))
    written = time.perf_counter()
    out = args.workdir / "bench_plan_local.json"
    planfiles.save_plan(built, out)
    stages.append(("planfiles.save_plan", time.perf_counter() - written, peak_mib()))
    print(f"{args.rows:,} rows x {len(local.columns)} properties; {built!r}; plan file "
          f"{out.stat().st_size / 2**20:.0f} MiB; remote records made in {made - start - sum(s[1] for s in stages[:2]):.1f} s")
    for name, seconds, peak in stages:
        print(f"{name:>22}: {seconds:6.2f} s   peak so far {peak:6.0f} MiB")
    out.unlink()


if __name__ == "__main__":
    main()
