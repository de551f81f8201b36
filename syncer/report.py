"""Render plans and results: terminal text, JSON, CSV and XLSX. No network; files only where asked."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import shutil
from functools import cached_property
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from openpyxl.chart import BarChart, Reference
from openpyxl.formatting.rule import CellIsRule, FormulaRule
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from syncer import associations, planfiles, portals, tables
from syncer.planfiles import APPROVE, PLAN_SHEET
from syncer.errors import InputError
from syncer.execute import PROBLEMS, STATUS_COLUMNS, Outcome, Results, RowOutcome, RunMeta
from syncer.mapping import Mapping, load as load_mapping
from syncer.plan import ActionKind, Plan, PlanMeta
from syncer.values import canonical_numbers, cell_text, to_cells

RESULTS_FILE_VERSION = 1
JSON_OUTPUT_VERSION = 1  # of the documents `--json` prints; see syncer/schemas/output.schema.json
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
    terminal's by default), then "+N more"; update lines show every change. `limit=0` (-q) gives
    the counts and the verdict only.
    """
    width = width or shutil.get_terminal_size((100, 24)).columns
    counts = plan.counts()
    planned = portals.planned(plan.meta.portal, plan.meta.hub_id)
    lines = [f"On {planned}:"] if planned else []
    lines.append("  ".join(f"{kind} {n}" for kind, n in counts.items()))
    for kind in (ActionKind.CREATE, ActionKind.UPDATE, ActionKind.ARCHIVE, ActionKind.SKIP, ActionKind.ERROR):
        numbers = plan.of_kind(kind)
        if len(numbers) == 0 or limit == 0:
            continue
        lines.append("")
        lines.append(f"{kind.value} ({len(numbers)}):")
        lines.extend(_describe(plan, n, width) for n in numbers[:limit])
        if len(numbers) > limit:
            lines.append(f"  … and {len(numbers) - limit} more (see them all with --review review.xlsx or -o plan.json)")
    lines.extend(f"  {message}" for message in plan.meta.not_retried or [])
    lines.extend(["", *_plan_verdict(plan, counts)])
    return "\n".join(lines)


def _plan_verdict(plan: Plan, counts: dict[str, int]) -> list[str]:
    """What the plan comes to: its cost, or why there is nothing to send, and the rows left out."""
    errors, skips = counts[ActionKind.ERROR.value], counts[ActionKind.SKIP.value]
    broken = f"{_rows(errors)} {'has' if errors == 1 else 'have'} errors"
    if plan.has_changes:
        cost = [render_estimate(plan.meta.estimate)] if plan.meta.estimate else []
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
    head = f"  {where}  {_key(line['key'])}"
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
    return prop.removeprefix(associations.PREFIX)


def _shown(plan: Plan, prop: str, value):
    """An association's target as a person knows it (the value its column holds, e.g. an email),
    or `record <id>` when the plan does not know that value; any other value as it is."""
    link = plan.meta.associations.get(prop)
    if link is None or value is None or pd.isna(value) or value == "":
        return value
    return link.shown.get(value) or f"record {value}"


def _show(value) -> str:
    if value is None:
        return "(empty)"
    if value == "":
        return "(cleared)"
    return value if len(value) <= 40 else value[:37] + "…"


# --- review workbook ----------------------------------------------------------------------------

_REVIEW_FIXED = ("row", "key", "record_id", APPROVE, "plan_action")
BEFORE, AFTER = " (before)", " (after)"  # an Update sheet's headers: the sheet's column and one of these
_CLEARED_FILL = PatternFill("solid", start_color="FFC7CE", end_color="FFC7CE")
_CLEARED_FONT = Font(color="9C0006", strike=True)
_REVIEW_LEGEND = {"highlighted": ("a value the row sends to HubSpot", {"fill": _SENT_FILL}),
                  "red": ("a value the row clears: HubSpot's value is removed", {"fill": _CLEARED_FILL}),
                  "struck through": ("the value a clear removes (its before)", {"font": _CLEARED_FONT})}


def write_review(plan: Plan, path: Path) -> None:
    """A workbook to review a plan in Excel, in the sheet's own language: a Summary sheet and one
    sheet per action kind.

    Columns are named as the sheet names them and values shown as the sheet shows them (option
    labels, numbers, dates and datetimes in the mapping's time zone, booleans and multi-selects as
    export writes them; see _Display). Update sheets put each changed value's before and after side
    by side, the after highlighted, a value being cleared in red with its before struck through; the
    Archive sheet shows each record's current values. Create, Update and Archive sheets end with an
    `approve` column filled with yes (a yes/no list) and a `plan_action` number. Summary gives the
    counts per action (and a chart of them), the cost, the portal and object and the plan's SHA-256
    digest. The plan itself is kept in the workbook, on a very hidden sheet, so `syncer apply
    review.xlsx` applies exactly that plan's rows still marked yes, and refuses a plan edited since:
    the cells shown are for people, and never read back as values.

    Written in one streaming pass (tables.SheetWriter): styling cells afterwards meant loading and
    saving the whole workbook again, which took most of the time.
    """
    path = Path(path)
    text = planfiles.review_text(plan)
    shown = _Display.of(plan)
    with tables.SheetWriter(path) as writer:
        summary = _write_summary(writer, *_review_facts(plan, shown, hashlib.sha256(text.encode()).hexdigest()),
                                 title="Rows per action")
        _paint_legend(writer.worksheet, summary)
        for kind in ActionKind:
            numbers = plan.of_kind(kind)
            if len(numbers) and kind is not ActionKind.UNCHANGED:
                frame = _action_frame(plan, kind, numbers, shown)
                writer.sheet(kind.value.capitalize(), frame.columns)
                writer.write(frame)
                _mark_review_columns(writer.worksheet, frame, kind)
        writer.sheet(PLAN_SHEET, [PLAN_SHEET])
        writer.write(pd.DataFrame({PLAN_SHEET: planfiles.review_chunks(text)}))
        writer.worksheet.sheet_state = "veryHidden"  # never shown in Excel's unhide list


@dataclass(frozen=True)
class _Display:
    """A plan's values as a review shows them: under the sheet's column names, and as export would
    write them into the sheet (values.to_cells), from the mapping's columns and the properties'
    definitions that jobs keeps in the plan's meta `display`. A plan without that description
    (built with plan.build directly, an undo plan) shows property names and HubSpot's own values."""

    plan: Plan
    mapping: Mapping | None
    properties: list[dict]
    columns: dict[str, str]  # property → the sheet's column

    @classmethod
    def of(cls, plan: Plan) -> _Display:
        described = plan.meta.display
        if not described:
            return cls(plan, None, [], {})
        m = Mapping(object=described.get("object") or plan.object_type, id_property=plan.id_property,
                    columns=described["columns"], path=Path(plan.meta.mapping or "."),
                    digest=plan.meta.mapping_digest or "")
        return cls(plan, m, described["properties"], {spec.property: c for c, spec in m.columns.items()})

    def header(self, prop: str) -> str:
        return self.columns.get(prop) or _name(prop)

    def cells(self, canonical: pd.DataFrame) -> pd.DataFrame:
        """Canonical values (a column per property) as the review shows them, under the same columns."""
        shown = canonical.astype(object)
        if self.mapping is not None:
            natural = to_cells(canonical, self.mapping, self.properties, strict=False)
            for column, spec in self.mapping.columns.items():
                if spec.property in shown:
                    shown[spec.property] = natural[column]
        for prop in shown.columns.intersection(list(self.plan.meta.associations)):
            shown[prop] = shown[prop].map(lambda value, prop=prop: _shown(self.plan, prop, value))
        return shown.map(_review_cell)

    def archived(self, numbers: pd.Index) -> pd.DataFrame:
        """The current values (canonical) of the records these archive actions would archive."""
        current = (self.plan.meta.display or {}).get("archived") or {}
        return pd.DataFrame([current.get(r, {}) for r in self.plan.actions.loc[numbers, "record_id"]],
                            index=numbers, columns=self.plan.properties, dtype=object)


def _review_cell(value):
    """A value as a review cell: blank for none and for a value cleared (sent as ""), long text cut."""
    if value is None or (isinstance(value, str) and not value) or (isinstance(value, float) and math.isnan(value)):
        return None
    return fit_cell(value)


def _review_facts(plan: Plan, shown: _Display, digest: str) -> tuple[list, dict[str, int], list]:
    """The review's Summary: what and where, the rows per action, then the cost, the plan and how to read the sheets."""
    id_column = shown.columns.get(plan.id_property)
    head = [("portal", _portal(plan.meta)),
            ("object", f"{shown.mapping.object} ({plan.object_type})" if shown.mapping else plan.object_type),
            ("id property", plan.id_property + (f" (column {id_column})" if id_column else "")),
            ("mode", plan.mode.value)]
    estimate = plan.meta.estimate
    tail = [("cost", render_estimate(estimate) if estimate else None),
            ("plan", f"kept in this workbook (hidden sheet {PLAN_SHEET})"), ("plan digest", digest),
            *((item, meaning) for item, (meaning, _) in _REVIEW_LEGEND.items()),
            *((k, str(v)) for k, v in plan.meta.to_json().items()
              if isinstance(v, (str, int, float)) and k not in portals.META_FIELDS)]
    return head, {f"{kind} rows": n for kind, n in plan.counts().items()}, tail


def _portal(meta: PlanMeta | RunMeta) -> str | None:
    planned = portals.planned(meta.portal, meta.hub_id)
    return str(planned) if planned else None


def _paint_legend(ws, summary: pd.DataFrame) -> None:
    """Colour the legend's lines on Summary as the sheets colour what they describe."""
    for line, item in enumerate(summary["item"], start=2):
        if item in _REVIEW_LEGEND:
            ws.conditional_formatting.add(f"B{line}", FormulaRule(formula=["TRUE"], **_REVIEW_LEGEND[item][1]))


def _write_summary(writer: tables.SheetWriter, head: list, counts: dict[str, int], tail: list, *,
                   title: str) -> pd.DataFrame:
    """A Summary sheet: facts as item and value lines (those without a value left out), the counts
    among them, and a bar chart of the counts beside them. Returns the lines written."""
    facts = [(item, value) for item, value in head if value is not None]
    first = len(facts) + 2  # the first count's line, under the header
    facts += [*counts.items(), *((item, value) for item, value in tail if value is not None)]
    frame = pd.DataFrame(facts, columns=["item", "value"])
    writer.sheet("Summary", frame.columns)
    writer.write(frame)
    chart = BarChart()
    chart.title, chart.legend, chart.y_axis.title = title, None, "rows"
    last = first + len(counts) - 1
    chart.add_data(Reference(writer.worksheet, min_col=2, min_row=first, max_row=last))
    chart.set_categories(Reference(writer.worksheet, min_col=1, min_row=first, max_row=last))
    writer.worksheet.add_chart(chart, "D2")
    return frame


def _mark_review_columns(ws, frame: pd.DataFrame, kind: ActionKind) -> None:
    """What each row changes, by conditional formats, one per column (a style per cell costs more
    than writing the cell): the values sent in yellow (Create, Update); on Update a value being
    cleared (its after blank, its before not) in red, its before struck through. The approve
    column offers yes or no."""
    bottom = len(frame) + 1
    letters = {name: get_column_letter(position) for position, name in enumerate(frame.columns, start=1)}
    for name, column in letters.items():
        cells = f"{column}2:{column}{bottom}"
        sent = FormulaRule(formula=[f"LEN({column}2)>0"], fill=_SENT_FILL)
        if name == APPROVE:
            choice = DataValidation(type="list", formula1='"yes,no"', allow_blank=True, showErrorMessage=True,
                                    errorTitle=APPROVE, error="yes or no")
            choice.add(cells)
            ws.data_validations.append(choice)
        elif kind is ActionKind.CREATE and name not in _REVIEW_FIXED:
            ws.conditional_formatting.add(cells, sent)
        elif kind is ActionKind.UPDATE and name.endswith(AFTER):
            before = letters[name.removesuffix(AFTER) + BEFORE]
            cleared = f"AND(LEN({column}2)=0,LEN({before}2)>0)"
            ws.conditional_formatting.add(cells, FormulaRule(formula=[cleared], fill=_CLEARED_FILL))
            ws.conditional_formatting.add(cells, sent)
            ws.conditional_formatting.add(f"{before}2:{before}{bottom}", FormulaRule(formula=[cleared], font=_CLEARED_FONT))


def _action_frame(plan: Plan, kind: ActionKind, numbers: pd.Index, shown: _Display) -> pd.DataFrame:
    base = plan.actions.loc[numbers, ["row", "key", "record_id"]].copy()
    if kind in (ActionKind.SKIP, ActionKind.ERROR):
        base["message"] = plan.actions.loc[numbers, "message"]
        return base.reset_index(drop=True)
    if kind is ActionKind.ARCHIVE:
        current = shown.archived(numbers)
        held = [p for p in plan.properties if current[p].notna().any()]
        cells = shown.cells(current[held])
        for prop in held:
            base[_apart(shown.header(prop))] = cells[prop]
        return _approvable(base, numbers)
    after = plan.after.loc[numbers]
    sent = [p for p in plan.properties if after[p].notna().any()]
    cells = shown.cells(after[sent])
    if kind is ActionKind.CREATE:
        for prop in sent:
            base[_apart(shown.header(prop))] = cells[prop]
        return _approvable(base, numbers)
    before = shown.cells(plan.before.loc[numbers, sent].where(after[sent].notna(), None))
    for prop in sent:
        base[shown.header(prop) + BEFORE] = before[prop]
        base[shown.header(prop) + AFTER] = cells[prop]
    return _approvable(base, numbers)


def _apart(column: str) -> str:
    """A sheet's column as a review's header, never one of the review's own columns."""
    return f"{column} (column)" if column in _REVIEW_FIXED else column


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
    estimate = results.meta.estimate
    planned = f" of {estimate['total_calls']} estimated" if estimate else ""
    lines = [f"{counts}  ({results.calls} API calls{planned})"]
    unsent = [o for o in results.outcomes if o.error_category == INTERRUPTED]
    differences = [o for o in results.differences if o.error_category != INTERRUPTED]  # HubSpot never saw those
    if differences:
        lines.append(f"{len(differences)} row(s) ended differently than planned (column as_planned in the report):")
        lines.extend(f"  {_where(o)}  {_key(o.key)}: planned {o.action}, HubSpot {o.outcome.value}"
                     for o in differences[:SHOWN_PER_KIND] if o.outcome not in (Outcome.FAILED, Outcome.CONFLICT))
    problems = results.problems
    for o in problems[:SHOWN_PER_KIND]:
        lines.append(f"  {_where(o)}  {_key(o.key)}: {o.outcome.value}: {o.error_category}: {o.error_message}")
    if len(problems) > SHOWN_PER_KIND:
        lines.append(f"  … and {len(problems) - SHOWN_PER_KIND} more in the report")
    if results.interrupted:
        lines.append(f"Stopped early: interrupted after the batches in flight; {_rows(len(unsent))} not sent "
                     f"{'is' if len(unsent) == 1 else 'are'} marked skipped ({INTERRUPTED}). Run again to send "
                     f"{'it' if len(unsent) == 1 else 'them'}.")
    for item in results.meta.not_restorable or []:
        lines.append(f"  not restorable: {item['key']} ({item['record_id']}): {item['note']}")
    return "\n".join(lines)


def _key(key) -> str:
    """A row's key as a line shows it; a row with none says so, never `None` or `nan`."""
    return "(no key)" if key is None or (not isinstance(key, str) and pd.isna(key)) else str(key)


def _where(outcome: RowOutcome) -> str:
    """`row 14` for a sheet row, `record 123` for an archive, which has no row."""
    return f"row {outcome.row}" if outcome.row is not None else f"record {outcome.record_id}"


def results_document(results: Results) -> dict:
    frame = results.to_frame()
    rows = json.loads(frame.to_json(orient="records"))
    estimate = results.meta.estimate
    return {"syncer_results": RESULTS_FILE_VERSION, **results.meta.to_json(), "counts": results.counts(),
            "calls": results.calls, "estimated_calls": estimate["total_calls"] if estimate else None,
            "differs_from_plan": len(results.differences), "interrupted": results.interrupted, "rows": rows}


def read_results(path: Path) -> Results:
    """A results report written by write_results (CSV, XLSX or JSON) read back as Results."""
    path = Path(path)
    try:
        if path.suffix.lower() == ".json":
            document = json.loads(path.read_text(encoding="utf-8"))
            rows, meta = document["rows"], RunMeta(mapping=document.get("mapping"), source=document.get("source"))
        else:
            rows, meta = tables.read(path, sheet=RESULTS_SHEET).frame.astype(object).to_dict("records"), RunMeta()
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


def render_sync(result) -> str:
    """What a sync did (sync.SyncResult): the counts, the writes' results, and what needs a person."""
    c = result.counts
    lines = [f"{'First sync' if result.first else 'Sync'} of {result.source.name}: pushed {c['push']}, "
             f"archived {c['archive']}, pulled {c['pull']} cells, appended {c['append']} rows, "
             f"marked {c['mark']} archived, conflicts {c['conflict']} ({result.calls} API calls)."]
    if result.results is not None:
        lines.append(render_results(result.results))
        if result.results.meta.undo:
            lines.append(f"Undo plan written to {result.results.meta.undo}; revert these writes with: "
                         f"syncer apply {result.results.meta.undo}")
    lines += [f"  {e}" for e in result.errors[:20]]
    if result.held:
        lines.append(f"Not written into {result.source.name} ({len(result.held)} cells; HubSpot keeps these values):")
        lines += [f"  {e}" for e in result.held[:20]]
    if len(result.conflicts):
        lines.append("Conflicts (changed on both sides; settle with --prefer sheet|hubspot or edit the sheet):")
        lines += [f"  row {'-' if r.row is None or r.row != r.row else int(r.row)} {r.key} {r.property}: "
                  f"sheet {r.sheet!r}, HubSpot {r.hubspot!r} (was {r.base!r})"
                  for r in result.conflicts.head(50).itertuples()]
    if result.sheet_changed:
        lines.append(f"{result.source.name} was saved by someone else while syncing, so nothing was written "
                     "into it and the snapshot was kept; HubSpot has this run's writes. Sync again to finish.")
    return "\n".join(lines)


def render_portal_info(info, portal: portals.Portal) -> str:
    """`syncer info`: the portal (hub.PortalInfo), its rate-limit tier and the object types it shows."""
    lines = [f"Portal:       {portal} at {info.base_url}",
             f"Rate limit:   {_rate_limit_tier(info.rate_limit)}",
             f"Object types: {len(info.object_types)} custom (standard ones are addressed by name)"]
    lines += [f"  {t.name:<20} {t.object_type_id:<12} {t.fully_qualified_name:<24} "
              f"{t.labels.get('plural', '')}" for t in info.object_types]
    return "\n".join(lines)


def _rate_limit_tier(limit) -> str:
    if limit is None or not limit.max_per_interval:
        return "not reported by the portal"
    tier = f"{limit.max_per_interval} requests per {(limit.interval_ms or 10_000) / 1000:g} s"
    if limit.daily:
        left = f" ({limit.daily_remaining:,} left)" if limit.daily_remaining is not None else ""
        tier += f"; daily {limit.daily:,}{left}"
    return tier


def render_run(done) -> list[str]:
    """After a push or an apply (push.PushResult): the results, then each file written, with the
    command that comes next. What could not be done (`not_done`) is the caller's to show, on stderr."""
    lines = [render_results(done.results)]
    if done.report:
        lines.append(f"Report written to {done.report}")
    if done.written_back:
        lines.append(f"Results written back to {done.written_back}")
    if done.errors:
        retry = f" --retry-failed {done.report}" if done.report else ""
        lines.append(f"{done.failed_rows_written:,} failed row(s) written to {done.errors}; fix them there, then: "
                     f"syncer push MAPPING --source {done.errors}{retry}")
    undo = done.results.meta.undo
    if undo:
        lines.append(f"Undo plan written to {undo}; revert this run with: syncer apply {undo}")
    return lines


def run_document(command: str, built: Plan | None, results: Results | None, *, exit_code: int) -> dict:
    """The one JSON document `--json` prints on stdout (schema: syncer/schemas/output.schema.json)."""
    return {
        "syncer_output": JSON_OUTPUT_VERSION,
        "command": command,
        "exit_code": exit_code,
        **({} if built is None else {"portal": built.meta.portal, "hub_id": built.meta.hub_id}),
        "plan": None if built is None else {
            "object_type": built.object_type, "mode": built.mode.value, "counts": built.counts(),
            "has_changes": built.has_changes, "estimate": built.meta.estimate},
        "results": None if results is None else results_document(results),
    }


def write_results(results: Results, path: Path, *, source: SourceRows | None = None) -> None:
    """One line per row, as CSV or JSON by the file's extension; an xlsx is a workbook to read: a
    Summary sheet, then Failures, then every row (see _write_results_workbook). `source`: the run's
    sheet, when the caller shares one read of it with write_errors."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".json":
        text = json.dumps(results_document(results), ensure_ascii=False, indent=1)
        tables.atomic_write(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
        return
    if suffix not in (".csv", ".xlsx"):
        raise InputError(f"{path}: a results report must end in .csv, .xlsx or .json")
    frame = results.to_frame()
    if suffix == ".csv":
        tables.write(frame, path)
    else:
        _write_results_workbook(results, frame, path, source or SourceRows(results.meta))


FAILURE_COLUMNS = ["row", "key", "action", "outcome", "record_id", "error_category", "error_message"]
RESULTS_SHEET = "Results"  # every row, as the CSV report has them: what read_results reads back


def _write_results_workbook(results: Results, frame: pd.DataFrame, path: Path, source: SourceRows) -> None:
    """Summary (counts per outcome and a chart of them, calls made against the estimate, the portal,
    time taken), Failures (the failed and conflicted rows, each with the sheet's cells it was read
    from beside HubSpot's error category and message, so it can be fixed from the report alone),
    then Results, every row; outcomes coloured, failures and conflicts in bold. In one streaming pass."""
    failed = _problem_lines(frame)
    cells, why = source.cells(failed) if len(failed) else (None, None)
    failures = failed[FAILURE_COLUMNS]
    if cells is not None:
        failures = failures.join(cells.rename(columns=lambda c: f"{c} (sheet)" if c in FAILURE_COLUMNS else c))
    with tables.SheetWriter(path) as writer:
        _write_summary(writer, *_results_facts(results, _inputs_shown(failed, cells, why)), title="Rows per outcome")
        for name, lines in (("Failures", failures), (RESULTS_SHEET, frame)):
            writer.sheet(name, lines.columns)
            writer.write(lines)
            outcome = get_column_letter(list(lines.columns).index("outcome") + 1)
            _colour_outcomes(writer.worksheet, outcome, len(lines) + 1)


def _problem_lines(frame: pd.DataFrame) -> pd.DataFrame:
    """The failed and conflicted lines of a results frame (Results.to_frame), as --retry-failed retries them."""
    return frame[frame["outcome"].isin([o.value for o in PROBLEMS])]


def _results_facts(results: Results, inputs: str) -> tuple[list, dict[str, int], list]:
    """The results' Summary: where, the rows per outcome, then the calls, the time and the failed rows' cells."""
    meta = results.meta
    estimate = meta.estimate
    head = [("portal", _portal(meta)), ("mapping", meta.mapping), ("source", meta.source), ("run id", meta.run_id)]
    tail = [("API calls made", results.calls), ("API calls estimated", estimate["total_calls"] if estimate else None),
            ("time taken", _time_taken(meta)), ("started at", meta.started_at),
            ("rows not as planned", len(results.differences)), ("interrupted", "yes" if results.interrupted else "no"),
            ("failed rows' cells", inputs),
            ("undo plan", (meta.undo or "none: nothing was written") if meta.run_id else None)]
    return head, results.counts(), tail


def _time_taken(meta: RunMeta) -> str | None:
    """`12.3 s` from the run's start to its end, when the results know both."""
    if not (meta.started_at and meta.finished_at):
        return None
    taken = dt.datetime.fromisoformat(meta.finished_at) - dt.datetime.fromisoformat(meta.started_at)
    return f"{taken.total_seconds():,.1f} s"


def _inputs_shown(failed: pd.DataFrame, cells: pd.DataFrame | None, why: str | None) -> str:
    """Where the failed rows' cells are, or why they are not shown."""
    if failed.empty:
        return "no row failed"
    if cells is None:
        return f"not shown: {why}"
    return f"on Failures, beside the error, for {len(cells):,} of the {len(failed):,} failed rows" + (
        "" if len(cells) == len(failed) else " (the others have no row of their own in the sheet now)")


class SourceRows:
    """The sheet a run read (its results' meta), read again at most once for everything that shows
    failed rows in it: the results workbook's Failures sheet and the errors file. It is read only
    when it is still the file the run read (its digest), so every row is where it was."""

    def __init__(self, meta: RunMeta) -> None:
        self.meta = meta

    @cached_property
    def mapping(self) -> Mapping | None:
        return load_mapping(self.meta.mapping) if self.meta.mapping else None

    @cached_property
    def _read(self) -> tuple[pd.DataFrame | None, str | None]:
        meta = self.meta
        if not meta.source:
            return None, "the run read no sheet"
        source = Path(meta.source)
        try:
            tables.check_unchanged(source, meta.source_digest)
            return tables.read(source, sheet=meta.sheet, header_row=meta.header_row or 1).frame, None
        except tables.SheetChanged:
            return None, f"{source.name} was changed since the run read it, so its rows may have moved"
        except (OSError, InputError) as exc:
            return None, f"cannot read {source.name} again ({exc})"

    def cells(self, lines: pd.DataFrame) -> tuple[pd.DataFrame | None, str | None]:
        """The sheet's cells of some report lines (Results.to_frame's), under the sheet's columns
        and indexed as `lines`, exactly as the run read them. A line without a row (an archive) or
        whose key is not on its row (a ledger merged by --retry-failed keeps rows of an older sheet)
        is left out. (None, why) when there is no such sheet."""
        frame, why = self._read
        if frame is None:
            return None, why
        try:
            id_column = self.mapping.id_column if self.mapping else None
        except (OSError, InputError) as exc:
            return None, f"cannot read {self.meta.mapping} again ({exc})"
        rows = lines["row"][lines["row"].isin(frame.index)]
        cells = frame.loc[rows.astype(int).to_numpy()].set_axis(rows.index)
        if id_column in cells:
            cells = cells[_same_keys(cells[id_column], lines.loc[cells.index, "key"])]
        return cells, None


def _same_keys(cells: pd.Series, keys: pd.Series) -> list[bool]:
    """Per line, whether the sheet's key cell holds the report's key (as text, or as a number's canonical text)."""
    text = cell_text(cells)
    numbers = canonical_numbers(text)
    plain = lambda series: [None if pd.isna(v) else v for v in series]
    return [k in (t, n) if k is not None else t is None for k, t, n in zip(plain(keys), plain(text), plain(numbers))]




def write_errors(results: Results, path: Path, *, source: SourceRows | None = None) -> int:
    """The failed and conflicted rows in the sheet's own columns, as the run read them, with
    sync_status, sync_record_id and sync_error (the write-back's columns) beside them, as CSV or xlsx
    by the file's extension: fix them there, then push that file (`--source FILE --retry-failed
    REPORT`). The header is on the mapping's header row and an xlsx's sheet has the source's sheet
    name, so the mapping reads the file as it reads the sheet; every cell reads back as the sheet's
    own (tables.SheetWriter). Rows without a row in the sheet (archives) are left out. Returns the
    rows written; InputError, and nothing written, when rows failed and the sheet cannot be read as
    the run read it. Without a failed row the file holds a header alone, replacing an older one.
    `source`: the run's sheet, when the caller shares one read of it with write_results.
    """
    path = Path(path)
    if path.suffix.lower() not in (".csv", ".xlsx"):
        raise InputError(f"{path}: the failed rows are written to a .csv or .xlsx file")
    source = source or SourceRows(results.meta)
    failed = _problem_lines(results.to_frame())
    cells, why = source.cells(failed)
    if cells is None and len(failed):
        raise InputError(f"{path}: the failed rows are not written: {why}; the report lists them")
    if cells is None:  # nothing failed, and no sheet to take the columns from: the status columns alone
        cells = pd.DataFrame(index=failed.index)
    for column, name in zip(STATUS_COLUMNS, ("outcome", "record_id", "error_message")):
        cells[column] = failed.loc[cells.index, name]
    tables.write(cells, path, sheet_name=_sheet_name(source), header_row=results.meta.header_row or 1)
    return len(cells)


def _sheet_name(source: SourceRows) -> str:
    """The sheet an xlsx holding the source's rows needs, so the mapping reads it as it reads the
    source: the mapping's sheet when it names one (also for a CSV source), else the source's."""
    named = source.mapping.sheet if source.mapping else None
    sheet = named if isinstance(named, str) else source.meta.sheet
    return sheet if isinstance(sheet, str) else "Sheet1"


def _colour_outcomes(sheet, column: str, bottom: int) -> None:
    """One conditional format per outcome, failures and conflicts in bold: in the same pass as the
    rows, where a fill per cell meant loading and saving the workbook a second time. A sheet
    without rows (no failure) has nothing to colour."""
    if bottom < 2:
        return
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
            "has_changes": push.has_changes, "estimate": push.meta.estimate},
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


# --- schema plans (syncer schema, syncer init --create-object) ----------------------------------------

SHOWN_BODY = 240  # characters of a call's body on a terminal; the whole body is in --json and -o


def render_schema_plan(plan, *, limit: int = SHOWN_PER_KIND) -> str:
    """A schema plan for people: the object, each change with its column, notes, then the API calls
    exactly as they will be sent (bodies cut at SHOWN_BODY characters). `limit=0` (-q) leaves out
    the per-change listing."""
    planned = portals.planned(plan.meta.portal, plan.meta.hub_id)
    where = f"On {planned}:" if planned else "On the portal:"
    obj = plan.object
    if plan.creates_object:
        head = (f"{where} create the custom object {obj['name']} ({obj['labels']['singular']} / "
                f"{obj['labels']['plural']}), matched by {obj['id_property']}; primary display "
                f"{obj['primary_display_property']}, required {', '.join(obj['required_properties'])}, "
                f"searchable {', '.join(obj['searchable_properties'])}")
    else:
        head = f"{where} object {obj['name']} ({obj['object_type_id']})"
    lines = [head]
    kinds = {"object": None, "group": "property group", "property": "property", "options": "options for",
             "label": "association label"}
    shown = [c for c in plan.changes if c.kind != "object"]
    for change in shown[:limit or 0]:
        column = f' (column "{change.column}")' if change.column else ""
        lines.append(f"  {'new' if change.kind != 'options' else 'add'} {kinds[change.kind]} "
                     f"{change.subject}{column}: {change.detail}")
    if limit and len(shown) > limit:
        lines.append(f"  … and {len(shown) - limit} more (see them all with --json or -o FILE)")
    if not plan.has_changes:
        lines.append("  Nothing to change: the portal already has every property and option the sheet needs.")
    lines += [f"  note: {note}" for note in (plan.notes if limit else [])]
    if plan.calls:
        lines += ["", f"API calls ({len(plan.calls)}):"]
        for call in plan.calls:
            body = json.dumps(call.body, ensure_ascii=False, separators=(",", ":"))
            cut = f"… ({len(body):,} characters in all)" if len(body) > SHOWN_BODY else ""
            lines.append(f"  {call.method} {call.path}  {body[:SHOWN_BODY]}{cut}")
    return "\n".join(lines)


def render_schema_results(results) -> str:
    lines = []
    for outcome in results.outcomes:
        call = outcome.call
        what = f"{call.method} {call.path}"
        if outcome.ok:
            made = f": created {', '.join(outcome.created)}" if outcome.created else ""
            lines.append(f"done    {what}{made}")
        else:
            made = f" (created {', '.join(outcome.created)})" if outcome.created else ""
            lines.append(f"failed  {what}{made}: {outcome.message}")
    unsent = results.plan.calls[len(results.outcomes):]
    lines += [f"not sent {c.method} {c.path}: the object was not created" for c in unsent]
    done = sum(o.ok for o in results.outcomes)
    lines.append(f"{done} of {len(results.plan.calls)} schema calls succeeded.")
    return "\n".join(lines)


def schema_document(command: str, plan, results=None, *, exit_code: int) -> dict:
    """`syncer schema plan|apply --json`: the plan document (what `schema apply` takes), and the
    outcome of each call once applied."""
    from syncer import schema

    document = {"syncer_output": JSON_OUTPUT_VERSION, "command": command, "exit_code": exit_code,
                **schema.to_json(plan)}
    if results is not None:
        document["results"] = {"object_type_id": results.object_type_id, "ok": results.ok, "calls": [
            {"method": o.call.method, "path": o.call.path, "ok": o.ok, "message": o.message or None,
             "created": o.created} for o in results.outcomes]}
    return document


def render_scopes(granted: list[str] | None) -> str:
    """`syncer info`'s scopes: what each command needs, and, when the portal says which scopes the
    token has, what it lacks."""
    from syncer import scopes

    lines = ["Scopes each command needs (<object>: custom, contacts, companies or deals; a .write scope also reads):"]
    lines += [f"  {commands:<38} {', '.join(needed)}" for commands, needed in scopes.needed("<object>")]
    if granted is None:
        lines.append("The portal does not say which scopes this token has; a command that lacks one stops "
                     "(exit 3) naming it.")
        return "\n".join(lines)
    missing = scopes.lacking(granted)
    if not missing:
        lines.append(f"The token has all of them ({len(granted)} scopes granted).")
        return "\n".join(lines)
    lines.append(f"The token ({len(granted)} scopes granted) lacks:")
    lines += [f"  {', '.join(needed)}  for {commands} on {family}" for family, commands, needed in missing]
    return "\n".join(lines)
