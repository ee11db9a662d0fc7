from __future__ import annotations

import json
import re

import pytest
from anthropic._utils._json import openapi_dumps

from llmopt.batching import BatchRequest, fingerprint
from llmopt.batching._requests import batch_body_size, plan_batches, prepare_requests

MODEL = "claude-sonnet-4-6"


def request(text: str = "hello", **params: object) -> BatchRequest:
    body = {"max_tokens": 16, "messages": [{"role": "user", "content": text}], **params}
    return BatchRequest(params=body)


def test_requests_without_a_custom_id_get_unique_valid_ones() -> None:
    prepared = prepare_requests([request(), request(), request()], default_model=MODEL)

    ids = [p.custom_id for p in prepared]
    assert len(set(ids)) == 3
    assert all(re.fullmatch(r"[a-zA-Z0-9_-]{1,64}", i) for i in ids)


def test_assigned_ids_differ_between_calls_so_batches_cannot_be_confused() -> None:
    first = prepare_requests([request()], default_model=MODEL)
    second = prepare_requests([request()], default_model=MODEL)

    assert first[0].custom_id != second[0].custom_id


def test_given_custom_ids_are_kept_and_assigned_ones_avoid_them() -> None:
    prepared = prepare_requests(
        [BatchRequest(request().params, "mine"), request()], default_model=MODEL
    )

    assert prepared[0].custom_id == "mine"
    assert prepared[1].custom_id != "mine"


@pytest.mark.parametrize("bad", ["", "has space", "x" * 65, "dot.ted", "é"])
def test_a_malformed_custom_id_is_rejected(bad: str) -> None:
    with pytest.raises(ValueError, match="custom_id"):
        prepare_requests([BatchRequest(request().params, bad)], default_model=MODEL)


def test_a_custom_id_used_twice_is_rejected() -> None:
    twice = [BatchRequest(request().params, "a"), BatchRequest(request("x").params, "a")]

    with pytest.raises(ValueError, match="more than one request"):
        prepare_requests(twice, default_model=MODEL)


def test_the_default_model_fills_in_and_is_part_of_the_fingerprint() -> None:
    [prepared] = prepare_requests([request()], default_model=MODEL)

    assert prepared.params["model"] == MODEL
    assert prepared.fingerprint == fingerprint({**request().params, "model": MODEL})


def test_a_request_s_own_model_wins_over_the_default() -> None:
    [prepared] = prepare_requests([request(model="claude-haiku-4-5")], default_model=MODEL)

    assert prepared.model == "claude-haiku-4-5"


def test_a_request_without_any_model_is_rejected() -> None:
    with pytest.raises(ValueError, match="no model"):
        prepare_requests([request()], default_model=None)


def test_a_streaming_request_is_rejected() -> None:
    with pytest.raises(ValueError, match="stream"):
        prepare_requests([request(stream=True)], default_model=MODEL)


def test_the_measured_size_is_exactly_what_the_sdk_sends() -> None:
    prepared = prepare_requests(
        [request("ünïcödé " * 5), request(system="be brief"), request()], default_model=MODEL
    )

    sent = openapi_dumps({"requests": [p.as_batch_item() for p in prepared]})
    assert batch_body_size(prepared) == len(sent)
    assert [p.size for p in prepared] == [len(openapi_dumps(p.as_batch_item())) for p in prepared]


def test_requests_over_the_count_limit_are_split_in_input_order() -> None:
    prepared = prepare_requests([request(str(i)) for i in range(7)], default_model=MODEL)

    plan = plan_batches(prepared, max_requests=3, max_bytes=None)

    assert [[p.index for p in batch] for batch in plan.batches] == [[0, 1, 2], [3, 4, 5], [6]]
    assert plan.oversized == []


def test_requests_over_the_byte_limit_are_split_and_every_batch_fits() -> None:
    prepared = prepare_requests([request("word " * 50) for _ in range(10)], default_model=MODEL)
    limit = batch_body_size(prepared[:3])

    plan = plan_batches(prepared, max_requests=100, max_bytes=limit)

    assert [len(batch) for batch in plan.batches] == [3, 3, 3, 1]
    assert all(
        len(openapi_dumps({"requests": [p.as_batch_item() for p in b]})) <= limit
        for b in plan.batches
    )


def test_each_batch_holds_one_model() -> None:
    mixed = [request(), request(model="claude-haiku-4-5"), request("again")]
    prepared = prepare_requests(mixed, default_model=MODEL)

    plan = plan_batches(prepared, max_requests=100, max_bytes=None)

    assert [[p.index for p in batch] for batch in plan.batches] == [[0, 2], [1]]


def test_a_request_too_big_for_any_batch_is_set_apart() -> None:
    prepared = prepare_requests([request("x " * 500), request()], default_model=MODEL)

    plan = plan_batches(prepared, max_requests=10, max_bytes=batch_body_size(prepared[1:]))

    assert [p.index for p in plan.oversized] == [0]
    assert [[p.index for p in batch] for batch in plan.batches] == [[1]]


def test_the_batch_item_is_the_request_body_with_its_id() -> None:
    [prepared] = prepare_requests([BatchRequest(request().params, "id-1")], default_model=MODEL)

    assert json.loads(openapi_dumps(prepared.as_batch_item())) == {
        "custom_id": "id-1",
        "params": {**request().params, "model": MODEL},
    }
