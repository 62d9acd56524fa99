"""The same command load on a single PostgreSQL and on the Citus coordinator, in one run
(issue 25): commands/s and projection lag with 8 grantees, spread by Citus over 2 workers.

    PROWD_SCRATCH_RESET="tests/scale/citus_cluster.sh reset" \\
      uv run python tests/scale/citus_bench.py \\
      --plain-url postgresql://postgres@127.0.0.1:5432/test \\
      --citus-url postgresql://prowd_owner@127.0.0.1:9700/prowd [--seconds 30]

For each target in turn: `prowd serve` (2 API processes, projection worker, webhook
dispatcher), `--grantees` grantees registered, then for `--seconds` seconds
`--clients-per-grantee` clients per grantee enrol participants and move each to RRC-1
(tests/perf/harness/load.py), while a probe enrols one participant every 0.5 s (grantees in
turn) and times from its answer until the caseload view shows it (the projection lag); the
same probe runs alone for `--idle-seconds` first (the lag of a lone command). The
plain target runs in a scratch database beside --plain-url; the Citus target in --citus-url's
database after PROWD_SCRATCH_RESET (the cluster script's `reset`), which is read for the Citus
target only. Prints one line per target and the schemas' placement; writes JSON to
tests/perf/results/citus-bench-<timestamp>.json. Not a pytest test.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import psycopg

from tests.perf.harness import postgres
from tests.perf.harness.load import EnrolAndMove, acked
from tests.perf.harness.probes import LagProbe
from tests.perf.harness.results import report, stamp, write_json
from tests.perf.harness.server import Server, free_port
from tests.perf.harness.world import Tokens, create_grantee, enrolment
from tests.scale.citus_move import PLACEMENT

SECRET = "citus-bench-secret-" + "x" * 40
TOKENS = Tokens(SECRET, "bench")


def run_target(name: str, url: str, args: argparse.Namespace) -> dict[str, Any]:
    """One target: serve, register, load with the lag probe; the figures."""
    slugs = [f"bench_g{i}" for i in range(1, args.grantees + 1)]
    headers = TOKENS.auth("coordinator", slugs)
    data_dir = Path(os.environ.get("TMPDIR", "/tmp")) / f"prowd_citus_bench_{name}"
    data_dir.mkdir(parents=True, exist_ok=True)
    env = {"PROWD_DATA_DIR": str(data_dir)}
    with contextlib.ExitStack() as stack:
        server = Server(url, SECRET, data_dir / "server.log", port=free_port(), workers=2, env=env)
        stack.callback(server.stop)
        server.wait_ready(180)
        with httpx.Client(base_url=server.base, timeout=60) as client:
            for s in slugs:
                create_grantee(client, TOKENS, s, name=f"Bench {s}")
        placement: dict[str, Any] = {}
        with psycopg.connect(url) as conn:
            if conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'citus'").fetchone():
                placement = {s: f"{h}:{p}" for s, h, p, _ in conn.execute(PLACEMENT).fetchall()}
        loads = [
            EnrolAndMove(server.base, s, args.clients_per_grantee, headers, f"{name}-{s}")
            for s in slugs
        ]

        def probe() -> LagProbe:
            return LagProbe(
                server.base,
                url,
                headers,
                slugs,
                lambda key: enrolment("Probe", key[:40], entry="2026-02-01"),
                interval=0.5,
                timeout=10.0,
                poll=0.01,
                keyed=True,
            )

        # Idle first: the lag of a lone command (the projector woken by NOTIFY, not its sweep).
        idle = probe()
        idle.start()
        time.sleep(args.idle_seconds)
        idle.stopping.set()
        idle.join(timeout=15)
        idle_lag = idle.result()
        idle_lag.pop("lags_ms")
        loaded = probe()
        started = time.monotonic()
        for load in loads:
            load.start()
        loaded.start()
        time.sleep(args.seconds)
        loaded.stopping.set()
        for load in loads:
            load.finish()
        loaded.join(timeout=15)
        elapsed = time.monotonic() - started
        outcomes: dict[str, Any] = {}
        for load in loads:
            outcomes.update(load.outcomes)
        ok = sum(1 for v in outcomes.values() if acked(v))
        lag = loaded.result()
        lag.pop("lags_ms")
        return {
            "target": name,
            "grantees": len(slugs),
            "clients": len(slugs) * args.clients_per_grantee,
            "seconds": round(elapsed, 1),
            "commands_sent": len(outcomes),
            "commands_2xx": ok,
            "commands_per_s": round(ok / elapsed, 1),
            "answers": dict(Counter(str(v) for v in outcomes.values())),
            "lag": lag,
            "idle_lag": idle_lag,
            "placement": placement,
        }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--plain-url", default=postgres.DATABASE_URL)
    ap.add_argument("--citus-url", required=True)
    ap.add_argument("--grantees", type=int, default=8)
    ap.add_argument("--clients-per-grantee", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--idle-seconds", type=float, default=5.0)
    args = ap.parse_args()
    reset = os.environ.pop("PROWD_SCRATCH_RESET", "")
    results = []
    with postgres.scratch_database(args.plain_url, "prowd_citus_bench") as url:
        results.append(run_target("postgresql", url, args))
    if reset:
        os.environ["PROWD_SCRATCH_RESET"] = reset
    with postgres.scratch_database(args.citus_url, "prowd_citus_bench") as url:
        results.append(run_target("citus", url, args))
    for r in results:
        report(
            f"{r['target']}: {r['commands_per_s']} commands/s ({r['commands_2xx']} of"
            f" {r['commands_sent']} answered 2xx in {r['seconds']} s, {r['clients']} clients,"
            f" {r['grantees']} grantees); projection lag p50 {r['lag']['lag_ms'].get('p50')} ms,"
            f" p90 {r['lag']['lag_ms'].get('p90')} ms, p99 {r['lag']['lag_ms'].get('p99')} ms"
            f" ({r['lag']['probes']} probes, {r['lag']['timeouts']} over 10 s); idle lag p50"
            f" {r['idle_lag']['lag_ms'].get('p50')} ms, max {r['idle_lag']['lag_ms'].get('max')} ms"
            f" ({r['idle_lag']['probes']} probes)"
        )
    report("placement (citus): " + json.dumps(results[-1]["placement"]))
    out = write_json(
        f"citus-bench-{stamp()}.json",
        {"results": results, "machine": {"nproc": os.cpu_count(), "load": os.getloadavg()}},
    )
    report(f"results: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
