"""The live build of a view, after a bounded read-your-writes wait (DESIGN D3): what every
reader of a view (the API, a report's process) asks before its query."""

from __future__ import annotations

from projections.base import Tables
from services.projector import live as projector
from services.refusals import Refused
from services.store.database import Database


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
    with db.transaction() as cur:
        build = projector.active_build(cur, schema, view)
    if build is None:
        raise Refused(503, f"the {view} view is not built yet", code="view_missing")
    return Tables(schema, build)
