"""The live build of a view, after a bounded read-your-writes wait (DESIGN D3): resolved by
services/projector/serving.py, whose refusals the API answers as problems; the queries
themselves live with their views (projections/query.py)."""

from __future__ import annotations

from collections.abc import Mapping

from projections.query import Column, Sort, sort_of
from projections.search import Find, find
from services.projector.serving import caught_up_tables as caught_up
from services.projector.serving import live_tables as tables
from services.projector.serving import one_lookup as lookup
from services.projector.serving import view_position as position
from services.store.database import Database

__all__ = ["caught_up", "lookup", "position", "search_and_sort", "tables"]


def search_and_sort(
    db: Database,
    schema: str,
    q: str | None,
    sort: str | None,
    columns: Mapping[str, Column],
    min_position: int | None,
    wait: float,
) -> tuple[Find | None, Sort | None]:
    """A list's `q` and `sort` over the live search index (`invalid_sort` for a column the
    list does not offer)."""
    if q is None and not sort:
        return None, None
    people = tables(db, schema, "search", min_position, wait)
    return find(people, q), sort_of(sort, columns, people)
