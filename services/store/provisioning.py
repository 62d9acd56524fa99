"""Roles, grants and migrations: the owner makes the schemas, the service role uses them
(DESIGN D7, decisions 17 and 29).

The grantee DDL is stored in the platform schema, so that the service role, which may not
create schemas itself, provisions a new grantee through a SECURITY DEFINER function.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from psycopg import Cursor, sql
from psycopg.rows import TupleRow

from services.store import citus
from services.store.builds import ViewTable, build_functions, store_views
from services.store.grantee_ddl import TableDDL, grantee_ddl
from services.store.schema import PLATFORM_SCHEMA, platform_ddl


def run(cur: Cursor[TupleRow], statements: list[sql.Composed]) -> None:
    """Execute `statements` in order."""
    for statement in statements:
        cur.execute(statement)


def migrate_platform(
    cur: Cursor[TupleRow],
    role: str,
    migration: str,
    tables: Sequence[TableDDL],
    views: Sequence[ViewTable],
) -> None:
    """Create or upgrade the platform schema, run as the login user that owns the logs.

    With `role`, also create that role and the provisioning function through which the
    service (acting as `role`) creates grantee schemas it does not own (DESIGN D7).
    `migration` is this code's `stamp()`, recorded for every grantee provisioned from now;
    `tables`, other packages' tables in each grantee's schema (`grantee_ddl`); `views`, the
    views' tables, which the service builds through the owner's functions (decision 78)."""
    # Serialise concurrent starts (several API processes) so CREATE ... IF NOT EXISTS
    # statements never race on the catalog.
    cur.execute("SELECT pg_advisory_xact_lock(7426001)")
    run(cur, platform_ddl())
    cur.execute(
        sql.SQL(
            "INSERT INTO {}.migration_stamp (stamp) VALUES (%s)"
            " ON CONFLICT (one) DO UPDATE SET stamp = EXCLUDED.stamp"
        ).format(sql.Identifier(PLATFORM_SCHEMA)),
        (migration,),
    )
    _provisioning(cur, role, tables)
    citus.distribute_function(cur, role)
    store_views(cur, views)
    build_functions(cur, role)
    # Under Citus, the service role connects to the workers (nothing otherwise).
    citus.service_login(cur, role)


# Placeholder slug in the grantee DDL stored for `provision_grantee`.
_SLUG = "__slug__"

# Tables the service role may only read (and, where listed, append to); on every other table of
# a platform or grantee schema it has row rights (SELECT, INSERT, UPDATE, DELETE), never
# ownership: every table is the owner's (decision 78). The event log and its chain grow only
# through `append_events`, which runs as the owner.
SERVICE_RIGHTS: dict[str, str] = {
    "events": "SELECT",
    "chain": "SELECT",
    "checkpoints": "SELECT, INSERT",
    "audit_keys": "SELECT, INSERT",
    "access_log": "SELECT, INSERT",
    "disclosures": "SELECT, INSERT",
    # The provisioning function's own statements: no access at all.
    "grantee_ddl": "",
    "service_rights": "",
    "view_tables": "",
    "migration_stamp": "SELECT",
    "migrated": "SELECT",
}


def _provisioning(cur: Cursor[TupleRow], role: str, tables: Sequence[TableDDL]) -> None:
    p = sql.Identifier(PLATFORM_SCHEMA)
    if role:
        ensure_role(cur, role)
    cur.execute(
        sql.SQL(
            "CREATE TABLE IF NOT EXISTS {p}.grantee_ddl (ordinal int PRIMARY KEY, statement text NOT NULL);"
            " CREATE TABLE IF NOT EXISTS {p}.service_rights (relname text PRIMARY KEY, rights text NOT NULL);"
            " TRUNCATE {p}.grantee_ddl, {p}.service_rights"
        ).format(p=p)
    )
    cur.executemany(
        sql.SQL("INSERT INTO {}.grantee_ddl VALUES (%s, %s)").format(p),
        [(i, stmt.as_string(cur)) for i, stmt in enumerate(grantee_ddl(_SLUG, tables))],
    )
    cur.executemany(
        sql.SQL("INSERT INTO {}.service_rights VALUES (%s, %s)").format(p),
        list(SERVICE_RIGHTS.items()),
    )
    grants: sql.Composable = sql.SQL("")
    if role:
        grants = sql.SQL(
            # Usage only: the service role creates nothing in a schema, so every table in it
            # is the owner's (decision 78; CREATE was granted on grantee schemas before).
            " EXECUTE format('GRANT USAGE ON SCHEMA %I TO %I', s, {role});"
            " EXECUTE format('REVOKE CREATE ON SCHEMA %I FROM %I', s, {role});"
            " FOR t IN SELECT c.oid, c.relname, pg_get_userbyid(c.relowner) AS owner FROM pg_class c"
            "   JOIN pg_namespace n ON n.oid = c.relnamespace"
            "   WHERE n.nspname = s AND c.relkind IN ('r', 'p') LOOP"
            # Tables the service role owned before decision 78 (views, tracking, outbox…) go
            # back to the owner, which is a member of the service role, so may take them.
            "   IF t.owner <> current_user THEN"
            "     EXECUTE format('ALTER TABLE %I.%I OWNER TO %I', s, t.relname, current_user);"
            "   END IF;"
            "   SELECT r.rights INTO rights FROM {p}.service_rights r WHERE r.relname = t.relname;"
            "   IF FOUND THEN"
            "     EXECUTE format('REVOKE ALL ON %I.%I FROM %I', s, t.relname, {role});"
            "     IF rights <> '' THEN"
            "       EXECUTE format('GRANT ' || rights || ' ON %I.%I TO %I', s, t.relname, {role});"
            "     END IF;"
            "   ELSIF NOT (has_table_privilege({role}, t.oid, 'SELECT')"
            "     AND has_table_privilege({role}, t.oid, 'INSERT')"
            "     AND has_table_privilege({role}, t.oid, 'UPDATE')"
            "     AND has_table_privilege({role}, t.oid, 'DELETE')) THEN"
            "     EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %I.%I TO %I',"
            "       s, t.relname, {role});"
            "   END IF;"
            " END LOOP;"
            " IF s = {platform} THEN"
            "   EXECUTE format('GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA %I TO %I', s, {role});"
            " END IF;"
        ).format(p=p, role=sql.Literal(role), platform=sql.Literal(PLATFORM_SCHEMA))
    cur.execute(
        sql.SQL(
            # Grants the service role its rights on one schema's tables.
            "CREATE OR REPLACE FUNCTION {p}.grant_service(s text) RETURNS void LANGUAGE plpgsql"
            " SET search_path = pg_catalog, pg_temp AS $fn$"
            " DECLARE t record; rights text;"
            " BEGIN {grants} END $fn$;"
            " REVOKE ALL ON FUNCTION {p}.grant_service(text) FROM PUBLIC;"
            # Creates (or upgrades) one grantee's schema from the stored DDL, as the owner.
            "CREATE OR REPLACE FUNCTION {p}.provision_grantee(slug text) RETURNS void"
            " LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$"
            " DECLARE stmt text;"
            " BEGIN"
            " IF slug !~ '^[a-z][a-z0-9_]{{1,29}}$' THEN"
            "   RAISE EXCEPTION 'invalid grantee slug %', slug USING ERRCODE = 'invalid_parameter_value';"
            " END IF;"
            "{unsafe_triggers}"
            " FOR stmt IN SELECT statement FROM {p}.grantee_ddl ORDER BY ordinal LOOP"
            "   EXECUTE replace(stmt, {placeholder}, slug);"
            " END LOOP;"
            " PERFORM {p}.grant_service('g_' || slug);"
            " INSERT INTO {p}.migrated (slug, stamp)"
            "   SELECT provision_grantee.slug, m.stamp FROM {p}.migration_stamp m"
            "   ON CONFLICT ON CONSTRAINT migrated_pkey DO UPDATE SET stamp = EXCLUDED.stamp;"
            " END $fn$;"
            " REVOKE ALL ON FUNCTION {p}.provision_grantee(text) FROM PUBLIC;"
        ).format(
            p=p,
            grants=grants,
            placeholder=sql.Literal(_SLUG),
            unsafe_triggers=sql.SQL(citus.UNSAFE_TRIGGERS),
        )
    )
    if role:
        cur.execute(
            sql.SQL("GRANT EXECUTE ON FUNCTION {p}.provision_grantee(text) TO {r}").format(
                p=p, r=sql.Identifier(role)
            )
        )
        cur.execute(sql.SQL("SELECT {}.grant_service(%s)").format(p), (PLATFORM_SCHEMA,))


def ensure_role(cur: Cursor[TupleRow], role: str) -> None:
    """Create the service role unless it exists, and let the login user act as it.

    PostgreSQL 16+ makes a CREATEROLE creator a member WITH ADMIN but neither INHERIT nor
    SET (createrole_self_grant is empty by default), so MEMBER is not enough: USAGE (inherited
    rights) is what the owner needs, and a grant of its own gives it SET too."""
    # Roles are cluster-wide: another database on the server may have created it already.
    cur.execute(
        sql.SQL(
            "DO $$ BEGIN"
            " IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = {name}) THEN"
            "   CREATE ROLE {r} NOLOGIN;"
            " END IF;"
            " IF NOT pg_has_role(current_user, {name}, 'USAGE') THEN"
            "   EXECUTE format('GRANT %I TO %I', {name}, current_user);"
            " END IF;"
            " EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$"
        ).format(r=sql.Identifier(role), name=sql.Literal(role))
    )


def provision_grantee(cur: Cursor[TupleRow], slug: str) -> None:
    """Create or upgrade a grantee's schema (callable by the service role)."""
    cur.execute(
        sql.SQL("SELECT {}.provision_grantee(%s)").format(sql.Identifier(PLATFORM_SCHEMA)), (slug,)
    )


def stamp(cur: Cursor[TupleRow], role: str, views: list[str], tables: Sequence[TableDDL]) -> str:
    """A digest of everything `Tenancy.migrate` makes: the platform DDL, a grantee's DDL, the
    service role and the views' table definitions. Equal stamps: nothing to migrate."""
    text = "\n".join(
        [
            *(q.as_string(cur) for q in platform_ddl()),
            *(q.as_string(cur) for q in grantee_ddl(_SLUG, tables)),
            role,
            *views,
        ]
    )
    return hashlib.sha256(text.encode()).hexdigest()
