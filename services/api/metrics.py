"""`GET /metrics`: Prometheus text exposition (format 0.0.4) by prometheus_client.

The registry (services/runners/metrics.py) holds the process's own figures (process, GC,
platform, build, connection pool), this process's request and command families
(services/api/telemetry.py; summed over the pod's processes in multiprocess mode) and the
platform-wide families read from the database when scraped. Open by default, like `/health`;
with `PROWD_METRICS_TOKEN` set, a scrape must send `Authorization: Bearer <token>` (else 401).
"""

from __future__ import annotations

import hmac
from typing import Any

from litestar import Request, Response, get

from services.api import telemetry
from services.api.media import exactly
from services.api.problems import ProblemError
from services.app.tenancy import Tenancy
from services.runners import metrics as prom
from services.settings import Settings


@get("/metrics", tags=["operations"], sync_to_thread=True, media_type="text/plain; version=0.0.4")
def metrics(request: Request[Any, Any, Any]) -> Response[bytes]:
    """Prometheus metrics (text format 0.0.4). Read from the database (platform-wide): webhook
    deliveries by status, attempts by outcome, failures, queue depth and the age of the oldest
    pending delivery, the outbox consumer's lag, and each live view's lag (events and seconds),
    position and projection faults, per grantee. Counted in the answering pod: HTTP requests
    and their durations by method, route template and status, and command outcomes by action.
    Of the answering process: CPU, memory, file descriptors, garbage collection, the connection
    pool and the build (docs/observability.md). No token needed unless the platform sets
    `PROWD_METRICS_TOKEN`."""
    settings: Settings = request.app.state.settings
    if settings.metrics_token:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            token.strip().encode(), settings.metrics_token.encode()
        ):
            raise ProblemError(401, "not_authenticated", "this scrape needs the metrics token")
    registry = getattr(request.app.state, "metrics_registry", None)
    if registry is None:
        tenancy: Tenancy = request.app.state.tenancy
        registry = prom.registry(tenancy.db, tenancy, counted=telemetry.METRICS.registry)
        request.app.state.metrics_registry = registry
    return Response(
        prom.render(registry), media_type=prom.CONTENT_TYPE, headers=exactly(prom.CONTENT_TYPE)
    )


ROUTES: list[Any] = [metrics]
