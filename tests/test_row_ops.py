"""Row operations (projections/ops/): the SQL executor of the live path and the in-memory
executor of rebuilds agree, operation by operation, on real PostgreSQL tables.

Every view's handlers are checked end to end by the rebuild == live digests of
tests/test_projections.py and others; here each operation and expression is driven through
both executors on a small table set, including the corners where SQL semantics are easy to
miss (NULL arithmetic, float into numeric, every SET seeing the old row, an index on a
changed column, a look-up correlated with the updated row).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, ClassVar
from uuid import UUID

import pytest
from psycopg import sql

from projections.base import Projection, Tables
from projections.ops import (
    ADD_EXCLUDED,
    EXCLUDED,
    IS_NULL,
    Append,
    Col,
    Contains,
    Erase,
    IfNull,
    Inc,
    JsonDrop,
    JsonPut,
    MemoryStore,
    OutOfRange,
    Ref,
    Remove,
    SortedAdd,
    SqlWriter,
    Src,
    TableSpec,
    Writer,
    parse_tables,
)
from projections.ops.binary_copy import _TextArrayDumper, _UuidArrayDumper
from projections.registry import PROJECTIONS


class Toy(Projection):
    name = "toy_ops"
    tables: ClassVar[dict[str, str]] = {
        "things": (
            "id int PRIMARY KEY, owner uuid, label text, n int NOT NULL DEFAULT 0,"
            " maybe int, amount numeric NOT NULL DEFAULT 0, ratio float8, tags text[] NOT NULL"
            " DEFAULT '{}', ids uuid[], flags jsonb NOT NULL DEFAULT '{}'::jsonb,"
            " note text NOT NULL DEFAULT '', done boolean NOT NULL DEFAULT false,"
            " first_at timestamptz, group_id int"
        ),
        "links": (
            "group_id int NOT NULL, member uuid NOT NULL, weight int NOT NULL DEFAULT 0,"
            " left_at timestamptz, PRIMARY KEY (group_id, member)"
        ),
        "groups": (
            "group_id int PRIMARY KEY, lead uuid UNIQUE, members uuid[] NOT NULL DEFAULT '{}'"
        ),
    }
    order: ClassVar[dict[str, str]] = {
        "things": "id",
        "links": "group_id, member",
        "groups": "group_id",
    }

    def create(self, cur: Any, t: Tables) -> None:
        """With an index of its own, as the RRC view has."""
        super().create(cur, t)
        cur.execute(
            sql.SQL("CREATE INDEX {} ON {} USING gin (tags)").format(
                sql.Identifier(f"things_b{t.build}_tags"), t["things"]
            )
        )


A = UUID(int=1)
B = UUID(int=2)
C = UUID(int=3)
T1 = datetime(2026, 1, 1, tzinfo=UTC)
T2 = datetime(2027, 1, 1, 12, 30, tzinfo=UTC)


def script(w: Writer) -> list[Any]:
    """Every operation and expression once or more; returns what the reads answered."""
    seen: list[Any] = []
    w.insert("groups", {"group_id": 1, "lead": A, "members": [A, B]})
    w.insert("groups", {"group_id": 2, "lead": None})
    w.insert("things", {"id": 1, "owner": A, "label": "one", "amount": 0.1 + 0.2, "group_id": 1})
    w.insert("things", {"id": 2, "owner": A, "label": "", "maybe": 5, "amount": 4.0})
    w.insert("things", {"id": 3, "owner": B, "label": None, "ratio": 0.1 + 0.2, "ids": [C]})
    w.insert("things", {"id": 1, "label": "again"}, on_conflict="nothing")
    # Increments: NULL stays NULL; every SET sees the old row.
    w.update("things", {"n": Inc(2), "maybe": Inc(1)}, id=1)
    w.update("things", {"n": Inc(1), "maybe": Inc(-1), "label": "two"}, id=2)
    w.update("things", {"amount": Inc(Decimal("1.50"))}, id=2)
    # Arrays and sets.
    w.update("things", {"tags": Append("b"), "ids": Append(A)}, id=1)
    w.update("things", {"tags": SortedAdd("c")}, id=1)
    w.update("things", {"tags": SortedAdd("a")}, id=1)
    w.update("things", {"tags": SortedAdd("B")}, id=1)  # code point order: "B" < "a"
    w.update("things", {"tags": SortedAdd("c")}, id=1)
    w.update("things", {"ids": Remove(C)}, id=3)
    w.update("things", {"ids": Remove(C)}, id=2)  # NULL stays NULL
    # Coalesce, JSON, erase.
    w.update("things", {"first_at": IfNull(T1)}, id=1)
    w.update("things", {"first_at": IfNull(T2)}, id=1)
    w.update("things", {"flags": JsonPut("x", "why")}, id=1)
    w.update("things", {"flags": JsonPut("y", "because")}, id=1)
    w.update("things", {"flags": JsonDrop("x")}, id=1)
    w.update("things", {"flags": {"z": [1, 2]}}, id=2)
    w.update("things", {"label": Erase("[erased]"), "note": Erase("[erased]")}, owner=A)
    w.update("things", {"label": Erase("[erased]")}, owner=B)
    # A correlated look-up, with and without a default.
    w.update("things", {"ids": Ref("groups", "members", {"group_id": Col("group_id")}, [])}, id=1)
    w.update("things", {"ids": Ref("groups", "members", {"group_id": Col("group_id")}, [])}, id=2)
    w.insert(
        "things",
        {"id": 4, "owner": Ref("groups", "lead", {"group_id": 1}), "group_id": 2},
    )
    w.update("things", {"owner": Ref("groups", "lead", {"group_id": Col("group_id")})}, id=4)
    # Conflicts: replace, add, a constant.
    w.insert("links", {"group_id": 1, "member": A, "weight": 3})
    w.insert(
        "links",
        {"group_id": 1, "member": A, "weight": 4, "left_at": None},
        on_conflict={"weight": ADD_EXCLUDED, "left_at": None},
    )
    w.insert("links", {"group_id": 1, "member": B, "weight": 1})
    w.insert("links", {"group_id": 2, "member": B, "weight": 1})
    w.insert(
        "links",
        {"group_id": 1, "member": B, "weight": 9},
        on_conflict={"weight": EXCLUDED},
    )
    # An insert from the rows of another table (none match for group 3).
    w.insert(
        "links",
        {"group_id": 3, "member": Src("member"), "weight": 7},
        source=("links", {"group_id": 1}),
        on_conflict="nothing",
    )
    w.insert("links", {"group_id": 4, "member": Src("member")}, source=("links", {"group_id": 9}))
    # Conditions: IS NULL, a non-key column (index), ANY(array), a look-up.
    w.update("links", {"left_at": T1}, member=B, left_at=IS_NULL)
    w.update("links", {"left_at": T2}, member=B, left_at=IS_NULL)
    w.update("things", {"done": True}, ids=Contains(A))
    w.update("things", {"n": Inc(10)}, id=Ref("links", "weight", {"group_id": 2, "member": B}))
    # The key and an indexed column change; reads see the new values.
    seen.append(sorted(w.select("things", ("id",), owner=A)))
    w.update("things", {"owner": C}, id=2)
    seen.append(sorted(w.select("things", ("id",), owner=A)))
    seen.append(sorted(w.select("things", ("id",), owner=C)))
    w.update("links", {"member": C}, group_id=3, member=A)
    seen.append(sorted(w.select("links", ("member", "weight"), group_id=3)))
    seen.append(w.update("things", {"n": Inc(1)}, returning="n", owner=B))
    seen.append(w.update("things", {"n": Inc(1)}, returning="n", owner=None))
    seen.append(w.get("things", ("amount", "flags", "tags"), id=1))
    seen.append(w.get("things", ("amount", "ratio"), id=3))
    seen.append(w.get("things", ("amount",), id=99))
    w.delete("links", group_id=3, member=B)
    w.delete("things", id=3)
    seen.append(sorted(w.select("links", ("group_id", "member"))))
    return seen


def indexes(cur: Any, t: Tables) -> str:
    names = [t[table].as_string(cur) for table in Toy.tables]
    cur.execute(
        "SELECT string_agg(pg_get_indexdef(indexrelid), ';' ORDER BY indexrelid::regclass::text)"
        " FROM pg_index WHERE indrelid = ANY(%s::regclass[])",
        (names,),
    )
    return str(cur.fetchone()[0])


@pytest.fixture
def toy(db):
    """Two builds of the toy tables in this session's temporary schema."""
    toy = Toy()
    with db.connection() as conn:
        with conn.transaction(), conn.cursor() as cur:
            for build in (1, 2):
                toy.drop(cur, Tables("pg_temp", build))
                toy.create(cur, Tables("pg_temp", build))
        try:
            yield toy, conn
        finally:
            with conn.transaction(), conn.cursor() as cur:
                for build in (1, 2):
                    toy.drop(cur, Tables("pg_temp", build))


def test_both_executors_leave_the_same_rows_and_answer_the_same_reads(toy):
    projection, conn = toy
    live, rebuilt = Tables("pg_temp", 1), Tables("pg_temp", 2)
    with conn.transaction(), conn.cursor() as cur:
        seen_live = script(SqlWriter(cur, live, projection.specs))
        store = MemoryStore(projection.specs, "pg_temp")
        seen_memory = script(store)
        assert store.write(cur, rebuilt) == store.rows() > 0
        assert seen_memory == seen_live
        assert projection.digest(cur, rebuilt) == projection.digest(cur, live)
        cur.execute(
            sql.SQL("SELECT id, n, maybe, amount::text, tags, done FROM {} ORDER BY id").format(
                rebuilt["things"]
            )
        )
        rows = cur.fetchall()
        # The keys and indexes dropped for the COPY are back, under the same names.
        assert indexes(cur, rebuilt) == indexes(cur, live).replace("_b1", "_b2")
    # A few values spelled out, so that both executors agreeing on a wrong answer would show.
    assert rows[0] == (1, 12, None, "0.3", ["B", "a", "b", "c"], True)
    assert rows[1] == (2, 1, 4, "5.50", [], False)
    assert seen_live[0] == [(1,), (2,)]
    assert seen_live[3] == [(B, 7), (C, 7)]


def test_every_view_table_is_understood():
    """The DDL of every view parses into columns, a primary key and Python defaults (a
    default the in-memory executor cannot read fails here, not in a rebuild)."""
    for projection in PROJECTIONS:
        assert set(projection.specs) == set(projection.tables)
        for name, spec in projection.specs.items():
            assert spec.pk and set(spec.pk) <= set(spec.columns), name
            assert len(spec.defaults) == len(spec.columns)


def test_a_default_it_cannot_read_is_refused():
    with pytest.raises(ValueError, match="column default"):
        TableSpec("t", "id int PRIMARY KEY, at timestamptz DEFAULT now()")
    with pytest.raises(ValueError, match="no primary key"):
        parse_tables({"t": "id int"})


def test_an_insert_of_an_existing_key_fails_in_memory_as_in_sql():
    store = MemoryStore(Toy.specs, "pg_temp")
    store.insert("groups", {"group_id": 1})
    with pytest.raises(ValueError, match="duplicate key"):
        store.insert("groups", {"group_id": 1})


@pytest.mark.parametrize(
    "operation",
    [
        lambda w: w.insert("things", {"id": 9, "maybe": 2**31}),
        lambda w: w.insert(
            "things", {"id": 1, "maybe": -(2**31) - 1}, on_conflict={"maybe": EXCLUDED}
        ),
        lambda w: w.update("things", {"n": 2**40}, id=1),
        lambda w: w.update("things", {"n": Inc(2**31)}, id=1),
        lambda w: w.insert("links", {"group_id": 1, "member": A, "weight": 2**63}),
    ],
)
def test_a_number_an_int_column_cannot_hold_is_refused_in_memory_as_in_sql(toy, operation):
    """The live path's cast refuses it (and isolates the event); the in-memory executor too,
    rather than keep it (psycopg's binary COPY would write its low bytes)."""
    import psycopg

    projection, conn = toy
    with conn.transaction(), conn.cursor() as cur:
        writer = SqlWriter(cur, Tables("pg_temp", 1), projection.specs)
        writer.insert("things", {"id": 1})
        with pytest.raises(psycopg.DataError), conn.transaction():
            operation(writer)
    store = MemoryStore(projection.specs, "pg_temp")
    store.insert("things", {"id": 1})
    with pytest.raises(OutOfRange):
        operation(store)
    assert store.get("things", ("n", "maybe"), id=1) == (0, None)


def _definitions(cur: Any, t: Tables, projection: Any) -> list[str]:
    """Every key (primary or unique) and index of a build's tables, as PostgreSQL prints
    them. NOT NULL stays with the bare table (the embedded server lists it in pg_constraint
    too)."""
    names = [t[table].as_string(cur) for table in projection.tables]
    cur.execute(
        "SELECT conrelid::regclass::text || ' ' || conname || ' ' || pg_get_constraintdef(oid)"
        " FROM pg_constraint WHERE conrelid = ANY(%s::regclass[]) AND contype IN ('p', 'u')"
        " UNION ALL SELECT pg_get_indexdef(indexrelid) FROM pg_index"
        " WHERE indrelid = ANY(%s::regclass[]) ORDER BY 1",
        (names, names),
    )
    return [str(row[0]).replace(f"_b{t.build}", "_bN") for row in cur.fetchall()]


@pytest.mark.parametrize("projection", PROJECTIONS, ids=lambda p: p.name)
def test_a_bare_build_given_its_keys_after_the_copy_has_the_keys_and_indexes_of_a_made_one(
    db, projection
):
    made, bare = Tables("pg_temp", 1), Tables("pg_temp", 2)
    with db.connection() as conn, conn.transaction(), conn.cursor() as cur:
        projection.create(cur, made)
        projection.create(cur, bare, keys=False)
        expected = _definitions(cur, made, projection)
        assert any("PRIMARY KEY" in d for d in expected)
        assert _definitions(cur, bare, projection) == []
        projection.add_keys(cur, bare)
        assert _definitions(cur, bare, projection) == expected
        projection.drop(cur, made)
        projection.drop(cur, bare)


class Arrays(Projection):
    name = "toy_arrays"
    tables: ClassVar[dict[str, str]] = {
        "arrays": "id int PRIMARY KEY, u uuid[], t text[], b bigint[]",
    }
    order: ClassVar[dict[str, str]] = {"arrays": "id"}


ARRAY_ROWS = [
    {"id": 1, "u": [], "t": [], "b": []},
    {"id": 2, "u": [A], "t": ["a"], "b": [0]},
    {"id": 3, "u": [A, None, C], "t": ["é", "", None, 'naïve, "quoted"'], "b": [2**40, -5, None]},
    {"id": 4, "u": None, "t": None, "b": None},
]


def test_arrays_copied_by_a_rebuild_read_back_as_the_live_path_writes_them(db):
    """The rebuild's own binary array packing (uuid[], text[], bigint[]; empty, NULL
    elements, non-ASCII text) against one INSERT per row."""
    projection = Arrays()
    live, rebuilt = Tables("pg_temp", 1), Tables("pg_temp", 2)
    with db.connection() as conn, conn.transaction(), conn.cursor() as cur:
        projection.create(cur, live)
        projection.create(cur, rebuilt, keys=False)
        writer = SqlWriter(cur, live, projection.specs)
        store = MemoryStore(projection.specs, "pg_temp")
        for row in ARRAY_ROWS:
            writer.insert("arrays", row)
            store.insert("arrays", row)
        assert store.write(cur, rebuilt, keyed=False) == len(ARRAY_ROWS)
        read = sql.SQL("SELECT id, u, t, b FROM {} ORDER BY id")
        cur.execute(read.format(rebuilt["arrays"]))
        copied = cur.fetchall()
        cur.execute(read.format(live["arrays"]))
        assert copied == cur.fetchall()
        assert copied == [(r["id"], r["u"], r["t"], r["b"]) for r in ARRAY_ROWS]
        # Compared in SQL too: array equality there checks the bounds, which reads drop.
        cur.execute(
            sql.SQL(
                "SELECT count(*) FROM {} a JOIN {} b USING (id) WHERE a.u IS NOT DISTINCT FROM"
                " b.u AND a.t IS NOT DISTINCT FROM b.t AND a.b IS NOT DISTINCT FROM b.b"
            ).format(rebuilt["arrays"], live["arrays"])
        )
        assert cur.fetchone()[0] == len(ARRAY_ROWS)
        projection.drop(cur, live)
        projection.drop(cur, rebuilt)


def test_an_array_column_given_a_string_is_refused_not_split_into_characters():
    with pytest.raises(TypeError, match="takes a list"):
        _TextArrayDumper(list).dump("abc")
    with pytest.raises(TypeError, match="takes a list"):
        _UuidArrayDumper(list).dump((A, B))
