"""Which portal a run talks to, and the pin that ties a mapping to one (README, "Portal pinning").

A mapping may name its portal: `portal: 12345678` (a hub id, HubSpot's portalId) or
`portal: sandbox` (the embedded sandbox portal the CLI starts when no token is set). Every portal
command compares the portal it reached with the pin and refuses a mismatch (PortalError, exit 3),
naming both. Saved plans, undo plans, the ownership ledger and sync snapshots are keyed by the portal
they were made with (`Portal.key`): a plan made for one portal is refused by another, and a reset
sandbox (a new portal with a new hub id) owns nothing of the old one.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from syncer.errors import PortalError
from syncer.hubspot.errors import UnknownObjectTypeError

if TYPE_CHECKING:
    from syncer.hubspot.protocol import PortalClient

SANDBOX = "sandbox"
META_FIELDS = ("portal", "hub_id")  # how plans, undo plans and journals name their portal
HUB_ID = re.compile(r"[1-9][0-9]{0,17}")


@dataclass(frozen=True)
class Portal:
    """`name`: what a pin, a plan and a report call the portal: "sandbox" for the embedded sandbox,
    else its hub id, else (a portal that does not say) its base URL. `hub_id`: HubSpot's portalId as
    the portal reported it, or None."""

    name: str
    hub_id: str | None = None

    @property
    def key(self) -> str:
        """What files made against this portal are keyed by: the hub id (a reset sandbox has a new
        one), else a short digest of the base URL. Safe in a file name."""
        if self.hub_id:
            return self.hub_id
        return "url-" + hashlib.sha256(self.name.encode()).hexdigest()[:12]

    def __str__(self) -> str:
        return describe(self.name, self.hub_id)

    @property
    def pin(self) -> str | None:
        """What a mapping pins this portal as (`portal:`): sandbox or the hub id; None for a portal
        that did not say which it is (a base URL is no pin)."""
        return self.name if self.name in (SANDBOX, self.hub_id) else None

    def same_as(self, other: Portal) -> bool:
        """One portal: by hub id where both are known (a reset sandbox is another portal), else by name."""
        return self.hub_id == other.hub_id if self.hub_id and other.hub_id else self.name == other.name


def describe(name: str | None, hub_id: str | None = None) -> str:
    """A portal as messages name it: "portal 123", "the embedded sandbox portal (portal 456)"."""
    if name == SANDBOX:
        return f"the embedded sandbox portal (portal {hub_id})" if hub_id else "the embedded sandbox portal"
    if name and HUB_ID.fullmatch(name):
        return f"portal {name}"
    return f"the portal at {name}" if name else "an unknown portal"


def of(client: PortalClient) -> Portal:
    """The portal `client` talks to (one call, GET /account-info/v3/details, unless the client has
    already read a custom object's schema, whose fully qualified name carries the hub id)."""
    hub_id = client.hub_id()
    name = SANDBOX if client.embedded_sandbox else hub_id or client.base_url
    return Portal(name, hub_id)


def planned(name: str | None, hub_id: str | None) -> Portal | None:
    """The portal a plan, undo plan or journal names by its `portal` and `hub_id` (None when it
    names none). Plans of syncer 0.1 named a portal "portal <hub id>"."""
    if not name:
        return None
    if name.startswith("portal ") and HUB_ID.fullmatch(name[7:]):
        name = hub_id = name[7:]
    return Portal(name, hub_id)


def check(pin: str | None, client: PortalClient, *, pinned_by: object) -> Portal:
    """The portal `client` talks to, refused (PortalError, exit 3) when `pin` names another.
    `pinned_by` names the file whose pin it is, for the message."""
    portal = of(client)
    if pin is None or pin == portal.name:
        return portal
    if pin != SANDBOX and portal.hub_id is None:
        raise PortalError(f"{pinned_by} is pinned to {describe(pin)}, but {client.base_url} does not say which "
                          "portal it is (GET /account-info/v3/details answered no portalId), so nothing was done")
    raise PortalError(f"{pinned_by} is pinned to {describe(pin)}, but this run reached {portal} at "
                      f"{client.base_url}; nothing was done. {_remedy(pin)}")


def reach(m, client: PortalClient, object_type=None):
    """The mapping `m`'s object type and portal, its pin checked: (object type, Portal).

    The object type is asked first, as a custom object's schema names the portal (saving the
    account details call); when the portal has no such object, a pin naming another portal is the
    better explanation, and is raised instead. `object_type`, when the caller knows it, is used."""
    if object_type is None:
        try:
            object_type = client.object_type(m.object)
        except UnknownObjectTypeError:
            check(m.portal, client, pinned_by=m.path.name)
            raise
    return object_type, check(m.portal, client, pinned_by=m.path.name)


def require_target(pin: str | None, *, pinned_by: object, token_var: str) -> None:
    """Before the CLI falls back to the embedded sandbox (no token anywhere): a mapping or plan
    pinned to a real portal is refused (exit 3) instead of quietly writing to the sandbox."""
    if pin is not None and pin != SANDBOX:
        raise PortalError(f"{token_var} is not set; {pinned_by} targets {describe(pin)}. Set {token_var} to "
                          "that portal's access token (or pass --token); nothing was done")


def _remedy(pin: str) -> str:
    if pin == SANDBOX:
        return "Unset HUBSPOT_ACCESS_TOKEN and HUBSPOT_BASE_URL to use the embedded sandbox, or change the pin."
    return f"Use the access token of portal {pin}, or change the mapping's `portal:` if it has moved."
