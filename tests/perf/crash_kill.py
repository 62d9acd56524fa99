"""Crash safety: kill -9 the API, the projection worker and the webhook dispatcher at random
moments under command load, 20 times, then check that nothing acknowledged was lost or doubled
and nothing unacknowledged was half-applied, that the views converge to a rebuild, and that the
webhook outbox lost and doubled nothing.

    uv run python tests/perf/crash_kill.py [--rounds 20] [--clients 8] [--seed 11]

Runs `prowd serve` (API in 2 processes + worker + dispatcher) against a scratch database on the
server named by --database-url (default: the local PostgreSQL), created and dropped here. All
traffic goes to 127.0.0.1. Every command carries an Idempotency-Key and an X-Request-ID; the
events of a command carry its request id, which is how the log is matched with the answers.
The load enrols participants and moves each acknowledged one to RRC-1 (`participant.arrived_at_rrc`
for the webhook endpoint registered at the start, which points at a receiver in this process;
see tests/perf/harness/receiver.py and outbox.py).
Prints a summary and writes JSON to tests/perf/results/crash-<timestamp>.json.
Not a pytest test (no test_ prefix).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
from psycopg.conninfo import conninfo_to_dict

from services.settings import Settings
from tests.perf.harness import outbox
from tests.perf.harness.load import EnrolAndMove, acked, settle
from tests.perf.harness.postgres import DATABASE_URL, scratch_database
from tests.perf.harness.receiver import HookReceiver
from tests.perf.harness.results import report, stamp, write_json
from tests.perf.harness.server import Server, free_port
from tests.perf.harness.world import Tokens, create_grantee

SLUG = "crash_g1"
SECRET = "crash-secret-" + "x" * 40
TOKENS = Tokens(SECRET, "crash")
# The webhook receiver of these scripts listens on loopback.
SERVER_ENV = {"PROWD_WEBHOOK_ALLOWED_NETWORKS": "127.0.0.1/32"}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--database-url", default=DATABASE_URL)
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--min-seconds", type=float, default=1.0)
    ap.add_argument("--max-seconds", type=float, default=4.0)
    ap.add_argument("--seed", type=int, default=None)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    headers = TOKENS.auth("coordinator", SLUG)
    outcomes: dict[str, Any] = {}
    commands: dict[str, tuple[str, dict[str, Any]]] = {}
    kills: list[dict[str, Any]] = []
    receiver = HookReceiver()
    with contextlib.ExitStack() as stack:
        stack.callback(receiver.close)
        url = stack.enter_context(scratch_database(args.database_url, "prowd_crash"))
        data_dir = Path(os.environ.get("TMPDIR", "/tmp")) / str(conninfo_to_dict(url)["dbname"])
        data_dir.mkdir(parents=True, exist_ok=True)
        env = {**SERVER_ENV, "PROWD_DATA_DIR": str(data_dir)}
        log_path = data_dir / "server.log"
        port = free_port()

        def start() -> Server:
            server = Server(url, SECRET, log_path, port=port, workers=2, env=env, append=True)
            stack.callback(server.stop)
            return server

        server = start()
        server.wait_ready(180)
        with httpx.Client(base_url=server.base, timeout=30) as client:
            create_grantee(client, TOKENS, SLUG, name="Crash test")
        endpoint = outbox.subscribe(server.base, TOKENS, SLUG, receiver.url())
        receiver.trust(endpoint["secret"])
        for round_no in range(1, args.rounds + 1):
            load = EnrolAndMove(server.base, SLUG, args.clients, headers, f"r{round_no}")
            load.start()
            delay = rng.uniform(args.min_seconds, args.max_seconds)
            time.sleep(delay)
            server.kill9()
            load.finish()
            outcomes.update(load.outcomes)
            commands.update(load.commands)
            n_acked = sum(1 for v in load.outcomes.values() if acked(v))
            kills.append(
                {
                    "round": round_no,
                    "after_s": round(delay, 2),
                    "sent": len(load.outcomes),
                    "acked": n_acked,
                    "webhooks_received_so_far": len(receiver.snapshot()[0]),
                }
            )
            report(
                f"round {round_no}: killed after {delay:.1f} s; {len(load.outcomes)} sent,"
                f" {n_acked} acknowledged; {kills[-1]['webhooks_received_so_far']} webhooks so far"
            )
            server = start()
            kills[-1]["restart_ready_s"] = server.wait_ready(180)

        # Retry every command that got no 2xx, with its key: each must end applied exactly once.
        checked = settle(server.base, headers, url, SLUG, outcomes, commands)
        settings = Settings(database_url=url, jwt_secret=SECRET, data_dir=data_dir)
        views = outbox.converged(url, settings, server, f"g_{SLUG}", endpoint["id"], receiver)
        webhooks = views.pop("webhooks")
        result = {
            "rounds": args.rounds,
            "seed": args.seed,
            "load": "enrol, then move each acknowledged enrolment to RRC-1",
            "kills": kills,
            "commands_sent": len(outcomes),
            "acknowledged": len(checked["acked"]),
            "unanswered_or_failed": len(checked["unanswered"]),
            "first_answers": dict(Counter(str(v) for v in outcomes.values())),
            "retries": checked["retries"],
            "lost": len(checked["lost"]),
            "duplicated": len(checked["duplicated"]),
            "half_applied_or_missing_after_retry": len(checked["half"]),
            **views,
            "webhooks": webhooks,
            "machine": {"nproc": os.cpu_count(), "load": os.getloadavg()},
        }
        out = write_json(f"crash-{stamp()}.json", result)
        report(json.dumps({k: v for k, v in result.items() if k not in ("kills", "webhooks")}))
        report(outbox.webhook_summary(webhooks))
        report(f"results: {out}")
        ok = (
            not checked["lost"]
            and not checked["duplicated"]
            and not checked["half"]
            and views["views_caught_up"]
            and views["views_equal_rebuild"]
            and outbox.webhooks_ok(webhooks)
        )
        report("PASS" if ok else f"FAIL (the service's output: {log_path})")
        return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
