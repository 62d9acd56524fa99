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
  (crash_kill.webhook_check).

Prints a summary and writes JSON to tests/perf/results/outage-<timestamp>.json. Not a pytest test.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import pwd
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import crash_kill as ck  # noqa: E402
import httpx  # noqa: E402

from services.projector import live as projector  # noqa: E402
from services.projector import rebuilds  # noqa: E402
from services.settings import Settings  # noqa: E402
from services.store.database import Database  # noqa: E402

USER = "prowdpg"


class Cluster:
    """A throwaway PostgreSQL cluster on 127.0.0.1:<port>, trust authentication."""

    def __init__(self, bin_dir: Path, root: Path, port: int) -> None:
        self.bin = bin_dir
        self.data = root / "data"
        self.port = port
        self.log = root / "postgres.log"
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            try:
                pwd.getpwnam(USER)
            except KeyError:
                subprocess.run(["useradd", "--system", "--no-create-home", USER], check=True)
            shutil.chown(root, USER)
            self.as_user = ["runuser", "-u", USER, "--"]
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8")
        self.url = f"postgresql://postgres@127.0.0.1:{port}/postgres"

    def _run(self, tool: str, *args: str) -> None:
        subprocess.run(
            [*self.as_user, str(self.bin / tool), *args],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=120,
        )

    def start(self) -> None:
        opts = f"-p {self.port} -h 127.0.0.1 -k {self.data} -c max_connections=200"
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", opts, "-w", "start")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pg-bin", default=os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin"))
    ap.add_argument("--outage", type=float, default=10.0)
    ap.add_argument("--before", type=float, default=5.0, help="seconds of load before the stop")
    ap.add_argument("--after", type=float, default=15.0, help="seconds of load after the start")
    ap.add_argument("--clients", type=int, default=8)
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="prowd-outage-"))
    cluster = Cluster(Path(args.pg_bin), root, ck.free_port())
    cluster.start()
    data_dir = root / "prowd"
    data_dir.mkdir()
    server = None
    receiver = ck.HookReceiver()
    try:
        ck.RESULTS.mkdir(exist_ok=True)
        server_log = ck.RESULTS / f"outage-server-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.log"
        server = ck.Server(cluster.url, ck.free_port(), data_dir, server_log)
        server.wait_ready()
        headers = {"Authorization": "Bearer " + ck.token("coordinator", ck.SLUG)}
        endpoint = ck.setup(server.base, headers, receiver.url)
        receiver.secret = endpoint["secret"]

        # /ready, polled every 0.25 s: (seconds since start, status or error)
        probes: list[tuple[float, Any]] = []
        stop_probe = threading.Event()
        started = time.monotonic()

        def probe() -> None:
            with httpx.Client(timeout=10) as http:
                while not stop_probe.is_set():
                    try:
                        status: Any = http.get(server.base + "/ready").status_code
                    except httpx.HTTPError as e:
                        status = type(e).__name__
                    probes.append((round(time.monotonic() - started, 2), status))
                    time.sleep(0.25)

        # (sent at, seconds, outcome, retry-after) of every command
        timings: list[tuple[float, float, Any, str | None]] = []

        class TimedLoad(ck.Load):
            """crash_kill's load, also timing each command; backs off a little on 503."""

            timeout = 30.0

            def record(
                self, key: str, outcome: Any, response: httpx.Response | None, t0: float
            ) -> None:
                took = time.monotonic() - t0
                retry_after = None if response is None else response.headers.get("retry-after")
                with self.lock:
                    self.outcomes[key] = outcome
                    timings.append((round(t0 - started, 3), took, outcome, retry_after))
                if outcome == 503:
                    time.sleep(0.05)  # a polite client backs off a little

        load = TimedLoad(server.base, args.clients, headers, "o")
        probe_thread = threading.Thread(target=probe, daemon=True)
        probe_thread.start()
        load.start()
        time.sleep(args.before)
        down_at = time.monotonic() - started
        cluster.stop()
        ck.log(f"PostgreSQL stopped at {down_at:.1f} s")
        time.sleep(args.outage)
        up_at = time.monotonic() - started
        cluster.start()
        ck.log(f"PostgreSQL started at {up_at:.1f} s")
        time.sleep(args.after)
        load.finish()
        stop_probe.set()
        probe_thread.join(timeout=15)

        during = [t for t in timings if down_at <= t[0] < up_at]
        outage_latency = [t[1] for t in during]
        codes_during = Counter(str(t[2]) for t in during)
        retry_after_ok = all(t[3] is not None for t in during if t[2] == 503)
        recovered = [t for t in timings if t[0] >= up_at and isinstance(t[2], int) and t[2] < 300]
        recovery_s = round(min(t[0] + t[1] for t in recovered) - up_at, 2) if recovered else None
        ready_down = [s for at, s in probes if down_at + 1 <= at < up_at]
        ready_after = [s for at, s in probes if at >= up_at + (recovery_s or 0) + 1]

        # Retry what was not acknowledged; then the same guarantees as the crash test.
        outcomes = load.outcomes
        unanswered, retried = ck.retry_unanswered(
            server.base, headers, outcomes, load.commands, timeout=30
        )
        prowd_url = cluster.url
        counts = ck.request_counts(prowd_url)
        acked = [k for k, v in outcomes.items() if ck.acked(v)]
        lost = [k for k in acked if counts.get(k, 0) == 0]
        duplicated = [k for k, c in counts.items() if c > 1]
        half = [k for k in unanswered if counts.get(k, 0) + counts.get(k + "-retry", 0) != 1]
        settings = Settings(database_url=prowd_url, jwt_secret=ck.SECRET, data_dir=data_dir)
        db = Database(prowd_url, settings, name="outage-check").open()
        try:
            schema = f"g_{ck.SLUG}"
            top = db.fetchone(f"SELECT max(notification_id) FROM {schema}.events")
            head = int(top[0]) if top and top[0] else 0
            deadline = time.monotonic() + 60
            while projector.lowest_position(db, schema) < head and time.monotonic() < deadline:
                time.sleep(0.2)
            caught_up = projector.lowest_position(db, schema) >= head
            # Webhooks: the running service drains the outbox; then nothing more can arrive.
            drain = ck.wait_webhooks_drained(prowd_url, endpoint["id"])
            server.stop()
            server = None
            webhooks = {**drain, **ck.webhook_check(prowd_url, endpoint["id"], receiver)}
            live = projector.digests(db, schema)
            rebuilds.rebuild_views(db, schema)
            rebuilt = projector.digests(db, schema)
        finally:
            db.close()

        result = {
            "outage_s": args.outage,
            "clients": args.clients,
            "commands_sent": len(outcomes),
            "acknowledged": len(acked),
            "first_answers": dict(Counter(str(v) for v in outcomes.values())),
            "retries": dict(retried),
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
            "lost": len(lost),
            "duplicated": len(duplicated),
            "half_applied_or_missing_after_retry": len(half),
            "views_caught_up": caught_up,
            "views_equal_rebuild": live == rebuilt,
            "webhooks": webhooks,
            "machine": {"nproc": os.cpu_count(), "load": os.getloadavg()},
        }
        ck.RESULTS.mkdir(exist_ok=True)
        out = ck.RESULTS / f"outage-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
        out.write_text(json.dumps(result, indent=2))
        ck.log(json.dumps({k: v for k, v in result.items() if k != "webhooks"}))
        ck.log(ck.webhook_summary(webhooks))
        ck.log(f"results: {out}")
        bounded = result["during_outage"]["latency_max_s"] is not None and (
            result["during_outage"]["latency_max_s"] <= 5 + 3 + 2
        )
        ok = (
            bounded
            and retry_after_ok
            and "503" in result["during_outage"]["ready"]
            and recovery_s is not None
            and set(result["ready_after_recovery"]) == {"200"}
            and not lost
            and not duplicated
            and not half
            and caught_up
            and live == rebuilt
            and ck.webhooks_ok(webhooks)
        )
        ck.log("PASS" if ok else f"FAIL (the service's output: {server_log})")
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
