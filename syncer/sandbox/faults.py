"""Fault injection: `429:0.1,503:0.05,slow:0.02,drop:0.02` answers that share of requests badly.

Kinds: 429 (HubSpot's rate-limit body), 423, 500, 502, 503, 504, `slow` (the answer is held longer
than a client's timeout) and `drop` (the connection is cut mid-response). For a share of faulted
writes (behaviour.FAULT_AFTER_WRITE_SHARE) the write is applied before the fault strikes, as on the
real service. A seed makes the sequence of faults deterministic.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass

from syncer.sandbox import behaviour

KINDS = ("429", "423", "500", "502", "503", "504", "slow", "drop")


class FaultSpecError(ValueError):
    """A --faults spec that cannot be parsed; the message says what is wrong."""


def parse(spec: str) -> dict[str, float]:
    """`"429:0.1,slow:0.02"` → {"429": 0.1, "slow": 0.02}; "" → no faults."""
    rates: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in (spec or "").split(","))):
        kind, sep, rate = part.partition(":")
        if not sep or kind not in KINDS:
            raise FaultSpecError(f"{part!r} is not KIND:RATE with KIND one of {', '.join(KINDS)}")
        try:
            rates[kind] = float(rate)
        except ValueError:
            raise FaultSpecError(f"{part!r}: {rate!r} is not a number between 0 and 1") from None
        if not 0 <= rates[kind] <= 1:
            raise FaultSpecError(f"{part!r}: {rate!r} is not a number between 0 and 1")
    if sum(rates.values()) > 1:
        raise FaultSpecError(f"the rates in {spec!r} add up to more than 1")
    return rates


@dataclass(frozen=True)
class Fault:
    kind: str
    after_write: bool  # apply the request first, then fail (writes only)

    @property
    def status(self) -> int | None:
        return int(self.kind) if self.kind.isdigit() else None


class FaultInjector:
    def __init__(self, spec: str = "", seed: int | None = None) -> None:
        self._lock = threading.Lock()
        self.configure(spec, seed)

    def configure(self, spec: str, seed: int | None = None) -> None:
        rates = parse(spec)
        with self._lock:
            self.rates = rates
            self._random = random.Random(seed)

    def draw(self, is_write: bool) -> Fault | None:
        """The fault for the next request, if any (two draws per request keep the sequence fixed)."""
        with self._lock:
            if not self.rates:
                return None
            roll, when = self._random.random(), self._random.random()
        for kind, rate in self.rates.items():
            if roll < rate:
                after = is_write and kind not in ("429", "423") and when < behaviour.FAULT_AFTER_WRITE_SHARE
                return Fault(kind, after)
            roll -= rate
        return None
