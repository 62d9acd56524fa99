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

from datetime import datetime
from uuid import UUID

import msgspec
from psycopg import sql

from domain.meetings import Meeting
from domain.mentors import Mentor
from domain.pairings import Pairing
from domain.participants import Participant, Placement
from projections.base import Projection, Tables, handles
from projections.erasure import ERASED
from projections.ops import IS_NULL, Append, Col, Contains, Erase, Ref, Remove, Writer


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

    def indexes(self, t: Tables) -> list[sql.Composed]:
        return [
            sql.SQL("CREATE INDEX IF NOT EXISTS {} ON {} (rrc, left_at)").format(
                sql.Identifier(f"rrc_stays_b{t.build}_rrc"), t["rrc_stays"]
            ),
            sql.SQL("CREATE INDEX IF NOT EXISTS {} ON {} USING gin (participants)").format(
                sql.Identifier(f"rrc_meetings_b{t.build}_participants"), t["rrc_meetings"]
            ),
        ]

    # -- residents ---------------------------------------------------------------------------
    @handles(Participant.Enrolled)
    def enrolled(self, w: Writer, e: Participant.Enrolled, position: int) -> None:
        w.insert(
            "rrc_people",
            {
                "participant_id": e.originator_id,
                "number": e.number,
                "stage": 1,
                "placement": "bop_institution",
                "facility_code": e.facility_code,
                "status": "active",
            },
        )

    def _leave(self, w: Writer, participant_id: UUID, at: datetime) -> None:
        w.update("rrc_stays", {"left_at": at}, participant_id=participant_id, left_at=IS_NULL)

    @handles(Participant.StageTransitioned, Participant.ReturnedToCustody)
    def moved(
        self,
        w: Writer,
        e: Participant.StageTransitioned | Participant.ReturnedToCustody,
        position: int,
    ) -> None:
        if isinstance(e, Participant.ReturnedToCustody):
            stage, placement = 1, Placement.BOP_INSTITUTION
        else:
            stage, placement = int(e.to_stage), e.placement
        w.update(
            "rrc_people",
            {
                "stage": stage,
                "placement": placement.value,
                "facility_code": e.facility_code,
            },
            participant_id=e.originator_id,
        )
        self._leave(w, e.originator_id, e.occurred_at)
        if placement is Placement.RRC and e.facility_code:
            w.insert(
                "rrc_stays",
                {
                    "participant_id": e.originator_id,
                    "rrc": e.facility_code,
                    "arrived_at": e.occurred_at,
                    "arrived_position": position,
                },
            )

    @handles(Participant.Exited)
    def exited(self, w: Writer, e: Participant.Exited, position: int) -> None:
        w.update("rrc_people", {"status": "exited"}, participant_id=e.originator_id)
        self._leave(w, e.originator_id, e.occurred_at)

    # -- mentors -------------------------------------------------------------------------------
    @handles(Mentor.Registered)
    def mentor(self, w: Writer, e: Mentor.Registered, position: int) -> None:
        w.insert("rrc_mentors", {"mentor_id": e.originator_id, "display_name": e.display_name})

    @handles(Pairing.Opened)
    def pairing(self, w: Writer, e: Pairing.Opened, position: int) -> None:
        w.insert(
            "rrc_pairings",
            {"pairing_id": e.originator_id, "mentor_id": e.mentor_id, "members": list(e.members)},
        )

    @handles(Participant.PairingJoined)
    def joined(self, w: Writer, e: Participant.PairingJoined, position: int) -> None:
        change = (
            {"individual_pairing_id": e.pairing_id}
            if e.individual
            else {"group_pairing_ids": Append(e.pairing_id)}
        )
        w.update("rrc_people", change, participant_id=e.originator_id)

    @handles(Participant.PairingLeft)
    def left(self, w: Writer, e: Participant.PairingLeft, position: int) -> None:
        change = (
            {"individual_pairing_id": None}
            if e.individual
            else {"group_pairing_ids": Remove(e.pairing_id)}
        )
        w.update("rrc_people", change, participant_id=e.originator_id)

    # -- meetings ------------------------------------------------------------------------------
    @handles(Meeting.Scheduled)
    def scheduled(self, w: Writer, e: Meeting.Scheduled, position: int) -> None:
        w.insert(
            "rrc_meetings",
            {
                "meeting_id": e.originator_id,
                "pairing_id": e.pairing_id,
                "held": False,
                "last_position": position,
            },
        )

    @handles(Meeting.Held, Meeting.Amended)
    def held(self, w: Writer, e: Meeting.Held | Meeting.Amended, position: int) -> None:
        r = e.record
        # A Part 2-tagged summary never enters this view (DESIGN D8).
        withheld = bool(r.summary_part2)
        attendance = {str(k): v.value for k, v in sorted(r.attendance.items())}
        # Who the meeting was with: every member named in the attendance (a group names them
        # all), else the pairing's members.
        named = sorted(r.attendance)
        w.update(
            "rrc_meetings",
            {
                "held": True,
                "occurred_at": r.occurred_at,
                "duration_minutes": r.duration_minutes,
                "location_kind": r.location.kind.value,
                "facility_code": r.location.facility_code,
                "attendance": msgspec.json.encode(attendance).decode(),
                "summary": None if withheld else r.summary,
                "part2_withheld": withheld,
                "participants": named
                or Ref("rrc_pairings", "members", {"pairing_id": Col("pairing_id")}, []),
                "last_position": position,
            },
            meeting_id=e.originator_id,
        )

    @handles(Participant.Erased)
    def participant_erased(self, w: Writer, e: Participant.Erased, position: int) -> None:
        # Shared summaries of meetings with the erased participant (crypto-shredding).
        w.update("rrc_meetings", {"summary": Erase(ERASED)}, participants=Contains(e.originator_id))


VIEWS: tuple[Projection, ...] = (RrcView(),)
