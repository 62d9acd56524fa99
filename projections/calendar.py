"""Calendar: staff feed tokens (by hash) and the meetings a staff member's calendar shows.

A staff member's meetings are those of the pairings they mentor (a peer mentor's certified
mentor record carries their token subject) and of the pairings whose members they are case
manager or coordinator of (the assignments view)."""

from __future__ import annotations

from datetime import datetime

from psycopg import sql

from domain.calendar import CalendarFeed
from projections.base import Projection, Tables, handles
from projections.meetings import MEETING, MeetingRow
from projections.ops import Writer
from projections.query import Reader
from projections.rows import typed


class CalendarFeeds(Projection):
    name = "calendar_feeds"
    tables = {"calendar_feeds": "subject text PRIMARY KEY, token_hash text NOT NULL UNIQUE"}
    order = {"calendar_feeds": "subject"}

    @handles(CalendarFeed.Issued)
    def issued(self, w: Writer, e: CalendarFeed.Issued, position: int) -> None:
        w.insert("calendar_feeds", {"subject": e.subject, "token_hash": e.token_hash})

    @handles(CalendarFeed.Rotated)
    def rotated(self, w: Writer, e: CalendarFeed.Rotated, position: int) -> None:
        w.update(
            "calendar_feeds",
            {"token_hash": e.token_hash},
            subject=e.subject,
        )


def feed_subject(db: Reader, t: Tables, token_hash: str) -> str | None:
    """The staff member whose feed token has this hash (None: no such feed)."""
    row = db.fetchone(
        sql.SQL("SELECT subject FROM {} WHERE token_hash = %s").format(t["calendar_feeds"]),
        (token_hash,),
    )
    return None if row is None else str(row[0])


def staff_meetings(
    db: Reader,
    meetings: Tables,
    pairings: Tables,
    roster: Tables,
    assignments: Tables,
    subject: str,
    since: datetime,
) -> list[MeetingRow]:
    """The meetings on `subject`'s calendar scheduled from `since`, in time order."""
    query = sql.SQL(
        "SELECT " + MEETING.sql + " FROM {m} WHERE scheduled_for >= %s AND pairing_id IN ("
        " SELECT pairing_id FROM {p} WHERE mentor_id IN"
        " (SELECT mentor_id FROM {r} WHERE subject = %s AND status = 'certified')"
        " UNION SELECT pairing_id FROM {pm} WHERE participant_id IN"
        " (SELECT participant_id FROM {a} WHERE case_manager = %s OR coordinator = %s))"
        " ORDER BY scheduled_for, meeting_id"
    ).format(
        m=meetings["meetings"],
        p=pairings["pairings"],
        r=roster["mentors"],
        pm=pairings["pairing_members"],
        a=assignments["assignments"],
    )
    rows = db.fetchall(query, (since, subject, subject, subject))
    return typed(MeetingRow, MEETING, rows)
