"""Schema plans against a portal: read the sheet (and mapping) and the portal's definitions, plan
(syncer/schema.py), and apply a plan through the client, one definition call at a time.

The same discipline as records: `plan_schema` sends nothing; `apply_schema` sends exactly the
plan's calls, and for a saved plan first checks that the portal still holds what the plan was made
against. Nothing here changes a property's type or removes anything.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from syncer import mapping, portals, schema, tables, talk
from syncer.errors import InputError
from syncer.hubspot import errors as hubspot_errors
from syncer.hubspot.definitions import DefinitionCall
from syncer.hubspot.errors import HubSpotError, UnknownObjectTypeError

if TYPE_CHECKING:
    from syncer.hubspot.protocol import PortalClient

MAPPING_SUFFIXES = {".yaml", ".yml"}


def plan_schema(target: str | Path, client: PortalClient, *, object_name: str | None = None, create_object: str | None = None,
                id_property: str | None = None, sheet: str | None = None, header_row: int = 1,
                singular: str | None = None, plural: str | None = None) -> schema.SchemaPlan:
    """The schema plan for `target`: a mapping (its object, its columns; a new custom object when
    the portal has no object of that name), or a sheet with `object_name` (an object the portal
    has) or `create_object` (a new custom object's name). Sends no write."""
    path = Path(target)
    if path.suffix.lower() in MAPPING_SUFFIXES:
        if object_name or create_object:
            raise InputError(f"{path.name} names its object ({mapping.load(path).object}): leave out --object "
                             "and --create-object, or give the sheet instead of the mapping")
        return _plan_mapping(mapping.load(path), client, id_property=id_property, singular=singular, plural=plural)
    if path.suffix.lower() not in tables.CSV_SUFFIXES | tables.XLSX_SUFFIXES:
        raise InputError(f"{path.name}: give a mapping (.yaml) or a sheet (.csv, .xlsx), not {path.suffix or 'this'}")
    if bool(object_name) == bool(create_object):
        raise InputError(f"{path.name}: name the object, with --object NAME (one the portal has) or "
                         "--create-object NAME (a new custom object), not both")
    with talk.phase(f"read {path.name}") as done:
        table = tables.read(path, sheet=sheet, header_row=header_row)
        done(f"{len(table.frame):,} rows")
    portal = portals.of(client)
    meta = _meta(portal, table, None, sheet, header_row)
    if create_object:
        _refuse_existing(client, create_object)
        return schema.plan_new_object(table, create_object, id_property=id_property, singular=singular,
                                      plural=plural, meta=meta)
    object_type = client.object_type(object_name)
    return _plan_existing(table, object_type, client, None, meta, id_property)


def _plan_mapping(m: mapping.Mapping, client: PortalClient, **options) -> schema.SchemaPlan:
    if m.source is None:
        raise InputError(f"{m.path}: the mapping names no source, whose cells the properties are read from")
    is_csv = m.source.suffix.lower() in tables.CSV_SUFFIXES
    with talk.phase(f"read {m.source.name}") as done:
        table = tables.read(m.source, sheet=None if is_csv else m.sheet, header_row=m.header_row)
        done(f"{len(table.frame):,} rows")
    try:
        object_type, portal = portals.reach(m, client)
    except UnknownObjectTypeError:
        portal = portals.check(m.portal, client, pinned_by=m.path.name)
        meta = _meta(portal, table, m, m.sheet, m.header_row)
        associated = [client.object_type(a.to).object_type_id for a in m.associations]
        return schema.plan_new_object(table, m.object, m=m, associated=list(dict.fromkeys(associated)),
                                      meta=meta, **options)
    return _plan_existing(table, object_type, client, m, _meta(portal, table, m, m.sheet, m.header_row))


def _plan_existing(table, object_type, client: PortalClient, m, meta, id_property: str | None = None) -> schema.SchemaPlan:
    with talk.phase("asked the portal for the object's properties and groups"):
        properties = client.properties(object_type)
        groups = client.property_groups(object_type)
        labels = {}
        for association in (m.associations if m else []):
            if association.label:
                to_type = client.object_type(association.to)
                labels[association.to] = (to_type.object_type_id, client.association_labels(object_type, to_type))
    return schema.plan_existing(table, object_type, properties, groups, m=m, id_property=id_property,
                                labels=labels, meta=meta)


def _meta(portal: portals.Portal, table, m, sheet, header_row: int) -> schema.SchemaPlanMeta:
    return schema.SchemaPlanMeta(portal=portal.name, hub_id=portal.hub_id, source=str(table.path.resolve()),
                                 mapping=str(m.path) if m else None,
                                 sheet=table.sheet if sheet is not None else None, header_row=header_row)


def _refuse_existing(client: PortalClient, name: str) -> None:
    try:
        found = client.object_type(name)
    except UnknownObjectTypeError:
        return
    raise InputError(f'the portal already has an object "{name}" ({found.object_type_id}): plan its missing '
                     f"properties with --object {name}, or choose another name")


# --- applying --------------------------------------------------------------------------------------


@dataclass
class CallOutcome:
    """What became of one call: ok, or HubSpot's message; for properties, those created and refused."""

    call: DefinitionCall
    ok: bool
    message: str = ""
    created: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)


@dataclass
class SchemaResults:
    plan: schema.SchemaPlan
    outcomes: list[CallOutcome]
    object_type_id: str | None = None  # the object's, created or not

    @property
    def ok(self) -> bool:
        return all(o.ok for o in self.outcomes) and len(self.outcomes) == len(self.plan.calls)

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else 1

    def __repr__(self) -> str:
        done = sum(o.ok for o in self.outcomes)
        return f"<SchemaResults {self.plan.object.get('name')!r}: {done} of {len(self.plan.calls)} calls ok>"


def apply_schema(plan: schema.SchemaPlan, client: PortalClient, *, check_stale: bool = False,
                 pinned_by: str = "the schema plan") -> SchemaResults:
    """Send the plan's calls in order. A call HubSpot refuses is recorded and the others still go,
    except after a refused object create, which everything else needs. A missing scope or a
    refused token stops the run (PortalError, exit 3). `check_stale` (a saved plan): first refuse
    (InputError, nothing sent) a plan whose portal or definitions changed since it was made."""
    portals.check(plan.meta.portal, client, pinned_by=pinned_by)
    if check_stale:
        _check_unchanged(plan, client)
    outcomes, type_id = [], plan.object.get("object_type_id")
    for call in plan.calls:
        try:
            body = client.send_definition(call)
        except HubSpotError as error:
            if hubspot_errors.classify(error) is hubspot_errors.Disposition.GIVE_UP:
                raise
            outcomes.append(CallOutcome(call, False, error.human_message()))
            if call.kind == "create_schema":
                break
            continue
        outcomes.append(_outcome(call, body))
        if call.kind == "create_schema":
            type_id = body.get("objectTypeId")
    return SchemaResults(plan, outcomes, type_id)


def _outcome(call: DefinitionCall, body: dict) -> CallOutcome:
    if call.kind != "create_properties":
        return CallOutcome(call, True)
    created = [r.get("name") for r in body.get("results") or []]
    refused = [f"{', '.join((e.get('context') or {}).get('propertyName') or ['?'])}: {e.get('message')}"
               for e in body.get("errors") or []]
    return CallOutcome(call, not refused, "; ".join(refused), created, refused)


def _check_unchanged(plan: schema.SchemaPlan, client: PortalClient) -> None:
    """InputError naming what changed when the portal no longer holds what the plan was made against."""
    changed = []
    if plan.creates_object:
        try:
            found = client.object_type(plan.object["name"])
            changed.append(f'the object "{plan.object["name"]}" exists now ({found.object_type_id})')
        except UnknownObjectTypeError:
            pass
    else:
        type_id = plan.object["object_type_id"]
        properties = {p["name"]: p for p in client.properties(type_id)}
        expect = plan.expect
        changed += [f"property {n} exists now" for n in expect.get("absent_properties") or [] if n in properties]
        for name, options in (expect.get("options") or {}).items():
            now = [o["value"] for o in (properties.get(name) or {}).get("options") or []]
            if now != options:
                changed.append(f"the options of {name} changed")
        if expect.get("absent_groups"):
            groups = {g["name"] for g in client.property_groups(type_id)}
            changed += [f"property group {g} exists now" for g in expect["absent_groups"] if g in groups]
        for to_type, name in expect.get("absent_labels") or []:
            known = {schema._label_key(k.get("label") or "") for k in client.association_labels(type_id, to_type)}
            if schema._label_key(name) in known:
                changed.append(f"association label {name} exists now")
    if changed:
        raise InputError(f"the portal changed since the schema plan was made ({'; '.join(changed)}); nothing was "
                         "sent: plan again")


# --- files and the one-step path ---------------------------------------------------------------------


def save_schema_plan(plan: schema.SchemaPlan, path: str | Path) -> None:
    tables.atomic_write(path, json.dumps(schema.to_json(plan), ensure_ascii=False, indent=1) + "\n")


def load_schema_plan(path: str | Path) -> schema.SchemaPlan:
    path = Path(path)
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: cannot read the schema plan ({getattr(exc, 'strerror', None) or exc})") from None
    return schema.from_json(document, path.name)


def new_object_mapping(plan: schema.SchemaPlan, *, output: str | Path | None, portal: str | None) -> mapping.Draft:
    """The mapping for the sheet a new object was made from: its columns, each read as planned,
    pinned to `portal` (a hub id, or sandbox), its source relative to `output`'s folder."""
    import os

    source = schema.source_path(plan)
    base = Path(output).resolve().parent if output else Path.cwd()
    try:
        relative = Path(os.path.relpath(source, base)).as_posix()
    except ValueError:  # another drive on Windows
        relative = str(source)
    columns = schema.mapping_columns(plan)
    text = mapping._draft_yaml(plan.object["name"], plan.object["id_property"], relative, plan.meta.sheet,
                               columns, plan.meta.header_row or 1, portal)
    return mapping.Draft(text=text, columns={c: (s if isinstance(s, str) else s["property"])
                                             for c, s in columns.items()}, unmatched=[], portal=portal)
