"""DESIGN D1: connections are bounded independently of the number of grantees. 200 grantees,
each with its own schema and log, written concurrently through one pool of at most 20."""

from __future__ import annotations

import secrets
import threading
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from domain.facilities import FacilityKind
from services.app.tenancy import Tenancy
from services.settings import Settings
from services.store.database import Database
from services.store.ledger import Command

GRANTEES = 200
POOL_MAX = 20
THREADS = 40


@pytest.fixture
def own_database(server_url):
    """A database of its own, so every connection to it is one this test opened."""
    name = f"prowd_pool_{secrets.token_hex(4)}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield make_conninfo(server_url, dbname=name)
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class Sampler(threading.Thread):
    """Counts the connections to the database, from a connection of its own, until stopped."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.conn = psycopg.connect(url, autocommit=True)
        self.done = threading.Event()
        self.samples: list[tuple[int, int]] = []

    def run(self) -> None:
        query = (
            "SELECT count(*), count(*) FILTER (WHERE application_name = 'prowd-200')"
            " FROM pg_stat_activity WHERE datname = current_database()"
            # Client connections only: autovacuum workers also show up with a datname.
            " AND backend_type = 'client backend'"
        )
        while not self.done.is_set():
            self.samples.append(self.conn.execute(query).fetchone())
            self.done.wait(0.005)

    def stop(self) -> None:
        self.done.set()
        self.join()
        self.conn.close()


def test_200_grantees_write_through_at_most_20_connections(own_database):
    settings = Settings(
        database_url=own_database,
        jwt_secret="x" * 40,
        pool_min=1,
        pool_max=POOL_MAX,
        pool_timeout=60,
        # 200 registrations queue on the platform log's lock, and a wait for a lock counts
        # against the statement timeout too: on a loaded machine 15 s (the default) ran out.
        lock_timeout_ms=60_000,
        statement_timeout_ms=60_000,
    )
    sampler = Sampler(own_database)
    sampler.start()
    db = Database(own_database, settings, name="prowd-200").open()
    try:
        tenancy = Tenancy(db)
        tenancy.migrate()
        slugs = [f"pool_{i:03d}" for i in range(GRANTEES)]

        def onboard(slug: str) -> None:
            tenancy.platform.registry.register_grantee(
                Command(),
                slug=slug,
                name=f"Grantee {slug}",
                grant_number="FS-0001-26",
                time_zone="America/Chicago",
            )
            tenancy.app(slug).facilities.register_facility(
                Command(), code="FCI-A", name="FCI Alpha", kind=FacilityKind.BOP_INSTITUTION
            )

        with ThreadPoolExecutor(THREADS) as pool:
            list(pool.map(onboard, slugs))
        events = {slug: db.fetchone(f'SELECT count(*) FROM "g_{slug}".events')[0] for slug in slugs}
        registry = [g.slug for g in tenancy.grantees(limit=1000)]
    finally:
        db.close()
        sampler.stop()

    # What is counted: every backend connected to this test's own database. Those are the
    # pool under test (application_name prowd-200) and the sampler's own connection.
    most, most_pooled = max(s[0] for s in sampler.samples), max(s[1] for s in sampler.samples)
    assert most_pooled <= POOL_MAX
    assert most <= POOL_MAX + 1
    assert most_pooled > 1, "the writes never ran concurrently"
    assert events == dict.fromkeys(slugs, 1)
    assert registry == slugs
    with psycopg.connect(own_database) as conn:
        schemas = conn.execute(
            "SELECT count(*) FROM information_schema.schemata WHERE schema_name LIKE 'g\\_pool\\_%'"
        ).fetchone()[0]
        registered = conn.execute("SELECT count(*) FROM prowd.events").fetchone()[0]
    assert (schemas, registered) == (GRANTEES, GRANTEES)
    print(
        f"connections: max {most} in the database, {most_pooled} from the pool; "
        f"{len(sampler.samples)} samples"
    )
