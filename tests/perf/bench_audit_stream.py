"""Auditor event-stream benchmark: events/s through `GET …/audit/events` and the API process's
peak RSS while it streams a long log page by page.

Run from the repository root:

    uv run python tests/perf/bench_audit_stream.py [--events 200000] [--database-url URL]

A scratch database (`prowd_bench_<random>`) is created on the server and dropped at the end; the
API runs as a real process (`prowd serve --workers 1 --no-worker`: uvicorn in that process) on
127.0.0.1. The log is filled through the grantee's own `append_events` (so the chain is real)
with copies of one stored event under fresh stream ids.
Results are printed and written to tests/perf/results/audit-stream-<timestamp>.json.

Not a pytest test: the file name does not match test_*.py and it defines no test_ function.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import psycopg

from tests.perf.harness.meters import rss_kb
from tests.perf.harness.postgres import scratch_database
from tests.perf.harness.results import stamp, write_json
from tests.perf.harness.server import Server
from tests.perf.harness.world import Tokens, create_grantee

SECRET = "bench-secret-" + "z" * 40
TOKENS = Tokens(SECRET, "bench")
FILL = (
    "SELECT count(*) FROM g_bench.append_events("
    "(SELECT array_agg(gen_random_uuid()) FROM generate_series(1, %(k)s)),"
    " array_fill(1::bigint, ARRAY[%(k)s]), array_fill(%(topic)s::text, ARRAY[%(k)s]),"
    " array_fill(%(state)s::bytea, ARRAY[%(k)s]))"
)


def memory(pid: int) -> dict[str, int | None]:
    """VmHWM (peak) and VmRSS of a process, in kB."""
    return {key: rss_kb(pid, key) for key in ("VmHWM", "VmRSS")}


def fill(url: str, events: int) -> None:
    """Copies of the log's last event until it holds `events` events."""
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT topic, state FROM g_bench.events ORDER BY notification_id DESC LIMIT 1"
        ).fetchone()
        assert row is not None
        done = 1
        while done < events:
            k = min(20_000, events - done)
            conn.execute(FILL, {"k": k, "topic": row[0], "state": row[1]})
            done += k


def stream(client: httpx.Client) -> tuple[int, int]:
    """Read the whole log as the auditor, 10,000 events a page: lines and bytes read."""
    after, lines, size = 0, 0, 0
    while True:
        with client.stream(
            "GET",
            "/v1/grantees/bench/audit/events",
            params={"after": after, "limit": 10_000},
            headers=TOKENS.auth("auditor", "bench"),
        ) as r:
            if int(r.headers["x-event-count"]) == 0:
                return lines, size
            for line in r.iter_lines():
                lines += 1
                size += len(line) + 1
            after = int(r.headers["x-next-after"])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument(
        "--database-url",
        default=os.environ.get(
            "PROWD_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
        ),
    )
    args = parser.parse_args()
    with scratch_database(args.database_url) as url, tempfile.TemporaryDirectory() as tmp:
        server = Server(url, SECRET, Path(tmp) / "server.log", options=["--no-worker"])
        try:
            server.wait_ready()
            with httpx.Client(base_url=server.base, timeout=120) as client:
                create_grantee(client, TOKENS, "bench", name="Bench", rrc=False, cohort=False)
                fill(url, args.events)
                before = memory(server.proc.pid)
                started = time.perf_counter()
                lines, size = stream(client)
                seconds = time.perf_counter() - started
            result: dict[str, Any] = {
                "events": lines,
                "seconds": round(seconds, 2),
                "events_per_s": round(lines / seconds),
                "mb_streamed": round(size / 1e6, 1),
                "api_rss_kb_before": before,
                "api_rss_kb_after": memory(server.proc.pid),
            }
        finally:
            server.stop()
    print(json.dumps(result, indent=2))
    write_json(f"audit-stream-{stamp()}.json", result)


if __name__ == "__main__":
    main()
