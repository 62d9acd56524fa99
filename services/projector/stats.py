"""The projection metric families, read from every grantee's tracking tables when scraped
(`GET /metrics`, services/api/metrics.py): each live view's lag and position, and its faults."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import msgspec

from domain.common import utcnow
from services.projector import faults
from services.store import fanout
from services.store.database import Database
from services.store.schema import GranteeDirectory

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
    rows = fanout.per_grantee(
        db,
        tenancy,
        "SELECT a.view, t.position,"
        " (SELECT coalesce(max(notification_id), 0) FROM {s}.events) AS head,"
        " (SELECT e.state FROM {s}.events e WHERE e.notification_id > t.position"
        "  ORDER BY e.notification_id LIMIT 1) AS pending"
        " FROM {s}.active_views a JOIN {s}.tracking t"
        " ON t.view = a.view AND t.version = a.version",
    )
    for slug, (view, position, head, pending) in rows:
        seconds = 0.0
        if pending is not None:
            try:
                oldest = _STAMP.decode(bytes(pending)).timestamp
            except msgspec.MsgspecError:
                # Stored state that does not decode (an event altered behind the service's
                # back, which stops the views at it and `prowd verify` reports): its age is
                # unknown, and one grantee's log must not take every grantee's metrics down.
                seconds = math.nan
            else:
                seconds = max(0.0, (now - oldest).total_seconds())
        yield ViewPosition(
            slug, str(view), max(0, int(head) - int(position)), int(position), seconds
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
    for slug, (view, n) in fanout.per_grantee(db, tenancy, faults.COUNTS):
        yield {"grantee": slug, "view": str(view)}, float(n)


FAMILIES = [
    (
        "prowd_projection_lag_events",
        "Events of the grantee's log a live view has not applied yet.",
        "gauge",
        lag_events,
    ),
    (
        "prowd_projection_lag_seconds",
        "Age of the oldest event a live view has not applied yet (0 when caught up; NaN when"
        " that event's stored state does not decode).",
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
