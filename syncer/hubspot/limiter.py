"""One rate limiter shared by every thread of a client, sized from the portal's own headers.

HubSpot counts requests in a rolling window (TEN_SECONDLY_ROLLING) at the moment it receives them,
which lies somewhere between our send and our receipt of the answer. So a request occupies a slot
from the moment it is sent until one full interval after its answer came back: then no window the
portal can see ever holds more than the limit, whatever the latency. The cost is one round trip per
interval, about 1 % of throughput.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from contextlib import contextmanager
from typing import Iterator, Mapping

from syncer.hubspot.models import RateLimit

HEADER = "X-HubSpot-RateLimit-"
log = logging.getLogger("syncer.hubspot")


class RollingWindow:
    """At most `limit` requests in any `interval` seconds, counted as the portal counts them."""

    def __init__(self, limit: int, interval: float, *, probe_first: bool = False) -> None:
        self.limit = limit
        self.interval = interval
        self._answered: deque[float] = deque()  # when each recent answer came back
        self._in_flight = 0
        self._paused_until = 0.0
        # Before the portal has told us its limit, send one request alone to learn it.
        self._probing = probe_first
        self._cond = threading.Condition()

    def acquire(self) -> None:
        with self._cond:
            while (wait := self._wait(time.monotonic())) != 0:
                self._cond.wait(wait)
            self._in_flight += 1

    def release(self) -> None:
        with self._cond:
            self._in_flight -= 1
            self._answered.append(time.monotonic())
            self._cond.notify_all()

    def _wait(self, now: float) -> float | None:
        """Seconds until a slot may free up (None: until a request in flight is answered), or 0."""
        while self._answered and self._answered[0] + self.interval <= now:
            self._answered.popleft()
        if now < self._paused_until:
            return self._paused_until - now
        if self._probing and self._in_flight:
            return None
        if self._in_flight + len(self._answered) < self.limit:
            return 0
        return self._answered[0] + self.interval - now if self._answered else None

    def resize(self, limit: int, interval: float) -> None:
        with self._cond:
            self.limit, self.interval, self._probing = max(1, limit), interval, False
            self._cond.notify_all()

    def learned(self) -> None:
        """The portal has answered once: stop sending one request at a time."""
        with self._cond:
            self._probing = False
            self._cond.notify_all()

    def pause(self, seconds: float) -> None:
        """Hold every thread for `seconds` (after a 429: the portal says the window is full)."""
        with self._cond:
            self._paused_until = max(self._paused_until, time.monotonic() + seconds)

    def absorb(self, used_by_portal: int) -> None:
        """Count requests the portal saw from elsewhere (another process on the same token)."""
        with self._cond:
            unseen = used_by_portal - self._in_flight - len(self._answered)
            now = time.monotonic()
            self._answered.extend([now] * max(0, unseen))


class RateLimiter:
    """The portal-wide window plus HubSpot's separate, lower limit on search requests."""

    def __init__(self, default: tuple[int, int] = (100, 10_000),
                 search: tuple[int, int] = (5, 1_000)) -> None:
        self.general = RollingWindow(default[0], default[1] / 1000, probe_first=True)
        self.search = RollingWindow(search[0], search[1] / 1000)
        self.rate_limit: RateLimit | None = None

    @contextmanager
    def slot(self, *, search: bool = False) -> Iterator[None]:
        """Hold a slot for one request: wait for room, send inside the block, free it after."""
        windows = [self.search, self.general] if search else [self.general]
        for window in windows:
            window.acquire()
        try:
            yield
        finally:
            for window in windows:
                window.release()

    def observe(self, headers: Mapping[str, str]) -> None:
        """Resize from the rate-limit headers of a response (search responses carry none)."""
        self.general.learned()
        limit = header_int(headers.get(HEADER + "Max"))
        interval_ms = header_int(headers.get(HEADER + "Interval-Milliseconds"))
        remaining = header_int(headers.get(HEADER + "Remaining"))
        daily, daily_left = header_int(headers.get(HEADER + "Daily")), header_int(headers.get(HEADER + "Daily-Remaining"))
        if limit is None and daily is None:
            return
        self.rate_limit = RateLimit(limit, interval_ms, remaining, daily, daily_left)
        if limit is not None:
            interval = (interval_ms or self.general.interval * 1000) / 1000
            if (limit, interval) != (self.general.limit, self.general.interval):
                log.info("rate limit from the portal's headers: %d requests per %g s%s", limit, interval,
                         f", daily {daily:,} ({daily_left:,} left)" if daily and daily_left is not None else "")
                self.general.resize(limit, interval)
            if remaining is not None:
                self.general.absorb(limit - remaining)

    def pause(self, seconds: float, *, search: bool = False) -> None:
        (self.search if search else self.general).pause(seconds)


def header_int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None
