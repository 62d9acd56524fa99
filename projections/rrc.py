"""The RRC view: who resides at each Residential Reentry Center, and the shareable record of
their meetings (issue: the record the tip sheet says grantees may be required to share with
RRCs).

Only what may be shared enters these tables: no names, no confidential note, no topics, no
goals, no Part 2-tagged summary (a held record with `summary_part2` keeps its summary out). A stay at
an RRC runs from the stage move that placed the participant there to the move, return to
custody or exit that ended it; the API shows current residents and their meetings held during
their stays (services/api/rrc.py).
"""

from __future__ import annotations

from typing import Any

import msgspec
from psycopg import Cursor, sql
from psycopg.rows import TupleRow

from domain.meetings import Meeting
from domain.mentors import Mentor
from domain.pairings import Pairing
from domain.participants import Participant, Placement
from projections.base import Projection, Tables, handles
from projections.erasure import erased


class RrcView(Projection):
    name = "rrc"
    tables = {
        # Every participant's current standing: the resident rows' stage and mentors.
        "rrc_people": (
            "participant_id uuid PRIMARY KEY, number text NOT NULL, stage smallint NOT NULL,"
            " placement text NOT NULL, facility_code text, status text NOT NULL,"
            " individual_pairing_id uuid, group_pairing_ids uuid[] NOT NULL DEFAULT '{}'"
        ),
        # One row per stay at an RRC; `left_at` is null while the participant resides there.
        "rrc_stays": (
            "participant_id uuid NOT NULL, rrc text NOT NULL, arrived_at timestamptz NOT NULL,"
            " left_at timestamptz, arrived_position bigint NOT NULL,"
            " PRIMARY KEY (participant_id, arrived_position)"
        ),
        "rrc_mentors": "mentor_id uuid PRIMARY KEY, display_name text NOT NULL",
        "rrc_pairings": "pairing_id uuid PRIMARY KEY, mentor_id uuid NOT NULL, members uuid[] NOT NULL",
        # Held meetings' shareable columns; `participants` are the mentees the meeting was with.
        "rrc_meetings": (
            "meeting_id uuid PRIMARY KEY, pairing_id uuid NOT NULL, held boolean NOT NULL,"
            " occurred_at timestamptz, duration_minutes int, location_kind text,"
            " facility_code text, attendance jsonb NOT NULL DEFAULT '{}'::jsonb, summary text,"
            " part2_withheld boolean NOT NULL DEFAULT false,"
            " participants uuid[] NOT NULL DEFAULT '{}', last_position bigint NOT NULL"
        ),
    }
    order = {
        "rrc_people": "participant_id",
        "rrc_stays": "participant_id, arrived_position",
        "rrc_mentors": "mentor_id",
        "rrc_pairings": "pairing_id",
        "rrc_meetings": "meeting_id",
    }

    def create(self, cur: Cursor[TupleRow], t: Tables) -> None:
        super().create(cur, t)
        cur.execute(
            sql.SQL("CREATE INDEX IF NOT EXISTS {} ON {} (rrc, left_at)").format(
                sql.Identifier(f"rrc_stays_b{t.build}_rrc"), t["rrc_stays"]
            )
        )
        cur.execute(
            sql.SQL("CREATE INDEX IF NOT EXISTS {} ON {} USING gin (participants)").format(
                sql.Identifier(f"rrc_meetings_b{t.build}_participants"), t["rrc_meetings"]
            )
        )

    # -- residents ---------------------------------------------------------------------------
    @handles(Participant.Enrolled)
    def enrolled(self, cur: Cursor[TupleRow], t: Tables, e: Any, position: int) -> None:
        cur.execute(
            sql.SQL(
                "INSERT INTO {} (participant_id, number, stage, placement, facility_code, status)"
                " VALUES (%s, %s, 1, 'bop_institution', %s, 'active')"
            ).format(t["rrc_people"]),
            (e.originator_id, e.number, e.facility_code),
        )

    def _leave(self, cur: Cursor[TupleRow], t: Tables, participant_id: Any, at: Any) -> None:
        cur.execute(
            sql.SQL(
                "UPDATE {} SET left_at = %s WHERE participant_id = %s AND left_at IS NULL"
            ).format(t["rrc_stays"]),
            (at, participant_id),
        )

    @handles(Participant.StageTransitioned, Participant.ReturnedToCustody)
    def moved(self, cur: Cursor[TupleRow], t: Tables, e: Any, position: int) -> None:
        returned = isinstance(e, Participant.ReturnedToCustody)
        placement = Placement.BOP_INSTITUTION if returned else e.placement
        cur.execute(
            sql.SQL(
                "UPDATE {} SET stage = %s, placement = %s, facility_code = %s"
                " WHERE participant_id = %s"
            ).format(t["rrc_people"]),
            (
                1 if returned else int(e.to_stage),
                placement.value,
                e.facility_code,
                e.originator_id,
            ),
        )
        self._leave(cur, t, e.originator_id, e.occurred_at)
        if placement is Placement.RRC and e.facility_code:
            cur.execute(
                sql.SQL(
                    "INSERT INTO {} (participant_id, rrc, arrived_at, arrived_position)"
                    " VALUES (%s, %s, %s, %s)"
                ).format(t["rrc_stays"]),
                (e.originator_id, e.facility_code, e.occurred_at, position),
            )

    @handles(Participant.Exited)
    def exited(self, cur: Cursor[TupleRow], t: Tables, e: Any, position: int) -> None:
        cur.execute(
            sql.SQL("UPDATE {} SET status = 'exited' WHERE participant_id = %s").format(
                t["rrc_people"]
            ),
            (e.originator_id,),
        )
        self._leave(cur, t, e.originator_id, e.occurred_at)

    # -- mentors -------------------------------------------------------------------------------
    @handles(Mentor.Registered)
    def mentor(self, cur: Cursor[TupleRow], t: Tables, e: Any, position: int) -> None:
        cur.execute(
            sql.SQL("INSERT INTO {} VALUES (%s, %s)").format(t["rrc_mentors"]),
            (e.originator_id, e.display_name),
        )

    @handles(Pairing.Opened)
    def pairing(self, cur: Cursor[TupleRow], t: Tables, e: Any, position: int) -> None:
        cur.execute(
            sql.SQL("INSERT INTO {} VALUES (%s, %s, %s)").format(t["rrc_pairings"]),
            (e.originator_id, e.mentor_id, list(e.members)),
        )

    @handles(Participant.PairingJoined)
    def joined(self, cur: Cursor[TupleRow], t: Tables, e: Any, position: int) -> None:
        change = (
            "individual_pairing_id = %(p)s"
            if e.individual
            else "group_pairing_ids = array_append(group_pairing_ids, %(p)s)"
        )
        cur.execute(
            sql.SQL("UPDATE {} SET " + change + " WHERE participant_id = %(id)s").format(
                t["rrc_people"]
            ),
            {"p": e.pairing_id, "id": e.originator_id},
        )

    @handles(Participant.PairingLeft)
    def left(self, cur: Cursor[TupleRow], t: Tables, e: Any, position: int) -> None:
        change = (
            "individual_pairing_id = NULL"
            if e.individual
            else "group_pairing_ids = array_remove(group_pairing_ids, %(p)s)"
        )
        cur.execute(
            sql.SQL("UPDATE {} SET " + change + " WHERE participant_id = %(id)s").format(
                t["rrc_people"]
            ),
            {"p": e.pairing_id, "id": e.originator_id},
        )

    # -- meetings ------------------------------------------------------------------------------
    @handles(Meeting.Scheduled)
    def scheduled(self, cur: Cursor[TupleRow], t: Tables, e: Any, position: int) -> None:
        cur.execute(
            sql.SQL(
                "INSERT INTO {} (meeting_id, pairing_id, held, last_position)"
                " VALUES (%s, %s, false, %s)"
            ).format(t["rrc_meetings"]),
            (e.originator_id, e.pairing_id, position),
        )

    @handles(Meeting.Held, Meeting.Amended)
    def held(self, cur: Cursor[TupleRow], t: Tables, e: Any, position: int) -> None:
        r = e.record
        # A Part 2-tagged summary never enters this view (DESIGN D8).
        withheld = bool(r.summary_part2)
        attendance = {str(k): v.value for k, v in sorted(r.attendance.items())}
        # Who the meeting was with: every member named in the attendance (a group names them
        # all), else the pairing's one mentee.
        cur.execute(
            sql.SQL(
                "UPDATE {m} SET held = true, occurred_at = %(at)s, duration_minutes = %(min)s,"
                " location_kind = %(kind)s, facility_code = %(fac)s, attendance = %(att)s::jsonb,"
                " summary = %(summary)s, part2_withheld = %(withheld)s,"
                " participants = coalesce(%(named)s::uuid[],"
                "   (SELECT p.members FROM {p} p WHERE p.pairing_id = {m}.pairing_id), '{{}}'),"
                " last_position = %(pos)s WHERE meeting_id = %(id)s"
            ).format(m=t["rrc_meetings"], p=t["rrc_pairings"]),
            {
                "at": r.occurred_at,
                "min": r.duration_minutes,
                "kind": r.location.kind.value,
                "fac": r.location.facility_code,
                "att": msgspec.json.encode(attendance).decode(),
                "summary": None if withheld else r.summary,
                "withheld": withheld,
                "named": sorted(r.attendance) or None,
                "pos": position,
                "id": e.originator_id,
            },
        )

    @handles(Participant.Erased)
    def participant_erased(self, cur: Cursor[TupleRow], t: Tables, e: Any, position: int) -> None:
        # Shared summaries of meetings with the erased participant (crypto-shredding).
        cur.execute(
            sql.SQL("UPDATE {} SET summary = {} WHERE %s = ANY(participants)").format(
                t["rrc_meetings"], erased("summary")
            ),
            (e.originator_id,),
        )


VIEWS: tuple[Projection, ...] = (RrcView(),)
