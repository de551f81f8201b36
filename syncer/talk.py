"""How much syncer says on stderr: `-q` (no progress, no listings, no notes) and `-v` (what the
run does and how long each phase takes; `-vv` every request). Messages go through the `syncer`
logger, so a script that imports syncer sets its own handlers and levels instead."""

from __future__ import annotations

import logging
import math
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

log = logging.getLogger("syncer")


def configure(verbosity: int) -> None:
    """Send the `syncer` logger to stderr: INFO with one -v (phases, retries, 429 waits, the rate
    limit learnt from the portal), DEBUG with two (every request and its answer)."""
    reset()
    if verbosity <= 0:
        return
    handler = _Stderr()
    handler.setFormatter(logging.Formatter("%(asctime)s.%(msecs)03d %(message)s", "%H:%M:%S"))
    log.addHandler(handler)
    log.setLevel(logging.INFO if verbosity == 1 else logging.DEBUG)
    log.propagate = False


def reset() -> None:
    """Undo configure: the `syncer` logger as a script that imports syncer finds it."""
    for handler in [h for h in log.handlers if isinstance(h, _Stderr)]:
        log.removeHandler(handler)
    log.setLevel(logging.NOTSET)
    log.propagate = True


class _Stderr(logging.StreamHandler):
    """A handler writing to whatever sys.stderr is when a message comes (a test runner swaps it)."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, _) -> None:
        pass


_watchers: list[Callable[[str], None]] = []


@contextmanager
def watch(on_phase: Callable[[str], None]) -> Iterator[None]:
    """Call `on_phase(what)` as each phase begins, inside the block (the CLI's progress display)."""
    _watchers.append(on_phase)
    try:
        yield
    finally:
        _watchers.remove(on_phase)


@contextmanager
def phase(what: str) -> Iterator[Callable[[str], None]]:
    """Log `what` and the seconds it took, with what the block reports through the function it is
    given: `with phase("read the sheet") as done: ...; done("300 rows")`."""
    for on_phase in list(_watchers):
        on_phase(what)
    said: list[str] = []
    started = time.perf_counter()
    yield said.append
    detail = f": {'; '.join(said)}" if said else ""
    log.info("%s%s (%.2f s)", what, detail, time.perf_counter() - started)


def percent(share: float) -> str:
    """A share as people read it: whole percents from 10 % up, else two significant digits, so a
    small share never reads as 0 % (0.5%, 0.0004%); 0 is 0%."""
    value = share * 100
    if value == 0 or abs(value) >= 9.95:
        return f"{value:.0f}%"
    decimals = max(0, 1 - math.floor(math.log10(abs(value))))
    return f"{value:.{decimals}f}".rstrip("0").rstrip(".") + "%"


def closest(word: str, candidates, *, cutoff: float = 0.6) -> str | None:
    """The candidate nearest to `word`, compared without regard to case, or None: the one rule of
    every "did you mean" syncer says (mapping keys, columns, properties, options, sheets, objects)."""
    import difflib

    lowered: dict[str, str] = {}
    for c in candidates:
        lowered.setdefault(str(c).lower(), str(c))
    found = difflib.get_close_matches(str(word).lower(), list(lowered), n=1, cutoff=cutoff)
    return lowered[found[0]] if found else None


def did_you_mean(word: str, candidates, *, cutoff: float = 0.6) -> str:
    """`; did you mean "x"?` for the candidate closest to `word`, or ''."""
    found = closest(word, candidates, cutoff=cutoff)
    return f'; did you mean "{found}"?' if found else ""
