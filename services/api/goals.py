"""`/v1/grantees/{grantee}/goals`: SMART goals, their steps, progress, revisions and outcome.

Setting, listing and reading goals are here; the work on one goal is in `goal_changes`.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any
from uuid import UUID

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.di import Provide
from litestar.params import Parameter

from domain import clock
from domain.goals import GoalDomain, GoalStatus, GoalTerms, Horizon
from projections.goals import GOAL_SORT, BoardGoal, GoalRow, Mentees, goal_board, goal_page
from projections.query import sort_pattern
from services.api import views
from services.api.context import Tenant, action, check_own_mentee, provide_tenant
from services.api.docs import body, problems
from services.api.goal_changes import GoalChangeController
from services.api.goal_schemas import (
    NOT_WORKABLE,
    SET_EXAMPLE,
    TERMS,
    GoalIn,
    GoalOut,
    goal_command,
    own_goal,
    render,
)
from services.api.params import (
    FIRST_UUID,
    LIMIT_DEFAULT,
    Limit,
    MinPosition,
    SearchText,
    SortCursor,
    sort_description,
)
from services.identity.access import only_own
from services.projector import live as projector

# The goal as the API shows it is also what the audit's as-of reads answer (audit_reads).


GoalSort = Annotated[
    str | None,
    Parameter(
        max_length=40,
        description=sort_description(GOAL_SORT),
        schema_extra={"pattern": sort_pattern(GOAL_SORT)},
    ),
]


class GoalPage(msgspec.Struct):
    items: list[GoalRow]
    next_cursor: str | None


class GoalBoard(msgspec.Struct):
    participant_id: UUID
    as_of: date
    overdue: int
    active: list[BoardGoal]
    achieved: list[BoardGoal]
    abandoned: list[BoardGoal]
    position: int


class GoalController(Controller):
    path = "/v1/grantees/{grantee:str}/goals"
    tags = ("goals",)
    dependencies = {"tenant": Provide(provide_tenant, sync_to_thread=False)}

    @post(
        "/",
        opt=action("goals.write"),
        sync_to_thread=True,
        status_code=201,
        responses=problems((404, "not_found", "participant not found"), *NOT_WORKABLE[2:], *TERMS),
    )
    def set_goal(
        self,
        request: Request[Any, Any, Any],
        tenant: Tenant,
        data: Annotated[GoalIn, body("a short-term goal: a state ID", SET_EXAMPLE)],
    ) -> Response[GoalOut]:
        """Set a SMART goal for an active participant: specific statement, measure and target,
        life domain, and a target date within the horizon (weekly: 7 days, short-term: 90
        days, long-term: 2 years) of today. Peer mentors set goals for their own mentees."""
        check_own_mentee(
            tenant, tenant.app.participants.participant(data.participant_id), "goals.write"
        )
        terms = GoalTerms(
            horizon=data.horizon,
            domain=data.domain,
            statement=data.statement,
            measure=data.measure,
            target=data.target,
            target_date=data.target_date,
        )
        return goal_command(
            request,
            tenant,
            None,
            data,
            lambda cmd: tenant.app.goals.set_goal(
                cmd, participant_id=data.participant_id, terms=terms
            ),
        )

    @get("/", opt=action("goals.read"), sync_to_thread=True, responses=problems())
    def list_goals(
        self,
        request: Request[Any, Any, Any],
        tenant: Tenant,
        limit: Limit = LIMIT_DEFAULT,
        cursor: SortCursor = "",
        participant_id: UUID | None = None,
        status: GoalStatus | None = None,
        domain: GoalDomain | None = None,
        horizon: Horizon | None = None,
        overdue: bool | None = None,
        q: SearchText = None,
        sort: GoalSort = None,
        min_position: MinPosition = None,
    ) -> GoalPage:
        """Goals in id order or by `sort`, filtered by participant, status, domain, horizon or
        overdue (active with the target date passed); `q` finds by the participant's name or
        number. Peer mentors see their own mentees' goals."""
        db, schema = tenant.tenancy.db, tenant.info.schema
        wait = request.app.state.settings.view_wait_max
        t = views.tables(db, schema, "goals", min_position, wait)
        find, order = views.search_and_sort(db, schema, q, sort, GOAL_SORT, min_position, wait)
        mentees = None
        if only_own("goals.read", tenant.principal.roles):
            mentees = Mentees(
                tenant.principal.subject,
                caseload=views.tables(db, schema, "caseload", None, 0),
                roster=views.tables(db, schema, "mentor_roster", None, 0),
            )
        items, nxt = goal_page(
            db,
            t,
            clock.today(tenant.app.zone),
            after=cursor if order or find else (cursor or FIRST_UUID),
            limit=limit,
            participant_id=participant_id,
            status=status,
            domain=domain,
            horizon=horizon,
            overdue=overdue,
            mentees=mentees,
            find=find,
            sort=order,
        )
        return GoalPage(items, nxt)

    @get(
        "/board",
        opt=action("goals.read"),
        sync_to_thread=True,
        responses=problems((404, "not_found", "participant not found")),
    )
    def board(
        self,
        request: Request[Any, Any, Any],
        tenant: Tenant,
        participant_id: UUID,
        min_position: MinPosition = None,
    ) -> GoalBoard:
        """A participant's goal board: active goals by target date (overdue ones flagged),
        then achieved and abandoned goals, latest first; each with its steps."""
        check_own_mentee(tenant, tenant.app.participants.participant(participant_id), "goals.read")
        db, schema = tenant.tenancy.db, tenant.info.schema
        t = views.tables(
            db, schema, "goals", min_position, request.app.state.settings.view_wait_max
        )
        today = clock.today(tenant.app.zone)
        goals = goal_board(db, t, participant_id, today)

        def closed(status: GoalStatus) -> list[BoardGoal]:
            mine = [g for g in goals if g.status is status]
            return sorted(mine, key=lambda g: (g.closed_at, str(g.id)), reverse=True)

        active = [g for g in goals if g.status is GoalStatus.ACTIVE]
        return GoalBoard(
            participant_id,
            today,
            sum(g.overdue for g in active),
            active,
            closed(GoalStatus.ACHIEVED),
            closed(GoalStatus.ABANDONED),
            projector.position_of(db, schema, "goals"),
        )

    @get(
        "/{goal_id:uuid}",
        opt=action("goals.read"),
        sync_to_thread=True,
        responses=problems((404, "not_found", "goal not found")),
    )
    def get_goal(self, tenant: Tenant, goal_id: UUID) -> GoalOut:
        """A goal as the log has it now: its steps, every progress update and its full
        revision history (version 1 is the goal as first set)."""
        goal = own_goal(tenant, goal_id, "goals.read")
        return render(goal, 0, clock.today(tenant.app.zone))


ROUTES: list[Any] = [GoalController, GoalChangeController]
