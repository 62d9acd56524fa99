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
from typing import Any

import structlog
from psycopg import Cursor, sql
from psycopg.rows import TupleRow

from domain.common import utcnow
from services.store.database import Database
from services.store.mapping import MsgspecMapper
from services.store.zones import zone_of
from services.webhooks import mentoring, residency, routing
from services.webhooks.batch import Batch
from services.webhooks.handlers import Handlers
from services.webhooks.store import CHANNEL

log = structlog.get_logger("prowd.webhooks")
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
    """The next events of the log: position, topic, and the event if a handler takes it (its
    plain day read in the grantee's zone, as the views read it)."""
    zone = zone_of(cur, schema)
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
            event = _mapper.decode(topic, originator_id, version, bytes(state), zone)
        out.append((position, topic, event))
    return out


def _position(cur: Cursor[TupleRow], schema: str) -> int:
    cur.execute(sql.SQL("SELECT position FROM {}.webhook_outbox").format(sql.Identifier(schema)))
    tracked = cur.fetchone()
    return int(tracked[0]) if tracked else 0


def _deliver(
    cur: Cursor[TupleRow],
    db: Database,
    schema: str,
    events: list[tuple[int, str, object | None]],
    now: datetime,
) -> None:
    """The deliveries of `events` (the consumer's next ones), and its position past them."""
    b = Batch.begin(cur, db, schema, now)
    b.prefetch(event for _, _, event in events if event is not None)
    for position, topic, event in events:
        if event is not None:
            HANDLERS.apply(b, position, topic, event)
    b.write()
    cur.execute(
        sql.SQL("UPDATE {}.webhook_outbox SET position = %s").format(sql.Identifier(schema)),
        (events[-1][0],),
    )
    if b.rows:
        cur.execute("SELECT pg_notify(%s, %s)", (CHANNEL, schema))


def catch_up(
    db: Database, schema: str, *, batch: int = BATCH, now: Callable[[], datetime] = utcnow
) -> int:
    """Turn one batch of new events of one grantee into deliveries. Returns the events read."""
    with db.session(), db.transaction() as cur:
        cur.execute("SELECT pg_try_advisory_xact_lock(%s)", (lock_key(schema),))
        row = cur.fetchone()
        if not row or not row[0]:
            return 0
        events = _read(cur, schema, _position(cur, schema), batch)
        if not events:
            return 0
        _deliver(cur, db, schema, events, now())
        return len(events)


class Follower:
    """The consumer fed by the projector's pass over the log (services/projector/live.py
    `Follower`): the events the views' batch read and decoded, in the views' transaction, so
    the log is read and decoded once. It takes them only when its position is within the
    batch (else `drain` catches it up on its own), under its own lock and in a savepoint of
    its own: exactly once, and a failure of the outbox never undoes the views' batch.

    `current` tells whether the last batch left the consumer at the batch's end."""

    topics = TOPICS

    def __init__(self, db: Database, now: Callable[[], datetime] = utcnow) -> None:
        self.db = db
        self.now = now
        self.current = False

    def follow(
        self,
        cur: Cursor[TupleRow],
        schema: str,
        after: int,
        rows: list[tuple[int, str, Any]],
        cleaned: dict[int, list[str]],
    ) -> None:
        self.current = False
        last = rows[-1][0]
        try:
            with cur.connection.transaction():
                cur.execute("SELECT pg_try_advisory_xact_lock(%s)", (lock_key(schema),))
                row = cur.fetchone()
                if not row or not row[0]:
                    return
                position = _position(cur, schema)
                if position < after or position > last:
                    return
                events = [r for r in rows if r[0] > position]
                if events:
                    if cleaned:
                        # The views saw these events made storable (decision 30); the
                        # outbox takes them as stored, as when it reads the log itself.
                        events = _as_stored(cur, schema, events, cleaned)
                    _deliver(cur, self.db, schema, events, self.now())
            self.current = True
        except Exception as e:
            if cur.connection.broken:
                raise
            log.error(
                "webhook_outbox_failed",
                schema=schema,
                error_class=type(e).__name__,
                error=str(e),
                exc_info=True,
            )


def _as_stored(
    cur: Cursor[TupleRow],
    schema: str,
    events: list[tuple[int, str, Any]],
    cleaned: dict[int, list[str]],
) -> list[tuple[int, str, Any]]:
    """`events` with those at `cleaned` positions decoded again from the log."""
    positions = sorted(p for p, _, e in events if p in cleaned and e is not None)
    if not positions:
        return events
    zone = zone_of(cur, schema)
    cur.execute(
        sql.SQL(
            "SELECT notification_id, originator_id, originator_version, topic, state"
            " FROM {}.events WHERE notification_id = ANY(%s)"
        ).format(sql.Identifier(schema)),
        (positions,),
    )
    again = {
        position: _mapper.decode(topic, oid, version, bytes(state), zone)
        for position, oid, version, topic, state in cur.fetchall()
    }
    return [(p, topic, again.get(p, e)) for p, topic, e in events]


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
