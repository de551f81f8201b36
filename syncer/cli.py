"""The command line: each command parses, calls one API function, renders, and picks the exit code."""

from __future__ import annotations

import sys

import click

from syncer import __version__
from syncer.errors import SyncerError


class _Group(click.Group):
    """Turns every SyncerError into `Error: <message>` on stderr and the error's exit code."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except SyncerError as exc:
            if ctx.meta.get("syncer.traceback"):
                raise
            click.echo(f"Error: {exc}", err=True)
            ctx.exit(exc.exit_code)


@click.group(cls=_Group)
@click.version_option(__version__, prog_name="syncer")
@click.option("--traceback", is_flag=True, help="Show the full stack trace of an error.")
@click.pass_context
def cli(ctx: click.Context, traceback: bool) -> None:
    """Keep spreadsheets (CSV, Excel) and HubSpot CRM objects in step."""
    ctx.meta["syncer.traceback"] = traceback


# --- sandbox -----------------------------------------------------------------------------------


@cli.group()
def sandbox() -> None:
    """A local HubSpot-compatible portal, for trying syncer and for its tests."""


def main() -> None:
    sys.exit(cli(standalone_mode=True))
