"""The export register: what each federal file that left the grantee was, and whom it named.

One register per grantee (a natural id) holds every PIRL export as an event with the SHA-256
of the bytes served, the log position the file stands at and the element-table version, so an
auditor sees exactly what was submitted and can regenerate it. It also assigns each participant
a random pseudonym the first time a file names them (PIRL element 100): never the SSN, the
participant number or a register number, and the same in every later file. Because every
export saves the register, two exports at the same moment are serialised by its version.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

import msgspec

from domain.common import ProwdAggregate, natural_id, utcnow

IDENTIFIER = re.compile(r"^[A-Z2-9]{12}$")
REGISTER_ID = natural_id("exports", "register")


class Pseudonym(msgspec.Struct, frozen=True):
    participant_id: UUID
    identifier: str


class ExportRecord(msgspec.Struct, frozen=True, kw_only=True):
    """One file as it was served."""

    export_id: UUID
    format: str
    quarter: str
    sha256: str
    rows: int
    size: int
    stands_at: int  # the last log position the file's data was read from
    elements_version: str
    requested_via: str  # "api" or "cli"
    requested_by: str
    generated_at: datetime


class ExportRegister(ProwdAggregate):
    if TYPE_CHECKING:  # state set by the events' apply(); not dataclass fields
        identifiers: dict[UUID, str]
        taken: set[str]
        exports: list[ExportRecord]

    class Opened(ProwdAggregate.Created):
        def apply(self, r: Any) -> None:
            r.identifiers = {}
            r.taken = set()
            r.exports = []

    class IdentifiersAssigned(ProwdAggregate.Event):
        assignments: list[Pseudonym]

        def apply(self, r: Any) -> None:
            for a in self.assignments:
                r.identifiers[a.participant_id] = a.identifier
                r.taken.add(a.identifier)

    class Generated(ProwdAggregate.Event):
        export: ExportRecord

        def apply(self, r: Any) -> None:
            r.exports.append(self.export)

    @classmethod
    def open(cls) -> ExportRegister:
        register: ExportRegister = cls._create(cls.Opened, id=REGISTER_ID, occurred_at=utcnow())
        return register

    def assign(self, participant_ids: Iterable[UUID], new_identifier: Callable[[], str]) -> None:
        """Give every participant without a pseudonym a fresh, unique one."""
        assignments = []
        taken = set(self.taken)
        for participant_id in sorted(set(participant_ids) - set(self.identifiers)):
            identifier = new_identifier()
            while identifier in taken:
                identifier = new_identifier()
            if not IDENTIFIER.fullmatch(identifier):
                raise ValueError(f"malformed pseudonym {identifier!r}")
            taken.add(identifier)
            assignments.append(Pseudonym(participant_id, identifier))
        if assignments:
            self.trigger_event(
                self.IdentifiersAssigned, assignments=assignments, occurred_at=utcnow()
            )

    def record(self, export: ExportRecord) -> None:
        """Record a file as served."""
        self.trigger_event(self.Generated, export=export, occurred_at=export.generated_at)

    def find(self, export_id: UUID) -> ExportRecord | None:
        return next((e for e in self.exports if e.export_id == export_id), None)
