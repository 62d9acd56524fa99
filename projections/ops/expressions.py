"""The vocabulary of row operations: what a handler may ask of its view's tables.

`Writer` is the interface both executors implement (`SqlWriter` live, `MemoryStore` in
rebuilds); the small expression classes below are the values and conditions it accepts beyond
plain Python values. Each says in its docstring the SQL it stands for: the in-memory executor
follows the same semantics.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from psycopg import sql


@dataclass(frozen=True, slots=True)
class Inc:
    """`col = col + n` (NULL stays NULL)."""

    n: Any


@dataclass(frozen=True, slots=True)
class Append:
    """`col = array_append(col, v)`."""

    v: Any


@dataclass(frozen=True, slots=True)
class Remove:
    """`col = array_remove(col, v)`."""

    v: Any


@dataclass(frozen=True, slots=True)
class SortedAdd:
    """`col` becomes the sorted set of its elements and `v`."""

    v: Any


@dataclass(frozen=True, slots=True)
class IfNull:
    """`col = coalesce(col, v)`: set only while empty."""

    v: Any


@dataclass(frozen=True, slots=True)
class JsonPut:
    """`col = col || {key: value}` on a jsonb object."""

    key: str
    value: Any


@dataclass(frozen=True, slots=True)
class JsonDrop:
    """`col = col - key` on a jsonb object."""

    key: str


@dataclass(frozen=True, slots=True)
class Erase:
    """The column as it reads after an erasure: a non-empty text becomes `text`, an empty or
    missing one stays (projections/erasure.py)."""

    text: str


@dataclass(frozen=True, slots=True)
class Col:
    """The value of a column of the row being updated (in a `Ref` key)."""

    name: str


@dataclass(frozen=True, slots=True)
class Src:
    """In an insert from a source table: the value of a column of the source row."""

    name: str


@dataclass(frozen=True, slots=True)
class Contains:
    """A condition: `v = ANY(col)` for an array column."""

    v: Any


class Ref:
    """A scalar look-up in another table of the view: `column` of the row whose `key` columns
    equal the given values (`Col(...)` for a column of the row being updated), else
    `default`. SQL: `coalesce((SELECT column FROM table WHERE ...), default)`."""

    __slots__ = ("column", "default", "key", "table")

    def __init__(self, table: str, column: str, key: dict[str, Any], default: Any = None):
        self.table = table
        self.column = column
        self.key = key
        self.default = default


class _Marker:
    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


IS_NULL: Any = _Marker("IS_NULL")  # a condition: `col IS NULL`
EXCLUDED: Any = _Marker("EXCLUDED")  # on conflict: the value the insert brought
ADD_EXCLUDED: Any = _Marker("ADD_EXCLUDED")  # on conflict: the old value plus the new one

# The expressions a SET may hold besides a plain value (the in-memory executor computes them
# from the old row).
SET_EXPRS = frozenset((Inc, Append, Remove, SortedAdd, IfNull, JsonPut, JsonDrop, Erase, Ref))

# `on_conflict`: "nothing", or the columns to change in the existing row (EXCLUDED,
# ADD_EXCLUDED or a plain value).
Conflict = str | dict[str, Any] | None


class Writer(Protocol):
    """What a handler may do to its view's tables (logical names, as in `Projection.tables`).

    Conditions (`**where`) are column equalities, or `IS_NULL`, `Contains` and `Ref`; values
    are plain Python values or the expressions above."""

    schema: str

    def insert(
        self,
        table: str,
        values: dict[str, Any],
        *,
        on_conflict: Conflict = None,
        source: tuple[str, dict[str, Any]] | None = None,
    ) -> None:
        """Insert a row (columns not named take their DEFAULT); with `source`, one row per
        row of that table matching its condition, `Src` naming the source row's columns."""
        ...

    def update(
        self, table: str, sets: dict[str, Any], *, returning: str | None = None, **where: Any
    ) -> list[Any]:
        """Set columns of the matching rows, every SET computed from the old row; with
        `returning`, that column of each updated row."""
        ...

    def delete(self, table: str, **where: Any) -> None:
        """Delete the matching rows."""
        ...

    def select(self, table: str, columns: tuple[str, ...], **where: Any) -> list[tuple[Any, ...]]:
        """`columns` of the matching rows."""
        ...

    def get(self, table: str, columns: tuple[str, ...], **where: Any) -> tuple[Any, ...] | None:
        """`columns` of the first matching row, or None."""
        ...

    def query(self, statement: sql.Composed, params: Any) -> list[tuple[Any, ...]]:
        """Read-only SQL outside the view's tables (the log), always run by the database."""
        ...
