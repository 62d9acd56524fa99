"""Meeting log per pairing and the weekly cadence counts behind the compliance view.

The confidential note never enters a view: views are read by more roles than the note's
author and the coordinator. Weeks are the grantee-local ISO weeks carried by the events.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import msgspec
from psycopg import sql

from domain.cadence import WeekTally, alert_weeks, iso_week, lapsed_since, missed_cadence
from domain.meetings import Meeting, MeetingStatus
from domain.pairings import LocationKind
from domain.participants import Participant
from projections.base import Projection, Tables, handles
from projections.erasure import ERASED, individual_pairings, log_schema
from projections.mentors import PeerMentor
from projections.ops import ADD_EXCLUDED, Erase, Inc, Src, Writer
from projections.pairings import found_pairings, pairing_rank
from projections.query import Column, Keyset, Reader, Sort, keyset_page, page
from projections.rows import select, typed
from projections.search import CLOSENESS, Find


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
    # The meeting log's order (its keyset), within a pairing and across pairings; the meetings
    # still scheduled, in time order (the alerts' `awaiting_outcome` and `scheduled_between`:
    # a grantee's answered meetings grow without end, its scheduled ones stay few).
    extra_indexes = (
        ("meetings", "pairing_time", "(pairing_id, scheduled_for, meeting_id)"),
        ("meetings", "time", "(scheduled_for, meeting_id)"),
        ("meetings", "awaiting", "(scheduled_for, meeting_id) WHERE status = 'scheduled'"),
    )

    def _week(
        self, w: Writer, meeting_id: UUID, week: str, column: str, step: int, minutes: int
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
    def scheduled(self, w: Writer, e: Meeting.Scheduled, position: int) -> None:
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

    def _record(
        self, w: Writer, e: Meeting.Held | Meeting.Amended, position: int, amended: bool
    ) -> None:
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
    def held(self, w: Writer, e: Meeting.Held, position: int) -> None:
        self._record(w, e, position, amended=False)
        self._week(w, e.originator_id, e.week, "held", 1, e.record.duration_minutes)

    @handles(Meeting.Amended)
    def amended(self, w: Writer, e: Meeting.Amended, position: int) -> None:
        # Take back the minutes the meeting's row holds now from its previous week.
        before = w.get("meetings", ("duration_minutes",), meeting_id=e.originator_id)
        if before is not None:
            self._week(w, e.originator_id, e.previous_week, "held", -1, -(before[0] or 0))
        self._record(w, e, position, amended=True)
        self._week(w, e.originator_id, e.week, "held", 1, e.record.duration_minutes)

    @handles(Meeting.Missed)
    def missed(self, w: Writer, e: Meeting.Missed, position: int) -> None:
        w.update(
            "meetings",
            {"status": "missed", "no_show_by": e.no_show_by.value, "last_position": position},
            meeting_id=e.originator_id,
        )
        self._week(w, e.originator_id, e.week, "missed", 1, 0)

    @handles(Meeting.Cancelled)
    def cancelled(self, w: Writer, e: Meeting.Cancelled, position: int) -> None:
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
    def participant_erased(self, w: Writer, e: Participant.Erased, position: int) -> None:
        # Individual meetings only: a group meeting's record is the group's (docs/privacy.md).
        pairings = w.query(
            individual_pairings(log_schema(w, e)), {"pid": e.originator_id, "pos": position}
        )
        for (pairing_id,) in pairings:
            w.update("meetings", {"summary": Erase(ERASED)}, pairing_id=pairing_id)


VIEWS: tuple[Projection, ...] = (MeetingLog(),)


# -- reads -----------------------------------------------------------------------------------


class MeetingRow(msgspec.Struct):
    """A meeting in a pairing's log (never its confidential note)."""

    id: UUID
    pairing_id: UUID
    status: MeetingStatus
    scheduled_for: datetime
    occurred_at: datetime | None
    duration_minutes: int | None
    location_kind: LocationKind
    facility: str | None
    topics: list[str]
    summary: str | None
    attendance: dict[str, str]
    has_confidential_note: bool
    during_class_hours: bool
    no_show_by: str | None
    cancel_reason: str | None
    excused: bool | None
    amendments: int
    week: str


class CadenceAlert(msgspec.Struct):
    """An open pairing without a held meeting in the current or the previous week."""

    pairing_id: UUID
    mentor_id: UUID
    kind: str
    opened_at: datetime
    last_held_week: str | None
    detail: str
    # Since when it has gone without: the start of the week after its last held meeting's
    # (midnight in the grantee's zone), or its match when none was held.
    lapsed_since: datetime


class AwaitingOutcome(msgspec.Struct):
    """A meeting of an open pairing still scheduled though its time has passed."""

    meeting_id: UUID
    pairing_id: UUID
    mentor_id: UUID
    scheduled_for: datetime


class _OpenPairing(msgspec.Struct):
    pairing_id: UUID
    mentor_id: UUID
    opened_at: datetime
    last_held_week: str | None
    # The last week held or excused: the weeks the pairing's cadence does not count missed.
    last_kept_week: str | None


MEETING = select(MeetingRow, id="meeting_id", facility="facility_code")
# Meetings list in scheduled order; the id breaks ties between meetings at the same instant.
# A keyset on the columns themselves, so that the view's indexes on (pairing_id,
# scheduled_for, meeting_id) and (scheduled_for, meeting_id) serve the order (decision 84).
SCHEDULED = Keyset((Column("scheduled_for", "timestamptz"), Column("meeting_id", "uuid")))
AWAITING = select(
    AwaitingOutcome,
    meeting_id="m.meeting_id",
    pairing_id="m.pairing_id",
    mentor_id="p.mentor_id",
    scheduled_for="m.scheduled_for",
)
OPEN_PAIRING = select(
    _OpenPairing,
    pairing_id="p.pairing_id",
    mentor_id="p.mentor_id",
    opened_at="p.opened_at",
    last_held_week="(SELECT max(week) FROM {w} w WHERE w.pairing_id = p.pairing_id AND w.held > 0)",
    last_kept_week="(SELECT max(week) FROM {w} w"
    " WHERE w.pairing_id = p.pairing_id AND (w.held > 0 OR w.excused > 0))",
)


# The columns the meeting list sorts by (`sort`).
MEETING_SORT = {
    "scheduled_for": Column("scheduled_for", "timestamptz"),
    "occurred_at": Column("occurred_at", "timestamptz"),
    "status": Column("status", "text"),
    "facility": Column("facility_code", "text"),
    "duration_minutes": Column("duration_minutes", "int"),
    "location_kind": Column("location_kind", "text"),
}


@dataclass(frozen=True)
class Across:
    """Meetings across pairings: the pairing view's live build, narrowed to a peer mentor's
    own pairings, or to the pairings whose mentor or a member `find` finds."""

    pairings: Tables
    peer_mentor: PeerMentor | None = None
    find: Find | None = None
    mentor_id: UUID | None = None
    # The assignments view and a staff subject: the meetings of their participants' pairings.
    assigned: tuple[Tables, str] | None = None
    since: datetime | None = None
    until: datetime | None = None

    def clause(self, db: Reader) -> tuple[sql.Composable, tuple[object, ...]]:
        clauses: list[sql.Composable] = [sql.SQL("TRUE")]
        params: list[object] = []
        if self.mentor_id is not None:
            clauses.append(
                sql.SQL("pairing_id IN (SELECT pairing_id FROM {} WHERE mentor_id = %s)").format(
                    self.pairings["pairings"]
                )
            )
            params.append(self.mentor_id)
        if self.assigned is not None:
            assignments, staff = self.assigned
            clauses.append(
                sql.SQL(
                    "pairing_id IN (SELECT pairing_id FROM {} WHERE participant_id IN"
                    " (SELECT participant_id FROM {} WHERE case_manager = %s OR coordinator = %s))"
                ).format(self.pairings["pairing_members"], assignments["assignments"])
            )
            params += [staff, staff]
        if self.since is not None:
            clauses.append(sql.SQL("scheduled_for >= %s"))
            params.append(self.since)
        if self.until is not None:
            clauses.append(sql.SQL("scheduled_for < %s"))
            params.append(self.until)
        if self.peer_mentor is not None:
            clauses.append(
                sql.SQL("pairing_id IN (SELECT pairing_id FROM {} WHERE mentor_id IN ({}))").format(
                    self.pairings["pairings"], self.peer_mentor.mentor_ids()
                )
            )
            params.append(self.peer_mentor.subject)
        if self.find is not None:
            found, found_params = found_pairings(self.pairings, self.find)
            clauses.append(sql.SQL("pairing_id IN ({})").format(found))
            params.extend(found_params)
        return sql.SQL(" AND ").join(clauses), tuple(params)

    def closest(self, meetings: Tables) -> Keyset:
        """The page key of the meetings `find` finds without a `sort` (decision 141): their
        pairing's closeness, then the scheduled order."""
        if self.find is None:
            raise ValueError("no search to order by")
        rank = sql.SQL("(SELECT {} FROM {} p WHERE p.pairing_id = {}.pairing_id)").format(
            pairing_rank(self.pairings, self.find, sql.SQL("p")),
            self.pairings["pairings"],
            meetings["meetings"],
        )
        closeness = Column(sql.SQL("COALESCE({}, 4)").format(rank), "bigint")
        return Keyset((closeness, *SCHEDULED.columns), mark=self.find.mark(CLOSENESS))


def meeting_log(
    db: Reader,
    t: Tables,
    pairing_id: UUID | None,
    *,
    after: str,
    limit: int,
    status: MeetingStatus | None = None,
    facility: str | None = None,
    across: Across | None = None,
    sort: Sort | None = None,
) -> tuple[list[MeetingRow], str | None]:
    """A pairing's meetings (or, without one, those `across` pairings) in scheduled order or
    by `sort` after the cursor `after`, optionally of one status; the cursor of the next page
    if there is one."""
    where: list[tuple[str, Any]] = [] if pairing_id is None else [("pairing_id", pairing_id)]
    if status is not None:
        where.append(("status", status.value))
    if facility is not None:
        where.append(("facility_code", facility))
    extra, extra_params = (None, ()) if across is None else across.clause(db)
    if sort is None:
        keyset = SCHEDULED if across is None or across.find is None else across.closest(t)
        width = len(keyset.columns)
        keys = sql.SQL(", ").join(c.composed() for c in keyset.columns)
        rows, nxt = keyset_page(
            db,
            t,
            "meetings",
            sql.SQL("{}, {}").format(keys, sql.SQL(MEETING.sql)),
            keyset,
            after=after,
            limit=limit,
            where=where,
            extra=extra,
            extra_params=extra_params,
        )
        return typed(MeetingRow, MEETING, [r[width:] for r in rows]), nxt
    if across is not None and across.find is not None:
        sort = across.find.sorted(sort)
    rows, nxt = page(
        db,
        t,
        "meetings",
        f"meeting_id, {MEETING.sql}",
        "meeting_id",
        after=after,
        limit=limit,
        where=where,
        cast_key="uuid",
        extra=extra,
        extra_params=extra_params,
        sort=sort,
    )
    return typed(MeetingRow, MEETING, [r[1:] for r in rows]), nxt


def week_tallies(db: Reader, t: Tables, pairing_id: UUID) -> dict[str, WeekTally]:
    """What the view counted in each week of the pairing that has a meeting, by week."""
    rows = db.fetchall(
        sql.SQL("SELECT week, held, minutes, excused FROM {} WHERE pairing_id = %s").format(
            t["meeting_weeks"]
        ),
        (pairing_id,),
    )
    return {week: WeekTally(held, minutes, excused) for week, held, minutes, excused in rows}


def cadence_alerts(
    db: Reader, meetings: Tables, pairings: Tables, today: date, zone: ZoneInfo
) -> list[CadenceAlert]:
    """Open pairings, oldest match first, that missed their cadence as of `today` (a date in
    the grantee's time zone `zone`): no held meeting and no excused cancellation in the
    current or the previous week (`domain.cadence.missed_cadence`)."""
    current, previous = alert_weeks(today)
    query = sql.SQL(
        "SELECT " + OPEN_PAIRING.sql + " FROM {p} p WHERE p.closed_at IS NULL ORDER BY p.opened_at"
    ).format(w=meetings["meeting_weeks"], p=pairings["pairings"])
    return [
        CadenceAlert(
            pairing_id=p.pairing_id,
            mentor_id=p.mentor_id,
            kind="missed_cadence",
            opened_at=p.opened_at,
            last_held_week=p.last_held_week,
            detail=f"no held meeting in {previous} or {current}",
            lapsed_since=lapsed_since(p.opened_at, p.last_kept_week, zone),
        )
        for p in typed(_OpenPairing, OPEN_PAIRING, db.fetchall(query))
        # An excused week (a cancellation for a lockdown) counts as the cadence view counts
        # it: not missed (decision 122).
        if missed_cadence(iso_week(p.opened_at, zone), p.last_kept_week, current, previous)
    ]


def scheduled_between(db: Reader, t: Tables, start: datetime, end: datetime) -> list[MeetingRow]:
    """Meetings still scheduled from `start` (inclusive) to `end` (exclusive), in time order:
    tomorrow's, for the reminders among the alerts."""
    query = sql.SQL(
        "SELECT " + MEETING.sql + " FROM {} WHERE status = 'scheduled'"
        " AND scheduled_for >= %s AND scheduled_for < %s ORDER BY scheduled_for, meeting_id"
    ).format(t["meetings"])
    return typed(MeetingRow, MEETING, db.fetchall(query, (start, end)))


def awaiting_outcome(
    db: Reader, meetings: Tables, pairings: Tables, before: datetime
) -> list[AwaitingOutcome]:
    """The open pairings' meetings still scheduled for a time before `before`, in time order:
    no outcome (held, missed, cancelled) recorded. A closed pairing's plans ended with it."""
    query = sql.SQL(
        "SELECT " + AWAITING.sql + " FROM {m} m JOIN {p} p ON p.pairing_id = m.pairing_id"
        " WHERE m.status = 'scheduled' AND m.scheduled_for < %s AND p.closed_at IS NULL"
        " ORDER BY m.scheduled_for, m.meeting_id"
    ).format(m=meetings["meetings"], p=pairings["pairings"])
    return typed(AwaitingOutcome, AWAITING, db.fetchall(query, (before,)))
