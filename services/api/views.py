"""The live build of a view, after a bounded read-your-writes wait (DESIGN D3); the queries
themselves live with their views (projections/query.py)."""

from __future__ import annotations

from projections.base import Tables
from services.api.problems import ProblemError
from services.projector import live as projector
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
