"""`/health` (the process answers) and `/ready` (the database answers and the configured master
keys unwrap its participant keys)."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import HttpMethod, Request, get, route

from services.api.problems import ProblemError
from services.store.health import KEY_SETTINGS, ping


class HealthOut(msgspec.Struct):
    status: str


@route(
    "/health",
    http_method=[HttpMethod.GET, HttpMethod.HEAD],
    tags=["operations"],
    sync_to_thread=False,
)
def health() -> HealthOut:
    """Liveness: the process is up and serving (`HEAD` answers the same status, no body)."""
    return HealthOut("ok")


@get("/ready", tags=["operations"], sync_to_thread=True)
def ready(request: Request[Any, Any, Any]) -> HealthOut:
    """Readiness: the database answers within the pool timeout, and the configured master keys
    unwrap the stored participant keys (checked at most once a minute)."""
    try:
        ping(request.app.state.tenancy.db)
    except Exception:
        raise ProblemError(
            503,
            "database_unavailable",
            "the database does not answer",
            headers={"Retry-After": "2"},
        ) from None
    stray = request.app.state.master_keys.stray_grantees()
    if stray:
        raise ProblemError(
            503,
            "key_unavailable",
            f"the configured master keys unwrap none of the participant keys of {stray}"
            f" grantee(s); {KEY_SETTINGS}",
        )
    return HealthOut("ready")
