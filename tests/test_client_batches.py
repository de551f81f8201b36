"""Tying batch results to inputs: by trace id, id or unique value, never by position; short answers fail."""

from __future__ import annotations

from syncer.hubspot import batches
from syncer.hubspot.errors import IncompleteResponseError, NotFoundError, ValidationError


def record(id_: str, **properties) -> dict:
    return {"id": id_, "properties": properties, "createdAt": "t", "updatedAt": "t"}


def sent(operation: str, inputs: list[dict], id_property: str | None = None) -> dict[int, dict]:
    return {i: batches.prepare(operation, i, given, id_property) for i, given in enumerate(inputs)}


def test_results_in_any_order_are_matched_by_trace_id():
    inputs = sent("create", [{"properties": {"vin": v}} for v in ("A", "B", "C")])
    body = {"results": [{**record("3", vin="C"), "objectWriteTraceId": "2"},
                        {**record("1", vin="A"), "objectWriteTraceId": "0"},
                        {**record("2", vin="B"), "objectWriteTraceId": "1"}]}
    outcomes = batches.outcomes("create", inputs, body, "POST /x")
    assert [(o.index, o.record.id) for o in outcomes] == [(0, "1"), (1, "2"), (2, "3")]


def test_without_trace_ids_upserts_match_on_the_unique_value_case_folded():
    inputs = sent("upsert", [{"id": "Ann@Example.com", "properties": {}}, {"id": "bo@example.com", "properties": {}}],
                  "email")
    body = {"results": [record("8", email="bo@example.com"), record("7", email="ann@example.com")]}
    outcomes = batches.outcomes("upsert", inputs, body, "POST /x")
    assert [o.record.id for o in outcomes] == ["7", "8"]


def test_item_errors_are_tied_by_trace_id_or_by_ids():
    inputs = sent("update", [{"id": "1", "properties": {}}, {"id": "2", "properties": {}},
                             {"id": "3", "properties": {}}])
    body = {"results": [record("1")], "errors": [
        {"category": "VALIDATION_ERROR", "message": "bad", "context": {"objectWriteTraceId": ["1"]}},
        {"category": "OBJECT_NOT_FOUND", "message": "gone", "context": {"ids": ["3"]}}]}
    outcomes = batches.outcomes("update", inputs, body, "POST /x")
    assert outcomes[0].ok
    assert isinstance(outcomes[1].error, ValidationError) and isinstance(outcomes[2].error, NotFoundError)


def test_an_answer_that_leaves_inputs_out_is_a_failure_for_them():
    inputs = sent("update", [{"id": "1", "properties": {}}, {"id": "2", "properties": {}}])
    for body in ({"status": "COMPLETE", "results": [record("2")]}, {"status": "COMPLETE", "results": []}):
        outcomes = batches.outcomes("update", inputs, body, "POST /x")
        assert [type(o.error) for o in outcomes if not o.ok] == [IncompleteResponseError] * (2 - len(body["results"]))
        assert outcomes[0].error is not None and "in neither results nor errors" in str(outcomes[0].error)
