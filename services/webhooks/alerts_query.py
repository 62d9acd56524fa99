"""What the alerts read of the webhook registry: endpoints the dispatcher disabled.

An endpoint that answered 410 Gone, or whose deliveries failed for 5 days, stays disabled until
re-enabled; one disabled by hand is not an alert.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import msgspec
from psycopg import sql

from domain.webhooks import DisableReason
from projections.query import Reader
from projections.rows import select, typed


class DisabledEndpoint(msgspec.Struct):
    endpoint_id: UUID
    reason: DisableReason
    disabled_at: datetime
    facility_code: str


DISABLED = select(DisabledEndpoint, reason="disabled_reason", disabled_at="updated_at")


def disabled_endpoints(db: Reader, schema: str) -> list[DisabledEndpoint]:
    """The grantee's endpoints the dispatcher disabled, in the order they were disabled."""
    query = sql.SQL(
        "SELECT " + DISABLED.sql + " FROM {}.webhook_endpoints"
        " WHERE NOT enabled AND disabled_reason = ANY(%s) ORDER BY updated_at, endpoint_id"
    ).format(sql.Identifier(schema))
    by_dispatcher = [DisableReason.GONE.value, DisableReason.FAILING.value]
    return typed(DisabledEndpoint, DISABLED, db.fetchall(query, (by_dispatcher,)))
