"""push as a real subprocess: interrupted with Ctrl-C, and killed with SIGKILL at random moments.

The sandbox holds one chosen request (Sandbox.hold) so the signal lands at an exact point of the
run, with no timing involved.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys

import pytest
from click.testing import CliRunner

from sample_data.make_samples import grow
from syncer.cli import cli
from syncer.sandbox import Sandbox

CARS = "2-3465404"


def start_push(mapping, portal, *extra):
    command = [sys.executable, "-m", "syncer", "push", str(mapping), "--yes", "--quiet",
               "--base-url", portal.base_url, "--token", portal.token, *extra]
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUBSPOT_")}
    return subprocess.Popen(command, cwd=mapping.parent, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def vins(portal):
    from syncer.hubspot import HubSpotClient

    with HubSpotClient(portal.base_url, portal.token) as client:
        return [r.properties["vin"] for r in client.list_records(CARS, properties=["vin"])]


def test_ctrl_c_finishes_the_batches_in_flight_and_still_writes_the_report(tmp_path):
    mapping = grow(tmp_path, 2500)
    with Sandbox() as portal:
        gate = portal.hold("POST", "/batch/upsert")
        push = start_push(mapping, portal, "--report", "report.json")
        assert gate.reached.wait(60), push.stderr.read() if push.poll() is not None else "no upsert seen"
        push.send_signal(signal.SIGINT)
        gate.release()
        out, err = push.communicate(timeout=120)
        assert push.returncode == 1, out + err
        report = json.loads((tmp_path / "report.json").read_text())
        counts = report["counts"]
        assert report["interrupted"] is True
        assert len(report["rows"]) == 2500
        assert counts["created"] + counts["skipped"] == 2500
        assert 0 < counts["created"] < 2500
        assert len(vins(portal)) == counts["created"]
        assert "Stopped early" in out


@pytest.mark.parametrize("attempt", range(10))
def test_a_push_killed_at_any_moment_converges_when_run_again(tmp_path, attempt):
    mapping = grow(tmp_path, 450)
    chooser = random.Random(attempt)
    with Sandbox(fault_seed=attempt) as portal:
        # a 450-row push sends 5 batch reads then 5 upserts: kill it while one of them is held
        gate = portal.hold("POST", "", nth=chooser.randint(1, 10))
        push = start_push(mapping, portal)
        assert gate.reached.wait(60), push.communicate()[1]
        push.send_signal(signal.SIGKILL)
        push.communicate(timeout=30)  # reaps it and closes its pipes
        gate.release()  # the held request still lands, as a write can on the real service after a cut
        rerun = CliRunner().invoke(cli, ["push", str(mapping), "--yes", "--base-url", portal.base_url,
                                         "--token", portal.token])
        assert rerun.exit_code == 0, rerun.output
        found = vins(portal)
        assert len(found) == len(set(found)) == 450
        again = CliRunner().invoke(cli, ["plan", str(mapping), "--base-url", portal.base_url,
                                         "--token", portal.token])
        assert "unchanged 450" in again.output
