"""Mentor roster: training and clearance status, caseload and open flags per mentor."""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import UUID

import msgspec
from psycopg import sql

from domain.mentors import Mentor
from domain.pairings import Pairing
from projections.base import Projection, Tables, handles
from projections.ops import EXCLUDED, Inc, SortedAdd, Writer
from projections.query import Reader
from projections.rows import select, typed


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

    def _set(self, w: Writer, e: Any, position: int, **sets: Any) -> None:
        w.update("mentors", {**sets, "last_position": position}, mentor_id=e.originator_id)

    @handles(Mentor.Registered)
    def registered(self, w: Writer, e: Any, position: int) -> None:
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

    @handles(Mentor.ScreeningStepCompleted)
    def screened(self, w: Writer, e: Any, position: int) -> None:
        self._set(w, e, position, screening_steps=SortedAdd(e.step.value))

    @handles(Mentor.BackgroundReviewed)
    def reviewed(self, w: Writer, e: Any, position: int) -> None:
        self._set(w, e, position, background=e.decision.value)

    @handles(Mentor.TrainingCompleted)
    def trained(self, w: Writer, e: Any, position: int) -> None:
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
    def cleared(self, w: Writer, e: Any, position: int) -> None:
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
    def coordinator(self, w: Writer, e: Any, position: int) -> None:
        self._set(w, e, position, coordinator=e.coordinator)

    @handles(Mentor.Certified)
    def certified(self, w: Writer, e: Any, position: int) -> None:
        self._set(w, e, position, status="certified", certified_at=e.timestamp)

    @handles(Mentor.Suspended, Mentor.Retired)
    def stopped(self, w: Writer, e: Any, position: int) -> None:
        status = "suspended" if isinstance(e, Mentor.Suspended) else "retired"
        self._set(w, e, position, status=status, status_reason=e.reason)

    @handles(Mentor.Reinstated)
    def reinstated(self, w: Writer, e: Any, position: int) -> None:
        self._set(w, e, position, status="certified", status_reason=None)

    @handles(Mentor.PairingJoined, Mentor.PairingLeft)
    def caseload(self, w: Writer, e: Any, position: int) -> None:
        step = 1 if isinstance(e, Mentor.PairingJoined) else -1
        column = "individual_mentees" if e.individual_mentee is not None else "groups"
        self._set(w, e, position, **{column: Inc(step)})

    @handles(Pairing.Opened)
    def pairing_opened(self, w: Writer, e: Any, position: int) -> None:
        w.insert(
            "mentor_pairings",
            {"pairing_id": e.originator_id, "mentor_id": e.mentor_id, "kind": e.kind.value},
        )

    @handles(Pairing.FlaggedForReview, Pairing.FlagResolved, Pairing.Closed)
    def pairing_flags(self, w: Writer, e: Any, position: int) -> None:
        change: dict[str, Any]
        if isinstance(e, Pairing.Closed):
            change = {"open_flags": 0, "open": False}
        else:
            change = {"open_flags": Inc(1 if isinstance(e, Pairing.FlaggedForReview) else -1)}
        for mentor_id in w.update(
            "mentor_pairings", change, returning="mentor_id", pairing_id=e.originator_id
        ):
            flags = w.select("mentor_pairings", ("open_flags",), mentor_id=mentor_id, open=True)
            w.update(
                "mentors",
                {"open_flags": sum(f for (f,) in flags if f is not None)},
                mentor_id=mentor_id,
            )


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
