"""The one classifier (retry / give up / record against the input) and the errors' messages."""

from __future__ import annotations

import pytest

from syncer.errors import PortalError, SyncerError
from syncer.hubspot import errors
from syncer.hubspot.errors import Disposition

RETRY, GIVE_UP, RECORD = Disposition.RETRY, Disposition.GIVE_UP, Disposition.RECORD

CASES = [
    # status, body, expected class, expected disposition
    (None, None, errors.NetworkError, RETRY),
    (429, {"errorType": "RATE_LIMIT", "policyName": "TEN_SECONDLY_ROLLING", "message": "ten"},
     errors.RateLimitedError, RETRY),
    (429, {"errorType": "RATE_LIMIT", "policyName": "SECONDLY", "message": "secondly"},
     errors.RateLimitedError, RETRY),
    (429, {"errorType": "RATE_LIMIT", "policyName": "DAILY", "message": "daily"},
     errors.RateLimitedError, GIVE_UP),
    (500, {"message": "boom"}, errors.ServerError, RETRY),
    (502, "<html>bad gateway</html>", errors.ServerError, RETRY),
    (503, None, errors.ServerError, RETRY),
    (504, None, errors.ServerError, RETRY),
    (524, None, errors.ServerError, RETRY),
    (423, {"message": "locked"}, errors.HubSpotError, RETRY),
    (501, {"message": "not implemented"}, errors.ServerError, GIVE_UP),
    (401, {"category": "INVALID_AUTHENTICATION", "message": "no"}, errors.AuthenticationError, GIVE_UP),
    (403, {"category": "MISSING_SCOPES", "message": "scopes"}, errors.MissingScopesError, GIVE_UP),
    (400, {"category": "VALIDATION_ERROR", "message": "bad"}, errors.ValidationError, RECORD),
    (404, {"category": "OBJECT_NOT_FOUND", "message": "gone"}, errors.NotFoundError, RECORD),
    (409, {"category": "CONFLICT", "message": "dup"}, errors.ConflictError, RECORD),
    # 207 items carry a category and no HTTP status
    (None, {"category": "VALIDATION_ERROR", "message": "bad"}, errors.ValidationError, RECORD),
    (None, {"category": "CONFLICT", "message": "dup"}, errors.ConflictError, RECORD),
    (None, {"category": "OBJECT_NOT_FOUND", "message": "gone"}, errors.NotFoundError, RECORD),
]


@pytest.mark.parametrize("status, body, cls, disposition", CASES,
                         ids=[f"{c[0]}-{c[2].__name__}-{c[3].value}" for c in CASES])
def test_classify(status, body, cls, disposition):
    if status is None and body is None:
        error = errors.NetworkError("the connection dropped", request="POST /x")
    else:
        error = errors.from_body(body, status=status, request="POST /x")
    assert type(error) is cls
    assert errors.classify(error) is disposition


def test_error_carries_hubspot_fields_and_a_message_a_person_can_act_on():
    body = {"status": "error", "message": "Property values were not valid", "correlationId": "c-1",
            "category": "VALIDATION_ERROR", "subCategory": "x", "context": {"propertyName": ["price"]}}
    error = errors.from_body(body, status=400, request="POST /crm/v3/objects/2-1/batch/upsert")
    assert (error.status, error.category, error.message, error.correlation_id, error.sub_category) == (
        400, "VALIDATION_ERROR", "Property values were not valid", "c-1", "x")
    assert error.context == {"propertyName": ["price"]}
    assert str(error) == ("HubSpot rejected the input (POST /crm/v3/objects/2-1/batch/upsert): "
                          "Property values were not valid [HTTP 400, VALIDATION_ERROR, correlation id c-1]")


def test_missing_scopes_names_the_scopes_to_grant_and_exits_3():
    body = {"category": "MISSING_SCOPES", "message": "not granted", "correlationId": "c-2",
            "errors": [{"message": "one of", "context": {"requiredGranularScopes": ["crm.objects.custom.read"]}}]}
    error = errors.from_body(body, status=403)
    assert isinstance(error, PortalError) and error.exit_code == 3
    assert error.required_scopes == ["crm.objects.custom.read"]
    assert "Grant crm.objects.custom.read to the app behind the token" in str(error)


def test_authentication_error_says_what_to_fix_and_exits_3():
    error = errors.from_body({"category": "INVALID_AUTHENTICATION", "message": "nope"}, status=401)
    assert isinstance(error, PortalError) and error.exit_code == 3
    assert "Check HUBSPOT_ACCESS_TOKEN (or --token)" in str(error)


def test_record_level_errors_are_syncer_errors_with_exit_1():
    error = errors.from_body({"category": "VALIDATION_ERROR", "message": "bad"}, status=400)
    assert isinstance(error, SyncerError) and not isinstance(error, PortalError)
    assert error.exit_code == 1


def test_giving_up_says_how_many_attempts():
    error = errors.from_body({"message": "down"}, status=503).after_attempts(4)
    assert "after 4 attempts" in str(error)
