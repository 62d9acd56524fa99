"""The live build of a view, after a bounded read-your-writes wait (DESIGN D3): what every
reader of a view (the API, a report's process) asks before its query."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from contextvars import ContextVar

from psycopg import Cursor, sql
from psycopg.rows import TupleRow

from projections.base import Tables
from services.projector import live as projector
from services.refusals import Refused
from services.store.database import Database

# Inside `one_lookup`: each grantee's live builds and their positions, read once
# (schema -> view -> (build, position)).
_builds: ContextVar[dict[str, dict[str, tuple[int, int]]] | None] = ContextVar(
    "prowd_builds", default=None
)


@contextlib.contextmanager
def one_lookup() -> Iterator[None]:
    """Within: a request reads each grantee's live builds once, every view with its position
    in one statement, however many views it reads (the caseload page reads six)."""
    token = _builds.set({})
    try:
        yield
    finally:
        _builds.reset(token)


def _known(db: Database, schema: str) -> dict[str, tuple[int, int]] | None:
    """Inside `one_lookup`, every live build of the grantee with its position."""
    known = _builds.get()
    if known is None:
        return None
    if schema not in known:
        rows = db.fetchall(
            sql.SQL(
                "SELECT a.view, a.version, t.position FROM {s}.active_views a"
                " JOIN {s}.tracking t ON t.view = a.view AND t.version = a.version"
            ).format(s=sql.Identifier(schema))
        )
        known[schema] = {name: (int(build), int(position)) for name, build, position in rows}
    return known[schema]


def _active_build(db: Database, schema: str, view: str) -> int | None:
    known = _known(db, schema)
    if known is None:
        row = db.fetchone(
            sql.SQL("SELECT version FROM {}.active_views WHERE view = %s").format(
                sql.Identifier(schema)
            ),
            (view,),
        )
        return None if row is None else int(row[0])
    found = known.get(view)
    return None if found is None else found[0]


def view_position(db: Database, schema: str, view: str) -> int:
    """The log position the live build of `view` has applied: as read with the builds inside
    `one_lookup` (a lower bound of what the request's queries of the view see), else now."""
    known = _known(db, schema)
    if known is None or view not in known:
        return projector.position_of(db, schema, view)
    return known[view][1]


def live_tables(
    db: Database, schema: str, view: str, min_position: int | None, wait_max: float
) -> Tables:
    """The live build of `view`, after waiting (bounded) for `min_position` if asked."""
    if min_position is not None and projector.position_of(db, schema, view) < min_position:
        with db.transaction() as cur:
            head = projector.log_head(cur, schema)
        if min_position > head:
            raise Refused(
                400,
                f"min_position {min_position} is beyond the log (its last position is {head})",
                code="position_ahead",
            )
    if min_position is not None and not projector.wait_for(
        db, schema, view, min_position, wait_max
    ):
        raise Refused(
            503,
            f"the {view} view has not reached position {min_position} yet; retry shortly",
            code="view_behind",
            headers={"Retry-After": "1"},
        )
    build = _active_build(db, schema, view)
    if build is None:
        raise missing(view)
    return Tables(schema, build)


def missing(view: str) -> Refused:
    return Refused(503, f"the {view} view is not built yet", code="view_missing")


def live_builds(cur: Cursor[TupleRow], schemas: Sequence[str], view: str) -> list[tuple[int, int]]:
    """The live build of `view` of each grantee and the position it has applied (0 before its
    first), in one statement for all of them; `view_missing` if one has no live build."""
    branches = [
        sql.SQL(
            "SELECT {i} AS grantee, a.version, coalesce(t.position, 0)"
            " FROM {s}.active_views a"
            " LEFT JOIN {s}.tracking t ON t.view = a.view AND t.version = a.version"
            " WHERE a.view = {view}"
        ).format(i=sql.Literal(i), s=sql.Identifier(schema), view=sql.Literal(view))
        for i, schema in enumerate(schemas)
    ]
    cur.execute(sql.SQL(" UNION ALL ").join(branches))
    found = {int(i): (int(build), int(position)) for i, build, position in cur.fetchall()}
    if len(found) < len(schemas):
        raise missing(view)
    return [found[i] for i in range(len(schemas))]


def caught_up_tables(db: Database, schema: str, view: str, wait_max: float) -> Tables:
    """The live build of `view` once it has applied the whole log: caught up here (one
    transaction, which knows the build it wrote to), or, while the worker holds the
    projector, waited for up to the log's head."""
    build = projector.caught_up_build(db, schema, view)
    if build is not None:
        return Tables(schema, build)
    with db.transaction() as cur:
        head = projector.log_head(cur, schema)
    return live_tables(db, schema, view, head, wait_max)
