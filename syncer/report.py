"""Render plans and results: terminal text, JSON, CSV and XLSX. No network; files only where asked."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pandas as pd
from openpyxl import load_workbook
from openpyxl.styles import Font, PatternFill

from syncer import plan as plans, tables
from syncer.errors import InputError
from syncer.execute import Outcome, Results, RowOutcome
from syncer.plan import ActionKind, Plan

RESULTS_FILE_VERSION = 1
JSON_OUTPUT_VERSION = 1  # of the documents `--json` prints; see syncer/schemas/output.schema.json
APPROVE = "approve"
SHOWN_PER_KIND = 20  # lines of detail per action kind on a terminal before condensing

_OUTCOME_FILLS = {
    Outcome.CREATED.value: "C6EFCE",
    Outcome.UPDATED.value: "DDEBF7",
    Outcome.ARCHIVED.value: "EDEDED",
    Outcome.SKIPPED.value: "FFF2CC",
    Outcome.CONFLICT.value: "F8CBAD",
    Outcome.FAILED.value: "FFC7CE",
}
_CHANGED_FILL = PatternFill("solid", fgColor="FFEB9C")


# --- plans on a terminal -------------------------------------------------------------------------


def render_plan(plan: Plan, *, limit: int = SHOWN_PER_KIND) -> str:
    """Counts per action, then up to `limit` lines of detail per kind: row, key, property: before → after."""
    counts = plan.counts()
    lines = ["  ".join(f"{kind} {n}" for kind, n in counts.items())]
    for kind in (ActionKind.CREATE, ActionKind.UPDATE, ActionKind.ARCHIVE, ActionKind.SKIP, ActionKind.ERROR):
        numbers = plan.of_kind(kind)
        if len(numbers) == 0:
            continue
        lines.append("")
        lines.append(f"{kind.value} ({len(numbers)}):")
        lines.extend(_describe(plan, n) for n in numbers[:limit])
        if len(numbers) > limit:
            lines.append(f"  … and {len(numbers) - limit} more (see them all with --review review.xlsx or -o plan.json)")
    if not plan.has_changes:
        lines.extend(["", "Nothing to change: HubSpot already matches the sheet."])
    elif plan.meta.get("estimate"):
        lines.extend(["", render_estimate(plan.meta["estimate"])])
    return "\n".join(lines)


def render_estimate(estimate: dict) -> str:
    """`Cost: 7 API calls (create 3, update 2, associations 2); about 0.4 s at 190 per 10 s; 0.0007% of the daily allowance`."""
    parts = ", ".join(f"{kind} {n}" for kind, n in estimate["calls"].items() if n)
    text = f"Cost: {estimate['total_calls']} API calls" + (f" ({parts})" if parts else "")
    limit = estimate.get("rate_limit") or {}
    if estimate.get("seconds") is not None:
        text += (f"; at least {estimate['seconds']:g} s at {limit['max_per_interval']} per "
                 f"{(limit.get('interval_ms') or 10_000) / 1000:g} s")
    if estimate.get("daily_share") is not None:
        text += f"; {estimate['daily_share']:.4%} of the daily allowance of {limit['daily']:,}"
    return text


def _describe(plan: Plan, number: int) -> str:
    line = plan.actions.loc[number]
    where = f"row {line['row']}" if not pd.isna(line["row"]) else f"record {line['record_id']}"
    head = f"  {where}  {line['key']}"
    if line["action"] in (ActionKind.SKIP.value, ActionKind.ERROR.value):
        return f"{head}: {line['message']}"
    changes = {_name(p): change for p, change in plan.changed_properties(number).items()}
    if line["action"] == ActionKind.CREATE.value:
        return head + ": " + ", ".join(f"{p}={_show(a)}" for p, (_, a) in changes.items())
    if line["action"] == ActionKind.UPDATE.value:
        return head + ": " + "; ".join(f"{p}: {_show(b)} → {_show(a)}" for p, (b, a) in changes.items())
    return head


def _name(prop: str) -> str:
    """Association pseudo-properties read as their column and the linked record's id."""
    return f"{prop.removeprefix('assoc:')} (record id)" if prop.startswith("assoc:") else prop


def _show(value) -> str:
    if value is None:
        return "(empty)"
    if value == "":
        return "(cleared)"
    return value if len(value) <= 40 else value[:37] + "…"


# --- review workbook ----------------------------------------------------------------------------


def write_review(plan: Plan, path: Path) -> None:
    """A workbook to review a plan in Excel: a Summary sheet and one sheet per action kind.

    Update sheets put each changed property's before and after side by side and highlight the after.
    Create, Update and Archive sheets end with an `approve` column filled with yes and a
    `plan_action` number. The plan itself is saved beside the workbook (`review.plan.json` for
    `review.xlsx`) and its SHA-256 digest written on the Summary sheet, so `syncer apply review.xlsx`
    applies exactly that plan's rows still marked yes, and refuses a plan file changed since.
    """
    path = Path(path)
    text = plans.dumps(plan)
    plan_file = review_plan_path(path)
    sheets = {"Summary": _summary_frame(plan, plan_file.name, hashlib.sha256(text.encode()).hexdigest())}
    for kind in ActionKind:
        numbers = plan.of_kind(kind)
        if len(numbers) and kind is not ActionKind.UNCHANGED:
            sheets[kind.value.capitalize()] = _action_frame(plan, kind, numbers)
    tables.write_sheets(sheets, path)
    plan_file.write_text(text, encoding="utf-8")
    _highlight_after_columns(path, [name for name in sheets if name in ("Create", "Update")])


def review_plan_path(path: Path) -> Path:
    return Path(path).with_suffix(".plan.json")


def read_review(path: Path) -> tuple[dict, set[int]]:
    """The plan document a review workbook was made with, and the action numbers still marked yes."""
    try:
        book = load_workbook(path, read_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a damaged or foreign file
        raise InputError(f"{path}: cannot read the review workbook ({exc})") from None
    try:
        facts = {item: value for item, value, *_ in book["Summary"].iter_rows(min_row=2, values_only=True)} \
            if "Summary" in book.sheetnames else {}
        approved = set()
        for kind in plans.WRITES:
            name = kind.value.capitalize()
            if name in book.sheetnames:
                approved |= _approved_rows(path, book[name])
    finally:
        book.close()
    return _review_plan(path, facts), approved


def _review_plan(path: Path, facts: dict) -> dict:
    if "plan digest" not in facts:
        raise InputError(f"{path}: not a review workbook from `syncer plan --review` (no plan digest on Summary)")
    plan_file = Path(path).parent / str(facts["plan file"])
    try:
        text = plan_file.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"{path}: cannot read the plan it was made with, {plan_file} ({exc.strerror}); "
                         "keep the two files together") from None
    if hashlib.sha256(text.encode()).hexdigest() != facts["plan digest"]:
        raise InputError(f"{path}: {plan_file} is not the plan this workbook was made with (digest differs); "
                         "make the review again")
    try:
        return json.loads(text)
    except ValueError:
        raise InputError(f"{plan_file}: the plan file is damaged; make the review again") from None


def _approved_rows(path: Path, sheet) -> set[int]:
    rows = sheet.iter_rows(values_only=True)
    header = list(next(rows, ()))
    if APPROVE not in header or "plan_action" not in header:
        raise InputError(f'{path}, sheet "{sheet.title}": the "{APPROVE}" or "plan_action" column is missing; '
                         "make the review again")
    approve, number = header.index(APPROVE), header.index("plan_action")
    found = set()
    for line, values in enumerate(rows, start=2):
        mark = str(values[approve] or "").strip().lower()
        if mark not in ("yes", "y", "no", "n", ""):
            raise InputError(f'{path}, sheet "{sheet.title}", row {line}, column "{APPROVE}": '
                             f"{values[approve]!r} is neither yes nor no")
        if mark in ("yes", "y"):
            found.add(int(values[number]))
    return found


def _summary_frame(plan: Plan, plan_file: str, digest: str) -> pd.DataFrame:
    facts = [("object", plan.object_type), ("id property", plan.id_property), ("mode", plan.mode.value),
             ("plan file", plan_file), ("plan digest", digest)]
    facts += [(k, str(v)) for k, v in plan.meta.items() if isinstance(v, (str, int, float))]
    facts += [(f"{kind} rows", n) for kind, n in plan.counts().items()]
    return pd.DataFrame(facts, columns=["item", "value"])


def _action_frame(plan: Plan, kind: ActionKind, numbers: pd.Index) -> pd.DataFrame:
    base = plan.actions.loc[numbers, ["row", "key", "record_id"]].copy()
    if kind in (ActionKind.SKIP, ActionKind.ERROR):
        base["message"] = plan.actions.loc[numbers, "message"]
        return base.reset_index(drop=True)
    if kind is ActionKind.ARCHIVE:
        return _approvable(base, numbers)
    after = plan.after.loc[numbers]
    sent = [p for p in plan.properties if after[p].notna().any()]
    for prop in sent:
        if kind is ActionKind.UPDATE:
            base[f"{prop} (before)"] = plan.before.loc[numbers, prop].where(after[prop].notna(), None)
        base[f"{prop} (after)" if kind is ActionKind.UPDATE else prop] = after[prop]
    return _approvable(base, numbers)


def _approvable(frame: pd.DataFrame, numbers: pd.Index) -> pd.DataFrame:
    frame[APPROVE] = "yes"
    frame["plan_action"] = numbers
    return frame.reset_index(drop=True)


def _highlight_after_columns(path: Path, sheet_names: list[str]) -> None:
    if not sheet_names:
        return
    book = load_workbook(path)
    for name in sheet_names:
        sheet = book[name]
        header = [cell.value for cell in sheet[1]]
        for col, title in enumerate(header, start=1):
            if title in ("row", "key", "record_id", APPROVE, "plan_action") or str(title).endswith("(before)"):
                continue
            for (cell,) in sheet.iter_rows(min_row=2, min_col=col, max_col=col):
                if cell.value not in (None, ""):
                    cell.fill = _CHANGED_FILL
    book.save(path)


# --- results ------------------------------------------------------------------------------------


def render_results(results: Results) -> str:
    counts = "  ".join(f"{k} {n}" for k, n in results.counts().items() if n)
    estimate = results.meta.get("estimate")
    planned = f" of {estimate['total_calls']} estimated" if estimate else ""
    lines = [f"{counts}  ({results.calls} API calls{planned})"]
    differences = results.differences
    if differences:
        lines.append(f"{len(differences)} row(s) ended differently than planned (column as_planned in the report):")
        lines.extend(f"  row {o.row}  {o.key}: planned {o.action}, HubSpot {o.outcome.value}"
                     for o in differences[:SHOWN_PER_KIND] if o.outcome not in (Outcome.FAILED, Outcome.CONFLICT))
    problems = results.problems
    for o in problems[:SHOWN_PER_KIND]:
        lines.append(f"  row {o.row}  {o.key}: {o.outcome.value}: {o.error_category}: {o.error_message}")
    if len(problems) > SHOWN_PER_KIND:
        lines.append(f"  … and {len(problems) - SHOWN_PER_KIND} more in the report")
    if results.interrupted:
        lines.append("Stopped early: rows not sent are marked skipped (INTERRUPTED).")
    for item in results.meta.get("not_restorable") or []:
        lines.append(f"  not restorable: {item['key']} ({item['record_id']}): {item['note']}")
    return "\n".join(lines)


def results_document(results: Results) -> dict:
    frame = results.to_frame()
    rows = json.loads(frame.to_json(orient="records"))
    estimate = results.meta.get("estimate")
    return {"syncer_results": RESULTS_FILE_VERSION, **results.meta, "counts": results.counts(),
            "calls": results.calls, "estimated_calls": estimate["total_calls"] if estimate else None,
            "differs_from_plan": len(results.differences), "interrupted": results.interrupted, "rows": rows}


def read_results(path: Path) -> Results:
    """A results report written by write_results (CSV, XLSX or JSON) read back as Results."""
    path = Path(path)
    try:
        if path.suffix.lower() == ".json":
            document = json.loads(path.read_text(encoding="utf-8"))
            rows, meta = document["rows"], {k: document[k] for k in ("mapping", "source") if k in document}
        else:
            rows, meta = tables.read(path).frame.astype(object).to_dict("records"), {}
        return Results([_outcome(line) for line in rows], meta=meta)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputError(f"{path}: not a results report from `syncer push --report` ({exc})") from None


def _outcome(line: dict) -> RowOutcome:
    text = lambda name: None if pd.isna(line.get(name)) or line.get(name) in ("", None) else str(line[name])
    row = text("row")
    changed = text("changed")
    return RowOutcome(row=int(float(row)) if row else None, key=text("key"), action=str(line["action"]),
                      outcome=Outcome(line["outcome"]), record_id=text("record_id"),
                      changed=tuple(changed.split(", ")) if changed else (),
                      error_category=text("error_category"), error_message=text("error_message"))


def run_document(command: str, built: Plan | None, results: Results | None, *, exit_code: int) -> dict:
    """The one JSON document `--json` prints on stdout (schema: syncer/schemas/output.schema.json)."""
    return {
        "syncer_output": JSON_OUTPUT_VERSION,
        "command": command,
        "exit_code": exit_code,
        "plan": None if built is None else {
            "object_type": built.object_type, "mode": built.mode.value, "counts": built.counts(),
            "has_changes": built.has_changes, "estimate": built.meta.get("estimate")},
        "results": None if results is None else results_document(results),
    }


def write_results(results: Results, path: Path) -> None:
    """One line per row: CSV, XLSX (outcomes coloured, filters on) or JSON by the file's extension."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".json":
        path.write_text(json.dumps(results_document(results), ensure_ascii=False, indent=1), encoding="utf-8")
        return
    if suffix not in (".csv", ".xlsx"):
        raise InputError(f"{path}: a results report must end in .csv, .xlsx or .json")
    frame = results.to_frame()
    tables.write(frame, path, sheet_name="Results")
    if suffix == ".xlsx":
        _colour_outcomes(path, list(frame.columns).index("outcome") + 1)


def _colour_outcomes(path: Path, column: int) -> None:
    book = load_workbook(path)
    sheet = book.active
    for (cell,) in sheet.iter_rows(min_row=2, min_col=column, max_col=column):
        colour = _OUTCOME_FILLS.get(cell.value)
        if colour:
            cell.fill = PatternFill("solid", fgColor=colour)
            cell.font = Font(bold=cell.value in (Outcome.FAILED.value, Outcome.CONFLICT.value))
    book.save(path)
