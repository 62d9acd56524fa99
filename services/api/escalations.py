"""`/v1/grantees/{grantee}/escalations`: a mentor seeks the coordinator's guidance; the
coordinator acknowledges and resolves."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.di import Provide

from domain.common import utcnow
from domain.supervision import (
    Escalation,
    EscalationStatus,
    EscalationType,
    Severity,
    escalation_status,
)
from projections.supervision_reads import EscalationOut, escalation_page
from services.api import views
from services.api.context import Tenant, action, provide_tenant, tenant_command
from services.api.docs import body, problems
from services.api.params import LIMIT_DEFAULT, Limit, LongText, MinPosition, SortCursor
from services.identity.access import MATRIX, Role

Text = LongText


class EscalationIn(msgspec.Struct, forbid_unknown_fields=True):
    mentor_id: UUID
    type: EscalationType
    severity: Severity
    description: Text
    participant_id: UUID | None = None
    raised_at: datetime | None = None


class AcknowledgementIn(msgspec.Struct, forbid_unknown_fields=True):
    acknowledged_at: datetime | None = None
    note: Text = ""


class ResolutionIn(msgspec.Struct, forbid_unknown_fields=True):
    resolution: Text
    resolved_at: datetime | None = None


class EscalationPage(msgspec.Struct):
    items: list[EscalationOut]
    next_cursor: str | None


def render_escalation(x: Escalation, position: int) -> EscalationOut:
    """The escalation as the API shows it; `overdue` as of now."""
    ttack = x.time_to_acknowledge
    return EscalationOut(
        id=x.id,
        mentor_id=x.mentor_id,
        participant_id=x.participant_id,
        type=x.type,
        severity=x.severity,
        description=x.description,
        raised_by=x.raised_by,
        raised_at=x.raised_at,
        status=escalation_status(x.acknowledged_at, x.resolved_at),
        acknowledged_at=x.acknowledged_at,
        acknowledged_by=x.acknowledged_by,
        seconds_to_acknowledge=None if ttack is None else int(ttack.total_seconds()),
        resolved_at=x.resolved_at,
        resolution=x.resolution,
        overdue=x.is_overdue(utcnow()),
        version=x.version,
        position=position or None,
    )


ESCALATION_EXAMPLE = {
    "mentor_id": "9b1d2c3e-4f5a-4b6c-8d7e-0f1a2b3c4d5e",
    "type": "crisis",
    "severity": "high",
    "participant_id": "3f2c1a9e-8d7b-5c6a-9e0f-1a2b3c4d5e6f",
    "description": "mentee lost housing at the RRC and talks of giving up",
}
MENTOR_STATE = [
    (422, "mentor_retired", "this mentor has retired"),
    (422, "mentor_not_certified", "the mentor is still an applicant, not yet certified"),
]


def raising_as_peer_mentor(tenant: Tenant) -> bool:
    """Whether the caller raises only as a peer mentor (then only for themselves)."""
    granting = MATRIX["escalations.raise"].roles & tenant.principal.roles
    return granting == {Role.PEER_MENTOR}


class EscalationController(Controller):
    path = "/v1/grantees/{grantee:str}"
    tags = ("supervision",)
    dependencies = {"tenant": Provide(provide_tenant, sync_to_thread=False)}

    @post(
        "/escalations",
        opt=action("escalations.raise"),
        sync_to_thread=True,
        status_code=201,
        responses=problems(
            *MENTOR_STATE,
            (404, "not_found", "mentor not found"),
            (422, "not_mentors_mentee", "the participant is not a current mentee of this mentor"),
            (422, "description_required", "an escalation describes the situation"),
        ),
    )
    def raise_escalation(
        self,
        request: Request[Any, Any, Any],
        tenant: Tenant,
        data: Annotated[EscalationIn, body("a crisis about a mentee", ESCALATION_EXAMPLE)],
    ) -> Response[EscalationOut]:
        """Raise an escalation: a mentor seeks the coordinator's guidance on a boundary concern,
        crisis, safety issue, relapse risk or conflict. A peer mentor raises only for themselves
        (and about their own mentees); the caller is recorded as who raised it."""
        if raising_as_peer_mentor(tenant):
            tenant.app.supervision.check_raised_by_own_mentor(
                tenant.principal.subject, data.mentor_id, data.participant_id
            )
        return tenant_command(
            request,
            tenant,
            data,
            lambda cmd: tenant.app.supervision.raise_escalation(
                cmd,
                mentor_id=data.mentor_id,
                participant_id=data.participant_id,
                type=data.type,
                severity=data.severity,
                description=data.description,
                raised_at=data.raised_at,
            ),
            render_escalation,
            status=201,
        )

    @get("/escalations", opt=action("supervision.read"), sync_to_thread=True, responses=problems())
    def list_escalations(
        self,
        request: Request[Any, Any, Any],
        tenant: Tenant,
        limit: Limit = LIMIT_DEFAULT,
        cursor: SortCursor = "",
        status: EscalationStatus | None = None,
        overdue: bool | None = None,
        type: EscalationType | None = None,
        severity: Severity | None = None,
        mentor_id: UUID | None = None,
        min_position: MinPosition = None,
    ) -> EscalationPage:
        """Escalations with their time to acknowledge, newest raised first (among those raised
        at one instant, by id, greatest first); the cursor carries the last row's time and id,
        so the next page continues exactly after it (decision 139). `status=open` is every
        unresolved one (`acknowledged` narrows to those acknowledged, not yet resolved);
        `overdue=true` lists unresolved crises raised more than 24 hours ago, as of the time of
        the request."""
        db = tenant.tenancy.db
        wait = request.app.state.settings.view_wait_max
        t = views.tables(db, tenant.info.schema, "supervision", min_position, wait)
        items, nxt = escalation_page(
            db,
            t,
            utcnow(),
            after=cursor,
            limit=limit,
            status=status,
            overdue=overdue,
            type=type,
            severity=severity,
            mentor_id=mentor_id,
        )
        return EscalationPage(items, nxt)

    @get(
        "/escalations/{escalation_id:uuid}",
        opt=action("supervision.read"),
        sync_to_thread=True,
        responses=problems(),
    )
    def get_escalation(self, tenant: Tenant, escalation_id: UUID) -> EscalationOut:
        """An escalation as the log has it now."""
        return render_escalation(tenant.app.supervision.escalation(escalation_id), 0)

    @post(
        "/escalations/{escalation_id:uuid}/acknowledgement",
        opt=action("supervision.write"),
        sync_to_thread=True,
        status_code=201,
        responses=problems(
            (422, "already_acknowledged", "the escalation is already acknowledged"),
            (422, "escalation_resolved", "the escalation is resolved"),
            (422, "before_raised", "the acknowledgement time is before the escalation was raised"),
        ),
    )
    def acknowledge(
        self,
        request: Request[Any, Any, Any],
        tenant: Tenant,
        escalation_id: UUID,
        data: AcknowledgementIn,
    ) -> Response[EscalationOut]:
        """The coordinator acknowledges the escalation (now, or at `acknowledged_at`); the time
        to acknowledge is kept."""
        return tenant_command(
            request,
            tenant,
            data,
            lambda cmd: tenant.app.supervision.acknowledge_escalation(
                cmd, escalation_id, at=data.acknowledged_at, note=data.note
            ),
            render_escalation,
            status=201,
        )

    @post(
        "/escalations/{escalation_id:uuid}/resolution",
        opt=action("supervision.write"),
        sync_to_thread=True,
        status_code=201,
        responses=problems(
            (422, "not_acknowledged", "acknowledge the escalation before resolving it"),
            (422, "resolution_required", "a resolution says how the situation was resolved"),
            (422, "escalation_resolved", "the escalation is resolved"),
        ),
    )
    def resolve(
        self,
        request: Request[Any, Any, Any],
        tenant: Tenant,
        escalation_id: UUID,
        data: ResolutionIn,
    ) -> Response[EscalationOut]:
        """The coordinator resolves an acknowledged escalation, saying how."""
        return tenant_command(
            request,
            tenant,
            data,
            lambda cmd: tenant.app.supervision.resolve_escalation(
                cmd, escalation_id, resolution=data.resolution, at=data.resolved_at
            ),
            render_escalation,
            status=201,
        )
