"""Every choice the sandbox makes where HubSpot's behaviour is unverified, gathered in one place.

Section numbers refer to ../shared/reference/hubspot-api.md; most choices follow its section 14,
"Emulator defaults chosen where reality is uncertain". Change a constant here, not in the code.
"""

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
#: A property unique value held by an ARCHIVED record is released: a new record may take it, and an
#: upsert by that value creates a new record (§15.6 unverified).
ARCHIVED_RELEASES_UNIQUE_VALUES = True
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
# - Search sees writes at once: eventual consistency is not modelled (§14 "off by default").

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
