"""Pairings and their meetings as webhook messages, to the RRCs their members live at.

Each message goes to the RRCs where members of the pairing were resident when the event
happened, and names only those residents. Part 2: a held or amended meeting whose summary is
tagged `summary_part2` carries the summary only if, when the delivery is created, every member
of the pairing has a covering consent for recipient `rrc:<X>` (services/audit/disclosure.py);
then `part2_notice` is attached. Otherwise `summary` is null and `withheld` is
`part2_no_consent`. Confidential notes never leave.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

from domain.common import ProwdAggregate
from domain.meetings import HeldRecord, Meeting
from domain.pairings import Pairing
from services.audit.disclosure import PART2_NOTICE, Grant, covering_consent
from services.webhooks.batch import Batch, MeetingContext, Resident, location, people, plain
from services.webhooks.handlers import Handlers

handlers = Handlers()


@handlers.handles(Pairing.Opened)
def _opened(b: Batch, position: int, event: Pairing.Opened) -> None:
    b.open_pairing(event.originator_id, list(event.members))
    _to_residents(
        b,
        position,
        event,
        "pairing.opened",
        list(event.members),
        "pairing.opened: pairing with a mentor",
        lambda residents: {
            "pairing_id": event.originator_id,
            "kind": event.kind,
            "mentor_id": event.mentor_id,
            "participants": people(residents),
            "location": location(event.location),
            "opened_at": event.occurred_at,
        },
    )


@handlers.handles(Pairing.MemberAdded)
def _member_added(b: Batch, position: int, event: Pairing.MemberAdded) -> None:
    b.change_member(event.originator_id, event.participant_id, added=True)


@handlers.handles(Pairing.MemberRemoved)
def _member_removed(b: Batch, position: int, event: Pairing.MemberRemoved) -> None:
    b.change_member(event.originator_id, event.participant_id, added=False)


@handlers.handles(Pairing.Closed)
def _closed(b: Batch, position: int, event: Pairing.Closed) -> None:
    _to_residents(
        b,
        position,
        event,
        "pairing.closed",
        b.members(event.originator_id),
        "pairing.closed: closure of a pairing",
        lambda residents: {
            "pairing_id": event.originator_id,
            "participants": people(residents),
            "closed_at": event.occurred_at,
            "closure_type": event.closure.closure_type,
            "initiator": event.closure.initiator,
        },
    )


@handlers.handles(Meeting.Scheduled)
def _scheduled(b: Batch, position: int, event: Meeting.Scheduled) -> None:
    b.schedule_meeting(
        event.originator_id,
        MeetingContext(
            event.pairing_id, event.scheduled_for, event.planned_minutes, event.location
        ),
    )
    _to_residents(
        b,
        position,
        event,
        "meeting.scheduled",
        b.members(event.pairing_id),
        "meeting.scheduled: date, duration, location",
        lambda residents: {
            "meeting_id": event.originator_id,
            "pairing_id": event.pairing_id,
            "scheduled_for": event.scheduled_for,
            "planned_minutes": event.planned_minutes,
            "location": location(event.location),
            "participants": people(residents),
        },
    )


@handlers.handles(Meeting.Held)
def _held(b: Batch, position: int, event: Meeting.Held) -> None:
    _held_message(b, position, event, "meeting.held", event.record)


@handlers.handles(Meeting.Amended)
def _amended(b: Batch, position: int, event: Meeting.Amended) -> None:
    _held_message(b, position, event, "meeting.amended", event.record)


@handlers.handles(Meeting.Missed)
def _missed(b: Batch, position: int, event: Meeting.Missed) -> None:
    _not_held(
        b,
        position,
        event,
        "meeting.missed",
        {"no_show_by": event.no_show_by},
        "meeting.missed: date, who did not attend",
    )


@handlers.handles(Meeting.Cancelled)
def _cancelled(b: Batch, position: int, event: Meeting.Cancelled) -> None:
    _not_held(
        b,
        position,
        event,
        "meeting.cancelled",
        {"excused": event.excused},
        "meeting.cancelled: date",
    )


def _not_held(
    b: Batch,
    position: int,
    event: ProwdAggregate.Event,
    event_type: str,
    extra: dict[str, Any],
    information: str,
) -> None:
    meeting = b.meeting(event.originator_id)
    if meeting is None:
        return
    _to_residents(
        b,
        position,
        event,
        event_type,
        b.members(meeting.pairing_id),
        information,
        lambda residents: {
            "meeting_id": event.originator_id,
            "pairing_id": meeting.pairing_id,
            "scheduled_for": meeting.scheduled_for,
            "location": location(meeting.location),
            "participants": people(residents),
            **extra,
        },
    )


def _to_residents(
    b: Batch,
    position: int,
    event: ProwdAggregate.Event,
    event_type: str,
    members: list[UUID],
    information: str,
    data: Callable[[list[Resident]], dict[str, Any]],
) -> None:
    """One message per RRC where members lived when the event happened, naming only those
    residents (nothing of Part 2 in it)."""
    for facility, residents in sorted(b.residents(members, event.occurred_at, position).items()):
        b.emit(
            position,
            event_type,
            facility,
            event.timestamp,
            data(residents),
            plain(residents, information),
        )


def _held_message(
    b: Batch, position: int, event: ProwdAggregate.Event, event_type: str, record: HeldRecord
) -> None:
    meeting = b.meeting(event.originator_id)
    if meeting is None:
        return
    members = b.members(meeting.pairing_id)
    part2 = record.summary_part2 and bool(record.summary)
    for facility, residents in sorted(b.residents(members, record.occurred_at, position).items()):
        resident_ids = {r.participant_id for r in residents}
        data: dict[str, Any] = {
            "meeting_id": event.originator_id,
            "pairing_id": meeting.pairing_id,
            "occurred_at": record.occurred_at,
            "date": record.occurred_at.date().isoformat(),
            "duration_minutes": record.duration_minutes,
            "location": location(record.location),
            "participants": people(residents),
            "attendance": {
                str(pid): a.value for pid, a in record.attendance.items() if pid in resident_ids
            },
            "summary": record.summary or None,
            "summary_part2": part2,
        }
        disclosures = plain(residents, f"{event_type}: date, duration, location, attendance")
        if part2:
            grants = _consents(b, members, f"rrc:{facility}")
            if grants is not None:
                data["part2_notice"] = PART2_NOTICE
                disclosed = resident_ids | set(members)
                disclosures = [
                    {
                        "participant_id": str(pid),
                        "information": f"{event_type}: Part 2 meeting summary"
                        + (", date, duration, location, attendance" if pid in resident_ids else ""),
                        "part2": True,
                        "consent_id": str(grants[pid].consent_id),
                    }
                    for pid in sorted(disclosed)
                ]
            else:
                data["summary"] = None
                data["withheld"] = "part2_no_consent"
        b.emit(position, event_type, facility, event.timestamp, data, disclosures)


def _consents(b: Batch, members: list[UUID], recipient: str) -> dict[UUID, Grant] | None:
    """Each member's covering consent for `recipient` now; None unless every member has one."""
    grants = {pid: covering_consent(b.db, b.schema, pid, recipient, b.now) for pid in members}
    if not all(grants.values()):
        return None
    return {pid: grant for pid, grant in grants.items() if grant is not None}
