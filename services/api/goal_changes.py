"""`/v1/grantees/{grantee}/goals/{id}/…`: work on one goal (steps, progress, revisions) and
its close (achievement, abandonment)."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from litestar import Controller, Request, Response, post
from litestar.di import Provide

from services.api.context import Tenant, action, provide_tenant
from services.api.docs import body, problems
from services.api.goal_schemas import (
    NOT_WORKABLE,
    STEP_RULES,
    TERMS,
    GoalNoteIn,
    GoalOut,
    GoalReasonIn,
    ProgressIn,
    RevisionIn,
    StepCompletionIn,
    StepIn,
    goal_command,
)


class GoalChangeController(Controller):
    path = "/v1/grantees/{grantee:str}/goals"
    tags = ("goals",)
    dependencies = {"tenant": Provide(provide_tenant, sync_to_thread=False)}

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
        return goal_command(
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
        return goal_command(
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
        return goal_command(
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
        return goal_command(
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
        return goal_command(
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
        return goal_command(
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
        return goal_command(
            request,
            tenant,
            goal_id,
            data,
            lambda cmd: tenant.app.goals.abandon_goal(cmd, goal_id, data.reason),
        )
