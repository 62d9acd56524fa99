"""`/v1/grantees/{grantee}/webhook-endpoints/{endpoint_id}/…`: an endpoint's deliveries and
attempts, read from the outbox tables (services/webhooks/queries.py), and queueing messages
again (redeliver, recover, ping; services/webhooks/queue.py)."""

from __future__ import annotations

import re
from typing import Annotated, Literal
from uuid import UUID

from litestar import Controller, get, post
from litestar.di import Provide

from domain.common import NotFound, utcnow
from services.api.context import Tenant, action, provide_tenant
from services.api.docs import body, problems
from services.api.params import LIMIT_DEFAULT, Limit
from services.api.problems import ProblemError
from services.api.webhook_schemas import (
    NOT_FOUND,
    AttemptPage,
    DeliveryPage,
    PingKey,
    Queued,
    RecoverIn,
    RequeueKey,
    RowCursor,
)
from services.webhooks import queries, queue
from services.webhooks.queries import EndpointOut

_DIGITS = re.compile(r"[0-9]{1,18}")


def check_row_cursor(cursor: str | None) -> int | None:
    if cursor is None:
        return None
    if _DIGITS.fullmatch(cursor) is None:
        raise ProblemError(400, "invalid_cursor", "the cursor is not one this list handed out")
    return int(cursor)


def found_endpoint(tenant: Tenant, endpoint_id: UUID) -> EndpointOut:
    """The endpoint, or 404 `not_found`."""
    found = queries.endpoint(tenant.tenancy.db, tenant.info.schema, endpoint_id)
    if found is None:
        raise NotFound("webhook endpoint not found")
    return found


class WebhookDeliveryController(Controller):
    path = "/v1/grantees/{grantee:str}/webhook-endpoints"
    tags = ["webhooks"]
    dependencies = {"tenant": Provide(provide_tenant, sync_to_thread=False)}

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
        limit: Limit = LIMIT_DEFAULT,
    ) -> DeliveryPage:
        """The endpoint's deliveries, newest first: status (`pending`, `delivered`, `failed`),
        sequence number, event type, attempts so far and the next attempt. Filter by
        `status`."""
        found_endpoint(tenant, endpoint_id)
        items, nxt = queries.deliveries(
            tenant.tenancy.db,
            tenant.info.schema,
            endpoint_id,
            before=check_row_cursor(cursor),
            status=status,
            limit=limit,
        )
        return DeliveryPage(items, None if nxt is None else str(nxt))

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
        limit: Limit = LIMIT_DEFAULT,
    ) -> AttemptPage:
        """Every HTTP attempt to the endpoint, newest first: outcome, latency in ms, response
        code, the response body cut at 1 KiB, the error (timeout, connection, refused target)."""
        found_endpoint(tenant, endpoint_id)
        items, nxt = queries.attempts(
            tenant.tenancy.db,
            tenant.info.schema,
            endpoint_id,
            before=check_row_cursor(cursor),
            limit=limit,
        )
        return AttemptPage(items, None if nxt is None else str(nxt))

    @post(
        "/{endpoint_id:uuid}/deliveries/{delivery_id:uuid}/redeliver",
        opt=action("webhooks.write"),
        sync_to_thread=True,
        status_code=202,
        responses=problems((404, "not_found", "delivery not found")),
    )
    def redeliver(
        self,
        tenant: Tenant,
        endpoint_id: UUID,
        delivery_id: UUID,
        idempotency_key: RequeueKey = None,
    ) -> Queued:
        """Send one message again, with the same `webhook-id` and body, through a fresh retry
        schedule (whatever its status)."""
        found_endpoint(tenant, endpoint_id)
        msg_id = queue.redeliver(
            tenant.tenancy.db, tenant.info.schema, endpoint_id, delivery_id, utcnow()
        )
        if msg_id is None:
            raise NotFound("delivery not found")
        return Queued(1, delivery_id=delivery_id, webhook_id=msg_id)

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
        idempotency_key: RequeueKey = None,
    ) -> Queued:
        """Queue again every delivery created since `since` (after an outage of the
        receiver), each with its own `webhook-id`; answers how many."""
        if data.since.tzinfo is None:
            raise ProblemError(422, "naive_datetime", "since must carry a UTC offset")
        found_endpoint(tenant, endpoint_id)
        n = queue.recover(tenant.tenancy.db, tenant.info.schema, endpoint_id, data.since, utcnow())
        return Queued(n)

    @post(
        "/{endpoint_id:uuid}/ping",
        opt=action("webhooks.write"),
        sync_to_thread=True,
        status_code=202,
        responses=problems(*NOT_FOUND),
    )
    def ping(self, tenant: Tenant, endpoint_id: UUID, idempotency_key: PingKey = None) -> Queued:
        """Queue a `ping` test message to the endpoint (outside the sequence numbers); its
        attempt shows in `attempts`."""
        found_endpoint(tenant, endpoint_id)
        delivery_id, msg_id = queue.enqueue_ping(
            tenant.tenancy.db, tenant.info.schema, endpoint_id, utcnow()
        )
        return Queued(1, delivery_id=delivery_id, webhook_id=msg_id)
