"""Blue/green rebuilds (DESIGN D3, decisions 22 and 26): new builds of the views beside the
live ones, switched to in one transaction.

The log up to its head is folded in memory and written with COPY (`fold.Engine`); the events
appended meanwhile go through the live path under the grantee's projector lock, then every
view switches. A rebuild never serves a half-built view and never stops the live worker.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable, Sequence

import psycopg
import structlog
from psycopg import Cursor, sql
from psycopg.rows import TupleRow

from projections.base import Projection, Tables
from projections.ops import OutOfRange
from projections.registry import PROJECTIONS, by_name
from services.projector import faults as projection_faults
from services.projector.faults import CONTENT_ERRORS
from services.projector.fold import CachedTables, Engine
from services.projector.live import (
    LIVE_BATCH,
    active_build,
    apply_batch,
    lock_key,
    log_head,
    read_events,
)
from services.store.database import Database

log = structlog.get_logger("prowd.projector")
# What makes a rebuild's in-memory fold or its COPY fail where the live path would isolate an
# event: a number an integer column cannot hold (the fold refuses it), PostgreSQL's refusal of
# a value, and the client's for an array element it cannot pack.
_FOLD_ERRORS: tuple[type[Exception], ...] = (*CONTENT_ERRORS, OutOfRange, struct.error)


def rebuild(
    db: Database, schema: str, view: str, *, progress: Callable[[int, int], None] | None = None
) -> int:
    """Build a new version of `view` beside the live one, then switch to it atomically."""
    return rebuild_views(db, schema, [view], progress=progress)[view]


def rebuild_views(
    db: Database,
    schema: str,
    views: Sequence[str] | None = None,
    *,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, int]:
    """Build new versions of `views` (default: all) in one pass over the log, beside the live
    builds, then switch all of them to their new build in one transaction (blue/green).

    Returns each view's new build number. The log up to its head when the rebuild started is
    folded into in-memory rows (`fold.Engine`, `projections.ops.MemoryStore`) and each new table is
    written once with COPY; the events appended meanwhile are then applied through the live
    path. The live worker goes on applying new events to the live builds meanwhile, and the
    final catch-up and switch run under the grantee's projector lock, so no live batch falls
    between them.
    """
    projections = [by_name(v) for v in views] if views is not None else list(PROJECTIONS)
    s = sql.Identifier(schema)
    with db.connection() as conn:
        # One rebuild of a grantee at a time (a session lock, released below): builds left
        # behind by an interrupted rebuild can then be dropped safely.
        row = conn.execute(
            "SELECT pg_try_advisory_lock(%s)", (rebuild_lock_key(schema),)
        ).fetchone()
        if not row or not row[0]:
            raise RebuildRunning(f"a rebuild of {schema} is already running")
        try:
            with conn.transaction(), conn.cursor() as cur:
                builds: list[tuple[Projection, Tables]] = []
                for projection in projections:
                    _drop_abandoned(cur, schema, projection)
                    cur.execute(
                        sql.SQL(
                            "SELECT coalesce(max(version), 0) FROM {}.tracking WHERE view = %s"
                        ).format(s),
                        (projection.name,),
                    )
                    got = cur.fetchone()
                    build = int(got[0] if got else 0) + 1
                    cached = CachedTables(schema, build)
                    projection.create(cur, cached, keys=False)  # keys added after the COPY
                    cur.execute(
                        sql.SQL("INSERT INTO {}.tracking VALUES (%s, %s, 0)").format(s),
                        (projection.name, build),
                    )
                    builds.append((projection, cached))
                head = log_head(cur, schema)
            engine = Engine(conn, schema, builds, track=True)
            try:
                engine.run(after=0, total=head, until_position=head, progress=progress)
                # The new tables are filled in one transaction: a crash before its commit
                # leaves them empty, and the next rebuild drops them (`_drop_abandoned`).
                with conn.transaction(), conn.cursor() as cur:
                    cur.execute("SET LOCAL synchronous_commit = off")
                    engine.write(cur)
                position = engine.position
            except _FOLD_ERRORS as e:
                position = _rebuild_by_statements(conn, schema, builds, e)
            # Final catch-up and switch under the grantee's projector lock.
            with conn.transaction(), conn.cursor() as cur:
                cur.execute("SELECT pg_advisory_xact_lock(%s)", (lock_key(schema),))
                catch_up_builds(cur, schema, builds, position)
                for projection, t in builds:
                    _switch(cur, schema, projection, t.build)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (rebuild_lock_key(schema),))
    return {p.name: t.build for p, t in builds}


def _rebuild_by_statements(
    conn: psycopg.Connection[TupleRow],
    schema: str,
    builds: list[tuple[Projection, Tables]],
    error: Exception,
) -> int:
    """The fold kept a value a table refuses (what the live path isolates event by event):
    fill the new builds through the live path instead, which isolates the same events, so the
    rebuild gives the live rows. Slower; only for a log holding such an event. Returns the
    position applied."""
    log.warning(
        "rebuild_by_statements",
        schema=schema,
        error_class=f"{type(error).__module__}.{type(error).__qualname__}",
    )
    with conn.transaction(), conn.cursor() as cur:
        for projection, t in builds:
            projection.drop(cur, t)
            projection.create(cur, t)
            projection_faults.forget(cur, schema, projection.name, t.build)
    with conn.transaction(), conn.cursor() as cur:
        return catch_up_builds(cur, schema, builds, 0)


def catch_up_builds(
    cur: Cursor[TupleRow], schema: str, builds: list[tuple[Projection, Tables]], after: int
) -> int:
    """Apply every event after `after` to `builds` through the live path (statement by
    statement): the events appended while a rebuild was folding the log. Returns the last
    position applied."""
    views = [(p, t.build, after) for p, t in builds]
    topics = sorted({topic for p, _ in builds for topic in p.topics})
    position = after
    while True:
        cleaned: dict[int, list[str]] = {}
        rows = read_events(cur, schema, position, LIVE_BATCH, topics, cleaned=cleaned)
        if not rows:
            return position
        apply_batch(cur, schema, views, rows, cleaned)
        position = rows[-1][0]


class RebuildRunning(Exception):
    """Another rebuild of the same grantee holds its rebuild lock."""


def rebuild_lock_key(schema: str) -> int:
    """The key of the grantee's rebuild lock: one rebuild of a grantee at a time."""
    return zlib.crc32(f"rebuild:{schema}".encode())


def _drop_abandoned(cur: Cursor[TupleRow], schema: str, projection: Projection) -> None:
    """Drop builds newer than the live one: an interrupted rebuild's (never switched to)."""
    s = sql.Identifier(schema)
    live = active_build(cur, schema, projection.name) or 0
    cur.execute(
        sql.SQL("SELECT version FROM {}.tracking WHERE view = %s AND version > %s").format(s),
        (projection.name, live),
    )
    for (version,) in cur.fetchall():
        projection.drop(cur, Tables(schema, int(version)))
        projection_faults.forget(cur, schema, projection.name, int(version))
        cur.execute(
            sql.SQL("DELETE FROM {}.tracking WHERE view = %s AND version = %s").format(s),
            (projection.name, version),
        )


def _switch(cur: Cursor[TupleRow], schema: str, projection: Projection, build: int) -> None:
    s = sql.Identifier(schema)
    view = projection.name
    old = active_build(cur, schema, view)
    cur.execute(
        sql.SQL(
            "INSERT INTO {}.active_views VALUES (%s, %s)"
            " ON CONFLICT (view) DO UPDATE SET version = EXCLUDED.version"
        ).format(s),
        (view, build),
    )
    if old is not None and old > 1 and old - 1 != build:
        # Keep the build just replaced (readers that looked up the old version finish);
        # drop the ones before it.
        projection.drop(cur, Tables(schema, old - 1))
        projection_faults.forget(cur, schema, view, old - 1)
        cur.execute(
            sql.SQL("DELETE FROM {}.tracking WHERE view = %s AND version = %s").format(s),
            (view, old - 1),
        )
