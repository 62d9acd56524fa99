"""Fixtures: a real PostgreSQL (PROWD_DATABASE_URL, else the embedded server), the real app.

Each test session gets its own fresh database on the server, dropped at the end, so runs
never see each other's grantees. Tests create their own grantees with unique slugs.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import secrets
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from litestar import Litestar
from litestar.testing import TestClient
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from domain import clock
from services.api.app import create_app
from services.identity.tokens import issue_token
from services.settings import Settings
from services.store.database import Database, EmbeddedServer
from tests.people import birth_date

JWT_SECRET = "test-secret-" + "x" * 40

# Time is an input (DESIGN D10). The suite runs on a clock set to a stated instant and ticking
# from there, so it passes on any real date: "today" is Thursday 2026-11-26 (UTC), in ISO week
# 2026-W48, for every test that does not set a day of its own (`frozen_at`).
SUITE_NOW = datetime(2026, 11, 26, 15, 0, tzinfo=UTC)
SUITE_CLOCK = clock.FixedClock(SUITE_NOW, tick=True)


def pytest_configure(config: pytest.Config) -> None:
    clock.install(SUITE_CLOCK)


FreezeAt = Callable[..., clock.FixedClock]


@pytest.fixture
def frozen_at() -> Iterator[FreezeAt]:
    """`frozen_at(instant, tick=False)` sets the process's clock to `instant` (the API served
    by the test client included) until the test ends: stopped there, or ticking on from there
    (`tick=True`); the returned clock can be moved."""
    previous: list[clock.Clock] = []

    def freeze(at: datetime, tick: bool = False) -> clock.FixedClock:
        fixed = clock.FixedClock(at, tick=tick)
        previous.append(clock.install(fixed))
        return fixed

    yield freeze
    if previous:
        clock.install(previous[0])


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


@contextlib.contextmanager
def fresh_database(server_url: str, prefix: str = "prowd_test") -> Iterator[str]:
    """A database of its own on the server (dropped after), by its URL."""
    name = f"{prefix}_{secrets.token_hex(4)}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield make_conninfo(server_url, dbname=name)
    finally:
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def database_url(server_url: str) -> Iterator[str]:
    with fresh_database(server_url) as url:
        yield url


def suite_settings(database_url: str) -> Settings:
    # One rule for the CLI and the tests: the environment's settings (PROWD_DATA_DIR, else
    # ./.prowd, holds the development keys both use). Rate limits off: tests send bursts from
    # one address; tests/test_hardening.py turns them on.
    return dataclasses.replace(
        Settings.from_env(),
        database_url=database_url,
        jwt_secret=JWT_SECRET,
        pool_max=10,
        rate_limit_token=0,
        rate_limit_ip=0,
        # A query's bounded wait for the projector (`min_position`): generous, so a projector
        # slowed by a loaded machine (parallel workers) is not mistaken for a wrong answer.
        view_wait_max=20.0,
        # Tests race up to 8 HTTP commands at once (tests/test_group_commit.py): each needs a
        # handler thread of its own to reach the log's lock (PROWD_HANDLER_THREADS applies).
        handler_threads=8,
    )


@pytest.fixture
def browser(client: TestClient[Litestar]) -> Iterator[TestClient[Litestar]]:
    """The test client as a browser on the console: its cookies (session, CSRF) its own for the
    test, cleared before and after."""
    client.cookies.clear()
    yield client
    client.cookies.clear()


Token = Callable[..., dict[str, str]]


def token_maker(settings: Settings) -> Token:
    """`auth(role, grantee, sub=..., rrc=...)` gives the Authorization header of a dev token
    (`rrc`: the RRC claim of an rrc_staff token)."""

    def make(
        role: str, grantee: str = "*", sub: str | None = None, rrc: str | None = None
    ) -> dict[str, str]:
        token = issue_token(
            settings, subject=sub or f"test-{role}", roles=[role], grantees=[grantee], rrc=rrc
        )
        return {"Authorization": f"Bearer {token}"}

    return make


def unique_slug(prefix: str = "t") -> str:
    return f"{prefix}_{secrets.token_hex(5)}"


def grantee_maker(client: TestClient[Litestar], auth: Token) -> Callable[[], str]:
    """`make_grantee()`: a new grantee with BOP institutions FCI-A and FCI-B, an RRC RRC-1 and a
    cohort C1 at FCI-A; returns its slug."""

    def make() -> str:
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
            r = client.post(f"/v1/grantees/{slug}/facilities", json=body, headers=h)
            assert r.status_code == 201, r.text
        r = client.post(
            f"/v1/grantees/{slug}/cohorts",
            json={"code": "C1", "facility": "FCI-A", "start_date": "2026-01-05"},
            headers=h,
        )
        assert r.status_code == 201, r.text
        return slug

    return make


def stack_fixtures(scope: Any, name: str) -> tuple[Any, ...]:
    """The fixtures of an application on the database `database_url` names, for `scope`:
    `settings`, `db`, `app`, `client`, `auth` and `make_grantee`. The suite's, for the session,
    are declared below; a module that must have a database of its own (one that migrates or
    sweeps every grantee) declares its own `database_url` and these for the module."""

    @pytest.fixture(scope=scope, name="settings")
    def settings_(database_url: str) -> Settings:
        return suite_settings(database_url)

    @pytest.fixture(scope=scope, name="db")
    def db_(settings: Settings, database_url: str) -> Iterator[Database]:
        database = Database(database_url, settings, name=name).open()
        yield database
        database.close()

    @pytest.fixture(scope=scope, name="app")
    def app_(settings: Settings, db: Database) -> Litestar:
        return create_app(settings, db)

    @pytest.fixture(scope=scope, name="client")
    def client_(app: Litestar) -> Iterator[TestClient[Litestar]]:
        with TestClient(app) as c:
            yield c

    @pytest.fixture(scope=scope, name="auth")
    def auth_(settings: Settings) -> Token:
        return token_maker(settings)

    @pytest.fixture(scope=scope, name="make_grantee")
    def make_grantee_(client: TestClient[Litestar], auth: Token) -> Callable[[], str]:
        return grantee_maker(client, auth)

    return settings_, db_, app_, client_, auth_, make_grantee_


settings, db, app, client, auth, make_grantee = stack_fixtures("session", "prowd-test")


def own_database(prefix: str) -> Any:
    """A module's `database_url` fixture: a database of the module's own (with
    `stack_fixtures("module", ...)`), for tests that migrate, sweep or scrape every grantee,
    which on the suite's database, late in a parallel run, means hundreds."""

    @pytest.fixture(scope="module", name="database_url")
    def database_url_(server_url: str) -> Iterator[str]:
        with fresh_database(server_url, prefix) as url:
            yield url

    return database_url_


@pytest.fixture
def grantee(make_grantee: Callable[[], str]) -> str:
    """A new grantee (see `make_grantee`)."""
    return make_grantee()


def conninfo_dbname(url: str) -> str:
    return str(conninfo_to_dict(url).get("dbname", ""))


def count_events(db: Database, slug: str) -> int:
    """Rows in the grantee's own log, `g_<slug>.events`."""
    row = db.fetchone(f'SELECT count(*) FROM "g_{slug}".events')
    return int(row[0]) if row else 0


Enrol = Callable[..., dict[str, Any]]


@pytest.fixture
def enrol(client: TestClient[Litestar], auth: Token, grantee: str) -> Enrol:
    """`enrol(**overrides)` enrols a participant in `grantee` (stage 1 at FCI-A, cohort C1)."""

    def make(**overrides: Any) -> dict[str, Any]:
        body = {
            "first_name": "Ann",
            "last_name": "Lee",
            "date_of_birth": birth_date(),
            "program_entry_date": "2026-02-01",
            "facility": "FCI-A",
            "cohort": "C1",
            **overrides,
        }
        r = client.post(
            f"/v1/grantees/{grantee}/participants", json=body, headers=auth("coordinator", grantee)
        )
        assert r.status_code == 201, r.text
        return dict(r.json())

    return make


def race(db: Database, slug: str, *calls: Callable[[], Any]) -> list[Any]:
    """Run `calls` (each one write to the grantee's log) so that all of them have read their
    aggregates before any of them appends; their results, in order.

    The grantee's log lock (taken by every append) is held while the calls start, and released
    once all of them queue behind it: one in PostgreSQL, the others in the log's group commit
    (services/store/groupcommit.py). The wait is bounded well inside the lock timeout.
    """
    table = f'"g_{slug}".events'
    waiting = "SELECT count(*) FROM pg_locks WHERE relation = %s::regclass AND NOT granted"
    with ThreadPoolExecutor(len(calls)) as pool:
        # As the log's owner: the service role may not lock the log itself (only its append
        # function, which runs as the owner, takes that lock).
        with psycopg.connect(db.url, autocommit=True) as owner, owner.transaction():
            owner.execute(f"LOCK TABLE {table} IN EXCLUSIVE MODE")
            futures = [pool.submit(call) for call in calls]
            for _ in range(400):
                row = db.fetchone(waiting, (table,))
                group = db.commit_group(f"g_{slug}")
                queued = group.waiting if group is not None else 0
                if row and row[0] + queued >= len(calls):
                    break
                time.sleep(0.005)
            else:
                raise AssertionError(f"the writers never queued on {table}")
        return [f.result() for f in futures]


# The fuzz run's figures: counted where the fuzz test ran (an xdist worker sends them to the
# controller when it finishes), printed in the summary even when output is captured.
FUZZ: dict[str, Any] = {}


def _fuzz_figures() -> dict[str, Any]:
    import sys

    fuzz = sys.modules.get("tests.test_fuzz")
    if fuzz is None or not fuzz.CASES:
        return {}
    return {"cases": dict(fuzz.CASES), "rejecting": fuzz.mostly_rejecting()}


# The oracle's coverage (tests/oracle/test_oracle.py), sent and printed the same way.
ORACLE: Counter[str] = Counter()


def _oracle_figures() -> dict[str, int]:
    import sys

    oracle = sys.modules.get("tests.oracle.test_oracle")
    return dict(oracle.COVERED) if oracle is not None else {}


def pytest_sessionfinish(session: pytest.Session) -> None:
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput["fuzz"] = _fuzz_figures()
        workeroutput["oracle"] = _oracle_figures()


def pytest_testnodedown(node: Any, error: Any) -> None:
    FUZZ.update(getattr(node, "workeroutput", {}).get("fuzz") or {})
    ORACLE.update(getattr(node, "workeroutput", {}).get("oracle") or {})


def pytest_terminal_summary(terminalreporter: Any) -> None:
    oracle = ORACLE or Counter(_oracle_figures())
    if oracle:
        paths = sorted(k for k in oracle if k.startswith("path:"))
        terminalreporter.write_line(
            f"oracle: {oracle['histories']} generated histories equal to the report; "
            f"{len(paths)} distinct participant paths covered"
        )
        nonzero = sorted((k.split(":", 1)[1], v) for k, v in oracle.items() if k[:8] == "nonzero:")
        if nonzero:
            terminalreporter.write_line(
                "oracle: histories with a non-zero class-session figure: "
                + ", ".join(f"{name.split('.', 1)[1]} {n}" for name, n in nonzero)
            )
    figures = FUZZ or _fuzz_figures()
    if figures:
        cases = figures["cases"]
        terminalreporter.write_line(
            f"fuzz (schemathesis): {sum(cases.values())} generated requests over"
            f" {len(cases)} operations; {len(figures['rejecting'])} operations mostly"
            " rejected generated data"
        )


# Webhooks (tests/test_webhooks*.py) ---------------------------------------------------------


@pytest.fixture(scope="module")
def local_client(settings: Settings, db: Database) -> Iterator[TestClient[Litestar]]:
    """The API with the platform allow-listing 127.0.0.0/8 (as PROWD_WEBHOOK_ALLOWED_NETWORKS),
    so endpoints may point at a receiver on this machine."""
    app = create_app(dataclasses.replace(settings, webhook_allowed_networks="127.0.0.0/8"), db)
    with TestClient(app) as c:
        yield c


@pytest.fixture
def hooks(local_client: TestClient[Litestar], auth: Token, db: Database) -> Any:
    from tests.webhooks_helpers import Hooks

    return Hooks(local_client, auth, db)


@pytest.fixture
def receiver() -> Iterator[Any]:
    from tests.webhook_receiver import Receiver

    r = Receiver()
    yield r
    r.stop()


def corrupt_event(db: Database, schema: str, position: int) -> None:
    """Alter one stored event behind the service's back (as a superuser, the append-only
    trigger bypassed): a byte appended to its state, so it no longer decodes."""
    with psycopg.connect(db.url, autocommit=True) as conn, conn.transaction():
        conn.execute("SET LOCAL session_replication_role = replica")
        conn.execute(
            f"UPDATE \"{schema}\".events SET state = state || '\\x00'::bytea"
            " WHERE notification_id = %s",
            (position,),
        )
