"""The delivery queue of a grantee's schema (`webhook_deliveries`, `webhook_attempts` and the
dispatcher's health columns of `webhook_endpoints`): claiming, recording outcomes, queueing
again. The dispatcher (services/webhooks/dispatcher.py) decides; this module reads and writes.

A claim takes due rows with `FOR UPDATE SKIP LOCKED` and stamps them with a lease
(`locked_until`) and a claim token, then commits, so the HTTP call holds no lock. Results are
written only where the claim token still matches: a late answer of a dispatcher whose lease
passed changes nothing but the attempts log.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal
from uuid import UUID

from psycopg import Cursor, sql
from psycopg.rows import TupleRow

from services.store.database import Database
from services.webhooks.store import CHANNEL


@dataclass(frozen=True)
class Claimed:
    schema: str
    delivery_id: UUID
    endpoint_id: UUID
    msg_id: str
    event_type: str
    body: bytes
    disclosures: list[dict[str, Any]]
    attempts: int
    step: int
    claim: UUID
    url: str
    facility_code: str
    secrets: list[str]
    # The trace of the request that recorded the delivered event ("" for a ping, or an event
    # recorded outside a request): each attempt is a new span of it (`traceparent`).
    trace_id: str = ""
    # The endpoint's gap-free number of the message (`webhook-sequence`); None for a ping.
    sequence: int | None = None


@dataclass(frozen=True)
class Result:
    """What one attempt gave: the HTTP status (None without an answer), the latency, the
    response body cut short, the error (None on success) and the wait the receiver asked for
    (`Retry-After`)."""

    ok: bool
    status: int | None
    latency_ms: int
    body: str
    error: str | None
    retry_after: timedelta | None = None


def claim(
    db: Database, schema: str, *, now: datetime, lease: timedelta, limit: int
) -> list[Claimed]:
    """Take up to `limit` due deliveries of one grantee under a lease (rate limits spent)."""
    s = sql.Identifier(schema)
    with db.transaction() as cur:
        cur.execute(
            sql.SQL(
                "SELECT d.delivery_id, d.endpoint_id FROM {s}.webhook_deliveries d"
                " JOIN {s}.webhook_endpoints e USING (endpoint_id)"
                " WHERE d.status = 'pending' AND d.next_attempt_at <= %(now)s"
                " AND (d.locked_until IS NULL OR d.locked_until <= %(now)s) AND e.enabled"
                " ORDER BY d.next_attempt_at, d.sequence NULLS FIRST LIMIT %(n)s"
                " FOR UPDATE OF d SKIP LOCKED"
            ).format(s=s),
            {"now": now, "n": limit},
        )
        candidates = cur.fetchall()
        if not candidates:
            return []
        allowance = _allowance(cur, schema, sorted({c[1] for c in candidates}), now)
        chosen = []
        for delivery_id, endpoint_id in candidates:
            left = allowance.get(endpoint_id)
            if left is None:
                chosen.append(delivery_id)
            elif left > 0:
                allowance[endpoint_id] = left - 1
                chosen.append(delivery_id)
        if not chosen:
            return []
        token = uuid.uuid4()
        cur.execute(
            sql.SQL(
                "UPDATE {s}.webhook_deliveries d SET locked_until = %(until)s, claim = %(claim)s"
                " FROM {s}.webhook_endpoints e WHERE d.delivery_id = ANY(%(ids)s)"
                " AND e.endpoint_id = d.endpoint_id"
                " RETURNING d.delivery_id, d.endpoint_id, d.msg_id, d.event_type, d.body,"
                " d.disclosures, d.attempts, d.step, e.url, e.facility_code,"
                " (SELECT array_agg(secret ORDER BY version DESC) FROM {s}.webhook_secrets k"
                "  WHERE k.endpoint_id = d.endpoint_id"
                "  AND (k.expires_at IS NULL OR k.expires_at > %(now)s)),"
                # The delivered event's trace id, read from its stored metadata.
                " (SELECT convert_from(v.state, 'UTF8')::jsonb ->> 'trace_id'"
                "  FROM {s}.events v WHERE v.notification_id = d.position),"
                " d.sequence"
            ).format(s=s),
            {"until": now + lease, "claim": token, "ids": chosen, "now": now},
        )
        return [
            Claimed(
                schema=schema,
                delivery_id=r[0],
                endpoint_id=r[1],
                msg_id=r[2],
                event_type=r[3],
                body=bytes(r[4]),
                disclosures=list(r[5]),
                attempts=r[6],
                step=r[7],
                claim=token,
                url=r[8],
                facility_code=r[9],
                secrets=list(r[10] or []),
                trace_id=r[11] or "",
                sequence=r[12],
            )
            for r in cur.fetchall()
        ]


def _allowance(
    cur: Cursor[TupleRow], schema: str, endpoint_ids: list[UUID], now: datetime
) -> dict[UUID, int]:
    """Token buckets of the rate-limited endpoints (burst = one second's worth)."""
    cur.execute(
        sql.SQL(
            "SELECT endpoint_id, rate_limit, tokens, tokens_at FROM {}.webhook_endpoints"
            " WHERE endpoint_id = ANY(%s) AND rate_limit IS NOT NULL ORDER BY endpoint_id"
            " FOR UPDATE"
        ).format(sql.Identifier(schema)),
        (endpoint_ids,),
    )
    out: dict[UUID, int] = {}
    for endpoint_id, rate, tokens, tokens_at in cur.fetchall():
        burst = max(1.0, rate)
        if tokens is None or tokens_at is None:
            available = burst
        else:
            elapsed = max(0.0, (now - tokens_at).total_seconds())
            available = min(burst, tokens + elapsed * rate)
        out[endpoint_id] = int(available)
        # Spend them now: what is not used this round is claimed by nobody else either.
        cur.execute(
            sql.SQL(
                "UPDATE {}.webhook_endpoints SET tokens = %s, tokens_at = %s WHERE endpoint_id = %s"
            ).format(sql.Identifier(schema)),
            (available - int(available), now, endpoint_id),
        )
    return out


def record_attempts(
    cur: Cursor[TupleRow], schema: str, items: list[tuple[Claimed, Result]], at: datetime
) -> None:
    """Every attempt, whoever's claim it was."""
    cur.executemany(
        sql.SQL(
            "INSERT INTO {}.webhook_attempts (delivery_id, endpoint_id, msg_id, attempt,"
            " at, outcome, response_code, latency_ms, response_body, error)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
        ).format(sql.Identifier(schema)),
        [
            (
                item.delivery_id,
                item.endpoint_id,
                item.msg_id,
                item.attempts + 1,
                at,
                "succeeded" if result.ok else "failed",
                result.status,
                result.latency_ms,
                result.body,
                result.error,
            )
            for item, result in items
        ],
    )


def mark_delivered(
    cur: Cursor[TupleRow], schema: str, items: list[tuple[Claimed, Result]], at: datetime
) -> None:
    """The deliveries still under their claim are delivered."""
    cur.execute(
        sql.SQL(
            "UPDATE {}.webhook_deliveries d SET status = 'delivered',"
            " attempts = d.attempts + 1, delivered_at = %s, locked_until = NULL,"
            " claim = NULL, next_attempt_at = NULL, last_response_code = u.code,"
            " last_error = NULL"
            " FROM unnest(%s::uuid[], %s::uuid[], %s::int[]) AS u(id, claim, code)"
            " WHERE d.delivery_id = u.id AND d.claim = u.claim"
        ).format(sql.Identifier(schema)),
        (
            at,
            [item.delivery_id for item, _ in items],
            [item.claim for item, _ in items],
            [result.status for _, result in items],
        ),
    )


def reschedule(
    cur: Cursor[TupleRow],
    item: Claimed,
    result: Result,
    *,
    status: Literal["pending", "failed"],
    step: int,
    next_at: datetime | None,
) -> None:
    """A failed attempt: the delivery waits for `next_at`, or has failed for good."""
    cur.execute(
        sql.SQL(
            "UPDATE {}.webhook_deliveries SET status = %s, attempts = attempts + 1,"
            " step = %s, next_attempt_at = %s, locked_until = NULL, claim = NULL,"
            " last_response_code = %s, last_error = %s"
            " WHERE delivery_id = %s AND claim = %s"
        ).format(sql.Identifier(item.schema)),
        (status, step, next_at, result.status, result.error, item.delivery_id, item.claim),
    )


def endpoint_succeeded(cur: Cursor[TupleRow], schema: str, endpoint_id: UUID, at: datetime) -> None:
    """A delivery to the endpoint succeeded: it is failing no more."""
    cur.execute(
        sql.SQL(
            "UPDATE {}.webhook_endpoints SET failing_since = NULL, last_success_at = %s"
            " WHERE endpoint_id = %s"
        ).format(sql.Identifier(schema)),
        (at, endpoint_id),
    )


def endpoint_failed(
    cur: Cursor[TupleRow], schema: str, endpoint_id: UUID, at: datetime
) -> tuple[datetime, bool] | None:
    """Mark the endpoint failing (since its first failure in a row); when it has failed since,
    and whether it is still enabled."""
    cur.execute(
        sql.SQL(
            "UPDATE {}.webhook_endpoints SET failing_since = coalesce(failing_since, %s)"
            " WHERE endpoint_id = %s RETURNING failing_since, enabled"
        ).format(sql.Identifier(schema)),
        (at, endpoint_id),
    )
    row = cur.fetchone()
    return None if row is None else (row[0], bool(row[1]))


def enqueue_ping(db: Database, schema: str, endpoint_id: UUID, now: datetime) -> tuple[UUID, str]:
    """A `ping` test message for one endpoint: outside the sequence, due at once."""
    delivery_id = uuid.uuid4()
    msg_id = f"msg_{delivery_id.hex}"
    body = json.dumps(
        {
            "type": "ping",
            "timestamp": now.isoformat().replace("+00:00", "Z"),
            "data": {"endpoint_id": str(endpoint_id), "message": "a test message"},
            "version": 1,
        },
        separators=(",", ":"),
    ).encode()
    with db.transaction() as cur:
        cur.execute(
            sql.SQL(
                "INSERT INTO {}.webhook_deliveries (delivery_id, endpoint_id, event_type, msg_id,"
                " body, committed_at, created_at, status, next_attempt_at)"
                " VALUES (%s, %s, 'ping', %s, %s, %s, %s, 'pending', %s)"
            ).format(sql.Identifier(schema)),
            (delivery_id, endpoint_id, msg_id, body, now, now, now),
        )
        cur.execute("SELECT pg_notify(%s, %s)", (CHANNEL, schema))
    return delivery_id, msg_id


def redeliver(
    db: Database, schema: str, endpoint_id: UUID, delivery_id: UUID, now: datetime
) -> str | None:
    """Queue one delivery of the endpoint again, through a fresh retry schedule, whatever its
    status: its `webhook-id` (the same as before), None when the endpoint has no such
    delivery."""
    with db.transaction() as cur:
        cur.execute(
            sql.SQL(
                "UPDATE {}.webhook_deliveries SET status = 'pending', step = 0, next_attempt_at = %s,"
                " locked_until = NULL, claim = NULL WHERE endpoint_id = %s AND delivery_id = %s"
                " RETURNING msg_id"
            ).format(sql.Identifier(schema)),
            (now, endpoint_id, delivery_id),
        )
        row = cur.fetchone()
        if row is not None:
            cur.execute("SELECT pg_notify(%s, %s)", (CHANNEL, schema))
    return None if row is None else str(row[0])


def redeliver_sequences(
    db: Database, schema: str, endpoint_id: UUID, first: int, last: int, now: datetime
) -> int:
    """Queue again the endpoint's deliveries numbered `first`..`last` (a receiver's gap), each
    with its own `webhook-id` and body; how many."""
    return _requeue(
        db, schema, endpoint_id, now, sql.SQL("sequence BETWEEN %s AND %s"), first, last
    )


def recover(db: Database, schema: str, endpoint_id: UUID, since: datetime, now: datetime) -> int:
    """Queue again every delivery of the endpoint created since `since`; how many."""
    return _requeue(db, schema, endpoint_id, now, sql.SQL("created_at >= %s"), since)


def _requeue(
    db: Database,
    schema: str,
    endpoint_id: UUID,
    now: datetime,
    where: sql.Composable,
    *values: UUID | datetime | int,
) -> int:
    with db.transaction() as cur:
        cur.execute(
            sql.SQL(
                "UPDATE {}.webhook_deliveries SET status = 'pending', step = 0, next_attempt_at = %s,"
                " locked_until = NULL, claim = NULL WHERE endpoint_id = %s AND {}"
            ).format(sql.Identifier(schema), where),
            (now, endpoint_id, *values),
        )
        n = cur.rowcount
        if n:
            cur.execute("SELECT pg_notify(%s, %s)", (CHANNEL, schema))
    return n
