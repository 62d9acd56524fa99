"""The RRC view: who resides at each Residential Reentry Center, and the shareable record of
their meetings (issue: the record the tip sheet says grantees may be required to share with
RRCs).

Only what may be shared enters these tables: no names, no confidential note, no topics, no
goals, no Part 2-tagged summary (a held record with `summary_part2` keeps its summary out). A stay at
an RRC runs from the stage move that placed the participant there to the move, return to
custody or exit that ended it; the reads below give current residents and their meetings held
during their stays (services/app/rrc.py decides what of them is shared).
"""

from __future__ import annotations

import re
from collections.abc import Collection
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import msgspec
from psycopg import sql

from domain.corrections import PlacementCorrected
from domain.meetings import Meeting
from domain.mentors import Mentor
from domain.pairings import Pairing
from domain.participants import Participant, Placement
from projections.base import Projection, Tables, handles
from projections.erasure import ERASED
from projections.ops import IS_NULL, Append, Col, Contains, Erase, Ref, Remove, Writer
from projections.query import InvalidCursor, Reader
from projections.rows import select, typed


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

    extra_indexes = (
        ("rrc_stays", "rrc", "(rrc, left_at)"),
        ("rrc_meetings", "participants", "USING gin (participants)"),
    )

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

    @handles(PlacementCorrected)
    def placement_corrected(self, w: Writer, e: PlacementCorrected, position: int) -> None:
        # The RRC was recorded wrongly: the open stay was at the corrected RRC all along, so
        # the RRC first recorded stops seeing the resident and their meetings.
        w.update("rrc_people", {"facility_code": e.facility_code}, participant_id=e.originator_id)
        if e.facility_code and e.facility_code != e.previous_facility_code:
            w.update(
                "rrc_stays",
                {"rrc": e.facility_code},
                participant_id=e.originator_id,
                left_at=IS_NULL,
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


# -- reads -----------------------------------------------------------------------------------


class ResidentOut(msgspec.Struct):
    participant_id: UUID
    number: str
    rrc: str
    arrived_at: datetime
    stage: int
    placement: str
    facility: str | None
    # The mentor of the resident's individual pairing, and of each of their open groups.
    mentor: str | None
    group_mentors: list[str]


class MeetingRecordRow(msgspec.Struct):
    """A held meeting with current residents of an RRC, during their stays there."""

    meeting_id: UUID
    occurred_at: datetime
    duration_minutes: int
    location_kind: str
    facility_code: str | None
    attendance: dict[str, str]
    # Null when the summary is tagged Part 2 (`part2_withheld`): it never enters the view.
    summary: str | None
    part2_withheld: bool
    # The residents of this RRC the meeting was with.
    residents: list[UUID]


RESIDENT = select(
    ResidentOut,
    participant_id="s.participant_id",
    number="p.number",
    rrc="s.rrc",
    arrived_at="s.arrived_at",
    stage="p.stage",
    placement="p.placement",
    facility="p.facility_code",
    mentor="mi.display_name",
    group_mentors="array(SELECT mg.display_name FROM {pairings} pg JOIN {mentors} mg"
    " USING (mentor_id) WHERE pg.pairing_id = ANY(p.group_pairing_ids) ORDER BY mg.display_name)",
)
_RESIDENTS = (
    "SELECT " + RESIDENT.sql + " FROM {stays} s JOIN {people} p USING (participant_id)"
    " LEFT JOIN {pairings} pi ON pi.pairing_id = p.individual_pairing_id"
    " LEFT JOIN {mentors} mi ON mi.mentor_id = pi.mentor_id"
    " WHERE s.rrc = %s AND s.left_at IS NULL AND s.participant_id > %s::uuid"
    " AND s.participant_id <> ALL(%s::uuid[])"
)
MEETING_RECORD = select(
    MeetingRecordRow,
    meeting_id="m.meeting_id",
    occurred_at="m.occurred_at",
    duration_minutes="m.duration_minutes",
    location_kind="m.location_kind",
    facility_code="m.facility_code",
    attendance="m.attendance",
    summary="m.summary",
    part2_withheld="m.part2_withheld",
    residents="array_agg(DISTINCT r.participant_id ORDER BY r.participant_id)",
)
_MEETINGS = (
    "WITH residents AS (SELECT participant_id, arrived_at, left_at FROM {stays}"
    "  WHERE rrc = %s AND participant_id IN"
    "  (SELECT participant_id FROM {stays} WHERE rrc = %s AND left_at IS NULL"
    "   AND participant_id <> ALL(%s::uuid[])))"
    " SELECT " + MEETING_RECORD.sql + " FROM {meetings} m JOIN residents r"
    " ON r.participant_id = ANY(m.participants)"
    "  AND m.occurred_at >= r.arrived_at AND (r.left_at IS NULL OR m.occurred_at < r.left_at)"
    " WHERE m.held AND (m.occurred_at, m.meeting_id) > (%s, %s)"
    " AND m.occurred_at >= %s AND m.occurred_at < %s"
    " AND (%s::uuid IS NULL OR r.participant_id = %s::uuid)"
    " GROUP BY m.meeting_id ORDER BY m.occurred_at, m.meeting_id LIMIT %s"
)
# A meeting record's page cursor: microseconds since the epoch of `occurred_at`, and its id.
_CURSOR = re.compile(r"^(-?[0-9]{1,18})\.([0-9a-f-]{36})$")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
BEGINNING = datetime(1, 1, 2, tzinfo=UTC)
END = datetime(9999, 12, 30, tzinfo=UTC)


def _residents(
    db: Reader,
    t: Tables,
    rrc: str,
    after: str,
    limit: int,
    gone: Collection[UUID],
    only: UUID | None = None,
) -> list[ResidentOut]:
    query = sql.SQL(_RESIDENTS).format(
        pairings=t["rrc_pairings"],
        mentors=t["rrc_mentors"],
        stays=t["rrc_stays"],
        people=t["rrc_people"],
    )
    params: list[Any] = [rrc, after, list(gone)]
    if only is not None:
        query += sql.SQL(" AND s.participant_id = %s")
        params.append(only)
    query += sql.SQL(" ORDER BY s.participant_id LIMIT %s")
    params.append(limit)
    return typed(ResidentOut, RESIDENT, db.fetchall(query, params))


def resident_ids(db: Reader, t: Tables, rrc: str) -> list[UUID]:
    """Every participant placed at the RRC now."""
    rows = db.fetchall(
        sql.SQL("SELECT participant_id FROM {} WHERE rrc = %s AND left_at IS NULL").format(
            t["rrc_stays"]
        ),
        (rrc,),
    )
    return [r[0] for r in rows]


def residents(
    db: Reader, t: Tables, rrc: str, *, after: UUID | None, limit: int, gone: Collection[UUID]
) -> tuple[list[ResidentOut], str | None]:
    """The current residents of the RRC by id, a page after `after`, and the next page's
    cursor if there is one; `gone`: participants placed there who have exited all the same
    (a derived exit, worked out when read), left out as a recorded exit is."""
    items = _residents(db, t, rrc, str(after or UUID(int=0)), limit + 1, gone)
    more = len(items) > limit
    items = items[:limit]
    return items, str(items[-1].participant_id) if more and items else None


def resident(
    db: Reader, t: Tables, rrc: str, participant_id: UUID, gone: Collection[UUID]
) -> ResidentOut | None:
    """The participant, if a current resident of the RRC (and not `gone`)."""
    found = _residents(db, t, rrc, str(UUID(int=0)), 1, gone, only=participant_id)
    return found[0] if found else None


def meeting_records(
    db: Reader,
    t: Tables,
    rrc: str,
    *,
    after: tuple[datetime, UUID],
    since: datetime,
    until: datetime,
    participant_id: UUID | None,
    limit: int,
    gone: Collection[UUID],
) -> list[MeetingRecordRow]:
    """At most `limit` held meetings with current residents of the RRC while they resided
    there, oldest first after the cursor `after`, held in [`since`, `until`) (and with
    `participant_id`, if given)."""
    rows = db.fetchall(
        sql.SQL(_MEETINGS).format(stays=t["rrc_stays"], meetings=t["rrc_meetings"]),
        (rrc, rrc, list(gone), *after, since, until, participant_id, participant_id, limit),
    )
    return typed(MeetingRecordRow, MEETING_RECORD, rows)


def parse_cursor(cursor: str) -> tuple[datetime, UUID]:
    """The position a meeting-record cursor names (the beginning for an empty one)."""
    if not cursor:
        return BEGINNING, UUID(int=0)
    match = _CURSOR.fullmatch(cursor)
    try:
        if match is None:
            raise ValueError(cursor)
        at = _EPOCH + timedelta(microseconds=int(match.group(1)))
        return at, UUID(match.group(2))
    except (ValueError, OverflowError):
        raise InvalidCursor("the cursor is not one this list handed out") from None


def cursor_after(occurred_at: datetime, meeting_id: UUID) -> str:
    """The cursor of the page after the meeting record held at `occurred_at`."""
    delta = occurred_at - _EPOCH
    micros = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    return f"{micros}.{meeting_id}"
