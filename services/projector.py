"""Runs the read models over grantee logs: live catch-up, blue/green rebuild, digests.

Exactly-once (DESIGN D3): each batch of events is applied to every view and the views'
tracking positions are advanced in the same transaction. A transaction-scoped advisory lock
per grantee keeps two workers (or a worker and a rebuild's final switch) from applying the
same events twice.
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Callable
from typing import Any

from eventsourcing.persistence import StoredEvent
from psycopg import Cursor, sql
from psycopg.rows import TupleRow

from projections.base import Projection, Tables
from projections.registry import PROJECTIONS, by_name
from services.database import Database
from services.mapping import MsgspecMapper

_mapper = MsgspecMapper()
LIVE_BATCH = 500
REBUILD_BATCH = 5000


def lock_key(schema: str) -> int:
    return zlib.crc32(f"projector:{schema}".encode())


def ensure_views(cur: Cursor[TupleRow], schema: str) -> None:
    """Create build 1 of every view that has none yet (new grantee, new projection)."""
    s = sql.Identifier(schema)
    for projection in PROJECTIONS:
        cur.execute(
            sql.SQL("SELECT version FROM {}.active_views WHERE view = %s").format(s),
            (projection.name,),
        )
        if cur.fetchone() is None:
            projection.create(cur, Tables(schema, 1))
            cur.execute(
                sql.SQL("INSERT INTO {}.active_views VALUES (%s, 1) ON CONFLICT DO NOTHING").format(
                    s
                ),
                (projection.name,),
            )
            cur.execute(
                sql.SQL("INSERT INTO {}.tracking VALUES (%s, 1, 0) ON CONFLICT DO NOTHING").format(
                    s
                ),
                (projection.name,),
            )


def active_build(cur: Cursor[TupleRow], schema: str, view: str) -> int | None:
    cur.execute(
        sql.SQL("SELECT version FROM {}.active_views WHERE view = %s").format(
            sql.Identifier(schema)
        ),
        (view,),
    )
    row = cur.fetchone()
    return None if row is None else int(row[0])


def _positions(cur: Cursor[TupleRow], schema: str) -> dict[str, tuple[int, int]]:
    cur.execute(
        sql.SQL(
            "SELECT a.view, a.version, t.position FROM {s}.active_views a"
            " JOIN {s}.tracking t ON t.view = a.view AND t.version = a.version"
        ).format(s=sql.Identifier(schema))
    )
    return {view: (build, position) for view, build, position in cur.fetchall()}


def _read(
    cur: Cursor[TupleRow], schema: str, after: int, limit: int, topics: list[str]
) -> list[tuple[int, str, Any]]:
    # Every id is read so positions advance past events no view handles; state is fetched
    # only for the topics some view handles.
    cur.execute(
        sql.SQL(
            "SELECT notification_id, topic, originator_id, originator_version,"
            " CASE WHEN topic = ANY(%s) THEN state END"
            " FROM {}.events WHERE notification_id > %s ORDER BY notification_id LIMIT %s"
        ).format(sql.Identifier(schema)),
        (topics, after, limit),
    )
    out = []
    for position, topic, originator_id, version, state in cur.fetchall():
        event = None
        if state is not None:
            event = _mapper.to_domain_event(
                StoredEvent(originator_id, version, topic, bytes(state))
            )
        out.append((position, topic, event))
    return out


def _apply_batch(
    cur: Cursor[TupleRow],
    schema: str,
    views: list[tuple[Projection, int, int]],
    rows: list[tuple[int, str, Any]],
) -> None:
    for position, topic, event in rows:
        if event is None:
            continue
        for projection, build, tracked in views:
            if position > tracked:
                projection.apply(cur, Tables(schema, build), topic, event, position)
    last = rows[-1][0]
    s = sql.Identifier(schema)
    for projection, build, _ in views:
        cur.execute(
            sql.SQL("UPDATE {}.tracking SET position = %s WHERE view = %s AND version = %s").format(
                s
            ),
            (last, projection.name, build),
        )


def catch_up(db: Database, schema: str, *, batch: int = LIVE_BATCH) -> int:
    """Apply one batch of new events to every live view of one grantee. Returns the count."""
    with db.transaction() as cur:
        cur.execute("SELECT pg_try_advisory_xact_lock(%s)", (lock_key(schema),))
        row = cur.fetchone()
        if not row or not row[0]:
            return 0
        positions = _positions(cur, schema)
        views = [(p, *positions[p.name]) for p in PROJECTIONS if p.name in positions]
        if not views:
            return 0
        after = min(tracked for _, _, tracked in views)
        topics = sorted({t for p, _, _ in views for t in p.topics})
        rows = _read(cur, schema, after, batch, topics)
        if rows:
            _apply_batch(cur, schema, views, rows)
        return len(rows)


def drain(db: Database, schema: str, *, batch: int = LIVE_BATCH) -> int:
    """Catch every view of one grantee up with its log."""
    total = 0
    while True:
        n = catch_up(db, schema, batch=batch)
        total += n
        # A short batch means the log had no more events when it was read.
        if n < batch:
            return total


def rebuild(
    db: Database, schema: str, view: str, *, progress: Callable[[int, int], None] | None = None
) -> int:
    """Build a new version of `view` beside the live one, then switch to it atomically."""
    projection = by_name(view)
    s = sql.Identifier(schema)
    with db.transaction() as cur:
        cur.execute(
            sql.SQL("SELECT coalesce(max(version), 0) FROM {}.tracking WHERE view = %s").format(s),
            (view,),
        )
        row = cur.fetchone()
        build = int(row[0] if row else 0) + 1
        cur.execute(sql.SQL("SELECT coalesce(max(notification_id), 0) FROM {}.events").format(s))
        head_row = cur.fetchone()
        head = int(head_row[0] if head_row else 0)
        projection.create(cur, Tables(schema, build))
        cur.execute(sql.SQL("INSERT INTO {}.tracking VALUES (%s, %s, 0)").format(s), (view, build))
    topics = sorted(projection.topics)
    position, done = 0, 0
    while True:
        with db.transaction() as cur:
            rows = _read(cur, schema, position, REBUILD_BATCH, topics)
            if not rows:
                break
            _apply_batch(cur, schema, [(projection, build, position)], rows)
            position = rows[-1][0]
            done += len(rows)
        if progress:
            progress(done, head)
    # Final catch-up and switch under the grantee's projector lock: no live batch runs
    # between the last event applied here and the switch.
    with db.transaction() as cur:
        cur.execute("SELECT pg_advisory_xact_lock(%s)", (lock_key(schema),))
        while rows := _read(cur, schema, position, REBUILD_BATCH, topics):
            _apply_batch(cur, schema, [(projection, build, position)], rows)
            position = rows[-1][0]
        old = active_build(cur, schema, view)
        cur.execute(
            sql.SQL("UPDATE {}.active_views SET version = %s WHERE view = %s").format(s),
            (build, view),
        )
        if old is not None and old > 1 and old - 1 != build:
            # Keep the build just replaced (readers that looked up the old version finish);
            # drop the ones before it.
            projection.drop(cur, Tables(schema, old - 1))
            cur.execute(
                sql.SQL("DELETE FROM {}.tracking WHERE view = %s AND version = %s").format(s),
                (view, old - 1),
            )
    return build


def digests(db: Database, schema: str) -> dict[str, str]:
    with db.transaction() as cur:
        out = {}
        for projection in PROJECTIONS:
            build = active_build(cur, schema, projection.name)
            if build is not None:
                out[projection.name] = projection.digest(cur, Tables(schema, build))
        return out


def position_of(db: Database, schema: str, view: str) -> int:
    row = db.fetchone(
        sql.SQL(
            "SELECT t.position FROM {s}.active_views a JOIN {s}.tracking t"
            " ON t.view = a.view AND t.version = a.version WHERE a.view = %s"
        ).format(s=sql.Identifier(schema)),
        (view,),
    )
    return 0 if row is None else int(row[0])


def lowest_position(db: Database, schema: str) -> int:
    """The position every live view of the grantee has applied."""
    row = db.fetchone(
        sql.SQL(
            "SELECT min(t.position) FROM {s}.active_views a JOIN {s}.tracking t"
            " ON t.view = a.view AND t.version = a.version"
        ).format(s=sql.Identifier(schema))
    )
    return 0 if row is None or row[0] is None else int(row[0])


def wait_for(db: Database, schema: str, view: str, position: int, timeout: float) -> bool:
    """Read-your-writes: wait (bounded) until `view` has applied `position`."""
    deadline = time.monotonic() + timeout
    delay = 0.005
    while position_of(db, schema, view) < position:
        if time.monotonic() >= deadline:
            return False
        time.sleep(delay)
        delay = min(delay * 2, 0.1)
    return True
