"""The rebuild's executor: a build's tables as Python rows, written out once with COPY.

`MemoryStore` implements `Writer` over `MemTable`s, following PostgreSQL's semantics for every
operation (NULL in arithmetic and comparisons, `numeric` from a float, every SET computed from
the old row), so a rebuilt view equals the live one (tests/test_row_ops.py compares them
operation by operation).
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import msgspec
from psycopg import Cursor, sql
from psycopg.rows import TupleRow

from projections.ops.binary_copy import copy_tables
from projections.ops.expressions import (
    ADD_EXCLUDED,
    EXCLUDED,
    SET_EXPRS,
    Append,
    Col,
    Conflict,
    Erase,
    IfNull,
    Inc,
    JsonDrop,
    JsonPut,
    Ref,
    Remove,
    SortedAdd,
    Src,
)
from projections.ops.rows import MemTable, hash_key
from projections.ops.spec import TableSpec, as_numeric, check_range


def _json_obj(v: Any) -> Any:
    return msgspec.json.decode(v) if isinstance(v, str) else v


class MemoryStore:
    """A build's tables as Python rows, for rebuilds and replays; `write` COPYs them out.

    `query` (reads of tables outside the view, such as the log) goes to the database through
    `cursor`, as on the live path."""

    def __init__(self, specs: dict[str, TableSpec], schema: str) -> None:
        self.specs = specs
        self.schema = schema
        self.tables = {name: MemTable(spec) for name, spec in specs.items()}
        self.cursor: Cursor[TupleRow] | None = None

    # -- look-ups -------------------------------------------------------------------------
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
        for found in table.find(key, self._ref):
            value = found[table.spec.index[ref.column]]
            return ref.default if value is None else value
        return ref.default

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
        for src_row in list(src.find(source[1], self._ref)):
            self._insert_row(tb, values, (src, src_row), on_conflict)

    def _insert_row(
        self,
        tb: MemTable,
        values: dict[str, Any],
        src: tuple[MemTable, list[Any]] | None,
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
            row[i] = as_numeric(row[i])
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
            key = tuple([hash_key(row[p]) for p in pk])
        old = tb.get(key)
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
                v = as_numeric(v)
            check_range(spec, i, v)
            changes.append((i, v))
        tb.change(key, old, changes)

    def _apply(self, spec: TableSpec, row: list[Any], column: str, v: Any) -> Any:
        """The new value of `column` in `row` for a SET of `v`."""
        i = spec.index[column]
        kind = type(v)
        if kind not in SET_EXPRS:
            return as_numeric(v) if i in spec.numeric else v
        old = row[i]
        if kind is Inc:
            if old is None or v.n is None:
                return None
            return as_numeric(old + v.n) if i in spec.numeric else old + v.n
        if kind is Append:
            return [*(old or ()), v.v]
        if kind is Remove:
            return None if old is None else [x for x in old if x != v.v]
        if kind is SortedAdd:
            return sorted({*(old or ()), v.v})
        if kind is IfNull:
            if old is not None:
                return old
            return as_numeric(v.v) if i in spec.numeric else v.v
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
            found = tb.get(v.int if type(v) is UUID else v)
            if found is None:
                return []
            rows = [found]
        else:
            rows = tb.find(where, self._ref)
        index, numeric, guarded, ints = spec.index, spec.numeric, tb.guarded, spec.ints
        out = []
        for row in rows:
            # Every SET sees the old row, as in SQL.
            changes = []
            moves = False
            for c, v in sets.items():
                i = index[c]
                if type(v) in SET_EXPRS:
                    v = self._apply(spec, row, c, v)
                elif i in numeric:
                    v = as_numeric(v)
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
        for row in list(tb.find(where, self._ref)):
            tb.remove(tb.key(row))

    def select(self, table: str, columns: tuple[str, ...], **where: Any) -> list[tuple[Any, ...]]:
        tb = self.tables[table]
        spec = tb.spec
        positions = [spec.index[c] for c in columns]
        out = []
        for row in tb.find(where, self._ref):
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
        """How many rows the build holds."""
        return sum(len(tb.rows) for tb in self.tables.values())

    def write(self, cur: Cursor[TupleRow], t: Any, *, keyed: bool = True) -> int:
        """COPY every table into the build `t` (empty tables); returns the rows written.

        One sorted build of each index costs about half of keeping it up to date row by row,
        so the tables should have no keys yet (`keyed=False`: made by
        `Projection.create(keys=False)`, the caller adds them after); with `keyed`, each
        table's keys and indexes are dropped before and made again after (the same
        definitions and names)."""
        return copy_tables(
            cur,
            t,
            [(name, tb.spec.columns, tb.rows.values()) for name, tb in self.tables.items()],
            keyed=keyed,
        )

    def clear(self) -> None:
        """Let go of every row (after `write`): a rebuild holds one grantee's views at a time."""
        for tb in self.tables.values():
            tb.clear()
