"""The undo journal: a run's undo entries reach the disk before its writes reach HubSpot, so the
undo of a run under faults, or of a run killed mid-push, puts the portal back as it was: the same
records, values and associations (each car's contacts, with their association types)."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest
from click.testing import CliRunner

import syncer
from sample_data.make_samples import grow
from syncer import runs
from syncer.cli import cli
from syncer.hubspot import HubSpotClient
from syncer.sandbox import Sandbox
from test_push_process import start_push

CARS = "2-3465404"
BEFORE, GROWN = 1500, 2500  # records before the run; rows of the sheet the run pushes
CHANGED = 400  # of the records before the run, those the run gives a new price
RELINKED = 600  # of the records before the run, those the run re-links to another owner (the first CHANGED too)
OWNER_LABEL = 77  # the car_owner association type, cars → contacts (mappings/cars.yaml)
# The seeding, the run and its undo make some 300 calls in a few seconds: above the default limit of
# 190 per 10 s, so each new client (the CLI's) would wait out the window the previous ones filled.
RATE_LIMIT = 10_000


def fast_client(portal):
    return HubSpotClient(portal.base_url, portal.token, backoff_base=0.01, max_retry_time=60)


def snapshot(portal, properties):
    """Every live record by vin: its pushed properties, and under "contacts" its associations to
    contacts as a sorted list of (contact id, association type ids)."""
    with fast_client(portal) as client:
        records = list(client.list_records(CARS, properties=properties))
        links = client.batch_read_associations(CARS, "contacts", [r.id for r in records])
    return {r.properties["vin"]: {**{p: r.properties.get(p) for p in properties},
                                  "contacts": sorted((a.to_id, sorted(a.type_ids)) for a in links[r.id])}
            for r in records}


def owners(state):
    """vin → the contact ids a car is linked to as its owner."""
    return {vin: [to for to, types in record["contacts"] if OWNER_LABEL in types] for vin, record in state.items()}


def seeded_portal(tmp_path, portal):
    """BEFORE records pushed from a sheet, each linked to its owner, then the sheet grown to GROWN
    rows, CHANGED of them with a new price and RELINKED with another owner: the run under test
    updates RELINKED records (re-linking them: the old owner unlinked, the new one linked) and
    creates GROWN - BEFORE, each linked to its owner."""
    mapping = grow(tmp_path, BEFORE)
    with fast_client(portal) as client:
        assert syncer.apply_plan(syncer.build_plan(mapping, client), client, undo=False).exit_code == 0
        grow(tmp_path, GROWN, changed=CHANGED, relinked=RELINKED)
        built = syncer.build_plan(mapping, client)
    assert built.counts()["update"] == RELINKED and built.counts()["create"] == GROWN - BEFORE
    assert built.counts()["error"] == 0
    return mapping, built


def assert_before(state):
    """The seeded portal: BEFORE cars, each linked to exactly one contact, as its owner."""
    assert len(state) == BEFORE
    assert all(record["contacts"] == [(record["contacts"][0][0], [OWNER_LABEL])] for record in state.values())


def assert_pushed(state, before):
    """The run wrote what it planned: GROWN cars, the new ones and the re-linked ones linked to their
    (new) owner alone, the others as they were."""
    assert len(state) == GROWN
    linked, was = owners(state), owners(before)
    moved = [vin for vin in was if linked[vin] != was[vin]]
    assert len(moved) == RELINKED and all(len(linked[vin]) == 1 for vin in moved)
    assert all(len(linked[vin]) == 1 for vin in set(state) - set(before))


def apply_cli(path, portal):
    return CliRunner().invoke(cli, ["apply", str(path), "--yes", "--base-url", portal.base_url,
                                    "--token", portal.token])


def test_undo_of_a_push_under_faults_restores_the_portal_exactly(tmp_path):
    with Sandbox(ordered_results=True, rate_limit=RATE_LIMIT) as portal:
        mapping, built = seeded_portal(tmp_path, portal)
        before = snapshot(portal, built.properties + ["vin"])
        assert_before(before)
        portal.set_faults("429:0.08,503:0.08,drop:0.12", seed=7)
        portal.clear_log()
        with fast_client(portal) as client:
            results = syncer.apply_plan(built, client)
        portal.set_faults("")
        landed = [e for e in portal.request_log if e.fault and e.applied]
        assert [e for e in landed if e.path.endswith("/batch/upsert")], \
            "the seed must lose an answer (5xx, dropped) after its upsert landed"
        assert [e for e in landed if "/associations/" in e.path and e.fault == "drop"], \
            "the seed must drop an answer after its link or unlink landed"
        assert results.exit_code == 0, results.counts()
        assert_pushed(snapshot(portal, built.properties + ["vin"]), before)
        # every create landed as the run's own record, reported so, even where the retry said new: false
        created = [o for o in results.outcomes if o.action == "create"]
        assert {o.outcome.value for o in created} == {"created"}, results.counts()
        journal = runs.journal_path(runs.undo_path(built, results.meta.run_id))
        assert not journal.exists() and results.meta.undo
        undo = json.loads(Path(results.meta.undo).read_text())
        assert undo["counts"]["archive"] == GROWN - BEFORE and undo["counts"]["update"] == RELINKED
        reverted = apply_cli(results.meta.undo, portal)
        assert reverted.exit_code == 0, reverted.output
        assert snapshot(portal, built.properties + ["vin"]) == before


# Where the kill lands. The run reads, then sends the creates (10 upserts, then their 10 links) and
# the updates (6 batch updates, then 6 unlinks of the old owners, then 6 links of the new ones).
KILLS = {
    # 5 upserts answered, the 6th lands after the kill: created cars, none linked yet
    "mid-creates": ("/batch/upsert", 6),
    # every create linked, every update sent, every old owner unlinked, the first link of a new owner
    # held (it lands after the kill) and the others landed as far as the client had sent them
    "mid-relinks": (f"/crm/v4/associations/{CARS}/0-1/batch/create", 11),
}


@pytest.mark.parametrize("kill", list(KILLS))
def test_the_journal_a_killed_push_leaves_reverts_it_and_the_next_run_names_it(tmp_path, kill):
    with Sandbox(ordered_results=True, rate_limit=RATE_LIMIT) as portal:
        mapping, built = seeded_portal(tmp_path, portal)
        before = snapshot(portal, built.properties + ["vin"])
        assert_before(before)
        path_end, nth = KILLS[kill]
        gate = portal.hold("POST", path_end, nth=nth)
        push = start_push(mapping, portal)
        assert gate.reached.wait(60), push.communicate()[1]
        push.send_signal(signal.SIGKILL)
        push.communicate(timeout=30)
        gate.release()  # the held write still lands, after the kill: the journal must cover it
        [journal] = (tmp_path / ".syncer").glob("undo-*.journal")
        assert not list((tmp_path / ".syncer").glob("undo-*.json"))
        header, entries = runs.read_journal(journal)
        assert header["run_id"] in journal.name
        killed = snapshot(portal, built.properties + ["vin"])
        assert len(killed) > BEFORE  # the killed run did write
        journalled = [e["undo"] for e in entries]
        if kill == "mid-creates":
            assert journalled.count("archive_if_created") >= 600 and "restore" not in journalled
        else:
            assert journalled.count("archive_if_created") == GROWN - BEFORE and journalled.count("restore") == RELINKED
            linked, was = owners(killed), owners(before)
            moved = [vin for vin in was if linked[vin] != was[vin]]
            assert len(moved) == RELINKED and all(len(linked[vin]) <= 1 for vin in moved)  # no owner, or the new one
        # the next run on the mapping turns the journal into its undo plan before it writes, and names it
        other = tmp_path / "one.csv"
        lines = (tmp_path / "cars.csv").read_text().splitlines()
        other.write_text("\n".join([lines[0], lines[1].replace("GROWN", "OTHER", 1)]) + "\n")
        with fast_client(portal) as client:
            nxt = syncer.apply_plan(syncer.build_plan(mapping, client, source=other), client)
        [recovered] = nxt.meta.recovered_undo
        assert not journal.exists() and recovered == str(journal.with_suffix(".json"))
        if kill == "mid-relinks":  # every create archived, every re-link (and new price) reverted
            counts = json.loads(Path(recovered).read_text())["counts"]
            assert counts["archive"] == GROWN - BEFORE and counts["update"] == RELINKED
        for undo in (nxt.meta.undo, recovered):
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
