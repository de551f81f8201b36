"""The operator-trust stages beside the planner they follow: cost estimate, undo plan, review workbook.

    python benchmarks/bench_trust.py --rows 1000000 --properties 10
    python benchmarks/bench_trust.py --rows 20000 --repeat 3

On the same synthetic plan (bench_plan.make_data: a quarter new rows, a third of the rest changed)
it times plan.build (the baseline every run already pays), plan.estimate, runs.build_undo from a
Results in which every write succeeded, and, up to --review-rows rows, report.write_review (with
its approve column and the plan kept inside) beside the two-pass way it was written before
(write the sheets, load the workbook again to highlight the values sent, save), and
planfiles.read_review. The ratio is each stage's time over plan.build's: the trust features should
stay small beside planning, which itself is far below the API time.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_plan import make_data  # noqa: E402


REPEAT = 1  # --repeat: each stage's best of this many runs, on a machine others share


def timed(label, function, baseline=None):
    seconds = float("inf")
    for _ in range(REPEAT):
        start = time.perf_counter()
        value = function()
        seconds = min(seconds, time.perf_counter() - start)
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


def review_in_two_passes(built, path):
    """The review workbook as write_review made it before: the sheets through tables.write_sheets
    and the plan file beside them, then the workbook loaded again to fill the values sent, and saved."""
    import hashlib

    import pandas as pd
    from openpyxl import load_workbook
    from openpyxl.styles import PatternFill
    from syncer import plan, planfiles, report, tables

    changed = PatternFill("solid", fgColor="FFEB9C")
    text = planfiles.dumps(built)
    facts = [("plan digest", hashlib.sha256(text.encode()).hexdigest()), *built.counts().items()]
    sheets = {"Summary": pd.DataFrame(facts, columns=["item", "value"])}
    for kind in plan.ActionKind:
        numbers = built.of_kind(kind)
        if len(numbers) and kind is not plan.ActionKind.UNCHANGED:
            sheets[kind.value.capitalize()] = report._action_frame(built, kind, numbers, report._Display.of(built))
    tables.write_sheets(sheets, path)
    path.with_suffix(".plan.json").write_text(text, encoding="utf-8")
    book = load_workbook(path)
    for name in ("Create", "Update"):
        sheet = book[name]
        for col, title in enumerate([cell.value for cell in sheet[1]], start=1):
            if title in ("row", "key", "record_id", "approve", "plan_action") or str(title).endswith("(before)"):
                continue
            for (cell,) in sheet.iter_rows(min_row=2, min_col=col, max_col=col):
                if cell.value not in (None, ""):
                    cell.fill = changed
    book.save(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--properties", type=int, default=10)
    parser.add_argument("--review-rows", type=int, default=20_000, help="write_review only up to this many rows")
    parser.add_argument("--repeat", type=int, default=1, help="time each stage as the best of this many runs")
    args = parser.parse_args()
    global REPEAT
    REPEAT = max(args.repeat, 1)

    from syncer import plan, planfiles, report, runs
    from syncer.hubspot import HubSpotClient
    from syncer.hubspot.models import RateLimit

    local, remote = make_data(args.rows, args.properties)
    print(f"{args.rows:,} rows, {args.properties} properties")
    built, base = timed("plan.build", lambda: plan.build(local, remote, object_type="2-3465404", id_property="vin"))
    limit = RateLimit(190, 10_000, 190, 1_000_000, 1_000_000)
    estimate, _ = timed("plan.estimate", lambda: plan.estimate(built, limit), base)
    print(f"  {estimate['total_calls']:,} calls, at least {estimate['seconds']:,} s at the limit")
    results = succeeded(built)
    # every write succeeded, so build_undo asks the portal nothing: a client that reaches no portal will do
    with HubSpotClient("http://127.0.0.1:9", "unused") as client:
        undo, _ = timed("runs.build_undo", lambda: runs.build_undo(built, results, client), base)
    print(f"  undo: {undo.counts()}")
    if args.rows <= args.review_rows:
        with tempfile.TemporaryDirectory() as folder:
            _, before = timed("write_review before (2 passes)",
                              lambda: review_in_two_passes(built, Path(folder) / "old.xlsx"), base)
            _, after = timed("report.write_review", lambda: report.write_review(built, Path(folder) / "review.xlsx"),
                             base)
            print(f"  write_review: {before / after:.1f}x faster than before")
            _, read = timed("planfiles.read_review", lambda: planfiles.read_review(Path(folder) / "review.xlsx"), base)


if __name__ == "__main__":
    main()
