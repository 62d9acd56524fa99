"""Typed rows: a struct declares a query's columns once, and its rows are read by field name.

`select(Struct, ...)` is the SELECT list of a struct: each field a column of its name, or the
SQL expression given for it; fields it skips are computed after the query or keep their
defaults. `typed(Struct, selected, rows, ...)` turns the tuples of such a SELECT into structs
by name (`msgspec.convert`: enums, UUIDs and numbers checked), computing the derived fields
(what depends on more than the row: today's date, the request's instant).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, NamedTuple, TypeVar

import msgspec

S = TypeVar("S", bound=msgspec.Struct)

Derive = Callable[[dict[str, Any]], Any]


class Select(NamedTuple):
    """The fields a query selects, in order, and its SELECT list."""

    names: tuple[str, ...]
    sql: str


def select(cls: type[msgspec.Struct], *, skip: Iterable[str] = (), **exprs: str) -> Select:
    """The SELECT list of `cls` in field order, without the `skip` fields: a field is the
    column of its name, or the SQL expression named after it."""
    omitted = set(skip)
    names = tuple(name for name in cls.__struct_fields__ if name not in omitted)
    return Select(names, ", ".join(f"{exprs[n]} AS {n}" if n in exprs else n for n in names))


def typed(
    cls: type[S],
    selected: Select,
    rows: Iterable[Sequence[Any]],
    derived: Mapping[str, Derive] | None = None,
) -> list[S]:
    """The rows of a `selected` query as `cls`; each derived field is computed from the row's
    selected fields by name, any other skipped field keeps its default."""
    out = []
    for row in rows:
        fields = dict(zip(selected.names, row, strict=True))
        for name, compute in (derived or {}).items():
            fields[name] = compute(fields)
        out.append(msgspec.convert(fields, cls))
    return out
