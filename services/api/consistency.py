"""Read-your-writes without holding a thread: `?min_position=` is awaited before the handler.

A command answers with its log position; a query may pass it as `min_position` to read views
that include it (DESIGN D3). The wait happens here, asynchronously, polling the views'
tracking positions from a worker thread only for the instant of each check, so a slow projector
never ties up the few threads that run handlers; between checks it sleeps until the projector's
note that the grantee's views advanced (services/projector/signals.py), or a poll interval.
The handler then finds the position reached. The live views of a grantee advance together
(one transaction per batch), so the lowest of their positions is the one to wait for.
"""

from __future__ import annotations

import re
import time
from typing import Any

import anyio
import anyio.to_thread
from litestar import Request, Response

from services.api.problems import Problem, problem_response
from services.app.tenancy import Tenancy
from services.audit import stream
from services.identity.tokens import NotAuthenticated, verify_token
from services.projector import live as projector
from services.projector import signals
from services.settings import Settings

_DIGITS = re.compile(r"[0-9]{1,18}")


async def wait_for_views(request: Request[Any, Any, Any]) -> Response[Problem] | None:
    raw = request.query_params.get("min_position")
    slug = request.path_params.get("grantee")
    if request.method != "GET" or not raw or _DIGITS.fullmatch(raw) is None or not slug:
        return None
    settings: Settings = request.app.state.settings
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return None
    try:
        principal = verify_token(settings, token.strip())
    except NotAuthenticated:
        return None  # the handler's dependencies answer 401
    tenancy: Tenancy = request.app.state.tenancy
    info = (
        await anyio.to_thread.run_sync(tenancy.grantee, slug) if principal.may_see(slug) else None
    )
    if info is None:
        return None  # the handler's dependencies answer 404
    position = int(raw)
    deadline = time.monotonic() + settings.view_wait_max
    delay = 0.005
    checked_head = False
    # Woken by the projector's note of each batch where this process listens (its counter read
    # before the position, so a batch committed between the two still wakes the wait).
    listener = signals.of(tenancy.db)
    while True:
        seen = listener.seen(info.schema) if listener is not None else 0
        if (
            await anyio.to_thread.run_sync(projector.lowest_position, tenancy.db, info.schema)
            >= position
        ):
            break
        if not checked_head:
            # A position the log has not reached was never answered to a command: waiting
            # for it would only end in a timeout.
            head = await anyio.to_thread.run_sync(stream.head, tenancy.db, info.schema)
            if position > head:
                return problem_response(
                    400,
                    "position_ahead",
                    f"min_position {position} is beyond the log (its last position is {head})",
                )
            checked_head = True
        if time.monotonic() >= deadline:
            return problem_response(
                503,
                "view_behind",
                f"the views have not reached position {position} yet; retry shortly",
                headers={"Retry-After": "1"},
            )
        if listener is not None:
            await listener.wait_async(info.schema, seen, deadline - time.monotonic())
        else:
            await anyio.sleep(delay)
            delay = min(delay * 2, 0.1)
    return None
