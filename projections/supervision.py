"""Supervision view: every mentor with the date of the last debrief (the support network),
debriefs with each mentor's well-being check, escalations with their time to acknowledge.

Handlers store facts only; whatever depends on today (30 days, 24 hours) is computed when read.
Its reads are in `projections.supervision_reads`. `VIEWS` also carries the evaluation and
referral views (`projections.evaluation`, `projections.referrals`).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, ClassVar
from uuid import UUID

from domain.mentors import Mentor
from domain.participants import Participant
from domain.supervision import Debrief, Escalation
from projections.base import Projection, handles
from projections.erasure import ERASED
from projections.evaluation import EvaluationView
from projections.ops import Erase, Inc, Writer
from projections.referrals import ReferralView


def seconds_between(later: datetime, earlier: datetime) -> int:
    """`extract(epoch FROM later - earlier)::bigint`: whole seconds, halves away from zero."""
    micros = (later - earlier) // timedelta(microseconds=1)
    whole, rest = divmod(abs(micros), 1_000_000)
    whole += rest >= 500_000
    return whole if micros >= 0 else -whole


class SupervisionView(Projection):
    name = "supervision"
    tables: ClassVar[dict[str, str]] = {
        "sup_mentors": (
            "mentor_id uuid PRIMARY KEY, display_name text NOT NULL, subject text,"
            " status text NOT NULL, coordinator text, certified_at timestamptz,"
            " last_debrief_on date, debriefs int NOT NULL DEFAULT 0, last_wellbeing text,"
            " open_escalations int NOT NULL DEFAULT 0, last_position bigint NOT NULL"
        ),
        "debriefs": (
            "debrief_id uuid PRIMARY KEY, held_on date NOT NULL, format text NOT NULL,"
            " coordinator text NOT NULL, mentor_ids uuid[] NOT NULL, topics text[] NOT NULL,"
            " notes text NOT NULL, position bigint NOT NULL"
        ),
        "debrief_checks": (
            "debrief_id uuid NOT NULL, mentor_id uuid NOT NULL, held_on date NOT NULL,"
            " wellbeing text NOT NULL, work_life_balance_ok boolean NOT NULL,"
            " support_offered text NOT NULL, PRIMARY KEY (debrief_id, mentor_id)"
        ),
        "escalations": (
            "escalation_id uuid PRIMARY KEY, mentor_id uuid NOT NULL, participant_id uuid,"
            " type text NOT NULL, severity text NOT NULL, description text NOT NULL,"
            " raised_by text NOT NULL, raised_at timestamptz NOT NULL,"
            " acknowledged_at timestamptz, acknowledged_by text, seconds_to_acknowledge bigint,"
            " resolved_at timestamptz, resolution text, last_position bigint NOT NULL"
        ),
    }
    order: ClassVar[dict[str, str]] = {
        "sup_mentors": "mentor_id",
        "debriefs": "debrief_id",
        "debrief_checks": "debrief_id, mentor_id",
        "escalations": "escalation_id",
    }
    # The escalations list's order, newest raised first (`NEWEST_RAISED`, decisions 139 and
    # 148), read backward; the overdue crises read it forward.
    extra_indexes = (("escalations", "raised", "(raised_at, escalation_id)"),)

    def _mentor(self, w: Writer, mentor_id: UUID, position: int, **sets: Any) -> None:
        w.update("sup_mentors", {**sets, "last_position": position}, mentor_id=mentor_id)

    @handles(Mentor.Registered)
    def registered(self, w: Writer, e: Mentor.Registered, position: int) -> None:
        w.insert(
            "sup_mentors",
            {
                "mentor_id": e.originator_id,
                "display_name": e.display_name,
                "subject": e.subject,
                "status": "applicant",
                "last_position": position,
            },
        )

    @handles(Mentor.CoordinatorAssigned)
    def coordinator(self, w: Writer, e: Mentor.CoordinatorAssigned, position: int) -> None:
        self._mentor(w, e.originator_id, position, coordinator=e.coordinator)

    @handles(Mentor.Certified, Mentor.Reinstated, Mentor.Suspended, Mentor.Retired)
    def status(
        self,
        w: Writer,
        e: Mentor.Certified | Mentor.Reinstated | Mentor.Suspended | Mentor.Retired,
        position: int,
    ) -> None:
        if isinstance(e, Mentor.Certified):
            self._mentor(
                w, e.originator_id, position, status="certified", certified_at=e.occurred_at
            )
        else:
            status = {Mentor.Reinstated: "certified", Mentor.Suspended: "suspended"}.get(
                type(e), "retired"
            )
            self._mentor(w, e.originator_id, position, status=status)

    @handles(Debrief.Recorded)
    def debriefed(self, w: Writer, e: Debrief.Recorded, position: int) -> None:
        w.insert(
            "debriefs",
            {
                "debrief_id": e.originator_id,
                "held_on": e.held_on,
                "format": e.format.value,
                "coordinator": e.recorded_by,
                "mentor_ids": list(e.mentor_ids),
                "topics": [topic.value for topic in e.topics],
                "notes": e.notes,
                "position": position,
            },
        )
        for c in e.checks:
            w.insert(
                "debrief_checks",
                {
                    "debrief_id": e.originator_id,
                    "mentor_id": c.mentor_id,
                    "held_on": e.held_on,
                    "wellbeing": c.wellbeing.value,
                    "work_life_balance_ok": c.work_life_balance_ok,
                    "support_offered": c.support_offered,
                },
            )
            mentor = w.get(
                "sup_mentors", ("last_debrief_on", "last_wellbeing"), mentor_id=c.mentor_id
            )
            if mentor is None:
                continue
            last_on, last_wellbeing = mentor
            # A debrief recorded late (an earlier date) never moves the last debrief back.
            latest = last_on is None or last_on <= e.held_on
            self._mentor(
                w,
                c.mentor_id,
                position,
                debriefs=Inc(1),
                last_wellbeing=c.wellbeing.value if latest else last_wellbeing,
                last_debrief_on=e.held_on if latest else last_on,
            )

    @handles(Participant.Erased)
    def participant_erased(self, w: Writer, e: Participant.Erased, position: int) -> None:
        """An erased participant's escalations keep their type, severity and times; their
        description and resolution read as erased (as a rebuild reads them)."""
        w.update(
            "escalations",
            {"description": Erase(ERASED), "resolution": Erase(ERASED)},
            participant_id=e.originator_id,
        )

    @handles(Escalation.Raised)
    def raised(self, w: Writer, e: Escalation.Raised, position: int) -> None:
        w.insert(
            "escalations",
            {
                "escalation_id": e.originator_id,
                "mentor_id": e.mentor_id,
                "participant_id": e.participant_id,
                "type": e.type.value,
                "severity": e.severity.value,
                "description": e.description,
                "raised_by": e.raised_by,
                "raised_at": e.occurred_at,
                "last_position": position,
            },
        )
        self._mentor(w, e.mentor_id, position, open_escalations=Inc(1))

    @handles(Escalation.Acknowledged)
    def acknowledged(self, w: Writer, e: Escalation.Acknowledged, position: int) -> None:
        row = w.get("escalations", ("raised_at",), escalation_id=e.originator_id)
        if row is None:
            return
        w.update(
            "escalations",
            {
                "acknowledged_at": e.occurred_at,
                "acknowledged_by": e.acknowledged_by,
                "seconds_to_acknowledge": seconds_between(e.occurred_at, row[0]),
                "last_position": position,
            },
            escalation_id=e.originator_id,
        )

    @handles(Escalation.Resolved)
    def resolved(self, w: Writer, e: Escalation.Resolved, position: int) -> None:
        for mentor_id in w.update(
            "escalations",
            {"resolved_at": e.occurred_at, "resolution": e.resolution, "last_position": position},
            returning="mentor_id",
            escalation_id=e.originator_id,
        ):
            self._mentor(w, mentor_id, position, open_escalations=Inc(-1))


VIEWS: tuple[Projection, ...] = (SupervisionView(), EvaluationView(), ReferralView())
