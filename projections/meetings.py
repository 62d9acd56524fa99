"""Meeting log per pairing and the weekly cadence counts behind the compliance view.

The confidential note never enters a view: views are read by more roles than the note's
author and the coordinator. Weeks are the grantee-local ISO weeks carried by the events.
"""

from __future__ import annotations

from typing import Any

import msgspec
from psycopg import Cursor, sql
from psycopg.rows import TupleRow

from domain.meetings import Meeting
from domain.participants import Participant
from projections.base import Projection, Tables, handles
from projections.erasure import erased, individual_pairings, log_schema


class MeetingLog(Projection):
    name = "meetings"
    tables = {
        "meetings": (
            "meeting_id uuid PRIMARY KEY, pairing_id uuid NOT NULL, status text NOT NULL,"
            " scheduled_for timestamptz NOT NULL, planned_minutes int NOT NULL,"
            " occurred_at timestamptz, duration_minutes int, location_kind text NOT NULL,"
            " facility_code text, topics text[] NOT NULL DEFAULT '{}', summary text,"
            " attendance jsonb NOT NULL DEFAULT '{}'::jsonb, has_confidential_note boolean NOT NULL DEFAULT false,"
            " during_class_hours boolean NOT NULL DEFAULT false, no_show_by text,"
            " cancel_reason text, excused boolean, amendments int NOT NULL DEFAULT 0,"
            " week text NOT NULL, last_position bigint NOT NULL"
        ),
        "meeting_weeks": (
            "pairing_id uuid NOT NULL, week text NOT NULL, held int NOT NULL DEFAULT 0,"
            " minutes int NOT NULL DEFAULT 0, missed int NOT NULL DEFAULT 0,"
            " excused int NOT NULL DEFAULT 0, PRIMARY KEY (pairing_id, week)"
        ),
    }
    order = {"meetings": "meeting_id", "meeting_weeks": "pairing_id, week"}

    def _week(
        self,
        cur: Cursor[TupleRow],
        t: Tables,
        meeting_id: Any,
        week: str,
        column: str,
        step: int,
        minutes: int | None = 0,
    ) -> None:
        """Count the meeting in its pairing's week. `minutes=None`: take back the minutes the
        meeting's row holds now. One statement, no round trip to read the pairing first
        (rebuilds send it in a batch)."""
        cur.execute(
            sql.SQL(
                "INSERT INTO {w} AS w (pairing_id, week, {c}, minutes)"
                " SELECT pairing_id, %s, %s, {minutes} FROM {m} WHERE meeting_id = %s"
                " ON CONFLICT (pairing_id, week) DO UPDATE SET {c} = w.{c} + EXCLUDED.{c},"
                " minutes = w.minutes + EXCLUDED.minutes"
            ).format(
                w=t["meeting_weeks"],
                m=t["meetings"],
                c=sql.Identifier(column),
                minutes=sql.SQL("-coalesce(duration_minutes, 0)")
                if minutes is None
                else sql.SQL("%s::int"),
            ),
            (week, step, meeting_id) if minutes is None else (week, step, minutes, meeting_id),
        )

    @handles(Meeting.Scheduled)
    def scheduled(self, cur: Cursor[TupleRow], t: Tables, e: Any, position: int) -> None:
        cur.execute(
            sql.SQL(
                "INSERT INTO {} (meeting_id, pairing_id, status, scheduled_for, planned_minutes,"
                " location_kind, facility_code, week, last_position)"
                " VALUES (%s, %s, 'scheduled', %s, %s, %s, %s, %s, %s)"
            ).format(t["meetings"]),
            (
                e.originator_id,
                e.pairing_id,
                e.scheduled_for,
                e.planned_minutes,
                e.location.kind.value,
                e.location.facility_code,
                e.week,
                position,
            ),
        )

    def _record(
        self, cur: Cursor[TupleRow], t: Tables, e: Any, position: int, amended: bool
    ) -> None:
        r = e.record
        cur.execute(
            sql.SQL(
                "UPDATE {} SET status = 'held', occurred_at = %s, duration_minutes = %s,"
                " location_kind = %s, facility_code = %s, topics = %s, summary = %s, attendance = %s::jsonb,"
                " has_confidential_note = %s, during_class_hours = %s, week = %s,"
                " amendments = amendments + %s, last_position = %s WHERE meeting_id = %s"
            ).format(t["meetings"]),
            (
                r.occurred_at,
                r.duration_minutes,
                r.location.kind.value,
                r.location.facility_code,
                [x.value for x in r.topics],
                r.summary,
                msgspec.json.encode(
                    {str(k): v.value for k, v in sorted(r.attendance.items())}
                ).decode(),
                bool(r.confidential_note),
                r.during_class_hours,
                e.week,
                int(amended),
                position,
                e.originator_id,
            ),
        )

    @handles(Meeting.Held)
    def held(self, cur: Cursor[TupleRow], t: Tables, e: Any, position: int) -> None:
        self._record(cur, t, e, position, amended=False)
        self._week(cur, t, e.originator_id, e.week, "held", 1, e.record.duration_minutes)

    @handles(Meeting.Amended)
    def amended(self, cur: Cursor[TupleRow], t: Tables, e: Any, position: int) -> None:
        self._week(cur, t, e.originator_id, e.previous_week, "held", -1, None)
        self._record(cur, t, e, position, amended=True)
        self._week(cur, t, e.originator_id, e.week, "held", 1, e.record.duration_minutes)

    @handles(Meeting.Missed)
    def missed(self, cur: Cursor[TupleRow], t: Tables, e: Any, position: int) -> None:
        cur.execute(
            sql.SQL(
                "UPDATE {} SET status = 'missed', no_show_by = %s, last_position = %s WHERE meeting_id = %s"
            ).format(t["meetings"]),
            (e.no_show_by.value, position, e.originator_id),
        )
        self._week(cur, t, e.originator_id, e.week, "missed", 1)

    @handles(Meeting.Cancelled)
    def cancelled(self, cur: Cursor[TupleRow], t: Tables, e: Any, position: int) -> None:
        cur.execute(
            sql.SQL(
                "UPDATE {} SET status = 'cancelled', cancel_reason = %s, excused = %s, last_position = %s"
                " WHERE meeting_id = %s"
            ).format(t["meetings"]),
            (e.reason, e.excused, position, e.originator_id),
        )
        if e.excused:
            self._week(cur, t, e.originator_id, e.week, "excused", 1)

    @handles(Participant.Erased)
    def participant_erased(self, cur: Cursor[TupleRow], t: Tables, e: Any, position: int) -> None:
        # Individual meetings only: a group meeting's record is the group's (docs/privacy.md).
        cur.execute(
            sql.SQL("UPDATE {} SET summary = {} WHERE pairing_id IN ({})").format(
                t["meetings"], erased("summary"), individual_pairings(log_schema(t, e))
            ),
            {"pid": e.originator_id, "pos": position},
        )


VIEWS: tuple[Projection, ...] = (MeetingLog(),)
