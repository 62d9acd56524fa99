"""Mentor roster: training and clearance status, caseload and open flags per mentor."""

from __future__ import annotations

from typing import Any

from psycopg import Cursor, sql
from psycopg.rows import TupleRow

from domain.mentors import Mentor
from domain.pairings import Pairing
from projections.base import Projection, Tables, handles


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

    def _set(
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
                "UPDATE {} SET " + assignments + " last_position = %s WHERE mentor_id = %s"
            ).format(t["mentors"]),
            (*params, position, e.originator_id),
        )

    @handles(Mentor.Registered)
    def registered(self, cur: Cursor[TupleRow], t: Tables, e: Any, position: int) -> None:
        cur.execute(
            sql.SQL(
                "INSERT INTO {} (mentor_id, display_name, subject, source, participant_id,"
                " lived_experience, channel, expected_hours_per_month, status, registered_at,"
                " last_position) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, 'applicant', %s, %s)"
            ).format(t["mentors"]),
            (
                e.originator_id,
                e.display_name,
                e.subject,
                e.source.value,
                e.participant_id,
                e.lived_experience,
                e.channel.value,
                e.expected_hours_per_month,
                e.timestamp,
                position,
            ),
        )

    @handles(Mentor.ScreeningStepCompleted)
    def screened(self, cur: Cursor[TupleRow], t: Tables, e: Any, position: int) -> None:
        self._set(
            cur,
            t,
            e,
            position,
            "screening_steps = (SELECT array_agg(DISTINCT s ORDER BY s)"
            " FROM unnest(array_append(screening_steps, %s)) s),",
            e.step.value,
        )

    @handles(Mentor.BackgroundReviewed)
    def reviewed(self, cur: Cursor[TupleRow], t: Tables, e: Any, position: int) -> None:
        self._set(cur, t, e, position, "background = %s,", e.decision.value)

    @handles(Mentor.TrainingCompleted)
    def trained(self, cur: Cursor[TupleRow], t: Tables, e: Any, position: int) -> None:
        # A module retaken replaces its earlier record, as in the aggregate.
        r = e.record
        cur.execute(
            sql.SQL(
                "INSERT INTO {} VALUES (%s, %s, %s, %s, %s) ON CONFLICT (mentor_id, module) DO UPDATE"
                " SET completed_on = EXCLUDED.completed_on, hours = EXCLUDED.hours, trainer = EXCLUDED.trainer"
            ).format(t["mentor_trainings"]),
            (e.originator_id, r.module.value, r.completed_on, r.hours, r.trainer),
        )
        cur.execute(
            sql.SQL(
                "UPDATE {m} SET modules = (SELECT array_agg(module ORDER BY module) FROM {tr} WHERE mentor_id = %s),"
                " training_hours = (SELECT sum(hours) FROM {tr} WHERE mentor_id = %s), last_position = %s"
                " WHERE mentor_id = %s"
            ).format(m=t["mentors"], tr=t["mentor_trainings"]),
            (e.originator_id, e.originator_id, position, e.originator_id),
        )

    @handles(Mentor.ClearanceGranted)
    def cleared(self, cur: Cursor[TupleRow], t: Tables, e: Any, position: int) -> None:
        c = e.clearance
        cur.execute(
            sql.SQL(
                "INSERT INTO {} VALUES (%s, %s, %s, %s) ON CONFLICT (mentor_id, facility_code)"
                " DO UPDATE SET trained_on = EXCLUDED.trained_on, expires_on = EXCLUDED.expires_on"
            ).format(t["mentor_clearances"]),
            (e.originator_id, c.facility_code, c.trained_on, c.expires_on),
        )
        self._set(cur, t, e, position, "")

    @handles(Mentor.CoordinatorAssigned)
    def coordinator(self, cur: Cursor[TupleRow], t: Tables, e: Any, position: int) -> None:
        self._set(cur, t, e, position, "coordinator = %s,", e.coordinator)

    @handles(Mentor.Certified)
    def certified(self, cur: Cursor[TupleRow], t: Tables, e: Any, position: int) -> None:
        self._set(cur, t, e, position, "status = 'certified', certified_at = %s,", e.timestamp)

    @handles(Mentor.Suspended, Mentor.Retired)
    def stopped(self, cur: Cursor[TupleRow], t: Tables, e: Any, position: int) -> None:
        status = "suspended" if isinstance(e, Mentor.Suspended) else "retired"
        self._set(cur, t, e, position, "status = %s, status_reason = %s,", status, e.reason)

    @handles(Mentor.Reinstated)
    def reinstated(self, cur: Cursor[TupleRow], t: Tables, e: Any, position: int) -> None:
        self._set(cur, t, e, position, "status = 'certified', status_reason = NULL,")

    @handles(Mentor.PairingJoined, Mentor.PairingLeft)
    def caseload(self, cur: Cursor[TupleRow], t: Tables, e: Any, position: int) -> None:
        step = 1 if isinstance(e, Mentor.PairingJoined) else -1
        column = "individual_mentees" if e.individual_mentee is not None else "groups"
        self._set(cur, t, e, position, f"{column} = {column} + %s,", step)

    @handles(Pairing.Opened)
    def pairing_opened(self, cur: Cursor[TupleRow], t: Tables, e: Any, position: int) -> None:
        cur.execute(
            sql.SQL("INSERT INTO {} (pairing_id, mentor_id, kind) VALUES (%s, %s, %s)").format(
                t["mentor_pairings"]
            ),
            (e.originator_id, e.mentor_id, e.kind.value),
        )

    @handles(Pairing.FlaggedForReview, Pairing.FlagResolved, Pairing.Closed)
    def pairing_flags(self, cur: Cursor[TupleRow], t: Tables, e: Any, position: int) -> None:
        if isinstance(e, Pairing.Closed):
            change = "open_flags = 0, open = false"
        else:
            change = "open_flags = open_flags + " + (
                "1" if isinstance(e, Pairing.FlaggedForReview) else "-1"
            )
        cur.execute(
            sql.SQL(
                "UPDATE {} SET " + change + " WHERE pairing_id = %s RETURNING mentor_id"
            ).format(t["mentor_pairings"]),
            (e.originator_id,),
        )
        row = cur.fetchone()
        if row is not None:
            cur.execute(
                sql.SQL(
                    "UPDATE {m} SET open_flags = (SELECT coalesce(sum(open_flags), 0) FROM {p}"
                    " WHERE mentor_id = %s AND open) WHERE mentor_id = %s"
                ).format(m=t["mentors"], p=t["mentor_pairings"]),
                (row[0], row[0]),
            )
