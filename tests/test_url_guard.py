"""The base URL check (syncer/hubspot/urls.py): one check, on the URL requests will send to, read as
urllib3 reads it. Plain http only to loopback; user information, backslashes and anything URL
parsers could read two ways are refused (exit 2), and no request ever goes to another host."""

from __future__ import annotations

import socket
import threading
from urllib.parse import urlsplit

import pytest
import requests
from click.testing import CliRunner
from hypothesis import given, settings, strategies as st
from urllib3.util import parse_url

from syncer.cli import cli
from syncer.errors import InputError, PortalError
from syncer.hubspot import HubSpotClient
from syncer.hubspot.errors import AuthenticationError
from syncer.hubspot.urls import check_base_url
from syncer.settings import resolve_target

TOKEN = "pat-na1-0123abcd-SECRET-9876"


# --- the corpus -----------------------------------------------------------------------------------

REFUSED = {
    # the reproduction of issue #12: urlsplit reads host 127.0.0.1, urllib3 (so requests) 127.1:5555
    "backslash-userinfo": (r"http://127.1:5555\@127.0.0.1:9", "backslash"),
    "backslash-to-remote": (r"http://evil.example\@127.0.0.1:9", "backslash"),
    "backslash-path": (r"http://127.0.0.1:9\path", "backslash"),
    "userinfo": ("http://user:pw@127.0.0.1:9", "user information"),
    "userinfo-https": ("https://user@api.hubapi.com", "user information"),
    "userinfo-remote-host": ("http://127.0.0.1:9@evil.example", "user information"),
    "fragment-at": ("http://127.0.0.1:9#@evil.example", "query or a fragment"),
    "query-at": ("http://127.0.0.1:9?@evil.example", "query or a fragment"),
    "shorthand-127.1": ("http://127.1:9", "shorthand IPv4"),
    "shorthand-https": ("https://127.1", "shorthand IPv4"),
    "hex-ipv4": ("http://0x7f.1:9", "shorthand IPv4"),
    "octal-ipv4": ("http://0177.0.0.1:9", "shorthand IPv4"),
    "integer-ipv4": ("http://2130706433:9", "shorthand IPv4"),
    "trailing-dot-ip": ("http://127.0.0.1.:9", "shorthand IPv4"),
    "trailing-dot-localhost": ("http://localhost.:9", "is not https"),
    "ipv4-mapped-ipv6": ("http://[::ffff:127.0.0.1]:9", "is not https"),
    "link-local-ipv6": ("http://[fe80::1]:9", "is not https"),
    "ipv6-zone": ("http://[::1%25lo]:9", "percent-encoded"),
    "percent-host": ("http://%6c%6fcalhost:9", "percent-encoded"),
    "percent-nul-host": ("http://localhost%00.evil.example:9", "percent-encoded"),
    "localhost-subdomain": ("http://localhost.example.com", "is not https"),
    "nip-io": ("http://127.0.0.1.nip.io", "is not https"),
    "plain-http-remote": ("http://api.hubapi.com", "is not https"),
    "private-address": ("http://10.0.0.5:80", "is not https"),
    "mixed-case-remote": ("HtTp://API.HubAPI.com", "is not https"),
    "leading-space": (" http://localhost:9", "whitespace"),
    "trailing-newline": ("http://localhost:9\n", "whitespace"),
    "tab-in-host": ("http://localhost\t:9", "whitespace"),
    "space-in-host": ("http://local host:9", "whitespace"),
    "non-ascii-host": ("http://ｌocalhost:9", "outside ASCII"),
    "port-too-big": ("http://localhost:99999", "not a valid URL"),
    "two-ports": ("http://localhost:9:10", "not a valid URL"),
    "unclosed-ipv6": ("https://[::1", "not a valid URL"),
    "no-host": ("http://:80", "not a valid URL"),
    "no-slashes": ("http:localhost:9", "not an http(s) URL"),
    "three-slashes": ("http:///localhost:9", "not an http(s) URL"),
    "scheme-relative": ("//localhost:9", "not an http(s) URL"),
    "ftp": ("ftp://api.hubapi.com", "not an http(s) URL"),
    "nonsense": ("nonsense", "not an http(s) URL"),
}

ACCEPTED = {
    "hubspot": ("https://api.hubapi.com", "https://api.hubapi.com"),
    "hubspot-slash": ("https://api.hubapi.com/", "https://api.hubapi.com"),
    "mixed-case-https": ("HTTPS://API.HubAPI.com/", "https://api.hubapi.com"),
    "https-path": ("https://proxy.example.com/hubspot/", "https://proxy.example.com/hubspot"),
    "https-fqdn-dot": ("https://api.hubapi.com./", "https://api.hubapi.com."),
    "loopback-ip": ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
    "loopback-range": ("http://127.255.3.4:9", "http://127.255.3.4:9"),
    "localhost": ("http://localhost:9", "http://localhost:9"),
    "mixed-case-localhost": ("HtTp://LocalHost:9/", "http://localhost:9"),
    "ipv6-loopback": ("http://[::1]:9", "http://[::1]:9"),
    "ipv6-loopback-long": ("http://[0:0:0:0:0:0:0:1]:9", "http://[0:0:0:0:0:0:0:1]:9"),
}


@pytest.mark.parametrize("url, why", REFUSED.values(), ids=REFUSED.keys())
def test_a_url_that_could_reach_another_host_or_go_in_clear_text_is_refused(url, why):
    with pytest.raises(InputError) as refused:
        check_base_url(url)
    assert refused.value.exit_code == 2
    assert str(refused.value).startswith("base URL ") and why in str(refused.value)


@pytest.mark.parametrize("url, sent", ACCEPTED.values(), ids=ACCEPTED.keys())
def test_https_hosts_and_loopback_over_http_are_accepted_as_requests_will_send_them(url, sent):
    assert check_base_url(url) == sent
    assert resolve_target(url, "t", environ={}).base_url == sent


# Pieces that URL parsers are known to disagree on, put together at random.
_PIECES = st.sampled_from(["http://", "https://", "HTTP://", "127.0.0.1", "127.1", "localhost", "[::1]",
                           "evil.example", ":9", ":", "@", "\\", "/", "//", "%2e", "%40", ".", "?", "#", " ",
                           "[", "]", "0x7f", "::ffff:", "a"])


@settings(max_examples=400, deadline=None)
@given(st.lists(_PIECES, min_size=1, max_size=8).map("".join))
def test_an_accepted_url_names_the_same_host_to_every_parser_and_is_https_or_loopback(url):
    try:
        sent = check_base_url(url)
    except InputError:
        return
    connect = parse_url(sent)  # where urllib3, under requests, connects
    prepared = requests.Request("GET", sent + "/crm/v3/schemas").prepare()
    assert parse_url(prepared.url).host == connect.host
    assert (urlsplit(sent).hostname or "") == connect.host.strip("[]")
    assert "@" not in sent and "\\" not in sent
    if connect.scheme == "http":
        assert connect.host in {"localhost", "[::1]", "[0:0:0:0:0:0:0:1]"} or connect.host.startswith("127.")


# --- the CLI: exit 2, a message without the token -------------------------------------------------


@pytest.mark.parametrize("url", [r"http://127.1:5555\@127.0.0.1:9", "http://api.hubapi.com",
                                 f"http://x:{TOKEN}@127.0.0.1:9", "http://127.1:9"],
                         ids=["reproduction", "clear-text", "token-as-userinfo", "shorthand"])
def test_the_cli_refuses_with_exit_2_and_never_shows_the_token(url, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for args, env in ((["--base-url", url, "--token", TOKEN], {}),
                      ([], {"HUBSPOT_BASE_URL": url, "HUBSPOT_ACCESS_TOKEN": TOKEN})):
        result = CliRunner().invoke(cli, ["info", *args], env=env)
        assert result.exit_code == 2, result.output
        assert result.output.startswith("Error: base URL ")
        assert TOKEN not in result.output


# --- a real listener: what reaches it --------------------------------------------------------------


class Listener:
    """A plain TCP server on loopback, in a thread, that records each request's head and answers
    `reply`. It stops by itself: on the STOP line `stop()` sends, or 10 s without a connection."""

    STOP = b"STOP\r\n\r\n"

    def __init__(self, reply: bytes) -> None:
        self.reply = reply
        self.received: list[bytes] = []
        self.server = socket.create_server(("127.0.0.1", 0))
        self.server.settimeout(10)
        self.port = self.server.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        with self.server:
            while True:
                try:
                    connection, _ = self.server.accept()
                except OSError:  # the timeout: nobody came
                    return
                with connection:
                    connection.settimeout(5)
                    head = b""
                    while b"\r\n\r\n" not in head:
                        try:
                            chunk = connection.recv(4096)
                        except OSError:
                            break
                        if not chunk:
                            break
                        head += chunk
                    if head == self.STOP:
                        return
                    self.received.append(head)
                    connection.sendall(self.reply)

    def stop(self) -> list[bytes]:
        """Everything that arrived before now: connections are accepted in order, STOP last."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as connection:
            connection.sendall(self.STOP)
        self.thread.join(10)
        assert not self.thread.is_alive()
        return self.received


def _answer(status: str, headers: str = "", body: bytes = b"") -> bytes:
    return (f"HTTP/1.1 {status}\r\n{headers}Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            "Connection: close\r\n\r\n").encode() + body


UNAUTHORIZED = _answer("401 Unauthorized", body=b'{"status":"error","category":"INVALID_AUTHENTICATION",'
                                                 b'"message":"Authentication credentials not found."}')


def test_the_listener_does_catch_a_token_sent_to_it():
    """The control: a request the check allows reaches the listener, token and all."""
    listener = Listener(UNAUTHORIZED)
    with HubSpotClient(f"http://127.0.0.1:{listener.port}", TOKEN, max_attempts=1) as client:
        with pytest.raises(AuthenticationError):
            client.properties("0-1")
    received = listener.stop()
    assert len(received) == 1 and f"Bearer {TOKEN}".encode() in received[0]


def test_the_reproduction_sends_nothing_to_the_host_requests_would_have_used(tmp_path, monkeypatch):
    """Issue #12: `http://127.1:P\\@127.0.0.1:9` passed a check that read host 127.0.0.1, and requests
    sent the bearer token to 127.1:P in clear text. Now it is refused before any connection."""
    monkeypatch.chdir(tmp_path)
    listener = Listener(UNAUTHORIZED)
    url = rf"http://127.1:{listener.port}\@127.0.0.1:9"
    result = CliRunner().invoke(cli, ["info", "--base-url", url, "--token", TOKEN])
    assert listener.stop() == []  # before the fix: one request, with `Authorization: Bearer <token>`
    assert result.exit_code == 2 and "backslash" in result.output and TOKEN not in result.output
    with pytest.raises(InputError, match="backslash"):  # the Python API refuses it too
        HubSpotClient(url, TOKEN, max_attempts=1)


def test_a_redirect_to_another_origin_is_not_followed():
    """Transport sends to the checked origin only: a 307 elsewhere ends the run (exit 3), and the
    other host sees no request, with the token or without."""
    elsewhere = Listener(UNAUTHORIZED)
    portal = Listener(_answer("307 Temporary Redirect",
                              f"Location: http://127.0.0.1:{elsewhere.port}/crm/v3/properties/0-1\r\n"))
    with HubSpotClient(f"http://127.0.0.1:{portal.port}", TOKEN, max_attempts=1) as client:
        with pytest.raises(PortalError) as refused:
            client.properties("0-1")
    assert len(portal.stop()) == 1 and elsewhere.stop() == []
    assert refused.value.exit_code == 3
    assert f"127.0.0.1:{elsewhere.port}" in str(refused.value) and TOKEN not in str(refused.value)
