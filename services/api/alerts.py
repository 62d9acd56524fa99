"""`/v1/grantees/{grantee}/alerts`: everything that needs a coordinator's attention, in one list.

Missed cadence, overdue goals, crisis escalations unresolved after 24 hours, clearances that
expire within 30 days, mentors without a debrief in 30 days, and events a view could not take as
they were (projection faults, docs/decisions.md 30). Alerts name records by id and
carry no personal data; each is computed when read from the views (which stay a pure function of
the log), so "overdue" and "expiring" always mean as of now.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal
from uuid import UUID

import msgspec
from litestar import Request, get
from litestar.di import Provide
from psycopg import sql

from domain import clock
from domain.common import utcnow
from domain.webhooks import DisableReason
from services.api import views
from services.api.context import Tenant, action, provide_tenant
from services.api.docs import problems
from services.api.meetings import find_cadence_alerts
from services.api.params import MinPosition
from services.identity.access import allowed
from services.projector.faults import live as live_faults
from services.webhooks.queries import disabled_endpoints

CRISIS_AFTER = timedelta(hours=24)
CLEARANCE_WARNING_DAYS = 30
DEBRIEF_DUE_DAYS = 30

Kind = Literal[
    "missed_cadence",
    "overdue_goal",
    "open_crisis",
    "clearance_expiring",
    "debrief_due",
    "webhook_endpoint_disabled",
    "projection_fault",
]


class Alert(msgspec.Struct):
    kind: Kind
    subject: Literal["pairing", "goal", "escalation", "mentor", "webhook_endpoint", "record"]
    subject_id: UUID
    since: datetime | None
    detail: str
    mentor_id: UUID | None = None
    participant_id: UUID | None = None


class AlertList(msgspec.Struct):
    generated_at: datetime
    counts: dict[str, int]
    items: list[Alert]


def _endpoint_alerts(tenant: Tenant) -> list[Alert]:
    """Endpoints the dispatcher disabled (410 Gone, failing for 5 days), still disabled."""
    return [
        Alert(
            "webhook_endpoint_disabled",
            "webhook_endpoint",
            e.endpoint_id,
            e.since,
            f"the webhook endpoint of {e.facility_code} was disabled: "
            + (
                "it answered 410 Gone"
                if e.reason is DisableReason.GONE
                else "deliveries failed for 5 days"
            ),
        )
        for e in disabled_endpoints(tenant.tenancy.db, tenant.info.schema)
    ]


def _overdue_goals(tenant: Tenant, min_position: int | None, wait: float) -> list[Alert]:
    db = tenant.tenancy.db
    t = views.tables(db, tenant.info.schema, "goals", min_position, wait)
    today = clock.today(tenant.app.zone)
    rows = db.fetchall(
        sql.SQL(
            "SELECT goal_id, participant_id, target_date FROM {} WHERE status = 'active' AND target_date < %s"
            " ORDER BY target_date, goal_id"
        ).format(t["goals"]),
        (today,),
    )
    return [
        Alert(
            "overdue_goal",
            "goal",
            r[0],
            datetime.combine(r[2], datetime.min.time(), tzinfo=utcnow().tzinfo),
            f"target date {r[2]} has passed",
            participant_id=r[1],
        )
        for r in rows
    ]


def _supervision(tenant: Tenant, min_position: int | None, wait: float) -> list[Alert]:
    db = tenant.tenancy.db
    t = views.tables(db, tenant.info.schema, "supervision", min_position, wait)
    now = utcnow()
    crises = db.fetchall(
        sql.SQL(
            "SELECT escalation_id, mentor_id, participant_id, severity, raised_at, acknowledged_at FROM {}"
            " WHERE type = 'crisis' AND resolved_at IS NULL AND raised_at < %s ORDER BY raised_at"
        ).format(t["escalations"]),
        (now - CRISIS_AFTER,),
    )
    due = db.fetchall(
        sql.SQL(
            "SELECT mentor_id, last_debrief_on FROM {} WHERE status = 'certified'"
            " AND (last_debrief_on IS NULL OR last_debrief_on < %s) ORDER BY last_debrief_on NULLS FIRST, mentor_id"
        ).format(t["sup_mentors"]),
        (clock.today(tenant.app.zone) - timedelta(days=DEBRIEF_DUE_DAYS),),
    )
    alerts = [
        Alert(
            "open_crisis",
            "escalation",
            r[0],
            r[4],
            f"{r[3]} crisis unresolved for {int((now - r[4]).total_seconds() // 3600)} h"
            + ("" if r[5] else ", not acknowledged"),
            mentor_id=r[1],
            participant_id=r[2],
        )
        for r in crises
    ]
    alerts += [
        Alert(
            "debrief_due",
            "mentor",
            r[0],
            None,
            "no debrief yet" if r[1] is None else f"last debrief on {r[1]}",
            mentor_id=r[0],
        )
        for r in due
    ]
    return alerts


def _clearances(tenant: Tenant, min_position: int | None, wait: float) -> list[Alert]:
    db = tenant.tenancy.db
    t = views.tables(db, tenant.info.schema, "mentor_roster", min_position, wait)
    today = clock.today(tenant.app.zone)
    rows = db.fetchall(
        sql.SQL(
            "SELECT c.mentor_id, c.facility_code, c.expires_on FROM {c} c JOIN {m} m USING (mentor_id)"
            " WHERE m.status = 'certified' AND c.expires_on >= %s AND c.expires_on <= %s"
            " ORDER BY c.expires_on, c.mentor_id"
        ).format(c=t["mentor_clearances"], m=t["mentors"]),
        (today, today + timedelta(days=CLEARANCE_WARNING_DAYS)),
    )
    return [
        Alert(
            "clearance_expiring",
            "mentor",
            r[0],
            None,
            f"clearance for {r[1]} expires on {r[2]}",
            mentor_id=r[0],
        )
        for r in rows
    ]


def _projection_faults(tenant: Tenant) -> list[Alert]:
    """One per event a served view could not take as it was: the record is the event's
    aggregate (a participant, a mentor, a facility...), `since` when the event was recorded."""
    return [
        Alert(
            "projection_fault",
            "record",
            f.originator_id,
            f.recorded_at,
            f"view {f.view}, log position {f.position} ({f.topic}): {f.fault}, {f.detail}",
        )
        for f in live_faults(tenant.tenancy.db, tenant.info.schema)
    ]


@get(
    "/v1/grantees/{grantee:str}/alerts",
    opt=action("alerts.read"),
    sync_to_thread=True,
    tags=["alerts"],
    dependencies={"tenant": Provide(provide_tenant, sync_to_thread=False)},
    responses=problems(),
)
def alerts(
    request: Request[Any, Any, Any],
    tenant: Tenant,
    kind: Kind | None = None,
    min_position: MinPosition = None,
) -> AlertList:
    """The grantee's alerts: pairings that missed their weekly cadence, overdue SMART goals,
    crisis escalations open for more than 24 hours, volunteer clearances expiring within 30 days
    and mentors without a debrief in 30 days (the last two kinds of supervision only for roles
    that read supervision records); for the grantee's admins and coordinators also disabled
    webhook endpoints and projection faults (an event a view could not take as it was: its
    text made storable, or its write refused and skipped). Filter with `kind`."""
    wait = request.app.state.settings.view_wait_max
    _, cadence = find_cadence_alerts(tenant, min_position, wait)
    items = [
        Alert(
            "missed_cadence", "pairing", a.pairing_id, a.opened_at, a.detail, mentor_id=a.mentor_id
        )
        for a in cadence
    ]
    items += _overdue_goals(tenant, min_position, wait)
    if allowed("supervision.read", tenant.principal.roles):
        # Escalations and debriefs are the coordinator's side: a case manager sees the rest.
        items += _supervision(tenant, min_position, wait)
    items += _clearances(tenant, min_position, wait)
    if allowed("webhooks.read", tenant.principal.roles):
        # Endpoints the dispatcher disabled (410 Gone, 5 days failing) until re-enabled.
        items += _endpoint_alerts(tenant)
        # The same operators see the events a view could not take as they were.
        items += _projection_faults(tenant)
    counts: dict[str, int] = {}
    for item in items:
        counts[item.kind] = counts.get(item.kind, 0) + 1
    if kind is not None:
        items = [i for i in items if i.kind == kind]
    return AlertList(utcnow(), counts, items)


ROUTES: list[Any] = [alerts]
