"""One owner for every table of the platform and grantee schemas (decision 78), on a superuser
set-up (the tests' own; tests/test_managed_postgres.py shows the same with a CREATEROLE owner):
the service role builds its views through the owner's `SECURITY DEFINER` functions, which take
names, never SQL, and refuse anything but a grantee schema's view builds."""

from __future__ import annotations

import psycopg
import pytest

from projections.base import Tables
from projections.registry import PROJECTIONS, by_name
from services.app.tenancy import Tenancy
from services.projector import live as projector
from services.projector.rebuilds import rebuild_views
from tests.conftest import own_database, stack_fixtures
from tests.ownership import BAD_VIEWS, FOREIGN_SCHEMAS, REFUSED, assert_one_owner, refused

# A database of the module's own: the migrations go over every grantee of the database, and the
# suite's holds hundreds of grantees late in a parallel run.
database_url = own_database("prowd_owner")
settings, db, app, client, auth, make_grantee = stack_fixtures("module", "prowd-owner")


@pytest.fixture(scope="module")
def rebuilt(client, auth, db, make_grantee):
    """A grantee with events, its views drained, then every view rebuilt by the service."""
    slug = make_grantee()
    h = auth("coordinator", slug)
    body = {"code": "RRC-2", "name": "RRC Two", "kind": "rrc"}
    r = client.post(f"/v1/grantees/{slug}/facilities", json=body, headers=h)
    assert r.status_code == 201, r.text
    schema = f"g_{slug}"
    projector.drain(db, schema)
    builds = rebuild_views(db, schema)
    assert set(builds) == {p.name for p in PROJECTIONS} and set(builds.values()) == {2}
    return slug, schema


def owner_of(database_url: str) -> str:
    with psycopg.connect(database_url, autocommit=True) as conn:
        row = conn.execute("SELECT session_user").fetchone()
    assert row is not None
    return str(row[0])


def test_one_owner_after_migrate_provisioning_and_a_rebuild(
    database_url, db, rebuilt, client, auth
):
    slug, schema = rebuilt
    assert db.fetchone("SELECT current_user") == ("prowd_service",)
    counts = assert_one_owner(database_url, owner_of(database_url))
    assert counts["relations"] > 100
    # The rebuilt builds have their keys and the extra indexes, named as `create` names them.
    with psycopg.connect(database_url, autocommit=True) as conn:
        indexes = {
            name
            for (name,) in conn.execute(
                "SELECT indexname FROM pg_indexes WHERE schemaname = %s", (schema,)
            ).fetchall()
        }
    assert {"rrc_stays_b2_rrc", "rrc_meetings_b2_participants", "caseload_b2_pkey"} <= indexes
    # And they serve.
    r = client.get(f"/v1/grantees/{slug}/facilities", headers=auth("coordinator", slug))
    assert r.status_code == 200 and len(r.json()["items"]) == 4, r.text


@pytest.mark.parametrize("statement", REFUSED)
def test_the_service_role_cannot_alter_drop_or_update_the_log(db, rebuilt, statement):
    _, schema = rebuilt

    def run(query: str) -> None:
        db.fetchall(query)

    refused(run, statement.format(s=schema, role="prowd_service"))


def test_the_build_functions_refuse_a_foreign_schema_or_an_injected_name(db, rebuilt):
    slug, schema = rebuilt
    calls = [
        ("drop_view_build", (s.format(s=schema, slug=slug), "caseload", 1)) for s in FOREIGN_SCHEMAS
    ] + [
        ("create_view_build", (s.format(s=schema, slug=slug), "caseload", 3, True))
        for s in FOREIGN_SCHEMAS
    ]
    for function, args in calls:
        placeholders = ", ".join(["%s"] * len(args))
        with pytest.raises(psycopg.errors.InvalidSchemaName, match="not a grantee schema"):
            db.fetchall(f"SELECT prowd.{function}({placeholders})", args)
    for view in BAD_VIEWS:
        for query, args in (
            ("SELECT prowd.drop_view_build(%s, %s, 1)", (schema, view.format(s=schema))),
            ("SELECT prowd.key_view_build(%s, %s, 2)", (schema, view.format(s=schema))),
            ("SELECT prowd.create_view_build(%s, %s, 3, true)", (schema, view.format(s=schema))),
        ):
            with pytest.raises(psycopg.errors.InvalidParameterValue, match="not a view"):
                db.fetchall(query, args)
    for build in (0, -1, None):
        with pytest.raises(psycopg.errors.InvalidParameterValue, match="not a build"):
            db.fetchall("SELECT prowd.drop_view_build(%s, 'caseload', %s)", (schema, build))
    # Nothing was touched: the log, its triggers and the live builds stand.
    with db.connection() as conn:
        assert conn.execute(f"SELECT count(*) FROM {schema}.events").fetchone() == (5,)
        assert conn.execute(
            "SELECT count(*) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid"
            " WHERE c.relnamespace = %s::regnamespace AND t.tgenabled = 'O'"
            " AND t.tgname LIKE '%%append_only'",
            (schema,),
        ).fetchone() == (10,)
        assert conn.execute("SELECT to_regclass('prowd.events') IS NOT NULL").fetchone() == (True,)
    assert db.fetchone(f"SELECT count(*) FROM {schema}.facilities_b2") == (4,)


def test_the_build_functions_are_the_service_roles_alone(database_url, rebuilt):
    """A login that is not a member of the service role may not call them (no EXECUTE for
    PUBLIC); the service role may, for a build of its views."""
    _, schema = rebuilt
    with psycopg.connect(database_url, autocommit=True) as admin:
        admin.execute(
            "DO $$ BEGIN CREATE ROLE prowd_test_stranger LOGIN;"
            " EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$"
        )
        admin.execute(f"GRANT USAGE ON SCHEMA prowd, {schema} TO prowd_test_stranger")
    with psycopg.connect(database_url, user="prowd_test_stranger", autocommit=True) as conn:
        for function, args in (
            ("create_view_build", "%s, 'caseload', 5, true"),
            ("key_view_build", "%s, 'caseload', 5"),
            ("drop_view_build", "%s, 'caseload', 2"),
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(f"SELECT prowd.{function}({args})", (schema,))


def test_a_build_made_through_the_functions_is_the_owners_and_the_service_writes_it(
    database_url, db, rebuilt
):
    _, schema = rebuilt
    view = by_name("directory")
    t = Tables(schema, 7)
    with db.transaction() as cur:
        view.create(cur, t, keys=False)
        cur.execute(f"INSERT INTO {schema}.facilities_b7 SELECT * FROM {schema}.facilities_b2")
        view.add_keys(cur, t)
    with psycopg.connect(database_url, autocommit=True) as conn:
        owner = conn.execute(
            "SELECT pg_get_userbyid(relowner) FROM pg_class WHERE oid = %s::regclass",
            (f"{schema}.facilities_b7",),
        ).fetchone()
        assert owner == (owner_of(database_url),)
        keys = conn.execute(
            "SELECT count(*) FROM pg_constraint WHERE conrelid = %s::regclass AND contype = 'p'",
            (f"{schema}.facilities_b7",),
        ).fetchone()
        assert keys == (1,)
    with db.transaction() as cur:
        view.drop(cur, t)
    assert db.fetchone("SELECT to_regclass(%s)", (f"{schema}.facilities_b7",)) == (None,)


def test_a_migration_gives_the_owner_back_what_the_service_role_owned(database_url, db, rebuilt):
    """Before decision 78 the service role owned its views' tables and could create in a
    grantee's schema; the next migration hands those tables to the owner and takes CREATE
    back."""
    _, schema = rebuilt
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(f"GRANT CREATE ON SCHEMA {schema} TO prowd_service")
        for table in ("caseload_b2", "tracking", "webhook_outbox"):
            conn.execute(f"ALTER TABLE {schema}.{table} OWNER TO prowd_service")
    with pytest.raises(AssertionError):
        assert_one_owner(database_url, owner_of(database_url))
    Tenancy(db).migrate(force=True)
    assert_one_owner(database_url, owner_of(database_url))
    assert db.fetchone("SELECT has_schema_privilege(%s, 'CREATE')", (schema,)) == (False,)
    # The service role still writes them.
    with db.transaction() as cur:
        cur.execute(f"UPDATE {schema}.webhook_outbox SET position = position")
        cur.execute(f"DELETE FROM {schema}.caseload_b2 WHERE false")
