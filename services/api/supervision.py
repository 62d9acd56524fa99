"""`/v1/grantees/{grantee}/debriefs`, `/support-network`, `/supervision/alerts`.

`ROUTES` also collects the escalation, evaluation and referral controllers.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any
from uuid import UUID

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.di import Provide

from domain import clock
from domain.supervision import (
    Debrief,
    DebriefTopic,
    Severity,
    Wellbeing,
    WellbeingCheck,
)
from projections.supervision_reads import (
    DebriefAlert,
    DebriefRow,
    SupportRow,
    debrief_page,
    support_network,
)
from services.api import views
from services.api.assessments import AssessmentController
from services.api.context import Tenant, action, provide_tenant, tenant_command
from services.api.docs import body, problems
from services.api.escalations import MENTOR_STATE, EscalationController
from services.api.evaluation import EvaluationController
from services.api.outcomes import OutcomeController
from services.api.params import FIRST_UUID, LIMIT_DEFAULT, Limit, LongText, MinPosition, UuidCursor
from services.api.referrals import ReferralController
from services.api.resources import ResourceController

Text = LongText


class CheckIO(msgspec.Struct, forbid_unknown_fields=True):
    mentor_id: UUID
    wellbeing: Wellbeing
    work_life_balance_ok: bool = True
    support_offered: Text = ""


class DebriefIn(msgspec.Struct, forbid_unknown_fields=True):
    mentor_ids: Annotated[list[UUID], msgspec.Meta(max_length=30)]
    held_on: date
    topics: Annotated[list[DebriefTopic], msgspec.Meta(max_length=11)]
    checks: Annotated[list[CheckIO], msgspec.Meta(max_length=30)]
    notes: Text = ""


class DebriefOut(DebriefRow, omit_defaults=True):
    checks: list[CheckIO]
    notes: str
    version: int
    position: int | None = None


class DebriefPage(msgspec.Struct):
    items: list[DebriefRow]
    next_cursor: str | None


class SupportPage(msgspec.Struct):
    items: list[SupportRow]
    next_cursor: str | None


class CrisisAlert(msgspec.Struct):
    escalation_id: UUID
    mentor_id: Annotated[
        UUID | None,
        msgspec.Meta(
            description="the mentor who raised it with the coordinators; null for a caller who"
            " does not read supervision records (a case manager: decision 139)"
        ),
    ]
    severity: Severity
    raised_at: datetime
    hours_open: int
    acknowledged: bool


class AlertsOut(msgspec.Struct):
    overdue_crises: list[CrisisAlert]
    debriefs_due: Annotated[
        list[DebriefAlert],
        msgspec.Meta(
            description="certified mentors with no debrief in 30 days; empty for a caller who"
            " does not read supervision records (decision 139)"
        ),
    ]


def render_debrief(d: Debrief, position: int) -> DebriefOut:
    """The debrief as the API shows it."""
    return DebriefOut(
        id=d.id,
        held_on=d.held_on,
        format=d.format,
        coordinator=d.coordinator,
        mentor_ids=list(d.mentor_ids),
        topics=list(d.topics),
        checks=[
            CheckIO(c.mentor_id, c.wellbeing, c.work_life_balance_ok, c.support_offered)
            for c in d.checks
        ],
        notes=d.notes,
        version=d.version,
        position=position or None,
    )


DEBRIEF_EXAMPLE = {
    "mentor_ids": ["9b1d2c3e-4f5a-4b6c-8d7e-0f1a2b3c4d5e"],
    "held_on": "2026-11-20",
    "topics": ["challenging_situation", "self_care"],
    "checks": [
        {
            "mentor_id": "9b1d2c3e-4f5a-4b6c-8d7e-0f1a2b3c4d5e",
            "wellbeing": "strained",
            "work_life_balance_ok": False,
            "support_offered": "peer support group Thursday",
        }
    ],
    "notes": "mentee's relapse weighed on the mentor",
}


class SupervisionController(Controller):
    path = "/v1/grantees/{grantee:str}"
    tags = ("supervision",)
    dependencies = {"tenant": Provide(provide_tenant, sync_to_thread=False)}

    @post(
        "/debriefs",
        opt=action("supervision.write"),
        sync_to_thread=True,
        status_code=201,
        responses=problems(
            *MENTOR_STATE,
            (
                422,
                "wellbeing_check_required",
                "every debrief checks each mentor's well-being and self-care",
            ),
            (422, "topics_required", "a debrief names at least one topic"),
            (422, "in_future", "the debrief date lies in the future"),
        ),
    )
    def record_debrief(
        self,
        request: Request[Any, Any, Any],
        tenant: Tenant,
        data: Annotated[DebriefIn, body("a debrief with one mentor", DEBRIEF_EXAMPLE)],
    ) -> Response[DebriefOut]:
        """Record a debrief of the coordinator with one mentor, or with several (the peer support
        network): date, topics, and each mentor's well-being and self-care check."""
        checks = [
            WellbeingCheck(
                mentor_id=c.mentor_id,
                wellbeing=c.wellbeing,
                work_life_balance_ok=c.work_life_balance_ok,
                support_offered=c.support_offered,
            )
            for c in data.checks
        ]
        return tenant_command(
            request,
            tenant,
            data,
            lambda cmd: tenant.app.supervision.record_debrief(
                cmd,
                mentor_ids=list(data.mentor_ids),
                held_on=data.held_on,
                topics=list(data.topics),
                checks=checks,
                notes=data.notes,
            ),
            render_debrief,
            status=201,
        )

    @get("/debriefs", opt=action("supervision.read"), sync_to_thread=True, responses=problems())
    def list_debriefs(
        self,
        request: Request[Any, Any, Any],
        tenant: Tenant,
        limit: Limit = LIMIT_DEFAULT,
        cursor: UuidCursor = "",
        mentor_id: UUID | None = None,
        min_position: MinPosition = None,
    ) -> DebriefPage:
        """Debriefs, optionally those a mentor took part in."""
        db = tenant.tenancy.db
        wait = request.app.state.settings.view_wait_max
        t = views.tables(db, tenant.info.schema, "supervision", min_position, wait)
        items, nxt = debrief_page(
            db, t, after=cursor or FIRST_UUID, limit=limit, mentor_id=mentor_id
        )
        return DebriefPage(items, nxt)

    @get(
        "/debriefs/{debrief_id:uuid}",
        opt=action("supervision.read"),
        sync_to_thread=True,
        responses=problems(),
    )
    def get_debrief(self, tenant: Tenant, debrief_id: UUID) -> DebriefOut:
        """A debrief as the log has it."""
        return render_debrief(tenant.app.supervision.debrief(debrief_id), 0)

    @get(
        "/support-network",
        opt=action("supervision.read"),
        sync_to_thread=True,
        responses=problems(),
    )
    def support_network(
        self,
        request: Request[Any, Any, Any],
        tenant: Tenant,
        limit: Limit = LIMIT_DEFAULT,
        cursor: UuidCursor = "",
        due: bool | None = None,
        min_position: MinPosition = None,
    ) -> SupportPage:
        """The mentor support network: every certified or suspended mentor with the date of the
        last debrief and the last well-being read. `debrief_due` marks a certified mentor with
        no debrief in the last 30 days (or none at all); `due=true` lists only those."""
        db = tenant.tenancy.db
        wait = request.app.state.settings.view_wait_max
        t = views.tables(db, tenant.info.schema, "supervision", min_position, wait)
        items, nxt = support_network(
            db,
            t,
            clock.today(tenant.app.zone),
            after=cursor or FIRST_UUID,
            limit=limit,
            due=due,
        )
        return SupportPage(items, nxt)

    @get(
        "/supervision/alerts", opt=action("alerts.read"), sync_to_thread=True, responses=problems()
    )
    def alerts(
        self, request: Request[Any, Any, Any], tenant: Tenant, min_position: MinPosition = None
    ) -> AlertsOut:
        """Supervision alerts, by id only (no personal data): unresolved crisis escalations
        raised more than 24 hours ago, oldest first, and certified mentors with no debrief in 30
        days. As in `GET …/alerts`: the roles that read supervision records (admins,
        coordinators) see every crisis with its mentor and the debriefs due; a case manager
        sees only the crises about the participants whose case manager or coordinator they
        are, with `mentor_id` null, and no debrief due (decisions 129, 139)."""
        db, schema = tenant.tenancy.db, tenant.info.schema
        wait = request.app.state.settings.view_wait_max
        facts = tenant.app.alerts.supervision(
            lambda view: views.tables(db, schema, view, min_position, wait),
            tenant.principal.roles,
            tenant.principal.subject,
        )
        return AlertsOut(
            [
                CrisisAlert(
                    c.escalation_id,
                    c.mentor_id if facts.supervisor else None,
                    c.severity,
                    c.raised_at,
                    c.hours_open(facts.as_of),
                    c.acknowledged_at is not None,
                )
                for c in facts.crises
            ],
            facts.debriefs,
        )


ROUTES: list[Any] = [
    SupervisionController,
    EscalationController,
    EvaluationController,
    AssessmentController,
    OutcomeController,
    ResourceController,
    ReferralController,
]
