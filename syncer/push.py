"""Push and apply as one call each, shaped like `syncer.sync` and `syncer.export`: plan (or read a
saved plan), confirm through a callback, apply, then write what was asked for (the report, the
errors file, the write-back). The CLI's push and apply commands are parse, this call, render
(report.render_run), exit code."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from syncer import jobs, planfiles, report, runs
from syncer.errors import InputError
from syncer.execute import Progress, Results
from syncer.plan import Plan

if TYPE_CHECKING:
    from syncer.hubspot.protocol import PortalClient

Confirm = Callable[[Plan], None]


@dataclass
class PushResult:
    """What a push or an apply did. `not_done` lists what the run could not do after writing (the
    write-back or the errors file refused, with why): the run happened, so these raise nothing, and
    make the exit code at least 1."""

    plan: Plan
    results: Results
    report: Path | None = None
    written_back: Path | None = None
    errors: Path | None = None
    failed_rows_written: int = 0
    not_done: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        return max(self.results.exit_code, 1 if self.not_done else 0)

    def __repr__(self) -> str:
        return f"<PushResult {self.results!r}{'; not done: ' + '; '.join(self.not_done) if self.not_done else ''}>"


def push(mapping_path: str | Path, client: PortalClient, *, source: str | Path | None = None, mode: str | None = None,
         allow_mass_archive: bool = False, archive_unowned: bool = False, allow_numeric_keys: bool = False,
         retry_failed: str | Path | None = None, confirm: Confirm | None = None,
         report_path: str | Path | None = None, errors_path: str | Path | None = None, write_back: bool = False,
         on_progress: Callable[[Progress], None] | None = None,
         should_stop: Callable[[], bool] = lambda: False) -> PushResult:
    """Make HubSpot match the sheet: plan, `confirm(plan)` (it raises, Cancelled or InputError, to
    stop with nothing sent), apply, then write the report, the errors file and the write-back.

    `retry_failed`: a results report whose failed rows alone are sent again (runs.retry_plan); their
    outcomes are merged into it, written to `report_path` or, without one, back to that report.
    """
    previous = report.read_results(Path(retry_failed)) if retry_failed else None
    built = jobs.build_plan(mapping_path, client, source=source, mode=mode, allow_mass_archive=allow_mass_archive,
                            archive_unowned=archive_unowned, allow_numeric_keys=allow_numeric_keys)
    if previous is not None:
        built = runs.retry_plan(built, previous)
    if confirm is not None:
        confirm(built)
    results = runs.apply_plan(built, client, on_progress=on_progress, should_stop=should_stop)
    if previous is not None:
        results = runs.merge_results(previous, results)
        results.meta.not_retried = built.meta.not_retried or []
        report_path = report_path or retry_failed
    return _written(PushResult(built, results), report_path, errors_path, write_back)


def apply(plan: Plan | str | Path, client: PortalClient, *, replan: bool = False, confirm: Confirm | None = None,
          report_path: str | Path | None = None, errors_path: str | Path | None = None,
          on_progress: Callable[[Progress], None] | None = None,
          should_stop: Callable[[], bool] = lambda: False) -> PushResult:
    """Apply a saved plan, a review workbook's approved rows or an undo plan exactly (a path is read
    and checked by planfiles.load_plan), on the portal it was made for (exit 3 otherwise): records changed
    in HubSpot since it was made end as conflicts, or are planned again with `replan`."""
    built = plan if isinstance(plan, Plan) else planfiles.load_plan(plan)
    jobs.check_portal(built, client)
    if confirm is not None:
        confirm(built)
    results = runs.apply_plan(built, client, check_stale=True, replan=replan, on_progress=on_progress,
                              should_stop=should_stop)
    results.meta.not_restorable = built.meta.not_restorable or []
    return _written(PushResult(built, results), report_path, errors_path, False)


def _written(done: PushResult, report_path, errors_path, write_back: bool) -> PushResult:
    """Write what the caller asked for after the run. A write-back or errors file that cannot be
    made is noted in `not_done` (the run happened); a report always can (its folder was checked)."""
    source = report.SourceRows(done.results.meta)  # read again once, for the report and the errors file
    if report_path:
        done.report = Path(report_path)
        report.write_results(done.results, done.report, source=source)
    if errors_path:  # before the write-back, which changes the sheet the failed rows are read from
        try:
            done.failed_rows_written = report.write_errors(done.results, Path(errors_path), source=source)
            done.errors = Path(errors_path)
        except InputError as exc:
            done.not_done.append(f"failed rows not written: {exc}")
    if write_back:
        try:
            done.written_back = jobs.write_back(done.results, done.plan)
        except InputError as exc:
            done.not_done.append(f"not written back: {exc}")
    return done
