"""The undo journal: a run's undo entries reach the disk before its writes reach HubSpot, so the
undo of a run under faults, or of a run killed mid-push, puts the portal back as it was."""

from __future__ import annotations

import json
import signal
from pathlib import Path

from click.testing import CliRunner

import syncer
from sample_data.make_samples import grow
from syncer import jobs
from syncer.cli import cli
from syncer.hubspot import HubSpotClient
from syncer.sandbox import Sandbox
from test_push_process import start_push

CARS = "2-3465404"
BEFORE, GROWN = 1500, 2500  # records before the run; rows of the sheet the run pushes
CHANGED = 400  # of the records before the run, those the run updates


def fast_client(portal):
    return HubSpotClient(portal.base_url, portal.token, backoff_base=0.01, max_retry_time=60)


def snapshot(portal, properties):
    """Every live record's pushed properties, by vin."""
    with fast_client(portal) as client:
        return {r.properties["vin"]: {p: r.properties.get(p) for p in properties}
                for r in client.list_records(CARS, properties=properties)}


def seeded_portal(tmp_path, portal):
    """BEFORE records pushed from a sheet, then the sheet grown to GROWN rows, CHANGED of them with a
    new price: the run under test updates CHANGED records and creates GROWN - BEFORE."""
    mapping = grow(tmp_path, BEFORE, associations=False)
    with fast_client(portal) as client:
        assert syncer.apply_plan(syncer.build_plan(mapping, client), client, undo=False).exit_code == 0
        grow(tmp_path, GROWN, changed=CHANGED, associations=False)
        built = syncer.build_plan(mapping, client)
    assert built.counts()["update"] == CHANGED and built.counts()["create"] == GROWN - BEFORE
    return mapping, built


def apply_cli(path, portal):
    return CliRunner().invoke(cli, ["apply", str(path), "--yes", "--base-url", portal.base_url,
                                    "--token", portal.token])


def test_undo_of_a_push_under_faults_restores_the_portal_exactly(tmp_path):
    with Sandbox(ordered_results=True) as portal:
        mapping, built = seeded_portal(tmp_path, portal)
        before = snapshot(portal, built.properties + ["vin"])
        portal.set_faults("429:0.08,503:0.08,drop:0.12", seed=7)
        portal.clear_log()
        with fast_client(portal) as client:
            results = syncer.apply_plan(built, client)
        portal.set_faults("")
        replayed = [e for e in portal.request_log if e.path.endswith("/batch/upsert") and e.fault and e.applied]
        assert replayed, "the seed must drop an answer after its upsert landed"
        # every create landed as the run's own record, reported so, even where the retry said new: false
        created = [o for o in results.outcomes if o.action == "create"]
        assert {o.outcome.value for o in created} == {"created"}, results.counts()
        journal = jobs.journal_path(jobs.undo_path(built, results.meta["run_id"]))
        assert not journal.exists() and results.meta["undo"]
        undo = json.loads(Path(results.meta["undo"]).read_text())
        assert undo["counts"]["archive"] == GROWN - BEFORE and undo["counts"]["update"] == CHANGED
        reverted = apply_cli(results.meta["undo"], portal)
        assert reverted.exit_code == 0, reverted.output
        assert snapshot(portal, built.properties + ["vin"]) == before


def test_the_journal_a_killed_push_leaves_reverts_it_and_the_next_run_names_it(tmp_path):
    with Sandbox(ordered_results=True) as portal:
        mapping, built = seeded_portal(tmp_path, portal)
        before = snapshot(portal, built.properties + ["vin"])
        # the run reads 25 batches, then sends 10 upserts and 4 updates: kill it at its 6th upsert
        gate = portal.hold("POST", "/batch/upsert", nth=6)
        push = start_push(mapping, portal)
        assert gate.reached.wait(60), push.communicate()[1]
        push.send_signal(signal.SIGKILL)
        push.communicate(timeout=30)
        gate.release()  # the held upsert still lands, after the kill: the journal must cover it
        [journal] = (tmp_path / ".syncer").glob("undo-*.journal")
        assert not list((tmp_path / ".syncer").glob("undo-*.json"))
        header, entries = jobs.read_journal(journal)
        assert header["run_id"] in journal.name
        assert len([e for e in entries if e["undo"] == "archive_if_created"]) >= 600
        assert len(snapshot(portal, ["vin"])) > BEFORE  # the killed run did write
        # the next run on the mapping turns the journal into its undo plan before it writes, and names it
        other = tmp_path / "one.csv"
        lines = (tmp_path / "cars.csv").read_text().splitlines()
        other.write_text("\n".join([lines[0], lines[1].replace("GROWN", "OTHER", 1)]) + "\n")
        with fast_client(portal) as client:
            nxt = syncer.apply_plan(syncer.build_plan(mapping, client, source=other), client)
        [recovered] = nxt.meta["recovered_undo"]
        assert not journal.exists() and recovered == str(journal.with_suffix(".json"))
        for undo in (nxt.meta["undo"], recovered):
            reverted = apply_cli(undo, portal)
            assert reverted.exit_code == 0, reverted.output
        assert snapshot(portal, built.properties + ["vin"]) == before


def test_a_leftover_journal_is_named_on_stderr_by_the_next_push(tmp_path):
    with Sandbox() as portal:
        mapping = grow(tmp_path, 300, associations=False)
        gate = portal.hold("POST", "/batch/upsert", nth=2)
        push = start_push(mapping, portal)
        assert gate.reached.wait(60), push.communicate()[1]
        push.send_signal(signal.SIGKILL)
        push.communicate(timeout=30)
        gate.release()
        [journal] = (tmp_path / ".syncer").glob("undo-*.journal")
        again = start_push(mapping, portal)
        out, err = again.communicate(timeout=60)
        assert again.returncode == 0, out + err
        undo = journal.with_suffix(".json")
        assert (f"a previous run was interrupted (run {journal.stem[5:]}); its undo journal {journal} is now "
                f"the undo plan {undo}; revert with: syncer apply {undo}") in err
        assert not journal.exists() and json.loads(undo.read_text())["undo_of"] == journal.stem[5:]
