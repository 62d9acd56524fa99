"""The live executor of a batch (decision 90): a view's rows in memory for one batch of events,
loaded by a few statements and written back once.

`BatchStore` runs the handlers with the in-memory semantics of `MemoryStore` on the rows the
batch touches. It does not know those rows in advance, so it runs the batch in passes: a row
(or the rows of a condition) not yet loaded is a *miss*, recorded, and the pass goes on as
if the row were absent, to find the other misses; then every miss is loaded from the build's
tables, one statement per table, and the batch runs again from the loaded rows. A pass
without a miss ran on exactly the rows the database holds: its result is written back, one
DELETE and one multi-row upsert per table changed. Rows that depend on rows read (a key
found in a loaded row) take one more pass each level; a batch needing more than
`MAX_PASSES` is refused (`TooDeep`) and the caller applies it statement by statement.

Conditions on other columns than the key are complete only once every row of the database
matching them is loaded (`load`); the in-memory changes of the pass are applied on top, so a
read sees what the statements would have seen.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any
from uuid import UUID

import msgspec
from psycopg import Cursor, sql
from psycopg.rows import TupleRow

from projections.ops.expressions import IS_NULL, Contains, Ref
from projections.ops.memory import MemoryStore
from projections.ops.rows import MemTable, hash_key
from projections.ops.spec import TableSpec

MAX_PASSES = 8

# One event for a handler: called with the store, the event and its log position.
Step = tuple[Callable[[Any, Any, int], None], Any, int]
# A condition as loaded: (column, kind, value) sorted by column; kinds "=", "null", "has".
Condition = tuple[tuple[str, str, Any], ...]


class TooDeep(Exception):
    """The batch still missed rows after `MAX_PASSES` passes."""


class Base:
    """What the database holds of one table, as far as loaded: rows by key, the keys known
    (present or absent) and the conditions whose every row is loaded."""

    __slots__ = ("conditions", "known", "rows", "spec")

    def __init__(self, spec: TableSpec) -> None:
        self.spec = spec
        self.rows: dict[Any, tuple[Any, ...]] = {}
        self.known: set[Any] = set()
        self.conditions: set[Condition] = set()


class BatchTable(MemTable):
    """A table of one pass: the loaded rows, changed by the pass; notes what it misses."""

    __slots__ = ("asserted", "asserting", "base", "missed_conditions", "missed_keys")

    def __init__(self, base: Base) -> None:
        super().__init__(base.spec)
        self.base = base
        self.rows = {k: list(r) for k, r in base.rows.items()}
        self.missed_keys: set[Any] = set()
        self.missed_conditions: set[Condition] = set()
        # A plain insert (no `on_conflict`) of a key not loaded needs no load: the key is
        # taken as absent, and the row is written by a plain INSERT, which the database
        # refuses if it was not (as the statement would have been refused).
        self.asserting = False
        self.asserted: set[Any] = set()

    def get(self, key: Any) -> list[Any] | None:
        row = self.rows.get(key)
        if row is None and key not in self.base.known:
            if self.asserting:
                self.asserted.add(key)
            else:
                self.missed_keys.add(key)
        return row

    def add(self, key: Any, row: list[Any]) -> None:
        # A key the row moves to (or is inserted under) may exist in the database.
        if key not in self.base.known and key not in self.asserted:
            self.missed_keys.add(key)
        super().add(key, row)

    def find(self, where: dict[str, Any], ref: Any) -> list[list[Any]]:
        spec = self.spec
        resolved: dict[str, Any] = {}
        items = []
        for column, v in where.items():
            if type(v) is Ref:
                v = ref(v, None, None)
            resolved[column] = v
            if v is IS_NULL:
                items.append((column, "null", None))
            elif type(v) is Contains:
                if v.v is None:
                    return []
                items.append((column, "has", v.v))
            elif v is None:
                return []  # `col = NULL` matches nothing, loaded or not
            else:
                items.append((column, "=", v))
        plain = {c: v for c, kind, v in items if kind == "="}
        if plain.keys() >= set(spec.pk):
            pk = spec.pk
            key = (
                hash_key(plain[pk[0]]) if len(pk) == 1 else tuple([hash_key(plain[c]) for c in pk])
            )
            if key not in self.rows and key not in self.base.known:
                self.missed_keys.add(key)
        else:
            condition = tuple(sorted(items, key=lambda i: (i[0], i[1])))
            loaded = self.base.conditions
            if condition not in loaded and not any((item,) in loaded for item in condition):
                self.missed_conditions.add(condition)
        return super().find(resolved, ref)


class BatchStore(MemoryStore):
    """One view's rows for one batch: passes in memory over loaded rows, then `flush`."""

    def __init__(self, specs: dict[str, TableSpec], schema: str) -> None:
        super().__init__(specs, schema)
        self.bases = {name: Base(spec) for name, spec in specs.items()}
        self.tables: dict[str, MemTable] = {}
        self.passes = 0
        self.loads = 0
        # Reads outside the view (the log) answered once per batch, whatever the passes.
        self._queries: dict[tuple[str, str], list[tuple[Any, ...]]] = {}

    def begin(self) -> None:
        """A new pass, on the rows loaded so far."""
        self.passes += 1
        self.tables = {name: BatchTable(base) for name, base in self.bases.items()}

    def missed(self) -> bool:
        """Whether the pass so far needed a row not loaded."""
        for tb in self.tables.values():
            assert isinstance(tb, BatchTable)
            if tb.missed_keys or tb.missed_conditions:
                return True
        return False

    def insert(
        self,
        table: str,
        values: dict[str, Any],
        *,
        on_conflict: Any = None,
        source: tuple[str, dict[str, Any]] | None = None,
    ) -> None:
        tb = self.tables[table]
        assert isinstance(tb, BatchTable)
        tb.asserting = on_conflict is None and source is None
        try:
            super().insert(table, values, on_conflict=on_conflict, source=source)
        finally:
            tb.asserting = False

    def query(self, statement: sql.Composed, params: Any) -> list[tuple[Any, ...]]:
        if self.cursor is None:
            raise RuntimeError("this store has no database cursor for reads outside the view")
        key = (statement.as_string(self.cursor), repr(params))
        rows = self._queries.get(key)
        if rows is None:
            rows = self._queries[key] = super().query(statement, params)
        return rows

    # -- running a batch ------------------------------------------------------------------

    def run_pass(self, steps: list[Step]) -> bool:
        """One pass of `steps` (each an event for a handler, called with this store, the
        event and its position) on the rows loaded so far; whether it missed any."""
        if self.passes >= MAX_PASSES:
            raise TooDeep(f"{self.passes} passes")
        self.begin()
        for handler, event, position in steps:
            try:
                handler(self, event, position)
            except Exception:
                # After a miss, the pass runs on guesses: an error is expected and the next
                # pass, on loaded rows, tells. Before any, it is the batch's.
                if not self.missed():
                    raise
        return self.missed()

    def loads_needed(self, names: dict[str, str]) -> list[tuple[str, bytes, list[Any]]]:
        """The statements that load what the pass missed, one per table: (table, text,
        parameters); their rows go to `loaded`."""
        out = []
        for name, tb in self.tables.items():
            assert isinstance(tb, BatchTable)
            if not (tb.missed_keys or tb.missed_conditions):
                continue
            spec = tb.spec
            params: list[Any] = []
            parts = []
            if tb.missed_keys:
                keys = [k if len(spec.pk) > 1 else (k,) for k in tb.missed_keys]
                parts.append(_match(spec, list(spec.pk), keys, params))
            shapes: dict[tuple[tuple[str, str], ...], list[Condition]] = {}
            for condition in tb.missed_conditions:
                shape = tuple((c, kind) for c, kind, _ in condition)
                shapes.setdefault(shape, []).append(condition)
            for shape, conditions in shapes.items():
                parts.append(_conditions(spec, shape, conditions, params))
            cols = ", ".join(f'"{c}"' for c in spec.columns)
            text = f"SELECT {cols} FROM {names[name]} WHERE " + " OR ".join(f"({p})" for p in parts)
            out.append((name, text.encode(), params))
        return out

    def loaded(self, table: str, rows: list[tuple[Any, ...]]) -> None:
        """The rows a load of `table` returned: what the pass missed there is now known."""
        self.loads += 1
        tb = self.tables[table]
        assert isinstance(tb, BatchTable)
        base = self.bases[table]
        pk = base.spec.pk_pos
        for row in rows:
            key = hash_key(row[pk[0]]) if len(pk) == 1 else tuple([hash_key(row[p]) for p in pk])
            base.rows.setdefault(key, row)
            base.known.add(key)
        base.known.update(tb.missed_keys)
        base.conditions.update(tb.missed_conditions)

    def writes(self, names: dict[str, str]) -> list[tuple[bytes, list[Any]]]:
        """The statements that write the batch's result: per table changed, one DELETE of
        the rows gone, one INSERT of the rows new (under keys known or taken as absent) and
        one upsert of the rows changed."""
        out: list[tuple[bytes, list[Any]]] = []
        for name, tb in self.tables.items():
            base = self.bases[name]
            spec = base.spec
            gone = [r for k, r in base.rows.items() if k not in tb.rows]
            new = []
            changed = []
            for k, row in tb.rows.items():
                old = base.rows.get(k)
                if old is None:
                    new.append(row)
                elif _differs(row, old):
                    changed.append(row)
            table = names[name]
            if gone:
                params: list[Any] = []
                keys = [tuple(r[i] for i in spec.pk_pos) for r in gone]
                cond = _match(spec, list(spec.pk), keys, params)
                out.append((f"DELETE FROM {table} WHERE {cond}".encode(), params))
            if new:
                out.append((_insert(spec, table, upsert=False).encode(), [_json_rows(spec, new)]))
            if changed:
                out.append(
                    (_insert(spec, table, upsert=True).encode(), [_json_rows(spec, changed)])
                )
        return out

    # -- one store alone --------------------------------------------------------------------

    def run(self, cur: Cursor[TupleRow], names: dict[str, str], steps: list[Step]) -> None:
        """Run `steps` in passes until one misses nothing, loading what each missed; the
        tables then hold the batch's result (`flush` writes it). `names`: each table's
        quoted name. (The projector runs many views' passes and loads together.)"""
        self.cursor = cur
        try:
            while self.run_pass(steps):
                for table, text, params in self.loads_needed(names):
                    cur.execute(text, params, binary=True)
                    self.loaded(table, cur.fetchall())
        finally:
            self.cursor = None

    def flush(self, cur: Cursor[TupleRow], names: dict[str, str]) -> int:
        """Write the batch's result (`writes`); returns the statements sent."""
        statements = self.writes(names)
        for text, params in statements:
            cur.execute(text, params)
        return len(statements)


def _differs(row: list[Any], old: tuple[Any, ...]) -> bool:
    """Whether a row must be written: Python equality is not enough (1.5 == Decimal("1.50"),
    {"n": 1} == {"n": 1.0}), so equal rows are compared by their JSON as well."""
    if len(row) != len(old) or any(a != b for a, b in zip(row, old, strict=True)):
        return True
    try:
        return msgspec.json.encode(row) != msgspec.json.encode(old)
    except (TypeError, msgspec.EncodeError):
        return True


def _match(
    spec: TableSpec, columns: list[str], values: list[tuple[Any, ...]], params: list[Any]
) -> str:
    """`columns` equal to one of `values` (tuples in the columns' order)."""
    if len(columns) == 1:
        [c] = columns
        params.append([_typed(spec, c, v[0]) for v in values])
        return f'"{c}" = ANY(%s::{spec.types[c]}[])'
    arrays = []
    for n, c in enumerate(columns):
        params.append([_typed(spec, c, v[n]) for v in values])
        arrays.append(f"%s::{spec.types[c]}[]")
    cols = ", ".join(f'"{c}"' for c in columns)
    return f"({cols}) IN (SELECT * FROM unnest({', '.join(arrays)}))"


def _typed(spec: TableSpec, column: str, v: Any) -> Any:
    """A key value as the database takes it (the in-memory keys hold a UUID by its integer)."""
    if type(v) is int and spec.types[column] == "uuid":
        return UUID(int=v)
    return v


def _conditions(
    spec: TableSpec,
    shape: tuple[tuple[str, str], ...],
    conditions: list[Condition],
    params: list[Any],
) -> str:
    """Rows matching any of `conditions`, all of one shape (their columns and kinds): the
    equalities as one set of tuples, each array's elements as one overlap. A superset when a
    shape mixes an overlap with other terms, which only loads more rows."""
    parts = []
    eq = [n for n, (_, kind) in enumerate(shape) if kind == "="]
    if eq:
        values = sorted({tuple(c[n][2] for n in eq) for c in conditions}, key=repr)
        parts.append(_match(spec, [shape[n][0] for n in eq], list(values), params))
    for n, (column, kind) in enumerate(shape):
        if kind == "null":
            parts.append(f'"{column}" IS NULL')
        elif kind == "has":
            params.append(sorted({c[n][2] for c in conditions}, key=repr))
            parts.append(f'"{column}" && %s::{spec.types[column]}')
    return " AND ".join(parts) if parts else "true"


def _insert(spec: TableSpec, table: str, *, upsert: bool) -> str:
    cols = ", ".join(f'"{c}"' for c in spec.columns)
    text = (
        f"INSERT INTO {table} AS _r ({cols}) SELECT {cols}"
        f" FROM jsonb_populate_recordset(NULL::{table}, %s::jsonb)"
    )
    if not upsert:
        return text
    keys = ", ".join(f'"{c}"' for c in spec.pk)
    sets = ", ".join(f'"{c}" = EXCLUDED."{c}"' for c in spec.columns if c not in spec.pk)
    return text + f" ON CONFLICT ({keys}) " + (f"DO UPDATE SET {sets}" if sets else "DO NOTHING")


class Unwritable(ValueError):
    """A value the JSON of the write-back cannot carry as the column stores it (a float that
    is not finite): the caller applies the batch statement by statement instead."""


def _json_rows(spec: TableSpec, rows: Iterable[list[Any]]) -> str:
    """The rows as a JSON array of objects, each value as the column's input reads it."""
    columns = spec.columns
    jsonb = [spec.index[c] for c in columns if spec.types[c] == "jsonb"]
    floats = [spec.index[c] for c in columns if spec.types[c] in ("float8", "double precision")]
    out = []
    for row in rows:
        if jsonb or floats:
            row = list(row)
            for i in jsonb:
                if isinstance(row[i], str):
                    row[i] = msgspec.Raw(row[i].encode())
            for i in floats:
                if row[i] is not None and not math.isfinite(row[i]):
                    raise Unwritable(f"{spec.name}.{columns[i]}: {row[i]}")
        out.append(dict(zip(columns, row, strict=True)))
    return msgspec.json.encode(out).decode()
