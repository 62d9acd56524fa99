"""Records as they stood at a past instant, replayed from their own events (DESIGN D7): no view
is read, so what an auditor sees depends on the log alone."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar
from uuid import UUID

from domain.common import NotFound, ProwdAggregate
from services.store.ledger import LedgerApplication

A = TypeVar("A", bound=ProwdAggregate)


@dataclass(frozen=True)
class AsOf(Generic[A]):
    """The aggregate rebuilt from its events recorded at or before an instant; the position
    and recorded time of the last event applied."""

    aggregate: A
    position: int
    recorded_at: datetime


def stood_at(
    ledger: LedgerApplication, cls: type[A], aggregate_id: UUID, when: datetime, what: str
) -> AsOf[A]:
    """`what` (the aggregate's name in messages) as it stood at `when`, compared with the
    events' recorded time (not their `occurred_at`). Not found when none was recorded by then."""
    applied = [
        (position, event)
        for position, event in ledger.history_with_positions(aggregate_id)
        if event.timestamp <= when
    ]
    if not applied:
        raise NotFound(f"no {what} had been recorded by {when.isoformat()}")
    position, last = applied[-1]
    aggregate = ledger.load(cls, aggregate_id, what, version=last.originator_version)
    return AsOf(aggregate, position, last.timestamp)
