"""The HubSpot client: the only code in syncer that builds URLs and sends requests (docs/ARCHITECTURE.md).

Names load on first use (syncer/_lazy.py): `syncer.hubspot.errors` alone does not load requests.
"""

from typing import TYPE_CHECKING

from syncer._lazy import exports

_EXPORTS = {
    "HubSpotClient": "syncer.hubspot.client", "PortalInfo": "syncer.hubspot.client",
    "HubSpotError": "syncer.hubspot.errors",
    **{name: "syncer.hubspot.models" for name in ("Association", "AssociationType", "BatchDone", "BatchOutcome",
                                                  "ObjectType", "RateLimit", "Record", "RequestSent", "Retrying")},
}
__getattr__, __dir__ = exports(__name__, _EXPORTS)

if TYPE_CHECKING:
    from syncer.hubspot.client import HubSpotClient, PortalInfo
    from syncer.hubspot.errors import HubSpotError
    from syncer.hubspot.models import (Association, AssociationType, BatchDone, BatchOutcome, ObjectType, RateLimit,
                                       Record, RequestSent, Retrying)

__all__ = ["HubSpotClient", "HubSpotError", "PortalInfo", "Record", "Association", "AssociationType",
           "BatchOutcome", "ObjectType", "RateLimit", "RequestSent", "Retrying", "BatchDone", "errors"]
