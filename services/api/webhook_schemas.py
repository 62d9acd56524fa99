"""What `/v1/grantees/{grantee}/webhook-endpoints` accepts and answers (services/api/webhooks.py);
the shapes read from the webhook tables are declared with their queries
(services/webhooks/queries.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

import msgspec
from litestar.params import HeaderParameter, Parameter

from domain.webhooks import MAX_URL, PING, EventType
from services.api.params import Code
from services.api.text import Line
from services.webhooks.queries import AttemptOut, DeliveryOut, EndpointOut

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
# Queueing messages again is idempotent by nature: a repeat queues the same messages, with their
# own `webhook-id`, and receivers drop duplicates by it. The header is taken, and not needed.
RequeueKey = Annotated[
    str | None,
    HeaderParameter(
        name="Idempotency-Key",
        required=False,
        max_length=200,
        description="Accepted and not needed: a repeat of this request queues the same messages"
        " again, each with its original `webhook-id` (receivers drop duplicates by it).",
    ),
]
PingKey = Annotated[
    str | None,
    HeaderParameter(
        name="Idempotency-Key",
        required=False,
        max_length=200,
        description="Accepted and not needed: a repeat queues another `ping` (outside the"
        " sequence numbers; harmless to the receiver).",
    ),
]

# An event type to subscribe to. `ping` is not one: the refusal says why (services/api/body_errors.py).
SubscribedType = Annotated[
    EventType,
    msgspec.Meta(
        extra={
            "refused": {
                PING: "`ping` is not subscribed to: it is the test message, sent to any endpoint,"
                " whatever its event types, by POST /v1/grantees/{grantee}/webhook-endpoints"
                "/{endpoint_id}/ping"
            }
        }
    ),
]

RowCursor = Annotated[
    str, Parameter(max_length=20, description="`next_cursor` of the previous page")
]


class EndpointIn(msgspec.Struct, forbid_unknown_fields=True):
    url: Url
    facility: Code
    event_types: Annotated[list[SubscribedType], msgspec.Meta(min_length=1, max_length=20)]
    description: Description = ""
    enabled: bool = True
    rate_limit: Rate | None = None


class EndpointChange(msgspec.Struct, forbid_unknown_fields=True):
    url: Url | None = None
    event_types: (
        Annotated[list[SubscribedType], msgspec.Meta(min_length=1, max_length=20)] | None
    ) = None
    description: Description | None = None
    rate_limit: Rate | None = None
    # True removes the rate limit.
    clear_rate_limit: bool = False


class RecoverIn(msgspec.Struct, forbid_unknown_fields=True):
    since: datetime


class EndpointPage(msgspec.Struct):
    items: list[EndpointOut]
    next_cursor: str | None


class DeliveryPage(msgspec.Struct):
    items: list[DeliveryOut]
    next_cursor: str | None


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
