"""Sending one request: the session, the token, the limiter, the retries. Returns parsed JSON.

Retries cover 429 (honouring Retry-After, else the policy's window), 423, 5xx gateway errors,
timeouts and dropped connections, with exponential backoff and jitter, bounded both in attempts and
in total time. A request that is not idempotent (a plain create) is resent only when the portal
certainly did not act on it: after a 429 or a failed connect.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Mapping

import requests
from requests.adapters import HTTPAdapter

from syncer import __version__
from syncer.errors import PortalError
from syncer.hubspot import errors, urls
from syncer.hubspot.errors import Disposition, HubSpotError, NetworkError, RateLimitedError
from syncer.hubspot.limiter import HEADER, RateLimiter, header_int
from syncer.hubspot.models import RequestSent, Retrying

log = logging.getLogger("syncer.hubspot")


class BearerToken(requests.auth.AuthBase):
    """The only holder of the access token; it shows as *** anywhere it is printed."""

    def __init__(self, token: str) -> None:
        self._token = token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self._token}"
        return request

    def __repr__(self) -> str:
        return "BearerToken(***)"

    def as_token_key(self) -> dict:
        """The body of HubSpot's access-token-info request, which names the token it asks about."""
        return {"tokenKey": self._token}


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 6
    max_retry_time: float = 120.0  # seconds from the first attempt; no retry starts after it
    backoff_base: float = 0.5  # first backoff; doubles each attempt
    backoff_cap: float = 30.0

    def backoff(self, attempt: int) -> float:
        """Exponential backoff with jitter, so threads that failed together do not retry together."""
        ceiling = min(self.backoff_cap, self.backoff_base * 2 ** (attempt - 1))
        return random.uniform(ceiling / 2, ceiling)


class _OneOrigin(HTTPAdapter):
    """Sends only to the base URL's origin (scheme, host, port as urllib3 reads the URL), so neither
    a redirect nor a path can take a request, token or not, to a host the URL check did not approve."""

    def __init__(self, origin: urls.Origin, **options) -> None:
        self.origin = origin
        super().__init__(**options)

    def send(self, request: requests.PreparedRequest, *args, **kwargs) -> requests.Response:
        target = urls.origin(request.url or "")
        if target != self.origin:
            raise PortalError(f"not sent: {request.method} {urls.path_of(request.url or '')} would go to "
                              f"{urls.shown(target)}, not to the portal at {urls.shown(self.origin)} (a "
                              "redirect?); syncer sends requests only to the base URL's host")
        return super().send(request, *args, **kwargs)


@dataclass(frozen=True)
class Reply:
    status: int
    body: Any
    headers: Mapping[str, str]


class Transport:
    """A requests Session (pooled connections, a timeout on every call) behind the shared limiter."""

    def __init__(self, base_url: str, token: str, *, timeout: float | tuple[float, float],
                 pool_size: int, limiter: RateLimiter, retry: RetryPolicy,
                 on_event: Callable[[object], None] | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.limiter = limiter
        self.retry = retry
        self.on_event = on_event
        self.reached = False  # any answer yet: until one, a failed connect means a wrong or unreachable URL
        self.session = requests.Session()
        self.session.auth = BearerToken(token)
        self.session.trust_env = False  # a .netrc must not replace the bearer token
        self.session.headers.update({"User-Agent": f"syncer/{__version__}", "Accept": "application/json"})
        adapter = _OneOrigin(urls.origin(self.base_url), pool_connections=1, pool_maxsize=pool_size, max_retries=0)
        self.session.mount("https://", adapter)
        self.session.mount("http://", adapter)
        self._calls = 0
        self._calls_lock = threading.Lock()

    @property
    def calls(self) -> int:
        return self._calls

    def close(self) -> None:
        self.session.close()

    def request(self, method: str, path: str, *, params: Mapping[str, Any] | None = None,
                json: Any = None, search: bool = False, idempotent: bool = True) -> Reply:
        """Send until answered, retrying transient failures; raise HubSpotError on a failure."""
        started = time.monotonic()
        for attempt in range(1, self.retry.max_attempts + 1):
            try:
                return self._attempt(method, path, params, json, search, attempt)
            except HubSpotError as error:
                wait = self._retry_wait(error, attempt, started, idempotent)
                if wait is None:
                    raise error.after_attempts(attempt) from None
                self._emit(Retrying(method, path, attempt, wait, error.human_message()))
                log.info("retrying %s %s in %.2fs (attempt %d): %s", method, path, wait, attempt,
                         error.summary)
                if isinstance(error, RateLimitedError):
                    # every thread holds, not just this one; a search's own limit is per second
                    on_search = search and error.policy_name != "TEN_SECONDLY_ROLLING"
                    self.limiter.pause(wait, search=on_search)
                else:
                    time.sleep(wait)
        raise AssertionError("unreachable")  # the last attempt either returns or raises

    def token_info_request(self, path: str) -> Reply:
        """POST `path` with the token as its body's tokenKey (HubSpot's access-token-info): the
        token goes to the portal only, as in the Authorization header, and never into a message."""
        return self.request("POST", path, json=self.session.auth.as_token_key())

    def _attempt(self, method, path, params, body, search, attempt) -> Reply:
        with self.limiter.slot(search=search):
            sent = time.monotonic()
            with self._calls_lock:
                self._calls += 1
            try:
                response = self.session.request(method, self.base_url + path, params=params,
                                                json=body, timeout=self.timeout)
            except _DROPPED as exc:
                self._emit(RequestSent(method, path, None, time.monotonic() - sent, attempt))
                raise _network_error(method, path, exc) from None
            self.limiter.observe(response.headers)
        self.reached = True
        self._emit(RequestSent(method, path, response.status_code, time.monotonic() - sent, attempt))
        log.debug("%s %s -> %d", method, path, response.status_code)
        if response.status_code >= 400:
            raise _http_error(response, f"{method} {path}")
        return Reply(response.status_code, _json(response), response.headers)

    def _retry_wait(self, error: HubSpotError, attempt: int, started: float,
                    idempotent: bool) -> float | None:
        """Seconds to wait before the next attempt, or None to give up now."""
        if errors.classify(error) is not Disposition.RETRY or attempt >= self.retry.max_attempts:
            return None
        if not idempotent and not _certainly_not_acted_on(error):
            return None
        wait = self._rate_limit_wait(error) if isinstance(error, RateLimitedError) else None
        if wait is None:
            wait = self.retry.backoff(attempt)
        # A portal never reached gets one quick retry, not two minutes of them: the URL is wrong, or
        # the network is down, and the user should hear so at once (exit 3).
        patience = UNREACHED_RETRY_TIME if error.connect_failed and not self.reached else self.retry.max_retry_time
        if time.monotonic() - started + wait > patience:
            return None
        return wait

    def _rate_limit_wait(self, error: RateLimitedError) -> float | None:
        """Retry-After when given; else the rest of the policy's window; jitter spreads threads out."""
        if error.retry_after is not None:
            return error.retry_after + random.uniform(0, 0.1)
        if error.policy_name == "SECONDLY" or "secondly limit" in error.message:
            return 1.0 + random.uniform(0, 0.2)
        if error.policy_name == "TEN_SECONDLY_ROLLING" and not error.window_remaining:
            return self.limiter.general.interval + random.uniform(0, 0.5)
        return None

    def _emit(self, event: object) -> None:
        if self.on_event is not None:
            self.on_event(event)


UNREACHED_RETRY_TIME = 2.0  # seconds of retrying a portal that never answered, connect timeouts aside
_DROPPED = (requests.Timeout, requests.ConnectionError, requests.exceptions.ChunkedEncodingError)


def _http_error(response: requests.Response, request: str) -> HubSpotError:
    """The error a non-2xx response stands for, from its body and headers (never the request's)."""
    error = errors.from_body(_json(response), status=response.status_code, request=request,
                             correlation_id=response.headers.get("X-HubSpot-Correlation-Id"))
    error.retry_after = _float(response.headers.get("Retry-After"))
    error.window_remaining = header_int(response.headers.get(HEADER + "Remaining"))
    return error


def _certainly_not_acted_on(error: HubSpotError) -> bool:
    return isinstance(error, RateLimitedError) or error.connect_failed


def _network_error(method: str, path: str, exc: Exception) -> NetworkError:
    # str(exc) is left out on purpose: only our own words, the method and the path reach the text.
    if isinstance(exc, requests.ConnectTimeout):
        reason, connect_failed = "could not connect in time", True
    elif isinstance(exc, requests.Timeout):
        reason, connect_failed = "no answer in time", False
    elif isinstance(exc, requests.exceptions.SSLError):  # the handshake failed: no request was sent
        reason, connect_failed = "its TLS certificate could not be verified for this host", True
    elif _is_connect_failure(exc):
        reason, connect_failed = "connection refused or host not found", True
    else:
        reason, connect_failed = "the connection dropped before an answer came back", False
    error = NetworkError(reason, request=f"{method} {path}")
    error.connect_failed = connect_failed
    return error


def _is_connect_failure(exc: Exception) -> bool:
    import urllib3.exceptions as u3

    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(reason, (u3.NewConnectionError, u3.NameResolutionError))


def _json(response: requests.Response) -> Any:
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        return response.text


def _float(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None
