"""Row operations: the one definition of a view's logic, with two executors.

A handler says what happens to its view's rows as a few row operations (`Writer`): insert
(optionally from the rows of another table, optionally upserting), update by a condition,
delete, and reads by a condition. Values are plain Python values or one of the small
expressions below (increment, array append/remove, coalesce, a JSON key put/drop, "erase",
a scalar look-up in another table of the view). Nothing else: any richer logic is Python in
the handler, over what a read returned.

Two executors run the same handlers:

- `SqlWriter` (the live projector, the last events of a rebuild): every operation becomes one
  SQL statement on the build's tables, as the handlers' hand-written SQL did before.
- `MemoryStore` (rebuilds and replays): the rows live in Python dicts keyed by primary key
  (with hash indexes built on first use for other conditions); at the end each table is
  written once with COPY. No statement per event reaches the server.

Why: a rebuild sent about four statements per event, and psycopg's per-statement work plus
the server's was several times the cost of reading the log (docs/performance.md). Both
executors follow PostgreSQL's semantics for every operation here (NULL in arithmetic and
comparisons, `numeric` from a float, evaluation of every SET against the old row), and the
tests compare a rebuilt view's digest with the live view's.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol
from uuid import UUID

import msgspec
from psycopg import Cursor, postgres, sql
from psycopg.adapt import Dumper
from psycopg.pq import Format
from psycopg.rows import TupleRow
from psycopg.types.json import Jsonb

# -- expressions -------------------------------------------------------------------------


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

_SET_EXPRS = frozenset((Inc, Append, Remove, SortedAdd, IfNull, JsonPut, JsonDrop, Erase, Ref))

# `on_conflict`: "nothing", or the columns to change in the existing row (EXCLUDED,
# ADD_EXCLUDED or a plain value).
Conflict = str | dict[str, Any] | None


class Writer(Protocol):
    """What a handler may do to its view's tables (logical names, as in `Projection.tables`)."""

    schema: str

    def insert(
        self,
        table: str,
        values: dict[str, Any],
        *,
        on_conflict: Conflict = None,
        source: tuple[str, dict[str, Any]] | None = None,
    ) -> None: ...

    def update(
        self, table: str, sets: dict[str, Any], *, returning: str | None = None, **where: Any
    ) -> list[Any]: ...

    def delete(self, table: str, **where: Any) -> None: ...

    def select(
        self, table: str, columns: tuple[str, ...], **where: Any
    ) -> list[tuple[Any, ...]]: ...

    def get(self, table: str, columns: tuple[str, ...], **where: Any) -> tuple[Any, ...] | None: ...

    def query(self, statement: sql.Composed, params: Any) -> list[tuple[Any, ...]]: ...


# -- table descriptions, from the DDL -----------------------------------------------------

_DEFAULT = re.compile(r"\bDEFAULT\s+('(?:[^']|'')*'(?:::\w+)?|[-\w.]+)", re.I)
_INLINE_PK = re.compile(r"\s+PRIMARY\s+KEY\b", re.I)
_INLINE_UNIQUE = re.compile(r"\s+UNIQUE\b", re.I)


def _split(ddl: str) -> list[str]:
    parts, depth, start = [], 0, 0
    for i, c in enumerate(ddl):
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
        elif c == "," and depth == 0:
            parts.append(ddl[start:i].strip())
            start = i + 1
    parts.append(ddl[start:].strip())
    return [p for p in parts if p]


def _default(text: str, type_: str) -> Any:
    """A column DEFAULT as the Python value a read of it returns."""
    low = text.lower()
    if low in ("true", "false"):
        return low == "true"
    if re.fullmatch(r"-?\d+", text):
        return Decimal(text) if type_ == "numeric" else int(text)
    if text == "'{}'" and type_.endswith("[]"):
        return []
    if low == "'{}'::jsonb":
        return {}
    if text == "''":
        return ""
    raise ValueError(f"column default not understood by projections.ops: {text}")


class TableSpec:
    """One table of a view: columns, types, defaults and primary key, parsed from its DDL."""

    def __init__(self, name: str, ddl: str) -> None:
        self.name = name
        self.columns: list[str] = []
        self.types: dict[str, str] = {}
        defaults: list[Any] = []
        pk: list[str] = []
        # The DDL without its keys, and the keys as `ALTER TABLE … ADD` clauses: a rebuild makes
        # the table bare, fills it, then adds the keys (one sorted index build each).
        bare: list[str] = []
        self.keys: list[str] = []
        for part in _split(ddl):
            m = re.match(r"PRIMARY\s+KEY\s*\(([^)]*)\)", part, re.I)
            if m:
                pk = [c.strip() for c in m.group(1).split(",")]
                self.keys.append(part)
                continue
            if re.match(r"UNIQUE\s*\(", part, re.I):
                self.keys.append(part)
                continue
            name_, type_ = part.split()[:2]
            self.columns.append(name_)
            self.types[name_] = type_
            d = _DEFAULT.search(part)
            defaults.append(_default(d.group(1), type_) if d else None)
            if _INLINE_PK.search(part):
                pk = [name_]
                self.keys.append(f"PRIMARY KEY ({name_})")
            if _INLINE_UNIQUE.search(part):
                self.keys.append(f"UNIQUE ({name_})")
            bare.append(_INLINE_UNIQUE.sub("", _INLINE_PK.sub("", part)))
        # Primary key first, as CREATE TABLE makes them (the same names either way).
        self.keys.sort(key=lambda k: not k.upper().startswith("PRIMARY"))
        self.bare = ", ".join(bare)
        if not pk:
            raise ValueError(f"table {name} has no primary key")
        self.defaults = defaults
        self.pk = tuple(pk)
        self.index = {c: i for i, c in enumerate(self.columns)}
        self.pk_pos = tuple(self.index[c] for c in self.pk)
        self.pk_set = frozenset(self.pk_pos)
        # The primary key's one column (None for a composite key).
        self.key_column = self.pk[0] if len(self.pk) == 1 else None
        self.numeric = frozenset(
            i for i, c in enumerate(self.columns) if self.types[c] == "numeric"
        )
        self.jsonb = frozenset(i for i, c in enumerate(self.columns) if self.types[c] == "jsonb")
        # Integer columns and the range of their type: a value outside it is refused, as the
        # live path's cast refuses it (`check_range`).
        self.ints = {
            i: _INT_RANGES[self.types[c]]
            for i, c in enumerate(self.columns)
            if self.types[c] in _INT_RANGES
        }

    def element(self, column: str) -> str:
        return self.types[column].removesuffix("[]")


_INT_RANGES = {
    "smallint": (-(2**15), 2**15 - 1),
    "int": (-(2**31), 2**31 - 1),
    "integer": (-(2**31), 2**31 - 1),
    "bigint": (-(2**63), 2**63 - 1),
}


class OutOfRange(OverflowError):
    """A value an integer column of the view cannot hold: the live path's cast refuses it
    (22003, and the projector isolates the event, decision 30); the in-memory executor refuses
    it too, so a rebuild does not keep what the live view never held (and psycopg's binary
    COPY would not refuse it: it keeps the low bytes, 2^40 becomes 0 in an `int` column)."""


def check_range(spec: TableSpec, i: int, v: Any) -> None:
    bounds = spec.ints.get(i)
    if bounds is not None and v is not None and not bounds[0] <= v <= bounds[1]:
        raise OutOfRange(f"{spec.name}.{spec.columns[i]} cannot hold {v}")


def parse_tables(tables: dict[str, str]) -> dict[str, TableSpec]:
    return {name: TableSpec(name, ddl) for name, ddl in tables.items()}


def _numeric(v: Any) -> Any:
    """A number as PostgreSQL stores it in a `numeric` column (float8 -> numeric keeps 15
    significant digits), so both executors hold the same value (and COPY sends a Decimal)."""
    kind = type(v)
    if kind is float:
        return Decimal(format(v, ".15g"))
    if kind is int:
        return Decimal(v)
    return v


def _hk(v: Any) -> Any:
    """A value as a key of the in-memory rows and indexes: a UUID by its integer, whose hash
    is computed in C (a UUID's `__hash__` is Python code, and keys are hashed constantly)."""
    return v.int if type(v) is UUID else v


def _json_obj(v: Any) -> Any:
    return msgspec.json.decode(v) if isinstance(v, str) else v


# -- the SQL executor -----------------------------------------------------------------------


# (schema, build, table) -> the quoted physical name: composed once, not per statement (the
# live path makes a writer per event and view).
_TABLE_NAMES: dict[tuple[str, int, str], str] = {}


class SqlWriter:
    """Each operation as one statement on a build's tables (the live path). The statement
    text is plain string work per call (no psycopg composition); equal operations give equal
    texts, which psycopg prepares after a few uses."""

    def __init__(self, cur: Cursor[TupleRow], t: Any, specs: dict[str, TableSpec]) -> None:
        self.cur = cur
        self.t = t
        self.specs = specs
        self.schema: str = t.schema

    def _table(self, table: str) -> str:
        key = (self.t.schema, self.t.build, table)
        name = _TABLE_NAMES.get(key)
        if name is None:
            if len(_TABLE_NAMES) > 100_000:
                _TABLE_NAMES.clear()
            name = _TABLE_NAMES[key] = self.t[table].as_string(self.cur)
        return name

    def _value(self, spec: TableSpec, column: str, v: Any, params: list[Any]) -> str:
        """A value for `column` of `spec` (a plain value or an expression over the row `_r`)."""
        type_ = spec.types[column]
        if type(v) is Ref:
            return self._ref(v, params)
        if type(v) is Src:
            return f'_s."{v.name}"'
        if type_ == "jsonb" and not isinstance(v, str) and v is not None:
            v = Jsonb(v)
        params.append(v)
        return f"%s::{type_}"

    def _ref(self, ref: Ref, params: list[Any]) -> str:
        spec = self.specs[ref.table]
        conds = []
        for k, v in ref.key.items():
            if type(v) is Col:
                conds.append(f'_q."{k}" = _r."{v.name}"')
            else:
                params.append(v)
                conds.append(f'_q."{k}" = %s::{spec.types[k]}')
        text = (
            f'(SELECT _q."{ref.column}" FROM {self._table(ref.table)} _q'
            f" WHERE {' AND '.join(conds)})"
        )
        if ref.default is None:
            return text
        params.append(ref.default)
        return f"coalesce({text}, %s::{spec.types[ref.column]})"

    def _set(self, spec: TableSpec, column: str, v: Any, params: list[Any]) -> str:
        c = f'_r."{column}"'
        kind = type(v)
        if kind is Inc:
            params.append(v.n)
            return f"{c} + %s::{spec.types[column]}"
        if kind is Append or kind is Remove:
            params.append(v.v)
            fn = "array_append" if kind is Append else "array_remove"
            return f"{fn}({c}, %s::{spec.element(column)})"
        if kind is SortedAdd:
            params.append(v.v)
            # Code point order, as Python sorts, whatever the database's collation.
            element = spec.element(column)
            collate = ' COLLATE "C"' if element == "text" else ""
            return (
                f"(SELECT array_agg(DISTINCT x{collate} ORDER BY x{collate})"
                f" FROM unnest(array_append({c}, %s::{element})) x)"
            )
        if kind is IfNull:
            params.append(v.v)
            return f"coalesce({c}, %s::{spec.types[column]})"
        if kind is JsonPut:
            params.append(Jsonb({v.key: v.value}))
            return f"{c} || %s::jsonb"
        if kind is JsonDrop:
            params.append(v.key)
            return f"{c} - %s::text"
        if kind is Erase:
            params.append(v.text)
            return f"CASE WHEN coalesce({c}, '') = '' THEN {c} ELSE %s::text END"
        return self._value(spec, column, v, params)

    def _where(self, spec: TableSpec, where: dict[str, Any], params: list[Any]) -> str:
        conds = []
        for column, v in where.items():
            c = f'_r."{column}"'
            if v is IS_NULL:
                conds.append(f"{c} IS NULL")
            elif type(v) is Contains:
                params.append(v.v)
                conds.append(f"%s::{spec.element(column)} = ANY({c})")
            elif type(v) is Ref:
                conds.append(f"{c} = {self._ref(v, params)}")
            else:
                params.append(v)
                conds.append(f"{c} = %s::{spec.types[column]}")
        return " AND ".join(conds) if conds else "true"

    def insert(
        self,
        table: str,
        values: dict[str, Any],
        *,
        on_conflict: Conflict = None,
        source: tuple[str, dict[str, Any]] | None = None,
    ) -> None:
        spec = self.specs[table]
        params: list[Any] = []
        exprs = [self._value(spec, c, v, params) for c, v in values.items()]
        cols = ", ".join(f'"{c}"' for c in values)
        text = f"INSERT INTO {self._table(table)} AS _r ({cols}) "
        if source is None:
            text += f"VALUES ({', '.join(exprs)})"
        else:
            src_table, src_where = source
            src = self.specs[src_table]
            conds = []
            for column, v in src_where.items():
                params.append(v)
                conds.append(f'_s."{column}" = %s::{src.types[column]}')
            text += (
                f"SELECT {', '.join(exprs)} FROM {self._table(src_table)} _s"
                f" WHERE {' AND '.join(conds)}"
            )
        if on_conflict == "nothing":
            text += " ON CONFLICT DO NOTHING"
        elif isinstance(on_conflict, dict):
            sets = []
            for column, v in on_conflict.items():
                if v is EXCLUDED:
                    sets.append(f'"{column}" = EXCLUDED."{column}"')
                elif v is ADD_EXCLUDED:
                    sets.append(f'"{column}" = _r."{column}" + EXCLUDED."{column}"')
                else:
                    sets.append(f'"{column}" = {self._value(spec, column, v, params)}')
            keys = ", ".join(f'"{c}"' for c in spec.pk)
            text += f" ON CONFLICT ({keys}) DO UPDATE SET {', '.join(sets)}"
        self.cur.execute(text.encode(), params)

    def update(
        self, table: str, sets: dict[str, Any], *, returning: str | None = None, **where: Any
    ) -> list[Any]:
        spec = self.specs[table]
        params: list[Any] = []
        assignments = ", ".join(f'"{c}" = {self._set(spec, c, v, params)}' for c, v in sets.items())
        text = f"UPDATE {self._table(table)} AS _r SET {assignments}"
        text += f" WHERE {self._where(spec, where, params)}"
        if returning is None:
            self.cur.execute(text.encode(), params)
            return []
        self.cur.execute(f'{text} RETURNING _r."{returning}"'.encode(), params)
        return [r[0] for r in self.cur.fetchall()]

    def delete(self, table: str, **where: Any) -> None:
        spec = self.specs[table]
        params: list[Any] = []
        text = f"DELETE FROM {self._table(table)} AS _r WHERE {self._where(spec, where, params)}"
        self.cur.execute(text.encode(), params)

    def select(self, table: str, columns: tuple[str, ...], **where: Any) -> list[tuple[Any, ...]]:
        spec = self.specs[table]
        params: list[Any] = []
        cols = ", ".join(f'_r."{c}"' for c in columns)
        text = f"SELECT {cols} FROM {self._table(table)} AS _r"
        text += f" WHERE {self._where(spec, where, params)}"
        self.cur.execute(text.encode(), params)
        return self.cur.fetchall()

    def get(self, table: str, columns: tuple[str, ...], **where: Any) -> tuple[Any, ...] | None:
        rows = self.select(table, columns, **where)
        return rows[0] if rows else None

    def query(self, statement: sql.Composed, params: Any) -> list[tuple[Any, ...]]:
        self.cur.execute(statement, params)
        return self.cur.fetchall()


# -- the in-memory executor -----------------------------------------------------------------


class _MemTable:
    __slots__ = ("guarded", "indexes", "rows", "spec")

    def __init__(self, spec: TableSpec) -> None:
        self.spec = spec
        self.rows: dict[Any, list[Any]] = {}
        # Columns whose change moves a row in `rows` or in an index.
        self.guarded: frozenset[int] = spec.pk_set
        # column positions -> value tuple -> primary keys (an ordered set)
        self.indexes: dict[tuple[int, ...], dict[tuple[Any, ...], dict[Any, None]]] = {}

    def key(self, row: list[Any]) -> Any:
        pk = self.spec.pk_pos
        if len(pk) == 1:
            v = row[pk[0]]
            return v.int if type(v) is UUID else v
        return tuple([_hk(row[p]) for p in pk])

    def add(self, key: Any, row: list[Any]) -> None:
        self.rows[key] = row
        for positions, index in self.indexes.items():
            index.setdefault(tuple([_hk(row[p]) for p in positions]), {})[key] = None

    def remove(self, key: Any) -> None:
        row = self.rows.pop(key)
        for positions, index in self.indexes.items():
            values = tuple([_hk(row[p]) for p in positions])
            bucket = index[values]
            del bucket[key]
            if not bucket:
                del index[values]

    def change(self, key: Any, row: list[Any], changes: list[tuple[int, Any]]) -> None:
        """Set columns of a row, keeping every index (and the primary key) in step."""
        guarded = self.guarded
        if any(i in guarded for i, _ in changes):
            self.remove(key)
            for i, v in changes:
                row[i] = v
            new = self.key(row)
            if new != key and new in self.rows:
                raise ValueError(f"duplicate key {new!r} in {self.spec.name}")
            self.add(new, row)
            return
        for i, v in changes:
            row[i] = v

    def index(self, positions: tuple[int, ...]) -> dict[tuple[Any, ...], dict[Any, None]]:
        index = self.indexes.get(positions)
        if index is None:
            index = self.indexes[positions] = {}
            self.guarded = self.guarded.union(positions)
            for key, row in self.rows.items():
                index.setdefault(tuple([_hk(row[p]) for p in positions]), {})[key] = None
        return index


class MemoryStore:
    """A build's tables as Python rows, for rebuilds and replays; `write` COPYs them out.

    `query` (reads of tables outside the view, such as the log) goes to the database through
    `cursor`, as on the live path."""

    def __init__(self, specs: dict[str, TableSpec], schema: str) -> None:
        self.specs = specs
        self.schema = schema
        self.tables = {name: _MemTable(spec) for name, spec in specs.items()}
        self.cursor: Cursor[TupleRow] | None = None

    # -- finding rows --------------------------------------------------------------------
    def _resolve(self, v: Any, row: list[Any] | None, spec: TableSpec | None) -> Any:
        if type(v) is Col:
            assert row is not None and spec is not None
            return row[spec.index[v.name]]
        if type(v) is Ref:
            return self._ref(v, row, spec)
        return v

    def _ref(self, ref: Ref, row: list[Any] | None, spec: TableSpec | None) -> Any:
        key = {k: self._resolve(v, row, spec) for k, v in ref.key.items()}
        table = self.tables[ref.table]
        for found in self._find(table, key):
            value = found[table.spec.index[ref.column]]
            return ref.default if value is None else value
        return ref.default

    def _find(self, table: _MemTable, where: dict[str, Any]) -> list[list[Any]]:
        """The rows matching `where` (as SQL would: `col = NULL` matches nothing)."""
        spec = table.spec
        if len(where) == 1:
            # One column equal to a plain value (most look-ups): the key or one index.
            [(column, v)] = where.items()
            kind = type(v)
            if kind is not Ref and kind is not Contains and v is not IS_NULL:
                if kind is UUID:
                    v = v.int
                if column == spec.key_column:
                    row = table.rows.get(v)
                    return [] if row is None else [row]
                if v is None:
                    return []
                positions: tuple[int, ...] = (spec.index[column],)
                index = table.indexes.get(positions)
                if index is None:
                    index = table.index(positions)
                rows = table.rows
                return [rows[k] for k in index.get((v,), ())]
        eq: dict[int, Any] = {}
        checks: list[tuple[int, Any]] = []
        for column, v in where.items():
            i = spec.index[column]
            if v is IS_NULL or type(v) is Contains:
                checks.append((i, v))
                continue
            if type(v) is Ref:
                v = self._ref(v, None, None)
            if v is None:
                return []
            eq[i] = v
        pk = spec.pk_pos
        if eq and spec.pk_set.issubset(eq):
            key = _hk(eq[pk[0]]) if len(pk) == 1 else tuple([_hk(eq[p]) for p in pk])
            row = table.rows.get(key)
            candidates = []
            if row is not None and (len(eq) == len(pk) or all(row[i] == v for i, v in eq.items())):
                candidates.append(row)
        elif eq:
            positions = tuple(sorted(eq))
            bucket = table.index(positions).get(tuple([_hk(eq[p]) for p in positions]), {})
            candidates = [table.rows[k] for k in bucket]
        else:
            candidates = list(table.rows.values())
        if not checks:
            return candidates
        out = []
        for row in candidates:
            for i, v in checks:
                if v is IS_NULL:
                    if row[i] is not None:
                        break
                elif row[i] is None or v.v not in row[i]:
                    break
            else:
                out.append(row)
        return out

    # -- the operations ------------------------------------------------------------------
    def insert(
        self,
        table: str,
        values: dict[str, Any],
        *,
        on_conflict: Conflict = None,
        source: tuple[str, dict[str, Any]] | None = None,
    ) -> None:
        tb = self.tables[table]
        if source is None:
            self._insert_row(tb, values, None, on_conflict)
            return
        src = self.tables[source[0]]
        for src_row in list(self._find(src, source[1])):
            self._insert_row(tb, values, (src, src_row), on_conflict)

    def _insert_row(
        self,
        tb: _MemTable,
        values: dict[str, Any],
        src: tuple[_MemTable, list[Any]] | None,
        on_conflict: Conflict,
    ) -> None:
        spec = tb.spec
        row = spec.defaults[:]
        index, numeric = spec.index, spec.numeric
        for column, v in values.items():
            kind = type(v)
            if kind is Src:
                assert src is not None
                v = src[1][src[0].spec.index[v.name]]
            elif kind is Ref:
                v = self._ref(v, None, None)
            row[index[column]] = v
        for i in numeric:
            row[i] = _numeric(row[i])
        for i in spec.ints:
            check_range(spec, i, row[i])
        pk = spec.pk_pos
        if len(pk) == 1:
            key = row[pk[0]]
            if type(key) is UUID:
                key = key.int
        elif len(pk) == 2:
            a, b = row[pk[0]], row[pk[1]]
            key = (a.int if type(a) is UUID else a, b.int if type(b) is UUID else b)
        else:
            key = tuple([_hk(row[p]) for p in pk])
        old = tb.rows.get(key)
        if old is None:
            if tb.indexes:
                tb.add(key, row)
            else:
                tb.rows[key] = row
            return
        if on_conflict == "nothing":
            return
        if not isinstance(on_conflict, dict):
            raise ValueError(f"duplicate key {key!r} in {spec.name}")
        changes = []
        for column, v in on_conflict.items():
            i = index[column]
            if v is EXCLUDED:
                v = row[i]
            elif v is ADD_EXCLUDED:
                v = None if old[i] is None or row[i] is None else old[i] + row[i]
            if i in numeric:
                v = _numeric(v)
            check_range(spec, i, v)
            changes.append((i, v))
        tb.change(key, old, changes)

    def _apply(self, spec: TableSpec, row: list[Any], column: str, v: Any) -> Any:
        """The new value of `column` in `row` for a SET of `v`."""
        i = spec.index[column]
        kind = type(v)
        if kind not in _SET_EXPRS:
            return _numeric(v) if i in spec.numeric else v
        old = row[i]
        if kind is Inc:
            if old is None or v.n is None:
                return None
            return _numeric(old + v.n) if i in spec.numeric else old + v.n
        if kind is Append:
            return [*(old or ()), v.v]
        if kind is Remove:
            return None if old is None else [x for x in old if x != v.v]
        if kind is SortedAdd:
            return sorted({*(old or ()), v.v})
        if kind is IfNull:
            if old is not None:
                return old
            return _numeric(v.v) if i in spec.numeric else v.v
        if kind is JsonPut:
            return None if old is None else {**_json_obj(old), v.key: v.value}
        if kind is JsonDrop:
            if old is None:
                return None
            doc = dict(_json_obj(old))
            doc.pop(v.key, None)
            return doc
        if kind is Erase:
            return old if not old else v.text
        return self._ref(v, row, spec)

    def update(
        self, table: str, sets: dict[str, Any], *, returning: str | None = None, **where: Any
    ) -> list[Any]:
        tb = self.tables[table]
        spec = tb.spec
        key_column = spec.key_column
        if len(where) == 1 and key_column in where and type(where[key_column]) is not Ref:
            # By primary key (most updates): no search.
            v = where[key_column]
            found = tb.rows.get(v.int if type(v) is UUID else v)
            if found is None:
                return []
            rows = [found]
        else:
            rows = self._find(tb, where)
        index, numeric, guarded, ints = spec.index, spec.numeric, tb.guarded, spec.ints
        out = []
        for row in rows:
            # Every SET sees the old row, as in SQL.
            changes = []
            moves = False
            for c, v in sets.items():
                i = index[c]
                if type(v) in _SET_EXPRS:
                    v = self._apply(spec, row, c, v)
                elif i in numeric:
                    v = _numeric(v)
                if i in guarded:
                    moves = True
                if i in ints:
                    check_range(spec, i, v)
                changes.append((i, v))
            if moves:
                tb.change(tb.key(row), row, changes)
            else:
                for i, v in changes:
                    row[i] = v
            if returning is not None:
                out.append(row[index[returning]])
        return out

    def delete(self, table: str, **where: Any) -> None:
        tb = self.tables[table]
        for row in list(self._find(tb, where)):
            tb.remove(tb.key(row))

    def select(self, table: str, columns: tuple[str, ...], **where: Any) -> list[tuple[Any, ...]]:
        tb = self.tables[table]
        spec = tb.spec
        positions = [spec.index[c] for c in columns]
        out = []
        for row in self._find(tb, where):
            values = [row[i] for i in positions]
            for n, i in enumerate(positions):
                if i in spec.jsonb and isinstance(values[n], str):
                    values[n] = msgspec.json.decode(values[n])
            out.append(tuple(values))
        return out

    def get(self, table: str, columns: tuple[str, ...], **where: Any) -> tuple[Any, ...] | None:
        rows = self.select(table, columns, **where)
        return rows[0] if rows else None

    def query(self, statement: sql.Composed, params: Any) -> list[tuple[Any, ...]]:
        if self.cursor is None:
            raise RuntimeError("this store has no database cursor for reads outside the view")
        self.cursor.execute(statement, params)
        return self.cursor.fetchall()

    # -- writing out ---------------------------------------------------------------------
    def rows(self) -> int:
        return sum(len(tb.rows) for tb in self.tables.values())

    def write(self, cur: Cursor[TupleRow], t: Any, *, keyed: bool = True) -> int:
        """COPY every table into the build `t` (empty tables); returns the rows written.

        Binary COPY, typed by the table's own column types: the server parses nothing, and
        the client dumps each value by its column's type. One sorted build of each index
        costs about half of keeping it up to date row by row, so the tables should have no
        keys yet (`keyed=False`: made by `Projection.create(keys=False)`, the caller adds them
        after); with `keyed`, each table's keys and indexes are dropped before and made again
        after (the same definitions and names)."""
        written = 0
        with cur.connection.cursor() as copier:
            for dumper in _COPY_DUMPERS:
                copier.adapters.register_dumper(None, dumper)
            for name, tb in self.tables.items():
                if not tb.rows:
                    continue
                spec = tb.spec
                table = t[name].as_string(copier)
                copier.execute(
                    "SELECT attname, atttypid::int FROM pg_attribute WHERE attrelid ="
                    " %s::regclass AND attnum > 0 AND NOT attisdropped",
                    (table,),
                )
                oids = dict(copier.fetchall())
                restore = _drop_indexes(copier, table) if keyed else []
                columns = sql.SQL(", ").join(map(sql.Identifier, spec.columns))
                with copier.copy(
                    sql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(t[name], columns)
                ) as copy:
                    copy.set_types([oids[c] for c in spec.columns])
                    write = copy.write_row
                    for row in tb.rows.values():
                        write(row)
                for statement in restore:
                    copier.execute(statement)
                written += len(tb.rows)
        return written

    def clear(self) -> None:
        for tb in self.tables.values():
            tb.rows.clear()
            tb.indexes.clear()
            tb.guarded = tb.spec.pk_set


def _drop_indexes(cur: Cursor[TupleRow], table: str) -> list[str]:
    """Drop the primary key, unique constraints and other indexes of an empty table; returns
    the statements that make them again, as they were."""
    cur.execute(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint"
        " WHERE conrelid = %s::regclass AND contype IN ('p', 'u') ORDER BY contype, conname",
        (table,),
    )
    constraints = cur.fetchall()
    cur.execute(
        "SELECT indexrelid::regclass::text, pg_get_indexdef(indexrelid) FROM pg_index i"
        " WHERE indrelid = %s::regclass"
        " AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)",
        (table,),
    )
    indexes = cur.fetchall()
    restore = []
    for name, definition in constraints:
        cur.execute(
            sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(
                sql.SQL(table), sql.Identifier(name)
            )
        )
        restore.append(
            sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} {}")
            .format(sql.SQL(table), sql.Identifier(name), sql.SQL(definition))
            .as_string(cur)
        )
    for name, definition in indexes:
        cur.execute(sql.SQL("DROP INDEX {}").format(sql.SQL(name)))
        restore.append(definition)
    return restore


class _JsonbDumper(Dumper):
    """jsonb in binary COPY: a version byte and the JSON text. Handlers hand JSON over as text
    (already encoded) or as Python objects."""

    format = Format.BINARY
    oid = postgres.types["jsonb"].oid

    def dump(self, obj: Any) -> bytes:
        if isinstance(obj, str):
            return b"\x01" + obj.encode()
        return b"\x01" + msgspec.json.encode(obj)


# One-dimensional arrays in binary COPY. psycopg's general list dumper measures each list's
# dimensions and calls the element's dumper per element (Python code for uuid and the list
# walk); the views' arrays are flat lists of one type, so each is packed directly: a header
# (dimensions, null flag, element type, length, lower bound), then each element's length and
# bytes. Anything but a flat list fails here: a nested list has no `.bytes`, `.encode` or
# integer value, and a string, tuple or set is refused.
_ARRAY_HEAD = struct.Struct("!iiiii")
_EMPTY_ARRAY = struct.Struct("!iii")
_LENGTH = struct.Struct("!i")
_INT8 = struct.Struct("!iq")
_NULL_ELEMENT = b"\xff\xff\xff\xff"
_UUID_LENGTH = _LENGTH.pack(16)


def _pack_array(element_oid: int, items: list[Any], encode: Any) -> bytes:
    if type(items) is not list:
        # A string would otherwise pack as an array of its characters, a set in any order.
        raise TypeError(f"an array column takes a list, not {type(items).__name__}")
    if not items:
        return _EMPTY_ARRAY.pack(0, 0, element_oid)
    parts = [b""]
    hasnull = 0
    for item in items:
        if item is None:
            hasnull = 1
            parts.append(_NULL_ELEMENT)
        else:
            parts.append(encode(item))
    parts[0] = _ARRAY_HEAD.pack(1, hasnull, element_oid, len(items), 1)
    return b"".join(parts)


def _uuid_element(v: UUID) -> bytes:
    return _UUID_LENGTH + v.bytes


def _text_element(v: str) -> bytes:
    b = v.encode()
    return _LENGTH.pack(len(b)) + b


def _int8_element(v: int) -> bytes:
    return _INT8.pack(8, v)


class _FlatArrayDumper(Dumper):
    """A one-dimensional array of `element` (a type name), each element packed by `encode`."""

    format = Format.BINARY
    element: str
    encode: Any
    _element_oid: int

    def __init_subclass__(cls) -> None:
        cls.oid = postgres.types[cls.element].array_oid
        cls._element_oid = postgres.types[cls.element].oid

    def dump(self, obj: list[Any]) -> bytes:
        return _pack_array(self._element_oid, obj, self.encode)


class _UuidArrayDumper(_FlatArrayDumper):
    element = "uuid"
    encode = staticmethod(_uuid_element)


class _TextArrayDumper(_FlatArrayDumper):
    element = "text"
    encode = staticmethod(_text_element)


class _Int8ArrayDumper(_FlatArrayDumper):
    element = "int8"
    encode = staticmethod(_int8_element)


_COPY_DUMPERS = (_JsonbDumper, _UuidArrayDumper, _TextArrayDumper, _Int8ArrayDumper)
