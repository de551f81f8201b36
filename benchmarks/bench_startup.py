"""Start-up: `syncer --help`, `--version` and each subcommand's `--help` against a bare
`python -c pass`, and `import syncer` against it, each a fresh process, interleaved.

    python benchmarks/bench_startup.py [--repeat 7]

The baseline is the interpreter's own start (what no Python CLI can beat); the goal is within 5x.
The median of `--repeat` runs is reported per command, all commands measured in turn in each round
so the machine's noise falls on all of them alike.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time

import click

from syncer.cli import cli


def commands() -> list[list[str]]:
    found = [["--help"], ["--version"]]
    for name, command in cli.commands.items():
        found.append([name, "--help"])
        if isinstance(command, click.Group):
            found += [[name, sub, "--help"] for sub in command.commands]
    return found


def timed(argv: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    syncer = shutil.which("syncer") or sys.exit("install syncer first: pip install -e .")
    runs = {"python -c pass": [sys.executable, "-c", "pass"],
            "python -c 'import syncer'": [sys.executable, "-c", "import syncer"],
            **{"syncer " + " ".join(c): [syncer, *c] for c in commands()}}
    seconds: dict[str, list[float]] = {label: [] for label in runs}
    for _ in range(args.repeat):
        for label, argv in runs.items():
            seconds[label].append(timed(argv))
    base = statistics.median(seconds["python -c pass"])
    print(f"| command | median of {args.repeat} | vs python -c pass |\n| --- | ---: | ---: |")
    for label, taken in seconds.items():
        print(f"| `{label}` | {statistics.median(taken) * 1000:.0f} ms | {statistics.median(taken) / base:.1f}x |")


if __name__ == "__main__":
    main()
