"""Use cases for pairings: a mentor with one mentee or a small group.

A match saves the pairing, the mentor and every member in one transaction: the mentor's
caseload limit and a participant's single open individual pairing are rules of those
aggregates, so two concurrent matches cannot both pass them (one gets a 409 and retries).
A participant's move re-checks the pairings it touches and flags (never closes) those it made
ineligible (`review_after_move`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, datetime
from uuid import UUID

import msgspec

from domain.common import NotFound, ProwdAggregate, RuleViolation, utcnow
from domain.eligibility import PersonFacts, check_eligible, mentor_kinds, status_counts
from domain.exit_review import MenteeExit, exit_review
from domain.mentors import Mentor
from domain.pairings import (
    Closure,
    Commitment,
    Focus,
    Location,
    LocationKind,
    MatchCriterion,
    Pairing,
    PairingFlag,
    PairingKind,
    check_caseload,
    check_location,
)
from domain.participants import Participant, Status
from domain.policy import MentoringRules, MentorKind
from services.app.facilities import Facilities
from services.app.mentors import Mentors
from services.app.participants import Participants
from services.app.policy import Policy
from services.store.ledger import Command, LedgerApplication, Saved


@dataclass(frozen=True)
class MentorOption:
    """A mentor as a possible match for one mentee: the kinds of mentor they are to them
    (domain/eligibility.py), what would refuse the match (none: eligible) and the facilities
    they hold an unexpired volunteer clearance for."""

    mentor: Mentor
    kinds: frozenset[MentorKind]
    refusals: tuple[RuleViolation, ...]
    cleared_for: tuple[str, ...]


@dataclass
class Pairings:
    ledger: LedgerApplication
    policy: Policy
    facilities: Facilities
    participants: Participants
    mentors: Mentors

    # -- pairings -----------------------------------------------------------------------
    def pairing(self, pairing_id: UUID) -> Pairing:
        return self.ledger.load(Pairing, pairing_id, "pairing")

    def check_mentored_by(self, pairing_id: UUID, subject: str) -> None:
        """The pairing is one the mentor with token subject `subject` mentors; otherwise it is
        not found (a peer mentor acts only on their own pairings)."""
        pairing = self.pairing(pairing_id)
        if self.mentors.mentor(pairing.mentor_id).subject != subject:
            raise NotFound("pairing not found")

    def _facts(self, participant: Participant) -> PersonFacts:
        cohort = self.facilities.cohort(participant.cohort_code)
        return PersonFacts(
            participant_id=participant.id,
            stage=participant.stage,
            placement=participant.placement,
            facility_code=participant.facility_code,
            status=participant.status,
            cohort_start=cohort.start_date,
            cohort_graduated_on=cohort.graduated_on,
        )

    def _as_mentor(self, participant: Participant, on: date | None) -> PersonFacts:
        """A mentor's own participant record as eligibility reads it on day `on` (None:
        today): their derived exit, once in effect, counts as a recorded exit (decision 101)."""
        facts = self._facts(participant)
        if status_counts(facts) and self.participants.derived_exit_of(participant, on):
            return replace(facts, status=Status.EXITED)
        return facts

    def _mentor_facts(self, mentor: Mentor, on: date | None = None) -> PersonFacts | None:
        if mentor.participant_id is None:
            return None
        return self._as_mentor(self.participants.participant(mentor.participant_id), on)

    def _check_member(
        self,
        rules: MentoringRules,
        mentor: Mentor,
        mentor_person: PersonFacts | None,
        member: Participant,
        at: datetime,
    ) -> None:
        """Who may mentor this member at instant `at`: their derived exit, then the stage rule."""
        self.participants.check_not_derived_exit(member, "mentee_exited", on=at)
        check_eligible(rules, mentor, mentor_person, self._facts(member), self.ledger.day_of(at))

    def match_refusals(
        self,
        rules: MentoringRules,
        mentor: Mentor,
        mentee: Participant,
        location: Location | None,
        at: datetime,
    ) -> list[RuleViolation]:
        """Every rule that would refuse an individual match of `mentor` with `mentee` opened at
        `at` (meeting at `location`; None: not checked), in the order `open_pairing` checks
        them, so the first is its refusal; the checks are the command's own functions."""
        day = self.ledger.day_of(at)
        mentor_person = self._mentor_facts(mentor, day)
        checks: list[Callable[[], None]] = [
            lambda: self._check_member(rules, mentor, mentor_person, mentee, at),
            lambda: check_caseload(mentor, rules),
            mentor.check_can_take_pairing,
            lambda: None if location is None else check_location(mentor, location, day),
            lambda: mentee.check_can_join_pairing(individual=True),
        ]
        refusals: dict[str, RuleViolation] = {}
        for check in checks:
            try:
                check()
            except RuleViolation as refused:
                refusals.setdefault(refused.code, refused)
        return list(refusals.values())

    def mentor_options(
        self, participant_id: UUID, mentor_ids: list[UUID], facility: str | None
    ) -> tuple[MentoringRules, list[MentorOption]]:
        """These mentors for the participant as an individual mentee, now (the clock's
        instant): what each is to them, and what would refuse the match (meeting inside
        `facility`; None: no meeting place checked); with the rules read."""
        mentee = self.participants.participant(participant_id)
        location = None
        if facility is not None:
            kind = LocationKind(self.facilities.facility(facility).kind.value)
            location = Location(kind=kind, facility_code=facility)
        rules, at = self.policy.rules(), utcnow()
        today = self.ledger.day_of(at)
        facts = self._facts(mentee)
        options = []
        for mentor_id in mentor_ids:
            mentor = self.mentors.mentor(mentor_id)
            options.append(
                MentorOption(
                    mentor=mentor,
                    kinds=frozenset(
                        mentor_kinds(mentor, self._mentor_facts(mentor, today), facts, today)
                    ),
                    refusals=tuple(self.match_refusals(rules, mentor, mentee, location, at)),
                    cleared_for=tuple(
                        code
                        for code in sorted(mentor.clearances)
                        if mentor.clearance_valid(code, today)
                    ),
                )
            )
        return rules, options

    def open_pairing(
        self,
        command: Command,
        *,
        kind: PairingKind,
        mentor_id: UUID,
        member_ids: list[UUID],
        location: Location,
        commitment: Commitment,
        criteria: list[MatchCriterion],
        criteria_note: str = "",
        focus: Focus | None = None,
        opened_at: datetime | None = None,
    ) -> Saved[Pairing]:
        """Match a mentor with one mentee or a small group, checking every eligibility rule."""
        rules = self.policy.rules()
        mentor = self.mentors.mentor(mentor_id)
        at = opened_at or utcnow()
        mentor_person = self._mentor_facts(mentor, self.ledger.day_of(at))
        members = [self.participants.participant(pid) for pid in member_ids]
        for member in members:
            self._check_member(rules, mentor, mentor_person, member, at)
        pairing = Pairing.open(
            kind=kind,
            mentor=mentor,
            members=member_ids,
            rules=rules,
            location=location,
            commitment=commitment,
            criteria=criteria,
            criteria_note=criteria_note,
            focus=focus,
            opened_at=at,
            zone=self.ledger.zone,
        )
        individual = kind is PairingKind.INDIVIDUAL
        mentor.join_pairing(pairing.id, member_ids[0] if individual else None, at)
        for member in members:
            member.join_pairing(pairing.id, individual=individual, at=at)
        return self.ledger.record(pairing, command, also=[mentor, *members])

    def add_group_member(
        self, command: Command, pairing_id: UUID, participant_id: UUID
    ) -> Saved[Pairing]:
        """Add a participant to a group pairing (eligibility is checked as for a new match)."""
        pairing = self.pairing(pairing_id)
        rules = self.policy.rules()
        mentor = self.mentors.mentor(pairing.mentor_id)
        member = self.participants.participant(participant_id)
        mentor.check_can_take_pairing()
        self.participants.check_not_derived_exit(member, "mentee_exited")
        at = utcnow()
        today = self.ledger.day_of(at)
        check_eligible(rules, mentor, self._mentor_facts(mentor, today), self._facts(member), today)
        pairing.add_member(participant_id, rules, at)
        member.join_pairing(pairing.id, individual=False, at=at)
        return self.ledger.record(pairing, command, also=[member])

    def remove_group_member(
        self, command: Command, pairing_id: UUID, participant_id: UUID, reason: str
    ) -> Saved[Pairing]:
        """Remove a participant from a group pairing."""
        pairing = self.pairing(pairing_id)
        member = self.participants.participant(participant_id)
        at = utcnow()
        pairing.remove_member(participant_id, reason, self.policy.rules(), at)
        member.leave_pairing(pairing.id, individual=False, at=at)
        return self.ledger.record(pairing, command, also=[member])

    def record_first_meeting(
        self, command: Command, pairing_id: UUID, met_on: date
    ) -> Saved[Pairing]:
        """Record the date of the pairing's first meeting."""
        pairing = self.pairing(pairing_id)
        pairing.record_first_meeting(met_on, self.ledger.zone)
        return self.ledger.record(pairing, command)

    def resolve_flag(
        self, command: Command, pairing_id: UUID, flag: PairingFlag, resolution: str
    ) -> Saved[Pairing]:
        """Resolve a review flag (the pairing stays open)."""
        pairing = self.pairing(pairing_id)
        pairing.resolve_flag(flag, resolution)
        return self.ledger.record(pairing, command)

    def exits_to_review(
        self, pairing: Pairing, members: list[Participant] | None = None, on: date | None = None
    ) -> tuple[MenteeExit, ...]:
        """The derived exits of an open pairing's members in effect on day `on` (None: today),
        which wait for staff to end or keep the pairing (decision 104)."""
        if not pairing.is_open:
            return ()
        if members is None:
            members = [self.participants.participant(pid) for pid in pairing.members]
        exited = {}
        for member in members:
            exited_on = self.participants.derived_exit_of(member, on)
            if exited_on is not None:
                exited[member.id] = exited_on
        return exit_review(pairing.is_open, pairing.members, exited)

    def close_pairing(
        self, command: Command, pairing_id: UUID, closure: Closure, at: datetime | None = None
    ) -> Saved[Pairing]:
        """Close a pairing with type, reason, initiator, exit interview and rematch eligibility.
        The closure cites the members' derived exits in effect on its day (`exit_of`)."""
        pairing = self.pairing(pairing_id)
        when = at or utcnow()
        members = [self.participants.participant(pid) for pid in pairing.members]
        exits = self.exits_to_review(pairing, members, self.ledger.day_of(when))
        pairing.close(msgspec.structs.replace(closure, exit_of=exits), when)
        individual = pairing.kind is PairingKind.INDIVIDUAL
        mentor = self.mentors.mentor(pairing.mentor_id)
        mentor.leave_pairing(pairing.id, pairing.members[0] if individual else None, when)
        for member in members:
            member.leave_pairing(pairing.id, individual=individual, at=when)
        return self.ledger.record(pairing, command, also=[mentor, *members])

    # -- stage transitions review the pairings they touch --------------------------------
    def review_after_move(self, participant: Participant) -> list[ProwdAggregate]:
        """Flag (never close) pairings that the participant's move made ineligible."""
        if not participant.open_pairings and participant.mentor_id is None:
            return []
        rules = self.policy.rules()
        today = self.ledger.day_of(utcnow())
        flagged: list[ProwdAggregate] = []
        facts = self._facts(participant)
        for pairing_id in sorted(participant.open_pairings):
            pairing = self.pairing(pairing_id)
            mentor = self.mentors.mentor(pairing.mentor_id)
            try:
                check_eligible(rules, mentor, self._mentor_facts(mentor), facts, today)
            except RuleViolation as e:
                pairing.flag(PairingFlag.MENTEE_INELIGIBLE, e.detail)
                flagged.append(pairing)
        if participant.mentor_id is not None:
            mentor = self.mentors.mentor(participant.mentor_id)
            as_mentor = self._as_mentor(participant, None) if mentor.open_pairings else facts
            for pairing_id in sorted(mentor.open_pairings):
                pairing = self.pairing(pairing_id)
                for member_id in pairing.members:
                    member = self._facts(self.participants.participant(member_id))
                    try:
                        check_eligible(rules, mentor, as_mentor, member, today)
                    except RuleViolation as e:
                        pairing.flag(PairingFlag.MENTOR_INELIGIBLE, e.detail)
                        flagged.append(pairing)
                        break
        return flagged
