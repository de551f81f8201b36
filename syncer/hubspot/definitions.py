"""The calls that write definitions (schemas, properties, property groups, association labels),
as values: a schema plan holds them, shows them exactly as they will be sent, and
`HubSpotClient.send_definition` sends them. Built here because only syncer/hubspot/ builds URLs.

A call names its kind and its arguments; its method and path follow from them, so a plan file
read back can only ask for these kinds of writes, never an arbitrary request.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

SCHEMAS = "/crm/v3/schemas"
PROPERTIES = "/crm/v3/properties"
LABELS = "/crm/v4/associations/{from_type}/{to_type}/labels"

#: kind → (method, path template, what a person reads)
KINDS = {
    "create_schema": ("POST", SCHEMAS, "create the custom object"),
    "update_schema": ("PATCH", SCHEMAS + "/{object_type}", "change the object's schema"),
    "create_property_group": ("POST", PROPERTIES + "/{object_type}/groups", "create a property group"),
    "create_properties": ("POST", PROPERTIES + "/{object_type}/batch/create", "create properties"),
    "update_property": ("PATCH", PROPERTIES + "/{object_type}/{name}", "change a property"),
    "create_association_label": ("POST", LABELS, "create an association label"),
}


@dataclass(frozen=True)
class DefinitionCall:
    """One definition write. `object_type` is an objectTypeId (None for create_schema), `name` the
    property a property update changes, `to_type` the other object of a label."""

    kind: str
    body: dict[str, Any] = field(default_factory=dict)
    object_type: str | None = None
    name: str | None = None
    to_type: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"not a definition call: {self.kind!r}")
        if self.kind != "create_schema" and not self.object_type:
            raise ValueError(f"{self.kind} needs an object type")
        if self.kind == "update_property" and not self.name:
            raise ValueError("update_property needs the property's name")
        if self.kind == "create_association_label" and not self.to_type:
            raise ValueError("create_association_label needs the other object type")

    @property
    def method(self) -> str:
        return KINDS[self.kind][0]

    @property
    def path(self) -> str:
        return KINDS[self.kind][1].format(object_type=_segment(self.object_type), name=_segment(self.name),
                                          from_type=_segment(self.object_type), to_type=_segment(self.to_type))

    @property
    def purpose(self) -> str:
        return KINDS[self.kind][2]

    def to_json(self) -> dict:
        data = {"kind": self.kind, "method": self.method, "path": self.path, "body": self.body}
        data.update({k: v for k, v in (("object_type", self.object_type), ("name", self.name),
                                       ("to_type", self.to_type)) if v is not None})
        return data

    @classmethod
    def from_json(cls, data: dict) -> DefinitionCall:
        """A call read back from a plan file; ValueError unless its method and path are the ones
        its kind and arguments give."""
        call = cls(str(data.get("kind")), dict(data.get("body") or {}), data.get("object_type"),
                   data.get("name"), data.get("to_type"))
        if (data.get("method"), data.get("path")) != (call.method, call.path):
            raise ValueError(f"{data.get('method')} {data.get('path')} is not what a {call.kind} call sends")
        return call


def _segment(value: str | None) -> str:
    return quote(str(value), safe="") if value is not None else ""
