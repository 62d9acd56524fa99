"""One owner for everything of the platform and grantee schemas (decision 78), and what the
service role may not do to the log: shared by tests/test_one_owner.py (a superuser set-up)
and tests/test_managed_postgres.py (a CREATEROLE owner, no superuser)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg

# What the service role must not do to a grantee's log or to the tables and functions it uses
# (DESIGN D7): each statement is refused by PostgreSQL's privileges ("permission denied",
# "must be owner"), before any trigger.
REFUSED = [
    "UPDATE {s}.events SET topic = topic",
    "DELETE FROM {s}.chain",
    "ALTER TABLE {s}.events ADD COLUMN extra int",
    "ALTER TABLE {s}.events DISABLE TRIGGER events_row_append_only",
    "ALTER TABLE {s}.access_log DISABLE TRIGGER ALL",
    "DROP TRIGGER events_row_append_only ON {s}.events",
    "DROP TABLE {s}.events",
    "ALTER TABLE {s}.chain RENAME TO chain_old",
    "ALTER TABLE {s}.events OWNER TO {role}",
    "DROP FUNCTION {s}.refuse_change() CASCADE",
    "CREATE OR REPLACE FUNCTION {s}.refuse_change() RETURNS trigger LANGUAGE plpgsql"
    " AS $$ BEGIN RETURN NEW; END $$",
    # Its views' tables too are the owner's now: changed only through the build functions.
    "DROP TABLE {s}.caseload_b1",
    "ALTER TABLE {s}.caseload_b1 RENAME TO caseload_b9",
    "TRUNCATE {s}.caseload_b1",
    "CREATE TABLE {s}.mine (x int)",
    # The functions the build functions use inside are not the service role's to call.
    "SELECT prowd.check_view_build('{s}', 'caseload', 1)",
    "SELECT prowd.index_view_build('{s}', 'caseload', 1)",
    "SELECT prowd.grant_service('{s}')",
]

# Calls of the build functions with arguments that are not a grantee schema, a view and a
# build: refused inside the function, before any statement (SQLSTATE class, argument).
FOREIGN_SCHEMAS = [
    "prowd",
    "public",
    "pg_catalog",
    "information_schema",
    "g_nobody_here",  # the pattern of a grantee schema, but no grantee
    'g_x"; DROP TABLE prowd.events; --',
    "G_{slug}",
    "{s}.events",
    "",
]
BAD_VIEWS = ["events", "caseload_b1", "caseload; DROP TABLE {s}.events", "", "CASELOAD"]


def owners(url: str) -> dict[str, Any]:
    """Every object of schema `prowd` and of every `g_*` schema, by kind, with its owner."""
    with psycopg.connect(url, autocommit=True) as conn:
        schemas = conn.execute(
            "SELECT nspname, pg_get_userbyid(nspowner) FROM pg_namespace"
            " WHERE nspname = 'prowd' OR nspname LIKE 'g\\_%'"
        ).fetchall()
        relations = conn.execute(
            "SELECT n.nspname || '.' || c.relname, c.relkind::text, pg_get_userbyid(c.relowner)"
            " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = 'prowd' OR n.nspname LIKE 'g\\_%'"
        ).fetchall()
        functions = conn.execute(
            "SELECT p.oid::regprocedure::text, pg_get_userbyid(p.proowner)"
            " FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace"
            " WHERE n.nspname = 'prowd' OR n.nspname LIKE 'g\\_%'"
        ).fetchall()
        types = conn.execute(
            "SELECT t.oid::regtype::text, pg_get_userbyid(t.typowner)"
            " FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace"
            " WHERE n.nspname = 'prowd' OR n.nspname LIKE 'g\\_%'"
        ).fetchall()
    return {"schemas": schemas, "relations": relations, "functions": functions, "types": types}


def assert_one_owner(url: str, owner: str, grantees: int = 1) -> dict[str, int]:
    """Every schema, relation (table, index, sequence…), function and type of `prowd` and of
    the grantee schemas is owned by `owner`: what `citus_schema_distribute` checks. Returns
    how many of each kind were checked."""
    found = owners(url)
    others = {kind: [row for row in rows if row[-1] != owner] for kind, rows in found.items()}
    assert all(not rows for rows in others.values()), others
    counts = {kind: len(rows) for kind, rows in found.items()}
    kinds = {kind for _, kind, _ in found["relations"]}
    # Tables, indexes and the sequences of identity columns, of the platform and the grantees.
    assert {"r", "i", "S"} <= kinds, kinds
    assert counts["schemas"] >= 1 + grantees, found["schemas"]
    assert counts["relations"] > 100 * grantees, counts
    assert counts["functions"] >= 2 * grantees + 6, found["functions"]
    return counts


def refused(run: Callable[[str], Any], statement: str) -> None:
    """`statement` fails with a privilege error (and changes nothing, its transaction gone)."""
    try:
        run(statement)
    except psycopg.errors.InsufficientPrivilege:
        return
    raise AssertionError(f"the service role could run: {statement}")
