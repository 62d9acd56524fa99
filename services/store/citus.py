"""Citus schema-based sharding, when the database has it (issue 25, docs/operations.md
"Citus, schema-based sharding"); on plain PostgreSQL everything here does nothing.

`prowd.distribute_tables(s)` is the owner's function that places one schema: each grantee
schema `g_<slug>` becomes a distributed schema (`citus_schema_distribute`: its tables are
single-shard tables of one colocation group, on one worker node), and of the platform schema
`prowd` the tables the plan lists become reference tables (a copy on every node) while the
platform log and the rest stay local tables of the coordinator. `provision_grantee` calls it
for each grantee it creates or upgrades, the migration for `prowd`. Tables created later in a
distributed schema (the views' builds, made by the owner's build functions on the
coordinator) become tables of that schema by themselves.

The append-only triggers are allowed on distributed tables with `citus.enable_unsafe_triggers`,
set for the transaction by the functions that create or distribute them (they only raise, so
running them on the worker, where the rows are, is safe).
"""

from __future__ import annotations

from psycopg import Cursor, sql
from psycopg.rows import TupleRow

from services.store.schema import PLATFORM_SCHEMA

# Platform tables every node may join with a grantee's tables (docs/operations.md, point 4).
REFERENCE_TABLES = (
    "grantees",
    "api_keys",
    "migrated",
    "migration_stamp",
    "grantee_ddl",
    "service_rights",
    "view_tables",
)

# PL/pgSQL statements that allow the append-only triggers on distributed tables for the rest
# of the transaction, when Citus is there (a no-op on plain PostgreSQL).
UNSAFE_TRIGGERS = (
    " IF EXISTS (SELECT FROM pg_catalog.pg_extension WHERE extname = 'citus') THEN"
    "   PERFORM set_config('citus.enable_unsafe_triggers', 'on', true);"
    " END IF;"
)


def has_citus(cur: Cursor[TupleRow]) -> bool:
    """Whether the database has the Citus extension."""
    cur.execute("SELECT EXISTS (SELECT FROM pg_extension WHERE extname = 'citus')")
    row = cur.fetchone()
    return bool(row and row[0])


def distribute_function(cur: Cursor[TupleRow]) -> None:
    """Create `prowd.distribute_tables(s)` (owner only: not granted to the service role)."""
    p = sql.Identifier(PLATFORM_SCHEMA)
    cur.execute(
        sql.SQL(
            "CREATE OR REPLACE FUNCTION {p}.distribute_tables(s text) RETURNS void"
            " LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$"
            " DECLARE t text;"
            " BEGIN"
            " IF NOT EXISTS (SELECT FROM pg_extension WHERE extname = 'citus') THEN RETURN; END IF;"
            " PERFORM set_config('citus.enable_unsafe_triggers', 'on', true);"
            " IF s = {platform} THEN"
            "   FOREACH t IN ARRAY {reference} LOOP"
            "     IF NOT EXISTS (SELECT FROM pg_dist_partition"
            "       WHERE logicalrelid = format('%I.%I', s, t)::regclass) THEN"
            "       PERFORM create_reference_table(format('%I.%I', s, t)::regclass);"
            "     END IF;"
            "   END LOOP;"
            " ELSIF s ~ '^g_[a-z][a-z0-9_]{{1,29}}$' THEN"
            "   IF NOT EXISTS (SELECT FROM citus_schemas WHERE schema_name = s::regnamespace) THEN"
            "     PERFORM citus_schema_distribute(s::regnamespace);"
            "   END IF;"
            " ELSE"
            "   RAISE EXCEPTION 'not a schema to distribute: %', s"
            "     USING ERRCODE = 'invalid_parameter_value';"
            " END IF;"
            " END $fn$;"
            " REVOKE ALL ON FUNCTION {p}.distribute_tables(text) FROM PUBLIC;"
        ).format(
            p=p,
            platform=sql.Literal(PLATFORM_SCHEMA),
            reference=sql.Literal(list(REFERENCE_TABLES)),
        )
    )


def distribute_platform(cur: Cursor[TupleRow]) -> None:
    """Make the platform's reference tables reference tables (nothing without Citus)."""
    cur.execute(
        sql.SQL("SELECT {}.distribute_tables(%s)").format(sql.Identifier(PLATFORM_SCHEMA)),
        (PLATFORM_SCHEMA,),
    )
