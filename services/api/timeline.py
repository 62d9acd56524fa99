"""`/v1/grantees/{grantee}/participants/{id}/timeline`: the case file in time order, redacted by
role."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

import msgspec
from litestar import Request, get
from litestar.di import Provide
from litestar.params import Parameter

from projections.timeline import TimelineEntry, timeline_page
from services.api import views
from services.api.context import Tenant, action, check_own_mentee, provide_tenant
from services.api.docs import problems
from services.api.params import LIMIT_DEFAULT, Limit, MinPosition
from services.identity.access import allowed

# Which rows a caller sees: case rows with the right to read participants, feedback with the
# right to read feedback, escalations with the right to read supervision records.
AUDIENCE_ACTION = {
    "case": "participants.read",
    "evaluation": "feedback.read",
    "supervision": "supervision.read",
}


class TimelinePage(msgspec.Struct):
    participant_id: UUID
    items: list[TimelineEntry]
    next_cursor: str | None


@get(
    "/v1/grantees/{grantee:str}/participants/{participant_id:uuid}/timeline",
    opt=action("participants.read"),
    sync_to_thread=True,
    tags=["participants"],
    responses=problems(),
    dependencies={"tenant": Provide(provide_tenant, sync_to_thread=False)},
)
def timeline(
    request: Request[Any, Any, Any],
    tenant: Tenant,
    participant_id: UUID,
    limit: Limit = LIMIT_DEFAULT,
    cursor: Annotated[
        str, Parameter(max_length=200, description="`next_cursor` of the previous page")
    ] = "",
    min_position: MinPosition = None,
) -> TimelinePage:
    """A participant's timeline: enrolment, stage moves, pairings, meetings, case-management
    contacts, goals, referrals, outcomes, feedback and escalations, in the order they happened:
    by `occurred_at` (the time in the world, so a fact recorded late takes its place), then by
    log `position`. Pages follow `next_cursor` in the same order. Confidential notes and
    escalation descriptions never appear; feedback and escalations only for roles that may
    read them."""
    participant = tenant.app.participants.participant(participant_id)
    check_own_mentee(tenant, participant, "participants.read")
    audiences = [a for a, act in AUDIENCE_ACTION.items() if allowed(act, tenant.principal.roles)]
    db = tenant.tenancy.db
    t = views.tables(
        db, tenant.info.schema, "timeline", min_position, request.app.state.settings.view_wait_max
    )
    entries, nxt = timeline_page(db, t, participant_id, audiences, after=cursor, limit=limit)
    return TimelinePage(participant_id, entries, nxt)


ROUTES: list[Any] = [timeline]
