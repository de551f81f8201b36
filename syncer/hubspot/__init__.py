"""The HubSpot client: the only code in syncer that builds URLs and sends requests (DESIGN.md)."""

from syncer.hubspot import errors
from syncer.hubspot.client import HubSpotClient, PortalInfo
from syncer.hubspot.errors import HubSpotError
from syncer.hubspot.models import (
    Association,
    AssociationType,
    BatchDone,
    BatchOutcome,
    ObjectType,
    RateLimit,
    Record,
    RequestSent,
    Retrying,
)

__all__ = [
    "HubSpotClient",
    "HubSpotError",
    "PortalInfo",
    "Record",
    "Association",
    "AssociationType",
    "BatchOutcome",
    "ObjectType",
    "RateLimit",
    "RequestSent",
    "Retrying",
    "BatchDone",
    "errors",
]
