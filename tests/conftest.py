"""Shared fixtures. Tests drive the real path: syncer talks HTTP to a sandbox portal on loopback."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


@pytest.fixture
def sandbox():
    """A fresh, seeded sandbox portal on a free loopback port, served from a background thread."""
    from syncer.sandbox import Sandbox

    with Sandbox() as portal:
        yield portal
