"""Participants and their passage through the three PROWD stages (domain/stages.py).

A participant may skip stage 2, may be returned to custody (back to stage 1), and exits once
(PIRL element 901, with a reason for element 923).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, tzinfo
from typing import TYPE_CHECKING, Any, ClassVar
from uuid import UUID

import msgspec

from domain.common import (
    ProwdAggregate,
    RuleViolation,
    check_not_future,
    nameless,
    natural_id,
    utcnow,
)
from domain.facilities import Cohort, Facility, FacilityKind, check_entry_date
from domain.plaindays import local_day, start_of_day, utc_day

# The stages' names are the participant's vocabulary: re-exported for its readers.
from domain.stages import STAGE_OF_PLACEMENT as STAGE_OF_PLACEMENT
from domain.stages import ExitReason as ExitReason
from domain.stages import FundingSource as FundingSource
from domain.stages import Placement as Placement
from domain.stages import Stage as Stage
from domain.stages import Status as Status
from domain.stages import check_facility, funding_for

NUMBER = re.compile(r"^[A-Z0-9]{1,12}$")


def participant_id(number: str) -> Any:
    return natural_id("participant", number)


class PersonalDetails(msgspec.Struct, frozen=True, kw_only=True):
    """Personal data: never logged, never shown to oversight, encrypted per person in the log
    (services/store/personal.py). After an erasure the names read `[erased]` and the date of birth
    and register number are None."""

    first_name: str
    last_name: str
    date_of_birth: date | None
    bop_register_number: str | None = None


ERASED_NAME = "[erased]"
ERASED_DETAILS = PersonalDetails(
    first_name=ERASED_NAME, last_name=ERASED_NAME, date_of_birth=None, bop_register_number=None
)


class Participant(ProwdAggregate):
    if TYPE_CHECKING:  # state set by the events' apply(); not dataclass fields
        number: str
        personal: PersonalDetails
        ex_offender_at_entry: bool
        program_entry_date: date
        cohort_code: str
        stage: Stage
        placement: Placement
        facility_code: str | None
        stage_started_at: datetime
        funding_source: FundingSource
        status: Status
        exit_date: date | None
        exit_reason: ExitReason | None
        returns_to_custody: int
        mentor_id: UUID | None
        individual_pairing: UUID | None
        group_pairings: set[UUID]
        erased_at: datetime | None
        erased_by: str
        erasure_reason: str

    class Enrolled(ProwdAggregate.Created):
        number: str
        personal: PersonalDetails
        ex_offender_at_entry: bool
        program_entry_date: date
        facility_code: str
        cohort_code: str
        funding_source: FundingSource
        # Why a possible duplicate was enrolled all the same (decision 56); empty if none.
        duplicate_reason: str = ""
        stored_defaults: ClassVar[dict[str, Any]] = {
            **ProwdAggregate.Created.stored_defaults,
            "duplicate_reason": "",
        }

        def apply(self, aggregate: Any) -> None:
            aggregate.number = self.number
            aggregate.personal = self.personal
            aggregate.ex_offender_at_entry = self.ex_offender_at_entry
            aggregate.program_entry_date = self.program_entry_date
            aggregate.cohort_code = self.cohort_code
            aggregate.stage = Stage.PRE_RELEASE
            aggregate.placement = Placement.BOP_INSTITUTION
            aggregate.facility_code = self.facility_code
            aggregate.stage_started_at = self.occurred_at
            aggregate.funding_source = self.funding_source
            aggregate.status = Status.ACTIVE
            aggregate.exit_date = None
            aggregate.exit_reason = None
            aggregate.returns_to_custody = 0
            aggregate.mentor_id = None
            aggregate.individual_pairing = None
            aggregate.group_pairings = set()
            aggregate.erased_at = None

        def plain_day(self) -> date:
            return self.program_entry_date

    class Erased(ProwdAggregate.Event):
        """The participant's personal data was erased (crypto-shredding: their data key was
        destroyed in this event's transaction). Carries who (`recorded_by`) and why; nothing
        personal."""

        reason: str

        def apply(self, aggregate: Any) -> None:
            aggregate.personal = ERASED_DETAILS
            aggregate.erased_at = self.occurred_at
            aggregate.erased_by = self.recorded_by
            aggregate.erasure_reason = self.reason

    class StageTransitioned(ProwdAggregate.Event):
        from_stage: Stage
        to_stage: Stage
        placement: Placement
        facility_code: str | None
        funding_source: FundingSource
        # The day an import gave the move as (None: given as an instant), decision 95.
        stage_date: date | None
        class_version = 2

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            # Imports stored a stage date as its UTC midnight, and no date (decision 95).
            state["stage_date"] = utc_day(datetime.fromisoformat(state["occurred_at"]))

        def apply(self, aggregate: Any) -> None:
            aggregate.stage = self.to_stage
            aggregate.placement = self.placement
            aggregate.facility_code = self.facility_code
            aggregate.stage_started_at = self.occurred_at
            aggregate.funding_source = self.funding_source

        def plain_day(self) -> date | None:
            return self.stage_date

    class ReturnedToCustody(ProwdAggregate.Event):
        from_stage: Stage
        facility_code: str | None
        funding_source: FundingSource

        def apply(self, aggregate: Any) -> None:
            aggregate.stage = Stage.PRE_RELEASE
            aggregate.placement = Placement.BOP_INSTITUTION
            aggregate.facility_code = self.facility_code
            aggregate.stage_started_at = self.occurred_at
            aggregate.funding_source = self.funding_source
            aggregate.returns_to_custody += 1

    class Exited(ProwdAggregate.Event):
        exit_date: date
        reason: ExitReason
        note: str

        def apply(self, aggregate: Any) -> None:
            aggregate.status = Status.EXITED
            aggregate.exit_date = self.exit_date
            aggregate.exit_reason = self.reason

        def plain_day(self) -> date:
            return self.exit_date

    class RegisteredAsMentor(ProwdAggregate.Event):
        mentor_id: UUID

        def apply(self, aggregate: Any) -> None:
            aggregate.mentor_id = self.mentor_id

    class PairingJoined(ProwdAggregate.Event):
        pairing_id: UUID
        individual: bool

        def apply(self, aggregate: Any) -> None:
            if self.individual:
                aggregate.individual_pairing = self.pairing_id
            else:
                aggregate.group_pairings.add(self.pairing_id)

    class PairingLeft(ProwdAggregate.Event):
        pairing_id: UUID
        individual: bool

        def apply(self, aggregate: Any) -> None:
            if self.individual:
                aggregate.individual_pairing = None
            else:
                aggregate.group_pairings.discard(self.pairing_id)

    @classmethod
    def enroll(
        cls,
        *,
        number: str,
        personal: PersonalDetails,
        program_entry_date: date,
        facility: Facility,
        cohort: Cohort,
        ex_offender_at_entry: bool = True,
        duplicate_reason: str = "",
        zone: tzinfo = UTC,
    ) -> Participant:
        if not NUMBER.fullmatch(number):
            raise RuleViolation(
                "a participant number (PIRL element 100) is 1-12 upper-case letters and digits",
                code="invalid_participant_number",
            )
        if facility.kind is not FacilityKind.BOP_INSTITUTION:
            raise RuleViolation(
                "stage 1 enrolment happens at a BOP institution, not at an RRC",
                code="facility_wrong_kind",
            )
        if cohort.facility_code != facility.code:
            raise RuleViolation(
                f"cohort {cohort.code} meets at {cohort.facility_code}, not at {facility.code}",
                code="cohort_at_other_facility",
            )
        check_entry_date(cohort, program_entry_date)
        entered_at = start_of_day(program_entry_date, zone)
        check_not_future(entered_at, "the date of program entry")
        if nameless(personal.first_name) or nameless(personal.last_name):
            raise RuleViolation("first and last name are required", code="missing_name")
        if personal.date_of_birth is None:
            raise RuleViolation("the date of birth is required", code="implausible_date_of_birth")
        age_days = (program_entry_date - personal.date_of_birth).days
        if not 16 * 365 <= age_days <= 110 * 365:
            raise RuleViolation(
                "the date of birth gives an age outside 16-110 at program entry",
                code="implausible_date_of_birth",
            )
        participant: Participant = cls._create(
            cls.Enrolled,
            id=participant_id(number),
            number=number,
            personal=personal,
            ex_offender_at_entry=ex_offender_at_entry,
            program_entry_date=program_entry_date,
            facility_code=facility.code,
            cohort_code=cohort.code,
            funding_source=funding_for(Stage.PRE_RELEASE),
            occurred_at=entered_at,
            duplicate_reason=duplicate_reason,
        )
        return participant

    def _check_can_move(self, occurred_at: datetime) -> None:
        if self.status is Status.EXITED:
            raise RuleViolation(
                f"participant {self.number} exited on {self.exit_date}; an exited participant "
                "has no further stage transitions",
                code="participant_exited",
            )
        check_not_future(occurred_at, "the time of the stage transition")
        if occurred_at < self.stage_started_at:
            raise RuleViolation(
                f"the time of the stage transition, {occurred_at.isoformat()}, is before the"
                " current stage began "
                # In the offset the caller wrote: the two times read side by side.
                f"({self.stage_started_at.astimezone(occurred_at.tzinfo).isoformat()})",
                code="before_current_stage",
            )

    def transition(
        self,
        *,
        placement: Placement,
        facility: Facility | None,
        occurred_at: datetime,
        stage_date: date | None = None,
    ) -> None:
        """Move to stage 2 (RRC or home confinement) or stage 3 (community)."""
        self._check_can_move(occurred_at)
        to_stage = STAGE_OF_PLACEMENT[placement]
        if to_stage is Stage.PRE_RELEASE:
            raise RuleViolation(
                "a participant never moves back to stage 1 by a transition; "
                "record a return to custody instead",
                code="illegal_transition",
            )
        if to_stage < self.stage:
            raise RuleViolation(
                f"stage {int(self.stage)} to stage {int(to_stage)} is not a legal transition",
                code="illegal_transition",
            )
        facility_code = check_facility(placement, facility)
        if (
            to_stage == self.stage
            and placement == self.placement
            and facility_code == self.facility_code
        ):
            raise RuleViolation(
                f"the participant is already in stage {int(to_stage)} at this placement",
                code="illegal_transition",
            )
        if to_stage is Stage.COMMUNITY and self.stage is Stage.COMMUNITY:
            raise RuleViolation("the participant is already in stage 3", code="illegal_transition")
        self.trigger_event(
            self.StageTransitioned,
            from_stage=self.stage,
            to_stage=to_stage,
            placement=placement,
            facility_code=facility_code,
            funding_source=funding_for(to_stage),
            stage_date=stage_date,
            occurred_at=occurred_at,
        )

    def return_to_custody(self, *, facility: Facility | None, occurred_at: datetime) -> None:
        """Record a return to custody from stage 2 or 3: the participant is back in stage 1."""
        self._check_can_move(occurred_at)
        if self.stage is Stage.PRE_RELEASE:
            raise RuleViolation(
                "a participant in stage 1 is already in custody", code="illegal_transition"
            )
        facility_code = check_facility(Placement.BOP_INSTITUTION, facility, required=False)
        self.trigger_event(
            self.ReturnedToCustody,
            from_stage=self.stage,
            facility_code=facility_code,
            funding_source=funding_for(Stage.PRE_RELEASE),
            occurred_at=occurred_at,
        )

    def exit(
        self, *, exit_date: date, reason: ExitReason, note: str = "", zone: tzinfo = UTC
    ) -> None:
        """Record the program exit (PIRL 901/923) on a day of `zone`. Exit is final."""
        if self.status is Status.EXITED:
            raise RuleViolation(
                f"participant {self.number} already exited on {self.exit_date}",
                code="participant_exited",
            )
        occurred_at = start_of_day(exit_date, zone)
        check_not_future(occurred_at, "the exit date")
        if exit_date < local_day(self.stage_started_at, zone):
            raise RuleViolation(
                "the exit date is before the current stage began", code="before_current_stage"
            )
        self.trigger_event(
            self.Exited, exit_date=exit_date, reason=reason, note=note, occurred_at=occurred_at
        )

    @property
    def erased(self) -> bool:
        return getattr(self, "erased_at", None) is not None

    def erase(self, reason: str) -> None:
        """Record the erasure of the participant's personal data (the key is destroyed with
        it, services/app/erasure.py). Once only."""
        if self.erased:
            raise RuleViolation(
                f"participant {self.number} was already erased", code="already_erased"
            )
        if not reason.strip():
            raise RuleViolation("an erasure states its reason", code="reason_required")
        self.trigger_event(self.Erased, reason=reason.strip(), occurred_at=utcnow())

    @property
    def open_pairings(self) -> set[UUID]:
        individual = {self.individual_pairing} if self.individual_pairing else set()
        return individual | self.group_pairings

    def register_as_mentor(self, mentor_id: UUID) -> None:
        if self.mentor_id is not None:
            raise RuleViolation(
                "this participant is already registered as a mentor", code="already_mentor"
            )
        self.trigger_event(self.RegisteredAsMentor, mentor_id=mentor_id, occurred_at=utcnow())

    def check_can_join_pairing(self, *, individual: bool) -> None:
        """Refuse a mentee who has exited, or who has an open individual pairing already."""
        if self.status is Status.EXITED:
            raise RuleViolation("the participant has exited the program", code="mentee_exited")
        if individual and self.individual_pairing is not None:
            raise RuleViolation(
                f"participant {self.number} already has an open individual pairing",
                code="mentee_already_paired",
            )

    def join_pairing(self, pairing_id: UUID, *, individual: bool, at: datetime) -> None:
        self.check_can_join_pairing(individual=individual)
        if pairing_id in self.group_pairings:
            raise RuleViolation("the participant is already in this group", code="duplicate_member")
        self.trigger_event(
            self.PairingJoined, pairing_id=pairing_id, individual=individual, occurred_at=at
        )

    def leave_pairing(self, pairing_id: UUID, *, individual: bool, at: datetime) -> None:
        if pairing_id in self.open_pairings:
            self.trigger_event(
                self.PairingLeft, pairing_id=pairing_id, individual=individual, occurred_at=at
            )
