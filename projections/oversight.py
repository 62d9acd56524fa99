"""Oversight facts: the anonymous rows the quarterly report is computed from.

One row per participant, cohort, move, exit, pairing membership, pairing, meeting, mentor, training
record, goal, escalation and feedback, each keeping the log positions that produced it and the
dates that matter (when it happened, when it was recorded). No names, dates of birth, register
numbers, notes, summaries or descriptions are kept: the participant's UUID is the only link
between rows, and it never leaves the report module (`services/reports/quarterly.py`).
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
from projections.ops import IS_NULL, Append, Col, Ref, Remove, Writer

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

# The column names of `COLUMNS`, in order: the tuples handlers insert.
_NAMES: dict[str, tuple[str, ...]] = {
    table: tuple(c.strip() for c in columns.split(",")) for table, columns in COLUMNS.items()
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
    def _insert(w: Writer, table: str, values: tuple[Any, ...]) -> None:
        w.insert(table, dict(zip(_NAMES[table], values, strict=True)))

    # -- participants ----------------------------------------------------------------------
    @handles(Participant.Enrolled)
    def enrolled(self, w: Writer, e: Participant.Enrolled, position: int) -> None:
        self._insert(
            w,
            "ov_participants",
            (e.originator_id, e.program_entry_date, position, e.timestamp, e.cohort_code),
        )

    @handles(Cohort.Started)
    def cohort_started(self, w: Writer, e: Cohort.Started, position: int) -> None:
        self._insert(w, "ov_cohorts", (e.originator_id, e.code, position, None, None))

    @handles(Cohort.Graduated)
    def cohort_graduated(self, w: Writer, e: Cohort.Graduated, position: int) -> None:
        w.update(
            "ov_cohorts",
            {"graduated_on": e.graduated_on, "graduated_position": position},
            cohort_id=e.originator_id,
        )

    @handles(Participant.StageTransitioned)
    def transitioned(self, w: Writer, e: Participant.StageTransitioned, position: int) -> None:
        self._insert(
            w,
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
    def returned(self, w: Writer, e: Participant.ReturnedToCustody, position: int) -> None:
        self._insert(
            w,
            "ov_moves",
            (position, e.originator_id, "return", int(e.from_stage), 1, e.occurred_at, e.timestamp),
        )

    @handles(Participant.Exited)
    def exited(self, w: Writer, e: Participant.Exited, position: int) -> None:
        self._insert(
            w,
            "ov_exits",
            (e.originator_id, position, e.exit_date, e.reason.value, e.timestamp),
        )

    @handles(Participant.PairingJoined)
    def joined(self, w: Writer, e: Participant.PairingJoined, position: int) -> None:
        self._insert(
            w,
            "ov_memberships",
            (position, e.originator_id, e.pairing_id, e.occurred_at, None, None),
        )

    @handles(Participant.PairingLeft)
    def left(self, w: Writer, e: Participant.PairingLeft, position: int) -> None:
        w.update(
            "ov_memberships",
            {"left_at": e.occurred_at, "left_position": position},
            participant_id=e.originator_id,
            pairing_id=e.pairing_id,
            left_at=IS_NULL,
        )

    # -- pairings and meetings ---------------------------------------------------------------
    @handles(Pairing.Opened)
    def opened(self, w: Writer, e: Pairing.Opened, position: int) -> None:
        self._insert(
            w,
            "ov_pairings",
            (e.originator_id, position, e.mentor_id, e.occurred_at, None, None, list(e.members)),
        )

    @handles(Pairing.MemberAdded)
    def member_added(self, w: Writer, e: Pairing.MemberAdded, position: int) -> None:
        w.update("ov_pairings", {"members": Append(e.participant_id)}, pairing_id=e.originator_id)

    @handles(Pairing.MemberRemoved)
    def member_removed(self, w: Writer, e: Pairing.MemberRemoved, position: int) -> None:
        w.update("ov_pairings", {"members": Remove(e.participant_id)}, pairing_id=e.originator_id)

    @handles(Pairing.Closed)
    def closed(self, w: Writer, e: Pairing.Closed, position: int) -> None:
        w.update(
            "ov_pairings",
            {"closed_at": e.occurred_at, "close_position": position},
            pairing_id=e.originator_id,
        )

    @handles(Meeting.Scheduled)
    def scheduled(self, w: Writer, e: Meeting.Scheduled, position: int) -> None:
        w.insert(
            "ov_meetings",
            {
                "meeting_id": e.originator_id,
                "pairing_id": e.pairing_id,
                "mentor_id": Ref("ov_pairings", "mentor_id", {"pairing_id": e.pairing_id}),
                "scheduled_position": position,
                "scheduled_recorded_at": e.timestamp,
                "scheduled_for": e.scheduled_for,
                "status": "scheduled",
                "week": e.week,
            },
        )

    def _held(self, w: Writer, e: Meeting.Held | Meeting.Amended, position: int) -> None:
        r = e.record
        present = sorted(p for p, a in r.attendance.items() if a is Attendance.PRESENT)
        # Without an attendance list (an individual pairing), the pairing's members attended.
        w.update(
            "ov_meetings",
            {
                "status": "held",
                "occurred_at": r.occurred_at,
                "duration_minutes": r.duration_minutes,
                "week": e.week,
                "status_position": position,
                "positions": Append(position),
                "attendees": present
                or Ref("ov_pairings", "members", {"pairing_id": Col("pairing_id")}, []),
            },
            meeting_id=e.originator_id,
        )

    @handles(Meeting.Held)
    def held(self, w: Writer, e: Meeting.Held, position: int) -> None:
        self._held(w, e, position)

    @handles(Meeting.Amended)
    def amended(self, w: Writer, e: Meeting.Amended, position: int) -> None:
        self._held(w, e, position)

    @handles(Meeting.Missed)
    def missed(self, w: Writer, e: Meeting.Missed, position: int) -> None:
        w.update(
            "ov_meetings",
            {"status": "missed", "status_position": position, "week": e.week},
            meeting_id=e.originator_id,
        )

    @handles(Meeting.Cancelled)
    def cancelled(self, w: Writer, e: Meeting.Cancelled, position: int) -> None:
        w.update(
            "ov_meetings",
            {
                "status": "cancelled",
                "status_position": position,
                "week": e.week,
                "excused": e.excused,
            },
            meeting_id=e.originator_id,
        )

    # -- mentors -------------------------------------------------------------------------------
    @handles(Mentor.Registered)
    def registered(self, w: Writer, e: Mentor.Registered, position: int) -> None:
        self._insert(w, "ov_mentors", (e.originator_id, position, e.occurred_at, None, None))

    @handles(Mentor.Certified)
    def certified(self, w: Writer, e: Mentor.Certified, position: int) -> None:
        w.update(
            "ov_mentors",
            {"certified_at": e.occurred_at, "certified_position": position},
            mentor_id=e.originator_id,
            certified_at=IS_NULL,
        )

    @handles(Mentor.TrainingCompleted)
    def trained(self, w: Writer, e: Mentor.TrainingCompleted, position: int) -> None:
        r = e.record
        self._insert(
            w,
            "ov_trainings",
            (position, e.originator_id, r.module.value, r.completed_on, float(r.hours)),
        )

    # -- goals, escalations, feedback ---------------------------------------------------------
    @handles(Goal.Set)
    def goal_set(self, w: Writer, e: Goal.Set, position: int) -> None:
        self._insert(
            w,
            "ov_goals",
            (e.originator_id, position, e.occurred_at, e.terms.horizon.value, "active", None, None),
        )

    def _goal_closed(
        self, w: Writer, e: Goal.Achieved | Goal.Abandoned, position: int, status: str
    ) -> None:
        w.update(
            "ov_goals",
            {"status": status, "closed_at": e.occurred_at, "close_position": position},
            goal_id=e.originator_id,
        )

    @handles(Goal.Achieved)
    def goal_achieved(self, w: Writer, e: Goal.Achieved, position: int) -> None:
        self._goal_closed(w, e, position, "achieved")

    @handles(Goal.Abandoned)
    def goal_abandoned(self, w: Writer, e: Goal.Abandoned, position: int) -> None:
        self._goal_closed(w, e, position, "abandoned")

    @handles(Escalation.Raised)
    def raised(self, w: Writer, e: Escalation.Raised, position: int) -> None:
        self._insert(
            w,
            "ov_escalations",
            (e.originator_id, position, e.type.value, e.occurred_at, None, None),
        )

    @handles(Escalation.Resolved)
    def resolved(self, w: Writer, e: Escalation.Resolved, position: int) -> None:
        w.update(
            "ov_escalations",
            {"resolved_at": e.occurred_at, "resolve_position": position},
            escalation_id=e.originator_id,
        )

    @handles(Feedback.Given)
    def feedback(self, w: Writer, e: Feedback.Given, position: int) -> None:
        scores = [r.score for r in e.ratings]
        self._insert(
            w,
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
