"""Writing definitions: schemas, properties, property groups and association labels, with
HubSpot's validation rules and error bodies (reference §3.7-§3.9, §7.1, §7.5; the OpenAPI documents
hubspot_crm_schemas, hubspot_crm_properties and hubspot_crm_crm_associations), and the token's
scopes (the private-apps access-token-info endpoint).

Every request is validated whole before anything changes: definitions live in memory (the
Registry) and are saved as one document, so a refusal must leave them as they were.

Choices where HubSpot's behaviour is unverified are the constants below, marked [inferred].
"""

from __future__ import annotations

import copy
import re

from syncer.sandbox import behaviour
from syncer.sandbox.errors import ApiError, ItemError, validation
from syncer.sandbox.values import iso_ms
from syncer.sandbox.portal import (VALID_FIELD_TYPES, AssociationType, ObjectType, Registry, custom_defaults,
                                   property_definition)

PROPERTY_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
OBJECT_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")  # "letters, numbers and underscores" [docs]
GROUP_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
LABEL_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
MAX_NAME = 100  # characters in a property, group or object name [inferred]
MAX_UNIQUE = 10  # properties with hasUniqueValue per object (§7.5)
MAX_LABELS = 10  # USER_DEFINED association labels per pair of objects (§3.9)
#: Custom property names may not start with hs_, which HubSpot keeps for its own [inferred].
RESERVED_PREFIX = "hs_"
#: A property's type changes only while no record holds a value for it [inferred].
TYPE_CHANGE_NEEDS_NO_VALUES = True
#: Batch property create answers each bad input as a 207 item and creates the others [inferred].
#: PATCH replaces a property's options with the list sent (HubSpot: "options: A list of valid
#: options for the property"), so a client adding one sends every option it keeps.
STANDARD_GROUP = {"0-1": "contactinformation", "0-2": "companyinformation", "0-3": "dealinformation"}


class SchemaWrites:
    """The definition-writing endpoints of one portal. Handlers take (request, object_type, **path
    params), as api.Api's do, and return api.Response-shaped (status, body) through `respond`."""

    def __init__(self, registry: Registry, store, save_definitions, respond) -> None:
        self.registry = registry
        self.store = store
        self.save_definitions = save_definitions
        self.respond = respond  # api.Response, passed in: this module imports nothing from api.py

    # --- properties ----------------------------------------------------------------------------

    def now_iso(self) -> str:
        """The portal's time (its clock, which a test may move on), as HubSpot writes instants."""
        return iso_ms(self.store.clock.now())

    def list_properties(self, request, object_type: ObjectType):
        archived = request.flag("archived")
        found = object_type.archived_properties if archived else object_type.properties
        wanted = set(request.names("properties"))
        return self.respond(200, {"results": [d for n, d in found.items() if not wanted or n in wanted]})

    def create_property(self, request, object_type: ObjectType):
        definition = self._new_property(_body(request), object_type, pending=[])
        self._add(object_type, [definition])
        return self.respond(201, definition)

    def batch_create_properties(self, request, object_type: ObjectType):
        started = self.now_iso()
        inputs = _inputs(request)
        created, errors = [], []
        for raw in inputs:
            try:
                created.append(self._new_property(raw, object_type, pending=created))
            except ApiError as error:
                errors.append(_item(error, name=raw.get("name") if isinstance(raw, dict) else None))
        self._add(object_type, created)
        return self._batch(201, created, errors, started)

    def batch_read_properties(self, request, object_type: ObjectType):
        started = self.now_iso()
        body = _body(request)
        archived = bool(body.get("archived"))
        found = object_type.archived_properties if archived else object_type.properties
        results, missing = [], []
        for raw in _inputs(request):
            name = raw.get("name") if isinstance(raw, dict) else None
            (results.append(found[name]) if name in found else missing.append(str(name)))
        errors = [ItemError("OBJECT_NOT_FOUND", f"Unable to find properties {', '.join(missing)} on "
                            f"{object_type.object_type_id}.", {"names": missing}, status=404)] if missing else []
        return self._batch(200, results, errors, started)

    def update_property(self, request, object_type: ObjectType, name: str):
        current = self._existing(object_type, name)
        body = _body(request)
        updated = self._patched(object_type, current, body)
        object_type.properties[name] = updated
        self.save_definitions()
        return self.respond(200, updated)

    def archive_property(self, request, object_type: ObjectType, name: str):
        self._archive(object_type, [self._archivable(object_type, self._existing(object_type, name))])
        return self.respond(204)

    def batch_archive_properties(self, request, object_type: ObjectType):
        """204 whatever the names, as HubSpot answers (§10): unknown or archived ones are skipped."""
        names = [raw.get("name") for raw in _inputs(request) if isinstance(raw, dict)]
        found = [object_type.properties[n] for n in dict.fromkeys(names) if n in object_type.properties]
        self._archive(object_type, [self._archivable(object_type, d) for d in found])
        return self.respond(204)

    def _existing(self, object_type: ObjectType, name: str) -> dict:
        if name not in object_type.properties:
            raise ApiError(404, "OBJECT_NOT_FOUND", f"Unable to find property {name} on {object_type.object_type_id}.",
                           context={"propertyName": [name]})
        return object_type.properties[name]

    def _add(self, object_type: ObjectType, definitions: list[dict]) -> None:
        if definitions:
            object_type.properties.update((d["name"], d) for d in definitions)
            object_type.updated_at = self.now_iso()
            self.save_definitions()

    def _archive(self, object_type: ObjectType, definitions: list[dict]) -> None:
        for definition in definitions:
            archived = dict(object_type.properties.pop(definition["name"]), archived=True, archivedAt=self.now_iso())
            object_type.archived_properties[definition["name"]] = archived
        if definitions:
            self.save_definitions()

    def _archivable(self, object_type: ObjectType, definition: dict) -> dict:
        name = definition["name"]
        if not definition["modificationMetadata"].get("archivable", True):
            raise validation(f"Property {name} is defined by HubSpot and cannot be archived.",
                             context={"propertyName": [name]})
        uses = [why for why, names in (("its primary display property", [object_type.primary_display]),
                                       ("one of its required properties", object_type.required))
                if name in names]
        if uses and object_type.custom:
            raise validation(f"Property {name} is {uses[0]} of {object_type.name}; change the schema before "
                             "archiving it.", context={"propertyName": [name]})
        return definition

    def _new_property(self, raw, object_type: ObjectType | None, *, pending: list[dict],
                      default_group: str | None = None) -> dict:
        """A new property's definition, or the ApiError HubSpot answers for `raw`. `pending`: the
        definitions created earlier in the same request (their names and unique values count)."""
        if not isinstance(raw, dict):
            raise validation("Each property must be a JSON object.")
        required = ["name", "label", "type", "fieldType"] + (["groupName"] if default_group is None else [])
        missing = [k for k in required if raw.get(k) in (None, "")]
        if missing:
            raise validation(f"Some required fields were not set: [{', '.join(missing)}]",
                             context={"missingFields": missing})
        name, kind, field_type = raw["name"], raw["type"], raw["fieldType"]
        _check_name(name, "Property")
        if name.startswith(RESERVED_PREFIX):
            raise validation(f"Property name {name!r} starts with {RESERVED_PREFIX}, which is reserved for "
                             "properties HubSpot defines.", context={"propertyName": [name]})
        _check_type(name, kind, field_type)
        taken = {**(object_type.properties if object_type else {}), **{d["name"]: d for d in pending}}
        if name in taken:
            raise ApiError(409, "OBJECT_ALREADY_EXISTS", f"Property named '{name}' already exists.",
                           context={"name": [name]})
        if object_type is not None and name in object_type.archived_properties:
            raise ApiError(409, "OBJECT_ALREADY_EXISTS", f"Property named '{name}' was archived; restore it or "
                           "choose another name.", context={"name": [name]})
        group = raw.get("groupName") or default_group
        if object_type is not None and group not in {g["name"] for g in groups_of(object_type)}:
            raise validation(f"The property group '{group}' does not exist on {object_type.object_type_id}.",
                             context={"groupName": [group]})
        unique = bool(raw.get("hasUniqueValue"))
        if unique and sum(1 for d in taken.values() if d.get("hasUniqueValue")
                          and not d.get("hubspotDefined")) >= MAX_UNIQUE:
            raise validation(f"An object can have at most {MAX_UNIQUE} properties with unique values.",
                             context={"propertyName": [name]})
        options = _options(name, kind, field_type, raw.get("options"))
        definition = property_definition(name, str(raw["label"]), kind, field_type, unique=unique,
                                         group=group, description=str(raw.get("description") or ""))
        definition["options"] = options
        for key in ("hidden", "formField"):
            if isinstance(raw.get(key), bool):
                definition[key] = raw[key]
        if isinstance(raw.get("displayOrder"), int):
            definition["displayOrder"] = raw["displayOrder"]
        definition["createdAt"] = definition["updatedAt"] = self.now_iso()
        return definition

    def _patched(self, object_type: ObjectType, current: dict, body: dict) -> dict:
        name = current["name"]
        if "hasUniqueValue" in body and bool(body["hasUniqueValue"]) != bool(current.get("hasUniqueValue")):
            raise validation(f"hasUniqueValue of {name} cannot be changed once the property is created.",
                             context={"propertyName": [name]})
        meta = current["modificationMetadata"]
        changing = {k for k in body if body[k] is not None and body[k] != current.get(k)} - {"options"}
        if meta.get("readOnlyDefinition") and changing:
            raise validation(f"Property {name} is defined by HubSpot; only its options can be changed "
                             f"(not {', '.join(sorted(changing))}).", context={"propertyName": [name]})
        if "options" in body and meta.get("readOnlyOptions"):
            raise validation(f"The options of {name} are defined by HubSpot and cannot be changed.",
                             context={"propertyName": [name]})
        kind = body.get("type") or current["type"]
        field_type = body.get("fieldType") or (current["fieldType"] if kind == current["type"] else None)
        if field_type is None:
            raise validation(f"Changing the type of {name} to {kind!r} needs a fieldType valid for it.",
                             context={"propertyName": [name]})
        _check_type(name, kind, field_type)
        if kind != current["type"] and TYPE_CHANGE_NEEDS_NO_VALUES and self._holds_values(object_type, name):
            raise validation(f"The type of {name} cannot change from {current['type']} to {kind} while records "
                             "hold values for it.", context={"propertyName": [name]})
        group = body.get("groupName") or current["groupName"]
        if group not in {g["name"] for g in groups_of(object_type)}:
            raise validation(f"The property group '{group}' does not exist on {object_type.object_type_id}.",
                             context={"groupName": [group]})
        updated = copy.deepcopy(current)
        updated.update(type=kind, fieldType=field_type, groupName=group)
        for key in ("label", "description"):
            if isinstance(body.get(key), str) and body[key]:
                updated[key] = body[key]
        for key in ("hidden", "formField"):
            if isinstance(body.get(key), bool):
                updated[key] = body[key]
        if isinstance(body.get("displayOrder"), int):
            updated["displayOrder"] = body["displayOrder"]
        if "options" in body or kind != current["type"]:
            updated["options"] = _options(name, kind, field_type, body.get("options", current["options"]))
        updated["updatedAt"] = self.now_iso()
        return updated

    def _holds_values(self, object_type: ObjectType, name: str) -> bool:
        held = self.store.select("type = ? AND json_extract(props, ?) IS NOT NULL",
                                 (object_type.object_type_id, f'$."{name}"'), "id", 1)
        return next(held, None) is not None

    # --- property groups -----------------------------------------------------------------------

    def list_groups(self, request, object_type: ObjectType):
        archived = request.flag("archived")
        return self.respond(200, {"results": [g for g in groups_of(object_type) if g["archived"] == archived]})

    def get_group(self, request, object_type: ObjectType, group: str):
        return self.respond(200, self._group(object_type, group))

    def create_group(self, request, object_type: ObjectType):
        body = _body(request)
        missing = [k for k in ("name", "label") if not body.get(k)]
        if missing:
            raise validation(f"Some required fields were not set: [{', '.join(missing)}]",
                             context={"missingFields": missing})
        name = body["name"]
        _check_name(name, "Property group", GROUP_NAME)
        if any(g["name"] == name for g in groups_of(object_type)):
            raise ApiError(409, "OBJECT_ALREADY_EXISTS", f"A property group named '{name}' already exists.",
                           context={"name": [name]})
        group = {"name": name, "label": str(body["label"]),
                 "displayOrder": body["displayOrder"] if isinstance(body.get("displayOrder"), int) else -1,
                 "archived": False}
        object_type.groups.append(group)
        self.save_definitions()
        return self.respond(201, group)

    def update_group(self, request, object_type: ObjectType, group: str):
        found = self._group(object_type, group)
        body = _body(request)
        if isinstance(body.get("label"), str) and body["label"]:
            found["label"] = body["label"]
        if isinstance(body.get("displayOrder"), int):
            found["displayOrder"] = body["displayOrder"]
        self.save_definitions()
        return self.respond(200, found)

    def archive_group(self, request, object_type: ObjectType, group: str):
        found = self._group(object_type, group)
        used = sorted(n for n, d in object_type.properties.items() if d["groupName"] == group)
        if used:
            raise validation(f"The property group '{group}' still holds properties ({', '.join(used[:5])}); move "
                             "or archive them first.", context={"groupName": [group]})
        if group == STANDARD_GROUP.get(object_type.object_type_id):
            raise validation(f"The property group '{group}' is defined by HubSpot and cannot be archived.",
                             context={"groupName": [group]})
        found["archived"] = True
        self.save_definitions()
        return self.respond(204)

    def _group(self, object_type: ObjectType, name: str) -> dict:
        for group in groups_of(object_type):
            if group["name"] == name and not group["archived"]:
                return group
        raise ApiError(404, "OBJECT_NOT_FOUND", f"Unable to find property group {name} on "
                       f"{object_type.object_type_id}.", context={"groupName": [name]})

    # --- schemas -------------------------------------------------------------------------------

    def list_schemas(self, request, object_type: None):
        if request.flag("archived"):
            return self.respond(200, {"results": []})
        return self.respond(200, {"results": [t.schema(self.registry.definitions(t))
                                              for t in self.registry.custom_types()]})

    def create_schema(self, request, object_type: None):
        body = _body(request)
        missing = [k for k in ("name", "labels", "properties") if k not in body]
        if missing:
            raise validation(f"Some required fields were not set: [{', '.join(missing)}]",
                             context={"missingFields": missing})
        name = body["name"]
        _check_name(name, "Object", OBJECT_NAME)
        taken = {t.name.lower() for t in self.registry.object_types.values()}
        taken |= {t.singular.lower() for t in self.registry.object_types.values() if not t.custom}
        if name.lower() in taken:
            raise ApiError(409, "OBJECT_ALREADY_EXISTS", f"Object type with name '{name}' already exists.",
                           context={"name": [name]})
        labels = body["labels"] if isinstance(body["labels"], dict) else {}
        if not labels.get("singular") or not labels.get("plural"):
            raise validation("labels needs both singular and plural.", context={"missingFields": ["labels"]})
        if not isinstance(body["properties"], list) or not body["properties"]:
            raise validation("An object type needs at least one property.", context={"propertyName": []})
        group = f"{name.lower()}_information"
        created = []
        for raw in body["properties"]:
            created.append(self._new_property(raw, None, pending=created, default_group=group))
        names = [d["name"] for d in created]
        primary = body.get("primaryDisplayProperty") or names[0]
        self._check_named(names, {"primaryDisplayProperty": [primary],
                                  "requiredProperties": body.get("requiredProperties") or [],
                                  "searchableProperties": body.get("searchableProperties") or [],
                                  "secondaryDisplayProperties": body.get("secondaryDisplayProperties") or []})
        if sum(1 for d in created if d["hasUniqueValue"]) > MAX_UNIQUE:
            raise validation(f"An object can have at most {MAX_UNIQUE} properties with unique values.")
        targets = [self._association_target(t) for t in body.get("associatedObjects") or []]
        number = max(int(t.object_type_id.split("-")[1]) for t in self.registry.object_types.values()) + 1
        stamp = self.now_iso()
        new = ObjectType(f"2-{number}", name, labels["singular"], labels["plural"],
                         custom_defaults() | {d["name"]: d for d in created}, primary_display=primary,
                         searchable=list(body.get("searchableProperties") or []),
                         required=list(body.get("requiredProperties") or []), error_word=name.upper(),
                         created_at=stamp, updated_at=stamp, portal_id=self.registry.portal_id,
                         secondary_display=list(body.get("secondaryDisplayProperties") or []),
                         description=body.get("description"),
                         groups=[{"name": group, "label": f"{labels['singular']} information", "displayOrder": -1,
                                  "archived": False}])
        self.registry.object_types[new.object_type_id] = new
        for target in targets:
            self._define(new, target, None, None)
        self.save_definitions()
        return self.respond(201, new.schema(self.registry.definitions(new)))

    def update_schema(self, request, object_type: ObjectType):
        if not object_type.custom:
            raise validation(f"Only custom object schemas can be changed; {object_type.name} is defined by HubSpot.")
        body = _body(request)
        names = list(object_type.properties)
        fields = {"primaryDisplayProperty": [body["primaryDisplayProperty"]] if body.get("primaryDisplayProperty") else [],
                  **{k: body[k] for k in ("requiredProperties", "searchableProperties", "secondaryDisplayProperties")
                     if isinstance(body.get(k), list)}}
        self._check_named(names, fields)
        labels = body.get("labels") if isinstance(body.get("labels"), dict) else {}
        if body.get("primaryDisplayProperty"):
            object_type.primary_display = body["primaryDisplayProperty"]
        object_type.required = list(body.get("requiredProperties", object_type.required))
        object_type.searchable = list(body.get("searchableProperties", object_type.searchable))
        object_type.secondary_display = list(body.get("secondaryDisplayProperties", object_type.secondary_display))
        object_type.singular = labels.get("singular") or object_type.singular
        object_type.plural = labels.get("plural") or object_type.plural
        if isinstance(body.get("description"), str):
            object_type.description = body["description"]
        object_type.updated_at = self.now_iso()
        self.save_definitions()
        schema = object_type.schema([])
        definition = {k: v for k, v in schema.items() if k not in ("properties", "associations")}
        definition["portalId"] = self.registry.portal_id
        return self.respond(200, definition)

    def create_association_definition(self, request, object_type: ObjectType):
        body = _body(request)
        missing = [k for k in ("fromObjectTypeId", "toObjectTypeId") if not body.get(k)]
        if missing:
            raise validation(f"Some required fields were not set: [{', '.join(missing)}]",
                             context={"missingFields": missing})
        if self.registry.resolve(str(body["fromObjectTypeId"])) is not object_type:
            raise validation(f"fromObjectTypeId {body['fromObjectTypeId']} is not {object_type.object_type_id}, "
                             "the object type of the path.")
        target = self._association_target(str(body["toObjectTypeId"]))
        name = body.get("name")
        if name is not None:
            _check_name(name, "Association", LABEL_NAME)
            if any(a.name == name for a in self.registry.association_types):
                raise ApiError(409, "OBJECT_ALREADY_EXISTS", f"An association named '{name}' already exists.",
                               context={"name": [name]})
        forward = self._define(object_type, target, name, None)
        self.save_definitions()  # kept in the store, as schemas and labels are, so a reopened portal has it
        stamp = self.now_iso()
        return self.respond(201, {"id": str(forward.type_id), "fromObjectTypeId": forward.from_type,
                                  "toObjectTypeId": forward.to_type, "name": forward.name,
                                  "createdAt": stamp, "updatedAt": stamp})

    def _check_named(self, names: list[str], fields: dict[str, list]) -> None:
        for field_name, wanted in fields.items():
            unknown = [w for w in wanted if w not in names]
            if unknown:
                raise validation(f"{field_name} names properties the object does not have: {', '.join(map(str, unknown))}.",
                                 context={"propertyName": [str(u) for u in unknown]})

    def _association_target(self, name: str) -> ObjectType:
        try:
            return self.registry.resolve(name)
        except ApiError:
            raise validation(f"Unable to associate with unknown object type {name}.",
                             context={"objectType": [name]}) from None

    def _define(self, object_type: ObjectType, target: ObjectType, name: str | None,
                label: str | None) -> AssociationType:
        """A pair of association types (one each way), added to the registry; the forward one."""
        next_id = max(a.type_id for a in self.registry.association_types) + 1
        forward_name = name or f"{object_type.name}_to_{target.name}"
        backward_name = name or f"{target.name}_to_{object_type.name}"
        category = "USER_DEFINED"
        forward = AssociationType(next_id, object_type.object_type_id, target.object_type_id, category, label,
                                  forward_name)
        backward = AssociationType(next_id + 1, target.object_type_id, object_type.object_type_id, category, label,
                                   backward_name)
        self.registry.association_types += [forward, backward]
        return forward

    # --- association labels (v4) ---------------------------------------------------------------

    def create_label(self, request, object_type: ObjectType, to: str):
        body = _body(request)
        missing = [k for k in ("label", "name") if not body.get(k)]
        if missing:
            raise validation(f"Some required fields were not set: [{', '.join(missing)}]",
                             context={"missingFields": missing})
        target = self.registry.resolve(to)
        name, label = str(body["name"]), str(body["label"])
        _check_name(name, "Association label", LABEL_NAME)
        between = self.registry.association_labels(object_type.object_type_id, target.object_type_id)
        if any(a.name == name or (a.label or "").lower() == label.lower() for a in between):
            raise ApiError(409, "OBJECT_ALREADY_EXISTS", f"An association label named '{name}' or labelled "
                           f"'{label}' already exists from {object_type.object_type_id} to "
                           f"{target.object_type_id}.", context={"name": [name]})
        if sum(1 for a in between if a.category == "USER_DEFINED" and a.label) >= MAX_LABELS:
            raise validation(f"At most {MAX_LABELS} association labels can be defined between "
                             f"{object_type.object_type_id} and {target.object_type_id}.")
        forward = self._define(object_type, target, name, label)
        self.save_definitions()
        backward = next(a for a in self.registry.association_types if a.type_id == forward.type_id + 1)
        return self.respond(200, {"results": [forward.spec(), backward.spec()]})

    def update_label(self, request, object_type: ObjectType, to: str):
        body = _body(request)
        kind = self._user_label(object_type, to, body.get("associationTypeId"))
        if not body.get("label"):
            raise validation("Some required fields were not set: [label]", context={"missingFields": ["label"]})
        for a in self._both_ways(kind):
            self._replace(a, label=str(body["label"]))
        self.save_definitions()
        return self.respond(204)

    def delete_label(self, request, object_type: ObjectType, to: str, type_id: str):
        kind = self._user_label(object_type, to, type_id)
        kinds = self._both_ways(kind)
        held = self._links_of([a.type_id for a in kinds])
        if held:
            raise validation(f"The association label {kind.label!r} links {held} pair(s) of records; remove those "
                             "associations first.", context={"associationTypeId": [str(kind.type_id)]})
        ids = {a.type_id for a in kinds}
        self.registry.association_types[:] = [a for a in self.registry.association_types if a.type_id not in ids]
        self.save_definitions()
        return self.respond(204)

    def _links_of(self, type_ids: list[int]) -> int:
        marks = ",".join("?" * len(type_ids))
        return self.store.db.execute(f"SELECT COUNT(*) FROM associations WHERE type_id IN ({marks})",
                                     type_ids).fetchone()[0]

    def _user_label(self, object_type: ObjectType, to: str, type_id) -> AssociationType:
        target = self.registry.resolve(to)
        kind = self.registry.association_type(object_type.object_type_id, str(type_id), target.object_type_id) \
            if str(type_id).isdigit() else None
        if kind is None:
            raise ApiError(404, "OBJECT_NOT_FOUND", f"No association type {type_id} from "
                           f"{object_type.object_type_id} to {target.object_type_id}.",
                           context={"associationTypeId": [str(type_id)]})
        if kind.category != "USER_DEFINED" or not kind.label:
            raise validation(f"Association type {type_id} is not a label defined by a user; HubSpot's own "
                             "types cannot be changed.", context={"associationTypeId": [str(type_id)]})
        return kind

    def _both_ways(self, kind: AssociationType) -> list[AssociationType]:
        back = [a for a in self.registry.association_labels(kind.to_type, kind.from_type)
                if a.label == kind.label and a.category == kind.category]
        return [kind, *back[:1]]

    def _replace(self, kind: AssociationType, **changes) -> None:
        types = self.registry.association_types
        types[types.index(kind)] = AssociationType(**{**kind.__dict__, **changes})

    # --- the token -----------------------------------------------------------------------------

    def token_info(self, request, object_type: None):
        """The scopes of the token the request carries (private apps' access-token-info)."""
        body = _body(request)
        if not body.get("tokenKey"):
            raise validation("Some required fields were not set: [tokenKey]", context={"missingFields": ["tokenKey"]})
        scopes = sorted(request.scopes) if request.scopes is not None else self.every_scope()
        return self.respond(200, {"userId": 1, "hubId": self.registry.portal_id, "appId": 1, "scopes": scopes})

    def every_scope(self) -> list[str]:
        families = sorted({t.scope for t in self.registry.object_types.values()} | {"custom"})
        return ["oauth"] + [f"crm.{kind}.{family}.{access}" for family in families
                            for kind in ("objects", "schemas") for access in ("read", "write")]

    # --- plumbing ------------------------------------------------------------------------------

    def _batch(self, status: int, results: list, errors: list[ItemError], started: str):
        body = {"status": "COMPLETE", "results": results, "startedAt": started, "completedAt": self.now_iso()}
        if errors:
            body.update(numErrors=len(errors), errors=[e.body() for e in errors])
            status = 207
        return self.respond(status, body)


def groups_of(object_type: ObjectType) -> list[dict]:
    """The object's property groups: those it keeps, and one for every group a property names
    that it does not keep (a portal saved before groups were kept), labelled from its name."""
    known = {g["name"] for g in object_type.groups}
    for definition in (*object_type.properties.values(), *object_type.archived_properties.values()):
        name = definition.get("groupName")
        if name and name not in known:
            object_type.groups.append({"name": name, "label": name.replace("_", " ").capitalize(),
                                       "displayOrder": -1, "archived": False})
            known.add(name)
    return object_type.groups


def _body(request) -> dict:
    if not isinstance(request.body, dict):
        raise validation("Invalid input JSON: the request body must be a JSON object.")
    return request.body


def _inputs(request) -> list:
    inputs = _body(request).get("inputs")
    if not isinstance(inputs, list):
        raise validation("Some required fields were not set: [inputs]", context={"missingFields": ["inputs"]})
    if len(inputs) > behaviour.BATCH_MAX_INPUTS:
        raise validation(f"Batch input size of {len(inputs)} exceeds the limit of {behaviour.BATCH_MAX_INPUTS} inputs.")
    return inputs


def _item(error: ApiError, name: str | None) -> ItemError:
    context = dict(error.body.get("context") or {})
    if name:
        context.setdefault("propertyName", [name])
    return ItemError(error.body["category"], error.body["message"], context, status=error.status)


def _check_name(name, what: str, pattern: re.Pattern = PROPERTY_NAME) -> None:
    if not isinstance(name, str) or not pattern.match(name) or len(name) > MAX_NAME:
        rule = "lower case letters, digits and underscores" if pattern is PROPERTY_NAME or pattern is GROUP_NAME \
            else "letters, digits and underscores"
        raise validation(f"{what} name {name!r} must be {rule}, starting with a letter, at most {MAX_NAME} "
                         "characters.", context={"name": [str(name)]})


def _check_type(name: str, kind, field_type) -> None:
    if kind not in VALID_FIELD_TYPES:
        raise validation(f"type {kind!r} of {name} is not one of {sorted(VALID_FIELD_TYPES)}.",
                         context={"propertyName": [name]})
    if field_type not in VALID_FIELD_TYPES[kind]:
        raise validation(f"fieldType {field_type!r} is not valid for type {kind!r}; use one of "
                         f"{sorted(VALID_FIELD_TYPES[kind])}.", context={"propertyName": [name]})


def _options(name: str, kind: str, field_type: str, raw) -> list[dict]:
    """The options of an enumeration or bool property, checked: each with a label and a value,
    values and labels each unique. Others take none."""
    if kind not in ("enumeration", "bool"):
        if raw:
            raise validation(f"Property {name} of type {kind} cannot have options.", context={"propertyName": [name]})
        return []
    if raw is None or raw == []:
        if kind == "bool" or field_type == "booleancheckbox":
            raw = [{"label": "Yes", "value": "true"}, {"label": "No", "value": "false"}]
        else:
            raise validation(f"Enumeration property {name} needs options.", context={"propertyName": [name]})
    if not isinstance(raw, list) or not all(isinstance(o, dict) for o in raw):
        raise validation(f"options of {name} must be a list of objects.", context={"propertyName": [name]})
    options, values, labels = [], set(), set()
    for i, option in enumerate(raw):
        label, value = option.get("label"), option.get("value")
        if not isinstance(label, str) or not label.strip() or not isinstance(value, str) or not value.strip():
            raise validation(f"Option {i} of {name} needs a label and a value.", context={"propertyName": [name]})
        if value in values or label in labels:
            raise validation(f"Options of {name} must have distinct labels and values; {label!r} / {value!r} "
                             "repeats one.", context={"propertyName": [name]})
        values.add(value)
        labels.add(label)
        options.append({"label": label, "value": value,
                        "displayOrder": option["displayOrder"] if isinstance(option.get("displayOrder"), int) else i,
                        "hidden": bool(option.get("hidden", False)),
                        **({"description": option["description"]} if option.get("description") else {})})
    return options
