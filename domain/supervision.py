"""Supervision of peer mentors: debriefs with the coordinator and escalations.

The tip sheet asks for regular debriefs (with a check on the mentor's own well-being: mentors
practise self-care) and for mentors to seek the coordinator's guidance on challenging
situations (boundaries, crises). An escalation is that request: raised for a mentor,
acknowledged by the coordinator (the time it took is kept) and resolved.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, tzinfo
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Literal
from uuid import UUID, uuid4

import msgspec

from domain.common import ProwdAggregate, RuleViolation, check_date_not_future, check_not_future
from domain.mentors import Mentor, MentorStatus
from domain.plaindays import start_of_day

# An unresolved crisis older than this is an alert for the coordinator.
CRISIS_ALERT_AFTER = timedelta(hours=24)
# A certified mentor with no debrief in this many days shows in the support-network view.
DEBRIEF_DUE_DAYS = 30

EscalationStatus = Literal["open", "acknowledged", "resolved"]


class DebriefFormat(StrEnum):
    INDIVIDUAL = "individual"
    GROUP = "group"  # the peer support network: mentors learn from each other


class DebriefTopic(StrEnum):
    MENTEE_PROGRESS = "mentee_progress"
    CHALLENGING_SITUATION = "challenging_situation"
    BOUNDARIES = "boundaries"
    CRISIS_RESPONSE = "crisis_response"
    RECOVERY_SUPPORT = "recovery_support"
    RESOURCES_AND_REFERRALS = "resources_and_referrals"
    SCOPE_OF_ROLE = "scope_of_role"
    SELF_CARE = "self_care"
    TRAINING_NEEDS = "training_needs"
    PEER_LEARNING = "peer_learning"
    OTHER = "other"


class Wellbeing(StrEnum):
    """The coordinator's read of the mentor's own well-being (tip sheet: practise self-care)."""

    THRIVING = "thriving"
    STEADY = "steady"
    STRAINED = "strained"
    AT_RISK = "at_risk"


class WellbeingCheck(msgspec.Struct, frozen=True, kw_only=True):
    mentor_id: UUID
    wellbeing: Wellbeing
    work_life_balance_ok: bool = True
    support_offered: str = ""


class EscalationType(StrEnum):
    BOUNDARY_CONCERN = "boundary_concern"
    CRISIS = "crisis"
    SAFETY = "safety"
    RELAPSE_RISK = "relapse_risk"
    CONFLICT = "conflict"


class Severity(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


def escalation_status(
    acknowledged_at: datetime | None, resolved_at: datetime | None
) -> EscalationStatus:
    """Where an escalation stands: open until acknowledged, then acknowledged until resolved."""
    if resolved_at is not None:
        return "resolved"
    return "open" if acknowledged_at is None else "acknowledged"


def crisis_overdue(
    type: EscalationType, raised_at: datetime, resolved_at: datetime | None, now: datetime
) -> bool:
    """A crisis still unresolved more than 24 hours after it was raised: an alert."""
    return (
        type is EscalationType.CRISIS
        and resolved_at is None
        and now - raised_at > CRISIS_ALERT_AFTER
    )


def debrief_cutoff(today: date) -> date:
    """A certified mentor whose last debrief is before this day is due one."""
    return today - timedelta(days=DEBRIEF_DUE_DAYS)


def debrief_due(status: MentorStatus, last_debrief_on: date | None, today: date) -> bool:
    """A certified mentor with no debrief in the last 30 days (or none at all)."""
    return status is MentorStatus.CERTIFIED and (
        last_debrief_on is None or last_debrief_on < debrief_cutoff(today)
    )


def check_mentor_supervised(mentor: Mentor) -> None:
    """Supervision concerns mentors who mentor (certified) or are paused (suspended)."""
    if mentor.status is MentorStatus.RETIRED:
        raise RuleViolation("this mentor has retired", code="mentor_retired")
    if mentor.status is MentorStatus.APPLICANT:
        raise RuleViolation(
            "the mentor is still an applicant, not yet certified", code="mentor_not_certified"
        )


class Debrief(ProwdAggregate):
    if TYPE_CHECKING:  # state set by the events' apply(); not dataclass fields
        held_on: date
        format: DebriefFormat
        mentor_ids: list[UUID]
        topics: list[DebriefTopic]
        checks: list[WellbeingCheck]
        notes: str
        coordinator: str

    class Recorded(ProwdAggregate.Created):
        held_on: date
        format: DebriefFormat
        mentor_ids: list[UUID]
        topics: list[DebriefTopic]
        checks: list[WellbeingCheck]
        notes: str

        def apply(self, d: Any) -> None:
            d.held_on = self.held_on
            d.format = self.format
            d.mentor_ids = list(self.mentor_ids)
            d.topics = list(self.topics)
            d.checks = list(self.checks)
            d.notes = self.notes
            d.coordinator = self.recorded_by

        def plain_day(self) -> date:
            return self.held_on

    @classmethod
    def record(
        cls,
        *,
        mentors: list[Mentor],
        held_on: date,
        topics: list[DebriefTopic],
        checks: list[WellbeingCheck],
        notes: str = "",
        zone: tzinfo = UTC,
    ) -> Debrief:
        """A debrief of the coordinator with one mentor, or with several (a group debrief),
        held on a day of `zone` (the grantee's time zone)."""
        if not mentors:
            raise RuleViolation("a debrief has at least one mentor", code="mentors_required")
        ids = [m.id for m in mentors]
        if len(set(ids)) != len(ids):
            raise RuleViolation("a mentor appears twice in the debrief", code="duplicate_mentor")
        for mentor in mentors:
            check_mentor_supervised(mentor)
        check_date_not_future(held_on, "the debrief date", zone)
        if not topics:
            raise RuleViolation("a debrief names at least one topic", code="topics_required")
        checked = [c.mentor_id for c in checks]
        if len(set(checked)) != len(checked):
            raise RuleViolation(
                "a mentor's well-being is checked once per debrief", code="duplicate_check"
            )
        if set(checked) - set(ids):
            raise RuleViolation(
                "a well-being check concerns a mentor at the debrief",
                code="check_for_absent_mentor",
            )
        if set(ids) - set(checked):
            raise RuleViolation(
                "every debrief checks each mentor's well-being and self-care",
                code="wellbeing_check_required",
            )
        by_mentor = {c.mentor_id: c for c in checks}
        debrief: Debrief = cls._create(
            cls.Recorded,
            id=uuid4(),
            held_on=held_on,
            format=DebriefFormat.INDIVIDUAL if len(ids) == 1 else DebriefFormat.GROUP,
            mentor_ids=ids,
            topics=sorted(set(topics), key=list(DebriefTopic).index),
            checks=[by_mentor[i] for i in ids],
            notes=notes,
            occurred_at=start_of_day(held_on, zone),
        )
        return debrief


class Escalation(ProwdAggregate):
    if TYPE_CHECKING:  # state set by the events' apply(); not dataclass fields
        mentor_id: UUID
        participant_id: UUID | None
        type: EscalationType
        severity: Severity
        description: str
        raised_by: str
        raised_at: datetime
        acknowledged_at: datetime | None
        acknowledged_by: str | None
        resolved_at: datetime | None
        resolution: str | None

    class Raised(ProwdAggregate.Created):
        mentor_id: UUID
        participant_id: UUID | None
        type: EscalationType
        severity: Severity
        description: str
        raised_by: str

        def apply(self, x: Any) -> None:
            x.mentor_id = self.mentor_id
            x.participant_id = self.participant_id
            x.type = self.type
            x.severity = self.severity
            x.description = self.description
            x.raised_by = self.raised_by
            x.raised_at = self.occurred_at
            x.acknowledged_at = None
            x.acknowledged_by = None
            x.resolved_at = None
            x.resolution = None

    class Acknowledged(ProwdAggregate.Event):
        acknowledged_by: str
        note: str

        def apply(self, x: Any) -> None:
            x.acknowledged_at = self.occurred_at
            x.acknowledged_by = self.acknowledged_by

    class Resolved(ProwdAggregate.Event):
        resolution: str

        def apply(self, x: Any) -> None:
            x.resolved_at = self.occurred_at
            x.resolution = self.resolution

    @classmethod
    def raise_for(
        cls,
        *,
        mentor: Mentor,
        mentees: set[UUID],
        participant_id: UUID | None,
        type: EscalationType,
        severity: Severity,
        description: str,
        raised_by: str,
        raised_at: datetime,
    ) -> Escalation:
        """A mentor asks the coordinator for guidance on a challenging situation; `mentees` are
        the participants in the mentor's open pairings."""
        check_mentor_supervised(mentor)
        if participant_id is not None and participant_id not in mentees:
            raise RuleViolation(
                "the participant is not a current mentee of this mentor", code="not_mentors_mentee"
            )
        if not description.strip():
            raise RuleViolation(
                "an escalation describes the situation", code="description_required"
            )
        check_not_future(raised_at, "the time the escalation was raised")
        escalation: Escalation = cls._create(
            cls.Raised,
            id=uuid4(),
            mentor_id=mentor.id,
            participant_id=participant_id,
            type=type,
            severity=severity,
            description=description.strip(),
            raised_by=raised_by,
            occurred_at=raised_at,
        )
        return escalation

    @property
    def is_open(self) -> bool:
        return self.resolved_at is None

    @property
    def time_to_acknowledge(self) -> timedelta | None:
        return None if self.acknowledged_at is None else self.acknowledged_at - self.raised_at

    def is_overdue(self, now: datetime) -> bool:
        """An open crisis raised more than 24 hours before `now`."""
        return crisis_overdue(self.type, self.raised_at, self.resolved_at, now)

    def _check_open(self) -> None:
        if not self.is_open:
            raise RuleViolation("the escalation is resolved", code="escalation_resolved")

    def _check_time(self, at: datetime, what: str) -> None:
        check_not_future(at, what)
        if at < self.raised_at:
            raise RuleViolation(f"{what} is before the escalation was raised", code="before_raised")

    def acknowledge(self, by: str, at: datetime, note: str = "") -> None:
        self._check_open()
        if self.acknowledged_at is not None:
            raise RuleViolation(
                "the escalation is already acknowledged", code="already_acknowledged"
            )
        self._check_time(at, "the acknowledgement time")
        self.trigger_event(self.Acknowledged, acknowledged_by=by, note=note, occurred_at=at)

    def resolve(self, resolution: str, at: datetime) -> None:
        self._check_open()
        if self.acknowledged_at is None:
            raise RuleViolation(
                "acknowledge the escalation before resolving it", code="not_acknowledged"
            )
        if not resolution.strip():
            raise RuleViolation(
                "a resolution says how the situation was resolved", code="resolution_required"
            )
        self._check_time(at, "the resolution time")
        if at < self.acknowledged_at:
            raise RuleViolation(
                "the resolution time is before the acknowledgement", code="before_acknowledged"
            )
        self.trigger_event(self.Resolved, resolution=resolution.strip(), occurred_at=at)
