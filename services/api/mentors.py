"""`/v1/grantees/{grantee}/mentors`: the peer-mentor lifecycle and the mentor roster."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.di import Provide
from litestar.params import Parameter

from domain import clock
from domain.mentors import Clearance, MentorStatus, TrainingRecord
from projections.mentors import ROSTER_SORT, roster_page
from projections.pairings import exit_reviews_by_mentor
from projections.query import sort_pattern
from services.api import views
from services.api.commands import register_command
from services.api.context import Tenant, action, provide_tenant, tenant_command
from services.api.docs import body, problems
from services.api.params import (
    FIRST_UUID,
    LIMIT_DEFAULT,
    Limit,
    MinPosition,
    SearchText,
    SortCursor,
    sort_description,
)
from services.api.schemas.mentors import (
    BackgroundIn,
    ClearanceIn,
    CoordinatorIn,
    EmptyIn,
    MentorCorrectionIn,
    MentorIn,
    MentorOut,
    NoteIn,
    RosterPage,
    ScreeningIn,
    TrainingIn,
    render,
)
from services.api.text import FreeText

RosterSort = Annotated[
    str | None,
    Parameter(
        max_length=40,
        description=sort_description(ROSTER_SORT),
        schema_extra={"pattern": sort_pattern(ROSTER_SORT)},
    ),
]


class ReasonIn(msgspec.Struct, forbid_unknown_fields=True):
    reason: Annotated[FreeText, msgspec.Meta(min_length=1, max_length=2000)]


RULE = (422, "rule_violated", "the named rule refused the command")
REGISTER_EXAMPLE = {
    "display_name": "Marcus W.",
    "source": "graduate",
    "channel": "cohort_graduation",
    "participant_id": "3f2c1a9e-8d7b-5c6a-9e0f-1a2b3c4d5e6f",
    "expected_hours_per_month": 6,
}


class MentorController(Controller):
    path = "/v1/grantees/{grantee:str}/mentors"
    tags = ["mentors"]
    dependencies = {"tenant": Provide(provide_tenant, sync_to_thread=False)}

    def _do(
        self,
        request: Request[Any, Any, Any],
        tenant: Tenant,
        data: Any,
        execute: Any,
        status: int = 201,
    ) -> Response[MentorOut]:
        return tenant_command(request, tenant, data, execute, render, status=status)

    @post(
        "/",
        opt=action("mentors.write"),
        sync_to_thread=True,
        status_code=201,
        responses=problems(
            (
                422,
                "not_a_graduate",
                "cohort C1 has not graduated; a graduate mentor comes from a graduated cohort",
            ),
            (422, "participant_required", "a graduate mentor is linked to the participant record"),
        ),
    )
    def register(
        self,
        request: Request[Any, Any, Any],
        tenant: Tenant,
        data: Annotated[MentorIn, body("a graduate of an earlier cohort", REGISTER_EXAMPLE)],
    ) -> Response[MentorOut]:
        """Register a mentor applicant: a graduate (linked to the participant record, lived
        experience of incarceration) or a community peer; recruitment channel and expected time."""
        return self._do(request, tenant, data, register_command(request, tenant, data))

    @get("/", opt=action("mentors.read"), sync_to_thread=True)
    def roster(
        self,
        request: Request[Any, Any, Any],
        tenant: Tenant,
        limit: Limit = LIMIT_DEFAULT,
        cursor: SortCursor = "",
        status: MentorStatus | None = None,
        q: SearchText = None,
        sort: RosterSort = None,
        min_position: MinPosition = None,
    ) -> RosterPage:
        """The mentor roster: training and clearance status, clearances expiring within 30 days,
        caseload and open review flags, and (`exit_reviews`) the open pairings whose mentee's
        derived exit has taken effect; in id order or by `sort`, `q` finds by name."""
        db = tenant.tenancy.db
        wait = request.app.state.settings.view_wait_max
        t = views.tables(db, tenant.info.schema, "mentor_roster", min_position, wait)
        find, order = views.search_and_sort(
            db, tenant.info.schema, q, sort, ROSTER_SORT, min_position, wait
        )
        # Open pairings with a derived-exited member, per mentor (decision 104).
        pairings = views.tables(db, tenant.info.schema, "pairings", None, 0)
        reviews = exit_reviews_by_mentor(db, pairings, tenant.app.derived_exits.in_effect())
        rows, nxt = roster_page(
            db,
            t,
            clock.today(tenant.app.zone),
            after=cursor if order or find else (cursor or FIRST_UUID),
            limit=limit,
            status=status,
            find=find,
            sort=order,
            exit_reviews=reviews,
        )
        return RosterPage(rows, nxt)

    @get("/{mentor_id:uuid}", opt=action("mentors.read"), sync_to_thread=True)
    def get_mentor(self, tenant: Tenant, mentor_id: UUID) -> MentorOut:
        """A mentor as the log has it now."""
        return render(tenant.app.mentors.mentor(mentor_id), 0)

    @post(
        "/{mentor_id:uuid}/corrections",
        opt=action("mentors.write"),
        sync_to_thread=True,
        status_code=201,
        responses=problems(
            (404, "not_found", "no such mentor in this grantee"),
            (422, "nothing_to_correct", "the name already reads so"),
            (422, "reason_required", "the reason is blank"),
        ),
    )
    def correct(
        self,
        request: Request[Any, Any, Any],
        tenant: Tenant,
        mentor_id: UUID,
        data: Annotated[
            MentorCorrectionIn,
            body("a misspelt name", {"display_name": "Marcus W.", "reason": "typo at intake"}),
        ],
    ) -> Response[MentorOut]:
        """Correct a mentor's display name, with the reason; the log keeps the old one."""
        return tenant_command(
            request,
            tenant,
            data,
            lambda cmd: tenant.app.mentors.correct_mentor_name(
                cmd, mentor_id, display_name=data.display_name, reason=data.reason
            ),
            render,
            status=201,
        )

    @post(
        "/{mentor_id:uuid}/screening-steps",
        opt=action("mentors.write"),
        sync_to_thread=True,
        status_code=201,
        responses=problems(RULE),
    )
    def screening(
        self, request: Request[Any, Any, Any], tenant: Tenant, mentor_id: UUID, data: ScreeningIn
    ) -> Response[MentorOut]:
        """Record a screening step (application, interview, references)."""
        return self._do(
            request,
            tenant,
            data,
            lambda cmd: tenant.app.mentors.complete_screening_step(
                cmd,
                mentor_id,
                step=data.step,
                on=data.completed_on,
                staff=data.staff,
                note=data.note,
            ),
        )

    @post(
        "/{mentor_id:uuid}/background-review",
        opt=action("mentors.write"),
        sync_to_thread=True,
        status_code=201,
        responses=problems(
            (422, "conditions_required", "approval with conditions states the conditions")
        ),
    )
    def background(
        self, request: Request[Any, Any, Any], tenant: Tenant, mentor_id: UUID, data: BackgroundIn
    ) -> Response[MentorOut]:
        """Record the background review as an assessment decision by a named reviewer (never an
        automatic disqualification)."""
        return self._do(
            request,
            tenant,
            data,
            lambda cmd: tenant.app.mentors.review_background(
                cmd,
                mentor_id,
                decision=data.decision,
                reviewer=data.reviewer,
                on=data.reviewed_on,
                conditions=data.conditions,
            ),
        )

    @post(
        "/{mentor_id:uuid}/trainings",
        opt=action("mentors.write"),
        sync_to_thread=True,
        status_code=201,
        responses=problems(RULE),
    )
    def training(
        self, request: Request[Any, Any, Any], tenant: Tenant, mentor_id: UUID, data: TrainingIn
    ) -> Response[MentorOut]:
        """Record one of the six required training modules (date, hours, trainer)."""
        return self._do(
            request,
            tenant,
            data,
            lambda cmd: tenant.app.mentors.complete_training(
                cmd,
                mentor_id,
                TrainingRecord(data.module, data.completed_on, data.hours, data.trainer),
            ),
        )

    @post(
        "/{mentor_id:uuid}/clearances",
        opt=action("mentors.write"),
        sync_to_thread=True,
        status_code=201,
        responses=problems((422, "invalid_expiry", "a clearance expires after its training date")),
    )
    def clearance(
        self, request: Request[Any, Any, Any], tenant: Tenant, mentor_id: UUID, data: ClearanceIn
    ) -> Response[MentorOut]:
        """Record volunteer training completed at a BOP institution or RRC, with its expiry."""
        return self._do(
            request,
            tenant,
            data,
            lambda cmd: tenant.app.mentors.grant_clearance(
                cmd, mentor_id, Clearance(data.facility, data.trained_on, data.expires_on)
            ),
        )

    @post(
        "/{mentor_id:uuid}/coordinator",
        opt=action("mentors.write"),
        sync_to_thread=True,
        status_code=201,
        responses=problems(RULE),
    )
    def coordinator(
        self, request: Request[Any, Any, Any], tenant: Tenant, mentor_id: UUID, data: CoordinatorIn
    ) -> Response[MentorOut]:
        """Assign the coordinator who supervises this mentor."""
        return self._do(
            request,
            tenant,
            data,
            lambda cmd: tenant.app.mentors.assign_coordinator(cmd, mentor_id, data.coordinator),
        )

    @post(
        "/{mentor_id:uuid}/certification",
        opt=action("mentors.write"),
        sync_to_thread=True,
        status_code=201,
        responses=problems(
            (
                422,
                "training_incomplete",
                "certification needs all six training modules; missing: crisis_management",
            ),
            (422, "screening_not_approved", "screening is not approved; missing steps: references"),
        ),
    )
    def certify(
        self, request: Request[Any, Any, Any], tenant: Tenant, mentor_id: UUID, data: EmptyIn
    ) -> Response[MentorOut]:
        """Certify the mentor: all six modules completed and screening approved."""
        return self._do(
            request, tenant, data, lambda cmd: tenant.app.mentors.certify_mentor(cmd, mentor_id)
        )

    @post(
        "/{mentor_id:uuid}/suspension",
        opt=action("mentors.write"),
        sync_to_thread=True,
        status_code=201,
        responses=problems(
            (422, "not_certified", "only a certified mentor can be suspended (is applicant)")
        ),
    )
    def suspend(
        self, request: Request[Any, Any, Any], tenant: Tenant, mentor_id: UUID, data: ReasonIn
    ) -> Response[MentorOut]:
        """Suspend the mentor (with reason); every open pairing is flagged for reassignment."""
        return self._do(
            request,
            tenant,
            data,
            lambda cmd: tenant.app.mentors.suspend_mentor(cmd, mentor_id, data.reason),
        )

    @post(
        "/{mentor_id:uuid}/reinstatement",
        opt=action("mentors.write"),
        sync_to_thread=True,
        status_code=201,
        responses=problems((422, "not_suspended", "only a suspended mentor can be reinstated")),
    )
    def reinstate(
        self, request: Request[Any, Any, Any], tenant: Tenant, mentor_id: UUID, data: NoteIn
    ) -> Response[MentorOut]:
        """Lift a suspension."""
        return self._do(
            request,
            tenant,
            data,
            lambda cmd: tenant.app.mentors.reinstate_mentor(cmd, mentor_id, data.note),
        )

    @post(
        "/{mentor_id:uuid}/retirement",
        opt=action("mentors.write"),
        sync_to_thread=True,
        status_code=201,
        responses=problems((422, "mentor_retired", "this mentor has retired")),
    )
    def retire(
        self, request: Request[Any, Any, Any], tenant: Tenant, mentor_id: UUID, data: ReasonIn
    ) -> Response[MentorOut]:
        """Retire the mentor; every open pairing is flagged for reassignment."""
        return self._do(
            request,
            tenant,
            data,
            lambda cmd: tenant.app.mentors.retire_mentor(cmd, mentor_id, data.reason),
        )
