"""The values the client hands back: records, per-input batch outcomes, object types, events."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from dataclasses import dataclass, field
from typing import Any

from syncer.hubspot.errors import HubSpotError

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_HUB_ID_IN_NAME = re.compile(r"p([1-9][0-9]*)_.+", re.DOTALL)
MODIFIED_PROPERTY = {"0-1": "lastmodifieddate"}  # objectTypeId → its own modification-date property


def epoch_ms(text: str) -> int:
    """A HubSpot time (epoch milliseconds, or ISO 8601 as createdAt and updatedAt come) in epoch
    milliseconds, exactly: in whole numbers, never through a float. A time without a zone is UTC."""
    if text.isdigit():
        return int(text)
    when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return (when.replace(tzinfo=when.tzinfo or timezone.utc) - _EPOCH) // timedelta(milliseconds=1)


@dataclass(frozen=True)
class Record:
    """One CRM record as HubSpot returned it; every property value is a string or None."""

    id: str
    properties: dict[str, str | None]
    created_at: str = ""
    updated_at: str = ""
    archived: bool = False
    new: bool | None = None  # upsert only: True when this call created the record

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> Record:
        return cls(
            id=str(body["id"]),
            properties=dict(body.get("properties") or {}),
            created_at=body.get("createdAt") or "",
            updated_at=body.get("updatedAt") or "",
            archived=bool(body.get("archived", False)),
            new=body.get("new"),
        )


@dataclass(frozen=True)
class BatchOutcome:
    """What became of one input of a batch call: exactly one per input, in input order.

    `error` is None when the input succeeded; `record` is then the record HubSpot returned
    (None for archive, which returns nothing).
    """

    index: int
    record: Record | None = None
    error: HubSpotError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True)
class AssociationType:
    """One kind of link between two object types (HubSpot's AssociationSpecWithLabel)."""

    type_id: int
    category: str  # HUBSPOT_DEFINED, USER_DEFINED or INTEGRATOR_DEFINED
    label: str | None = None  # None for the unlabeled (default) type

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> AssociationType:
        return cls(int(body["typeId"]), str(body.get("category") or ""), body.get("label"))


@dataclass(frozen=True)
class Association:
    """A link from one record to another record: the other record's id and every type joining them."""

    to_id: str
    types: tuple[AssociationType, ...] = ()

    @property
    def type_ids(self) -> list[int]:
        return [kind.type_id for kind in self.types]

    @property
    def labels(self) -> list[str]:
        """The labels of the labeled types (the unlabeled default type has none)."""
        return [kind.label for kind in self.types if kind.label]


@dataclass(frozen=True)
class ObjectType:
    """A CRM object type, resolved through the schemas API; the objects API is addressed by its id."""

    object_type_id: str
    name: str
    fully_qualified_name: str
    labels: dict[str, str] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_schema(cls, schema: dict[str, Any]) -> ObjectType:
        return cls(
            object_type_id=schema.get("objectTypeId") or str(schema["id"]),
            name=schema["name"],
            fully_qualified_name=schema.get("fullyQualifiedName") or schema["name"],
            labels=dict(schema.get("labels") or {}),
            raw=schema,
        )

    @property
    def hub_id(self) -> str | None:
        """The portal's hub id, which a custom object's fully qualified name carries (p<hub id>_<name>)."""
        found = _HUB_ID_IN_NAME.fullmatch(self.fully_qualified_name)
        return found.group(1) if found else None

    @property
    def modified_property(self) -> str:
        """The property holding a record's last modification time: contacts keep theirs in
        `lastmodifieddate`, every other object in `hs_lastmodifieddate` (reference §8)."""
        return MODIFIED_PROPERTY.get(self.object_type_id, "hs_lastmodifieddate")

    def answers_to(self, wanted: str) -> bool:
        """True when `wanted` is this type's name, label, fully qualified name or objectTypeId."""
        folded = wanted.strip().casefold()
        names = [self.object_type_id, self.name, self.fully_qualified_name, *self.labels.values()]
        return any(folded == name.casefold() for name in names if name)


@dataclass(frozen=True)
class RateLimit:
    """The portal's limits as its X-HubSpot-RateLimit-* headers last reported them (None: not sent)."""

    max_per_interval: int | None = None
    interval_ms: int | None = None
    remaining: int | None = None
    daily: int | None = None
    daily_remaining: int | None = None


# --- progress events: handed to the client's on_event callback, from whichever thread sent ---------


@dataclass(frozen=True)
class RequestSent:
    method: str
    path: str
    status: int | None  # None when no response came back (timeout, dropped connection)
    seconds: float
    attempt: int


@dataclass(frozen=True)
class Retrying:
    method: str
    path: str
    attempt: int
    wait: float
    reason: str


@dataclass(frozen=True)
class BatchDone:
    operation: str  # "create", "update", "upsert", "archive", "read", "associate", "disassociate", "read associations"
    inputs: int
    failed: int
