"""The ledger's hook for a unit of work (services/store/unit_of_work.py): while one is active
for a log in this context, `LedgerApplication` loads what the unit saved and defers its
records into it instead of writing. Kept apart so that the ledger needs nothing of the unit."""

from __future__ import annotations

from collections.abc import Sequence
from contextvars import ContextVar
from typing import Any, Protocol
from uuid import UUID

from domain.common import ProwdAggregate


class Deferral(Protocol):
    @property
    def schema(self) -> str: ...

    def get(self, aggregate_id: UUID) -> ProwdAggregate | None: ...

    def has(self, aggregate_id: UUID) -> bool: ...

    def defer(
        self,
        aggregate: ProwdAggregate,
        command: Any,
        *,
        creates: str | None,
        also: Sequence[ProwdAggregate],
        side_effects: Sequence[Any],
    ) -> int: ...


current: ContextVar[Deferral | None] = ContextVar("deferral", default=None)


def active(schema: str) -> Deferral | None:
    """The unit deferring this log's writes in this context, if any."""
    unit = current.get()
    return unit if unit is not None and unit.schema == schema else None
