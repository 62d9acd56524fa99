"""`GET /metrics`: Prometheus text exposition (format 0.0.4) from a small registry.

Other modules add their own families with `REGISTRY.register(...)`: a family is a name, a help
text, a type and a function that reads its samples (label dict, value) from the database when
scraped, so every process (API, workers, dispatchers) shows the same figures. Open by default,
like `/health`; with `PROWD_METRICS_TOKEN` set, a scrape must send `Authorization: Bearer
<token>` (else 401).
"""

from __future__ import annotations

import hmac
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from litestar import Request, Response, get

from services.api.problems import ProblemError
from services.database import Database
from services.settings import Settings
from services.tenancy import Tenancy

Sample = tuple[dict[str, str], float]
Collect = Callable[[Database, Tenancy], Iterable[Sample]]


@dataclass(frozen=True)
class Family:
    name: str
    help: str
    kind: str  # "counter" or "gauge"
    collect: Collect


class Registry:
    def __init__(self) -> None:
        self._families: dict[str, Family] = {}

    def register(self, name: str, help: str, kind: str, collect: Collect) -> None:
        if kind not in ("counter", "gauge"):
            raise ValueError(f"unknown metric type {kind!r}")
        self._families[name] = Family(name, help, kind, collect)

    def names(self) -> list[str]:
        return sorted(self._families)

    def render(self, db: Database, tenancy: Tenancy) -> str:
        lines: list[str] = []
        for name in self.names():
            family = self._families[name]
            lines.append(f"# HELP {name} {_escape_help(family.help)}")
            lines.append(f"# TYPE {name} {family.kind}")
            for labels, value in family.collect(db, tenancy):
                lines.append(f"{name}{_labels(labels)} {_number(value)}")
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


def _register_webhooks() -> None:
    from services.webhooks import stats

    for name, help_text, kind, collect in stats.FAMILIES:
        REGISTRY.register(name, help_text, kind, collect)


_register_webhooks()


@get("/metrics", tags=["operations"], sync_to_thread=True, media_type="text/plain; version=0.0.4")
def metrics(request: Request[Any, Any, Any]) -> Response[str]:
    """Prometheus metrics (text format 0.0.4): webhook deliveries by status, attempts by
    outcome, failures, queue depth and the age of the oldest pending delivery, per grantee.
    No token needed unless the platform sets `PROWD_METRICS_TOKEN`."""
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
