"""syncer: keep spreadsheets and HubSpot CRM objects in step.

The CLI is a thin layer over this Python API; anything it does, a script can do by importing syncer.
"""

# First, before any import: the HTTP layer reads it (User-Agent) while the package is still loading.
__version__ = "0.1.0"

from syncer.errors import InputError, PortalError, SyncerError

# --- mapping, sheets and values (front of the pipeline) ---
from syncer.mapping import Mapping, load as load_mapping, json_schema as mapping_schema  # noqa: E402
from syncer.tables import CellError, Table, read as read_table, write as write_table  # noqa: E402
from syncer.values import LocalRows, Validation, canonicalize, init_mapping, validate  # noqa: E402

# --- plan, push, apply ---
from syncer.execute import Outcome, Results, RowOutcome  # noqa: E402
from syncer.jobs import apply_plan, build_plan, load_plan, prepare, save_plan, write_back  # noqa: E402
from syncer.plan import ActionKind, Mode, Plan, estimate  # noqa: E402
from syncer.report import (read_results, read_review, render_estimate, render_plan, render_results,  # noqa: E402
                           results_document, write_results, write_review)

# --- operator trust: cost, approval, retry, undo ---
from syncer.execute import RowsFailed  # noqa: E402
from syncer.jobs import (build_undo, check_portal, find_stale, merge_results, over_budget,  # noqa: E402
                         retry_plan, undo_path, with_estimate)

# --- export and two-way sync ---
from syncer.export import ExportSummary, export  # noqa: E402
from syncer.sync import SyncResult, sync  # noqa: E402

__all__ = ["export", "ExportSummary", "sync", "SyncResult",
           "SyncerError", "InputError", "PortalError",
           "Mapping", "load_mapping", "mapping_schema", "CellError", "Table", "read_table", "write_table",
           "LocalRows", "Validation", "canonicalize", "init_mapping", "validate",
           "Plan", "ActionKind", "Mode", "Results", "RowOutcome", "Outcome",
           "prepare", "build_plan", "apply_plan", "load_plan", "save_plan", "write_back",
           "render_plan", "render_results", "write_results", "write_review",
           "estimate", "with_estimate", "render_estimate", "over_budget", "check_portal", "find_stale",
           "read_review", "read_results", "results_document", "retry_plan", "merge_results",
           "build_undo", "undo_path", "RowsFailed"]
