"""Use cases for peer mentors: recruitment, screening, training, clearances, certification,
suspension and retirement. A suspension or retirement flags the mentor's open pairings in the
same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from uuid import UUID

from domain.common import ProwdAggregate, RuleViolation
from domain.corrections import correct_mentor_name
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
    Pairing,
    PairingFlag,
)
from domain.participants import Stage, Status
from services.app.facilities import Facilities
from services.app.participants import Participants
from services.store.ledger import Command, LedgerApplication, Saved


@dataclass
class Mentors:
    ledger: LedgerApplication
    facilities: Facilities
    participants: Participants

    # -- mentors ------------------------------------------------------------------------
    def mentor(self, mentor_id: UUID) -> Mentor:
        return self.ledger.load(Mentor, mentor_id, "mentor")

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
        mentor, also = self.new_mentor(
            display_name=display_name,
            source=source,
            channel=channel,
            participant_id=participant_id,
            lived_experience=lived_experience,
            expected_hours_per_month=expected_hours_per_month,
            subject=subject,
            mentor_id=mentor_id,
        )
        return self.ledger.record(mentor, command, also=also, creates=f"mentor {mentor.id}")

    def new_mentor(
        self,
        *,
        display_name: str,
        source: MentorSource,
        channel: RecruitmentChannel,
        participant_id: UUID | None = None,
        lived_experience: bool = True,
        expected_hours_per_month: float = 4.0,
        subject: str | None = None,
        mentor_id: UUID | None = None,
    ) -> tuple[Mentor, list[ProwdAggregate]]:
        """A mentor applicant as `register_mentor` registers them, not yet saved, with the
        participant it links (marked) to save beside it; an import saves many at once."""
        participant = None
        in_stage3 = False
        if participant_id is not None:
            participant = self.participants.participant(participant_id)
            cohort = self.facilities.cohort(participant.cohort_code)
            # A stage-3 participant may mentor as a community peer, by their own stage-3
            # status, whether or not their cohort graduated (decision 59).
            # A derived exit in effect counts as a recorded one (decision 101).
            in_stage3 = (
                participant.stage is Stage.COMMUNITY
                and participant.status is Status.ACTIVE
                and source is not MentorSource.GRADUATE
                and self.participants.derived_exit_of(participant, None) is None
            )
            if source is MentorSource.GRADUATE and cohort.graduated_on is None:
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
            in_stage3=in_stage3,
        )
        also: list[ProwdAggregate] = []
        if participant is not None:
            participant.register_as_mentor(mentor.id)
            also.append(participant)
        return mentor, also

    def correct_mentor_name(
        self, command: Command, mentor_id: UUID, *, display_name: str, reason: str
    ) -> Saved[Mentor]:
        """Correct a mentor's display name, with the reason (the history keeps the old one)."""
        mentor = self.mentor(mentor_id)
        correct_mentor_name(mentor, display_name, reason)
        return self.ledger.record(mentor, command)

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
        mentor.complete_screening_step(step, on, staff, note, zone=self.ledger.zone)
        return self.ledger.record(mentor, command)

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
        mentor.review_background(decision, reviewer, on, conditions, zone=self.ledger.zone)
        also: list[ProwdAggregate] = []
        if was_certified and mentor.status is MentorStatus.SUSPENDED:
            also = self._flag_pairings(
                mentor, PairingFlag.MENTOR_SUSPENDED, "background review not approved"
            )
        return self.ledger.record(mentor, command, also=also)

    def complete_training(
        self, command: Command, mentor_id: UUID, record: TrainingRecord
    ) -> Saved[Mentor]:
        """Record a completed training module (date, hours, trainer)."""
        mentor = self.mentor(mentor_id)
        mentor.complete_training(record, zone=self.ledger.zone)
        return self.ledger.record(mentor, command)

    def grant_clearance(
        self, command: Command, mentor_id: UUID, clearance: Clearance
    ) -> Saved[Mentor]:
        """Record volunteer training at a BOP institution or RRC, with its expiry."""
        self.facilities.facility(clearance.facility_code)
        mentor = self.mentor(mentor_id)
        mentor.grant_clearance(clearance, zone=self.ledger.zone)
        return self.ledger.record(mentor, command)

    def assign_coordinator(
        self, command: Command, mentor_id: UUID, coordinator: str
    ) -> Saved[Mentor]:
        """Assign the coordinator who supervises this mentor."""
        mentor = self.mentor(mentor_id)
        mentor.assign_coordinator(coordinator)
        return self.ledger.record(mentor, command)

    def certify_mentor(self, command: Command, mentor_id: UUID) -> Saved[Mentor]:
        """Certify a mentor who finished all six modules and passed screening."""
        mentor = self.mentor(mentor_id)
        mentor.certify()
        return self.ledger.record(mentor, command)

    def suspend_mentor(self, command: Command, mentor_id: UUID, reason: str) -> Saved[Mentor]:
        """Suspend a mentor; each open pairing is flagged for reassignment."""
        mentor = self.mentor(mentor_id)
        mentor.suspend(reason)
        return self.ledger.record(
            mentor, command, also=self._flag_pairings(mentor, PairingFlag.MENTOR_SUSPENDED, reason)
        )

    def reinstate_mentor(self, command: Command, mentor_id: UUID, note: str = "") -> Saved[Mentor]:
        """Lift a suspension."""
        mentor = self.mentor(mentor_id)
        mentor.reinstate(note)
        return self.ledger.record(mentor, command)

    def retire_mentor(self, command: Command, mentor_id: UUID, reason: str) -> Saved[Mentor]:
        """Retire a mentor; each open pairing is flagged for reassignment."""
        mentor = self.mentor(mentor_id)
        mentor.retire(reason)
        return self.ledger.record(
            mentor, command, also=self._flag_pairings(mentor, PairingFlag.MENTOR_RETIRED, reason)
        )

    def _flag_pairings(
        self, mentor: Mentor, flag: PairingFlag, detail: str
    ) -> list[ProwdAggregate]:
        flagged: list[ProwdAggregate] = []
        for pairing_id in sorted(mentor.open_pairings):
            pairing = self.ledger.load(Pairing, pairing_id, "pairing")
            pairing.flag(flag, f"reassign: {detail}")
            flagged.append(pairing)
        return flagged
