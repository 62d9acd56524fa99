"""Pairings: one mentor with one mentee, or with a small group sharing a focus.

Who may mentor whom is domain/eligibility.py. The caseload limits are enforced by the mentor
and participant aggregates, saved with the pairing in one transaction, so concurrent matches
cannot exceed them. A pairing knows the time of each of its meetings (`MeetingBooked`, saved
with the meeting), so that it meets once at a time (domain/meetings.py, decision 96).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, tzinfo
from enum import StrEnum
from typing import TYPE_CHECKING, Any
from uuid import UUID, uuid4

import msgspec

from domain.common import ProwdAggregate, RuleViolation, check_not_future, utcnow
from domain.exit_review import MenteeExit
from domain.mentors import Mentor
from domain.policy import MentoringRules


class PairingKind(StrEnum):
    INDIVIDUAL = "individual"
    GROUP = "group"


class Focus(StrEnum):
    EMPLOYMENT = "employment"
    RECOVERY = "recovery"
    HOUSING = "housing"
    FAMILY = "family"
    EDUCATION = "education"
    REENTRY_GENERAL = "reentry_general"
    LEGAL_OBLIGATIONS = "legal_obligations"


class MatchCriterion(StrEnum):
    SHARED_EXPERIENCE = "shared_experience"
    SHARED_GOALS = "shared_goals"
    SAME_FACILITY = "same_facility"
    RELEASE_AREA = "release_area"
    RECOVERY_EXPERIENCE = "recovery_experience"
    LANGUAGE = "language"
    INTERESTS = "interests"
    AVAILABILITY = "availability"
    MENTEE_PREFERENCE = "mentee_preference"


class Frequency(StrEnum):
    WEEKLY = "weekly"
    TWICE_MONTHLY = "twice_monthly"
    MONTHLY = "monthly"


class LocationKind(StrEnum):
    BOP_INSTITUTION = "bop_institution"
    RRC = "rrc"
    OFF_SITE = "off_site"
    REMOTE = "remote"

    @property
    def at_a_facility(self) -> bool:
        """Whether a location of this kind names its facility (a BOP institution, an RRC)."""
        return self in (LocationKind.BOP_INSTITUTION, LocationKind.RRC)

    @property
    def in_words(self) -> str:
        """The kind as a sentence says it, with its article: "a BOP institution", "an RRC",
        "an off-site", "a remote"."""
        return _KIND_WORDS[self]


_KIND_WORDS = {
    LocationKind.BOP_INSTITUTION: "a BOP institution",
    LocationKind.RRC: "an RRC",
    LocationKind.OFF_SITE: "an off-site",
    LocationKind.REMOTE: "a remote",
}


class PairingFlag(StrEnum):
    """Why a pairing waits for staff to review it (a flag is resolved or the pairing closed)."""

    MENTEE_INELIGIBLE = "mentee_ineligible"
    MENTOR_INELIGIBLE = "mentor_ineligible"
    MENTOR_SUSPENDED = "mentor_suspended"
    MENTOR_RETIRED = "mentor_retired"


class ClosureType(StrEnum):
    PLANNED = "planned"
    UNPLANNED = "unplanned"


class Initiator(StrEnum):
    MENTOR = "mentor"
    MENTEE = "mentee"
    PROGRAM = "program"


class Commitment(msgspec.Struct, frozen=True, kw_only=True):
    """The commitment agreement: how often, how long each meeting, for how many months."""

    frequency: Frequency = Frequency.WEEKLY
    minutes_per_meeting: int = 60
    months: int = 6


class Location(msgspec.Struct, frozen=True, kw_only=True):
    kind: LocationKind
    facility_code: str | None = None


class Closure(msgspec.Struct, frozen=True, kw_only=True):
    closure_type: ClosureType
    reason: str
    initiator: Initiator
    exit_interview_on: date | None = None
    rematch_eligible: bool = True
    post_closure_contact: str = ""
    # The members' derived exits the closure answers (domain/exit_review.py, decision 104);
    # empty in closures recorded before it and in those of pairings no exit waited on.
    exit_of: tuple[MenteeExit, ...] = ()


# How far from a new meeting's span the pairing's bookings are compared with it (decision 146):
# longer than the longest meeting, with room for one held later or earlier than booked.
NEAR = timedelta(days=1)


def meeting_time(at: datetime) -> str:
    """The instant a meeting is booked at, as the pairing keys it: UTC, so that one instant
    written with two offsets is one time."""
    if at.tzinfo is None:
        raise RuleViolation("scheduled_for must carry a UTC offset", code="naive_datetime")
    return at.astimezone(UTC).isoformat()


def check_location(mentor: Mentor, location: Location, today: date) -> None:
    """Meeting inside a BOP institution or an RRC needs an unexpired clearance for it."""
    if location.kind.at_a_facility:
        if not location.facility_code:
            raise RuleViolation(
                f"{location.kind.in_words} location names its facility", code="facility_required"
            )
        if not mentor.clearance_valid(location.facility_code, today):
            raise RuleViolation(
                f"the mentor has no unexpired volunteer clearance for {location.facility_code}",
                code="clearance_required",
            )
    elif location.facility_code:
        raise RuleViolation(
            f"{location.kind.in_words} location has no facility", code="facility_not_allowed"
        )


def check_caseload(mentor: Mentor, rules: MentoringRules) -> None:
    """A mentor takes a new individual mentee only below the grantee's caseload limit."""
    if len(mentor.individual_mentees) >= rules.max_individual_mentees:
        raise RuleViolation(
            f"the mentor already has {len(mentor.individual_mentees)} individual mentees "
            f"(limit {rules.max_individual_mentees})",
            code="caseload_limit",
        )


class Pairing(ProwdAggregate):
    if TYPE_CHECKING:  # state set by the events' apply(); not dataclass fields
        kind: PairingKind
        mentor_id: UUID
        members: list[UUID]
        focus: Focus | None
        location: Location
        commitment: Commitment
        first_meeting_on: date | None
        open_flags: dict[str, str]
        closure: Closure | None
        opened_at: datetime
        closed_at: datetime | None
        # The meeting booked at each instant (`meeting_time`), the latest if one was cancelled;
        # ids as text (the aggregate cache copies this state for every command). Meetings
        # recorded before decision 96 are not in it.
        meetings: dict[str, str]
        # The instant each meeting was last held at (`meeting_time`) by meeting id, if a hold
        # or an amendment of its span recorded it here (decision 148).
        held_times: dict[str, str]

    class Opened(ProwdAggregate.Created):
        kind: PairingKind
        mentor_id: UUID
        members: list[UUID]
        focus: Focus | None
        criteria: list[MatchCriterion]
        criteria_note: str
        location: Location
        commitment: Commitment

        def apply(self, p: Any) -> None:
            p.kind = self.kind
            p.mentor_id = self.mentor_id
            p.members = list(self.members)
            p.focus = self.focus
            p.location = self.location
            p.commitment = self.commitment
            p.first_meeting_on = None
            p.open_flags = {}
            p.closure = None
            p.opened_at = self.occurred_at
            p.closed_at = None
            p.meetings = {}
            p.held_times = {}

    class MemberAdded(ProwdAggregate.Event):
        participant_id: UUID

        def apply(self, p: Any) -> None:
            p.members.append(self.participant_id)

    class MemberRemoved(ProwdAggregate.Event):
        participant_id: UUID
        reason: str

        def apply(self, p: Any) -> None:
            p.members.remove(self.participant_id)

    class FirstMeetingRecorded(ProwdAggregate.Event):
        met_on: date

        def apply(self, p: Any) -> None:
            p.first_meeting_on = self.met_on

    class MeetingBooked(ProwdAggregate.Event):
        meeting_id: UUID
        scheduled_for: datetime

        def apply(self, p: Any) -> None:
            p.meetings[meeting_time(self.scheduled_for)] = str(self.meeting_id)

    class MeetingHeldTimeRecorded(ProwdAggregate.Event):
        meeting_id: UUID
        held_at: datetime
        duration_minutes: int

        def apply(self, p: Any) -> None:
            p.held_times[str(self.meeting_id)] = meeting_time(self.held_at)

    class FlaggedForReview(ProwdAggregate.Event):
        flag: str
        detail: str

        def apply(self, p: Any) -> None:
            p.open_flags[self.flag] = self.detail

    class FlagResolved(ProwdAggregate.Event):
        flag: str
        resolution: str

        def apply(self, p: Any) -> None:
            p.open_flags.pop(self.flag, None)

    class Closed(ProwdAggregate.Event):
        closure: Closure

        def apply(self, p: Any) -> None:
            p.closure = self.closure
            p.closed_at = self.occurred_at

    @classmethod
    def open(
        cls,
        *,
        kind: PairingKind,
        mentor: Mentor,
        members: list[UUID],
        rules: MentoringRules,
        location: Location,
        commitment: Commitment,
        criteria: list[MatchCriterion],
        criteria_note: str = "",
        focus: Focus | None = None,
        opened_at: datetime,
        zone: tzinfo = UTC,
    ) -> Pairing:
        """Open a pairing at `opened_at`; a clearance is judged on that day in the grantee's
        `zone`."""
        check_not_future(opened_at, "the time the pairing opens")
        if len(set(members)) != len(members):
            raise RuleViolation(
                "a participant appears twice in the pairing", code="duplicate_member"
            )
        if kind is PairingKind.INDIVIDUAL:
            if len(members) != 1:
                raise RuleViolation(
                    "an individual pairing has exactly one mentee", code="individual_size"
                )
            check_caseload(mentor, rules)
        else:
            if focus is None:
                raise RuleViolation("a group pairing has a shared focus", code="focus_required")
            if not rules.group_min <= len(members) <= rules.group_max:
                raise RuleViolation(
                    f"a group has {rules.group_min}-{rules.group_max} members", code="group_size"
                )
        if commitment.minutes_per_meeting <= 0 or commitment.minutes_per_meeting > 480:
            raise RuleViolation("a meeting lasts 1-480 minutes", code="invalid_commitment")
        if not 1 <= commitment.months <= 36:
            raise RuleViolation("a commitment lasts 1-36 months", code="invalid_commitment")
        mentor.check_can_take_pairing()
        check_location(mentor, location, opened_at.astimezone(zone).date())
        pairing: Pairing = cls._create(
            cls.Opened,
            id=uuid4(),
            kind=kind,
            mentor_id=mentor.id,
            members=members,
            focus=focus,
            criteria=criteria,
            criteria_note=criteria_note,
            location=location,
            commitment=commitment,
            occurred_at=opened_at,
        )
        return pairing

    @property
    def is_open(self) -> bool:
        return self.closure is None

    def _check_open(self) -> None:
        if not self.is_open:
            raise RuleViolation("the pairing is closed", code="pairing_closed")

    def add_member(self, participant_id: UUID, rules: MentoringRules, at: datetime) -> None:
        self._check_open()
        if self.kind is not PairingKind.GROUP:
            raise RuleViolation("members are added to groups only", code="not_a_group")
        if participant_id in self.members:
            raise RuleViolation("the participant is already in this group", code="duplicate_member")
        if len(self.members) >= rules.group_max:
            raise RuleViolation(f"a group has at most {rules.group_max} members", code="group_size")
        self.trigger_event(self.MemberAdded, participant_id=participant_id, occurred_at=at)

    def remove_member(
        self, participant_id: UUID, reason: str, rules: MentoringRules, at: datetime
    ) -> None:
        self._check_open()
        if self.kind is not PairingKind.GROUP:
            raise RuleViolation(
                "members are removed from groups only; close the pairing", code="not_a_group"
            )
        if participant_id not in self.members:
            raise RuleViolation("the participant is not in this group", code="not_a_member")
        if len(self.members) - 1 < rules.group_min:
            raise RuleViolation(
                f"a group keeps at least {rules.group_min} members; close the group instead",
                code="group_size",
            )
        self.trigger_event(
            self.MemberRemoved, participant_id=participant_id, reason=reason, occurred_at=at
        )

    def record_first_meeting(self, met_on: date, zone: tzinfo) -> None:
        """`met_on` is a day in the grantee's `zone`, compared with the match's day there."""
        self._check_open()
        if self.first_meeting_on is not None and met_on >= self.first_meeting_on:
            raise RuleViolation(
                f"the first meeting is already recorded on {self.first_meeting_on}",
                code="first_meeting_recorded",
            )
        if met_on < self.opened_at.astimezone(zone).date():
            raise RuleViolation("the first meeting cannot precede the match", code="before_match")
        check_not_future(datetime.combine(met_on, time.min, tzinfo=zone), "the first meeting")
        self.trigger_event(self.FirstMeetingRecorded, met_on=met_on, occurred_at=utcnow())

    def meeting_at(self, at: datetime) -> UUID | None:
        """The meeting booked at this instant (perhaps cancelled since), if any."""
        booked = self.meetings.get(meeting_time(at))
        return None if booked is None else UUID(booked)

    def meetings_near(self, starts: datetime, ends: datetime) -> list[UUID]:
        """The meetings booked, or recorded as held, within `NEAR` of the span from `starts`
        to `ends`, each once: those whose time may overlap it (a meeting lasts at most 8
        hours; one held before decision 148 is found by its booking, near which it usually
        was held)."""
        low, high = starts - NEAR, ends + NEAR
        times = [(at, meeting) for at, meeting in self.meetings.items()]
        times += [(at, meeting) for meeting, at in self.held_times.items()]
        near = [m for at, m in times if low <= datetime.fromisoformat(at) <= high]
        return [UUID(meeting) for meeting in dict.fromkeys(near)]

    def book_meeting(self, meeting_id: UUID, at: datetime) -> None:
        """Book the time of a new meeting (`Meeting.schedule` checks that it is free)."""
        self.trigger_event(
            self.MeetingBooked, meeting_id=meeting_id, scheduled_for=at, occurred_at=utcnow()
        )

    def record_held_time(self, meeting_id: UUID, held_at: datetime, minutes: int = 0) -> None:
        """Note when a meeting was held (a hold, or an amendment that moved or resized it),
        saved with the meeting once its span is checked free: as a new meeting's booking does,
        it makes two such commands decided at once take the pairing's version in turn, so the
        later one is decided again on what the first left (decision 148)."""
        self.trigger_event(
            self.MeetingHeldTimeRecorded,
            meeting_id=meeting_id,
            held_at=held_at,
            duration_minutes=minutes,
            occurred_at=utcnow(),
        )

    def flag(self, flag: PairingFlag, detail: str) -> None:
        """Flag for review (for instance the mentee left the RRC); never closes by itself."""
        if self.is_open and flag not in self.open_flags:
            self.trigger_event(
                self.FlaggedForReview, flag=str(flag), detail=detail, occurred_at=utcnow()
            )

    def resolve_flag(self, flag: PairingFlag, resolution: str) -> None:
        self._check_open()
        if flag not in self.open_flags:
            raise RuleViolation(f"no open flag {str(flag)!r}", code="no_such_flag")
        self.trigger_event(
            self.FlagResolved, flag=str(flag), resolution=resolution, occurred_at=utcnow()
        )

    def close(self, closure: Closure, at: datetime) -> None:
        self._check_open()
        check_not_future(at, "the closure time")
        if not closure.reason.strip():
            raise RuleViolation("a closure states its reason", code="reason_required")
        self.trigger_event(self.Closed, closure=closure, occurred_at=at)
