"""Case notes of each participant, newest first; erased with the participant."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import msgspec
from psycopg import sql

from domain.casenotes import CaseNote
from domain.participants import Participant
from projections.base import Projection, Tables, handles
from projections.erasure import ERASED
from projections.ops import Erase, Writer
from projections.query import Reader
from projections.rows import select, typed


class CaseNotes(Projection):
    name = "case_notes"
    tables = {
        "case_notes": (
            "note_id uuid PRIMARY KEY, participant_id uuid NOT NULL, text text NOT NULL,"
            " part2 boolean NOT NULL, written_by text NOT NULL, written_at timestamptz NOT NULL"
        )
    }
    order = {"case_notes": "note_id"}

    @handles(CaseNote.Written)
    def written(self, w: Writer, e: CaseNote.Written, position: int) -> None:
        w.insert(
            "case_notes",
            {
                "note_id": e.originator_id,
                "participant_id": e.participant_id,
                "text": e.text,
                "part2": e.part2,
                "written_by": e.recorded_by,
                "written_at": e.timestamp,
            },
        )

    @handles(Participant.Erased)
    def erased(self, w: Writer, e: Participant.Erased, position: int) -> None:
        w.update("case_notes", {"text": Erase(ERASED)}, participant_id=e.originator_id)


class CaseNoteRow(msgspec.Struct):
    id: UUID
    participant_id: UUID
    text: str
    part2: bool
    written_by: str
    written_at: datetime


NOTE = select(CaseNoteRow, id="note_id")


def case_notes(db: Reader, t: Tables, participant_id: UUID) -> list[CaseNoteRow]:
    """The participant's case notes, newest first."""
    rows = db.fetchall(
        sql.SQL(
            "SELECT " + NOTE.sql + " FROM {} WHERE participant_id = %s"
            " ORDER BY written_at DESC, note_id"
        ).format(t["case_notes"]),
        (participant_id,),
    )
    return typed(CaseNoteRow, NOTE, rows)
