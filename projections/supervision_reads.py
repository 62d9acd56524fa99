"""Reads of the supervision view (projections/supervision.py): debriefs, escalations, the
mentor support network, and the supervision alerts (overdue crises, debriefs due).

Whatever depends on today or now (24 hours, 30 days) is computed here, when read, by the
domain's rules (`crisis_overdue`, `debrief_due`); the conditions below say the same on the
view's columns, for filters.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from uuid import UUID

import msgspec
from psycopg import sql

from domain.mentors import MentorStatus
from domain.supervision import (
    CRISIS_ALERT_AFTER,
    DebriefFormat,
    DebriefTopic,
    EscalationStatus,
    EscalationType,
    Severity,
    Wellbeing,
    crisis_overdue,
    debrief_cutoff,
    debrief_due,
    escalation_status,
)
from projections.base import Tables
from projections.query import Column, Keyset, Reader, keyset_page, page
from projections.rows import select, typed


class DebriefRow(msgspec.Struct):
    id: UUID
    held_on: date
    format: DebriefFormat
    coordinator: str
    mentor_ids: list[UUID]
    topics: list[DebriefTopic]


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


class OverdueCrisis(msgspec.Struct):
    escalation_id: UUID
    mentor_id: UUID
    participant_id: UUID | None
    severity: Severity
    raised_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None

    def hours_open(self, now: datetime) -> int:
        """Whole hours since the crisis was raised, at `now`."""
        return int((now - self.raised_at).total_seconds() // 3600)


class DebriefAlert(msgspec.Struct):
    mentor_id: UUID
    last_debrief_on: date | None


DEBRIEF = select(DebriefRow, id="debrief_id")
ESCALATION = select(
    EscalationOut, skip=("status", "overdue", "version", "position"), id="escalation_id"
)
SUPPORT = select(SupportRow, skip=("days_since_debrief", "debrief_due"))
OVERDUE_CRISIS = select(OverdueCrisis)
DEBRIEF_ALERT = select(DebriefAlert)
# The rules of `crisis_overdue` and `debrief_due` as conditions on the view's columns; their
# parameter is the cutoff (`now - CRISIS_ALERT_AFTER`, `debrief_cutoff(today)`).
CRISIS_OVERDUE = "type = 'crisis' AND resolved_at IS NULL AND raised_at < %s"
DEBRIEF_DUE = "status = 'certified' AND (last_debrief_on IS NULL OR last_debrief_on < %s)"
# The escalations list's order: newest raised first, the greater id first among those raised
# at one instant, so the order is total and a page's cursor (the last row's raised_at and id)
# names exactly where the next begins, whatever was raised meanwhile (decision 139).
NEWEST_RAISED = Keyset(
    (Column("raised_at", "timestamptz"), Column("escalation_id", "uuid")), descending=True
)
ESCALATION_STATUS = {
    "open": "resolved_at IS NULL",
    "acknowledged": "resolved_at IS NULL AND acknowledged_at IS NOT NULL",
    "resolved": "resolved_at IS NOT NULL",
}


def _is(condition: str, wanted: bool) -> sql.Composable:
    return sql.SQL(f"({condition}) IS {'TRUE' if wanted else 'FALSE'}")


def debrief_page(
    db: Reader, t: Tables, *, after: str, limit: int, mentor_id: UUID | None = None
) -> tuple[list[DebriefRow], str | None]:
    """Debriefs in id order, optionally those `mentor_id` took part in."""
    extra, params = (sql.SQL("%s = ANY(mentor_ids)"), (mentor_id,)) if mentor_id else (None, ())
    rows, nxt = page(
        db,
        t,
        "debriefs",
        DEBRIEF.sql,
        "debrief_id",
        after=after,
        limit=limit,
        cast_key="uuid",
        extra=extra,
        extra_params=params,
    )
    return typed(DebriefRow, DEBRIEF, rows), nxt


def escalation_page(
    db: Reader,
    t: Tables,
    now: datetime,
    *,
    after: str,
    limit: int,
    status: EscalationStatus | None = None,
    overdue: bool | None = None,
    type: EscalationType | None = None,
    severity: Severity | None = None,
    mentor_id: UUID | None = None,
) -> tuple[list[EscalationOut], str | None]:
    """Escalations newest raised first (`NEWEST_RAISED`) after the cursor `after` (empty:
    from the newest), filtered; `overdue` as of `now`. `status="open"` is every unresolved
    one."""
    clauses: list[sql.Composable] = [sql.SQL("TRUE")]
    params: list[Any] = []
    if status is not None:
        clauses.append(sql.SQL(ESCALATION_STATUS[status]))
    if overdue is not None:
        clauses.append(_is(CRISIS_OVERDUE, overdue))
        params.append(now - CRISIS_ALERT_AFTER)
    where: list[tuple[str, Any]] = [
        (c, v.value) for c, v in (("type", type), ("severity", severity)) if v
    ]
    where += [("mentor_id", mentor_id)] if mentor_id else []
    rows, nxt = keyset_page(
        db,
        t,
        "escalations",
        "raised_at, escalation_id, " + ESCALATION.sql,
        NEWEST_RAISED,
        after=after,
        limit=limit,
        where=where,
        extra=sql.SQL(" AND ").join(clauses),
        extra_params=tuple(params),
    )
    rows = [r[2:] for r in rows]
    derived = {
        "status": lambda r: escalation_status(r["acknowledged_at"], r["resolved_at"]),
        "overdue": lambda r: crisis_overdue(
            EscalationType(r["type"]), r["raised_at"], r["resolved_at"], now
        ),
    }
    return typed(EscalationOut, ESCALATION, rows, derived), nxt


def support_network(
    db: Reader, t: Tables, today: date, *, after: str, limit: int, due: bool | None = None
) -> tuple[list[SupportRow], str | None]:
    """Certified and suspended mentors in id order with their last debrief; `due` (and
    `debrief_due`) as of `today`."""
    clauses: list[sql.Composable] = [sql.SQL("status IN ('certified', 'suspended')")]
    params: list[Any] = []
    if due is not None:
        clauses.append(_is(DEBRIEF_DUE, due))
        params.append(debrief_cutoff(today))
    rows, nxt = page(
        db,
        t,
        "sup_mentors",
        SUPPORT.sql,
        "mentor_id",
        after=after,
        limit=limit,
        cast_key="uuid",
        extra=sql.SQL(" AND ").join(clauses),
        extra_params=tuple(params),
    )
    derived = {
        "days_since_debrief": lambda r: (
            None if r["last_debrief_on"] is None else (today - r["last_debrief_on"]).days
        ),
        "debrief_due": lambda r: debrief_due(
            MentorStatus(r["status"]), r["last_debrief_on"], today
        ),
    }
    return typed(SupportRow, SUPPORT, rows, derived), nxt


def overdue_crises(db: Reader, t: Tables, now: datetime) -> list[OverdueCrisis]:
    """Crises unresolved more than 24 hours after they were raised, as of `now`, oldest first."""
    query = sql.SQL(
        "SELECT "
        + OVERDUE_CRISIS.sql
        + " FROM {} WHERE "
        + CRISIS_OVERDUE
        + " ORDER BY raised_at, escalation_id"
    ).format(t["escalations"])
    return typed(OverdueCrisis, OVERDUE_CRISIS, db.fetchall(query, (now - CRISIS_ALERT_AFTER,)))


def debriefs_due(db: Reader, t: Tables, today: date) -> list[DebriefAlert]:
    """Certified mentors with no debrief in the 30 days before `today`, the longest waiting
    (or never debriefed) first."""
    query = sql.SQL(
        "SELECT "
        + DEBRIEF_ALERT.sql
        + " FROM {} WHERE "
        + DEBRIEF_DUE
        + " ORDER BY last_debrief_on NULLS FIRST, mentor_id"
    ).format(t["sup_mentors"])
    return typed(DebriefAlert, DEBRIEF_ALERT, db.fetchall(query, (debrief_cutoff(today),)))
