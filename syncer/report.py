"""Render plans and results: terminal text, JSON, CSV and XLSX. No network; files only where asked."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from openpyxl import load_workbook
from openpyxl.styles import Font, PatternFill

from syncer import tables
from syncer.errors import InputError
from syncer.execute import Outcome, Results
from syncer.plan import ActionKind, Plan

RESULTS_FILE_VERSION = 1
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
    return "\n".join(lines)


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
    """
    sheets = {"Summary": _summary_frame(plan)}
    for kind in ActionKind:
        numbers = plan.of_kind(kind)
        if len(numbers) and kind is not ActionKind.UNCHANGED:
            sheets[kind.value.capitalize()] = _action_frame(plan, kind, numbers)
    tables.write_sheets(sheets, path)
    _highlight_after_columns(path, [name for name in sheets if name in ("Create", "Update")])


def _summary_frame(plan: Plan) -> pd.DataFrame:
    facts = [("object", plan.object_type), ("id property", plan.id_property), ("mode", plan.mode.value)]
    facts += [(k, str(v)) for k, v in plan.meta.items() if isinstance(v, (str, int, float))]
    facts += [(f"{kind} rows", n) for kind, n in plan.counts().items()]
    return pd.DataFrame(facts, columns=["item", "value"])


def _action_frame(plan: Plan, kind: ActionKind, numbers: pd.Index) -> pd.DataFrame:
    base = plan.actions.loc[numbers, ["row", "key", "record_id"]].copy()
    if kind in (ActionKind.SKIP, ActionKind.ERROR):
        base["message"] = plan.actions.loc[numbers, "message"]
        return base.reset_index(drop=True)
    if kind is ActionKind.ARCHIVE:
        return base.reset_index(drop=True)
    after = plan.after.loc[numbers]
    sent = [p for p in plan.properties if after[p].notna().any()]
    for prop in sent:
        if kind is ActionKind.UPDATE:
            base[f"{prop} (before)"] = plan.before.loc[numbers, prop].where(after[prop].notna(), None)
        base[f"{prop} (after)" if kind is ActionKind.UPDATE else prop] = after[prop]
    return base.reset_index(drop=True)


def _highlight_after_columns(path: Path, sheet_names: list[str]) -> None:
    if not sheet_names:
        return
    book = load_workbook(path)
    for name in sheet_names:
        sheet = book[name]
        header = [cell.value for cell in sheet[1]]
        for col, title in enumerate(header, start=1):
            if title in ("row", "key", "record_id") or str(title).endswith("(before)"):
                continue
            for (cell,) in sheet.iter_rows(min_row=2, min_col=col, max_col=col):
                if cell.value not in (None, ""):
                    cell.fill = _CHANGED_FILL
    book.save(path)


# --- results ------------------------------------------------------------------------------------


def render_results(results: Results) -> str:
    counts = "  ".join(f"{k} {n}" for k, n in results.counts().items() if n)
    lines = [f"{counts}  ({results.calls} API calls)"]
    problems = results.problems
    for o in problems[:SHOWN_PER_KIND]:
        lines.append(f"  row {o.row}  {o.key}: {o.outcome.value}: {o.error_category}: {o.error_message}")
    if len(problems) > SHOWN_PER_KIND:
        lines.append(f"  … and {len(problems) - SHOWN_PER_KIND} more in the report")
    if results.interrupted:
        lines.append("Stopped early: rows not sent are marked skipped (INTERRUPTED).")
    return "\n".join(lines)


def results_document(results: Results) -> dict:
    frame = results.to_frame()
    rows = json.loads(frame.to_json(orient="records"))
    return {"syncer_results": RESULTS_FILE_VERSION, **results.meta, "counts": results.counts(),
            "calls": results.calls, "interrupted": results.interrupted, "rows": rows}


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
