"""In-memory tables for the rebuild's executor: rows by primary key, hash indexes on demand.

A row is a list in column order. Conditions on other columns than the key build a hash index
on first use, kept in step with every later change of the row.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

from projections.ops.expressions import IS_NULL, Contains, Ref
from projections.ops.spec import TableSpec

# Answers a `Ref` in a condition: its value, looked up in another table of the view.
Lookup = Callable[[Ref, None, None], Any]


def hash_key(v: Any) -> Any:
    """A value as a key of the in-memory rows and indexes: a UUID by its integer, whose hash
    is computed in C (a UUID's `__hash__` is Python code, and keys are hashed constantly)."""
    return v.int if type(v) is UUID else v


class MemTable:
    """One table of an in-memory build: its rows by primary key and its indexes."""

    __slots__ = ("guarded", "indexes", "rows", "spec")

    def __init__(self, spec: TableSpec) -> None:
        self.spec = spec
        self.rows: dict[Any, list[Any]] = {}
        # Columns whose change moves a row in `rows` or in an index.
        self.guarded: frozenset[int] = spec.pk_set
        # column positions -> value tuple -> primary keys (an ordered set)
        self.indexes: dict[tuple[int, ...], dict[tuple[Any, ...], dict[Any, None]]] = {}

    def key(self, row: list[Any]) -> Any:
        """The row's primary key as `rows` holds it."""
        pk = self.spec.pk_pos
        if len(pk) == 1:
            v = row[pk[0]]
            return v.int if type(v) is UUID else v
        return tuple([hash_key(row[p]) for p in pk])

    def get(self, key: Any) -> list[Any] | None:
        """The row under `key` (as `rows` holds it), or None."""
        return self.rows.get(key)

    def add(self, key: Any, row: list[Any]) -> None:
        """Add a row under `key`, and to every index."""
        self.rows[key] = row
        for positions, index in self.indexes.items():
            index.setdefault(tuple([hash_key(row[p]) for p in positions]), {})[key] = None

    def remove(self, key: Any) -> None:
        """Remove the row under `key`, and from every index."""
        row = self.rows.pop(key)
        for positions, index in self.indexes.items():
            values = tuple([hash_key(row[p]) for p in positions])
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
        """The index on the columns at `positions`, built on first use."""
        index = self.indexes.get(positions)
        if index is None:
            index = self.indexes[positions] = {}
            self.guarded = self.guarded.union(positions)
            for key, row in self.rows.items():
                index.setdefault(tuple([hash_key(row[p]) for p in positions]), {})[key] = None
        return index

    def clear(self) -> None:
        """Drop every row and index."""
        self.rows.clear()
        self.indexes.clear()
        self.guarded = self.spec.pk_set

    def find(self, where: dict[str, Any], ref: Lookup) -> list[list[Any]]:
        """The rows matching `where` (as SQL would: `col = NULL` matches nothing); `ref`
        answers a `Ref` condition (a look-up in another table of the view)."""
        spec = self.spec
        if len(where) == 1:
            # One column equal to a plain value (most look-ups): the key or one index.
            [(column, v)] = where.items()
            kind = type(v)
            if kind is not Ref and kind is not Contains and v is not IS_NULL:
                if kind is UUID:
                    v = v.int
                if column == spec.key_column:
                    row = self.rows.get(v)
                    return [] if row is None else [row]
                if v is None:
                    return []
                positions: tuple[int, ...] = (spec.index[column],)
                index = self.indexes.get(positions)
                if index is None:
                    index = self.index(positions)
                rows = self.rows
                return [rows[k] for k in index.get((v,), ())]
        eq: dict[int, Any] = {}
        checks: list[tuple[int, Any]] = []
        for column, v in where.items():
            i = spec.index[column]
            if v is IS_NULL or type(v) is Contains:
                checks.append((i, v))
                continue
            if type(v) is Ref:
                v = ref(v, None, None)
            if v is None:
                return []
            eq[i] = v
        pk = spec.pk_pos
        if eq and spec.pk_set.issubset(eq):
            key = hash_key(eq[pk[0]]) if len(pk) == 1 else tuple([hash_key(eq[p]) for p in pk])
            row = self.rows.get(key)
            candidates = []
            if row is not None and (len(eq) == len(pk) or all(row[i] == v for i, v in eq.items())):
                candidates.append(row)
        elif eq:
            positions = tuple(sorted(eq))
            bucket = self.index(positions).get(tuple([hash_key(eq[p]) for p in positions]), {})
            candidates = [self.rows[k] for k in bucket]
        else:
            candidates = list(self.rows.values())
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
