"""The same values, plans and round trips with pandas' text in Arrow.

With pyarrow installed (users may have it; syncer does not need it) pandas stores text in Arrow,
whose string rules differ from Python's: Arrow lowers "İ" to "i", its regular expressions' `\\d` is
ASCII only, "\\x1c" is no whitespace to it. Such differences once made a sheet plan a change on
every run, and made every push report fail, only on machines with pyarrow. The suite runs with
Python storage (tests/conftest.py); this test runs the modules that convert, plan, push and
round-trip values once more, in a child pytest, with Arrow storage.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[1]
MODULES = [
    "tests/test_values.py", "tests/test_perf_values.py", "tests/test_perf_equivalence.py",
    "tests/test_lossless_values.py", "tests/test_tables_lossless.py", "tests/test_plan.py",
    "tests/test_push_api.py", "tests/test_roundtrip.py", "tests/test_lossless_sync.py",
    "tests/test_arrow_text.py",  # the check below, that the child run's text is in Arrow
]


def test_text_is_stored_as_the_run_asks():
    storage = os.environ.get("SYNCER_TEST_STRING_STORAGE", "python")
    assert pd.Series(["İ"]).dtype.storage == storage
    assert pd.read_csv(io.StringIO("a\nx"), dtype=str)["a"].dtype.storage == storage


@pytest.mark.slow
@pytest.mark.skipif(os.environ.get("SYNCER_TEST_STRING_STORAGE") == "pyarrow", reason="this is the Arrow run")
def test_values_plans_pushes_and_round_trips_agree_with_text_in_arrow(tmp_path):
    pytest.importorskip("pyarrow", reason="pip install -e '.[test]' installs pyarrow")
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         "--basetemp", str(tmp_path / "arrow"), *MODULES],
        cwd=REPO, env={**os.environ, "SYNCER_TEST_STRING_STORAGE": "pyarrow"}, capture_output=True, text=True)
    summary = run.stdout.strip().splitlines()[-1] if run.stdout.strip() else run.stderr[-2000:]
    assert run.returncode == 0, f"with text in Arrow: {summary}\n{run.stdout[-6000:]}"
    assert " passed" in summary and "failed" not in summary
