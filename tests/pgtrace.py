"""The transactions a pool's connections ran, read from libpq's own protocol trace.

Every connection of a pool is traced into a file of its own (`PQtrace`); after the traced
requests, each file is read back as the server answered it: a transaction ends at each
`ReadyForQuery` whose status is idle (`I`) after at least one executed statement, so a
statement in autocommit is one transaction and `BEGIN … COMMIT` is one, however many
statements it holds. Nothing of ours is replaced: the count is what the server was sent.
"""

from __future__ import annotations

import contextlib
import dataclasses
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg

from services.store.database import Database

# The pool size of `traced_app`: every connection of it is traced.
CONNECTIONS = 4


@contextlib.contextmanager
def traced_app(settings: Any, database_url: str, name: str) -> Iterator[tuple[Database, Any]]:
    """The API (Litestar's test client) on a pool of its own of `CONNECTIONS` connections, so
    that `traced(db, CONNECTIONS)` sees every statement it sends."""
    from litestar.testing import TestClient

    from services.api.app import create_app

    own = dataclasses.replace(settings, pool_min=CONNECTIONS, pool_max=CONNECTIONS)
    db = Database(database_url, own, name=name).open()
    try:
        with TestClient(create_app(own, db)) as api:
            yield db, api
    finally:
        db.close()


@contextlib.contextmanager
def traced(db: Database, connections: int) -> Iterator[list[list[str]]]:
    """Trace the `connections` connections of `db`'s pool (its fixed size) while the block
    runs; the list yielded is filled, at the end, with the transactions they ran (each the
    statements' text, in order)."""
    transactions: list[list[str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        files = [(Path(tmp) / f"conn{i}.trace").open("w") for i in range(connections)]
        conns = [db.pool.getconn() for _ in range(connections)]
        try:
            for conn, f in zip(conns, files, strict=True):
                conn.pgconn.trace(f.fileno())
                conn.pgconn.set_trace_flags(
                    psycopg.pq.Trace.SUPPRESS_TIMESTAMPS | psycopg.pq.Trace.REGRESS_MODE
                )
        finally:
            for conn in conns:
                db.pool.putconn(conn)
        try:
            yield transactions
        finally:
            conns = [db.pool.getconn() for _ in range(connections)]
            for conn in conns:
                conn.pgconn.untrace()
                db.pool.putconn(conn)
            for f in files:
                f.close()
                transactions.extend(_transactions(Path(f.name).read_text()))


def _transactions(trace: str) -> list[list[str]]:
    named: dict[str, str] = {}
    bound = ""
    current: list[str] = []
    done: list[list[str]] = []
    for line in trace.splitlines():
        parts = line.split("\t")
        if len(parts) < 3:
            continue
        side, message, rest = parts[0], parts[2], "\t".join(parts[3:]).strip()
        if side == "F" and message == "Parse":
            # "name" "statement" n oid…: the statement runs to the last quote.
            name, _, after = rest[1:].partition('"')
            named[name] = after[after.index('"') + 1 : after.rindex('"')]
        elif side == "F" and message == "Bind":
            bound = named.get(rest.split('"')[3], "")
        elif side == "F" and message == "Execute":
            current.append(bound)
        elif side == "F" and message == "Query":
            current.append(rest[1:-1])
        elif side == "B" and message == "ReadyForQuery" and rest == "I" and current:
            done.append(current)
            current = []
    return done
