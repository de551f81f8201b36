"""Shared fixtures. Tests drive the real path: syncer talks HTTP to a sandbox portal on loopback."""

from __future__ import annotations

import csv
import os
import shutil
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

REPO = Path(__file__).resolve().parents[1]

# pandas keeps text in Arrow when pyarrow is installed and in Python objects otherwise, and the two
# follow different string rules (case, digits, whitespace). pyarrow is not one of syncer's
# dependencies, so the suite runs with Python storage, as most users' machines do (the CLI run as a
# child process takes pandas' default); tests/test_arrow_text.py runs the modules that convert, plan
# and round-trip values once more with text in Arrow, through this variable.
STRING_STORAGE = os.environ.get("SYNCER_TEST_STRING_STORAGE", "python")
pd.set_option("mode.string_storage", STRING_STORAGE)


@pytest.fixture(autouse=True)
def no_state_dir_from_outside(monkeypatch):
    """A SYNCER_STATE_DIR in the environment running the tests must not move their state."""
    monkeypatch.delenv("SYNCER_STATE_DIR", raising=False)


@pytest.fixture
def sandbox(request):
    """A fresh, seeded sandbox portal on a free loopback port, served from a background thread.
    Indirect parametrization gives it HubSpot variants (syncer.sandbox.Variants):
    `@pytest.mark.parametrize("sandbox", [Variants(...)], indirect=True)`; without, its search
    index catches up at once (INSTANT_INDEX)."""
    from syncer.sandbox import Sandbox

    with Sandbox(variants=getattr(request, "param", None)) as portal:
        yield portal


@pytest.fixture
def client(sandbox):
    """A HubSpotClient on the sandbox portal, with short backoffs so retry tests stay quick."""
    from syncer.hubspot import HubSpotClient

    with HubSpotClient(sandbox.base_url, sandbox.token, backoff_base=0.02, max_retry_time=30) as hubspot:
        yield hubspot


def copy_project(folder: Path) -> Path:
    """The sample mapping and data copied into `folder`, without the state a run of the README's
    commands leaves beside the mapping (mappings/.syncer), so every test starts clean."""
    shutil.copytree(REPO / "mappings", folder / "mappings", ignore=shutil.ignore_patterns(".syncer"))
    shutil.copytree(REPO / "sample_data", folder / "sample_data", ignore=shutil.ignore_patterns(".syncer"))
    return folder


@pytest.fixture
def project(tmp_path):
    """A copy of the sample mapping and data, so tests can edit the sheet."""
    return copy_project(tmp_path)


@pytest.fixture
def run(sandbox, project, monkeypatch):
    """Invoke the CLI in the project folder against the sandbox; returns click's Result."""
    from syncer.cli import cli

    monkeypatch.chdir(project)

    def invoke(*args):
        return CliRunner().invoke(cli, [*args, "--base-url", sandbox.base_url, "--token", sandbox.token])

    return invoke


def snapshot_path(mapping: Path) -> Path:
    """The two-way sync snapshot beside `mapping`, which state.path_for keys by portal (a test uses
    one portal); a path that does not exist when there is none."""
    found = sorted((mapping.parent / ".syncer").glob(f"{mapping.stem}.*.sync.sqlite"))
    assert len(found) <= 1, found
    return found[0] if found else mapping.parent / ".syncer" / f"{mapping.stem}.none.sync.sqlite"


def sheet_rows(path) -> list[dict]:
    """A CSV sheet's rows as dicts of text, as a person's edit sees them."""
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def write_sheet(path, rows: list[dict]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def on_small_csv(project: Path, rows: int) -> Path:
    """Point the project's mapping at its CSV sheet cut to `rows` rows, without the association
    column, so a test stays small. Returns the project."""
    mapping = project / "mappings" / "cars.yaml"
    text = mapping.read_text().replace("source: ../sample_data/cars.xlsx", "source: ../sample_data/cars.csv")
    text = text.replace("sheet: Inventory\n", "")
    mapping.write_text(text[:text.index("associations:")] + text[text.index("sync:"):])
    sheet = project / "sample_data" / "cars.csv"
    write_sheet(sheet, sheet_rows(sheet)[:rows])
    return project
