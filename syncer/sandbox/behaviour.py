"""Every choice the sandbox makes where HubSpot's behaviour is unverified, gathered in one place.

Section numbers (§n) refer to the team's HubSpot API reference, which is not part of this
repository; each choice also names its public source (HubSpot's docs, the OpenAPI documents in
tests/openapi/, an issue thread). Change a constant here, not in the code.

Where HubSpot may behave in more than one way and the engine must survive each, the choice is a
*variant*: a field of `Variants` (at the end of this file), a `syncer sandbox serve` option and a
`Sandbox(variants=...)` argument. Its default follows the strongest evidence, named beside it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields, replace

# --- batches (§4.1, §14) ---------------------------------------------------------------------------

#: Inputs per batch call; more is a whole-call 400 (§5; exact text unverified).
BATCH_MAX_INPUTS = 100
#: Batch read inputs when propertiesWithHistory is set (§5, §13.9).
BATCH_MAX_INPUTS_WITH_HISTORY = 50
#: Create, update and upsert give per-item 207 errors only when EVERY input carries an
#: objectWriteTraceId; otherwise all inputs are validated first and the whole call fails (§14).
PER_ITEM_ERRORS_NEED_TRACE_IDS = True
#: Partial upserts are not supported with email as idProperty (§9): always a whole-call failure.
PARTIAL_UPSERT_BY_EMAIL = False
#: Results echo the input's objectWriteTraceId (present in the 2026 spec; §15.5 unverified).
ECHO_TRACE_ID = True
#: Batch results come back shuffled (§3.3, §14): HubSpot gives no order. Sandbox(ordered_results=True)
#: keeps input order for readable test output.
SHUFFLE_BATCH_RESULTS = True
#: Batch read by idProperty returns that property's value even when not requested (§15.10).
BATCH_READ_RETURNS_ID_PROPERTY = True
#: StandardError items carry empty `errors` and `links`: the spec requires them; clients ignore them.
STANDARD_ERROR_HAS_EMPTY_ERRORS_AND_LINKS = True

# --- v4 batch associations (openapi/hubspot_crm_crm_associations.oas.json, §3.9) --------------------

#: Inputs per v4 association batch/read. HubSpot's developer changelog ("Batch Read Limit for HubSpot
#: Associations API", effective 2025-02-10) caps it at 1000 ids [docs]; the reference's "100 per batch
#: call" (§5) was written for the objects API. batch/create, batch/archive and batch/labels/archive
#: keep BATCH_MAX_INPUTS, since nothing documents another figure for them [inferred]. syncer's client
#: sends at most 100 either way, so it works under both readings.
V4_ASSOCIATION_READ_MAX_INPUTS = 1000
#: Associated records returned per from-record in one batch/read answer; the rest follow through
#: `paging.next.after`, sent back beside the id [inferred size; paging per the spec].
V4_ASSOCIATIONS_PAGE_SIZE = 500
# Built into api.py rather than switchable [inferred, from captured responses]:
# - batch/read answers a from-id with no associations to the type, and one with no record, the same
#   way (HubSpot does not tell them apart): one OBJECT_NOT_FOUND item per id, subCategory
#   "crm.associations.NO_ASSOCIATIONS_FOUND", context fromObjectId / fromObjectType / toObjectType.
# - Unlabeled association types carry "label": null, as on the labels endpoint (the spec says string).
# - batch/create writes the valid inputs and answers 207 with one item per bad input (a missing
#   record: OBJECT_NOT_FOUND; a type id not defined from the one object to the other:
#   VALIDATION_ERROR), its context naming fromObjectId and toObjectId. Linking an already linked
#   pair is no error. Results are LabelsBetweenObjectPair, one per valid input.
# - batch/archive removes every association type between each pair, batch/labels/archive the types
#   named (all of them when the unlabeled type is named); both answer 204 whatever the ids.
#: batch/create refuses a type whose associationCategory differs from the type's own.
V4_CATEGORY_MUST_MATCH = True

# --- records (§3, §7, §8) --------------------------------------------------------------------------

#: A write of identical values still moves updatedAt / hs_lastmodifieddate (§8: HubSpot moves it on
#: any write). It adds no history entry, since the value did not change.
IDENTICAL_WRITE_MOVES_UPDATED_AT = True
# Whether an ARCHIVED record's unique values are released, and whether unique values compare
# without regard to case: see Variants.archived_unique and Variants.unique_case below.
#: A unique-value conflict is 409 CONFLICT naming the first conflict (§7.5, §15.4 unverified).
UNIQUE_CONFLICT_STATUS = 409
#: The bare custom object name (`cars`) is NOT accepted as {objectType}; use `2-…` or `p{portal}_cars`
#: (§1, §15.14 "inferred: no").
ACCEPT_BARE_CUSTOM_NAME = False
#: GET of a missing record answers the OBJECT_NOT_FOUND body, not "resource not found" (§4.2, §15.8).
NOT_FOUND_MESSAGE = "Object not found.  objectId are usually numeric."
#: JSON null as a property value clears it, like "" (§7.1 only documents "").
NULL_CLEARS = True
#: The record's page link, as in 2025 captures (§3.1).
RECORD_URL = "https://app.hubspot.com/contacts/{portal_id}/record/{object_type_id}/{id}"
#: Contact emails are stored lower-cased and matched case-insensitively (§7.5).
EMAIL_LOWER_CASE = True

# --- list and search (§3.4, §11, §14) -------------------------------------------------------------

LIST_DEFAULT_LIMIT = 10
#: List `limit` above 100 is capped, not refused (§14).
LIST_MAX_LIMIT = 100
SEARCH_DEFAULT_LIMIT = 10
#: Search `limit` above 200 is a 400 (§14).
SEARCH_MAX_LIMIT = 200
#: after + limit beyond 10,000 is a 400 (§5).
SEARCH_MAX_RESULTS = 10_000
SEARCH_MAX_GROUPS = 5
SEARCH_MAX_FILTERS_PER_GROUP = 6
SEARCH_MAX_FILTERS = 18
#: More than one sort rule is a 400 (§5 "ignored or 400 (unverified)").
SEARCH_MAX_SORTS = 1
#: Request bodies of search beyond this many characters are a 400 (§5).
SEARCH_MAX_BODY_CHARS = 3000
#: A record with no value matches NEQ, NOT_IN and NOT_CONTAINS_TOKEN (unverified).
UNSET_MATCHES_NEGATIONS = True
#: EQ / NEQ on a multi-select property test whether the value is one of the selected options.
MULTI_SELECT_EQ_MEANS_CONTAINS = True
# Built into search.py rather than switchable:
# - BETWEEN is inclusive at both ends (§11, §15.12).
# - Unset values sort last in either direction; ties are broken by record id ascending.
# - `query` matches when every word is a case-insensitive prefix of a token (split on spaces, commas,
#   semicolons) of a searchable property (the schema's searchableProperties) or the record id.
# - Eventual consistency (search lag) is Variants.search_lag, below: a record is matched, sorted and
#   counted by the version the index holds, and returned with its current values.

# --- rate limits (§6, §14) -----------------------------------------------------------------------

TEN_SECONDLY_LIMIT = 190
INTERVAL_MS = 10_000
DAILY_LIMIT = 1_000_000
#: Search is limited per second per account, separately (§6.1, §11).
SEARCH_PER_SECOND = 5
#: 429s carry no Retry-After header (§14).
RETRY_AFTER_SECONDS = None
# A refused (429) request does not consume a slot in the window (limits.py).
#: 401s carry no rate-limit headers; every other non-search response does.
RATE_HEADERS_ON_401 = False

# --- faults --------------------------------------------------------------------------------------

#: Share of faulted WRITE requests whose write is applied before the fault strikes (§13.13).
FAULT_AFTER_WRITE_SHARE = 0.5
#: How long a `slow` fault holds the response, in seconds (Sandbox(slow_seconds=...) overrides).
SLOW_SECONDS = 5.0

# --- variants ------------------------------------------------------------------------------------

#: `syncer sandbox serve`'s search lag: HubSpot's docs say new and changed records take "a few
#: moments" to reach search, and a search right after a create misses it (§11: [docs], and the issue
#: thread hubspot-api-php#59); integrations' docs speak of "several seconds". No bound is published.
SEARCH_LAG_SECONDS = 5.0
#: A write waits between lag × (1 − jitter) and the lag before search sees it, each record its own
#: draw, so search may see a later write before an earlier one (as estuary/connectors PR 2210 found).
SEARCH_LAG_JITTER = 0.5

BATCH_ERRORS = ("per-input", "whole")
UNIQUE_CASE = ("sensitive", "insensitive")
ARCHIVED_UNIQUE = ("released", "kept")
NO_ASSOCIATIONS = ("item", "aggregated", "empty")
RATE_HEADERS = ("always", "sometimes", "never")
#: With rate_headers "sometimes", the share of answers that lack the X-HubSpot-RateLimit-* headers.
MISSING_HEADERS_SHARE = 0.5
#: competing_share may not take the whole budget: the engine must be able to send something.
MAX_COMPETING_SHARE = 0.9


@dataclass(frozen=True)
class Variants:
    """The ways HubSpot may behave where syncer must work whichever is true. Each default follows
    the strongest evidence (reference section named); the other values are what the evidence
    leaves possible, so the engine's tests can run under each.

    - `search_lag`: seconds (at most) before a write reaches search; records are matched, sorted and
      counted as the index last saw them and returned as they are now (estuary/connectors PR 2210
      saw records "included in the search results based on its original timestamp" but returned
      updated). 0 indexes at once. The lag runs on the sandbox's clock (`Sandbox.advance_clock`).
      Default SEARCH_LAG_SECONDS for `serve`; an in-process `Sandbox()` given no variants indexes at
      once (INSTANT_INDEX), so tests that are not about lag need not wait for it.
    - `batch_errors`: an update or upsert whose every input has an objectWriteTraceId answers a bad
      input with a 207 item ("per-input": HubSpot's docs promise it for create, and upsert was seen
      doing it, §4.1 [issue]) or fails whole with one 400, or 409 for a unique conflict ("whole":
      what HubSpot does without trace ids, §4.1; unverified with them, §15.5). Unknown ids stay
      207 items either way (§4.1 [issue]); batch create stays per input ([docs]).
    - `unique_case`: custom unique values compare exactly ("sensitive": the reference's reading,
      enumerations and option values are case-sensitive, §7.3) or without regard to case
      ("insensitive", as emails are, §7.5). Unverified for custom properties (§15).
    - `archived_unique`: an archived record's unique values are free for a new record ("released":
      the inferred reading of §9/§15.6, as a deleted contact's email may be used again) or stay
      taken while it is in the recycle bin ("kept": a create or upsert of that value is a CONFLICT
      naming the archived record).
    - `no_associations`: how v4 associations batch/read answers an id with no associations: one
      OBJECT_NOT_FOUND item per id with subCategory crm.associations.NO_ASSOCIATIONS_FOUND ("item":
      captured from HubSpot in several public repositories), one item listing every such id in
      context.ids ("aggregated", the shape batch read of records uses, §4.1), or a result whose
      `to` is empty ("empty").
    - `competing_share`: the share of the 10-second window, the daily allowance and the search
      limit another integration of the portal is using (0: none, as on a fresh developer portal).
      The daily allowance and search's 5 per second are the account's, shared by every app (§6.1
      [docs]); the 10-second window is per app in HubSpot's docs, shared here for the worst case.
    - `rate_headers`: the X-HubSpot-RateLimit-* headers come on every answer but search's and 401s
      ("always", §6.2 [docs]), on about half of them ("sometimes": "headers may be missing whenever
      HubSpot cannot compute them", §6.2 [docs]), or on none ("never": OAuth calls lack the daily
      ones, §6.2).
    """

    search_lag: float = SEARCH_LAG_SECONDS
    search_lag_jitter: float = SEARCH_LAG_JITTER
    batch_errors: str = "per-input"
    unique_case: str = "sensitive"
    archived_unique: str = "released"
    no_associations: str = "item"
    competing_share: float = 0.0
    rate_headers: str = "always"

    def __post_init__(self) -> None:
        choices = {"batch_errors": BATCH_ERRORS, "unique_case": UNIQUE_CASE, "archived_unique": ARCHIVED_UNIQUE,
                   "no_associations": NO_ASSOCIATIONS, "rate_headers": RATE_HEADERS}
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {', '.join(allowed)}; got {getattr(self, name)!r}")
        if self.search_lag < 0:
            raise ValueError(f"search_lag must be 0 or more seconds; got {self.search_lag!r}")
        if not 0 <= self.search_lag_jitter <= 1:
            raise ValueError(f"search_lag_jitter must be between 0 and 1; got {self.search_lag_jitter!r}")
        if not 0 <= self.competing_share <= MAX_COMPETING_SHARE:
            raise ValueError(f"competing_share must be between 0 and {MAX_COMPETING_SHARE}; "
                             f"got {self.competing_share!r}")

    def but(self, **changes) -> "Variants":
        """These variants with some changed: `INSTANT_INDEX.but(batch_errors="whole")`."""
        return replace(self, **changes)

    def differences(self) -> dict[str, object]:
        """The fields that differ from the defaults (for a test id, or a line at start-up)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) != f.default}

    def __str__(self) -> str:
        shown = ", ".join(f"{k}={v}" for k, v in self.differences().items())
        return f"Variants({shown})"

    def describe(self) -> str:
        """Every field, for a person: `search lag 2.5-5 s, batch errors per-input, …`."""
        lag = (f"search lag {self.search_lag * (1 - self.search_lag_jitter):g}-{self.search_lag:g} s"
               if self.search_lag else "search lag none")
        rest = [f"{f.name.replace('_', ' ')} {getattr(self, f.name)}" for f in fields(self)
                if not f.name.startswith("search_lag")]
        return ", ".join([lag, *rest])


#: The defaults with search indexing at once: what an in-process Sandbox() uses unless told.
INSTANT_INDEX = Variants(search_lag=0.0)

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|min|h)?\s*$")


def seconds(text: str) -> float:
    """`5s`, `500ms`, `2m`, `1h` or a bare number of seconds → seconds; ValueError otherwise."""
    match = _DURATION.match(str(text))
    if not match:
        raise ValueError(f"{text!r} is not a duration such as 5s, 500ms, 2m or 1h")
    number, unit = float(match.group(1)), match.group(2) or "s"
    return number * {"ms": 0.001, "s": 1, "m": 60, "min": 60, "h": 3600}[unit]
