"""The projection metric families, read from every grantee's tracking tables when scraped
(`GET /metrics`, services/api/metrics.py): each live view's lag and position, and its faults."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import msgspec
from psycopg import sql

from domain.common import utcnow
from services.projector import faults
from services.store.database import Database
from services.store.schema import GranteeDirectory, grantee_schema

Sample = tuple[dict[str, str], float]


class _Stamp(msgspec.Struct):
    """The store's `timestamp` of an event, read from its stored state alone."""

    timestamp: datetime


_STAMP = msgspec.json.Decoder(_Stamp)


@dataclass(frozen=True)
class ViewPosition:
    grantee: str
    view: str
    # Events of the log the view has not applied yet.
    behind: int
    position: int
    # The age of the oldest event the view has not applied (0 when caught up).
    seconds: float


def view_positions(db: Database, tenancy: GranteeDirectory) -> Iterable[ViewPosition]:
    """Where each live view of each grantee stands.

    Seconds behind come from the one oldest pending event's stored timestamp (an index lookup,
    whatever the lag)."""
    now = utcnow()
    for g in tenancy.grantees(limit=100_000):
        rows = db.fetchall(
            sql.SQL(
                "SELECT a.view, t.position,"
                " (SELECT coalesce(max(notification_id), 0) FROM {s}.events),"
                " (SELECT e.state FROM {s}.events e WHERE e.notification_id > t.position"
                "  ORDER BY e.notification_id LIMIT 1)"
                " FROM {s}.active_views a JOIN {s}.tracking t"
                " ON t.view = a.view AND t.version = a.version ORDER BY a.view"
            ).format(s=sql.Identifier(grantee_schema(g.slug)))
        )
        for view, position, head, pending in rows:
            seconds = 0.0
            if pending is not None:
                oldest = _STAMP.decode(bytes(pending)).timestamp
                seconds = max(0.0, (now - oldest).total_seconds())
            yield ViewPosition(
                g.slug, str(view), max(0, int(head) - int(position)), int(position), seconds
            )


def lag_events(db: Database, tenancy: GranteeDirectory) -> Iterable[Sample]:
    for v in view_positions(db, tenancy):
        yield {"grantee": v.grantee, "view": v.view}, float(v.behind)


def lag_seconds(db: Database, tenancy: GranteeDirectory) -> Iterable[Sample]:
    for v in view_positions(db, tenancy):
        yield {"grantee": v.grantee, "view": v.view}, v.seconds


def positions(db: Database, tenancy: GranteeDirectory) -> Iterable[Sample]:
    for v in view_positions(db, tenancy):
        yield {"grantee": v.grantee, "view": v.view}, float(v.position)


def fault_counts(db: Database, tenancy: GranteeDirectory) -> Iterable[Sample]:
    """Events a live view could not take as they were, per grantee and view."""
    for g in tenancy.grantees(limit=100_000):
        for view, n in faults.counts(db, grantee_schema(g.slug)).items():
            yield {"grantee": g.slug, "view": view}, float(n)


FAMILIES = [
    (
        "prowd_projection_lag_events",
        "Events of the grantee's log a live view has not applied yet.",
        "gauge",
        lag_events,
    ),
    (
        "prowd_projection_lag_seconds",
        "Age of the oldest event a live view has not applied yet (0 when caught up).",
        "gauge",
        lag_seconds,
    ),
    (
        "prowd_projection_position",
        "The log position a live view has applied.",
        "gauge",
        positions,
    ),
    (
        "prowd_projection_faults",
        "Events a live view could not take as they were (text made storable, or a write"
        " refused and skipped): rows of projection_faults for the served build.",
        "gauge",
        fault_counts,
    ),
]
