"""The schema properties docs/operations.md's Citus plan ("Citus, schema-based sharding") relies
on, checked against the live catalog of a migrated database with a grantee and its views:

- every table of a grantee schema (and everything else of it and of `prowd`) has one owner,
  the owner login (what `citus_schema_distribute` checks; decision 78): in
  tests/test_one_owner.py, and in tests/test_managed_postgres.py, where the owner is no
  superuser;
- no foreign key and no view crosses schemas (a grantee schema moves whole, alone);
- every table of a grantee schema has a primary key (shard moves replicate by it);
- the append-only triggers are on the tables the plan lists (they need
  `citus.enable_unsafe_triggers`);
- the platform tables are keyed by what they are found by (`api_keys` by `key_id` alone, found
  by key id before the grantee is known). They stay local tables of the coordinator under Citus
  (decision 88); these keys are what reference tables would need if that changed.

tests/test_citus_cluster.py checks the same service on a real Citus cluster.
"""

from __future__ import annotations

import psycopg
import pytest

GRANTEE_TRIGGERED = {"events", "chain", "checkpoints", "disclosures", "access_log"}
REFERENCE_KEYS = {
    "grantees": ["slug"],
    "api_keys": ["key_id"],
    "migrated": ["slug"],
    "migration_stamp": ["one"],
    "grantee_ddl": ["ordinal"],
    "service_rights": ["relname"],
    "view_tables": ["view", "tbl"],
}


@pytest.fixture
def catalog(database_url, make_grantee, client, auth):
    slug = make_grantee()
    # A view build made by the service at run time (through the owner's build functions).
    r = client.get(f"/v1/grantees/{slug}/participants", headers=auth("coordinator", slug))
    assert r.status_code == 200, r.text
    with psycopg.connect(database_url, autocommit=True) as conn:
        yield conn, f"g_{slug}"


def rows(conn, query, *params):
    return conn.execute(query, params).fetchall()


def test_no_foreign_key_or_view_crosses_schemas(catalog):
    conn, _ = catalog
    crossing = rows(
        conn,
        "SELECT conname, conrelid::regclass::text, confrelid::regclass::text FROM pg_constraint c"
        " JOIN pg_class a ON a.oid = c.conrelid JOIN pg_class b ON b.oid = c.confrelid"
        " WHERE c.contype = 'f' AND a.relnamespace <> b.relnamespace",
    )
    assert crossing == []
    views = rows(
        conn,
        "SELECT DISTINCT v.oid::regclass::text, t.oid::regclass::text"
        " FROM pg_rewrite r JOIN pg_class v ON v.oid = r.ev_class"
        " JOIN pg_depend d ON d.objid = r.oid AND d.classid = 'pg_rewrite'::regclass"
        " JOIN pg_class t ON t.oid = d.refobjid"
        " JOIN pg_namespace vn ON vn.oid = v.relnamespace"
        " WHERE v.relnamespace <> t.relnamespace"
        " AND vn.nspname NOT IN ('pg_catalog', 'information_schema')",
    )
    assert views == []


def test_every_grantee_table_has_a_primary_key(catalog):
    conn, schema = catalog
    keyless = rows(
        conn,
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = %s AND c.relkind IN ('r', 'p') AND NOT EXISTS ("
        "   SELECT FROM pg_constraint k WHERE k.conrelid = c.oid AND k.contype = 'p')",
        schema,
    )
    assert keyless == []


def test_append_only_triggers_are_where_the_plan_says(catalog):
    conn, schema = catalog
    triggered = rows(
        conn,
        "SELECT DISTINCT c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid"
        " JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = %s AND NOT t.tgisinternal",
        schema,
    )
    assert {name for (name,) in triggered} == GRANTEE_TRIGGERED


def test_platform_tables_are_keyed_as_the_plan_says(catalog):
    conn, _ = catalog
    for table, key in REFERENCE_KEYS.items():
        [(columns,)] = rows(
            conn,
            "SELECT array_agg(a.attname ORDER BY array_position(k.conkey, a.attnum))"
            " FROM pg_constraint k JOIN pg_attribute a"
            "   ON a.attrelid = k.conrelid AND a.attnum = ANY (k.conkey)"
            " WHERE k.conrelid = %s::regclass AND k.contype = 'p'",
            f"prowd.{table}",
        )
        assert columns == key, table
