"""The cost of making views' builds, where DDL is most of the work (decision 78): registering a
grantee (its schema and the first build of every view) and rebuilding every view of a grantee
with a few events (blue/green: new builds made, keyed, switched, the ones before dropped).

With `--ab`, also the DDL of a rebuild alone, both ways in alternation under the same load:
every view's build made bare, keyed and dropped (a) by direct statements as the owner, as the
service role did while it owned its tables, and (b) through the owner's build functions as the
service role (`Projection.create/add_keys/drop`, decision 78).

Run from the repository root (the code measured is the one in the current directory):

    uv run python tests/perf/bench_view_builds.py [--database-url URL] [--grantees 30]
        [--rebuilds 15]

It makes a database of its own on that server, migrates it as the login (the owner), acts as
the service role as the service does, prints the medians as one JSON line and drops the
database. Not a pytest test.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import statistics
import sys
import time
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

sys.path.insert(0, os.getcwd())

from domain.facilities import FacilityKind
from projections.base import Tables
from projections.registry import PROJECTIONS
from services.app.tenancy import Tenancy
from services.projector import live as projector
from services.projector.rebuilds import rebuild_views
from services.settings import Settings
from services.store.database import Database
from services.store.ledger import Command


def direct(cur: Any, t: Tables) -> None:
    """A rebuild's DDL as statements (what the service role ran while it owned its views)."""
    for projection in PROJECTIONS:
        for table, spec in projection.specs.items():
            cur.execute(
                sql.SQL("CREATE TABLE IF NOT EXISTS {} ({})").format(t[table], sql.SQL(spec.bare))
            )
        for table, spec in projection.specs.items():
            for key in spec.keys:
                cur.execute(sql.SQL("ALTER TABLE {} ADD {}").format(t[table], sql.SQL(key)))
        for statement in projection.indexes(t):
            cur.execute(statement)
        for table in projection.tables:
            cur.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(t[table]))


def through_functions(cur: Any, t: Tables) -> None:
    for projection in PROJECTIONS:
        projection.create(cur, t, keys=False)
        projection.add_keys(cur, t)
        projection.drop(cur, t)


def compare(db: Database, schema: str, rounds: int) -> dict[str, float]:
    """Median and minimum ms of each way, alternating, one transaction per round."""
    times: dict[str, list[float]] = {"direct": [], "functions": []}
    with db.owner_connection() as owner, db.connection() as service:
        for i in range(rounds):
            for way, conn, run in (
                ("direct", owner, direct),
                ("functions", service, through_functions),
            ):
                t = Tables(schema, 1000 + i)
                t0 = time.perf_counter()
                with conn.transaction(), conn.cursor() as cur:
                    run(cur, t)
                times[way].append(time.perf_counter() - t0)
    return {
        f"ddl_{way}_ms_{stat.__name__}": round(stat(values) * 1000, 1)
        for way, values in times.items()
        for stat in (statistics.median, min)
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/test")
    p.add_argument("--grantees", type=int, default=30)
    p.add_argument("--rebuilds", type=int, default=15)
    p.add_argument("--ab", type=int, default=0, help="rounds of the direct/function comparison")
    args = p.parse_args()
    name = f"prowd_bench_builds_{secrets.token_hex(4)}"
    with psycopg.connect(args.database_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = make_conninfo(args.database_url, dbname=name)
    try:
        settings = Settings(database_url=url, jwt_secret="x" * 40, pool_min=1, pool_max=4)
        db = Database(url, settings, name="prowd-bench").open()
        try:
            tenancy = Tenancy(db)
            tenancy.migrate()
            register: list[float] = []
            for i in range(args.grantees):
                t0 = time.perf_counter()
                tenancy.platform.registry.register_grantee(
                    Command(),
                    slug=f"bench_{i:03d}",
                    name="Bench",
                    grant_number="FS-0001-26",
                    time_zone="America/Chicago",
                )
                register.append(time.perf_counter() - t0)
            slug = "bench_000"
            for code in ("FCI-A", "FCI-B", "FCI-C"):
                tenancy.app(slug).facilities.register_facility(
                    Command(), code=code, name=code, kind=FacilityKind.BOP_INSTITUTION
                )
            projector.drain(db, f"g_{slug}")
            rebuild: list[float] = []
            for _ in range(args.rebuilds):
                t0 = time.perf_counter()
                rebuild_views(db, f"g_{slug}")
                rebuild.append(time.perf_counter() - t0)
            ab = compare(db, f"g_{slug}", args.ab) if args.ab else {}
        finally:
            db.close()
    finally:
        with psycopg.connect(args.database_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    print(
        json.dumps(
            {
                "register_ms_median": round(statistics.median(register) * 1000, 1),
                "register_ms_min": round(min(register) * 1000, 1),
                "rebuild_all_views_ms_median": round(statistics.median(rebuild) * 1000, 1),
                "rebuild_all_views_ms_min": round(min(rebuild) * 1000, 1),
                **ab,
                "load": os.getloadavg(),
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
