"""Soak: 30 minutes of mixed load on `prowd serve`, with one projection rebuild in the middle.

    uv run python tests/perf/soak.py [--minutes 30] [--rate 80] [--clients 8]

Runs `prowd serve --workers 2` (two API processes, the projection worker and the webhook
dispatcher, one process group) on a scratch database in a private PostgreSQL cluster (initdb
in a temporary directory, a free loopback port; with --shared-server, beside --database-url
instead), all dropped at the end; all traffic goes to 127.0.0.1. The service runs the code of
one commit (--code, default HEAD, exported with `git archive`; 'worktree' for the working
tree), so edits made while the soak runs cannot reach it.

Setup (over HTTP): --grantees grantees, each with two certified mentors, ten RRC residents in
individual pairings and one webhook endpoint (RRC-1: arrivals at and departures from the RRC,
held meetings) pointing at a loopback receiver (a subprocess of this script that verifies
every signature and counts deliveries by webhook-id). --established N then enrols N
participants per grantee before the load, so the service runs as for established grantees:
views, per-process caches and quarterly reports at that size from the start, not growing
through the run (docs/reliability.md: with 20,000 the API processes level off by minute 8).

Load: --clients threads, open loop at --rate operations/s in all (each thread on its own fixed
schedule; a slot more than 1 s late is skipped and counted, not sent in a burst), mixing
commands (enrolments, 1->2 moves to the RRC, 2->3 moves, held meetings; each with an
Idempotency-Key and an X-Request-ID) and queries (caseload pages, participant reads and
histories, the auditor's NDJSON event stream, the quarterly report). A lag probe enrols one
participant a second and times until the caseload view shows it. Half-way, one
`prowd projections rebuild` runs as a subprocess while the load goes on.

Every 10 s (--sample): RSS (VmRSS) of every process of the serve group, request latency
p50/p95/p99 of the window (per class and per kind), projection lag (caseload position behind
the log head, and the probe's seconds), webhook outbox depth, answers by status, CPU cores
used by the service (a report child's once its forkserver has reaped it), its PostgreSQL,
this script and everything else on the machine.

At the end: every 2xx command is in the log exactly once (its events carry its request id),
every webhook delivery is delivered and reached the receiver, no answer other than 2xx (409 and
429 would count as designed refusals; the load is built not to cause them), no error in the
server log, and memory is flat: per long-lived process, the median RSS of the first 10 % of
the samples after the warm-up (min(max(120 s, 10 %), 30 %) of the run) against the median of
the last 10 %; flat when it grew by at most 10 %. Processes seen for less than the warm-up
(the short-lived report children, one a quarterly report) are transient: their count and
peak RSS are reported apart, not judged for flatness.

Writes tests/perf/results/soak-<timestamp>.json and
soak-<timestamp>-{rss,latency,lag,outbox,cpu}.png. Findings: docs/reliability.md. Exit 0 when
every check passed. Not a pytest test (no test_ prefix).
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import random
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from array import array
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
from psycopg import sql

from tests.perf.harness.load import Clients, events_by_request
from tests.perf.harness.meters import (
    CpuSample,
    cpu_sample,
    cpu_usage,
    postgres_pids,
    rss_mb,
    stat_fields,
)
from tests.perf.harness.postgres import (
    DATABASE_URL,
    Cluster,
    OneConnection,
    log_head,
    scratch_database,
)
from tests.perf.harness.probes import LagProbe, caseload_position, wait_until
from tests.perf.harness.receiver import ReceiverProcess
from tests.perf.harness.results import (
    RESULTS,
    ROOT,
    git,
    machine_info,
    ms,
    pct,
    report,
    stamp,
    write_json,
)
from tests.perf.harness.server import PROWD, Server, free_port
from tests.perf.harness.world import Tokens, enrolment

SECRET = "soak-secret-" + "z" * 40
TOKENS = Tokens(SECRET, "soak")
FLAT_MAX_GROWTH_PCT = 10.0
DESIGNED_REFUSALS = {409, 429}
WEBHOOK_TYPES = ["participant.arrived_at_rrc", "participant.left_rrc", "meeting.held"]
# Share of operations by kind (commands first). Moves need an earlier enrolment, so enrolments
# outnumber them; a move with nobody to move becomes an enrolment.
MIX: dict[str, float] = {
    "enrol": 0.26,
    "to_rrc": 0.14,
    "to_community": 0.08,
    "meeting": 0.08,
    "caseload": 0.16,
    "participant": 0.14,
    "history": 0.07,
    "audit_events": 0.05,
    "report": 0.02,
}
COMMANDS = {"enrol", "to_rrc", "to_community", "meeting", "probe"}
OTHER = "other processes (not the soak)"
MEETING_BASE = datetime(2026, 8, 11, 12, tzinfo=UTC)


# ----------------------------------------------------------------------- the service's code


def snapshot(commit: str, into: Path) -> Path:
    """The tree of `commit`, exported with `git archive` (read-only: no checkout, no worktree).

    Engineers edit the working tree while a soak runs; a rebuild started half-way would
    otherwise load code that differs from the running service's.
    """
    into.mkdir(parents=True)
    archive = subprocess.Popen(
        ["git", "-C", str(ROOT), "archive", "--format=tar", commit], stdout=subprocess.PIPE
    )
    subprocess.run(["tar", "-x", "-C", str(into)], stdin=archive.stdout, check=True)
    if archive.wait(60) != 0:
        raise SystemExit(f"git archive {commit} failed")
    return into


# ------------------------------------------------------------------------------ the world


class RetryOn503(httpx.HTTPTransport):
    """For the setup only: every POST gets an Idempotency-Key, and a 503 (the shared machine's
    database briefly out of connections) is retried with the same key, so a retry can never
    apply a command twice. The load itself is never retried: its answers are the measurement.
    """

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST" and "idempotency-key" not in request.headers:
            request.headers["Idempotency-Key"] = "setup-" + secrets.token_hex(8)
        for _ in range(10):
            response = super().handle_request(request)
            if response.status_code != 503:
                return response
            response.read()
            response.close()
            time.sleep(2.0)
        return response


@dataclass
class Grantee:
    slug: str
    pairings: list[str]
    stage1: deque[str] = field(default_factory=deque)
    stage2: deque[str] = field(default_factory=deque)
    known: deque[str] = field(default_factory=lambda: deque(maxlen=5000))


def setup_world(
    base: str, receiver_port: int, n: int
) -> tuple[list[Grantee], list[tuple[str, str]]]:
    """Grantees with mentors, paired RRC residents and a webhook endpoint each, over HTTP.

    The test helpers' `Hooks` world speaks to any client with `post(url, json=, headers=)`;
    here that is an httpx client on the real server. Returns the grantees and the receiver's
    endpoints (path and secret).
    """
    from tests.webhooks_helpers import Hooks

    grantees: list[Grantee] = []
    endpoints: list[tuple[str, str]] = []
    with httpx.Client(base_url=base, timeout=30, transport=RetryOn503()) as client:
        for _ in range(n):
            hooks = Hooks(client, TOKENS.auth, None)  # type: ignore[arg-type]
            mentors = [hooks.mentor_id, hooks.mentor(f"mentor2-{hooks.slug}")]
            pairings = [
                hooks.pair(m, [hooks.resident("RRC-1")], "2026-08-10T10:00:00Z")
                for m in mentors
                for _ in range(5)
            ]
            path = f"/hooks/{hooks.slug}"
            ep = hooks.endpoint(f"http://127.0.0.1:{receiver_port}{path}", types=WEBHOOK_TYPES)
            endpoints.append((path, ep["secret"]))
            grantees.append(Grantee(hooks.slug, pairings))
    return grantees, endpoints


def establish(base: str, grantees: list[Grantee], per_grantee: int, threads: int = 8) -> float:
    """Enrol `per_grantee` participants in every grantee over HTTP before the load, so the
    service starts as it runs for established grantees: its per-process caches (participant
    keys, bounded at 20,000 a process, and the web framework's routing caches) full from the
    first minutes, not filling through the whole run. Returns the seconds it took."""
    from concurrent.futures import ThreadPoolExecutor

    t0 = time.monotonic()

    def enrol_some(g: Grantee, count: int) -> list[str]:
        h = TOKENS.auth("coordinator", g.slug)
        ids = []
        with httpx.Client(base_url=base, timeout=30, transport=RetryOn503()) as client:
            for _ in range(count):
                key = f"established-{secrets.token_hex(6)}"
                r = client.post(
                    f"/v1/grantees/{g.slug}/participants",
                    json=enrolment("Soak", key[:40]),
                    headers={**h, "X-Request-ID": key},
                )
                if r.status_code != 201:
                    raise SystemExit(f"establishing {g.slug}: {r.status_code} {r.text[:200]}")
                ids.append(str(r.json()["id"]))
        return ids

    share = [
        per_grantee // threads + (1 if i < per_grantee % threads else 0) for i in range(threads)
    ]
    with ThreadPoolExecutor(threads) as pool:
        for g in grantees:
            for ids in pool.map(lambda n, g=g: enrol_some(g, n), share):
                g.known.extend(ids)
    return time.monotonic() - t0


# ------------------------------------------------------------------------------- the load


class Recorder:
    """Answers of the load: per window (swapped by the sampler) and for the whole run."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.window: list[tuple[str, float, str]] = []  # (kind, seconds, status)
        self.latency: dict[str, array[float]] = {}
        self.statuses: dict[str, Counter[str]] = {}
        self.commands: dict[str, tuple[str, str]] = {}  # key -> (kind, status)
        self.late_skipped = 0

    def add(self, kind: str, seconds: float, status: str, key: str | None = None) -> None:
        with self.lock:
            self.window.append((kind, seconds, status))
            self.latency.setdefault(kind, array("d")).append(seconds)
            self.statuses.setdefault(kind, Counter())[status] += 1
            if key is not None:
                self.commands[key] = (kind, status)

    def swap(self) -> list[tuple[str, float, str]]:
        with self.lock:
            out, self.window = self.window, []
        return out


class Load(Clients):
    """`clients` threads, each on a fixed schedule of rate/clients operations a second."""

    join_timeout = 60.0

    def __init__(
        self,
        base: str,
        grantees: list[Grantee],
        rate: float,
        clients: int,
        deadline: float,
        recorder: Recorder,
        seed: int,
    ) -> None:
        self.base, self.grantees, self.recorder = base, grantees, recorder
        self.interval = clients / rate
        self.deadline = deadline
        self.max_ops = int((deadline - time.monotonic()) / self.interval) + 10
        self.seed = seed
        self.meetings = 0
        self.positions: dict[str, int] = {g.slug: 0 for g in grantees}
        self.headers = {
            g.slug: {
                "coordinator": TOKENS.auth("coordinator", g.slug),
                "auditor": TOKENS.auth("auditor", g.slug),
            }
            for g in grantees
        }
        self.quarter = quarter_of(datetime.now(UTC).date())
        kinds, weights = zip(*MIX.items(), strict=True)
        self.kinds, self.weights = list(kinds), list(weights)
        super().__init__(clients)

    def run(self, client_no: int) -> None:
        """One client's schedule: a random operation each interval, until the deadline."""
        rng = random.Random(self.seed + client_no)
        # Threads start spread over one interval, so the schedule is even.
        next_at = time.monotonic() + self.interval * client_no / len(self.threads)
        with httpx.Client(base_url=self.base, timeout=30) as http:
            for n in range(self.max_ops):
                if self.stop.is_set() or time.monotonic() >= self.deadline:
                    return
                pause = next_at - time.monotonic()
                if pause > 0:
                    self.stop.wait(pause)
                elif pause < -1.0:
                    late = int(-pause / self.interval)
                    with self.recorder.lock:
                        self.recorder.late_skipped += late
                    next_at += late * self.interval
                next_at += self.interval
                g = self.grantees[rng.randrange(len(self.grantees))]
                kind = rng.choices(self.kinds, self.weights)[0]
                self.one(http, rng, g, kind, f"c{client_no}-{n}-{secrets.token_hex(3)}")

    def one(self, http: httpx.Client, rng: random.Random, g: Grantee, kind: str, key: str) -> None:
        base = f"/v1/grantees/{g.slug}"
        h = self.headers[g.slug]["coordinator"]
        body: dict[str, Any] | None = None
        params: dict[str, Any] = {}
        path = ""
        pid = None
        if kind in ("to_rrc", "to_community"):
            with self.lock:
                pool = g.stage1 if kind == "to_rrc" else g.stage2
                pid = pool.popleft() if pool else None
            if pid is None:
                kind = "enrol"
        if kind in ("participant", "history"):
            with self.lock:
                pid = g.known[rng.randrange(len(g.known))] if g.known else None
            if pid is None:
                kind = "caseload"
        moment = (datetime.now(UTC) - timedelta(minutes=30)).isoformat(timespec="seconds")
        if kind == "enrol":
            path, body = base + "/participants", enrolment("Soak", key[:40])
        elif kind == "to_rrc":
            path = f"{base}/participants/{pid}/stage-transitions"
            body = {"to_stage": 2, "placement": "rrc", "facility": "RRC-1", "occurred_at": moment}
        elif kind == "to_community":
            path = f"{base}/participants/{pid}/stage-transitions"
            body = {"to_stage": 3, "placement": "community", "occurred_at": moment}
        elif kind == "meeting":
            with self.lock:
                self.meetings += 1
                k = self.meetings
            at = (MEETING_BASE + timedelta(minutes=k % 100_000)).isoformat()
            path = base + "/meetings"
            body = {
                "pairing_id": g.pairings[k % len(g.pairings)],
                "scheduled_for": at,
                "location": {"kind": "off_site"},
                "held": {"occurred_at": at, "duration_minutes": 30, "topics": ["employment"]},
            }
        elif kind == "caseload":
            path = base + "/participants"
            params = {"limit": 50, "stage": rng.choice([1, 2, 3])}
        elif kind == "participant":
            path = f"{base}/participants/{pid}"
        elif kind == "history":
            path = f"{base}/participants/{pid}/history"
        elif kind == "audit_events":
            path, h = base + "/audit/events", self.headers[g.slug]["auditor"]
            params = {"after": max(0, self.positions[g.slug] - 500), "limit": 200}
        elif kind == "report":
            path = f"{base}/reports/quarterly/{self.quarter}"
        t0 = time.perf_counter()
        status: str
        try:
            if body is not None:
                r = http.post(
                    path, json=body, headers={**h, "Idempotency-Key": key, "X-Request-ID": key}
                )
            else:
                r = http.get(path, params=params, headers=h)
                _ = r.content  # the whole answer (the NDJSON stream too) is read
            status = str(r.status_code)
        except httpx.HTTPError as e:
            r, status = None, type(e).__name__
        seconds = time.perf_counter() - t0
        self.recorder.add(kind, seconds, status, key if body is not None else None)
        if r is not None and r.status_code in (200, 201) and body is not None:
            self.after_command(g, kind, r.json(), pid)

    def after_command(self, g: Grantee, kind: str, out: dict[str, Any], pid: str | None) -> None:
        with self.lock:
            position = out.get("position")
            if isinstance(position, int):
                self.positions[g.slug] = max(self.positions[g.slug], position)
            if kind == "enrol":
                g.stage1.append(str(out["id"]))
                g.known.append(str(out["id"]))
            elif kind == "to_rrc" and pid is not None:
                g.stage2.append(pid)


def quarter_of(d: date) -> str:
    return f"{d.year}Q{(d.month - 1) // 3 + 1}"


# ---------------------------------------------------------------------------- the rebuild


class Rebuild(threading.Thread):
    """One `prowd projections rebuild` (every grantee), at `at_s` into the run, bounded."""

    def __init__(self, env: dict[str, str], start_at: float, timeout: float, log_path: Path):
        super().__init__(name="rebuild", daemon=True)
        self.env, self.start_at, self.timeout, self.log_path = env, start_at, timeout, log_path
        self.cancel = threading.Event()
        self.result: dict[str, Any] = {}
        self.pid: int | None = None

    def run(self) -> None:
        if self.cancel.wait(max(0.0, self.start_at - time.monotonic())):
            return
        t0 = time.monotonic()
        self.result["started_at_s"] = t0
        with self.log_path.open("wb") as out:
            p = subprocess.Popen(
                [*PROWD, "projections", "rebuild"],
                env=self.env,
                cwd=self.env["PYTHONPATH"],
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            self.pid = p.pid
            peak = 0.0
            while p.poll() is None and time.monotonic() - t0 < self.timeout:
                peak = max(peak, rss_mb(p.pid, "VmHWM") or 0.0)
                time.sleep(0.5)
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait(10)
                self.result["killed_after_timeout_s"] = self.timeout
        self.result.update(
            {
                "ended_at_s": time.monotonic(),
                "seconds": round(time.monotonic() - t0, 1),
                "exit_code": p.returncode,
                "peak_rss_mb": round(peak, 1),
                "output_tail": self.log_path.read_text(errors="replace").splitlines()[-8:],
            }
        )
        self.pid = None


# ---------------------------------------------------------------------------- the sampler


def db_state(db: OneConnection, slugs: list[str]) -> dict[str, int]:
    """Log heads, caseload positions and outbox counts, summed over the grantees."""
    out = {"head": 0, "caseload_behind": 0, "pending": 0, "delivered": 0, "failed": 0}
    for slug in slugs:
        s = sql.Identifier(f"g_{slug}")
        head = log_head(db, f"g_{slug}")
        out["head"] += head
        out["caseload_behind"] += max(0, head - caseload_position(db, f"g_{slug}"))
        for status, n in db.conn.execute(
            sql.SQL("SELECT status, count(*) FROM {}.webhook_deliveries GROUP BY status").format(s)
        ).fetchall():
            out[str(status)] = out.get(str(status), 0) + int(n)
    return out


def cpu_now(
    procs: dict[int, str], db: OneConnection, private_pg: bool, others: list[int], rebuild: Rebuild
) -> CpuSample:
    """CPU ticks so far of the service, its PostgreSQL, this script (with the receiver) and
    the rebuild. Report children are counted through their forkserver once reaped (not twice)."""
    groups = {p: "prowd serve (all its processes)" for p, r in procs.items() if r != "report child"}
    if private_pg:
        groups.update(
            dict.fromkeys(postgres_pids(db.conn), "postgres (private cluster, all processes)")
        )
    else:
        backends = db.conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
        ).fetchall()
        groups.update(
            dict.fromkeys((int(r[0]) for r in backends), "postgres backends (scratch db)")
        )
    groups.update(dict.fromkeys([os.getpid(), *others], "soak script + receiver"))
    if rebuild.pid is not None:
        groups[rebuild.pid] = "projections rebuild"
    return cpu_sample(groups, {p for p, r in procs.items() if r == "report forkserver"})


def cpu_cores(before: CpuSample, after: CpuSample) -> dict[str, float]:
    """Cores per group between two samples, then the machine's and the rest's."""
    usage = cpu_usage(before, after, other=OTHER)
    out = {group: round(v, 2) for group, v in usage.cores.items() if group != OTHER}
    out["machine (all processes)"] = round(usage.machine, 2)
    out[OTHER] = round(usage.cores[OTHER], 2)
    return out


def sample(
    t: float,
    server: Server,
    names: dict[tuple[int, str], str],
    recorder: Recorder,
    probe: LagProbe,
    db: OneConnection,
    slugs: list[str],
    rebuild: Rebuild,
    cpu: CpuSample,
    others: list[int],
    private_pg: bool,
) -> tuple[dict[str, Any], CpuSample]:
    """One sample: RSS per process, latency and answers of the window, lag, outbox and CPU
    since the previous sample (`cpu`); and this sample's CPU ticks, for the next one."""
    procs = server.processes()
    api_seen = sum(1 for v in names.values() if v.startswith("api"))
    rss: dict[str, float] = {}
    for pid, role in sorted(procs.items()):
        # Keyed by pid and start time: over a run, thousands of report children come and go,
        # and a pid used again is another process.
        try:
            key = (pid, stat_fields(pid)[19])
        except OSError:
            continue
        if key not in names:
            if role == "api":
                api_seen += 1
                role = f"api {api_seen}"
            again = sum(1 for p, _ in names if p == pid)
            names[key] = f"{role} (pid {pid}{f' #{again + 1}' if again else ''})"
        value = rss_mb(pid)
        if value is not None:
            rss[names[key]] = round(value, 1)
    if rebuild.pid is not None and (value := rss_mb(rebuild.pid)) is not None:
        rss["projections rebuild (subprocess)"] = round(value, 1)
    rss["soak script (load generator)"] = round(rss_mb(os.getpid()) or 0.0, 1)
    window = recorder.swap()
    lat: dict[str, dict[str, Any]] = {}
    for group, members in (
        ("commands", COMMANDS),
        ("queries", set(MIX) - COMMANDS),
        ("all", set(MIX) | COMMANDS),
    ):
        values = [s for k, s, _ in window if k in members]
        lat[group] = {
            "n": len(values),
            "p50_ms": ms(pct(values, 50)),
            "p95_ms": ms(pct(values, 95)),
            "p99_ms": ms(pct(values, 99)),
        }
    by_kind: dict[str, list[float]] = {}
    for k, seconds, _ in window:
        by_kind.setdefault(k, []).append(seconds)
    lat["by_kind"] = {
        k: {"n": len(v), "p50_ms": ms(pct(v, 50)), "p99_ms": ms(pct(v, 99))}
        for k, v in sorted(by_kind.items())
    }
    lags = probe.swap()
    state = db_state(db, slugs)
    now = cpu_now(procs, db, private_pg, others, rebuild)
    return {
        "t_s": round(t, 1),
        "rss_mb": rss,
        "latency": lat,
        "statuses": dict(Counter(st for _, _, st in window)),
        "kinds": dict(Counter(k for k, _, _ in window)),
        "lag_probe_s": {
            "n": len(lags),
            "p50": round(pct(lags, 50) or 0, 3) if lags else None,
            "p99": round(pct(lags, 99) or 0, 3) if lags else None,
            "max": round(max(lags), 3) if lags else None,
        },
        "caseload_events_behind": state["caseload_behind"],
        "log_head_total": state["head"],
        "outbox_pending": state.get("pending", 0),
        "outbox_delivered": state.get("delivered", 0),
        "outbox_failed": state.get("failed", 0),
        "rebuild_running": rebuild.pid is not None,
        "loadavg_1m": round(os.getloadavg()[0], 2),
        "cpu_cores": cpu_cores(cpu, now),
    }, now


# ----------------------------------------------------------------------------- the checks


def lifetimes(samples: list[dict[str, Any]]) -> dict[str, float]:
    """Per process: seconds from the first to the last sample that saw it."""
    seen: dict[str, list[float]] = {}
    for s in samples:
        for name in s["rss_mb"]:
            seen.setdefault(name, []).append(s["t_s"])
    return {name: ts[-1] - ts[0] for name, ts in seen.items()}


def transient_names(samples: list[dict[str, Any]], warmup_s: float) -> set[str]:
    """Processes seen for less than the warm-up (the report children): not judged for flatness.
    The script's own process and the rebuild are judged by neither rule."""
    return {
        name
        for name, span in lifetimes(samples).items()
        if span < warmup_s and "rebuild" not in name and "soak script" not in name
    }


def memory_verdict(samples: list[dict[str, Any]], warmup_s: float) -> dict[str, Any]:
    """Per long-lived process: median RSS of the first and the last 10 % of the samples after
    warm-up. Transient processes: how many by role, and their peak RSS."""
    after = [s for s in samples if s["t_s"] >= warmup_s]
    k = max(1, len(after) // 10)
    out: dict[str, Any] = {}
    transient = transient_names(samples, warmup_s)
    names = sorted({n for s in after for n in s["rss_mb"]} - transient)
    for name in names:
        if "rebuild" in name or "soak script" in name:
            continue
        first = [s["rss_mb"][name] for s in after[:k] if name in s["rss_mb"]]
        last = [s["rss_mb"][name] for s in after[-k:] if name in s["rss_mb"]]
        if not first or not last:
            out[name] = {"verdict": "not present throughout"}
            continue
        a, b = statistics.median(first), statistics.median(last)
        growth = b - a
        pct_growth = 100 * growth / a if a else 0.0
        out[name] = {
            "start_mb": round(a, 1),
            "end_mb": round(b, 1),
            "growth_mb": round(growth, 1),
            "growth_pct": round(pct_growth, 1),
            "flat": pct_growth <= FLAT_MAX_GROWTH_PCT,
        }
    peaks: dict[str, list[float]] = {}
    for name in transient:
        role = name.rpartition(" (pid ")[0]
        peaks.setdefault(role, []).append(
            max(s["rss_mb"][name] for s in samples if name in s["rss_mb"])
        )
    return {
        "criterion": f"median RSS of the last 10 % of samples after warm-up at most "
        f"{FLAT_MAX_GROWTH_PCT:.0f} % above the median of the first 10 % after warm-up, for "
        "every process seen for at least the warm-up",
        "warmup_s": round(warmup_s, 1),
        "samples_after_warmup": len(after),
        "samples_per_end": k,
        "per_process": out,
        # Seen in at least one sample (a child living less than the sampling interval may
        # be missed): count, and the largest RSS any of them had when sampled.
        "transient": {
            role: {
                "seen": len(values),
                "peak_mb": max(values),
                "median_peak_mb": round(statistics.median(values), 1),
            }
            for role, values in sorted(peaks.items())
        },
        "flat": all(v.get("flat", False) for v in out.values()) and bool(out),
    }


def exactly_once(url: str, slugs: list[str], recorder: Recorder) -> dict[str, Any]:
    """Events per request id in the log against the answers of the commands sent.

    A command applied twice shows as one event type twice under its request id (two
    `Enrolled`, two `StageTransitioned`, two meetings `Scheduled`); the kinds sent here never
    append one event type twice in a single application.
    """
    topics = events_by_request(url, slugs)  # request id -> event types appended under it
    acked = {k: kind for k, (kind, st) in recorder.commands.items() if st in ("200", "201")}
    failed = {k: st for k, (_, st) in recorder.commands.items() if st not in ("200", "201")}
    lost = [k for k in acked if k not in topics]
    doubled = [k for k in acked if k in topics and max(topics[k].values()) > 1]
    shapes: dict[str, Counter[str]] = {}
    for k, kind in acked.items():
        if k in topics:
            shapes.setdefault(kind, Counter())["+".join(sorted(topics[k]))] += 1
    return {
        "commands_acknowledged": len(acked),
        "commands_not_acknowledged": len(failed),
        "not_acknowledged_but_in_log": sum(1 for k in failed if k in topics),
        "lost": len(lost),
        "doubled": len(doubled),
        "event_types_per_command_by_kind": {k: dict(c) for k, c in shapes.items()},
        "lost_examples": lost[:5],
        "doubled_examples": {k: dict(topics[k]) for k in doubled[:5]},
        "ok": not lost and not doubled,
    }


def webhook_check(url: str, slugs: list[str], received: dict[str, Any] | None) -> dict[str, Any]:
    ids: Counter[str] = Counter()
    statuses: Counter[str] = Counter()
    with psycopg.connect(url) as conn:
        for slug in slugs:
            for msg_id, status in conn.execute(
                sql.SQL("SELECT msg_id, status FROM {}.webhook_deliveries").format(
                    sql.Identifier(f"g_{slug}")
                )
            ).fetchall():
                ids[str(msg_id)] += 1
                statuses[str(status)] += 1
    got: dict[str, int] = (received or {}).get("counts", {})
    missing = [i for i in ids if i not in got]
    unknown = [i for i in got if i not in ids]
    repeats = sum(n - 1 for n in got.values() if n > 1)
    return {
        "outbox_rows": sum(ids.values()),
        "outbox_by_status": dict(statuses),
        "received_messages": sum(got.values()),
        "received_distinct_ids": len(got),
        "missing_at_receiver": len(missing),
        "unknown_at_receiver": len(unknown),
        "received_more_than_once": repeats,
        "rejected_signatures": (received or {}).get("rejected"),
        "ok": received is not None
        and not missing
        and not unknown
        and set(statuses) <= {"delivered"}
        and not (received or {}).get("rejected"),
    }


# ------------------------------------------------------------------------------- plotting


def plot(
    samples: list[dict[str, Any]], rebuild: dict[str, Any], prefix: Path, warmup_s: float
) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = [s["t_s"] / 60 for s in samples]
    span = (
        (rebuild["started_at_rel_s"] / 60, rebuild["ended_at_rel_s"] / 60)
        if "ended_at_rel_s" in rebuild
        else None
    )
    files: list[str] = []

    def finish(fig: Any, ax: Any, name: str, ylabel: str, title: str) -> None:
        if span:
            ax.axvspan(*span, color="orange", alpha=0.15, label="projections rebuild")
        ax.set_xlabel("minutes since the load started")
        ax.set_ylabel(ylabel)
        ax.set_title(title)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="best")
        fig.tight_layout()
        path = prefix.with_name(f"{prefix.name}-{name}.png")
        fig.savefig(path, dpi=110)
        plt.close(fig)
        files.append(path.name)

    fig, ax = plt.subplots(figsize=(10, 5))
    transient = transient_names(samples, warmup_s)
    names = sorted({n for s in samples for n in s["rss_mb"]} - transient)
    for name in names:
        ax.plot(t, [s["rss_mb"].get(name) for s in samples], label=name)
    if transient:
        largest = [
            max((v for n, v in s["rss_mb"].items() if n in transient), default=math.nan)
            for s in samples
        ]
        ax.plot(
            t,
            largest,
            ".",
            markersize=3,
            label=f"largest transient process ({len(transient)} seen)",
        )
    finish(fig, ax, "rss", "RSS (MB)", "Resident memory per process (VmRSS, every 10 s)")

    fig, axes = plt.subplots(2, 1, figsize=(10, 7), sharex=True)
    for ax, group in zip(axes, ("commands", "queries"), strict=True):
        for q, style in (("p50_ms", "-"), ("p95_ms", "--"), ("p99_ms", ":")):
            ax.plot(t, [s["latency"][group][q] for s in samples], style, label=f"{group} {q[:3]}")
        ax.set_yscale("log")
        if ax is axes[0]:
            ax.set_ylabel("ms (log scale)")
            ax.set_title("Request latency per 10 s window")
            ax.grid(alpha=0.3)
            ax.legend(fontsize=7)
            if span:
                ax.axvspan(*span, color="orange", alpha=0.15)
    finish(fig, axes[1], "latency", "ms (log scale)", "")

    fig, ax = plt.subplots(figsize=(10, 5))
    ax.plot(t, [s["lag_probe_s"]["p50"] for s in samples], label="probe lag p50 (s)")
    ax.plot(t, [s["lag_probe_s"]["max"] for s in samples], "--", label="probe lag max (s)")
    ax2 = ax.twinx()
    ax2.plot(
        t, [s["caseload_events_behind"] for s in samples], ":", color="grey", label="events behind"
    )
    ax2.set_ylabel("caseload events behind the log head (at the sample)")
    ax2.legend(fontsize=7, loc="upper left")
    finish(fig, ax, "lag", "seconds", "Projection lag (caseload view)")

    fig, ax = plt.subplots(figsize=(10, 5))
    ax.plot(t, [s["outbox_pending"] for s in samples], label="pending deliveries")
    ax.plot(t, [s["outbox_failed"] for s in samples], label="failed deliveries")
    finish(fig, ax, "outbox", "deliveries", "Webhook outbox depth")

    fig, ax = plt.subplots(figsize=(10, 5))
    for name in sorted({n for s in samples for n in s["cpu_cores"]}):
        ax.plot(t, [s["cpu_cores"].get(name) for s in samples], label=name)
    finish(fig, ax, "cpu", "cores", f"CPU per 10 s window ({os.cpu_count()} cores)")
    return files


# ----------------------------------------------------------------------------------- main


def totals(recorder: Recorder) -> dict[str, Any]:
    with recorder.lock:
        return {
            kind: {
                "requests": len(values),
                "statuses": dict(recorder.statuses[kind]),
                "p50_ms": ms(pct(values, 50)),
                "p95_ms": ms(pct(values, 95)),
                "p99_ms": ms(pct(values, 99)),
                "max_ms": ms(max(values)) if values else None,
            }
            for kind, values in sorted(recorder.latency.items())
        }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--database-url", default=DATABASE_URL)
    ap.add_argument(
        "--shared-server",
        action="store_true",
        help="use the server of --database-url instead of a private cluster",
    )
    ap.add_argument("--pg-bin", default=os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin"))
    ap.add_argument("--minutes", type=float, default=30.0)
    ap.add_argument("--rate", type=float, default=80.0, help="operations/s, all clients")
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--grantees", type=int, default=2)
    ap.add_argument(
        "--established",
        type=int,
        default=0,
        metavar="N",
        help="participants enrolled per grantee before the load (established grantees)",
    )
    ap.add_argument("--workers", type=int, default=2, help="API processes of prowd serve")
    ap.add_argument("--sample", type=float, default=10.0, help="seconds between samples")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument(
        "--code",
        default="HEAD",
        help="commit whose code the service runs (exported to a temporary directory), or"
        " 'worktree' for the working tree as it is",
    )
    ap.add_argument(
        "--server-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="extra environment for prowd serve (e.g. MALLOC_ARENA_MAX=2); repeatable",
    )
    args = ap.parse_args()
    duration = args.minutes * 60
    tmp = Path(tempfile.mkdtemp(prefix="prowd-soak-"))
    os.chmod(tmp, 0o711)  # the cluster's user must reach its directory inside
    cluster: Cluster | None = None
    if not args.shared_server:
        (tmp / "pg").mkdir()
        cluster = Cluster(Path(args.pg_bin), tmp / "pg", free_port())
        cluster.start()
        args.database_url = cluster.url
        report(f"private PostgreSQL cluster on port {cluster.port}")
    try:
        return soak(args, stamp(), duration, tmp)
    finally:
        if cluster is not None:
            with contextlib.suppress(subprocess.SubprocessError):
                cluster.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def soak(args: argparse.Namespace, started: str, duration: float, tmp: Path) -> int:
    """The run itself (setup, load, samples, checks, plots); see the module's docstring."""
    result: dict[str, Any] = {
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": "uv run python tests/perf/soak.py " + " ".join(sys.argv[1:]),
        "parameters": {k: v for k, v in vars(args).items() if k != "database_url"},
        "mix": MIX,
        "machine": machine_info(args.database_url),
        "loadavg_before": os.getloadavg(),
    }
    if args.code == "worktree":
        code = ROOT
        result["code"] = {"tree": "working tree", "head": git("rev-parse", "HEAD")}
        result["code"]["uncommitted_files"] = len(git("status", "--porcelain").splitlines())
    else:
        commit = git("rev-parse", args.code)
        code = snapshot(commit, tmp / "code")
        result["code"] = {"tree": "commit", "commit": commit}
        result["code"]["subject"] = git("log", "-1", "--format=%s", commit)
    report(f"service code: {result['code']}")
    env = {
        # The service's code comes from `code` (before the editable install's path).
        "PYTHONPATH": str(code),
        "PROWD_DATA_DIR": str(tmp / "data"),
        "PROWD_WEBHOOK_ALLOWED_NETWORKS": "127.0.0.0/8",
        **dict(kv.split("=", 1) for kv in args.server_env),
    }
    with scratch_database(args.database_url) as url:
        (tmp / "data").mkdir()
        server = Server(url, SECRET, tmp / "server.log", workers=args.workers, env=env, cwd=code)
        receiver: ReceiverProcess | None = None
        received: dict[str, Any] | None = None
        try:
            server.wait_ready()
            port = free_port()
            report(f"server ready at {server.base}; setting up {args.grantees} grantees")
            grantees, endpoints = setup_world(server.base, port, args.grantees)
            if args.established:
                report(f"enrolling {args.established} established participants per grantee")
                took = establish(server.base, grantees, args.established)
                report(f"established in {took:.0f} s")
            receiver = ReceiverProcess(endpoints, tmp, port)
            slugs = [g.slug for g in grantees]
            recorder = Recorder()
            t0 = time.monotonic()
            deadline = t0 + duration
            load = Load(
                server.base, grantees, args.rate, args.clients, deadline, recorder, args.seed
            )
            probe = LagProbe(
                server.base,
                url,
                TOKENS.auth("coordinator", grantees[0].slug),
                [grantees[0].slug],
                lambda key: enrolment("Soak", key[:40]),
                interval=1.0,
                timeout=100.0,
                poll=0.01,
                keyed=True,
                max_probes=int(duration) + 10,
                until=deadline,
                request_timeout=30.0,
                on_answer=lambda seconds, status, key: recorder.add("probe", seconds, status, key),
            )
            rebuild = Rebuild(server.env, t0 + duration / 2, duration, tmp / "rebuild.log")
            report(
                f"load: {args.clients} clients, {args.rate} operations/s, {args.minutes} min;"
                f" rebuild at {duration / 2 / 60:.1f} min"
            )
            load.start()
            probe.start()
            rebuild.start()
            samples: list[dict[str, Any]] = []
            names: dict[tuple[int, str], str] = {}
            others = [receiver.pid]
            with OneConnection(url, "prowd-soak") as db:
                cpu = cpu_now(server.processes(), db, not args.shared_server, others, rebuild)
                for i in range(1, int(duration / args.sample) + 2):
                    wake = t0 + i * args.sample
                    time.sleep(max(0.0, wake - time.monotonic()))
                    s, cpu = sample(
                        time.monotonic() - t0,
                        server,
                        names,
                        recorder,
                        probe,
                        db,
                        slugs,
                        rebuild,
                        cpu,
                        others,
                        not args.shared_server,
                    )
                    samples.append(s)
                    lat = s["latency"]
                    report(
                        f"t={s['t_s']:6.0f}s ops={lat['all']['n']:4d}"
                        f" cmd p50/p99 {lat['commands']['p50_ms']}/{lat['commands']['p99_ms']} ms"
                        f" qry p50/p99 {lat['queries']['p50_ms']}/{lat['queries']['p99_ms']} ms"
                        f" lag p50 {s['lag_probe_s']['p50']} s behind {s['caseload_events_behind']}"
                        f" outbox {s['outbox_pending']} statuses {s['statuses']}"
                        f" rss {sorted(s['rss_mb'].values())}"
                        f" cores {list(s['cpu_cores'].values())}"
                        + (" REBUILD" if s["rebuild_running"] else "")
                    )
                    if time.monotonic() >= deadline:
                        break
            load.finish()
            probe.stopping.set()
            probe.join(timeout=60)
            rebuild.join(timeout=max(1.0, rebuild.timeout))
            if rebuild.is_alive():
                rebuild.cancel.set()
            report("load stopped; waiting for the views and the outbox to catch up")
            with OneConnection(url, "prowd-soak") as db:
                caught_up = wait_until(lambda: db_state(db, slugs)["caseload_behind"] == 0, 180, 1)
                drained = wait_until(lambda: db_state(db, slugs).get("pending", 0) == 0, 600, 1)
            time.sleep(2.0)  # the last answers reach the receiver's counters
            received = receiver.finish()
            report("checking the log against the answers")
            once = exactly_once(url, slugs, recorder)
            hooks = webhook_check(url, slugs, received)
        finally:
            if receiver is not None:
                receiver.kill()
            server.stop()
    rb = dict(rebuild.result)
    for k in ("started_at_s", "ended_at_s"):
        if k in rb:
            rb[k.replace("_s", "_rel_s")] = round(rb.pop(k) - t0, 1)
    warmup = min(max(120.0, 0.1 * duration), 0.3 * duration)
    memory = memory_verdict(samples, warmup)
    all_statuses: Counter[str] = Counter()
    for c in recorder.statuses.values():
        all_statuses.update(c)
    bad = {
        st: n
        for st, n in all_statuses.items()
        if st not in ("200", "201") and not (st.isdigit() and int(st) in DESIGNED_REFUSALS)
    }
    log_errors = server.errors()
    prefix = RESULTS / f"soak-{started}"
    result.update(
        {
            "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "duration_s": round(duration, 1),
            "loadavg_after": os.getloadavg(),
            "requests": totals(recorder),
            "statuses": dict(all_statuses),
            "errors_other_than_designed_refusals": bad,
            "late_slots_skipped": recorder.late_skipped,
            "achieved_ops_per_s": round(sum(all_statuses.values()) / duration, 1),
            "lag_probe": {
                "probes": len(probe.lags),
                "timeouts": probe.timeouts,
                "p50_s": round(pct(probe.lags, 50) or 0, 3),
                "p99_s": round(pct(probe.lags, 99) or 0, 3),
                "max_s": round(max(probe.lags), 3) if probe.lags else None,
            },
            "views_caught_up_after_load": caught_up,
            "outbox_drained_after_load": drained,
            "rebuild": rb,
            "exactly_once": once,
            "webhooks": hooks,
            "memory": memory,
            "server_log_errors": {"count": len(log_errors), "first": log_errors[:10]},
            "samples": samples,
        }
    )
    result["plots"] = plot(samples, rb, prefix, warmup)
    checks = {
        "no_errors_other_than_designed_refusals": not bad,
        "every_2xx_command_in_log_exactly_once": once["ok"],
        "every_webhook_delivered": hooks["ok"] and drained,
        "views_caught_up": caught_up,
        "rebuild_succeeded": rb.get("exit_code") == 0,
        "memory_flat": memory["flat"],
        "server_log_clean": not log_errors,
    }
    result["checks"] = checks
    out = write_json(f"soak-{started}.json", result)
    print_summary(result)
    report(f"results: {out.relative_to(ROOT)}; plots: {', '.join(result['plots'])}")
    ok = all(checks.values())
    report("PASS" if ok else "FAIL: " + ", ".join(k for k, v in checks.items() if not v))
    return 0 if ok else 1


def print_summary(r: dict[str, Any]) -> None:
    print("\nrequests by kind:")
    for kind, v in r["requests"].items():
        print(
            f"  {kind:14s} {v['requests']:7d}  p50 {v['p50_ms']} ms  p95 {v['p95_ms']} ms"
            f"  p99 {v['p99_ms']} ms  max {v['max_ms']} ms  {v['statuses']}"
        )
    print(f"statuses: {r['statuses']}; late slots skipped: {r['late_slots_skipped']}")
    print(f"lag probe: {r['lag_probe']}")
    print(f"rebuild: { {k: v for k, v in r['rebuild'].items() if k != 'output_tail'} }")
    print(f"exactly once: { {k: v for k, v in r['exactly_once'].items() if 'examples' not in k} }")
    print(f"webhooks: {r['webhooks']}")
    print(f"memory ({r['memory']['criterion']}; warm-up {r['memory']['warmup_s']} s):")
    for name, v in r["memory"]["per_process"].items():
        print(f"  {name:45s} {v}")
    for role, v in r["memory"]["transient"].items():
        print(f"  transient: {role:34s} {v}")
    print(f"server log errors: {r['server_log_errors']['count']}")
    print(f"checks: {r['checks']}")


def _exit_on_signal(signum: int, frame: object) -> None:
    # Unwind (stop the server, drop the scratch database) instead of dying on the spot.
    raise SystemExit(128 + signum)


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, _exit_on_signal)
    if signal.getsignal(signal.SIGHUP) is not signal.SIG_IGN:  # under nohup: stay ignored
        signal.signal(signal.SIGHUP, _exit_on_signal)
    sys.exit(main())
