"""The exception tree. Each class carries the exit code the CLI turns it into (docs/ARCHITECTURE.md, "Exit codes")."""


class SyncerError(Exception):
    """Base of every error syncer raises on purpose; the CLI prints its message, never a traceback."""

    exit_code = 1


class InputError(SyncerError):
    """Bad usage, mapping, sheet or plan file: nothing was sent. Exit 2."""

    exit_code = 2


class PortalError(SyncerError):
    """The portal refused the run (authentication, scopes, unreachable), or it is not the portal the
    mapping or plan is pinned to. Exit 3."""

    exit_code = 3


class Cancelled(SyncerError):
    """A person answered no when asked to confirm: nothing was sent. Not an error; exit 4."""

    exit_code = 4
