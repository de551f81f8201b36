"""Which portal to talk to, decided once at the edge: command line > environment > default.

With neither a token nor a base URL anywhere, there is no target: the CLI then starts the embedded
sandbox portal instead (DESIGN.md, "The sandbox portal").
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Mapping

from syncer.errors import InputError
from syncer.hubspot.urls import check_base_url  # the one URL check, beside the transport that sends

DEFAULT_BASE_URL = "https://api.hubapi.com"
BASE_URL_VAR = "HUBSPOT_BASE_URL"
TOKEN_VAR = "HUBSPOT_ACCESS_TOKEN"


@dataclass(frozen=True)
class Target:
    """A portal's base URL and access token. The token never shows in its repr."""

    base_url: str
    token: str = field(repr=False)

    def __repr__(self) -> str:
        return f"Target(base_url={self.base_url!r}, token='***')"


def resolve_target(base_url: str | None = None, token: str | None = None,
                   environ: Mapping[str, str] | None = None) -> Target | None:
    """The target from command-line values, then the environment; None means "use the sandbox"."""
    environ = os.environ if environ is None else environ
    base_url = base_url or environ.get(BASE_URL_VAR) or None
    token = token or environ.get(TOKEN_VAR) or None
    if base_url is None and token is None:
        return None
    if token is None:
        raise InputError(
            f"no access token for {base_url}: set {TOKEN_VAR} or pass --token "
            f"(unset {BASE_URL_VAR} to use the embedded sandbox portal instead)"
        )
    return Target(check_base_url(base_url or DEFAULT_BASE_URL), token)
