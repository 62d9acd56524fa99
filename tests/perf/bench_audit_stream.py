"""Auditor event-stream benchmark: events/s through `GET …/audit/events` and the API process's
peak RSS while it streams a long log page by page.

Run from the repository root:

    uv run python tests/perf/bench_audit_stream.py [--events 200000] [--database-url URL]

A scratch database (`prowd_bench_<random>`) is created on the server and dropped at the end; the
API runs as a real uvicorn process on 127.0.0.1. The log is filled through the grantee's own
`append_events` (so the chain is real) with copies of one stored event under fresh stream ids.
Results are printed and written to tests/perf/results/audit-stream-<timestamp>.json.

Not a pytest test: the file name does not match test_*.py and it defines no test_ function.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg
from psycopg.conninfo import make_conninfo

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from services.identity.tokens import issue_token  # noqa: E402
from services.settings import Settings  # noqa: E402

PORT = 8765
SECRET = "bench-secret-" + "z" * 40
FILL = (
    "SELECT count(*) FROM g_bench.append_events("
    "(SELECT array_agg(gen_random_uuid()) FROM generate_series(1, %(k)s)),"
    " array_fill(1::bigint, ARRAY[%(k)s]), array_fill(%(topic)s::text, ARRAY[%(k)s]),"
    " array_fill(%(state)s::bytea, ARRAY[%(k)s]))"
)


def memory(pid: int) -> dict[str, int]:
    """VmHWM (peak) and VmRSS of a process, in kB."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmHWM", "VmRSS"):
            out[key] = int(value.split()[0])
    return out


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
    name = f"prowd_bench_{secrets.token_hex(4)}"
    with psycopg.connect(args.database_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = make_conninfo(args.database_url, dbname=name)
    env = {
        **os.environ,
        "PROWD_DATABASE_URL": url,
        "PROWD_JWT_SECRET": SECRET,
        "PROWD_LOG_LEVEL": "warning",
    }
    server = subprocess.Popen(
        [
            *(sys.executable, "-m", "uvicorn", "--factory", "services.api.app:app_from_env"),
            *("--host", "127.0.0.1", "--port", str(PORT), "--log-level", "warning"),
        ],
        env=env,
        cwd=ROOT,
    )
    settings = Settings(jwt_secret=SECRET)

    def token(role: str, grantee: str) -> dict[str, str]:
        t = issue_token(settings, subject="bench", roles=[role], grantees=[grantee])
        return {"Authorization": f"Bearer {t}"}

    try:
        client = httpx.Client(base_url=f"http://127.0.0.1:{PORT}", timeout=120)
        for _ in range(150):
            try:
                client.get("/health")
                break
            except httpx.TransportError:
                time.sleep(0.2)
        r = client.post(
            "/v1/grantees",
            json={"slug": "bench", "name": "Bench", "grant_number": "FS-0000-26"},
            headers=token("platform_admin", "*"),
        )
        r.raise_for_status()
        client.post(
            "/v1/grantees/bench/facilities",
            json={"code": "FCI-A", "name": "FCI A", "kind": "bop_institution"},
            headers=token("coordinator", "bench"),
        ).raise_for_status()
        with psycopg.connect(url, autocommit=True) as conn:
            row = conn.execute(
                "SELECT topic, state FROM g_bench.events ORDER BY notification_id DESC LIMIT 1"
            ).fetchone()
            assert row is not None
            done = 1
            while done < args.events:
                k = min(20_000, args.events - done)
                conn.execute(FILL, {"k": k, "topic": row[0], "state": row[1]})
                done += k
        before = memory(server.pid)
        started = time.perf_counter()
        after, lines, size = 0, 0, 0
        while True:
            with client.stream(
                "GET",
                "/v1/grantees/bench/audit/events",
                params={"after": after, "limit": 10_000},
                headers=token("auditor", "bench"),
            ) as r:
                if int(r.headers["x-event-count"]) == 0:
                    break
                for line in r.iter_lines():
                    lines += 1
                    size += len(line) + 1
                after = int(r.headers["x-next-after"])
        seconds = time.perf_counter() - started
        result: dict[str, Any] = {
            "events": lines,
            "seconds": round(seconds, 2),
            "events_per_s": round(lines / seconds),
            "mb_streamed": round(size / 1e6, 1),
            "api_rss_kb_before": before,
            "api_rss_kb_after": memory(server.pid),
        }
    finally:
        server.terminate()
        server.wait()
        with psycopg.connect(args.database_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    print(json.dumps(result, indent=2))
    out = ROOT / "tests" / "perf" / "results"
    out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    (out / f"audit-stream-{stamp}.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
