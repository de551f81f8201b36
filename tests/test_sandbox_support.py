"""Helpers for the sandbox tests: an HTTP client that checks every response it gets against
HubSpot's OpenAPI documents where they cover it, and against the reference where they do not."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import requests
from openapi_core import OpenAPI
from openapi_core.contrib.requests import RequestsOpenAPIRequest, RequestsOpenAPIResponse
from openapi_schema_validator import OAS30Validator

OPENAPI = Path(__file__).resolve().parent / "openapi"  # HubSpot's public OpenAPI documents, vendored
CARS = "/crm/v3/objects/2-3465404"
CONTACTS = "/crm/v3/objects/contacts"
HUBSPOT = "https://api.hubapi.com"


@lru_cache(maxsize=None)
def spec(name: str) -> OpenAPI:
    return OpenAPI.from_file_path(str(OPENAPI / f"hubspot_crm_{name}.oas.json"))


def inlined(components: dict, name: str) -> dict:
    """The component `name` with every `$ref` replaced by what it names, for a plain JSON-schema validator."""

    def inline(node):
        if isinstance(node, dict):
            if "$ref" in node:
                return inline(components[node["$ref"].rsplit("/", 1)[1]])
            return {k: inline(v) for k, v in node.items()}
        if isinstance(node, list):
            return [inline(v) for v in node]
        return node

    return inline(components[name])


@lru_cache(maxsize=None)
def error_schema() -> dict:
    """The `Error` component, to check error bodies (the spec types error responses as `*/*`, so
    openapi-core does not parse them)."""
    components = json.loads((OPENAPI / "hubspot_crm_objects.oas.json").read_text())["components"]["schemas"]
    return inlined(components, "Error")


def spec_for(path: str) -> str | None:
    if path.startswith("/crm/v3/objects/"):
        return None if path.endswith("/batch/upsert") else "objects"  # the 2024 spec has no upsert
    if path.startswith("/crm/v3/properties/"):
        return "properties"
    if path.startswith("/crm/v3/schemas"):
        return "schemas"
    if path.startswith("/crm/v4/associations/"):
        return "crm_associations"
    return None


def check(response: requests.Response, base_url: str) -> None:
    """Fail unless the response has the shape HubSpot documents for it."""
    path = requests.utils.urlparse(response.url).path
    assert response.headers["X-HubSpot-Correlation-Id"]
    if response.status_code == 204:
        assert response.content == b""
        return
    body = response.json()
    if response.status_code == 429:
        assert body["status"] == "error" and body["errorType"] == "RATE_LIMIT" and "category" not in body
        assert body["policyName"] in ("TEN_SECONDLY_ROLLING", "SECONDLY", "DAILY")
        return
    if response.status_code >= 400:
        OAS30Validator(error_schema()).validate(body)
        assert body["status"] == "error"
        return
    if path.endswith("/labels"):  # the spec says label is a string; HubSpot sends null when unlabeled
        for result in body["results"]:
            assert isinstance(result["typeId"], int) and result["category"] in ("HUBSPOT_DEFINED", "USER_DEFINED")
            assert result["label"] is None or isinstance(result["label"], str)
        return
    if path.endswith("/batch/upsert"):
        check_upsert(body, response.status_code)
        return
    if path.endswith("/batch/create") and response.status_code == 200:  # the no-op (§4.1), not in the spec
        assert body["status"] == "COMPLETE" and body["results"] == []
        return
    name = spec_for(path)
    if name:
        request = response.request.copy()
        request.url = request.url.replace(base_url, HUBSPOT)
        spec(name).validate_response(RequestsOpenAPIRequest(request), RequestsOpenAPIResponse(response))


def check_upsert(body: dict, status: int) -> None:
    """BatchResponseSimplePublicUpsertObject(WithErrors), reference §3.1 and §9."""
    assert body["status"] == "COMPLETE" and body["startedAt"] and body["completedAt"]
    for result in body["results"]:
        assert isinstance(result["new"], bool) and isinstance(result["id"], str)
        assert all(v is None or isinstance(v, str) for v in result["properties"].values())
        assert result["createdAt"].endswith("Z") and result["updatedAt"].endswith("Z")
    if status == 207:
        assert body["numErrors"] == len(body["errors"]) > 0


class Client:
    """requests, with the portal's token, checking every response (see `check`)."""

    def __init__(self, portal, token: str | None = None) -> None:
        self.base_url = portal.base_url
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token or portal.token}"

    def request(self, method: str, path: str, **kwargs) -> requests.Response:
        kwargs.setdefault("timeout", 10)
        response = self.session.request(method, self.base_url + path, **kwargs)
        check(response, self.base_url)
        return response

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.request("POST", path, json=body, **kw)

    def patch(self, path, body=None, **kw):
        return self.request("PATCH", path, json=body, **kw)

    def put(self, path, **kw):
        return self.request("PUT", path, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)

    def create_car(self, **properties) -> dict:
        response = self.post(CARS, {"properties": properties})
        assert response.status_code == 201, response.text
        return response.json()

    def close(self) -> None:
        self.session.close()


def car(vin: str, **properties) -> dict:
    return {"vin": vin, **properties}
