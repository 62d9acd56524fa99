"""What the goal endpoints accept and answer, and what they share: the goal as the API shows
it (`GoalOut`, also in the audit's as-of reads), the documented problems, and the peer
mentor's scope over a goal."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Annotated, Any
from uuid import UUID

import msgspec
from litestar import Request, Response

from domain import clock
from domain.goals import (
    Goal,
    GoalDomain,
    GoalStatus,
    Horizon,
    ProgressUpdate,
    Revision,
    Step,
)
from services.api.context import Tenant, check_own_mentee, tenant_command
from services.api.problems import ProblemError
from services.api.text import FreeText

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


def own_goal(tenant: Tenant, goal_id: UUID, action_name: str) -> Goal:
    """The goal, if the caller may act on its participant (peer mentors: own mentees)."""
    goal = tenant.app.goals.goal(goal_id)
    try:
        check_own_mentee(
            tenant, tenant.app.participants.participant(goal.participant_id), action_name
        )
    except ProblemError:
        raise ProblemError(404, "not_found", "goal not found") from None
    return goal


def goal_command(
    request: Request[Any, Any, Any],
    tenant: Tenant,
    goal_id: UUID | None,
    data: Any,
    execute: Any,
) -> Response[GoalOut]:
    """Run a goal command (on a goal the caller may change, if it names one): 201 and the
    goal as it now stands."""
    if goal_id is not None:
        own_goal(tenant, goal_id, "goals.write")
    return tenant_command(request, tenant, data, execute, renderer(tenant), status=201)
