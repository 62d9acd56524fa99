"""Corrections of a participant's record after enrolment: a misspelt name, a wrong date of
birth or register number, a wrong program entry date. Each is an event with its reason; the
log keeps what was there before (the history shows both, decision 56).

The entry-date rule is the enrolment's (`domain.facilities.check_entry_date`).
"""

from __future__ import annotations

from datetime import UTC, date, tzinfo
from typing import Any

from domain.common import ProwdAggregate, RuleViolation, check_not_future, nameless, utcnow
from domain.facilities import Cohort, Facility, check_entry_date
from domain.mentors import Mentor
from domain.participants import Participant, PersonalDetails, Stage
from domain.plaindays import local_day, start_of_day
from domain.stages import check_facility

PERSONAL_FIELDS = ("first_name", "last_name", "date_of_birth", "bop_register_number")


class PersonalDetailsCorrected(ProwdAggregate.Event):
    """Personal details corrected: `personal` is the whole record after the correction
    (encrypted with the participant's key, like the enrolment's); `fields` names what changed
    (names only, never values); `reason` is why (encrypted)."""

    personal: PersonalDetails
    fields: list[str]
    reason: str

    def apply(self, aggregate: Any) -> None:
        aggregate.personal = self.personal


class EntryDateCorrected(ProwdAggregate.Event):
    """The program entry date (PIRL 900) corrected, from `previous`."""

    program_entry_date: date
    previous: date
    reason: str

    def apply(self, aggregate: Any) -> None:
        aggregate.program_entry_date = self.program_entry_date


def _check_open(participant: Participant, reason: str) -> None:
    if participant.erased_at is not None:
        raise RuleViolation(
            "the participant's personal data was erased: nothing is left to correct",
            code="already_erased",
        )
    if not reason.strip():
        raise RuleViolation("a correction states its reason", code="reason_required")


def check_birth_date(born: date | None, entry: date) -> None:
    """A date of birth gives an age of 16-110 at program entry."""
    if born is None:
        raise RuleViolation("the date of birth is required", code="implausible_date_of_birth")
    if not 16 * 365 <= (entry - born).days <= 110 * 365:
        raise RuleViolation(
            "the date of birth gives an age outside 16-110 at program entry",
            code="implausible_date_of_birth",
        )


def correct_personal(participant: Participant, personal: PersonalDetails, reason: str) -> None:
    """Correct the participant's personal details (the whole record, as it should read)."""
    _check_open(participant, reason)
    if nameless(personal.first_name) or nameless(personal.last_name):
        raise RuleViolation("first and last name are required", code="missing_name")
    check_birth_date(personal.date_of_birth, participant.program_entry_date)
    changed = [
        f for f in PERSONAL_FIELDS if getattr(personal, f) != getattr(participant.personal, f)
    ]
    if not changed:
        raise RuleViolation("the details already read so", code="nothing_to_correct")
    participant.trigger_event(
        PersonalDetailsCorrected,
        personal=personal,
        fields=changed,
        reason=reason,
        occurred_at=utcnow(),
    )


def correct_entry_date(
    participant: Participant, cohort: Cohort, entry: date, reason: str, zone: tzinfo = UTC
) -> None:
    """Correct the program entry date, checked against the cohort, the date of birth and the
    participant's later dates (a stage begun, an exit), on the calendar of `zone` (the
    grantee's time zone)."""
    _check_open(participant, reason)
    check_not_future(start_of_day(entry, zone), "the date of program entry")
    if entry == participant.program_entry_date:
        raise RuleViolation("the entry date already reads so", code="nothing_to_correct")
    check_entry_date(cohort, entry)
    check_birth_date(participant.personal.date_of_birth, entry)
    stage_began = local_day(participant.stage_started_at, zone)
    moved = stage_began != participant.program_entry_date
    if moved and entry > stage_began:
        raise RuleViolation(
            f"the current stage began on {stage_began}: program entry cannot come after it",
            code="entry_after_later_dates",
        )
    if participant.exit_date is not None and entry > participant.exit_date:
        raise RuleViolation(
            f"the participant exited on {participant.exit_date}: program entry cannot come"
            " after it",
            code="entry_after_later_dates",
        )
    participant.trigger_event(
        EntryDateCorrected,
        program_entry_date=entry,
        previous=participant.program_entry_date,
        reason=reason,
        occurred_at=utcnow(),
    )


class PlacementCorrected(ProwdAggregate.Event):
    """The cohort and/or the facility of the current placement corrected (recorded wrongly,
    not a move): the placement as it should read, what it read before, and the reason."""

    cohort_code: str
    facility_code: str | None
    previous_cohort_code: str
    previous_facility_code: str | None
    reason: str

    def apply(self, aggregate: Any) -> None:
        aggregate.cohort_code = self.cohort_code
        aggregate.facility_code = self.facility_code


def correct_placement(
    participant: Participant,
    *,
    cohort: Cohort,
    facility: Facility | None,
    entry: date,
    reason: str,
) -> None:
    """Correct the cohort and/or the facility of the current placement: `cohort` is the
    cohort as it should read (the current one if only the facility changes), `facility` the
    facility, None to leave it. A new cohort is checked against the program entry date
    `entry` (the corrected one, if it is corrected too) like an enrolment; the facility
    against the current placement's kind; in stage 1 before any move, the cohort meets at
    the facility (as at enrolment)."""
    _check_open(participant, reason)
    facility_code = participant.facility_code
    if facility is not None:
        facility_code = check_facility(participant.placement, facility)
    if (cohort.code, facility_code) == (participant.cohort_code, participant.facility_code):
        raise RuleViolation("the placement already reads so", code="nothing_to_correct")
    if cohort.code != participant.cohort_code:
        check_entry_date(cohort, entry)
    at_enrolment = participant.stage is Stage.PRE_RELEASE and participant.returns_to_custody == 0
    if at_enrolment and facility_code is not None and cohort.facility_code != facility_code:
        raise RuleViolation(
            f"cohort {cohort.code} meets at {cohort.facility_code}, not at {facility_code}",
            code="cohort_at_other_facility",
        )
    participant.trigger_event(
        PlacementCorrected,
        cohort_code=cohort.code,
        facility_code=facility_code,
        previous_cohort_code=participant.cohort_code,
        previous_facility_code=participant.facility_code,
        reason=reason,
        occurred_at=utcnow(),
    )


class MentorNameCorrected(ProwdAggregate.Event):
    """A mentor's display name corrected, from `previous`, with the reason."""

    display_name: str
    previous: str
    reason: str

    def apply(self, aggregate: Any) -> None:
        aggregate.display_name = self.display_name


def correct_mentor_name(mentor: Mentor, display_name: str, reason: str) -> None:
    """Correct a mentor's display name (a misspelling), with the reason."""
    if not reason.strip():
        raise RuleViolation("a correction states its reason", code="reason_required")
    if nameless(display_name):
        raise RuleViolation("a mentor needs a display name", code="missing_name")
    if display_name == mentor.display_name:
        raise RuleViolation("the name already reads so", code="nothing_to_correct")
    mentor.trigger_event(
        MentorNameCorrected,
        display_name=display_name,
        previous=mentor.display_name,
        reason=reason,
        occurred_at=utcnow(),
    )
