"""The fold of decision 26: the log read once, every view's handlers run on in-memory rows
(`Engine`), then written with COPY into tables named once (`CachedTables`). Used by rebuilds
(services/projector/rebuilds.py) and replays as of an instant (services/projector/replay.py).
"""

from __future__ import annotations

import gc
from collections.abc import Callable
from datetime import datetime
from typing import Any

import psycopg
from psycopg import Cursor, sql
from psycopg.rows import TupleRow

from projections.base import Projection, Tables
from projections.ops import MemoryStore
from services.projector import faults as projection_faults
from services.projector.faults import Fault
from services.projector.live import read_events

REBUILD_BATCH = 10_000


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
        rows = read_events(
            cur, self.schema, after, self.chunk, self.topics, until_position, cleaned
        )
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


def temporary_tables() -> Tables:
    """Tables of a build in this session's temporary schema (`pg_temp`): for replays."""
    return CachedTables("pg_temp", 1)


class CachedTables(Tables):
    """Tables whose composed names are built once (handlers look them up for every event)."""

    def __init__(self, schema: str, build: int) -> None:
        super().__init__(schema, build)
        self._names: dict[str, sql.Composed] = {}

    def __getitem__(self, table: str) -> sql.Composed:
        name = self._names.get(table)
        if name is None:
            name = self._names[table] = super().__getitem__(table)
        return name
