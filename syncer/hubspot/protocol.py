"""What the engine asks of a portal client: the part of HubSpotClient that plan, apply, export,
sync and the portal pin use, as a typing Protocol. Engine functions take a `PortalClient`, so a
type checker holds them to it, and a caller may hand them any object that answers it (a client
wrapped for logging or caching, say) without a getattr fallback anywhere."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Protocol, runtime_checkable

from syncer.hubspot.models import Association, AssociationType, BatchOutcome, ObjectType, RateLimit, Record

TypeName = str | ObjectType


@runtime_checkable
class PortalClient(Protocol):
    base_url: str
    embedded_sandbox: bool

    @property
    def calls(self) -> int: ...  # HTTP requests sent so far, retries included

    @property
    def rate_limit(self) -> RateLimit | None: ...  # as the portal's headers last reported it

    def hub_id(self) -> str | None: ...

    def object_type(self, wanted: TypeName) -> ObjectType: ...

    def properties(self, object_type: TypeName) -> list[dict]: ...

    def batch_read(self, object_type: TypeName, keys: Iterable[str], *, id_property: str | None = None,
                   properties: Sequence[str] = (), archived: bool = False) -> dict[str, Record]: ...

    def list_records(self, object_type: TypeName, *, properties: Sequence[str] = (),
                     archived: bool = False) -> Iterator[Record]: ...

    def search(self, object_type: TypeName, *, filters: Sequence[dict] = (),
               filter_groups: Sequence[Sequence[dict]] = (), sorts: Sequence[str | dict] = (),
               properties: Sequence[str] = (), query: str | None = None) -> Iterator[Record]: ...

    def batch_create(self, object_type: TypeName, inputs: Sequence[dict]) -> list[BatchOutcome]: ...

    def batch_update(self, object_type: TypeName, inputs: Sequence[dict], *,
                     id_property: str | None = None) -> list[BatchOutcome]: ...

    def batch_upsert(self, object_type: TypeName, inputs: Sequence[dict], *,
                     id_property: str) -> list[BatchOutcome]: ...

    def batch_archive(self, object_type: TypeName, ids: Iterable[str]) -> list[BatchOutcome]: ...

    def association_spec(self, from_type: TypeName, to_type: TypeName,
                         association_type: int | str | AssociationType | None) -> AssociationType: ...

    def batch_read_associations(self, from_type: TypeName, to_type: TypeName,
                                ids: Iterable[str]) -> dict[str, list[Association]]: ...

    def batch_associate(self, from_type: TypeName, to_type: TypeName, pairs: Iterable[tuple[str, str]],
                        association_type: int | str | AssociationType) -> list[BatchOutcome]: ...

    def batch_disassociate(self, from_type: TypeName, to_type: TypeName, pairs: Iterable[tuple[str, str]],
                           association_type: int | str | AssociationType | None = None) -> list[BatchOutcome]: ...
