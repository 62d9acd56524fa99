"""`/v1/grantees/{grantee}/participants`: enrolment, stages, exit, caseload, history."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal
from uuid import UUID

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.di import Provide
from litestar.params import Parameter

from domain import clock
from domain.contact import Contact
from domain.participants import ExitReason, Participant, Status
from projections import search
from projections.assignments import Staff
from projections.caseload import caseload_page, caseload_total
from projections.caseload_reads import CASELOAD_SORT, Filters
from projections.mentors import PeerMentor
from projections.query import sort_of, sort_pattern
from projections.service import load_people
from services.api import views
from services.api.commands import enroll_command, transition_command
from services.api.context import (
    Tenant,
    action,
    check_own_mentee,
    provide_tenant,
    tenant_command,
)
from services.api.docs import body, problems
from services.api.params import (
    LIMIT_DEFAULT,
    AssignedTo,
    Limit,
    MinPosition,
    SearchText,
    SortCursor,
    me,
    sort_description,
)
from services.api.reads import recorded_read
from services.api.schemas.participants import (
    ASSIGN_EXAMPLE,
    CONTACT_EXAMPLE,
    CORRECT_EXAMPLE,
    ENROL_EXAMPLE,
    EXIT_EXAMPLE,
    MOVE_EXAMPLE,
    WITHHELD_FROM_PEER_MENTORS,
    AssignmentIn,
    CaseloadPage,
    ContactIn,
    CorrectionIn,
    EnrollmentIn,
    ExitIn,
    HistoryOut,
    StageTransitionIn,
    for_peer_mentor,
    history_entries,
    unset_none,
)

# A participant as the API shows it, also rendered by the audit's as-of reads (audit_reads.py).
from services.api.schemas.participants import ParticipantOut as ParticipantOut
from services.api.schemas.participants import render as render
from services.identity.access import only_own

# The most participants one caseload read names by `id` (the address stays a few kB).
IDS_MAX = 100

CaseloadSort = Annotated[
    str | None,
    Parameter(
        max_length=40,
        description=sort_description(CASELOAD_SORT),
        schema_extra={"pattern": sort_pattern(CASELOAD_SORT)},
    ),
]


def with_derived_exit(
    tenant: Tenant, participant: Participant, out: ParticipantOut
) -> ParticipantOut:
    """`out` with the participant's derived exit, as the caseload and the quarterly report
    count it, when it has taken effect today (decision 85); the same for a command's answer as
    for the read (decision 97)."""
    exit_on = tenant.app.participants.derived_exit_of(participant, None)
    if exit_on is None:
        return out
    return msgspec.structs.replace(
        out,
        status=Status.EXITED,
        exit_date=exit_on,
        exit_reason=ExitReason.NO_SERVICE_90_DAYS,
        exit_derived=True,
    )


def shown(tenant: Tenant) -> Callable[[Participant, int], ParticipantOut]:
    """A command's answer: the participant as saved, shown as the read shows them."""
    return lambda p, position: with_derived_exit(tenant, p, render(p, position))


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
        return tenant_command(
            # Just enrolled: not in the oversight view yet, so the answer is the record itself.
            request,
            tenant,
            data,
            enroll_command(request, tenant, data),
            render,
            status=201,
        )

    @post(
        "/{participant_id:uuid}/assignments",
        opt=action("participants.assign"),
        sync_to_thread=True,
        status_code=201,
        responses=problems(
            (404, "not_found", "no such participant in this grantee"),
            (422, "already_assigned", "that staff member (null: nobody) already holds the duty"),
        ),
    )
    def assign(
        self,
        request: Request[Any, Any, Any],
        tenant: Tenant,
        participant_id: UUID,
        data: Annotated[AssignmentIn, body("a case manager", ASSIGN_EXAMPLE)],
    ) -> Response[ParticipantOut]:
        """Assign, reassign or (with `staff: null`) unassign the participant's case manager or
        coordinator, named by their token subject (`GET …/participants?assigned_to=me`)."""
        with tenant.app.derived_exits.remembering():
            return tenant_command(
                request,
                tenant,
                data,
                lambda cmd: tenant.app.participants.assign_staff(
                    cmd, participant_id, duty=data.duty, staff=data.staff
                ),
                shown(tenant),
                status=201,
            )

    @post(
        "/{participant_id:uuid}/contact",
        opt=action("participants.contact"),
        sync_to_thread=True,
        status_code=201,
        responses=problems(
            (404, "not_found", "no such participant in this grantee"),
            (422, "release_before_entry", "the projected release is before program entry"),
            (422, "contact_empty", "nothing on record and nothing given: nothing to record"),
            (422, "nothing_to_correct", "the details already read so"),
            (422, "already_erased", "the participant's personal data was erased"),
        ),
    )
    def contact(
        self,
        request: Request[Any, Any, Any],
        tenant: Tenant,
        participant_id: UUID,
        data: Annotated[ContactIn, body("phone and release date", CONTACT_EXAMPLE)],
    ) -> Response[ParticipantOut]:
        """Record the participant's contact details and projected release date (personal,
        encrypted with the participant's key; each recording replaces the last)."""
        with tenant.app.derived_exits.remembering():
            return tenant_command(
                request,
                tenant,
                data,
                lambda cmd: tenant.app.participants.record_contact(
                    cmd,
                    participant_id,
                    contact=Contact(phone=data.phone, email=data.email, address=data.address),
                    projected_release_date=data.projected_release_date,
                ),
                shown(tenant),
                status=201,
            )

    @post(
        "/{participant_id:uuid}/corrections",
        opt=action("participants.correct"),
        sync_to_thread=True,
        status_code=201,
        responses=problems(
            (404, "not_found", "no such participant in this grantee"),
            (422, "nothing_to_correct", "nothing named, or the record already reads so"),
            (422, "reason_required", "the reason is blank"),
            (422, "already_erased", "the participant's personal data was erased"),
            (422, "entry_before_cohort", "the entry date is long before the cohort began"),
            (422, "entry_after_later_dates", "the entry date is after a stage began or the exit"),
            (422, "implausible_date_of_birth", "an age outside 16-110 at program entry"),
            (422, "cohort_at_other_facility", "in stage 1 the cohort meets at the facility"),
            (422, "facility_wrong_kind", "the facility is not of the current placement's kind"),
            (422, "facility_not_allowed", "home confinement and the community have no facility"),
            (422, "cohort_graduated", "the cohort graduated before the entry date"),
        ),
    )
    def correct(
        self,
        request: Request[Any, Any, Any],
        tenant: Tenant,
        participant_id: UUID,
        data: Annotated[CorrectionIn, body("a misspelt last name", CORRECT_EXAMPLE)],
    ) -> Response[ParticipantOut]:
        """Correct a participant's personal details (names, date of birth, register number),
        placement recorded wrongly (cohort; facility or RRC of the current stage) or program
        entry date, with the reason. The log keeps what was there before: the
        history shows both to staff and auditors."""
        with tenant.app.derived_exits.remembering():
            return tenant_command(
                request,
                tenant,
                data,
                lambda cmd: tenant.app.participants.correct_participant(
                    cmd,
                    participant_id,
                    reason=data.reason,
                    personal=data.personal(),
                    program_entry_date=unset_none(data.program_entry_date),
                    cohort_code=unset_none(data.cohort),
                    facility_code=unset_none(data.facility),
                ),
                shown(tenant),
                status=201,
            )

    @get("/", opt=action("participants.read"), sync_to_thread=True)
    def caseload(
        self,
        request: Request[Any, Any, Any],
        tenant: Tenant,
        limit: Limit = LIMIT_DEFAULT,
        cursor: SortCursor = "",
        stage: Literal[1, 2, 3] | None = None,
        status: Status | None = None,
        facility: str | None = None,
        cohort: str | None = None,
        q: SearchText = None,
        sort: CaseloadSort = None,
        assigned_to: AssignedTo = None,
        id: Annotated[
            list[UUID] | None,
            Parameter(
                max_items=IDS_MAX,
                description=f"only these participants (repeat `id`, at most {IDS_MAX} times)",
            ),
        ] = None,
        pairing_id: Annotated[
            list[UUID] | None,
            Parameter(
                max_items=IDS_MAX,
                description="only the members of these pairings now (repeat `pairing_id`, at"
                f" most {IDS_MAX} times)",
            ),
        ] = None,
        min_position: MinPosition = None,
        total: Annotated[
            bool,
            Parameter(description="also count the participants the filters keep on every page"),
        ] = False,
    ) -> CaseloadPage:
        """The caseload: one row per participant, in participant-number order or by `sort`,
        with filters; `q` finds by name, program number or register number. `status` counts a
        derived exit (more than 90 days without service, none planned) as `exited`, before the
        page is cut: every page but the last is full. With `total=true` the answer says how
        many participants the filters keep over all pages (`total`). `id` (repeated) keeps only
        those participants, `pairing_id` (repeated) the members of those pairings now: a list
        naming the people it mentions reads them in one request."""
        db = tenant.tenancy.db
        schema = tenant.info.schema
        wait = request.app.state.settings.view_wait_max
        # One transaction: the live builds read once, the rows, their access-log row.
        with recorded_read(request, tenant):
            t = views.tables(db, schema, "caseload", min_position, wait)
            people = views.tables(db, schema, "search", min_position, wait)
            order = sort_of(sort, CASELOAD_SORT, people)
            find = search.find(people, q)
            peer_mentor = None
            if only_own("participants.read", tenant.principal.roles):
                roster = views.tables(db, schema, "mentor_roster", None, 0)
                peer_mentor = PeerMentor(tenant.principal.subject, roster)
            zone = tenant.app.zone
            served = load_people(
                db,
                views.tables(db, schema, "oversight", None, 0),
                zone,
                position=views.position(db, schema, "oversight"),
            )
            filters = Filters(
                stage=stage,
                status=status,
                facility=facility,
                cohort=cohort,
                peer_mentor=peer_mentor,
                find=find,
                ids=None if id is None else tuple(id),
                pairings=None if pairing_id is None else tuple(pairing_id),
                staff=Staff(
                    views.tables(db, schema, "assignments", min_position, wait),
                    me(tenant.principal.subject, assigned_to),
                ),
            )
            today = (served, clock.today(zone))
            rows, nxt = caseload_page(
                db,
                t,
                views.tables(db, schema, "goals", None, 0),
                clock.now(),
                after=cursor,
                limit=limit,
                filters=filters,
                sort=order,
                served=today,
            )
            counted = caseload_total(db, t, filters=filters, served=today) if total else None
            return CaseloadPage(rows, nxt, views.position(db, schema, "caseload"), counted)

    @get("/{participant_id:uuid}", opt=action("participants.read"), sync_to_thread=True)
    def get_participant(self, tenant: Tenant, participant_id: UUID) -> ParticipantOut:
        """A participant as the log has it now (always current, no view lag)."""
        participant = tenant.app.participants.participant(participant_id)
        check_own_mentee(tenant, participant, "participants.read")
        out = render(participant, 0)
        if only_own("participants.read", tenant.principal.roles):
            out = for_peer_mentor(out)
        return with_derived_exit(tenant, participant, out)

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
        with tenant.app.derived_exits.remembering():
            return tenant_command(
                request,
                tenant,
                data,
                transition_command(request, tenant, data, participant_id),
                shown(tenant),
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
        with tenant.app.derived_exits.remembering():
            return tenant_command(
                request,
                tenant,
                data,
                lambda cmd: tenant.app.participants.exit_participant(
                    cmd,
                    participant_id,
                    exit_date=data.exit_date,
                    reason=data.reason,
                    note=data.note,
                ),
                shown(tenant),
                status=201,
            )

    @get("/{participant_id:uuid}/history", opt=action("participants.read"), sync_to_thread=True)
    def history(self, tenant: Tenant, participant_id: UUID) -> HistoryOut:
        """Every event of the participant, in order, with its log position."""
        own = only_own("participants.read", tenant.principal.roles)
        entries = history_entries(
            tenant.app.participants.history(participant_id),
            before_after=not own,
            withhold=WITHHELD_FROM_PEER_MENTORS if own else (),
        )
        check_own_mentee(
            tenant, tenant.app.participants.participant(participant_id), "participants.read"
        )
        return HistoryOut(participant_id, entries)
