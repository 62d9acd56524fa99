"""Every date and date-time a request carries lies in the accepted range (`domain/daterange.py`).

A body is checked once it is decoded (`services/api/strict.py`), whatever its shape: every date
or date-time field, nested ones and those in lists included, so a new request type is covered
without a line here. Query parameters are checked where they are read (`instant`,
`parse_as_of`, the RRC view's `since`/`until`). Either way the answer is 400 `date_out_of_range` naming the input,
before anything is computed or appended.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any, TypeVar

import msgspec
from litestar import Response

from domain.daterange import in_range, out_of_range
from services.api.problems import Problem, ProblemError, problem_response

_D = TypeVar("_D", bound=date)


def _dated(value: Any, path: str) -> Iterator[tuple[str, date]]:
    """Every date or date-time in `value`, with its path (`held.occurred_at`, `steps[2].due_on`)."""
    if isinstance(value, date):
        yield path, value
    elif isinstance(value, msgspec.Struct):
        for name in value.__struct_fields__:
            yield from _dated(getattr(value, name), f"{path}.{name}" if path else name)
    elif isinstance(value, list | tuple | set | frozenset):
        for i, item in enumerate(value):
            yield from _dated(item, f"{path}[{i}]")
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _dated(item, f"{path}.{key}" if path else str(key))


def first_outside(value: Any) -> tuple[str, date] | None:
    """The first date or date-time of a decoded body outside the accepted range, with its path."""
    return next(((p, d) for p, d in _dated(value, "") if not in_range(d)), None)


def body_problem(value: Any) -> Response[Problem] | None:
    """400 `date_out_of_range` naming the first body field outside the range, else None."""
    found = first_outside(value)
    if found is None:
        return None
    path, day = found
    detail = out_of_range(path, day)
    return problem_response(
        400,
        "date_out_of_range",
        detail,
        errors=[{"message": detail, "key": path, "source": "body"}],
    )


def check_parameter(value: _D, name: str) -> _D:
    """`value` of the query parameter `name`, or 400 `date_out_of_range` naming it."""
    if not in_range(value):
        detail = f"query parameter {out_of_range(name, value)}"
        raise ProblemError(
            400,
            "date_out_of_range",
            detail,
            errors=[{"message": detail, "key": name, "source": "query"}],
        )
    return value
