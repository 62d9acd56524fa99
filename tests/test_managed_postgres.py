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
from services.store.database import Database
from tests.conftest import unique_slug


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
        assert_one_effective_owner(managed.owner_url, f"g_{slug}", managed.owner)
        # The log's guards hold for the service role.
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            db.fetchall(f"DELETE FROM g_{slug}.events")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            db.fetchall("UPDATE prowd.events SET topic = topic")
    finally:
        db.close()

    # A migrate by the owner after the service provisioned a grantee upgrades that schema too.
    out = io.StringIO()
    assert cmd_migrate(argparse.Namespace(), own, out) == 0
    assert "and 1 grantee schema(s)" in out.getvalue()


def assert_one_effective_owner(url: str, schema: str, owner: str) -> None:
    """docs/operations.md, Citus point 2: the owner login owns the grantee schema and its log,
    and inherits the rights of the service role, which owns the rest (views built at run time
    included), so it passes the ownership check of every table (`citus_schema_distribute`)."""
    with psycopg.connect(url, autocommit=True) as conn:
        [(schema_owner,)] = conn.execute(
            "SELECT pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname = %s", (schema,)
        ).fetchall()
        tables = conn.execute(
            "SELECT c.relname, pg_get_userbyid(c.relowner), pg_has_role(c.relowner, 'USAGE')"
            " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = %s AND c.relkind IN ('r', 'p')",
            (schema,),
        ).fetchall()
    assert schema_owner == owner
    assert len(tables) > 20
    assert all(inherits for _, _, inherits in tables), tables
    by_name = {name: table_owner for name, table_owner, _ in tables}
    assert {by_name[t] for t in ("events", "chain", "checkpoints", "access_log")} == {owner}
    assert len(set(by_name.values())) == 2, by_name
