"""`prowd migrate` on a managed PostgreSQL (RDS, Cloud SQL, Azure): the owner login is no
superuser, only CREATEROLE and the database's owner; the services log in as a plain member of
the service role (docs/operations.md, "Database roles").

The test's superuser connection only does what a provider's console does once: make the owner
login and its database. Everything after runs as the owner or the plain login, and both are
checked to be no superuser. The service role is unique to the run (roles are cluster-wide).
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import secrets
from collections.abc import Iterator

import psycopg
import pytest
from litestar.testing import TestClient
from psycopg import sql
from psycopg.conninfo import make_conninfo

from services.api.app import create_app
from services.cli.records import cmd_migrate
from services.projector import live as projector
from services.projector.rebuilds import rebuild_views
from services.store.database import Database
from tests.conftest import unique_slug
from tests.ownership import REFUSED, assert_one_owner, refused


@dataclasses.dataclass
class Managed:
    owner_url: str
    service_url: str
    role: str
    owner: str
    login: str


@pytest.fixture(scope="module")
def managed(server_url: str) -> Iterator[Managed]:
    tag = secrets.token_hex(4)
    name, owner, login, role = (
        f"prowd_managed_{tag}",
        f"prowd_mo_{tag}",
        f"prowd_ml_{tag}",
        f"prowd_ms_{tag}",
    )
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(
            sql.SQL("CREATE ROLE {} LOGIN CREATEROLE NOSUPERUSER NOCREATEDB").format(
                sql.Identifier(owner)
            )
        )
        admin.execute(
            sql.SQL("CREATE DATABASE {} OWNER {}").format(
                sql.Identifier(name), sql.Identifier(owner)
            )
        )
    owner_url = make_conninfo(server_url, dbname=name, user=owner)
    try:
        yield Managed(
            owner_url, make_conninfo(server_url, dbname=name, user=login), role, owner, login
        )
    finally:
        with psycopg.connect(server_url, autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
            for r in (login, role, owner):
                admin.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(r)))


def superuser(url: str) -> bool:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute("SELECT rolsuper FROM pg_roles WHERE rolname = session_user").fetchone()
    return bool(row and row[0])


def test_migrate_as_a_managed_owner_then_serve_as_a_plain_member(managed, settings, auth):
    assert not superuser(managed.owner_url)
    own = dataclasses.replace(settings, database_url=managed.owner_url, db_role=managed.role)
    out = io.StringIO()
    assert cmd_migrate(argparse.Namespace(), own, out) == 0, out.getvalue()
    # Twice: an upgrade of an existing database by the same owner.
    assert cmd_migrate(argparse.Namespace(), own, out) == 0

    # The owner (CREATEROLE) makes the services' login, a plain member of the service role.
    with psycopg.connect(managed.owner_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("CREATE ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE IN ROLE {}").format(
                sql.Identifier(managed.login), sql.Identifier(managed.role)
            )
        )
    assert not superuser(managed.service_url)
    service = dataclasses.replace(
        settings, database_url=managed.service_url, db_role=managed.role, migrate_on_start=False
    )
    db = Database(managed.service_url, service, name="prowd-managed").open()
    try:
        assert db.fetchone("SELECT session_user, current_user") == (managed.login, managed.role)
        with TestClient(create_app(service, db)) as client:
            slug = unique_slug("managed")
            r = client.post(
                "/v1/grantees",
                json={"slug": slug, "name": "Managed", "grant_number": "FS-0019-26"},
                headers=auth("platform_admin"),
            )
            assert r.status_code == 201, r.text
            h = auth("coordinator", slug)
            body = {"code": "RRC-1", "name": "RRC One", "kind": "rrc"}
            r = client.post(f"/v1/grantees/{slug}/facilities", json=body, headers=h)
            assert r.status_code == 201, r.text
            assert projector.drain(db, f"g_{slug}") > 0
            r = client.get(f"/v1/grantees/{slug}/facilities", headers=h)
            assert r.status_code == 200 and len(r.json()["items"]) == 1, r.text
        # The service rebuilds every view (blue/green), through the owner's functions.
        assert set(rebuild_views(db, f"g_{slug}").values()) == {2}
        # One owner, the owner login, for everything of the platform and grantee schemas.
        assert_one_owner(managed.owner_url, managed.owner)
        # The log's guards hold for the plain login acting as the service role.
        for statement in REFUSED:
            refused(db.fetchall, statement.format(s=f"g_{slug}", role=managed.role))
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            db.fetchall("UPDATE prowd.events SET topic = topic")
        for foreign in ("prowd", "public", f'g_{slug}"; DROP TABLE prowd.events; --'):
            with pytest.raises(psycopg.errors.InvalidSchemaName):
                db.fetchall("SELECT prowd.drop_view_build(%s, 'caseload', 1)", (foreign,))
    finally:
        db.close()

    # A database migrated before decision 78: the service role owned its views' tables and
    # could create in a grantee's schema. As the owner (no superuser), put that back.
    with psycopg.connect(managed.owner_url, autocommit=True) as conn:
        slug_schema = sql.Identifier(f"g_{slug}")
        role = sql.Identifier(managed.role)
        conn.execute(sql.SQL("GRANT CREATE ON SCHEMA {} TO {}").format(slug_schema, role))
        for table in ("caseload_b2", "tracking", "idempotency"):
            conn.execute(
                sql.SQL("ALTER TABLE {}.{} OWNER TO {}").format(
                    slug_schema, sql.Identifier(table), role
                )
            )
    with pytest.raises(AssertionError):
        assert_one_owner(managed.owner_url, managed.owner)
    # A migrate by the owner after the service provisioned a grantee upgrades that schema too,
    # and gives the owner back what the service role owned.
    out = io.StringIO()
    assert cmd_migrate(argparse.Namespace(), own, out) == 0
    assert "and 1 grantee schema(s)" in out.getvalue()
    assert_one_owner(managed.owner_url, managed.owner)
    with psycopg.connect(managed.owner_url, autocommit=True) as conn:
        assert conn.execute(
            "SELECT has_schema_privilege(%s, %s, 'CREATE')", (managed.role, f"g_{slug}")
        ).fetchone() == (False,)
