"""What the mentor endpoints accept and answer (services/api/mentors.py), and a mentor as the
API shows it."""

from __future__ import annotations

from datetime import date
from typing import Annotated
from uuid import UUID

import msgspec

from domain.mentors import (
    BackgroundDecision,
    Mentor,
    MentorSource,
    MentorStatus,
    RecruitmentChannel,
    ScreeningStep,
    TrainingModule,
    TrainingRecord,
)
from projections.mentors import ClearanceOut, RosterRow
from services.api.params import Code
from services.api.text import FreeText, Name

Text = Annotated[FreeText, msgspec.Meta(max_length=2000)]
Person = Annotated[Name, msgspec.Meta(min_length=1, max_length=200)]


class MentorCorrectionIn(msgspec.Struct, forbid_unknown_fields=True):
    """The display name as it should read, and why."""

    display_name: Person
    reason: Annotated[FreeText, msgspec.Meta(min_length=1, max_length=2000)]


class MentorIn(msgspec.Struct, forbid_unknown_fields=True):
    display_name: Person
    source: MentorSource
    channel: RecruitmentChannel
    participant_id: UUID | None = None
    lived_experience: bool = True
    expected_hours_per_month: Annotated[float, msgspec.Meta(gt=0, le=200)] = 4.0
    subject: Annotated[Name, msgspec.Meta(max_length=200)] | None = None


class ScreeningIn(msgspec.Struct, forbid_unknown_fields=True):
    step: ScreeningStep
    completed_on: date
    staff: Person
    note: Text = ""


class BackgroundIn(msgspec.Struct, forbid_unknown_fields=True):
    decision: BackgroundDecision
    reviewer: Person
    reviewed_on: date
    conditions: Text = ""


class TrainingIn(msgspec.Struct, forbid_unknown_fields=True):
    module: TrainingModule
    completed_on: date
    hours: Annotated[float, msgspec.Meta(gt=0, le=40)]
    trainer: Person


class ClearanceIn(msgspec.Struct, forbid_unknown_fields=True):
    facility: Code
    trained_on: date
    expires_on: date


class CoordinatorIn(msgspec.Struct, forbid_unknown_fields=True):
    coordinator: Person


class NoteIn(msgspec.Struct, forbid_unknown_fields=True):
    note: Text = ""


class EmptyIn(msgspec.Struct, forbid_unknown_fields=True):
    pass


class TrainingOut(TrainingRecord, frozen=True):
    pass


class MentorOut(msgspec.Struct, omit_defaults=True):
    id: UUID
    display_name: str
    subject: str | None
    source: MentorSource
    participant_id: UUID | None
    lived_experience: bool
    channel: RecruitmentChannel
    expected_hours_per_month: float
    status: MentorStatus
    coordinator: str | None
    screening_completed: list[ScreeningStep]
    background: BackgroundDecision | None
    screening_approved: bool
    trainings: list[TrainingOut]
    missing_modules: list[TrainingModule]
    training_hours: float
    clearances: list[ClearanceOut]
    open_pairings: list[UUID]
    individual_mentees: int
    version: int
    position: int | None = None


class RosterPage(msgspec.Struct):
    items: list[RosterRow]
    next_cursor: str | None


def render(m: Mentor, position: int) -> MentorOut:
    """A mentor as the log has it, with what a command answers."""
    return MentorOut(
        id=m.id,
        display_name=m.display_name,
        subject=m.subject,
        source=m.source,
        participant_id=m.participant_id,
        lived_experience=m.lived_experience,
        channel=m.channel,
        expected_hours_per_month=m.expected_hours_per_month,
        status=m.status,
        coordinator=m.coordinator,
        screening_completed=sorted(m.screening, key=list(ScreeningStep).index),
        background=m.background,
        screening_approved=m.screening_approved,
        trainings=msgspec.convert(
            list(m.trainings.values()), list[TrainingOut], from_attributes=True
        ),
        missing_modules=m.missing_modules,
        training_hours=m.training_hours,
        clearances=[
            ClearanceOut(c.facility_code, c.trained_on, c.expires_on) for c in m.clearances.values()
        ],
        open_pairings=sorted(m.open_pairings),
        individual_mentees=len(m.individual_mentees),
        version=m.version,
        position=position or None,
    )
