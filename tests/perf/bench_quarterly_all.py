"""The platform-wide quarterly report (`GET /v1/reports/quarterly/{quarter}`) over many grantees,
on two versions of the code in one run: before and after a change.

    uv run python tests/perf/bench_quarterly_all.py [--baseline REF] [--grantees 50,200,500]
        [--participants 3] [--runs 3] [--reuse NAME] [--profile]

On a scratch database beside PROWD_DATABASE_URL (dropped at the end; `--reuse NAME` keeps a
database of that name and its grantees between runs), the largest number of grantees in
--grantees is made through the API in this process, each in one of four time zones with an
institution, an RRC, a cohort and --participants enrolled in 2026Q3 (the first moved to the RRC,
the second exited), and each grantee's views are caught up.

The baseline (default `f7a6d60`, the code before decision 150) is checked out as a detached
worktree beside the repository with its own virtual environment, this script copied in (as
`bench_compare.py` does: one instrument for both sides). Then, for each number N, the report of
2026Q3 over the first N grantees (in slug order) is timed --runs times from each tree,
alternating: a process of that tree's code (`--time N`) computes `all_body`, the endpoint's
task, through a `ReportPool` of one child (a child of its own with a fresh connection, as the
endpoint computes it; the pool's forkserver started beforehand, untimed), and, in a run of its
own, counts the statements the task sends. Every body of every run and side must be the same,
byte for byte (else the script stops). Then the endpoint itself is asked once over HTTP (the
Litestar test client: the token's visible grantees, the report in a child) for all grantees,
with this tree's code. With `--profile`, this tree's task over all grantees is profiled
(cProfile, on a fresh connection in this process) and the top functions printed.

Prints per N and side the median and each run's wall time and the statements; the whole
result goes to tests/perf/results/quarterly-all-<timestamp>.json. Findings:
docs/performance.md. Not a pytest test (no test_ prefix).
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import hashlib
import io
import json
import os
import pstats
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from litestar.testing import TestClient
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from services.api.app import create_app
from services.logging import configure as configure_logging
from services.projector import live as projector
from services.reports.jobs import Ask, Grantee, all_body
from services.reports.processes import ReportPool
from services.reports.quarterly import Quarter
from services.settings import Settings
from services.store.database import Database
from tests.perf.bench_compare import baseline_tree, uv_env
from tests.perf.harness.postgres import DATABASE_URL, scratch_database
from tests.perf.harness.results import ROOT, log, machine_info, write_json
from tests.perf.harness.world import COHORT, FACILITY, RRC, Tokens, enrolment

DEFAULT_BASELINE = "f7a6d60"
SECRET = "bench-secret-" + "q" * 40
TOKENS = Tokens(SECRET, "bench")
QUARTER = Quarter(2026, 3)
ZONES = ("America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles")


def make_grantee(c: TestClient[Any], i: int, participants: int) -> Grantee:
    """Grantee number `i` with `participants` enrolled in 2026Q3, the first moved to an RRC and
    the second exited (when there are that many)."""
    slug = f"qa_{i:04d}"
    zone = ZONES[i % len(ZONES)]
    grantee = {"slug": slug, "name": f"Grantee {i}", "grant_number": "FS-0001-26"}
    grantee["time_zone"] = zone
    c.post("/v1/grantees", json=grantee, headers=TOKENS.auth("platform_admin")).raise_for_status()
    h = TOKENS.auth("coordinator", slug)
    base = f"/v1/grantees/{slug}"
    for site in (
        {"code": FACILITY, "name": "FCI Alpha", "kind": "bop_institution"},
        {"code": RRC, "name": "RRC One", "kind": "rrc"},
    ):
        c.post(f"{base}/facilities", json=site, headers=h).raise_for_status()
    cohort = {"code": COHORT, "facility": FACILITY, "start_date": "2026-01-05"}
    c.post(f"{base}/cohorts", json=cohort, headers=h).raise_for_status()
    ids = []
    for p in range(participants):
        person = enrolment(f"Bench{p}", f"Person{i}", entry=f"2026-07-{6 + p % 20:02d}")
        r = c.post(f"{base}/participants", json=person, headers=h)
        r.raise_for_status()
        ids.append(r.json()["id"])
    if ids:
        move = {"to_stage": 2, "placement": "rrc", "facility": RRC}
        move["occurred_at"] = "2026-08-03T09:00:00-04:00"
        path = f"{base}/participants/{ids[0]}/stage-transitions"
        c.post(path, json=move, headers=h).raise_for_status()
    if len(ids) > 1:
        done = {"exit_date": "2026-09-01", "reason": "completed"}
        c.post(f"{base}/participants/{ids[1]}/exit", json=done, headers=h).raise_for_status()
    return Grantee(slug, f"g_{slug}", zone, f"Grantee {i}")


def data_dir(url: str) -> Path:
    """The service's data directory (its keys) of the benchmark's database, kept beside it."""
    return Path(tempfile.gettempdir()) / f"{conninfo_to_dict(url)['dbname']}-data"


def settings_of(url: str) -> Settings:
    return Settings(
        database_url=url,
        jwt_secret=SECRET,
        data_dir=data_dir(url),
        rate_limit_token=0,
        rate_limit_ip=0,
    )


@contextlib.contextmanager
def bench_database(maintenance_url: str, reuse: str | None) -> Iterator[str]:
    """A scratch database dropped at the end, or (`reuse`) a kept one by name, made if new."""
    if reuse is None:
        with scratch_database(maintenance_url) as url:
            try:
                yield url
            finally:
                shutil.rmtree(data_dir(url), ignore_errors=True)
        return
    with psycopg.connect(maintenance_url, autocommit=True) as conn:
        found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (reuse,)).fetchone()
        if found is None:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(reuse)))
    log(f"database {reuse} kept (drop it with: dropdb {reuse})")
    yield make_conninfo(maintenance_url, dbname=reuse)


def made(db: Database) -> list[Grantee]:
    """The grantees this benchmark made in the database, in slug order."""
    rows = db.fetchall(
        "SELECT slug, time_zone, name FROM prowd.grantees WHERE slug LIKE 'qa\\_%' ORDER BY slug"
    )
    return [Grantee(slug, f"g_{slug}", zone, name) for slug, zone, name in rows]


@contextlib.contextmanager
def counting() -> Iterator[list[int]]:
    """Within: every statement any cursor of this process executes is counted (the count in
    the list yielded). The instrument of an untimed run only: it wraps `Cursor.execute`."""
    count = [0]
    execute = psycopg.Cursor.execute

    def counted(self: Any, *args: Any, **kwargs: Any) -> Any:
        count[0] += 1
        return execute(self, *args, **kwargs)

    psycopg.Cursor.execute = counted  # type: ignore[method-assign]
    try:
        yield count
    finally:
        psycopg.Cursor.execute = execute  # type: ignore[method-assign]


def time_here(url: str, n: int, count: bool) -> dict[str, Any]:
    """The report over the first `n` grantees with the code of the tree this process runs:
    timed through a pool of one child (its forkserver started beforehand), and with `count`
    its statements counted in a second run in this process."""
    db = Database(url, settings_of(url), name="prowd-bench").open()
    pool = ReportPool(1)
    try:
        grantees = made(db)[:n]
        ask = Ask(QUARTER)
        pool.run(db, all_body, grantees[:1], ask, "json")
        t = time.perf_counter()
        body = pool.run(db, all_body, grantees, ask, "json")
        wall = time.perf_counter() - t
        statements = None
        if count:
            with counting() as counted:
                all_body(db, grantees, ask, "json")
            statements = counted[0]
    finally:
        pool.shutdown()
        db.close()
    return {
        "wall_ms": round(wall * 1000),
        "statements": statements,
        "sha256": hashlib.sha256(body).hexdigest(),
        "bytes": len(body),
        "grantees": len(grantees),
    }


def time_in(tree: Path, url: str, n: int, count: bool) -> dict[str, Any]:
    """`time_here` in a process of `tree`'s code (its own virtual environment)."""
    cmd = ["uv", "run", "python", "tests/perf/bench_quarterly_all.py", "--database-url", url]
    cmd += ["--time", str(n), *(["--count"] if count else [])]
    out = subprocess.run(cmd, cwd=tree, env=uv_env(), capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"{tree.name}: {out.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(out.stdout.splitlines()[-1])
    return result


def compare(trees: dict[str, Path], url: str, n: int, runs: int) -> dict[str, Any]:
    """Both trees over the first `n` grantees, `runs` times each, alternating."""
    samples: dict[str, list[dict[str, Any]]] = {side: [] for side in trees}
    for run in range(runs):
        for side, tree in trees.items():
            samples[side].append(time_in(tree, url, n, count=run == 0))
    digests = {s["sha256"] for side in samples.values() for s in side}
    if len(digests) != 1:
        raise SystemExit(f"the reports differ at {n} grantees: {samples}")
    row: dict[str, Any] = {"bytes": samples["after"][0]["bytes"], "same_body": True}
    for side, s in samples.items():
        walls = [x["wall_ms"] for x in s]
        row[side] = {
            "median_ms": round(statistics.median(walls)),
            "wall_ms": walls,
            "statements": s[0]["statements"],
        }
    log(
        f"{n} grantees: "
        + "; ".join(
            f"{side} {row[side]['median_ms']} ms (runs {row[side]['wall_ms']}),"
            f" {row[side]['statements']} statements"
            for side in trees
        )
    )
    return row


def profiled(db: Database, grantees: list[Grantee], ask: Ask) -> str:
    """The top functions (own time) of one report on a fresh connection."""
    fresh = Database(db.url, db.settings, name="prowd-bench-profile").open()
    try:
        all_body(fresh, grantees[:1], ask, "json")
        profile = cProfile.Profile()
        profile.enable()
        all_body(fresh, grantees, ask, "json")
        profile.disable()
    finally:
        fresh.close()
    out = io.StringIO()
    pstats.Stats(profile, stream=out).sort_stats("tottime").print_stats(25)
    return out.getvalue()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=DATABASE_URL)
    parser.add_argument("--baseline", default=DEFAULT_BASELINE)
    parser.add_argument("--grantees", default="50,200,500")
    parser.add_argument("--participants", type=int, default=3)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument(
        "--reuse",
        metavar="NAME",
        help="keep the database NAME (made on first use) and its grantees between runs",
    )
    parser.add_argument("--time", type=int, metavar="N", help=argparse.SUPPRESS)
    parser.add_argument("--count", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    # The request log of every setup request would drown the figures.
    configure_logging("warning")
    if args.time is not None:
        print(json.dumps(time_here(args.database_url, args.time, args.count)))
        return 0
    sizes = sorted(int(n) for n in args.grantees.split(","))
    started = datetime.now(UTC)
    trees = {"before": baseline_tree(args.baseline, extra=[__file__]), "after": ROOT}
    result: dict[str, Any] = {
        "started_at": started.isoformat(timespec="seconds"),
        "baseline": args.baseline,
        "participants_per_grantee": args.participants,
        "quarter": QUARTER.name,
        "loadavg_before": os.getloadavg(),
        "sizes": {},
    }
    with bench_database(args.database_url, args.reuse) as url:
        settings = settings_of(url)
        db = Database(url, settings, name="prowd-bench").open()
        try:
            with TestClient(create_app(settings, db), timeout=600) as c:
                t = time.perf_counter()
                grantees = made(db)
                for i in range(len(grantees), sizes[-1]):
                    grantees.append(make_grantee(c, i, args.participants))
                    projector.drain(db, grantees[-1].schema)
                    if (i + 1) % 50 == 0:
                        log(f"{i + 1} grantees made ({time.perf_counter() - t:.0f} s)")
                result["setup_s"] = round(time.perf_counter() - t, 1)
                for n in sizes:
                    result["sizes"][n] = compare(trees, url, n, args.runs)
                h = TOKENS.auth("federal_oversight", "*")
                # The first report starts the app's report forkserver: not timed.
                first = TOKENS.auth("federal_oversight", grantees[0].slug)
                c.get(f"/v1/reports/quarterly/{QUARTER.name}", headers=first).raise_for_status()
                t = time.perf_counter()
                r = c.get(f"/v1/reports/quarterly/{QUARTER.name}", headers=h)
                r.raise_for_status()
                result["http_after_ms"] = round((time.perf_counter() - t) * 1000)
                result["http_grantees"] = len(r.json()["grantees"])
                log(f"over HTTP, {result['http_grantees']} grantees: {result['http_after_ms']} ms")
                if args.profile:
                    text = profiled(db, grantees, Ask(QUARTER))
                    result["profile_after"] = text
                    print(f"--- profile at {len(grantees)} grantees ---\n{text}")
        finally:
            db.close()
        result["loadavg_after"] = os.getloadavg()
        result["machine"] = machine_info(url)
    out = write_json(f"quarterly-all-{started:%Y%m%dT%H%M%SZ}.json", result)
    shown = {k: v for k, v in result.items() if k != "machine" and not k.startswith("profile")}
    print(json.dumps(shown, indent=2))
    log(f"results: {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
