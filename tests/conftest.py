"""Fixtures: a real PostgreSQL (PROWD_DATABASE_URL, else the embedded server), the real app.

Each test session gets its own fresh database on the server, dropped at the end, so runs
never see each other's grantees. Tests create their own grantees with unique slugs.
"""

from __future__ import annotations

import os
import secrets
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from litestar import Litestar
from litestar.testing import TestClient
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from services.api.app import create_app
from services.auth import issue_token
from services.database import Database, EmbeddedServer
from services.settings import Settings

JWT_SECRET = "test-secret-" + "x" * 40


@pytest.fixture(scope="session")
def server_url() -> Iterator[str]:
    url = os.environ.get("PROWD_DATABASE_URL")
    if url:
        yield url
        return
    with tempfile.TemporaryDirectory(prefix="prowd-test-") as tmp:
        server = EmbeddedServer(Path(tmp))
        try:
            yield server.url
        finally:
            server.stop()


@pytest.fixture(scope="session")
def database_url(server_url: str) -> Iterator[str]:
    name = f"prowd_test_{secrets.token_hex(4)}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield make_conninfo(server_url, dbname=name)
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, jwt_secret=JWT_SECRET, pool_max=10)


@pytest.fixture(scope="session")
def db(settings: Settings, database_url: str) -> Iterator[Database]:
    database = Database(database_url, settings, name="prowd-test").open()
    yield database
    database.close()


@pytest.fixture(scope="session")
def app(settings: Settings, db: Database) -> Litestar:
    return create_app(settings, db)


@pytest.fixture(scope="session")
def client(app: Litestar) -> Iterator[TestClient[Litestar]]:
    with TestClient(app) as c:
        yield c


Token = Callable[..., dict[str, str]]


@pytest.fixture(scope="session")
def auth(settings: Settings) -> Token:
    """`auth(role, grantee, sub=...)` gives the Authorization header of a dev token."""

    def make(role: str, grantee: str = "*", sub: str | None = None) -> dict[str, str]:
        token = issue_token(settings, subject=sub or f"test-{role}", roles=[role], grantees=[grantee])
        return {"Authorization": f"Bearer {token}"}

    return make


def unique_slug(prefix: str = "t") -> str:
    return f"{prefix}_{secrets.token_hex(5)}"


@pytest.fixture
def grantee(client: TestClient[Litestar], auth: Token) -> str:
    """A new grantee with a BOP institution FCI-A, an RRC RRC-1 and a cohort C1 at FCI-A."""
    slug = unique_slug()
    r = client.post(
        "/v1/grantees",
        json={"slug": slug, "name": "Test grantee", "grant_number": "FS-0001-26"},
        headers=auth("platform_admin"),
    )
    assert r.status_code == 201, r.text
    h = auth("coordinator", slug)
    for body in (
        {"code": "FCI-A", "name": "FCI Alpha", "kind": "bop_institution"},
        {"code": "FCI-B", "name": "FCI Beta", "kind": "bop_institution"},
        {"code": "RRC-1", "name": "RRC One", "kind": "rrc"},
    ):
        assert client.post(f"/v1/grantees/{slug}/facilities", json=body, headers=h).status_code == 201
    r = client.post(
        f"/v1/grantees/{slug}/cohorts",
        json={"code": "C1", "facility": "FCI-A", "start_date": "2026-01-05"},
        headers=h,
    )
    assert r.status_code == 201, r.text
    return slug


def conninfo_dbname(url: str) -> str:
    return str(conninfo_to_dict(url).get("dbname", ""))
