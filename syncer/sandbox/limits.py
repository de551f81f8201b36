"""Rate limits as HubSpot applies them (reference §6): a rolling 10-second window per token, a
daily count, and a separate per-second limit on search.

Variants.competing_share is another integration of the same portal, using that share of every
10-second window, of the search limit and of the day's allowance, steadily: its requests are never
seen by the client, only counted in the headers' Remaining and in the 429s. Variants.rate_headers
leaves the X-HubSpot-RateLimit-* headers off some answers, or all.
"""

from __future__ import annotations

import random
import threading
import time
from collections import deque

from syncer.sandbox import behaviour


class RollingWindow:
    """At most `limit` requests in any `interval` seconds, `others` of them another client's."""

    def __init__(self, limit: int, interval: float, others: int = 0) -> None:
        self.limit = limit
        self.interval = interval
        self.others = others
        self._times: deque[float] = deque()

    def admit(self, now: float) -> bool:
        while self._times and self._times[0] <= now - self.interval:
            self._times.popleft()
        if len(self._times) + self.others >= self.limit:
            return False
        self._times.append(now)
        return True

    def remaining(self, now: float) -> int:
        while self._times and self._times[0] <= now - self.interval:
            self._times.popleft()
        return max(0, self.limit - self.others - len(self._times))


class Verdict:
    """What the limiter decided: `policy` is None when the request may proceed."""

    def __init__(self, policy: str | None, headers: dict[str, str]) -> None:
        self.policy = policy
        self.headers = headers


class RateLimits:
    def __init__(self, ten_secondly: int = behaviour.TEN_SECONDLY_LIMIT,
                 search_per_second: int = behaviour.SEARCH_PER_SECOND, *, competing_share: float = 0.0,
                 headers: str = "always", seed: int | None = None) -> None:
        self.ten_secondly = ten_secondly
        self.search_per_second = search_per_second
        self.competing_share = competing_share
        self.headers = headers
        self._random = random.Random(seed)
        self._windows: dict[str, RollingWindow] = {}
        # per account, not per token
        self._search = RollingWindow(search_per_second, 1.0, self._others(search_per_second))
        self._daily_used = self._others(behaviour.DAILY_LIMIT)
        self._lock = threading.Lock()

    def _others(self, limit: int) -> int:
        """The requests the competing integration has in a window of `limit`, leaving at least one."""
        return min(limit - 1, round(limit * self.competing_share))

    def _window(self, limit: int) -> RollingWindow:
        return RollingWindow(limit, behaviour.INTERVAL_MS / 1000, self._others(limit))

    def set_limit(self, token: str, limit: int) -> None:
        with self._lock:
            self.ten_secondly = limit
            self._windows[token] = self._window(limit)

    def check(self, token: str, search: bool) -> Verdict:
        now = time.monotonic()
        with self._lock:
            window = self._windows.setdefault(token, self._window(self.ten_secondly))
            if self._daily_used >= behaviour.DAILY_LIMIT:
                policy = "DAILY"
            elif search and self._search.remaining(now) == 0:
                policy = "SECONDLY"
            elif not window.admit(now):
                policy = "TEN_SECONDLY_ROLLING"
            else:
                policy = None
                self._daily_used += 1
                if search:
                    self._search.admit(now)
            headers = {} if search or not self._sends_headers() else self._headers(window, now)
        return Verdict(policy, headers)

    def _sends_headers(self) -> bool:
        if self.headers == "sometimes":
            return self._random.random() >= behaviour.MISSING_HEADERS_SHARE
        return self.headers == "always"

    def _headers(self, window: RollingWindow, now: float) -> dict[str, str]:
        prefix = "X-HubSpot-RateLimit-"
        return {f"{prefix}Max": str(window.limit), f"{prefix}Remaining": str(window.remaining(now)),
                f"{prefix}Interval-Milliseconds": str(behaviour.INTERVAL_MS),
                f"{prefix}Daily": str(behaviour.DAILY_LIMIT),
                f"{prefix}Daily-Remaining": str(max(0, behaviour.DAILY_LIMIT - self._daily_used))}
