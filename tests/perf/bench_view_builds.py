"""The cost of making views' builds, where DDL is most of the work (decision 78): registering a
grantee (its schema and the first build of every view) and rebuilding every view of a grantee
with a few events (blue/green: new builds made, keyed, switched, the ones before dropped).

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

import psycopg
from psycopg.conninfo import make_conninfo

sys.path.insert(0, os.getcwd())

from domain.facilities import FacilityKind
from services.app.tenancy import Tenancy
from services.projector import live as projector
from services.projector.rebuilds import rebuild_views
from services.settings import Settings
from services.store.database import Database
from services.store.ledger import Command


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/test")
    p.add_argument("--grantees", type=int, default=30)
    p.add_argument("--rebuilds", type=int, default=15)
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
                "load": os.getloadavg(),
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
