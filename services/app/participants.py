"""Use cases for participants: enrolment, stage transitions, return to custody, exit."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from uuid import UUID

import msgspec

from domain import assignment, clock, corrections, definitions
from domain.casenotes import CaseNote
from domain.casework import (
    CaseContact,
    CaseManagementContact,
    ContactMode,
    newest_first,
    record_case_contact,
)
from domain.common import NotFound, ProwdAggregate, RuleViolation
from domain.contact import Contact, record_contact
from domain.participants import ExitReason, Participant, PersonalDetails
from domain.stages import Placement, Stage, placement_of_move
from services.app import enrolment_index, erasure
from services.app.derived_exits import DerivedExitOf
from services.app.facilities import Facilities
from services.store.ledger import Command, LedgerApplication, Saved

# What a move saves besides the participant: the pairings it made ineligible, flagged.
MoveReview = Callable[[Participant], list[ProwdAggregate]]

_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


def new_participant_number() -> str:
    """A PIRL element-100 identifier: 12 characters, never derived from an SSN."""
    # 32 letters: a random byte modulo 32 is uniform (and one call is 10x faster than eleven
    # `secrets.choice`, which an import of 20,000 rows felt).
    return "P" + "".join(_ALPHABET[b % 32] for b in secrets.token_bytes(11))


@dataclass
class Participants:
    ledger: LedgerApplication
    facilities: Facilities
    review: MoveReview
    # When a participant's derived 90-day exit took effect (services/app/derived_exits.py).
    derived_exit_of: DerivedExitOf

    def check_not_derived_exit(
        self,
        participant: Participant,
        code: str = "participant_exited",
        *,
        on: date | datetime | None = None,
    ) -> None:
        """Refuse, as a recorded exit is refused (`code`), a command on a participant whose
        derived exit had taken effect on the day of the fact it records (`on`: a day, or an
        instant read on the grantee's calendar; None: today) (decision 97). A day still to
        come is judged as of today: an exit that would follow from nothing planned by then has
        not happened, and the command's own rule refuses the date (decision 155)."""
        if isinstance(on, datetime):
            on = on.astimezone(self.ledger.zone).date()
        if on is not None:
            on = min(on, clock.today(self.ledger.zone))
        definitions.check_no_derived_exit(
            participant.number, self.derived_exit_of(participant, on), code
        )

    def enroll_participant(
        self,
        command: Command,
        *,
        personal: PersonalDetails,
        program_entry_date: date,
        facility_code: str,
        cohort_code: str,
        number: str | None = None,
        ex_offender_at_entry: bool = True,
        duplicate_reason: str = "",
    ) -> Saved[Participant]:
        """Enrol a participant in stage 1 at a BOP institution, in a cohort held there
        (`duplicate_reason`: why a possible duplicate is enrolled all the same)."""
        facility = self.facilities.facility(facility_code)
        cohort = self.facilities.cohort(cohort_code)
        number = number or new_participant_number()
        participant = Participant.enroll(
            number=number,
            personal=personal,
            program_entry_date=program_entry_date,
            facility=facility,
            cohort=cohort,
            ex_offender_at_entry=ex_offender_at_entry,
            duplicate_reason=duplicate_reason,
            zone=self.ledger.zone,
        )
        return self.ledger.record(
            participant,
            command,
            creates=f"participant number {number}",
            side_effects=enrolment_index.writes(self.ledger.schema, [participant]),
        )

    def correct_participant(
        self,
        command: Command,
        participant_id: UUID,
        *,
        reason: str,
        personal: dict[str, Any] | None = None,
        program_entry_date: date | None = None,
        cohort_code: str | None = None,
        facility_code: str | None = None,
    ) -> Saved[Participant]:
        """Correct personal details (`personal`: the fields that change, by name), the
        placement (cohort, facility) and/or the program entry date, with the reason; each
        correction is its own event, saved together."""
        participant = self.participant(participant_id)
        placement = cohort_code is not None or facility_code is not None
        if not personal and program_entry_date is None and not placement:
            raise RuleViolation(
                "name the details, the placement or the entry date to correct",
                code="nothing_to_correct",
            )
        if personal:
            corrected = msgspec.structs.replace(participant.personal, **personal)
            corrections.correct_personal(participant, corrected, reason)
        if placement:
            corrections.correct_placement(
                participant,
                cohort=self.facilities.cohort(cohort_code or participant.cohort_code),
                facility=self.facilities.facility(facility_code) if facility_code else None,
                entry=program_entry_date or participant.program_entry_date,
                reason=reason,
            )
        if program_entry_date is not None:
            cohort = self.facilities.cohort(participant.cohort_code)
            corrections.correct_entry_date(
                participant, cohort, program_entry_date, reason, self.ledger.zone
            )
        index = enrolment_index.writes(self.ledger.schema, [participant])
        return self.ledger.record(participant, command, side_effects=index)

    def assign_staff(
        self,
        command: Command,
        participant_id: UUID,
        *,
        duty: assignment.Duty,
        staff: str | None,
    ) -> Saved[Participant]:
        """Assign (or reassign, or with None unassign) the participant's case manager or
        coordinator, named by their token subject."""
        participant = self.participant(participant_id)
        assignment.assign(participant, duty, staff)
        return self.ledger.record(participant, command)

    def record_contact(
        self,
        command: Command,
        participant_id: UUID,
        *,
        contact: Contact,
        projected_release_date: date | None,
    ) -> Saved[Participant]:
        """Record the participant's contact details and projected release date (personal,
        encrypted with the participant's key)."""
        participant = self.participant(participant_id)
        record_contact(participant, contact, projected_release_date)
        return self.ledger.record(participant, command)

    def record_case_contact(
        self, command: Command, participant_id: UUID, *, on: date, mode: ContactMode
    ) -> Saved[Participant]:
        """Record a case-management contact with the participant (a participation-level
        service: domain/definitions.py)."""
        participant = self.participant(participant_id)
        record_case_contact(participant, on, mode, self.ledger.zone)
        return self.ledger.record(participant, command)

    def case_contacts(self, participant_id: UUID) -> list[CaseContact]:
        """The participant's case-management contacts by their day, newest first (on one day,
        the later recorded first)."""
        return newest_first(
            CaseContact(
                contacted_on=e.contacted_on,
                mode=e.mode,
                recorded_by=e.recorded_by,
                position=position,
            )
            for position, e in self.history(participant_id)
            if isinstance(e, CaseManagementContact)
        )

    def write_case_note(
        self, command: Command, participant_id: UUID, *, text: str, part2: bool
    ) -> Saved[CaseNote]:
        """Write a case note on the participant (personal: encrypted with their key)."""
        participant = self.participant(participant_id)
        if participant.erased_at is not None:
            raise RuleViolation(
                "the participant's personal data was erased: nothing more is kept about them",
                code="already_erased",
            )
        note = CaseNote.write(participant_id, text, part2=part2)
        return self.ledger.record(note, command, creates="case note")

    def participant(self, participant_id: UUID, *, version: int | None = None) -> Participant:
        return self.ledger.load(Participant, participant_id, "participant", version=version)

    def history(self, participant_id: UUID) -> list[tuple[int, ProwdAggregate.Event]]:
        """Every event of the participant in order, each with its log position; not found
        unless the record is a participant's (it starts with an enrolment)."""
        events = self.ledger.history_with_positions(participant_id)
        if not events or not isinstance(events[0][1], Participant.Enrolled):
            raise NotFound("participant not found")
        return events

    def transition_stage(
        self,
        command: Command,
        participant_id: UUID,
        *,
        placement: Placement,
        facility_code: str | None,
        occurred_at: datetime,
    ) -> Saved[Participant]:
        """Move a participant to stage 2 (RRC or home confinement) or stage 3 (community)."""
        participant = self.participant(participant_id)
        facility = self.facilities.facility(facility_code) if facility_code else None
        self.check_not_derived_exit(participant, on=occurred_at)
        participant.transition(placement=placement, facility=facility, occurred_at=occurred_at)
        return self.ledger.record(participant, command, also=self.review(participant))

    def return_to_custody(
        self,
        command: Command,
        participant_id: UUID,
        *,
        facility_code: str | None,
        occurred_at: datetime,
    ) -> Saved[Participant]:
        """Record that a participant in stage 2 or 3 was returned to custody (stage 1)."""
        participant = self.participant(participant_id)
        facility = self.facilities.facility(facility_code) if facility_code else None
        self.check_not_derived_exit(participant, on=occurred_at)
        participant.return_to_custody(facility=facility, occurred_at=occurred_at)
        return self.ledger.record(participant, command, also=self.review(participant))

    def move_participant(
        self,
        command: Command,
        participant_id: UUID,
        *,
        to_stage: Stage,
        placement: Placement | None,
        returned_to_custody: bool,
        facility_code: str | None,
        occurred_at: datetime,
    ) -> Saved[Participant]:
        """Move a participant as requested: back to stage 1 by a return to custody, else a
        stage transition; the placement is checked against the stage (`placement_of_move`)."""
        placement = placement_of_move(to_stage, placement, returned_to_custody=returned_to_custody)
        if to_stage is Stage.PRE_RELEASE:
            return self.return_to_custody(
                command, participant_id, facility_code=facility_code, occurred_at=occurred_at
            )
        return self.transition_stage(
            command,
            participant_id,
            placement=placement,
            facility_code=facility_code,
            occurred_at=occurred_at,
        )

    def exit_participant(
        self,
        command: Command,
        participant_id: UUID,
        *,
        exit_date: date,
        reason: ExitReason,
        note: str = "",
    ) -> Saved[Participant]:
        """Record the program exit (PIRL 901 and 923)."""
        participant = self.participant(participant_id)
        self.check_not_derived_exit(participant, on=exit_date)
        participant.exit(exit_date=exit_date, reason=reason, note=note, zone=self.ledger.zone)
        return self.ledger.record(participant, command, also=self.review(participant))

    def erase_participant(
        self,
        command: Command,
        participant_id: UUID,
        *,
        reason: str,
        check_erasable: Callable[[UUID], None],
    ) -> Saved[Participant]:
        """Erase the participant's personal data: the `Erased` event, the destroyed key and the
        scrubbed copies in one transaction (services/app/erasure.py). `check_erasable` raises
        `legal_hold` when a legal hold covers the participant."""
        return erasure.erase_participant(
            self.ledger, command, participant_id, reason=reason, check_erasable=check_erasable
        )
