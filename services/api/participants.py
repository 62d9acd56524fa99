"""`/v1/grantees/{grantee}/participants`: enrolment, stages, exit, caseload, history."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal
from uuid import UUID

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.di import Provide

from domain import clock
from domain.participants import (
    ExitReason,
    FundingSource,
    Participant,
    PersonalDetails,
    Placement,
    Stage,
    Status,
)
from projections.caseload import CaseloadRow, caseload_page
from projections.mentors import PeerMentor
from services.api import views
from services.api.context import (
    Tenant,
    action,
    check_own_mentee,
    provide_tenant,
    tenant_command,
)
from services.api.docs import body
from services.api.params import Code, Cursor, Limit, MinPosition
from services.api.text import FreeText, Line
from services.identity.access import only_own
from services.projector import engine as projector

PersonName = Annotated[Line, msgspec.Meta(min_length=1, max_length=100)]


class EnrollmentIn(msgspec.Struct, forbid_unknown_fields=True):
    first_name: PersonName
    last_name: PersonName
    date_of_birth: date
    program_entry_date: date
    facility: Code
    cohort: Code
    number: Annotated[str, msgspec.Meta(pattern=r"^[A-Z0-9]{1,12}$")] | None = None
    bop_register_number: Annotated[str, msgspec.Meta(pattern=r"^[0-9]{5}-[0-9]{3}$")] | None = None
    ex_offender_at_entry: bool = True


class StageTransitionIn(msgspec.Struct, forbid_unknown_fields=True):
    to_stage: Literal[1, 2, 3]
    occurred_at: datetime
    placement: Placement | None = None
    facility: Code | None = None
    returned_to_custody: bool = False


class ExitIn(msgspec.Struct, forbid_unknown_fields=True):
    exit_date: date
    reason: ExitReason
    note: Annotated[FreeText, msgspec.Meta(max_length=2000)] = ""


class ParticipantOut(msgspec.Struct, omit_defaults=True):
    id: UUID
    number: str
    first_name: str
    last_name: str
    # None (and the names `[erased]`) once the participant's personal data was erased.
    date_of_birth: date | None
    bop_register_number: str | None
    ex_offender_at_entry: bool
    program_entry_date: date
    cohort: str
    stage: int
    placement: Placement
    facility: str | None
    stage_started_at: datetime
    funding_source: FundingSource
    status: Status
    exit_date: date | None
    exit_reason: ExitReason | None
    returns_to_custody: int
    version: int
    position: int | None = None
    # When the participant's personal data was erased (absent until then).
    erased_at: datetime | None = None


class CaseloadPage(msgspec.Struct):
    items: list[CaseloadRow]
    next_cursor: str | None
    position: int


class HistoryEntry(msgspec.Struct):
    position: int
    version: int
    type: str
    occurred_at: datetime
    recorded_at: datetime
    recorded_by: str
    request_id: str
    data: dict[str, Any]


class HistoryOut(msgspec.Struct):
    participant_id: UUID
    events: list[HistoryEntry]


def render(p: Participant, position: int) -> ParticipantOut:
    """A participant as the log has it, with what a command answers."""
    return ParticipantOut(
        id=p.id,
        number=p.number,
        first_name=p.personal.first_name,
        last_name=p.personal.last_name,
        date_of_birth=p.personal.date_of_birth,
        bop_register_number=p.personal.bop_register_number,
        ex_offender_at_entry=p.ex_offender_at_entry,
        program_entry_date=p.program_entry_date,
        cohort=p.cohort_code,
        stage=int(p.stage),
        placement=p.placement,
        facility=p.facility_code,
        stage_started_at=p.stage_started_at,
        funding_source=p.funding_source,
        status=p.status,
        exit_date=p.exit_date,
        exit_reason=p.exit_reason,
        returns_to_custody=p.returns_to_custody,
        erased_at=getattr(p, "erased_at", None),
        version=p.version,
        position=position or None,
    )


_CONTEXT_FIELDS = {
    "originator_id",
    "originator_version",
    "timestamp",
    "originator_topic",
    "recorded_by",
    "request_id",
    "trace_id",
    "span_id",
    "grantee",
    "occurred_at",
}


ENROL_EXAMPLE = {
    "first_name": "Dana",
    "last_name": "Reyes",
    "date_of_birth": "1988-03-14",
    "program_entry_date": "2026-02-02",
    "facility": "FCI-N1",
    "cohort": "NC-2026A",
    "bop_register_number": "12345-678",
}
MOVE_EXAMPLE = {
    "to_stage": 2,
    "placement": "rrc",
    "facility": "RRC-N1",
    "occurred_at": "2026-06-01T09:00:00-05:00",
}
EXIT_EXAMPLE = {"exit_date": "2026-11-20", "reason": "completed"}


class ParticipantController(Controller):
    path = "/v1/grantees/{grantee:str}/participants"
    tags = ["participants"]
    dependencies = {"tenant": Provide(provide_tenant, sync_to_thread=False)}

    @post("/", opt=action("participants.enroll"), sync_to_thread=True, status_code=201)
    def enroll(
        self,
        request: Request[Any, Any, Any],
        tenant: Tenant,
        data: Annotated[
            EnrollmentIn, body("enrol into a cohort at a BOP institution", ENROL_EXAMPLE)
        ],
    ) -> Response[ParticipantOut]:
        """Enrol a participant in stage 1 at a BOP institution and cohort (PIRL 100, 200, 801, 900)."""
        personal = PersonalDetails(
            first_name=data.first_name,
            last_name=data.last_name,
            date_of_birth=data.date_of_birth,
            bop_register_number=data.bop_register_number,
        )
        return tenant_command(
            request,
            tenant,
            data,
            lambda cmd: tenant.app.participants.enroll_participant(
                cmd,
                personal=personal,
                program_entry_date=data.program_entry_date,
                facility_code=data.facility,
                cohort_code=data.cohort,
                number=data.number,
                ex_offender_at_entry=data.ex_offender_at_entry,
            ),
            render,
            status=201,
        )

    @get("/", opt=action("participants.read"), sync_to_thread=True)
    def caseload(
        self,
        request: Request[Any, Any, Any],
        tenant: Tenant,
        limit: Limit = 100,
        cursor: Cursor = "",
        stage: Literal[1, 2, 3] | None = None,
        status: Status | None = None,
        facility: str | None = None,
        cohort: str | None = None,
        min_position: MinPosition = None,
    ) -> CaseloadPage:
        """The caseload: one row per participant, in participant-number order, with filters."""
        db = tenant.tenancy.db
        schema = tenant.info.schema
        t = views.tables(
            db, schema, "caseload", min_position, request.app.state.settings.view_wait_max
        )
        peer_mentor = None
        if only_own("participants.read", tenant.principal.roles):
            roster = views.tables(db, schema, "mentor_roster", None, 0)
            peer_mentor = PeerMentor(tenant.principal.subject, roster)
        rows, nxt = caseload_page(
            db,
            t,
            views.tables(db, schema, "goals", None, 0),
            clock.now(),
            after=cursor,
            limit=limit,
            stage=stage,
            status=status,
            facility=facility,
            cohort=cohort,
            peer_mentor=peer_mentor,
        )
        return CaseloadPage(rows, nxt, projector.position_of(db, schema, "caseload"))

    @get("/{participant_id:uuid}", opt=action("participants.read"), sync_to_thread=True)
    def get_participant(self, tenant: Tenant, participant_id: UUID) -> ParticipantOut:
        """A participant as the log has it now (always current, no view lag)."""
        participant = tenant.app.participants.participant(participant_id)
        check_own_mentee(tenant, participant, "participants.read")
        return render(participant, 0)

    @post(
        "/{participant_id:uuid}/stage-transitions",
        opt=action("participants.move"),
        sync_to_thread=True,
        status_code=201,
    )
    def transition(
        self,
        request: Request[Any, Any, Any],
        tenant: Tenant,
        participant_id: UUID,
        data: Annotated[
            StageTransitionIn, body("transfer to a Residential Reentry Center", MOVE_EXAMPLE)
        ],
    ) -> Response[ParticipantOut]:
        """Record a stage transition: 1→2 (RRC or home confinement), 2→3, 1→3, or a return to
        custody (`to_stage: 1` with `returned_to_custody: true`). Each carries `occurred_at` and
        sets the funding source of the new stage."""
        return tenant_command(
            request,
            tenant,
            data,
            lambda cmd: tenant.app.participants.move_participant(
                cmd,
                participant_id,
                to_stage=Stage(data.to_stage),
                placement=data.placement,
                returned_to_custody=data.returned_to_custody,
                facility_code=data.facility,
                occurred_at=data.occurred_at,
            ),
            render,
            status=201,
        )

    @post(
        "/{participant_id:uuid}/exit",
        opt=action("participants.move"),
        sync_to_thread=True,
        status_code=201,
    )
    def exit(
        self,
        request: Request[Any, Any, Any],
        tenant: Tenant,
        participant_id: UUID,
        data: Annotated[ExitIn, body("program completed", EXIT_EXAMPLE)],
    ) -> Response[ParticipantOut]:
        """Record the program exit (PIRL 901 date, 923 reason). Exit is final."""
        return tenant_command(
            request,
            tenant,
            data,
            lambda cmd: tenant.app.participants.exit_participant(
                cmd, participant_id, exit_date=data.exit_date, reason=data.reason, note=data.note
            ),
            render,
            status=201,
        )

    @get("/{participant_id:uuid}/history", opt=action("participants.read"), sync_to_thread=True)
    def history(self, tenant: Tenant, participant_id: UUID) -> HistoryOut:
        """Every event of the participant, in order, with its log position."""
        entries = [
            HistoryEntry(
                position=position,
                version=e.originator_version,
                type=type(e).__name__,
                occurred_at=e.occurred_at,
                recorded_at=e.timestamp,
                recorded_by=e.recorded_by,
                request_id=e.request_id,
                data={k: v for k, v in vars(e).items() if k not in _CONTEXT_FIELDS},
            )
            for position, e in tenant.app.participants.history(participant_id)
        ]
        check_own_mentee(
            tenant, tenant.app.participants.participant(participant_id), "participants.read"
        )
        return HistoryOut(participant_id, entries)
