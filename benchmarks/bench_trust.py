"""The operator-trust stages beside the planner they follow: cost estimate, undo plan, review workbook.

    python benchmarks/bench_trust.py --rows 1000000 --properties 10

On the same synthetic plan (bench_plan.make_data: a quarter new rows, a third of the rest changed)
it times plan.build (the baseline every run already pays), plan.estimate, jobs.build_undo from a
Results in which every write succeeded, and, up to --review-rows rows, report.write_review (with
its approve column and plan file). The ratio is each stage's time over plan.build's: the trust
features should stay small beside planning, which itself is far below the API time.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_plan import make_data  # noqa: E402


def timed(label, function, baseline=None):
    start = time.perf_counter()
    value = function()
    seconds = time.perf_counter() - start
    ratio = f"{seconds / baseline:.2f}x plan.build" if baseline else "baseline"
    print(f"{label:<28} {seconds:8.2f} s   {ratio}")
    return value, seconds


def succeeded(built):
    """Results as if HubSpot did exactly what the plan said, with an updatedAt per written record."""
    from syncer.execute import PREDICTED, Results, RowOutcome

    outcomes, updated_at = [], {}
    for number, line in zip(built.actions.index, built.actions.itertuples(index=False)):
        record_id = line.record_id if isinstance(line.record_id, str) else f"new-{number}"
        outcomes.append(RowOutcome(row=int(line.row), key=line.key, action=line.action,
                                   outcome=PREDICTED[line.action], record_id=record_id))
        updated_at[record_id] = "2026-01-02T00:00:00.000Z"
    return Results(outcomes, updated_at=updated_at, meta={"run_id": "bench"})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--properties", type=int, default=10)
    parser.add_argument("--review-rows", type=int, default=20_000, help="write_review only up to this many rows")
    args = parser.parse_args()

    from syncer import jobs, plan, report
    from syncer.hubspot.models import RateLimit

    local, remote = make_data(args.rows, args.properties)
    print(f"{args.rows:,} rows, {args.properties} properties")
    built, base = timed("plan.build", lambda: plan.build(local, remote, object_type="2-3465404", id_property="vin"))
    limit = RateLimit(190, 10_000, 190, 1_000_000, 1_000_000)
    estimate, _ = timed("plan.estimate", lambda: plan.estimate(built, limit), base)
    print(f"  {estimate['total_calls']:,} calls, at least {estimate['seconds']:,} s at the limit")
    results = succeeded(built)
    undo, _ = timed("jobs.build_undo", lambda: jobs.build_undo(built, results, client=None), base)
    print(f"  undo: {undo.counts()}")
    if args.rows <= args.review_rows:
        with tempfile.TemporaryDirectory() as folder:
            timed("report.write_review", lambda: report.write_review(built, Path(folder) / "review.xlsx"), base)


if __name__ == "__main__":
    main()
