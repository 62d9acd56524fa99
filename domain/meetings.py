"""Meetings of a pairing: scheduled, then held, missed or cancelled; corrected by amendment.

A held meeting records when it happened (with its UTC offset), how long, where, what was
discussed, who attended, a shareable summary and an optional confidential note (readable
only by its author and the coordinator). Corrections are new events, never edits. Each
cadence-relevant event carries the ISO week of the grantee's time zone it falls in, worked
out when it is recorded, so the cadence view is a pure function of the log.

A pairing meets once at a time: a meeting at an instant for which the pairing has a meeting
already, not cancelled, is refused (`DuplicateMeeting`): a double tap or a retry without an
idempotency key would otherwise count one meeting twice (decision 96). So is a meeting whose
time span overlaps another of the pairing's (not cancelled): a retry with a retyped time
(decision 146).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any
from uuid import UUID, uuid4

import msgspec

from domain.class_sessions import SessionKind
from domain.common import (
    AlreadyExists,
    Forbidden,
    ProwdAggregate,
    RuleViolation,
    check_not_future,
    utcnow,
)
from domain.pairings import Location, Pairing, PairingKind

MAX_MINUTES = 8 * 60
# How far ahead a meeting may be planned (docs/decisions.md 149): meetings are planned weeks
# ahead, and a year is room enough for any; a time later than that is a typing slip (2062 for
# 2026), which would otherwise sit as "scheduled" for decades.
PLAN_AHEAD = timedelta(days=365)
# A meeting still scheduled this long after its time awaits an outcome (held, missed or
# cancelled): an alert (docs/decisions.md 137). A day gives the mentor the evening to record it.
OUTCOME_ALERT_AFTER = timedelta(hours=24)


class Topic(StrEnum):
    GOALS = "goals"
    EMPLOYMENT = "employment"
    HOUSING = "housing"
    RECOVERY = "recovery"
    FAMILY = "family"
    LEGAL_OBLIGATIONS = "legal_obligations"
    EDUCATION = "education"
    HEALTH = "health"
    ID_DOCUMENTS = "id_documents"
    FINANCES = "finances"
    TRANSPORTATION = "transportation"
    BENEFITS = "benefits"
    PRO_SOCIAL_SUPPORTS = "pro_social_supports"
    REENTRY_BARRIERS = "reentry_barriers"
    OTHER = "other"


class Attendance(StrEnum):
    PRESENT = "present"
    ABSENT = "absent"


class NoShow(StrEnum):
    MENTOR = "mentor"
    MENTEE = "mentee"
    BOTH = "both"


def check_planned_time(pairing: Pairing, scheduled_for: datetime) -> None:
    """The time a meeting of `pairing` is planned for: with a UTC offset, not before the match
    (whether or not it is recorded as held at once), and at most `PLAN_AHEAD` from now."""
    if scheduled_for.tzinfo is None:
        raise RuleViolation("scheduled_for must carry a UTC offset", code="naive_datetime")
    if scheduled_for < pairing.opened_at:
        raise RuleViolation("the meeting cannot precede the match", code="before_match")
    latest = utcnow() + PLAN_AHEAD
    if scheduled_for > latest:
        on = scheduled_for.date()
        raise RuleViolation(
            f"a meeting is planned at most {PLAN_AHEAD.days} days ahead, by {latest.date()},"
            f" not for {on}",
            code="too_far_ahead",
        )


class MeetingStatus(StrEnum):
    SCHEDULED = "scheduled"
    HELD = "held"
    MISSED = "missed"
    CANCELLED = "cancelled"


class HeldRecord(msgspec.Struct, frozen=True, kw_only=True):
    """What was recorded of a held meeting."""

    occurred_at: datetime
    duration_minutes: int
    location: Location
    topics: list[Topic]
    goals_discussed: list[UUID] = []
    attendance: dict[UUID, Attendance] = {}
    summary: str = ""
    # The shareable summary holds 42 CFR Part 2 information: it leaves the grantee only under
    # a covering consent, with the §2.32 notice (services/audit/disclosure.py). Old events: False.
    summary_part2: bool = False
    confidential_note: str = ""
    # Set when the grantee flags (rather than refuses) meetings during class hours, and for
    # an approved class session held in them.
    during_class_hours: bool = False
    # A class session or a graduate speaker session (domain/class_sessions.py) names the
    # facility's approval it is held under; old events: a mentoring meeting.
    session: SessionKind = SessionKind.MENTORING
    approval_id: UUID | None = None


class NoteReader(msgspec.Struct, frozen=True):
    """Who asks for a meeting's confidential note: the token's subject, and whether they act
    as the coordinator."""

    subject: str
    coordinator: bool


class NoteWithheld(Forbidden):
    """The caller may not change a confidential note that someone else wrote (HTTP 403)."""


class DuplicateMeeting(AlreadyExists):
    """The pairing has a meeting at that time already, or one whose time span overlaps it, not
    cancelled (HTTP 409); `existing` names it, its status and its span (UTC)."""

    default_code = "duplicate_meeting"

    def __init__(self, meeting: Meeting) -> None:
        starts, ends = meeting.span
        super().__init__(
            f"the pairing has a meeting from {starts.isoformat()} to {ends.isoformat()} already"
            f" ({meeting.status.value}): {meeting.id}",
            existing=[
                {
                    "meeting_id": str(meeting.id),
                    "status": meeting.status.value,
                    "starts_at": starts.isoformat(),
                    "ends_at": ends.isoformat(),
                }
            ],
        )


def check_time_free(pairing: Pairing, at: datetime, booked: Meeting | None) -> None:
    """A pairing meets once at a time. `booked` is the meeting `pairing.meeting_at(at)` names
    (the caller loads it); its time is free again once it is cancelled."""
    taken = pairing.meeting_at(at)
    if taken is None:
        return
    if booked is None or booked.id != taken:
        raise ValueError(f"give the meeting the pairing has at {at.isoformat()}: {taken}")
    if booked.status is not MeetingStatus.CANCELLED:
        raise DuplicateMeeting(booked)


def check_no_overlap(
    starts: datetime, minutes: int, near: Iterable[Meeting], itself: UUID | None = None
) -> None:
    """A pairing meets once at a time: the span from `starts` for `minutes` overlaps none of
    the pairing's meetings `near` it (`Pairing.meetings_near`, loaded by the caller) that is
    not cancelled; `itself` (a meeting being held or amended) is not compared with itself."""
    ends = starts + timedelta(minutes=minutes)
    for other in sorted(near, key=lambda m: m.span):
        if other.id == itself or other.status is MeetingStatus.CANCELLED:
            continue
        other_starts, other_ends = other.span
        if other_starts < ends and starts < other_ends:
            raise DuplicateMeeting(other)


def check_record(record: HeldRecord, pairing: Pairing) -> None:
    check_not_future(record.occurred_at, "the time the meeting was held")
    if not 0 < record.duration_minutes <= MAX_MINUTES:
        raise RuleViolation(
            f"a held meeting lasts more than 0 and at most {MAX_MINUTES} minutes",
            code="invalid_duration",
        )
    if not record.topics:
        raise RuleViolation("name at least one topic discussed", code="topics_required")
    members = set(pairing.members)
    unknown = set(record.attendance) - members
    if unknown:
        raise RuleViolation(
            "attendance names someone who is not in the pairing", code="not_a_member"
        )
    if pairing.kind is PairingKind.GROUP and set(record.attendance) != members:
        raise RuleViolation(
            "a group meeting records attendance for every member", code="attendance_required"
        )
    if record.attendance and Attendance.PRESENT not in record.attendance.values():
        raise RuleViolation(
            "no member attended: record the meeting as missed instead", code="nobody_attended"
        )


class Meeting(ProwdAggregate):
    if TYPE_CHECKING:  # state set by the events' apply(); not dataclass fields
        pairing_id: UUID
        status: MeetingStatus
        scheduled_for: datetime
        planned_minutes: int
        location: Location
        record: HeldRecord | None
        note_author: str | None
        amendments: int
        week: str

    class Scheduled(ProwdAggregate.Created):
        pairing_id: UUID
        scheduled_for: datetime
        planned_minutes: int
        location: Location
        week: str

        def apply(self, m: Any) -> None:
            m.pairing_id = self.pairing_id
            m.status = MeetingStatus.SCHEDULED
            m.scheduled_for = self.scheduled_for
            m.planned_minutes = self.planned_minutes
            m.location = self.location
            m.record = None
            m.note_author = None
            m.amendments = 0
            m.week = self.week

    class Held(ProwdAggregate.Event):
        record: HeldRecord
        week: str

        def apply(self, m: Any) -> None:
            m.status = MeetingStatus.HELD
            m.record = self.record
            m.week = self.week
            m.note_author = self.recorded_by if self.record.confidential_note else None

    class Missed(ProwdAggregate.Event):
        no_show_by: NoShow
        note: str
        week: str

        def apply(self, m: Any) -> None:
            m.status = MeetingStatus.MISSED

    class Cancelled(ProwdAggregate.Event):
        reason: str
        excused: bool
        week: str

        def apply(self, m: Any) -> None:
            m.status = MeetingStatus.CANCELLED

    class Amended(ProwdAggregate.Event):
        reason: str
        record: HeldRecord
        previous_week: str
        week: str

        def apply(self, m: Any) -> None:
            # Whoever writes a new confidential note becomes its author.
            old_note = m.record.confidential_note if m.record else ""
            if self.record.confidential_note != old_note:
                m.note_author = self.recorded_by if self.record.confidential_note else None
            m.record = self.record
            m.week = self.week
            m.amendments += 1

    @property
    def span(self) -> tuple[datetime, datetime]:
        """When the meeting takes its pairing's time (UTC): as held if it was, else as planned."""
        if self.record is not None:
            starts, minutes = self.record.occurred_at, self.record.duration_minutes
        else:
            starts, minutes = self.scheduled_for, self.planned_minutes
        starts = starts.astimezone(UTC)
        return starts, starts + timedelta(minutes=minutes)

    def note_readable_by(self, reader: NoteReader) -> bool:
        """A confidential note reaches only its author and the coordinator (DESIGN D8)."""
        return self.note_author == reader.subject or reader.coordinator

    def amendment(
        self, record: HeldRecord, reader: NoteReader, *, keep_part2: bool, keep_note: bool
    ) -> HeldRecord:
        """The record an amendment stores. What it leaves out stays as it was: the summary's
        Part 2 tag (`keep_part2`) and the confidential note (`keep_note`); a note already
        written is changed only by someone who may read it."""
        current = self.record
        note = current.confidential_note if current is not None else ""
        if keep_part2 and current is not None:
            record = msgspec.structs.replace(record, summary_part2=current.summary_part2)
        if keep_note:
            record = msgspec.structs.replace(record, confidential_note=note)
        elif note and not self.note_readable_by(reader):
            raise NoteWithheld(
                "only the note's author or a coordinator may change a confidential note"
            )
        return record

    @classmethod
    def schedule(
        cls,
        *,
        pairing: Pairing,
        scheduled_for: datetime,
        planned_minutes: int,
        location: Location,
        week: str,
        booked: Meeting | None = None,
    ) -> Meeting:
        """A new meeting of `pairing`, its time booked on the pairing (save both). `booked`:
        the meeting the pairing has at that time, if any (`Pairing.meeting_at`)."""
        if not pairing.is_open:
            raise RuleViolation("no meeting on a closed pairing", code="pairing_closed")
        check_planned_time(pairing, scheduled_for)
        if not 0 < planned_minutes <= MAX_MINUTES:
            raise RuleViolation(
                f"a meeting is planned for more than 0 and at most {MAX_MINUTES} minutes",
                code="invalid_duration",
            )
        check_time_free(pairing, scheduled_for, booked)
        meeting: Meeting = cls._create(
            cls.Scheduled,
            id=uuid4(),
            pairing_id=pairing.id,
            scheduled_for=scheduled_for,
            planned_minutes=planned_minutes,
            location=location,
            week=week,
            occurred_at=utcnow(),
        )
        pairing.book_meeting(meeting.id, scheduled_for)
        return meeting

    def hold(self, record: HeldRecord, pairing: Pairing, week: str) -> None:
        if self.status is not MeetingStatus.SCHEDULED:
            raise RuleViolation(
                f"the meeting is already {self.status.value}", code="meeting_not_scheduled"
            )
        if not pairing.is_open:
            raise RuleViolation("no meeting on a closed pairing", code="pairing_closed")
        check_record(record, pairing)
        self.trigger_event(self.Held, record=record, week=week, occurred_at=record.occurred_at)

    def miss(self, no_show_by: NoShow, note: str, week: str) -> None:
        if self.status is not MeetingStatus.SCHEDULED:
            raise RuleViolation(
                f"the meeting is already {self.status.value}", code="meeting_not_scheduled"
            )
        if self.scheduled_for > utcnow():
            raise RuleViolation("a meeting cannot be missed before its time", code="in_future")
        self.trigger_event(
            self.Missed, no_show_by=no_show_by, note=note, week=week, occurred_at=self.scheduled_for
        )

    def cancel(self, reason: str, excused: bool, week: str) -> None:
        if self.status is not MeetingStatus.SCHEDULED:
            raise RuleViolation(
                f"the meeting is already {self.status.value}", code="meeting_not_scheduled"
            )
        if not reason.strip():
            raise RuleViolation("a cancellation states its reason", code="reason_required")
        self.trigger_event(
            self.Cancelled, reason=reason.strip(), excused=excused, week=week, occurred_at=utcnow()
        )

    def amend(self, reason: str, record: HeldRecord, pairing: Pairing, week: str) -> None:
        """Correct a held meeting: a new event with the reason; the original stays in history."""
        if self.status is not MeetingStatus.HELD or self.record is None:
            raise RuleViolation("only a held meeting can be amended", code="meeting_not_held")
        if not reason.strip():
            raise RuleViolation("an amendment states its reason", code="reason_required")
        check_record(record, pairing)
        # The previous week travels with the amendment, so the cadence view can move the
        # meeting from one week to the other.
        self.trigger_event(
            self.Amended,
            reason=reason.strip(),
            record=record,
            week=week,
            previous_week=self.week,
            occurred_at=utcnow(),
        )
