"""Goal view: one row per SMART goal (its current version) and one per step.

It feeds the goal list, each participant's goal board, the caseload's count of overdue goals
and the overdue-goal alerts. Whether a goal is overdue depends on today, so it is computed when
read (from `status` and `target_date`); the rows stay a pure function of the log.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, ClassVar
from uuid import UUID

import msgspec
from psycopg import sql

from domain.goals import (
    Goal,
    GoalDomain,
    GoalStatus,
    Horizon,
    StepStatus,
    goal_overdue,
    step_overdue,
)
from domain.participants import Participant
from projections.base import Projection, Tables, handles
from projections.erasure import ERASED
from projections.ops import Erase, Inc, Writer
from projections.query import Column, Reader, Sort, page
from projections.rows import select, typed
from projections.search import Find, folded_name


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
    # A participant's goals: the caseload's overdue counts and the goal list filter by it.
    extra_indexes = (("goals", "participant", "(participant_id)"),)

    @handles(Goal.Set)
    def goal_set(self, w: Writer, e: Goal.Set, position: int) -> None:
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

    def _touch(self, w: Writer, goal_id: UUID, position: int, **sets: Any) -> None:
        w.update("goals", {**sets, "last_position": position}, goal_id=goal_id)

    @handles(Goal.Revised)
    def revised(self, w: Writer, e: Goal.Revised, position: int) -> None:
        terms = e.terms
        self._touch(
            w,
            e.originator_id,
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
    def step_added(self, w: Writer, e: Goal.StepAdded, position: int) -> None:
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
        self._touch(w, e.originator_id, position, steps_open=Inc(1))

    @handles(Goal.StepCompleted, Goal.StepDropped)
    def step_closed(
        self, w: Writer, e: Goal.StepCompleted | Goal.StepDropped, position: int
    ) -> None:
        if isinstance(e, Goal.StepCompleted):
            status, note, counter = "completed", e.note, "steps_completed"
        else:
            status, note, counter = "dropped", e.reason, "steps_dropped"
        w.update(
            "goal_steps",
            {"status": status, "closed_at": e.occurred_at, "note": note},
            goal_id=e.originator_id,
            step_id=e.step_id,
        )
        self._touch(w, e.originator_id, position, steps_open=Inc(-1), **{counter: Inc(1)})

    @handles(Goal.ProgressRecorded)
    def progress(self, w: Writer, e: Goal.ProgressRecorded, position: int) -> None:
        # `last_percent` keeps its value when the progress note carries none.
        percent = {} if e.percent is None else {"last_percent": e.percent}
        self._touch(
            w,
            e.originator_id,
            position,
            progress_count=Inc(1),
            **percent,
            last_progress_at=e.occurred_at,
        )

    @handles(Goal.Achieved, Goal.Abandoned)
    def closed(self, w: Writer, e: Goal.Achieved | Goal.Abandoned, position: int) -> None:
        if isinstance(e, Goal.Achieved):
            status, outcome = "achieved", e.note
        else:
            status, outcome = "abandoned", e.reason
        self._touch(
            w, e.originator_id, position, status=status, closed_at=e.occurred_at, outcome=outcome
        )

    @handles(Participant.Erased)
    def participant_erased(self, w: Writer, e: Participant.Erased, position: int) -> None:
        erase = Erase(ERASED)
        for (goal_id,) in w.select("goals", ("goal_id",), participant_id=e.originator_id):
            w.update("goal_steps", {"description": erase, "note": erase}, goal_id=goal_id)
        w.update(
            "goals",
            {"statement": erase, "measure": erase, "target": erase, "outcome": erase},
            participant_id=e.originator_id,
        )


VIEWS: tuple[Projection, ...] = (GoalView(),)


# -- reads -----------------------------------------------------------------------------------


class GoalRow(msgspec.Struct, kw_only=True):
    id: UUID
    participant_id: UUID
    horizon: Horizon
    domain: GoalDomain
    statement: str
    measure: str
    target: str
    target_date: date
    set_on: date
    first_set_on: date
    revision: int
    status: GoalStatus
    overdue: bool
    steps_open: int
    steps_completed: int
    steps_dropped: int
    progress_count: int
    last_percent: int | None
    last_progress_at: datetime | None
    closed_at: datetime | None
    outcome: str


class BoardStep(msgspec.Struct):
    id: UUID
    description: str
    due_on: date | None
    status: StepStatus
    overdue: bool
    closed_at: datetime | None


class BoardGoal(GoalRow, kw_only=True):
    steps: list[BoardStep]


class OverdueGoal(msgspec.Struct):
    goal_id: UUID
    participant_id: UUID
    target_date: date


@dataclass(frozen=True)
class Mentees:
    """A peer mentor's current mentees (by the token's subject), from the caseload and the
    mentor roster: only through a certified mentor record."""

    subject: str
    caseload: Tables
    roster: Tables


GOAL = select(GoalRow, skip=("overdue",), id="goal_id")
STEP = select(BoardStep, skip=("overdue",), id="step_id")
OVERDUE_GOAL = select(OverdueGoal)
# The rule of `goal_overdue`, as a condition on the view's columns (one parameter: today).
OVERDUE = "status = 'active' AND target_date < %s"


def _goal_rows(rows: list[Any], today: date) -> list[GoalRow]:
    return typed(
        GoalRow,
        GOAL,
        rows,
        {"overdue": lambda r: goal_overdue(GoalStatus(r["status"]), r["target_date"], today)},
    )


# The columns the goal list sorts by (`sort`); `participant` by their folded last name.
GOAL_SORT = {
    "target_date": Column("target_date", "date"),
    "set_on": Column("set_on", "date"),
    "status": Column("status", "text"),
    "domain": Column("domain", "text"),
    "horizon": Column("horizon", "text"),
    "participant": Column(folded_name("participant_id"), "text"),
    "last_progress_at": Column("last_progress_at", "timestamptz"),
    "closed_at": Column("closed_at", "timestamptz"),
}


def goal_page(
    db: Reader,
    t: Tables,
    today: date,
    *,
    after: str,
    limit: int,
    participant_id: UUID | None = None,
    status: GoalStatus | None = None,
    domain: GoalDomain | None = None,
    horizon: Horizon | None = None,
    overdue: bool | None = None,
    mentees: Mentees | None = None,
    find: Find | None = None,
    sort: Sort | None = None,
) -> tuple[list[GoalRow], str | None]:
    """Goals in id order (or by `sort`) after `after`, filtered, of the participants `find`
    finds (without a `sort`, the closest first); `overdue` as of `today`."""
    filters = (("status", status), ("domain", domain), ("horizon", horizon))
    where: list[tuple[str, Any]] = [(c, v.value) for c, v in filters if v is not None]
    if participant_id is not None:
        where.append(("participant_id", participant_id))
    clauses: list[sql.Composable] = [sql.SQL("TRUE")]
    params: list[Any] = []
    if overdue is not None:
        clauses.append(sql.SQL(f"({OVERDUE})" if overdue else f"NOT ({OVERDUE})"))
        params.append(today)
    if mentees is not None:
        mine = sql.SQL(
            "SELECT mentor_id FROM {r} WHERE subject = %s AND status = 'certified'"
        ).format(r=mentees.roster["mentors"])
        clauses.append(
            sql.SQL(
                "participant_id IN (SELECT participant_id FROM {c} WHERE mentor_id IN ({mine})"
                " OR group_pairing_ids && ARRAY(SELECT p.pairing_id FROM {p} p"
                " WHERE p.mentor_id IN ({mine})))"
            ).format(
                c=mentees.caseload["caseload"], p=mentees.caseload["caseload_pairings"], mine=mine
            )
        )
        params += [mentees.subject, mentees.subject]
    if find is not None:
        found, found_params = find.clause("participant", "participant_id")
        clauses.append(found)
        params.extend(found_params)
        sort = find.closest(find.rank("participant_id")) if sort is None else find.sorted(sort)
    rows, nxt = page(
        db,
        t,
        "goals",
        GOAL.sql,
        "goal_id",
        after=after,
        limit=limit,
        where=where,
        cast_key="uuid",
        extra=sql.SQL(" AND ").join(clauses),
        extra_params=tuple(params),
        sort=sort,
    )
    return _goal_rows(rows, today), nxt


def goal_board(db: Reader, t: Tables, participant_id: UUID, today: date) -> list[BoardGoal]:
    """Every goal of the participant by target date, each with its steps in the order added;
    `overdue` (goals and steps) as of `today`."""
    goals = _goal_rows(
        db.fetchall(
            sql.SQL(
                "SELECT " + GOAL.sql + " FROM {} WHERE participant_id = %s"
                " ORDER BY target_date, goal_id"
            ).format(t["goals"]),
            (participant_id,),
        ),
        today,
    )
    rows = db.fetchall(
        sql.SQL(
            "SELECT goal_id, " + STEP.sql + " FROM {} WHERE goal_id IN"
            " (SELECT goal_id FROM {} WHERE participant_id = %s) ORDER BY added_at, step_id"
        ).format(t["goal_steps"], t["goals"]),
        (participant_id,),
    )
    overdue = {"overdue": lambda r: step_overdue(StepStatus(r["status"]), r["due_on"], today)}
    steps: dict[UUID, list[BoardStep]] = {}
    for (goal_id, *_), step in zip(
        rows, typed(BoardStep, STEP, [r[1:] for r in rows], overdue), strict=True
    ):
        steps.setdefault(goal_id, []).append(step)
    return [BoardGoal(**msgspec.structs.asdict(g), steps=steps.get(g.id, [])) for g in goals]


def overdue_goals(db: Reader, t: Tables, today: date) -> list[OverdueGoal]:
    """Active goals whose target date is before `today`, the most overdue first."""
    query = sql.SQL(
        "SELECT "
        + OVERDUE_GOAL.sql
        + " FROM {} WHERE "
        + OVERDUE
        + " ORDER BY target_date, goal_id"
    ).format(t["goals"])
    return typed(OverdueGoal, OVERDUE_GOAL, db.fetchall(query, (today,)))
