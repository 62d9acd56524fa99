"""`/v1/grantees/{grantee}/webhook-endpoints`: endpoints of RRC systems, deliveries, attempts.

Configuration changes are events of the endpoint in the grantee's log (domain/webhooks.py);
the secret is shown once, in the answer that created it (creation, rotation), and is never
readable again. Deliveries and attempts are read from the outbox tables (services/webhooks).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.di import Provide
from litestar.params import Parameter
from psycopg import sql

from domain.common import NotFound, utcnow
from domain.webhooks import MAX_URL, DisableReason, EventType, WebhookEndpoint
from services.api.alerts import Alert
from services.api.context import Tenant, action, provide_tenant, tenant_command
from services.api.docs import body, problems
from services.api.params import Code, Limit
from services.api.problems import ProblemError
from services.api.text import Line
from services.settings import Settings
from services.store.ledger import Command, Saved
from services.webhooks import ssrf
from services.webhooks.queue import enqueue_ping
from services.webhooks.store import CHANNEL

Url = Annotated[
    str,
    msgspec.Meta(
        min_length=1,
        max_length=MAX_URL,
        # Absolute http(s), no user name or password, no fragment (`check_url`).
        pattern=r"^https?://[^\s/?#@]+([/?][^\s#]*)?$",
        examples=["https://203.0.113.10/hooks/prowd"],
    ),
]
Rate = Annotated[float, msgspec.Meta(gt=0, le=1000, examples=[20.0])]
Description = Annotated[Line, msgspec.Meta(max_length=500)]
RowCursor = Annotated[
    str, Parameter(max_length=20, description="`next_cursor` of the previous page")
]
_DIGITS = re.compile(r"[0-9]{1,18}")


class EndpointIn(msgspec.Struct, forbid_unknown_fields=True):
    url: Url
    facility: Code
    event_types: Annotated[list[EventType], msgspec.Meta(min_length=1, max_length=20)]
    description: Description = ""
    enabled: bool = True
    rate_limit: Rate | None = None


class EndpointChange(msgspec.Struct, forbid_unknown_fields=True):
    url: Url | None = None
    event_types: Annotated[list[EventType], msgspec.Meta(min_length=1, max_length=20)] | None = None
    description: Description | None = None
    rate_limit: Rate | None = None
    # True removes the rate limit.
    clear_rate_limit: bool = False


class RecoverIn(msgspec.Struct, forbid_unknown_fields=True):
    since: datetime


class EndpointOut(msgspec.Struct, omit_defaults=True):
    id: UUID
    url: str
    facility: str
    event_types: list[str]
    description: str
    enabled: bool
    secret_version: int
    disabled_reason: str | None = None
    rate_limit: float | None = None
    failing_since: datetime | None = None
    last_success_at: datetime | None = None
    created_at: datetime | None = None
    position: int | None = None
    # Only in the answer that created it (creation, rotation): never readable again.
    secret: str | None = None


class EndpointPage(msgspec.Struct):
    items: list[EndpointOut]
    next_cursor: str | None


class DeliveryOut(msgspec.Struct):
    id: UUID
    webhook_id: str
    event_type: str
    sequence: int | None
    position: int | None
    status: str
    attempts: int
    next_attempt_at: datetime | None
    created_at: datetime
    delivered_at: datetime | None
    last_response_code: int | None
    last_error: str | None


class DeliveryPage(msgspec.Struct):
    items: list[DeliveryOut]
    next_cursor: str | None


class AttemptOut(msgspec.Struct):
    id: int
    delivery_id: UUID
    webhook_id: str
    attempt: int
    at: datetime
    status: str
    latency_ms: int
    response_code: int | None
    response_body: str
    error: str | None


class AttemptPage(msgspec.Struct):
    items: list[AttemptOut]
    next_cursor: str | None


class Queued(msgspec.Struct):
    queued: int
    delivery_id: UUID | None = None
    webhook_id: str | None = None


ENDPOINT_EXAMPLE = {
    # A documentation address (RFC 5737): no name to resolve when the example is tried.
    "url": "https://203.0.113.10/hooks/prowd",
    "facility": "RRC-1",
    "event_types": ["meeting.held", "meeting.missed", "participant.arrived_at_rrc"],
    "description": "RRC One case system",
    "rate_limit": 20,
}
ENDPOINT_RULES = [
    (422, "unsafe_webhook_target", "the webhook URL is refused: 10.0.0.5 is a private address"),
    (422, "unknown_event_type", "unknown event types: meeting.deleted"),
    (422, "invalid_url", "a webhook URL is an absolute http or https URL"),
    (422, "facility_wrong_kind", "facility FCI-A is not an RRC"),
]
NOT_FOUND = [(404, "not_found", "webhook endpoint not found")]

_COLUMNS = (
    "endpoint_id, url, facility_code, event_types, description, enabled, secret_version,"
    " disabled_reason, rate_limit, failing_since, last_success_at, created_at"
)


def _allowed(request: Request[Any, Any, Any]) -> tuple[ssrf.IPNetwork, ...]:
    settings: Settings = request.app.state.settings
    return ssrf.parse_networks(settings.webhook_allowed_networks)


def _row(r: Any) -> EndpointOut:
    return EndpointOut(
        id=r[0],
        url=r[1],
        facility=r[2],
        event_types=list(r[3]),
        description=r[4],
        enabled=r[5],
        secret_version=r[6],
        disabled_reason=r[7],
        rate_limit=r[8],
        failing_since=r[9],
        last_success_at=r[10],
        created_at=r[11],
    )


def _render(secret: list[str]) -> Callable[[WebhookEndpoint, int], EndpointOut]:
    def render(e: WebhookEndpoint, position: int) -> EndpointOut:
        return EndpointOut(
            id=e.id,
            url=e.url,
            facility=e.facility_code,
            event_types=list(e.event_types),
            description=e.description,
            enabled=e.enabled,
            secret_version=e.secret_version,
            disabled_reason=None if e.disabled_reason is None else e.disabled_reason.value,
            rate_limit=e.rate_limit,
            created_at=e.created_on,
            position=position or None,
            secret=secret[0] if secret else None,
        )

    return render


def _check_cursor(cursor: str | None) -> int | None:
    if cursor is None:
        return None
    if _DIGITS.fullmatch(cursor) is None:
        raise ProblemError(400, "invalid_cursor", "the cursor is not one this list handed out")
    return int(cursor)


def _endpoint_row(tenant: Tenant, endpoint_id: UUID) -> Any:
    row = tenant.tenancy.db.fetchone(
        sql.SQL("SELECT {} FROM {}.webhook_endpoints WHERE endpoint_id = %s").format(
            sql.SQL(_COLUMNS), sql.Identifier(tenant.info.schema)
        ),
        (endpoint_id,),
    )
    if row is None:
        raise NotFound("webhook endpoint not found")
    return row


def endpoint_alerts(tenant: Tenant) -> list[Alert]:
    """Endpoints the dispatcher disabled (410 Gone, failing for 5 days), still disabled."""
    rows = tenant.tenancy.db.fetchall(
        sql.SQL(
            "SELECT endpoint_id, disabled_reason, updated_at, facility_code FROM {}.webhook_endpoints"
            " WHERE NOT enabled AND disabled_reason = ANY(%s) ORDER BY updated_at, endpoint_id"
        ).format(sql.Identifier(tenant.info.schema)),
        ([DisableReason.GONE.value, DisableReason.FAILING.value],),
    )
    return [
        Alert(
            "webhook_endpoint_disabled",
            "webhook_endpoint",
            r[0],
            r[2],
            f"the webhook endpoint of {r[3]} was disabled: "
            + (
                "it answered 410 Gone"
                if r[1] == DisableReason.GONE.value
                else "deliveries failed for 5 days"
            ),
        )
        for r in rows
    ]


class WebhookController(Controller):
    path = "/v1/grantees/{grantee:str}/webhook-endpoints"
    tags = ["webhooks"]
    dependencies = {"tenant": Provide(provide_tenant, sync_to_thread=False)}

    @post(
        "/",
        opt=action("webhooks.write"),
        sync_to_thread=True,
        status_code=201,
        responses=problems(*ENDPOINT_RULES),
    )
    def create(
        self,
        request: Request[Any, Any, Any],
        tenant: Tenant,
        data: Annotated[EndpointIn, body("an endpoint of an RRC's system", ENDPOINT_EXAMPLE)],
    ) -> Response[EndpointOut]:
        """Register the endpoint of one RRC's system: its URL (checked on the resolved address:
        no private, loopback, link-local, multicast or reserved targets), the RRC it serves, the
        event types it receives (`meeting.scheduled`, `meeting.held`, `meeting.missed`,
        `meeting.cancelled`, `meeting.amended`, `participant.arrived_at_rrc`,
        `participant.left_rrc`, `participant.exited`, `pairing.opened`, `pairing.closed`), a
        description, whether it starts enabled and an optional rate limit (deliveries per
        second). The answer carries the signing secret `whsec_…` ONCE; store it now."""
        secret: list[str] = []
        allowed = _allowed(request)

        def execute(c: Command) -> Saved[WebhookEndpoint]:
            saved, new = tenant.app.webhooks.create_endpoint(
                c,
                url=data.url,
                facility_code=data.facility,
                event_types=list(data.event_types),
                description=data.description,
                enabled=data.enabled,
                rate_limit=data.rate_limit,
                allowed=allowed,
            )
            secret.append(new)
            return saved

        def render(e: WebhookEndpoint, position: int) -> EndpointOut:
            if not secret:  # an idempotent replay: the same caller, the same answer
                found = tenant.app.webhooks.endpoint_secret(e.id, 1)
                if found:
                    secret.append(found)
            return _render(secret)(e, position)

        return tenant_command(request, tenant, data, execute, render, status=201)

    @get("/", opt=action("webhooks.read"), sync_to_thread=True, responses=problems())
    def list_endpoints(
        self, tenant: Tenant, cursor: str | None = None, limit: Limit = 50
    ) -> EndpointPage:
        """The grantee's webhook endpoints (never their secrets), with their health: failing
        since when, last success. Keyset pages by id."""
        after = cursor or "00000000-0000-0000-0000-000000000000"
        try:
            UUID(after)
        except ValueError:
            raise ProblemError(
                400, "invalid_cursor", "the cursor is not one this list handed out"
            ) from None
        rows = tenant.tenancy.db.fetchall(
            sql.SQL(
                "SELECT {} FROM {}.webhook_endpoints WHERE endpoint_id > %s ORDER BY endpoint_id LIMIT %s"
            ).format(sql.SQL(_COLUMNS), sql.Identifier(tenant.info.schema)),
            (after, limit + 1),
        )
        more = len(rows) > limit
        items = [_row(r) for r in rows[:limit]]
        return EndpointPage(items, str(items[-1].id) if more and items else None)

    @get(
        "/{endpoint_id:uuid}",
        opt=action("webhooks.read"),
        sync_to_thread=True,
        responses=problems(*NOT_FOUND),
    )
    def get_endpoint(self, tenant: Tenant, endpoint_id: UUID) -> EndpointOut:
        """One webhook endpoint (never its secret)."""
        return _row(_endpoint_row(tenant, endpoint_id))

    @post(
        "/{endpoint_id:uuid}",
        opt=action("webhooks.write"),
        sync_to_thread=True,
        status_code=200,
        responses=problems(*NOT_FOUND, *ENDPOINT_RULES),
    )
    def update(
        self,
        request: Request[Any, Any, Any],
        tenant: Tenant,
        endpoint_id: UUID,
        data: Annotated[
            EndpointChange,
            body("subscribe to more types", {"event_types": ["meeting.held", "pairing.opened"]}),
        ],
    ) -> Response[EndpointOut]:
        """Change an endpoint's URL (checked again), subscribed event types, description or
        rate limit (`clear_rate_limit` removes it). Fields left out stay as they are."""
        allowed = _allowed(request)
        return tenant_command(
            request,
            tenant,
            data,
            lambda c: tenant.app.webhooks.update_endpoint(
                c,
                endpoint_id,
                url=data.url,
                event_types=None if data.event_types is None else list(data.event_types),
                description=data.description,
                rate_limit=data.rate_limit,
                clear_rate_limit=data.clear_rate_limit,
                allowed=allowed,
            ),
            _render([]),
        )

    @post(
        "/{endpoint_id:uuid}/disable",
        opt=action("webhooks.write"),
        sync_to_thread=True,
        status_code=200,
        responses=problems(*NOT_FOUND),
    )
    def disable(
        self, request: Request[Any, Any, Any], tenant: Tenant, endpoint_id: UUID
    ) -> Response[EndpointOut]:
        """Stop deliveries to the endpoint. New events are not queued for it while disabled;
        deliveries already queued wait and resume when it is enabled again."""
        return tenant_command(
            request,
            tenant,
            None,
            lambda c: tenant.app.webhooks.set_endpoint_enabled(c, endpoint_id, False),
            _render([]),
        )

    @post(
        "/{endpoint_id:uuid}/enable",
        opt=action("webhooks.write"),
        sync_to_thread=True,
        status_code=200,
        responses=problems(*NOT_FOUND),
    )
    def enable(
        self, request: Request[Any, Any, Any], tenant: Tenant, endpoint_id: UUID
    ) -> Response[EndpointOut]:
        """Resume deliveries to the endpoint (also after the dispatcher disabled it)."""
        return tenant_command(
            request,
            tenant,
            None,
            lambda c: tenant.app.webhooks.set_endpoint_enabled(c, endpoint_id, True),
            _render([]),
        )

    @post(
        "/{endpoint_id:uuid}/rotate-secret",
        opt=action("webhooks.write"),
        sync_to_thread=True,
        status_code=200,
        responses=problems(*NOT_FOUND),
    )
    def rotate(
        self, request: Request[Any, Any, Any], tenant: Tenant, endpoint_id: UUID
    ) -> Response[EndpointOut]:
        """Rotate the signing secret. The answer carries the new secret ONCE; for 24 hours
        every message is signed with both the old and the new secret (`webhook-signature`
        holds both `v1,…` values), then with the new one only."""
        secret: list[str] = []

        def execute(c: Command) -> Saved[WebhookEndpoint]:
            saved, new = tenant.app.webhooks.rotate_endpoint_secret(c, endpoint_id)
            secret.append(new)
            return saved

        def render(e: WebhookEndpoint, position: int) -> EndpointOut:
            if not secret:
                found = tenant.app.webhooks.endpoint_secret(e.id, e.secret_version)
                if found:
                    secret.append(found)
            return _render(secret)(e, position)

        return tenant_command(request, tenant, None, execute, render)

    @get(
        "/{endpoint_id:uuid}/deliveries",
        opt=action("webhooks.read"),
        sync_to_thread=True,
        responses=problems(*NOT_FOUND),
    )
    def deliveries(
        self,
        tenant: Tenant,
        endpoint_id: UUID,
        status: Literal["pending", "delivered", "failed"] | None = None,
        cursor: RowCursor | None = None,
        limit: Limit = 50,
    ) -> DeliveryPage:
        """The endpoint's deliveries, newest first: status (`pending`, `delivered`, `failed`),
        sequence number, event type, attempts so far and the next attempt. Filter by
        `status`."""
        _endpoint_row(tenant, endpoint_id)
        before = _check_cursor(cursor)
        clauses = [sql.SQL("endpoint_id = %s")]
        params: list[Any] = [endpoint_id]
        if before is not None:
            clauses.append(sql.SQL("row_id < %s"))
            params.append(before)
        if status is not None:
            clauses.append(sql.SQL("status = %s"))
            params.append(status)
        rows = tenant.tenancy.db.fetchall(
            sql.SQL(
                "SELECT row_id, delivery_id, msg_id, event_type, sequence, position, status, attempts,"
                " next_attempt_at, created_at, delivered_at, last_response_code, last_error"
                " FROM {}.webhook_deliveries WHERE {} ORDER BY row_id DESC LIMIT %s"
            ).format(sql.Identifier(tenant.info.schema), sql.SQL(" AND ").join(clauses)),
            [*params, limit + 1],
        )
        more = len(rows) > limit
        rows = rows[:limit]
        return DeliveryPage(
            [DeliveryOut(*r[1:]) for r in rows], str(rows[-1][0]) if more and rows else None
        )

    @get(
        "/{endpoint_id:uuid}/attempts",
        opt=action("webhooks.read"),
        sync_to_thread=True,
        responses=problems(*NOT_FOUND),
    )
    def attempts(
        self,
        tenant: Tenant,
        endpoint_id: UUID,
        cursor: RowCursor | None = None,
        limit: Limit = 50,
    ) -> AttemptPage:
        """Every HTTP attempt to the endpoint, newest first: outcome, latency in ms, response
        code, the response body cut at 1 KiB, the error (timeout, connection, refused target)."""
        _endpoint_row(tenant, endpoint_id)
        before = _check_cursor(cursor)
        rows = tenant.tenancy.db.fetchall(
            sql.SQL(
                "SELECT attempt_id, delivery_id, msg_id, attempt, at, outcome, latency_ms,"
                " response_code, response_body, error FROM {}.webhook_attempts"
                " WHERE endpoint_id = %s AND attempt_id < %s ORDER BY attempt_id DESC LIMIT %s"
            ).format(sql.Identifier(tenant.info.schema)),
            (endpoint_id, before if before is not None else 2**62, limit + 1),
        )
        more = len(rows) > limit
        rows = rows[:limit]
        return AttemptPage(
            [AttemptOut(*r) for r in rows], str(rows[-1][0]) if more and rows else None
        )

    @post(
        "/{endpoint_id:uuid}/deliveries/{delivery_id:uuid}/redeliver",
        opt=action("webhooks.write"),
        sync_to_thread=True,
        status_code=202,
        responses=problems((404, "not_found", "delivery not found")),
    )
    def redeliver(self, tenant: Tenant, endpoint_id: UUID, delivery_id: UUID) -> Queued:
        """Send one message again, with the same `webhook-id` and body, through a fresh retry
        schedule (whatever its status)."""
        _endpoint_row(tenant, endpoint_id)
        n = _requeue(tenant, endpoint_id, sql.SQL("delivery_id = %s"), delivery_id)
        if not n:
            raise NotFound("delivery not found")
        return Queued(n, delivery_id=delivery_id)

    @post(
        "/{endpoint_id:uuid}/recover",
        opt=action("webhooks.write"),
        sync_to_thread=True,
        status_code=202,
        responses=problems(*NOT_FOUND),
    )
    def recover(
        self,
        tenant: Tenant,
        endpoint_id: UUID,
        data: Annotated[
            RecoverIn, body("since an outage began", {"since": "2026-11-20T08:00:00Z"})
        ],
    ) -> Queued:
        """Queue again every delivery created since `since` (after an outage of the
        receiver), each with its own `webhook-id`; answers how many."""
        if data.since.tzinfo is None:
            raise ProblemError(422, "naive_datetime", "since must carry a UTC offset")
        _endpoint_row(tenant, endpoint_id)
        n = _requeue(tenant, endpoint_id, sql.SQL("created_at >= %s"), data.since)
        return Queued(n)

    @post(
        "/{endpoint_id:uuid}/ping",
        opt=action("webhooks.write"),
        sync_to_thread=True,
        status_code=202,
        responses=problems(*NOT_FOUND),
    )
    def ping(self, tenant: Tenant, endpoint_id: UUID) -> Queued:
        """Queue a `ping` test message to the endpoint (outside the sequence numbers); its
        attempt shows in `attempts`."""
        _endpoint_row(tenant, endpoint_id)
        delivery_id, msg_id = enqueue_ping(
            tenant.tenancy.db, tenant.info.schema, endpoint_id, utcnow()
        )
        return Queued(1, delivery_id=delivery_id, webhook_id=msg_id)


def _requeue(tenant: Tenant, endpoint_id: UUID, where: sql.Composable, value: Any) -> int:
    now = utcnow()
    with tenant.tenancy.db.transaction() as cur:
        cur.execute(
            sql.SQL(
                "UPDATE {}.webhook_deliveries SET status = 'pending', step = 0, next_attempt_at = %s,"
                " locked_until = NULL, claim = NULL WHERE endpoint_id = %s AND {}"
            ).format(sql.Identifier(tenant.info.schema), where),
            (now, endpoint_id, value),
        )
        n = cur.rowcount
        if n:
            cur.execute("SELECT pg_notify(%s, %s)", (CHANNEL, tenant.info.schema))
    return n


ROUTES: list[Any] = [WebhookController]
