"""HubSpot's error bodies (reference §3.6, §4, §6.3, §12) and the exception that carries one."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field

from syncer.sandbox import behaviour


def correlation_id() -> str:
    return str(uuid.uuid4())


class ApiError(Exception):
    """Ends the request with `status` and HubSpot's error body."""

    def __init__(self, status: int, category: str, message: str, *, context: dict | None = None,
                 errors: list | None = None, **extra) -> None:
        super().__init__(message)
        self.status = status
        self.body = {"status": "error", "message": message, "category": category}
        if context:
            self.body["context"] = context
        if errors:
            self.body["errors"] = errors
        self.body.update(extra)


def validation(message: str, **kwargs) -> ApiError:
    return ApiError(400, "VALIDATION_ERROR", message, **kwargs)


def not_found(object_id: str) -> ApiError:
    return ApiError(404, "OBJECT_NOT_FOUND", behaviour.NOT_FOUND_MESSAGE, context={"id": [object_id]})


def unknown_object_type(name: str) -> ApiError:
    return ApiError(404, "OBJECT_NOT_FOUND", f"Unable to infer object type from: {name}",
                    context={"objectType": [name]})


def unauthenticated() -> ApiError:
    return ApiError(
        401, "INVALID_AUTHENTICATION",
        "Authentication credentials not found. This API supports OAuth 2.0 authentication and you "
        "can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview")


def missing_scopes(required: list[str]) -> ApiError:
    return ApiError(
        403, "MISSING_SCOPES",
        "This app hasn't been granted all required scopes to make this call. Read more about "
        "required scopes here: https://developers.hubspot.com/scopes.",
        errors=[{"message": "One or more of the following scopes are required.",
                 "context": {"requiredGranularScopes": required}}],
        links={"scopes": "https://developers.hubspot.com/scopes"})


def rate_limited(policy: str, group: str) -> dict:
    """The 429 body: `errorType` instead of `category` (§6.3)."""
    message = {"TEN_SECONDLY_ROLLING": "You have reached your ten_secondly_rolling limit.",
               "SECONDLY": "You have reached your secondly limit.",
               "DAILY": "You have reached your daily limit."}[policy]
    return {"status": "error", "message": message, "errorType": "RATE_LIMIT",
            "correlationId": correlation_id(), "policyName": policy, "groupName": group}


@dataclass(eq=False)
class PropertyProblem(Exception):
    """One invalid property value, as HubSpot lists it inside a VALIDATION_ERROR."""

    name: str
    code: str
    message: str

    def as_listed(self, portal_id: int) -> dict:
        return {"isValid": False, "message": self.message, "error": self.code, "name": self.name,
                "localizedErrorMessage": self.message, "portalId": portal_id}

    def as_detail(self) -> dict:
        return {"message": self.message, "code": self.code, "context": {"propertyName": [self.name]}}


def invalid_properties(problems: list[PropertyProblem], portal_id: int) -> ApiError:
    """The 400 for bad values, unknown and read-only properties (§3.6, §4.2)."""
    listed = json.dumps([p.as_listed(portal_id) for p in problems], separators=(",", ":"))
    return validation(f"Property values were not valid: {listed}",
                      errors=[p.as_detail() for p in problems])


@dataclass
class ItemError:
    """One element of a 207 response's `errors` (a StandardError, §3.3)."""

    category: str
    message: str
    context: dict = field(default_factory=dict)
    status: int = 400  # what the whole call would have answered without trace ids
    errors: list = field(default_factory=list)
    sub_category: str | None = None

    def body(self) -> dict:
        body = {"status": "error", "category": self.category, "message": self.message,
                "context": self.context}
        if self.sub_category:
            body["subCategory"] = self.sub_category
        if behaviour.STANDARD_ERROR_HAS_EMPTY_ERRORS_AND_LINKS:
            body.update(errors=self.errors, links={})
        return body

    def as_api_error(self) -> ApiError:
        return ApiError(self.status, self.category, self.message, context=self.context or None,
                        errors=self.errors or None)
