"""Pairing view: every pairing with its commitment, members, flags and closure."""

from __future__ import annotations

from typing import Any

import msgspec
from psycopg import Cursor, sql
from psycopg.rows import TupleRow

from domain.pairings import Pairing
from domain.participants import Participant
from projections.base import Projection, Tables, handles
from projections.erasure import erased


class PairingView(Projection):
    name = "pairings"
    tables = {
        "pairings": (
            "pairing_id uuid PRIMARY KEY, kind text NOT NULL, mentor_id uuid NOT NULL,"
            " focus text, location_kind text NOT NULL, facility_code text,"
            " frequency text NOT NULL, minutes_per_meeting int NOT NULL, months int NOT NULL,"
            " criteria text[] NOT NULL, criteria_note text NOT NULL,"
            " opened_at timestamptz NOT NULL, first_meeting_on date,"
            " open_flags jsonb NOT NULL DEFAULT '{}'::jsonb,"
            " closed_at timestamptz, closure_type text, closure_reason text, initiator text,"
            " exit_interview_on date, rematch_eligible boolean, member_count int NOT NULL,"
            " last_position bigint NOT NULL"
        ),
        "pairing_members": (
            "pairing_id uuid NOT NULL, participant_id uuid NOT NULL, joined_at timestamptz NOT NULL,"
            " left_at timestamptz, PRIMARY KEY (pairing_id, participant_id)"
        ),
    }
    order = {"pairings": "pairing_id", "pairing_members": "pairing_id, participant_id"}

    @handles(Pairing.Opened)
    def opened(self, cur: Cursor[TupleRow], t: Tables, e: Any, position: int) -> None:
        cur.execute(
            sql.SQL(
                "INSERT INTO {} (pairing_id, kind, mentor_id, focus, location_kind, facility_code,"
                " frequency, minutes_per_meeting, months, criteria, criteria_note, opened_at,"
                " member_count, last_position) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
            ).format(t["pairings"]),
            (
                e.originator_id,
                e.kind.value,
                e.mentor_id,
                e.focus.value if e.focus else None,
                e.location.kind.value,
                e.location.facility_code,
                e.commitment.frequency.value,
                e.commitment.minutes_per_meeting,
                e.commitment.months,
                [c.value for c in e.criteria],
                e.criteria_note,
                e.occurred_at,
                len(e.members),
                position,
            ),
        )
        for member in e.members:
            self._join(cur, t, e.originator_id, member, e.occurred_at)

    def _join(
        self, cur: Cursor[TupleRow], t: Tables, pairing_id: Any, member: Any, at: Any
    ) -> None:
        cur.execute(
            sql.SQL(
                "INSERT INTO {} VALUES (%s, %s, %s, NULL) ON CONFLICT (pairing_id, participant_id)"
                " DO UPDATE SET joined_at = EXCLUDED.joined_at, left_at = NULL"
            ).format(t["pairing_members"]),
            (pairing_id, member, at),
        )

    def _touch(
        self,
        cur: Cursor[TupleRow],
        t: Tables,
        e: Any,
        position: int,
        assignments: str,
        *params: Any,
    ) -> None:
        cur.execute(
            sql.SQL(
                "UPDATE {} SET " + assignments + " last_position = %s WHERE pairing_id = %s"
            ).format(t["pairings"]),
            (*params, position, e.originator_id),
        )

    @handles(Pairing.MemberAdded)
    def added(self, cur: Cursor[TupleRow], t: Tables, e: Any, position: int) -> None:
        self._join(cur, t, e.originator_id, e.participant_id, e.occurred_at)
        self._touch(cur, t, e, position, "member_count = member_count + 1,")

    @handles(Pairing.MemberRemoved)
    def removed(self, cur: Cursor[TupleRow], t: Tables, e: Any, position: int) -> None:
        cur.execute(
            sql.SQL(
                "UPDATE {} SET left_at = %s WHERE pairing_id = %s AND participant_id = %s"
            ).format(t["pairing_members"]),
            (e.occurred_at, e.originator_id, e.participant_id),
        )
        self._touch(cur, t, e, position, "member_count = member_count - 1,")

    @handles(Pairing.FirstMeetingRecorded)
    def first_meeting(self, cur: Cursor[TupleRow], t: Tables, e: Any, position: int) -> None:
        self._touch(cur, t, e, position, "first_meeting_on = %s,", e.met_on)

    @handles(Pairing.FlaggedForReview)
    def flagged(self, cur: Cursor[TupleRow], t: Tables, e: Any, position: int) -> None:
        self._touch(
            cur,
            t,
            e,
            position,
            "open_flags = open_flags || %s::jsonb,",
            msgspec.json.encode({e.flag: e.detail}).decode(),
        )

    @handles(Pairing.FlagResolved)
    def resolved(self, cur: Cursor[TupleRow], t: Tables, e: Any, position: int) -> None:
        self._touch(cur, t, e, position, "open_flags = open_flags - %s,", e.flag)

    @handles(Pairing.Closed)
    def closed(self, cur: Cursor[TupleRow], t: Tables, e: Any, position: int) -> None:
        c = e.closure
        self._touch(
            cur,
            t,
            e,
            position,
            "closed_at = %s, closure_type = %s, closure_reason = %s, initiator = %s,"
            # The assignments are a psycopg SQL template: "{{}}" is the empty JSON object.
            " exit_interview_on = %s, rematch_eligible = %s, open_flags = '{{}}'::jsonb,",
            e.occurred_at,
            c.closure_type.value,
            c.reason,
            c.initiator.value,
            c.exit_interview_on,
            c.rematch_eligible,
        )
        cur.execute(
            sql.SQL("UPDATE {} SET left_at = %s WHERE pairing_id = %s AND left_at IS NULL").format(
                t["pairing_members"]
            ),
            (e.occurred_at, e.originator_id),
        )

    @handles(Participant.Erased)
    def participant_erased(self, cur: Cursor[TupleRow], t: Tables, e: Any, position: int) -> None:
        # Individual pairings only: a group's notes are the group's (docs/privacy.md).
        cur.execute(
            sql.SQL(
                "UPDATE {p} SET criteria_note = {c}, closure_reason = {r} WHERE kind = 'individual'"
                " AND pairing_id IN (SELECT pairing_id FROM {m} WHERE participant_id = %s)"
            ).format(
                p=t["pairings"],
                m=t["pairing_members"],
                c=erased("criteria_note"),
                r=erased("closure_reason"),
            ),
            (e.originator_id,),
        )
