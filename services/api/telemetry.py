"""In-process request and command metrics (docs/observability.md).

Counted in the process that served the request (one series set per process: scrape every pod);
the families read from the database when scraped (services/api/metrics.py) are platform-wide.
The middleware calls `observe` once per request from the event loop; a scrape reads a snapshot
under the same lock, so a histogram's buckets, sum and count always agree.
"""

from __future__ import annotations

import threading
from bisect import bisect_left
from collections.abc import Iterable

# -- in-process request and command metrics ---------------------------------------------------

# Request durations from 1 ms to 10 s (seconds, Prometheus' unit).
BUCKETS: tuple[float, ...] = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
COMMAND_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
UNMATCHED = "unmatched"

Sample = tuple[str, dict[str, str], float]  # name suffix, labels, value


def status_class(status: int) -> str:
    return f"{status // 100}xx"


def outcome(status: int, replayed: bool) -> str:
    """A command's outcome from its answer: `replayed` (an Idempotency-Key retry answered from
    the first run), `ok`, `conflict` (409), `denied` (401/403), `rejected` (another 4xx:
    validation, a domain rule, not found, rate limited), `error` (5xx)."""
    if status < 400:
        return "replayed" if replayed else "ok"
    if status == 409:
        return "conflict"
    if status in (401, 403):
        return "denied"
    if status < 500:
        return "rejected"
    return "error"


class RequestMetrics:
    """Counters and the duration histogram of this process's requests and commands.

    One cell per (method, route, status code): the per-bucket counts (the last one above every
    bound) and the sum of durations. The request counter is the cell's total; the histogram,
    labelled by status class, adds up the cells of a class when scraped, so each request costs
    one dictionary lookup and two additions."""

    def __init__(self, buckets: tuple[float, ...] = BUCKETS) -> None:
        self.buckets = buckets
        self._lock = threading.Lock()
        self._cells: dict[tuple[str, str, int], list[float]] = {}
        self._commands: dict[tuple[str, str], int] = {}

    def observe(
        self,
        method: str,
        route: str,
        status: int,
        seconds: float,
        action: str | None = None,
        replayed: bool = False,
    ) -> None:
        """Count one request (and, for a command, its outcome)."""
        if method not in METHODS:
            method = "other"  # the label set stays bounded whatever a client sends
        slot = bisect_left(self.buckets, seconds)
        key = (method, route, status)
        with self._lock:
            cell = self._cells.get(key)
            if cell is None:
                cell = self._cells[key] = [0.0] * (len(self.buckets) + 2)
            cell[slot] += 1
            cell[-1] += seconds
            if action is not None and method in COMMAND_METHODS:
                ckey = (action, outcome(status, replayed))
                self._commands[ckey] = self._commands.get(ckey, 0) + 1

    def _snapshot(
        self,
    ) -> tuple[list[tuple[tuple[str, str, int], list[float]]], list[tuple[tuple[str, str], int]]]:
        with self._lock:
            return (
                [(k, list(c)) for k, c in self._cells.items()],
                list(self._commands.items()),
            )

    def request_samples(self) -> Iterable[Sample]:
        for (method, route, status), cell in sorted(self._snapshot()[0]):
            labels = {"method": method, "route": route, "status": str(status)}
            yield "", labels, float(sum(cell[:-1]))

    def duration_samples(self) -> Iterable[Sample]:
        by_class: dict[tuple[str, str, str], list[float]] = {}
        for (method, route, status), cell in self._snapshot()[0]:
            key = (method, route, status_class(status))
            total = by_class.get(key)
            if total is None:
                by_class[key] = cell
            else:
                by_class[key] = [a + b for a, b in zip(total, cell, strict=True)]
        for (method, route, klass), cell in sorted(by_class.items()):
            labels = {"method": method, "route": route, "status_class": klass}
            running = 0.0
            for bound, n in zip(self.buckets, cell, strict=False):
                running += n
                yield "_bucket", {**labels, "le": _le(bound)}, running
            running += cell[-2]
            yield "_bucket", {**labels, "le": "+Inf"}, running
            yield "_sum", labels, cell[-1]
            yield "_count", labels, running

    def command_samples(self) -> Iterable[Sample]:
        for (action, result), n in sorted(self._snapshot()[1]):
            yield "", {"action": action, "outcome": result}, float(n)


def _le(bound: float) -> str:
    return repr(float(bound))


METRICS = RequestMetrics()
