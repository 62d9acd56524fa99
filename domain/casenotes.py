"""Case notes: a case manager's free-form notes on a participant (beside meeting notes).

The text is personal (encrypted with the participant's key, shredded by erasure); a note may
carry 42 CFR Part 2 information (`part2`). Notes are staff records: they never reach peer
mentors, RRC systems or oversight figures (docs/areas.md).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID, uuid4

from domain.common import ProwdAggregate, RuleViolation, utcnow

MAX_NOTE = 8000


class CaseNote(ProwdAggregate):
    if TYPE_CHECKING:
        participant_id: UUID
        text: str
        part2: bool
        written_by: str
        written_at: datetime

    class Written(ProwdAggregate.Created):
        participant_id: UUID
        text: str
        part2: bool

        def apply(self, note: Any) -> None:
            note.participant_id = self.participant_id
            note.text = self.text
            note.part2 = self.part2
            note.written_by = self.recorded_by
            note.written_at = self.timestamp

    @classmethod
    def write(cls, participant_id: UUID, text: str, *, part2: bool) -> CaseNote:
        """A note on the participant; `part2` when it holds 42 CFR Part 2 information."""
        if not text.strip():
            raise RuleViolation("a case note has text", code="note_required")
        if len(text) > MAX_NOTE:
            raise RuleViolation(
                f"a case note holds at most {MAX_NOTE} characters", code="note_too_long"
            )
        note: CaseNote = cls._create(
            cls.Written,
            id=uuid4(),
            participant_id=participant_id,
            text=text,
            part2=part2,
            occurred_at=utcnow(),
        )
        return note
