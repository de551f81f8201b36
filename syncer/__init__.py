"""syncer: keep spreadsheets and HubSpot CRM objects in step.

The CLI is a thin layer over this Python API; anything it does, a script can do by importing syncer.
"""

from syncer.errors import InputError, PortalError, SyncerError

# --- mapping, sheets and values (front of the pipeline) ---
from syncer.mapping import Mapping, load as load_mapping, json_schema as mapping_schema  # noqa: E402
from syncer.tables import CellError, Table, read as read_table, write as write_table  # noqa: E402
from syncer.values import LocalRows, Validation, canonicalize, init_mapping, validate  # noqa: E402

# --- plan, push, apply ---
from syncer.execute import Outcome, Results, RowOutcome  # noqa: E402
from syncer.jobs import apply_plan, build_plan, load_plan, prepare, save_plan, write_back  # noqa: E402
from syncer.plan import ActionKind, Mode, Plan  # noqa: E402
from syncer.report import render_plan, render_results, write_results, write_review  # noqa: E402

# --- export and two-way sync ---
from syncer.export import ExportSummary, export  # noqa: E402
from syncer.sync import SyncResult, sync  # noqa: E402

__all__ = ["export", "ExportSummary", "sync", "SyncResult",
           "SyncerError", "InputError", "PortalError",
           "Mapping", "load_mapping", "mapping_schema", "CellError", "Table", "read_table", "write_table",
           "LocalRows", "Validation", "canonicalize", "init_mapping", "validate",
           "Plan", "ActionKind", "Mode", "Results", "RowOutcome", "Outcome",
           "prepare", "build_plan", "apply_plan", "load_plan", "save_plan", "write_back",
           "render_plan", "render_results", "write_results", "write_review"]
__version__ = "0.1.0"
