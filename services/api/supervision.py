"""`/v1/grantees/{grantee}/debriefs`, `/escalations`, `/support-network`, `/supervision/alerts`.

`ROUTES` also collects the evaluation and referral controllers.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated, Any, Literal
from uuid import UUID

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.di import Provide
from psycopg import sql

from domain import clock
from domain.common import utcnow
from domain.mentors import MentorStatus
from domain.supervision import (
    CRISIS_ALERT_AFTER,
    DEBRIEF_DUE_DAYS,
    Debrief,
    DebriefFormat,
    DebriefTopic,
    Escalation,
    EscalationType,
    Severity,
    Wellbeing,
    WellbeingCheck,
)
from projections import query
from services.api import views
from services.api.context import Tenant, action, provide_tenant, tenant_command
from services.api.docs import body, problems
from services.api.evaluation import EvaluationController
from services.api.params import FIRST_UUID, Limit, LongText, MinPosition, UuidCursor
from services.api.problems import ProblemError
from services.api.referrals import ReferralController
from services.identity.access import MATRIX, Role

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


class DebriefOut(msgspec.Struct, omit_defaults=True):
    id: UUID
    held_on: date
    format: DebriefFormat
    coordinator: str
    mentor_ids: list[UUID]
    topics: list[DebriefTopic]
    checks: list[CheckIO]
    notes: str
    version: int
    position: int | None = None


class DebriefRow(msgspec.Struct):
    id: UUID
    held_on: date
    format: DebriefFormat
    coordinator: str
    mentor_ids: list[UUID]
    topics: list[DebriefTopic]


class DebriefPage(msgspec.Struct):
    items: list[DebriefRow]
    next_cursor: str | None


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


EscalationStatus = Literal["open", "acknowledged", "resolved"]


class EscalationOut(msgspec.Struct):
    id: UUID
    mentor_id: UUID
    participant_id: UUID | None
    type: EscalationType
    severity: Severity
    description: str
    raised_by: str
    raised_at: datetime
    status: EscalationStatus
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    seconds_to_acknowledge: int | None
    resolved_at: datetime | None
    resolution: str | None
    overdue: bool
    version: int | None = None
    position: int | None = None


class EscalationPage(msgspec.Struct):
    items: list[EscalationOut]
    next_cursor: str | None


class SupportRow(msgspec.Struct):
    mentor_id: UUID
    display_name: str
    status: MentorStatus
    coordinator: str | None
    debriefs: int
    last_debrief_on: date | None
    last_wellbeing: Wellbeing | None
    days_since_debrief: int | None
    debrief_due: bool
    open_escalations: int


class SupportPage(msgspec.Struct):
    items: list[SupportRow]
    next_cursor: str | None


class CrisisAlert(msgspec.Struct):
    escalation_id: UUID
    mentor_id: UUID
    severity: Severity
    raised_at: datetime
    hours_open: int
    acknowledged: bool


class DebriefAlert(msgspec.Struct):
    mentor_id: UUID
    last_debrief_on: date | None


class AlertsOut(msgspec.Struct):
    overdue_crises: list[CrisisAlert]
    debriefs_due: list[DebriefAlert]


def _status(acknowledged_at: datetime | None, resolved_at: datetime | None) -> EscalationStatus:
    if resolved_at is not None:
        return "resolved"
    return "open" if acknowledged_at is None else "acknowledged"


def render_debrief(d: Debrief, position: int) -> DebriefOut:
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


def render_escalation(x: Escalation, position: int) -> EscalationOut:
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
        status=_status(x.acknowledged_at, x.resolved_at),
        acknowledged_at=x.acknowledged_at,
        acknowledged_by=x.acknowledged_by,
        seconds_to_acknowledge=None if ttack is None else int(ttack.total_seconds()),
        resolved_at=x.resolved_at,
        resolution=x.resolution,
        overdue=x.is_overdue(utcnow()),
        version=x.version,
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
        limit: Limit = 100,
        cursor: UuidCursor = "",
        mentor_id: UUID | None = None,
        min_position: MinPosition = None,
    ) -> DebriefPage:
        """Debriefs, optionally those a mentor took part in."""
        db = tenant.tenancy.db
        t = views.tables(
            db,
            tenant.info.schema,
            "supervision",
            min_position,
            request.app.state.settings.view_wait_max,
        )
        extra, params = (sql.SQL("%s = ANY(mentor_ids)"), (mentor_id,)) if mentor_id else (None, ())
        rows, nxt = query.page(
            db,
            t,
            "debriefs",
            "debrief_id, held_on, format, coordinator, mentor_ids, topics",
            "debrief_id",
            after=cursor or FIRST_UUID,
            limit=limit,
            cast_key="uuid",
            extra=extra,
            extra_params=params,
        )
        return DebriefPage(
            [
                DebriefRow(
                    r[0],
                    r[1],
                    DebriefFormat(r[2]),
                    r[3],
                    list(r[4]),
                    [DebriefTopic(x) for x in r[5]],
                )
                for r in rows
            ],
            nxt,
        )

    @get(
        "/debriefs/{debrief_id:uuid}",
        opt=action("supervision.read"),
        sync_to_thread=True,
        responses=problems(),
    )
    def get_debrief(self, tenant: Tenant, debrief_id: UUID) -> DebriefOut:
        """A debrief as the log has it."""
        return render_debrief(tenant.app.supervision.debrief(debrief_id), 0)

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
            mentor = tenant.app.mentors.mentor(data.mentor_id)
            if mentor.subject != tenant.principal.subject:
                raise ProblemError(404, "not_found", "mentor not found")
            if data.participant_id is not None and (
                data.participant_id not in tenant.app.supervision.mentees_of(mentor)
            ):
                raise ProblemError(404, "not_found", "participant not found")
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
        limit: Limit = 100,
        cursor: UuidCursor = "",
        status: EscalationStatus | None = None,
        overdue: bool | None = None,
        type: EscalationType | None = None,
        severity: Severity | None = None,
        mentor_id: UUID | None = None,
        min_position: MinPosition = None,
    ) -> EscalationPage:
        """Escalations with their time to acknowledge. `status=open` is every unresolved one
        (`acknowledged` narrows to those acknowledged, not yet resolved); `overdue=true` lists
        unresolved crises raised more than 24 hours ago, as of the time of the request."""
        db = tenant.tenancy.db
        t = views.tables(
            db,
            tenant.info.schema,
            "supervision",
            min_position,
            request.app.state.settings.view_wait_max,
        )
        now = utcnow()
        clauses: list[sql.Composable] = [sql.SQL("TRUE")]
        params: list[Any] = []
        if status is not None:
            clauses.append(
                sql.SQL(
                    {
                        "open": "resolved_at IS NULL",
                        "acknowledged": "resolved_at IS NULL AND acknowledged_at IS NOT NULL",
                        "resolved": "resolved_at IS NOT NULL",
                    }[status]
                )
            )
        if overdue is not None:
            clauses.append(
                sql.SQL(
                    "(type = 'crisis' AND resolved_at IS NULL AND raised_at < %s) IS "
                    + ("TRUE" if overdue else "FALSE")
                )
            )
            params.append(now - CRISIS_ALERT_AFTER)
        where: list[tuple[str, Any]] = [
            (c, v.value) for c, v in (("type", type), ("severity", severity)) if v
        ]
        where += [("mentor_id", mentor_id)] if mentor_id else []
        rows, nxt = query.page(
            db,
            t,
            "escalations",
            "escalation_id, mentor_id, participant_id, type, severity, description, raised_by,"
            " raised_at, acknowledged_at, acknowledged_by, seconds_to_acknowledge, resolved_at,"
            " resolution",
            "escalation_id",
            after=cursor or FIRST_UUID,
            limit=limit,
            cast_key="uuid",
            where=where,
            extra=sql.SQL(" AND ").join(clauses),
            extra_params=tuple(params),
        )
        return EscalationPage(
            [
                EscalationOut(
                    id=r[0],
                    mentor_id=r[1],
                    participant_id=r[2],
                    type=EscalationType(r[3]),
                    severity=Severity(r[4]),
                    description=r[5],
                    raised_by=r[6],
                    raised_at=r[7],
                    status=_status(r[8], r[11]),
                    acknowledged_at=r[8],
                    acknowledged_by=r[9],
                    seconds_to_acknowledge=r[10],
                    resolved_at=r[11],
                    resolution=r[12],
                    overdue=r[3] == "crisis" and r[11] is None and now - r[7] > CRISIS_ALERT_AFTER,
                )
                for r in rows
            ],
            nxt,
        )

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
        limit: Limit = 100,
        cursor: UuidCursor = "",
        due: bool | None = None,
        min_position: MinPosition = None,
    ) -> SupportPage:
        """The mentor support network: every certified or suspended mentor with the date of the
        last debrief and the last well-being read. `debrief_due` marks a certified mentor with
        no debrief in the last 30 days (or none at all); `due=true` lists only those."""
        db = tenant.tenancy.db
        t = views.tables(
            db,
            tenant.info.schema,
            "supervision",
            min_position,
            request.app.state.settings.view_wait_max,
        )
        today = clock.today(tenant.app.zone)
        cutoff = today - timedelta(days=DEBRIEF_DUE_DAYS)
        clauses = [sql.SQL("status IN ('certified', 'suspended')")]
        params: list[Any] = []
        if due is not None:
            clauses.append(
                sql.SQL(
                    "(status = 'certified' AND (last_debrief_on IS NULL OR last_debrief_on < %s)) IS "
                    + ("TRUE" if due else "FALSE")
                )
            )
            params.append(cutoff)
        rows, nxt = query.page(
            db,
            t,
            "sup_mentors",
            "mentor_id, display_name, status, coordinator, debriefs, last_debrief_on,"
            " last_wellbeing, open_escalations",
            "mentor_id",
            after=cursor or FIRST_UUID,
            limit=limit,
            cast_key="uuid",
            extra=sql.SQL(" AND ").join(clauses),
            extra_params=tuple(params),
        )
        return SupportPage(
            [
                SupportRow(
                    mentor_id=r[0],
                    display_name=r[1],
                    status=MentorStatus(r[2]),
                    coordinator=r[3],
                    debriefs=r[4],
                    last_debrief_on=r[5],
                    last_wellbeing=Wellbeing(r[6]) if r[6] else None,
                    days_since_debrief=None if r[5] is None else (today - r[5]).days,
                    debrief_due=r[2] == "certified" and (r[5] is None or r[5] < cutoff),
                    open_escalations=r[7],
                )
                for r in rows
            ],
            nxt,
        )

    @get(
        "/supervision/alerts", opt=action("alerts.read"), sync_to_thread=True, responses=problems()
    )
    def alerts(
        self, request: Request[Any, Any, Any], tenant: Tenant, min_position: MinPosition = None
    ) -> AlertsOut:
        """Supervision alerts, by id only (no personal data): unresolved crisis escalations
        raised more than 24 hours ago, and certified mentors with no debrief in 30 days."""
        db = tenant.tenancy.db
        t = views.tables(
            db,
            tenant.info.schema,
            "supervision",
            min_position,
            request.app.state.settings.view_wait_max,
        )
        now = utcnow()
        crises = db.fetchall(
            sql.SQL(
                "SELECT escalation_id, mentor_id, severity, raised_at, acknowledged_at FROM {}"
                " WHERE type = 'crisis' AND resolved_at IS NULL AND raised_at < %s"
                " ORDER BY raised_at, escalation_id"
            ).format(t["escalations"]),
            (now - CRISIS_ALERT_AFTER,),
        )
        due = db.fetchall(
            sql.SQL(
                "SELECT mentor_id, last_debrief_on FROM {} WHERE status = 'certified' AND"
                " (last_debrief_on IS NULL OR last_debrief_on < %s)"
                " ORDER BY last_debrief_on NULLS FIRST, mentor_id"
            ).format(t["sup_mentors"]),
            (clock.today(tenant.app.zone) - timedelta(days=DEBRIEF_DUE_DAYS),),
        )
        return AlertsOut(
            [
                CrisisAlert(
                    r[0],
                    r[1],
                    Severity(r[2]),
                    r[3],
                    int((now - r[3]).total_seconds() // 3600),
                    r[4] is not None,
                )
                for r in crises
            ],
            [DebriefAlert(r[0], r[1]) for r in due],
        )


ROUTES: list[Any] = [SupervisionController, EvaluationController, ReferralController]
