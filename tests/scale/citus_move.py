"""Move a grantee between Citus workers while its commands flow (issue 25, point 4).

    PROWD_SCRATCH_RESET="tests/scale/citus_cluster.sh reset" \\
      uv run python tests/scale/citus_move.py \\
      --database-url postgresql://postgres@127.0.0.1:9700/prowd [--grantees 4] [--clients 8]

Needs the local cluster of tests/scale/citus_cluster.sh. Starts `prowd serve` (2 API
processes, projection worker, webhook dispatcher) on the coordinator, registers `--grantees`
grantees (each a distributed schema, placed by Citus on one of the two workers), subscribes a
webhook receiver (in this process, on loopback) for the first, and sends it enrol-and-move
commands from `--clients` clients (tests/perf/harness/load.py). After `--before` seconds it
moves that grantee's schema to the other worker with `citus_schema_move` (logical
replication, `shard_transfer_mode => 'block_writes'` unless told otherwise), keeps the load on
for `--after` seconds, then retries every command that got no 2xx with its key and matches
the log with the answers: sent, answered, stored, lost, duplicated. Then the views caught up
with the log and equal to a rebuild, the webhooks delivered once each, and the hash chain
verified (`prowd verify`). Prints the placement before and after, and a JSON summary.
Not a pytest test.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import psycopg

from services.settings import Settings
from tests.perf.harness import outbox
from tests.perf.harness.load import EnrolAndMove, settle
from tests.perf.harness.postgres import DATABASE_URL, scratch_database
from tests.perf.harness.receiver import HookReceiver
from tests.perf.harness.results import report, stamp, write_json
from tests.perf.harness.server import Server, free_port
from tests.perf.harness.world import Tokens, create_grantee

SECRET = "citus-move-secret-" + "x" * 40
TOKENS = Tokens(SECRET, "move")
SERVER_ENV = {"PROWD_WEBHOOK_ALLOWED_NETWORKS": "127.0.0.1/32"}

PLACEMENT = (
    "SELECT s.schema_name::text, n.nodename, n.nodeport, count(*)"
    " FROM citus_schemas s JOIN citus_shards c ON c.colocation_id = s.colocation_id"
    " JOIN pg_dist_node n ON n.nodename = c.nodename AND n.nodeport = c.nodeport"
    " GROUP BY 1, 2, 3 ORDER BY 1"
)


def placement(url: str) -> dict[str, tuple[str, int, int]]:
    """Each distributed schema's node (host, port) and its number of shards."""
    with psycopg.connect(url) as conn:
        return {s: (h, p, n) for s, h, p, n in conn.execute(PLACEMENT).fetchall()}


def workers(url: str) -> list[tuple[str, int]]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT node_name, node_port FROM citus_get_active_worker_nodes() ORDER BY node_port"
        ).fetchall()
    return [(h, p) for h, p in rows]


class TimedLoad(EnrolAndMove):
    """EnrolAndMove that also keeps each command's start and duration (monotonic seconds)."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.times: list[tuple[float, float]] = []

    def record(
        self, key: str, outcome: Any, response: httpx.Response | None, started: float
    ) -> None:
        super().record(key, outcome, response, started)
        with self.lock:
            self.times.append((started, time.monotonic() - started))


def latencies(load: TimedLoad, start: float, end: float) -> dict[str, Any]:
    """The slowest command, and the commands over 1 s, that were in flight during [start, end]."""
    during = [d for s, d in load.times if s <= end and s + d >= start]
    return {
        "commands_during_move": len(during),
        "slowest_s": round(max(during, default=0.0), 2),
        "over_1s": sum(1 for d in during if d > 1),
        "slowest_outside_move_s": round(
            max((d for s, d in load.times if s > end or s + d < start), default=0.0), 2
        ),
    }


class Mover(threading.Thread):
    """Runs citus_schema_move on its own connection; records how long it took."""

    def __init__(self, url: str, schema: str, to: tuple[str, int], mode: str) -> None:
        super().__init__(name="mover", daemon=True)
        self.url, self.schema, self.to, self.mode = url, schema, to, mode
        self.result: dict[str, Any] = {}

    def run(self) -> None:
        started = time.monotonic()
        try:
            with psycopg.connect(self.url, autocommit=True) as conn:
                conn.execute(
                    "SELECT citus_schema_move(%s::regnamespace, %s, %s, shard_transfer_mode => %s)",
                    (self.schema, self.to[0], self.to[1], self.mode),
                )
            self.result = {"ok": True}
        except psycopg.Error as e:
            self.result = {"ok": False, "error": str(e)}
        self.result["seconds"] = round(time.monotonic() - started, 2)


def verify(url: str, slug: str, env: dict[str, str]) -> dict[str, Any]:
    """`prowd verify` of the grantee's chain: its exit code and last lines."""
    out = subprocess.run(
        ["uv", "run", "prowd", "verify", "--grantee", slug],
        env={**os.environ, **env, "PROWD_DATABASE_URL": url, "PROWD_JWT_SECRET": SECRET},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    return {"exit": out.returncode, "output": (out.stdout + out.stderr).strip()[-600:]}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--database-url", default=DATABASE_URL)
    ap.add_argument("--grantees", type=int, default=4)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--before", type=float, default=10.0)
    ap.add_argument("--after", type=float, default=10.0)
    ap.add_argument("--mode", default="block_writes", help="shard_transfer_mode")
    args = ap.parse_args()
    slugs = [f"move_g{i}" for i in range(1, args.grantees + 1)]
    slug, schema = slugs[0], f"g_{slugs[0]}"
    headers = TOKENS.auth("coordinator", slug)
    receiver = HookReceiver()
    with contextlib.ExitStack() as stack:
        stack.callback(receiver.close)
        url = stack.enter_context(scratch_database(args.database_url, "prowd_move"))
        data_dir = Path(os.environ.get("TMPDIR", "/tmp")) / "prowd_citus_move"
        data_dir.mkdir(parents=True, exist_ok=True)
        env = {**SERVER_ENV, "PROWD_DATA_DIR": str(data_dir)}
        server = Server(url, SECRET, data_dir / "server.log", port=free_port(), workers=2, env=env)
        stack.callback(server.stop)
        server.wait_ready(180)
        with httpx.Client(base_url=server.base, timeout=60) as client:
            for s in slugs:
                create_grantee(client, TOKENS, s, name=f"Move {s}")
        endpoint = outbox.subscribe(server.base, TOKENS, slug, receiver.url())
        receiver.trust(endpoint["secret"])
        before = placement(url)
        report("placement before: " + json.dumps(before))
        here = before[schema][:2]
        to = next(w for w in workers(url) if w != here)
        load = TimedLoad(server.base, slug, args.clients, headers, "mv")
        # Another grantee on the worker the moved one leaves: its commands should not wait.
        other = next(s for s in slugs[1:] if before[f"g_{s}"][:2] == here)
        bystander = TimedLoad(server.base, other, 2, TOKENS.auth("coordinator", other), "by")
        load.start()
        bystander.start()
        time.sleep(args.before)
        sent_before = len(load.outcomes)
        mover = Mover(url, schema, to, args.mode)
        report(f"moving {schema} from {here} to {to} ({args.mode}) after {sent_before} commands")
        move_start = time.monotonic()
        mover.start()
        mover.join()
        move_end = time.monotonic()
        report(f"move: {mover.result}")
        time.sleep(args.after)
        load.finish()
        bystander.finish()
        stall = latencies(load, move_start, move_end)
        stall_other = latencies(bystander, move_start, move_end)
        report(f"moved grantee's commands: {stall}; {other}'s: {stall_other}")
        after = placement(url)
        report("placement after: " + json.dumps(after))
        checked = settle(server.base, headers, url, slug, load.outcomes, load.commands)
        settings = Settings(database_url=url, jwt_secret=SECRET, data_dir=data_dir)
        views = outbox.converged(url, settings, server, schema, endpoint["id"], receiver)
        webhooks = views.pop("webhooks")
        chain = verify(url, slug, env)
        # Commands in the log once: acknowledged ones not lost, and unanswered ones the
        # retry applied exactly once.
        stored = len(checked["acked"]) - len(checked["lost"])
        stored += len(checked["unanswered"]) - len(checked["half"])
        result = {
            "grantees": slugs,
            "moved": schema,
            "from": here,
            "to": to,
            "move": mover.result,
            "moved_grantee_latency": stall,
            "bystander": other,
            "bystander_latency": stall_other,
            "bystander_answers": dict(Counter(str(v) for v in bystander.outcomes.values())),
            "placement_before": before,
            "placement_after": after,
            "commands_sent": len(load.outcomes),
            "answered_2xx_first_time": len(checked["acked"]),
            "first_answers": dict(Counter(str(v) for v in load.outcomes.values())),
            "unanswered_or_failed": len(checked["unanswered"]),
            "retries": checked["retries"],
            "stored": stored,
            "lost": len(checked["lost"]),
            "duplicated": len(checked["duplicated"]),
            "half_applied_or_missing_after_retry": len(checked["half"]),
            **views,
            "webhooks": webhooks,
            "verify": chain,
        }
        out = write_json(f"citus-move-{stamp()}.json", result)
        report(json.dumps({k: v for k, v in result.items() if k != "webhooks"}, default=str))
        report(outbox.webhook_summary(webhooks))
        report(f"results: {out}")
        ok = (
            mover.result.get("ok")
            and after[schema][:2] == to
            and not checked["lost"]
            and not checked["duplicated"]
            and not checked["half"]
            and views["views_caught_up"]
            and views["views_equal_rebuild"]
            and outbox.webhooks_ok(webhooks)
            and chain["exit"] == 0
        )
        report("PASS" if ok else "FAIL")
        return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
