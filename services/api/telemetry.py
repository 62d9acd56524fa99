"""Request and command metrics, counted by prometheus_client (docs/observability.md).

Counted in the process that served the request; with `PROMETHEUS_MULTIPROC_DIR` set
(`prowd serve --workers N`), in prometheus_client's files shared by the pod's processes, and a
scrape sums them. The families read from the database are services/runners/metrics.py's.
The middleware calls `observe` once per request.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

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
    """The request counter, the duration histogram (labelled by status class to keep its series
    count down) and the command outcomes of this process, in their own registry."""

    def __init__(self, buckets: tuple[float, ...] = BUCKETS) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "prowd_http_requests",
            "HTTP requests served, by method, route template and status code.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.durations = Histogram(
            "prowd_http_request_duration_seconds",
            "Time to answer HTTP requests, by method, route template and status class (first"
            " byte of the request to the last of the answer).",
            ["method", "route", "status_class"],
            buckets=buckets,
            registry=self.registry,
        )
        self.commands = Counter(
            "prowd_commands",
            "Commands (POST, PUT, PATCH, DELETE on a route of the role matrix) answered, by"
            " action and outcome (ok, replayed, rejected, denied, conflict, error).",
            ["action", "outcome"],
            registry=self.registry,
        )

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
        self.requests.labels(method, route, str(status)).inc()
        self.durations.labels(method, route, status_class(status)).observe(seconds)
        if action is not None and method in COMMAND_METHODS:
            self.commands.labels(action, outcome(status, replayed)).inc()


METRICS = RequestMetrics()
