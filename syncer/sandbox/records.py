"""Record reads and writes with HubSpot's rules (reference §4.1, §7, §9, §10, §14).

A write request becomes a list of `WriteInput`s; `prepare` validates every one against the current
records (unknown and read-only properties, values, unique values, associations) without writing;
then either the whole call fails, or the valid inputs are applied and the others become 207 items.
"""

from __future__ import annotations

import copy
import random
from dataclasses import dataclass, field

from syncer.sandbox import behaviour, values
from syncer.sandbox.errors import ApiError, ItemError, PropertyProblem, invalid_properties, validation
from syncer.sandbox.search import SearchIndex
from syncer.sandbox.portal import ObjectType, Registry
from syncer.sandbox.store import Record, Store

SOURCE_TYPE = "API"


@dataclass
class WriteInput:
    """One create, update or upsert input, and what validating it found."""

    properties: dict
    trace_id: str | None = None
    record: Record | None = None  # the record it updates; None creates one
    associations: list = field(default_factory=list)
    key: str | None = None  # the id or unique value it was addressed by
    # filled by prepare():
    changes: dict[str, str | None] = field(default_factory=dict)
    links: list[tuple[int, int]] = field(default_factory=list)  # (type_id, to_id)
    error: ItemError | None = None
    problems: list[PropertyProblem] = field(default_factory=list)


class Records:
    """The record model of one portal: validation, writes, reads and their JSON rendering."""

    def __init__(self, registry: Registry, store: Store, shuffle_seed: int | None = None,
                 ordered_results: bool = False, variants: behaviour.Variants = behaviour.INSTANT_INDEX) -> None:
        self.registry = registry
        self.store = store
        self.ordered_results = ordered_results
        self.shuffler = random.Random(shuffle_seed)
        self.variants = variants
        self.index = SearchIndex(store.clock)  # indexes at once until the portal turns the lag on

    # --- addressing --------------------------------------------------------------------------

    def id_property(self, object_type: ObjectType, name: str | None, *, writing: bool = False) -> str | None:
        """The unique property named as idProperty, or None for record ids (§7.5)."""
        if not name or name == object_type.id_name and not writing:
            return None
        definition = object_type.properties.get(name)
        if definition is None or not definition["hasUniqueValue"]:
            verb = "update/upsert" if writing else "read"
            raise validation(f"Unable to perform {verb} by non-unique {object_type.object_type_id} "
                             f"property {name} in portal ID {self.registry.portal_id}")
        return name

    def unique_key(self, object_type: ObjectType, name: str, raw) -> str | None:
        """A unique value as the uniqueness rule compares it (emails lower-cased, and every value
        case-folded under Variants.unique_case "insensitive"), or None if it cannot be one."""
        try:
            return self.fold(values.normalise(object_type.properties[name], raw))
        except PropertyProblem:
            return None

    def fold(self, value: str | None) -> str | None:
        """The key a stored unique value is claimed under."""
        if value is None or self.variants.unique_case == "sensitive":
            return value
        return value.casefold()

    def rebuild_uniques(self) -> None:
        """Claim every unique value again under the variants' rules (a store made under others)."""
        rules = f"{self.variants.unique_case},{self.variants.archived_unique}"
        if (self.store.meta("unique_rules") or "sensitive,released") == rules:
            return
        claims = []
        for object_type in self.registry.object_types.values():
            uniques = object_type.unique_properties()
            kept = self.variants.archived_unique == "kept"
            where = "type = ?" if kept else "type = ? AND archived = 0"
            for record in self.store.select(where, (object_type.object_type_id,), "id"):
                claims += [(record.type, name, self.fold(record.props[name]), record.id)
                           for name in uniques if name in record.props]
        self.store.clear_uniques()
        self.store.claim_unique(claims)
        self.store.set_meta("unique_rules", rules)

    def find(self, object_type: ObjectType, keys: list, id_property: str | None,
             archived: bool = False) -> dict[str, Record]:
        """Records by the keys given (ids or unique values), keyed by the key as given."""
        type_id = object_type.object_type_id
        if id_property is None:
            numeric = {str(k): int(k) for k in keys if str(k).isdigit()}
            found = self.store.get(type_id, numeric.values(), archived)
            return {key: found[i] for key, i in numeric.items() if i in found}
        stored = {str(k): self.unique_key(object_type, id_property, k) for k in keys}
        wanted = {v for v in stored.values() if v is not None}
        if archived:
            ids = self.store.archived_ids_by_value(type_id, id_property, wanted, self.fold)
        else:
            ids = self.store.ids_by_unique(type_id, id_property, wanted)
        found = self.store.get(type_id, ids.values(), archived)
        return {key: found[ids[v]] for key, v in stored.items() if v in ids and ids[v] in found}

    # --- validation --------------------------------------------------------------------------

    def prepare(self, object_type: ObjectType, inputs: list[WriteInput]) -> None:
        """Validate every input; set its `changes`, `links` and `error` (nothing is written)."""
        for item in inputs:
            self._prepare_values(object_type, item)
            if not item.problems:
                self._prepare_links(object_type, item)
            if item.problems:
                item.error = self._invalid_item(item)
        uniques = object_type.unique_properties()
        claimed = self._holders(object_type, uniques, inputs)
        for item in inputs:
            if item.error is None:
                item.error = self._conflict(object_type, uniques, item, claimed)

    def _holders(self, object_type: ObjectType, uniques: set[str], inputs: list[WriteInput]) -> dict:
        """(name, value) → id of the record holding each unique value the inputs write, in one query
        per unique property."""
        holders: dict[tuple[str, str], object] = {}
        for name in uniques:
            wanted = {self.fold(i.changes[name]) for i in inputs if i.changes.get(name) is not None}
            if wanted:
                found = self.store.ids_by_unique(object_type.object_type_id, name, wanted)
                holders.update(((name, value), record_id) for value, record_id in found.items())
        return holders

    def _prepare_values(self, object_type: ObjectType, item: WriteInput) -> None:
        current = item.record.props if item.record else {}
        if not isinstance(item.properties, dict):
            item.problems.append(PropertyProblem("properties", "INVALID_INPUT", "properties must be an object"))
            return
        for name, raw in item.properties.items():
            definition = object_type.properties.get(name)
            if definition is None:
                item.problems.append(PropertyProblem(name, "PROPERTY_DOESNT_EXIST",
                                                     f'Property "{name}" does not exist'))
            elif definition["modificationMetadata"]["readOnlyValue"]:
                item.problems.append(PropertyProblem(
                    name, "READ_ONLY_VALUE", f'"{name}" is a read only property; its value cannot be set'))
            else:
                try:
                    item.changes[name] = values.normalise(definition, raw, current.get(name))
                except PropertyProblem as problem:
                    item.problems.append(problem)

    def _prepare_links(self, object_type: ObjectType, item: WriteInput) -> None:
        for association in item.associations or []:
            try:
                to_id = int(association["to"]["id"])
                for spec in association["types"]:
                    kind = self.registry.association_type(object_type.object_type_id,
                                                          str(spec["associationTypeId"]))
                    if kind is None or not self.store.get(kind.to_type, [to_id]):
                        raise ValueError
                    item.links.append((kind.type_id, to_id))
            except (KeyError, TypeError, ValueError):
                item.error = ItemError("VALIDATION_ERROR", "One or more associations are invalid",
                                       self._trace_context(item, INVALID_OBJECT_IDS=[str(association)]))
                return

    def _invalid_item(self, item: WriteInput) -> ItemError:
        error = invalid_properties(item.problems, self.registry.portal_id)
        return ItemError("VALIDATION_ERROR", error.body["message"], self._trace_context(item),
                         errors=error.body["errors"])

    def _conflict(self, object_type: ObjectType, uniques: set[str], item: WriteInput,
                  claimed: dict) -> ItemError | None:
        """A unique value that another record holds, or an earlier input of this call claimed.
        `claimed` starts as the stored holders and gains each valid input's values in turn."""
        me = item.record.id if item.record else id(item)
        for name in uniques:
            value = self.fold(item.changes.get(name))
            if value is None or (item.record and self.fold(item.record.props.get(name)) == value):
                continue
            holder = claimed.get((name, value))
            if holder is not None and holder != me:
                existing = str(holder) if isinstance(holder, int) else "pending"
                return ItemError(
                    "CONFLICT", f"{object_type.singular} already exists. Existing ID: {existing}",
                    self._trace_context(item, existingId=[existing]), status=behaviour.UNIQUE_CONFLICT_STATUS)
        for name in uniques:
            if item.changes.get(name) is not None:
                claimed[(name, self.fold(item.changes[name]))] = me
        return None

    @staticmethod
    def _trace_context(item: WriteInput, **context) -> dict:
        if item.trace_id is not None:
            context["objectWriteTraceId"] = [str(item.trace_id)]
        return context

    def whole_call_error(self, inputs: list[WriteInput]) -> ApiError:
        """The single error a batch without trace ids fails with: all bad values, else the first conflict."""
        problems = [p for item in inputs for p in item.problems]
        if problems:
            return invalid_properties(problems, self.registry.portal_id)
        first = next(item.error for item in inputs if item.error is not None)
        if first.category == "CONFLICT":
            first.context.pop("objectWriteTraceId", None)
        return first.as_api_error()

    # --- writing -----------------------------------------------------------------------------

    def apply(self, object_type: ObjectType, inputs: list[WriteInput]) -> list[Record]:
        """Write the valid inputs (one timestamp for the call) and return their records."""
        now = self.store.clock.tick()
        created, updated, history, claims, releases, links = [], [], [], [], [], []
        type_id = object_type.object_type_id
        uniques = object_type.unique_properties()
        before: dict[int, Record] = {}
        for item in inputs:
            record = item.record
            if record is None:
                record = Record(self.store.allocate_id(), type_id, now, now)
                item.record = record
                created.append(record)
            else:
                if self.index.lags and record.id not in before:
                    before[record.id] = copy.deepcopy(record)
                if behaviour.IDENTICAL_WRITE_MOVES_UPDATED_AT or any(
                        record.props.get(n) != v for n, v in item.changes.items()):
                    record.updated_ms = now
                updated.append(record)
            for name, value in item.changes.items():
                old = record.props.get(name)
                if old == value:
                    continue
                if name in uniques and self.fold(old) != self.fold(value):
                    if old is not None:
                        releases.append((type_id, name, self.fold(old)))
                    if value is not None:
                        claims.append((type_id, name, self.fold(value), record.id))
                if value is None:
                    record.props.pop(name, None)
                else:
                    record.props[name] = value
                history.append((record.id, name, value, now, SOURCE_TYPE))
            links.extend((record.id, type_id_, to_id) for type_id_, to_id in item.links)
        self.store.insert(created)
        self.store.update(updated)
        self.store.release_unique(releases)
        self.store.claim_unique(claims)
        self.store.add_history(history)
        self.associate(links)
        if self.index.lags:
            new = {r.id for r in created}
            self.index.written([(None if r.id in new else before.get(r.id), r) for r in (*created, *updated)], now)
        return [item.record for item in inputs]

    def associate(self, links: list[tuple[int, int, int]]) -> None:
        """Store (from_id, type_id, to_id) links and their reverse (same label, other direction)."""
        self.store.associate(self._both_directions(links))

    def dissociate(self, links: list[tuple[int, int, int]]) -> None:
        self.store.dissociate(self._both_directions(links))

    def _both_directions(self, links: list[tuple[int, int, int]]) -> list[tuple[int, int, int]]:
        rows = list(links)
        for from_id, type_id, to_id in links:
            reverse = self._reverse_type(type_id)
            if reverse is not None:
                rows.append((to_id, reverse, from_id))
        return rows

    def _reverse_type(self, type_id: int) -> int | None:
        kind = next((a for a in self.registry.association_types if a.type_id == type_id), None)
        if kind is None:
            return None
        back = [a for a in self.registry.association_labels(kind.to_type, kind.from_type) if a.label == kind.label]
        return back[0].type_id if back else None

    def archive(self, object_type: ObjectType, records: list[Record]) -> None:
        now = self.store.clock.tick()
        releases, changes = [], []
        for record in records:
            if self.index.lags:
                changes.append((copy.deepcopy(record), record))
            record.archived, record.archived_ms, record.updated_ms = True, now, now
            if self.variants.archived_unique == "released":
                releases.extend((record.type, name, self.fold(record.props[name]))
                                for name in object_type.unique_properties() if name in record.props)
        self.store.update(records)
        self.store.release_unique(releases)
        self.index.written(changes, now)

    # --- rendering ---------------------------------------------------------------------------

    def value(self, object_type: ObjectType, record: Record, name: str) -> str | None:
        column = object_type.system_column(name)
        if column == "id":
            return str(record.id)
        if column is not None:
            return values.iso_ms(getattr(record, column))
        return record.props.get(name)

    def render(self, object_type: ObjectType, record: Record, *, properties=None, history=None,
               associations=None, everything: bool = False, also: tuple = ()) -> dict:
        """A SimplePublicObject(WithAssociations): the default properties, plus those requested
        (null when unset, left out when unknown), or every set value for write responses."""
        names = list(object_type.defaults)
        if everything:
            names += sorted(record.props)
        names += [n for n in (properties or []) if n in object_type.properties]
        names += [n for n in also if n]
        body = {
            "id": str(record.id),
            "properties": {n: self.value(object_type, record, n) for n in names},
            "createdAt": values.iso_ms(record.created_ms),
            "updatedAt": values.iso_ms(record.updated_ms),
            "archived": record.archived,
        }
        if record.archived:
            body["archivedAt"] = values.iso_ms(record.archived_ms)
        if history:
            body["propertiesWithHistory"] = self.render_history(object_type, record, history)
        if associations:
            linked = self.render_associations(object_type, record, associations)
            if linked:
                body["associations"] = linked
        body["url"] = behaviour.RECORD_URL.format(portal_id=self.registry.portal_id,
                                                  object_type_id=object_type.object_type_id,
                                                  id=record.id)
        return body

    def render_history(self, object_type: ObjectType, record: Record, names: list[str]) -> dict:
        names = [n for n in names if n in object_type.properties]
        found = self.store.history(record.id, names)
        rendered = {}
        for name in names:
            entries = found.get(name, [])
            if object_type.system_column(name) and not entries:
                entries = [(self.value(object_type, record, name), record.updated_ms, "API")]
            rendered[name] = [{"value": "" if value is None else value, "timestamp": values.iso_ms(ms),
                               "sourceType": source} for value, ms, source in entries]
        return rendered

    def render_associations(self, object_type: ObjectType, record: Record, to_names: list[str]) -> dict:
        rendered = {}
        for to_name in to_names:
            try:
                to_type = self.registry.resolve(to_name)
            except ApiError:
                continue
            kinds = {a.type_id: a for a in self.registry.association_labels(object_type.object_type_id,
                                                                              to_type.object_type_id)}
            pairs = self.store.associations(record.id, kinds)
            if pairs:
                rendered[to_type.fully_qualified_name] = {
                    "results": [{"id": str(to_id), "type": kinds[type_id].name} for to_id, type_id in pairs]}
        return rendered

    def in_any_order(self, items: list) -> list:
        """Batch results in no particular order, as HubSpot returns them (§3.3)."""
        if self.ordered_results or not behaviour.SHUFFLE_BATCH_RESULTS:
            return items
        items = list(items)
        self.shuffler.shuffle(items)
        return items
