"""Mentor roster: training and clearance status, caseload and open flags per mentor."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any
from uuid import UUID

import msgspec
from psycopg import sql

from domain.certification import expiring_soon, next_expiry
from domain.common import ProwdAggregate
from domain.corrections import MentorNameCorrected
from domain.mentors import Mentor, MentorSource, MentorStatus
from domain.pairings import Pairing
from projections.base import Projection, Tables, handles
from projections.ops import EXCLUDED, Inc, SortedAdd, Writer
from projections.query import Column, Reader, Sort, page
from projections.rows import select, typed
from projections.search import Find, folded_name


class MentorRoster(Projection):
    name = "mentor_roster"
    tables = {
        "mentors": (
            "mentor_id uuid PRIMARY KEY, display_name text NOT NULL, subject text,"
            " source text NOT NULL, participant_id uuid, lived_experience boolean NOT NULL,"
            " channel text NOT NULL, expected_hours_per_month numeric NOT NULL,"
            " status text NOT NULL, status_reason text, coordinator text,"
            " screening_steps text[] NOT NULL DEFAULT '{}', background text,"
            " modules text[] NOT NULL DEFAULT '{}', training_hours numeric NOT NULL DEFAULT 0,"
            " individual_mentees int NOT NULL DEFAULT 0, groups int NOT NULL DEFAULT 0,"
            " open_flags int NOT NULL DEFAULT 0,"
            " registered_at timestamptz NOT NULL, certified_at timestamptz,"
            " last_position bigint NOT NULL"
        ),
        "mentor_clearances": (
            "mentor_id uuid NOT NULL, facility_code text NOT NULL, trained_on date NOT NULL,"
            " expires_on date NOT NULL, PRIMARY KEY (mentor_id, facility_code)"
        ),
        "mentor_trainings": (
            "mentor_id uuid NOT NULL, module text NOT NULL, completed_on date NOT NULL,"
            " hours numeric NOT NULL, trainer text NOT NULL, PRIMARY KEY (mentor_id, module)"
        ),
        "mentor_pairings": (
            "pairing_id uuid PRIMARY KEY, mentor_id uuid NOT NULL, kind text NOT NULL,"
            " open_flags int NOT NULL DEFAULT 0, open boolean NOT NULL DEFAULT true"
        ),
    }
    order = {
        "mentors": "mentor_id",
        "mentor_clearances": "mentor_id, facility_code",
        "mentor_trainings": "mentor_id, module",
        "mentor_pairings": "pairing_id",
    }

    def _set(self, w: Writer, e: ProwdAggregate.Event, position: int, **sets: Any) -> None:
        w.update("mentors", {**sets, "last_position": position}, mentor_id=e.originator_id)

    @handles(Mentor.Registered)
    def registered(self, w: Writer, e: Mentor.Registered, position: int) -> None:
        w.insert(
            "mentors",
            {
                "mentor_id": e.originator_id,
                "display_name": e.display_name,
                "subject": e.subject,
                "source": e.source.value,
                "participant_id": e.participant_id,
                "lived_experience": e.lived_experience,
                "channel": e.channel.value,
                "expected_hours_per_month": e.expected_hours_per_month,
                "status": "applicant",
                "registered_at": e.timestamp,
                "last_position": position,
            },
        )

    @handles(MentorNameCorrected)
    def renamed(self, w: Writer, e: MentorNameCorrected, position: int) -> None:
        self._set(w, e, position, display_name=e.display_name)

    @handles(Mentor.ScreeningStepCompleted)
    def screened(self, w: Writer, e: Mentor.ScreeningStepCompleted, position: int) -> None:
        self._set(w, e, position, screening_steps=SortedAdd(e.step.value))

    @handles(Mentor.BackgroundReviewed)
    def reviewed(self, w: Writer, e: Mentor.BackgroundReviewed, position: int) -> None:
        self._set(w, e, position, background=e.decision.value)

    @handles(Mentor.TrainingCompleted)
    def trained(self, w: Writer, e: Mentor.TrainingCompleted, position: int) -> None:
        # A module retaken replaces its earlier record, as in the aggregate.
        r = e.record
        w.insert(
            "mentor_trainings",
            {
                "mentor_id": e.originator_id,
                "module": r.module.value,
                "completed_on": r.completed_on,
                "hours": r.hours,
                "trainer": r.trainer,
            },
            on_conflict={"completed_on": EXCLUDED, "hours": EXCLUDED, "trainer": EXCLUDED},
        )
        records = w.select("mentor_trainings", ("module", "hours"), mentor_id=e.originator_id)
        w.update(
            "mentors",
            {
                "modules": sorted(module for module, _ in records) or None,
                "training_hours": sum(hours for _, hours in records) if records else None,
                "last_position": position,
            },
            mentor_id=e.originator_id,
        )

    @handles(Mentor.ClearanceGranted)
    def cleared(self, w: Writer, e: Mentor.ClearanceGranted, position: int) -> None:
        c = e.clearance
        w.insert(
            "mentor_clearances",
            {
                "mentor_id": e.originator_id,
                "facility_code": c.facility_code,
                "trained_on": c.trained_on,
                "expires_on": c.expires_on,
            },
            on_conflict={"trained_on": EXCLUDED, "expires_on": EXCLUDED},
        )
        self._set(w, e, position)

    @handles(Mentor.CoordinatorAssigned)
    def coordinator(self, w: Writer, e: Mentor.CoordinatorAssigned, position: int) -> None:
        self._set(w, e, position, coordinator=e.coordinator)

    @handles(Mentor.Certified)
    def certified(self, w: Writer, e: Mentor.Certified, position: int) -> None:
        self._set(w, e, position, status="certified", certified_at=e.timestamp)

    @handles(Mentor.Suspended)
    def suspended(self, w: Writer, e: Mentor.Suspended, position: int) -> None:
        self._set(w, e, position, status="suspended", status_reason=e.reason)

    @handles(Mentor.Retired)
    def retired(self, w: Writer, e: Mentor.Retired, position: int) -> None:
        self._set(w, e, position, status="retired", status_reason=e.reason)

    @handles(Mentor.Reinstated)
    def reinstated(self, w: Writer, e: Mentor.Reinstated, position: int) -> None:
        self._set(w, e, position, status="certified", status_reason=None)

    @handles(Mentor.PairingJoined)
    def joined(self, w: Writer, e: Mentor.PairingJoined, position: int) -> None:
        self._caseload(w, e, position, e.individual_mentee, 1)

    @handles(Mentor.PairingLeft)
    def left(self, w: Writer, e: Mentor.PairingLeft, position: int) -> None:
        self._caseload(w, e, position, e.individual_mentee, -1)

    def _caseload(
        self,
        w: Writer,
        e: ProwdAggregate.Event,
        position: int,
        individual_mentee: UUID | None,
        step: int,
    ) -> None:
        column = "individual_mentees" if individual_mentee is not None else "groups"
        self._set(w, e, position, **{column: Inc(step)})

    @handles(Pairing.Opened)
    def pairing_opened(self, w: Writer, e: Pairing.Opened, position: int) -> None:
        w.insert(
            "mentor_pairings",
            {"pairing_id": e.originator_id, "mentor_id": e.mentor_id, "kind": e.kind.value},
        )

    @handles(Pairing.FlaggedForReview)
    def pairing_flagged(self, w: Writer, e: Pairing.FlaggedForReview, position: int) -> None:
        self._pairing_flags(w, e.originator_id, {"open_flags": Inc(1)})

    @handles(Pairing.FlagResolved)
    def pairing_flag_resolved(self, w: Writer, e: Pairing.FlagResolved, position: int) -> None:
        self._pairing_flags(w, e.originator_id, {"open_flags": Inc(-1)})

    @handles(Pairing.Closed)
    def pairing_closed(self, w: Writer, e: Pairing.Closed, position: int) -> None:
        self._pairing_flags(w, e.originator_id, {"open_flags": 0, "open": False})

    def _pairing_flags(self, w: Writer, pairing_id: UUID, change: dict[str, Any]) -> None:
        """Change the pairing's row, then recount its mentor's open flags over their open
        pairings."""
        for mentor_id in w.update(
            "mentor_pairings", change, returning="mentor_id", pairing_id=pairing_id
        ):
            flags = w.select("mentor_pairings", ("open_flags",), mentor_id=mentor_id, open=True)
            w.update(
                "mentors",
                {"open_flags": sum(f for (f,) in flags if f is not None)},
                mentor_id=mentor_id,
            )


@dataclass(frozen=True)
class PeerMentor:
    """A peer mentor by their token's subject, for lists that show them only their own
    records: through a certified mentor record only, so a suspension or a retirement ends the
    access."""

    subject: str
    roster: Tables

    def mentor_ids(self) -> sql.Composed:
        """A subquery of their mentor ids (one parameter: `subject`)."""
        return sql.SQL(
            "SELECT mentor_id FROM {} WHERE subject = %s AND status = 'certified'"
        ).format(self.roster["mentors"])


# -- reads -----------------------------------------------------------------------------------


class ClearanceOut(msgspec.Struct):
    facility: str
    trained_on: date
    expires_on: date


class RosterRow(msgspec.Struct):
    """A mentor in the roster; clearance expiry worked out when read."""

    id: UUID
    display_name: str
    source: MentorSource
    status: MentorStatus
    coordinator: str | None
    modules_completed: int
    training_hours: float
    screening_completed: list[str]
    background: str | None
    clearances: list[ClearanceOut]
    next_clearance_expiry: date | None
    clearance_expiring_soon: bool
    individual_mentees: int
    groups: int
    open_flags: int
    registered_at: datetime
    exit_reviews: Annotated[
        int,
        msgspec.Meta(
            description="The mentor's open pairings with a member whose derived exit (90 days"
            " without service, none planned) has taken effect, worked out when read (decision"
            " 104): pairings staff should end or keep. Not counted in `open_flags`, which counts"
            " recorded flags."
        ),
    ] = 0


ROSTER = select(
    RosterRow,
    skip=("clearances", "next_clearance_expiry", "clearance_expiring_soon", "exit_reviews"),
    id="mentor_id",
    modules_completed="coalesce(array_length(modules, 1), 0)",
    screening_completed="screening_steps",
)
CLEARANCE = select(ClearanceOut, facility="facility_code")


# The columns the roster sorts by (`sort`); the name case- and accent-insensitively.
ROSTER_SORT = {
    "display_name": Column(folded_name("mentor_id"), "text"),
    "status": Column("status", "text"),
    "source": Column("source", "text"),
    "coordinator": Column("coordinator", "text"),
    "training_hours": Column("training_hours", "numeric"),
    "individual_mentees": Column("individual_mentees", "int"),
    "groups": Column("groups", "int"),
    "open_flags": Column("open_flags", "int"),
    "registered_at": Column("registered_at", "timestamptz"),
}


def roster_page(
    db: Reader,
    t: Tables,
    today: date,
    *,
    after: str,
    limit: int,
    status: MentorStatus | None = None,
    find: Find | None = None,
    sort: Sort | None = None,
    exit_reviews: Mapping[UUID, int] | None = None,
) -> tuple[list[RosterRow], str | None]:
    """Mentors in id order (or by `sort`) after `after`, optionally of one status or found by
    `find` (without a `sort`, the closest first), each with their clearances; which expires
    next, and whether within the warning days, as of `today`; `exit_reviews`: each mentor's
    open pairings with a derived-exited member (none when left out)."""
    reviews = exit_reviews or {}
    found = None if find is None else find.clause("mentor", "mentor_id")
    if find is not None:
        sort = find.closest(find.rank("mentor_id")) if sort is None else find.sorted(sort)
    rows, nxt = page(
        db,
        t,
        "mentors",
        ROSTER.sql,
        "mentor_id",
        after=after,
        limit=limit,
        where=[("status", status.value)] if status else None,
        cast_key="uuid",
        extra=None if found is None else found[0],
        extra_params=() if found is None else found[1],
        sort=sort,
    )
    # The page's key, the mentor id, is its first column.
    clearances = mentor_clearances(db, t, [r[0] for r in rows])
    derived = {
        "clearances": lambda r: clearances.get(r["id"], []),
        "next_clearance_expiry": lambda r: next_expiry(
            (c.expires_on for c in r["clearances"]), today
        ),
        "clearance_expiring_soon": lambda r: expiring_soon(r["next_clearance_expiry"], today),
        "exit_reviews": lambda r: reviews.get(r["id"], 0),
    }
    return typed(RosterRow, ROSTER, rows, derived), nxt


def certified_mentors(db: Reader, t: Tables) -> list[UUID]:
    """The ids of the mentors the roster has as certified, in id order."""
    rows = db.fetchall(
        sql.SQL("SELECT mentor_id FROM {} WHERE status = %s ORDER BY mentor_id").format(
            t["mentors"]
        ),
        (MentorStatus.CERTIFIED.value,),
    )
    return [r[0] for r in rows]


def mentor_clearances(
    db: Reader, t: Tables, mentor_ids: list[UUID]
) -> dict[UUID, list[ClearanceOut]]:
    """The clearances of these mentors in facility order, by mentor."""
    rows = db.fetchall(
        sql.SQL(
            "SELECT mentor_id, " + CLEARANCE.sql + " FROM {} WHERE mentor_id = ANY(%s::uuid[])"
            " ORDER BY facility_code"
        ).format(t["mentor_clearances"]),
        (mentor_ids,),
    )
    out: dict[UUID, list[ClearanceOut]] = {}
    for (mentor_id, *_), clearance in zip(
        rows, typed(ClearanceOut, CLEARANCE, [r[1:] for r in rows]), strict=True
    ):
        out.setdefault(mentor_id, []).append(clearance)
    return out


class ExpiringClearance(msgspec.Struct):
    mentor_id: UUID
    facility_code: str
    expires_on: date


EXPIRING = select(ExpiringClearance, mentor_id="c.mentor_id", facility_code="c.facility_code")


def expiring_clearances(db: Reader, t: Tables, first: date, last: date) -> list[ExpiringClearance]:
    """Clearances of certified mentors that expire from `first` to `last` (inclusive), the
    soonest first."""
    query = sql.SQL(
        "SELECT " + EXPIRING.sql + " FROM {c} c JOIN {m} m USING (mentor_id)"
        " WHERE m.status = 'certified' AND c.expires_on >= %s AND c.expires_on <= %s"
        " ORDER BY c.expires_on, c.mentor_id"
    ).format(c=t["mentor_clearances"], m=t["mentors"])
    return typed(ExpiringClearance, EXPIRING, db.fetchall(query, (first, last)))
