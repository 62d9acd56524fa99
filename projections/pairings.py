"""Pairing view: every pairing with its commitment, members, flags and closure."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Annotated, Any, Literal
from uuid import UUID

import msgspec
from psycopg import sql

from domain.common import ProwdAggregate
from domain.exit_review import MenteeExit, exit_review
from domain.pairings import ClosureType, Focus, Frequency, LocationKind, Pairing, PairingKind
from domain.participants import Participant
from projections.base import Projection, Tables, handles
from projections.erasure import ERASED
from projections.mentors import PeerMentor
from projections.ops import EXCLUDED, IS_NULL, Erase, Inc, JsonDrop, JsonPut, Writer
from projections.query import Column, Reader, Sort, page
from projections.rows import select, typed
from projections.search import Find, folded_name


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
    # Pairings by mentor and a participant's pairings (the meeting log's and calendar's filters).
    extra_indexes = (
        ("pairings", "mentor", "(mentor_id)"),
        ("pairing_members", "participant", "(participant_id)"),
    )

    @handles(Pairing.Opened)
    def opened(self, w: Writer, e: Pairing.Opened, position: int) -> None:
        w.insert(
            "pairings",
            {
                "pairing_id": e.originator_id,
                "kind": e.kind.value,
                "mentor_id": e.mentor_id,
                "focus": e.focus.value if e.focus else None,
                "location_kind": e.location.kind.value,
                "facility_code": e.location.facility_code,
                "frequency": e.commitment.frequency.value,
                "minutes_per_meeting": e.commitment.minutes_per_meeting,
                "months": e.commitment.months,
                "criteria": [c.value for c in e.criteria],
                "criteria_note": e.criteria_note,
                "opened_at": e.occurred_at,
                "member_count": len(e.members),
                "last_position": position,
            },
        )
        for member in e.members:
            self._join(w, e.originator_id, member, e.occurred_at)

    def _join(self, w: Writer, pairing_id: UUID, member: UUID, at: datetime) -> None:
        w.insert(
            "pairing_members",
            {"pairing_id": pairing_id, "participant_id": member, "joined_at": at, "left_at": None},
            on_conflict={"joined_at": EXCLUDED, "left_at": None},
        )

    def _touch(self, w: Writer, e: ProwdAggregate.Event, position: int, **sets: Any) -> None:
        w.update("pairings", {**sets, "last_position": position}, pairing_id=e.originator_id)

    @handles(Pairing.MemberAdded)
    def added(self, w: Writer, e: Pairing.MemberAdded, position: int) -> None:
        self._join(w, e.originator_id, e.participant_id, e.occurred_at)
        self._touch(w, e, position, member_count=Inc(1))

    @handles(Pairing.MemberRemoved)
    def removed(self, w: Writer, e: Pairing.MemberRemoved, position: int) -> None:
        w.update(
            "pairing_members",
            {"left_at": e.occurred_at},
            pairing_id=e.originator_id,
            participant_id=e.participant_id,
        )
        self._touch(w, e, position, member_count=Inc(-1))

    @handles(Pairing.FirstMeetingRecorded)
    def first_meeting(self, w: Writer, e: Pairing.FirstMeetingRecorded, position: int) -> None:
        self._touch(w, e, position, first_meeting_on=e.met_on)

    @handles(Pairing.FlaggedForReview)
    def flagged(self, w: Writer, e: Pairing.FlaggedForReview, position: int) -> None:
        self._touch(w, e, position, open_flags=JsonPut(e.flag, e.detail))

    @handles(Pairing.FlagResolved)
    def resolved(self, w: Writer, e: Pairing.FlagResolved, position: int) -> None:
        self._touch(w, e, position, open_flags=JsonDrop(e.flag))

    @handles(Pairing.Closed)
    def closed(self, w: Writer, e: Pairing.Closed, position: int) -> None:
        c = e.closure
        self._touch(
            w,
            e,
            position,
            closed_at=e.occurred_at,
            closure_type=c.closure_type.value,
            closure_reason=c.reason,
            initiator=c.initiator.value,
            exit_interview_on=c.exit_interview_on,
            rematch_eligible=c.rematch_eligible,
            open_flags={},
        )
        w.update(
            "pairing_members",
            {"left_at": e.occurred_at},
            pairing_id=e.originator_id,
            left_at=IS_NULL,
        )

    @handles(Participant.Erased)
    def participant_erased(self, w: Writer, e: Participant.Erased, position: int) -> None:
        # Individual pairings only: a group's notes are the group's (docs/privacy.md).
        for (pairing_id,) in w.select(
            "pairing_members", ("pairing_id",), participant_id=e.originator_id
        ):
            w.update(
                "pairings",
                {"criteria_note": Erase(ERASED), "closure_reason": Erase(ERASED)},
                pairing_id=pairing_id,
                kind="individual",
            )


# -- reads -----------------------------------------------------------------------------------

PairingStatus = Literal["open", "closed"]


class PairingRow(msgspec.Struct):
    """A pairing in the pairing list: its match, flags and closure."""

    id: UUID
    kind: PairingKind
    mentor_id: UUID
    focus: Focus | None
    location_kind: LocationKind
    facility: str | None
    frequency: Frequency
    opened_at: datetime
    first_meeting_on: date | None
    open_flags: dict[str, str]
    status: PairingStatus
    closed_at: datetime | None
    closure_type: ClosureType | None
    member_count: int
    exit_review: Annotated[
        list[MenteeExit],
        msgspec.Meta(
            description="Worked out when read, for an open pairing: its members whose derived"
            " exit (90 days without service, none planned; no exit recorded) has taken effect"
            " today, with the exit's date and `basis` `derived` (decision 104). Such a pairing"
            " counts as flagged (`flagged=true`) until it is closed."
        ),
    ]


PAIRING = select(
    PairingRow, skip=("status", "exit_review"), id="pairing_id", facility="facility_code"
)


# The columns the pairing list sorts by (`sort`); `mentor` by the mentor's folded name.
PAIRING_SORT = {
    "opened_at": Column("opened_at", "timestamptz"),
    "closed_at": Column("closed_at", "timestamptz"),
    "kind": Column("kind", "text"),
    "mentor": Column(folded_name("mentor_id"), "text"),
    "facility": Column("facility_code", "text"),
    "frequency": Column("frequency", "text"),
    "first_meeting_on": Column("first_meeting_on", "date"),
    "member_count": Column("member_count", "int"),
}


def found_pairings(t: Tables, find: Find) -> tuple[sql.Composable, tuple[object, ...]]:
    """`SELECT pairing_id` of the pairings whose mentor or a member `find` finds."""
    mentors, mentor_params = find.ids("mentor")
    members, member_params = find.ids("participant")
    query = sql.SQL(
        "SELECT pairing_id FROM {p} WHERE mentor_id IN ({mentors})"
        " UNION SELECT pairing_id FROM {m} WHERE participant_id IN ({members})"
    ).format(p=t["pairings"], m=t["pairing_members"], mentors=mentors, members=members)
    return query, (*mentor_params, *member_params)


def pairing_rank(t: Tables, find: Find, pairings: sql.Composable) -> sql.Composable:
    """The closeness to `find` of the row of `pairings` (a table with `pairing_id` and
    `mentor_id`): its mentor's or its closest member's."""
    return find.pairing_rank(
        t["pairing_members"],
        sql.SQL("{}.pairing_id").format(pairings),
        sql.SQL("{}.mentor_id").format(pairings),
    )


def pairing_page(
    db: Reader,
    t: Tables,
    *,
    after: str,
    limit: int,
    mentor_id: UUID | None = None,
    participant_id: UUID | None = None,
    status: PairingStatus | None = None,
    flagged: bool | None = None,
    peer_mentor: PeerMentor | None = None,
    find: Find | None = None,
    sort: Sort | None = None,
    exited: Mapping[UUID, date] | None = None,
) -> tuple[list[PairingRow], str | None]:
    """Pairings in id order (or by `sort`) after `after`, filtered by mentor, member, status
    or flags, found by `find` (the mentor's or a member's name or number; without a `sort`,
    the closest first); for a
    `peer_mentor`, only theirs. `exited`: the participants whose derived exit is in effect,
    with its date: an open pairing with such a member is flagged and shows them in
    `exit_review`."""
    exited = exited or {}
    where: list[tuple[str, Any]] = [("mentor_id", mentor_id)] if mentor_id else []
    clauses: list[sql.Composable] = [sql.SQL("TRUE")]
    params: list[Any] = []
    if participant_id is not None:
        # Members removed from a group are no longer in it; members at closure still are.
        clauses.append(
            sql.SQL(
                "pairing_id IN (SELECT m.pairing_id FROM {} m JOIN {} p USING (pairing_id)"
                " WHERE m.participant_id = %s AND (m.left_at IS NULL OR m.left_at = p.closed_at))"
            ).format(t["pairing_members"], t["pairings"])
        )
        params.append(participant_id)
    if status is not None:
        clauses.append(
            sql.SQL("closed_at IS NULL" if status == "open" else "closed_at IS NOT NULL")
        )
    if flagged is not None:
        # A recorded flag, or a member's derived exit (decision 104), worked out when read
        # and passed as the array of those whose exit is in effect.
        either = sql.SQL(
            "(open_flags <> '{{}}'::jsonb OR (closed_at IS NULL AND pairing_id IN"
            " (SELECT pairing_id FROM {} WHERE left_at IS NULL"
            " AND participant_id = ANY(%s::uuid[]))))"
        ).format(t["pairing_members"])
        clauses.append(either if flagged else sql.SQL("NOT {}").format(either))
        params.append(list(exited))
    if peer_mentor is not None:
        clauses.append(sql.SQL("mentor_id IN ({})").format(peer_mentor.mentor_ids()))
        params.append(peer_mentor.subject)
    if find is not None:
        found, found_params = found_pairings(t, find)
        clauses.append(sql.SQL("pairing_id IN ({})").format(found))
        params.extend(found_params)
        closest = find.closest(pairing_rank(t, find, t["pairings"]))
        sort = closest if sort is None else find.sorted(sort)
    rows, nxt = page(
        db,
        t,
        "pairings",
        PAIRING.sql,
        "pairing_id",
        after=after,
        limit=limit,
        where=where,
        cast_key="uuid",
        extra=sql.SQL(" AND ").join(clauses),
        extra_params=tuple(params),
        sort=sort,
    )
    members = current_members(db, t, [r[0] for r in rows], exited)
    derived = {
        "status": lambda r: "open" if r["closed_at"] is None else "closed",
        "exit_review": lambda r: list(
            exit_review(r["closed_at"] is None, members.get(r["id"], ()), exited)
        ),
    }
    return typed(PairingRow, PAIRING, rows, derived), nxt


def current_members(
    db: Reader, t: Tables, pairing_ids: list[UUID], among: Mapping[UUID, date]
) -> dict[UUID, list[UUID]]:
    """The current members of these pairings who are `among` the given participants."""
    if not pairing_ids or not among:
        return {}
    rows = db.fetchall(
        sql.SQL(
            "SELECT pairing_id, participant_id FROM {} WHERE pairing_id = ANY(%s)"
            " AND participant_id = ANY(%s) AND left_at IS NULL"
        ).format(t["pairing_members"]),
        (pairing_ids, list(among)),
    )
    out: dict[UUID, list[UUID]] = {}
    for pairing_id, participant_id in rows:
        out.setdefault(pairing_id, []).append(participant_id)
    return out


def exit_reviews_by_mentor(db: Reader, t: Tables, exited: Mapping[UUID, date]) -> dict[UUID, int]:
    """Each mentor's open pairings with a current member whose derived exit is in effect
    (`exited`), counted (decision 104); mentors without any are left out."""
    if not exited:
        return {}
    rows = db.fetchall(
        sql.SQL(
            "SELECT p.mentor_id, count(DISTINCT p.pairing_id) FROM {} p JOIN {} m"
            " USING (pairing_id) WHERE p.closed_at IS NULL AND m.left_at IS NULL"
            " AND m.participant_id = ANY(%s) GROUP BY p.mentor_id"
        ).format(t["pairings"], t["pairing_members"]),
        (list(exited),),
    )
    return {mentor_id: int(n) for mentor_id, n in rows}


def member_pairings(db: Reader, t: Tables, participant_ids: set[UUID]) -> set[UUID]:
    """The pairings these participants are (or were) members of."""
    rows = db.fetchall(
        sql.SQL("SELECT DISTINCT pairing_id FROM {} WHERE participant_id = ANY(%s)").format(
            t["pairing_members"]
        ),
        (list(participant_ids),),
    )
    return {r[0] for r in rows}
