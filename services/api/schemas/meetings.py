"""What the meeting endpoints accept and answer (services/api/meetings.py), and a meeting as
the API shows it.

`LocationIn` is declared here and in schemas/pairings.py: the OpenAPI document names the two
after their modules (`meetings_LocationIn`, `pairings_LocationIn`), so they stay in modules of
those names side by side.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated
from uuid import UUID

import msgspec

from domain.class_sessions import SessionKind
from domain.meetings import (
    MAX_MINUTES,
    Attendance,
    HeldRecord,
    Meeting,
    MeetingStatus,
    NoShow,
    NoteReader,
    Topic,
)
from domain.pairings import Location, LocationKind
from services.api.params import Code, LongText
from services.api.text import FreeText

Minutes = Annotated[int, msgspec.Meta(ge=1, le=MAX_MINUTES)]


class LocationIn(msgspec.Struct, forbid_unknown_fields=True):
    kind: LocationKind
    facility: Code | None = None


class HeldIn(msgspec.Struct, forbid_unknown_fields=True):
    occurred_at: datetime
    duration_minutes: Annotated[int, msgspec.Meta(gt=0, le=MAX_MINUTES)]
    topics: Annotated[list[Topic], msgspec.Meta(max_length=15)]
    location: LocationIn | None = None
    goals_discussed: Annotated[list[UUID], msgspec.Meta(max_length=50)] = []
    attendance: dict[UUID, Attendance] = {}
    summary: LongText = ""
    # True: the summary holds 42 CFR Part 2 information. Left out of an amendment, the tag
    # stays as it is (false when first recorded).
    summary_part2: bool | None = None
    # Left out of an amendment, the note stays as it is.
    confidential_note: LongText | None = None
    # A group session held as a class session or by graduate speakers, under the facility's
    # approval (`approval_id`: a class-session request it approved); it may fall in class hours.
    session: SessionKind = SessionKind.MENTORING
    approval_id: UUID | None = None


# The planned length of a meeting scheduled without one.
SCHEDULED_MINUTES = 60


class MeetingIn(msgspec.Struct, forbid_unknown_fields=True):
    pairing_id: UUID
    scheduled_for: datetime
    location: LocationIn
    # Left out: the held record's duration when the meeting is recorded as held (a plan of its
    # own would be invented), else 60 (a scheduled meeting's default length).
    planned_minutes: Minutes | None = None
    held: HeldIn | None = None

    def planned(self) -> int:
        if self.planned_minutes is not None:
            return self.planned_minutes
        return SCHEDULED_MINUTES if self.held is None else self.held.duration_minutes


class MissedIn(msgspec.Struct, forbid_unknown_fields=True):
    no_show_by: NoShow
    note: LongText = ""


class CancellationIn(msgspec.Struct, forbid_unknown_fields=True):
    reason: Annotated[FreeText, msgspec.Meta(min_length=1, max_length=2000)]
    excused: bool = False


class AmendmentIn(msgspec.Struct, forbid_unknown_fields=True):
    reason: Annotated[FreeText, msgspec.Meta(min_length=1, max_length=2000)]
    record: HeldIn


class HeldOut(msgspec.Struct, omit_defaults=True):
    occurred_at: datetime
    duration_minutes: int
    location: LocationIn
    topics: list[Topic]
    goals_discussed: list[UUID]
    attendance: dict[UUID, Attendance]
    summary: str
    has_confidential_note: bool
    during_class_hours: bool
    summary_part2: bool
    confidential_note: str | None = None
    # Absent for a plain mentoring meeting.
    session: SessionKind = SessionKind.MENTORING
    approval_id: UUID | None = None


class MeetingOut(msgspec.Struct, omit_defaults=True):
    id: UUID
    pairing_id: UUID
    status: MeetingStatus
    scheduled_for: datetime
    planned_minutes: int
    location: LocationIn
    week: str
    amendments: int
    version: int
    held: HeldOut | None = None
    position: int | None = None


def held_record(data: HeldIn, fallback: Location) -> HeldRecord:
    """The record of a held meeting as given; where it took place defaults to `fallback`
    (where it was scheduled)."""
    location = (
        fallback
        if data.location is None
        else Location(kind=data.location.kind, facility_code=data.location.facility)
    )
    return HeldRecord(
        occurred_at=data.occurred_at,
        duration_minutes=data.duration_minutes,
        location=location,
        topics=list(data.topics),
        goals_discussed=list(data.goals_discussed),
        attendance=dict(data.attendance),
        summary=data.summary,
        summary_part2=bool(data.summary_part2),
        confidential_note=data.confidential_note or "",
        session=data.session,
        approval_id=data.approval_id,
    )


def render_meeting(reader: NoteReader) -> Callable[[Meeting, int], MeetingOut]:
    """Renders a meeting for `reader`: the confidential note only if they may read it."""

    def render(m: Meeting, position: int) -> MeetingOut:
        held = None
        if m.record is not None:
            r = m.record
            held = HeldOut(
                occurred_at=r.occurred_at,
                duration_minutes=r.duration_minutes,
                location=LocationIn(r.location.kind, r.location.facility_code),
                topics=list(r.topics),
                goals_discussed=list(r.goals_discussed),
                attendance=dict(r.attendance),
                summary=r.summary,
                has_confidential_note=bool(r.confidential_note),
                during_class_hours=r.during_class_hours,
                summary_part2=r.summary_part2,
                confidential_note=r.confidential_note
                if r.confidential_note and m.note_readable_by(reader)
                else None,
                session=r.session,
                approval_id=r.approval_id,
            )
        return MeetingOut(
            id=m.id,
            pairing_id=m.pairing_id,
            status=m.status,
            scheduled_for=m.scheduled_for,
            planned_minutes=m.planned_minutes,
            location=LocationIn(m.location.kind, m.location.facility_code),
            week=m.week,
            amendments=m.amendments,
            version=m.version,
            held=held,
            position=position or None,
        )

    return render
