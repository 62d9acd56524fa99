"""Meetings scheduled ahead whose time passed more than a day ago with no outcome recorded (held,
missed or cancelled): left so, a planned meeting stays "scheduled" in the past for ever, and the
mentor may record the meeting it was a second time instead of answering it (docs/decisions.md
137). Worked out when read, as of the clock in force, from the meetings and pairings views."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID
from zoneinfo import ZoneInfo

import msgspec

from domain.meetings import OUTCOME_ALERT_AFTER
from projections.base import Tables
from projections.meetings import awaiting_outcome
from services.store.database import Database


class WithoutOutcome(msgspec.Struct):
    """A meeting awaiting its outcome, said in the grantee's zone; no personal data."""

    meeting_id: UUID
    pairing_id: UUID
    mentor_id: UUID
    scheduled_for: datetime
    detail: str


def without_outcome(
    db: Database, meetings: Tables, pairings: Tables, zone: ZoneInfo, now: datetime
) -> list[WithoutOutcome]:
    """The open pairings' meetings still scheduled more than `OUTCOME_ALERT_AFTER` before
    `now`, oldest first, their time in the grantee's zone `zone`."""
    found = awaiting_outcome(db, meetings, pairings, now - OUTCOME_ALERT_AFTER)
    return [
        WithoutOutcome(
            m.meeting_id,
            m.pairing_id,
            m.mentor_id,
            at,
            f"meeting scheduled for {at:%Y-%m-%d %H:%M %Z} has no outcome recorded (held,"
            " missed or cancelled)",
        )
        for m, at in ((m, m.scheduled_for.astimezone(zone)) for m in found)
    ]
