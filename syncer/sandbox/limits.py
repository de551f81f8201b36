"""Rate limits as HubSpot applies them (reference §6): a rolling 10-second window per token, a
daily count, and a separate per-second limit on search."""

from __future__ import annotations

import threading
import time
from collections import deque

from syncer.sandbox import behaviour


class RollingWindow:
    """At most `limit` requests in any `interval` seconds."""

    def __init__(self, limit: int, interval: float) -> None:
        self.limit = limit
        self.interval = interval
        self._times: deque[float] = deque()

    def admit(self, now: float) -> bool:
        while self._times and self._times[0] <= now - self.interval:
            self._times.popleft()
        if len(self._times) >= self.limit:
            return False
        self._times.append(now)
        return True

    def remaining(self, now: float) -> int:
        while self._times and self._times[0] <= now - self.interval:
            self._times.popleft()
        return max(0, self.limit - len(self._times))


class Verdict:
    """What the limiter decided: `policy` is None when the request may proceed."""

    def __init__(self, policy: str | None, headers: dict[str, str]) -> None:
        self.policy = policy
        self.headers = headers


class RateLimits:
    def __init__(self, ten_secondly: int = behaviour.TEN_SECONDLY_LIMIT,
                 search_per_second: int = behaviour.SEARCH_PER_SECOND) -> None:
        self.ten_secondly = ten_secondly
        self.search_per_second = search_per_second
        self._windows: dict[str, RollingWindow] = {}
        self._search = RollingWindow(search_per_second, 1.0)  # per account, not per token
        self._daily_used = 0
        self._lock = threading.Lock()

    def set_limit(self, token: str, limit: int) -> None:
        with self._lock:
            self.ten_secondly = limit
            self._windows[token] = RollingWindow(limit, behaviour.INTERVAL_MS / 1000)

    def check(self, token: str, search: bool) -> Verdict:
        now = time.monotonic()
        with self._lock:
            window = self._windows.setdefault(
                token, RollingWindow(self.ten_secondly, behaviour.INTERVAL_MS / 1000))
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
            headers = {} if search else self._headers(window, now)
        return Verdict(policy, headers)

    def _headers(self, window: RollingWindow, now: float) -> dict[str, str]:
        prefix = "X-HubSpot-RateLimit-"
        return {f"{prefix}Max": str(window.limit), f"{prefix}Remaining": str(window.remaining(now)),
                f"{prefix}Interval-Milliseconds": str(behaviour.INTERVAL_MS),
                f"{prefix}Daily": str(behaviour.DAILY_LIMIT),
                f"{prefix}Daily-Remaining": str(max(0, behaviour.DAILY_LIMIT - self._daily_used))}
