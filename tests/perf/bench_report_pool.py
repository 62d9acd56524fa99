"""The latency a report process adds: the quarterly report of a small grantee computed in the
API process (`PROWD_REPORT_PROCESSES=0`) against a short-lived child (the default, 1).

    uv run python tests/perf/bench_report_pool.py [--participants 20] [--reports 20]

On a scratch database beside PROWD_DATABASE_URL (dropped at the end), two `prowd serve
--workers 1` side by side, one per setting, and one grantee with --participants enrolled over
HTTP. Then --reports JSON reports from each server,
alternating, over HTTP; and as many through the module's functions in this process
(`report_jobs.grantee_body` called here against `ReportPool.run`). The first report through a
pool (which starts the forkserver) is timed apart. Prints the figures and writes
tests/perf/results/report-pool-<timestamp>.json. Findings: docs/decisions.md, decision 28.
Not a pytest test (no test_ prefix).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from services.reports.jobs import Ask, Grantee, grantee_body
from services.reports.processes import ReportPool
from services.reports.quarterly import Quarter
from services.settings import Settings
from services.store.database import Database
from tests.perf.harness.meters import rss_kb
from tests.perf.harness.postgres import scratch_database
from tests.perf.harness.results import ROOT, log, machine_info, write_json
from tests.perf.harness.server import Server
from tests.perf.harness.world import Tokens, create_grantee, enrolment

SECRET = "bench-secret-" + "r" * 40
TOKENS = Tokens(SECRET, "bench")


def figures(seconds: list[float]) -> dict[str, float]:
    ms = sorted(s * 1000 for s in seconds)
    return {
        "n": len(ms),
        "p50_ms": round(statistics.median(ms), 2),
        "mean_ms": round(statistics.fmean(ms), 2),
        "min_ms": round(ms[0], 2),
        "max_ms": round(ms[-1], 2),
    }


def compare(local: list[float], pooled: list[float]) -> dict[str, Any]:
    a, b = figures(local), figures(pooled)
    return {
        "in_process": a,
        "pool": b,
        "added_p50_ms": round(b["p50_ms"] - a["p50_ms"], 2),
        "added_mean_ms": round(b["mean_ms"] - a["mean_ms"], 2),
    }


def timed(fn: Callable[[], Any]) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def setup(c: httpx.Client, participants: int) -> tuple[str, int]:
    """A grantee with `participants` enrolled; its slug and the log position of the last."""
    slug = f"rp_{secrets.token_hex(4)}"
    create_grantee(c, TOKENS, slug, name="Report bench", grant_number="FS-0001-26", rrc=False)
    h = TOKENS.auth("coordinator", slug)
    position = 0
    for i in range(participants):
        person = enrolment(f"Bench{i}", "Person", entry="2026-07-06", born="1980-01-01")
        r = c.post(f"/v1/grantees/{slug}/participants", json=person, headers=h)
        r.raise_for_status()
        position = int(r.headers["x-log-position"])
    return slug, position


def over_http(url: str, tmp: Path, participants: int, reports: int) -> tuple[str, dict[str, Any]]:
    """Two servers, reports in the API process and in a child: the first report through the
    pool, then `reports` from each, alternating."""
    servers = []
    try:
        for processes in ("0", "1"):
            env = {"PROWD_REPORT_PROCESSES": processes, "PROWD_DATA_DIR": str(tmp / "data")}
            servers.append(Server(url, SECRET, tmp / f"serve-{processes}.log", env=env))
        for server in servers:
            server.wait_ready()
        local, pooled = (httpx.Client(base_url=s.base, timeout=60.0) for s in servers)
        with local, pooled:
            slug, position = setup(local, participants)
            headers = TOKENS.auth("federal_oversight", slug)
            path = f"/v1/grantees/{slug}/reports/quarterly/2026Q3"

            def get(c: httpx.Client, **params: Any) -> None:
                r = c.get(path, headers=headers, params=params)
                assert r.status_code == 200, r.text

            get(local, min_position=position)
            first = timed(lambda: get(pooled, min_position=position))
            samples: dict[str, list[float]] = {"local": [], "pooled": []}
            for _ in range(reports):
                samples["local"].append(timed(lambda: get(local)))
                samples["pooled"].append(timed(lambda: get(pooled)))
        return slug, {
            "first_report_through_the_pool_ms": round(first * 1000, 1),
            **compare(samples["local"], samples["pooled"]),
        }
    finally:
        for server in servers:
            server.stop()


def through_functions(db: Database, slug: str, reports: int) -> dict[str, Any]:
    """The same reports through the module's functions in this process: in it, and through a
    pool of one child."""
    g = Grantee(slug, f"g_{slug}", "America/New_York", "Report bench")
    ask = Ask(Quarter(2026, 3))
    pool = ReportPool(1)
    try:
        pool.run(db, grantee_body, g, ask, "json")
        local: list[float] = []
        pooled: list[float] = []
        for _ in range(reports):
            pooled.append(timed(lambda: pool.run(db, grantee_body, g, ask, "json")))
            local.append(timed(lambda: grantee_body(db, g, ask, "json")))
        rss = rss_kb(pool.call(os.getppid))
    finally:
        pool.shutdown()
    return {"forkserver_rss_kb": rss, **compare(local, pooled)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=os.environ.get("PROWD_DATABASE_URL", ""))
    parser.add_argument("--participants", type=int, default=20)
    parser.add_argument("--reports", type=int, default=20)
    args = parser.parse_args()
    if not args.database_url:
        raise SystemExit("set PROWD_DATABASE_URL or --database-url (a server to create on)")
    started = datetime.now(UTC)
    with scratch_database(args.database_url) as url, tempfile.TemporaryDirectory() as tmp:
        settings = Settings(database_url=url, jwt_secret=SECRET, data_dir=Path(tmp) / "data")
        log("two servers: PROWD_REPORT_PROCESSES=0 and =1")
        slug, http = over_http(url, Path(tmp), args.participants, args.reports)
        log("the module's functions in this process")
        db = Database(url, settings, name="prowd-bench").open()
        try:
            functions = through_functions(db, slug, args.reports)
        finally:
            db.close()
        result = {
            "started_at": started.isoformat(timespec="seconds"),
            "participants": args.participants,
            "http": http,
            "functions": functions,
            "loadavg_after": os.getloadavg(),
            "machine": machine_info(url),
        }
    out = write_json(f"report-pool-{started:%Y%m%dT%H%M%SZ}.json", result)
    print(json.dumps({k: v for k, v in result.items() if k != "machine"}, indent=2))
    log(f"results: {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
