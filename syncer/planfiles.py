"""The files syncer writes and reads back as plans: plan files (`syncer plan -o`, undo plans),
and the plan and approvals a review workbook carries (`syncer plan --review`).

A plan file is a versioned JSON document with a digest per part (see digest), one field per line
and one action per line (see dumps). Reading one back refuses a version this syncer does not know,
any edit (naming the part), and a plan unsafe to apply whatever its digest (plan.problems). A
review workbook keeps its plan's JSON on a very hidden sheet, with that text's SHA-256 on its
Summary; reading it back takes the plan from there and the approvals from the action sheets,
each row checked against the action it names. The workbook's visible sheets are drawn by
report.write_review.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd

from syncer import tables
from syncer.errors import InputError
from syncer.plan import (ACTION_COLUMNS, SHA256_TEXT, WRITES, ActionKind, Mode, Plan, PlanMeta, problems,
                          with_estimate)

PLAN_FILE_VERSION = 1
PLAN_SHEET = "syncer_plan"  # a review workbook's very hidden sheet: the plan itself, so the workbook travels alone
PLAN_CHUNK = 32_000  # characters per cell, under Excel's limit of 32,767
APPROVE = "approve"  # a review sheet's yes/no column

PLAN_CHANGED = "the plan was changed after it was made: plan again"
# The parts of a plan file its digest names when one changed: the fields each covers. Every other
# field (created_at, undo_of, not_restorable, the version, …) is covered as "other".
DIGEST_PARTS = {
    "actions": ("actions", "counts"),
    "target": ("object_type", "id_property", "mode", "properties", "portal", "hub_id"),
    "associations": ("associations",),
    "estimate": ("estimate", "max_daily_share"),
    "mapping and source": ("mapping", "mapping_digest", "source", "source_digest", "sheet", "header_row"),
}
# Not part of the plan: the digest itself, and the fields `syncer plan --json` adds around it.
NOT_DIGESTED = ("digest", "syncer_output", "command", "exit_code")


def to_json(plan: Plan) -> dict:
    """The plan as a versioned JSON document (`syncer plan -o plan.json`), with its `digest`."""
    # Column by column, then the cells each action sends: a loop over rows and properties would
    # touch every cell of the plan's wide tables, most of them empty.
    lines = zip(_rows(plan.actions["row"]), _cells(plan.actions["key"]), plan.actions["action"].tolist(),
                _cells(plan.actions["record_id"]), _cells(plan.actions["updated_at"]))
    actions = [{"row": row, "key": key, "action": action, "record_id": record_id, "updated_at": updated_at}
               for row, key, action, record_id, updated_at in lines]
    for position, message in enumerate(_cells(plan.actions["message"])):
        if message is not None:
            actions[position]["message"] = message
    after = plan.after.to_numpy(dtype=object)
    rows, columns = np.nonzero(~pd.isna(after))  # the cells sent, row by row in property order
    sent = after[rows, columns].tolist()
    replaced = plan.before.to_numpy(dtype=object)[rows, columns]
    replaced = np.where(pd.isna(replaced), None, replaced).tolist()
    for row, column, value, old in zip(rows.tolist(), columns.tolist(), sent, replaced):
        changes = actions[row].get("changes")
        if changes is None:
            changes = actions[row]["changes"] = {}
        changes[plan.properties[column]] = {"before": old, "after": value}
    document = {
        "syncer_plan": PLAN_FILE_VERSION,
        **plan.meta.to_json(),
        "object_type": plan.object_type,
        "id_property": plan.id_property,
        "mode": plan.mode.value,
        "properties": plan.properties,
        "counts": plan.counts(),
        "actions": actions,
    }
    document["digest"] = digest(document)
    return document


def _cells(column: pd.Series) -> list:
    """The column's values as Python objects (as iterating it gives them), None for missing ones."""
    values = column.tolist()
    for position in np.flatnonzero(column.isna().to_numpy()).tolist():
        values[position] = None
    return values


def _rows(column: pd.Series) -> list:
    """Sheet row numbers as int, None for an archive's."""
    return [None if row is None else int(row) for row in _cells(column)]


def digest(document: dict) -> dict:
    """The SHA-256 of a plan document: `parts`, one digest per DIGEST_PARTS entry (and "other"),
    each over its fields as canonical JSON (keys sorted, no spaces, ASCII only), and `sha256` over
    the parts. Every field but NOT_DIGESTED is covered, so any edit changes `sha256`; `parts` only
    names where. It detects edits, not a forger who recomputes it: from_json's other checks hold
    without it."""
    part_of = {name: part for part, names in DIGEST_PARTS.items() for name in names}
    fields: dict[str, dict] = {part: {} for part in [*DIGEST_PARTS, "other"]}
    for name, value in document.items():
        if name not in NOT_DIGESTED:
            fields[part_of.get(name, "other")][name] = value
    parts = {part: _sha256(values) for part, values in fields.items()}
    return {"sha256": _sha256(parts), "parts": parts}


def _sha256(value) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=True)
    return hashlib.sha256(text.encode("ascii")).hexdigest()


def from_json(document: dict, source: str = "plan file") -> Plan:
    """Read back a plan written by to_json, refusing versions this syncer does not know, and a plan
    changed since it was made (see check_digest and problems)."""
    version = document.get("syncer_plan") if isinstance(document, dict) else None
    if version != PLAN_FILE_VERSION:
        raise InputError(f"{source}: not a syncer plan file of version {PLAN_FILE_VERSION} "
                         f"(found {version!r}); make it again with `syncer plan -o`")
    try:
        properties = list(document["properties"])
        entries = document["actions"]
        _check_cells(entries)
        actions = pd.DataFrame([{c: e.get(c) for c in ACTION_COLUMNS} for e in entries],
                               columns=ACTION_COLUMNS)
        after = pd.DataFrame(None, index=actions.index, columns=properties, dtype=object)
        before = after.copy()
        for number, entry in enumerate(entries):
            for prop, change in (entry.get("changes") or {}).items():
                if prop not in after.columns:
                    raise ValueError(f"action {number} changes {prop!r}, not one of the plan's properties")
                if not isinstance(change["after"], str) or not isinstance(change["before"], (str, type(None))):
                    raise ValueError(f"action {number} changes {prop!r} to or from a value that is not text")
                after.at[number, prop] = change["after"]
                before.at[number, prop] = change["before"]
        actions["row"] = actions["row"].astype("Int64")
        actions = actions.astype({c: object for c in ACTION_COLUMNS if c != "row"})
        meta = PlanMeta.from_json({k: v for k, v in document.items()
                                   if k not in ("syncer_plan", "object_type", "id_property", "mode", "properties",
                                                "counts", "actions", *NOT_DIGESTED)})
        built = Plan(document["object_type"], document["id_property"], Mode(document["mode"]),
                     properties, actions, after, before, meta)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        if isinstance(document.get("digest"), dict):
            check_digest(document, source)  # an edit that broke the plan is named as an edit
        raise InputError(f"{source}: the plan file is damaged ({exc}); make it again with `syncer plan -o`") from None
    check_digest(document, source)
    found = problems(built)
    if found:
        raise InputError(f"{source}: {PLAN_CHANGED} ({'; '.join(found)})")
    return built


def _check_cells(entries: list[dict]) -> None:
    """Raise ValueError unless every action's field is what to_json writes: text or null (the row:
    a whole number or null)."""
    for number, entry in enumerate(entries):
        row = entry.get("row")
        if row is not None and type(row) is not int:
            raise ValueError(f"action {number}: the row {row!r} is not a whole number")
        for column in ACTION_COLUMNS[1:]:
            value = entry.get(column)
            if value is not None and not isinstance(value, str):
                raise ValueError(f"action {number}: the {column} {value!r} is not text")


def check_digest(document: dict, source: str = "plan file") -> None:
    """Refuse a plan document whose digest is missing or is not the one its content has."""
    stored = document.get("digest")
    stored_sha = stored.get("sha256") if isinstance(stored, dict) else None
    if not isinstance(stored_sha, str) or not SHA256_TEXT.fullmatch(stored_sha):
        raise InputError(f"{source}: {PLAN_CHANGED} (it carries no plan digest: it was made by a syncer "
                         "before plans had one, or the digest was removed)")
    found = digest(document)
    if found["sha256"] == stored_sha:
        return
    stored_parts = stored.get("parts") if isinstance(stored.get("parts"), dict) else {}
    changed = [part for part, sha in found["parts"].items() if stored_parts.get(part) != sha]
    named = changed and len(changed) < len(found["parts"])
    raise InputError(f"{source}: {PLAN_CHANGED} ("
                     + (f"changed: {', '.join(changed)}" if named else "its digest differs") + ")")


def dumps(plan: Plan) -> str:
    """The plan file's text: one field per line and one action per line, so it reads in an editor,
    diffs line by line and `jq` reads it. Each action is written by json's C encoder; `indent`
    would send the whole document through the pure-Python one, several times slower."""
    return document_text(to_json(plan))


def document_text(document: dict) -> str:
    """A plan document as dumps writes it."""
    fields = []
    for name, value in document.items():
        if name == "actions" and value:
            # Every action starts with its "row" key, and `,{"` never occurs inside a JSON string
            # (the quote would be escaped), so this finds exactly the joints between actions.
            text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
            text = "[\n  " + text[1:-1].replace('},{"row":', '},\n  {"row":') + "\n ]"
        else:
            text = json.dumps(value, ensure_ascii=False, indent=1).replace("\n", "\n ")
        fields.append(f" {json.dumps(name, ensure_ascii=False)}: {text}")
    return "{\n" + ",\n".join(fields) + "\n}"


def load_plan(path: str | Path) -> Plan:
    """A plan file, or a review workbook's plan restricted to the rows still approved (see
    read_review). Its estimate counts the reads of apply_plan's stale check."""
    path = Path(path)
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        document, approved = read_review(path)
        built = from_json(document, source=str(path))
        declined = built.actions.index[built.actions["action"].isin([k.value for k in WRITES])
                                       & ~built.actions.index.isin(approved)]
        return with_estimate(built.skipping(declined, f"not approved in {path.name}"), stale_check=True)
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise InputError(f"{path}: cannot read the plan file ({exc})") from None
    return with_estimate(from_json(document, source=str(path)), stale_check=True)


def save_plan(built: Plan, path: str | Path) -> None:
    """Write the plan file whole or not at all, fsynced, keeping an existing file's mode (tables.atomic_write)."""
    tables.atomic_write(path, dumps(built))


# --- review workbooks ----------------------------------------------------------------------------


def review_text(plan: Plan) -> str:
    """The plan's JSON as a review workbook keeps it (compact; its SHA-256 goes on Summary)."""
    text = json.dumps(to_json(plan), ensure_ascii=False, separators=(",", ":"))
    # Excel and calamine read `_xHHHH_` in a cell as an escaped character; spelling every "_x" as
    # JSON's \u005fx (an "_" can only stand inside a JSON string) keeps the text, and its digest, intact.
    return text.replace("_x", "\\u005fx")


def review_chunks(text: str) -> list[str]:
    """review_text cut into cells, one per line of the hidden sheet."""
    return [text[i:i + PLAN_CHUNK] for i in range(0, len(text), PLAN_CHUNK)]


def read_review(path: Path) -> tuple[dict, set[int]]:
    """The plan document a review workbook was made with, and the action numbers still marked yes.

    The plan comes from the workbook's hidden sheet, or, for a workbook made before it kept one,
    from the plan file named on its Summary sheet; either must match the digest there. Read through
    tables, which checks the file as any workbook (encrypted, corrupt, a zip bomb) before reading.
    """
    path = Path(path)
    try:
        sheets = tables.read_workbook_rows(path)
    except InputError as exc:
        raise InputError(f"{path}: cannot read the review workbook ({str(exc).split(': ', 1)[-1]})") from None
    facts = {line[0]: line[1] for line in sheets.get("Summary", [])[1:] if len(line) >= 2}
    text = _plan_file_text(path, facts) if "plan file" in facts else _kept_plan(sheets)
    document = _checked_plan(path, facts, text)
    actions = document.get("actions") if isinstance(document, dict) else None
    actions = actions if isinstance(actions, list) else []
    approved = set()
    for kind in WRITES:
        name = kind.value.capitalize()
        if name in sheets:
            approved |= _approved_rows(path, name, sheets[name], actions, kind)
    return document, approved


def _kept_plan(sheets: dict[str, list[list]]) -> str | None:
    """The plan JSON from the hidden sheet's chunks; None for a workbook without that sheet."""
    if PLAN_SHEET not in sheets:
        return None
    return "".join(str(line[0]) for line in sheets[PLAN_SHEET][1:] if line)  # under its header


def _plan_file_text(path: Path, facts: dict) -> str:
    """The plan of a workbook made before the plan was kept inside: the file named on Summary."""
    plan_file = path.parent / str(facts["plan file"])
    try:
        return plan_file.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"{path}: cannot read the plan it was made with, {plan_file} ({exc.strerror}); "
                         "keep the two files together") from None


def _checked_plan(path: Path, facts: dict, text: str | None) -> dict:
    """The plan document, refused unless its digest is the one on the Summary sheet."""
    if "plan digest" not in facts or text is None:
        raise InputError(f"{path}: not a review workbook from `syncer plan --review` (no plan digest on "
                         f"Summary, or no {PLAN_SHEET} sheet)")
    where = facts.get("plan file") or f"the plan kept in its hidden sheet {PLAN_SHEET}"
    if hashlib.sha256(text.encode()).hexdigest() != facts["plan digest"]:
        raise InputError(f"{path}: {where} is not the plan this workbook was made with (digest differs); "
                         "make the review again")
    try:
        return json.loads(text)
    except ValueError:
        raise InputError(f"{path}: {where} is damaged; make the review again") from None


def _approved_rows(path: Path, sheet: str, rows: list[list], actions: list, kind: ActionKind) -> set[int]:
    """The plan_action numbers marked yes on one sheet. Every row's plan_action must be one of the
    plan's actions of this sheet's kind, on one row only, and that action's key and record id must
    be the row's own: a row cannot carry another row's approval."""
    header = list(rows[0]) if rows else []
    missing = [c for c in ("key", "record_id", APPROVE, "plan_action") if c not in header]
    if missing:
        raise InputError(f'{path}, sheet "{sheet}": the "{missing[0]}" column is missing; make the review again')
    approve, number, key, record = (header.index(c) for c in (APPROVE, "plan_action", "key", "record_id"))
    numbers = {n for n, a in enumerate(actions) if isinstance(a, dict) and a.get("action") == kind.value}
    found, seen = set(), {}
    for line, values in enumerate(rows[1:], start=2):
        values = list(values) + [""] * (len(header) - len(values))
        if all(_cell_text(v) is None for v in values):
            continue  # an empty line left in the sheet
        mark = str(values[approve] or "").strip().lower()
        if mark not in ("yes", "y", "no", "n", ""):
            raise InputError(f'{path}, sheet "{sheet}", row {line}, column "{APPROVE}": '
                             f"{values[approve]!r} is neither yes nor no")
        action = _plan_action(path, sheet, line, values[number], numbers)
        _check_row_is_its_action(path, sheet, line, action, actions[action], values[key], values[record])
        if action in seen:
            raise InputError(f'{path}, sheet "{sheet}": rows {seen[action]} and {line} both carry plan_action '
                             f"{action}; keep the column as written, or make the review again")
        seen[action] = line
        if mark in ("yes", "y"):
            found.add(action)
    return found


def _check_row_is_its_action(path: Path, sheet: str, line: int, number: int, action: dict, key, record_id) -> None:
    """Refuse a row whose plan_action names the action of another key or record (rows swapped, or
    plan_action edited), before anything is sent."""
    for field, cell, name in (("key", key, "key"), ("record_id", record_id, "record")):
        planned, shown = action.get(field), _cell_text(cell)
        if planned != shown:
            raise InputError(f'{path}, sheet "{sheet}", row {line}: plan_action {number} is the action of {name} '
                             f"{planned!r}, not {shown!r}; keep the column as written, or make the review again")


def _cell_text(value) -> str | None:
    """A review cell as the plan writes its value: text, None for a blank; a whole number as digits."""
    if value is None or value == "":
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _plan_action(path: Path, sheet: str, line: int, value, numbers: set[int]) -> int:
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = float("nan")
    if not number.is_integer() or int(number) not in numbers:
        shown = "a blank" if value in ("", None) else repr(int(number) if number.is_integer() else value)
        raise InputError(f'{path}, sheet "{sheet}", row {line}, column "plan_action": {shown} is not one of '
                         f"this sheet's plan actions; keep the column as written, or make the review again")
    return int(number)
