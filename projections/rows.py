"""Typed rows: a struct declares a query's columns once, and its rows are read by field name.

`columns(Struct, ...)` is the SELECT list of a struct (each field a column of its name, or the
SQL expression given for it); `typed(Struct, rows, ...)` turns the tuples of such a SELECT into
structs, converting by name (`msgspec.convert`: enums, UUIDs and numbers checked), and computes
the fields that depend on more than the row (today's date, the request's instant).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

import msgspec

S = TypeVar("S", bound=msgspec.Struct)

Derive = Callable[[dict[str, Any]], Any]


def columns(cls: type[msgspec.Struct], *, derived: Iterable[str] = (), **exprs: str) -> str:
    """The SELECT list of `cls` in field order: a field is the column of its name, or the SQL
    expression named after it; `derived` fields are not selected (`typed` computes them)."""
    skip = set(derived)
    return ", ".join(
        f"{exprs[name]} AS {name}" if name in exprs else name
        for name in cls.__struct_fields__
        if name not in skip
    )


def typed(
    cls: type[S],
    rows: Iterable[Sequence[Any]],
    derived: Mapping[str, Derive] | None = None,
) -> list[S]:
    """The rows of a `columns(cls, derived=...)` SELECT as `cls`; each derived field is computed
    from the row's selected fields by name."""
    derive = derived or {}
    names = [name for name in cls.__struct_fields__ if name not in derive]
    out = []
    for row in rows:
        fields = dict(zip(names, row, strict=True))
        for name, compute in derive.items():
            fields[name] = compute(fields)
        out.append(msgspec.convert(fields, cls))
    return out
