"""Reads of a grantee's webhook tables for the API: the endpoint registry (never a secret),
the deliveries and the attempts of an endpoint, and the endpoints the dispatcher disabled.

Each returns msgspec Structs in the shapes the API answers with (`EndpointOut`, `DeliveryOut`,
`AttemptOut`): the shape is declared once, here, beside the tables it is read from.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import msgspec
from psycopg import sql

from domain.webhooks import DisableReason
from projections.query import Reader

# Above every identity the tables will hand out: the first page of a list newest first.
NO_ROW_ID = 2**62


class EndpointOut(msgspec.Struct, omit_defaults=True):
    """An endpoint of an RRC's system, with its health."""

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
    # The log position of the change, in the answer of a command.
    position: int | None = None
    # Only in the answer that created it (creation, rotation): never readable again.
    secret: str | None = None


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


class DisabledEndpoint(msgspec.Struct):
    """An endpoint the dispatcher disabled (410 Gone, failing for 5 days), still disabled."""

    endpoint_id: UUID
    reason: DisableReason
    since: datetime
    facility_code: str


_ENDPOINT_COLUMNS = sql.SQL(
    "endpoint_id, url, facility_code, event_types, description, enabled, secret_version,"
    " disabled_reason, rate_limit, failing_since, last_success_at, created_at"
)


def _endpoint(r: Any) -> EndpointOut:
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


def endpoint(db: Reader, schema: str, endpoint_id: UUID) -> EndpointOut | None:
    """One endpoint (never its secret); None when the grantee has no such endpoint."""
    row = db.fetchone(
        sql.SQL("SELECT {} FROM {}.webhook_endpoints WHERE endpoint_id = %s").format(
            _ENDPOINT_COLUMNS, sql.Identifier(schema)
        ),
        (endpoint_id,),
    )
    return None if row is None else _endpoint(row)


def endpoints(
    db: Reader, schema: str, *, after: UUID, limit: int
) -> tuple[list[EndpointOut], UUID | None]:
    """Endpoints in id order after `after`; the id to continue after if there are more."""
    rows = db.fetchall(
        sql.SQL(
            "SELECT {} FROM {}.webhook_endpoints WHERE endpoint_id > %s"
            " ORDER BY endpoint_id LIMIT %s"
        ).format(_ENDPOINT_COLUMNS, sql.Identifier(schema)),
        (after, limit + 1),
    )
    items = [_endpoint(r) for r in rows[:limit]]
    return items, (items[-1].id if len(rows) > limit and items else None)


def endpoints_of(db: Reader, schema: str, facility: str) -> list[EndpointOut]:
    """The endpoints registered for one RRC facility, in id order (an RRC has a few)."""
    rows = db.fetchall(
        sql.SQL(
            "SELECT {} FROM {}.webhook_endpoints WHERE facility_code = %s ORDER BY endpoint_id"
        ).format(_ENDPOINT_COLUMNS, sql.Identifier(schema)),
        (facility,),
    )
    return [_endpoint(r) for r in rows]


def deliveries(
    db: Reader,
    schema: str,
    endpoint_id: UUID,
    *,
    before: int | None,
    status: str | None,
    limit: int,
    sequences: tuple[int, int] | None = None,
) -> tuple[list[DeliveryOut], int | None]:
    """The endpoint's deliveries newest first (before row `before`), of `status` if given;
    the row to continue before if there are more."""
    clauses = [sql.SQL("endpoint_id = %s")]
    params: list[Any] = [endpoint_id]
    if before is not None:
        clauses.append(sql.SQL("row_id < %s"))
        params.append(before)
    if status is not None:
        clauses.append(sql.SQL("status = %s"))
        params.append(status)
    if sequences is not None:
        clauses.append(sql.SQL("sequence BETWEEN %s AND %s"))
        params.extend(sequences)
    rows = db.fetchall(
        sql.SQL(
            "SELECT row_id, delivery_id, msg_id, event_type, sequence, position, status, attempts,"
            " next_attempt_at, created_at, delivered_at, last_response_code, last_error"
            " FROM {}.webhook_deliveries WHERE {} ORDER BY row_id DESC LIMIT %s"
        ).format(sql.Identifier(schema), sql.SQL(" AND ").join(clauses)),
        [*params, limit + 1],
    )
    page = rows[:limit]
    return [DeliveryOut(*r[1:]) for r in page], (
        int(page[-1][0]) if len(rows) > limit and page else None
    )


def attempts(
    db: Reader, schema: str, endpoint_id: UUID, *, before: int | None, limit: int
) -> tuple[list[AttemptOut], int | None]:
    """Every HTTP attempt to the endpoint newest first (before attempt `before`); the attempt
    to continue before if there are more."""
    rows = db.fetchall(
        sql.SQL(
            "SELECT attempt_id, delivery_id, msg_id, attempt, at, outcome, latency_ms,"
            " response_code, response_body, error FROM {}.webhook_attempts"
            " WHERE endpoint_id = %s AND attempt_id < %s ORDER BY attempt_id DESC LIMIT %s"
        ).format(sql.Identifier(schema)),
        (endpoint_id, before if before is not None else NO_ROW_ID, limit + 1),
    )
    items = [AttemptOut(*r) for r in rows[:limit]]
    return items, (items[-1].id if len(rows) > limit and items else None)


def disabled_endpoints(db: Reader, schema: str) -> list[DisabledEndpoint]:
    """Endpoints the dispatcher disabled (410 Gone, failing for 5 days) and nobody enabled
    since, oldest change first: what the alerts list shows."""
    rows = db.fetchall(
        sql.SQL(
            "SELECT endpoint_id, disabled_reason, updated_at, facility_code FROM {}.webhook_endpoints"
            " WHERE NOT enabled AND disabled_reason = ANY(%s) ORDER BY updated_at, endpoint_id"
        ).format(sql.Identifier(schema)),
        ([DisableReason.GONE.value, DisableReason.FAILING.value],),
    )
    return [DisabledEndpoint(r[0], DisableReason(r[1]), r[2], r[3]) for r in rows]
