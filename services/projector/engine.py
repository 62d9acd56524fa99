"""Runs the read models over grantee logs: live catch-up, blue/green rebuild, digests.

Exactly-once (DESIGN D3): each batch of events is applied to every view and the views'
tracking positions are advanced in the same transaction. A transaction-scoped advisory lock
per grantee keeps two workers (or a worker and a rebuild's final switch) from applying the
same events twice.
"""

from __future__ import annotations

import gc
import re
import struct
import time
import zlib
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import Any

import psycopg
import structlog
from psycopg import Cursor, sql
from psycopg.rows import TupleRow

from projections.base import Projection, Tables
from projections.ops import MemoryStore, OutOfRange
from projections.registry import PROJECTIONS, by_name
from services.projector import faults as projection_faults
from services.projector.faults import CONTENT_ERRORS, Fault
from services.store.database import Database
from services.store.mapping import MsgspecMapper

_mapper = MsgspecMapper()
LIVE_BATCH = 500
REBUILD_BATCH = 10_000
log = structlog.get_logger("prowd.projector")
# What makes a rebuild's in-memory fold or its COPY fail where the live path would isolate an
# event: a number an integer column cannot hold (the fold refuses it), PostgreSQL's refusal of
# a value, and the client's for an array element it cannot pack.
_FOLD_ERRORS: tuple[type[Exception], ...] = (*CONTENT_ERRORS, OutOfRange, struct.error)


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
    cur: Cursor[TupleRow],
    schema: str,
    after: int,
    limit: int,
    topics: list[str] | None,
    until: int | None = None,
    cleaned: dict[int, list[str]] | None = None,
) -> list[tuple[int, str, Any]]:
    # Every id is read so positions advance past events no view handles; state is fetched
    # only for the topics some view handles (`topics=None`: for every event). An event holding
    # text no view can store is made storable (`projection_faults.storable`, rule 1 of
    # decision 30) and its position noted in `cleaned` with the fields changed.
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
    for position, topic, originator_id, version, data in cur.fetchall():
        event = None
        if data is not None:
            event = decode(topic, originator_id, version, data)
            if may_hold_nul(data):
                changed = projection_faults.storable(event)
                if changed and cleaned is not None:
                    cleaned[position] = changed
        out.append((position, topic, event))
    return out


def _apply_batch(
    cur: Cursor[TupleRow],
    schema: str,
    views: list[tuple[Projection, int, int]],
    rows: list[tuple[int, str, Any]],
    cleaned: dict[int, list[str]],
) -> None:
    faults: list[Fault] = []
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
        faults = projection_faults.apply_isolated(cur, schema, views, rows)
    faults += projection_faults.unstorable(views, rows, cleaned)
    projection_faults.record(cur, schema, faults)
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
        cleaned: dict[int, list[str]] = {}
        rows = _read(cur, schema, after, batch, topics, cleaned=cleaned)
        if rows:
            _apply_batch(cur, schema, views, rows, cleaned)
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
    folded into in-memory rows (`Engine`, `projections.ops.MemoryStore`) and each new table is
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
                    cached = _CachedTables(schema, build)
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
        rows = _read(cur, schema, position, LIVE_BATCH, topics, cleaned=cleaned)
        if not rows:
            return position
        _apply_batch(cur, schema, views, rows, cleaned)
        position = rows[-1][0]


class RebuildRunning(Exception):
    """Another rebuild of the same grantee holds its rebuild lock."""


def rebuild_lock_key(schema: str) -> int:
    return zlib.crc32(f"rebuild:{schema}".encode())


def log_head(cur: Cursor[TupleRow], schema: str) -> int:
    cur.execute(
        sql.SQL("SELECT coalesce(max(notification_id), 0) FROM {}.events").format(
            sql.Identifier(schema)
        )
    )
    row = cur.fetchone()
    return int(row[0] if row else 0)


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


def temporary_tables() -> Tables:
    """Tables of a build in this session's temporary schema (`pg_temp`): for replays."""
    return _CachedTables("pg_temp", 1)


class _CachedTables(Tables):
    """Tables whose composed names are built once (handlers look them up for every event)."""

    def __init__(self, schema: str, build: int) -> None:
        super().__init__(schema, build)
        self._names: dict[str, sql.Composed] = {}

    def __getitem__(self, table: str) -> sql.Composed:
        name = self._names.get(table)
        if name is None:
            name = self._names[table] = super().__getitem__(table)
        return name


# An INSERT of one row whose VALUES hold only placeholders, constants and casts: consecutive
# ones of the same text are sent as one multi-row INSERT.
_INSERT = re.compile(
    rb"\s*INSERT\s+INTO\s+(\S+)\s*(\([^()]*\))?\s*VALUES\s*(\(.*\))"
    rb"\s*(ON\s+CONFLICT\s*(\([^()]*\))?\s*DO\s+NOTHING)?\s*",
    re.S | re.I,
)
_MAX_PARAMS = 65_535
# Rows per multi-row INSERT: a few fixed sizes, so each text repeats and gets prepared.
_SIZES = (512, 128, 32, 8, 2, 1)


class _InsertSpec:
    def __init__(self, table: bytes, head: bytes, values: bytes, tail: bytes, nparams: int):
        self.table = table
        self.head = head
        self.values = values
        self.tail = tail
        self.nparams = nparams
        self._texts: dict[int, bytes] = {}

    def text(self, rows: int) -> bytes:
        text = self._texts.get(rows)
        if text is None:
            text = self._texts[rows] = (
                self.head + b" VALUES " + b", ".join([self.values] * rows) + self.tail
            )
        return text


def _balanced(values: bytes) -> bool:
    """`values` is one parenthesised tuple (no `(...) RETURNING (...)` and the like)."""
    depth = 0
    for i, c in enumerate(values):
        if c == 40:  # (
            depth += 1
        elif c == 41:  # )
            depth -= 1
            if depth == 0 and i != len(values) - 1:
                return False
    return depth == 0


def _shape(query: Any) -> tuple[Any, ...] | None:
    """A hashable key for a composed statement made of SQL text, identifiers and composed
    parts (table names): equal keys render to equal bytes. None when it holds literals.
    (`_obj` is what psycopg's composables are made of; it has no public accessor.)"""
    parts: list[Any] = []
    for part in query._obj:
        kind = type(part)
        if kind is sql.SQL or kind is sql.Identifier:
            parts.append((kind is sql.SQL, part._obj))
        elif kind is sql.Composed:
            sub = _shape(part)
            if sub is None:
                return None
            parts.append(sub)
        elif kind is sql.Placeholder:
            parts.append((None, part._obj, part._format))
        else:
            return None
    return tuple(parts)


class _Group:
    __slots__ = ("rows", "spec")

    def __init__(self, spec: _InsertSpec, first: Sequence[Any]) -> None:
        self.spec = spec
        self.rows: list[Sequence[Any]] = [first]


class BatchWriter:
    """A cursor look-alike that queues statements and sends them in one pipeline per flush
    instead of one round trip each. (Rebuilds and replays used it before handlers became row
    operations folded in memory, decision 26; nothing in the service uses it now.)

    Consecutive one-row INSERTs of the same text into a table no other queued statement has
    touched since are merged into multi-row INSERTs (the rows land in the same order relative
    to every statement that could see them). A handler that reads (`fetchone`, `fetchall`,
    `rowcount`...) gets its answer after everything queued before it was executed, as with a
    plain cursor. Handlers need no change to run on it.
    """

    def __init__(self, cur: Cursor[TupleRow], tables: Sequence[bytes]) -> None:
        self._cur = cur
        self._conn = cur.connection
        self._tables = tuple(tables)
        self._ops: list[Any] = []
        self._open: dict[bytes, _Group] = {}
        self._open_by_table: dict[bytes, list[bytes]] = {}
        self._info: dict[bytes, tuple[_InsertSpec | None, tuple[bytes, ...]]] = {}
        self._texts: dict[tuple[Any, ...], bytes] = {}
        self._rows: list[Any] = []
        self._next = 0
        self.statements = 0

    # -- the cursor interface handlers use ----------------------------------------------
    def execute(self, query: Any, params: Any = None) -> BatchWriter:
        q: bytes | None
        if isinstance(query, bytes):
            q = query
        elif isinstance(query, str):
            q = query.encode()
        else:
            key = _shape(query) if type(query) is sql.Composed else None
            q = self._texts.get(key) if key is not None else None
            if q is None:
                q = query.as_bytes(self._conn)
                if key is not None:
                    self._texts[key] = q
        assert q is not None
        info = self._info.get(q)
        if info is None:
            info = self._info[q] = self._classify(q)
        spec, refs = info
        self._rows, self._next = [], 0
        self.statements += 1
        if spec is not None and type(params) in (tuple, list) and len(params) == spec.nparams:
            group = self._open.get(q)
            if group is not None:
                group.rows.append(params)
                return self
            self._seal(refs)
            group = _Group(spec, params)
            self._ops.append(group)
            self._open[q] = group
            self._open_by_table.setdefault(spec.table, []).append(q)
            return self
        self._seal(refs)
        self._ops.append((q, params))
        return self

    def fetchone(self) -> Any:
        self._result()
        if self._next < len(self._rows):
            self._next += 1
            return self._rows[self._next - 1]
        return None

    def fetchall(self) -> list[Any]:
        self._result()
        rows = self._rows[self._next :]
        self._next = len(self._rows)
        return rows

    def __iter__(self) -> Iterator[Any]:
        return iter(self.fetchall())

    def __getattr__(self, name: str) -> Any:
        # Anything else (rowcount, description, connection...): as the real cursor, after
        # every queued statement ran.
        self._result()
        return getattr(self._cur, name)

    # -- internals ----------------------------------------------------------------------
    def _classify(self, q: bytes) -> tuple[_InsertSpec | None, tuple[bytes, ...]]:
        refs = tuple(t for t in self._tables if t in q)
        m = _INSERT.fullmatch(q)
        if (
            m is None
            or b"%(" in q
            or b"%%" in q
            or refs != (m.group(1),)
            or not _balanced(m.group(3))
        ):
            return None, refs
        head = b"INSERT INTO " + m.group(1) + (b" " + m.group(2) if m.group(2) else b"")
        tail = b" " + m.group(4) if m.group(4) else b""
        return _InsertSpec(m.group(1), head, m.group(3), tail, q.count(b"%s")), refs

    def _seal(self, refs: tuple[bytes, ...]) -> None:
        """No more rows join the open INSERT groups on tables this statement touches."""
        for table in refs:
            for text in self._open_by_table.pop(table, ()):
                del self._open[text]

    def _send(self, cur: Cursor[TupleRow], ops: list[Any]) -> None:
        i, n = 0, len(ops)
        while i < n:
            op = ops[i]
            i += 1
            if type(op) is tuple:
                # A run of the same statement: one executemany.
                j = i
                while j < n and type(ops[j]) is tuple and ops[j][0] == op[0]:
                    j += 1
                if j > i:
                    cur.executemany(op[0], [o[1] for o in ops[i - 1 : j]])
                    i = j
                else:
                    cur.execute(op[0], op[1])
                continue
            spec, rows = op.spec, op.rows
            k, m = 0, len(rows)
            while k < m:
                size = next(s for s in _SIZES if s <= m - k and s * spec.nparams <= _MAX_PARAMS)
                chunk = rows[k : k + size]
                cur.execute(
                    spec.text(size), [v for row in chunk for v in row] if size > 1 else chunk[0]
                )
                k += size

    def _result(self) -> None:
        """Run what is queued; keep the last statement's rows for the fetch methods."""
        if not self._ops:
            return
        ops, last = self._ops[:-1], self._ops[-1]
        if type(last) is _Group and len(last.rows) > 1:
            # The handler asks about its own last statement (rowcount...): run that row alone.
            ops.append(_Group(last.spec, last.rows[0]))
            ops[-1].rows = last.rows[:-1]
            last = _Group(last.spec, last.rows[-1])
        self._reset()
        cur = self._cur
        with self._conn.pipeline() as pipeline:
            self._send(cur, ops)
            self._send(cur, [last])
            pipeline.sync()
            self._rows = cur.fetchall() if cur.description is not None else []
        self._next = 0

    def flush(self) -> None:
        """Send everything queued (at the end of a batch, before its transaction commits)."""
        if not self._ops:
            return
        ops = self._ops
        self._reset()
        with self._conn.pipeline():
            self._send(self._cur, ops)

    def _reset(self) -> None:
        self._ops = []
        self._open.clear()
        self._open_by_table.clear()


class Engine:
    """Folds the log into in-memory builds (one `MemoryStore` per view: the handlers' row
    operations on Python rows), then writes every table once with COPY (`write`).

    No statement per event reaches the server: the client decodes and folds, the server reads
    the log and takes one COPY per table. Memory grows with the size of the views of one
    grantee (rebuilds run grantee by grantee).
    """

    def __init__(
        self,
        conn: psycopg.Connection[TupleRow],
        schema: str,
        builds: list[tuple[Projection, Tables]],
        *,
        track: bool,
        decode_all: bool = False,
        chunk: int = REBUILD_BATCH,
    ) -> None:
        self.conn = conn
        self.schema = schema
        self.builds = builds
        self.stores = [p.store(schema) for p, _ in builds]
        self.track = track
        self.chunk = chunk
        self.applied = 0
        self.rows_written = 0
        self.position = 0  # the last event folded in
        self.stopped = False  # replay: an event recorded after `until_time` was reached
        # Events whose text was made storable, for each view handling them (decision 30).
        self.faults: list[Fault] = []
        # topic -> the handlers of every view for it, with their view and store.
        self.dispatch: dict[str, list[tuple[Any, Projection, MemoryStore]]] = {}
        for (p, _), store in zip(builds, self.stores, strict=True):
            for topic, handler in p.handlers.items():
                self.dispatch.setdefault(topic, []).append((handler, p, store))
        self.topics: list[str] | None = None if decode_all else sorted(self.dispatch)

    def run(
        self,
        *,
        after: int,
        total: int = 0,
        progress: Callable[[int, int], None] | None = None,
        until_position: int | None = None,
        until_time: datetime | None = None,
    ) -> int:
        """Fold the events after `after` (up to `until_position`, or up to the first event
        recorded after `until_time`) into memory; returns the position of the last one."""
        position = after
        # The fold allocates hundreds of thousands of rows that live until `write`: the
        # cyclic collector would walk all of them again and again (about a quarter of the
        # fold's time) and finds nothing to free. It runs again once the fold is done.
        collecting = gc.isenabled()
        gc.disable()
        try:
            while True:
                with self.conn.transaction(), self.conn.cursor() as cur:
                    done, position = self._batch(cur, position, until_position, until_time)
                if progress is not None and done:
                    progress(self.applied, total)
                if done < self.chunk or self.stopped:
                    self.position = position
                    return position
        finally:
            if collecting:
                gc.enable()

    def _batch(
        self,
        cur: Cursor[TupleRow],
        after: int,
        until_position: int | None,
        until_time: datetime | None,
    ) -> tuple[int, int]:
        cleaned: dict[int, list[str]] = {}
        rows = _read(cur, self.schema, after, self.chunk, self.topics, until_position, cleaned)
        if not rows:
            return 0, after
        n = len(rows)
        if until_time is not None:
            for i, (_, _, event) in enumerate(rows):
                if event is not None and event.timestamp > until_time:
                    n = i
                    self.stopped = True
                    break
        events = [(pos, topic, event) for pos, topic, event in rows[:n] if event is not None]
        position = rows[n - 1][0] if n else after
        if cleaned:
            views = [(p, t.build, 0) for p, t in self.builds]
            self.faults += projection_faults.unstorable(views, rows[:n], cleaned)
        # Each view's operations keep the log's order; views own disjoint tables, so the
        # order between views does not matter.
        for store in self.stores:
            store.cursor = cur  # reads outside the view (the log) during this batch
        dispatch = self.dispatch
        for pos, topic, event in events:
            for handler, p, store in dispatch.get(topic, ()):
                handler(p, store, event, pos)
        for store in self.stores:
            store.cursor = None
        self.applied += n
        return (n if self.stopped else len(rows)), position

    def write(self, cur: Cursor[TupleRow]) -> int:
        """COPY every folded row into the (empty) builds, made bare by
        `Projection.create(keys=False)`, then add their keys and indexes and, when tracking,
        set their position; the memory is released. Returns the rows written."""
        for (p, t), store in zip(self.builds, self.stores, strict=True):
            self.rows_written += store.write(cur, t, keyed=False)
            store.clear()
            p.add_keys(cur, t)
        if self.track:
            projection_faults.record(cur, self.schema, self.faults)
            cur.execute(
                sql.SQL(
                    "UPDATE {}.tracking SET position = %s"
                    " WHERE (view, version) IN (SELECT * FROM unnest(%s::text[], %s::int[]))"
                ).format(sql.Identifier(self.schema)),
                (
                    self.position,
                    [p.name for p, _ in self.builds],
                    [t.build for _, t in self.builds],
                ),
            )
        return self.rows_written


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
