"""`GET /metrics`: Prometheus text exposition (format 0.0.4) from a small registry.

Two kinds of family (docs/observability.md):

- read from the database when scraped (`REGISTRY.register(...)`: a name, a help text, a type
  and a function that reads its samples from the database), so every process (API, workers,
  dispatchers) shows the same, platform-wide figures: webhook deliveries, projection lag, the
  outbox consumer's lag;
- counted in this process (`REGISTRY.add(...)`: request counts and durations by route
  template, command outcomes; services/api/telemetry.py): each API process counts its own
  requests, so every pod is scraped and the series summed.

Counters, gauges and histograms (`_bucket` with `le`, `_sum`, `_count`). Open by default, like
`/health`; with `PROWD_METRICS_TOKEN` set, a scrape must send `Authorization: Bearer <token>`
(else 401).
"""

from __future__ import annotations

import hmac
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from litestar import Request, Response, get

from services.api import telemetry
from services.api.problems import ProblemError
from services.app.tenancy import Tenancy
from services.projector import stats as projector_stats
from services.settings import Settings
from services.store.database import Database
from services.webhooks import stats as webhook_stats

Sample = tuple[dict[str, str], float]
Collect = Callable[[Database, Tenancy], Iterable[Sample]]
# An in-process family's samples: (name suffix such as "_bucket", labels, value).
LocalSample = tuple[str, dict[str, str], float]
KINDS = ("counter", "gauge", "histogram")


@dataclass(frozen=True)
class Family:
    """A family read from the database at scrape time (one sample per line, no suffix)."""

    name: str
    help: str
    kind: str  # "counter" or "gauge"
    collect: Collect

    def samples(self, db: Database, tenancy: Tenancy) -> Iterable[LocalSample]:
        for labels, value in self.collect(db, tenancy):
            yield "", labels, value


@dataclass(frozen=True)
class LocalFamily:
    """A family counted in this process (services/api/telemetry.py); `collect` needs no
    database. A histogram yields its `_bucket` (with `le`), `_sum` and `_count` samples."""

    name: str
    help: str
    kind: str
    collect: Callable[[], Iterable[LocalSample]]

    def samples(self, db: Database, tenancy: Tenancy) -> Iterable[LocalSample]:
        return self.collect()


class Registry:
    def __init__(self) -> None:
        self._families: dict[str, Family | LocalFamily] = {}

    def register(self, name: str, help: str, kind: str, collect: Collect) -> None:
        """A family read from the database when scraped (platform-wide figures)."""
        if kind not in ("counter", "gauge"):
            raise ValueError(f"unknown metric type {kind!r}")
        self._families[name] = Family(name, help, kind, collect)

    def add(
        self, name: str, help: str, kind: str, collect: Callable[[], Iterable[LocalSample]]
    ) -> None:
        """A family counted in this process (per-process figures)."""
        if kind not in KINDS:
            raise ValueError(f"unknown metric type {kind!r}")
        self._families[name] = LocalFamily(name, help, kind, collect)

    def names(self) -> list[str]:
        return sorted(self._families)

    def render(self, db: Database, tenancy: Tenancy) -> str:
        lines: list[str] = []
        for name in self.names():
            family = self._families[name]
            lines.append(f"# HELP {name} {_escape_help(family.help)}")
            lines.append(f"# TYPE {name} {family.kind}")
            for suffix, labels, value in family.samples(db, tenancy):
                lines.append(f"{name}{suffix}{_labels(labels)} {_number(value)}")
        return "\n".join(lines) + "\n"


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _label_value(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(labels: dict[str, str]) -> str:
    if not labels:
        return ""
    inner = ",".join(f'{k}="{_label_value(v)}"' for k, v in sorted(labels.items()))
    return "{" + inner + "}"


def _number(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return str(int(value)) if float(value).is_integer() else repr(float(value))


REGISTRY = Registry()


def _register_platform() -> None:
    for name, help_text, kind, collect in (*projector_stats.FAMILIES, *webhook_stats.FAMILIES):
        REGISTRY.register(name, help_text, kind, collect)


def _register_process() -> None:
    m = telemetry.METRICS
    REGISTRY.add(
        "prowd_http_requests_total",
        "HTTP requests served by this process, by method, route template and status code.",
        "counter",
        m.request_samples,
    )
    REGISTRY.add(
        "prowd_http_request_duration_seconds",
        "Time to answer HTTP requests in this process, by method, route template and status"
        " class (first byte of the request to the last of the answer).",
        "histogram",
        m.duration_samples,
    )
    REGISTRY.add(
        "prowd_commands_total",
        "Commands (POST, PUT, PATCH, DELETE on a route of the role matrix) answered by this"
        " process, by action and outcome (ok, replayed, rejected, denied, conflict, error).",
        "counter",
        m.command_samples,
    )


_register_platform()
_register_process()


@get("/metrics", tags=["operations"], sync_to_thread=True, media_type="text/plain; version=0.0.4")
def metrics(request: Request[Any, Any, Any]) -> Response[str]:
    """Prometheus metrics (text format 0.0.4). Read from the database (platform-wide): webhook
    deliveries by status, attempts by outcome, failures, queue depth and the age of the oldest
    pending delivery, the outbox consumer's lag, and each live view's lag (events and seconds),
    position and projection faults, per grantee. Counted in the answering process (scrape every pod): HTTP
    requests and their durations by method, route template and status, and command outcomes
    by action (docs/observability.md). No token needed unless the platform sets
    `PROWD_METRICS_TOKEN`."""
    settings: Settings = request.app.state.settings
    if settings.metrics_token:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            token.strip().encode(), settings.metrics_token.encode()
        ):
            raise ProblemError(401, "not_authenticated", "this scrape needs the metrics token")
    tenancy: Tenancy = request.app.state.tenancy
    return Response(REGISTRY.render(tenancy.db, tenancy), media_type="text/plain; version=0.0.4")


ROUTES: list[Any] = [metrics]
