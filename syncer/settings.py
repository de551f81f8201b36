"""Which portal to talk to, decided once at the edge: command line > environment > default.

With neither a token nor a base URL anywhere, there is no target: the CLI then starts the embedded
sandbox portal instead (README, "The sandbox portal").
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from syncer.errors import InputError

DEFAULT_BASE_URL = "https://api.hubapi.com"
STATE_DIR_VAR = "SYNCER_STATE_DIR"
state_dir: str | None = None  # `syncer --state-dir`, for the one command it is given to (beats STATE_DIR_VAR)
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
    from syncer.hubspot.urls import check_base_url  # the one URL check, beside the transport that sends

    return Target(check_base_url(base_url or DEFAULT_BASE_URL), token)


def state_folder(mapping_path: str | Path | None = None) -> Path:
    """Where syncer keeps what it remembers of a mapping's runs (undo plans and journals, the
    ownership ledger, sync snapshots): `.syncer` beside the mapping (in the working folder without
    one). With SYNCER_STATE_DIR (`syncer --state-dir`), a folder of its own per mapping inside that
    one, for deployments whose mappings sit in a read-only folder: `<dir>/<stem>-<8 hex>`, the hex
    from the mapping's full path, so two cars.yaml in different folders never share state."""
    root = state_dir or os.environ.get(STATE_DIR_VAR)
    if mapping_path is None:
        return Path(root) if root else Path(".syncer")
    mapping_path = Path(mapping_path).resolve()
    if not root:
        return mapping_path.parent / ".syncer"
    digest = hashlib.sha256(str(mapping_path).encode()).hexdigest()[:8]
    return Path(root) / f"{mapping_path.stem}-{digest}"
