"""The views' builds in a grantee's schema, made, keyed and dropped by the owner (decision 78).

Every table of a grantee's schema belongs to one role, the owner login (what Citus's
`citus_schema_distribute` checks, docs/operations.md). The service role builds its views at
run time (a new grantee's first builds, blue/green rebuilds), which needs a table's owner; it
does so through three `SECURITY DEFINER` functions owned by the owner:

- `prowd.create_view_build(schema, view, build, keyed)`: the build's tables, with their keys
  and indexes or bare (a rebuild fills them with COPY first), and the service role's row rights
  on them;
- `prowd.key_view_build(schema, view, build)`: the keys and indexes of a bare build;
- `prowd.drop_view_build(schema, view, build)`: its tables, dropped.

Their arguments are names, never SQL: `schema` must be a provisioned grantee's schema (in
`prowd.migrated`), `view` a view whose table definitions were stored at migration
(`prowd.view_tables`, which the service role cannot read or write), `build` a positive
integer; each table is `<schema>.<table>_b<build>`, quoted by `format('%I')`. So the service
role can touch nothing but a view build's tables: not the log, its triggers, another schema.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from psycopg import Cursor, sql
from psycopg.rows import TupleRow

from services.store.schema import PLATFORM_SCHEMA


class ViewTable(NamedTuple):
    """One table of a view, as the build functions make it (`Projection.definitions`)."""

    view: str
    table: str
    columns: str  # the column DDL with keys
    bare: str  # without keys
    keys: list[str]  # `PRIMARY KEY (…)`, `UNIQUE (…)`, as `ALTER TABLE … ADD` takes them
    indexes: list[tuple[str, str]]  # (name suffix, method and columns)


def store_views(cur: Cursor[TupleRow], views: Sequence[ViewTable]) -> None:
    """Store the views' table definitions the build functions read (run at migration)."""
    p = sql.Identifier(PLATFORM_SCHEMA)
    cur.execute(
        sql.SQL(
            "CREATE TABLE IF NOT EXISTS {p}.view_tables (view text NOT NULL, tbl text NOT NULL,"
            " ordinal int NOT NULL, columns text NOT NULL, bare text NOT NULL,"
            " keys text[] NOT NULL, index_suffixes text[] NOT NULL, index_methods text[] NOT NULL,"
            " PRIMARY KEY (view, tbl));"
            " TRUNCATE {p}.view_tables"
        ).format(p=p)
    )
    cur.executemany(
        sql.SQL("INSERT INTO {}.view_tables VALUES (%s, %s, %s, %s, %s, %s, %s, %s)").format(p),
        [
            (
                v.view,
                v.table,
                i,
                v.columns,
                v.bare,
                v.keys,
                [suffix for suffix, _ in v.indexes],
                [method for _, method in v.indexes],
            )
            for i, v in enumerate(views)
        ],
    )


def build_functions(cur: Cursor[TupleRow], role: str) -> None:
    """Create (or replace) the build functions; with `role`, let it execute them."""
    p = sql.Identifier(PLATFORM_SCHEMA)
    grant: sql.Composable = sql.SQL("")
    if role:
        grant = sql.SQL(
            " EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %s TO %I', t, {role});"
        ).format(role=sql.Literal(role))
    head = sql.SQL(
        " RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp"
    )
    cur.execute(
        sql.SQL(
            # The arguments' checks, for the functions below (runs as their owner).
            "CREATE OR REPLACE FUNCTION {p}.check_view_build(s text, v text, build int)"
            " RETURNS void LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$"
            " BEGIN"
            " IF s IS NULL OR s !~ '^g_[a-z][a-z0-9_]{{1,29}}$'"
            "   OR NOT EXISTS (SELECT FROM {p}.migrated m WHERE m.slug = substr(s, 3)) THEN"
            "   RAISE EXCEPTION 'not a grantee schema: %', s USING ERRCODE = 'invalid_schema_name';"
            " END IF;"
            " IF NOT EXISTS (SELECT FROM {p}.view_tables t WHERE t.view = v) THEN"
            "   RAISE EXCEPTION 'not a view: %', v USING ERRCODE = 'invalid_parameter_value';"
            " END IF;"
            " IF build IS NULL OR build < 1 THEN"
            "   RAISE EXCEPTION 'not a build: %', build USING ERRCODE = 'invalid_parameter_value';"
            " END IF;"
            " END $fn$;"
            " REVOKE ALL ON FUNCTION {p}.check_view_build(text, text, int) FROM PUBLIC;"
            # The indexes beyond the keys of a build (runs as the owner, from those below).
            "CREATE OR REPLACE FUNCTION {p}.index_view_build(s text, v text, build int)"
            " RETURNS void LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$"
            " DECLARE r record;"
            " BEGIN"
            " FOR r IN SELECT t.tbl, i.suffix, i.method FROM {p}.view_tables t,"
            "   unnest(t.index_suffixes, t.index_methods) AS i (suffix, method)"
            "   WHERE t.view = v ORDER BY t.ordinal LOOP"
            "   EXECUTE format('CREATE INDEX IF NOT EXISTS %I ON %I.%I %s',"
            "     r.tbl || '_b' || build || '_' || r.suffix, s, r.tbl || '_b' || build, r.method);"
            " END LOOP;"
            " END $fn$;"
            " REVOKE ALL ON FUNCTION {p}.index_view_build(text, text, int) FROM PUBLIC;"
            "CREATE OR REPLACE FUNCTION {p}.create_view_build(s text, v text, build int,"
            " keyed boolean){head} AS $fn$"
            " DECLARE r record; t text;"
            " BEGIN"
            " PERFORM {p}.check_view_build(s, v, build);"
            " FOR r IN SELECT * FROM {p}.view_tables WHERE view = v ORDER BY ordinal LOOP"
            "   t := format('%I.%I', s, r.tbl || '_b' || build);"
            "   EXECUTE format('CREATE TABLE IF NOT EXISTS %s (%s)', t,"
            "     CASE WHEN keyed THEN r.columns ELSE r.bare END);"
            "   {grant}"
            " END LOOP;"
            " IF keyed THEN PERFORM {p}.index_view_build(s, v, build); END IF;"
            " END $fn$;"
            "CREATE OR REPLACE FUNCTION {p}.key_view_build(s text, v text, build int){head} AS $fn$"
            " DECLARE r record; k text;"
            " BEGIN"
            " PERFORM {p}.check_view_build(s, v, build);"
            " FOR r IN SELECT * FROM {p}.view_tables WHERE view = v ORDER BY ordinal LOOP"
            "   FOREACH k IN ARRAY r.keys LOOP"
            "     EXECUTE format('ALTER TABLE %I.%I ADD %s', s, r.tbl || '_b' || build, k);"
            "   END LOOP;"
            " END LOOP;"
            " PERFORM {p}.index_view_build(s, v, build);"
            " END $fn$;"
            "CREATE OR REPLACE FUNCTION {p}.drop_view_build(s text, v text, build int){head} AS $fn$"
            " DECLARE r record;"
            " BEGIN"
            " PERFORM {p}.check_view_build(s, v, build);"
            " FOR r IN SELECT * FROM {p}.view_tables WHERE view = v ORDER BY ordinal LOOP"
            "   EXECUTE format('DROP TABLE IF EXISTS %I.%I', s, r.tbl || '_b' || build);"
            " END LOOP;"
            " END $fn$;"
            " REVOKE ALL ON FUNCTION {p}.create_view_build(text, text, int, boolean) FROM PUBLIC;"
            " REVOKE ALL ON FUNCTION {p}.key_view_build(text, text, int) FROM PUBLIC;"
            " REVOKE ALL ON FUNCTION {p}.drop_view_build(text, text, int) FROM PUBLIC;"
        ).format(p=p, head=head, grant=grant)
    )
    if role:
        cur.execute(
            sql.SQL(
                "GRANT EXECUTE ON FUNCTION {p}.create_view_build(text, text, int, boolean),"
                " {p}.key_view_build(text, text, int), {p}.drop_view_build(text, text, int)"
                " TO {r}"
            ).format(p=p, r=sql.Identifier(role))
        )


def index_builds(cur: Cursor[TupleRow], schema: str) -> None:
    """Give every keyed build already in `schema` the indexes its view declares now (run at
    migration, as the owner): a build made before an index was declared gets it here, since
    only new builds are made from the stored definitions. A bare build (a rebuild's, before
    its COPY) has no index yet and is left alone: its `key_view_build` adds them."""
    p = sql.Identifier(PLATFORM_SCHEMA)
    cur.execute(
        sql.SQL(
            "SELECT {p}.index_view_build(%(s)s, k.view, k.version) FROM {s}.tracking k"
            " WHERE EXISTS (SELECT FROM {p}.view_tables v WHERE v.view = k.view)"
            " AND NOT EXISTS (SELECT FROM {p}.view_tables v WHERE v.view = k.view"
            "   AND to_regclass(format('%%I.%%I', %(s)s, v.tbl || '_b' || k.version)) IS NULL)"
            " AND EXISTS (SELECT FROM {p}.view_tables v JOIN pg_index i"
            "   ON i.indrelid = to_regclass(format('%%I.%%I', %(s)s, v.tbl || '_b' || k.version))"
            "   WHERE v.view = k.view)"
        ).format(p=p, s=sql.Identifier(schema)),
        {"s": schema},
    )
