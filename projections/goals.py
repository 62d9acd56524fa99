"""Goal view: one row per SMART goal (its current version) and one per step.

It feeds the goal list, each participant's goal board and the caseload's count of overdue
goals. Whether a goal is overdue depends on today, so it is computed when read (from
`status` and `target_date`); the rows stay a pure function of the log.
"""

from __future__ import annotations

from typing import Any, ClassVar

from psycopg import Cursor, sql
from psycopg.rows import TupleRow

from domain.goals import Goal
from domain.participants import Participant
from projections.base import Projection, Tables, handles
from projections.erasure import erased


class GoalView(Projection):
    name = "goals"
    tables: ClassVar[dict[str, str]] = {
        "goals": (
            "goal_id uuid PRIMARY KEY, participant_id uuid NOT NULL, horizon text NOT NULL,"
            " domain text NOT NULL, statement text NOT NULL, measure text NOT NULL,"
            " target text NOT NULL, target_date date NOT NULL, set_on date NOT NULL,"
            " first_set_on date NOT NULL, revision int NOT NULL, status text NOT NULL,"
            " steps_open int NOT NULL DEFAULT 0, steps_completed int NOT NULL DEFAULT 0,"
            " steps_dropped int NOT NULL DEFAULT 0, progress_count int NOT NULL DEFAULT 0,"
            " last_percent int, last_progress_at timestamptz, closed_at timestamptz,"
            " outcome text NOT NULL DEFAULT '', last_position bigint NOT NULL"
        ),
        "goal_steps": (
            "goal_id uuid NOT NULL, step_id uuid NOT NULL, description text NOT NULL,"
            " due_on date, status text NOT NULL, added_at timestamptz NOT NULL,"
            " closed_at timestamptz, note text NOT NULL DEFAULT '',"
            " PRIMARY KEY (goal_id, step_id)"
        ),
    }
    order: ClassVar[dict[str, str]] = {"goals": "goal_id", "goal_steps": "goal_id, step_id"}

    @handles(Goal.Set)
    def goal_set(self, cur: Cursor[TupleRow], t: Tables, e: Any, position: int) -> None:
        terms = e.terms
        cur.execute(
            sql.SQL(
                "INSERT INTO {} (goal_id, participant_id, horizon, domain, statement, measure,"
                " target, target_date, set_on, first_set_on, revision, status, last_position)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, 1, 'active', %s)"
            ).format(t["goals"]),
            (
                e.originator_id,
                e.participant_id,
                terms.horizon.value,
                terms.domain.value,
                terms.statement,
                terms.measure,
                terms.target,
                terms.target_date,
                e.occurred_at.date(),
                e.occurred_at.date(),
                position,
            ),
        )

    def _touch(
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
                "UPDATE {} SET " + assignments + " last_position = %s WHERE goal_id = %s"
            ).format(t["goals"]),
            (*params, position, e.originator_id),
        )

    @handles(Goal.Revised)
    def revised(self, cur: Cursor[TupleRow], t: Tables, e: Any, position: int) -> None:
        terms = e.terms
        self._touch(
            cur,
            t,
            e,
            position,
            "horizon = %s, domain = %s, statement = %s, measure = %s, target = %s,"
            " target_date = %s, set_on = %s, revision = revision + 1,",
            terms.horizon.value,
            terms.domain.value,
            terms.statement,
            terms.measure,
            terms.target,
            terms.target_date,
            e.occurred_at.date(),
        )

    @handles(Goal.StepAdded)
    def step_added(self, cur: Cursor[TupleRow], t: Tables, e: Any, position: int) -> None:
        cur.execute(
            sql.SQL(
                "INSERT INTO {} (goal_id, step_id, description, due_on, status, added_at)"
                " VALUES (%s, %s, %s, %s, 'open', %s)"
            ).format(t["goal_steps"]),
            (e.originator_id, e.step_id, e.description, e.due_on, e.occurred_at),
        )
        self._touch(cur, t, e, position, "steps_open = steps_open + 1,")

    @handles(Goal.StepCompleted, Goal.StepDropped)
    def step_closed(self, cur: Cursor[TupleRow], t: Tables, e: Any, position: int) -> None:
        completed = isinstance(e, Goal.StepCompleted)
        cur.execute(
            sql.SQL(
                "UPDATE {} SET status = %s, closed_at = %s, note = %s"
                " WHERE goal_id = %s AND step_id = %s"
            ).format(t["goal_steps"]),
            (
                "completed" if completed else "dropped",
                e.occurred_at,
                e.note if completed else e.reason,
                e.originator_id,
                e.step_id,
            ),
        )
        counter = "steps_completed" if completed else "steps_dropped"
        self._touch(cur, t, e, position, f"steps_open = steps_open - 1, {counter} = {counter} + 1,")

    @handles(Goal.ProgressRecorded)
    def progress(self, cur: Cursor[TupleRow], t: Tables, e: Any, position: int) -> None:
        self._touch(
            cur,
            t,
            e,
            position,
            "progress_count = progress_count + 1, last_percent = coalesce(%s, last_percent),"
            " last_progress_at = %s,",
            e.percent,
            e.occurred_at,
        )

    @handles(Goal.Achieved, Goal.Abandoned)
    def closed(self, cur: Cursor[TupleRow], t: Tables, e: Any, position: int) -> None:
        achieved = isinstance(e, Goal.Achieved)
        self._touch(
            cur,
            t,
            e,
            position,
            "status = %s, closed_at = %s, outcome = %s,",
            "achieved" if achieved else "abandoned",
            e.occurred_at,
            e.note if achieved else e.reason,
        )

    @handles(Participant.Erased)
    def participant_erased(self, cur: Cursor[TupleRow], t: Tables, e: Any, position: int) -> None:
        cur.execute(
            sql.SQL(
                "UPDATE {steps} SET description = {d}, note = {n} WHERE goal_id IN"
                " (SELECT goal_id FROM {goals} WHERE participant_id = %(p)s)"
            ).format(
                steps=t["goal_steps"], goals=t["goals"], d=erased("description"), n=erased("note")
            ),
            {"p": e.originator_id},
        )
        cur.execute(
            sql.SQL(
                "UPDATE {} SET statement = {}, measure = {}, target = {}, outcome = {}"
                " WHERE participant_id = %s"
            ).format(
                t["goals"],
                erased("statement"),
                erased("measure"),
                erased("target"),
                erased("outcome"),
            ),
            (e.originator_id,),
        )


VIEWS: tuple[Projection, ...] = (GoalView(),)
