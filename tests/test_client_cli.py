"""`syncer info`, the portal launcher, and the token kept out of every log line, error and repr."""

from __future__ import annotations

import logging

import pytest
from click.testing import CliRunner

from syncer.cli import cli
from syncer.hubspot import HubSpotClient
from syncer.hubspot.errors import AuthenticationError, MissingScopesError

SECRET = "pat-na1-0f1e2d3c-SECRET-4b5a"


@pytest.fixture
def secret_portal():
    from syncer.sandbox import Sandbox

    with Sandbox(token=SECRET, extra_tokens={"pat-na1-LIMITED": {"crm.objects.contacts.read"}}) as portal:
        yield portal


def run(*args: str, env: dict | None = None):
    return CliRunner().invoke(cli, list(args), env={"HUBSPOT_ACCESS_TOKEN": None, "HUBSPOT_BASE_URL": None,
                                                     **(env or {})})


def test_info_shows_portal_rate_limit_tier_and_object_types(sandbox):
    result = run("info", "--base-url", sandbox.base_url, "--token", sandbox.token)
    assert result.exit_code == 0, result.output
    assert f"Portal:       portal {sandbox.portal_id} at {sandbox.base_url}" in result.output
    assert "Rate limit:   190 requests per 10 s" in result.output
    assert "2-3465404" in result.output and f"p{sandbox.portal_id}_cars" in result.output


def test_info_reads_the_target_from_the_environment(sandbox):
    result = run("info", env={"HUBSPOT_BASE_URL": sandbox.base_url, "HUBSPOT_ACCESS_TOKEN": sandbox.token})
    assert result.exit_code == 0 and "2-3465404" in result.output


def test_info_with_a_wrong_token_exits_3_and_says_what_to_fix(sandbox):
    result = run("info", "--base-url", sandbox.base_url, "--token", "pat-na1-WRONG")
    assert result.exit_code == 3
    assert result.stderr.startswith("Error: HubSpot did not accept the access token")
    assert "Check HUBSPOT_ACCESS_TOKEN (or --token)" in result.stderr
    assert "pat-na1-WRONG" not in result.output + result.stderr


def test_info_with_a_missing_scope_exits_3_and_names_the_scope(secret_portal):
    result = run("info", "--base-url", secret_portal.base_url, "--token", "pat-na1-LIMITED")
    assert result.exit_code == 3
    assert "Error: The access token is missing a scope this call needs" in result.stderr
    assert "Grant one of crm.schemas.custom.read, crm.objects.custom.read" in result.stderr


def test_refuses_plain_http_to_a_remote_host():
    result = run("info", "--base-url", "http://api.hubapi.com", "--token", "t")
    assert result.exit_code == 2 and "is not https" in result.stderr


def test_with_no_target_the_embedded_sandbox_runs_and_says_so(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    first, second = run("info"), run("info")
    for result in (first, second):
        assert result.exit_code == 0, result.output
        assert result.stderr.count("Using the embedded sandbox portal") == 1
        assert "2-3465404" in result.output
    assert (tmp_path / ".syncer" / "sandbox.sqlite").exists()


def test_the_token_never_appears_in_logs_errors_or_reprs(secret_portal, caplog):
    caplog.set_level(logging.DEBUG)
    texts = []
    with HubSpotClient(secret_portal.base_url, SECRET, backoff_base=0.01, max_attempts=2) as client:
        texts += [repr(client), str(client.__dict__)]
        client.batch_upsert("cars", [{"id": "V1", "properties": {"price": "x"}}], id_property="vin")
        secret_portal.set_faults("503:1.0,drop:0.0", seed=1)
        try:
            client.properties("cars")
        except Exception as error:  # noqa: BLE001 - any error text is scanned
            texts += [str(error), repr(error), str(error.__dict__)]
        secret_portal.set_faults("")
        outcomes = client.batch_upsert("cars", [{"id": "V2", "properties": {"year": "soon"}}], id_property="vin")
        texts += [str(o.error) for o in outcomes] + [repr(o) for o in outcomes]
    for wrong in (SECRET[:-1], "pat-na1-LIMITED"):
        with HubSpotClient(secret_portal.base_url, wrong) as client:
            with pytest.raises((AuthenticationError, MissingScopesError)) as caught:
                client.object_type("cars")
            texts += [str(caught.value), repr(caught.value)]
    result = run("info", "--base-url", secret_portal.base_url, "--token", SECRET)
    texts += [result.output, result.stderr, caplog.text]
    assert len(caplog.records) > 3, "nothing was logged: the scan would prove nothing"
    assert all(SECRET not in text and SECRET[:-1] not in text for text in texts)
