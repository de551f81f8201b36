"""What can go wrong talking to a portal, and what happens next.

Every error is built from HubSpot's error body (status, category, message, correlation id, context),
never from the request, so the access token cannot leak into its text. `classify` is the one place
that decides whether a failure is retried, ends the run, or is recorded against an input.
"""

from __future__ import annotations

import enum
import json
from typing import Any, Mapping

from syncer.errors import InputError, PortalError, SyncerError

SCOPES_HELP = "https://developers.hubspot.com/scopes"


class Disposition(enum.Enum):
    """What the client does with a failed request."""

    RETRY = "retry"  # transient: send it again after a wait
    GIVE_UP = "give up"  # the run cannot go on: wrong token, missing scope, daily limit
    RECORD = "record"  # the input is at fault: record the error against it, carry on with the rest


class HubSpotError(SyncerError):
    """A request HubSpot refused or could not answer.

    `message` is HubSpot's own text; `str(error)` is the message for a person: what failed, HubSpot's
    words, the correlation id to quote to HubSpot support, and what to do about it.
    """

    summary = "HubSpot refused the request"
    hint = ""
    retry_after: float | None = None  # seconds, from the Retry-After header
    connect_failed = False  # no connection was made, so the portal certainly did not act
    window_remaining: int | None = None  # X-HubSpot-RateLimit-Remaining on the failed response

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        category: str | None = None,
        correlation_id: str | None = None,
        context: Mapping[str, Any] | None = None,
        sub_category: str | None = None,
        details: list[dict] | None = None,
        request: str | None = None,
    ) -> None:
        self.message = message
        self.status = status
        self.category = category
        self.correlation_id = correlation_id
        self.context = dict(context or {})
        self.sub_category = sub_category
        self.details = list(details or [])
        self.request = request  # "METHOD /path": never the URL's host or any header
        self.attempts = 1
        super().__init__(self.human_message())

    def human_message(self) -> str:
        where = f" ({self.request})" if self.request else ""
        facts = ", ".join(
            part
            for part in (
                f"HTTP {self.status}" if self.status else "",
                self.category or "",
                f"correlation id {self.correlation_id}" if self.correlation_id else "",
                f"after {self.attempts} attempts" if self.attempts > 1 else "",
            )
            if part
        )
        text = f"{self.summary}{where}: {self.message}"
        if facts:
            text += f" [{facts}]"
        return f"{text}. {self.hint}" if self.hint else text

    def after_attempts(self, attempts: int) -> HubSpotError:
        """Note how many attempts were made before giving up, so the message says so."""
        self.attempts = attempts
        self.args = (self.human_message(),)
        return self


class AuthenticationError(HubSpotError, PortalError):
    summary = "HubSpot did not accept the access token"
    hint = (
        "Check HUBSPOT_ACCESS_TOKEN (or --token): it must be a private app or service key token "
        "of the target portal, not revoked or rotated"
    )


class MissingScopesError(HubSpotError, PortalError):
    summary = "The access token is missing a scope this call needs"

    @property
    def required_scopes(self) -> list[str]:
        scopes: list[str] = []
        for detail in self.details:
            for name in (detail.get("context") or {}).get("requiredGranularScopes", []):
                if name not in scopes:
                    scopes.append(name)
        return scopes

    @property
    def hint(self) -> str:  # type: ignore[override]
        scopes = self.required_scopes
        wanted = (f"one of {', '.join(scopes)}" if len(scopes) > 1 else scopes[0]) if scopes \
            else "the scopes listed at " + SCOPES_HELP
        return (
            f"Grant {wanted} to the app behind the token (HubSpot: Settings > Integrations > "
            "Private apps > Scopes), then run again"
        )


class NotFoundError(HubSpotError):
    summary = "HubSpot found no such object"


class UnknownObjectTypeError(NotFoundError, InputError):
    """A mapping (or --object) names an object type the portal does not have: bad input, exit 2."""

    exit_code = 2
    summary = "No such object type"
    hint = "Check the mapping's object (or an association's to:); `syncer info` lists the types the token can see"


class UnknownAssociationTypeError(NotFoundError, InputError):
    """A mapping's association label (or the default type it implies) does not exist: exit 2."""

    exit_code = 2
    summary = "No such association type"
    hint = "Check the association's label in the mapping"


class ValidationError(HubSpotError):
    summary = "HubSpot rejected the input"


class ConflictError(HubSpotError):
    summary = "HubSpot reported a conflict with an existing record"


class RateLimitedError(HubSpotError):
    summary = "HubSpot's rate limit was reached"
    hint = "Wait for the limit to reset, or run with fewer concurrent syncs on this portal"

    @property
    def policy_name(self) -> str | None:
        return self.context.get("policyName")


class ServerError(HubSpotError):
    summary = "HubSpot failed to answer"
    hint = "This is usually temporary; run again later (every request syncer sends is safe to repeat)"


class NetworkError(HubSpotError, PortalError):
    summary = "Could not reach the portal"
    hint = "Check the network and the base URL (--base-url or HUBSPOT_BASE_URL), then run again"


class IncompleteResponseError(HubSpotError):
    summary = "HubSpot's response did not account for this input"
    hint = "It may or may not have been written; read the record back before sending it again"


_BY_CATEGORY: dict[str, type[HubSpotError]] = {
    "INVALID_AUTHENTICATION": AuthenticationError,
    "EXPIRED_AUTHENTICATION": AuthenticationError,
    "MISSING_SCOPES": MissingScopesError,
    "OBJECT_NOT_FOUND": NotFoundError,
    "VALIDATION_ERROR": ValidationError,
    "CONFLICT": ConflictError,
    "OBJECT_ALREADY_EXISTS": ConflictError,
    "RATE_LIMITS": RateLimitedError,
}

_BY_STATUS: dict[int, type[HubSpotError]] = {
    400: ValidationError,
    401: AuthenticationError,
    403: MissingScopesError,
    404: NotFoundError,
    409: ConflictError,
    429: RateLimitedError,
}

TRANSIENT_STATUSES = frozenset({423, 429, 500, 502, 503, 504, 521, 523, 524})


def error_class(status: int | None, category: str | None) -> type[HubSpotError]:
    """The class for an HTTP status (a whole-request error) or a category (a 207 item)."""
    if status in _BY_STATUS:
        return _BY_STATUS[status]
    if status is not None and status >= 500:
        return ServerError
    return _BY_CATEGORY.get(category or "", HubSpotError)


def from_body(body: Any, *, status: int | None = None, request: str | None = None,
              correlation_id: str | None = None) -> HubSpotError:
    """An error from a HubSpot error body (a whole response, or one element of a 207's errors)."""
    if not isinstance(body, dict):
        text = body if isinstance(body, str) and body.strip() else f"HTTP {status} with no error body"
        return error_class(status, None)(text[:500], status=status, request=request,
                                         correlation_id=correlation_id)
    category = body.get("category") or body.get("errorType")
    context = dict(body.get("context") or {})
    if body.get("policyName"):
        context["policyName"] = body["policyName"]
    return error_class(status, category)(
        str(body.get("message") or f"HTTP {status}"),
        status=status,
        category=category,
        correlation_id=body.get("correlationId") or correlation_id,
        context=context,
        sub_category=_text(body.get("subCategory")),
        details=body.get("errors") if isinstance(body.get("errors"), list) else None,
        request=request,
    )


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True)


def classify(error: HubSpotError) -> Disposition:
    """Retry, give up on the run, or record against the input (STYLE.md item 5)."""
    if isinstance(error, NetworkError):
        return Disposition.RETRY
    if isinstance(error, (AuthenticationError, MissingScopesError)):
        return Disposition.GIVE_UP
    if isinstance(error, RateLimitedError) and error.policy_name == "DAILY":
        return Disposition.GIVE_UP  # resets at midnight: no point waiting inside a run
    if error.status in TRANSIENT_STATUSES:
        return Disposition.RETRY
    if error.status is not None and error.status >= 500:
        return Disposition.GIVE_UP
    return Disposition.RECORD
