"""Commands as both their single endpoint and an item of a batch run them (decision 89).

Each factory takes what the single endpoint's handler has (the request, the tenant, the
strictly decoded body, the id in its path), runs the checks the handler runs before the
command (a peer mentor's own pairing), and returns the command: a closure over the use case,
run by `tenant_command` (services/api/context.py) or by the batch (services/api/batch.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

from litestar import Request

from domain.meetings import Meeting
from domain.mentors import Mentor
from domain.pairings import Commitment, Location, Pairing
from domain.participants import Participant, PersonalDetails, Stage
from services.api.context import Tenant
from services.api.duplicates import check_duplicates
from services.api.schemas.meetings import HeldIn, MeetingIn, held_record
from services.api.schemas.mentors import MentorIn
from services.api.schemas.pairings import PairingIn
from services.api.schemas.participants import EnrollmentIn, StageTransitionIn
from services.identity.access import only_own
from services.store.ledger import Command, Saved


def check_own_pairing(tenant: Tenant, pairing_id: UUID, action_name: str) -> None:
    """Where the caller's role may `action_name` only on own records (a peer mentor), the
    pairing must be one they mentor; otherwise it is not found."""
    if only_own(action_name, tenant.principal.roles):
        tenant.app.pairings.check_mentored_by(pairing_id, tenant.principal.subject)


def enroll_command(
    request: Request[Any, Any, Any],
    tenant: Tenant,
    data: EnrollmentIn,
    *,
    duplicates: Callable[[PersonalDetails], None] | None = None,
) -> Callable[[Command], Saved[Participant]]:
    """The enrolment `data` asks for, as a command (also an item of a batch: batch_kinds.py).
    `duplicates`: the duplicate detection (by default the search index's, as it stands now;
    a batch compares with the index read once and the batch's own enrolments)."""
    personal = PersonalDetails(
        first_name=data.first_name,
        last_name=data.last_name,
        date_of_birth=data.date_of_birth,
        bop_register_number=data.bop_register_number,
    )

    def enroll(cmd: Command) -> Saved[Participant]:
        # Inside the command: a retried request replays its first answer instead.
        if not data.duplicate_reason.strip():
            if duplicates is None:
                check_duplicates(request, tenant, personal)
            else:
                duplicates(personal)
        return tenant.app.participants.enroll_participant(
            cmd,
            personal=personal,
            program_entry_date=data.program_entry_date,
            facility_code=data.facility,
            cohort_code=data.cohort,
            number=data.number,
            ex_offender_at_entry=data.ex_offender_at_entry,
            duplicate_reason=data.duplicate_reason,
        )

    return enroll


def transition_command(
    request: Request[Any, Any, Any],
    tenant: Tenant,
    data: StageTransitionIn,
    participant_id: UUID,
) -> Callable[[Command], Saved[Participant]]:
    """The stage transition `data` asks for, as a command."""
    return lambda cmd: tenant.app.participants.move_participant(
        cmd,
        participant_id,
        to_stage=Stage(data.to_stage),
        placement=data.placement,
        returned_to_custody=data.returned_to_custody,
        facility_code=data.facility,
        occurred_at=data.occurred_at,
    )


def own_meeting(tenant: Tenant, meeting_id: UUID, action_name: str) -> Meeting:
    """The meeting, if the caller may `action_name` on it (a peer mentor: own pairings only)."""
    meeting = tenant.app.meetings.meeting(meeting_id)
    check_own_pairing(tenant, meeting.pairing_id, action_name)
    return meeting


def schedule_command(
    request: Request[Any, Any, Any], tenant: Tenant, data: MeetingIn
) -> Callable[[Command], Saved[Meeting]]:
    """The meeting `data` schedules (or records as held), as a command (also an item of a
    batch: batch_kinds.py); the caller's right to the pairing is checked first."""
    check_own_pairing(tenant, data.pairing_id, "meetings.write")
    location = Location(kind=data.location.kind, facility_code=data.location.facility)
    held = None if data.held is None else held_record(data.held, location)
    return lambda cmd: tenant.app.meetings.schedule_meeting(
        cmd,
        pairing_id=data.pairing_id,
        scheduled_for=data.scheduled_for,
        planned_minutes=data.planned(),
        location=location,
        held=held,
    )


def hold_command(
    request: Request[Any, Any, Any], tenant: Tenant, data: HeldIn, meeting_id: UUID
) -> Callable[[Command], Saved[Meeting]]:
    """The held meeting `data` records, as a command. The caller's right to it is checked
    inside the command: the check and the command read the meeting once, from the aggregate
    cache, checked when the command writes (decision 91)."""

    def hold(cmd: Command) -> Saved[Meeting]:
        meeting = own_meeting(tenant, meeting_id, "meetings.write")
        record = held_record(data, meeting.location)
        return tenant.app.meetings.hold_meeting(cmd, meeting_id, record)

    return hold


def open_command(
    request: Request[Any, Any, Any], tenant: Tenant, data: PairingIn
) -> Callable[[Command], Saved[Pairing]]:
    """The pairing `data` asks for, as a command (also an item of a batch: batch_kinds.py)."""
    return lambda cmd: tenant.app.pairings.open_pairing(
        cmd,
        kind=data.kind,
        mentor_id=data.mentor_id,
        member_ids=list(data.members),
        location=Location(kind=data.location.kind, facility_code=data.location.facility),
        commitment=Commitment(
            frequency=data.commitment.frequency,
            minutes_per_meeting=data.commitment.minutes_per_meeting,
            months=data.commitment.months,
        ),
        criteria=list(data.criteria),
        criteria_note=data.criteria_note,
        focus=data.focus,
        opened_at=data.opened_at,
    )


def register_command(
    request: Request[Any, Any, Any], tenant: Tenant, data: MentorIn
) -> Callable[[Command], Saved[Mentor]]:
    """The mentor applicant `data` registers, as a command (also an item of a batch)."""
    return lambda cmd: tenant.app.mentors.register_mentor(
        cmd,
        display_name=data.display_name,
        source=data.source,
        channel=data.channel,
        participant_id=data.participant_id,
        lived_experience=data.lived_experience,
        expected_hours_per_month=data.expected_hours_per_month,
        subject=data.subject,
    )
