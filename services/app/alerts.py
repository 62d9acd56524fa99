"""The grantee's alerts: everything that needs a coordinator's attention, in one list.

Missed cadence, overdue goals, participants approaching the derived 90-day exit (from day
60 without service), crisis escalations unresolved after 24 hours, clearances that
expire within 30 days, mentors without a debrief in 30 days, webhook endpoints the dispatcher
disabled, and events a view could not take as they were (projection faults, docs/decisions.md
30). Alerts name records by id and carry no personal data; each is computed when read from the
views (which stay a pure function of the log), so "overdue" and "expiring" always mean as of
now.

Crises are supervision records: the roles that read them see every overdue crisis; a role that
reads the whole caseload but not supervision (a case manager) sees those about the participants
it holds, without the mentor, in words of its own (decision 129). `Alerts.supervision` is that
rule, read by this list and by `GET …/supervision/alerts` alike (decision 139).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal
from uuid import UUID

import msgspec

from domain import clock
from domain.certification import CLEARANCE_WARNING_DAYS
from domain.common import utcnow
from domain.webhooks import DisableReason
from projections.assignments import assigned_ids
from projections.base import Tables
from projections.goals import overdue_goals
from projections.meetings import cadence_alerts, scheduled_between
from projections.mentors import expiring_clearances
from projections.pairings import member_pairings
from projections.service import approaching, load_people
from projections.supervision_reads import (
    DebriefAlert,
    OverdueCrisis,
    debriefs_due,
    overdue_crises,
)
from services.app.stale_meetings import without_outcome
from services.identity.access import allowed, only_own
from services.projector.faults import live as live_faults
from services.store.ledger import LedgerApplication
from services.webhooks.queries import disabled_endpoints

Kind = Literal[
    "missed_cadence",
    "overdue_goal",
    "open_crisis",
    "clearance_expiring",
    "debrief_due",
    "webhook_endpoint_disabled",
    "projection_fault",
    "meeting_tomorrow",
    "exit_approaching",
    "meeting_without_outcome",
]


class Alert(msgspec.Struct):
    kind: Kind
    subject: Literal[
        "pairing",
        "goal",
        "escalation",
        "mentor",
        "webhook_endpoint",
        "record",
        "meeting",
        "participant",
    ]
    subject_id: UUID
    since: datetime | None
    detail: str
    mentor_id: UUID | None = None
    participant_id: UUID | None = None
    pairing_id: UUID | None = None


class AlertList(msgspec.Struct):
    generated_at: datetime
    counts: dict[str, int]
    items: list[Alert]


# A view's live build, by the view's name.
Views = Callable[[str], Tables]


@dataclass(frozen=True)
class SupervisionFacts:
    """The overdue crises and debriefs due a caller may see (decisions 129, 139).
    `supervisor`: the caller reads supervision records, so every crisis with its mentor and
    the debriefs due; otherwise only the crises about the participants the caller holds, to be
    shown without the mentor, and no debrief. `as_of`: the instant "overdue" was read at."""

    as_of: datetime
    supervisor: bool
    crises: list[OverdueCrisis]
    debriefs: list[DebriefAlert]


@dataclass
class Alerts:
    ledger: LedgerApplication

    def alerts(
        self,
        views: Views,
        roles: frozenset[str],
        caller: str,
        kind: Kind | None = None,
        assigned_to: str | None = None,
    ) -> AlertList:
        """The alerts `roles` may see, counted by kind, then filtered by `kind`: every crisis
        and the debriefs due only for those who read supervision records, the crises about the
        participants `caller` holds (case manager or coordinator) for those who read the whole
        caseload but not supervision (decision 129), disabled endpoints and projection faults
        only for those who read the webhook registry (the operators)."""
        # The views in the order the page has always resolved them (a wait for a position
        # answers 503 for the first that is behind).
        meetings, pairings = views("meetings"), views("pairings")
        zone = self.ledger.zone
        missed = cadence_alerts(self.ledger.db, meetings, pairings, clock.today(zone), zone)
        items = [
            Alert(
                "missed_cadence",
                "pairing",
                a.pairing_id,
                a.lapsed_since,
                a.detail,
                mentor_id=a.mentor_id,
            )
            for a in missed
        ]
        items += self._reminders(meetings)
        # Scheduled meetings more than a day past with no outcome (decision 137).
        items += [
            Alert(
                "meeting_without_outcome",
                "meeting",
                m.meeting_id,
                m.scheduled_for,
                m.detail,
                mentor_id=m.mentor_id,
                pairing_id=m.pairing_id,
            )
            for m in without_outcome(self.ledger.db, meetings, pairings, zone, utcnow())
        ]
        items += self._overdue_goals(views("goals"))
        items += self._supervision(self.supervision(views, roles, caller))
        items += self._clearances(views("mentor_roster"))
        items += self._exits_approaching(views("oversight"))
        if allowed("webhooks.read", roles):
            items += self._disabled_endpoints()
            items += self._projection_faults()
        if assigned_to is not None:
            items = self._assigned(items, views("assignments"), pairings, assigned_to)
        counts: dict[str, int] = {}
        for item in items:
            counts[item.kind] = counts.get(item.kind, 0) + 1
        if kind is not None:
            items = [i for i in items if i.kind == kind]
        return AlertList(utcnow(), counts, items)

    def _assigned(
        self, items: list[Alert], assignments: Tables, pairings: Tables, staff: str
    ) -> list[Alert]:
        """The alerts about participants `staff` is assigned to: theirs, and their pairings'
        (decision 57)."""
        mine = assigned_ids(self.ledger.db, assignments, staff)
        theirs = member_pairings(self.ledger.db, pairings, mine)
        return [
            i
            for i in items
            if i.participant_id in mine
            or (i.subject == "pairing" and i.subject_id in theirs)
            or i.pairing_id in theirs
        ]

    def _reminders(self, t: Tables) -> list[Alert]:
        """Meetings scheduled for tomorrow, the grantee's day: a reminder the day before."""
        zone = self.ledger.zone
        tomorrow = clock.today(zone) + timedelta(days=1)
        start = datetime.combine(tomorrow, datetime.min.time(), tzinfo=zone)
        end = datetime.combine(tomorrow + timedelta(days=1), datetime.min.time(), tzinfo=zone)
        return [
            Alert(
                "meeting_tomorrow",
                "meeting",
                m.id,
                m.scheduled_for,
                f"meeting scheduled for {m.scheduled_for.astimezone(zone):%Y-%m-%d %H:%M %Z}",
                pairing_id=m.pairing_id,
            )
            for m in scheduled_between(self.ledger.db, t, start, end)
        ]

    def _overdue_goals(self, t: Tables) -> list[Alert]:
        # Overdue since the start of the target day, the grantee's day.
        zone = self.ledger.zone
        return [
            Alert(
                "overdue_goal",
                "goal",
                g.goal_id,
                datetime.combine(g.target_date, datetime.min.time(), tzinfo=zone),
                f"target date {g.target_date} has passed",
                participant_id=g.participant_id,
            )
            for g in overdue_goals(self.ledger.db, t, clock.today(self.ledger.zone))
        ]

    def supervision(self, views: Views, roles: frozenset[str], caller: str) -> SupervisionFacts:
        """The overdue crises (as of now, oldest first) and debriefs due that `roles` may see:
        all of them for those who read supervision records; for a role that reads the whole
        caseload but not supervision (a case manager), the crises about the participants
        `caller` is case manager or coordinator of (`assigned_to=me`) and no debrief (decisions
        129, 139); nothing for anyone else."""
        now = utcnow()
        if allowed("supervision.read", roles):
            t = views("supervision")
            return SupervisionFacts(
                now,
                True,
                overdue_crises(self.ledger.db, t, now),
                debriefs_due(self.ledger.db, t, clock.today(self.ledger.zone)),
            )
        if not allowed("participants.read", roles) or only_own("participants.read", roles):
            return SupervisionFacts(now, False, [], [])
        crises = overdue_crises(self.ledger.db, views("supervision"), now)
        mine = assigned_ids(self.ledger.db, views("assignments"), caller)
        held = [c for c in crises if c.participant_id is not None and c.participant_id in mine]
        return SupervisionFacts(now, False, held, [])

    def _supervision(self, facts: SupervisionFacts) -> list[Alert]:
        """The crises and debriefs as alerts: a supervisor's with the mentor, ", not
        acknowledged" until acknowledged; a case manager's without the mentor, the description,
        who raised it or the coordinator's notes, saying who holds it (decision 129)."""
        now = facts.as_of
        if not facts.supervisor:
            return [
                Alert(
                    "open_crisis",
                    "escalation",
                    c.escalation_id,
                    c.raised_at,
                    f"{c.severity} crisis unresolved for {c.hours_open(now)} h, {_holder(c)}",
                    participant_id=c.participant_id,
                )
                for c in facts.crises
            ]
        alerts = [
            Alert(
                "open_crisis",
                "escalation",
                c.escalation_id,
                c.raised_at,
                f"{c.severity} crisis unresolved for {c.hours_open(now)} h"
                + ("" if c.acknowledged_at else ", not acknowledged"),
                mentor_id=c.mentor_id,
                participant_id=c.participant_id,
            )
            for c in facts.crises
        ]
        alerts += [
            Alert(
                "debrief_due",
                "mentor",
                d.mentor_id,
                None,
                "no debrief yet"
                if d.last_debrief_on is None
                else f"last debrief on {d.last_debrief_on}",
                mentor_id=d.mentor_id,
            )
            for d in facts.debriefs
        ]
        return alerts

    def _clearances(self, t: Tables) -> list[Alert]:
        today = clock.today(self.ledger.zone)
        return [
            Alert(
                "clearance_expiring",
                "mentor",
                c.mentor_id,
                None,
                f"clearance for {c.facility_code} expires on {c.expires_on}",
                mentor_id=c.mentor_id,
            )
            for c in expiring_clearances(
                self.ledger.db, t, today, today + timedelta(days=CLEARANCE_WARNING_DAYS)
            )
        ]

    def _exits_approaching(self, t: Tables) -> list[Alert]:
        """From day 60 without service (none planned): the day the derived 90-day exit would
        take effect (domain/definitions.py), so staff can act before it does."""
        zone = self.ledger.zone
        today = clock.today(zone)
        return [
            Alert(
                "exit_approaching",
                "participant",
                pid,
                datetime.combine(s.last_service_on, datetime.min.time(), tzinfo=zone),
                f"no service since {s.last_service_on}: the derived exit takes effect on"
                f" {s.takes_effect_on} (exit date {s.last_service_on}) unless a service is held"
                " or planned",
                participant_id=pid,
            )
            for pid, s in approaching(load_people(self.ledger.db, t, zone), today)
        ]

    def _disabled_endpoints(self) -> list[Alert]:
        """Endpoints the dispatcher disabled (410 Gone, 5 days failing) until re-enabled."""
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
            for e in disabled_endpoints(self.ledger.db, self.ledger.schema)
        ]

    def _projection_faults(self) -> list[Alert]:
        """One per event a served view could not take as it was: the record is the event's
        aggregate (a participant, a mentor, a facility...), `since` when it was recorded."""
        return [
            Alert(
                "projection_fault",
                "record",
                f.originator_id,
                f.recorded_at,
                f"view {f.view}, log position {f.position} ({f.topic}): {f.fault}, {f.detail}",
            )
            for f in live_faults(self.ledger.db, self.ledger.schema)
        ]


def _holder(c: OverdueCrisis) -> str:
    """Who holds a crisis, in a case manager's alert: the coordinators until one acknowledges
    it, then the one who did."""
    if c.acknowledged_at is None or c.acknowledged_by is None:
        return "raised with the coordinators, not acknowledged yet"
    return f"held by {c.acknowledged_by} (acknowledged)"
