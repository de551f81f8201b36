"""Retries, giving up, rate limiting and bisection, driven by the sandbox's fault injection."""

from __future__ import annotations

import pytest

from syncer.hubspot import HubSpotClient, Retrying
from syncer.hubspot.errors import NetworkError, ServerError, ValidationError

from tests.test_client_calls import cars


def quick_client(portal, **options) -> HubSpotClient:
    settings = {"backoff_base": 0.02, "max_retry_time": 60, "max_attempts": 8, **options}
    return HubSpotClient(portal.base_url, portal.token, **settings)


@pytest.mark.parametrize("fault", ["429", "500", "502", "503", "504", "drop", "slow"])
def test_every_fault_kind_is_retried_until_the_batch_lands(sandbox, fault):
    events = []
    with quick_client(sandbox, timeout=0.5, on_event=events.append) as client:
        client.object_type("cars")
        sandbox.set_faults(f"{fault}:0.3", seed=3)
        outcomes = client.batch_upsert("cars", cars(600), id_property="vin")
        reads = client.batch_read("cars", [f"VIN{n:06d}" for n in range(600)], id_property="vin",
                                  properties=["price"])
        sandbox.set_faults("")
    assert all(o.ok for o in outcomes), [str(o.error) for o in outcomes if not o.ok][:2]
    assert {k: r.properties["price"] for k, r in reads.items()} == {
        f"VIN{n:06d}": str(10_000 + n) for n in range(600)}
    assert any(isinstance(e, Retrying) for e in events), "the fault never struck: the test proves nothing"


def test_gives_up_cleanly_when_faults_never_stop(sandbox):
    with quick_client(sandbox, max_attempts=3) as client:
        client.object_type("cars")
        sandbox.set_faults("503:1.0", seed=1)
        outcomes = client.batch_upsert("cars", cars(250), id_property="vin")
        with pytest.raises(ServerError, match="after 3 attempts"):
            client.batch_read("cars", ["VIN000001"], id_property="vin")
    assert len(outcomes) == 250 and all(isinstance(o.error, ServerError) for o in outcomes)
    # the first chunk to give up halts the rest: at most 3 chunks x 3 attempts, no endless retrying
    assert client.calls <= 1 + 3 * 3 + 3


def test_a_plain_create_is_not_resent_after_it_may_have_landed(sandbox):
    with quick_client(sandbox) as client:
        client.object_type("cars")
        sandbox.set_faults("503:1.0", seed=1)
        outcomes = client.batch_create("cars", [{"properties": {"vin": "ONCE"}}])
        sandbox.set_faults("")
    assert isinstance(outcomes[0].error, ServerError) and outcomes[0].error.attempts == 1
    assert client.calls == 2


def test_gives_up_on_a_dead_portal_as_a_network_error():
    with HubSpotClient("http://127.0.0.1:9", "t", max_attempts=2, backoff_base=0.01) as client:
        with pytest.raises(NetworkError, match="Could not reach the portal") as caught:
            client.object_type("cars")
    assert caught.value.exit_code == 3


@pytest.mark.slow  # one full 10-second window must pass
def test_a_low_rate_limit_is_never_exceeded(sandbox):
    sandbox.set_rate_limit(12)
    with quick_client(sandbox, default_rate_limit=(100, 10_000)) as client:
        client.object_type("cars")
        sandbox.clear_log()
        outcomes = client.batch_upsert("cars", cars(1500), id_property="vin")
    assert all(o.ok for o in outcomes)
    statuses = [entry.status for entry in sandbox.request_log]
    assert len(statuses) == 15 and 429 not in statuses


def test_search_limit_is_kept(sandbox):
    with quick_client(sandbox) as client:
        client.batch_upsert("cars", cars(30), id_property="vin")
        sandbox.clear_log()
        for _ in range(8):  # more than the 5 a second allowed
            assert len(list(client.search("cars", filters=[{"propertyName": "vin", "operator": "HAS_PROPERTY"}]))) >= 30
    assert 429 not in [entry.status for entry in sandbox.request_log]


@pytest.mark.parametrize("bad", [[41], [3, 97], list(range(100))], ids=["1-bad", "2-bad", "100-bad"])
def test_a_rejected_batch_is_split_until_each_bad_input_stands_alone(client, sandbox, bad):
    sandbox.set_rate_limit(1000)  # 100 bad inputs cost 199 calls: more than one default window
    # Upserts by email are all-or-nothing (no per-input 207), so one bad value rejects the batch.
    inputs = [{"id": f"person{n}@example.com", "properties": {"firstname": f"P{n}"}} for n in range(100)]
    for n in bad:
        inputs[n]["properties"]["no_such_property"] = "x"
    outcomes = client.batch_upsert("contacts", inputs, id_property="email")
    assert [o.index for o in outcomes if not o.ok] == bad
    assert all(isinstance(outcomes[n].error, ValidationError) for n in bad)
    assert all("no_such_property" in outcomes[n].error.message for n in bad)
    landed = client.batch_read("contacts", [i["id"] for i in inputs], id_property="email")
    assert set(landed) == {inputs[n]["id"] for n in range(100) if n not in bad}
