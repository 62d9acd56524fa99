"""Reading views: what every view's query functions share.

A view's query functions live in its module (`projections/<view>.py`) beside the handlers that
write its tables, take the live build's `Tables` and a `Reader` (the service's pool satisfies
it), and return typed rows (msgspec Structs). The API calls them; it holds no SQL.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any, NamedTuple, Protocol

import msgspec
from psycopg import sql

from projections.base import Tables

Query = sql.Composable | str


class Reader(Protocol):
    """What a query needs of the database: statements answered with rows (tuples)."""

    def fetchall(self, query: Query, params: Sequence[Any] | None = ...) -> list[Any]: ...

    def fetchone(self, query: Query, params: Sequence[Any] | None = ...) -> Any: ...


class BatchReader(Reader, Protocol):
    """A reader that also sends several statements in one round trip (a pipeline)."""

    def fetch_each(self, statements: Sequence[tuple[Query, Sequence[Any]]]) -> list[list[Any]]: ...


class InvalidCursor(ValueError):
    """A page cursor this API did not hand out (HTTP 400 `invalid_cursor`)."""


class InvalidSort(ValueError):
    """A `sort` this list does not offer (HTTP 400 `invalid_sort`)."""


class Column(NamedTuple):
    """A column a list may be sorted by: its SQL expression and type. An expression may read
    the search index's `{people}` table (names sort folded: case and accents ignored), or be
    composed already (a search's closeness, `projections.search`)."""

    expr: str | sql.Composable
    cast: str

    def composed(self) -> sql.Composable:
        """The expression as SQL (one that reads `{people}` needs its `Sort`)."""
        return self.expr if isinstance(self.expr, sql.Composable) else sql.SQL(self.expr)


class Sort(NamedTuple):
    """A chosen order: the column, its direction (the page key breaks ties), the search
    index's build for expressions that read it, and the order's mark in its cursors (a
    search's closeness is marked: its cursor is refused beside a `sort`, and a sort's beside
    a search without one)."""

    column: Column
    descending: bool
    people: Tables | None = None
    mark: str = ""

    def expr(self) -> sql.Composable:
        if isinstance(self.column.expr, sql.Composable):
            return self.column.expr
        if "{people}" not in self.column.expr:
            return sql.SQL(self.column.expr)
        if self.people is None:
            raise ValueError("this sort reads the search index: pass its tables")
        return sql.SQL(self.column.expr).format(people=self.people["people"])


def sort_of(
    value: str | None, columns: Mapping[str, Column], people: Tables | None = None
) -> Sort | None:
    """`name` or `-name` (descending) of one of `columns`; None for the list's own order."""
    if not value:
        return None
    name = value.removeprefix("-")
    if name not in columns:
        offered = ", ".join(sorted(columns))
        raise InvalidSort(f"this list sorts by {offered} (a leading '-' for descending)")
    return Sort(columns[name], value.startswith("-"), people)


def sort_pattern(columns: Mapping[str, Column]) -> str:
    """The pattern of a `sort` query parameter over `columns` (declared in the OpenAPI)."""
    return "^-?(" + "|".join(sorted(columns)) + ")$"


# A cursor of another order (the list's own, a sort, a search's closeness) is refused, and so is
# a search's cursor given to a search for other words (decision 148): its mark names the search.
_OTHER_ORDER = "the cursor belongs to another order: pass the same `q` and `sort` as before"
_OTHER_SEARCH = (
    "the cursor belongs to a search for other words: pass the same `q` and `sort` as before"
    " (a new search starts without a cursor)"
)


def _other(marked: Sequence[str | None], mark: str) -> InvalidCursor:
    """The refusal of a cursor whose mark (`marked`, none or one) is not this order's."""
    kind = mark.partition(":")[0]
    if marked and kind and str(marked[0]).partition(":")[0] == kind:
        return InvalidCursor(_OTHER_SEARCH)
    return InvalidCursor(_OTHER_ORDER)


def _sorted_cursor(value: Any, key: Any, mark: str) -> str:
    cursor = [None if value is None else str(value), str(key)]
    raw = msgspec.json.encode([*cursor, mark] if mark else cursor)
    return "~" + base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _read_sorted_cursor(after: str, mark: str) -> tuple[str | None, str]:
    try:
        raw = base64.urlsafe_b64decode(after[1:] + "=" * (-len(after[1:]) % 4))
        value, key, *marked = msgspec.json.decode(raw, type=list[str | None])
        if key is None or len(marked) > 1:
            raise ValueError(after)
    except (binascii.Error, ValueError, msgspec.DecodeError):
        raise InvalidCursor("the cursor is not one this list handed out") from None
    if marked != ([mark] if mark else []):
        raise _other(marked, mark)
    return value, key


def _keyset(
    key_sql: sql.Composable, cast_key: str, after: str, sort: Sort | None
) -> tuple[sql.Composable, list[Any], sql.Composable]:
    """The condition "after the cursor", its parameters, and the ORDER BY."""
    if sort is None:
        if after.startswith("~"):
            raise InvalidCursor(_OTHER_ORDER)
        check_cursor(after, cast_key)
        cond = sql.SQL("{} > %s::{}").format(key_sql, sql.SQL(cast_key))
        return cond, [after], key_sql
    expr, cast = sort.expr(), sql.SQL(sort.column.cast)
    direction = sql.SQL("DESC" if sort.descending else "ASC")
    op = sql.SQL("<" if sort.descending else ">")
    # NULLs last in both directions; ties broken by the key in the same direction.
    order = sql.SQL("({e}) IS NULL, {e} {d}, {k} {d}").format(e=expr, d=direction, k=key_sql)
    if not after:
        return sql.SQL("TRUE"), [], order
    if not after.startswith("~"):
        raise InvalidCursor(_OTHER_ORDER)
    value, key = _read_sorted_cursor(after, sort.mark)
    check_cursor(key, cast_key)
    check_value(value, sort.column.cast)
    if value is None:
        cond = sql.SQL("(({e}) IS NULL AND {k} {op} %s::{ck})").format(
            e=expr, k=key_sql, op=op, ck=sql.SQL(cast_key)
        )
        return cond, [key], order
    # A row comparison names the expression once: a search's closeness is a lookup a row.
    cond = sql.SQL("(({e}) IS NULL OR ({e}, {k}) {op} (%s::{c}, %s::{ck}))").format(
        e=expr, op=op, c=cast, k=key_sql, ck=sql.SQL(cast_key)
    )
    return cond, [value, key], order


def _where(
    cond: sql.Composable,
    params: list[Any],
    where: list[tuple[str, Any]] | None,
    extra: sql.Composable | None,
    extra_params: tuple[Any, ...],
) -> sql.Composable:
    """The WHERE of a page: the keyset condition, `column = value` filters, an extra clause
    (parameters appended to `params`)."""
    clauses: list[sql.Composable] = [cond]
    for column, value in where or []:
        clauses.append(sql.SQL("{} = %s").format(sql.Identifier(column)))
        params.append(value)
    if extra is not None:
        clauses.append(extra)
        params.extend(extra_params)
    return sql.SQL(" AND ").join(clauses)


def page(
    db: Reader,
    t: Tables,
    table: str,
    columns: str,
    key: str,
    *,
    after: str,
    limit: int,
    where: list[tuple[str, Any]] | None = None,
    cast_key: str = "text",
    extra: sql.Composable | None = None,
    extra_params: tuple[Any, ...] = (),
    sort: Sort | None = None,
) -> tuple[list[tuple[Any, ...]], str | None]:
    """Rows ordered by `key` (or by `sort`, then `key`) after `after`; the cursor of the next
    page if there is one.

    The first selected column must be the key (it becomes the next cursor). A sorted page's
    cursor also carries the sort value of its last row, so pages stay keyset pages.
    """
    key_sql = sql.Identifier(key)
    cond, params, order = _keyset(key_sql, cast_key, after, sort)
    if sort is None and after and cast_key == "text":
        # Any text compares, so a cursor this list never handed out (`?cursor=garbage`) would
        # answer an empty or shifted page: the cursor names a row of the list, or is refused.
        known = db.fetchone(
            sql.SQL("SELECT 1 FROM {} WHERE {} = %s LIMIT 1").format(t[table], key_sql), [after]
        )
        if known is None:
            raise InvalidCursor("the cursor is not one this list handed out")
    condition = _where(cond, params, where, extra, extra_params)
    selected: sql.Composable = sql.SQL(columns)
    if sort is not None:
        selected = sql.SQL("{}, {}").format(sort.expr(), selected)
    query = sql.SQL("SELECT {} FROM {} WHERE {} ORDER BY {} LIMIT %s").format(
        selected, t[table], condition, order
    )
    rows = db.fetchall(query, [*params, limit + 1])
    more = len(rows) > limit
    rows = rows[:limit]
    if sort is None:
        return rows, (str(rows[-1][0]) if more and rows else None)
    nxt = _sorted_cursor(rows[-1][0], rows[-1][1], sort.mark) if more and rows else None
    return [r[1:] for r in rows], nxt


def count(
    db: Reader,
    t: Tables,
    table: str,
    *,
    where: list[tuple[str, Any]] | None = None,
    extra: sql.Composable | None = None,
    extra_params: tuple[Any, ...] = (),
) -> int:
    """How many rows a list's filters keep over all its pages (`page`'s filters, no cursor)."""
    params: list[Any] = []
    condition = _where(sql.SQL("TRUE"), params, where, extra, extra_params)
    row = db.fetchone(
        sql.SQL("SELECT count(*) FROM {} WHERE {}").format(t[table], condition), params
    )
    return int(row[0]) if row else 0


class Keyset(NamedTuple):
    """A page key of several columns, ordered as an index over them: a page continues with
    the rows whose tuple of columns follows the cursor's (`(a, b) > (%s, %s)`), which the
    index serves without reading the rows before it. `descending`: every column from the
    greatest down (`(a, b) < (%s, %s)`), the newest first for a time. Its cursor is opaque to
    clients."""

    columns: tuple[Column, ...]
    descending: bool = False
    # The search the order ranks by (`Find.mark`), carried after the values in its cursors.
    mark: str = ""

    def cursor(self, values: Sequence[Any]) -> str:
        raw = msgspec.json.encode([str(v) for v in values] + ([self.mark] if self.mark else []))
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    def read(self, after: str) -> list[Any]:
        """The cursor's values, each checked against its column's type."""
        try:
            raw = base64.urlsafe_b64decode(after + "=" * (-len(after) % 4))
            values = msgspec.json.decode(raw, type=list[str])
        except (binascii.Error, ValueError, msgspec.DecodeError):
            raise InvalidCursor("the cursor is not one this list handed out") from None
        width = len(self.columns)
        marked = values[width:]
        if len(values) == width + 1 and marked != [self.mark]:
            raise _other(marked, self.mark)
        try:
            if len(values) != width + (1 if self.mark else 0):
                raise ValueError(after)
            return [_typed(v, c.cast) for v, c in zip(values[:width], self.columns, strict=True)]
        except ValueError:
            raise InvalidCursor("the cursor is not one this list handed out") from None


def _typed(value: str, cast: str) -> Any:
    if cast == "uuid":
        return uuid.UUID(value)
    if cast == "bigint":
        number = int(value)
        if not -(2**63) <= number < 2**63:
            raise ValueError(value)
        return number
    if cast == "timestamptz":
        at = datetime.fromisoformat(value)
        if at.tzinfo is None:
            raise ValueError(value)
        return at
    raise ValueError(cast)


def keyset_page(
    db: Reader,
    t: Tables,
    table: str,
    columns: str | sql.Composable,
    keyset: Keyset,
    *,
    after: str,
    limit: int,
    where: list[tuple[str, Any]] | None = None,
    extra: sql.Composable | None = None,
    extra_params: tuple[Any, ...] = (),
) -> tuple[list[tuple[Any, ...]], str | None]:
    """Rows in the order of `keyset` (ascending, or `descending`) after the cursor `after`;
    the cursor of the next page if there is one. The first selected columns must be the
    keyset's (they make the cursor)."""
    key = sql.SQL(", ").join(c.composed() for c in keyset.columns)
    direction = sql.SQL(" DESC" if keyset.descending else "")
    order = sql.SQL(", ").join(
        sql.SQL("{}{}").format(c.composed(), direction) for c in keyset.columns
    )
    cond: sql.Composable = sql.SQL("TRUE")
    params: list[Any] = []
    if after:
        if after.startswith("~"):
            raise InvalidCursor(_OTHER_ORDER)
        params = keyset.read(after)
        cond = sql.SQL("({}) {} ({})").format(
            key,
            sql.SQL("<" if keyset.descending else ">"),
            sql.SQL(", ").join(sql.SQL("%s::" + c.cast) for c in keyset.columns),
        )
    condition = _where(cond, params, where, extra, extra_params)
    selected = sql.SQL(columns) if isinstance(columns, str) else columns
    query = sql.SQL("SELECT {} FROM {} WHERE {} ORDER BY {} LIMIT %s").format(
        selected, t[table], condition, order
    )
    rows = db.fetchall(query, [*params, limit + 1])
    more = len(rows) > limit
    rows = rows[:limit]
    width = len(keyset.columns)
    return rows, (keyset.cursor(rows[-1][:width]) if more and rows else None)


# The integer types a sort may read, by their bits less the sign's.
_BITS = {"smallint": 15, "int": 31, "bigint": 63}


def check_value(value: str | None, cast: str) -> None:
    """A sorted cursor's value reads as its column's type: a forged one is refused, not a
    database error."""
    try:
        if value is None or cast in ("text", "uuid"):
            check_cursor(value or "", cast)
        elif cast in _BITS:
            digits = value.removeprefix("-")
            if not (digits.isascii() and digits.isdigit() and len(digits) < 20):
                raise ValueError(value)
            if not -(2 ** _BITS[cast]) <= int(value) < 2 ** _BITS[cast]:
                raise ValueError(value)
        elif cast == "numeric":
            Decimal(value)
        elif cast == "date":
            date.fromisoformat(value)
        else:
            _typed(value, cast)
    except (ValueError, ArithmeticError):
        raise InvalidCursor("the cursor is not one this list handed out") from None


def check_cursor(after: str, cast_key: str = "text") -> None:
    """A cursor is one this API handed out: anything else is refused, not a database error."""
    valid = "\x00" not in after
    if valid and cast_key == "bigint" and after:
        valid = after.isascii() and after.isdigit() and len(after) <= 18
    if valid and cast_key == "uuid":
        try:
            uuid.UUID(after)
        except ValueError:
            valid = False
    if not valid:
        raise InvalidCursor("the cursor is not one this list handed out")
