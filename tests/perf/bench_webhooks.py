"""Webhook benchmark: 10,000 events fanned out to 5 endpoints of a local receiver.

Run from the repository root:

    uv run python tests/perf/bench_webhooks.py [--events 10000] [--endpoints 5] [--dispatchers 2]

Everything runs in a scratch database (`prowd_bench_<random>`) created beside --database-url
and dropped at the end; all traffic goes to 127.0.0.1. Processes: the projection worker (`prowd
worker`, which also fills the webhook outbox) and `--dispatchers` dispatchers (`prowd webhooks
dispatch`), as `prowd serve` runs them; the receiver (a ThreadingHTTPServer verifying every
message with the `standardwebhooks` library, tests/perf/harness/receiver.py) runs in a process of
its own, so the command generator of this process does not slow it down.

Phase 1, throughput: `--events` held meetings of RRC residents are recorded (through the grantee
application, as the API would) while no dispatcher runs; once the outbox holds every delivery
(events x endpoints), the dispatchers start and the drain is timed: deliveries/s.
Phase 2, latency: dispatchers running, `--paced-rate` events/s for `--paced-seconds`, each
delivery's commit-to-delivery time (`delivered_at - committed_at`, both stamped by the service)
gives p50/p99. Optionally `--command-load` runs tests/perf/bench_commands.py's wrk command load
against a `prowd serve` at the same time (needs `wrk`).

Not a pytest test. Results are printed and written to tests/perf/results/webhooks-<ts>.json.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

from litestar.testing import TestClient
from psycopg import sql

from domain.meetings import HeldRecord, Topic
from domain.pairings import Location, LocationKind
from services.api.app import create_app
from services.settings import Settings
from services.store.database import Database
from services.store.ledger import Command
from tests.perf.harness.postgres import DATABASE_URL, scratch_database
from tests.perf.harness.probes import wait_until
from tests.perf.harness.receiver import ReceiverProcess
from tests.perf.harness.results import RESULTS, ROOT, log, machine_info, pct, stamp, write_json
from tests.perf.harness.server import free_port, spawn, stop
from tests.perf.harness.world import Tokens
from tests.webhooks_helpers import Hooks

TARGETS = {"deliveries_per_s": 300.0, "latency_p99_s": 2.0}
SECRET = "bench-secret-" + "y" * 40


def record_meetings(
    hooks: Hooks, pairings: list[str], n: int, rate: float | None = None, first: int = 0
) -> float:
    """Record `n` held meetings spread over `pairings` (optionally paced); returns seconds.
    The i-th meeting is held `first + i` minutes after a fixed instant: a pairing meets once at
    a time (decision 96), so a later call passes the count recorded before as `first`."""
    app = hooks.client.app.state.tenancy.app(hooks.slug)
    base = datetime(2026, 8, 12, 12, tzinfo=UTC)
    started = time.monotonic()
    for i in range(n):
        if rate:
            due = started + i / rate
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        at = base + timedelta(minutes=first + i)
        app.meetings.schedule_meeting(
            Command(),
            pairing_id=UUID(pairings[i % len(pairings)]),
            scheduled_for=at,
            planned_minutes=60,
            location=Location(kind=LocationKind.OFF_SITE),
            held=HeldRecord(
                occurred_at=at,
                duration_minutes=45,
                location=Location(kind=LocationKind.OFF_SITE),
                topics=[Topic.EMPLOYMENT],
                summary="Worked on a resume.",
            ),
        )
    return time.monotonic() - started


def quantile(values: list[float], q: float) -> float:
    """The `q`th percentile of `values` (seconds), to the millisecond; NaN when empty."""
    v = pct(values, q)
    return math.nan if v is None else round(v, 3)


def count(db: Database, schema: str, where: str = "true") -> int:
    """Deliveries in the grantee's outbox (those matching `where`)."""
    row = db.fetchone(
        sql.SQL("SELECT count(*) FROM {}.webhook_deliveries WHERE " + where).format(
            sql.Identifier(schema)
        )
    )
    return int(row[0]) if row else 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--database-url", default=DATABASE_URL)
    ap.add_argument("--events", type=int, default=10_000)
    ap.add_argument("--endpoints", type=int, default=5)
    ap.add_argument("--dispatchers", type=int, default=2)
    ap.add_argument("--concurrency", type=int, default=16, help="requests in flight per dispatcher")
    ap.add_argument("--pairings", type=int, default=5)
    ap.add_argument("--paced-rate", type=float, default=40.0, help="events/s in phase 2")
    ap.add_argument("--paced-seconds", type=float, default=20.0)
    ap.add_argument(
        "--command-load",
        action="store_true",
        help="run bench_commands.py's wrk load (its own scratch database) during phase 2",
    )
    args = ap.parse_args(argv)
    out: dict[str, Any] = {
        "started_at": datetime.now(UTC).isoformat(),
        "machine": machine_info(args.database_url),
        "args": vars(args),
        "targets": TARGETS,
    }
    with scratch_database(args.database_url) as url:
        settings = Settings(
            database_url=url, jwt_secret=SECRET, webhook_allowed_networks="127.0.0.0/8", pool_max=8
        )
        db = Database(url, settings, name="bench-webhooks").open()
        env = {
            **os.environ,
            "PROWD_DATABASE_URL": url,
            "PROWD_JWT_SECRET": SECRET,
            "PROWD_WEBHOOK_ALLOWED_NETWORKS": "127.0.0.0/8",
            "PROWD_LOG_LEVEL": "warning",
        }
        tmp = Path(tempfile.mkdtemp(prefix="bench-webhooks-"))
        receiver: ReceiverProcess | None = None
        processes: list[subprocess.Popen[bytes]] = []
        try:
            app = create_app(settings, db)
            with TestClient(app) as client:
                hooks = Hooks(client, Tokens(SECRET, "bench").auth, db)
                pairings = []
                for _ in range(args.pairings):
                    pid = hooks.resident("RRC-1")
                    pairings.append(hooks.pair(hooks.mentor_id, [pid], "2026-08-10T10:00:00Z"))
                # The endpoints are created first (their secrets are the receiver's), pointing
                # at the port the receiver is started on next.
                port = free_port()
                paths = [f"/hooks/{i}" for i in range(args.endpoints)]
                endpoints = [
                    (path, hooks.endpoint(f"http://127.0.0.1:{port}{path}", types=["meeting.held"]))
                    for path in paths
                ]
                receiver = ReceiverProcess(
                    [(path, ep["secret"]) for path, ep in endpoints], tmp, port
                )
                schema = hooks.schema
                processes.append(spawn(["worker"], env))

                def wait_for(what: str, predicate: Any, timeout: float) -> None:
                    if not wait_until(predicate, timeout):
                        raise SystemExit(f"timed out waiting for {what}")

                total = args.events * args.endpoints

                # -- phase 1: throughput over a backlog ---------------------------------
                log(f"recording {args.events} held meetings")
                took = record_meetings(hooks, pairings, args.events)
                out["record_seconds"] = round(took, 2)
                log(f"recorded in {took:.1f} s; waiting for the outbox ({total} deliveries)")
                t0 = time.monotonic()
                wait_for("the outbox", lambda: count(db, schema) >= total, 600)
                out["outbox_fill_seconds_after_last_commit"] = round(time.monotonic() - t0, 2)
                log(f"outbox full; starting {args.dispatchers} dispatchers")
                t0 = time.monotonic()
                for _ in range(args.dispatchers):
                    processes.append(
                        spawn(["webhooks", "dispatch", "--concurrency", str(args.concurrency)], env)
                    )
                wait_for(
                    "delivery", lambda: count(db, schema, "status = 'delivered'") >= total, 1800
                )
                drain = time.monotonic() - t0
                row = db.fetchone(
                    sql.SQL(
                        "SELECT extract(epoch FROM max(delivered_at) - min(delivered_at)) FROM {}.webhook_deliveries"
                    ).format(sql.Identifier(schema))
                )
                span = float(row[0]) if row and row[0] else drain
                out["phase1"] = {
                    "deliveries": total,
                    "drain_seconds_incl_start": round(drain, 2),
                    "first_to_last_delivery_seconds": round(span, 2),
                    "deliveries_per_s": round(total / span, 1),
                }
                log(f"phase 1: {json.dumps(out['phase1'])}")

                # -- phase 2: commit-to-delivery latency under a paced load ---------------
                load: subprocess.Popen[bytes] | None = None
                if args.command_load:
                    RESULTS.mkdir(parents=True, exist_ok=True)
                    load_log = RESULTS / "webhooks-command-load.log"
                    load = subprocess.Popen(
                        [
                            sys.executable,
                            str(ROOT / "tests" / "perf" / "bench_commands.py"),
                            "--skip-baselines",
                            "--quiet-wait",
                            "0",
                            "--duration",
                            str(int(args.paced_seconds) + 40),
                            "--database-url",
                            args.database_url,
                        ],
                        cwd=ROOT,
                        stdout=load_log.open("wb"),
                        stderr=subprocess.STDOUT,
                    )
                    # Phase 2 starts once wrk is sending commands (the command benchmark sets
                    # up its own server and grantees first), so it runs under that load.
                    deadline = time.monotonic() + 600
                    while subprocess.run(["pgrep", "-x", "wrk"], capture_output=True).returncode:
                        if time.monotonic() > deadline or load.poll() is not None:
                            raise SystemExit(f"the command load never started wrk: {load_log}")
                        time.sleep(0.5)
                    time.sleep(3)
                    log(f"command load running (wrk; its log: {load_log})")
                before = count(db, schema)
                last_row = int(
                    db.fetchone(  # type: ignore[index]
                        sql.SQL(
                            "SELECT coalesce(max(row_id), 0) FROM {}.webhook_deliveries"
                        ).format(sql.Identifier(schema))
                    )[0]
                )
                n = int(args.paced_rate * args.paced_seconds)
                log(f"phase 2: {n} events at {args.paced_rate}/s")
                record_meetings(hooks, pairings, n, rate=args.paced_rate, first=args.events)
                goal = before + n * args.endpoints
                wait_for("phase 2", lambda: count(db, schema, "status = 'delivered'") >= goal, 600)
                if load is not None:
                    load.wait(600)
                rows = db.fetchall(
                    sql.SQL(
                        "SELECT extract(epoch FROM delivered_at - committed_at),"
                        " extract(epoch FROM created_at - committed_at)"
                        " FROM {}.webhook_deliveries WHERE row_id > %s"
                    ).format(sql.Identifier(schema)),
                    (last_row,),
                )
                latencies = [float(r[0]) for r in rows]
                # The part of it until the outbox row existed (worker's share).
                queued = [float(r[1]) for r in rows]
                out["phase2"] = {
                    "events": n,
                    "deliveries": len(latencies),
                    "latency_p50_s": quantile(latencies, 50),
                    "latency_p99_s": quantile(latencies, 99),
                    "latency_max_s": round(max(latencies), 3) if latencies else None,
                    "latency_mean_s": round(statistics.fmean(latencies), 3) if latencies else None,
                    "to_outbox_p50_s": quantile(queued, 50),
                    "to_outbox_p99_s": quantile(queued, 99),
                    "command_load": bool(args.command_load),
                }
                log(f"phase 2: {json.dumps(out['phase2'])}")
                out["met"] = {
                    "deliveries_per_s": out["phase1"]["deliveries_per_s"]
                    >= TARGETS["deliveries_per_s"],
                    "latency_p99_s": out["phase2"]["latency_p99_s"] <= TARGETS["latency_p99_s"],
                }
        finally:
            for p in processes:
                stop(p)
            got = receiver.finish() if receiver is not None else None
            if got is not None:
                counts = got["counts"]
                received, distinct = sum(counts.values()), len(counts)
                out["receiver"] = {
                    "received": received,
                    "distinct_webhook_ids": distinct,
                    "rejected": got["rejected"],
                }
                out["duplicates_beyond_retries"] = received - distinct
            with contextlib.suppress(Exception):
                db.close()
    path = write_json(f"webhooks-{stamp()}.json", out)
    print(json.dumps(out, indent=2, default=str))
    log(f"written to {path}")
    return 0


if __name__ == "__main__":
    threading.current_thread().name = "bench"
    sys.exit(main())
