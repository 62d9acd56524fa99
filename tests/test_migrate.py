"""The production shape of the database roles: a migration job as the owning login
(`prowd migrate`), and services that log in as a plain role, member of `prowd_service`, and do
not migrate (`PROWD_MIGRATE_ON_START=false`)."""

from __future__ import annotations

import argparse
import dataclasses
import io

import psycopg
import pytest
from litestar.testing import TestClient
from psycopg.conninfo import make_conninfo

from services.api.app import create_app
from services.cli.records import cmd_migrate
from services.projector import live as projector
from services.settings import Settings
from services.store.database import Database
from tests.conftest import own_database, stack_fixtures, unique_slug

# A database of the module's own: every test migrates every grantee of its database, and the
# suite's holds hundreds of grantees late in a parallel run.
database_url = own_database("prowd_migrate")
settings, db, app, client, auth, make_grantee = stack_fixtures("module", "prowd-migrate")

LOGIN = "prowd_test_service_login"


@pytest.fixture(scope="module")
def service_url(database_url: str) -> str:
    with psycopg.connect(database_url, autocommit=True) as admin:
        admin.execute(
            f"DO $$ BEGIN CREATE ROLE {LOGIN} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE"
            " IN ROLE prowd_service;"
            " EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$"
        )
    return make_conninfo(database_url, user=LOGIN)


def test_prowd_migrate_reports_what_it_migrated(settings, make_grantee, monkeypatch):
    make_grantee()
    monkeypatch.setenv("PROWD_DATABASE_URL", settings.database_url)
    out = io.StringIO()
    assert cmd_migrate(argparse.Namespace(), Settings.from_env(), out) == 0
    assert "migrated the platform schema and" in out.getvalue()
    count = int(out.getvalue().split(" and ")[1].split()[0])
    assert count >= 1


def test_a_plain_service_login_runs_the_service_without_migrating(
    settings, service_url, client, auth
):
    """Register a grantee, enrol, project and read, all as the plain login; the log's own
    guards still hold for it."""
    own = dataclasses.replace(settings, database_url=service_url, migrate_on_start=False)
    db = Database(service_url, own, name="prowd-plain").open()
    try:
        assert db.fetchone("SELECT session_user, current_user") == (LOGIN, "prowd_service")
        app = create_app(own, db)
        with TestClient(app) as plain:
            slug = unique_slug("plain")
            r = plain.post(
                "/v1/grantees",
                json={"slug": slug, "name": "Plain", "grant_number": "FS-0009-26"},
                headers=auth("platform_admin"),
            )
            assert r.status_code == 201, r.text
            h = auth("coordinator", slug)
            for body in (
                {"code": "FCI-A", "name": "FCI Alpha", "kind": "bop_institution"},
                {"code": "RRC-1", "name": "RRC One", "kind": "rrc"},
            ):
                assert (
                    plain.post(f"/v1/grantees/{slug}/facilities", json=body, headers=h).status_code
                    == 201
                )
            assert projector.drain(db, f"g_{slug}") > 0
            r = plain.get(f"/v1/grantees/{slug}/facilities", headers=h)
            assert r.status_code == 200 and len(r.json()["items"]) == 2
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            db.fetchall(f"DELETE FROM g_{slug}.events")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            db.fetchall("RESET ROLE; DELETE FROM prowd.events")
    finally:
        db.close()


def test_a_migrate_with_nothing_to_change_takes_no_lock_on_a_grantee_table(app, db, grantee):
    """Every CLI command migrates first (unless PROWD_MIGRATE_ON_START=false); started beside
    a running service, its DDL once deadlocked with the webhook dispatcher. Once every grantee
    is migrated by the same code, a migrate runs no DDL at all: a registration records its
    grantee as migrated by the code that registered it, so the next start has nothing to do."""
    tenancy = app.state.tenancy
    with psycopg.connect(db.url) as writer:
        # What the dispatcher holds while it records an attempt; CREATE INDEX would wait for it
        # (and give up after the lock timeout, 3 s).
        writer.execute(f'LOCK TABLE "g_{grantee}".webhook_attempts IN ROW EXCLUSIVE MODE')
        tenancy.migrate()
        with pytest.raises(psycopg.errors.LockNotAvailable):
            tenancy.migrate(force=True)  # `prowd migrate` always runs its DDL
