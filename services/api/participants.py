"""`/v1/grantees/{grantee}/participants`: enrolment, stages, exit, caseload, history."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal
from uuid import UUID

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.di import Provide
from psycopg import sql

from domain import clock
from domain.participants import (
    STAGE_OF_PLACEMENT,
    ExitReason,
    FundingSource,
    Participant,
    PersonalDetails,
    Placement,
    Stage,
    Status,
)
from projections import query
from projections.base import Tables
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
from services.api.problems import ProblemError
from services.api.text import FreeText, Line
from services.identity.access import only_own
from services.projector import live as projector
from services.store.database import Database

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


class CaseloadRow(msgspec.Struct):
    id: UUID
    number: str
    first_name: str
    last_name: str
    cohort: str
    program_entry_date: date
    stage: int
    placement: Placement
    facility: str | None
    stage_started_at: datetime
    days_in_stage: int
    funding_source: FundingSource
    status: Status
    exit_date: date | None
    exit_reason: ExitReason | None
    returns_to_custody: int
    last_event_at: datetime
    mentor_id: UUID | None
    mentor_name: str | None
    individual_pairing_id: UUID | None
    group_pairing_ids: list[UUID]
    first_paired_at: datetime | None
    days_to_first_pairing: int | None
    overdue_goals: int


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


def _placement(data: StageTransitionIn) -> Placement:
    if data.placement is not None:
        return data.placement
    if data.to_stage == 3:
        return Placement.COMMUNITY
    if data.to_stage == 1:
        return Placement.BOP_INSTITUTION
    raise ProblemError(
        422, "placement_required", "a move to stage 2 names its placement: rrc or home_confinement"
    )


def _mentor_names(db: Database, t: Tables, mentor_ids: list[UUID]) -> dict[UUID, str]:
    if not mentor_ids:
        return {}
    rows = db.fetchall(
        sql.SQL("SELECT mentor_id, display_name FROM {} WHERE mentor_id = ANY(%s)").format(
            t["caseload_mentors"]
        ),
        (mentor_ids,),
    )
    return {r[0]: r[1] for r in rows}


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
        where: list[tuple[str, Any]] = []
        for column, value in (
            ("stage", stage),
            ("status", status),
            ("facility_code", facility),
            ("cohort_code", cohort),
        ):
            if value is not None:
                where.append((column, value.value if isinstance(value, Status) else value))
        extra: sql.Composable | None = None
        extra_params: tuple[Any, ...] = ()
        if only_own("participants.read", tenant.principal.roles):
            # Only through a certified mentor record: suspension or retirement ends the access.
            roster = views.tables(db, schema, "mentor_roster", None, 0)
            extra = sql.SQL(
                "(mentor_id IN (SELECT mentor_id FROM {r} WHERE subject = %s AND status = 'certified')"
                " OR group_pairing_ids && ARRAY(SELECT p.pairing_id FROM {p} p WHERE p.mentor_id IN"
                " (SELECT mentor_id FROM {r} WHERE subject = %s AND status = 'certified')))"
            ).format(r=roster["mentors"], p=t["caseload_pairings"])
            extra_params = (tenant.principal.subject, tenant.principal.subject)
        rows, nxt = query.page(
            db,
            t,
            "caseload",
            "number, participant_id, first_name, last_name, cohort_code, program_entry_date, stage,"
            " placement, facility_code, stage_started_at, funding_source, status, exit_date,"
            " exit_reason, returns_to_custody, last_event_at, mentor_id, individual_pairing_id,"
            " group_pairing_ids, first_paired_at",
            "number",
            after=cursor,
            limit=limit,
            where=where,
            extra=extra,
            extra_params=extra_params,
        )
        names = _mentor_names(db, t, [r[16] for r in rows if r[16] is not None])
        now = clock.now()
        g = views.tables(db, schema, "goals", None, 0)
        overdue: dict[UUID, int] = dict(
            db.fetchall(
                sql.SQL(
                    "SELECT participant_id, count(*)::int FROM {} WHERE participant_id = ANY(%s)"
                    " AND status = 'active' AND target_date < %s GROUP BY participant_id"
                ).format(g["goals"]),
                ([r[1] for r in rows], now.date()),
            )
        )
        items = [
            CaseloadRow(
                id=r[1],
                number=r[0],
                first_name=r[2],
                last_name=r[3],
                cohort=r[4],
                program_entry_date=r[5],
                stage=r[6],
                placement=Placement(r[7]),
                facility=r[8],
                stage_started_at=r[9],
                days_in_stage=max(0, (now - r[9]).days),
                funding_source=FundingSource(r[10]),
                status=Status(r[11]),
                exit_date=r[12],
                exit_reason=ExitReason(r[13]) if r[13] else None,
                returns_to_custody=r[14],
                last_event_at=r[15],
                mentor_id=r[16],
                mentor_name=names.get(r[16]),
                individual_pairing_id=r[17],
                group_pairing_ids=list(r[18]),
                first_paired_at=r[19],
                days_to_first_pairing=None if r[19] is None else (r[19].date() - r[5]).days,
                overdue_goals=overdue.get(r[1], 0),
            )
            for r in rows
        ]
        return CaseloadPage(items, nxt, projector.position_of(db, schema, "caseload"))

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
        placement = _placement(data)
        app = tenant.app
        if data.returned_to_custody or data.to_stage == 1:
            if not (data.returned_to_custody and data.to_stage == 1):
                raise ProblemError(
                    422,
                    "illegal_transition",
                    "a participant goes back to stage 1 only by a return to custody: send "
                    "to_stage 1 with returned_to_custody true",
                )
            if placement is not Placement.BOP_INSTITUTION:
                raise ProblemError(
                    422,
                    "placement_mismatch",
                    f"placement {placement.value} belongs to stage {int(STAGE_OF_PLACEMENT[placement])}",
                )

            def execute(cmd: Any) -> Any:
                return app.participants.return_to_custody(
                    cmd, participant_id, facility_code=data.facility, occurred_at=data.occurred_at
                )
        else:
            if STAGE_OF_PLACEMENT[placement] != Stage(data.to_stage):
                raise ProblemError(
                    422,
                    "placement_mismatch",
                    f"placement {placement.value} belongs to stage {int(STAGE_OF_PLACEMENT[placement])}",
                )

            def execute(cmd: Any) -> Any:
                return app.participants.transition_stage(
                    cmd,
                    participant_id,
                    placement=placement,
                    facility_code=data.facility,
                    occurred_at=data.occurred_at,
                )

        return tenant_command(request, tenant, data, execute, render, status=201)

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
            for position, e in tenant.app.ledger.history_with_positions(participant_id)
        ]
        if not entries:
            raise ProblemError(404, "not_found", "participant not found")
        if not entries[0].type == "Enrolled":
            raise ProblemError(404, "not_found", "participant not found")
        check_own_mentee(tenant, tenant.app.participants.participant(participant_id), "participants.read")
        return HistoryOut(participant_id, entries)
