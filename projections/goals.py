"""Goal view: one row per SMART goal (its current version) and one per step.

It feeds the goal list, each participant's goal board and the caseload's count of overdue
goals. Whether a goal is overdue depends on today, so it is computed when read (from
`status` and `target_date`); the rows stay a pure function of the log.
"""

from __future__ import annotations

from typing import Any, ClassVar

from domain.goals import Goal
from domain.participants import Participant
from projections.base import Projection, handles
from projections.erasure import ERASED
from projections.ops import Erase, Inc, Writer


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
    def goal_set(self, w: Writer, e: Any, position: int) -> None:
        terms = e.terms
        w.insert(
            "goals",
            {
                "goal_id": e.originator_id,
                "participant_id": e.participant_id,
                "horizon": terms.horizon.value,
                "domain": terms.domain.value,
                "statement": terms.statement,
                "measure": terms.measure,
                "target": terms.target,
                "target_date": terms.target_date,
                "set_on": e.occurred_at.date(),
                "first_set_on": e.occurred_at.date(),
                "revision": 1,
                "status": "active",
                "last_position": position,
            },
        )

    def _touch(self, w: Writer, e: Any, position: int, **sets: Any) -> None:
        w.update("goals", {**sets, "last_position": position}, goal_id=e.originator_id)

    @handles(Goal.Revised)
    def revised(self, w: Writer, e: Any, position: int) -> None:
        terms = e.terms
        self._touch(
            w,
            e,
            position,
            horizon=terms.horizon.value,
            domain=terms.domain.value,
            statement=terms.statement,
            measure=terms.measure,
            target=terms.target,
            target_date=terms.target_date,
            set_on=e.occurred_at.date(),
            revision=Inc(1),
        )

    @handles(Goal.StepAdded)
    def step_added(self, w: Writer, e: Any, position: int) -> None:
        w.insert(
            "goal_steps",
            {
                "goal_id": e.originator_id,
                "step_id": e.step_id,
                "description": e.description,
                "due_on": e.due_on,
                "status": "open",
                "added_at": e.occurred_at,
            },
        )
        self._touch(w, e, position, steps_open=Inc(1))

    @handles(Goal.StepCompleted, Goal.StepDropped)
    def step_closed(self, w: Writer, e: Any, position: int) -> None:
        completed = isinstance(e, Goal.StepCompleted)
        w.update(
            "goal_steps",
            {
                "status": "completed" if completed else "dropped",
                "closed_at": e.occurred_at,
                "note": e.note if completed else e.reason,
            },
            goal_id=e.originator_id,
            step_id=e.step_id,
        )
        counter = "steps_completed" if completed else "steps_dropped"
        self._touch(w, e, position, steps_open=Inc(-1), **{counter: Inc(1)})

    @handles(Goal.ProgressRecorded)
    def progress(self, w: Writer, e: Any, position: int) -> None:
        # `last_percent` keeps its value when the progress note carries none.
        percent = {} if e.percent is None else {"last_percent": e.percent}
        self._touch(
            w, e, position, progress_count=Inc(1), **percent, last_progress_at=e.occurred_at
        )

    @handles(Goal.Achieved, Goal.Abandoned)
    def closed(self, w: Writer, e: Any, position: int) -> None:
        achieved = isinstance(e, Goal.Achieved)
        self._touch(
            w,
            e,
            position,
            status="achieved" if achieved else "abandoned",
            closed_at=e.occurred_at,
            outcome=e.note if achieved else e.reason,
        )

    @handles(Participant.Erased)
    def participant_erased(self, w: Writer, e: Any, position: int) -> None:
        erase = Erase(ERASED)
        for (goal_id,) in w.select("goals", ("goal_id",), participant_id=e.originator_id):
            w.update("goal_steps", {"description": erase, "note": erase}, goal_id=goal_id)
        w.update(
            "goals",
            {"statement": erase, "measure": erase, "target": erase, "outcome": erase},
            participant_id=e.originator_id,
        )


VIEWS: tuple[Projection, ...] = (GoalView(),)
