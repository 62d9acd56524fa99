"""Citus schema-based sharding, when the database has it (issue 25, docs/operations.md
"Citus, schema-based sharding"); on plain PostgreSQL everything here does nothing.

`prowd.distribute_tables(s)` is the owner's function that places one grantee schema `g_<slug>`:
it becomes a distributed schema (`citus_schema_distribute`: its tables are single-shard
tables of one colocation group, on one worker node). The platform schema `prowd` stays local
tables of the coordinator (docs/decisions.md, decision 88: no query joins them with a
grantee's tables, and as reference tables the owner's and the service role's writes in one
registration collided). Tables created later in a
distributed schema (the views' builds, made by the owner's build functions on the
coordinator) become tables of that schema by themselves. A registration distributes the new
schema at the end of its transaction (`distribute_grantee`), a migration every grantee schema
not yet distributed (a database that was plain PostgreSQL before).

The append-only triggers are allowed on distributed tables with `citus.enable_unsafe_triggers`,
set for the transaction by the functions that create or distribute them (they only raise, so
running them on the worker, where the rows are, is safe).
"""

from __future__ import annotations

from psycopg import Cursor, sql
from psycopg.rows import TupleRow

from services.store.schema import PLATFORM_SCHEMA

# PL/pgSQL statements that allow the append-only triggers on distributed tables for the rest
# of the transaction, when Citus is there (a no-op on plain PostgreSQL).
UNSAFE_TRIGGERS = (
    " IF EXISTS (SELECT FROM pg_catalog.pg_extension WHERE extname = 'citus') THEN"
    "   PERFORM set_config('citus.enable_unsafe_triggers', 'on', true);"
    " END IF;"
)


# Under Citus, a grantee's commands append as the service role itself: `append_events` runs
# with its caller's rights, and the service role may INSERT into `events` and `chain` (and
# UPDATE `events`, which `LOCK TABLE … IN EXCLUSIVE MODE` requires; the append-only trigger
# refuses every UPDATE, DELETE and TRUNCATE whoever asks). Citus refuses, in one transaction,
# a query on a distributed schema's tables by one user after another user wrote to them (it
# opens one connection to the worker per user), and a command both appends (as the owner,
# through the SECURITY DEFINER function) and writes its access log and idempotency record (as
# the service role). Decision 88.
_INVOKER = (
    "   EXECUTE format('ALTER FUNCTION %I.append_events(uuid[], bigint[], text[], bytea[])"
    " SECURITY INVOKER', s);"
    "   EXECUTE format('ALTER FUNCTION %I.append_checked(uuid[], bigint[], text[], bytea[],"
    " uuid[], bigint[]) SECURITY INVOKER', s);"
    "   EXECUTE format('GRANT INSERT, UPDATE ON %I.events TO %I', s, {role});"
    "   EXECUTE format('GRANT INSERT ON %I.chain TO %I', s, {role});"
)


def has_citus(cur: Cursor[TupleRow]) -> bool:
    """Whether the database has the Citus extension."""
    cur.execute("SELECT EXISTS (SELECT FROM pg_extension WHERE extname = 'citus')")
    row = cur.fetchone()
    return bool(row and row[0])


def distribute_function(cur: Cursor[TupleRow], role: str) -> None:
    """Create `prowd.distribute_tables(s)`, run with the owner's rights (it owns every table,
    which `citus_schema_distribute` checks) and callable by the
    service role `role`, which registers grantees."""
    p = sql.Identifier(PLATFORM_SCHEMA)
    cur.execute(
        sql.SQL(
            "CREATE OR REPLACE FUNCTION {p}.distribute_tables(s text) RETURNS void"
            " LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$"
            " BEGIN"
            " IF NOT EXISTS (SELECT FROM pg_extension WHERE extname = 'citus') THEN RETURN; END IF;"
            " PERFORM set_config('citus.enable_unsafe_triggers', 'on', true);"
            " IF s ~ '^g_[a-z][a-z0-9_]{{1,29}}$' THEN"
            "   IF NOT EXISTS (SELECT FROM pg_dist_schema WHERE schemaid = s::regnamespace) THEN"
            "     PERFORM citus_schema_distribute(s::regnamespace);"
            "   END IF;"
            "{invoker}"
            " ELSE"
            "   RAISE EXCEPTION 'not a schema to distribute: %', s"
            "     USING ERRCODE = 'invalid_parameter_value';"
            " END IF;"
            " END $fn$;"
            " REVOKE ALL ON FUNCTION {p}.distribute_tables(text) FROM PUBLIC;"
        ).format(
            p=p, invoker=sql.SQL(_INVOKER).format(role=sql.Literal(role)) if role else sql.SQL("")
        )
    )
    if role:
        cur.execute(
            sql.SQL("GRANT EXECUTE ON FUNCTION {}.distribute_tables(text) TO {}").format(
                p, sql.Identifier(role)
            )
        )


def distribute_grantee(cur: Cursor[TupleRow], slug: str) -> None:
    """Make grantee `slug`'s schema a distributed schema (nothing without Citus, or when it
    is one already). Call it last in the transaction that creates the schema: Citus refuses a
    query on a placement another user (the owner, through its SECURITY DEFINER functions)
    modified earlier in the same transaction, and the service role reads the new schema's
    tables while it creates the grantee's views; before this call they are local tables."""
    cur.execute(
        sql.SQL("SELECT {}.distribute_tables(%s)").format(sql.Identifier(PLATFORM_SCHEMA)),
        (f"g_{slug}",),
    )


def service_login(cur: Cursor[TupleRow], role: str) -> None:
    """Under Citus, give the service role `role` LOGIN (nothing without Citus): the coordinator connects to the
    worker nodes as the current user, `SET ROLE` included, and a NOLOGIN role is refused
    there ("role … is not permitted to log in"). It has no password: only the nodes'
    own authentication between them (trust on 127.0.0.1 in the local cluster, the provider's
    on a managed one) lets it in."""
    if role and has_citus(cur):
        cur.execute(sql.SQL("ALTER ROLE {} LOGIN").format(sql.Identifier(role)))
