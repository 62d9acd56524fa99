"""What a grantee's log says of each participant, for the PIRL file (services/reports/pirl.py).

`collect` folds the events of `TOPICS`, in log order, into facts per participant, each with its
date in the world: one handler per event class, registered by the class it takes. `Subject` is
one participant as the file reports them for a quarter.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any, TypeVar
from uuid import UUID
from zoneinfo import ZoneInfo

from eventsourcing.utils import get_topic

from domain import definitions as rules
from domain.casework import CaseManagementContact
from domain.corrections import EntryDateCorrected, PersonalDetailsCorrected, PlacementCorrected
from domain.evaluation import CredentialType, Outcomes
from domain.facilities import Cohort
from domain.meetings import Attendance, HeldRecord, Meeting
from domain.mentors import Mentor
from domain.pairings import Pairing
from domain.participants import ExitReason, Participant
from domain.policy import ProgramPolicy
from domain.resources import Referral
from services.reports.quarterly import Quarter

# Days without service (and none planned) after which a participant has exited (DOMAIN.md).
NO_SERVICE_DAYS = rules.NO_SERVICE_DAYS
E = TypeVar("E")


@dataclass
class Facts:
    """What the log says of one participant, each fact with its date in the world."""

    participant_id: UUID
    date_of_birth: date | None
    ex_offender: bool
    entry: date
    cohort: str
    exit_date: date | None = None
    exit_reason: ExitReason | None = None
    contacts: list[date] = field(default_factory=list)
    # (pairing, joined on, left on)
    pairings: list[tuple[UUID, date, date | None]] = field(default_factory=list)
    employments: list[date] = field(default_factory=list)
    # days of their meetings scheduled and not cancelled
    scheduled: list[date] = field(default_factory=list)
    # case-management contacts and referral connections (participation-level services)
    services: list[date] = field(default_factory=list)
    credentials: list[tuple[date, CredentialType]] = field(default_factory=list)
    # the day they first left stage 1 (an RRC, home confinement, the community)
    left_stage_1: date | None = None


@dataclass
class Log:
    """The folded log: participants, and each cohort's graduation date."""

    people: dict[UUID, Facts] = field(default_factory=dict)
    graduations: dict[str, date | None] = field(default_factory=dict)


@dataclass
class _Fold:
    """The log folded so far, and what the fold keeps to date what follows."""

    zone: ZoneInfo
    log: Log = field(default_factory=Log)
    cohorts: dict[UUID, str] = field(default_factory=dict)
    # pairing -> its members now
    members: dict[UUID, list[UUID]] = field(default_factory=dict)
    meeting_pairing: dict[UUID, UUID] = field(default_factory=dict)
    # mentor -> the participant they are (graduate mentors); pairing -> its mentor
    mentor_person: dict[UUID, UUID] = field(default_factory=dict)
    pairing_mentor: dict[UUID, UUID] = field(default_factory=dict)
    # meeting -> its record as last amended, and the pairing's members when it was held
    held: dict[UUID, tuple[HeldRecord, list[UUID]]] = field(default_factory=dict)
    # pairing -> (opened on, closed on) of pairings a participant mentors
    mentored: dict[UUID, tuple[date, date | None]] = field(default_factory=dict)
    # referral -> whose it is
    referral_person: dict[UUID, UUID] = field(default_factory=dict)
    # meeting -> the day it is scheduled for, while not cancelled
    scheduled: dict[UUID, date] = field(default_factory=dict)
    # the program policy's mentoring_is_service (None: never set)
    mentoring: bool | None = None

    def day(self, e: Participant.Event) -> date:
        return e.occurred_at.astimezone(self.zone).date()


# The fold's handlers by the event class they take (the table erases their event types).
_HANDLERS: dict[type[Any], Callable[[_Fold, Any], None]] = {}


def _folds(
    event_class: type[E],
) -> Callable[[Callable[[_Fold, E], None]], Callable[[_Fold, E], None]]:
    def register(handler: Callable[[_Fold, E], None]) -> Callable[[_Fold, E], None]:
        _HANDLERS[event_class] = handler
        return handler

    return register


@_folds(Participant.Enrolled)
def _enrolled(f: _Fold, e: Participant.Enrolled) -> None:
    f.log.people[e.originator_id] = Facts(
        e.originator_id,
        e.personal.date_of_birth,
        e.ex_offender_at_entry,
        e.program_entry_date,
        e.cohort_code,
    )


@_folds(PersonalDetailsCorrected)
def _corrected(f: _Fold, e: PersonalDetailsCorrected) -> None:
    f.log.people[e.originator_id].date_of_birth = e.personal.date_of_birth


@_folds(EntryDateCorrected)
def _entry_corrected(f: _Fold, e: EntryDateCorrected) -> None:
    f.log.people[e.originator_id].entry = e.program_entry_date


@_folds(PlacementCorrected)
def _placement_corrected(f: _Fold, e: PlacementCorrected) -> None:
    f.log.people[e.originator_id].cohort = e.cohort_code


@_folds(Participant.Exited)
def _exited(f: _Fold, e: Participant.Exited) -> None:
    person = f.log.people[e.originator_id]
    person.exit_date, person.exit_reason = e.exit_date, e.reason


@_folds(Participant.StageTransitioned)
def _transitioned(f: _Fold, e: Participant.StageTransitioned) -> None:
    if int(e.from_stage) == 1:
        person = f.log.people[e.originator_id]
        day = f.day(e)
        person.left_stage_1 = day if person.left_stage_1 is None else min(person.left_stage_1, day)


@_folds(Participant.PairingJoined)
def _joined(f: _Fold, e: Participant.PairingJoined) -> None:
    f.log.people[e.originator_id].pairings.append((e.pairing_id, f.day(e), None))


@_folds(Participant.PairingLeft)
def _left(f: _Fold, e: Participant.PairingLeft) -> None:
    spans = f.log.people[e.originator_id].pairings
    for i, (pairing, joined, left) in enumerate(spans):
        if pairing == e.pairing_id and left is None:
            spans[i] = (pairing, joined, f.day(e))


@_folds(Pairing.Opened)
def _opened(f: _Fold, e: Pairing.Opened) -> None:
    f.members[e.originator_id] = list(e.members)
    f.pairing_mentor[e.originator_id] = e.mentor_id
    f.mentored[e.originator_id] = (f.day(e), None)


@_folds(Pairing.Closed)
def _closed(f: _Fold, e: Pairing.Closed) -> None:
    f.mentored[e.originator_id] = (f.mentored[e.originator_id][0], f.day(e))


@_folds(ProgramPolicy.Set)
def _policy_set(f: _Fold, e: ProgramPolicy.Set) -> None:
    f.mentoring = e.rules.mentoring_is_service


@_folds(ProgramPolicy.Changed)
def _policy_changed(f: _Fold, e: ProgramPolicy.Changed) -> None:
    f.mentoring = e.rules.mentoring_is_service


@_folds(Mentor.Registered)
def _mentor(f: _Fold, e: Mentor.Registered) -> None:
    if e.participant_id is not None:
        f.mentor_person[e.originator_id] = e.participant_id


@_folds(Pairing.MemberAdded)
def _member_added(f: _Fold, e: Pairing.MemberAdded) -> None:
    f.members[e.originator_id].append(e.participant_id)


@_folds(Pairing.MemberRemoved)
def _member_removed(f: _Fold, e: Pairing.MemberRemoved) -> None:
    f.members[e.originator_id].remove(e.participant_id)


@_folds(Meeting.Scheduled)
def _scheduled(f: _Fold, e: Meeting.Scheduled) -> None:
    f.meeting_pairing[e.originator_id] = e.pairing_id
    f.scheduled[e.originator_id] = e.scheduled_for.astimezone(f.zone).date()


@_folds(Meeting.Cancelled)
def _cancelled(f: _Fold, e: Meeting.Cancelled) -> None:
    f.scheduled.pop(e.originator_id, None)


@_folds(Meeting.Held)
def _held(f: _Fold, e: Meeting.Held) -> None:
    f.held[e.originator_id] = (e.record, list(f.members[f.meeting_pairing[e.originator_id]]))


@_folds(Meeting.Amended)
def _amended(f: _Fold, e: Meeting.Amended) -> None:
    f.held[e.originator_id] = (e.record, f.held[e.originator_id][1])


@_folds(Outcomes.EmploymentStarted)
def _employed(f: _Fold, e: Outcomes.EmploymentStarted) -> None:
    f.log.people[e.participant_id].employments.append(e.employment.started_on)


@_folds(Outcomes.CredentialEarned)
def _credential(f: _Fold, e: Outcomes.CredentialEarned) -> None:
    c = e.credential
    f.log.people[e.participant_id].credentials.append((c.earned_on, c.credential_type))


@_folds(CaseManagementContact)
def _case_contact(f: _Fold, e: CaseManagementContact) -> None:
    f.log.people[e.originator_id].services.append(e.contacted_on)


@_folds(Referral.Made)
def _referral(f: _Fold, e: Referral.Made) -> None:
    f.referral_person[e.originator_id] = e.participant_id


@_folds(Referral.Connected)
def _connected(f: _Fold, e: Referral.Connected) -> None:
    person = f.referral_person.get(e.originator_id)
    if person in f.log.people:
        f.log.people[person].services.append(e.connected_on)


@_folds(Cohort.Started)
def _cohort_started(f: _Fold, e: Cohort.Started) -> None:
    f.cohorts[e.originator_id] = e.code
    f.log.graduations[e.code] = None


@_folds(Cohort.Graduated)
def _graduated(f: _Fold, e: Cohort.Graduated) -> None:
    f.log.graduations[f.cohorts[e.originator_id]] = e.graduated_on


TOPICS = tuple(get_topic(cls) for cls in _HANDLERS)


def collect(events: Iterable[object], zone: ZoneInfo) -> Log:
    """Fold events (of `TOPICS`, in log order) into facts per participant."""
    fold = _Fold(zone)
    for e in events:
        handler = _HANDLERS.get(type(e))
        if handler is not None:
            handler(fold, e)
    # Under the program policy in force, a pairing a participant mentors is planned service for
    # them and its held meetings are services.
    mentoring = rules.mentoring_counts(fold.mentoring)
    for pairing_id, (opened, closed) in fold.mentored.items():
        person = fold.mentor_person.get(fold.pairing_mentor[pairing_id])
        if mentoring and person in fold.log.people:
            fold.log.people[person].pairings.append((pairing_id, opened, closed))
    for meeting_id, on in fold.scheduled.items():
        pairing_id = fold.meeting_pairing[meeting_id]
        expected = set(fold.members[pairing_id])
        person = fold.mentor_person.get(fold.pairing_mentor[pairing_id])
        if mentoring and person is not None:
            expected.add(person)
        for participant_id in expected & fold.log.people.keys():
            fold.log.people[participant_id].scheduled.append(on)
    for meeting_id, (record, present) in fold.held.items():
        on = record.occurred_at.astimezone(zone).date()
        served = set(_attended(record, present))
        mentor = fold.pairing_mentor.get(fold.meeting_pairing[meeting_id])
        if mentoring and mentor in fold.mentor_person:
            served.add(fold.mentor_person[mentor])
        for participant_id in sorted(served):
            if participant_id in fold.log.people:
                fold.log.people[participant_id].contacts.append(on)
    return fold.log


def _attended(record: HeldRecord, members: list[UUID]) -> list[UUID]:
    """Who took part: those marked present, or every member when attendance was not taken."""
    if not record.attendance:
        return members
    return [p for p, a in record.attendance.items() if a is Attendance.PRESENT]


@dataclass(frozen=True)
class Subject:
    """A participant as the file reports them for a quarter: facts up to its last day, or up
    to the day the file is made while the quarter is still in progress (`made_on`)."""

    identifier: str
    facts: Facts
    quarter: Quarter
    graduated_on: date | None
    made_on: date

    @property
    def as_of(self) -> date:
        """The day the file stands at: the quarter's last day once it is over, else the day it
        is made, as the quarterly report and the caseload stand at today (a 90-day exit taking
        effect later in the quarter has not happened yet)."""
        return min(self.quarter.end, self.made_on)

    @property
    def last_contact(self) -> date | None:
        """The most recent contact of this period of participation: up to the quarter's end, and
        not after a derived exit that has taken effect (service after it is a new period)."""
        f = self.facts
        recorded = f.exit_date is not None and f.exit_date <= self.as_of
        exit = None if recorded else self.exit
        through = self.as_of if exit is None else min(self.as_of, exit[0])
        return max((d for d in f.contacts if d <= through), default=None)

    @property
    def exit(self) -> tuple[date, ExitReason] | None:
        """The recorded exit dated within the quarter or before it, else the derived one."""
        f = self.facts
        if f.exit_date is not None and f.exit_reason is not None and f.exit_date <= self.as_of:
            return f.exit_date, f.exit_reason
        ended = self._classes_ended
        served = (f.entry, *f.contacts, ended, *f.services)
        services = [(d, 0) for d in served if d is not None and d <= self.as_of]
        spans = [(joined, left) for _, joined, left in f.pairings]
        ends = rules.planning_ends(self._classes_end, spans, f.scheduled)
        derived = rules.derived_exit(self.as_of, services, self._planned, ends, entry=f.entry)
        if derived is not None:
            return derived[0], ExitReason.NO_SERVICE_90_DAYS
        return None

    @property
    def _classes_end(self) -> date | None:
        """The end of their class hours (domain/definitions.py `classes_end`)."""
        return rules.classes_end(self.graduated_on, self.facts.left_stage_1)

    @property
    def _classes_ended(self) -> date | None:
        g = self._classes_end
        return g if g is not None and g <= self.as_of else None

    def _planned(self, day: date) -> bool:
        """Classes not yet graduated, a pairing the participant is in (or mentors) on `day`,
        or a meeting of theirs scheduled in the next days (domain/definitions.py)."""
        spans = [(joined, left) for _, joined, left in self.facts.pairings]
        scheduled = self.facts.scheduled
        return rules.service_planned(day, self._classes_end, spans, scheduled)

    def employed_after_exit(self, n: int) -> str:
        """1 when a recorded job started by the end of the n-th quarter after the exit quarter;
        empty while that quarter has not ended by the report's quarter, or nothing is recorded."""
        exit = self.exit
        if exit is None:
            return ""
        quarter = Quarter.of(exit[0]).after(n)
        if quarter > self.quarter:
            return ""
        return "1" if any(d <= quarter.end for d in self.facts.employments) else ""

    @property
    def credential(self) -> tuple[date, CredentialType] | None:
        """The first credential attained from program entry up to the end of the quarter."""
        earned = [c for c in self.facts.credentials if self.facts.entry <= c[0] <= self.as_of]
        return min(earned, default=None)
