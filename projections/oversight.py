"""Oversight facts: the anonymous rows the quarterly report is computed from.

One row per participant, cohort, move, exit, pairing membership, pairing, meeting, mentor, training
record, goal, escalation and feedback, each keeping the log positions that produced it and the
dates that matter (when it happened, when it was recorded). No names, dates of birth, register
numbers, notes, summaries or descriptions are kept: the participant's UUID is the only link
between rows, and it never leaves the report module (`services/reports/quarterly.py`). The
tables are declared in `projections.oversight_tables`.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from psycopg import Cursor, sql
from psycopg.rows import TupleRow

from domain.casework import CaseManagementContact
from domain.class_sessions import CLASS_KINDS, ClassSessionRequest
from domain.corrections import EntryDateCorrected, PlacementCorrected
from domain.evaluation import Feedback
from domain.facilities import Cohort
from domain.goals import Goal
from domain.meetings import Attendance, Meeting
from domain.mentors import Mentor
from domain.pairings import Pairing
from domain.participants import Participant
from domain.policy import ProgramPolicy
from domain.resources import Referral
from domain.supervision import Escalation
from projections.base import Projection, Tables, handles
from projections.ops import IS_NULL, Append, Col, Ref, Remove, Writer
from projections.oversight_tables import COLUMNS, NAMES, ORDER, TABLES


@dataclass
class Facts:
    """Every fact row of one grantee, as tuples in the column order of `COLUMNS`."""

    rows: dict[str, list[tuple[Any, ...]]] = field(default_factory=dict)

    def __getitem__(self, table: str) -> list[tuple[Any, ...]]:
        return self.rows.get(table, [])


class Oversight(Projection):
    name = "oversight"
    tables = TABLES
    order = ORDER

    @staticmethod
    def _insert(w: Writer, table: str, values: tuple[Any, ...]) -> None:
        w.insert(table, dict(zip(NAMES[table], values, strict=True)))

    # -- participants ----------------------------------------------------------------------
    @handles(Participant.Enrolled)
    def enrolled(self, w: Writer, e: Participant.Enrolled, position: int) -> None:
        self._insert(
            w,
            "ov_participants",
            (e.originator_id, e.program_entry_date, position, e.timestamp, e.cohort_code),
        )

    @handles(EntryDateCorrected)
    def entry_corrected(self, w: Writer, e: EntryDateCorrected, position: int) -> None:
        w.update(
            "ov_participants",
            {"entry_date": e.program_entry_date},
            participant_id=e.originator_id,
        )

    @handles(PlacementCorrected)
    def placement_corrected(self, w: Writer, e: PlacementCorrected, position: int) -> None:
        w.update("ov_participants", {"cohort_code": e.cohort_code}, participant_id=e.originator_id)

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
        # A class session or graduate speaker session, as last recorded (an amendment may
        # make it one, or a plain meeting again).
        w.delete("ov_sessions", meeting_id=e.originator_id)
        if r.session in CLASS_KINDS:
            row = (e.originator_id, position, r.session.value, r.occurred_at, r.duration_minutes)
            self._insert(w, "ov_sessions", row)

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
        self._insert(
            w,
            "ov_mentors",
            (e.originator_id, position, e.occurred_at, None, None, e.participant_id),
        )

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

    # -- class-session requests and the facility's decisions -----------------------------------
    @handles(ClassSessionRequest.Requested)
    def class_requested(self, w: Writer, e: ClassSessionRequest.Requested, position: int) -> None:
        row = (e.originator_id, position, e.requested_on, "requested", None, None, None, None, None)
        self._insert(w, "ov_class_requests", row)

    @handles(ClassSessionRequest.Approved)
    def class_approved(self, w: Writer, e: ClassSessionRequest.Approved, position: int) -> None:
        w.update(
            "ov_class_requests",
            {
                "status": "approved",
                "decided_on": e.approved_on,
                "decide_position": position,
                "approved_on": e.approved_on,
            },
            request_id=e.originator_id,
        )

    @handles(ClassSessionRequest.Denied)
    def class_denied(self, w: Writer, e: ClassSessionRequest.Denied, position: int) -> None:
        w.update(
            "ov_class_requests",
            {"status": "denied", "decided_on": e.denied_on, "decide_position": position},
            request_id=e.originator_id,
        )

    @handles(ClassSessionRequest.Revoked)
    def class_revoked(self, w: Writer, e: ClassSessionRequest.Revoked, position: int) -> None:
        w.update(
            "ov_class_requests",
            {"status": "revoked", "revoked_on": e.revoked_on, "revoke_position": position},
            request_id=e.originator_id,
        )

    # -- program policy ------------------------------------------------------------------------
    @handles(ProgramPolicy.Set)
    def policy_set(self, w: Writer, e: ProgramPolicy.Set, position: int) -> None:
        self._insert(w, "ov_policy", (e.originator_id, position, e.rules.mentoring_is_service))

    @handles(ProgramPolicy.Changed)
    def policy_changed(self, w: Writer, e: ProgramPolicy.Changed, position: int) -> None:
        w.update(
            "ov_policy",
            {"position": position, "mentoring_is_service": e.rules.mentoring_is_service},
            policy_id=e.originator_id,
        )

    # -- other participation-level services -----------------------------------------------------
    @handles(CaseManagementContact)
    def case_contact(self, w: Writer, e: CaseManagementContact, position: int) -> None:
        self._insert(w, "ov_services", (position, e.originator_id, "case_contact", e.contacted_on))

    @handles(Referral.Made)
    def referral_made(self, w: Writer, e: Referral.Made, position: int) -> None:
        self._insert(w, "ov_referrals", (e.originator_id, e.participant_id))

    @handles(Referral.Connected)
    def referral_connected(self, w: Writer, e: Referral.Connected, position: int) -> None:
        w.insert(
            "ov_services",
            {
                "position": position,
                "participant_id": Ref(
                    "ov_referrals", "participant_id", {"referral_id": e.originator_id}
                ),
                "kind": "referral_connection",
                "served_on": e.connected_on,
            },
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


def load_many(cur: Cursor[TupleRow], builds: Sequence[Tables]) -> list[Facts]:
    """`load` of several grantees' builds, each table read for all of them in one statement
    (a round trip a table, not a table a grantee); the same rows in the same order."""
    # The statements are composed as text, each name quoted once: composed of `sql` objects,
    # the 17 statements of 20 grantees each took 12 ms to compose (0.3 s at 500 grantees).
    quote = functools.cache(lambda name: sql.Identifier(name).as_string(cur))
    out = [Facts() for _ in builds]
    for table, columns in COLUMNS.items():
        branches = (
            f"SELECT {i} AS grantee, {columns} FROM {quote(t.schema)}.{quote(t.name(table))}"
            for i, t in enumerate(builds)
        )
        text = " UNION ALL ".join(branches) + f" ORDER BY grantee, {Oversight.order[table]}"
        cur.execute(sql.SQL(text))
        rows: list[list[tuple[Any, ...]]] = [[] for _ in builds]
        for row in cur.fetchall():
            rows[row[0]].append(row[1:])
        for facts, own in zip(out, rows, strict=True):
            facts.rows[table] = own
    return out


VIEWS: tuple[Projection, ...] = (Oversight(),)
