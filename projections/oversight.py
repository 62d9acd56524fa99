"""Oversight facts: the anonymous rows the quarterly report is computed from.

One row per participant, cohort, move, exit, pairing membership, pairing, meeting, mentor, training
record, goal, escalation and feedback, each keeping the log positions that produced it and the
dates that matter (when it happened, when it was recorded). No names, dates of birth, register
numbers, notes, summaries or descriptions are kept: the participant's UUID is the only link
between rows, and it never leaves the report module (`services/reports.py`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from psycopg import Cursor, sql
from psycopg.rows import TupleRow

from domain.evaluation import Feedback
from domain.facilities import Cohort
from domain.goals import Goal
from domain.meetings import Attendance, Meeting
from domain.mentors import Mentor
from domain.pairings import Pairing
from domain.participants import Participant
from domain.supervision import Escalation
from projections.base import Projection, Tables, handles

COLUMNS: dict[str, str] = {
    "ov_participants": "participant_id, entry_date, position, recorded_at, cohort_code",
    "ov_cohorts": "cohort_id, code, position, graduated_on, graduated_position",
    "ov_moves": "position, participant_id, kind, from_stage, to_stage, occurred_at, recorded_at",
    "ov_exits": "participant_id, position, exit_date, reason, recorded_at",
    "ov_memberships": "position, participant_id, pairing_id, joined_at, left_at, left_position",
    "ov_pairings": "pairing_id, position, mentor_id, opened_at, closed_at, close_position, members",
    "ov_meetings": (
        "meeting_id, pairing_id, mentor_id, scheduled_position, scheduled_recorded_at,"
        " scheduled_for, status, status_position, occurred_at, duration_minutes, week,"
        " attendees, positions, excused"
    ),
    "ov_mentors": "mentor_id, position, registered_at, certified_at, certified_position",
    "ov_trainings": "position, mentor_id, module, completed_on, hours",
    "ov_goals": "goal_id, position, set_at, horizon, status, closed_at, close_position",
    "ov_escalations": "escalation_id, position, type, raised_at, resolved_at, resolve_position",
    "ov_feedback": "feedback_id, position, given_on, score_sum, score_count",
}


@dataclass
class Facts:
    """Every fact row of one grantee, as tuples in the column order of `COLUMNS`."""

    rows: dict[str, list[tuple[Any, ...]]] = field(default_factory=dict)

    def __getitem__(self, table: str) -> list[tuple[Any, ...]]:
        return self.rows.get(table, [])


class Oversight(Projection):
    name = "oversight"
    tables = {
        "ov_participants": (
            "participant_id uuid PRIMARY KEY, entry_date date NOT NULL,"
            " position bigint NOT NULL, recorded_at timestamptz NOT NULL, cohort_code text NOT NULL"
        ),
        "ov_cohorts": (
            "cohort_id uuid PRIMARY KEY, code text NOT NULL, position bigint NOT NULL,"
            " graduated_on date, graduated_position bigint"
        ),
        "ov_moves": (
            "position bigint PRIMARY KEY, participant_id uuid NOT NULL, kind text NOT NULL,"
            " from_stage int NOT NULL, to_stage int NOT NULL, occurred_at timestamptz NOT NULL,"
            " recorded_at timestamptz NOT NULL"
        ),
        "ov_exits": (
            "participant_id uuid PRIMARY KEY, position bigint NOT NULL, exit_date date NOT NULL,"
            " reason text NOT NULL, recorded_at timestamptz NOT NULL"
        ),
        "ov_memberships": (
            "position bigint PRIMARY KEY, participant_id uuid NOT NULL, pairing_id uuid NOT NULL,"
            " joined_at timestamptz NOT NULL, left_at timestamptz, left_position bigint"
        ),
        "ov_pairings": (
            "pairing_id uuid PRIMARY KEY, position bigint NOT NULL, mentor_id uuid NOT NULL,"
            " members uuid[] NOT NULL, opened_at timestamptz NOT NULL, closed_at timestamptz,"
            " close_position bigint"
        ),
        "ov_meetings": (
            "meeting_id uuid PRIMARY KEY, pairing_id uuid NOT NULL, mentor_id uuid,"
            " scheduled_position bigint NOT NULL, scheduled_recorded_at timestamptz NOT NULL,"
            " scheduled_for timestamptz NOT NULL, status text NOT NULL, status_position bigint,"
            " occurred_at timestamptz, duration_minutes int, week text NOT NULL,"
            " attendees uuid[] NOT NULL DEFAULT '{}', positions bigint[] NOT NULL DEFAULT '{}',"
            " excused boolean NOT NULL DEFAULT false"
        ),
        "ov_mentors": (
            "mentor_id uuid PRIMARY KEY, position bigint NOT NULL,"
            " registered_at timestamptz NOT NULL, certified_at timestamptz,"
            " certified_position bigint"
        ),
        "ov_trainings": (
            "position bigint PRIMARY KEY, mentor_id uuid NOT NULL, module text NOT NULL,"
            " completed_on date NOT NULL, hours float8 NOT NULL"
        ),
        "ov_goals": (
            "goal_id uuid PRIMARY KEY, position bigint NOT NULL, set_at timestamptz NOT NULL,"
            " horizon text NOT NULL, status text NOT NULL, closed_at timestamptz,"
            " close_position bigint"
        ),
        "ov_escalations": (
            "escalation_id uuid PRIMARY KEY, position bigint NOT NULL, type text NOT NULL,"
            " raised_at timestamptz NOT NULL, resolved_at timestamptz, resolve_position bigint"
        ),
        "ov_feedback": (
            "feedback_id uuid PRIMARY KEY, position bigint NOT NULL, given_on date NOT NULL,"
            " score_sum int NOT NULL, score_count int NOT NULL"
        ),
    }
    order = {
        "ov_participants": "participant_id",
        "ov_cohorts": "cohort_id",
        "ov_moves": "position",
        "ov_exits": "participant_id",
        "ov_memberships": "position",
        "ov_pairings": "pairing_id",
        "ov_meetings": "meeting_id",
        "ov_mentors": "mentor_id",
        "ov_trainings": "position",
        "ov_goals": "goal_id",
        "ov_escalations": "escalation_id",
        "ov_feedback": "feedback_id",
    }

    @staticmethod
    def _insert(cur: Cursor[TupleRow], t: Tables, table: str, values: tuple[Any, ...]) -> None:
        cur.execute(
            sql.SQL("INSERT INTO {} ({}) VALUES ({})").format(
                t[table],
                sql.SQL(COLUMNS[table]),
                sql.SQL(", ").join(sql.Placeholder() * len(values)),
            ),
            values,
        )

    @staticmethod
    def _update(
        cur: Cursor[TupleRow], t: Tables, table: str, sets: str, where: str, params: tuple[Any, ...]
    ) -> None:
        cur.execute(
            sql.SQL("UPDATE {} SET {} WHERE {}").format(t[table], sql.SQL(sets), sql.SQL(where)),
            params,
        )

    # -- participants ----------------------------------------------------------------------
    @handles(Participant.Enrolled)
    def enrolled(self, cur: Cursor[TupleRow], t: Tables, e: Any, position: int) -> None:
        self._insert(
            cur,
            t,
            "ov_participants",
            (e.originator_id, e.program_entry_date, position, e.timestamp, e.cohort_code),
        )

    @handles(Cohort.Started)
    def cohort_started(self, cur: Cursor[TupleRow], t: Tables, e: Any, position: int) -> None:
        self._insert(cur, t, "ov_cohorts", (e.originator_id, e.code, position, None, None))

    @handles(Cohort.Graduated)
    def cohort_graduated(self, cur: Cursor[TupleRow], t: Tables, e: Any, position: int) -> None:
        self._update(
            cur,
            t,
            "ov_cohorts",
            "graduated_on = %s, graduated_position = %s",
            "cohort_id = %s",
            (e.graduated_on, position, e.originator_id),
        )

    @handles(Participant.StageTransitioned)
    def transitioned(self, cur: Cursor[TupleRow], t: Tables, e: Any, position: int) -> None:
        self._insert(
            cur,
            t,
            "ov_moves",
            (
                position,
                e.originator_id,
                "transition",
                int(e.from_stage),
                int(e.to_stage),
                e.occurred_at,
                e.timestamp,
            ),
        )

    @handles(Participant.ReturnedToCustody)
    def returned(self, cur: Cursor[TupleRow], t: Tables, e: Any, position: int) -> None:
        self._insert(
            cur,
            t,
            "ov_moves",
            (position, e.originator_id, "return", int(e.from_stage), 1, e.occurred_at, e.timestamp),
        )

    @handles(Participant.Exited)
    def exited(self, cur: Cursor[TupleRow], t: Tables, e: Any, position: int) -> None:
        self._insert(
            cur,
            t,
            "ov_exits",
            (e.originator_id, position, e.exit_date, e.reason.value, e.timestamp),
        )

    @handles(Participant.PairingJoined)
    def joined(self, cur: Cursor[TupleRow], t: Tables, e: Any, position: int) -> None:
        self._insert(
            cur,
            t,
            "ov_memberships",
            (position, e.originator_id, e.pairing_id, e.occurred_at, None, None),
        )

    @handles(Participant.PairingLeft)
    def left(self, cur: Cursor[TupleRow], t: Tables, e: Any, position: int) -> None:
        self._update(
            cur,
            t,
            "ov_memberships",
            "left_at = %s, left_position = %s",
            "participant_id = %s AND pairing_id = %s AND left_at IS NULL",
            (e.occurred_at, position, e.originator_id, e.pairing_id),
        )

    # -- pairings and meetings ---------------------------------------------------------------
    @handles(Pairing.Opened)
    def opened(self, cur: Cursor[TupleRow], t: Tables, e: Any, position: int) -> None:
        self._insert(
            cur,
            t,
            "ov_pairings",
            (e.originator_id, position, e.mentor_id, e.occurred_at, None, None, list(e.members)),
        )

    @handles(Pairing.MemberAdded)
    def member_added(self, cur: Cursor[TupleRow], t: Tables, e: Any, position: int) -> None:
        self._update(
            cur,
            t,
            "ov_pairings",
            "members = array_append(members, %s)",
            "pairing_id = %s",
            (e.participant_id, e.originator_id),
        )

    @handles(Pairing.MemberRemoved)
    def member_removed(self, cur: Cursor[TupleRow], t: Tables, e: Any, position: int) -> None:
        self._update(
            cur,
            t,
            "ov_pairings",
            "members = array_remove(members, %s)",
            "pairing_id = %s",
            (e.participant_id, e.originator_id),
        )

    @handles(Pairing.Closed)
    def closed(self, cur: Cursor[TupleRow], t: Tables, e: Any, position: int) -> None:
        self._update(
            cur,
            t,
            "ov_pairings",
            "closed_at = %s, close_position = %s",
            "pairing_id = %s",
            (e.occurred_at, position, e.originator_id),
        )

    @handles(Meeting.Scheduled)
    def scheduled(self, cur: Cursor[TupleRow], t: Tables, e: Any, position: int) -> None:
        cur.execute(
            sql.SQL(
                "INSERT INTO {m} (meeting_id, pairing_id, mentor_id, scheduled_position,"
                " scheduled_recorded_at, scheduled_for, status, week)"
                " VALUES (%s, %s, (SELECT mentor_id FROM {p} WHERE pairing_id = %s), %s, %s, %s,"
                " 'scheduled', %s)"
            ).format(m=t["ov_meetings"], p=t["ov_pairings"]),
            (
                e.originator_id,
                e.pairing_id,
                e.pairing_id,
                position,
                e.timestamp,
                e.scheduled_for,
                e.week,
            ),
        )

    def _held(self, cur: Cursor[TupleRow], t: Tables, e: Any, position: int) -> None:
        r = e.record
        present = sorted(p for p, a in r.attendance.items() if a is Attendance.PRESENT)
        # Without an attendance list (an individual pairing), the pairing's members attended.
        cur.execute(
            sql.SQL(
                "UPDATE {m} AS mt SET status = 'held', occurred_at = %s, duration_minutes = %s,"
                " week = %s, status_position = %s, positions = array_append(positions, %s),"
                " attendees = CASE WHEN cardinality(%s::uuid[]) > 0 THEN %s::uuid[] ELSE"
                " coalesce((SELECT members FROM {p} p WHERE p.pairing_id = mt.pairing_id), '{{}}')"
                " END WHERE meeting_id = %s"
            ).format(m=t["ov_meetings"], p=t["ov_pairings"]),
            (
                r.occurred_at,
                r.duration_minutes,
                e.week,
                position,
                position,
                present,
                present,
                e.originator_id,
            ),
        )

    @handles(Meeting.Held)
    def held(self, cur: Cursor[TupleRow], t: Tables, e: Any, position: int) -> None:
        self._held(cur, t, e, position)

    @handles(Meeting.Amended)
    def amended(self, cur: Cursor[TupleRow], t: Tables, e: Any, position: int) -> None:
        self._held(cur, t, e, position)

    @handles(Meeting.Missed)
    def missed(self, cur: Cursor[TupleRow], t: Tables, e: Any, position: int) -> None:
        self._update(
            cur,
            t,
            "ov_meetings",
            "status = 'missed', status_position = %s, week = %s",
            "meeting_id = %s",
            (position, e.week, e.originator_id),
        )

    @handles(Meeting.Cancelled)
    def cancelled(self, cur: Cursor[TupleRow], t: Tables, e: Any, position: int) -> None:
        self._update(
            cur,
            t,
            "ov_meetings",
            "status = 'cancelled', status_position = %s, week = %s, excused = %s",
            "meeting_id = %s",
            (position, e.week, e.excused, e.originator_id),
        )

    # -- mentors -------------------------------------------------------------------------------
    @handles(Mentor.Registered)
    def registered(self, cur: Cursor[TupleRow], t: Tables, e: Any, position: int) -> None:
        self._insert(cur, t, "ov_mentors", (e.originator_id, position, e.occurred_at, None, None))

    @handles(Mentor.Certified)
    def certified(self, cur: Cursor[TupleRow], t: Tables, e: Any, position: int) -> None:
        self._update(
            cur,
            t,
            "ov_mentors",
            "certified_at = %s, certified_position = %s",
            "mentor_id = %s AND certified_at IS NULL",
            (e.occurred_at, position, e.originator_id),
        )

    @handles(Mentor.TrainingCompleted)
    def trained(self, cur: Cursor[TupleRow], t: Tables, e: Any, position: int) -> None:
        r = e.record
        self._insert(
            cur,
            t,
            "ov_trainings",
            (position, e.originator_id, r.module.value, r.completed_on, float(r.hours)),
        )

    # -- goals, escalations, feedback ---------------------------------------------------------
    @handles(Goal.Set)
    def goal_set(self, cur: Cursor[TupleRow], t: Tables, e: Any, position: int) -> None:
        self._insert(
            cur,
            t,
            "ov_goals",
            (e.originator_id, position, e.occurred_at, e.terms.horizon.value, "active", None, None),
        )

    def _goal_closed(
        self, cur: Cursor[TupleRow], t: Tables, e: Any, position: int, status: str
    ) -> None:
        self._update(
            cur,
            t,
            "ov_goals",
            "status = %s, closed_at = %s, close_position = %s",
            "goal_id = %s",
            (status, e.occurred_at, position, e.originator_id),
        )

    @handles(Goal.Achieved)
    def goal_achieved(self, cur: Cursor[TupleRow], t: Tables, e: Any, position: int) -> None:
        self._goal_closed(cur, t, e, position, "achieved")

    @handles(Goal.Abandoned)
    def goal_abandoned(self, cur: Cursor[TupleRow], t: Tables, e: Any, position: int) -> None:
        self._goal_closed(cur, t, e, position, "abandoned")

    @handles(Escalation.Raised)
    def raised(self, cur: Cursor[TupleRow], t: Tables, e: Any, position: int) -> None:
        self._insert(
            cur,
            t,
            "ov_escalations",
            (e.originator_id, position, e.type.value, e.occurred_at, None, None),
        )

    @handles(Escalation.Resolved)
    def resolved(self, cur: Cursor[TupleRow], t: Tables, e: Any, position: int) -> None:
        self._update(
            cur,
            t,
            "ov_escalations",
            "resolved_at = %s, resolve_position = %s",
            "escalation_id = %s",
            (e.occurred_at, position, e.originator_id),
        )

    @handles(Feedback.Given)
    def feedback(self, cur: Cursor[TupleRow], t: Tables, e: Any, position: int) -> None:
        scores = [r.score for r in e.ratings]
        self._insert(
            cur,
            t,
            "ov_feedback",
            (e.originator_id, position, e.given_on, sum(scores), len(scores)),
        )


def load(cur: Cursor[TupleRow], t: Tables) -> Facts:
    """Every fact row of one build, in a stable order (the report never depends on it, but
    drill-down lists and digests read better sorted)."""
    facts = Facts()
    for table, columns in COLUMNS.items():
        cur.execute(
            sql.SQL("SELECT {} FROM {} ORDER BY {}").format(
                sql.SQL(columns), t[table], sql.SQL(Oversight.order[table])
            )
        )
        facts.rows[table] = cur.fetchall()
    return facts


VIEWS: tuple[Projection, ...] = (Oversight(),)
