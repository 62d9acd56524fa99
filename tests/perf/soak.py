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
import json
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
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import psycopg  # noqa: E402
from psycopg import sql  # noqa: E402

from services.identity.tokens import issue_token  # noqa: E402
from services.projector import live as projector  # noqa: E402
from services.settings import Settings  # noqa: E402
from tests.perf.bench_commands import free_port, machine_info, scratch_database  # noqa: E402

# The soak's own PostgreSQL cluster (as the outage script's): a busy shared server runs out of
# connections or lock slots (`out of shared memory`) for reasons that are not the service's.
from tests.perf.outage import Cluster  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
SECRET = "soak-secret-" + "z" * 40
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
MEETING_BASE = datetime(2026, 8, 11, 12, tzinfo=UTC)


def log(msg: str) -> None:
    print(f"[{datetime.now(UTC):%H:%M:%S}] {msg}", flush=True)


# ------------------------------------------------------------------------------ the service


class Server:
    """`prowd serve` in a process group of its own (so its processes can be found and stopped)."""

    def __init__(
        self,
        url: str,
        port: int,
        data_dir: Path,
        log_path: Path,
        workers: int,
        code: Path,
        extra_env: dict[str, str],
    ) -> None:
        self.base = f"http://127.0.0.1:{port}"
        self.code = code
        self.env = {
            **os.environ,
            # The service's code comes from `code` (before the editable install's path).
            "PYTHONPATH": str(code),
            "PROWD_DATABASE_URL": url,
            "PROWD_JWT_SECRET": SECRET,
            "PROWD_DATA_DIR": str(data_dir),
            "PROWD_LOG_LEVEL": "warning",
            "PROWD_WEBHOOK_ALLOWED_NETWORKS": "127.0.0.0/8",
            # One address and a few tokens send everything: the limits would refuse the load.
            "PROWD_RATE_LIMIT_TOKEN": "0",
            "PROWD_RATE_LIMIT_IP": "0",
            **extra_env,
        }
        self.log_path = log_path
        self._log = log_path.open("wb")
        self.proc = subprocess.Popen(
            [
                *prowd(),
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                str(workers),
            ],
            env=self.env,
            cwd=code,
            start_new_session=True,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def wait_ready(self, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"prowd serve exited with {self.proc.returncode}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(self.base + "/ready", timeout=1).status_code == 200:
                    return
            time.sleep(0.2)
        raise SystemExit("prowd serve did not become ready")

    def processes(self) -> dict[int, str]:
        """Every process of the serve group, pid -> role (from its command line)."""
        out: dict[int, str] = {}
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            pid = int(entry)
            try:
                if os.getpgid(pid) != self.proc.pid:
                    continue
                cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
                forked_by_forkserver = _is_forkserver(_parent_of(pid))
            except (OSError, ProcessLookupError):
                continue
            if pid == self.proc.pid:
                role = "serve (uvicorn supervisor)"
            elif "services.cli worker" in cmd:
                role = "projection worker"
            elif "webhooks dispatch" in cmd:
                role = "webhook dispatcher"
            elif "resource_tracker" in cmd:
                role = "resource tracker"
            elif "multiprocessing.forkserver" in cmd:
                # Report children are forks of an API process's forkserver (same command line).
                role = "report child" if forked_by_forkserver else "report forkserver"
            elif "multiprocessing" in cmd:
                role = "api"
            else:
                role = "other: " + cmd[:60]
            out[pid] = role
        return out

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                log("prowd serve did not stop on SIGTERM; killing its process group")
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=10)
        self._log.close()


def _parent_of(pid: int) -> int:
    return int(_stat_fields(pid)[1])


def _stat_fields(pid: int) -> list[str]:
    """/proc/<pid>/stat after the command name: state, ppid, ... (starttime is index 19)."""
    return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()


def _is_forkserver(pid: int) -> bool:
    try:
        return b"multiprocessing.forkserver" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def prowd() -> list[str]:
    """The CLI, run by this interpreter (the project's virtual environment)."""
    return [sys.executable, "-m", "services.cli.main"]


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


def git(*args: str) -> str:
    out = subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True)
    return out.stdout.strip()


def rss_mb(pid: int, field_name: str = "VmRSS") -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field_name + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def token(role: str, grantee: str = "*", sub: str | None = None) -> str:
    return issue_token(
        Settings(jwt_secret=SECRET), subject=sub or f"soak-{role}", roles=[role], grantees=[grantee]
    )


def auth(role: str, grantee: str = "*", sub: str | None = None) -> dict[str, str]:
    return {"Authorization": "Bearer " + token(role, grantee, sub)}


# --------------------------------------------------------------------------- the receiver


def run_receiver(secrets_file: str, out_file: str, port: int) -> int:
    """The loopback webhook receiver (a subprocess): verify, count by webhook-id, answer 204.

    `GET /count` answers the totals so far. On SIGTERM it writes {webhook-id: times received}
    and the number of rejected messages to `out_file`. Only counters are kept, so its memory
    stays small however many deliveries arrive.
    """
    from standardwebhooks.webhooks import Webhook, WebhookVerificationError

    hooks = {
        path: Webhook(secret)
        for path, secret in (
            line.split(" ", 1) for line in Path(secrets_file).read_text().splitlines() if line
        )
    }
    counts: Counter[str] = Counter()
    rejected = [0]
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def _answer(self, status: int, body: bytes = b"") -> None:
            self.send_response(status)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            with lock:
                body = json.dumps({"received": sum(counts.values()), "distinct": len(counts)})
            self._answer(200, body.encode())

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            hook = hooks.get(self.path)
            try:
                if hook is None:
                    raise WebhookVerificationError("unknown path")
                hook.verify(body, {k: v for k, v in self.headers.items()})
            except WebhookVerificationError:
                with lock:
                    rejected[0] += 1
                self._answer(400)
                return
            with lock:
                counts[self.headers.get("webhook-id", "")] += 1
            self._answer(204)

    ThreadingHTTPServer.allow_reuse_address = True
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(server.server_address[1], flush=True)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    done.wait(timeout=24 * 3600)
    server.shutdown()
    with lock:
        Path(out_file).write_text(json.dumps({"counts": counts, "rejected": rejected[0]}))
    return 0


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


def setup_world(base: str, receiver_port: int, n: int) -> tuple[list[Grantee], list[str]]:
    """Grantees with mentors, paired RRC residents and a webhook endpoint each, over HTTP.

    The test helpers' `Hooks` world speaks to any client with `post(url, json=, headers=)`;
    here that is an httpx client on the real server. Returns the grantees and the receiver's
    secrets file lines (path and secret).
    """
    from tests.webhooks_helpers import Hooks

    grantees: list[Grantee] = []
    lines: list[str] = []
    with httpx.Client(base_url=base, timeout=30, transport=RetryOn503()) as client:
        for _ in range(n):
            hooks = Hooks(client, auth, None)  # type: ignore[arg-type]
            mentors = [hooks.mentor_id, hooks.mentor(f"mentor2-{hooks.slug}")]
            pairings = [
                hooks.pair(m, [hooks.resident("RRC-1")], "2026-08-10T10:00:00Z")
                for m in mentors
                for _ in range(5)
            ]
            path = f"/hooks/{hooks.slug}"
            ep = hooks.endpoint(f"http://127.0.0.1:{receiver_port}{path}", types=WEBHOOK_TYPES)
            lines.append(f"{path} {ep['secret']}")
            grantees.append(Grantee(hooks.slug, pairings))
    return grantees, lines


def establish(base: str, grantees: list[Grantee], per_grantee: int, threads: int = 8) -> float:
    """Enrol `per_grantee` participants in every grantee over HTTP before the load, so the
    service starts as it runs for established grantees: its per-process caches (participant
    keys, bounded at 20,000 a process, and the web framework's routing caches) full from the
    first minutes, not filling through the whole run. Returns the seconds it took."""
    from concurrent.futures import ThreadPoolExecutor

    t0 = time.monotonic()

    def enrol_some(g: Grantee, count: int) -> list[str]:
        h = auth("coordinator", g.slug)
        ids = []
        with httpx.Client(base_url=base, timeout=30, transport=RetryOn503()) as client:
            for _ in range(count):
                key = f"established-{secrets.token_hex(6)}"
                r = client.post(
                    f"/v1/grantees/{g.slug}/participants",
                    json=enrolment(key),
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


class Load:
    """`clients` threads, each on a fixed schedule of rate/clients operations a second."""

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
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.meetings = 0
        self.positions: dict[str, int] = {g.slug: 0 for g in grantees}
        self.headers = {
            g.slug: {
                "coordinator": auth("coordinator", g.slug),
                "auditor": auth("auditor", g.slug),
            }
            for g in grantees
        }
        self.quarter = quarter_of(datetime.now(UTC).date())
        kinds, weights = zip(*MIX.items(), strict=True)
        self.kinds, self.weights = list(kinds), list(weights)
        self.threads = [
            threading.Thread(target=self.run, args=(i, seed + i), name=f"client-{i}", daemon=True)
            for i in range(clients)
        ]

    def start(self) -> None:
        for t in self.threads:
            t.start()

    def finish(self) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(timeout=60)

    def run(self, client_no: int, seed: int) -> None:
        rng = random.Random(seed)
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
            path, body = base + "/participants", enrolment(key)
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


def enrolment(key: str) -> dict[str, Any]:
    return {
        "first_name": "Soak",
        "last_name": key[:40],
        "date_of_birth": "1990-01-01",
        "program_entry_date": "2026-01-15",
        "facility": "FCI-A",
        "cohort": "C1",
    }


def quarter_of(d: date) -> str:
    return f"{d.year}Q{(d.month - 1) // 3 + 1}"


class LagProbe(threading.Thread):
    """Once a second: one enrolment, then poll the caseload view's position until it shows it."""

    def __init__(self, base: str, url: str, g: Grantee, recorder: Recorder, deadline: float):
        super().__init__(name="lag-probe", daemon=True)
        self.base, self.url, self.g, self.recorder = base, url, g, recorder
        self.deadline = deadline
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.window: list[float] = []
        self.all: list[float] = []
        self.timeouts = 0

    def swap(self) -> list[float]:
        with self.lock:
            out, self.window = self.window, []
        return out

    def run(self) -> None:
        headers = auth("coordinator", self.g.slug)
        schema = f"g_{self.g.slug}"
        max_probes = int(self.deadline - time.monotonic()) + 10
        with (
            psycopg.connect(self.url, autocommit=True) as conn,
            httpx.Client(base_url=self.base, timeout=30) as http,
        ):
            db = OneConnection(conn)
            for n in range(max_probes):
                if self.stop.is_set() or time.monotonic() >= self.deadline:
                    return
                key = f"probe-{n}-{secrets.token_hex(3)}"
                t0 = time.perf_counter()
                try:
                    r = http.post(
                        f"/v1/grantees/{self.g.slug}/participants",
                        json=enrolment(key),
                        headers={**headers, "Idempotency-Key": key, "X-Request-ID": key},
                    )
                    status = str(r.status_code)
                except httpx.HTTPError as e:
                    r, status = None, type(e).__name__
                self.recorder.add("probe", time.perf_counter() - t0, status, key)
                if r is not None and r.status_code == 201:
                    self.wait_visible(db, schema, int(r.json()["position"]))
                self.stop.wait(max(0.0, 1.0 - (time.perf_counter() - t0)))

    def wait_visible(self, db: OneConnection, schema: str, position: int) -> None:
        t0 = time.perf_counter()
        for _ in range(10_000):  # 10 ms apart: at most ~100 s
            if projector.position_of(db, schema, "caseload") >= position:  # type: ignore[arg-type]
                lag = time.perf_counter() - t0
                break
            time.sleep(0.01)
        else:
            self.timeouts += 1
            lag = time.perf_counter() - t0
        with self.lock:
            self.window.append(lag)
            self.all.append(lag)


class OneConnection:
    """What `projector.position_of` needs of a Database, on one dedicated connection."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn

    def fetchone(self, query: Any, params: Any = None) -> Any:
        return self.conn.execute(query, params).fetchone()


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
                [*prowd(), "projections", "rebuild"],
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


class CpuMeter:
    """Cores used between two calls, per group of processes, and by the whole machine."""

    def __init__(self) -> None:
        self.prev: dict[int, int] = {}
        self.prev_stat = self._stat()
        self.t = time.monotonic()

    @staticmethod
    def _stat() -> tuple[int, int]:
        values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:8]]
        return sum(values) - values[3] - values[4], sum(values)  # busy, total

    @staticmethod
    def _ticks(pid: int, reaped: bool) -> int | None:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        except OSError:
            return None
        own = int(fields[11]) + int(fields[12])  # utime + stime
        return own + int(fields[13]) + int(fields[14]) if reaped else own  # + cutime + cstime

    def usage(self, groups: dict[str, list[int]], reapers: set[int]) -> dict[str, float]:
        """`reapers`: processes whose exited children's CPU counts as theirs (a report child
        lives less than a sample interval: its CPU reaches us when its forkserver reaps it)."""
        hz = os.sysconf("SC_CLK_TCK")
        now, stat = time.monotonic(), self._stat()
        seconds = max(1e-6, now - self.t)
        out: dict[str, float] = {}
        seen: dict[int, int] = {}
        for group, pids in groups.items():
            used = 0
            for pid in pids:
                ticks = self._ticks(pid, pid in reapers)
                if ticks is None:
                    continue
                seen[pid] = ticks
                used += max(0, ticks - self.prev.get(pid, ticks))
            out[group] = round(used / hz / seconds, 2)
        busy, total = stat[0] - self.prev_stat[0], stat[1] - self.prev_stat[1]
        machine = (os.cpu_count() or 1) * busy / total if total else 0.0
        ours = sum(out.values())
        out["machine (all processes)"] = round(machine, 2)
        out["other processes (not the soak)"] = round(max(0.0, machine - ours), 2)
        self.prev, self.prev_stat, self.t = seen, stat, now
        return out


def postgres_pids(conn: psycopg.Connection[Any]) -> list[int]:
    """The postmaster of this connection's server and every process it started."""
    row = conn.execute("SELECT pg_backend_pid()").fetchone()
    try:
        stat = Path(f"/proc/{int(row[0]) if row else 0}/stat").read_text()
        postmaster = int(stat.rpartition(")")[2].split()[1])
    except (OSError, ValueError):
        return []
    out = [postmaster]
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError, ValueError, IndexError):
                text = Path(f"/proc/{entry}/stat").read_text()
                if int(text.rpartition(")")[2].split()[1]) == postmaster:
                    out.append(int(entry))
    return out


def pct(values: list[float] | array[float], q: float) -> float | None:
    if not values:
        return None
    s = sorted(values)
    return s[min(len(s) - 1, int(q / 100 * len(s)))]


def ms(v: float | None) -> float | None:
    return None if v is None else round(1000 * v, 1)


def db_state(conn: psycopg.Connection[Any], slugs: list[str]) -> dict[str, int]:
    """Log heads, caseload positions and outbox counts, summed over the grantees."""
    db = OneConnection(conn)
    out = {"head": 0, "caseload_behind": 0, "pending": 0, "delivered": 0, "failed": 0}
    for slug in slugs:
        s = sql.Identifier(f"g_{slug}")
        row = conn.execute(
            sql.SQL("SELECT coalesce(max(notification_id), 0) FROM {}.events").format(s)
        ).fetchone()
        head = int(row[0]) if row else 0
        out["head"] += head
        position = projector.position_of(db, f"g_{slug}", "caseload")  # type: ignore[arg-type]
        out["caseload_behind"] += max(0, head - position)
        for status, n in conn.execute(
            sql.SQL("SELECT status, count(*) FROM {}.webhook_deliveries GROUP BY status").format(s)
        ).fetchall():
            out[str(status)] = out.get(str(status), 0) + int(n)
    return out


def sample(
    t: float,
    server: Server,
    names: dict[tuple[int, str], str],
    recorder: Recorder,
    probe: LagProbe,
    conn: psycopg.Connection[Any],
    slugs: list[str],
    rebuild: Rebuild,
    cpu: CpuMeter,
    others: dict[str, int],
    private_pg: bool,
) -> dict[str, Any]:
    procs = server.processes()
    api_seen = sum(1 for v in names.values() if v.startswith("api"))
    rss: dict[str, float] = {}
    for pid, role in sorted(procs.items()):
        # Keyed by pid and start time: over a run, thousands of report children come and go,
        # and a pid used again is another process.
        try:
            key = (pid, _stat_fields(pid)[19])
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
    state = db_state(conn, slugs)
    # Report children are counted through their forkserver once reaped (not twice).
    groups: dict[str, list[int]] = {
        "prowd serve (all its processes)": [p for p, r in procs.items() if r != "report child"]
    }
    if private_pg:
        groups["postgres (private cluster, all processes)"] = postgres_pids(conn)
    else:
        groups["postgres backends (scratch db)"] = [
            int(r[0])
            for r in conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
            ).fetchall()
        ]
    groups["soak script + receiver"] = [os.getpid(), *others.values()]
    if rebuild.pid is not None:
        groups["projections rebuild"] = [rebuild.pid]
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
        "cpu_cores": cpu.usage(groups, {p for p, r in procs.items() if r == "report forkserver"}),
    }


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
    topics: dict[str, Counter[str]] = {}  # request id -> event types appended under it
    with psycopg.connect(url) as conn:
        for slug in slugs:
            rows = conn.execute(
                sql.SQL(
                    "SELECT convert_from(state, 'UTF8')::json->>'request_id', topic FROM {}.events"
                ).format(sql.Identifier(f"g_{slug}"))
            ).fetchall()
            for rid, topic in rows:
                if rid is not None:
                    name = str(topic).rsplit(".", 1)[-1].rsplit(":", 1)[-1]
                    topics.setdefault(str(rid), Counter())[name] += 1
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


def server_log_errors(path: Path) -> list[str]:
    lines = []
    with path.open(errors="replace") as f:
        for line in f:
            low = line.lower()
            if '"level": "error"' in low or "traceback" in low or '"level": "critical"' in low:
                lines.append(line.strip()[:400])
    return lines


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


def wait_until(predicate: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(1.0)
    return predicate()


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
    ap.add_argument(
        "--database-url",
        default=os.environ.get("PROWD_DATABASE_URL") or "postgresql://postgres@127.0.0.1:5432/test",
    )
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
    ap.add_argument("--receiver", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.receiver:
        return run_receiver(args.receiver[0], args.receiver[1], int(args.receiver[2]))

    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    duration = args.minutes * 60
    tmp = Path(tempfile.mkdtemp(prefix="prowd-soak-"))
    os.chmod(tmp, 0o711)  # the cluster's user must reach its directory inside
    cluster: Cluster | None = None
    if not args.shared_server:
        (tmp / "pg").mkdir()
        cluster = Cluster(Path(args.pg_bin), tmp / "pg", free_port())
        cluster.start()
        args.database_url = cluster.url
        log(f"private PostgreSQL cluster on port {cluster.port}")
    try:
        return soak(args, stamp, duration, tmp)
    finally:
        if cluster is not None:
            with contextlib.suppress(subprocess.SubprocessError):
                cluster.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def soak(args: argparse.Namespace, stamp: str, duration: float, tmp: Path) -> int:
    """The run itself (setup, load, samples, checks, plots); see the module's docstring."""
    result: dict[str, Any] = {
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": "uv run python tests/perf/soak.py " + " ".join(sys.argv[1:]),
        "parameters": {
            k: v for k, v in vars(args).items() if k not in ("database_url", "receiver")
        },
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
    log(f"service code: {result['code']}")
    extra_env = dict(kv.split("=", 1) for kv in args.server_env)
    with scratch_database(args.database_url) as url:
        data_dir = tmp / "data"
        data_dir.mkdir()
        server = Server(
            url, free_port(), data_dir, tmp / "server.log", args.workers, code, extra_env
        )
        receiver: subprocess.Popen[str] | None = None
        received: dict[str, Any] | None = None
        try:
            server.wait_ready()
            port = free_port()
            log(f"server ready at {server.base}; setting up {args.grantees} grantees")
            grantees, lines = setup_world(server.base, port, args.grantees)
            if args.established:
                log(f"enrolling {args.established} established participants per grantee")
                took = establish(server.base, grantees, args.established)
                log(f"established in {took:.0f} s")
            secrets_file, out_file = tmp / "secrets", tmp / "received.json"
            secrets_file.write_text("\n".join(lines) + "\n")
            receiver = subprocess.Popen(
                [
                    sys.executable,
                    __file__,
                    "--receiver",
                    str(secrets_file),
                    str(out_file),
                    str(port),
                ],
                cwd=ROOT,
                stdout=subprocess.PIPE,
                text=True,
            )
            assert receiver.stdout is not None
            if int(receiver.stdout.readline()) != port:
                raise SystemExit("the receiver did not start on its port")
            slugs = [g.slug for g in grantees]
            recorder = Recorder()
            t0 = time.monotonic()
            deadline = t0 + duration
            load = Load(
                server.base, grantees, args.rate, args.clients, deadline, recorder, args.seed
            )
            probe = LagProbe(server.base, url, grantees[0], recorder, deadline)
            rebuild = Rebuild(server.env, t0 + duration / 2, duration, tmp / "rebuild.log")
            log(
                f"load: {args.clients} clients, {args.rate} operations/s, {args.minutes} min;"
                f" rebuild at {duration / 2 / 60:.1f} min"
            )
            load.start()
            probe.start()
            rebuild.start()
            samples: list[dict[str, Any]] = []
            names: dict[tuple[int, str], str] = {}
            cpu = CpuMeter()
            with psycopg.connect(url, autocommit=True) as conn:
                for i in range(1, int(duration / args.sample) + 2):
                    wake = t0 + i * args.sample
                    time.sleep(max(0.0, wake - time.monotonic()))
                    s = sample(
                        time.monotonic() - t0,
                        server,
                        names,
                        recorder,
                        probe,
                        conn,
                        slugs,
                        rebuild,
                        cpu,
                        {"receiver": receiver.pid},
                        not args.shared_server,
                    )
                    samples.append(s)
                    lat = s["latency"]
                    log(
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
            probe.stop.set()
            probe.join(timeout=60)
            rebuild.join(timeout=max(1.0, rebuild.timeout))
            if rebuild.is_alive():
                rebuild.cancel.set()
            log("load stopped; waiting for the views and the outbox to catch up")
            with psycopg.connect(url, autocommit=True) as conn:
                caught_up = wait_until(lambda: db_state(conn, slugs)["caseload_behind"] == 0, 180)
                drained = wait_until(lambda: db_state(conn, slugs).get("pending", 0) == 0, 600)
            time.sleep(2.0)  # the last answers reach the receiver's counters
            receiver.send_signal(signal.SIGTERM)
            receiver.wait(timeout=60)
            received = json.loads(out_file.read_text()) if out_file.exists() else None
            receiver = None
            log("checking the log against the answers")
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
    log_errors = server_log_errors(tmp / "server.log") if (tmp / "server.log").exists() else []
    prefix = RESULTS / f"soak-{stamp}"
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
                "probes": len(probe.all),
                "timeouts": probe.timeouts,
                "p50_s": round(pct(probe.all, 50) or 0, 3),
                "p99_s": round(pct(probe.all, 99) or 0, 3),
                "max_s": round(max(probe.all), 3) if probe.all else None,
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
    out = prefix.with_suffix(".json")
    out.write_text(json.dumps(result, indent=2, default=str) + "\n")
    print_summary(result)
    log(f"results: {out.relative_to(ROOT)}; plots: {', '.join(result['plots'])}")
    ok = all(checks.values())
    log("PASS" if ok else "FAIL: " + ", ".join(k for k, v in checks.items() if not v))
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
