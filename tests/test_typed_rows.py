"""A query's row shape is its struct: the SELECT list comes from the fields, and rows are read
back by field name, with derived fields computed and skipped ones at their defaults."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from uuid import UUID, uuid4

import msgspec
import pytest

from domain.goals import GoalStatus
from projections.rows import select, typed


class Row(msgspec.Struct):
    id: UUID
    status: GoalStatus
    due_on: date
    score: float
    late: bool
    version: int | None = None


def test_the_select_list_follows_the_fields_with_expressions_and_skips():
    selected = select(Row, skip=("late", "version"), id="goal_id", score="avg(score)")
    assert selected.names == ("id", "status", "due_on", "score")
    assert selected.sql == "goal_id AS id, status, due_on, avg(score) AS score"


def test_rows_are_read_by_name_derived_and_defaulted():
    selected = select(Row, skip=("late", "version"))
    goal = uuid4()
    [row] = typed(
        Row,
        selected,
        [(goal, "active", date(2027, 1, 1), Decimal("4.50"))],
        {"late": lambda r: r["due_on"] < date(2027, 1, 2)},
    )
    assert row == Row(goal, GoalStatus.ACTIVE, date(2027, 1, 1), 4.5, True, None)


def test_a_row_that_does_not_fit_its_shape_is_refused():
    selected = select(Row, skip=("late", "version"))
    with pytest.raises(ValueError):
        typed(Row, selected, [(uuid4(), "active", date(2027, 1, 1))])
    with pytest.raises(msgspec.ValidationError):
        typed(
            Row, selected, [(uuid4(), "unknown", date(2027, 1, 1), 1.0)], {"late": lambda r: False}
        )
