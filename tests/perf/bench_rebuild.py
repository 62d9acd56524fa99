"""Rebuild, replay and verify at scale: a synthetic history of 1,000,000 events over 20 grantees.

Run from the repository root:

    uv run python tests/perf/bench_rebuild.py [--events 1000000] [--grantees 20] [--jobs 1]
        [--database-url postgresql://postgres@127.0.0.1:5432/test] [--regenerate] [--drop]

The first run generates the history into a dedicated database on that server
(`prowd_bench_<events>`, e.g. `prowd_bench_1m`) and keeps it: later runs find it complete and
skip generation (`--regenerate` drops and rebuilds it, `--drop` drops it at the end). The events
are made by the real grantee application (domain aggregates, the real msgspec mapper) over an
in-memory recorder, under a clock of their own (`HISTORY_ENDS`: the same history on any day),
then appended in large batches through each grantee's `append_events()`
function, which writes the hash chain exactly as the service does.

Then, in the same run, it measures:
  (a) the raw sequential read rate of the stored events (every grantee's rows fetched into
      Python, no decoding), once in the text and once in the binary wire format; the
      rebuild's ratio is judged against the faster of the two,
  (b) `prowd projections rebuild` of every view of every grantee, as a subprocess: wall time,
      events/s and the process's peak RSS,
  (c) `prowd verify` of every grantee, as a subprocess: events/s.
It prints the figures and writes them, with the machine's load, to
tests/perf/results/rebuild-<UTC timestamp>.json.

Not a pytest test: the file name does not match test_*.py and it defines no test_ function.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID

import psycopg
from eventsourcing.application import Application
from eventsourcing.popo import POPOApplicationRecorder
from psycopg import sql
from psycopg.conninfo import make_conninfo

from domain import clock, common
from domain.facilities import FacilityKind
from domain.mentors import (
    BackgroundDecision,
    Clearance,
    MentorSource,
    RecruitmentChannel,
    ScreeningStep,
    TrainingModule,
    TrainingRecord,
)
from domain.pairings import (
    Commitment,
    Focus,
    Frequency,
    Location,
    LocationKind,
    MatchCriterion,
    PairingKind,
)
from domain.participants import ExitReason, PersonalDetails, Placement
from projections.service import Person
from services.app.derived_exits import DerivedExits
from services.app.grantee import GranteeApp
from services.app.tenancy import Tenancy
from services.demo import activity, support
from services.demo.history import Calendar
from services.settings import Settings
from services.store.database import Database
from services.store.ledger import Command, LedgerApplication
from tests.perf.harness.postgres import DATABASE_URL
from tests.perf.harness.results import ROOT, log, write_json
from tests.perf.harness.results import machine_info as machine
from tests.perf.harness.server import PROWD

TARGETS = {
    "rebuild_events_per_s": 20_000.0,
    "rebuild_share_of_raw_read": 0.25,
    "verify_events_per_s": 50_000.0,
    "peak_rss_mb": 300.0,
}
APPEND_BATCH = 5_000
C = Command
# Where the generated history ends: the clock its commands run under, ticking on from here.
# Its dates are stated (cohorts from June 2025, clearances from January 2026 for about a
# year), so its last weeks must fall before the clearances expire, whatever day the benchmark
# is run (under the machine's clock it was refused from mid-January 2027 on; DESIGN D10).
HISTORY_ENDS = datetime(2026, 11, 27, 15, 0, tzinfo=UTC)


# ------------------------------------------------------------------------------ generation


class MemoryLedger(LedgerApplication):
    """A ledger over an in-memory recorder: with it, the real grantee application's commands
    decide as in the service, the mapper encodes as in the service, nothing touches the
    database."""

    def __init__(self, time_zone: str) -> None:
        self.db = None  # type: ignore[assignment]
        self.schema = "memory"
        self.time_zone = time_zone
        Application.__init__(self, env={"IS_SNAPSHOTTING_ENABLED": "n"})

    def construct_recorder(self) -> Any:
        return POPOApplicationRecorder()


class WithoutViews(DerivedExits):
    """A derived exit judged over a log that has no views: no service is known, so none is
    derived, as the service answers while the oversight view is not built yet. The generated
    participants never come near one: each command on a participant is dated while they are in
    class (their cohorts B and C never graduate) or within 90 days of their last service."""

    def _people(self) -> dict[UUID, Person]:
        return {}

    def _person(self, participant_id: UUID) -> Person | None:
        return None


def memory_grantee_app(time_zone: str) -> GranteeApp:
    """The real grantee application over a `MemoryLedger`, its derived exits `WithoutViews`
    (the service's reads them from the oversight view, which is not in memory)."""
    app = GranteeApp(MemoryLedger(time_zone))
    app.derived_exits = app.rrc.derived_exits = WithoutViews(app.ledger)
    app.participants.derived_exit_of = app.derived_exits.exit_on
    return app


FIRST = ["James", "Maria", "Darnell", "Luis", "Keisha", "Robert", "Tanya", "Andre", "Rosa"]
LAST = ["Johnson", "Garcia", "Williams", "Martinez", "Brown", "Davis", "Lopez", "Wilson"]
PER_UNIT = 30  # participants per unit; the last six stay in stage 1 to be mentored


def _advance(app: GranteeApp, pid: UUID, entry: date, n: int, rrc: str, bop: str) -> None:
    at = datetime.combine(entry, datetime.min.time(), tzinfo=UTC)
    step = n % 6
    if step == 0:
        return
    if step in (1, 3, 5):
        app.participants.transition_stage(
            C(), pid, placement=Placement.RRC, facility_code=rrc, occurred_at=at + timedelta(60)
        )
    if step == 2:
        app.participants.transition_stage(
            C(),
            pid,
            placement=Placement.HOME_CONFINEMENT,
            facility_code=None,
            occurred_at=at + timedelta(45),
        )
    if step in (3, 4, 5):
        app.participants.transition_stage(
            C(),
            pid,
            placement=Placement.COMMUNITY,
            facility_code=None,
            occurred_at=at + timedelta(120),
        )
    if step == 5 and n % 12 == 5:
        app.participants.return_to_custody(
            C(), pid, facility_code=bop, occurred_at=at + timedelta(150)
        )
    if step == 4 and n % 12 == 4:
        reason = ExitReason.COMPLETED if n % 24 == 4 else ExitReason.RELOCATED
        app.participants.exit_participant(C(), pid, exit_date=entry + timedelta(160), reason=reason)


def _unit(app: GranteeApp, rng: random.Random, u: int) -> None:
    """One cohort triple with 30 participants, two certified graduate mentors, an individual
    and a group pairing with twelve weeks of meetings, goals, supervision, feedback, an
    employment outcome and referrals: about 175 events."""
    bop, bop2, rrc = "FCI-1", "FCI-2", "RRC-1"
    cohorts = [
        (f"A{u}", bop, date(2025, 6, 2)),
        (f"B{u}", bop, date(2026, 1, 12)),
        (f"C{u}", bop2, date(2026, 3, 2)),
    ]
    for code, facility, start in cohorts:
        app.facilities.start_cohort(
            C(), code=code, name=code, facility_code=facility, start_date=start
        )
    pids: list[UUID] = []
    for n in range(PER_UNIT):
        code, facility, start = cohorts[n % 3]
        entry = start + timedelta(days=rng.randint(0, 20))
        saved = app.participants.enroll_participant(
            C(),
            personal=PersonalDetails(
                first_name=rng.choice(FIRST),
                last_name=rng.choice(LAST),
                date_of_birth=date(
                    1965 + rng.randint(0, 35), rng.randint(1, 12), rng.randint(1, 28)
                ),
            ),
            program_entry_date=entry,
            facility_code=facility,
            cohort_code=code,
        )
        pids.append(saved.aggregate.id)
        if n < 24:
            _advance(app, saved.aggregate.id, entry, n, rrc, bop)
    app.facilities.graduate_cohort(C(), code=cohorts[0][0], on=date(2025, 12, 12))
    day = date(2026, 1, 5)

    def mentor(n: int, name: str, clear_at: list[str]) -> UUID:
        m = app.mentors.register_mentor(
            C(),
            display_name=name,
            source=MentorSource.GRADUATE,
            channel=RecruitmentChannel.COHORT_GRADUATION,
            participant_id=pids[n],
            subject=f"mentor-{u}-{n}",
        ).aggregate
        for step in ScreeningStep:
            app.mentors.complete_screening_step(C(), m.id, step=step, on=day, staff="coordinator")
        app.mentors.review_background(
            C(), m.id, decision=BackgroundDecision.APPROVED, reviewer="coordinator", on=day
        )
        for module in TrainingModule:
            app.mentors.complete_training(
                C(), m.id, TrainingRecord(module, day + timedelta(days=7), 1.5, "Trainer")
            )
        for code in clear_at:
            expires = day + timedelta(days=345 if code == rrc else 375)
            app.mentors.grant_clearance(
                C(), m.id, Clearance(code, day + timedelta(days=10), expires)
            )
        app.mentors.assign_coordinator(C(), m.id, "coordinator")
        app.mentors.certify_mentor(C(), m.id)
        return m.id

    one = mentor(0, "Marcus W.", [bop])
    two = mentor(3, "Denise R.", [bop2, rrc])
    activity.class_hours(app, [cohorts[1][0], cohorts[2][0]])
    commitment = Commitment(frequency=Frequency.WEEKLY, minutes_per_meeting=60, months=6)
    cal = Calendar(clock.now(), app.ledger.zone)
    matched_at = cal.weeks_ago(activity.WEEKS, hour=12) - timedelta(days=1)
    inside = Location(kind=LocationKind.BOP_INSTITUTION, facility_code=bop)
    inside2 = Location(kind=LocationKind.BOP_INSTITUTION, facility_code=bop2)
    individual = app.pairings.open_pairing(
        C(),
        kind=PairingKind.INDIVIDUAL,
        mentor_id=one,
        member_ids=[pids[25]],
        location=inside,
        commitment=commitment,
        opened_at=matched_at,
        criteria=[MatchCriterion.SHARED_EXPERIENCE, MatchCriterion.SHARED_GOALS],
    ).aggregate
    group = app.pairings.open_pairing(
        C(),
        kind=PairingKind.GROUP,
        mentor_id=two,
        member_ids=[pids[26], pids[29]],
        location=inside2,
        commitment=commitment,
        criteria=[MatchCriterion.SHARED_GOALS],
        focus=Focus.EMPLOYMENT,
        opened_at=matched_at,
    ).aggregate
    # The demo's stories, acted out at once under the clock in force (the generator's
    # history is its volume, not its days).
    for story in (
        activity.meetings(app, cal, individual.id, inside, next_tomorrow=True),
        activity.meetings(app, cal, group.id, inside2, skip_recent=2),
        activity.goals(app, cal, pids[25]),
        activity.weekly_goal(app, cal, pids[25]),
        support.supervision(app, cal, one, two, pids[25], pids[26]),
        support.evaluation(app, cal, individual.id, pids[25], pids[10]),
        support.referrals(app, cal, individual.id, pids[25]),
    ):
        for _ in story:
            pass


def _append(cur: psycopg.Cursor[Any], schema: str, rows: list[Any]) -> None:
    cur.execute(
        sql.SQL("SELECT count(*) FROM {}.append_events(%s, %s, %s, %s)").format(
            sql.Identifier(schema)
        ),
        (
            [r.originator_id for r in rows],
            [r.originator_version for r in rows],
            [r.topic for r in rows],
            [r.state for r in rows],
        ),
    )


def generate(url: str, events: int, grantees: int) -> dict[str, Any]:
    """Register the grantees and append about `events` events, spread evenly over them."""
    settings = Settings.from_env()
    db = Database(url, settings, name="prowd-bench").open()
    started = time.perf_counter()
    per_grantee = events // grantees
    try:
        tenancy = Tenancy(db)
        tenancy.migrate()
        with clock.using(clock.FixedClock(HISTORY_ENDS, tick=True)):
            total = _generate(db, tenancy, per_grantee, grantees, started)
    finally:
        db.close()
    return {"events": total, "seconds": round(time.perf_counter() - started, 1)}


def _generate(
    db: Database, tenancy: Tenancy, per_grantee: int, grantees: int, started: float
) -> int:
    """`generate`'s grantees, each acted out in memory and appended to its log."""
    total = 0
    for g in range(grantees):
        slug = f"bench_{g + 1:02d}"
        common.actor.set("bench-generator")
        common.grantee.set(slug)
        if tenancy.grantee(slug) is None:
            tenancy.platform.registry.register_grantee(
                C(),
                slug=slug,
                name=f"Bench grantee {g + 1}",
                grant_number="FS-00000-26-60-A-01",
                time_zone="America/Chicago",
            )
        schema = f"g_{slug}"
        app = memory_grantee_app("America/Chicago")
        app.facilities.register_facility(
            C(), code="FCI-1", name="FCI One", kind=FacilityKind.BOP_INSTITUTION
        )
        app.facilities.register_facility(
            C(), code="FCI-2", name="FCI Two", kind=FacilityKind.BOP_INSTITUTION
        )
        app.facilities.register_facility(C(), code="RRC-1", name="RRC One", kind=FacilityKind.RRC)
        rng = random.Random(g)
        recorder: POPOApplicationRecorder = app.ledger.recorder  # type: ignore[assignment]
        written, u = 0, 0
        while written < per_grantee:
            _unit(app, rng, u)
            u += 1
            while True:
                batch = recorder.select_notifications(
                    start=written + 1, limit=min(APPEND_BATCH, per_grantee - written)
                )
                if not batch or written >= per_grantee:
                    break
                with db.transaction() as cur:
                    _append(cur, schema, list(batch))
                written += len(batch)
        total += written
        log(f"{slug}: {written} events ({u} units), {time.perf_counter() - started:.0f} s")
    return total


# ------------------------------------------------------------------------------ database


def bench_db_name(events: int) -> str:
    if events % 1_000_000 == 0:
        return f"prowd_bench_{events // 1_000_000}m"
    if events % 1000 == 0:
        return f"prowd_bench_{events // 1000}k"
    return f"prowd_bench_{events}"


def prepare_database(
    maintenance_url: str, name: str, events: int, grantees: int, regenerate: bool
) -> tuple[str, dict[str, Any] | None]:
    """The benchmark database, generated unless a complete one of the same shape exists."""
    url = make_conninfo(maintenance_url, dbname=name)
    with psycopg.connect(maintenance_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if exists and not regenerate:
            with psycopg.connect(url, autocommit=True) as bench:
                row = bench.execute(
                    "SELECT to_regclass('public.bench_meta') IS NOT NULL"
                ).fetchone()
                meta = None
                if row and row[0]:
                    meta = bench.execute(
                        "SELECT events, grantees, generated FROM public.bench_meta"
                    ).fetchone()
            if meta and meta[1] == grantees and meta[0] >= events * 0.999:
                log(f"database {name}: {meta[0]} events over {meta[1]} grantees, kept")
                return url, None
            log(f"database {name} is incomplete or of another shape: generating again")
        if exists:
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    log(f"database {name} created; generating {events} events over {grantees} grantees")
    generated = generate(url, events, grantees)
    with psycopg.connect(url, autocommit=True) as bench:
        bench.execute("VACUUM ANALYZE")
        bench.execute(
            "CREATE TABLE public.bench_meta (events bigint, grantees int, generated timestamptz)"
        )
        bench.execute(
            "INSERT INTO public.bench_meta VALUES (%s, %s, now())",
            (generated["events"], grantees),
        )
    return url, generated


# ------------------------------------------------------------------------------ measurements


def machine_info(url: str) -> dict[str, Any]:
    """The machine and its PostgreSQL server, as this benchmark's results have them."""
    m = machine(url)
    return {
        "nproc": m["nproc"],
        "cpu_model": m["cpu_model"],
        "postgresql": m["postgresql"]["server_version"],
        "shared_buffers": m["postgresql"]["shared_buffers"],
        "python": m["python"],
    }


def load() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()


def grantee_schemas(url: str) -> list[str]:
    with psycopg.connect(url, autocommit=True) as conn:
        return [f"g_{r[0]}" for r in conn.execute("SELECT slug FROM prowd.grantees ORDER BY slug")]


def raw_read(url: str, batch: int = 20_000, *, binary: bool = False) -> dict[str, Any]:
    """Every stored event of every grantee, fetched into Python in keyset batches, in the
    text or the binary wire format (the rebuild reads binary: bytea then travels as its
    bytes, not as hex text)."""
    schemas = grantee_schemas(url)
    rows = 0
    nbytes = 0
    with psycopg.connect(url, autocommit=True) as conn, conn.cursor(binary=binary) as cur:
        cpu0 = time.process_time()
        t0 = time.perf_counter()
        for schema in schemas:
            query = sql.SQL(
                "SELECT notification_id, originator_id, originator_version, topic, state"
                " FROM {}.events WHERE notification_id > %s ORDER BY notification_id LIMIT %s"
            ).format(sql.Identifier(schema))
            after = 0
            while True:
                got = cur.execute(query, (after, batch)).fetchall()
                if not got:
                    break
                rows += len(got)
                nbytes += sum(len(r[4]) for r in got)
                after = got[-1][0]
        elapsed = time.perf_counter() - t0
        cpu = time.process_time() - cpu0
    return {
        "format": "binary" if binary else "text",
        "events": rows,
        "seconds": round(elapsed, 3),
        "events_per_s": round(rows / elapsed, 1),
        "state_mb": round(nbytes / 1e6, 1),
        "client_cpu_s": round(cpu, 2),
    }


def prowd(url: str, *args: str) -> dict[str, Any]:
    """Run `prowd <args>` against the benchmark database; wall time and peak RSS."""
    env = {**os.environ, "PROWD_DATABASE_URL": url, "PROWD_LOG_LEVEL": "warning"}
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [*PROWD, *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    out = proc.stdout.read() if proc.stdout else ""
    err = proc.stderr.read() if proc.stderr else ""
    return {
        "command": "prowd " + " ".join(args),
        "exit_code": proc.returncode,
        "seconds": round(elapsed, 3),
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 2),
        "stdout_tail": out[-2000:],
        "stderr_tail": err[-2000:],
    }


def summary_rate(text: str) -> float | None:
    """The events/s of the command's own summary line (time inside the command)."""
    m = re.findall(r"([\d.]+) events/s", text)
    return float(m[-1]) if m else None


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument(
        "--database-url",
        default=DATABASE_URL,
        help="any database on the server; the benchmark database is created beside it",
    )
    p.add_argument("--events", type=int, default=1_000_000)
    p.add_argument("--grantees", type=int, default=20)
    p.add_argument("--name", default="", help="benchmark database name (default from --events)")
    p.add_argument("--regenerate", action="store_true", help="drop and generate the history again")
    p.add_argument("--drop", action="store_true", help="drop the benchmark database at the end")
    p.add_argument("--skip-verify", action="store_true")
    p.add_argument(
        "--jobs", type=int, default=1, help="prowd projections rebuild --jobs (processes)"
    )
    args = p.parse_args()

    name = args.name or bench_db_name(args.events)
    url, generated = prepare_database(
        args.database_url, name, args.events, args.grantees, args.regenerate
    )
    result: dict[str, Any] = {
        "started": datetime.now(UTC).isoformat(),
        "database": name,
        "machine": machine_info(url),
        "load_before": load(),
        "generated": generated,
        "rebuild_jobs": args.jobs,
    }
    log(f"load: {result['load_before']}")
    log("(a) raw sequential read, text and binary wire formats")
    text_read = raw_read(url)
    log(f"    {text_read}")
    binary_read = raw_read(url, binary=True)
    log(f"    {binary_read}")
    # The ratio is judged against the faster of the two reads (the stricter baseline).
    result["raw_read_text"] = text_read
    result["raw_read_binary"] = binary_read
    result["raw_read"] = max(text_read, binary_read, key=lambda r: r["events_per_s"])
    log("(b) prowd projections rebuild")
    rebuild = prowd(url, "projections", "rebuild", "--jobs", str(args.jobs))
    rebuild["events"] = result["raw_read"]["events"]
    rebuild["events_per_s"] = round(rebuild["events"] / rebuild["seconds"], 1)
    rebuild["events_per_s_inside"] = summary_rate(rebuild["stderr_tail"])
    result["rebuild"] = rebuild
    log(f"    {rebuild['events_per_s']} events/s, peak RSS {rebuild['peak_rss_mb']} MB")
    if rebuild["exit_code"] != 0:
        log(rebuild["stderr_tail"])
    result["load_after_rebuild"] = load()
    if not args.skip_verify:
        log("(c) prowd verify")
        ver = prowd(url, "verify")
        ver["events"] = result["raw_read"]["events"]
        ver["events_per_s"] = round(ver["events"] / ver["seconds"], 1)
        ver["events_per_s_inside"] = summary_rate(ver["stderr_tail"] + ver["stdout_tail"])
        result["verify"] = ver
        log(f"    {ver['events_per_s']} events/s, peak RSS {ver['peak_rss_mb']} MB")
    result["load_after"] = load()
    raw = result["raw_read"]["events_per_s"]
    checks = {
        "rebuild_events_per_s": rebuild["events_per_s"] >= TARGETS["rebuild_events_per_s"],
        "rebuild_share_of_raw_read": rebuild["events_per_s"] / raw
        >= TARGETS["rebuild_share_of_raw_read"],
        "peak_rss_mb": rebuild["peak_rss_mb"] <= TARGETS["peak_rss_mb"],
    }
    if "verify" in result:
        checks["verify_events_per_s"] = (
            result["verify"]["events_per_s"] >= TARGETS["verify_events_per_s"]
        )
    result["rebuild_share_of_raw_read"] = round(rebuild["events_per_s"] / raw, 3)
    result["targets"] = TARGETS
    result["pass"] = checks
    out = write_json(f"rebuild-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}.json", result)
    print(
        f"\nRebuild, replay and verify at scale ({name}, {raw and result['raw_read']['events']} events)"
    )
    print(f"  machine: {result['machine']['nproc']} cores, {result['machine']['cpu_model']}")
    print(f"  load before: {result['load_before']}")
    print(
        f"  (a) raw read:  {raw:>12,.0f} events/s ({result['raw_read']['format']};"
        f" text {text_read['events_per_s']:,.0f}, binary {binary_read['events_per_s']:,.0f})"
    )
    print(
        f"  (b) rebuild:   {rebuild['events_per_s']:>12,.0f} events/s wall"
        f" ({rebuild['seconds']} s; inside the command {rebuild['events_per_s_inside']}),"
        f" {result['rebuild_share_of_raw_read']:.1%} of raw read, peak RSS"
        f" {rebuild['peak_rss_mb']} MB"
    )
    if "verify" in result:
        v = result["verify"]
        print(
            f"  (c) verify:    {v['events_per_s']:>12,.0f} events/s wall ({v['seconds']} s;"
            f" inside the command {v['events_per_s_inside']})"
        )
    for k, ok in checks.items():
        print(f"  target {k}: {'PASS' if ok else 'FAIL'}")
    print(f"  results: {out.relative_to(ROOT)}")
    if args.drop:
        with psycopg.connect(args.database_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
