"""One import row through the domain: a participant enrolled (and moved to their stage), or
a mentor registered, each built by the same aggregate methods the API's commands call, so a
row is refused with the code and message the API would answer. Nothing here saves: the
import (services/app/imports.py) saves a batch of rows with its progress in one transaction.

Duplicates are matched as enrolment matches them (projections/search.py `duplicates`): the
same register number, or the same name and date of birth, case and accents ignored; mentors
by the same display name. A `duplicate_reason` cell imports a matched row all the same,
as enrolment's field does. Rows already created earlier in the file count as enrolled.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, tzinfo
from typing import Any
from uuid import UUID

from domain.common import DomainError, ProwdAggregate, RuleViolation, natural_id
from domain.facilities import Cohort
from domain.mentors import Mentor
from domain.participants import Participant, PersonalDetails, participant_id
from domain.plaindays import start_of_day
from domain.stages import STAGE_OF_PLACEMENT, Placement, Stage, placement_of_move
from projections.search import PersonKeys, fold, key
from services.app.facilities import Facilities
from services.app.mentors import Mentors
from services.app.participants import new_participant_number


@dataclass
class Known:
    """The people a row may duplicate: those indexed when the import began, then each row
    created since."""

    by_register: dict[str, UUID] = field(default_factory=dict)
    by_name_born: dict[tuple[str, date], UUID] = field(default_factory=dict)
    mentors_by_name: dict[str, UUID] = field(default_factory=dict)
    participants: set[UUID] = field(default_factory=set)
    # Participants a mentor row of this import linked.
    linked: set[UUID] = field(default_factory=set)

    @classmethod
    def of(cls, people: list[PersonKeys]) -> Known:
        known = cls()
        for p in people:
            if p.kind == "mentor":
                known.mentors_by_name.setdefault(p.folded, p.person_id)
                continue
            known.participants.add(p.person_id)
            if p.register_key:
                known.by_register.setdefault(p.register_key, p.person_id)
            if p.born is not None:
                known.by_name_born.setdefault((p.folded, p.born), p.person_id)
        return known

    def duplicate_of(self, personal: PersonalDetails) -> tuple[str, UUID] | None:
        register = key(personal.bop_register_number)
        if register is not None and register in self.by_register:
            return "same_register_number", self.by_register[register]
        name = fold(f"{personal.first_name} {personal.last_name}")
        if (
            personal.date_of_birth is not None
            and (name, personal.date_of_birth) in self.by_name_born
        ):
            return "same_name_and_birth_date", self.by_name_born[(name, personal.date_of_birth)]
        return None

    def add_participant(self, participant: Participant) -> None:
        self.participants.add(participant.id)
        personal = participant.personal
        register = key(personal.bop_register_number)
        if register is not None:
            self.by_register.setdefault(register, participant.id)
        if personal.date_of_birth is not None:
            name = fold(f"{personal.first_name} {personal.last_name}")
            self.by_name_born.setdefault((name, personal.date_of_birth), participant.id)


class Duplicate(DomainError):
    """The row matches a person already enrolled (or earlier in the file)."""

    default_code = "possible_duplicate"

    def __init__(self, rule: str, existing: UUID) -> None:
        super().__init__(
            f"a participant is enrolled already ({rule}); import with a `duplicate_reason`",
            rule=rule,
        )
        self.existing = existing


@dataclass
class RowBuilder:
    facilities: Facilities
    known: Known
    mentors: Mentors
    sha256: str
    # The grantee's time zone: the calendar of the file's dates (decision 95).
    zone: tzinfo

    cohorts: dict[str, Cohort] = field(default_factory=dict)

    def _cohort(self, code: str) -> Cohort:
        # Loaded once an import: a cohort does not change while the import runs.
        if code not in self.cohorts:
            self.cohorts[code] = self.facilities.cohort(code)
        return self.cohorts[code]

    def participant(self, row: dict[str, Any]) -> Participant:
        """The row's participant, enrolled and moved to its stage; or the refusal."""
        personal = PersonalDetails(
            first_name=row["first_name"],
            last_name=row["last_name"],
            date_of_birth=row["date_of_birth"],
            bop_register_number=row.get("bop_register_number"),
        )
        reason = str(row.get("duplicate_reason", ""))
        if not reason.strip():
            found = self.known.duplicate_of(personal)
            if found is not None:
                raise Duplicate(*found)
        number = row.get("number") or new_participant_number()
        if participant_id(number) in self.known.participants:
            raise RuleViolation(
                f"participant number {number} already exists", code="already_exists"
            )
        participant = Participant.enroll(
            number=number,
            personal=personal,
            program_entry_date=row["program_entry_date"],
            facility=self.facilities.facility(row["facility"]),
            cohort=self._cohort(row["cohort"]),
            ex_offender_at_entry=row.get("ex_offender_at_entry", True),
            duplicate_reason=reason,
            zone=self.zone,
        )
        self._move(participant, row)
        self.known.add_participant(participant)
        return participant

    def _move(self, participant: Participant, row: dict[str, Any]) -> None:
        stage: int | None = row.get("stage")
        placement: Placement | None = row.get("placement")
        if placement is None:
            if stage in (None, 1):
                return
            to_stage = Stage(stage)
        else:
            to_stage = STAGE_OF_PLACEMENT[placement] if stage is None else Stage(stage)
        chosen = placement_of_move(to_stage, placement, returned_to_custody=False)
        if "stage_date" not in row:
            raise RuleViolation(
                "a participant imported in stage 2 or 3 needs the stage_date it began",
                code="stage_date_required",
            )
        code = row.get("stage_facility")
        participant.transition(
            placement=chosen,
            facility=self.facilities.facility(code) if code else None,
            occurred_at=start_of_day(row["stage_date"], self.zone),
            stage_date=row["stage_date"],
        )

    def mentor(self, number: int, row: dict[str, Any]) -> tuple[Mentor, list[ProwdAggregate]]:
        """The row's mentor applicant (and the participant it links, marked), as
        `Mentors.register_mentor` would register them; or the refusal."""
        name = fold(row["display_name"])
        if name in self.known.mentors_by_name and not str(row.get("duplicate_reason", "")).strip():
            raise Duplicate("same_name", self.known.mentors_by_name[name])
        linked = row.get("participant_number")
        if linked and participant_id(linked) in self.known.linked:
            # Linked by an earlier row whose save may be pending: what the participant's
            # `register_as_mentor` answers once that row is saved.
            raise RuleViolation(
                "this participant is already registered as a mentor", code="already_mentor"
            )
        mentor, also = self.mentors.new_mentor(
            display_name=row["display_name"],
            source=row["source"],
            channel=row["channel"],
            participant_id=participant_id(linked) if linked else None,
            lived_experience=row.get("lived_experience", True),
            expected_hours_per_month=row.get("expected_hours_per_month", 4.0),
            mentor_id=natural_id("imported-mentor", f"{self.sha256}:{number}"),
        )
        self.known.mentors_by_name.setdefault(name, mentor.id)
        if linked:
            self.known.linked.add(participant_id(linked))
        return mentor, also
