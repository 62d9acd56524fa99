"""`/v1/grantees/{grantee}/participants/{id}/case-notes`: a case manager's free-form notes on a
participant: staff write them, staff and auditors read them (never peer mentors, RRC staff or
oversight); the text is personal (encrypted, shredded by erasure); `part2` tags 42 CFR Part 2
information."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.di import Provide

from domain.casenotes import MAX_NOTE, CaseNote
from projections.casenotes import CaseNoteRow, case_notes
from services.api import views
from services.api.context import Tenant, action, provide_tenant, tenant_command
from services.api.docs import body, problems
from services.api.params import MinPosition
from services.api.text import FreeText


class CaseNoteIn(msgspec.Struct, forbid_unknown_fields=True):
    text: Annotated[FreeText, msgspec.Meta(min_length=1, max_length=MAX_NOTE)]
    # The note holds 42 CFR Part 2 information (substance use disorder treatment).
    part2: bool = False


class CaseNoteOut(msgspec.Struct):
    id: UUID
    participant_id: UUID
    text: str
    part2: bool
    written_by: str
    written_at: datetime
    position: int | None = None


class CaseNotesOut(msgspec.Struct):
    items: list[CaseNoteRow]


def render(note: CaseNote, position: int) -> CaseNoteOut:
    return CaseNoteOut(
        note.id,
        note.participant_id,
        note.text,
        note.part2,
        note.written_by,
        note.written_at,
        position or None,
    )


class CaseNoteController(Controller):
    path = "/v1/grantees/{grantee:str}/participants/{participant_id:uuid}/case-notes"
    tags = ["participants"]
    dependencies = {"tenant": Provide(provide_tenant, sync_to_thread=False)}

    @post(
        "/",
        opt=action("casenotes.write"),
        sync_to_thread=True,
        status_code=201,
        responses=problems(
            (404, "not_found", "no such participant in this grantee"),
            (422, "note_required", "the note is blank"),
            (422, "already_erased", "the participant's personal data was erased"),
        ),
    )
    def write(
        self,
        request: Request[Any, Any, Any],
        tenant: Tenant,
        participant_id: UUID,
        data: Annotated[
            CaseNoteIn, body("a phone call", {"text": "Called about the bus pass.", "part2": False})
        ],
    ) -> Response[CaseNoteOut]:
        """Write a case note on the participant (`part2`: it holds 42 CFR Part 2 information)."""
        return tenant_command(
            request,
            tenant,
            data,
            lambda cmd: tenant.app.participants.write_case_note(
                cmd, participant_id, text=data.text, part2=data.part2
            ),
            render,
            status=201,
        )

    @get("/", opt=action("casenotes.read"), sync_to_thread=True, responses=problems())
    def list_notes(
        self,
        request: Request[Any, Any, Any],
        tenant: Tenant,
        participant_id: UUID,
        min_position: MinPosition = None,
    ) -> CaseNotesOut:
        """The participant's case notes, newest first (staff and auditors only)."""
        tenant.app.participants.participant(participant_id)
        db, schema = tenant.tenancy.db, tenant.info.schema
        wait = request.app.state.settings.view_wait_max
        t = views.tables(db, schema, "case_notes", min_position, wait)
        return CaseNotesOut(case_notes(db, t, participant_id))


ROUTES: list[Any] = [CaseNoteController]
