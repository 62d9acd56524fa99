"""Shared rate-limit benchmark: the cost of one request's limits checked in PostgreSQL
(services/store/ratelimit.py, decision 46): two keys (a token and a grantee) per call, one
pooled connection, calls back to back.

Run from the repository root:

    uv run python tests/perf/bench_rate_limits.py [--calls 2000] [--runs 5] [--database-url URL]

A scratch database (`prowd_bench_<random>`) is created on the server and dropped at the end.
Not a pytest test: the file name does not match test_*.py and it defines no test_ function.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import secrets
import statistics
import time

import psycopg
from psycopg.conninfo import make_conninfo

from services.app.tenancy import Tenancy
from services.settings import Settings
from services.store.database import Database
from services.store.ratelimit import Limit, SharedLimits


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--calls", type=int, default=2000)
    p.add_argument("--runs", type=int, default=5)
    p.add_argument(
        "--database-url",
        default=os.environ.get("PROWD_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test"),
    )
    args = p.parse_args()
    name = f"prowd_bench_{secrets.token_hex(4)}"
    with psycopg.connect(args.database_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = make_conninfo(args.database_url, dbname=name)
    try:
        db = Database(url, dataclasses.replace(Settings.from_env({}), database_url=url)).open()
        Tenancy(db).migrate()
        limits = SharedLimits(db)
        keys = [Limit("tk:bench", 1e6, 2e6), Limit("g:bench", 1e6, 2e6)]
        runs = []
        for _ in range(args.runs):
            started = time.perf_counter()
            for _ in range(args.calls):
                assert limits.take(keys) is None
            runs.append((time.perf_counter() - started) / args.calls * 1e6)
        db.close()
        print(
            f"{args.calls} calls x {args.runs} runs, two keys per call, µs per call:",
            [round(r) for r in runs],
            f"median {statistics.median(runs):.0f}",
        )
    finally:
        with psycopg.connect(args.database_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
