"""Command load: wrk driven by tests/perf/commands.lua, and clients that enrol participants and
move each to RRC-1, with the retries and the log check that settle every command."""

from __future__ import annotations

import json
import secrets
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
import psycopg
from psycopg import sql

from tests.perf.harness.results import ROOT, log
from tests.perf.harness.world import RRC, enrolment

LUA = ROOT / "tests" / "perf" / "commands.lua"
# Enrolments and stage transitions: the events the load's commands append.
LOAD_TOPICS = ["%Participant.Enrolled", "%Participant.StageTransitioned"]
MOVE = {"to_stage": 2, "placement": "rrc", "facility": RRC, "occurred_at": "2026-03-02T09:00:00Z"}


def run_wrk(
    base: str,
    *,
    duration: int,
    connections: int,
    threads: int,
    config: Path,
    ids_prefix: Path,
    timeout_s: int = 10,
) -> dict[str, Any]:
    """wrk with commands.lua for `duration` seconds: its BENCH_JSON figures, its output, and
    the requests and 2xx answers per second."""
    cmd = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{duration}s",
        f"--timeout={timeout_s}s",
        "--latency",
        "-s",
        str(LUA),
        base,
        "--",
        str(config),
        str(ids_prefix),
    ]
    log("running " + " ".join(cmd))
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 120, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"wrk failed ({out.returncode}): {out.stderr}\n{out.stdout}")
    data: dict[str, Any] | None = None
    for line in out.stdout.splitlines():
        if line.startswith("BENCH_JSON "):
            data = json.loads(line[len("BENCH_JSON ") :])
    if data is None:
        raise RuntimeError(f"wrk printed no BENCH_JSON line:\n{out.stdout}\n{out.stderr}")
    data["stdout"] = out.stdout
    data["non_2xx_reported_by_wrk"] = 0
    for line in out.stdout.splitlines():
        if "Non-2xx or 3xx responses:" in line:
            data["non_2xx_reported_by_wrk"] = int(line.split(":")[1])
    seconds = data["duration_us"] / 1e6
    data["requests_per_s"] = round(data["requests"] / seconds, 1)
    ok = sum(n for code, n in data["statuses"].items() if code.startswith("2"))
    data["ok_2xx"] = ok
    data["non_2xx"] = data["requests"] - ok if data["statuses"] else data["non_2xx_reported_by_wrk"]
    data["ok_per_s"] = round(ok / seconds, 1)
    data["command"] = " ".join(cmd)
    return data


def acked(outcome: Any) -> bool:
    """Whether a command's outcome (a status, or the error that stood for one) is a 2xx."""
    return isinstance(outcome, int) and outcome < 300


class Clients:
    """`clients` threads, each running `run(client_no)` until `stop` is set."""

    join_timeout = 15.0

    def __init__(self, clients: int) -> None:
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.threads = [
            threading.Thread(target=self.run, args=(i,), name=f"client-{i}", daemon=True)
            for i in range(clients)
        ]

    def run(self, client_no: int) -> None:
        """One client's loop (its thread)."""
        raise NotImplementedError

    def start(self) -> None:
        """Start the clients."""
        for t in self.threads:
            t.start()

    def finish(self) -> None:
        """Stop the clients (each after its request in flight; bounded)."""
        self.stop.set()
        for t in self.threads:
            t.join(timeout=self.join_timeout)


class EnrolAndMove(Clients):
    """Clients sending commands until stopped: each enrols a participant and, once that is
    acknowledged, moves them to RRC-1. Every command's body and outcome are recorded (by its
    Idempotency-Key, which is also its request id), so what got no answer can be retried."""

    timeout = 10.0

    def __init__(
        self, base: str, slug: str, clients: int, headers: dict[str, str], prefix: str
    ) -> None:
        self.base = base
        self.participants = f"/v1/grantees/{slug}/participants"
        self.headers = headers
        self.prefix = prefix
        self.outcomes: dict[str, Any] = {}
        self.commands: dict[str, tuple[str, dict[str, Any]]] = {}
        super().__init__(clients)

    def run(self, client_no: int) -> None:
        """Enrol, then move what was acknowledged, until stopped."""
        n = 0
        with httpx.Client(base_url=self.base, timeout=self.timeout) as http:
            while not self.stop.is_set():
                n += 1
                key = f"{self.prefix}-c{client_no}-{n}-{secrets.token_hex(3)}"
                body = enrolment("Crash", key[:40], entry="2026-02-01")
                r = self.command(http, key, self.participants, body)
                if r is not None and r.status_code == 201:
                    path = f"{self.participants}/{r.json()['id']}/stage-transitions"
                    self.command(http, key + "-m", path, MOVE)

    def command(
        self, http: httpx.Client, key: str, path: str, body: dict[str, Any]
    ) -> httpx.Response | None:
        """Send one command with its key; record its outcome; its answer, if any."""
        with self.lock:
            self.commands[key] = (path, body)
        started = time.monotonic()
        response: httpx.Response | None = None
        try:
            response = http.post(
                path,
                json=body,
                headers={**self.headers, "Idempotency-Key": key, "X-Request-ID": key},
            )
            outcome: Any = response.status_code
        except httpx.HTTPError as e:
            outcome = type(e).__name__
        self.record(key, outcome, response, started)
        return response

    def record(
        self, key: str, outcome: Any, response: httpx.Response | None, started: float
    ) -> None:
        """Keep a command's outcome (a subclass may time it too)."""
        with self.lock:
            self.outcomes[key] = outcome


def retry_unanswered(
    base: str,
    headers: dict[str, str],
    outcomes: dict[str, Any],
    commands: dict[str, tuple[str, dict[str, Any]]],
    timeout: float = 10,
    attempts: int = 10,
) -> tuple[list[str], Counter[str]]:
    """Send again, with its key, every command that got no 2xx; each must end applied once.
    The retry carries request id `<key>-retry`, so a retry that applies it is told apart. Like
    any client it tries again (at most `attempts` times) while the answer is a 503 (after its
    `Retry-After`) or none at all: only a final answer settles a command."""
    unanswered = [k for k, v in outcomes.items() if not acked(v)]
    retried: Counter[str] = Counter()
    with httpx.Client(base_url=base, timeout=timeout) as http:
        for key in unanswered:
            path, body = commands[key]
            final = "no answer"
            for _ in range(attempts):
                try:
                    r = http.post(
                        path,
                        json=body,
                        headers={**headers, "Idempotency-Key": key, "X-Request-ID": key + "-retry"},
                    )
                except httpx.HTTPError:
                    retried["retry_again"] += 1
                    time.sleep(1)
                    continue
                final = "replayed" if r.headers.get("idempotent-replayed") else str(r.status_code)
                if r.status_code != 503:
                    break
                retried["retry_again"] += 1
                time.sleep(min(float(r.headers.get("retry-after") or 1), 5))
            retried[final] += 1
    return unanswered, retried


def events_by_request(
    url: str, slugs: Sequence[str], topics: Sequence[str] = ("%",)
) -> dict[str, Counter[str]]:
    """Per request id, the event types the grantees' logs hold under it (of the `topics`,
    LIKE patterns)."""
    out: dict[str, Counter[str]] = {}
    with psycopg.connect(url) as conn:
        for slug in slugs:
            rows = conn.execute(
                sql.SQL(
                    "SELECT convert_from(state, 'UTF8')::json->>'request_id', topic FROM {}.events"
                    " WHERE topic LIKE ANY(%s)"
                ).format(sql.Identifier(f"g_{slug}")),
                (list(topics),),
            ).fetchall()
            for rid, topic in rows:
                if rid is not None:
                    name = str(topic).rsplit(".", 1)[-1].rsplit(":", 1)[-1]
                    out.setdefault(str(rid), Counter())[name] += 1
    return out


def settle(
    base: str,
    headers: dict[str, str],
    url: str,
    slug: str,
    outcomes: dict[str, Any],
    commands: dict[str, tuple[str, dict[str, Any]]],
    timeout: float = 10,
) -> dict[str, Any]:
    """Retry what got no 2xx, then match the log with the answers: acknowledged commands lost
    or doubled, and retried ones not applied exactly once (under the key or the retry's id)."""
    unanswered, retried = retry_unanswered(base, headers, outcomes, commands, timeout)
    counts = {
        rid: sum(c.values()) for rid, c in events_by_request(url, [slug], LOAD_TOPICS).items()
    }
    acked_keys = [k for k, v in outcomes.items() if acked(v)]
    return {
        "acked": acked_keys,
        "unanswered": unanswered,
        "retries": dict(retried),
        "lost": [k for k in acked_keys if counts.get(k, 0) == 0],
        "duplicated": [k for k, c in counts.items() if c > 1],
        # A retry of a command that never committed commits under the retry's request id.
        "half": [k for k in unanswered if counts.get(k, 0) + counts.get(k + "-retry", 0) != 1],
    }
