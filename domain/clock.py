"""Time is an input (DESIGN D10): business code asks this module for "now", never the system.

One clock answers for a process: the system's, unless the entry point installs another
(`install`). A request, a command or a test may put a clock of its own in front of it for the
duration of a block (`using`); the API does so per request with the application's clock, so a
test server whose clock is frozen answers as of that instant in every thread it runs.

Durations are measured with `time.monotonic()`; that is not reading the date.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Protocol
from zoneinfo import ZoneInfo


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, timezone-aware (UTC)."""
        ...


class SystemClock:
    """The machine's clock: the only place in the code base that reads the wall clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def __repr__(self) -> str:
        return "SystemClock()"


class FixedClock:
    """A clock set to a stated instant.

    Frozen (`tick=False`) it answers that instant until moved (`set`, `advance`). Ticking
    (`tick=True`) it starts at the instant and goes on with real elapsed time, so the date is
    fixed for a test run while consecutive events still get increasing timestamps.
    """

    def __init__(self, at: datetime, *, tick: bool = False) -> None:
        self._lock = threading.Lock()
        self.tick = tick
        self._at = _aware(at)
        self._since = time.monotonic()

    def now(self) -> datetime:
        with self._lock:
            if not self.tick:
                return self._at
            return self._at + timedelta(seconds=time.monotonic() - self._since)

    def set(self, at: datetime) -> None:
        with self._lock:
            self._at = _aware(at)
            self._since = time.monotonic()

    def advance(self, delta: timedelta) -> None:
        self.set(self.now() + delta)

    def __repr__(self) -> str:
        return f"FixedClock({self.now().isoformat()}, tick={self.tick})"


def _aware(at: datetime) -> datetime:
    if at.tzinfo is None:
        raise ValueError("a clock is set to a timezone-aware instant")
    return at.astimezone(UTC)


SYSTEM = SystemClock()
_process: Clock = SYSTEM
_scoped: ContextVar[Clock | None] = ContextVar("clock", default=None)


def current() -> Clock:
    """The clock in force here: the scoped one if a block set it, else the process's."""
    return _scoped.get() or _process


def now() -> datetime:
    return current().now()


def today(zone: tzinfo | str = UTC) -> date:
    """Today's date in `zone` (a grantee's IANA time zone, by default UTC)."""
    z = ZoneInfo(zone) if isinstance(zone, str) else zone
    return now().astimezone(z).date()


def wall() -> datetime:
    """The machine's clock whatever clock is in force: only for what another party checks
    against its own wall clock (a webhook's signed timestamp)."""
    return SYSTEM.now()


def install(clock: Clock) -> Clock:
    """Make `clock` the process's clock (an entry point or a test session); returns the old."""
    global _process
    previous, _process = _process, clock
    return previous


@contextmanager
def using(clock: Clock) -> Iterator[Clock]:
    """Put `clock` in front of the process's for this block (and what it calls)."""
    token = _scoped.set(clock)
    try:
        yield clock
    finally:
        _scoped.reset(token)
