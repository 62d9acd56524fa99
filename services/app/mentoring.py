"""Use cases for peer mentors, the program policy and pairings.

A match saves the pairing, the mentor and every member in one transaction: the mentor's
caseload limit and a participant's single open individual pairing are rules of those
aggregates, so two concurrent matches cannot both pass them (one gets a 409 and retries).
"""

from __future__ import annotations

from datetime import date, datetime
from uuid import UUID

from domain.common import NotFound, ProwdAggregate, RuleViolation, utcnow
from domain.mentors import (
    BackgroundDecision,
    Clearance,
    Mentor,
    MentorSource,
    MentorStatus,
    RecruitmentChannel,
    ScreeningStep,
    TrainingRecord,
)
from domain.pairings import (
    Closure,
    Commitment,
    Focus,
    Location,
    MatchCriterion,
    Pairing,
    PairingFlag,
    PairingKind,
    PersonFacts,
    check_eligible,
)
from domain.participants import Participant
from domain.policy import POLICY_ID, MentoringRules, ProgramPolicy
from services.app.participants import ParticipantCommands
from services.store.ledger import Command, Saved


class MentoringCommands(ParticipantCommands):
    # -- policy -------------------------------------------------------------------------
    def rules(self) -> MentoringRules:
        try:
            return self.load(ProgramPolicy, POLICY_ID, "policy").rules
        except NotFound:
            return MentoringRules()

    def set_rules(self, command: Command, rules: MentoringRules) -> Saved[ProgramPolicy]:
        """Set who may mentor whom per stage, the caseload limit and group sizes."""
        try:
            policy = self.load(ProgramPolicy, POLICY_ID, "policy")
            policy.change(rules)
        except NotFound:
            policy = ProgramPolicy.create(rules)
        return self.record(policy, command)

    # -- mentors ------------------------------------------------------------------------
    def mentor(self, mentor_id: UUID) -> Mentor:
        return self.load(Mentor, mentor_id, "mentor")

    def register_mentor(
        self,
        command: Command,
        *,
        display_name: str,
        source: MentorSource,
        channel: RecruitmentChannel,
        participant_id: UUID | None = None,
        lived_experience: bool = True,
        expected_hours_per_month: float = 4.0,
        subject: str | None = None,
        mentor_id: UUID | None = None,
    ) -> Saved[Mentor]:
        """Register a mentor applicant: a graduate (linked to the participant) or a community peer."""
        participant = None
        if participant_id is not None:
            participant = self.participant(participant_id)
            cohort = self.cohort(participant.cohort_code)
            if cohort.graduated_on is None:
                raise RuleViolation(
                    f"cohort {cohort.code} has not graduated; a graduate mentor comes from a graduated cohort",
                    code="not_a_graduate",
                )
        mentor = Mentor.register(
            display_name=display_name,
            source=source,
            channel=channel,
            participant_id=participant_id,
            lived_experience=lived_experience,
            expected_hours_per_month=expected_hours_per_month,
            subject=subject,
            mentor_id=mentor_id,
        )
        also: list[ProwdAggregate] = []
        if participant is not None:
            participant.register_as_mentor(mentor.id)
            also.append(participant)
        return self.record(mentor, command, also=also, creates=f"mentor {mentor.id}")

    def complete_screening_step(
        self,
        command: Command,
        mentor_id: UUID,
        *,
        step: ScreeningStep,
        on: date,
        staff: str,
        note: str = "",
    ) -> Saved[Mentor]:
        """Record a screening step: application, interview or references."""
        mentor = self.mentor(mentor_id)
        mentor.complete_screening_step(step, on, staff, note)
        return self.record(mentor, command)

    def review_background(
        self,
        command: Command,
        mentor_id: UUID,
        *,
        decision: BackgroundDecision,
        reviewer: str,
        on: date,
        conditions: str = "",
    ) -> Saved[Mentor]:
        """Record the background review as an assessment decision."""
        mentor = self.mentor(mentor_id)
        was_certified = mentor.status is MentorStatus.CERTIFIED
        mentor.review_background(decision, reviewer, on, conditions)
        also: list[ProwdAggregate] = []
        if was_certified and mentor.status is MentorStatus.SUSPENDED:
            also = self._flag_pairings(
                mentor, PairingFlag.MENTOR_SUSPENDED, "background review not approved"
            )
        return self.record(mentor, command, also=also)

    def complete_training(
        self, command: Command, mentor_id: UUID, record: TrainingRecord
    ) -> Saved[Mentor]:
        """Record a completed training module (date, hours, trainer)."""
        mentor = self.mentor(mentor_id)
        mentor.complete_training(record)
        return self.record(mentor, command)

    def grant_clearance(
        self, command: Command, mentor_id: UUID, clearance: Clearance
    ) -> Saved[Mentor]:
        """Record volunteer training at a BOP institution or RRC, with its expiry."""
        self.facility(clearance.facility_code)
        mentor = self.mentor(mentor_id)
        mentor.grant_clearance(clearance)
        return self.record(mentor, command)

    def assign_coordinator(
        self, command: Command, mentor_id: UUID, coordinator: str
    ) -> Saved[Mentor]:
        """Assign the coordinator who supervises this mentor."""
        mentor = self.mentor(mentor_id)
        mentor.assign_coordinator(coordinator)
        return self.record(mentor, command)

    def certify_mentor(self, command: Command, mentor_id: UUID) -> Saved[Mentor]:
        """Certify a mentor who finished all six modules and passed screening."""
        mentor = self.mentor(mentor_id)
        mentor.certify()
        return self.record(mentor, command)

    def suspend_mentor(self, command: Command, mentor_id: UUID, reason: str) -> Saved[Mentor]:
        """Suspend a mentor; each open pairing is flagged for reassignment."""
        mentor = self.mentor(mentor_id)
        mentor.suspend(reason)
        return self.record(
            mentor, command, also=self._flag_pairings(mentor, PairingFlag.MENTOR_SUSPENDED, reason)
        )

    def reinstate_mentor(self, command: Command, mentor_id: UUID, note: str = "") -> Saved[Mentor]:
        """Lift a suspension."""
        mentor = self.mentor(mentor_id)
        mentor.reinstate(note)
        return self.record(mentor, command)

    def retire_mentor(self, command: Command, mentor_id: UUID, reason: str) -> Saved[Mentor]:
        """Retire a mentor; each open pairing is flagged for reassignment."""
        mentor = self.mentor(mentor_id)
        mentor.retire(reason)
        return self.record(
            mentor, command, also=self._flag_pairings(mentor, PairingFlag.MENTOR_RETIRED, reason)
        )

    def _flag_pairings(
        self, mentor: Mentor, flag: PairingFlag, detail: str
    ) -> list[ProwdAggregate]:
        flagged: list[ProwdAggregate] = []
        for pairing_id in sorted(mentor.open_pairings):
            pairing = self.pairing(pairing_id)
            pairing.flag(flag, f"reassign: {detail}")
            flagged.append(pairing)
        return flagged

    # -- pairings -----------------------------------------------------------------------
    def pairing(self, pairing_id: UUID) -> Pairing:
        return self.load(Pairing, pairing_id, "pairing")

    def _facts(self, participant: Participant) -> PersonFacts:
        cohort = self.cohort(participant.cohort_code)
        return PersonFacts(
            participant_id=participant.id,
            stage=participant.stage,
            placement=participant.placement,
            facility_code=participant.facility_code,
            status=participant.status,
            cohort_start=cohort.start_date,
            cohort_graduated_on=cohort.graduated_on,
        )

    def _mentor_facts(self, mentor: Mentor) -> PersonFacts | None:
        if mentor.participant_id is None:
            return None
        return self._facts(self.participant(mentor.participant_id))

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
        rules = self.rules()
        mentor = self.mentor(mentor_id)
        mentor_person = self._mentor_facts(mentor)
        at = opened_at or utcnow()
        members = [self.participant(pid) for pid in member_ids]
        for member in members:
            check_eligible(rules, mentor, mentor_person, self._facts(member), at.date())
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
        )
        individual = kind is PairingKind.INDIVIDUAL
        mentor.join_pairing(pairing.id, member_ids[0] if individual else None, at)
        for member in members:
            member.join_pairing(pairing.id, individual=individual, at=at)
        return self.record(pairing, command, also=[mentor, *members])

    def add_group_member(
        self, command: Command, pairing_id: UUID, participant_id: UUID
    ) -> Saved[Pairing]:
        """Add a participant to a group pairing (eligibility is checked as for a new match)."""
        pairing = self.pairing(pairing_id)
        rules = self.rules()
        mentor = self.mentor(pairing.mentor_id)
        member = self.participant(participant_id)
        mentor.check_can_take_pairing()
        check_eligible(
            rules, mentor, self._mentor_facts(mentor), self._facts(member), utcnow().date()
        )
        at = utcnow()
        pairing.add_member(participant_id, rules, at)
        member.join_pairing(pairing.id, individual=False, at=at)
        return self.record(pairing, command, also=[member])

    def remove_group_member(
        self, command: Command, pairing_id: UUID, participant_id: UUID, reason: str
    ) -> Saved[Pairing]:
        """Remove a participant from a group pairing."""
        pairing = self.pairing(pairing_id)
        member = self.participant(participant_id)
        at = utcnow()
        pairing.remove_member(participant_id, reason, self.rules(), at)
        member.leave_pairing(pairing.id, individual=False, at=at)
        return self.record(pairing, command, also=[member])

    def record_first_meeting(
        self, command: Command, pairing_id: UUID, met_on: date
    ) -> Saved[Pairing]:
        """Record the date of the pairing's first meeting."""
        pairing = self.pairing(pairing_id)
        pairing.record_first_meeting(met_on)
        return self.record(pairing, command)

    def resolve_flag(
        self, command: Command, pairing_id: UUID, flag: PairingFlag, resolution: str
    ) -> Saved[Pairing]:
        """Resolve a review flag (the pairing stays open)."""
        pairing = self.pairing(pairing_id)
        pairing.resolve_flag(flag, resolution)
        return self.record(pairing, command)

    def close_pairing(
        self, command: Command, pairing_id: UUID, closure: Closure, at: datetime | None = None
    ) -> Saved[Pairing]:
        """Close a pairing with type, reason, initiator, exit interview and rematch eligibility."""
        pairing = self.pairing(pairing_id)
        when = at or utcnow()
        pairing.close(closure, when)
        individual = pairing.kind is PairingKind.INDIVIDUAL
        mentor = self.mentor(pairing.mentor_id)
        mentor.leave_pairing(pairing.id, pairing.members[0] if individual else None, when)
        members = [self.participant(pid) for pid in pairing.members]
        for member in members:
            member.leave_pairing(pairing.id, individual=individual, at=when)
        return self.record(pairing, command, also=[mentor, *members])

    # -- stage transitions review the pairings they touch --------------------------------
    def review_pairings_after_move(self, participant: Participant) -> list[ProwdAggregate]:
        """Flag (never close) pairings that the participant's move made ineligible."""
        if not participant.open_pairings and participant.mentor_id is None:
            return []
        rules = self.rules()
        today = utcnow().date()
        flagged: list[ProwdAggregate] = []
        facts = self._facts(participant)
        for pairing_id in sorted(participant.open_pairings):
            pairing = self.pairing(pairing_id)
            mentor = self.mentor(pairing.mentor_id)
            try:
                check_eligible(rules, mentor, self._mentor_facts(mentor), facts, today)
            except RuleViolation as e:
                pairing.flag(PairingFlag.MENTEE_INELIGIBLE, e.detail)
                flagged.append(pairing)
        if participant.mentor_id is not None:
            mentor = self.mentor(participant.mentor_id)
            for pairing_id in sorted(mentor.open_pairings):
                pairing = self.pairing(pairing_id)
                for member_id in pairing.members:
                    member = self._facts(self.participant(member_id))
                    try:
                        check_eligible(rules, mentor, facts, member, today)
                    except RuleViolation as e:
                        pairing.flag(PairingFlag.MENTOR_INELIGIBLE, e.detail)
                        flagged.append(pairing)
                        break
        return flagged
