"""Render plans and results: terminal text, JSON, CSV and XLSX. No network; files only where asked."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pandas as pd
import python_calamine
from openpyxl.formatting.rule import CellIsRule, FormulaRule
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from syncer import plan as plans, portals, tables
from syncer.errors import InputError
from syncer.execute import Outcome, Results, RowOutcome
from syncer.plan import ActionKind, Plan

RESULTS_FILE_VERSION = 1
JSON_OUTPUT_VERSION = 1  # of the documents `--json` prints; see syncer/schemas/output.schema.json
APPROVE = "approve"
SHOWN_PER_KIND = 20  # lines of detail per action kind on a terminal before condensing
INTERRUPTED = "INTERRUPTED"  # the error category of rows a stopped run did not send (execute.apply)

_OUTCOME_FILLS = {
    Outcome.CREATED.value: "C6EFCE",
    Outcome.UPDATED.value: "DDEBF7",
    Outcome.ARCHIVED.value: "EDEDED",
    Outcome.SKIPPED.value: "FFF2CC",
    Outcome.CONFLICT.value: "F8CBAD",
    Outcome.FAILED.value: "FFC7CE",
}
_SENT_FILL = PatternFill("solid", start_color="FFEB9C", end_color="FFEB9C")  # a conditional fill reads end_color


# --- plans on a terminal -------------------------------------------------------------------------


def render_plan(plan: Plan, *, limit: int = SHOWN_PER_KIND, width: int | None = None) -> str:
    """Counts per action, then up to `limit` lines of detail per kind: row, key, property: before → after.

    A create line shows the key and the first properties that fit in `width` characters (the
    terminal's by default), then "+N more"; update lines show every change.
    """
    width = width or shutil.get_terminal_size((100, 24)).columns
    counts = plan.counts()
    planned = portals.planned(plan.meta)
    lines = [f"On {planned}:"] if planned else []
    lines.append("  ".join(f"{kind} {n}" for kind, n in counts.items()))
    for kind in (ActionKind.CREATE, ActionKind.UPDATE, ActionKind.ARCHIVE, ActionKind.SKIP, ActionKind.ERROR):
        numbers = plan.of_kind(kind)
        if len(numbers) == 0:
            continue
        lines.append("")
        lines.append(f"{kind.value} ({len(numbers)}):")
        lines.extend(_describe(plan, n, width) for n in numbers[:limit])
        if len(numbers) > limit:
            lines.append(f"  … and {len(numbers) - limit} more (see them all with --review review.xlsx or -o plan.json)")
    lines.extend(f"  {message}" for message in plan.meta.get("not_retried") or [])
    lines.extend(["", *_plan_verdict(plan, counts)])
    return "\n".join(lines)


def _plan_verdict(plan: Plan, counts: dict[str, int]) -> list[str]:
    """What the plan comes to: its cost, or why there is nothing to send, and the rows left out."""
    errors, skips = counts[ActionKind.ERROR.value], counts[ActionKind.SKIP.value]
    broken = f"{_rows(errors)} {'has' if errors == 1 else 'have'} errors"
    if plan.has_changes:
        cost = [render_estimate(plan.meta["estimate"])] if plan.meta.get("estimate") else []
        return cost + ([f"{broken} and will not be sent (listed above): fix them in the sheet."] if errors else [])
    if errors:
        return [f"Nothing to send; {broken} (listed above): fix them in the sheet and plan again."]
    if skips:
        return [f"Nothing to send; {_rows(skips)} skipped (listed above), the rest already match."]
    return ["Nothing to change: HubSpot already matches the sheet."]


def _rows(n: int) -> str:
    return f"{n:,} row" + ("" if n == 1 else "s")


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


def _describe(plan: Plan, number: int, width: int) -> str:
    line = plan.actions.loc[number]
    where = f"row {line['row']}" if not pd.isna(line["row"]) else f"record {line['record_id']}"
    head = f"  {where}  {line['key']}"
    if line["action"] in (ActionKind.SKIP.value, ActionKind.ERROR.value):
        return f"{head}: {line['message']}"
    changes = {_name(p): (_shown(plan, p, b), _shown(plan, p, a))
               for p, (b, a) in plan.changed_properties(number).items()}
    if line["action"] == ActionKind.CREATE.value:
        return _condensed(head + ": ", [f"{p}={_show(a)}" for p, (_, a) in changes.items()], width)
    if line["action"] == ActionKind.UPDATE.value:
        return head + ": " + "; ".join(f"{p}: {_show(b)} → {_show(a)}" for p, (b, a) in changes.items())
    return head


def _condensed(head: str, items: list[str], width: int) -> str:
    """`head` and as many items as fit in `width` with room for "+N more"; at least the first one."""
    shown, used = [], len(head)
    for position, item in enumerate(items):
        more = len(items) - position - 1
        room = width - (len(f", +{more} more") if more else 0)
        if shown and used + len(", ") + len(item) > room:
            break
        shown.append(item)
        used += len(item) + (len(", ") if len(shown) > 1 else 0)
    rest = len(items) - len(shown)
    return head + ", ".join(shown) + (f", +{rest} more" if rest else "")


def _name(prop: str) -> str:
    """Association pseudo-properties read as their column."""
    return prop.removeprefix("assoc:")


def _shown(plan: Plan, prop: str, value):
    """An association's target as a person knows it (the value its column holds, e.g. an email),
    or `record <id>` when the plan does not know that value; any other value as it is."""
    link = (plan.meta.get("associations") or {}).get(prop)
    if link is None or value is None or pd.isna(value) or value == "":
        return value
    return (link.get("shown") or {}).get(value) or f"record {value}"


def _show(value) -> str:
    if value is None:
        return "(empty)"
    if value == "":
        return "(cleared)"
    return value if len(value) <= 40 else value[:37] + "…"


# --- review workbook ----------------------------------------------------------------------------

PLAN_SHEET = "syncer_plan"  # very hidden: the plan itself, so the workbook travels alone
PLAN_CHUNK = 32_000  # characters per cell, under Excel's limit of 32,767
_REVIEW_FIXED = ("row", "key", "record_id", APPROVE, "plan_action")


def write_review(plan: Plan, path: Path) -> None:
    """A workbook to review a plan in Excel: a Summary sheet and one sheet per action kind.

    Update sheets put each changed property's before and after side by side; the values sent are
    highlighted. Create, Update and Archive sheets end with an `approve` column filled with yes (a
    yes/no list) and a `plan_action` number. The plan itself is kept in the workbook, on a very
    hidden sheet, and its SHA-256 digest written on the Summary sheet, so `syncer apply review.xlsx`
    applies exactly that plan's rows still marked yes, and refuses a plan edited since.

    Written in one streaming pass (tables.SheetWriter): styling cells afterwards meant loading and
    saving the whole workbook again, which took most of the time.
    """
    path = Path(path)
    text = json.dumps(plans.to_json(plan), ensure_ascii=False, separators=(",", ":"))
    # Excel and calamine read `_xHHHH_` in a cell as an escaped character; spelling every "_x" as
    # JSON's \u005fx (an "_" can only stand inside a JSON string) keeps the text, and its digest, intact.
    text = text.replace("_x", "\\u005fx")
    sheets = {"Summary": _summary_frame(plan, hashlib.sha256(text.encode()).hexdigest())}
    for kind in ActionKind:
        numbers = plan.of_kind(kind)
        if len(numbers) and kind is not ActionKind.UNCHANGED:
            sheets[kind.value.capitalize()] = _action_frame(plan, kind, numbers)
    with tables.SheetWriter(path) as writer:
        for name, frame in sheets.items():
            writer.sheet(name, frame.columns)
            writer.write(frame)
            _mark_review_columns(writer.worksheet, frame, highlight=name in ("Create", "Update"))
        writer.sheet(PLAN_SHEET, [PLAN_SHEET])
        writer.write(pd.DataFrame({PLAN_SHEET: [text[i:i + PLAN_CHUNK] for i in range(0, len(text), PLAN_CHUNK)]}))
        writer.worksheet.sheet_state = "veryHidden"  # never shown in Excel's unhide list


def _mark_review_columns(ws, frame: pd.DataFrame, *, highlight: bool) -> None:
    """With `highlight`, the values sent are filled in yellow by one conditional format per column
    (a style per cell costs more than writing the cell); the approve column offers yes or no."""
    bottom = len(frame) + 1
    for position, name in enumerate(frame.columns, start=1):
        column = get_column_letter(position)
        if highlight and name not in _REVIEW_FIXED and not str(name).endswith("(before)"):
            ws.conditional_formatting.add(f"{column}2:{column}{bottom}",
                                          FormulaRule(formula=[f"LEN({column}2)>0"], fill=_SENT_FILL))
        if name == APPROVE:
            choice = DataValidation(type="list", formula1='"yes,no"', allow_blank=True, showErrorMessage=True,
                                    errorTitle=APPROVE, error="yes or no")
            choice.add(f"{column}2:{column}{bottom}")
            ws.data_validations.append(choice)


def read_review(path: Path) -> tuple[dict, set[int]]:
    """The plan document a review workbook was made with, and the action numbers still marked yes.

    The plan comes from the workbook's hidden sheet, or, for a workbook made before it kept one,
    from the plan file named on its Summary sheet; either must match the digest there. Read with
    calamine, which reads the sheets' values many times faster than openpyxl.
    """
    path = Path(path)
    try:
        book = python_calamine.CalamineWorkbook.from_path(str(path))
        sheets = {name: book.get_sheet_by_name(name).to_python() for name in book.sheet_names}
    except Exception as exc:  # calamine raises several kinds for a damaged or foreign file
        raise InputError(f"{path}: cannot read the review workbook ({exc})") from None
    facts = {line[0]: line[1] for line in sheets.get("Summary", [])[1:] if len(line) >= 2}
    text = _plan_file_text(path, facts) if "plan file" in facts else _kept_plan(sheets)
    document = _checked_plan(path, facts, text)
    actions = document.get("actions") if isinstance(document, dict) else None
    actions = actions if isinstance(actions, list) else []
    approved = set()
    for kind in plans.WRITES:
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


def _summary_frame(plan: Plan, digest: str) -> pd.DataFrame:
    facts = [("object", plan.object_type), ("id property", plan.id_property), ("mode", plan.mode.value),
             ("plan", f"kept in this workbook (hidden sheet {PLAN_SHEET})"), ("plan digest", digest)]
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
            before = plan.before.loc[numbers, prop].where(after[prop].notna(), None)
            base[f"{_name(prop)} (before)"] = _shown_column(plan, prop, before)
        base[f"{_name(prop)} (after)" if kind is ActionKind.UPDATE else _name(prop)] = _shown_column(plan, prop, after[prop])
    return _approvable(base, numbers)


def _shown_column(plan: Plan, prop: str, values: pd.Series) -> pd.Series:
    if prop not in (plan.meta.get("associations") or {}):
        return values.map(fit_cell)  # the plan itself, on the hidden sheet, keeps every value whole
    return values.map(lambda value: _shown(plan, prop, value))


def fit_cell(value):
    """`value` for a sheet a person reads and syncer never reads back (a review's or a conflict's
    columns): text longer than an Excel cell is cut, saying so, where writing it whole would fail."""
    room = tables.EXCEL_CELL_LIMIT - 100
    if not isinstance(value, str) or len(value) <= room:
        return value
    return value[:room] + f"… [cut for display: {len(value):,} characters in all]"


def _approvable(frame: pd.DataFrame, numbers: pd.Index) -> pd.DataFrame:
    frame[APPROVE] = "yes"
    frame["plan_action"] = numbers
    return frame.reset_index(drop=True)


# --- results ------------------------------------------------------------------------------------


def render_results(results: Results) -> str:
    counts = "  ".join(f"{k} {n}" for k, n in results.counts().items() if n)
    estimate = results.meta.get("estimate")
    planned = f" of {estimate['total_calls']} estimated" if estimate else ""
    lines = [f"{counts}  ({results.calls} API calls{planned})"]
    unsent = [o for o in results.outcomes if o.error_category == INTERRUPTED]
    differences = [o for o in results.differences if o.error_category != INTERRUPTED]  # HubSpot never saw those
    if differences:
        lines.append(f"{len(differences)} row(s) ended differently than planned (column as_planned in the report):")
        lines.extend(f"  {_where(o)}  {o.key}: planned {o.action}, HubSpot {o.outcome.value}"
                     for o in differences[:SHOWN_PER_KIND] if o.outcome not in (Outcome.FAILED, Outcome.CONFLICT))
    problems = results.problems
    for o in problems[:SHOWN_PER_KIND]:
        lines.append(f"  {_where(o)}  {o.key}: {o.outcome.value}: {o.error_category}: {o.error_message}")
    if len(problems) > SHOWN_PER_KIND:
        lines.append(f"  … and {len(problems) - SHOWN_PER_KIND} more in the report")
    if results.interrupted:
        lines.append(f"Stopped early: interrupted after the batches in flight; {_rows(len(unsent))} not sent "
                     f"{'is' if len(unsent) == 1 else 'are'} marked skipped ({INTERRUPTED}). Run again to send "
                     f"{'it' if len(unsent) == 1 else 'them'}.")
    for item in results.meta.get("not_restorable") or []:
        lines.append(f"  not restorable: {item['key']} ({item['record_id']}): {item['note']}")
    return "\n".join(lines)


def _where(outcome: RowOutcome) -> str:
    """`row 14` for a sheet row, `record 123` for an archive, which has no row."""
    return f"row {outcome.row}" if outcome.row is not None else f"record {outcome.record_id}"


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
        **({} if built is None else {k: built.meta.get(k) for k in portals.META_FIELDS}),
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
        text = json.dumps(results_document(results), ensure_ascii=False, indent=1)
        tables.atomic_write(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
        return
    if suffix not in (".csv", ".xlsx"):
        raise InputError(f"{path}: a results report must end in .csv, .xlsx or .json")
    frame = results.to_frame()
    with tables.SheetWriter(path, frame.columns, sheet_name="Results") as writer:
        writer.write(frame)
        if not writer.is_csv:
            outcome = get_column_letter(list(frame.columns).index("outcome") + 1)
            _colour_outcomes(writer.worksheet, outcome, len(frame) + 1)


def _colour_outcomes(sheet, column: str, bottom: int) -> None:
    """One conditional format per outcome, failures and conflicts in bold: in the same pass as the
    rows, where a fill per cell meant loading and saving the workbook a second time."""
    for outcome, colour in _OUTCOME_FILLS.items():
        fill = PatternFill("solid", start_color=colour, end_color=colour)
        bold = Font(bold=outcome in (Outcome.FAILED.value, Outcome.CONFLICT.value))
        sheet.conditional_formatting.add(f"{column}2:{column}{bottom}",
                                         CellIsRule(operator="equal", formula=[f'"{outcome}"'], fill=fill, font=bold))


# --- sync ----------------------------------------------------------------------------------------


def sync_document(result) -> dict:
    """The one JSON document `syncer sync --json` prints (schema: syncer/schemas/output.schema.json)."""
    push = result.push_plan
    return {
        "syncer_output": JSON_OUTPUT_VERSION,
        "command": "sync",
        "exit_code": result.exit_code,
        "portal": result.portal and result.portal.name,
        "hub_id": result.portal and result.portal.hub_id,
        "first_sync": result.first,
        "source": str(result.source),
        "snapshot": str(result.snapshot),
        "sheet_changed": result.sheet_changed,
        "counts": result.counts,
        "calls": result.calls,
        "conflicts": [_conflict(line) for line in result.conflicts.to_dict("records")],
        "errors": [_cell_error(e) for e in result.errors],
        "held": [_cell_error(e) for e in result.held],
        "plan": None if push is None else {
            "object_type": push.object_type, "mode": push.mode.value, "counts": push.counts(),
            "has_changes": push.has_changes, "estimate": push.meta.get("estimate")},
        "results": None if result.results is None else results_document(result.results),
    }


def _cell_error(error) -> dict:
    return {"row": error.row, "column": error.column, "value": _plain(error.value), "message": error.message}


def _conflict(line: dict) -> dict:
    row = line.get("row")
    return {"row": None if pd.isna(row) else int(row), "key": str(line["key"]), "property": str(line["property"]),
            **{side: _plain(line.get(side)) for side in ("base", "sheet", "hubspot")}}


def _plain(value):
    """JSON's view of a cell: None for any missing marker, numbers as they are, anything else as text."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    return value if isinstance(value, (str, int, float)) else str(value)
