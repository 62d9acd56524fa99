"""Writing an in-memory build out: one binary COPY per table (decision 26).

Binary COPY, typed by the table's own column types: the server parses nothing, and the client
dumps each value by its column's type. The dumpers below replace psycopg's general ones where
those were the rebuild's bottleneck (jsonb given as text or objects, flat arrays).
"""

from __future__ import annotations

import struct
from collections.abc import Collection, Iterable
from typing import Any
from uuid import UUID

import msgspec
from psycopg import Cursor, postgres, sql
from psycopg.adapt import Dumper
from psycopg.pq import Format
from psycopg.rows import TupleRow


def copy_tables(
    cur: Cursor[TupleRow],
    t: Any,
    tables: Iterable[tuple[str, list[str], Collection[list[Any]]]],
    *,
    keyed: bool,
) -> int:
    """COPY each table's rows (name, columns, rows in column order) into the build `t`, whose
    tables are empty; returns the rows written. With `keyed`, each table's keys and indexes
    are dropped before and made again after (the same definitions and names)."""
    written = 0
    with cur.connection.cursor() as copier:
        for dumper in _COPY_DUMPERS:
            copier.adapters.register_dumper(None, dumper)
        for name, columns, rows in tables:
            if not rows:
                continue
            table = t[name].as_string(copier)
            copier.execute(
                "SELECT attname, atttypid::int FROM pg_attribute WHERE attrelid ="
                " %s::regclass AND attnum > 0 AND NOT attisdropped",
                (table,),
            )
            oids = dict(copier.fetchall())
            restore = _drop_indexes(copier, table) if keyed else []
            names = sql.SQL(", ").join(map(sql.Identifier, columns))
            with copier.copy(
                sql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(t[name], names)
            ) as copy:
                copy.set_types([oids[c] for c in columns])
                write = copy.write_row
                for row in rows:
                    write(row)
            for statement in restore:
                copier.execute(statement)
            written += len(rows)
    return written


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
