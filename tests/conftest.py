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


@pytest.fixture
def client(sandbox):
    """A HubSpotClient on the sandbox portal, with short backoffs so retry tests stay quick."""
    from syncer.hubspot import HubSpotClient

    with HubSpotClient(sandbox.base_url, sandbox.token, backoff_base=0.02, max_retry_time=30) as hubspot:
        yield hubspot
