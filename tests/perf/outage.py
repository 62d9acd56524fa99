"""Database outage: stop PostgreSQL for 10 s under command load and start it again.

    uv run python tests/perf/outage.py [--outage 10] [--clients 8]

Starts a private PostgreSQL cluster (the machine's PostgreSQL binaries, PG_BIN, default
/usr/lib/postgresql/15/bin; run as an unprivileged system user when this script runs as root)
on a free port of 127.0.0.1, runs `prowd serve` (2 API processes + worker + dispatcher) on it,
sends enrolments with idempotency keys from --clients threads and polls /ready; stops the
cluster (`pg_ctl stop -m fast`) for --outage seconds, starts it again, keeps the load on, then
checks:

- during the outage requests fail fast with 503 and Retry-After: the slowest answer stays within
  the configured timeouts (pool wait 5 s + connect 3 s), nothing hangs;
- /ready answers 503 while the database is down, 200 again after;
- the service recovers by itself (time from restart to the first 2xx command);
- every acknowledged command is in the log exactly once; every other command, retried with its
  key, ends applied exactly once; the views catch up and equal a rebuild.
- webhooks (an endpoint of RRC-1 pointing at a receiver in this process, fed by the load's moves
  to RRC-1): every matching event has exactly one outbox row, every row was received at least
  once with a valid signature, nothing else was received; redeliveries counted apart
  (tests/perf/harness/outbox.py).

Prints a summary and writes JSON to tests/perf/results/outage-<timestamp>.json. Not a pytest test.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

from services.settings import Settings
from tests.perf.harness import outbox
from tests.perf.harness.load import EnrolAndMove, settle
from tests.perf.harness.postgres import Cluster
from tests.perf.harness.receiver import HookReceiver
from tests.perf.harness.results import RESULTS, report, stamp, write_json
from tests.perf.harness.server import Server, free_port
from tests.perf.harness.world import Tokens, create_grantee

SLUG = "outage_g1"
SECRET = "outage-secret-" + "x" * 40
TOKENS = Tokens(SECRET, "outage")


class TimedLoad(EnrolAndMove):
    """The crash test's load, also timing each command; backs off a little on 503."""

    timeout = 30.0

    def __init__(self, *args: Any, started: float) -> None:
        super().__init__(*args)
        self.started = started
        # (sent at, seconds, outcome, retry-after) of every command
        self.timings: list[tuple[float, float, Any, str | None]] = []

    def record(self, key: str, outcome: Any, response: httpx.Response | None, t0: float) -> None:
        took = time.monotonic() - t0
        retry_after = None if response is None else response.headers.get("retry-after")
        with self.lock:
            self.outcomes[key] = outcome
            self.timings.append((round(t0 - self.started, 3), took, outcome, retry_after))
        if outcome == 503:
            time.sleep(0.05)  # a polite client backs off a little


class ReadyProbe(threading.Thread):
    """/ready, polled every 0.25 s: (seconds since `started`, status or error)."""

    def __init__(self, base: str, started: float) -> None:
        super().__init__(daemon=True)
        self.base, self.started = base, started
        self.stopping = threading.Event()
        self.answers: list[tuple[float, Any]] = []

    def run(self) -> None:
        with httpx.Client(timeout=10) as http:
            while not self.stopping.is_set():
                try:
                    status: Any = http.get(self.base + "/ready").status_code
                except httpx.HTTPError as e:
                    status = type(e).__name__
                self.answers.append((round(time.monotonic() - self.started, 2), status))
                time.sleep(0.25)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pg-bin", default=os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin"))
    ap.add_argument("--outage", type=float, default=10.0)
    ap.add_argument("--before", type=float, default=5.0, help="seconds of load before the stop")
    ap.add_argument("--after", type=float, default=15.0, help="seconds of load after the start")
    ap.add_argument("--clients", type=int, default=8)
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="prowd-outage-"))
    cluster = Cluster(Path(args.pg_bin), root, free_port())
    cluster.start()
    data_dir = root / "prowd"
    data_dir.mkdir()
    server = None
    receiver = HookReceiver()
    try:
        RESULTS.mkdir(parents=True, exist_ok=True)
        server_log = RESULTS / f"outage-server-{stamp()}.log"
        env = {"PROWD_DATA_DIR": str(data_dir), "PROWD_WEBHOOK_ALLOWED_NETWORKS": "127.0.0.1/32"}
        server = Server(cluster.url, SECRET, server_log, workers=2, env=env)
        server.wait_ready(180)
        headers = TOKENS.auth("coordinator", SLUG)
        with httpx.Client(base_url=server.base, timeout=30) as client:
            create_grantee(client, TOKENS, SLUG, name="Outage test")
        endpoint = outbox.subscribe(server.base, TOKENS, SLUG, receiver.url())
        receiver.trust(endpoint["secret"])

        started = time.monotonic()
        probe = ReadyProbe(server.base, started)
        load = TimedLoad(server.base, SLUG, args.clients, headers, "o", started=started)
        probe.start()
        load.start()
        time.sleep(args.before)
        down_at = time.monotonic() - started
        cluster.stop()
        report(f"PostgreSQL stopped at {down_at:.1f} s")
        time.sleep(args.outage)
        up_at = time.monotonic() - started
        cluster.start()
        report(f"PostgreSQL started at {up_at:.1f} s")
        time.sleep(args.after)
        load.finish()
        probe.stopping.set()
        probe.join(timeout=15)

        timings = load.timings
        during = [t for t in timings if down_at <= t[0] < up_at]
        outage_latency = [t[1] for t in during]
        codes_during = Counter(str(t[2]) for t in during)
        retry_after_ok = all(t[3] is not None for t in during if t[2] == 503)
        recovered = [t for t in timings if t[0] >= up_at and isinstance(t[2], int) and t[2] < 300]
        recovery_s = round(min(t[0] + t[1] for t in recovered) - up_at, 2) if recovered else None
        ready_down = [s for at, s in probe.answers if down_at + 1 <= at < up_at]
        ready_after = [s for at, s in probe.answers if at >= up_at + (recovery_s or 0) + 1]

        # Retry what was not acknowledged; then the same guarantees as the crash test.
        outcomes = load.outcomes
        checked = settle(server.base, headers, cluster.url, SLUG, outcomes, load.commands, 30)
        settings = Settings(database_url=cluster.url, jwt_secret=SECRET, data_dir=data_dir)
        views = outbox.converged(
            cluster.url, settings, server, f"g_{SLUG}", endpoint["id"], receiver
        )
        webhooks = views.pop("webhooks")
        views.pop("head_position")

        result = {
            "outage_s": args.outage,
            "clients": args.clients,
            "commands_sent": len(outcomes),
            "acknowledged": len(checked["acked"]),
            "first_answers": dict(Counter(str(v) for v in outcomes.values())),
            "retries": checked["retries"],
            "during_outage": {
                "requests": len(during),
                "outcomes": dict(codes_during),
                "latency_max_s": round(max(outage_latency), 3) if outage_latency else None,
                "latency_p50_s": round(statistics.median(outage_latency), 3)
                if outage_latency
                else None,
                "every_503_has_retry_after": retry_after_ok,
                "ready": dict(Counter(str(s) for s in ready_down)),
            },
            "recovery_s_after_start": recovery_s,
            "ready_after_recovery": dict(Counter(str(s) for s in ready_after)),
            "lost": len(checked["lost"]),
            "duplicated": len(checked["duplicated"]),
            "half_applied_or_missing_after_retry": len(checked["half"]),
            **views,
            "webhooks": webhooks,
            "machine": {"nproc": os.cpu_count(), "load": os.getloadavg()},
        }
        out = write_json(f"outage-{stamp()}.json", result)
        report(json.dumps({k: v for k, v in result.items() if k != "webhooks"}))
        report(outbox.webhook_summary(webhooks))
        report(f"results: {out}")
        bounded = result["during_outage"]["latency_max_s"] is not None and (
            result["during_outage"]["latency_max_s"] <= 5 + 3 + 2
        )
        ok = (
            bounded
            and retry_after_ok
            and "503" in result["during_outage"]["ready"]
            and recovery_s is not None
            and set(result["ready_after_recovery"]) == {"200"}
            and not checked["lost"]
            and not checked["duplicated"]
            and not checked["half"]
            and views["views_caught_up"]
            and views["views_equal_rebuild"]
            and outbox.webhooks_ok(webhooks)
        )
        report("PASS" if ok else f"FAIL (the service's output: {server_log})")
        if ok:
            server_log.unlink(missing_ok=True)
        return 0 if ok else 1
    finally:
        if server is not None:
            server.stop()
        receiver.close()
        with contextlib.suppress(subprocess.CalledProcessError):
            cluster.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
