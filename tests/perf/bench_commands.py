"""Command-path benchmark: raw PostgreSQL baseline, Application.save, HTTP commands, view lag.

Run from the repository root (needs `wrk`: `apt-get install -y wrk`):

    uv run python tests/perf/bench_commands.py [--duration 30] [--connections 32] [--workers 2]

Everything runs in a scratch database (`prowd_bench_<random>`) that this script creates on the
server named by --database-url and drops at the end. All traffic goes to 127.0.0.1. Results are
printed and written to tests/perf/results/commands-<timestamp>.json.

Not a pytest test: the file name does not match test_*.py and it defines no test_ function.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import resource
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import psycopg  # noqa: E402
from psycopg import sql  # noqa: E402
from psycopg.conninfo import conninfo_to_dict, make_conninfo  # noqa: E402

from domain.participants import PersonalDetails  # noqa: E402
from services.app.tenancy import Tenancy  # noqa: E402
from services.identity.tokens import issue_token  # noqa: E402
from services.projector import live as projector  # noqa: E402
from services.settings import Settings  # noqa: E402
from services.store.database import Database  # noqa: E402
from services.store.ledger import Command  # noqa: E402

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
LUA = HERE / "commands.lua"
HOST = "127.0.0.1"
GRANTEES = ["bench_g1", "bench_g2", "bench_g3", "bench_g4"]
TARGETS = {"commands_per_s": 800.0, "p99_ms": 100.0, "lag_p99_s": 1.0}
ENTRY_DATE = date(2026, 1, 15)
PERSON = PersonalDetails(first_name="Bench", last_name="Save", date_of_birth=date(1990, 4, 1))
# Hard bounds on every loop, whatever the clock says.
MAX_LOOP = 2_000_000


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------- machine


def machine_info(url: str) -> dict[str, Any]:
    cpu_model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    mem_kib = 0
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kib = int(line.split()[1])
    with psycopg.connect(url, autocommit=True) as conn:
        pg: dict[str, str] = {}
        for name in (
            "server_version",
            "synchronous_commit",
            "fsync",
            "wal_sync_method",
            "shared_buffers",
            "max_connections",
        ):
            row = conn.execute(f"SHOW {name}").fetchone()
            pg[name] = str(row[0]) if row else ""
        row = conn.execute("SELECT version()").fetchone()
        pg["version"] = str(row[0]) if row else ""
    wrk = shutil.which("wrk")
    wrk_version = ""
    if wrk:
        out = subprocess.run([wrk, "--version"], capture_output=True, text=True, check=False)
        wrk_version = (
            (out.stdout or out.stderr).splitlines()[0] if (out.stdout or out.stderr) else ""
        )
    return {
        "nproc": os.cpu_count(),
        "cpu_model": cpu_model,
        "memory_gib": round(mem_kib / 1024 / 1024, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "postgresql": pg,
        "wrk": wrk_version,
    }


# ------------------------------------------------------------------------- scratch database


@contextlib.contextmanager
def scratch_database(maintenance_url: str) -> Iterator[str]:
    name = f"prowd_bench_{secrets.token_hex(4)}"
    with psycopg.connect(maintenance_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    log(f"scratch database {name} created")
    try:
        yield make_conninfo(maintenance_url, dbname=name)
    finally:
        with psycopg.connect(maintenance_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        log(f"scratch database {name} dropped")


# -------------------------------------------------------------------- 1. raw psycopg baseline


@contextlib.contextmanager
def count_round_trips() -> Iterator[dict[str, int]]:
    """Count network round trips and statements of the code run meanwhile (one thread only).

    Round trips come from libpq's protocol trace of every connection used: each switch from
    frontend (F) messages to backend (B) messages is the client waiting for the server once.
    Statements are counted in psycopg's Cursor.execute.
    """
    counts: dict[str, int] = {"round trips": 0}
    orig_wait = psycopg.Connection.wait
    orig_execute = psycopg.Cursor.execute
    traced: dict[int, Any] = {}
    trace = tempfile.NamedTemporaryFile(prefix="prowd-bench-trace-", delete=False)  # noqa: SIM115 (closed in finally)

    def wait(self: Any, gen: Any, *a: Any, **kw: Any) -> Any:
        if id(self.pgconn) not in traced:
            self.pgconn.trace(trace.fileno())
            self.pgconn.set_trace_flags(psycopg.pq.Trace.SUPPRESS_TIMESTAMPS)
            traced[id(self.pgconn)] = self.pgconn
        return orig_wait(self, gen, *a, **kw)

    def execute(self: Any, query: Any, params: Any = None, **kw: Any) -> Any:
        text = query.as_string(self) if isinstance(query, sql.Composable) else str(query)
        text = " ".join(text.split())
        text = re.sub(r'"g_[a-z0-9_]+"', "g_<slug>", text)
        text = re.sub(r'"prowd_log_g_[a-z0-9_]+"', "prowd_log_g_<slug>", text)
        label = "  stmt: " + (text[:70] if text else "(empty query: pool health check)")
        counts[label] = counts.get(label, 0) + 1
        return orig_execute(self, query, params, **kw)

    psycopg.Connection.wait = wait  # type: ignore[method-assign]
    psycopg.Cursor.execute = execute  # type: ignore[method-assign]
    try:
        yield counts
    finally:
        psycopg.Connection.wait = orig_wait  # type: ignore[method-assign]
        psycopg.Cursor.execute = orig_execute  # type: ignore[method-assign]
        for pgconn in traced.values():
            with contextlib.suppress(Exception):
                pgconn.untrace()
        trace.close()
        previous = ""
        with open(trace.name, errors="replace") as f:
            for line in f:
                direction = line[:1]
                if direction == "B" and previous == "F":
                    counts["round trips"] += 1
                if direction in ("F", "B"):
                    previous = direction
        os.unlink(trace.name)


def raw_baseline(url: str, seconds: float, meter: CpuMeter) -> dict[str, Any]:
    """Single-row INSERT + COMMIT on one connection, as fast as it goes."""
    with psycopg.connect(url) as conn:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS bench_raw (id bigserial PRIMARY KEY,"
            " originator_id uuid NOT NULL, state bytea NOT NULL,"
            " created_at timestamptz NOT NULL DEFAULT now())"
        )
        conn.commit()
        payload = secrets.token_bytes(300)
        n = 0
        lat: list[float] = []
        # CPU is measured while the connection is open: a backend that has exited is not seen.
        before = meter.snapshot()
        start = time.perf_counter()
        deadline = start + seconds
        while n < MAX_LOOP:
            t0 = time.perf_counter()
            conn.execute(
                "INSERT INTO bench_raw (originator_id, state) VALUES (gen_random_uuid(), %s)",
                (payload,),
            )
            conn.commit()
            t1 = time.perf_counter()
            lat.append(t1 - t0)
            n += 1
            if t1 >= deadline:
                break
        elapsed = time.perf_counter() - start
        cpu = meter.usage(before, meter.snapshot())
    return {
        "rows": n,
        "seconds": round(elapsed, 3),
        "per_s": round(n / elapsed, 1),
        "latency_ms": percentiles_ms(lat),
        "cpu": cpu,
    }


def raw_baseline_concurrent(
    url: str, seconds: float, connections: int, meter: CpuMeter
) -> dict[str, Any]:
    """The same, from `connections` threads at once (informational: group commit)."""
    counts = [0] * connections
    start_gate = threading.Barrier(connections + 1)
    done_gate = threading.Barrier(connections + 1)
    may_close = threading.Event()
    stop = threading.Event()
    payload = secrets.token_bytes(300)

    def run(i: int) -> None:
        with psycopg.connect(url) as conn:
            start_gate.wait()
            while not stop.is_set() and counts[i] < MAX_LOOP:
                conn.execute(
                    "INSERT INTO bench_raw (originator_id, state) VALUES (gen_random_uuid(), %s)",
                    (payload,),
                )
                conn.commit()
                counts[i] += 1
            done_gate.wait()
            may_close.wait(timeout=30)

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(connections)]
    for t in threads:
        t.start()
    start_gate.wait()
    before = meter.snapshot()
    start = time.perf_counter()
    time.sleep(seconds)
    stop.set()
    done_gate.wait(timeout=30)
    elapsed = time.perf_counter() - start
    cpu = meter.usage(before, meter.snapshot())
    may_close.set()
    for t in threads:
        t.join(timeout=30)
    n = sum(counts)
    return {
        "connections": connections,
        "rows": n,
        "seconds": round(elapsed, 3),
        "per_s": round(n / elapsed, 1),
        "cpu": cpu,
    }


# ---------------------------------------------------------------- 2. Application.save rate


def setup_grantee_in_process(tenancy: Tenancy, slug: str) -> None:
    from domain.facilities import FacilityKind

    tenancy.platform.registry.register_grantee(
        Command(),
        slug=slug,
        name=f"Bench {slug}",
        grant_number="FS-0000-26",
        time_zone="America/New_York",
    )
    app = tenancy.app(slug)
    app.facilities.register_facility(
        Command(), code="FCI-A", name="FCI Alpha", kind=FacilityKind.BOP_INSTITUTION
    )
    app.facilities.register_facility(Command(), code="RRC-1", name="RRC One", kind=FacilityKind.RRC)
    app.facilities.start_cohort(
        Command(), code="C1", name="", facility_code="FCI-A", start_date=date(2026, 1, 5)
    )


def save_rate(tenancy: Tenancy, slug: str, seconds: float) -> dict[str, Any]:
    """A loop of single-event commands through the application layer (one thread).

    `enroll_participant` = load facility + load cohort + decide + `Application.save` (LOCK
    TABLE, INSERT, NOTIFY, COMMIT). `save_only` times `LedgerApplication.record` (the save plus
    the participant's key row, one transaction) of aggregates built beforehand, i.e. without the
    two loads.
    """
    from domain.participants import Participant
    from services.app.participants import new_participant_number

    app = tenancy.app(slug)
    n = 0
    lat: list[float] = []
    cpu0 = time.process_time()
    start = time.perf_counter()
    deadline = start + seconds
    while n < MAX_LOOP:
        t0 = time.perf_counter()
        app.participants.enroll_participant(
            Command(),
            personal=PERSON,
            program_entry_date=ENTRY_DATE,
            facility_code="FCI-A",
            cohort_code="C1",
        )
        t1 = time.perf_counter()
        lat.append(t1 - t0)
        n += 1
        if t1 >= deadline:
            break
    elapsed = time.perf_counter() - start
    enrol = {
        "events": n,
        "seconds": round(elapsed, 3),
        "per_s": round(n / elapsed, 1),
        "latency_ms": percentiles_ms(lat),
        "client_cpu_ms_per_event": round(1000 * (time.process_time() - cpu0) / n, 3),
    }

    facility, cohort = app.facilities.facility("FCI-A"), app.facilities.cohort("C1")
    save_seconds = seconds / 2
    m = 0
    lat2: list[float] = []
    build_s = 0.0
    cpu0 = time.process_time()
    start = time.perf_counter()
    deadline = start + save_seconds
    while m < MAX_LOOP:
        b0 = time.process_time()
        p = Participant.enroll(
            number=new_participant_number(),
            personal=PERSON,
            program_entry_date=ENTRY_DATE,
            facility=facility,
            cohort=cohort,
        )
        build_s += time.process_time() - b0
        t0 = time.perf_counter()
        # `record` is the save path now: Application.save plus, in the same transaction, the
        # participant's data key (personal fields are stored encrypted; a bare save is refused).
        app.ledger.record(p, Command())
        t1 = time.perf_counter()
        lat2.append(t1 - t0)
        m += 1
        if t1 >= deadline:
            break
    elapsed2 = time.perf_counter() - start
    save_only = {
        "events": m,
        "seconds": round(elapsed2, 3),
        "per_s": round(m / elapsed2, 1),
        "latency_ms": percentiles_ms(lat2),
        "client_cpu_ms_per_event": round(1000 * (time.process_time() - cpu0 - build_s) / m, 3),
    }
    # Round trips and statements per command, in isolation (counted in psycopg, client side).
    from domain.participants import Placement

    k = 50
    with count_round_trips() as enrol_counts:
        ids = [
            app.participants.enroll_participant(
                Command(),
                personal=PERSON,
                program_entry_date=ENTRY_DATE,
                facility_code="FCI-A",
                cohort_code="C1",
            ).aggregate.id
            for _ in range(k)
        ]
    moment = datetime.now(UTC) - timedelta(hours=1)
    with count_round_trips() as move_counts:
        for pid in ids:
            app.participants.transition_stage(
                Command(),
                pid,
                placement=Placement.COMMUNITY,
                facility_code=None,
                occurred_at=moment,
            )
    round_trips = {
        name: {key: round(n / k, 2) for key, n in sorted(c.items(), key=lambda kv: -kv[1])}
        for name, c in (
            ("enroll_participant", enrol_counts),
            ("transition_stage_1_to_3", move_counts),
        )
    }
    return {
        "enroll_participant": enrol,
        "save_only": save_only,
        "round_trips_per_command": round_trips,
    }


def projection_cost(db: Database, slug: str) -> dict[str, Any]:
    """Catch-up of the views over the events of the save loop, in this process, no other load.

    One traced batch (round trips and statements per event), then the rest timed.
    """
    schema = f"g_{slug}"
    views = len(projector.PROJECTIONS)
    with count_round_trips() as counts:
        t0 = time.perf_counter()
        first = projector.catch_up(db, schema)
        traced_s = time.perf_counter() - t0
    cpu0 = time.process_time()
    t0 = time.perf_counter()
    rest = 0
    for _ in range(10_000):
        n = projector.catch_up(db, schema)
        if not n:
            break
        rest += n
    elapsed = time.perf_counter() - t0
    cpu = time.process_time() - cpu0
    return {
        "views": views,
        "traced_batch": {
            "events": first,
            "seconds": round(traced_s, 3),
            "per_event": {
                k: round(v / first, 2)
                for k, v in sorted(counts.items(), key=lambda kv: -kv[1])[:12]
            }
            if first
            else {},
        },
        "events": rest,
        "seconds": round(elapsed, 3),
        "events_per_s": round(rest / elapsed, 1) if elapsed else None,
        "client_cpu_ms_per_event": round(1000 * cpu / rest, 3) if rest else None,
    }


def pre_enrol(tenancy: Tenancy, per_grantee: int, max_seconds: float) -> dict[str, list[str]]:
    """Stage-1 participants for the 1->3 transitions, one thread per grantee."""
    out: dict[str, list[str]] = {slug: [] for slug in GRANTEES}

    def run(slug: str) -> None:
        app = tenancy.app(slug)
        deadline = time.monotonic() + max_seconds
        for _ in range(per_grantee):
            saved = app.participants.enroll_participant(
                Command(),
                personal=PERSON,
                program_entry_date=ENTRY_DATE,
                facility_code="FCI-A",
                cohort_code="C1",
            )
            out[slug].append(str(saved.aggregate.id))
            if time.monotonic() > deadline:
                break

    threads = [threading.Thread(target=run, args=(slug,), daemon=True) for slug in GRANTEES]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


# ---------------------------------------------------------------------------- 3. HTTP server


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def prowd_executable() -> list[str]:
    venv = ROOT / ".venv" / "bin" / "prowd"
    if venv.exists():
        return [str(venv)]
    return ["uv", "run", "--project", str(ROOT), "prowd"]


class Server:
    """`prowd serve` in its own process group; stopped (SIGTERM, then SIGKILL) on exit."""

    def __init__(
        self,
        url: str,
        secret: str,
        port: int,
        workers: int,
        log_path: Path,
        log_level: str,
        extra_env: dict[str, str] | None = None,
    ) -> None:
        self.port = port
        self.base = f"http://{HOST}:{port}"
        env = {
            **os.environ,
            "PROWD_DATABASE_URL": url,
            "PROWD_JWT_SECRET": secret,
            "PROWD_LOG_LEVEL": log_level,
            # The load comes from one address with a few tokens: the limits would cap it.
            "PROWD_RATE_LIMIT_TOKEN": "0",
            "PROWD_RATE_LIMIT_IP": "0",
            **(extra_env or {}),
        }
        self.log_file = log_path.open("wb")
        self.proc = subprocess.Popen(
            [
                *prowd_executable(),
                "serve",
                "--host",
                HOST,
                "--port",
                str(port),
                "--workers",
                str(workers),
            ],
            env=env,
            cwd=ROOT,
            stdout=self.log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_ready(self, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        with httpx.Client(timeout=2.0) as c:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"prowd serve exited with {self.proc.returncode}")
                with contextlib.suppress(httpx.HTTPError):
                    if c.get(f"{self.base}/ready").status_code == 200:
                        return
                time.sleep(0.2)
        raise RuntimeError("prowd serve did not become ready")

    def children(self) -> dict[str, list[int]]:
        """PIDs of the uvicorn API workers and of the projection worker."""
        out: dict[str, list[int]] = {"api": [], "projection": []}
        for pid in _children(self.proc.pid):
            try:
                cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if "services.cli worker" in cmd:
                out["projection"].append(pid)
            elif "multiprocessing" in cmd and "resource_tracker" not in cmd:
                out["api"].append(pid)
        return out

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                log("prowd serve did not stop on SIGTERM; killing its process group")
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        # Anything left in the group (a worker that outlived its parent): kill it too.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.log_file.close()


def _children(pid: int) -> list[int]:
    out: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for tid in tasks:
        with contextlib.suppress(OSError):
            for child in Path(f"/proc/{pid}/task/{tid}/children").read_text().split():
                out.append(int(child))
                out.extend(_children(int(child)))
    return out


def http_setup(base: str, admin: str, coordinator: str) -> None:
    with httpx.Client(base_url=base, timeout=30.0) as c:
        for slug in GRANTEES:
            r = c.post(
                "/v1/grantees",
                json={"slug": slug, "name": f"Bench {slug}", "grant_number": "FS-0000-26"},
                headers={"Authorization": f"Bearer {admin}"},
            )
            r.raise_for_status()
            h = {"Authorization": f"Bearer {coordinator}"}
            for body in (
                {"code": "FCI-A", "name": "FCI Alpha", "kind": "bop_institution"},
                {"code": "RRC-1", "name": "RRC One", "kind": "rrc"},
            ):
                c.post(f"/v1/grantees/{slug}/facilities", json=body, headers=h).raise_for_status()
            c.post(
                f"/v1/grantees/{slug}/cohorts",
                json={"code": "C1", "facility": "FCI-A", "start_date": "2026-01-05"},
                headers=h,
            ).raise_for_status()


def wait_projections(db: Database, slugs: list[str], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    for slug in slugs:
        schema = f"g_{slug}"
        row = db.fetchone(f'SELECT coalesce(max(notification_id), 0) FROM "{schema}".events')
        head = int(row[0]) if row else 0
        while projector.position_of(db, schema, "caseload") < head:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.1)
    return True


# ---------------------------------------------------------------------- 4. projection lag


class OneConnection:
    """What `projector.position_of` needs of a `Database`, on one dedicated connection.

    (A pooled `Database` would add the pool's health-check round trip to every poll.)
    """

    def __init__(self, url: str) -> None:
        self.conn = psycopg.connect(url, autocommit=True, application_name="prowd-bench-lag")

    def fetchone(self, query: Any, params: Any = None) -> Any:
        return self.conn.execute(query, params).fetchone()

    def close(self) -> None:
        self.conn.close()


class LagProbe(threading.Thread):
    """Every ~100 ms: one enrolment over HTTP, then poll the caseload position until it shows."""

    def __init__(
        self,
        base: str,
        token: str,
        db: OneConnection,
        interval: float = 0.1,
        timeout: float = 10.0,
        max_probes: int = 10_000,
    ) -> None:
        super().__init__(name="lag-probe", daemon=True)
        self.base, self.token, self.db = base, token, db
        self.interval, self.timeout, self.max_probes = interval, timeout, max_probes
        self.stopping = threading.Event()
        self.lags: list[float] = []
        self.request_s: list[float] = []
        self.timeouts = 0
        self.polls = 0
        self.failures: dict[str, int] = {}

    def run(self) -> None:
        body = {
            "first_name": "Lag",
            "last_name": "Probe",
            "date_of_birth": "1990-04-01",
            "program_entry_date": ENTRY_DATE.isoformat(),
            "facility": "FCI-A",
            "cohort": "C1",
        }
        headers = {"Authorization": f"Bearer {self.token}"}
        i = 0
        with httpx.Client(base_url=self.base, timeout=10.0) as c:
            next_at = time.monotonic()
            while not self.stopping.is_set() and i < self.max_probes:
                slug = GRANTEES[i % len(GRANTEES)]
                i += 1
                t0 = time.monotonic()
                try:
                    r = c.post(f"/v1/grantees/{slug}/participants", json=body, headers=headers)
                except httpx.HTTPError as e:
                    key = type(e).__name__
                    self.failures[key] = self.failures.get(key, 0) + 1
                    r = None
                t_resp = time.monotonic()
                if r is not None and r.status_code == 201:
                    self.request_s.append(t_resp - t0)
                    position = int(r.json()["position"])
                    self._wait(f"g_{slug}", position, t_resp)
                elif r is not None:
                    key = str(r.status_code)
                    self.failures[key] = self.failures.get(key, 0) + 1
                next_at += self.interval
                pause = next_at - time.monotonic()
                if pause > 0:
                    self.stopping.wait(pause)
                else:
                    next_at = time.monotonic()

    def _wait(self, schema: str, position: int, t_resp: float) -> None:
        deadline = t_resp + self.timeout
        while True:
            self.polls += 1
            if projector.position_of(self.db, schema, "caseload") >= position:  # type: ignore[arg-type]
                self.lags.append(time.monotonic() - t_resp)
                return
            if time.monotonic() > deadline:
                self.timeouts += 1
                self.lags.append(self.timeout)
                return
            time.sleep(0.005)

    def result(self) -> dict[str, Any]:
        return {
            "probes": len(self.lags),
            "timeouts": self.timeouts,
            "failures": self.failures,
            "polls": self.polls,
            "lag_ms": percentiles_ms(self.lags),
            "probe_request_ms": percentiles_ms(self.request_s),
            "lags_ms": [round(1000 * v, 1) for v in self.lags],
        }


# ------------------------------------------------------------------------------------- wrk


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


# -------------------------------------------------------------------------- CPU accounting


def _ticks(pid: int) -> int:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0
    return int(fields[11]) + int(fields[12])  # utime + stime


def _ppid(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[1])
    except (OSError, IndexError, ValueError):
        return 0


def _cmdline(pid: int) -> str:
    try:
        return (
            Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        )
    except OSError:
        return ""


class CpuMeter:
    """CPU used by each part of the benchmark, and by everything else on the machine.

    Ours: this script, the `prowd serve` tree, wrk (a reaped child of this script), and the
    PostgreSQL server's processes serving the scratch database plus its shared background
    processes (WAL writer, checkpointer, ...). Anything else busy on the machine (other
    PostgreSQL servers, test suites, ...) is reported as `other processes (not the benchmark)`:
    when it is large the figures are not clean.
    """

    def __init__(self, url: str) -> None:
        self.dbname = str(conninfo_to_dict(url).get("dbname", ""))
        with psycopg.connect(url, autocommit=True) as conn:
            row = conn.execute("SELECT pg_backend_pid()").fetchone()
        self.postmaster = _ppid(int(row[0])) if row else 0
        self.server: Server | None = None
        self.extra: dict[int, str] = {}

    def snapshot(self) -> dict[str, Any]:
        roles: dict[int, str] = {os.getpid(): "bench script", **self.extra}
        if self.server is not None:
            kids = self.server.children()
            roles.update({pid: "api workers" for pid in kids["api"]})
            roles.update({pid: "projection worker" for pid in kids["projection"]})
            roles[self.server.proc.pid] = "prowd serve supervisor"
        per: dict[str, int] = {}
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            pid = int(entry)
            role = roles.get(pid)
            if role is None and _ppid(pid) == self.postmaster and self.postmaster:
                cmd = _cmdline(pid)
                if f" {self.dbname} " in cmd:
                    role = "postgres backends (scratch db)"
                elif " postgres " not in cmd and "[local]" not in cmd and "(" not in cmd:
                    role = "postgres background (wal writer etc.)"
            if role is None and pid == self.postmaster:
                role = "postgres background (wal writer etc.)"
            if role is not None:
                per[role] = per.get(role, 0) + _ticks(pid)
        values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:8]]
        idle = values[3] + values[4]
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        return {
            "per": per,
            "busy": sum(values) - idle,
            "total": sum(values),
            "children_s": children.ru_utime + children.ru_stime,
            "t": time.monotonic(),
            "load": os.getloadavg(),
        }

    @staticmethod
    def usage(
        before: dict[str, Any], after: dict[str, Any], *, wrk: bool = False
    ) -> dict[str, Any]:
        hz = os.sysconf("SC_CLK_TCK")
        seconds = after["t"] - before["t"]
        ncpu = os.cpu_count() or 1
        cores = {
            role: (after["per"].get(role, 0) - before["per"].get(role, 0)) / hz / seconds
            for role in after["per"]
        }
        if wrk:
            cores["wrk"] = (after["children_s"] - before["children_s"]) / seconds
        total = after["total"] - before["total"]
        busy_cores = ncpu * (after["busy"] - before["busy"]) / total if total else 0.0
        cores["other processes (not the benchmark)"] = max(0.0, busy_cores - sum(cores.values()))
        return {
            "seconds": round(seconds, 1),
            "machine_busy_pct": round(100 * busy_cores / ncpu, 1),
            "loadavg_1m_before": round(before["load"][0], 2),
            "cores": {k: round(v, 2) for k, v in sorted(cores.items(), key=lambda kv: -kv[1])},
        }


def wait_quiet(max_seconds: float, threshold: float = 0.25) -> dict[str, Any]:
    """Wait (bounded) until the machine is nearly idle: busy < threshold cores over 3 s."""
    deadline = time.monotonic() + max_seconds
    waited = 0.0
    t0 = time.monotonic()
    while True:
        a = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:8]]
        time.sleep(3.0)
        b = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:8]]
        total = sum(b) - sum(a)
        busy = (
            (os.cpu_count() or 1) * (total - (b[3] + b[4] - a[3] - a[4])) / total if total else 0.0
        )
        waited = time.monotonic() - t0
        if busy < threshold or time.monotonic() >= deadline:
            return {
                "busy_cores": round(busy, 2),
                "waited_s": round(waited, 1),
                "quiet": busy < threshold,
            }
        log(f"   machine busy ({busy:.2f} cores used by other processes); waiting")


def pg_stats(url: str) -> dict[str, int]:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SELECT pg_stat_force_next_flush()")
        row = conn.execute(
            "SELECT xact_commit, xact_rollback, tup_inserted, tup_updated, tup_fetched, blks_hit,"
            " blks_read FROM pg_stat_database WHERE datname = current_database()"
        ).fetchone()
    keys = (
        "xact_commit",
        "xact_rollback",
        "tup_inserted",
        "tup_updated",
        "tup_fetched",
        "blks_hit",
        "blks_read",
    )
    return dict(zip(keys, (int(v) for v in row), strict=True)) if row else {}


def git_info() -> dict[str, Any]:
    def git(*a: str) -> str:
        out = subprocess.run(["git", *a], cwd=ROOT, capture_output=True, text=True, check=False)
        return out.stdout.strip()

    status = [
        ln
        for ln in git("status", "--porcelain").splitlines()
        if "tests/perf/" not in ln and "docs/performance.md" not in ln
    ]
    return {
        "commit": git("rev-parse", "HEAD"),
        "subject": git("log", "-1", "--format=%s"),
        "uncommitted_changes": len(status),
        "changed_files": status[:50],
    }


# ------------------------------------------------------------------------------- profiling


def start_profilers(
    server: Server, duration: int, stamp: str, *, gil: bool, rate: int
) -> list[tuple[subprocess.Popen[bytes], Path]]:
    py_spy = shutil.which("py-spy") or str(ROOT / ".venv" / "bin" / "py-spy")
    if not Path(py_spy).exists():
        raise RuntimeError("--profile needs py-spy: `uv pip install py-spy`")
    kids = server.children()
    targets = [("api", kids["api"][0])] if kids["api"] else []
    if kids["projection"]:
        targets.append(("projection", kids["projection"][0]))
    procs = []
    mode = "gil" if gil else "wall"
    for role, pid in targets:
        path = RESULTS / f"profile-{stamp}-{role}-{mode}.txt"
        p = subprocess.Popen(
            [
                py_spy,
                "record",
                "-p",
                str(pid),
                "-d",
                str(duration),
                "-r",
                str(rate),
                "--format",
                "raw",
                "-o",
                str(path),
                "--nonblocking",
                *(["--gil"] if gil else []),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        procs.append((p, path))
        log(f"py-spy ({mode}) recording {role} pid {pid} into {path.name}")
    return procs


_PLUMBING = (
    "threading.py",
    "concurrent/futures",
    "multiprocessing/",
    "<frozen runpy>",
    "uvicorn/_subprocess",
    "uvicorn/supervisors",
    "uvicorn/server.py",
    "uvicorn/_compat",
    "asyncio/runners.py",
    "asyncio/base_events.py",
    "asyncio/events.py",
    "contextlib.py",
    "services/cli/main.py",
)


# Innermost matching frame decides a sample's bucket (file path fragments, first match wins).
_BUCKETS = (
    ("psycopg / pool (driver)", ("psycopg/", "psycopg_pool/")),
    ("event (de)serialisation (services/store/mapping.py, msgspec)", ("services/store/mapping.py", "msgspec")),
    ("domain model (domain/)", ("domain/",)),
    ("eventsourcing library", ("eventsourcing/",)),
    ("projections/", ("projections/",)),
    ("JWT verification (pyjwt, cryptography)", ("jwt/", "cryptography/")),
    (
        "request log (structlog, services/api/middleware.py)",
        ("structlog/", "services/api/middleware.py"),
    ),
    ("services/ (application, api handlers)", ("services/",)),
    ("litestar (routing, DI, validation, serialisation)", ("litestar/",)),
    ("uvicorn / httptools / asyncio", ("uvicorn/", "httptools", "asyncio/", "uvloop")),
    (
        "thread pool hand-off (anyio, concurrent.futures, threading)",
        ("anyio/", "concurrent/futures", "threading.py"),
    ),
)


def _bucket(frames: list[str]) -> str:
    for frame in reversed(frames):
        for name, fragments in _BUCKETS:
            if any(f in frame for f in fragments):
                return name
    return "other"


def summarize_profile(path: Path, top: int = 30) -> dict[str, Any]:
    """py-spy's collapsed stacks -> % of samples under each function (inclusive) and in it."""
    if not path.exists():
        return {}
    total = 0
    inclusive: dict[str, int] = {}
    own: dict[str, int] = {}
    buckets: dict[str, int] = {}
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = [f.rsplit(":", 1)[0] + ")" if ":" in f else f for f in stack.split(";")]
        for name in set(frames):
            inclusive[name] = inclusive.get(name, 0) + n
        own[frames[-1]] = own.get(frames[-1], 0) + n
        b = _bucket(frames)
        buckets[b] = buckets.get(b, 0) + n
    if not total:
        return {}

    def share(d: dict[str, int]) -> list[tuple[str, float]]:
        rows = [(k, v) for k, v in d.items() if not any(p in k for p in _PLUMBING)]
        rows.sort(key=lambda kv: -kv[1])
        return [(k, round(100 * v / total, 1)) for k, v in rows[:top]]

    return {
        "samples": total,
        "buckets_pct": [
            (k, round(100 * v / total, 1))
            for k, v in sorted(buckets.items(), key=lambda kv: -kv[1])
        ],
        "inclusive_pct": share(inclusive),
        "self_pct": share(own),
    }


# ------------------------------------------------------------------------------------ misc


def percentiles_ms(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    s = sorted(values)

    def q(p: float) -> float:
        return round(1000 * s[min(len(s) - 1, int(p / 100 * len(s)))], 2)

    return {
        "p50": q(50),
        "p90": q(90),
        "p99": q(99),
        "max": round(1000 * s[-1], 2),
        "mean": round(1000 * statistics.fmean(s), 2),
        "n": len(s),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--database-url",
        default=os.environ.get("PROWD_DATABASE_URL") or "postgresql://postgres@127.0.0.1:5432/test",
        help="maintenance database on the server; a scratch database is created beside it",
    )
    ap.add_argument("--duration", type=int, default=30, help="seconds of wrk load")
    ap.add_argument("--connections", type=int, default=32, help="wrk connections")
    ap.add_argument("--workers", type=int, default=2, help="API processes of prowd serve")
    ap.add_argument("--wrk-threads", type=int, default=2)
    ap.add_argument("--baseline-seconds", type=float, default=10.0)
    ap.add_argument("--save-seconds", type=float, default=10.0)
    ap.add_argument(
        "--transition-share",
        type=float,
        default=0.5,
        help="fraction of wrk requests that are 1->3 transitions (rest: enrolments)",
    )
    ap.add_argument(
        "--pre-enrol",
        type=int,
        default=0,
        help="participants pre-enrolled for transitions (default: duration x 1000 x share)",
    )
    ap.add_argument("--log-level", default="info", help="PROWD_LOG_LEVEL of the server")
    ap.add_argument(
        "--profile",
        action="store_true",
        help="py-spy one API worker and the projection worker during the wrk run",
    )
    ap.add_argument(
        "--profile-gil",
        action="store_true",
        help="with --profile: sample only the thread holding the GIL (CPU in Python)",
    )
    ap.add_argument("--profile-rate", type=int, default=50, help="py-spy samples per second")
    ap.add_argument(
        "--quiet-wait",
        type=float,
        default=180.0,
        help="wait up to this many seconds for an idle machine before starting (0: no)",
    )
    ap.add_argument(
        "--skip-baselines", action="store_true", help="skip steps 1-2 (for profiling runs)"
    )
    ap.add_argument(
        "--group-commit-max",
        type=int,
        default=64,
        help="PROWD_GROUP_COMMIT_MAX of the server (1: every command commits alone)",
    )
    ap.add_argument(
        "--handler-threads", type=int, default=0, help="PROWD_HANDLER_THREADS (0: the default)"
    )
    args = ap.parse_args(argv)

    if shutil.which("wrk") is None:
        print("wrk not found: apt-get install -y wrk", file=sys.stderr)
        return 2
    host = str(conninfo_to_dict(args.database_url).get("host", ""))
    if host not in ("", "127.0.0.1", "localhost", "::1") and not host.startswith("/"):
        print(f"refusing a database host other than this machine: {host!r}", file=sys.stderr)
        return 2

    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    secret = "bench-" + secrets.token_hex(24)
    result: dict[str, Any] = {
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "parameters": {k: v for k, v in vars(args).items() if k != "database_url"},
        "machine": machine_info(args.database_url),
        "targets": TARGETS,
    }
    log(
        f"machine: {result['machine']['nproc']} cpu, {result['machine']['cpu_model']}, "
        f"PostgreSQL {result['machine']['postgresql']['server_version']}"
    )

    result["git"] = git_info()
    result["quiet_waits"] = {}

    def quiet(label: str) -> None:
        if args.quiet_wait > 0:
            log(f"   waiting up to {args.quiet_wait:.0f} s for an idle machine before {label}")
            result["quiet_waits"][label] = q = wait_quiet(args.quiet_wait)
            log(f"   {q}")

    with contextlib.ExitStack() as stack, tempfile.TemporaryDirectory(prefix="prowd-bench-") as tmp:
        url = stack.enter_context(scratch_database(args.database_url))
        meter = CpuMeter(url)
        settings = Settings(database_url=url, jwt_secret=secret, pool_min=1, pool_max=8)
        db = Database(url, settings, name="prowd-bench").open()
        stack.callback(db.close)
        tenancy = Tenancy(db)
        tenancy.migrate()

        if not args.skip_baselines:
            other = "other processes (not the benchmark)"
            for attempt in range(
                1, 4
            ):  # a phase disturbed by other load is repeated, at most 3 times
                quiet("raw baseline")
                log(
                    f"1. raw INSERT+COMMIT, one connection, {args.baseline_seconds:.0f} s"
                    f" (attempt {attempt})"
                )
                raw = raw_baseline(url, args.baseline_seconds, meter)
                raw["attempt"] = attempt
                log(f"   {raw['per_s']} rows/s; other processes {raw['cpu']['cores'][other]} cores")
                if raw["cpu"]["cores"][other] <= CLEAN_MAX_OTHER_CORES:
                    break
            result["raw_baseline"] = raw
            for attempt in range(1, 4):
                quiet("raw baseline, concurrent")
                log(f"1b. raw INSERT+COMMIT, {args.connections} connections, 5 s (informational)")
                raw32 = raw_baseline_concurrent(url, 5.0, args.connections, meter)
                raw32["attempt"] = attempt
                log(
                    f"   {raw32['per_s']} rows/s; other processes {raw32['cpu']['cores'][other]} cores"
                )
                if raw32["cpu"]["cores"][other] <= CLEAN_MAX_OTHER_CORES:
                    break
            result["raw_baseline_concurrent"] = raw32

            log(f"2. Application.save loop, {args.save_seconds:.0f} s")
            setup_grantee_in_process(tenancy, "bench_save")
            quiet("save rate")
            before = meter.snapshot()
            result["save_rate"] = save_rate(tenancy, "bench_save", args.save_seconds)
            result["save_rate"]["cpu"] = meter.usage(before, meter.snapshot())
            log(
                f"   enroll_participant {result['save_rate']['enroll_participant']['per_s']} events/s,"
                f" save only {result['save_rate']['save_only']['per_s']} events/s"
            )
            log("2b. projection catch-up of those events, in this process")
            before = meter.snapshot()
            result["projection_catch_up"] = projection_cost(db, "bench_save")
            result["projection_catch_up"]["cpu"] = meter.usage(before, meter.snapshot())
            log(f"   {result['projection_catch_up']['events_per_s']} events/s")

        log(f"3. starting prowd serve --workers {args.workers}")
        server_log = Path(tmp) / "server.log"
        server_env = {"PROWD_GROUP_COMMIT_MAX": str(args.group_commit_max)}
        if args.handler_threads:
            server_env["PROWD_HANDLER_THREADS"] = str(args.handler_threads)
        server = Server(
            url, secret, free_port(), args.workers, server_log, args.log_level, server_env
        )
        stack.callback(server.stop)
        server.wait_ready()
        meter.server = server
        admin = issue_token(
            settings, subject="bench-admin", roles=["platform_admin"], grantees=["*"]
        )
        coordinator = issue_token(
            settings, subject="bench-coordinator", roles=["coordinator"], grantees=GRANTEES
        )
        http_setup(server.base, admin, coordinator)

        pre = args.pre_enrol or int(args.duration * 1000 * args.transition_share)
        per_grantee = -(-pre // len(GRANTEES))
        log(f"   pre-enrolling {per_grantee * len(GRANTEES)} participants (application layer)")
        t0 = time.monotonic()
        ids = pre_enrol(tenancy, per_grantee, max_seconds=180)
        pre_seconds = time.monotonic() - t0
        total_ids = sum(len(v) for v in ids.values())
        log(f"   {total_ids} in {pre_seconds:.1f} s; waiting for the projections to catch up")
        if not wait_projections(
            db, [*GRANTEES] + ([] if args.skip_baselines else ["bench_save"]), 300
        ):
            raise RuntimeError("projections did not catch up before the load")

        # Ids for wrk: interleave grantees, partition per wrk thread.
        interleaved = [
            (slug, pid)
            for row in zip(*ids.values(), strict=False)
            for slug, pid in zip(ids.keys(), row, strict=False)
        ]
        config = Path(tmp) / "wrk.conf"
        occurred_at = (datetime.now(UTC) - timedelta(hours=1)).isoformat(timespec="seconds")
        config.write_text(
            f"token {coordinator}\n"
            + "".join(f"grantee {g}\n" for g in GRANTEES)
            + f"occurred_at {occurred_at}\ntransition_share {args.transition_share}\n"
        )
        ids_prefix = Path(tmp) / "ids-"
        for t in range(args.wrk_threads):
            part = interleaved[t :: args.wrk_threads]
            (Path(f"{ids_prefix}{t + 1}")).write_text("".join(f"{s} {p}\n" for s, p in part))

        lag_db = OneConnection(url)
        stack.callback(lag_db.close)
        probe = LagProbe(server.base, coordinator, lag_db)
        quiet("wrk")
        profilers = (
            start_profilers(
                server, args.duration, stamp, gil=args.profile_gil, rate=args.profile_rate
            )
            if args.profile
            else []
        )
        meter.extra = {p.pid: "py-spy (profiler)" for p, _ in profilers}
        stats_before = pg_stats(url)
        cpu_before = meter.snapshot()
        probe.start()
        try:
            wrk = run_wrk(
                server.base,
                duration=args.duration,
                connections=args.connections,
                threads=args.wrk_threads,
                config=config,
                ids_prefix=ids_prefix,
            )
        finally:
            probe.stopping.set()
            probe.join(timeout=30)
        result["cpu_during_load"] = CpuMeter.usage(cpu_before, meter.snapshot(), wrk=True)
        time.sleep(11.0)  # idle backends flush their statistics after 10 s
        stats_after = pg_stats(url)
        commands = wrk["requests"] + len(probe.lags)
        pgl = {k: stats_after[k] - stats_before.get(k, 0) for k in stats_after}
        pgl["lag_probe_polls"] = probe.polls
        # Every statement in autocommit (also the pool's empty health-check query) commits a
        # transaction of its own, so this approximates round trips, projection worker included.
        pgl["transactions_per_command"] = (
            round((pgl["xact_commit"] - probe.polls) / commands, 1) if commands else None
        )
        result["postgres_during_load"] = pgl
        secs = result["cpu_during_load"]["seconds"]
        result["cpu_ms_per_command"] = {
            role: round(1000 * cores * secs / commands, 2)
            for role, cores in result["cpu_during_load"]["cores"].items()
            if not role.startswith("other processes") and commands
        }
        result["cpu_ms_per_command"]["total (benchmark processes)"] = round(
            sum(result["cpu_ms_per_command"].values()), 2
        )
        result["http"] = {k: v for k, v in wrk.items() if k != "stdout"}
        result["http"]["wrk_stdout"] = wrk["stdout"].splitlines()
        result["http"]["pre_enrolled"] = {
            "participants": total_ids,
            "seconds": round(pre_seconds, 1),
        }
        result["lag"] = probe.result()
        for p, path in profilers:
            try:
                _, err = p.communicate(timeout=60)
            except subprocess.TimeoutExpired:
                p.kill()
                err = b""
            if p.returncode not in (0, None):
                log(f"py-spy: {err.decode(errors='replace')[-500:]}")
            result.setdefault("profile", {})[path.name] = summarize_profile(path)

        tail = server_log.read_bytes()[-4000:].decode(errors="replace")
        errors = [ln for ln in tail.splitlines() if '"level": "error"' in ln or "Traceback" in ln]
        result["server_log_errors_tail"] = errors[-10:]
        result["server_log_bytes"] = server_log.stat().st_size

    result["finished_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    result["summary"] = summary(result)
    out_path = RESULTS / f"commands-{stamp}.json"
    out_path.write_text(json.dumps(result, indent=2) + "\n")
    print_summary(result)
    print(f"\nresults: {out_path.relative_to(ROOT)}")
    return 0


def summary(r: dict[str, Any]) -> dict[str, Any]:
    http = r["http"]
    cps = http["ok_per_s"]
    p99_ms = http["latency_us"]["p99"] / 1000
    lag_p99_s = r["lag"]["lag_ms"].get("p99", float("inf")) / 1000
    raw = r.get("raw_baseline", {}).get("per_s")
    return {
        "raw_baseline_per_s": raw,
        "raw_baseline_concurrent_per_s": r.get("raw_baseline_concurrent", {}).get("per_s"),
        "save_enroll_per_s": r.get("save_rate", {}).get("enroll_participant", {}).get("per_s"),
        "save_only_per_s": r.get("save_rate", {}).get("save_only", {}).get("per_s"),
        "http_requests_per_s": http["requests_per_s"],
        "http_commands_per_s": cps,
        "http_p50_ms": http["latency_us"]["p50"] / 1000,
        "http_p99_ms": p99_ms,
        "http_non_2xx": http["non_2xx"],
        "lag_p50_ms": r["lag"]["lag_ms"].get("p50"),
        "lag_p99_ms": r["lag"]["lag_ms"].get("p99"),
        "lag_max_ms": r["lag"]["lag_ms"].get("max"),
        "http_to_raw_ratio": round(cps / raw, 3) if raw else None,
        "max_other_processes_cores": max_other(r),
        "clean": max_other(r) <= CLEAN_MAX_OTHER_CORES,
        "pass": {
            "commands_per_s>=800": cps >= TARGETS["commands_per_s"],
            "p99<=100ms": p99_ms <= TARGETS["p99_ms"],
            "lag_p99<=1s": lag_p99_s <= TARGETS["lag_p99_s"],
        },
    }


CLEAN_MAX_OTHER_CORES = 0.25


def _phase_cpu(r: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for label, key in (
        ("raw", "raw_baseline"),
        ("raw32", "raw_baseline_concurrent"),
        ("save", "save_rate"),
        ("projection", "projection_catch_up"),
        ("http", "cpu_during_load"),
    ):
        section = r.get(key)
        if section:
            out.append((label, section if key == "cpu_during_load" else section.get("cpu", {})))
    return out


def max_other(r: dict[str, Any]) -> float:
    key = "other processes (not the benchmark)"
    return max((cpu.get("cores", {}).get(key, 0.0) for _, cpu in _phase_cpu(r)), default=0.0)


def other_load(r: dict[str, Any]) -> str:
    key = "other processes (not the benchmark)"
    return ", ".join(f"{label} {cpu.get('cores', {}).get(key)}" for label, cpu in _phase_cpu(r))


def print_profile(r: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    for name, prof in r.get("profile", {}).items():
        if not prof:
            continue
        lines.append(f"profile {name} ({prof['samples']} samples), by innermost component %:")
        lines += [f"   {pct:5.1f}  {b}" for b, pct in prof["buckets_pct"]]
        lines.append("  inclusive %:")
        lines += [f"   {pct:5.1f}  {frame}" for frame, pct in prof["inclusive_pct"][:22]]
        lines.append("  self %:")
        lines += [f"   {pct:5.1f}  {frame}" for frame, pct in prof["self_pct"][:10]]
    return lines


def print_summary(r: dict[str, Any]) -> None:
    m, s, http = r["machine"], r["summary"], r["http"]
    pg = m["postgresql"]

    def verdict(ok: bool) -> str:
        return "PASS" if ok else "FAIL"

    lines = [
        "",
        "PROWD Ledger command benchmark",
        f"machine: {m['nproc']} cpu ({m['cpu_model']}), {m['memory_gib']} GiB, "
        f"PostgreSQL {pg['server_version']} (synchronous_commit={pg['synchronous_commit']}, "
        f"fsync={pg['fsync']}), Python {m['python']}, {m['wrk']}",
        f"code: {r['git']['commit'][:10]} ({r['git']['subject'][:60]}), "
        f"{r['git']['uncommitted_changes']} uncommitted changes outside tests/perf",
        f"other processes on the machine (cores, not the benchmark): {other_load(r)}"
        + ("" if s["clean"] else "  <-- NOT CLEAN: other load on the machine during the run"),
        "",
    ]
    if s["raw_baseline_per_s"] is not None:
        rb = r["raw_baseline"]
        lines += [
            f"1. raw INSERT+COMMIT, 1 connection:     {s['raw_baseline_per_s']:>9.1f} rows/s"
            f"   (p50 {rb['latency_ms']['p50']} ms, p99 {rb['latency_ms']['p99']} ms)",
            f"   raw INSERT+COMMIT, {r['raw_baseline_concurrent']['connections']} connections:"
            f"   {s['raw_baseline_concurrent_per_s']:>9.1f} rows/s (informational)",
            f"2. enroll_participant (app layer):      {s['save_enroll_per_s']:>9.1f} events/s"
            f"   (p50 {r['save_rate']['enroll_participant']['latency_ms']['p50']} ms,"
            f" {r['save_rate']['enroll_participant']['client_cpu_ms_per_event']} ms CPU in Python)",
            f"   Application.save only:               {s['save_only_per_s']:>9.1f} events/s"
            f"   (p50 {r['save_rate']['save_only']['latency_ms']['p50']} ms,"
            f" {r['save_rate']['save_only']['client_cpu_ms_per_event']} ms CPU in Python)",
            "   PostgreSQL round trips per command, in-process (client-side count):",
        ]
        for name, counts in r["save_rate"]["round_trips_per_command"].items():
            lines.append(
                f"     {name}: " + "; ".join(f"{k.strip()} x{v}" for k, v in counts.items())
            )
        pc = r["projection_catch_up"]
        lines += [
            f"2b. projection catch-up ({pc['views']} views), in-process: {pc['events_per_s']} events/s,"
            f" {pc['client_cpu_ms_per_event']} ms CPU in Python per event; per event in a batch of"
            f" {pc['traced_batch']['events']}: "
            + "; ".join(f"{k.strip()} x{v}" for k, v in pc["traced_batch"]["per_event"].items()),
        ]
    lines += [
        f"3. HTTP ({http['command']})",
        f"   requests/s {s['http_requests_per_s']:.1f}, 2xx commands/s {s['http_commands_per_s']:.1f}"
        f" ({http['enrolments']} enrolments incl. {http['fallback_enrolments']} fallback,"
        f" {http['transitions']} transitions)",
        f"   latency p50 {s['http_p50_ms']:.1f} ms, p99 {s['http_p99_ms']:.1f} ms,"
        f" max {http['latency_us']['max'] / 1000:.1f} ms",
        f"   non-2xx {s['http_non_2xx']} (statuses {http['statuses']}), socket errors {http['errors']}",
        f"4. projection lag (caseload), {r['lag']['probes']} probes: p50 {s['lag_p50_ms']} ms,"
        f" p99 {s['lag_p99_ms']} ms, max {s['lag_max_ms']} ms, timeouts {r['lag']['timeouts']}",
        f"CPU during the load ({r['cpu_during_load']['machine_busy_pct']}% of the machine busy),"
        " cores: " + ", ".join(f"{k} {v}" for k, v in r["cpu_during_load"]["cores"].items()),
        "CPU ms per HTTP command (independent of other load, roughly): "
        + ", ".join(f"{k} {v}" for k, v in r["cpu_ms_per_command"].items()),
        f"PostgreSQL during the load: {r['postgres_during_load']['transactions_per_command']}"
        " committed transactions (statements in autocommit count one each) per HTTP command",
        "",
        f"HTTP commands/s / raw baseline = {s['http_to_raw_ratio']}",
        f"target >= {TARGETS['commands_per_s']:.0f} commands/s: {verdict(s['pass']['commands_per_s>=800'])}"
        f" ({s['http_commands_per_s']:.1f})",
        f"target p99 <= {TARGETS['p99_ms']:.0f} ms:         {verdict(s['pass']['p99<=100ms'])}"
        f" ({s['http_p99_ms']:.1f} ms)",
        f"target lag p99 <= {TARGETS['lag_p99_s']:.0f} s:       {verdict(s['pass']['lag_p99<=1s'])}"
        f" ({s['lag_p99_ms']} ms)",
    ]
    lines += print_profile(r)
    print("\n".join(lines))


def _exit_on_signal(signum: int, frame: object) -> None:
    # Unwind (stop the server, drop the scratch database) instead of dying on the spot.
    raise SystemExit(128 + signum)


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, _exit_on_signal)
    signal.signal(signal.SIGHUP, _exit_on_signal)
    sys.exit(main())
