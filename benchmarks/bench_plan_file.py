"""Writing a plan file: `planfiles.dumps` (what `syncer plan -o plan.json` writes) beside a compact
`json.dumps` of the same document and the `indent=1` text plan files had before.

    python benchmarks/bench_plan_file.py                     # 1,000,000 rows, 10 properties, 10 % changed
    python benchmarks/bench_plan_file.py --rows 200000 --repeat 5

The plan is bench_plan's (built once). `to_json` (the document, digest included) is timed apart;
the three encoders then run interleaved on that one document, `--repeat` rounds, best of each.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_plan import make_data  # noqa: E402

from syncer import plan, planfiles  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--properties", type=int, default=10)
    parser.add_argument("--changed", type=float, default=0.1)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    local, remote = make_data(args.rows, args.properties, args.changed, 0.0)
    built = plan.build(local, remote, object_type="2-3465404", id_property="vin")
    del local, remote
    start = time.perf_counter()
    document = planfiles.to_json(built)
    print(f"{args.rows:,} actions, {args.properties} properties: to_json {time.perf_counter() - start:.2f} s")
    encoders = {
        "compact json.dumps": lambda: json.dumps(document, ensure_ascii=False, separators=(",", ":")),
        "plan file (planfiles.document_text)": lambda: planfiles.document_text(document),
        "indent=1 (before)": lambda: json.dumps(document, ensure_ascii=False, indent=1),
    }
    best = {name: float("inf") for name in encoders}
    sizes = {}
    for _ in range(args.repeat):
        for name, encode in encoders.items():
            start = time.perf_counter()
            text = encode()
            best[name] = min(best[name], time.perf_counter() - start)
            sizes[name] = len(text.encode("utf-8"))
            assert json.loads(text) == document if args.rows <= 200_000 else True
    for name, seconds in best.items():
        print(f"{name:>32}: {seconds:6.2f} s  {sizes[name] / 2**20:6.1f} MiB  "
              f"{seconds / best['compact json.dumps']:.2f}x compact")
    start = time.perf_counter()
    planfiles.dumps(built)
    print(f"{'planfiles.dumps (to_json + text)':>32}: {time.perf_counter() - start:6.2f} s")


if __name__ == "__main__":
    main()
