"""Recording every response that carries personal data, and reading that record (DESIGN D7).

`access_log_middleware` wraps every route. When a route's action is recorded
(services/audit/access_log.py `recorded`) and its response starts with a 2xx status, it appends the
access-log row *before* passing the response on: a response whose row could not be written is
withheld and answered `503 access_log_unavailable` instead, so no personal data leaves
unrecorded. Refusals (401, 403, 404, 4xx, 5xx) leave no row: they disclosed nothing.
"""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

import anyio.to_thread
import msgspec
import structlog
from litestar import get
from litestar.di import Provide
from litestar.enums import ScopeType
from litestar.params import Parameter
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from services.api.context import Tenant, action, provide_tenant
from services.api.docs import problems
from services.api.params import INSTANT_SCHEMA, LIMIT_DEFAULT, MAX_POSITION, Limit, instant
from services.api.problems import PROBLEM_JSON, TITLES, Problem, problem_type
from services.audit import access_log
from services.identity import apikeys
from services.identity.access import MATRIX
from services.identity.tokens import NotAuthenticated, verify_token
from services.store.database import Database
from services.store.schema import grantee_schema

log = structlog.get_logger("prowd.access")

_UNRECORDED = Problem(
    type=problem_type("access_log_unavailable"),
    title=TITLES[503],
    status=503,
    detail="the access log could not record this read, so its data is withheld; retry shortly",
    code="access_log_unavailable",
)


def _roles(scope: Scope, name: str, db: Database) -> list[str]:
    """The caller's roles under which the matrix allows `name` (the capacity of the read). The
    credential was accepted moments ago: a token's check is cached, a key is looked up again."""
    header = dict(scope["headers"]).get(b"authorization", b"").decode("latin-1")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return []
    try:
        if apikeys.is_api_key(token):
            principal = apikeys.authenticate(db, token)
        else:
            principal = verify_token(scope["app"].state.settings, token)
    except NotAuthenticated:
        return []
    return sorted(str(r) for r in principal.roles if r in MATRIX[name].roles)


def _resources(scope: Scope) -> dict[str, str]:
    """The ids the request named: its path parameters and its uuid-valued query parameters."""
    return access_log.named_ids(scope.get("path_params", {}), scope.get("query_string", b""))


def _record(scope: Scope, name: str, status: int) -> None:
    """Append the row of this response (run in a worker thread: it may touch the database)."""
    state: dict[str, Any] = scope.get("state", {})
    grantee = state.get("grantee") or scope.get("path_params", {}).get("grantee")
    if not grantee:
        raise LookupError("the grantee of the request is unknown")
    db: Database = scope["app"].state.tenancy.db
    entry = access_log.Access(
        subject=str(state.get("subject") or ""),
        roles=_roles(scope, name, db),
        action=name,
        method=str(scope.get("method", "")),
        path=str(scope.get("path", "")),
        resources=_resources(scope),
        request_id=str(state.get("request_id") or ""),
        status=status,
    )
    access_log.record(db, grantee_schema(str(grantee)), entry)


def access_log_middleware(app: ASGIApp) -> ASGIApp:
    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        handler = scope.get("route_handler") if scope["type"] == ScopeType.HTTP else None
        name = handler.opt.get("action") if handler is not None else None
        if not access_log.recorded(name):
            await app(scope, receive, send)
            return
        state: dict[str, Any] = scope.setdefault("state", {})
        withheld = False

        async def send_recorded(message: Message) -> None:
            nonlocal withheld
            if withheld:
                return
            if (
                message["type"] == "http.response.start"
                and 200 <= message["status"] < 300
                # A command wrote its row in its own transaction (`context.run_command`).
                and not state.get("access_recorded")
            ):
                try:
                    await anyio.to_thread.run_sync(
                        _record, scope, str(name), int(message["status"])
                    )
                except Exception as e:
                    log.warning("access_log_unavailable", action=name, error_class=type(e).__name__)
                    withheld = True
                    await _send_unrecorded(send)
                    return
            await send(message)

        await app(scope, receive, send_recorded)

    return middleware


async def _send_unrecorded(send: Send) -> None:
    body = msgspec.json.encode(_UNRECORDED)
    await send(
        {
            "type": "http.response.start",
            "status": 503,
            "headers": [
                (b"content-type", PROBLEM_JSON.encode()),
                (b"content-length", str(len(body)).encode()),
                (b"retry-after", b"2"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body, "more_body": False})


class AccessLogPage(msgspec.Struct):
    items: list[access_log.Entry]
    next_after: int | None
    next_before: int | None = None


@get(
    "/v1/grantees/{grantee:str}/audit/access-log",
    opt=action("audit.access_log"),
    sync_to_thread=True,
    tags=["audit"],
    responses=problems((400, "invalid_instant", "since must carry a UTC offset (Z or ±hh:mm)")),
    dependencies={"tenant": Provide(provide_tenant, sync_to_thread=False)},
)
def access_log_page(
    tenant: Tenant,
    after: Annotated[
        int, Parameter(ge=0, le=MAX_POSITION, description="`next_after` of the previous page")
    ] = 0,
    limit: Limit = LIMIT_DEFAULT,
    before: Annotated[
        int | None,
        Parameter(
            ge=1,
            le=MAX_POSITION,
            description="only rows before this id: `next_before` of the previous page",
        ),
    ] = None,
    newest_first: Annotated[
        bool, Parameter(description="greatest id first; the next page's cursor is `next_before`")
    ] = False,
    subject: Annotated[
        str | None, Parameter(max_length=200, description="only this token subject")
    ] = None,
    action: Annotated[str | None, Parameter(max_length=64, description="only this action")] = None,
    since: Annotated[
        str | None,
        Parameter(
            max_length=40, description="from this instant (RFC 3339)", schema_extra=INSTANT_SCHEMA
        ),
    ] = None,
    until: Annotated[
        str | None,
        Parameter(
            max_length=40, description="before this instant (RFC 3339)", schema_extra=INSTANT_SCHEMA
        ),
    ] = None,
    participant_id: Annotated[
        UUID | None, Parameter(description="only requests that named this participant")
    ] = None,
) -> AccessLogPage:
    """Who was shown the grantee's personal data: one row per successful response of an action
    that carries personal data (reads and the responses of commands alike) and per read of this
    log, in order, with the token subject, the roles that allowed it, the action, method, path,
    the ids the request named, the request id (`X-Request-Id`) and the status. Keyset pages:
    pass `next_after` as `after`; with `newest_first=true` the newest row comes first and the
    next (older) page is `before=` the answer's `next_before`. Filters: `subject`, `action`, `since`, `until`,
    `participant_id` (requests that named the participant). The log is append-only."""
    items, nxt = access_log.entries(
        tenant.tenancy.db,
        tenant.info.schema,
        after=after,
        limit=limit,
        before=before,
        newest_first=newest_first,
        subject=subject,
        action=action,
        since=instant(since, "since") if since is not None else None,
        until=instant(until, "until") if until is not None else None,
        participant_id=str(participant_id) if participant_id is not None else None,
    )
    if newest_first:
        return AccessLogPage(items, next_after=None, next_before=nxt)
    return AccessLogPage(items, next_after=nxt)


ROUTES: list[Any] = [access_log_page]
