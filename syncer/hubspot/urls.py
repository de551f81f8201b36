"""The one check of a portal's base URL, made on the URL requests will send to, read as urllib3 reads it.

Every request carries the bearer token, so a base URL is refused when its host could be read two
ways (user information, backslashes, whitespace, percent-encoded or shorthand numeric hosts, or
any disagreement between urllib3 and the standard library), and plain http is refused for any host
but loopback: 127.0.0.0/8, [::1] and localhost exactly. Transport then sends to that origin only.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

import requests
from urllib3.exceptions import LocationParseError
from urllib3.util import parse_url

from syncer.errors import InputError

EXAMPLE = "https://api.hubapi.com"
DEFAULT_PORTS = {"http": 80, "https": 443}
_LOOPBACK_V4 = ipaddress.IPv4Network("127.0.0.0/8")
_LOOPBACK_V6 = ipaddress.IPv6Address("::1")
_NUMBER = re.compile(r"[0-9]+|0[xX][0-9a-fA-F]*")  # a label that makes a host an IPv4 address to resolvers

Origin = tuple[str, str, int]


def check_base_url(base_url: str) -> str:
    """The base URL as requests will send to it, without a trailing slash (`HtTp://LocalHost:8/`
    gives `http://localhost:8`). InputError (exit 2) for anything else: see the module's docstring."""
    def refuse(why: str) -> InputError:
        return InputError(f"base URL {_shown(base_url)} {why}")

    if not isinstance(base_url, str) or not base_url.isascii():
        raise refuse("has characters outside ASCII: write the host in its ASCII (xn--) form")
    if any(c.isspace() or not c.isprintable() for c in base_url):
        raise refuse("contains whitespace or control characters")
    if "\\" in base_url:
        raise refuse("contains a backslash, which URL parsers read differently: use / or nothing")
    if "?" in base_url or "#" in base_url:
        raise refuse("has a query or a fragment (? or #); a base URL is scheme://host[:port][/path]")
    if "@" in base_url:
        raise refuse("carries user information (user:password@); pass the token with --token or "
                     "HUBSPOT_ACCESS_TOKEN, never in the URL")
    try:
        split = urlsplit(base_url)
    except ValueError:  # an unclosed [ of an IPv6 host
        raise refuse(f"is not a valid URL, e.g. {EXAMPLE}") from None
    if split.scheme.lower() not in DEFAULT_PORTS or not split.netloc:
        raise refuse(f"is not an http(s) URL, e.g. {EXAMPLE}")
    if "%" in split.netloc:
        raise refuse("has a percent-encoded host: write the host as it is")
    sent = _as_sent(base_url)
    if sent is None:
        raise refuse(f"is not a valid URL (its host or port cannot be read), e.g. {EXAMPLE}")
    if {origin(sent), origin(base_url), _stdlib_origin(split)} != {origin(sent)}:
        raise refuse("is read differently by different URL parsers, so the token could go to another "
                     "host than the one checked")
    scheme, host, _ = origin(sent)
    if _ends_in_number(host) and not _is_ipv4(host):
        raise refuse(f'names the host "{host}", which resolvers read as a shorthand IPv4 address: '
                     "write it as four decimal numbers, e.g. 127.0.0.1")
    if scheme == "http" and not _is_loopback(host):
        raise refuse("is not https: the access token would cross the network in clear text. Use https "
                     "(plain http is allowed only for localhost, 127.x.x.x and [::1])")
    return sent.rstrip("/")


def origin(url: str) -> Origin:
    """(scheme, host, port) as urllib3 reads `url`, which is where requests connects."""
    try:
        parts = parse_url(url)
    except LocationParseError:
        return ("", "", 0)
    scheme = (parts.scheme or "").lower()
    return scheme, _host(parts.host), parts.port or DEFAULT_PORTS.get(scheme, 0)


def shown(where: Origin) -> str:
    scheme, host, port = where
    return f"{scheme}://{f'[{host}]' if ':' in host else host}:{port}"


def path_of(url: str) -> str:
    """The path of `url` alone, for messages: never its query, which may carry anything."""
    try:
        return parse_url(url).path or "/"
    except LocationParseError:
        return "?"


def _as_sent(url: str) -> str | None:
    """`url` as requests prepares it for sending, or None when it cannot."""
    prepared = requests.PreparedRequest()
    try:
        prepared.prepare_url(url, None)
    except (requests.RequestException, LocationParseError, ValueError):
        return None
    return prepared.url


def _stdlib_origin(split) -> Origin:
    try:
        port = split.port
    except ValueError:
        return ("", "", 0)
    scheme = split.scheme.lower()
    return scheme, _host(split.hostname), port or DEFAULT_PORTS.get(scheme, 0)


def _host(host: str | None) -> str:
    return (host or "").strip("[]").lower()


def _ends_in_number(host: str) -> bool:
    """Whether resolvers (and browsers) take `host` for an IPv4 address: its last label is a number."""
    if ":" in host:
        return False
    labels = host.split(".")
    if len(labels) > 1 and labels[-1] == "":
        labels.pop()
    return bool(_NUMBER.fullmatch(labels[-1]))


def _is_ipv4(host: str) -> bool:
    try:
        ipaddress.IPv4Address(host)
    except ValueError:
        return False
    return True


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address in _LOOPBACK_V4 if address.version == 4 else address == _LOOPBACK_V6


def _shown(url) -> str:
    """The URL for a message: quoted, user information masked, cut to 200 characters."""
    text = url if isinstance(url, str) else str(url)
    if "@" in text:
        scheme, sep, rest = text.partition("://")
        text = scheme + sep + "***@" + rest.rpartition("@")[2] if sep else "***@" + text.rpartition("@")[2]
    return repr(text if len(text) <= 200 else text[:200] + "…")
