"""`/v1/grantees/{grantee}/rrc/{rrc}/webhook-endpoints/…`: an RRC's own delivery log, as API.

An RRC system (its API key, or RRC staff's token) lists the webhook endpoints the grantee
registered for it, reads each one's deliveries (status, attempts, last error, sequence number)
and asks for redelivery of one message or of a range of sequence numbers: a receiver that sees
a gap in `sequence` fetches and replays what it missed without calling the grantee
(docs/webhooks.md "Your delivery log"). Staff with `grantee_admin` see any RRC's.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

import msgspec
from litestar import Controller, get, post
from litestar.di import Provide
from litestar.params import Parameter

from domain.common import NotFound, utcnow
from services.api.context import Tenant, action, provide_tenant
from services.api.docs import body, problems
from services.api.params import LIMIT_DEFAULT, MAX_POSITION, Limit
from services.api.problems import ProblemError
from services.api.rrc import CLAIM, check_rrc
from services.api.webhook_deliveries import check_row_cursor
from services.api.webhook_schemas import DeliveryPage, Queued, RequeueKey, RowCursor
from services.webhooks import queries, queue
from services.webhooks.queries import EndpointOut

# At most this many messages in one range redelivery: a longer outage is `recover`'s.
MAX_RANGE = 10_000
Sequence = Annotated[int, msgspec.Meta(ge=1, le=MAX_POSITION)]


class RrcEndpointPage(msgspec.Struct):
    rrc: str
    items: list[EndpointOut]


class RedeliveryIn(msgspec.Struct, forbid_unknown_fields=True):
    """One message (`delivery_id`) or the numbers `from_sequence`..`to_sequence` (inclusive)."""

    delivery_id: UUID | None = None
    from_sequence: Sequence | None = None
    to_sequence: Sequence | None = None


_RANGE_EXAMPLE = {"from_sequence": 41, "to_sequence": 43}
_NO_ENDPOINT = (404, "not_found", "no webhook endpoint of this RRC")


def own_endpoint(tenant: Tenant, rrc: str, endpoint_id: UUID) -> EndpointOut:
    """The endpoint if it is registered for `rrc` (after `check_rrc`), else 404."""
    found = queries.endpoint(tenant.tenancy.db, tenant.info.schema, endpoint_id)
    if found is None or found.facility != rrc:
        raise NotFound("no webhook endpoint of this RRC")
    return found


class RrcWebhookController(Controller):
    path = "/v1/grantees/{grantee:str}/rrc/{rrc:str}/webhook-endpoints"
    tags = ["RRC systems"]
    dependencies = {"tenant": Provide(provide_tenant, sync_to_thread=False)}

    @get("/", opt=action("rrc.webhooks"), sync_to_thread=True, responses=problems(CLAIM))
    def rrc_endpoints(self, tenant: Tenant, rrc: str) -> RrcEndpointPage:
        """The webhook endpoints the grantee registered for this RRC (never their secrets):
        URL, event types, whether enabled and why not."""
        check_rrc(tenant, rrc)
        return RrcEndpointPage(
            rrc, queries.endpoints_of(tenant.tenancy.db, tenant.info.schema, rrc)
        )

    @get(
        "/{endpoint_id:uuid}/deliveries",
        opt=action("rrc.webhooks"),
        sync_to_thread=True,
        responses=problems(
            CLAIM,
            _NO_ENDPOINT,
            (400, "invalid_range", "from_sequence is after to_sequence"),
        ),
    )
    def rrc_deliveries(
        self,
        tenant: Tenant,
        rrc: str,
        endpoint_id: UUID,
        status: Literal["pending", "delivered", "failed"] | None = None,
        from_sequence: Annotated[
            int | None,
            Parameter(ge=1, le=MAX_POSITION, description="only sequence numbers from this one"),
        ] = None,
        to_sequence: Annotated[
            int | None,
            Parameter(ge=1, le=MAX_POSITION, description="only sequence numbers up to this one"),
        ] = None,
        cursor: RowCursor | None = None,
        limit: Limit = LIMIT_DEFAULT,
    ) -> DeliveryPage:
        """The endpoint's deliveries, newest first: `webhook_id`, sequence number, event type,
        status (`pending`, `delivered`, `failed`), attempts so far, the next attempt, the last
        response code and error. Filter by `status` and by a range of sequence numbers (a gap
        the receiver saw)."""
        check_rrc(tenant, rrc)
        own_endpoint(tenant, rrc, endpoint_id)
        if from_sequence is not None or to_sequence is not None:
            sequences = (from_sequence or 1, to_sequence or MAX_POSITION)
            if sequences[1] < sequences[0]:
                raise ProblemError(
                    400,
                    "invalid_range",
                    f"from_sequence {sequences[0]} is after to_sequence {sequences[1]}:"
                    " a range runs from the lower number to the higher",
                )
        else:
            sequences = None
        items, nxt = queries.deliveries(
            tenant.tenancy.db,
            tenant.info.schema,
            endpoint_id,
            before=check_row_cursor(cursor),
            status=status,
            limit=limit,
            sequences=sequences,
        )
        return DeliveryPage(items, None if nxt is None else str(nxt))

    @post(
        "/{endpoint_id:uuid}/redeliveries",
        opt=action("rrc.webhooks"),
        sync_to_thread=True,
        status_code=202,
        responses=problems(
            CLAIM,
            _NO_ENDPOINT,
            (400, "invalid_redelivery", "name a delivery_id or a sequence range, not both"),
        ),
    )
    def rrc_redeliver(
        self,
        tenant: Tenant,
        rrc: str,
        endpoint_id: UUID,
        data: Annotated[RedeliveryIn, body("the messages a gap left out", _RANGE_EXAMPLE)],
        idempotency_key: RequeueKey = None,
    ) -> Queued:
        """Send again one message (`delivery_id`) or every message numbered `from_sequence`
        to `to_sequence`, each with its original `webhook-id`, sequence number and body, through
        a fresh retry schedule; answers how many were queued (at most 10,000 a request)."""
        check_rrc(tenant, rrc)
        own_endpoint(tenant, rrc, endpoint_id)
        db, schema, now = tenant.tenancy.db, tenant.info.schema, utcnow()
        ranged = data.from_sequence is not None or data.to_sequence is not None
        if data.delivery_id is None and not ranged:
            raise ProblemError(
                400,
                "invalid_redelivery",
                "name a delivery_id or a sequence range (from_sequence, to_sequence): "
                "the request names neither",
            )
        if data.delivery_id is not None and ranged:
            raise ProblemError(
                400,
                "invalid_redelivery",
                "name a delivery_id or a sequence range, not both",
            )
        if data.delivery_id is not None:
            msg_id = queue.redeliver(db, schema, endpoint_id, data.delivery_id, now)
            if msg_id is None:
                raise NotFound("no such delivery of this endpoint")
            return Queued(1, delivery_id=data.delivery_id, webhook_id=msg_id)
        first = data.from_sequence or data.to_sequence or 1
        last = data.to_sequence or first
        if last < first or last - first >= MAX_RANGE:
            raise ProblemError(
                400,
                "invalid_redelivery",
                f"from_sequence..to_sequence must be ascending and span at most {MAX_RANGE}",
            )
        return Queued(queue.redeliver_sequences(db, schema, endpoint_id, first, last, now))


ROUTES: list[Any] = [RrcWebhookController]
