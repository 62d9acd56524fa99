"""Reading views: what every view's query functions share.

A view's query functions live in its module (`projections/<view>.py`) beside the handlers that
write its tables, take the live build's `Tables` and a `Reader` (the service's pool satisfies
it), and return typed rows (msgspec Structs). The API calls them; it holds no SQL.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any, Protocol

from psycopg import sql

from projections.base import Tables

Query = sql.Composable | str


class Reader(Protocol):
    """What a query needs of the database: statements answered with rows (tuples)."""

    def fetchall(self, query: Query, params: Sequence[Any] | None = ...) -> list[Any]: ...

    def fetchone(self, query: Query, params: Sequence[Any] | None = ...) -> Any: ...


class InvalidCursor(ValueError):
    """A page cursor this API did not hand out (HTTP 400 `invalid_cursor`)."""


def page(
    db: Reader,
    t: Tables,
    table: str,
    columns: str,
    key: str,
    *,
    after: str,
    limit: int,
    where: list[tuple[str, Any]] | None = None,
    cast_key: str = "text",
    extra: sql.Composable | None = None,
    extra_params: tuple[Any, ...] = (),
    key_expr: sql.Composable | None = None,
) -> tuple[list[tuple[Any, ...]], str | None]:
    """Rows ordered by `key` after `after`; the cursor of the next page if there is one.

    The first selected column must be the key (it becomes the next cursor).
    """
    check_cursor(after, cast_key)
    key_sql = key_expr if key_expr is not None else sql.Identifier(key)
    if after and cast_key == "text" and key_expr is None:
        # Any text compares, so a cursor this list never handed out (`?cursor=garbage`) would
        # answer an empty or shifted page: the cursor names a row of the list, or is refused.
        known = db.fetchone(
            sql.SQL("SELECT 1 FROM {} WHERE {} = %s LIMIT 1").format(t[table], key_sql), [after]
        )
        if known is None:
            raise InvalidCursor("the cursor is not one this list handed out")
    clauses: list[sql.Composable] = [sql.SQL("{} > %s::{}").format(key_sql, sql.SQL(cast_key))]
    params: list[Any] = [after]
    for column, value in where or []:
        clauses.append(sql.SQL("{} = %s").format(sql.Identifier(column)))
        params.append(value)
    if extra is not None:
        clauses.append(extra)
        params.extend(extra_params)
    query = sql.SQL("SELECT {} FROM {} WHERE {} ORDER BY {} LIMIT %s").format(
        sql.SQL(columns), t[table], sql.SQL(" AND ").join(clauses), key_sql
    )
    rows = db.fetchall(query, [*params, limit + 1])
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (str(rows[-1][0]) if more and rows else None)


def check_cursor(after: str, cast_key: str = "text") -> None:
    """A cursor is one this API handed out: anything else is refused, not a database error."""
    valid = "\x00" not in after
    if valid and cast_key == "bigint" and after:
        valid = after.isascii() and after.isdigit() and len(after) <= 18
    if valid and cast_key == "uuid":
        try:
            uuid.UUID(after)
        except ValueError:
            valid = False
    if not valid:
        raise InvalidCursor("the cursor is not one this list handed out")
