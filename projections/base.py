"""What every read model shares: versioned tables, event routing, digests.

A projection owns a few tables in the grantee's schema. Each build of a projection gets its
own physical tables (`<table>_b<build>`), so a rebuild fills build N+1 beside the live build N
and the switch is one row in `active_views` (DESIGN D3, blue/green). Every handler is a
deterministic function of the event and its position: a rebuild yields the same rows.

Handlers write through a `Writer` (projections/ops/): row operations that the live path runs
as SQL statements and a rebuild runs on in-memory rows, written out once with COPY. So each
view's logic has one definition.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, Generic, TypeVar, overload

from eventsourcing.utils import get_topic
from psycopg import Cursor, sql
from psycopg.rows import TupleRow

from projections.ops import MemoryStore, SqlWriter, TableSpec, Writer, parse_tables

E = TypeVar("E")
E1 = TypeVar("E1")
E2 = TypeVar("E2")
E3 = TypeVar("E3")
E4 = TypeVar("E4")
P = TypeVar("P", bound="Projection")

# A handler: a method of its projection taking the writer, the event and its log position.
# Typed by its event class (`Handler[Caseload, Participant.Enrolled]`); the dispatch table,
# which holds every event class, erases both (`Handler[Any, Any]`).
Handler = Callable[[P, Writer, E, int], None]


# The session's temporary schema: builds there (replays, reports) are made directly.
TEMPORARY = "pg_temp"
# Where the functions that make, key and drop the builds in a grantee's schema live: the
# platform schema (services/store/schema.py `PLATFORM_SCHEMA`, services/store/builds.py).
BUILD_FUNCTIONS = "prowd"


class Tables:
    """Physical names of one build of a projection's tables in one schema."""

    def __init__(self, schema: str, build: int) -> None:
        self.schema = schema
        self.build = build

    def __getitem__(self, table: str) -> sql.Composed:
        return sql.SQL("{}.{}").format(
            sql.Identifier(self.schema), sql.Identifier(self.name(table))
        )

    def name(self, table: str) -> str:
        """The build's table's own name (unquoted, without the schema)."""
        return f"{table}_b{self.build}"


def _call(cur: Cursor[TupleRow], function: str, t: Tables, view: str, *args: object) -> None:
    cur.execute(
        sql.SQL("SELECT {}.{}(%s, %s, %s{})").format(
            sql.Identifier(BUILD_FUNCTIONS),
            sql.Identifier(function),
            sql.SQL("".join(", %s" for _ in args)),
        ),
        (t.schema, view, t.build, *args),
    )


class Projection:
    """Subclasses set `name`, `tables` (name -> column DDL), `order` and register handlers."""

    name: ClassVar[str]
    tables: ClassVar[dict[str, str]]
    # The ORDER BY of each table, for digests: rows compare in a stable order.
    order: ClassVar[dict[str, str]]
    handlers: ClassVar[dict[str, Handler[Any, Any]]]
    # Each table's columns, types, defaults and key, parsed once from `tables`.
    specs: ClassVar[dict[str, TableSpec]]
    # Indexes beyond the keys: (table, name suffix, method and columns), each named
    # `<table>_b<build>_<suffix>`.
    extra_indexes: ClassVar[tuple[tuple[str, str, str], ...]] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.handlers = {}
        for attr in vars(cls).values():
            for event_class in getattr(attr, "_handles", ()):
                cls.handlers[get_topic(event_class)] = attr
        if "tables" in vars(cls):
            cls.specs = parse_tables(cls.tables)

    @property
    def topics(self) -> frozenset[str]:
        return frozenset(self.handlers)

    def create(self, cur: Cursor[TupleRow], t: Tables, *, keys: bool = True) -> None:
        """Make the build's tables; without `keys`, bare (no primary key, unique constraint
        or index: a rebuild fills them with COPY, then calls `add_keys`).

        In a grantee's schema through `prowd.create_view_build` (decision 78): the tables are
        the schema owner's, made from the definitions stored at migration; in this session's
        temporary schema (replays, reports) directly."""
        if t.schema != TEMPORARY:
            _call(cur, "create_view_build", t, self.name, keys)
            return
        for table, columns in self.tables.items():
            ddl = columns if keys else self.specs[table].bare
            cur.execute(
                sql.SQL("CREATE TABLE IF NOT EXISTS {} ({})").format(t[table], sql.SQL(ddl))
            )
        if keys:
            for statement in self.indexes(t):
                cur.execute(statement)

    def add_keys(self, cur: Cursor[TupleRow], t: Tables) -> None:
        """The keys and indexes of tables made bare, once filled: the same definitions and
        names as `create` gives them."""
        if t.schema != TEMPORARY:
            _call(cur, "key_view_build", t, self.name)
            return
        for table, spec in self.specs.items():
            for key in spec.keys:
                cur.execute(sql.SQL("ALTER TABLE {} ADD {}").format(t[table], sql.SQL(key)))
        for statement in self.indexes(t):
            cur.execute(statement)

    def indexes(self, t: Tables) -> list[sql.Composed]:
        """CREATE INDEX statements beyond the keys (`extra_indexes`)."""
        return [
            sql.SQL("CREATE INDEX IF NOT EXISTS {} ON {} {}").format(
                sql.Identifier(f"{table}_b{t.build}_{suffix}"), t[table], sql.SQL(method)
            )
            for table, suffix, method in self.extra_indexes
        ]

    def drop(self, cur: Cursor[TupleRow], t: Tables) -> None:
        if t.schema != TEMPORARY:
            _call(cur, "drop_view_build", t, self.name)
            return
        for table in self.tables:
            cur.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(t[table]))

    def definitions(self) -> list[tuple[str, str, str, list[str], list[tuple[str, str]]]]:
        """What `prowd.create_view_build` and `key_view_build` make of each table, stored at
        migration: (table, column DDL, bare column DDL, keys, indexes as (suffix, method))."""
        return [
            (
                table,
                columns,
                self.specs[table].bare,
                list(self.specs[table].keys),
                [(suffix, method) for name, suffix, method in self.extra_indexes if name == table],
            )
            for table, columns in self.tables.items()
        ]

    def apply(
        self, cur: Cursor[TupleRow], t: Tables, topic: str, event: Any, position: int
    ) -> None:
        """Apply one event to a build in the database, one SQL statement per row operation
        (the live projector's fallback and reference, decision 90)."""
        handler = self.handlers.get(topic)
        if handler is not None:
            handler(self, SqlWriter(cur, t, self.specs), event, position)

    def store(self, schema: str) -> MemoryStore:
        """An empty in-memory build for rebuilds and replays (`MemoryStore.write` COPYs it)."""
        return MemoryStore(self.specs, schema)

    def digest(self, cur: Cursor[TupleRow], t: Tables) -> str:
        """SHA-256 over every row of every table, in a stable order."""
        parts = []
        for table in sorted(self.tables):
            cur.execute(
                sql.SQL(
                    "SELECT encode(sha256(convert_to(coalesce(string_agg(row_to_json(r)::text,"
                    " E'\\n' ORDER BY {order}), ''), 'UTF8')), 'hex') FROM {table} r"
                ).format(order=sql.SQL(self.order[table]), table=t[table])
            )
            row = cur.fetchone()
            parts.append(f"{table}:{row[0] if row else ''}")
        return ";".join(parts)


class _Handles(Generic[E]):
    """`@handles(...)`: registers the decorated handler for its event classes; checks, under
    mypy, that the handler's event parameter accepts every one of them."""

    def __init__(self, event_classes: tuple[type[Any], ...]) -> None:
        self.event_classes = event_classes

    def __call__(self, handler: Handler[P, E]) -> Handler[P, E]:
        handler._handles = self.event_classes  # type: ignore[attr-defined]
        return handler


# One overload per number of event classes, so that the event type is their union (mypy
# would infer their nearest common base from a single `*event_classes: type[E]`, and a handler
# typed `e: A | B` would not accept it). Beyond four, the event type is not checked.
@overload
def handles(e1: type[E1], /) -> _Handles[E1]: ...
@overload
def handles(e1: type[E1], e2: type[E2], /) -> _Handles[E1 | E2]: ...
@overload
def handles(e1: type[E1], e2: type[E2], e3: type[E3], /) -> _Handles[E1 | E2 | E3]: ...
@overload
def handles(
    e1: type[E1], e2: type[E2], e3: type[E3], e4: type[E4], /
) -> _Handles[E1 | E2 | E3 | E4]: ...
@overload
def handles(*event_classes: type[Any]) -> _Handles[Any]: ...
def handles(*event_classes: type[Any]) -> _Handles[Any]:
    """Register the decorated method as the projection's handler of `event_classes`."""
    return _Handles(event_classes)
