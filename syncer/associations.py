"""Association columns: one link type, from the mapping to the plan, the executor, export and sync.

A mapping's `associations:` entry binds a sheet column to links from each row's record to a
record of another object, found by that object's `match` property (an email, say). The planner
diffs such a column like any property, as the pseudo-property `assoc:<column>` whose value is the
target record's id; the executor links and unlinks; export and sync show each record's target by
its `match` value. Every one of them uses `Link`, and every client call that reads or writes
links is made here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import pandas as pd

from syncer.errors import InputError

if TYPE_CHECKING:
    from syncer.hubspot.models import Association, BatchOutcome
    from syncer.hubspot.protocol import PortalClient
    from syncer.mapping import Mapping

PREFIX = "assoc:"  # the pseudo-property of an association column: assoc:<column>


def name_of(column: str) -> str:
    """The pseudo-property an association column is planned as (assoc:<column>)."""
    return PREFIX + column


def is_link(name: str) -> bool:
    return name.startswith(PREFIX)


@dataclass(frozen=True)
class Link:
    """An association column as every stage uses it.

    `to` is the target object's objectTypeId (the client takes it with no look-up) and `to_name`
    its name, for messages; `type_id` and `category` the association type links are written with
    (`category` is None in plan files made before plans carried it: the client then looks it up);
    `match` the target property the column's cells show (not kept in plan files: the executor
    needs none). `origin` says where the mapping wrote it (`cars.yaml: associations[0]`), and
    `shown`, in a plan, the value a person knows each named target by (target id → e.g. an email).
    """

    column: str
    to: str
    type_id: int
    category: str | None = None
    match: str | None = None
    to_name: str | None = None
    origin: str | None = field(default=None, compare=False)
    shown: dict[str, str] = field(default_factory=dict, compare=False, repr=False)

    @property
    def name(self) -> str:
        return name_of(self.column)

    @property
    def kind(self):
        """The association type for the client: typeId and category (no look-up), or the typeId alone."""
        if not self.category:
            return self.type_id
        from syncer.hubspot.models import AssociationType

        return AssociationType(self.type_id, self.category)

    def showing(self, shown: dict[str, str]) -> Link:
        return replace(self, shown=dict(shown))

    # --- the forms it is kept in ------------------------------------------------------------------

    def planned(self) -> dict:
        """As a plan (and its file, and an undo journal) keeps it, under meta `associations`."""
        return {"to": self.to, "type_id": self.type_id, "category": self.category, "column": self.column,
                "shown": dict(self.shown)}

    @classmethod
    def from_planned(cls, name: str, entry: dict) -> Link:
        column = entry.get("column") or name.removeprefix(PREFIX)
        return cls(column, str(entry["to"]), int(entry["type_id"]), entry.get("category"),
                   shown=dict(entry.get("shown") or {}))

    def cached(self) -> dict:
        """As a sync snapshot keeps it, so a re-sync needs no call to know it."""
        return {"name": self.name, "column": self.column, "type_id": self.type_id, "match": self.match,
                "category": self.category,
                "to": {"object_type_id": self.to, "name": self.to_name, "fully_qualified_name": self.to_name}}

    @classmethod
    def from_cached(cls, entry: dict) -> Link:
        to = entry["to"]
        return cls(entry["column"], to["object_type_id"], int(entry["type_id"]), entry.get("category"),
                   entry.get("match"), to.get("name"))


def planned(links: dict[str, Link]) -> dict[str, dict]:
    return {name: link.planned() for name, link in links.items()}


def from_planned(entries: dict | None) -> dict[str, Link]:
    return {name: Link.from_planned(name, entry) for name, entry in (entries or {}).items()}


# --- from the mapping ------------------------------------------------------------------------------


def resolve(m: Mapping, client: PortalClient, object_type, columns: Iterable[str] | None = None) -> list[Link]:
    """The mapping's association columns as Links: each target object and association type asked
    of the portal. `columns`: only the entries whose pseudo-property is among them (those the
    sheet has); None for all."""
    wanted = None if columns is None else set(columns)
    found = []
    for number, spec in enumerate(m.associations):
        if wanted is not None and name_of(spec.column) not in wanted:
            continue
        to_type = client.object_type(spec.to)
        kind = client.association_spec(object_type, to_type, spec.label)
        found.append(Link(spec.column, to_type.object_type_id, kind.type_id, kind.category, spec.match, to_type.name,
                          origin=f"{m.path.name}: associations[{number}]"))
    return found


# --- reading ---------------------------------------------------------------------------------------


def find_targets(client: PortalClient, link: Link, shown: Iterable) -> dict[str, str]:
    """Display value → target record id, for the values a record of `link.to` has as its `match`
    value (one call per 100 distinct values); values no record has are left out. A `match`
    HubSpot refuses to look records up by is a mapping problem: InputError naming the entry."""
    from syncer.hubspot.errors import ValidationError

    wanted = list(dict.fromkeys(v for v in shown if v is not None))
    if not wanted:
        return {}
    try:
        found = client.batch_read(link.to, wanted, id_property=link.match)
    except ValidationError as exc:
        place = f"{link.origin}.match" if link.origin else f'association column "{link.column}"'
        raise InputError(f"{place}: {link.to_name} records cannot be found by \"{link.match}\" ({exc}); name a "
                         f"unique property of {link.to_name}, such as email for contacts (syncer validate lists "
                         "the problems)") from None
    return {value: record.id for value, record in found.items()}


def not_found(link: Link, value) -> str:
    """The row error of a cell that names no target record."""
    return f'column "{link.column}": no {link.to_name} record with {link.match} {value!r}'


def linked(client: PortalClient, object_type, link: Link, record_ids: Iterable[str]) -> dict[str, list[Association]]:
    """Record id → its links to `link.to` (every type), for the ids given."""
    return client.batch_read_associations(object_type, link.to, record_ids)


def current_target(associations: list[Association], type_id: int, preferred: str | None) -> str | None:
    """A record's current target under one association type: `preferred` (the one the sheet names,
    or the one the last sync saw) while still linked, else the first (the sheet shows one)."""
    targets = [a.to_id for a in associations if type_id in a.type_ids]
    return preferred if preferred in targets else (targets[0] if targets else None)


def current_targets(client: PortalClient, object_type, link: Link, record_ids: Iterable[str],
                    preferred: dict[str, str | None] | None = None) -> dict[str, str | None]:
    """Record id → its current target under the link's type (see current_target), for the ids
    given: one call per 100 ids. `preferred`: record id → the target to keep when still linked."""
    ids = [str(i) for i in record_ids]
    if not ids:
        return {}
    preferred = preferred or {}
    links = linked(client, object_type, link, ids)
    return {i: current_target(links.get(i, []), link.type_id, preferred.get(i)) for i in ids}


def shown_values(client: PortalClient, link: Link, targets: Iterable) -> dict[str, str]:
    """Target record id → its `match` value, canonical as a cell of the association column is
    (an email lower-cased): one call per 100 distinct ids; ids without a value are left out."""
    from syncer import values  # lazily: values builds on this module (PREFIX)

    wanted = {t for t in targets if t}
    found = client.batch_read(link.to, wanted, properties=[link.match]) if wanted else {}
    ids = list(found)
    shown = values.association_keys(pd.Series([found[i].properties.get(link.match) for i in ids], dtype=object),
                                    link.match)
    return {i: value for i, value in zip(ids, shown) if value is not None}


def cells(client: PortalClient, object_type, link: Link, record_ids: list[str]) -> list:
    """Per record id, the `match` value of the record it is linked to under the link's type, as
    push and sync read it (export's association column)."""
    targets = current_targets(client, object_type, link, record_ids)
    shown = shown_values(client, link, targets.values())
    return [shown.get(targets[str(i)]) for i in record_ids]


# --- writing ---------------------------------------------------------------------------------------


def write(client: PortalClient, object_type, link: Link, *, unlink: list[tuple[str, str]],
          link_to: list[tuple[str, str]]) -> tuple[list[BatchOutcome], list[BatchOutcome]]:
    """Remove the link's type from the (record id, target id) pairs of `unlink`, then add it to
    those of `link_to`: one outcome per pair, in order, for each."""
    removed = client.batch_disassociate(object_type, link.to, unlink, link.kind) if unlink else []
    added = client.batch_associate(object_type, link.to, link_to, link.kind) if link_to else []
    return removed, added
