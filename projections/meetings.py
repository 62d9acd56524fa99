"""Meeting log per pairing and the weekly cadence counts behind the compliance view.

The confidential note never enters a view: views are read by more roles than the note's
author and the coordinator. Weeks are the grantee-local ISO weeks carried by the events.
"""

from __future__ import annotations

from typing import Any

import msgspec

from domain.meetings import Meeting
from domain.participants import Participant
from projections.base import Projection, handles
from projections.erasure import ERASED, individual_pairings, log_schema
from projections.ops import ADD_EXCLUDED, Erase, Inc, Src, Writer


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
        self, w: Writer, meeting_id: Any, week: str, column: str, step: int, minutes: int
    ) -> None:
        """Count the meeting in its pairing's week (one statement: the pairing is read from
        the meeting's row)."""
        w.insert(
            "meeting_weeks",
            {"pairing_id": Src("pairing_id"), "week": week, column: step, "minutes": minutes},
            source=("meetings", {"meeting_id": meeting_id}),
            on_conflict={column: ADD_EXCLUDED, "minutes": ADD_EXCLUDED},
        )

    @handles(Meeting.Scheduled)
    def scheduled(self, w: Writer, e: Any, position: int) -> None:
        w.insert(
            "meetings",
            {
                "meeting_id": e.originator_id,
                "pairing_id": e.pairing_id,
                "status": "scheduled",
                "scheduled_for": e.scheduled_for,
                "planned_minutes": e.planned_minutes,
                "location_kind": e.location.kind.value,
                "facility_code": e.location.facility_code,
                "week": e.week,
                "last_position": position,
            },
        )

    def _record(self, w: Writer, e: Any, position: int, amended: bool) -> None:
        r = e.record
        attendance = {str(k): v.value for k, v in sorted(r.attendance.items())}
        w.update(
            "meetings",
            {
                "status": "held",
                "occurred_at": r.occurred_at,
                "duration_minutes": r.duration_minutes,
                "location_kind": r.location.kind.value,
                "facility_code": r.location.facility_code,
                "topics": [x.value for x in r.topics],
                "summary": r.summary,
                "attendance": msgspec.json.encode(attendance).decode(),
                "has_confidential_note": bool(r.confidential_note),
                "during_class_hours": r.during_class_hours,
                "week": e.week,
                "amendments": Inc(int(amended)),
                "last_position": position,
            },
            meeting_id=e.originator_id,
        )

    @handles(Meeting.Held)
    def held(self, w: Writer, e: Any, position: int) -> None:
        self._record(w, e, position, amended=False)
        self._week(w, e.originator_id, e.week, "held", 1, e.record.duration_minutes)

    @handles(Meeting.Amended)
    def amended(self, w: Writer, e: Any, position: int) -> None:
        # Take back the minutes the meeting's row holds now from its previous week.
        before = w.get("meetings", ("duration_minutes",), meeting_id=e.originator_id)
        if before is not None:
            self._week(w, e.originator_id, e.previous_week, "held", -1, -(before[0] or 0))
        self._record(w, e, position, amended=True)
        self._week(w, e.originator_id, e.week, "held", 1, e.record.duration_minutes)

    @handles(Meeting.Missed)
    def missed(self, w: Writer, e: Any, position: int) -> None:
        w.update(
            "meetings",
            {"status": "missed", "no_show_by": e.no_show_by.value, "last_position": position},
            meeting_id=e.originator_id,
        )
        self._week(w, e.originator_id, e.week, "missed", 1, 0)

    @handles(Meeting.Cancelled)
    def cancelled(self, w: Writer, e: Any, position: int) -> None:
        w.update(
            "meetings",
            {
                "status": "cancelled",
                "cancel_reason": e.reason,
                "excused": e.excused,
                "last_position": position,
            },
            meeting_id=e.originator_id,
        )
        if e.excused:
            self._week(w, e.originator_id, e.week, "excused", 1, 0)

    @handles(Participant.Erased)
    def participant_erased(self, w: Writer, e: Any, position: int) -> None:
        # Individual meetings only: a group meeting's record is the group's (docs/privacy.md).
        pairings = w.query(
            individual_pairings(log_schema(w, e)), {"pid": e.originator_id, "pos": position}
        )
        for (pairing_id,) in pairings:
            w.update("meetings", {"summary": Erase(ERASED)}, pairing_id=pairing_id)


VIEWS: tuple[Projection, ...] = (MeetingLog(),)
