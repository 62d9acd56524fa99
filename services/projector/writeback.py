"""A live batch applied by write-back (decision 90): each view's handlers run on its rows in
memory (`projections.ops.batch.BatchStore`), which are loaded and written back with a few
statements per table, whatever the number of events.

The statement-by-statement path (`SqlWriter`, one statement per row operation) stays the
reference and the fallback: a batch the write-back cannot apply exactly (a value a column
refuses, a key two rows would share, more dependent look-ups than it allows) is undone and
applied that way, which isolates the events a view cannot take (decision 30).
"""

from __future__ import annotations

import functools
from typing import Any

from psycopg import Cursor
from psycopg.rows import TupleRow

from projections.base import Projection, Tables
from projections.ops.batch import BatchStore, Step

# (schema, build, table) -> the quoted physical name, composed once.
_NAMES: dict[tuple[str, int, str], str] = {}


def names(cur: Cursor[TupleRow], projection: Projection, schema: str, build: int) -> dict[str, str]:
    """Each table of a build by its quoted physical name."""
    out = {}
    t = Tables(schema, build)
    for table in projection.tables:
        key = (schema, build, table)
        name = _NAMES.get(key)
        if name is None:
            if len(_NAMES) > 100_000:
                _NAMES.clear()
            name = _NAMES[key] = t[table].as_string(cur)
        out[table] = name
    return out


class Counts:
    """What a write-back sent: load statements, write statements and passes, over views."""

    __slots__ = ("loads", "passes", "writes")

    def __init__(self) -> None:
        self.loads = 0
        self.writes = 0
        self.passes = 0


def write_back(
    cur: Cursor[TupleRow],
    schema: str,
    views: list[tuple[Projection, int, int]],
    rows: list[tuple[int, str, Any]],
) -> Counts:
    """Apply `rows` to each view past its tracked position, in memory, and write each view's
    changes once. Raises what the in-memory run or the statements raise (the caller falls
    back). The views' passes run side by side: the loads of one round, and then every
    write, go to the server in one pipeline (one round trip)."""
    counts = Counts()
    work: list[tuple[BatchStore, dict[str, str], list[Step]]] = []
    for projection, build, tracked in views:
        handlers = projection.handlers
        steps: list[Step] = []
        for position, topic, event in rows:
            if event is None or position <= tracked:
                continue
            handler = handlers.get(topic)
            if handler is not None:
                steps.append((functools.partial(handler, projection), event, position))
        if steps:
            store = BatchStore(projection.specs, schema)
            store.cursor = cur  # reads outside the view (the log)
            work.append((store, names(cur, projection, schema, build), steps))
    conn = cur.connection
    pending = work
    while pending:
        pending = [w for w in pending if w[0].run_pass(w[2])]
        loads = [(w[0], *load) for w in pending for load in w[0].loads_needed(w[1])]
        if not loads:
            continue
        cursors = []
        with conn.pipeline():
            for store, table, text, params in loads:
                c = conn.cursor()
                c.execute(text, params, binary=True)
                cursors.append((store, table, c))
        for store, table, c in cursors:
            store.loaded(table, c.fetchall())
            c.close()
    writes = [statement for store, tables, _ in work for statement in store.writes(tables)]
    if writes:
        with conn.pipeline():
            for text, params in writes:
                cur.execute(text, params)
    for store, _, _ in work:
        store.cursor = None
        counts.loads += store.loads
        counts.passes += store.passes
    counts.writes = len(writes)
    return counts
