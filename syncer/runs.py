"""A run: a plan applied through the client with its safety net, and what comes after a run.

`apply_plan` appends each step's undo entries to the run's journal and fsyncs them before the step
is sent, turns a journal an earlier (killed) run left into its undo plan first, records the records
it owns, and saves the undo plan at the end. After a run: `retry_plan` sends only its failures
again and `merge_results` keeps one ledger; `build_undo` and `undo_from_journal` revert it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import os
import secrets
from collections import defaultdict, deque
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from syncer import associations, execute, ownership, plan, portals, settings, talk
from syncer.errors import InputError
from syncer.execute import Outcome, Results, RowOutcome, RunMeta
from syncer.jobs import find_stale, remote_frame, replan_stale
from syncer.planfiles import save_plan
from syncer.plan import ActionKind, Mode, Plan, PlanMeta, with_estimate

if TYPE_CHECKING:
    from syncer.hubspot.protocol import PortalClient

_log = logging.getLogger(__name__)


# --- applying ----------------------------------------------------------------------------------


def apply_plan(built: Plan, client: PortalClient, *, check_stale: bool = False, replan: bool = False,
               on_progress=None, should_stop=lambda: False, undo: bool = True) -> Results:
    """Execute a plan. With `check_stale` (a plan read from a file), records that changed in
    HubSpot since the plan was made are left alone and reported as conflicts — or, with `replan`,
    planned again against their current values.

    With `undo`, each step's undo entries are appended to the run's journal before the step is sent
    (see _Journal), a journal an earlier run on this mapping left behind is first turned into its
    undo plan and named (see recover_journals), and at the end an undo plan is saved when anything
    was written (the journal is then removed). The records written or found in step are recorded
    as owned by the plan's mapping. `results.meta` carries `run_id`, `started_at`, `estimate`,
    `undo` (its path, or None) and `recovered_undo` (undo plans made from earlier runs' journals). `results.calls` counts every request the
    run made, the stale check's reads included, as the estimate does.
    """
    refuse_unsafe(built)
    built = with_estimate(dataclasses.replace(built, meta=built.meta.copy()), stale_check=check_stale)
    recovered = recover_journals(built, client) if undo else []
    calls_before = client.calls
    conflicts: dict[int, str] = {}
    if check_stale:
        stale = find_stale(built, client)
        if replan:
            built = replan_stale(built, stale, client)
        else:
            conflicts = {n: why for n, (why, _) in stale.items()}
    run_id = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ-") + secrets.token_hex(2)
    started_at = execute.now_iso()
    journal = _Journal(built, run_id, started_at) if undo else None
    try:
        with talk.phase("applied") as done:
            results = execute.apply(built, client, conflicts=conflicts, on_progress=on_progress,
                                    should_stop=should_stop, before_send=journal and journal.append,
                                    started_at=started_at)
            done(", ".join(f"{outcome} {n:,}" for outcome, n in results.counts().items() if n)
                 + f"; {results.calls:,} API calls")
    finally:
        if journal is not None:
            journal.close()  # kept on an error: the next run on this mapping turns it into an undo plan
    results.meta = dataclasses.replace(RunMeta.of_plan(built.meta), run_id=run_id, started_at=started_at,
                                       recovered_undo=recovered)
    _record_ownership(built, results)
    undo_plan = build_undo(built, results, client) if undo else None
    if undo_plan is not None:
        path = undo_path(built, run_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        save_plan(undo_plan, path)
        results.meta.undo = str(path)
    if journal is not None:
        journal.remove()  # the undo plan (or, when nothing was written, nothing) replaces it
    results.calls = client.calls - calls_before  # the stale check's reads included
    results.meta.finished_at = execute.now_iso()
    return results


def refuse_unsafe(built: Plan) -> None:
    """apply_plan's check before sending, for a plan built in Python as for one read from a file
    (planfiles.from_json checks its digest too): a write its mode never makes, a key or record written
    twice, a write without its key or record id stop the run with nothing sent."""
    found = plan.problems(built)
    if found:
        raise InputError("the plan cannot be applied; nothing was sent: " + "; ".join(found))


def _record_ownership(built: Plan, results: Results) -> None:
    portal = portals.planned(built.meta.portal, built.meta.hub_id)
    if not built.meta.mapping or portal is None:
        return
    kept = (Outcome.CREATED, Outcome.UPDATED, Outcome.UNCHANGED)
    ownership.record(built.meta.mapping, portal.key, built.object_type,
                     synced=[o.record_id for o in results.outcomes if o.outcome in kept and o.record_id],
                     archived=[o.record_id for o in results.outcomes if o.outcome is Outcome.ARCHIVED])


def _identity(key, record_id) -> tuple | None:
    """What finds a row again after the sheet changed: its key (the id property's value), else its
    record id; None for a line with neither. Never the sheet row: rows move when others are inserted."""
    if not pd.isna(key):
        return ("key", key)
    if not pd.isna(record_id):
        return ("record", record_id)
    return None


def _outcome_identity(outcome: RowOutcome) -> tuple | None:
    return _identity(outcome.key, outcome.record_id)


def retry_plan(built: Plan, previous: Results) -> Plan:
    """Only the actions for the rows that failed or conflicted in a previous run's results, found
    again by key (record id for a line without one), so rows inserted or deleted since do not shift
    the match. The failed rows it cannot find are listed, one message each, in meta `not_retried`."""
    wanted = {_outcome_identity(o) for o in previous.problems} - {None}
    found = [_identity(k, r) for k, r in zip(built.actions["key"], built.actions["record_id"])]
    keep = built.actions.index[[identity in wanted for identity in found]]
    present = set(found) - {None}
    retried = built.select(keep)
    lost = [o for o in previous.problems if _outcome_identity(o) not in present]
    retried.meta.not_retried = [_not_retried(o, built.id_property) for o in lost]
    return with_estimate(retried)


def _not_retried(outcome: RowOutcome, id_property: str) -> str:
    where = f"row {outcome.row}" if outcome.row is not None else f"record {outcome.record_id}"
    if outcome.key is None:
        return (f"{where}: not retried: it had no {id_property} value, so it cannot be found again; "
                "push without --retry-failed to send it")
    return (f"{where} ({outcome.key}): not retried: no row of the sheet has {id_property} {outcome.key!r} "
            "now (deleted, or its key changed?)")


def merge_results(previous: Results, retried: Results) -> Results:
    """One ledger: the previous report's rows, each replaced by its retry's outcome where retried
    (matched by key, as retry_plan matches them); anything else the retry did is added at the end."""
    newer: dict[tuple | None, deque[RowOutcome]] = defaultdict(deque)
    for outcome in retried.outcomes:
        newer[_outcome_identity(outcome)].append(outcome)
    merged = []
    for outcome in previous.outcomes:
        identity = _outcome_identity(outcome)
        queue = newer.get(identity) if identity is not None else None
        merged.append(queue.popleft() if queue else outcome)
    merged.extend(outcome for queue in newer.values() for outcome in queue)
    kept = {name: value for name, value in vars(retried.meta).items()
            if value is not None or name in RunMeta.RUN_FIELDS}  # the retry's run, and its plan where it knows it
    meta = dataclasses.replace(previous.meta, **kept, retried_rows=len(retried.outcomes))
    return Results(merged, calls=retried.calls, interrupted=retried.interrupted, meta=meta,
                   updated_at=retried.updated_at)


RECYCLE_BIN_DAYS = 90  # HubSpot keeps archived records restorable in the UI this long; the API cannot restore


def undo_path(built: Plan, run_id: str) -> Path:
    """`undo-<run id>.json` in the state folder of the plan's mapping (settings.state_folder)."""
    return settings.state_folder(built.meta.mapping) / f"undo-{run_id}.json"


def build_undo(built: Plan, results: Results, client: PortalClient) -> Plan | None:
    """The plan that reverts a run: updated records get their before values back (a property that
    was empty is cleared), records the run created are archived. None when the run wrote nothing.

    Its `updated_at` per record is the one HubSpot answered the run's write with (read again only
    where an answer lacked it), so applying it refuses records changed since. Records the run
    archived cannot be restored through the API, nor can values the run overwrote on a record a
    planned create found already there; both are listed in meta `not_restorable`.
    """
    by_row = {n: o for n, o in zip(built.actions.index, results.outcomes)}
    updated = [n for n, o in by_row.items() if o.outcome is Outcome.UPDATED and o.action == ActionKind.UPDATE.value]
    created = [n for n, o in by_row.items() if o.outcome is Outcome.CREATED]
    archived = [o for o in by_row.values() if o.outcome is Outcome.ARCHIVED]
    # planned creates that found the record already there, created before the run (new: false)
    found_existing = [o for o in by_row.values()
                      if o.outcome is Outcome.UPDATED and o.action == ActionKind.CREATE.value]
    uncertain = _uncertain_writes(built, results, client)
    if not (updated or created or archived or found_existing or uncertain):
        return None
    numbers = updated + created
    now = dict(results.updated_at)
    unanswered = [n for n in numbers if by_row[n].record_id not in now]
    if unanswered:  # a write answered without updatedAt: read it
        now.update(_updated_at(built, client, unanswered))
    actions = built.actions.loc[numbers].copy()
    actions["action"] = [ActionKind.UPDATE.value] * len(updated) + [ActionKind.ARCHIVE.value] * len(created)
    actions["record_id"] = [by_row[n].record_id for n in numbers]
    actions["updated_at"] = [now.get(by_row[n].record_id) for n in numbers]
    actions["message"] = None
    sent = built.after.loc[numbers]
    after = built.before.loc[numbers].where(sent.notna(), None).astype(object)
    after = after.where(after.notna() | sent.isna(), "")  # a property that had no value is cleared
    after.loc[created] = None
    before = sent.astype(object).where(sent.notna(), None)
    before.loc[created] = None
    notes = [{"key": o.key, "record_id": o.record_id, "note": _ARCHIVED_NOTE} for o in archived] + \
            [{"key": o.key, "record_id": o.record_id,
              "note": "planned as a create, but HubSpot already had the record before the run; its values "
                      "before the run are unknown, so undo leaves it as it is"}
             for o in found_existing]
    if uncertain is not None:
        actions, after, before = (pd.concat([mine, theirs.astype(object)]) for mine, theirs in
                                  ((actions, uncertain.actions), (after, uncertain.after), (before, uncertain.before)))
        actions["row"] = actions["row"].astype("Int64")
        notes += uncertain.meta.not_restorable
    meta = PlanMeta(created_at=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                    portal=built.meta.portal, hub_id=built.meta.hub_id, mapping=built.meta.mapping,
                    associations=dict(built.meta.associations), undo_of=results.meta.run_id, not_restorable=notes)
    undo = Plan(built.object_type, built.id_property, built.mode, built.properties,
                actions.reset_index(drop=True), after.reset_index(drop=True), before.reset_index(drop=True), meta)
    return with_estimate(undo, client.rate_limit)


# Categories of HubSpot's own verdict on an input (a 207 item, or the 400/409 of a batch split down to
# that input): it was refused, so nothing of it was written and there is nothing to check.
REFUSED = frozenset({"VALIDATION_ERROR", "CONFLICT", "OBJECT_ALREADY_EXISTS", "OBJECT_NOT_FOUND"})


def _uncertain_writes(built: Plan, results: Results, client: PortalClient) -> Plan | None:
    """The undo of the writes that failed: a failure after retries (a dropped answer, a 5xx) may
    still have landed, so these are checked against the portal, as a journal is (_undo_of_writes).
    An input HubSpot refused (REFUSED) was not written, and costs no read."""
    failed = {kind: [n for n, o in zip(built.actions.index, results.outcomes)
                     if o.outcome is Outcome.FAILED and o.action == kind.value and o.error_category not in REFUSED]
              for kind in (ActionKind.CREATE, ActionKind.UPDATE)}
    entries = [e for kind, numbers in failed.items() if numbers for e in _journal_entries(built, kind, numbers)]
    if not entries:
        return None
    header = _journal_header(built, results.meta.run_id, results.meta.started_at)
    return _undo_of_writes(header, entries, client, undo_of=results.meta.run_id)


def _updated_at(built: Plan, client: PortalClient, numbers: list[int]) -> dict[str, str]:
    """record id → updatedAt now, read by id property (the key every plan action carries)."""
    keys = built.actions.loc[numbers, "key"].dropna().unique()
    if not len(keys):
        return {}
    found = client.batch_read(built.object_type, keys, id_property=built.id_property)
    return {record.id: record.updated_at for record in found.values()}


JOURNAL_VERSION = 1


def journal_path(undo: Path) -> Path:
    """The run's journal, `.syncer/undo-<run id>.journal`, beside the undo plan it becomes."""
    return undo.with_suffix(".journal")


class _Journal:
    """A run's undo journal: JSON lines, appended, flushed and fsynced before each step is sent, so
    a killed or crashed run leaves a record of every write that may have reached HubSpot.

    The first line is a header (`syncer_undo_journal`, `run_id`, `started_at`, `portal`, `mapping`,
    `object_type`, `id_property`, `mode`, `properties`, `associations`); then one line per write:
    `{"undo": "restore", "row", "key", "record_id", "before", "sent"}` for an update (the before
    values of the properties it sends, as the plan holds them), `{"undo": "archive_if_created", "row",
    "key", "record_id", "sent"}` for a create (archive the record with this key if HubSpot created it
    at or after `started_at`), `{"undo": "not_restorable", "row", "key", "record_id"}` for an archive.
    The file is made at the first step (a run that writes nothing leaves none) and locked while the
    run lives, so a concurrent run never takes it for an interrupted one.
    """

    def __init__(self, built: Plan, run_id: str, started_at: str) -> None:
        self.built, self.run_id, self.started_at = built, run_id, started_at
        self.path = journal_path(undo_path(built, run_id))
        self.file = None

    def append(self, kind: ActionKind, numbers: list[int]) -> None:
        if self.file is None:
            self._open()
        entries = _journal_entries(self.built, kind, numbers)
        self._write("".join(json.dumps(e, ensure_ascii=False) + "\n" for e in entries))

    def _open(self) -> None:
        import fcntl

        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.file = open(self.path, "a", encoding="utf-8")
        fcntl.flock(self.file.fileno(), fcntl.LOCK_EX)
        self._write(json.dumps(_journal_header(self.built, self.run_id, self.started_at), ensure_ascii=False) + "\n")
        folder = os.open(self.path.parent, os.O_RDONLY)  # the new file's name survives a crash too
        try:
            os.fsync(folder)
        finally:
            os.close(folder)

    def _write(self, text: str) -> None:
        self.file.write(text)
        self.file.flush()
        os.fsync(self.file.fileno())

    def close(self) -> None:
        """Close (and unlock) the journal, keeping it: the next run on the mapping recovers it."""
        if self.file is not None:
            self.file.close()
            self.file = None

    def remove(self) -> None:
        self.close()
        self.path.unlink(missing_ok=True)


def _journal_header(built: Plan, run_id: str, started_at: str) -> dict:
    return {"syncer_undo_journal": JOURNAL_VERSION, "run_id": run_id, "started_at": started_at,
            "portal": built.meta.portal, "hub_id": built.meta.hub_id, "mapping": built.meta.mapping,
            "object_type": built.object_type, "id_property": built.id_property, "mode": Mode(built.mode).value,
            "properties": list(built.properties), "associations": associations.planned(built.meta.associations)}


def _plain(value):
    return None if pd.isna(value) else value


def _journal_entries(built: Plan, kind: ActionKind, numbers) -> list[dict]:
    """One undo entry per action (see _Journal), read from the plan's tables a step at a time."""
    lines = built.actions.loc[numbers, ["row", "key", "record_id"]].to_numpy(dtype=object)
    after = built.after.loc[numbers].to_numpy(dtype=object)
    before = built.before.loc[numbers].to_numpy(dtype=object)
    undo = {ActionKind.CREATE: "archive_if_created", ActionKind.UPDATE: "restore"}.get(kind, "not_restorable")
    entries = []
    for (row, key, record_id), sent_row, before_row in zip(lines, after, before):
        entry = {"undo": undo, "row": None if pd.isna(row) else int(row), "key": _plain(key),
                 "record_id": _plain(record_id)}
        if kind is not ActionKind.ARCHIVE:
            sent = {p: v for p, v in zip(built.properties, sent_row) if not pd.isna(v)}
            entry["sent"] = sent
            if kind is ActionKind.UPDATE:
                entry["before"] = {p: _plain(b) for p, b in zip(built.properties, before_row) if p in sent}
        entries.append(entry)
    return entries


def read_journal(path: str | Path) -> tuple[dict, list[dict]]:
    """A journal's header and entries. A last line cut short (the run was killed while appending)
    is left out: append returns before its step is sent, so nothing of that line was sent."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read the undo journal ({exc})") from None
    parsed = []
    for number, text in enumerate(lines):
        try:
            parsed.append(json.loads(text))
        except ValueError:
            if number == len(lines) - 1:
                break
            raise InputError(f"{path}, line {number + 1}: the undo journal is damaged") from None
    if not parsed or not isinstance(parsed[0], dict) or parsed[0].get("syncer_undo_journal") != JOURNAL_VERSION:
        raise InputError(f"{path}: not a syncer undo journal of version {JOURNAL_VERSION}")
    return parsed[0], parsed[1:]


def undo_from_journal(path: str | Path, client: PortalClient) -> Plan | None:
    """The undo plan of the run that left this journal, checked against the portal as it is now:
    an update is reverted property by property where HubSpot still holds what the run sent (a
    property changed since by someone else is left, and listed), a create is archived when its
    record exists and HubSpot created it after the run started, an archive is listed under
    `not_restorable`. None when nothing the run sent is left to revert."""
    header, entries = read_journal(path)
    return _undo_of_writes(header, entries, client, undo_of=header["run_id"])


def _undo_of_writes(header: dict, entries: list[dict], client: PortalClient, *, undo_of, lines: list[dict] = (),
                    not_restorable: list[dict] = ()) -> Plan | None:
    """An undo plan from journal entries verified against the portal, plus `lines` already known
    (undo actions with their after/before values) and `not_restorable` notes."""
    latest = {(e["undo"], e["key"]): e for e in entries if e.get("key") is not None}
    lines, notes = list(lines), list(not_restorable)
    notes += [{"key": e["key"], "record_id": e["record_id"], "note": _ARCHIVED_NOTE}
              for e in entries if e["undo"] == "not_restorable"]
    checked = [e for (kind, _), e in latest.items() if kind != "not_restorable"]
    records, now = _current(header, [e["key"] for e in checked], client)
    for entry in checked:
        record = records.get(entry["key"])
        if record is None:
            continue  # never created, or gone since: nothing to revert
        if entry["undo"] == "archive_if_created":
            if execute.created_since(record.created_at, header["started_at"]):
                lines.append({"row": entry["row"], "key": entry["key"], "action": ActionKind.ARCHIVE.value,
                              "record_id": record.id, "updated_at": record.updated_at, "after": {}, "before": {}})
            continue
        after, before, changed = _reverts(entry, now.loc[entry["key"]], header.get("associations") or {})
        notes += [{"key": entry["key"], "record_id": record.id,
                   "note": f"{p} was changed in HubSpot since the run; undo leaves it as it is"} for p in changed]
        if after:
            lines.append({"row": entry["row"], "key": entry["key"], "action": ActionKind.UPDATE.value,
                          "record_id": record.id, "updated_at": record.updated_at, "after": after, "before": before})
    if not lines and not notes:
        return None
    meta = PlanMeta(created_at=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                    portal=header.get("portal"), hub_id=header.get("hub_id"), mapping=header.get("mapping"),
                    associations=associations.from_planned(header.get("associations")), undo_of=undo_of,
                    not_restorable=notes)
    undo = _plan_of_lines(header, lines, meta)
    return with_estimate(undo, client.rate_limit)


_ARCHIVED_NOTE = (f"archived by the run; restore it from HubSpot's recycle bin within {RECYCLE_BIN_DAYS} days "
                  "(the API cannot restore archived records)")


def _current(header: dict, keys: list, client: PortalClient) -> tuple[dict, pd.DataFrame]:
    """The records for `keys` now (key → Record) and their values in canonical form (by key)."""
    links = header.get("associations") or {}
    names = [p for p in header["properties"] if p not in links]
    if not keys:
        return {}, pd.DataFrame(columns=["id", "updated_at", *names])
    records = client.batch_read(header["object_type"], list(dict.fromkeys(keys)),
                                id_property=header["id_property"], properties=names)
    return records, remote_frame(records, names, client.properties(header["object_type"]))


def _reverts(entry: dict, now: pd.Series, links: dict) -> tuple[dict, dict, list[str]]:
    """For one journalled update: the values to put back (after), what they replace (before), and
    the properties someone else changed since (left alone)."""
    after, before, changed = {}, {}, []
    for prop, sent in entry["sent"].items():
        was = entry["before"].get(prop)
        if prop in links:  # links are not read back; relinking the before target is harmless
            after[prop], before[prop] = was or "", sent
            continue
        current = _plain(now.get(prop))
        if (current or "") == (sent or ""):
            if (current or "") != (was or ""):
                after[prop], before[prop] = was or "", sent
        elif (current or "") != (was or ""):
            changed.append(prop)
    if after and all(p in links for p in after) and len(after) < len(entry["sent"]):
        return {}, {}, changed  # nothing of the run's values is left on the record: leave its links too
    return after, before, changed


def _plan_of_lines(header: dict, lines: list[dict], meta: PlanMeta) -> Plan:
    properties = list(header["properties"])
    actions = pd.DataFrame([{c: line.get(c) for c in plan.ACTION_COLUMNS} for line in lines],
                           columns=plan.ACTION_COLUMNS).astype(object)
    actions["row"] = actions["row"].astype("Int64")
    after = pd.DataFrame([{p: line["after"].get(p) for p in properties} for line in lines],
                         columns=properties, dtype=object)
    before = pd.DataFrame([{p: line["before"].get(p) for p in properties} for line in lines],
                          columns=properties, dtype=object)
    return Plan(header["object_type"], header["id_property"], Mode(header["mode"]), properties,
                actions, after, before, meta)


def _resolved(path: str | None) -> Path | None:
    return Path(path).resolve() if path else None


def recover_journals(built: Plan, client: PortalClient) -> list[str]:
    """Turn the journals earlier runs on this plan's mapping left behind (killed, crashed) into
    their undo plans, `.syncer/undo-<their run id>.json`, name each in a warning, and remove the
    journals. Returns the undo plans' paths. A journal still locked by a live run, or made for
    another mapping, portal or object, is left alone."""
    import fcntl

    folder = undo_path(built, "-").parent
    recovered = []
    for path in sorted(folder.glob("undo-*.journal")) if folder.is_dir() else ():
        with open(path, encoding="utf-8") as held:
            try:
                fcntl.flock(held.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                continue  # a run still writing
            header, entries = read_journal(path)
            planned = portals.planned(header.get("portal"), header.get("hub_id"))
            if (_resolved(header.get("mapping")), planned, header.get("object_type")) != (
                    _resolved(built.meta.mapping), portals.planned(built.meta.portal, built.meta.hub_id),
                    built.object_type):
                continue
            target = path.with_suffix(".json")
            if not target.exists():
                undo = _undo_of_writes(header, entries, client, undo_of=header["run_id"])
                if undo is not None:
                    save_plan(undo, target)
            path.unlink()
        if target.exists():
            _log.warning("a previous run was interrupted (run %s); its undo journal %s is now the undo plan %s; "
                         "revert with: syncer apply %s", header["run_id"], path, target, target)
            recovered.append(str(target))
        else:
            _log.warning("a previous run was interrupted (run %s); nothing it sent is left to revert "
                         "(its undo journal %s is removed)", header["run_id"], path)
    return recovered
