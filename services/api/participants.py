"""`/v1/grantees/{grantee}/participants`: enrolment, stages, exit, caseload, history."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.di import Provide

from domain import clock
from domain.participants import (
    ExitReason,
    PersonalDetails,
    Stage,
    Status,
)
from projections.caseload import caseload_page
from projections.mentors import PeerMentor
from projections.service import load_people
from services.api import views
from services.api.context import (
    Tenant,
    action,
    check_own_mentee,
    provide_tenant,
    tenant_command,
)
from services.api.docs import body
from services.api.params import Cursor, Limit, MinPosition
from services.api.schemas.participants import (
    CaseloadPage,
    EnrollmentIn,
    ExitIn,
    HistoryOut,
    StageTransitionIn,
    history_entry,
)

# A participant as the API shows it, also rendered by the audit's as-of reads (audit_reads.py).
from services.api.schemas.participants import ParticipantOut as ParticipantOut
from services.api.schemas.participants import render as render
from services.identity.access import only_own
from services.projector import live as projector

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
        zone = tenant.app.zone
        people = load_people(db, views.tables(db, schema, "oversight", None, 0), zone)
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
            served=(people, clock.today(zone)),
        )
        return CaseloadPage(rows, nxt, projector.position_of(db, schema, "caseload"))

    @get("/{participant_id:uuid}", opt=action("participants.read"), sync_to_thread=True)
    def get_participant(self, tenant: Tenant, participant_id: UUID) -> ParticipantOut:
        """A participant as the log has it now (always current, no view lag)."""
        participant = tenant.app.participants.participant(participant_id)
        check_own_mentee(tenant, participant, "participants.read")
        out = render(participant, 0)
        if out.status is not Status.ACTIVE:
            return out
        # A derived exit, as the quarterly report and the caseload count it.
        db, zone = tenant.tenancy.db, tenant.app.zone
        people = load_people(db, views.tables(db, tenant.info.schema, "oversight", None, 0), zone)
        person = people.get(participant_id)
        derived = None if person is None else person.derived_exit(clock.today(zone))
        if derived is None:
            return out
        return msgspec.structs.replace(
            out,
            status=Status.EXITED,
            exit_date=derived[0],
            exit_reason=ExitReason.NO_SERVICE_90_DAYS,
            exit_derived=True,
        )

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
            history_entry(position, e)
            for position, e in tenant.app.participants.history(participant_id)
        ]
        check_own_mentee(
            tenant, tenant.app.participants.participant(participant_id), "participants.read"
        )
        return HistoryOut(participant_id, entries)
