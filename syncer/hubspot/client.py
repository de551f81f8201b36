"""HubSpotClient: every call syncer makes to a portal, in HubSpot's words, returning Python values."""

from __future__ import annotations

import concurrent.futures as cf
import logging
import math
import re
import threading
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator, Sequence
from urllib.parse import quote

from syncer.hubspot import batches, errors, search as searching
from syncer.hubspot.definitions import DefinitionCall
from syncer.hubspot.errors import (Disposition, HubSpotError, IncompleteResponseError, NotFoundError,
                                   UnknownAssociationTypeError, UnknownObjectTypeError)
from syncer.hubspot.limiter import RateLimiter
from syncer.hubspot.models import (Association, AssociationType, BatchDone, BatchOutcome, ObjectType, RateLimit,
                                   Record)
from syncer.hubspot.transport import RetryPolicy, Transport
from syncer.hubspot.urls import check_base_url
from syncer.talk import closest

log = logging.getLogger("syncer.hubspot")

OBJECTS = "/crm/v3/objects"
ASSOCIATIONS = "/crm/v4/associations"
# Standard objects, for portals whose schemas API lists custom objects only (HubSpot's does).
STANDARD_TYPES = {
    "contacts": ("0-1", "Contact", "Contacts"),
    "companies": ("0-2", "Company", "Companies"),
    "deals": ("0-3", "Deal", "Deals"),
    "tickets": ("0-5", "Ticket", "Tickets"),
}


@dataclass(frozen=True)
class PortalInfo:
    """What `syncer info` shows: where the client points, its rate-limit tier, what it can see."""

    base_url: str
    portal_id: str | None
    rate_limit: RateLimit | None
    object_types: list[ObjectType]

ACCOUNT_DETAILS = "/account-info/v3/details"
TOKEN_INFO = "/oauth/v2/private-apps/get/access-token-info"
_OBJECT_TYPE_ID = re.compile(r"\d+-\d+")  # 0-1 (contacts), 2-3465404 (a custom object)


class HubSpotClient:
    """The one object that talks to a portal. Thread-safe; use as a context manager or call close().

    Batch calls split inputs into chunks of 100 and send them through a bounded pool of workers,
    all under one rate limiter sized from the portal's X-HubSpot-RateLimit-* headers (and from
    `default_rate_limit`, (requests, per milliseconds), until the first response says otherwise).
    `on_event` receives RequestSent, Retrying and BatchDone events, from the sending thread.
    """

    def __init__(self, base_url: str, token: str, *, timeout: float | tuple[float, float] = (3.05, 90),
                 max_workers: int | None = None, default_rate_limit: tuple[int, int] = (100, 10_000),
                 search_rate_limit: tuple[int, int] = (5, 1_000), max_attempts: int = 6,
                 max_retry_time: float = 120.0, backoff_base: float = 0.5,
                 on_event: Callable[[object], None] | None = None, embedded_sandbox: bool = False) -> None:
        self.base_url = check_base_url(base_url)
        self.embedded_sandbox = embedded_sandbox  # the CLI's own sandbox portal, which `portal: sandbox` names
        workers = max_workers or _workers_for(default_rate_limit)
        self._limiter = RateLimiter(default_rate_limit, search_rate_limit)
        self._transport = Transport(
            self.base_url, token, timeout=timeout, pool_size=workers, limiter=self._limiter,
            retry=RetryPolicy(max_attempts, max_retry_time, backoff_base), on_event=on_event)
        self._pool = cf.ThreadPoolExecutor(workers, thread_name_prefix="syncer-hubspot")
        self._schemas: list[ObjectType] | None = None
        self._types: dict[str, ObjectType] = {}
        self._labels: dict[tuple[str, str], list[dict]] = {}
        self._hub_id: str | None = None
        self._asked_hub_id = False
        self._lock = threading.Lock()
        self.on_event = on_event

    def __repr__(self) -> str:
        return f"HubSpotClient(base_url={self.base_url!r}, token='***')"

    def __enter__(self) -> HubSpotClient:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._transport.close()

    @property
    def calls(self) -> int:
        """HTTP requests sent so far, retries included."""
        return self._transport.calls

    @property
    def rate_limit(self) -> RateLimit | None:
        """The limits the portal's headers last reported; None until a response carried them."""
        return self._limiter.rate_limit

    # --- object types and properties --------------------------------------------------------------

    def object_type(self, wanted: str | ObjectType) -> ObjectType:
        """The object type named by `wanted`: its name, a label, its fully qualified name or objectTypeId."""
        if isinstance(wanted, ObjectType):
            return wanted
        with self._lock:
            if wanted in self._types:
                return self._types[wanted]
        found = self._find_type(wanted)
        with self._lock:
            self._types[wanted] = found
        return found

    def object_types(self) -> list[ObjectType]:
        """Every custom object type the schemas API lists (cached for the client's life)."""
        if self._schemas is None:
            body = self._get("/crm/v3/schemas")
            self._schemas = [self._seen(ObjectType.from_schema(schema)) for schema in body.get("results") or []]
        return list(self._schemas)

    def _find_type(self, wanted: str) -> ObjectType:
        # Standard objects first: they need no call, and no schemas scope on the token.
        for name, (type_id, singular, plural) in STANDARD_TYPES.items():
            standard = ObjectType(type_id, name, name, {"singular": singular, "plural": plural})
            if standard.answers_to(wanted):
                return standard
        for candidate in self.object_types():
            if candidate.answers_to(wanted):
                return candidate
        try:
            return self._seen(ObjectType.from_schema(self._get(f"/crm/v3/schemas/{_segment(wanted)}")))
        except NotFoundError:
            raise self._unknown_type(wanted) from None

    def _unknown_type(self, wanted: str) -> UnknownObjectTypeError:
        try:
            known = self.object_types()
        except HubSpotError:  # a token without the schemas scope still gets the standard types
            known = []
        return UnknownObjectTypeError(_no_such_type(wanted, known), category="OBJECT_NOT_FOUND")

    def properties(self, object_type: str | ObjectType) -> list[dict]:
        """The object's property definitions, as HubSpot's Property JSON, unchanged.
        UnknownObjectTypeError (exit 2) when the portal has no such object type."""
        try:
            body = self._get(f"/crm/v3/properties/{self._type_id(object_type)}")
        except NotFoundError:
            raise self._unknown_type(getattr(object_type, "name", object_type)) from None
        return list(body.get("results") or [])

    def _type_id(self, object_type: str | ObjectType) -> str:
        """The objectTypeId a path takes; one given as an objectTypeId is used as it is, since
        resolving it would cost a schemas call (a saved plan names its object so)."""
        if isinstance(object_type, str) and _OBJECT_TYPE_ID.fullmatch(object_type):
            return object_type
        return _segment(self.object_type(object_type).object_type_id)

    # --- reading ----------------------------------------------------------------------------------

    def batch_read(self, object_type: str | ObjectType, keys: Iterable[str], *,
                   id_property: str | None = None, properties: Sequence[str] = (),
                   archived: bool = False) -> dict[str, Record]:
        """Key → record for the keys that exist; keys are idProperty values, or record ids without one.

        Costs ceil(distinct keys / 100) calls, sent concurrently. A key HubSpot neither returned nor
        reported missing raises IncompleteResponseError.
        """
        type_id = self._type_id(object_type)
        wanted = list(dict.fromkeys(str(key) for key in keys))
        wanted_properties = list(dict.fromkeys([*properties, *([id_property] if id_property else [])]))
        read = lambda chunk: self._read_chunk(type_id, chunk, id_property, wanted_properties, archived)
        found: dict[str, Record] = {}
        for part in self._pool.map(read, batches.chunks(wanted)):
            found.update(part)
        self._emit(BatchDone("read", len(wanted), 0))
        return found

    def _read_chunk(self, type_id: str, keys: list[str], id_property: str | None,
                    properties: list[str], archived: bool) -> dict[str, Record]:
        body: dict[str, Any] = {"inputs": [{"id": key} for key in keys], "properties": properties,
                                "propertiesWithHistory": []}
        if id_property:
            body["idProperty"] = id_property
        path = f"{OBJECTS}/{type_id}/batch/read"
        reply = self._transport.request("POST", path, params={"archived": _flag(archived)}, json=body)
        records = [Record.from_json(item) for item in reply.body.get("results") or []]
        found = dict(_match_keys(keys, records, lambda r: r.properties.get(id_property) if id_property else r.id))
        missing: set[str] = set()
        for item in reply.body.get("errors") or []:
            error = errors.from_body(item, request=f"POST {path}")
            if not isinstance(error, NotFoundError):
                raise error
            missing |= {str(key) for key in error.context.get("ids", [])}
        missing |= {key for key, _ in _match_keys(keys, [*missing], str)}
        unaccounted = [key for key in keys if key not in found and key not in missing]
        # A portal that compares unique values without regard to case answers keys that differ
        # only in case with the one record they all name, and reports none of them missing.
        folded = {str(value).casefold(): record for record in records
                  if (value := record.properties.get(id_property) if id_property else record.id) is not None}
        found |= {key: folded[key.casefold()] for key in unaccounted if key.casefold() in folded}
        unaccounted = [key for key in unaccounted if key not in found]
        if unaccounted:
            raise IncompleteResponseError(
                f"{len(unaccounted)} of {len(keys)} keys are in neither results nor errors, "
                f"e.g. {unaccounted[0]!r}", request=f"POST {path}")
        return found

    def list_records(self, object_type: str | ObjectType, *, properties: Sequence[str] = (),
                     archived: bool = False) -> Iterator[Record]:
        """Every record of the object, 100 a page, following HubSpot's paging cursor."""
        path = f"{OBJECTS}/{self._type_id(object_type)}"
        params: dict[str, Any] = {"limit": 100, "archived": _flag(archived)}
        if properties:
            params["properties"] = ",".join(properties)
        while True:
            body = self._get(path, params)
            for item in body.get("results") or []:
                yield Record.from_json(item)
            after = ((body.get("paging") or {}).get("next") or {}).get("after")
            if after is None:
                return
            params["after"] = after

    def search(self, object_type: str | ObjectType, *, filters: Sequence[dict] = (),
               filter_groups: Sequence[Sequence[dict]] = (), sorts: Sequence[str | dict] = (),
               properties: Sequence[str] = (), query: str | None = None) -> Iterator[Record]:
        """Records matching `filters` (AND-ed) or `filter_groups` (OR-ed groups of AND-ed filters).

        Pages past the 10,000-result ceiling by windowing on hs_object_id (the default sort) or
        hs_lastmodifieddate (when sorted ascending on it). `sorts`: "name", "-name" or HubSpot's dicts.
        """
        path = f"{OBJECTS}/{self._type_id(object_type)}/search"
        groups = [list(group) for group in filter_groups] or ([list(filters)] if filters else [])
        post = lambda body: self._transport.request("POST", path, json=body, search=True).body
        return searching.iterate(post, filter_groups=groups, sorts=sorts, properties=properties,
                                 query=query)

    # --- writing ----------------------------------------------------------------------------------

    def batch_create(self, object_type: str | ObjectType, inputs: Sequence[dict]) -> list[BatchOutcome]:
        """Create records; one outcome per input, in input order. Not retried after it may have landed."""
        return self._write("create", object_type, inputs, None)

    def batch_update(self, object_type: str | ObjectType, inputs: Sequence[dict], *,
                     id_property: str | None = None) -> list[BatchOutcome]:
        """Update records by id (or by `id_property` value); one outcome per input, in input order."""
        return self._write("update", object_type, inputs, id_property)

    def batch_upsert(self, object_type: str | ObjectType, inputs: Sequence[dict], *,
                     id_property: str) -> list[BatchOutcome]:
        """Create or update by the unique `id_property` (each input's "id" is its value); Record.new tells which."""
        return self._write("upsert", object_type, inputs, id_property)

    def batch_archive(self, object_type: str | ObjectType, ids: Iterable[str]) -> list[BatchOutcome]:
        """Move records to the recycle bin by record id; one outcome per id, in order."""
        return self._write("archive", object_type, [{"id": i} for i in ids], None)

    def _write(self, operation: str, object_type: str | ObjectType, inputs: Sequence[dict],
               id_property: str | None) -> list[BatchOutcome]:
        path = f"{OBJECTS}/{self._type_id(object_type)}/batch/{operation}"
        ready = [batches.prepare(operation, i, given, id_property) for i, given in enumerate(inputs)]
        run = _BatchRun(self, operation, path, ready)
        results = run.execute(batches.chunks(range(len(ready))))
        self._emit(BatchDone(operation, len(results), sum(not o.ok for o in results)))
        return results

    # --- associations -----------------------------------------------------------------------------

    def association_labels(self, from_type: str | ObjectType, to_type: str | ObjectType) -> list[dict]:
        """The association types between two objects: {category, typeId, label} dicts (label may be None).
        Asked once per pair of objects and kept for the client's life, as object types are: a run
        links in many steps, and each would otherwise ask again."""
        pair = (self._type_id(from_type), self._type_id(to_type))
        with self._lock:
            if pair in self._labels:
                return list(self._labels[pair])
        found = list(self._get(f"/crm/v4/associations/{pair[0]}/{pair[1]}/labels").get("results") or [])
        with self._lock:
            self._labels[pair] = found
        return list(found)

    def associate(self, from_type: str | ObjectType, from_id: str, to_type: str | ObjectType,
                  to_id: str, association_type: int | str) -> None:
        """Link two records; `association_type` is a typeId, or a label association_labels lists."""
        self._transport.request("PUT", self._association_path(from_type, from_id, to_type, to_id,
                                                              association_type))

    def disassociate(self, from_type: str | ObjectType, from_id: str, to_type: str | ObjectType,
                     to_id: str, association_type: int | str) -> None:
        """Remove one link between two records (no error when it did not exist)."""
        self._transport.request("DELETE", self._association_path(from_type, from_id, to_type, to_id,
                                                                 association_type))

    def _association_path(self, from_type, from_id, to_type, to_id, association_type) -> str:
        type_id = self._association_type_id(from_type, to_type, association_type)
        return (f"{OBJECTS}/{self._type_id(from_type)}/{_segment(from_id)}/associations/"
                f"{self._type_id(to_type)}/{_segment(to_id)}/{type_id}")

    def _association_type_id(self, from_type, to_type, association_type: int | str) -> int:
        if isinstance(association_type, int) or str(association_type).isdigit():
            return int(association_type)
        return self.association_spec(from_type, to_type, association_type).type_id

    def association_spec(self, from_type, to_type,
                         association_type: int | str | AssociationType | None) -> AssociationType:
        """The association type named by a typeId or a label, with the category v4 inputs need;
        None names the default one, the type without a label. An AssociationType (typeId and
        category known, as a plan carries them) is used as it is, with no call."""
        if isinstance(association_type, AssociationType):
            return association_type
        kinds = [AssociationType.from_json(spec) for spec in self.association_labels(from_type, to_type)]
        if association_type is None:
            found = [kind for kind in kinds if not kind.label]
            missing = "no unlabeled (default) association type {between}"
        elif isinstance(association_type, int) or str(association_type).isdigit():
            found = [kind for kind in kinds if kind.type_id == int(association_type)]
            known = ", ".join(f"{kind.type_id} ({kind.label or 'unlabeled'})" for kind in kinds) or "none"
            missing = f"no association type {association_type} {{between}}; types defined: {known}"
        else:
            found = [kind for kind in kinds if _label_key(kind.label or "") == _label_key(association_type)]
            known = ", ".join(repr(kind.label) for kind in kinds if kind.label) or "none"
            missing = f"no association label {association_type!r} {{between}}; labels defined: {known}"
        if not found:  # the object names cost a schemas call, so only a refusal asks for them
            between = f"from {self.object_type(from_type).name} to {self.object_type(to_type).name}"
            # a typeId comes from a plan file, maybe mid-run; a label or the default from a mapping
            named_by_id = isinstance(association_type, int) or str(association_type).isdigit()
            raise (NotFoundError if named_by_id else UnknownAssociationTypeError)(
                missing.format(between=between), category="OBJECT_NOT_FOUND")
        return found[0]

    def batch_read_associations(self, from_type: str | ObjectType, to_type: str | ObjectType,
                                ids: Iterable[str]) -> dict[str, list[Association]]:
        """From-record id → its associations to `to_type`, for every id given ([] when it has none).

        Costs ceil(distinct ids / 100) calls, sent concurrently, plus one more per chunk and page when
        a record has more associations than one answer holds. HubSpot answers an id without a record
        as it answers one without associations, so both map to []. An id the answer does not account
        for raises IncompleteResponseError.
        """
        path = f"{ASSOCIATIONS}/{self._type_id(from_type)}/{self._type_id(to_type)}/batch/read"
        wanted = list(dict.fromkeys(str(i) for i in ids))
        found: dict[str, list[Association]] = {}
        for part in self._pool.map(lambda chunk: self._read_associations_chunk(path, chunk),
                                   batches.chunks(wanted)):
            found.update(part)
        self._emit(BatchDone("read associations", len(wanted), 0))
        return {key: found[key] for key in wanted}

    def _read_associations_chunk(self, path: str, ids: list[str]) -> dict[str, list[Association]]:
        linked: dict[str, dict[str, list[AssociationType]]] = {key: {} for key in ids}
        pending = [{"id": key} for key in ids]
        while pending:
            reply = self._transport.request("POST", path, json={"inputs": pending})
            body = reply.body if isinstance(reply.body, dict) else {}
            asked, answered, pending = {i["id"] for i in pending}, set(), []
            for item in body.get("results") or []:
                key = str((item.get("from") or {}).get("id"))
                if key not in asked:
                    continue
                answered.add(key)
                for target in item.get("to") or []:
                    kinds = linked[key].setdefault(str(target["toObjectId"]), [])
                    kinds += [AssociationType.from_json(spec) for spec in target.get("associationTypes") or []]
                after = ((item.get("paging") or {}).get("next") or {}).get("after")
                if after:
                    pending.append({"id": key, "after": after})
            for item in body.get("errors") or []:
                error = errors.from_body(item, request=f"POST {path}")
                if not isinstance(error, NotFoundError):  # no associations (or no record) is not a failure
                    raise error
                answered |= {str(key) for key in error.context.get("fromObjectId") or error.context.get("ids") or []}
            unaccounted = sorted(asked - answered)
            if unaccounted:
                raise IncompleteResponseError(
                    f"{len(unaccounted)} of {len(asked)} ids are in neither results nor errors, "
                    f"e.g. {unaccounted[0]!r}", request=f"POST {path}")
        return {key: [Association(to_id, tuple(kinds)) for to_id, kinds in targets.items()]
                for key, targets in linked.items()}

    def batch_associate(self, from_type: str | ObjectType, to_type: str | ObjectType,
                        pairs: Iterable[tuple[str, str]], association_type: int | str | AssociationType
                        ) -> list[BatchOutcome]:
        """Link each (from_id, to_id) pair with `association_type`, a typeId or a label
        association_labels lists. One outcome per pair, in order; linking a linked pair is no error."""
        pairs = list(pairs)
        if not pairs:
            return []
        kind = self.association_spec(from_type, to_type, association_type)
        types = [{"associationCategory": kind.category, "associationTypeId": kind.type_id}]
        return self._link("associate", "create", from_type, to_type, pairs, types)

    def batch_disassociate(self, from_type: str | ObjectType, to_type: str | ObjectType,
                           pairs: Iterable[tuple[str, str]],
                           association_type: int | str | AssociationType | None = None
                           ) -> list[BatchOutcome]:
        """Unlink each (from_id, to_id) pair: every association type between the two records, or only
        `association_type` (removing the unlabeled type removes them all, as HubSpot does). One outcome
        per pair, in order; HubSpot answers 204 whatever the ids, so a pair that was not linked is ok."""
        pairs = list(pairs)
        if not pairs or association_type is None:
            return self._link("disassociate", "archive", from_type, to_type, pairs, [])
        kind = self.association_spec(from_type, to_type, association_type)
        types = [{"associationCategory": kind.category, "associationTypeId": kind.type_id}]
        return self._link("disassociate", "labels/archive", from_type, to_type, pairs, types)

    def _link(self, operation: str, endpoint: str, from_type, to_type, pairs: list[tuple[str, str]],
              types: list[dict]) -> list[BatchOutcome]:
        path = f"{ASSOCIATIONS}/{self._type_id(from_type)}/{self._type_id(to_type)}/batch/{endpoint}"
        ready = [batches.association_input(operation, from_id, to_id, types) for from_id, to_id in pairs]
        run = _BatchRun(self, operation, path, ready, batches.association_outcomes)
        results = run.execute(batches.chunks(range(len(ready))))
        self._emit(BatchDone(operation, len(results), sum(not o.ok for o in results)))
        return results

    # --- definitions: schemas, properties, property groups, association labels --------------------

    def property_groups(self, object_type: str | ObjectType) -> list[dict]:
        """The object's property groups ({name, label, displayOrder, archived}), as HubSpot lists them."""
        return list(self._get(f"/crm/v3/properties/{self._type_id(object_type)}/groups").get("results") or [])

    def send_definition(self, call: DefinitionCall) -> dict:
        """Send one definition write (a schema, properties, a group, a label: see
        syncer.hubspot.definitions) and return HubSpot's answer (for a batch of properties, with
        its 207 `errors`). A create is not resent once it may have landed. Object types and labels
        this client has cached are forgotten, so the next lookup sees what the call made."""
        reply = self._transport.request(call.method, call.path, json=call.body,
                                        idempotent=call.method in ("PATCH", "PUT"))
        with self._lock:
            if call.kind in ("create_schema", "update_schema"):
                self._schemas = None
                self._types.clear()
            if call.kind == "create_association_label":
                self._labels.clear()
        return reply.body if isinstance(reply.body, dict) else {}

    def token_scopes(self) -> list[str] | None:
        """The scopes the portal says the access token has (HubSpot's private-app
        access-token-info), or None when it does not say (another kind of token or portal)."""
        try:
            body = self._transport.token_info_request(TOKEN_INFO).body
        except errors.NetworkError:
            raise
        except HubSpotError:  # an OAuth token, a portal without the endpoint: it does not say
            return None
        scopes = body.get("scopes") if isinstance(body, dict) else None
        return [str(s) for s in scopes] if isinstance(scopes, list) else None

    # --- the portal -------------------------------------------------------------------------------

    def portal_info(self) -> PortalInfo:
        """Where the client points, the rate-limit tier the headers report, and the object types it sees."""
        types = self.object_types()
        return PortalInfo(self.base_url, self.hub_id(), self.rate_limit, types)

    def hub_id(self) -> str | None:
        """The portal's hub id (HubSpot's portalId), as the portal itself said it in this client's
        life: in a custom object's fully qualified name (p<hub id>_<name>) from a schemas answer, else
        from GET /account-info/v3/details, asked once. None when the portal answers neither."""
        if self._hub_id is None and not self._asked_hub_id:
            try:
                found = self._get(ACCOUNT_DETAILS).get("portalId")
            except (NotFoundError, errors.MissingScopesError):
                found = None
            with self._lock:
                self._asked_hub_id = True  # a portal that would not say is not asked again
                self._hub_id = self._hub_id or (str(found) if isinstance(found, int) and found > 0 else None)
        return self._hub_id

    def _seen(self, object_type: ObjectType) -> ObjectType:
        """Note the hub id a custom object type's fully qualified name carries (p<hub id>_<name>)."""
        if object_type.hub_id and self._hub_id is None:
            with self._lock:
                self._hub_id = object_type.hub_id
        return object_type

    # --- plumbing ---------------------------------------------------------------------------------

    def _get(self, path: str, params: dict | None = None) -> dict:
        return self._transport.request("GET", path, params=params).body or {}

    def _emit(self, event: object) -> None:
        if self.on_event is not None:
            self.on_event(event)


class _BatchRun:
    """One batch call: chunks out through the pool, a rejected chunk split in two until each bad
    input stands alone, and a halt once retries give up so the rest fail fast instead of waiting."""

    def __init__(self, client: HubSpotClient, operation: str, path: str, ready: list[dict],
                 read_outcomes: Callable[[str, dict[int, dict], Any, str], list[BatchOutcome]] = batches.outcomes
                 ) -> None:
        self.client, self.operation, self.path, self.ready = client, operation, path, ready
        self.read_outcomes = read_outcomes
        self.halted: HubSpotError | None = None

    def execute(self, first: list[list[int]]) -> list[BatchOutcome]:
        done: list[BatchOutcome] = []
        pending = {self.client._pool.submit(self.send, chunk) for chunk in first}
        try:
            while pending:
                finished, pending = cf.wait(pending, return_when=cf.FIRST_COMPLETED)
                for future in finished:
                    outcomes, halves = future.result()
                    done += outcomes
                    pending |= {self.client._pool.submit(self.send, half) for half in halves}
        except BaseException:
            self.halted = self.halted or IncompleteResponseError("the batch call was interrupted")
            raise
        return sorted(done, key=lambda outcome: outcome.index)

    def send(self, chunk: list[int]) -> tuple[list[BatchOutcome], list[list[int]]]:
        """Outcomes for the chunk, or the two halves to send instead."""
        if self.halted is not None:
            return [BatchOutcome(i, None, self.halted) for i in chunk], []
        sent = {i: self.ready[i] for i in chunk}
        request = f"POST {self.path}"
        try:
            reply = self.client._transport.request(
                "POST", self.path, json={"inputs": list(sent.values())},
                idempotent=self.operation != "create")
        except HubSpotError as error:
            return self._failed(chunk, error)
        return self.read_outcomes(self.operation, sent, reply.body, request), []

    def _failed(self, chunk: list[int], error: HubSpotError):
        disposition = errors.classify(error)
        if disposition is Disposition.GIVE_UP:
            self.halted = error
            raise error
        if disposition is Disposition.RETRY:  # retries ran out: the portal is unwell, stop sending
            self.halted = error
        elif len(chunk) > 1 and error.status in (400, 409):
            middle = len(chunk) // 2
            return [], [chunk[:middle], chunk[middle:]]
        return [BatchOutcome(i, None, error) for i in chunk], []


def _workers_for(rate_limit: tuple[int, int]) -> int:
    """Enough workers to keep the rate limit busy at about half a second per batch call."""
    per_second = rate_limit[0] / (rate_limit[1] / 1000)
    return max(2, min(16, math.ceil(per_second / 2)))


def _flag(value: bool) -> str:
    return "true" if value else "false"


def _label_key(label: str) -> str:
    """"car_owner", "Car owner" and "CAR OWNER" name the same label."""
    return " ".join(label.replace("_", " ").split()).casefold()


def _segment(value: str) -> str:
    return quote(str(value), safe="@")


def _no_such_type(wanted: str, known: list[ObjectType]) -> str:
    names = [t.name for t in known] + list(STANDARD_TYPES)
    close = closest(wanted, names)
    hint = f'; did you mean "{close}"?' if close else f"; known types: {', '.join(names)}"
    return f'the portal has no object type "{wanted}"{hint}'


def _match_keys(keys: list[str], items: list, value_of) -> Iterator[tuple[str, Any]]:
    """(key, item) for each item whose value is one of `keys`: exactly, or else ignoring case when
    only one key folds to it. HubSpot answers some unique values (emails) lower-cased, while custom
    unique values may differ from each other by case alone."""
    exact = set(keys)
    by_fold: dict[str, list[str]] = {}
    for key in keys:
        by_fold.setdefault(key.casefold(), []).append(key)
    for item in items:
        value = value_of(item)
        if value is None:
            continue
        if value in exact:
            yield value, item
        elif len(by_fold.get(value.casefold(), ())) == 1:
            yield by_fold[value.casefold()][0], item
