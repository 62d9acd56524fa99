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
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar
from uuid import UUID

import httpx
import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from domain.participants import PersonalDetails
from projections.registry import PROJECTIONS
from services.app.grantee import GranteeApp
from services.app.tenancy import Tenancy
from services.projector import live
from services.settings import Settings
from services.store.database import Database
from services.store.ledger import Command
from tests.perf.harness.load import run_wrk
from tests.perf.harness.meters import (
    CpuSample,
    cmdline,
    cpu_sample,
    cpu_usage,
    parent_of,
    postmaster_of,
    wait_quiet,
)
from tests.perf.harness.pairings import meetings_from, pairings_for_meetings
from tests.perf.harness.postgres import DATABASE_URL, scratch_database
from tests.perf.harness.probes import LagProbe, views_caught_up
from tests.perf.harness.results import (
    RESULTS,
    ROOT,
    git,
    log,
    machine_info,
    percentiles_ms,
    stamp,
    write_json,
)
from tests.perf.harness.server import Server
from tests.perf.harness.world import Tokens, create_grantee, enrolment

GRANTEES = ["bench_g1", "bench_g2", "bench_g3", "bench_g4"]
TARGETS = {"commands_per_s": 800.0, "p99_ms": 100.0, "lag_p99_s": 1.0}
ENTRY_DATE = date(2026, 1, 15)
PERSON = PersonalDetails(first_name="Bench", last_name="Save", date_of_birth=date(1990, 4, 1))
T = TypeVar("T")
# Hard bounds on every loop, whatever the clock says.
MAX_LOOP = 2_000_000


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


def raw_baseline(url: str, seconds: float, meter: Meter) -> dict[str, Any]:
    """Single-row INSERT + COMMIT on one connection, as fast as it goes."""
    with psycopg.connect(url) as conn:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS bench_raw (id bigserial PRIMARY KEY,"
            " originator_id uuid NOT NULL, state bytea NOT NULL,"
            " created_at timestamptz NOT NULL DEFAULT now())"
        )
        conn.commit()
        payload = secrets.token_bytes(300)

        def insert(_: None) -> None:
            conn.execute(
                "INSERT INTO bench_raw (originator_id, state) VALUES (gen_random_uuid(), %s)",
                (payload,),
            )
            conn.commit()

        # CPU is measured while the connection is open: a backend that has exited is not seen.
        before = meter.snapshot()
        loop = timed_loop(seconds, lambda: None, insert)
        cpu = meter.usage(before, meter.snapshot())
    return {
        "rows": loop["events"],
        "seconds": loop["seconds"],
        "per_s": loop["per_s"],
        "latency_ms": loop["latency_ms"],
        "cpu": cpu,
    }


def raw_baseline_concurrent(
    url: str, seconds: float, connections: int, meter: Meter
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


def enrol(app: GranteeApp) -> UUID:
    """One enrolment through the application layer; the participant's id."""
    saved = app.participants.enroll_participant(
        Command(),
        personal=PERSON,
        program_entry_date=ENTRY_DATE,
        facility_code="FCI-A",
        cohort_code="C1",
    )
    participant: UUID = saved.aggregate.id
    return participant


def timed_loop(
    seconds: float, prepare: Callable[[], T], act: Callable[[T], object]
) -> dict[str, Any]:
    """`act` on what `prepare` made, again and again for `seconds` (at most MAX_LOOP times):
    how many, how fast, the latency of `act`, and the CPU this process spent per `act`."""
    n = 0
    lat: list[float] = []
    prepare_s = 0.0
    cpu0 = time.process_time()
    start = time.perf_counter()
    deadline = start + seconds
    while n < MAX_LOOP:
        b0 = time.process_time()
        arg = prepare()
        prepare_s += time.process_time() - b0
        t0 = time.perf_counter()
        act(arg)
        t1 = time.perf_counter()
        lat.append(t1 - t0)
        n += 1
        if t1 >= deadline:
            break
    elapsed = time.perf_counter() - start
    return {
        "events": n,
        "seconds": round(elapsed, 3),
        "per_s": round(n / elapsed, 1),
        "latency_ms": percentiles_ms(lat),
        "client_cpu_ms_per_event": round(1000 * (time.process_time() - cpu0 - prepare_s) / n, 3),
    }


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
    facility, cohort = app.facilities.facility("FCI-A"), app.facilities.cohort("C1")

    def build() -> Participant:
        return Participant.enroll(
            number=new_participant_number(),
            personal=PERSON,
            program_entry_date=ENTRY_DATE,
            facility=facility,
            cohort=cohort,
        )

    def record(p: Participant) -> None:
        # `record` is the save path now: Application.save plus, in the same transaction, the
        # participant's data key (personal fields are stored encrypted; a bare save is refused).
        app.ledger.record(p, Command())

    enrolled = timed_loop(seconds, lambda: app, enrol)
    save_only = timed_loop(seconds / 2, build, record)
    # Round trips and statements per command, in isolation (counted in psycopg, client side).
    from domain.participants import Placement

    k = 50
    with count_round_trips() as enrol_counts:
        ids = [enrol(app) for _ in range(k)]
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
        "enroll_participant": enrolled,
        "save_only": save_only,
        "round_trips_per_command": round_trips,
    }


def projection_cost(db: Database, slug: str) -> dict[str, Any]:
    """Catch-up of the views over the events of the save loop, in this process, no other load.

    One traced batch (round trips and statements per event), then the rest timed.
    """
    schema = f"g_{slug}"
    views = len(PROJECTIONS)
    with count_round_trips() as counts:
        t0 = time.perf_counter()
        first = live.catch_up(db, schema)
        traced_s = time.perf_counter() - t0
    cpu0 = time.process_time()
    t0 = time.perf_counter()
    rest = 0
    for _ in range(10_000):
        n = live.catch_up(db, schema)
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


def as_letters(key: str) -> str:
    """`key`'s letters and digits, each digit as a letter (0 -> a ... 9 -> j)."""
    return "".join(chr(97 + int(c)) if c.isdigit() else c for c in key if c.isalnum())


def pre_enrol(tenancy: Tenancy, per_grantee: int, max_seconds: float) -> dict[str, list[str]]:
    """Stage-1 participants for the 1->3 transitions, one thread per grantee."""
    out: dict[str, list[str]] = {slug: [] for slug in GRANTEES}

    def run(slug: str) -> None:
        app = tenancy.app(slug)
        deadline = time.monotonic() + max_seconds
        for _ in range(per_grantee):
            out[slug].append(str(enrol(app)))
            if time.monotonic() > deadline:
                break

    threads = [threading.Thread(target=run, args=(slug,), daemon=True) for slug in GRANTEES]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


# ---------------------------------------------------------------------------- 3. HTTP server


# -------------------------------------------------------------------------- CPU accounting


OTHER = "other processes (not the benchmark)"
# The roles of `prowd serve`'s processes (harness/server.py) as this benchmark names them.
SERVE_ROLES = {
    "serve (uvicorn supervisor)": "prowd serve supervisor",
    "api": "api workers",
    "projection worker": "projection worker",
}


class Meter:
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
            self.postmaster = postmaster_of(conn)
        self.server: Server | None = None
        self.extra: dict[int, str] = {}

    def roles(self) -> dict[int, str]:
        """The benchmark's processes now, pid -> role."""
        roles: dict[int, str] = {os.getpid(): "bench script", **self.extra}
        if self.server is not None:
            for pid, role in self.server.processes().items():
                roles[pid] = SERVE_ROLES.get(role, role)
        if not self.postmaster:
            return roles
        roles[self.postmaster] = "postgres background (wal writer etc.)"
        for entry in os.listdir("/proc"):
            pid = int(entry) if entry.isdigit() else 0
            if not pid or pid in roles or parent_of(pid) != self.postmaster:
                continue
            cmd = cmdline(pid)
            if f" {self.dbname} " in cmd:
                roles[pid] = "postgres backends (scratch db)"
            elif " postgres " not in cmd and "[local]" not in cmd and "(" not in cmd:
                roles[pid] = "postgres background (wal writer etc.)"
        return roles

    def snapshot(self) -> CpuSample:
        """The CPU ticks so far of every process of the benchmark and of the machine."""
        return cpu_sample(self.roles())

    @staticmethod
    def usage(before: CpuSample, after: CpuSample, *, wrk: bool = False) -> dict[str, Any]:
        """Cores per role between two snapshots (with `wrk`: wrk's, reaped meanwhile), the
        share of the machine that was busy, and the load before."""
        u = cpu_usage(before, after, other=OTHER, children="wrk" if wrk else "")
        ncpu = os.cpu_count() or 1
        return {
            "seconds": round(u.seconds, 1),
            "machine_busy_pct": round(100 * u.machine / ncpu, 1),
            "loadavg_1m_before": round(before.load[0], 2),
            "cores": {k: round(v, 2) for k, v in sorted(u.cores.items(), key=lambda kv: -kv[1])},
        }


def table_scans(url: str) -> list[dict[str, Any]]:
    """The tables read most (sequential rows read, index scans, blocks hit) since the scratch
    database was made: where the server's reads go."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SELECT pg_stat_force_next_flush()")
        rows = conn.execute(
            "SELECT s.schemaname || '.' || s.relname, s.seq_scan, s.seq_tup_read, s.idx_scan,"
            " io.heap_blks_hit + coalesce(io.idx_blks_hit, 0)"
            " FROM pg_stat_user_tables s JOIN pg_statio_user_tables io USING (relid)"
            " ORDER BY 5 DESC LIMIT 12"
        ).fetchall()
    keys = ("table", "seq_scan", "seq_tup_read", "idx_scan", "blks_hit")
    return [dict(zip(keys, r, strict=True)) for r in rows]


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
    """The commit measured, and the changes to it outside the benchmark's own files."""
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
    server: Server, duration: int, started: str, *, gil: bool, rate: int
) -> list[tuple[subprocess.Popen[bytes], Path]]:
    py_spy = shutil.which("py-spy") or str(ROOT / ".venv" / "bin" / "py-spy")
    if not Path(py_spy).exists():
        raise RuntimeError("--profile needs py-spy: `uv pip install py-spy`")
    api, projection = server.pids("api"), server.pids("projection worker")
    targets = [("api", api[0])] if api else []
    if projection:
        targets.append(("projection", projection[0]))
    procs = []
    mode = "gil" if gil else "wall"
    RESULTS.mkdir(parents=True, exist_ok=True)
    for role, pid in targets:
        path = RESULTS / f"profile-{started}-{role}-{mode}.txt"
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
    "services/cli/",
)


# Innermost matching frame decides a sample's bucket (file path fragments, first match wins).
_BUCKETS = (
    ("psycopg / pool (driver)", ("psycopg/", "psycopg_pool/")),
    (
        "event (de)serialisation (services/store/mapping.py, msgspec)",
        ("services/store/mapping.py", "msgspec"),
    ),
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


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--database-url",
        default=DATABASE_URL,
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
        help="fraction of the requests other than meetings that are 1->3 transitions (rest: enrolments)",
    )
    ap.add_argument(
        "--meeting-share",
        type=float,
        default=0.0,
        help="fraction of wrk requests that are held meetings of pre-made pairings",
    )
    ap.add_argument(
        "--pairings",
        type=int,
        default=200,
        help="pairings per grantee for the held meetings (with --meeting-share)",
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
        "--http-server",
        choices=("uvicorn", "granian"),
        help="PROWD_HTTP_SERVER of the server (the ASGI server of `prowd serve`)",
    )
    ap.add_argument(
        "--handler-threads", type=int, default=0, help="PROWD_HANDLER_THREADS (0: the default)"
    )
    ap.add_argument(
        "--gather-ms", type=int, help="PROWD_PROJECTOR_GATHER_MS of the server (unset: its default)"
    )
    ap.add_argument(
        "--spacing-ms",
        type=int,
        help="PROWD_PROJECTOR_SPACING_MS of the server (unset: its default)",
    )
    args = ap.parse_args(argv)

    if shutil.which("wrk") is None:
        print("wrk not found: apt-get install -y wrk", file=sys.stderr)
        return 2
    host = str(conninfo_to_dict(args.database_url).get("host", ""))
    if host not in ("", "127.0.0.1", "localhost", "::1") and not host.startswith("/"):
        print(f"refusing a database host other than this machine: {host!r}", file=sys.stderr)
        return 2

    started = stamp()
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
        meter = Meter(url)
        settings = Settings(database_url=url, jwt_secret=secret, pool_min=1, pool_max=8)
        db = Database(url, settings, name="prowd-bench").open()
        stack.callback(db.close)
        tenancy = Tenancy(db)
        tenancy.migrate()

        if not args.skip_baselines:
            other = OTHER
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
        server_env = {
            "PROWD_LOG_LEVEL": args.log_level,
            "PROWD_GROUP_COMMIT_MAX": str(args.group_commit_max),
        }
        if args.handler_threads:
            server_env["PROWD_HANDLER_THREADS"] = str(args.handler_threads)
        if args.gather_ms is not None:
            server_env["PROWD_PROJECTOR_GATHER_MS"] = str(args.gather_ms)
        if args.spacing_ms is not None:
            server_env["PROWD_PROJECTOR_SPACING_MS"] = str(args.spacing_ms)
        if args.http_server:
            server_env["PROWD_HTTP_SERVER"] = args.http_server
        server = Server(url, secret, server_log, workers=args.workers, env=server_env)
        stack.callback(server.stop)
        server.wait_ready()
        meter.server = server
        tokens = Tokens(secret, "bench")
        coordinator = tokens.token("coordinator", GRANTEES)
        with httpx.Client(base_url=server.base, timeout=30.0) as c:
            for slug in GRANTEES:
                create_grantee(c, tokens, slug, name=f"Bench {slug}")

        pre = args.pre_enrol or int(args.duration * 1000 * args.transition_share)
        per_grantee = -(-pre // len(GRANTEES))
        log(f"   pre-enrolling {per_grantee * len(GRANTEES)} participants (application layer)")
        t0 = time.monotonic()
        ids = pre_enrol(tenancy, per_grantee, max_seconds=180)
        pre_seconds = time.monotonic() - t0
        total_ids = sum(len(v) for v in ids.values())
        log(f"   {total_ids} in {pre_seconds:.1f} s")
        pairings: dict[str, list[str]] = {slug: [] for slug in GRANTEES}
        now = datetime.now(UTC)
        if args.meeting_share > 0:
            log(f"   pairing {args.pairings} participants per grantee for the held meetings")
            mentees = pre_enrol(tenancy, args.pairings, max_seconds=180)
            pairings = pairings_for_meetings(
                tenancy,
                {slug: [UUID(p) for p in v] for slug, v in mentees.items()},
                moved_at=now - timedelta(days=120),
                opened_at=now - timedelta(days=100),
            )
        log("   waiting for the projections to catch up")
        if not views_caught_up(
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
            + f"meeting_share {args.meeting_share}\n"
            + f"meetings_from {int(meetings_from(now).timestamp())}\n"
        )
        # Held meetings: each wrk thread takes its own pairings (no two threads write to one
        # pairing's meetings at the same moment by design; connections of a thread may).
        paired = [
            (slug, pid)
            for row in zip(*pairings.values(), strict=False)
            for slug, pid in zip(pairings.keys(), row, strict=False)
        ]
        ids_prefix = Path(tmp) / "ids-"
        for t in range(args.wrk_threads):
            part = interleaved[t :: args.wrk_threads]
            mine = paired[t :: args.wrk_threads]
            (Path(f"{ids_prefix}{t + 1}")).write_text(
                "".join(f"t {s} {p}\n" for s, p in part) + "".join(f"m {s} {p}\n" for s, p in mine)
            )

        probe = LagProbe(
            server.base,
            url,
            {"Authorization": f"Bearer {coordinator}"},
            GRANTEES,
            # A name of its own for every probe (the duplicate check would refuse a second
            # "Lag Probe" born the same day): its idempotency key, digits spelt as letters.
            lambda key: enrolment("Lag", "Probe" + as_letters(key), born="1990-04-01"),
            interval=0.1,
            timeout=10.0,
            poll=0.005,
        )
        quiet("wrk")
        profilers = (
            start_profilers(
                server, args.duration, started, gil=args.profile_gil, rate=args.profile_rate
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
        result["cpu_during_load"] = Meter.usage(cpu_before, meter.snapshot(), wrk=True)
        time.sleep(11.0)  # idle backends flush their statistics after 10 s
        stats_after = pg_stats(url)
        commands = wrk["requests"] + len(probe.lags)
        pgl: dict[str, Any] = {k: stats_after[k] - stats_before.get(k, 0) for k in stats_after}
        pgl["lag_probe_polls"] = probe.polls
        # Every statement in autocommit (also the pool's empty health-check query) commits a
        # transaction of its own, so this approximates round trips, projection worker included.
        pgl["transactions_per_command"] = (
            round((pgl["xact_commit"] - probe.polls) / commands, 1) if commands else None
        )
        result["postgres_during_load"] = pgl
        result["table_scans"] = table_scans(url)
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

        result["server_log_errors_tail"] = server.errors(tail_bytes=4000)[-10:]
        result["server_log_bytes"] = server_log.stat().st_size

    result["finished_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    result["summary"] = summary(result)
    out_path = write_json(f"commands-{started}.json", result)
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
    return max((cpu.get("cores", {}).get(OTHER, 0.0) for _, cpu in _phase_cpu(r)), default=0.0)


def other_load(r: dict[str, Any]) -> str:
    return ", ".join(f"{label} {cpu.get('cores', {}).get(OTHER)}" for label, cpu in _phase_cpu(r))


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
