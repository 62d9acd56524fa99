"""Live catch-up: the read models follow each grantee's log (DESIGN D3).

Exactly-once: each batch of events is applied to every view and the views' tracking positions
are advanced in the same transaction. A transaction-scoped advisory lock per grantee keeps two
workers (or a worker and a rebuild's final switch) from applying the same events twice. Also
here: where each view stands (positions, the active build, digests) and read-your-writes.
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Collection
from typing import Any, Protocol

import structlog
from psycopg import Cursor, sql
from psycopg.rows import TupleRow

from projections.base import Projection, Tables
from projections.registry import PROJECTIONS
from services.projector import faults as projection_faults
from services.projector import signals
from services.projector.faults import CONTENT_ERRORS, Fault
from services.projector.writeback import write_back
from services.store.database import Database
from services.store.mapping import MsgspecMapper, prefetch_keys
from services.store.zones import zone_of

log = structlog.get_logger("prowd.projector")
_mapper = MsgspecMapper()
LIVE_BATCH = 500


def lock_key(schema: str) -> int:
    """The key of the grantee's projector lock (live batches, a rebuild's switch)."""
    return zlib.crc32(f"projector:{schema}".encode())


def active_build(cur: Cursor[TupleRow], schema: str, view: str) -> int | None:
    """The build of `view` being served, or None before its first."""
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


def read_events(
    cur: Cursor[TupleRow],
    schema: str,
    after: int,
    limit: int,
    topics: list[str] | None,
    until: int | None = None,
    cleaned: dict[int, list[str]] | None = None,
) -> list[tuple[int, str, Any]]:
    """Up to `limit` events after `after` (and up to `until`): (position, topic, event),
    the event decoded only for `topics` (all when None), else None."""
    # Every id is read so positions advance past events no view handles; state is fetched
    # only for the topics some view handles (`topics=None`: for every event). An event holding
    # text no view can store is made storable (`projection_faults.storable`, rule 1 of
    # decision 30) and its position noted in `cleaned` with the fields changed.
    # Plain days are read in the grantee's zone, by a rebuild as by the live path (decision 95).
    zone = zone_of(cur, schema)
    state = (
        sql.SQL("state") if topics is None else sql.SQL("CASE WHEN topic = ANY(%s) THEN state END")
    )
    bound = sql.SQL("") if until is None else sql.SQL(" AND notification_id <= %s")
    params: list[Any] = [] if topics is None else [topics]
    params.append(after)
    if until is not None:
        params.append(until)
    params.append(limit)
    cur.execute(
        sql.SQL(
            "SELECT notification_id, topic, originator_id, originator_version, {state}"
            " FROM {s}.events WHERE notification_id > %s{bound} ORDER BY notification_id LIMIT %s"
        ).format(state=state, s=sql.Identifier(schema), bound=bound),
        params,
        # Binary results: the stored state arrives as its bytes, not hex text the server
        # encodes and the client decodes (half the client's CPU of the read, measured).
        binary=True,
    )
    out = []
    decode = _mapper.decode
    may_hold_nul = projection_faults.may_hold_nul
    fetched = cur.fetchall()
    # The keys of the batch's participants in one statement, not one per participant.
    prefetch_keys(data for *_, data in fetched if data is not None)
    for position, topic, originator_id, version, data in fetched:
        event = None
        if data is not None:
            event = decode(topic, originator_id, version, data, zone)
            if may_hold_nul(data):
                changed = projection_faults.storable(event)
                if changed and cleaned is not None:
                    cleaned[position] = changed
        out.append((position, topic, event))
    return out


def apply_batch(
    cur: Cursor[TupleRow],
    schema: str,
    views: list[tuple[Projection, int, int]],
    rows: list[tuple[int, str, Any]],
    cleaned: dict[int, list[str]],
) -> None:
    """Apply `rows` to each view past its tracked position and set every view's
    position to the last row's, recording the faults of events a view could not take."""
    faults: list[Fault] = []
    try:
        # A savepoint: what the write-back cannot apply exactly is undone, and the batch is
        # applied statement by statement instead (decision 90).
        with cur.connection.transaction():
            write_back(cur, schema, views, rows)
    except Exception as e:
        if cur.connection.broken:
            raise
        log.warning(
            "projector_batch_by_statements",
            schema=schema,
            error_class=f"{type(e).__module__}.{type(e).__qualname__}",
        )
        faults = by_statements(cur, schema, views, rows)
    faults += projection_faults.unstorable(views, rows, cleaned)
    projection_faults.record(cur, schema, faults)
    # One write for every view. A view caught up alone (`only`) may be ahead of the batch:
    # never moved back.
    cur.execute(
        sql.SQL(
            "UPDATE {}.tracking t SET position = greatest(t.position, %s)"
            " FROM unnest(%s::text[], %s::int[]) AS u(view, version)"
            " WHERE t.view = u.view AND t.version = u.version"
        ).format(sql.Identifier(schema)),
        (rows[-1][0], [p.name for p, _, _ in views], [build for _, build, _ in views]),
    )


def by_statements(
    cur: Cursor[TupleRow],
    schema: str,
    views: list[tuple[Projection, int, int]],
    rows: list[tuple[int, str, Any]],
) -> list[Fault]:
    """The batch applied one statement per row operation (`SqlWriter`); the faults of the
    events a view could not take."""
    try:
        # A savepoint: a write refused for an event's content undoes the batch alone, which
        # is then applied again event by event (rule 2 of decision 30).
        with cur.connection.transaction():
            for position, topic, event in rows:
                if event is None:
                    continue
                for projection, build, tracked in views:
                    if position > tracked:
                        projection.apply(cur, Tables(schema, build), topic, event, position)
    except CONTENT_ERRORS:
        return projection_faults.apply_isolated(cur, schema, views, rows)
    return []


class Follower(Protocol):
    """Another consumer of the log fed in the same pass over the same decoded events (the
    webhook outbox, services/webhooks/outbox.py), in the batch's transaction."""

    @property
    def topics(self) -> Collection[str]:
        """The topics it needs decoded."""
        ...

    def follow(
        self,
        cur: Cursor[TupleRow],
        schema: str,
        after: int,
        rows: list[tuple[int, str, Any]],
        cleaned: dict[int, list[str]],
    ) -> None:
        """Take the batch's events (every position after `after`); `cleaned`: the positions
        whose event was made storable for the views (decision 30)."""
        ...


def catch_up(
    db: Database,
    schema: str,
    *,
    batch: int = LIVE_BATCH,
    only: str | None = None,
    follower: Follower | None = None,
) -> int:
    """Apply one batch of new events to every live view of one grantee (or to the view named
    `only`), and hand them to `follower`. Returns the count."""
    return _catch_up(db, schema, batch, only, follower)[0]


def _catch_up(
    db: Database,
    schema: str,
    batch: int,
    only: str | None,
    follower: Follower | None,
    builds: dict[str, int] | None = None,
) -> tuple[int, bool]:
    """`catch_up`: (events applied, whether the projector lock was taken); `builds` is filled
    with the live build of each view the batch applied to."""
    with db.session(), db.transaction() as cur:
        cur.execute("SELECT pg_try_advisory_xact_lock(%s)", (lock_key(schema),))
        row = cur.fetchone()
        if not row or not row[0]:
            return 0, False
        positions = _positions(cur, schema)
        views = [
            (p, *positions[p.name])
            for p in PROJECTIONS
            if p.name in positions and only in (None, p.name)
        ]
        if not views:
            return 0, True
        if builds is not None:
            builds.update((p.name, build) for p, build, _ in views)
        if only is not None:
            follower = None
        after = min(tracked for _, _, tracked in views)
        topics = {t for p, _, _ in views for t in p.topics}
        if follower is not None:
            topics.update(follower.topics)
        cleaned: dict[int, list[str]] = {}
        rows = read_events(cur, schema, after, batch, sorted(topics), cleaned=cleaned)
        if rows:
            apply_batch(cur, schema, views, rows, cleaned)
            if follower is not None:
                follower.follow(cur, schema, after, rows, cleaned)
            signals.notify(cur, schema)  # read-your-writes waits wake on the commit
        return len(rows), True


def caught_up_build(db: Database, schema: str, view: str, *, batch: int = LIVE_BATCH) -> int | None:
    """Catch the view named `view` up with the log here and return its live build, which has
    then applied every event committed before the last batch read; None when another process
    (the worker) holds the projector lock, or the view has no live build."""
    while True:
        builds: dict[str, int] = {}
        n, locked = _catch_up(db, schema, batch, view, None, builds)
        if not locked:
            return None
        # A short batch means the log had no more events when it was read.
        if n < batch:
            return builds.get(view)


def drain(
    db: Database,
    schema: str,
    *,
    batch: int = LIVE_BATCH,
    only: str | None = None,
    follower: Follower | None = None,
) -> int:
    """Catch every view of one grantee (or the view named `only`) up with its log."""
    total = 0
    while True:
        n = catch_up(db, schema, batch=batch, only=only, follower=follower)
        total += n
        # A short batch means the log had no more events when it was read.
        if n < batch:
            return total


def behind(db: Database, schema: str) -> bool:
    """Whether the grantee's log holds an event that a live view or the webhook outbox has not
    taken: one statement, no lock and no transaction of its own (a sweep asks it of every
    grantee, nearly always to hear no; decision 154)."""
    row = db.fetchone(
        sql.SQL(
            "SELECT coalesce((SELECT max(notification_id) FROM {s}.events), 0) > least("
            " (SELECT min(t.position) FROM {s}.active_views a JOIN {s}.tracking t"
            " ON t.view = a.view AND t.version = a.version),"
            " (SELECT position FROM {s}.webhook_outbox))"
        ).format(s=sql.Identifier(schema))
    )
    # NULL (no live view and no outbox row yet): let the catch-up decide.
    return row is None or row[0] is None or bool(row[0])


def log_head(cur: Cursor[TupleRow], schema: str) -> int:
    """The position of the last event in the grantee's log (0 when empty)."""
    cur.execute(
        sql.SQL("SELECT coalesce(max(notification_id), 0) FROM {}.events").format(
            sql.Identifier(schema)
        )
    )
    row = cur.fetchone()
    return int(row[0] if row else 0)


def digests(db: Database, schema: str) -> dict[str, str]:
    """Each live view's digest (`Projection.digest`) for one grantee."""
    with db.transaction() as cur:
        out = {}
        for projection in PROJECTIONS:
            build = active_build(cur, schema, projection.name)
            if build is not None:
                out[projection.name] = projection.digest(cur, Tables(schema, build))
        return out


def position_of(db: Database, schema: str, view: str) -> int:
    """The log position the live build of `view` has applied."""
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
    """Read-your-writes: wait (bounded) until `view` has applied `position`; woken by the
    projector's note of each batch where the process listens (`signals`), else polling."""
    deadline = time.monotonic() + timeout
    delay = 0.005
    listener = signals.of(db)
    while True:
        seen = listener.seen(schema) if listener is not None else 0
        if position_of(db, schema, view) >= position:
            return True
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        if listener is not None:
            listener.wait(schema, seen, left)
        else:
            time.sleep(min(delay, left))
            delay = min(delay * 2, 0.1)
