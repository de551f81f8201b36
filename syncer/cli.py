"""The command line: each command parses, calls one API function, renders, and picks the exit code."""

from __future__ import annotations

import json
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator

import click

from syncer import __version__, portals
from syncer.errors import Cancelled, InputError, SyncerError
from syncer.modes import Mode
from syncer.settings import BASE_URL_VAR, DEFAULT_BASE_URL, STATE_DIR_VAR, TOKEN_VAR, resolve_target, state_folder

if TYPE_CHECKING:
    from syncer.hubspot import HubSpotClient

# Modules a command needs (pandas, openpyxl, requests, pydantic behind them) are imported inside
# it, so `syncer --help`, `--version` and TAB completion start at once.


class _File(click.Path):
    """A file to read or write. `-` (standard input or output) is refused, naming the option, where
    syncer cannot stream (sheets, workbooks, reports need a file); never taken as a file named `-`."""

    def __init__(self, **options) -> None:
        super().__init__(dir_okay=False, **options)

    def convert(self, value, param, ctx):
        if value == "-":
            self.fail("'-' (standard input or output) cannot be used here: give a file name", param, ctx)
        return super().convert(value, param, ctx)


class _FileOrStdout(_File):
    """A file to write, or `-` for standard output."""

    def convert(self, value, param, ctx):
        return value if value == "-" else super().convert(value, param, ctx)


class _Group(click.Group):
    """Turns every SyncerError into `Error: <message>` on stderr and the error's exit code; a
    cancellation (a no at a prompt) is no error: its message alone, and exit 4."""

    def invoke(self, ctx: click.Context):
        from syncer import settings, talk

        try:
            return super().invoke(ctx)
        except Cancelled as exc:
            click.echo(str(exc), err=True)
            ctx.exit(exc.exit_code)
        except SyncerError as exc:
            if ctx.meta.get("syncer.traceback"):
                raise
            click.echo(f"Error: {exc}", err=True)
            ctx.exit(exc.exit_code)
        finally:
            talk.reset()  # -v's handler and --state-dir last one command (many run in one process under tests)
            settings.state_dir = None


def _verbose(ctx: click.Context, param: click.Parameter, value: int) -> None:
    if value and not ctx.resilient_parsing:
        from syncer import talk

        talk.configure(value)


def _quiet(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if value:
        ctx.meta["syncer.quiet"] = True  # meta is shared by a command's context and its group's


def quiet() -> bool:
    """-q was given (to the command or to `syncer`): no progress display, listings or notes."""
    return bool(click.get_current_context().meta.get("syncer.quiet"))


def _talk_options() -> list[click.Option]:
    """-v and -q, for `syncer` itself and (_talk_everywhere) every command."""
    return [click.Option(["-v", "--verbose"], count=True, expose_value=False, callback=_verbose,
                         help="Say what the run does: each phase and its time, retries, 429 waits, the rate "
                              "limit learnt. -vv: every request."),
            click.Option(["-q", "--quiet"], is_flag=True, expose_value=False, callback=_quiet,
                         help="No progress display, per-change listing or notes: results and errors only.")]


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]}, params=_talk_options())
@click.version_option(__version__, "-V", "--version", prog_name="syncer")
@click.option("--traceback", is_flag=True, help="Show the full stack trace of an error.")
@click.option("--state-dir", type=click.Path(file_okay=False), metavar="DIR",
              help=f"Keep undo plans, the ownership ledger and sync snapshots here instead of in .syncer beside "
                   f"each mapping (a folder per mapping). [default: ${STATE_DIR_VAR}]")
@click.pass_context
def cli(ctx: click.Context, traceback: bool, state_dir: str | None) -> None:
    """Keep spreadsheets (CSV, Excel) and HubSpot CRM objects in step."""
    from syncer import settings

    ctx.meta["syncer.traceback"] = traceback
    settings.state_dir = state_dir


# --- sandbox -----------------------------------------------------------------------------------


@cli.group()
def sandbox() -> None:
    """A local HubSpot-compatible portal, for trying syncer and for its tests."""


def _fault_spec(ctx: click.Context, param: click.Parameter, value: str) -> str:
    from syncer.sandbox import FaultSpecError
    from syncer.sandbox.faults import parse

    try:
        parse(value)
    except FaultSpecError as exc:
        raise click.BadParameter(str(exc)) from None
    return value


def _duration(ctx: click.Context, param: click.Parameter, value: str) -> float:
    from syncer.sandbox.behaviour import seconds

    try:
        return seconds(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


@sandbox.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8470, show_default=True, type=click.IntRange(0, 65535), help="0 picks a free port.")
@click.option("--db", "db_path", type=_File(), help="SQLite file that keeps the portal's state.")
@click.option("--token", default="sandbox", show_default=True, help="The bearer token requests must carry.")
@click.option("--rate-limit", default=190, show_default=True, type=click.IntRange(1), help="Requests per rolling 10 s.")
@click.option("--faults", default="", callback=_fault_spec, help="e.g. 429:0.1,503:0.05,slow:0.02,drop:0.02")
@click.option("--fault-seed", type=int, help="Makes the injected faults deterministic.")
@click.option("--no-seed", is_flag=True, help="Start without the sample `cars` object and contacts.")
# HubSpot's variants (syncer/sandbox/behaviour.py, Variants): defaults follow the strongest evidence.
@click.option("--search-lag", default="5s", show_default=True, callback=_duration, metavar="DURATION",
              help="Longest wait before search sees a write (5s, 500ms, 2m; 0: at once).")
@click.option("--search-lag-jitter", default=0.5, show_default=True, type=click.FloatRange(0, 1),
              help="Each write waits between lag x (1 - jitter) and the lag.")
@click.option("--batch-errors", default="per-input", show_default=True, type=click.Choice(["per-input", "whole"]),
              help="A bad input of a batch update or upsert: a 207 item, or one 400 for the whole batch.")
@click.option("--unique-case", default="sensitive", show_default=True,
              type=click.Choice(["sensitive", "insensitive"]), help="Whether unique values compare by case.")
@click.option("--archived-unique", default="released", show_default=True, type=click.Choice(["released", "kept"]),
              help="Whether an archived record's unique values are free for a new record.")
@click.option("--no-associations", default="item", show_default=True,
              type=click.Choice(["item", "aggregated", "empty"]),
              help="How associations batch/read answers an id without associations.")
@click.option("--competing-share", default=0.0, show_default=True, type=click.FloatRange(0, 0.9),
              help="Share of the rate limits another integration of the portal uses.")
@click.option("--rate-headers", default="always", show_default=True, type=click.Choice(["always", "sometimes", "never"]),
              help="Which answers carry the X-HubSpot-RateLimit-* headers.")
def sandbox_serve(host, port, db_path, token, rate_limit, faults, fault_seed, no_seed, search_lag, search_lag_jitter,
                  batch_errors, unique_case, archived_unique, no_associations, competing_share, rate_headers) -> None:
    """Serve a HubSpot-compatible portal until interrupted (Ctrl-C)."""
    import sqlite3

    from syncer.sandbox import Variants, serve

    variants = Variants(search_lag=search_lag, search_lag_jitter=search_lag_jitter, batch_errors=batch_errors,
                        unique_case=unique_case, archived_unique=archived_unique, no_associations=no_associations,
                        competing_share=competing_share, rate_headers=rate_headers)

    def announce(portal) -> None:
        click.echo(f"Sandbox portal {portal.portal_id} at {portal.base_url}", nl=True)
        click.echo(f"Token: {portal.token}  (send it as 'Authorization: Bearer {portal.token}')")
        click.echo(f"Behaving as HubSpot may: {variants.describe()}")
        click.echo("Press Ctrl-C to stop.")

    import signal

    # A shell starts background jobs with SIGINT ignored; the server must still stop on Ctrl-C.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        serve(host=host, port=port, db_path=db_path, token=token, rate_limit=rate_limit, faults=faults,
              fault_seed=fault_seed, seed=not no_seed, on_ready=announce, variants=variants)
    except OSError as exc:  # the port is taken, or the address is not ours
        raise click.ClickException(f"cannot serve on {host}:{port}: {exc.strerror or exc}") from None
    except sqlite3.Error as exc:
        raise click.ClickException(f"cannot use {db_path} as the sandbox store: {exc}") from None


# --- portal: the launcher every portal command uses, and `syncer info` ----------------------------



def portal_options(command):
    """Add --base-url and --token to a command; pass both to open_client()."""
    command = click.option(
        "--token", metavar="TOKEN", default=None,
        help=f"Access token of a private app or service key. [default: ${TOKEN_VAR}]")(command)
    return click.option(
        "--base-url", metavar="URL", default=None,
        help=f"Portal API base URL. [default: ${BASE_URL_VAR}, else {DEFAULT_BASE_URL}]")(command)


@contextmanager
def _phases_shown() -> Iterator[Callable[[], None]]:
    """On a terminal (and without -q), a spinner naming the phase under way (reading the sheet,
    converting, reading HubSpot, planning), so a long one never shows a blank screen. Yields a
    function that ends it early: before a prompt or a progress bar, which need the terminal."""
    if not sys.stderr.isatty() or quiet():
        yield lambda: None
        return
    from rich.console import Console

    from syncer import talk

    status = Console(stderr=True).status("starting")
    status.start()
    try:
        with talk.watch(lambda what: status.update(f"{what}…")):
            yield status.stop
    finally:
        status.stop()


@contextmanager
def open_client(base_url: str | None = None, token: str | None = None, *, pinned: tuple[str | None, str] = (None, ""),
                **options) -> Iterator[HubSpotClient]:
    """A client for the target portal; with no token and no base URL anywhere, the embedded sandbox,
    unless `pinned` (the portal a mapping or plan is pinned to, and that file's name) names a real
    portal: then PortalError (exit 3), as a scheduled run whose secret failed to load must not
    quietly write to the sandbox. The pin itself is checked by the engine, once it reaches the portal."""
    from syncer.hubspot import HubSpotClient

    target = resolve_target(base_url, token)
    if target is not None:
        with HubSpotClient(target.base_url, target.token, **options) as client:
            yield client
        return
    portals.require_target(pinned[0], pinned_by=pinned[1], token_var=TOKEN_VAR)
    from syncer.sandbox import Sandbox  # the one place the engine's side touches the sandbox

    state = state_folder() / "sandbox.sqlite"
    state.parent.mkdir(parents=True, exist_ok=True)
    with Sandbox(db_path=str(state)) as portal:
        if not quiet():
            click.echo(f"Using the embedded sandbox portal ({state}); set {TOKEN_VAR} "
                       "to use a real portal.", err=True)
        with HubSpotClient(portal.base_url, portal.token, embedded_sandbox=True, **options) as client:
            yield client


def _pin(mapping_file: str) -> tuple[str | None, str]:
    """The portal `mapping_file` is pinned to, and its name, for open_client. A mapping that does not
    load pins nothing here: the command reports its problems in their usual order."""
    from syncer.mapping import load

    try:
        return load(mapping_file).portal, Path(mapping_file).name
    except InputError:
        return None, Path(mapping_file).name


@cli.command()
@portal_options
def info(base_url: str | None, token: str | None) -> None:
    """Show the target portal, its rate-limit tier, the object types the token can see, the scopes
    each command needs and, when the portal says, those the token lacks."""
    from syncer.hubspot.errors import MissingScopesError
    from syncer.report import render_portal_info, render_scopes

    with open_client(base_url, token) as client:
        granted = client.token_scopes()
        try:
            shown = render_portal_info(client.portal_info(), portals.of(client))
        except MissingScopesError:
            click.echo(render_scopes(granted))
            raise
        click.echo(shown)
        click.echo(render_scopes(granted))


# --- mapping, validate, init ---------------------------------------------------------------------


@contextmanager
def _lazy_client(base_url: str | None, token: str | None, pinned: tuple[str | None, str] = (None, "")):
    """A function returning the portal's client, opened on its first call only (so a bad file
    never costs a request), and refused (exit 3) when it is not the portal `pinned` names."""
    from contextlib import ExitStack

    with ExitStack() as stack:
        opened = []

        def client():
            if not opened:
                opened.append(stack.enter_context(open_client(base_url, token, pinned=pinned)))
                portals.check(pinned[0], opened[0], pinned_by=pinned[1])
            return opened[0]

        yield client


@cli.command("mapping-schema")
def mapping_schema_command() -> None:
    """Print the mapping file's JSON Schema (for editor completion and checking)."""
    import json

    from syncer.mapping import json_schema

    click.echo(json.dumps(json_schema(), indent=2))


@cli.command()
@click.argument("mapping_file", metavar="MAPPING", type=_File())
@click.option("--source", type=_File(), help="Check this sheet instead of the mapping's source.")
@portal_options
def validate(mapping_file: str, source: str | None, base_url: str | None, token: str | None) -> None:
    """Check a mapping, its sheet and every value against the portal's properties. Writes nothing.

    Exit 0 when all is valid, 2 when there are problems (listed by column, with row numbers).
    """
    from syncer import values

    with _lazy_client(base_url, token, _pin(mapping_file)) as client:  # asked only once the files are read
        def existing(object_type: str, id_property: str, keys: list[str]) -> set[str]:
            portal = client()
            return set(portal.batch_read(portal.object_type(object_type), keys, id_property=id_property))

        with _phases_shown():
            result = values.validate(mapping_file, lambda object_type: client().properties(object_type),
                                     source=source, existing=existing)
    click.echo(result.render(), err=not result.ok)
    if not result.ok:
        sys.exit(2)


@cli.command()
@click.argument("source", type=_File())
@click.option("--object", "object_type", help="Object name, fully qualified name or objectTypeId.")
@click.option("--create-object", metavar="NAME", help="Create a new custom object NAME for the sheet first (its "
              "schema plan is shown and confirmed), then write its mapping.")
@click.option("--id-property", help="Unique property matching rows to records. [default: the first unique one mapped]")
@click.option("--sheet", help="xlsx only: the sheet to read. [default: the first]")
@click.option("--header-row", type=click.IntRange(min=1), default=1, show_default=True,
              help="The row holding the column names; rows above it are ignored.")
@click.option("-o", "--output", type=_FileOrStdout(), help="Write the mapping here (- prints it). [default: print it]")
@click.option("--yes", is_flag=True, help="With --create-object: create it without asking (for scripts).")
@portal_options
def init(source: str, object_type: str | None, create_object: str | None, id_property: str | None,
         sheet: str | None, header_row: int, output: str | None, yes: bool, base_url: str | None,
         token: str | None) -> None:
    """Write a first mapping from a sheet's header and the portal's properties, pinned to that portal.
    With --create-object NAME, first create a custom object for the sheet (see `syncer schema`).

    Exit 2, naming the sheet's columns and the object's properties, when no column matches a property.
    """
    from syncer import values

    if bool(object_type) == bool(create_object):
        raise click.UsageError("give --object NAME (an object the portal has) or --create-object NAME (a new "
                               "custom object made for the sheet), one of them")
    output = None if output == "-" else output  # printed
    if create_object:
        draft = _create_object(source, create_object, id_property, sheet, header_row, output, yes, base_url, token)
        _write_draft(draft, output)
        return
    with _lazy_client(base_url, token) as client:
        def pin() -> str | None:
            portal = portals.of(client())
            if portal.pin:
                return portal.pin
            click.echo(f"{portal.name} did not say which portal it is, so the mapping is not pinned to it.", err=True)
            return None

        draft = values.init_mapping(source, lambda object_type: client().properties(object_type),
                                    object_type=object_type, id_property=id_property, sheet=sheet, output=output,
                                    header_row=header_row, portal=pin)
    _write_draft(draft, output)


def _write_draft(draft, output: str | None) -> None:
    if output:
        from syncer import tables

        tables.atomic_write(output, draft.text)
        pinned = f", pinned to {portals.describe(draft.portal)}" if draft.portal else ""
        click.echo(f"Wrote {output}: {len(draft.columns)} columns mapped{pinned}.", err=True)
    else:
        click.echo(draft.text, nl=False)
    if draft.unmatched:
        click.echo("Not matched (add them by hand or leave them out): " + ", ".join(f'"{c}"' for c in draft.unmatched), err=True)


def _create_object(source, name, id_property, sheet, header_row, output, yes, base_url, token):
    """init --create-object: the new object's schema plan, shown and confirmed, applied; its mapping."""
    from syncer import report, schema_jobs

    with open_client(base_url, token) as client, _phases_shown() as spinner_done:
        plan = schema_jobs.plan_schema(source, client, create_object=name, id_property=id_property, sheet=sheet,
                                       header_row=header_row)
        spinner_done()
        click.echo(report.render_schema_plan(plan, limit=0 if quiet() else report.SHOWN_PER_KIND), err=True)
        _confirm_schema(yes, f"Create the custom object {name}?")
        results = schema_jobs.apply_schema(plan, client)
        click.echo(report.render_schema_results(results), err=True)
        if not results.ok:
            sys.exit(results.exit_code)
        portal = portals.of(client)
    return schema_jobs.new_object_mapping(plan, output=output, portal=portal.pin)


def _confirm_schema(yes: bool, question: str) -> None:
    if not yes:
        _ask(question, "not applied without confirmation: no terminal to ask on; pass --yes to apply it", CANCELLED)


# --- schema: custom objects, properties and options from a sheet ------------------------------------


@cli.group("schema")
def schema_group() -> None:
    """Create and evolve object definitions from a sheet: a new custom object, or the properties and
    options an object lacks. A plan first; never a type changed or anything removed."""


def _schema_options(command):
    for option in reversed([
        click.option("--object", "object_name", metavar="NAME", help="With a sheet: the object the portal has."),
        click.option("--create-object", metavar="NAME", help="With a sheet: a new custom object to create."),
        click.option("--id-property", metavar="NAME", help="With a sheet: the id property (a column or property "
                     "name), made unique if the plan creates it. [default for a new object: a column with its "
                     "own value on every row]"),
        click.option("--singular", help="A new object's singular label. [default: from its name]"),
        click.option("--plural", help="A new object's plural label. [default: from its name]"),
        click.option("--sheet", help="xlsx only: the sheet to read. [default: the first]"),
        click.option("--header-row", type=click.IntRange(min=1), default=1, show_default=True,
                     help="The row holding the column names."),
        click.option("--json", "as_json", is_flag=True, help="Print one JSON document on stdout."),
    ]):
        command = option(command)
    return command


def _schema_plan_now(target, client, object_name, create_object, id_property, singular, plural, sheet, header_row):
    from syncer import schema_jobs

    return schema_jobs.plan_schema(target, client, object_name=object_name, create_object=create_object,
                                   id_property=id_property, singular=singular, plural=plural, sheet=sheet,
                                   header_row=header_row)


def _schema_pin(target: str) -> tuple[str | None, str]:
    return _pin(target) if Path(target).suffix.lower() in (".yaml", ".yml") else (None, Path(target).name)


@schema_group.command("plan")
@click.argument("target", metavar="SOURCE-or-MAPPING", type=_File(exists=True))
@_schema_options
@click.option("-o", "--out", type=_FileOrStdout(), help="Save the plan for `syncer schema apply` (- prints it).")
@portal_options
def schema_plan_command(target, object_name, create_object, id_property, singular, plural, sheet, header_row,
                        as_json, out, base_url, token):
    """Show the custom object, properties and options a sheet needs, with the exact API calls that
    would make them; nothing is sent (a dry run). Give a mapping, or a sheet with --object NAME
    (an existing object) or --create-object NAME (a new custom object)."""
    from syncer import report, schema_jobs

    if out == "-":
        out, as_json = None, True
    with open_client(base_url, token, pinned=_schema_pin(target)) as client, _phases_shown():
        plan = _schema_plan_now(target, client, object_name, create_object, id_property, singular, plural, sheet,
                                header_row)
    if out:
        schema_jobs.save_schema_plan(plan, out)
    if as_json:
        click.echo(json.dumps(report.schema_document("schema plan", plan, exit_code=0), ensure_ascii=False, indent=1))
    else:
        click.echo(report.render_schema_plan(plan, limit=0 if quiet() else report.SHOWN_PER_KIND))
    if out:
        click.echo(f"\nSchema plan saved to {out}; apply it with: syncer schema apply {out}", err=as_json)


@schema_group.command("apply")
@click.argument("target", metavar="PLAN-or-SOURCE-or-MAPPING", type=_File(exists=True))
@_schema_options
@click.option("--yes", is_flag=True, help="Apply without asking (for scripts).")
@portal_options
def schema_apply_command(target, object_name, create_object, id_property, singular, plural, sheet, header_row,
                         as_json, yes, base_url, token):
    """Apply a schema plan: a saved one (schema plan -o) exactly, after checking the portal has not
    changed since; or, for a sheet or mapping, the plan made now, shown, and confirmed."""
    from syncer import report, schema_jobs

    saved = Path(target).suffix.lower() == ".json"
    plan = schema_jobs.load_schema_plan(target) if saved else None
    pinned = (plan.meta.portal, Path(target).name) if saved else _schema_pin(target)
    with open_client(base_url, token, pinned=pinned) as client:
        with _phases_shown():
            plan = plan or _schema_plan_now(target, client, object_name, create_object, id_property, singular,
                                            plural, sheet, header_row)
        click.echo(report.render_schema_plan(plan, limit=0 if quiet() else report.SHOWN_PER_KIND), err=as_json)
        results = None
        if plan.has_changes:
            _confirm_schema(yes, "Apply these schema changes?")
            results = schema_jobs.apply_schema(plan, client, check_stale=saved, pinned_by=Path(target).name)
            click.echo(report.render_schema_results(results), err=as_json)
    code = results.exit_code if results else 0
    if results is not None and results.ok and plan.meta.mapping:
        click.echo(f"Next: syncer push {plan.meta.mapping}", err=as_json)
    elif results is not None and results.ok and plan.creates_object:
        click.echo(f"Next: syncer init {plan.meta.source} --object {plan.object['name']} -o MAPPING", err=as_json)
    if as_json:
        click.echo(json.dumps(report.schema_document("schema apply", plan, results, exit_code=code),
                              ensure_ascii=False, indent=1))
    sys.exit(code)


# --- plan, push, apply ---------------------------------------------------------------------------

_MODES = click.Choice([m.value for m in Mode])


def _plan_options(command):
    command = click.option("--allow-numeric-keys", is_flag=True,
                           help="Create records for digit-only keys even where HubSpot has the key with leading "
                                "zeros (0001 for 1).")(command)
    command = click.option("--archive-unowned", is_flag=True,
                           help="Let mirror mode archive records syncer never created or synced.")(command)
    command = click.option("--allow-mass-archive", is_flag=True,
                           help="Let mirror mode archive more than max_archive_fraction of the records.")(command)
    command = click.option("--mode", type=_MODES, help="Overrides the mapping's sync.mode.")(command)
    return click.option("--source", type=_File(),
                        help="The sheet to read instead of the mapping's source.")(command)


def _report_path(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """Refuse a report path that cannot be written before anything is sent, not after."""
    if value and Path(value).suffix.lower() not in (".csv", ".xlsx", ".json"):
        raise click.BadParameter("a results report must end in .csv, .xlsx or .json")
    if value and not Path(value).resolve().parent.is_dir():
        raise click.BadParameter(f"no folder {Path(value).parent}")
    return value


def _errors_path(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    """Refuse an --errors path that cannot be written before anything is sent, and keep it for
    _finish (push and apply share it, without a parameter of their own)."""
    if value and Path(value).suffix.lower() not in (".csv", ".xlsx"):
        raise click.BadParameter("the failed rows are written to a .csv or .xlsx file")
    _report_path(ctx, param, value)
    ctx.meta["syncer.errors"] = value


def _run_options(command):
    command = click.option("--json", "as_json", is_flag=True,
                           help="Print one JSON document on stdout (other text goes to stderr).")(command)
    command = click.option("--report", "report_path", type=_File(), callback=_report_path,
                           help="Write the per-row results report (.csv, .xlsx or .json).")(command)
    command = click.option("--errors", type=_File(), callback=_errors_path, expose_value=False,
                           help="Write the failed rows in the sheet's own columns (.csv or .xlsx), to fix there "
                                "and push again with --source FILE --retry-failed REPORT.")(command)
    command = click.option("--accept-cost", is_flag=True,
                           help="Apply even when the run uses more than sync.max_daily_share of the daily allowance.")(command)
    return click.option("--yes", is_flag=True, help="Apply without asking (for scripts).")(command)


class _PlanCommand(click.Command):
    """Under --detailed-exitcode, 2 means "changes present": a usage error there exits 1, as any error does."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        detailed = "--detailed-exitcode" in args  # before parsing, which consumes `args`
        try:
            return super().parse_args(ctx, args)
        except click.UsageError as exc:
            if detailed:
                exc.exit_code = 1
            raise


@cli.command("plan", cls=_PlanCommand)
@click.argument("mapping_file", metavar="MAPPING", type=_File())
@_plan_options
@click.option("-o", "--out", type=_FileOrStdout(),
              help="Save the plan as JSON, for `syncer apply` (- prints it on stdout, as --json does).")
@click.option("--review", type=_File(), help="Write a review workbook (.xlsx) to approve rows in.")
@click.option("--json", "as_json", is_flag=True, help="Print the plan as one JSON document on stdout.")
@click.option("--detailed-exitcode", is_flag=True,
              help="Exit 0 when there is nothing to do, 2 with changes, 1 on any error (error rows included).")
@portal_options
def plan_command(mapping_file, source, mode, allow_mass_archive, archive_unowned, allow_numeric_keys, out, review,
                 as_json, detailed_exitcode, base_url, token):
    """Show what a push would change, without changing anything (a dry run).

    Exit 0, or 1 when rows have errors (they would not be sent); see --detailed-exitcode.
    """
    from syncer import report
    from syncer.jobs import build_plan
    from syncer.plan import ActionKind
    from syncer.planfiles import save_plan, to_json as plan_to_json

    if out == "-":  # the plan file's document on stdout: --json's, which `syncer apply` reads too
        out, as_json = None, True
    try:
        with open_client(base_url, token, pinned=_pin(mapping_file)) as client, _phases_shown():
            built = build_plan(mapping_file, client, source=source, mode=mode, allow_mass_archive=allow_mass_archive,
                               archive_unowned=archive_unowned, allow_numeric_keys=allow_numeric_keys)
    except SyncerError as exc:
        if detailed_exitcode:  # scripts read 1 as "error", whatever kind
            raise SyncerError(str(exc)) from exc
        raise
    if out:
        save_plan(built, out)
    if review:
        report.write_review(built, Path(review))
    if built.counts()[ActionKind.ERROR.value]:
        code = 1  # rows that would not be sent: a script must not read this plan as all well
    else:
        code = 2 if detailed_exitcode and built.has_changes else 0
    if as_json:
        click.echo(json.dumps({"syncer_output": report.JSON_OUTPUT_VERSION, "command": "plan", "exit_code": code,
                               **plan_to_json(built)}, ensure_ascii=False, indent=1))
    else:
        click.echo(report.render_plan(built, limit=0 if quiet() else report.SHOWN_PER_KIND))
    if out:
        click.echo(f"\nPlan saved to {out}; apply it with: syncer apply {out}", err=as_json)
    if review:
        click.echo(f"Review workbook written to {review}; set approve to no on rows to leave out, then: "
                   f"syncer apply {review}", err=as_json)
    sys.exit(code)


@cli.command("push")
@click.argument("mapping_file", metavar="MAPPING", type=_File())
@_plan_options
@_run_options
@click.option("--retry-failed", type=_File(exists=True), metavar="REPORT",
              help="Send only the rows that failed in this results report, and merge the outcomes into it.")
@click.option("--write-back", is_flag=True, help="Add sync_status, sync_record_id, sync_error columns to the source.")
@portal_options
def push_command(mapping_file, source, mode, allow_mass_archive, archive_unowned, allow_numeric_keys, yes,
                 accept_cost, report_path, as_json, retry_failed, write_back, base_url, token):
    """Plan, confirm, apply and report: make HubSpot match the sheet."""
    from syncer.push import push

    with (open_client(base_url, token, pinned=_pin(mapping_file)) as client, _phases_shown() as spinner_done,
          _write_progress("applying", show=not quiet() and not as_json, before_bar=spinner_done) as progress):
        done = push(mapping_file, client, source=source, mode=mode, allow_mass_archive=allow_mass_archive,
                    archive_unowned=archive_unowned, allow_numeric_keys=allow_numeric_keys, retry_failed=retry_failed,
                    confirm=_confirmation(yes, accept_cost, as_json, spinner_done, progress),
                    report_path=report_path, errors_path=_errors_file(), write_back=write_back,
                    on_progress=progress.advance, should_stop=progress.stop.is_set)
    _finish("push", done, as_json)


@cli.command("apply")
@click.argument("plan_file", metavar="PLAN", type=_File())
@_run_options
@click.option("--replan", is_flag=True, help="Re-plan records changed in HubSpot since the plan was made.")
@portal_options
def apply_command(plan_file, yes, accept_cost, report_path, as_json, replan, base_url, token):
    """Apply a saved plan, a review workbook's approved rows, or an undo plan, exactly.

    Records changed in HubSpot since the plan was made are reported as conflicts.
    """
    from syncer.planfiles import load_plan
    from syncer.push import apply

    built = load_plan(plan_file)
    planned = portals.planned(built.meta.portal, built.meta.hub_id)
    with (open_client(base_url, token, pinned=(planned and planned.name, Path(plan_file).name)) as client,
          _write_progress("applying", show=not quiet() and not as_json) as progress):
        done = apply(built, client, replan=replan, confirm=_confirmation(yes, accept_cost, as_json, progress=progress),
                     report_path=report_path, errors_path=_errors_file(),
                     on_progress=progress.advance, should_stop=progress.stop.is_set)
    _finish("apply", done, as_json)


CANCELLED = "Cancelled: nothing was sent to HubSpot."


def _confirmation(yes: bool, accept_cost: bool, as_json: bool, spinner_done: Callable[[], None] = lambda: None,
                  progress: _WriteProgress | None = None):
    """push's and apply's confirm callback: show the plan, ask before applying, and again when the
    run is costly (--yes answers the first question only). Once it returns, writing begins: Ctrl-C
    then stops after the batches in flight instead of at once."""
    def confirm(built) -> None:
        from syncer import report
        from syncer.jobs import over_budget

        spinner_done()
        click.echo(report.render_plan(built, limit=0 if quiet() else report.SHOWN_PER_KIND), err=as_json)
        if built.has_changes:
            costly = None if accept_cost else over_budget(built)
            if costly:
                _ask(f"{costly.capitalize()}. Apply anyway?",
                     f"not applied: {costly}; pass --accept-cost to apply it anyway", CANCELLED)
            if not yes:
                _ask("Apply these changes?",
                     "not applying without confirmation: no terminal to ask on; pass --yes to apply", CANCELLED)
        if progress is not None:
            progress.writing = True  # a saved plan's stale check reads first, and Ctrl-C there stops as cleanly

    return confirm


def _ask(question: str, refused: str, cancelled: str) -> None:
    """Ask `question` on the terminal. Without one, stop with nothing changed (InputError, exit 2);
    on a no, stop as cancelled (Cancelled, exit 4), with `cancelled` as the message."""
    if not sys.stdin.isatty():
        raise InputError(refused)
    if not click.confirm(question, default=False, err=True):
        raise Cancelled(cancelled)


class _WriteProgress:
    """A run's writes on a rich progress bar (stderr terminals only), and Ctrl-C as a stop request
    once writing has begun: the run ends after the batches in flight, their outcomes recorded (the
    next run sends the rest). Before that, while reading and planning, Ctrl-C stops at once."""

    def __init__(self, label: str, show: bool, before_bar: Callable[[], None] = lambda: None) -> None:
        import threading

        self.before_bar = before_bar  # ends a phase spinner: one live display at a time
        self.label, self.show = label, show and sys.stderr.isatty()
        self.stop = threading.Event()
        self.writing = False
        self.bar = self.task = None

    def interrupt(self, *_) -> None:
        if not self.writing:
            raise KeyboardInterrupt
        self.stop.set()

    def advance(self, progress) -> None:
        self.writing = True
        if self.show and self.bar is None:
            self.before_bar()
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self.bar = Progress(TextColumn(self.label), BarColumn(), MofNCompleteColumn(),
                                TextColumn("{task.fields[rate]} rows/s"), TimeRemainingColumn(), transient=True)
            self.bar.start()
            self.task = self.bar.add_task(self.label, total=progress.total, rate="-")
        if self.bar is not None:
            elapsed = self.bar.tasks[0].elapsed or 0
            rate = f"{progress.done / elapsed:,.0f}" if elapsed else "-"
            self.bar.update(self.task, completed=progress.done, total=progress.total, rate=rate)


@contextmanager
def _write_progress(label: str, show: bool, before_bar: Callable[[], None] = lambda: None):
    import signal

    progress = _WriteProgress(label, show, before_bar)
    previous = signal.signal(signal.SIGINT, progress.interrupt)
    try:
        yield progress
    finally:
        signal.signal(signal.SIGINT, previous)
        if progress.bar is not None:
            progress.bar.stop()


def _errors_file() -> str | None:
    """--errors FILE, which _run_options keeps in the context's meta."""
    return click.get_current_context().meta.get("syncer.errors")


def _finish(command: str, done, as_json: bool) -> None:
    """Render a push or an apply (report.render_run), the --json document, and exit with its code."""
    from syncer import report

    for line in report.render_run(done):
        click.echo(line, err=as_json)
    for problem in done.not_done:  # the run happened: say what it left undone
        click.echo(problem[0].upper() + problem[1:], err=True)
    if as_json:
        document = report.run_document(command, done.plan, done.results, exit_code=done.exit_code)
        click.echo(json.dumps(document, ensure_ascii=False, indent=1))
    sys.exit(done.exit_code)


# --- export, sync (the pull direction and two-way sync) ---------------------------------------------


@cli.command("export")
@click.argument("mapping_file", metavar="MAPPING", type=_File())
@click.option("-o", "--output", type=_File(), help="The sheet to write (.xlsx or .csv). "
              "[default: <object>-export.xlsx]")
@click.option("--where", "conditions", multiple=True, metavar="EXPR",
              help='A condition such as "year >= 2020", "make in Ford,BMW", "price between 1000 5000", '
                   '"owner is set"; repeat to AND them.')
@click.option("--all-properties", is_flag=True, help="Add a column for every property, mapped or not.")
@click.option("--archived", is_flag=True, help="Export archived records instead of live ones.")
@portal_options
def export_command(mapping_file, output, conditions, all_properties, archived, base_url, token):
    """Write HubSpot records to a sheet that can be edited and pushed back."""
    from syncer.export import export
    from syncer.mapping import load

    output = output or f"{load(mapping_file).object}-export.xlsx"
    with open_client(base_url, token, pinned=_pin(mapping_file)) as client, _counter("exporting") as advance:
        summary = export(mapping_file, client, output, where=conditions, all_properties=all_properties,
                         archived=archived, on_progress=advance)
    click.echo(f"Exported {summary.records:,} records to {summary.path} ({summary.calls} API calls).")


@cli.command("sync")
@click.argument("mapping_file", metavar="MAPPING", type=_File())
@click.option("--source", type=_File(), help="The sheet to sync instead of the mapping's source.")
@click.option("--prefer", type=click.Choice(["sheet", "hubspot"]),
              help="Settle conflicts (changed on both sides) this way. [default: list them, exit 1]")
@click.option("--allow-mass-archive", is_flag=True,
              help="Let mirror mode archive more than max_archive_fraction of the records.")
@click.option("--margin", type=click.FloatRange(0), default=600, show_default=True, metavar="SECONDS",
              help="Look for HubSpot changes from this long before the last sync began (search index lag).")
@click.option("--yes", is_flag=True, help="Archive (mirror mode) or spend more than sync.max_daily_share "
              "without asking (for scripts).")
@click.option("--full", is_flag=True, help="Read every record and its links, not only those HubSpot reports "
              "changed (about records/100 calls more): finds re-links made only in HubSpot.")
@click.option("--allow-numeric-keys", is_flag=True,
              help="Create records for digit-only keys even where HubSpot has the key with leading zeros (0001 for 1).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document on stdout (other text goes to stderr).")
@portal_options
def sync_command(mapping_file, source, prefer, allow_mass_archive, margin, yes, full, allow_numeric_keys, as_json,
                 base_url, token):
    """Two-way sync: push sheet edits, pull HubSpot edits, report conflicts (see README).

    Asks before archiving records or using more than sync.max_daily_share of the daily allowance;
    without a terminal it refuses (exit 2, nothing changed) unless --yes.
    """
    from syncer import report
    from syncer.sync import sync

    with (open_client(base_url, token, pinned=_pin(mapping_file)) as client, _phases_shown() as spinner_done,
          _write_progress("syncing", show=not as_json and not quiet(), before_bar=spinner_done) as progress):
        result = sync(mapping_file, client, source=source, prefer=prefer, allow_mass_archive=allow_mass_archive,
                      allow_numeric_keys=allow_numeric_keys,
                      margin_seconds=margin, full=full, approve=_sync_approval(yes, spinner_done),
                      on_progress=progress.advance, should_stop=progress.stop.is_set)
    click.echo(report.render_sync(result), err=as_json)
    if as_json:
        click.echo(json.dumps(report.sync_document(result), ensure_ascii=False, indent=1))
    sys.exit(result.exit_code)


def _sync_approval(yes: bool, spinner_done: Callable[[], None] = lambda: None):
    """sync's question before archiving or a costly run: --yes answers it; no terminal refuses."""
    def approve(built, reasons: list[str]) -> None:
        from syncer import report

        if yes:
            return
        spinner_done()
        click.echo(report.render_plan(built), err=True)
        _ask("".join(f"This sync {reason}.\n" for reason in reasons) + "Sync anyway?",
             f"not synced: the sync {' and '.join(reasons)}; nothing was changed. Pass --yes to sync anyway",
             "not synced: cancelled at the prompt; nothing was changed")

    return approve


@contextmanager
def _counter(what: str):
    """A callback counting records on a rich progress bar (stderr terminals only)."""
    if not sys.stderr.isatty() or quiet():
        yield lambda done: None
        return
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    with Progress(SpinnerColumn(), TextColumn(f"{what} {{task.completed:,}} records"), TimeElapsedColumn(),
                  transient=True) as bar:
        task = bar.add_task(what, total=None)
        yield lambda done: bar.update(task, completed=done)


def _talk_everywhere(group: click.Group) -> None:
    """-v and -q on every command, as on `syncer` itself (syncer push -q, syncer -q push)."""
    for command in group.commands.values():
        command.params.extend(_talk_options())
        if isinstance(command, click.Group):
            _talk_everywhere(command)


_talk_everywhere(cli)


def main() -> None:
    sys.exit(cli(standalone_mode=True))
