"""Target resolution: command line > environment > default; plain http only on loopback."""

from __future__ import annotations

import pytest

from syncer.errors import InputError
from syncer.settings import DEFAULT_BASE_URL, Target, resolve_target

ENV = {"HUBSPOT_BASE_URL": "https://env.example.com", "HUBSPOT_ACCESS_TOKEN": "pat-env"}


@pytest.mark.parametrize("cli, environ, expected", [
    ((None, None), {}, None),
    ((None, "pat-cli"), {}, Target(DEFAULT_BASE_URL, "pat-cli")),
    ((None, None), {"HUBSPOT_ACCESS_TOKEN": "pat-env"}, Target(DEFAULT_BASE_URL, "pat-env")),
    ((None, None), ENV, Target("https://env.example.com", "pat-env")),
    (("https://cli.example.com/", "pat-cli"), ENV, Target("https://cli.example.com", "pat-cli")),
    (("http://127.0.0.1:8080", None), {"HUBSPOT_ACCESS_TOKEN": "t"}, Target("http://127.0.0.1:8080", "t")),
    (("http://localhost:1", "t"), {}, Target("http://localhost:1", "t")),
    (("http://[::1]:9", "t"), {}, Target("http://[::1]:9", "t")),
], ids=["nothing-sandbox", "cli-token", "env-token", "env-both", "cli-wins", "loopback-ip",
        "localhost", "ipv6-loopback"])
def test_precedence(cli, environ, expected):
    assert resolve_target(*cli, environ=environ) == expected


@pytest.mark.parametrize("url", ["http://api.hubapi.com", "http://10.0.0.5:80", "ftp://x", "nonsense"])
def test_refuses_clear_text_and_non_http_urls(url):
    with pytest.raises(InputError, match="base URL"):
        resolve_target(url, "t", environ={})


def test_base_url_without_token_is_refused_with_the_fix():
    with pytest.raises(InputError, match="set HUBSPOT_ACCESS_TOKEN or pass --token"):
        resolve_target("https://api.hubapi.com", None, environ={})


def test_repr_hides_the_token():
    assert "pat-secret" not in repr(Target("https://x.example.com", "pat-secret"))
