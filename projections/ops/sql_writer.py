"""The live executor: each row operation as one SQL statement on a build's tables.

Used by the live projector (`Projection.apply`), a rebuild's final catch-up and its fallback
by statements. Placeholders are cast to the column's type, so a value the column cannot hold
is refused by PostgreSQL here (decision 30 isolates the event).
"""

from __future__ import annotations

from typing import Any

from psycopg import Cursor, sql
from psycopg.rows import TupleRow
from psycopg.types.json import Jsonb

from projections.ops.expressions import (
    ADD_EXCLUDED,
    EXCLUDED,
    IS_NULL,
    Append,
    Col,
    Conflict,
    Contains,
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
from projections.ops.spec import TableSpec

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
