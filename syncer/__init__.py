"""syncer: keep spreadsheets and HubSpot CRM objects in step.

The CLI is a thin layer over this Python API; anything it does, a script can do by importing syncer.
"""

# First, before any import: the HTTP layer reads it (User-Agent) while the package is still loading.
__version__ = "0.1.0"

from typing import TYPE_CHECKING

from syncer._lazy import exports
from syncer.errors import InputError, PortalError, SyncerError

# Each name's module, imported when the name is first used (syncer/_lazy.py).
_EXPORTS = {
    # mapping, sheets and values (front of the pipeline)
    "Mapping": "syncer.mapping", "load_mapping": "syncer.mapping:load", "mapping_schema": "syncer.mapping:json_schema",
    "CellError": "syncer.tables", "Table": "syncer.tables", "read_table": "syncer.tables:read",
    "write_table": "syncer.tables:write",
    "LocalRows": "syncer.values", "Validation": "syncer.values", "canonicalize": "syncer.values",
    "init_mapping": "syncer.values", "validate": "syncer.values",
    # plan, push, apply
    "Outcome": "syncer.execute", "Results": "syncer.execute", "RowOutcome": "syncer.execute",
    "RunMeta": "syncer.execute", "PlanMeta": "syncer.plan", "Link": "syncer.associations",
    "apply_plan": "syncer.runs", "build_plan": "syncer.jobs", "load_plan": "syncer.planfiles", "prepare": "syncer.jobs",
    "save_plan": "syncer.planfiles", "write_back": "syncer.jobs",
    "ActionKind": "syncer.plan", "Mode": "syncer.plan", "Plan": "syncer.plan", "estimate": "syncer.plan",
    "read_results": "syncer.report", "read_review": "syncer.planfiles", "render_estimate": "syncer.report",
    "render_plan": "syncer.report", "render_results": "syncer.report", "results_document": "syncer.report",
    "write_results": "syncer.report", "write_review": "syncer.report", "write_errors": "syncer.report",
    # operator trust: cost, approval, retry, undo
    "RowsFailed": "syncer.execute",
    "build_undo": "syncer.runs", "check_portal": "syncer.jobs", "find_stale": "syncer.jobs",
    "merge_results": "syncer.runs", "over_budget": "syncer.jobs", "retry_plan": "syncer.runs",
    "undo_path": "syncer.runs", "with_estimate": "syncer.plan",
    # push and apply as one call each, like export and sync
    "push": "syncer.push", "apply": "syncer.push", "PushResult": "syncer.push",
    # export and two-way sync
    "ExportSummary": "syncer.export", "export": "syncer.export", "SyncResult": "syncer.sync", "sync": "syncer.sync",
    # definitions: a new custom object, the properties and options an object lacks
    "SchemaPlan": "syncer.schema", "infer_property": "syncer.schema:infer",
    "plan_schema": "syncer.schema_jobs", "apply_schema": "syncer.schema_jobs", "SchemaResults": "syncer.schema_jobs",
    "load_schema_plan": "syncer.schema_jobs", "save_schema_plan": "syncer.schema_jobs",
    "render_schema_plan": "syncer.report",
}
__getattr__, __dir__ = exports(__name__, _EXPORTS)

if TYPE_CHECKING:  # what type checkers and editors see; at run time, _EXPORTS
    from syncer.associations import Link
    from syncer.execute import Outcome, Results, RowOutcome, RowsFailed, RunMeta
    from syncer.export import ExportSummary, export
    from syncer.jobs import build_plan, check_portal, find_stale, over_budget, prepare, write_back
    from syncer.mapping import Mapping, json_schema as mapping_schema, load as load_mapping
    from syncer.plan import ActionKind, Mode, Plan, PlanMeta, estimate, with_estimate
    from syncer.planfiles import load_plan, read_review, save_plan
    from syncer.push import PushResult, apply, push
    from syncer.runs import apply_plan, build_undo, merge_results, retry_plan, undo_path
    from syncer.report import (read_results, render_estimate, render_plan, render_results,
                               render_schema_plan, results_document, write_errors, write_results, write_review)
    from syncer.schema import SchemaPlan, infer as infer_property
    from syncer.schema_jobs import SchemaResults, apply_schema, load_schema_plan, plan_schema, save_schema_plan
    from syncer.sync import SyncResult, sync
    from syncer.tables import CellError, Table, read as read_table, write as write_table
    from syncer.values import LocalRows, Validation, canonicalize, init_mapping, validate

__all__ = ["push", "apply", "PushResult", "export", "ExportSummary", "sync", "SyncResult",
           "SyncerError", "InputError", "PortalError",
           "Mapping", "load_mapping", "mapping_schema", "CellError", "Table", "read_table", "write_table",
           "LocalRows", "Validation", "canonicalize", "init_mapping", "validate",
           "Plan", "PlanMeta", "ActionKind", "Mode", "Results", "RunMeta", "RowOutcome", "Outcome", "Link",
           "prepare", "build_plan", "apply_plan", "load_plan", "save_plan", "write_back",
           "render_plan", "render_results", "write_results", "write_review", "write_errors",
           "estimate", "with_estimate", "render_estimate", "over_budget", "check_portal", "find_stale",
           "read_review", "read_results", "results_document", "retry_plan", "merge_results",
           "build_undo", "undo_path", "RowsFailed",
           "SchemaPlan", "SchemaResults", "infer_property", "plan_schema", "apply_schema", "load_schema_plan",
           "save_schema_plan", "render_schema_plan"]
