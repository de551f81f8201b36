"""Soak issue #11's round-trip properties (tests/test_roundtrip.py) with many more examples.

    python benchmarks/roundtrip_soak.py [EXAMPLES] [--formats xlsx,csv-cp1252-semicolon] [--checks sync]
                                        [--seed N] [--shrink] [--max-records N]

Each check (export: an unchanged export plans nothing; sync: a sync with no edits writes nothing;
write-back: `push --write-back` then a plan plans nothing; each ending with HubSpot's values as
seeded) runs in every format (CSV in utf-8, utf-8-sig, cp1252 and utf-16 with `,` `;` and tab;
xlsx) on EXAMPLES generated batches (default 25), against a sandbox portal over HTTP.

By default a failing example does not stop the run: every problem line is kept, grouped by its
shape (values and numbers blanked), and printed at the end with how often it came and its first
few instances, so one run lists every distinct way a round trip broke. `--shrink` instead lets
hypothesis stop at a check's first failure and shrink it to a minimal batch (slow: each step
drives the CLI). Exits 1 when anything failed. Not collected by pytest (benchmarks/ is outside
testpaths, and the name does not start with test_).
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from hypothesis import HealthCheck, Phase, given, seed as hypothesis_seed, settings  # noqa: E402

import roundtrip_support as rt  # noqa: E402
from syncer.sandbox import Sandbox  # noqa: E402

CHECKS = {"export": rt.check_export_plans_nothing, "sync": rt.check_sync_writes_nothing,
          "write-back": rt.check_write_back_plans_nothing}
# a value as roundtrip_support.show() prints it (a repr, maybe clipped), a number, a record's path
_VALUE = re.compile(r"""(?<=[\s:{\[(=])(?:'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")(?:… \([\d,]+ chars\))?"""
                    r"""|(?<![\w-])\d[\d,.]*|/crm/v3/objects/[^/]+/|(?<=\s)/\S+""")
_PLAN_LINE = re.compile(r"^(?P<step>\([a-d]\)[^:]*, plan): (?P<fmt>[\w-]+): (?P<held>planned a change from a cell "
                        r"the format cannot hold \([^)]*\): )?row \S+ key (?P<key>.+?): (?P<action>create|update|error)"
                        r"(?P<rest>.*)$")
_CHANGE = re.compile(r"; (?P<prop>[a-z_]+): (?P<change>.+?)(?=; [a-z_]+: |$)")
_HUBSPOT = re.compile(r"^(?P<step>\(d\)[^:]*): HubSpot's (?P<prop>\w+) of (?P<key>.+?) changed: (?P<change>.*)$")
EXAMPLES_PER_SHAPE = 3


def shape(line: str) -> str:
    """A problem line with its values blanked, so the same failure in other values groups together."""
    line = re.sub(r"(created|updated) [a-z_, ]+", r"\1 …", line.split(" (at ")[0])
    line = re.sub(r"\b(sheet|export)\.(csv|xlsx)\b", r"the sheet", line)
    line = re.sub(r'column "([^"]+)"', r"column <\1>", re.sub(r" \[.*", " […]", line))
    parts = _VALUE.sub("…", line).split("; ")
    return "; ".join(dict.fromkeys(parts))[:200]  # "a; a; b" (one part per row) → "a; b"


def findings(line: str, fmt: str) -> list[tuple[str, str]]:
    """(shape, example) pairs of one problem line: a plan's update gives one per changed property
    (the value before and after is the example), HubSpot's changed values one per property."""
    planned = _PLAN_LINE.match(line)
    line = line.replace(f": {fmt}:", ":").replace(f"{fmt} cannot", "the format cannot")
    if planned:
        step, key, action = planned["step"], planned["key"], planned["action"]
        held = "from a cell the format cannot hold " if planned["held"] else ""
        if action == "update":
            return [(f"{step}: {held}update of {c['prop']}", f"key {key}: {c['prop']}: {c['change']}")
                    for c in _CHANGE.finditer(planned["rest"])]
        if action == "create":
            return [(f"{step}: {held}create: the key did not read back as it is in HubSpot", f"key {key}")]
        return [(shape(f"{step}: error{planned['rest']}"), f"key {key}{planned['rest']}")]
    changed = _HUBSPOT.match(line)
    if changed:
        return [(f"{changed['step']}: HubSpot's {changed['prop']} changed",
                 f"key {changed['key']}: {changed['change']}")]
    if "HubSpot gained record" in line or "the sheet lost the rows of" in line:
        return []  # the create that made it is listed
    return [(shape(line), line)]


class Catalog:
    """Distinct problems: how often each came, in which formats, and a few examples."""

    def __init__(self) -> None:
        self.counts: Counter = Counter()
        self.formats: dict[str, set] = {}
        self.examples: dict[str, list] = {}

    def add(self, check: str, fmt: str, message: str) -> None:
        for line in problem_lines(message):
            for found, example in findings(line, fmt):
                key = f"[{check}] {found}"
                self.counts[key] += 1
                self.formats.setdefault(key, set()).add(fmt)
                seen = self.examples.setdefault(key, [])
                if len(seen) < EXAMPLES_PER_SHAPE and all(example != e for _, e in seen):
                    seen.append((fmt, example))

    def render(self) -> str:
        lines = []
        everywhere = {f.id for f in rt.FORMATS}
        for key, count in self.counts.most_common():
            formats = self.formats[key]
            where = "every format" if formats == everywhere else ", ".join(sorted(formats))
            lines.append(f"\n{count:>5} × {key}   [{where}]")
            lines += [f"        e.g. {fmt}: {rt.clip(example, 600)}" for fmt, example in self.examples[key]]
        return "\n".join(lines)


def problem_lines(message: str) -> list[str]:
    """The problem lines of a check's AssertionError (each starts with "(a)".."(d)" or a step name);
    continuation lines (a command's output) are folded into their problem."""
    lines: list[str] = []
    for line in message.splitlines()[1:]:
        if line.startswith("(") or not lines:
            lines.append(line)
        else:
            lines[-1] += " ⏎ " + line.strip()
    return lines


def run_check(name: str, fmt: rt.Format, examples: int, *, max_records: int, shrink: bool, seed: int | None,
              catalog: Catalog) -> tuple[int, int, str | None]:
    """Run one check in one format; returns (examples run, examples failed, the shrunk failure)."""
    check = CHECKS[name]
    counts = {"run": 0, "failed": 0}
    with Sandbox(rate_limit=1_000_000, search_rate_limit=10_000) as sandbox, \
            tempfile.TemporaryDirectory(prefix="roundtrip-soak-") as tmp:
        portal = rt.Portal(sandbox)
        phases = (Phase.explicit, Phase.generate, Phase.shrink) if shrink else (Phase.explicit, Phase.generate)

        @settings(max_examples=examples, deadline=None, database=None, phases=phases,
                  suppress_health_check=list(HealthCheck))
        @given(batch=rt.batches(max_size=max_records))
        def property_(batch):
            counts["run"] += 1
            folder = Path(tmp) / f"example-{counts['run']}"
            try:
                check(portal, folder, fmt, batch)
            except AssertionError as error:
                counts["failed"] += 1
                catalog.add(name, fmt.id, str(error))
                if shrink:
                    raise

        if seed is not None:
            property_ = hypothesis_seed(seed)(property_)
        shrunk = None
        try:
            property_()
        except AssertionError as error:
            notes = "\n".join(getattr(error, "__notes__", []))
            shrunk = f"{error}\n{notes}".strip()
        finally:
            portal.close()
    return counts["run"], counts["failed"], shrunk


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("examples", nargs="?", type=int, default=25, help="generated batches per check and format")
    parser.add_argument("--formats", default="", help=f"comma-separated, of: {', '.join(f.id for f in rt.FORMATS)}")
    parser.add_argument("--checks", default="", help=f"comma-separated, of: {', '.join(CHECKS)}")
    parser.add_argument("--max-records", type=int, default=8, help="records per generated batch (at most)")
    parser.add_argument("--seed", type=int, help="make the generated batches repeatable")
    parser.add_argument("--shrink", action="store_true", help="stop at each check's first failure and shrink it")
    args = parser.parse_args(argv)
    formats = [rt.FORMAT[f] for f in args.formats.split(",") if f] or rt.FORMATS
    checks = [c for c in args.checks.split(",") if c] or list(CHECKS)
    catalog = Catalog()
    failed_any = False
    started = time.perf_counter()
    print(f"{'check':<11} {'format':<24} {'examples':>8} {'failed':>7} {'seconds':>8}")
    for name in checks:
        for fmt in formats:
            began = time.perf_counter()
            ran, failed, shrunk = run_check(name, fmt, args.examples, max_records=args.max_records,
                                            shrink=args.shrink, seed=args.seed, catalog=catalog)
            failed_any |= bool(failed)
            print(f"{name:<11} {fmt.id:<24} {ran:>8} {failed:>7} {time.perf_counter() - began:>8.1f}", flush=True)
            if shrunk:
                print("  minimal failing example:\n    " + "\n    ".join(rt.clip(shrunk, 4000).splitlines()))
    print(f"\n{sum(catalog.counts.values())} problems of {len(catalog.counts)} kinds in "
          f"{time.perf_counter() - started:.0f} s (count × [check] step: what; the formats it came in):")
    print(catalog.render())
    return 1 if failed_any else 0


if __name__ == "__main__":
    sys.exit(main())
