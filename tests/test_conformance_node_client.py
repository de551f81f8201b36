"""The sandbox driven by HubSpot's official Node client (@hubspot/api-client, pinned in
tests/node/package.json): tests/node/conformance.mjs lists schemas and properties, creates, reads,
batch-creates, batch-reads and searches cars records, provokes error answers and links a car to a
contact with associations v4, then prints one JSON object of what the client saw. The client builds
its requests from HubSpot's API definitions and deserializes every answer into its models, so a
request the sandbox misreads, or an answer the Node client cannot take, fails here, as
test_conformance_hubspot_client.py does for the Python client.

Needs node on PATH and the client installed: `npm ci --prefix tests/node`; skipped otherwise.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from syncer.sandbox import Sandbox

NODE_DIR = Path(__file__).parent / "node"
SCRIPT = NODE_DIR / "conformance.mjs"
CLIENT = NODE_DIR / "node_modules" / "@hubspot" / "api-client"
CARS = "2-3465404"


def node_or_skip() -> str:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not on PATH; install Node.js (18 or later), then `npm ci --prefix tests/node`")
    if not CLIENT.is_dir():
        pytest.skip("HubSpot's Node client is not installed; run `npm ci --prefix tests/node` "
                    "(or `npm install --prefix tests/node`)")
    return node


@pytest.fixture(scope="module")
def seen():
    """The facts the Node client saw, and the sandbox it saw them from."""
    node = node_or_skip()
    with Sandbox() as sandbox:
        run = subprocess.run([node, str(SCRIPT), sandbox.base_url, sandbox.token],
                             capture_output=True, text=True, timeout=60)
        assert run.returncode == 0, f"conformance.mjs failed ({run.returncode}):\n{run.stdout}\n{run.stderr}"
        return json.loads(run.stdout), sandbox.portal_id


def test_schemas_and_properties(seen):
    facts, portal_id = seen
    assert facts["schema"] == {"objectTypeId": CARS, "fullyQualifiedName": f"p{portal_id}_cars",
                               "pluralLabel": "Cars", "createdAtIsDate": True}
    assert facts["schemaById"] == CARS
    found = facts["properties"]
    assert {"vin", "make", "model", "year", "price", "color", "hs_object_id"} <= set(found["names"])
    assert found["vinUnique"] is True and found["priceType"] == "number"
    assert found["colorType"] == "enumeration" and found["colorOptions"] > 0


def test_one_record(seen):
    facts, _ = seen
    assert facts["created"] == {"vin": "NODE1", "price": "52000", "datesParsed": True, "readByVinSameId": True,
                                "readColor": "red", "readMake": None}


def test_batch_create_and_read_by_vin(seen):
    facts, _ = seen
    assert facts["batchCreate"] == {"status": "COMPLETE", "vins": ["NODE2", "NODE3"], "datesParsed": True}
    assert facts["batchRead"] == {"status": "COMPLETE", "sameIds": True, "vins": ["NODE2", "NODE3"],
                                  "prices": {"NODE2": "10", "NODE3": "20"}, "numErrors": 1,
                                  "errorCategory": "OBJECT_NOT_FOUND", "errorIds": ["MISSING"]}


def test_search_filter_sort_and_paging(seen):
    facts, _ = seen
    # year >= 2020 among NODE1 (2019), NODE2 (2021), NODE3 (2023), newest first, one a page
    assert facts["searchTotal"] == 2
    assert facts["search"] == {"total": 2, "firstVin": "NODE3", "nextAfter": "1", "secondVin": "NODE2",
                               "secondHasNext": False}


def test_error_answers(seen):
    facts, _ = seen
    assert facts["errorStatus"] == 400 and facts["errorCategory"] == "VALIDATION_ERROR"
    assert facts["unknownProperty"] == {"status": 400, "category": "VALIDATION_ERROR", "hasMessage": True,
                                        "hasCorrelationId": True, "errorCodes": ["PROPERTY_DOESNT_EXIST"],
                                        "propertyNames": ["nope"]}
    for name, status, category in [("missingRecord", 404, "OBJECT_NOT_FOUND"),
                                   ("duplicateProperty", 409, "OBJECT_ALREADY_EXISTS")]:
        error = facts[name]
        assert (error["status"], error["category"]) == (status, category), name
        assert error["hasMessage"] and error["hasCorrelationId"], name


def test_associations_v4_batch(seen):
    facts, _ = seen
    linked = facts["associations"]
    assert linked["createStatus"] == "COMPLETE"
    assert linked["createdTo"] == linked["contact"] and linked["createdLabels"] == ["Car owner"]
    assert linked["readTo"] == [linked["contact"]] and "Car owner" in linked["readLabels"]
    # the second car has no associations: no result, one OBJECT_NOT_FOUND item (variant "item")
    assert linked["readResults"] == 1
    assert linked["numErrors"] == 1 and linked["errorCategory"] == "OBJECT_NOT_FOUND"
