"""An import of participants or mentors from a spreadsheet: one record per file, keyed by the
file's SHA-256, that records in the grantee's log how far the file was applied.

The rows it creates are saved in the same transaction as the `RowsApplied` event naming them,
so a second run of the same file (after a crash, a stop, or by mistake) starts after the last
applied row and never creates a record twice (decision 63). The events carry row numbers, rule
codes and record ids, never a cell's value: the personal data stays in the records created.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Any
from uuid import UUID

import msgspec

from domain.common import ProwdAggregate, RuleViolation, natural_id, utcnow


class ImportKind(StrEnum):
    PARTICIPANTS = "participants"
    MENTORS = "mentors"


class Outcome(StrEnum):
    CREATED = "created"
    DUPLICATE = "duplicate"
    REFUSED = "refused"


class RowOutcome(msgspec.Struct, frozen=True, kw_only=True):
    """What became of one data row (numbered as the spreadsheet numbers it: the header is
    row 1 unless blank rows precede it)."""

    row: int
    outcome: Outcome
    # The rule that refused it (`possible_duplicate` for a duplicate); empty when created.
    code: str = ""
    # The record created, or the existing record a duplicate matched.
    record_id: UUID | None = None


def import_id(kind: ImportKind, sha256: str) -> UUID:
    return natural_id("import", f"{kind}:{sha256}")


class Import(ProwdAggregate):
    if TYPE_CHECKING:
        kind: ImportKind
        sha256: str
        rows: int
        applied_through: int
        outcomes: list[RowOutcome]
        finished: bool

    class Started(ProwdAggregate.Created):
        kind: ImportKind
        sha256: str
        rows: int

        def apply(self, aggregate: Any) -> None:
            aggregate.kind = self.kind
            aggregate.sha256 = self.sha256
            aggregate.rows = self.rows
            aggregate.applied_through = 0
            aggregate.outcomes = []
            aggregate.finished = False

    class RowsApplied(ProwdAggregate.Event):
        """Rows up to `through_row` applied, in the transaction that created their records."""

        through_row: int
        outcomes: list[RowOutcome]

        def apply(self, aggregate: Any) -> None:
            aggregate.applied_through = self.through_row
            aggregate.outcomes.extend(self.outcomes)

    class Finished(ProwdAggregate.Event):
        created: int
        duplicates: int
        refused: int

        def apply(self, aggregate: Any) -> None:
            aggregate.finished = True

    @classmethod
    def start(cls, *, kind: ImportKind, sha256: str, rows: int) -> Import:
        started: Import = cls._create(
            cls.Started,
            id=import_id(kind, sha256),
            kind=kind,
            sha256=sha256,
            rows=rows,
            occurred_at=utcnow(),
        )
        return started

    def apply_rows(self, outcomes: list[RowOutcome]) -> None:
        if self.finished or not outcomes or outcomes[0].row <= self.applied_through:
            raise RuleViolation("rows are applied in order, once", code="import_out_of_order")
        self.trigger_event(
            self.RowsApplied,
            through_row=outcomes[-1].row,
            outcomes=outcomes,
            occurred_at=utcnow(),
        )

    def finish(self) -> None:
        counts = {o: sum(1 for r in self.outcomes if r.outcome is o) for o in Outcome}
        self.trigger_event(
            self.Finished,
            created=counts[Outcome.CREATED],
            duplicates=counts[Outcome.DUPLICATE],
            refused=counts[Outcome.REFUSED],
            occurred_at=utcnow(),
        )
