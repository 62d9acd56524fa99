"""A command's derived-exit read (`projections.service.load_person`, decision 97): one
participant's ten fact tables, read one statement at a time (how it was first written) and as
one pipeline of statements composed once per build (how it is now), in one run.

    uv run python tests/perf/bench_load_person.py [--rounds 20]

A scratch database gets the demo (`prowd demo --load-only`, the clock fixed) and its views
(`prowd projections rebuild`); then every demo participant of `northside_works` is read
`--rounds` times by each side, alternating twice. Printed per side: CPU of this process and of
its PostgreSQL backend, and wall time, per participant read (the two must agree). JSON goes to
tests/perf/results/load-person-<timestamp>.json.

Not a pytest test: the file name does not match test_*.py and it defines no test_ function.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
import time
from collections.abc import Callable
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from psycopg import sql

from projections import service
from projections.oversight import Facts
from services.projector.serving import live_tables
from services.settings import Settings
from services.store.database import Database
from tests.perf.harness.meters import ticks
from tests.perf.harness.postgres import DATABASE_URL, scratch_database
from tests.perf.harness.results import ROOT, log, machine_info, report, stamp, write_json

CLOCK = "2026-11-25T15:00:00+00:00"
SLUG, ZONE = "northside_works", ZoneInfo("America/Chicago")


def one_at_a_time(db: Database, t: Any, pid: UUID) -> service.Person | None:
    """The first version: each table's statement composed and sent on its own."""
    facts = Facts()
    for table in service.TABLES:
        where = sql.SQL(service._THEIRS[table]).format(
            memberships=t["ov_memberships"], mentors=t["ov_mentors"]
        )
        facts.rows[table] = [
            tuple(r)
            for r in db.fetchall(
                sql.SQL("SELECT {} FROM {} WHERE {} ORDER BY {}").format(
                    sql.SQL(service.COLUMNS[table]),
                    t[table],
                    where,
                    sql.SQL(service.ORDER[table]),
                ),
                [pid] * service._THEIRS[table].count("%s"),
            )
        ]
    return service.people(facts, lambda m: m.astimezone(ZONE).date()).get(pid)


def backend_seconds(pid: int) -> float:
    return (ticks(pid) or 0) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--database-url", default=DATABASE_URL)
    args = parser.parse_args()
    with (
        scratch_database(args.database_url, "prowd_person") as url,
        tempfile.TemporaryDirectory() as data,
    ):
        env = {
            **os.environ,
            "PROWD_DATABASE_URL": url,
            "PROWD_DATA_DIR": data,
            "PROWD_CLOCK": CLOCK,
            "PROWD_LOG_LEVEL": "warning",
        }
        for step in (["demo", "--load-only"], ["projections", "rebuild"]):
            subprocess.run(
                ["uv", "run", "prowd", *step],
                cwd=ROOT,
                env=env,
                check=True,
                stdout=subprocess.DEVNULL,
            )
        settings = Settings.from_env(env)
        db = Database(url, settings, name="bench-load-person").open()
        try:
            t = live_tables(db, f"g_{SLUG}", "oversight", None, 0)
            pids = sorted(service.load_people(db, t, ZONE))
            sides: dict[str, Callable[[UUID], Any]] = {
                "one statement at a time": lambda p: one_at_a_time(db, t, p),
                "one pipeline": lambda p: service.load_person(db, t, ZONE, p),
            }
            results: dict[str, list[dict[str, float]]] = {name: [] for name in sides}
            with db.session():
                backend = db.fetchone("SELECT pg_backend_pid()")[0]
                for p in pids:
                    assert one_at_a_time(db, t, p) == service.load_person(db, t, ZONE, p), p
                for _ in range(2):
                    for name, read in sides.items():
                        n = 0
                        c0, b0, w0 = (
                            time.process_time(),
                            backend_seconds(backend),
                            time.perf_counter(),
                        )
                        for _ in range(args.rounds):
                            for p in pids:
                                read(p)
                                n += 1
                        c1, b1, w1 = (
                            time.process_time(),
                            backend_seconds(backend),
                            time.perf_counter(),
                        )
                        row = {
                            "reads": n,
                            "client_cpu_ms": 1000 * (c1 - c0) / n,
                            "backend_cpu_ms": 1000 * (b1 - b0) / n,
                            "wall_ms": 1000 * (w1 - w0) / n,
                        }
                        results[name].append(row)
                        report(
                            f"{name}: {n} reads, client CPU {row['client_cpu_ms']:.3f} ms, "
                            f"backend CPU {row['backend_cpu_ms']:.3f} ms, wall {row['wall_ms']:.3f} ms"
                        )
        finally:
            db.close()
        path = write_json(
            f"load-person-{stamp()}.json",
            {"machine": machine_info(url), "participants": len(pids), "results": results},
        )
        log(f"result: {path}")


if __name__ == "__main__":
    main()
