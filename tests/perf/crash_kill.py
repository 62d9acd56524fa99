"""Crash safety: kill -9 the API, the projection worker and the webhook dispatcher at random
moments under command load, 20 times, then check that nothing acknowledged was lost or doubled
and nothing unacknowledged was half-applied, and that the views converge to a rebuild.

    uv run python tests/perf/crash_kill.py [--rounds 20] [--clients 8]

Runs `prowd serve` (API in 2 processes + worker + dispatcher) against a scratch database on the
server named by --database-url (default: the local PostgreSQL), created and dropped here. All
traffic goes to 127.0.0.1. Every command carries an Idempotency-Key and an X-Request-ID; the
events of a command carry its request id, which is how the log is matched with the answers.
Prints a summary and writes JSON to tests/perf/results/crash-<timestamp>.json.
Not a pytest test (no test_ prefix).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import psycopg  # noqa: E402
from psycopg.conninfo import make_conninfo  # noqa: E402

from services import projector  # noqa: E402
from services.auth import issue_token  # noqa: E402
from services.database import Database  # noqa: E402
from services.settings import Settings  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
SLUG = "crash_g1"
SECRET = "crash-secret-" + "x" * 40


def log(msg: str) -> None:
    print(f"[{datetime.now(UTC):%H:%M:%S}] {msg}", flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def prowd() -> list[str]:
    venv = ROOT / ".venv" / "bin" / "prowd"
    return [str(venv)] if venv.exists() else ["uv", "run", "--project", str(ROOT), "prowd"]


class Server:
    def __init__(self, url: str, port: int, data_dir: Path) -> None:
        env = {
            **os.environ,
            "PROWD_DATABASE_URL": url,
            "PROWD_JWT_SECRET": SECRET,
            "PROWD_DATA_DIR": str(data_dir),
            "PROWD_LOG_LEVEL": "warning",
            "PROWD_RATE_LIMIT_TOKEN": "0",
            "PROWD_RATE_LIMIT_IP": "0",
        }
        self.base = f"http://127.0.0.1:{port}"
        self.proc = subprocess.Popen(
            [*prowd(), "serve", "--port", str(port), "--workers", "2"],
            env=env,
            cwd=ROOT,
            start_new_session=True,  # its own process group: one killpg reaches every child
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.base + "/ready", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise SystemExit("the server did not become ready")

    def kill9(self) -> None:
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.kill9()


class Load:
    """Clients enrolling participants until stopped; every attempt and its outcome recorded."""

    def __init__(self, base: str, clients: int, headers: dict[str, str], round_no: int) -> None:
        self.base = base
        self.headers = headers
        self.stop = threading.Event()
        self.outcomes: dict[str, Any] = {}
        self.lock = threading.Lock()
        self.threads = [
            threading.Thread(target=self.run, args=(round_no, i), daemon=True)
            for i in range(clients)
        ]

    def run(self, round_no: int, client_no: int) -> None:
        n = 0
        with httpx.Client(base_url=self.base, timeout=10) as http:
            while not self.stop.is_set():
                n += 1
                key = f"r{round_no}-c{client_no}-{n}-{secrets.token_hex(3)}"
                body = enrolment(key)
                try:
                    r = http.post(
                        f"/v1/grantees/{SLUG}/participants",
                        json=body,
                        headers={**self.headers, "Idempotency-Key": key, "X-Request-ID": key},
                    )
                    outcome: Any = r.status_code
                except httpx.HTTPError as e:
                    outcome = type(e).__name__
                with self.lock:
                    self.outcomes[key] = outcome

    def start(self) -> None:
        for t in self.threads:
            t.start()

    def finish(self) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(timeout=15)


def enrolment(key: str) -> dict[str, Any]:
    return {
        "first_name": "Crash",
        "last_name": key[:40],
        "date_of_birth": "1990-01-01",
        "program_entry_date": "2026-02-01",
        "facility": "FCI-A",
        "cohort": "C1",
    }


def setup(base: str, headers: dict[str, str]) -> None:
    admin = {"Authorization": "Bearer " + token("platform_admin", "*")}
    r = httpx.post(
        base + "/v1/grantees",
        json={"slug": SLUG, "name": "Crash test", "grant_number": "FS-0000-26"},
        headers=admin,
    )
    assert r.status_code == 201, r.text
    for body in (
        {"code": "FCI-A", "name": "FCI Alpha", "kind": "bop_institution"},
        {"code": "RRC-1", "name": "RRC One", "kind": "rrc"},
    ):
        assert (
            httpx.post(
                f"{base}/v1/grantees/{SLUG}/facilities", json=body, headers=headers
            ).status_code
            == 201
        )
    r = httpx.post(
        f"{base}/v1/grantees/{SLUG}/cohorts",
        json={"code": "C1", "name": "Cohort 1", "facility": "FCI-A", "start_date": "2026-01-05"},
        headers=headers,
    )
    assert r.status_code == 201, r.text


def token(role: str, grantee: str) -> str:
    return issue_token(
        Settings(jwt_secret=SECRET), subject=f"crash-{role}", roles=[role], grantees=[grantee]
    )


def request_counts(url: str) -> Counter[str]:
    """Enrolment events in the log per request id."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            f"SELECT convert_from(state, 'UTF8')::json->>'request_id' FROM g_{SLUG}.events"
            " WHERE topic LIKE %s",
            ("%Participant.Enrolled",),
        ).fetchall()
    return Counter(r[0] for r in rows)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument(
        "--database-url",
        default=os.environ.get("PROWD_DATABASE_URL") or "postgresql://postgres@127.0.0.1:5432/test",
    )
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--min-seconds", type=float, default=1.0)
    ap.add_argument("--max-seconds", type=float, default=4.0)
    ap.add_argument("--seed", type=int, default=None)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    name = f"prowd_crash_{secrets.token_hex(4)}"
    with psycopg.connect(args.database_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = make_conninfo(args.database_url, dbname=name)
    data_dir = Path(os.environ.get("TMPDIR", "/tmp")) / name
    data_dir.mkdir(parents=True, exist_ok=True)
    headers = {"Authorization": "Bearer " + token("coordinator", SLUG)}
    outcomes: dict[str, Any] = {}
    kills: list[dict[str, Any]] = []
    try:
        port = free_port()
        server = Server(url, port, data_dir)
        server.wait_ready()
        setup(server.base, headers)
        for round_no in range(1, args.rounds + 1):
            load = Load(server.base, args.clients, headers, round_no)
            load.start()
            delay = rng.uniform(args.min_seconds, args.max_seconds)
            time.sleep(delay)
            server.kill9()
            load.finish()
            outcomes.update(load.outcomes)
            acked = sum(1 for v in load.outcomes.values() if isinstance(v, int) and v < 300)
            kills.append(
                {
                    "round": round_no,
                    "after_s": round(delay, 2),
                    "sent": len(load.outcomes),
                    "acked": acked,
                }
            )
            log(
                f"round {round_no}: killed after {delay:.1f} s; {len(load.outcomes)} sent, {acked} acknowledged"
            )
            server = Server(url, port, data_dir)
            server.wait_ready()

        # Retry every command that got no 2xx, with its key: each must end applied exactly once.
        unanswered = [k for k, v in outcomes.items() if not (isinstance(v, int) and v < 300)]
        retried = Counter()
        with httpx.Client(base_url=server.base, timeout=10) as http:
            for key in unanswered:
                r = http.post(
                    f"/v1/grantees/{SLUG}/participants",
                    json=enrolment(key),
                    headers={**headers, "Idempotency-Key": key, "X-Request-ID": key + "-retry"},
                )
                retried[
                    "replayed" if r.headers.get("idempotent-replayed") else str(r.status_code)
                ] += 1

        counts = request_counts(url)
        acked_keys = [k for k, v in outcomes.items() if isinstance(v, int) and v < 300]
        lost = [k for k in acked_keys if counts.get(k, 0) == 0]
        duplicated = [k for k, c in counts.items() if c > 1]
        # A retry of a command that never committed commits under the retry's request id.
        half = [k for k in unanswered if counts.get(k, 0) + counts.get(k + "-retry", 0) != 1]

        # Views: caught up with the log, and equal to a fresh rebuild of it.
        settings = Settings(database_url=url, jwt_secret=SECRET, data_dir=data_dir)
        db = Database(url, settings, name="crash-check").open()
        try:
            schema = f"g_{SLUG}"
            head = db.fetchone(f"SELECT max(notification_id) FROM {schema}.events")[0]
            deadline = time.monotonic() + 60
            while projector.lowest_position(db, schema) < head and time.monotonic() < deadline:
                time.sleep(0.2)
            caught_up = projector.lowest_position(db, schema) >= head
            server.stop()
            live = projector.digests(db, schema)
            projector.rebuild_views(db, schema)
            rebuilt = projector.digests(db, schema)
        finally:
            db.close()

        result = {
            "rounds": args.rounds,
            "kills": kills,
            "commands_sent": len(outcomes),
            "acknowledged": len(acked_keys),
            "unanswered_or_failed": len(unanswered),
            "retries": dict(retried),
            "lost": len(lost),
            "duplicated": len(duplicated),
            "half_applied_or_missing_after_retry": len(half),
            "views_caught_up": caught_up,
            "views_equal_rebuild": live == rebuilt,
            "head_position": head,
            "machine": {"nproc": os.cpu_count(), "load": os.getloadavg()},
        }
        RESULTS.mkdir(exist_ok=True)
        out = RESULTS / f"crash-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
        out.write_text(json.dumps(result, indent=2))
        log(json.dumps({k: v for k, v in result.items() if k != "kills"}))
        log(f"results: {out}")
        ok = not lost and not duplicated and not half and caught_up and live == rebuilt
        log("PASS" if ok else "FAIL")
        return 0 if ok else 1
    finally:
        with psycopg.connect(args.database_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    sys.exit(main())
