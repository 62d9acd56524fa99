"""Table descriptions, parsed once from a view's DDL: columns, types, defaults and keys.

A view declares each table once, as column DDL (`Projection.tables`); both executors and the
rebuild's bare tables are derived from it, so there is no second description to drift.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

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
        """The element type of an array column."""
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
    """Refuse (`OutOfRange`) a value the integer column at position `i` cannot hold."""
    bounds = spec.ints.get(i)
    if bounds is not None and v is not None and not bounds[0] <= v <= bounds[1]:
        raise OutOfRange(f"{spec.name}.{spec.columns[i]} cannot hold {v}")


def parse_tables(tables: dict[str, str]) -> dict[str, TableSpec]:
    """Each table's `TableSpec`, from a view's `tables` (name -> column DDL)."""
    return {name: TableSpec(name, ddl) for name, ddl in tables.items()}


def as_numeric(v: Any) -> Any:
    """A number as PostgreSQL stores it in a `numeric` column (float8 -> numeric keeps 15
    significant digits), so both executors hold the same value (and COPY sends a Decimal)."""
    kind = type(v)
    if kind is float:
        return Decimal(format(v, ".15g"))
    if kind is int:
        return Decimal(v)
    return v
