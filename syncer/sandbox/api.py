"""The endpoints (reference §2): each turns a parsed request into a status and a JSON body.

HTTP, authentication, rate limits and faults are the server's business; this module checks
scopes, because they depend on the object type the path names.
"""

from __future__ import annotations

import base64
import heapq
import json
import re
from dataclasses import dataclass, field
from typing import Callable

from syncer.sandbox import behaviour, search, values
from syncer.sandbox.errors import ApiError, ItemError, missing_scopes, not_found, validation
from syncer.sandbox.portal import ObjectType, Registry
from syncer.sandbox.records import Records, WriteInput
from syncer.sandbox.schemas import SchemaWrites
from syncer.sandbox.store import Store

OBJECTS = "/crm/v3/objects/(?P<type>[^/]+)"
V4_ASSOCIATIONS = "/crm/v4/associations/(?P<type>[^/]+)/(?P<to>[^/]+)"
PROPERTIES = "/crm/v3/properties/(?P<type>[^/]+)"
SCHEMAS = "/crm(?:/v3|-object-schemas/v3)/schemas"
NO_ASSOCIATIONS = "crm.associations.NO_ASSOCIATIONS_FOUND"


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    body: object = None
    raw_size: int = 0
    scopes: frozenset[str] | None = None  # None: every scope

    def arg(self, name: str, default: str | None = None) -> str | None:
        return self.query.get(name, [default])[-1]

    def names(self, name: str) -> list[str]:
        """A list parameter, comma-separated or repeated (§7.2)."""
        return [n for raw in self.query.get(name, []) for n in raw.split(",") if n]

    def flag(self, name: str) -> bool:
        return (self.arg(name) or "false").lower() == "true"


@dataclass
class Response:
    status: int
    body: object = None
    headers: dict[str, str] = field(default_factory=dict)


class Api:
    def __init__(self, registry: Registry, store: Store, records: Records,
                 save_definitions: Callable[[], None]) -> None:
        self.registry = registry
        self.store = store
        self.records = records
        self.save_definitions = save_definitions
        self.definitions = d = SchemaWrites(registry, store, save_definitions, Response)
        self.routes = [
            ("POST", OBJECTS + "/search", self.search, "read", True),
            ("POST", OBJECTS + "/batch/read", self.batch_read, "read", False),
            ("POST", OBJECTS + "/batch/create", self.batch_create, "write", False),
            ("POST", OBJECTS + "/batch/update", self.batch_update, "write", False),
            ("POST", OBJECTS + "/batch/upsert", self.batch_upsert, "write", False),
            ("POST", OBJECTS + "/batch/archive", self.batch_archive, "write", False),
            ("PUT", OBJECTS + "/(?P<id>[^/]+)/associations/(?P<to>[^/]+)/(?P<to_id>[^/]+)/(?P<kind>[^/]+)",
             self.associate, "write", False),
            ("DELETE", OBJECTS + "/(?P<id>[^/]+)/associations/(?P<to>[^/]+)/(?P<to_id>[^/]+)/(?P<kind>[^/]+)",
             self.dissociate, "write", False),
            ("GET", OBJECTS + "/(?P<id>[^/]+)/associations/(?P<to>[^/]+)", self.list_associations, "read", False),
            ("GET", OBJECTS, self.list_records, "read", False),
            ("POST", OBJECTS, self.create, "write", False),
            ("GET", OBJECTS + "/(?P<id>[^/]+)", self.get, "read", False),
            ("PATCH", OBJECTS + "/(?P<id>[^/]+)", self.patch, "write", False),
            ("DELETE", OBJECTS + "/(?P<id>[^/]+)", self.delete, "write", False),
            # Definitions: schemas, properties, groups and labels are written by schemas.py.
            ("GET", PROPERTIES, d.list_properties, "schema-read", False),
            ("POST", PROPERTIES, d.create_property, "schema-write", False),
            ("POST", PROPERTIES + "/batch/create", d.batch_create_properties, "schema-write", False),
            ("POST", PROPERTIES + "/batch/read", d.batch_read_properties, "schema-read", False),
            ("POST", PROPERTIES + "/batch/archive", d.batch_archive_properties, "schema-write", False),
            ("GET", PROPERTIES + "/groups", d.list_groups, "schema-read", False),
            ("POST", PROPERTIES + "/groups", d.create_group, "schema-write", False),
            ("GET", PROPERTIES + "/groups/(?P<group>[^/]+)", d.get_group, "schema-read", False),
            ("PATCH", PROPERTIES + "/groups/(?P<group>[^/]+)", d.update_group, "schema-write", False),
            ("DELETE", PROPERTIES + "/groups/(?P<group>[^/]+)", d.archive_group, "schema-write", False),
            ("GET", PROPERTIES + "/(?P<name>[^/]+)", self.get_property, "schema-read", False),
            ("PATCH", PROPERTIES + "/(?P<name>[^/]+)", d.update_property, "schema-write", False),
            ("DELETE", PROPERTIES + "/(?P<name>[^/]+)", d.archive_property, "schema-write", False),
            ("GET", SCHEMAS, d.list_schemas, "schema-read", False),
            ("POST", SCHEMAS, d.create_schema, "schema-write", False),
            ("GET", SCHEMAS + "/(?P<type>[^/]+)", self.schema, "schema-read", False),
            ("PATCH", SCHEMAS + "/(?P<type>[^/]+)", d.update_schema, "schema-write", False),
            ("POST", SCHEMAS + "/(?P<type>[^/]+)/associations", d.create_association_definition, "schema-write",
             False),
            ("GET", V4_ASSOCIATIONS + "/labels", self.labels, "read", False),
            ("POST", V4_ASSOCIATIONS + "/labels", d.create_label, "write", False),
            ("PUT", V4_ASSOCIATIONS + "/labels", d.update_label, "write", False),
            ("DELETE", V4_ASSOCIATIONS + "/labels/(?P<type_id>[^/]+)", d.delete_label, "write", False),
            ("POST", "/oauth/v2/private-apps/get/access-token-info", d.token_info, "oauth", False),
            ("POST", V4_ASSOCIATIONS + "/batch/read", self.association_batch_read, "read", False),
            ("POST", V4_ASSOCIATIONS + "/batch/create", self.association_batch_create, "write", False),
            ("POST", V4_ASSOCIATIONS + "/batch/archive", self.association_batch_archive, "write", False),
            ("POST", V4_ASSOCIATIONS + "/batch/labels/archive", self.association_batch_archive_labels, "write",
             False),
            ("GET", "/account-info/(?:v3|2026-03)/details", self.account_details, "oauth", False),
        ]
        self.routes = [(m, re.compile(p + "$"), h, a, s) for m, p, h, a, s in self.routes]

    # --- dispatch ----------------------------------------------------------------------------

    def route(self, method: str, path: str):
        """(handler, access, is_search, path params), or raise 404/405."""
        allowed = False
        for m, pattern, handler, access, is_search in self.routes:
            match = pattern.match(path)
            if match:
                allowed = True
                if m == method:
                    return handler, access, is_search, match.groupdict()
        if allowed:
            raise ApiError(405, "VALIDATION_ERROR", f"Method {method} is not supported on {path}.")
        raise ApiError(404, "OBJECT_NOT_FOUND", f"No endpoint {method} {path}.")

    def is_search(self, method: str, path: str) -> bool:
        try:
            return self.route(method, path)[2]
        except ApiError:
            return False

    def handle(self, request: Request) -> Response:
        handler, access, _, params = self.route(request.method, request.path)
        with self.store.transaction():  # also guards the registry, which schema and property creation change
            object_type = self.registry.resolve(params["type"]) if "type" in params else None
            self.check_scopes(request, object_type, access)
            return handler(request, object_type, **{k: v for k, v in params.items() if k != "type"})

    def check_scopes(self, request: Request, object_type: ObjectType | None, access: str) -> None:
        if request.scopes is None or access == "oauth":  # every token has the oauth scope
            return
        family = object_type.scope if object_type else "custom"
        if access == "read":
            needed = [f"crm.objects.{family}.read", f"crm.objects.{family}.write"]
        elif access == "write":
            needed = [f"crm.objects.{family}.write"]
        elif access == "schema-read":
            needed = [f"crm.schemas.{family}.read", f"crm.objects.{family}.read", f"crm.schemas.{family}.write"]
        else:
            needed = [f"crm.schemas.{family}.write"]
        if not request.scopes.intersection(needed):
            raise missing_scopes(needed)

    # --- helpers -----------------------------------------------------------------------------

    @staticmethod
    def body(request: Request) -> dict:
        if not isinstance(request.body, dict):
            raise validation("Invalid input JSON: the request body must be a JSON object.")
        return request.body

    def inputs(self, request: Request, history: bool = False, limit: int | None = None) -> list | None:
        """The batch `inputs`, or None for a body without them (a silent no-op, §4.1)."""
        body = self.body(request)
        inputs = body.get("inputs")
        if inputs is None:
            return None
        if not isinstance(inputs, list) or not all(isinstance(i, dict) for i in inputs):
            raise validation("inputs must be a list of objects.")
        limit = behaviour.BATCH_MAX_INPUTS_WITH_HISTORY if history else limit or behaviour.BATCH_MAX_INPUTS
        if len(inputs) > limit:
            if history:
                raise validation("The maximum number of inputs supported in a batch request for property "
                                 "histories is 50. Please reduce the number of items and try again")
            raise validation(f"Batch input size of {len(inputs)} exceeds the limit of {limit} inputs.",
                             context={"maxInputs": [str(limit)]})
        return inputs

    def now_iso(self) -> str:
        """The portal's time (its clock, which a test may move on), as HubSpot writes instants."""
        return values.iso_ms(self.store.clock.now())

    def batch_response(self, status: int, results: list, errors: list[ItemError], started: str) -> Response:
        body = {"status": "COMPLETE", "results": results, "startedAt": started, "completedAt": self.now_iso()}
        if errors:
            body["numErrors"] = len(errors)
            body["errors"] = [e.body() for e in errors]
            status = 207
        return Response(status, body)

    @staticmethod
    def reject_duplicates(keys: list[str]) -> None:
        seen, duplicates = set(), []
        for key in keys:
            if key in seen and key not in duplicates:
                duplicates.append(key)
            seen.add(key)
        if duplicates:
            raise validation(f"Duplicate IDs found in batch input: [{', '.join(duplicates)}]. IDs must be unique",
                             context={"ids": duplicates})

    def not_found_error(self, object_type: ObjectType, ids: list[str], traces: list[str], verb: str) -> ItemError:
        context = {"ids": ids}
        if traces:
            context["objectWriteTraceId"] = traces
        return ItemError("OBJECT_NOT_FOUND",
                         f"Could not {verb} some {object_type.error_word} objects, they may be deleted or "
                         "not exist. Check that ids are valid.", context, status=404)

    def per_item(self, inputs: list[dict], id_property: str | None = None, *, create: bool = False) -> bool:
        """Whether failures become 207 items rather than failing the whole call (§14); an update or
        upsert under Variants.batch_errors "whole" fails whole even with trace ids."""
        if id_property == "email" and not behaviour.PARTIAL_UPSERT_BY_EMAIL:
            return False
        if not create and self.records.variants.batch_errors == "whole":
            return False
        return not behaviour.PER_ITEM_ERRORS_NEED_TRACE_IDS or all(
            i.get("objectWriteTraceId") not in (None, "") for i in inputs)

    def write(self, object_type: ObjectType, items: list[WriteInput], per_item: bool,
              extra_errors: list[ItemError] = ()) -> tuple[list, list[ItemError]]:
        """Validate, then fail whole or apply the valid items; (rendered results, item errors)."""
        self.records.prepare(object_type, items)
        bad = [i for i in items if i.error is not None]
        if bad and not per_item:
            raise self.records.whole_call_error(items)
        good = [i for i in items if i.error is None]
        records = self.records.apply(object_type, good)
        results = []
        for item, record in zip(good, records):
            rendered = self.records.render(object_type, record, everything=True)
            if item.trace_id is not None and behaviour.ECHO_TRACE_ID:
                rendered["objectWriteTraceId"] = str(item.trace_id)
            results.append((item, rendered))
        return results, [i.error for i in bad] + list(extra_errors)

    # --- objects -----------------------------------------------------------------------------

    def list_records(self, request: Request, object_type: ObjectType) -> Response:
        history = request.names("propertiesWithHistory")
        cap = behaviour.BATCH_MAX_INPUTS_WITH_HISTORY if history else behaviour.LIST_MAX_LIMIT
        limit = min(self._int(request.arg("limit"), behaviour.LIST_DEFAULT_LIMIT, "limit"), cap)
        after = self._int(request.arg("after"), 0, "after")
        rows = list(self.store.select("type = ? AND archived = ? AND id >= ?",
                                      (object_type.object_type_id, int(request.flag("archived")), after),
                                      "id", limit + 1))
        results = [self.records.render(object_type, r, properties=request.names("properties"), history=history,
                                       associations=request.names("associations")) for r in rows[:limit]]
        body: dict = {"results": results}
        if len(rows) > limit:
            next_id = str(rows[limit].id)
            body["paging"] = {"next": {"after": next_id, "link": (
                f"https://api.hubapi.com/crm/v3/objects/{object_type.object_type_id}?limit={limit}&after={next_id}")}}
        return Response(200, body)

    @staticmethod
    def _int(raw: str | None, default: int, name: str) -> int:
        if raw in (None, ""):
            return default
        try:
            return int(raw)
        except ValueError:
            raise validation(f"{name} must be an integer; got {raw!r}.") from None

    def get(self, request: Request, object_type: ObjectType, id: str) -> Response:
        id_property = self.records.id_property(object_type, request.arg("idProperty"))
        record = self.records.find(object_type, [id], id_property, request.flag("archived")).get(id)
        if record is None:
            raise not_found(id)
        return Response(200, self.records.render(
            object_type, record, properties=request.names("properties"),
            history=request.names("propertiesWithHistory"), associations=request.names("associations")))

    def create(self, request: Request, object_type: ObjectType) -> Response:
        body = self.body(request)
        item = WriteInput(body.get("properties") or {}, associations=body.get("associations") or [])
        results, _ = self.write(object_type, [item], per_item=False)
        return Response(201, results[0][1])

    def patch(self, request: Request, object_type: ObjectType, id: str) -> Response:
        body = self.body(request)
        id_property = self.records.id_property(object_type, request.arg("idProperty"))
        record = self.records.find(object_type, [id], id_property).get(id)
        if record is None:
            raise not_found(id)
        results, _ = self.write(object_type, [WriteInput(body.get("properties") or {}, record=record)],
                                per_item=False)
        return Response(200, results[0][1])

    def delete(self, request: Request, object_type: ObjectType, id: str) -> Response:
        record = self.records.find(object_type, [id], None).get(id)
        if record is not None:
            self.records.archive(object_type, [record])
        return Response(204)

    def batch_read(self, request: Request, object_type: ObjectType) -> Response:
        started = self.now_iso()
        body = self.body(request)
        history = body.get("propertiesWithHistory") or []
        inputs = self.inputs(request, history=bool(history))
        if inputs is None:
            return self.batch_response(200, [], [], started)
        id_property = self.records.id_property(object_type, body.get("idProperty"))
        keys = list(dict.fromkeys(str(i.get("id")) for i in inputs))
        found = self.records.find(object_type, keys, id_property, request.flag("archived"))
        also = (id_property,) if id_property and behaviour.BATCH_READ_RETURNS_ID_PROPERTY else ()
        unique_records = {r.id: r for r in found.values()}
        results = [self.records.render(object_type, r, properties=body.get("properties") or [],
                                       history=history, also=also) for r in unique_records.values()]
        missing = [k for k in keys if k not in found]
        errors = [self.not_found_error(object_type, missing, [], "get")] if missing else []
        return self.batch_response(200, self.records.in_any_order(results), errors, started)

    def batch_create(self, request: Request, object_type: ObjectType) -> Response:
        started = self.now_iso()
        inputs = self.inputs(request)
        if inputs is None:
            return self.batch_response(200, [], [], started)
        items = [WriteInput(i.get("properties") or {}, i.get("objectWriteTraceId"),
                            associations=i.get("associations") or []) for i in inputs]
        results, errors = self.write(object_type, items, self.per_item(inputs, create=True))
        return self.batch_response(201, self.records.in_any_order([r for _, r in results]), errors, started)

    def batch_update(self, request: Request, object_type: ObjectType) -> Response:
        started = self.now_iso()
        inputs = self.inputs(request)
        if inputs is None:
            return self.batch_response(200, [], [], started)
        keys = [str(i.get("id")) for i in inputs]
        id_properties = {i.get("idProperty") for i in inputs}
        if len(id_properties) > 1:
            raise validation("All inputs of a batch update must use the same idProperty.")
        id_property = self.records.id_property(object_type, id_properties.pop(), writing=True)
        self.reject_duplicates([self.records.unique_key(object_type, id_property, k) or k for k in keys]
                               if id_property else keys)
        found = self.records.find(object_type, keys, id_property)
        items, missing, traces = [], [], []
        for key, raw in zip(keys, inputs):
            if key in found:
                items.append(WriteInput(raw.get("properties") or {}, raw.get("objectWriteTraceId"), found[key], key=key))
            else:
                missing.append(key)
                if raw.get("objectWriteTraceId") is not None:
                    traces.append(str(raw["objectWriteTraceId"]))
        extra = [self.not_found_error(object_type, missing, traces, "update")] if missing else []
        results, errors = self.write(object_type, items, self.per_item(inputs), extra)
        return self.batch_response(200, self.records.in_any_order([r for _, r in results]), errors, started)

    def batch_upsert(self, request: Request, object_type: ObjectType) -> Response:
        started = self.now_iso()
        inputs = self.inputs(request)
        if inputs is None:
            return self.batch_response(200, [], [], started)
        names = {i.get("idProperty") for i in inputs}
        if len(names) != 1 or None in names:
            raise validation("Every upsert input needs the same idProperty.")
        id_property = self.records.id_property(object_type, names.pop(), writing=True)
        if id_property is None:
            raise validation(f"Unable to perform update/upsert by non-unique {object_type.object_type_id} "
                             f"property {object_type.id_name} in portal ID {self.registry.portal_id}")
        keys = [str(i.get("id")) for i in inputs]
        stored = [self.records.unique_key(object_type, id_property, k) or k for k in keys]
        self.reject_duplicates(stored)
        found = self.records.find(object_type, keys, id_property)
        items = []
        for key, raw in zip(keys, inputs):
            properties = dict(raw.get("properties") or {})
            properties[id_property] = key
            items.append(WriteInput(properties, raw.get("objectWriteTraceId"), found.get(key), key=key))
        results, errors = self.write(object_type, items, self.per_item(inputs, id_property))
        upserted = [dict(rendered, new=item.key not in found) for item, rendered in results]
        return self.batch_response(200, self.records.in_any_order(upserted), errors, started)

    def batch_archive(self, request: Request, object_type: ObjectType) -> Response:
        inputs = self.inputs(request) or []
        found = self.records.find(object_type, [str(i.get("id")) for i in inputs], None)
        self.records.archive(object_type, list({r.id: r for r in found.values()}.values()))
        return Response(204)

    def search(self, request: Request, object_type: ObjectType) -> Response:
        query = search.parse(object_type, self.body(request), request.raw_size)
        base = "type = ? AND archived = 0"
        narrowing, params = search.sql_narrowing(query)
        where, params = base + narrowing, (object_type.object_type_id, *params)
        sort_column = object_type.system_column(query.sort_name) if query.sort_name else "id"
        behind = self.records.index.behind(object_type.object_type_id)  # writes search cannot see yet
        if search.fully_in_sql(query) and sort_column and not behind:
            order = f"{sort_column} {'DESC' if query.descending else 'ASC'}, id"
            total = self.store.count(where, params)
            page = list(self.store.select(where, params, order, query.limit, query.after))
        else:
            indexed = self._as_indexed(self.store.select(where, params, "id"), behind)
            ids = search.ranked_ids(object_type, indexed, query, self.records.value)
            total, wanted = len(ids), ids[query.after:query.after + query.limit]
            found = self.store.get(object_type.object_type_id, wanted)
            if len(found) < len(wanted):  # archived since the index last saw them: returned as they are
                found |= self.store.get(object_type.object_type_id, [i for i in wanted if i not in found], True)
            page = [found[i] for i in wanted]
        body: dict = {"total": total, "results": [
            self.records.render(object_type, r, properties=query.properties) for r in page]}
        if query.after + len(page) < min(total, behaviour.SEARCH_MAX_RESULTS) and page:
            body["paging"] = {"next": {"after": str(query.after + len(page))}}
        return Response(200, body)

    @staticmethod
    def _as_indexed(stored, behind: dict):
        """The records in id order as the search index holds them: the stored ones, except that a
        record with a write still on its way to the index is its indexed version (left out when
        the index has none of it yet, or has it archived). The SQL narrowing of `stored` applies
        to current values, so indexed versions join unnarrowed; search.matches checks every filter."""
        current = (r for r in stored if r.id not in behind)
        older = sorted((r for r in behind.values() if r is not None and not r.archived), key=lambda r: r.id)
        return heapq.merge(current, older, key=lambda r: r.id)

    # --- associations ------------------------------------------------------------------------

    def _association(self, object_type: ObjectType, id: str, to: str, to_id: str, kind: str):
        to_type = self.registry.resolve(to)
        record = self.records.find(object_type, [id], None).get(id)
        if record is None:
            raise not_found(id)
        target = self.records.find(to_type, [to_id], None).get(to_id)
        if target is None:
            raise not_found(to_id)
        association = self.registry.association_type(object_type.object_type_id, kind, to_type.object_type_id)
        if association is None:
            raise validation(f"{kind} is not a valid association type from {object_type.object_type_id} "
                             f"to {to_type.object_type_id}.", context={"associationType": [kind]})
        return to_type, record, target, association

    def associate(self, request: Request, object_type: ObjectType, id, to, to_id, kind) -> Response:
        to_type, record, target, association = self._association(object_type, id, to, to_id, kind)
        self.records.associate([(record.id, association.type_id, target.id)])
        return Response(200, self.records.render(object_type, record, associations=[to_type.object_type_id]))

    def dissociate(self, request: Request, object_type: ObjectType, id, to, to_id, kind) -> Response:
        _, record, target, association = self._association(object_type, id, to, to_id, kind)
        self.records.dissociate([(record.id, association.type_id, target.id)])
        return Response(204)

    def list_associations(self, request: Request, object_type: ObjectType, id: str, to: str) -> Response:
        """The v3 listing of one record's associations to one object type (no paging: all of them)."""
        to_type = self.registry.resolve(to)
        record = self.records.find(object_type, [id], None).get(id)
        if record is None:
            raise not_found(id)
        linked = self.records.render_associations(object_type, record, [to_type.object_type_id])
        return Response(200, {"results": linked.get(to_type.fully_qualified_name, {}).get("results", [])})

    def labels(self, request: Request, object_type: ObjectType, to: str) -> Response:
        to_type = self.registry.resolve(to)
        kinds = self.registry.association_labels(object_type.object_type_id, to_type.object_type_id)
        return Response(200, {"results": [k.spec() for k in kinds]})

    # --- v4 batch associations (hubspot_crm_crm_associations.oas.json) --------------------------

    def association_batch_read(self, request: Request, object_type: ObjectType, to: str) -> Response:
        """Each from-record's associated records of `to`, a page of them per input (`after` for more)."""
        started = self.now_iso()
        inputs = self.inputs(request, limit=behaviour.V4_ASSOCIATION_READ_MAX_INPUTS)
        if inputs is None:
            return self.batch_response(200, [], [], started)
        to_type = self.registry.resolve(to)
        kinds = {a.type_id: a for a in self.registry.association_labels(object_type.object_type_id,
                                                                          to_type.object_type_id)}
        offsets: dict[str, int] = {}
        for raw in inputs:
            offsets.setdefault(str(raw.get("id")), _page_offset(raw.get("after")))
        existing = self.records.find(object_type, list(offsets), None)
        linked = self.store.associations_from([r.id for r in existing.values()], kinds)
        results, errors, size = [], [], behaviour.V4_ASSOCIATIONS_PAGE_SIZE
        unlinked = []
        for key, offset in offsets.items():
            record = existing.get(key)
            targets: dict[int, list[int]] = {}
            for to_id, type_id in linked.get(record.id if record else None, []):
                targets.setdefault(to_id, []).append(type_id)
            if not targets:
                unlinked.append(key)
                continue
            page = list(targets.items())[offset:offset + size]
            result = {"from": {"id": str(record.id)}, "to": [
                {"toObjectId": to_id, "associationTypes": [kinds[t].spec() for t in type_ids]}
                for to_id, type_ids in page]}
            if offset + size < len(targets):
                result["paging"] = {"next": {"after": _page_cursor(offset + size)}}
            results.append(result)
        shape = self.records.variants.no_associations
        if shape == "empty":
            results += [{"from": {"id": key}, "to": []} for key in unlinked]
        elif shape == "aggregated" and unlinked:
            errors.append(self._none_of_them_associated(object_type, to_type, unlinked))
        else:
            errors += [self._no_associations(object_type, to_type, key) for key in unlinked]
        return self.batch_response(200, self.records.in_any_order(results), errors, started)

    @staticmethod
    def _no_associations(object_type: ObjectType, to_type: ObjectType, key: str) -> ItemError:
        """What HubSpot answers for a from-id without associations, and for one without a record."""
        from_word, to_word = object_type.singular.lower(), to_type.singular.lower()
        return ItemError("OBJECT_NOT_FOUND", f"No {to_word} is associated with {from_word} {key}.",
                         {"fromObjectId": [key], "fromObjectType": [from_word], "toObjectType": [to_word]},
                         status=404, sub_category=NO_ASSOCIATIONS)

    @staticmethod
    def _none_of_them_associated(object_type: ObjectType, to_type: ObjectType, keys: list[str]) -> ItemError:
        """Variants.no_associations "aggregated": one item for every id without associations."""
        return ItemError("OBJECT_NOT_FOUND", f"Could not get associations to {to_type.error_word or to_type.name.upper()} "
                         f"for some {object_type.error_word or object_type.name.upper()} objects, they may have "
                         "none, be deleted or not exist.", {"ids": keys}, status=404)

    def association_batch_create(self, request: Request, object_type: ObjectType, to: str) -> Response:
        """Link pairs of records; an input naming a missing record or a wrong type is a 207 item."""
        started = self.now_iso()
        inputs = self.inputs(request)
        if inputs is None:
            return self.batch_response(200, [], [], started)
        to_type = self.registry.resolve(to)
        from_found = self.records.find(object_type, [_ref(i.get("from")) for i in inputs], None)
        to_found = self.records.find(to_type, [_ref(i.get("to")) for i in inputs], None)
        links, results, errors = [], [], []
        for raw in inputs:
            from_key, to_key = _ref(raw.get("from")), _ref(raw.get("to"))
            context = {"fromObjectId": [from_key], "toObjectId": [to_key]}
            kinds, error = self._link_kinds(object_type, to_type, raw.get("types"), context)
            for key, found, kind_of in ((from_key, from_found, object_type), (to_key, to_found, to_type)):
                if error is None and key not in found:
                    error = ItemError("OBJECT_NOT_FOUND", f"Could not find {kind_of.error_word} {key}; it may be "
                                      "deleted or not exist. Check that ids are valid.", context, status=404)
            if error is not None:
                errors.append(error)
                continue
            from_id, to_id = from_found[from_key].id, to_found[to_key].id
            links += [(from_id, kind.type_id, to_id) for kind in kinds]
            results.append({"fromObjectTypeId": object_type.object_type_id, "fromObjectId": from_id,
                            "toObjectTypeId": to_type.object_type_id, "toObjectId": to_id,
                            "labels": [kind.label for kind in kinds if kind.label]})
        self.records.associate(links)
        return self.batch_response(201, self.records.in_any_order(results), errors, started)

    def _link_kinds(self, object_type: ObjectType, to_type: ObjectType, types, context: dict):
        """The association types an input names, or the item error that says why they are not valid."""
        if not isinstance(types, list) or not types:
            return [], ItemError("VALIDATION_ERROR", "types must list at least one association type.", context)
        kinds = []
        for spec in types:
            spec = spec if isinstance(spec, dict) else {}
            type_id = spec.get("associationTypeId")
            kind = self.registry.association_type(object_type.object_type_id, str(type_id),
                                                  to_type.object_type_id) if str(type_id).isdigit() else None
            if kind is None or (
                    behaviour.V4_CATEGORY_MUST_MATCH and spec.get("associationCategory") != kind.category):
                category = f" in category {spec.get('associationCategory')}" if kind else ""
                return [], ItemError(
                    "VALIDATION_ERROR", f"{type_id} is not a valid association type id{category} from "
                    f"{object_type.object_type_id} to {to_type.object_type_id}.",
                    {**context, "associationTypeId": [str(type_id)]})
            kinds.append(kind)
        return kinds, None

    def association_batch_archive(self, request: Request, object_type: ObjectType, to: str) -> Response:
        """Remove every association type between each pair (both directions); 204 whatever the ids."""
        to_type = self.registry.resolve(to)
        kinds = self.registry.association_labels(object_type.object_type_id, to_type.object_type_id)
        links = []
        for raw in self.inputs(request) or []:
            targets = raw.get("to")
            if not isinstance(targets, list):
                raise validation("Each input needs `to`: a list of {\"id\": ...} objects.")
            from_key = _ref(raw.get("from"))
            links += [(int(from_key), kind.type_id, int(to_key)) for to_key in map(_ref, targets)
                      for kind in kinds if from_key.isdigit() and to_key.isdigit()]
        self.records.dissociate(links)
        return Response(204)

    def association_batch_archive_labels(self, request: Request, object_type: ObjectType, to: str) -> Response:
        """Remove the named types between each pair; naming the unlabeled type removes them all."""
        to_type = self.registry.resolve(to)
        every = self.registry.association_labels(object_type.object_type_id, to_type.object_type_id)
        links = []
        for raw in self.inputs(request) or []:
            from_key, to_key = _ref(raw.get("from")), _ref(raw.get("to"))
            if not (from_key.isdigit() and to_key.isdigit()):
                continue
            named = [self.registry.association_type(object_type.object_type_id,
                                                    str((spec or {}).get("associationTypeId")),
                                                    to_type.object_type_id) for spec in raw.get("types") or []]
            kinds = every if any(k is not None and k.label is None for k in named) else filter(None, named)
            links += [(int(from_key), kind.type_id, int(to_key)) for kind in kinds]
        self.records.dissociate(links)
        return Response(204)

    # --- properties and schemas --------------------------------------------------------------

    def get_property(self, request: Request, object_type: ObjectType, name: str) -> Response:
        if name not in object_type.properties:
            raise ApiError(404, "OBJECT_NOT_FOUND", f"Unable to find property {name} on {object_type.object_type_id}.")
        return Response(200, object_type.properties[name])

    def schema(self, request: Request, object_type: ObjectType) -> Response:
        return Response(200, object_type.schema(self.registry.definitions(object_type)))

    # --- the account -------------------------------------------------------------------------

    def account_details(self, request: Request, object_type: None) -> Response:
        """The account's settings (account-info API): a developer test account on UTC, in dollars."""
        return Response(200, {
            "portalId": self.registry.portal_id, "accountType": "DEVELOPER_TEST", "timeZone": "UTC",
            "companyCurrency": "USD", "additionalCurrencies": [], "utcOffset": "+00:00",
            "utcOffsetMilliseconds": 0, "uiDomain": "app.hubspot.com", "dataHostingLocation": "na1"})


def _ref(value) -> str:
    """The id of a PublicObjectId (`{"id": ...}`; numbers accepted, §3.2), or "" when there is none."""
    return str(value.get("id", "")) if isinstance(value, dict) else ""


def _page_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset-{offset}".encode()).decode()


def _page_offset(after) -> int:
    """The offset an `after` cursor of association paging stands for (opaque to clients)."""
    if after in (None, ""):
        return 0
    try:
        return int(base64.urlsafe_b64decode(str(after).encode()).decode().removeprefix("offset-"))
    except ValueError:
        raise validation(f"after {after!r} is not a paging cursor this API returned.") from None


def encode(body) -> bytes:
    return json.dumps(body, separators=(",", ":")).encode()
