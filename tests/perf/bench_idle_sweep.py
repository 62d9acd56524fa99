"""The projection worker's sweep over idle grantees: a full catch-up each against asking first.

Run from the repository root:

    uv run python tests/perf/bench_idle_sweep.py [--grantees 200] [--rounds 5]

The worker sweeps every grantee it serves every two seconds (DESIGN D3: notices can be lost),
nearly always to find nothing. This benchmark makes `--grantees` grantees through the API in a
scratch database (two participants each, one moved to an RRC, one exited), catches every view
and outbox up, and then sweeps them all `--rounds` times each way, alternating:

  - full: the catch-up the sweep ran for every grantee before decision 154 (the views' batch
    transaction, then the outbox's own: two transactions of five statements);
  - asked: `live.behind` first, one statement, and the catch-up only where it says so.

Both go through one `ProjectionWorker` on a pool of one connection (no signing key: the
checkpoint reads decision 154 also spares are counted, not timed), so the server's share is
that connection's backend. Printed and written to tests/perf/results/idle-sweep-<stamp>.json:
per grantee swept, the wall time, this process's CPU, the backend's CPU and the statements.

Not a pytest test: the file name does not match test_*.py and it defines no test_ function.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import shutil
import statistics
import time
from typing import Any

from litestar.testing import TestClient

from services.api.app import create_app
from services.logging import configure as configure_logging
from services.projector import live as projector
from services.runners.projection import ProjectionWorker
from services.settings import Settings
from services.store.database import Database
from services.webhooks import outbox
from tests.perf.bench_quarterly_all import counting, data_dir, made, make_grantee, settings_of
from tests.perf.harness.meters import ticks, wait_quiet
from tests.perf.harness.postgres import DATABASE_URL, scratch_database
from tests.perf.harness.results import log, machine_info, report, stamp, write_json

TICK = os.sysconf("SC_CLK_TCK")


def sweep_once(worker: ProjectionWorker, slugs: list[str], asked: bool) -> None:
    for slug in slugs:
        worker._catch_up(slug, sweeping=asked)


def measure(
    worker: ProjectionWorker, backend: int, slugs: list[str], asked: bool
) -> dict[str, Any]:
    server = ticks(backend) or 0
    cpu = time.process_time()
    wall = time.perf_counter()
    sweep_once(worker, slugs, asked)
    wall = time.perf_counter() - wall
    cpu = time.process_time() - cpu
    server = (ticks(backend) or 0) - server
    n = len(slugs)
    return {
        "wall_us": round(wall / n * 1e6, 1),
        "client_cpu_us": round(cpu / n * 1e6, 1),
        "server_cpu_us": round(server / TICK / n * 1e6, 1),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--database-url", default=DATABASE_URL)
    ap.add_argument("--grantees", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    configure_logging("warning")
    result: dict[str, Any] = {"machine": machine_info(args.database_url), "grantees": args.grantees}
    with scratch_database(args.database_url) as url:
        settings: Settings = settings_of(url)
        db = Database(url, settings, name="prowd-bench").open()
        try:
            log(f"making {args.grantees} grantees")
            with TestClient(create_app(settings, db)) as c:
                for i in range(args.grantees):
                    make_grantee(c, i, 2)
            slugs = [g.slug for g in made(db)]
            for slug in slugs:
                projector.drain(db, f"g_{slug}")
                outbox.drain(db, f"g_{slug}")
            one = dataclasses.replace(settings, pool_min=1, pool_max=1)
            worker_db = Database(url, one, name="prowd-bench-worker").open()
            try:
                worker = ProjectionWorker(worker_db)
                backend = int(worker_db.fetchone("SELECT pg_backend_pid()")[0])
                statements = {}
                for asked in (False, True):
                    with counting() as counted:
                        sweep_once(worker, slugs, asked)
                    statements["asked" if asked else "full"] = round(counted[0] / len(slugs), 2)
                result["quiet"] = wait_quiet(60)
                runs: dict[str, list[dict[str, Any]]] = {"full": [], "asked": []}
                for r in range(args.rounds):
                    for asked in (False, True) if r % 2 == 0 else (True, False):
                        runs["asked" if asked else "full"].append(
                            measure(worker, backend, slugs, asked)
                        )
            finally:
                worker_db.close()
        finally:
            db.close()
            shutil.rmtree(data_dir(url), ignore_errors=True)
    summary = {}
    for side, samples in runs.items():
        summary[side] = {k: statistics.median(s[k] for s in samples) for k in samples[0]} | {
            "statements": statements[side]
        }
    result["runs"] = runs
    result["medians_per_grantee"] = summary
    full, asked_ = summary["full"], summary["asked"]
    report(f"idle sweep over {args.grantees} grantees, {args.rounds} rounds, medians per grantee:")
    for side in ("full", "asked"):
        s = summary[side]
        report(
            f"  {side:5}: wall {s['wall_us']} us, client CPU {s['client_cpu_us']} us,"
            f" server CPU {s['server_cpu_us']} us, {s['statements']} statements"
        )
    cpu_full = full["client_cpu_us"] + full["server_cpu_us"]
    cpu_asked = asked_["client_cpu_us"] + asked_["server_cpu_us"]
    report(f"  CPU asked / full: {cpu_asked / cpu_full:.3f}")
    result["cpu_ratio"] = round(cpu_asked / cpu_full, 3)
    path = write_json(f"idle-sweep-{stamp()}.json", result)
    report(f"results: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
