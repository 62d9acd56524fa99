"""Use cases for meetings and class hours; weeks are counted in the grantee's time zone."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

import msgspec

from domain import clock
from domain.cadence import CadenceWeek, cadence_weeks, iso_week, week_name
from domain.class_sessions import CLASS_KINDS
from domain.common import ProwdAggregate, RuleViolation, check_not_future, utcnow
from domain.goals import Goal
from domain.meetings import HeldRecord, Meeting, NoShow, NoteReader, check_no_overlap
from domain.mentors import Mentor
from domain.pairings import Location, Pairing
from domain.participants import Stage
from domain.policy import Cadence, ClassHoursRule
from projections.base import Tables
from projections.meetings import week_tallies
from services.app.class_sessions import ClassSessions
from services.app.facilities import Facilities
from services.app.mentors import Mentors
from services.app.pairings import Pairings
from services.app.participants import Participants
from services.app.policy import Policy
from services.store.ledger import Command, LedgerApplication, Saved


@dataclass(frozen=True)
class PairingCadence:
    """A pairing's cadence and its most recent weeks, oldest first."""

    cadence: Cadence
    weeks: list[CadenceWeek]


@dataclass
class Meetings:
    ledger: LedgerApplication
    policy: Policy
    facilities: Facilities
    participants: Participants
    mentors: Mentors
    pairings: Pairings
    class_sessions: ClassSessions

    def week_of(self, moment: datetime) -> str:
        return iso_week(moment, self.ledger.zone)

    def meeting(self, meeting_id: UUID) -> Meeting:
        return self.ledger.load(Meeting, meeting_id, "meeting")

    def _checked(self, pairing: Pairing, record: HeldRecord) -> HeldRecord:
        """Apply the rules that need other aggregates; may mark the record as in class hours."""
        check_not_future(record.occurred_at, "the time the meeting was held")
        if record.occurred_at < pairing.opened_at:
            raise RuleViolation("the meeting cannot precede the match", code="before_match")
        for goal_id in record.goals_discussed:
            goal = self.ledger.load(Goal, goal_id, "goal")
            if goal.participant_id not in pairing.members:
                raise RuleViolation(
                    "a goal discussed must be a goal of someone in the pairing",
                    code="goal_of_other_participant",
                )
        mentor = self._check_place(pairing, record.location, record.occurred_at)
        start = record.occurred_at.astimezone(self.ledger.zone)
        end = start + timedelta(minutes=record.duration_minutes)
        end_time = end.time() if end.date() == start.date() else datetime.max.time()
        in_class = False
        cohorts = []
        for member_id in pairing.members:
            member = self.participants.participant(member_id)
            if member.stage is Stage.PRE_RELEASE:
                cohort = self.facilities.cohort(member.cohort_code)
                cohorts.append(cohort)
                if cohort.in_class(start.isoweekday(), start.time(), end_time):
                    in_class = True
        # A class session under the facility's approval may take place in class hours.
        self.class_sessions.check_session(pairing, mentor, record, cohorts)
        if in_class and record.session in CLASS_KINDS:
            record = msgspec.structs.replace(record, during_class_hours=True)
        elif in_class:
            if self.policy.rules().class_hours_rule is ClassHoursRule.REFUSE:
                raise RuleViolation(
                    "stage-1 mentoring meets outside class hours; this meeting overlaps a class"
                    " period (a class session needs the facility's approval: `session`,"
                    " `approval_id`)",
                    code="during_class_hours",
                )
            record = msgspec.structs.replace(record, during_class_hours=True)
        return record

    def _check_place(self, pairing: Pairing, location: Location, at: datetime) -> Mentor:
        """Where a meeting of the pairing may be at `at`: a facility named exactly when the
        kind has one, and at a facility the mentor's volunteer clearance valid on that day.
        The same rules when a meeting is scheduled as when it is recorded held, so that a
        mentor learns of a refusal when planning, not on the day. Returns the mentor."""
        mentor = self.mentors.mentor(pairing.mentor_id)
        if location.kind.at_a_facility:
            if not location.facility_code:
                raise RuleViolation(
                    f"{location.kind.in_words} meeting names its facility", code="facility_required"
                )
            self.facilities.facility(location.facility_code)
            if not mentor.clearance_valid(
                location.facility_code, at.astimezone(self.ledger.zone).date()
            ):
                raise RuleViolation(
                    f"the mentor has no unexpired volunteer clearance for {location.facility_code} on that date",
                    code="clearance_required",
                )
        elif location.facility_code:
            raise RuleViolation(
                f"{location.kind.in_words} meeting has no facility", code="facility_not_allowed"
            )
        return mentor

    def _check_overlap(
        self, pairing: Pairing, starts: datetime, minutes: int, itself: UUID | None = None
    ) -> None:
        """A pairing meets once at a time: no span overlaps another of its meetings that is
        not cancelled (`DuplicateMeeting`, naming it)."""
        near = pairing.meetings_near(starts, starts + timedelta(minutes=minutes))
        check_no_overlap(starts, minutes, [self.meeting(m) for m in near if m != itself], itself)

    def _first_meeting(self, pairing: Pairing, record: HeldRecord) -> list[ProwdAggregate]:
        # Meetings may be recorded out of order: the first meeting is the earliest held.
        met_on = record.occurred_at.astimezone(self.ledger.zone).date()
        if not pairing.is_open:
            return []
        # Dated in the grantee's zone, as the match is: a meeting held after the match is on
        # or after its day (kept within it all the same, and not after today there).
        zone = self.ledger.zone
        opened_on = pairing.opened_at.astimezone(zone).date()
        met_on = min(max(met_on, opened_on), clock.today(zone))
        if pairing.first_meeting_on is None or met_on < pairing.first_meeting_on:
            pairing.record_first_meeting(met_on, zone)
            return [pairing]
        return []

    def schedule_meeting(
        self,
        command: Command,
        *,
        pairing_id: UUID,
        scheduled_for: datetime,
        planned_minutes: int,
        location: Location,
        held: HeldRecord | None = None,
    ) -> Saved[Meeting]:
        """Schedule a meeting of a pairing; with `held`, record it as held at once. Refused
        (`DuplicateMeeting`, naming it) while the pairing has a meeting at that time, or one
        whose span overlaps the new meeting's (as held, else as planned); the pairing, which
        books the time, is saved with the meeting, so that of two such requests decided at
        once one wins the pairing's version and the other is decided again on what it left."""
        pairing = self.pairings.pairing(pairing_id)
        booked = pairing.meeting_at(scheduled_for)
        meeting = Meeting.schedule(
            pairing=pairing,
            scheduled_for=scheduled_for,
            planned_minutes=planned_minutes,
            location=location,
            week=self.week_of(scheduled_for),
            booked=None if booked is None else self.meeting(booked),
        )
        if held is not None:
            held = self._checked(pairing, held)
            meeting.hold(held, pairing, self.week_of(held.occurred_at))
            self._first_meeting(pairing, held)
        else:
            # A meeting only planned: the rules of its time and place hold already.
            if scheduled_for < pairing.opened_at:
                raise RuleViolation("the meeting cannot precede the match", code="before_match")
            self._check_place(pairing, location, scheduled_for)
        # Its span as held, else as planned (`Meeting.span`).
        if held is not None:
            self._check_overlap(pairing, held.occurred_at, held.duration_minutes, meeting.id)
        else:
            self._check_overlap(pairing, scheduled_for, planned_minutes, meeting.id)
        return self.ledger.record(meeting, command, also=[pairing])

    def hold_meeting(
        self, command: Command, meeting_id: UUID, record: HeldRecord
    ) -> Saved[Meeting]:
        """Record that a scheduled meeting was held; refused (`DuplicateMeeting`) if its
        span as held overlaps another of the pairing's meetings. The pairing notes the time
        and is saved with the meeting, so two holds or amendments decided at once are
        serialised by its version, as new meetings are."""
        meeting = self.meeting(meeting_id)
        pairing = self.pairings.pairing(meeting.pairing_id)
        record = self._checked(pairing, record)
        self._check_overlap(pairing, record.occurred_at, record.duration_minutes, meeting_id)
        meeting.hold(record, pairing, self.week_of(record.occurred_at))
        self._first_meeting(pairing, record)
        pairing.record_held_time(meeting_id, record.occurred_at, record.duration_minutes)
        return self.ledger.record(meeting, command, also=[pairing])

    def miss_meeting(
        self, command: Command, meeting_id: UUID, no_show_by: NoShow, note: str = ""
    ) -> Saved[Meeting]:
        """Record a no-show (by the mentor, the mentee or both)."""
        meeting = self.meeting(meeting_id)
        meeting.miss(no_show_by, note, self.week_of(meeting.scheduled_for))
        return self.ledger.record(meeting, command)

    def cancel_meeting(
        self, command: Command, meeting_id: UUID, reason: str, excused: bool
    ) -> Saved[Meeting]:
        """Cancel a scheduled meeting; an excused cancellation excuses its week in the cadence."""
        meeting = self.meeting(meeting_id)
        meeting.cancel(reason, excused, self.week_of(meeting.scheduled_for))
        return self.ledger.record(meeting, command)

    def amend_meeting(
        self,
        command: Command,
        meeting_id: UUID,
        reason: str,
        record: HeldRecord,
        *,
        reader: NoteReader,
        keep_part2: bool = False,
        keep_note: bool = False,
    ) -> Saved[Meeting]:
        """Correct a held meeting's record (a new event with its reason). With `keep_part2`
        and `keep_note` the summary's Part 2 tag and the confidential note stay as they were;
        `reader` may change a note only if it may read it (`NoteWithheld`)."""
        meeting = self.meeting(meeting_id)
        record = meeting.amendment(record, reader, keep_part2=keep_part2, keep_note=keep_note)
        pairing = self.pairings.pairing(meeting.pairing_id)
        record = self._checked(pairing, record)
        self._check_overlap(pairing, record.occurred_at, record.duration_minutes, meeting_id)
        was = meeting.span
        meeting.amend(reason, record, pairing, self.week_of(record.occurred_at))
        # An amendment that moves a meeting earlier may make it the first meeting.
        changed = self._first_meeting(pairing, record)
        if meeting.span != was:
            # Moved or resized: the pairing notes it, as a hold does (serialised by it).
            pairing.record_held_time(meeting_id, record.occurred_at, record.duration_minutes)
            changed = [pairing]
        return self.ledger.record(meeting, command, also=changed)

    def cadence(
        self, pairing_id: UUID, weeks: int, meetings_view: Callable[[], Tables]
    ) -> PairingCadence:
        """The last `weeks` weeks of a pairing's cadence compliance, per ISO week of the
        grantee's time zone, from the match to today (or to the closure). The cadence is the
        policy's for the stage of the pairing's first member. `meetings_view` resolves the
        view's live build, once the pairing is found (an unknown pairing is not found rather
        than waited for)."""
        pairing = self.pairings.pairing(pairing_id)
        stage = (
            int(self.participants.participant(pairing.members[0]).stage) if pairing.members else 1
        )
        cadence = self.policy.rules().cadence_for(stage)
        tallies = week_tallies(self.ledger.db, meetings_view(), pairing_id)
        zone = self.ledger.zone
        current = week_name(clock.today(zone))
        first = iso_week(pairing.opened_at, zone)
        last = current if pairing.is_open else iso_week(pairing.closed_at or utcnow(), zone)
        return PairingCadence(
            cadence, cadence_weeks(first, last, current, tallies, cadence)[-weeks:]
        )
