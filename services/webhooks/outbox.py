"""The webhook outbox, filled by following the grantee's log exactly once (DESIGN D6).

A delivery exists only for a committed event: the consumer reads the log in order and, in ONE
transaction per batch, writes the deliveries of the batch's events and advances its own
position (`webhook_outbox`). A transaction-scoped advisory lock per grantee keeps two
consumers from reading the same batch; `UNIQUE (endpoint_id, position)` would refuse a second
row even so. The consumer is not a view: it is never rebuilt, so a replay can never create
deliveries again.

Which endpoints an event goes to is decided as of the event, from state the consumer keeps
in step with the log (the same transaction): the endpoints' subscriptions in log order, every
participant's placements, the members of each pairing and the context of each meeting.

RRC scoping: an event goes to an endpoint of RRC X only for participants RESIDENT at X at the
time of the event: their latest placement recorded in the log before the event whose
`occurred_at` is at or before the event's instant (a held or amended meeting's instant is
when it took place; a missed one's its scheduled time; everything else its `occurred_at`) is
`rrc` at facility X. Arrivals go to the RRC arrived at, departures (a transition elsewhere, a
return to custody) and exits to the RRC the participant was resident at. Only those residents
appear in the payload; other participants of a group meeting are left out, other grantees never
share a log.

Part 2 and the meetings' messages: services/webhooks/mentoring.py. The handlers are registered
by event class (services/webhooks/handlers.py): endpoints' subscriptions in routing.py,
placements in residency.py, pairings and meetings in mentoring.py; one batch's state and
deliveries in batch.py.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from datetime import datetime

from eventsourcing.persistence import StoredEvent
from psycopg import Cursor, sql
from psycopg.rows import TupleRow

from domain.common import utcnow
from services.store.database import Database
from services.store.mapping import MsgspecMapper
from services.webhooks import mentoring, residency, routing
from services.webhooks.batch import Batch
from services.webhooks.handlers import Handlers
from services.webhooks.store import CHANNEL

_mapper = MsgspecMapper()
BATCH = 500
HANDLERS = Handlers(routing.handlers, residency.handlers, mentoring.handlers)
TOPICS = HANDLERS.topics


def lock_key(schema: str) -> int:
    """The advisory lock that keeps two consumers of one grantee apart."""
    return zlib.crc32(f"webhooks-outbox:{schema}".encode())


def _read(
    cur: Cursor[TupleRow], schema: str, after: int, limit: int
) -> list[tuple[int, str, object | None]]:
    """The next events of the log: position, topic, and the event if a handler takes it."""
    cur.execute(
        sql.SQL(
            "SELECT notification_id, topic, originator_id, originator_version,"
            " CASE WHEN topic = ANY(%s) THEN state END"
            " FROM {}.events WHERE notification_id > %s ORDER BY notification_id LIMIT %s"
        ).format(sql.Identifier(schema)),
        (TOPICS, after, limit),
    )
    out: list[tuple[int, str, object | None]] = []
    for position, topic, originator_id, version, state in cur.fetchall():
        event = None
        if state is not None:
            event = _mapper.to_domain_event(
                StoredEvent(originator_id, version, topic, bytes(state))
            )
        out.append((position, topic, event))
    return out


def catch_up(
    db: Database, schema: str, *, batch: int = BATCH, now: Callable[[], datetime] = utcnow
) -> int:
    """Turn one batch of new events of one grantee into deliveries. Returns the events read."""
    with db.session(), db.transaction() as cur:
        cur.execute("SELECT pg_try_advisory_xact_lock(%s)", (lock_key(schema),))
        row = cur.fetchone()
        if not row or not row[0]:
            return 0
        s = sql.Identifier(schema)
        cur.execute(sql.SQL("SELECT position FROM {}.webhook_outbox").format(s))
        tracked = cur.fetchone()
        after = int(tracked[0]) if tracked else 0
        events = _read(cur, schema, after, batch)
        if not events:
            return 0
        b = Batch.begin(cur, db, schema, now())
        for position, topic, event in events:
            if event is not None:
                HANDLERS.apply(b, position, topic, event)
        b.write()
        cur.execute(
            sql.SQL("UPDATE {}.webhook_outbox SET position = %s").format(s), (events[-1][0],)
        )
        if b.rows:
            cur.execute("SELECT pg_notify(%s, %s)", (CHANNEL, schema))
        return len(events)


def drain(
    db: Database, schema: str, *, batch: int = BATCH, now: Callable[[], datetime] = utcnow
) -> int:
    """Catch up until the log has no new events for the consumer."""
    total = 0
    while True:
        n = catch_up(db, schema, batch=batch, now=now)
        total += n
        if n < batch:
            return total


def position(db: Database, schema: str) -> int:
    """The log position the consumer has reached."""
    row = db.fetchone(
        sql.SQL("SELECT position FROM {}.webhook_outbox").format(sql.Identifier(schema))
    )
    return int(row[0]) if row else 0
