"""`/v1/grantees/{grantee}/goals`: SMART goals, their steps, progress, revisions and outcome."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Annotated, Any
from uuid import UUID

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.di import Provide
from psycopg import sql

from domain import clock
from domain.goals import (
    Goal,
    GoalDomain,
    GoalStatus,
    GoalTerms,
    Horizon,
    ProgressUpdate,
    Revision,
    Step,
    StepStatus,
)
from projections import query
from services.api import views
from services.api.context import Tenant, action, check_own_mentee, provide_tenant, tenant_command
from services.api.docs import body, problems
from services.api.params import FIRST_UUID, Limit, MinPosition, UuidCursor
from services.api.problems import ProblemError
from services.api.text import FreeText
from services.identity.access import only_own
from services.projector import live as projector

Short = Annotated[FreeText, msgspec.Meta(min_length=1, max_length=500)]
Text = Annotated[FreeText, msgspec.Meta(min_length=1, max_length=2000)]
Percent = Annotated[int, msgspec.Meta(ge=0, le=100)]


class GoalIn(msgspec.Struct, forbid_unknown_fields=True):
    participant_id: UUID
    horizon: Horizon
    domain: GoalDomain
    statement: Short
    measure: Short
    target: Short
    target_date: date


class StepIn(msgspec.Struct, forbid_unknown_fields=True):
    description: Short
    due_on: date | None = None


class StepCompletionIn(msgspec.Struct, forbid_unknown_fields=True):
    note: Annotated[FreeText, msgspec.Meta(max_length=2000)] = ""


class GoalReasonIn(msgspec.Struct, forbid_unknown_fields=True):
    reason: Text


class GoalNoteIn(msgspec.Struct, forbid_unknown_fields=True):
    note: Text


class ProgressIn(msgspec.Struct, forbid_unknown_fields=True):
    note: Text
    evidence: Text
    percent: Percent | None = None


class RevisionIn(msgspec.Struct, forbid_unknown_fields=True):
    reason: Text
    horizon: Horizon | None = None
    domain: GoalDomain | None = None
    statement: Short | None = None
    measure: Short | None = None
    target: Short | None = None
    target_date: date | None = None


class GoalOut(msgspec.Struct, omit_defaults=True):
    id: UUID
    participant_id: UUID
    horizon: Horizon
    domain: GoalDomain
    statement: str
    measure: str
    target: str
    target_date: date
    set_on: date
    status: GoalStatus
    overdue: bool
    steps: list[Step]
    progress: list[ProgressUpdate]
    revisions: list[Revision]
    closed_at: datetime | None
    outcome: str
    version: int
    position: int | None = None


class GoalRow(msgspec.Struct, kw_only=True):
    id: UUID
    participant_id: UUID
    horizon: Horizon
    domain: GoalDomain
    statement: str
    measure: str
    target: str
    target_date: date
    set_on: date
    first_set_on: date
    revision: int
    status: GoalStatus
    overdue: bool
    steps_open: int
    steps_completed: int
    steps_dropped: int
    progress_count: int
    last_percent: int | None
    last_progress_at: datetime | None
    closed_at: datetime | None
    outcome: str


class BoardStep(msgspec.Struct):
    id: UUID
    description: str
    due_on: date | None
    status: StepStatus
    overdue: bool
    closed_at: datetime | None


class BoardGoal(GoalRow, kw_only=True):
    steps: list[BoardStep]


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


def renderer(tenant: Tenant) -> Callable[[Goal, int], GoalOut]:
    """`render` as of the grantee's today."""
    return lambda g, position: render(g, position, clock.today(tenant.app.zone))


def render(g: Goal, position: int, today: date) -> GoalOut:
    """The goal as the API shows it; `overdue` as of `today`, the grantee's local date."""
    t = g.terms
    return GoalOut(
        id=g.id,
        participant_id=g.participant_id,
        horizon=t.horizon,
        domain=t.domain,
        statement=t.statement,
        measure=t.measure,
        target=t.target,
        target_date=t.target_date,
        set_on=g.set_on,
        status=g.status,
        overdue=g.is_overdue(today),
        steps=list(g.steps.values()),
        progress=list(g.progress),
        revisions=list(g.revisions),
        closed_at=g.closed_at,
        outcome=g.outcome,
        version=g.version,
        position=position or None,
    )


COLUMNS = (
    "goal_id::text, participant_id, horizon, domain, statement, measure, target, target_date,"
    " set_on, first_set_on, revision, status, steps_open, steps_completed, steps_dropped,"
    " progress_count, last_percent, last_progress_at, closed_at, outcome"
)


def _row(r: tuple[Any, ...], today: date) -> dict[str, Any]:
    status = GoalStatus(r[11])
    return dict(
        id=UUID(r[0]),
        participant_id=r[1],
        horizon=Horizon(r[2]),
        domain=GoalDomain(r[3]),
        statement=r[4],
        measure=r[5],
        target=r[6],
        target_date=r[7],
        set_on=r[8],
        first_set_on=r[9],
        revision=r[10],
        status=status,
        overdue=status is GoalStatus.ACTIVE and r[7] < today,
        steps_open=r[12],
        steps_completed=r[13],
        steps_dropped=r[14],
        progress_count=r[15],
        last_percent=r[16],
        last_progress_at=r[17],
        closed_at=r[18],
        outcome=r[19],
    )


SET_EXAMPLE = {
    "participant_id": "3f2c1a9e-8d7b-5c6a-9e0f-1a2b3c4d5e6f",
    "horizon": "short_term",
    "domain": "id_documents",
    "statement": "Get a state ID card",
    "measure": "ID card issued by the DMV",
    "target": "card in hand",
    "target_date": "2027-01-15",
}
NOT_WORKABLE = [
    (404, "not_found", "goal not found"),
    (422, "goal_closed", "the goal was achieved; it accepts no further changes"),
    (
        422,
        "participant_exited",
        "participant P7K2M9Q4R8T3 exited on 2026-10-01; goals are set "
        "and worked on for active participants only",
    ),
]
TERMS = [
    (
        422,
        "goal_not_specific",
        "a SMART goal states what (statement), how it is measured "
        "(measure) and the target; missing: measure",
    ),
    (
        422,
        "target_in_past",
        "the target date 2026-11-20 is before the day the goal is set (2026-11-26)",
    ),
    (
        422,
        "target_beyond_horizon",
        "a weekly goal set on 2026-11-26 has a target date within 7 "
        "days (by 2026-12-03), not 2026-12-10",
    ),
]
STEP_RULES = [
    (404, "not_found", "goal not found"),
    (422, "no_such_step", "the goal has no such step"),
    (422, "step_closed", "the step is already completed"),
]


class GoalController(Controller):
    path = "/v1/grantees/{grantee:str}/goals"
    tags = ("goals",)
    dependencies = {"tenant": Provide(provide_tenant, sync_to_thread=False)}

    def _own(self, tenant: Tenant, goal_id: UUID, action_name: str) -> Goal:
        """The goal, if the caller may act on its participant (peer mentors: own mentees)."""
        goal = tenant.app.goals.goal(goal_id)
        try:
            check_own_mentee(tenant, tenant.app.participants.participant(goal.participant_id), action_name)
        except ProblemError:
            raise ProblemError(404, "not_found", "goal not found") from None
        return goal

    def _do(
        self,
        request: Request[Any, Any, Any],
        tenant: Tenant,
        goal_id: UUID | None,
        data: Any,
        execute: Any,
    ) -> Response[GoalOut]:
        if goal_id is not None:
            self._own(tenant, goal_id, "goals.write")
        return tenant_command(request, tenant, data, execute, renderer(tenant), status=201)

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
        check_own_mentee(tenant, tenant.app.participants.participant(data.participant_id), "goals.write")
        terms = GoalTerms(
            horizon=data.horizon,
            domain=data.domain,
            statement=data.statement,
            measure=data.measure,
            target=data.target,
            target_date=data.target_date,
        )
        return self._do(
            request,
            tenant,
            None,
            data,
            lambda cmd: tenant.app.goals.set_goal(cmd, participant_id=data.participant_id, terms=terms),
        )

    @get("/", opt=action("goals.read"), sync_to_thread=True, responses=problems())
    def list_goals(
        self,
        request: Request[Any, Any, Any],
        tenant: Tenant,
        limit: Limit = 100,
        cursor: UuidCursor = "",
        participant_id: UUID | None = None,
        status: GoalStatus | None = None,
        domain: GoalDomain | None = None,
        horizon: Horizon | None = None,
        overdue: bool | None = None,
        min_position: MinPosition = None,
    ) -> GoalPage:
        """Goals in id order, filtered by participant, status, domain, horizon or overdue
        (active with the target date passed). Peer mentors see their own mentees' goals."""
        db, schema = tenant.tenancy.db, tenant.info.schema
        wait = request.app.state.settings.view_wait_max
        t = views.tables(db, schema, "goals", min_position, wait)
        today = clock.today(tenant.app.zone)
        filters = (("status", status), ("domain", domain), ("horizon", horizon))
        where: list[tuple[str, Any]] = [(c, v.value) for c, v in filters if v is not None]
        clauses: list[sql.Composable] = [sql.SQL("TRUE")]
        params: list[Any] = []
        if participant_id is not None:
            where.append(("participant_id", participant_id))
        if overdue is not None:
            clauses.append(
                sql.SQL(
                    "(status = 'active' AND target_date < %s)"
                    if overdue
                    else "NOT (status = 'active' AND target_date < %s)"
                )
            )
            params.append(today)
        if only_own("goals.read", tenant.principal.roles):
            c = views.tables(db, schema, "caseload", None, 0)
            roster = views.tables(db, schema, "mentor_roster", None, 0)
            mine = sql.SQL(
                "SELECT mentor_id FROM {r} WHERE subject = %s AND status = 'certified'"
            ).format(r=roster["mentors"])
            clauses.append(
                sql.SQL(
                    "participant_id IN (SELECT participant_id FROM {c} WHERE mentor_id IN ({mine})"
                    " OR group_pairing_ids && ARRAY(SELECT p.pairing_id FROM {p} p WHERE p.mentor_id IN ({mine})))"
                ).format(c=c["caseload"], p=c["caseload_pairings"], mine=mine)
            )
            params += [tenant.principal.subject, tenant.principal.subject]
        rows, nxt = query.page(
            db,
            t,
            "goals",
            COLUMNS,
            "goal_id",
            after=cursor or FIRST_UUID,
            limit=limit,
            where=where,
            cast_key="uuid",
            extra=sql.SQL(" AND ").join(clauses),
            extra_params=tuple(params),
        )
        return GoalPage([GoalRow(**_row(r, today)) for r in rows], nxt)

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
        wait = request.app.state.settings.view_wait_max
        t = views.tables(db, schema, "goals", min_position, wait)
        today = clock.today(tenant.app.zone)
        rows = db.fetchall(
            sql.SQL(
                "SELECT " + COLUMNS + " FROM {} WHERE participant_id = %s"
                " ORDER BY target_date, goal_id"
            ).format(t["goals"]),
            (participant_id,),
        )
        steps: dict[UUID, list[BoardStep]] = {}
        for s in db.fetchall(
            sql.SQL(
                "SELECT s.goal_id, s.step_id, s.description, s.due_on, s.status, s.closed_at"
                " FROM {} s JOIN {} g USING (goal_id) WHERE g.participant_id = %s"
                " ORDER BY s.added_at, s.step_id"
            ).format(t["goal_steps"], t["goals"]),
            (participant_id,),
        ):
            open_ = s[4] == StepStatus.OPEN.value
            steps.setdefault(s[0], []).append(
                BoardStep(
                    s[1],
                    s[2],
                    s[3],
                    StepStatus(s[4]),
                    open_ and s[3] is not None and s[3] < today,
                    s[5],
                )
            )
        goals = [BoardGoal(**_row(r, today), steps=steps.get(UUID(r[0]), [])) for r in rows]

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
        return renderer(tenant)(self._own(tenant, goal_id, "goals.read"), 0)

    @post(
        "/{goal_id:uuid}/steps",
        opt=action("goals.write"),
        sync_to_thread=True,
        status_code=201,
        responses=problems(
            *NOT_WORKABLE,
            (422, "description_required", "a step description is required"),
            (422, "due_in_past", "the step's due date 2026-11-20 has passed"),
            (
                422,
                "step_due_after_target",
                "a step is due by the goal's target date 2027-01-15, not 2027-02-01",
            ),
            (422, "too_many_steps", "a goal has at most 50 steps"),
        ),
    )
    def add_step(
        self,
        request: Request[Any, Any, Any],
        tenant: Tenant,
        goal_id: UUID,
        data: Annotated[
            StepIn,
            body(
                "a first step",
                {"description": "Request a birth certificate", "due_on": "2026-12-05"},
            ),
        ],
    ) -> Response[GoalOut]:
        """Break the goal down into a smaller step, optionally due by a date (not after the
        goal's target date). The new step is the last of `steps`."""
        return self._do(
            request,
            tenant,
            goal_id,
            data,
            lambda cmd: tenant.app.goals.add_goal_step(
                cmd, goal_id, description=data.description, due_on=data.due_on
            ),
        )

    @post(
        "/{goal_id:uuid}/steps/{step_id:uuid}/completion",
        opt=action("goals.write"),
        sync_to_thread=True,
        status_code=201,
        responses=problems(*NOT_WORKABLE, *STEP_RULES),
    )
    def complete_step(
        self,
        request: Request[Any, Any, Any],
        tenant: Tenant,
        goal_id: UUID,
        step_id: UUID,
        data: Annotated[StepCompletionIn, body("done", {"note": "certificate arrived by mail"})],
    ) -> Response[GoalOut]:
        """Mark an open step completed, with an optional note."""
        return self._do(
            request,
            tenant,
            goal_id,
            data,
            lambda cmd: tenant.app.goals.complete_goal_step(cmd, goal_id, step_id, data.note),
        )

    @post(
        "/{goal_id:uuid}/steps/{step_id:uuid}/drop",
        opt=action("goals.write"),
        sync_to_thread=True,
        status_code=201,
        responses=problems(
            *NOT_WORKABLE, *STEP_RULES, (422, "reason_required", "a reason is required")
        ),
    )
    def drop_step(
        self,
        request: Request[Any, Any, Any],
        tenant: Tenant,
        goal_id: UUID,
        step_id: UUID,
        data: Annotated[
            GoalReasonIn,
            body("no longer needed", {"reason": "the RRC obtained the certificate for him"}),
        ],
    ) -> Response[GoalOut]:
        """Drop an open step that no longer serves the goal, with the reason."""
        return self._do(
            request,
            tenant,
            goal_id,
            data,
            lambda cmd: tenant.app.goals.drop_goal_step(cmd, goal_id, step_id, data.reason),
        )

    @post(
        "/{goal_id:uuid}/progress",
        opt=action("goals.write"),
        sync_to_thread=True,
        status_code=201,
        responses=problems(
            *NOT_WORKABLE,
            (422, "evidence_required", "evidence (a text or URL reference) is required"),
            (422, "invalid_percent", "percent complete is 0-100"),
        ),
    )
    def record_progress(
        self,
        request: Request[Any, Any, Any],
        tenant: Tenant,
        goal_id: UUID,
        data: Annotated[
            ProgressIn,
            body(
                "an application filed",
                {
                    "note": "DMV appointment booked",
                    "evidence": "confirmation no. 48213",
                    "percent": 60,
                },
            ),
        ],
    ) -> Response[GoalOut]:
        """Record progress: a note, its evidence (text or URL reference) and, if known, the
        percent complete (it may fall: setbacks happen)."""
        return self._do(
            request,
            tenant,
            goal_id,
            data,
            lambda cmd: tenant.app.goals.record_goal_progress(
                cmd, goal_id, note=data.note, evidence=data.evidence, percent=data.percent
            ),
        )

    @post(
        "/{goal_id:uuid}/revisions",
        opt=action("goals.write"),
        sync_to_thread=True,
        status_code=201,
        responses=problems(
            *NOT_WORKABLE,
            *TERMS,
            (422, "revision_unchanged", "the revision changes nothing"),
            (422, "reason_required", "a reason is required"),
            (
                422,
                "step_due_after_target",
                "open step 'Book the DMV visit' is due 2027-01-10, "
                "after the new target date 2026-12-31; drop it first",
            ),
        ),
    )
    def revise(
        self,
        request: Request[Any, Any, Any],
        tenant: Tenant,
        goal_id: UUID,
        data: Annotated[
            RevisionIn,
            body(
                "a later target after a setback",
                {"reason": "DMV closed for the holidays", "target_date": "2027-02-01"},
            ),
        ],
    ) -> Response[GoalOut]:
        """Reassess and adjust the goal as circumstances change: the named terms change, the
        others stay; the target date is checked against the horizon from today. The earlier
        version stays in `revisions`."""
        return self._do(
            request,
            tenant,
            goal_id,
            data,
            lambda cmd: tenant.app.goals.revise_goal(
                cmd,
                goal_id,
                reason=data.reason,
                horizon=data.horizon,
                domain=data.domain,
                statement=data.statement,
                measure=data.measure,
                target=data.target,
                target_date=data.target_date,
            ),
        )

    @post(
        "/{goal_id:uuid}/achievement",
        opt=action("goals.write"),
        sync_to_thread=True,
        status_code=201,
        responses=problems(*NOT_WORKABLE, (422, "note_required", "a celebration note is required")),
    )
    def achieve(
        self,
        request: Request[Any, Any, Any],
        tenant: Tenant,
        goal_id: UUID,
        data: Annotated[
            GoalNoteIn,
            body("celebrated", {"note": "Got his ID; celebrated with the group over lunch"}),
        ],
    ) -> Response[GoalOut]:
        """Celebrate an achieved goal, with a note; the goal then accepts nothing further."""
        return self._do(
            request,
            tenant,
            goal_id,
            data,
            lambda cmd: tenant.app.goals.achieve_goal(cmd, goal_id, data.note),
        )

    @post(
        "/{goal_id:uuid}/abandonment",
        opt=action("goals.write"),
        sync_to_thread=True,
        status_code=201,
        responses=problems(*NOT_WORKABLE[:2], (422, "reason_required", "a reason is required")),
    )
    def abandon(
        self,
        request: Request[Any, Any, Any],
        tenant: Tenant,
        goal_id: UUID,
        data: Annotated[
            GoalReasonIn,
            body(
                "no longer relevant",
                {"reason": "moved to another district; a new goal replaces it"},
            ),
        ],
    ) -> Response[GoalOut]:
        """Abandon a goal with the reason (also possible after the participant exited); the
        goal then accepts nothing further."""
        return self._do(
            request,
            tenant,
            goal_id,
            data,
            lambda cmd: tenant.app.goals.abandon_goal(cmd, goal_id, data.reason),
        )


ROUTES: list[Any] = [GoalController]
