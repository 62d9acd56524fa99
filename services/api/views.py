"""Reading view tables: the active build, bounded read-your-writes waits, keyset pages."""

from __future__ import annotations

import uuid
from typing import Any

from psycopg import sql

from projections.base import Tables
from services.api.problems import ProblemError
from services.projector import engine as projector
from services.store.database import Database


def tables(
    db: Database, schema: str, view: str, min_position: int | None, wait_max: float
) -> Tables:
    """The live build of `view`, after waiting (bounded) for `min_position` if asked."""
    if min_position is not None and projector.position_of(db, schema, view) < min_position:
        with db.transaction() as cur:
            head = projector.log_head(cur, schema)
        if min_position > head:
            raise ProblemError(
                400,
                "position_ahead",
                f"min_position {min_position} is beyond the log (its last position is {head})",
            )
    if min_position is not None and not projector.wait_for(
        db, schema, view, min_position, wait_max
    ):
        raise ProblemError(
            503,
            "view_behind",
            f"the {view} view has not reached position {min_position} yet; retry shortly",
            headers={"Retry-After": "1"},
        )
    with db.transaction() as cur:
        build = projector.active_build(cur, schema, view)
    if build is None:
        raise ProblemError(503, "view_missing", f"the {view} view is not built yet")
    return Tables(schema, build)


def page(
    db: Database,
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
    _check_cursor(after, cast_key)
    key_sql = key_expr if key_expr is not None else sql.Identifier(key)
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


def _check_cursor(after: str, cast_key: str) -> None:
    """A cursor is one this API handed out: refuse anything else with 400, not a database error."""
    valid = "\x00" not in after
    if valid and cast_key == "uuid":
        try:
            uuid.UUID(after)
        except ValueError:
            valid = False
    if not valid:
        raise ProblemError(400, "invalid_cursor", "the cursor is not one this list handed out")
