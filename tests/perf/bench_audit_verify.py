"""Verify speed: the standalone verifier on an audit export beside `prowd verify`.

On the history of tests/perf/bench_rebuild.py (the same database, generated once and kept:
`prowd_bench_1m` for the default 1,000,000 events), per grantee:
  (1) `prowd verify --sign` once, so every grantee has a signed checkpoint to check;
  (2) `prowd verify` of every grantee (public keys from the database), as a subprocess;
  (3) `prowd audit export` of every grantee, as a subprocess;
  (4) `python tools/prowd_audit_verify.py DIR --keys FILE` on each export, as a subprocess of
      a plain interpreter with no project on its path (-I); FILE is the key set
      GET /v1/audit/public-keys answers, read from the database once.
Prints events/s, wall seconds and CPU of each, and writes tests/perf/results/audit-verify-*.json.

    uv run python tests/perf/bench_audit_verify.py [--events 1000000] [--grantees 20]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg

from tests.perf.bench_rebuild import (
    bench_db_name,
    grantee_schemas,
    load,
    machine_info,
    prepare_database,
    prowd,
)
from tests.perf.harness.postgres import DATABASE_URL
from tests.perf.harness.results import ROOT, log, write_json

TOOL = ROOT / "tools" / "prowd_audit_verify.py"


def timed(argv: list[str]) -> dict[str, Any]:
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - t0
    out = proc.stdout.read() if proc.stdout else ""
    return {
        "exit_code": os.waitstatus_to_exitcode(status),
        "seconds": round(elapsed, 3),
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 2),
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
        "stdout_tail": out[-500:],
    }


def published_keys(url: str, path: Path) -> str:
    """The platform's public key set as GET /v1/audit/public-keys answers it, written to `path`:
    what an auditor checks a kit against (never the kit's own copy)."""
    from services.audit import keys
    from services.settings import Settings
    from services.store.database import Database

    settings = dataclasses.replace(Settings.from_env(), database_url=url)
    db = Database(url, settings, name="bench-audit-keys").open()
    try:
        path.write_text(json.dumps(keys.jwks(keys.published(db))))
    finally:
        db.close()
    return str(path)


def rate(events: int, seconds: float) -> float:
    return round(events / seconds, 1) if seconds else 0.0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--database-url", default=DATABASE_URL)
    p.add_argument("--events", type=int, default=1_000_000)
    p.add_argument("--grantees", type=int, default=20)
    args = p.parse_args()
    name = bench_db_name(args.events)
    url, _ = prepare_database(args.database_url, name, args.events, args.grantees, False)
    schemas = grantee_schemas(url)
    result: dict[str, Any] = {
        "started": datetime.now(UTC).isoformat(),
        "database": name,
        "machine": machine_info(url),
        "load_before": load(),
    }
    log(f"load: {result['load_before']}")
    signed = prowd(url, "verify", "--sign")
    if signed["exit_code"] != 0:
        log(signed["stdout_tail"] + signed["stderr_tail"])
        return 1
    with psycopg.connect(url, autocommit=True) as conn:
        events = sum(
            int(conn.execute(f'SELECT count(*) FROM "{s}".events').fetchone()[0]) for s in schemas
        )
    log("(2) prowd verify, every grantee, public keys from the database")
    ver = prowd(url, "verify")
    ver["events_per_s"] = rate(events, ver["seconds"])
    result["prowd_verify"] = ver
    log(f"    {ver['events_per_s']:,} events/s ({ver['seconds']} s, CPU {ver['cpu_s']} s)")
    with tempfile.TemporaryDirectory(prefix="prowd-kit-") as tmp:
        exports, checks = [], []
        keys_file = published_keys(url, Path(tmp) / "public-keys.json")
        for schema in schemas:
            slug = schema.removeprefix("g_")
            out = Path(tmp) / slug
            exports.append(prowd(url, "audit", "export", "--grantee", slug, "--output", str(out)))
            checks.append(timed([sys.executable, "-I", str(TOOL), str(out), "--keys", keys_file]))
        result["load_after"] = load()
    for name_, runs in (("export", exports), ("standalone_verify", checks)):
        bad = [r for r in runs if r["exit_code"] != 0]
        seconds = sum(r["seconds"] for r in runs)
        result[name_] = {
            "grantees": len(runs),
            "failed": len(bad),
            "seconds": round(seconds, 3),
            "cpu_s": round(sum(r["cpu_s"] for r in runs), 2),
            "peak_rss_mb": max(r["peak_rss_mb"] for r in runs),
            "events_per_s": rate(events, seconds),
            "sample": runs[0]["stdout_tail"][-300:],
        }
        if bad:
            log(f"{name_}: {len(bad)} failed: {bad[0]}")
    result["events"] = events
    print(f"\nAudit verification ({name}, {events:,} events over {len(schemas)} grantees)")
    for label, key in (
        ("prowd verify (DB, public keys)", "prowd_verify"),
        ("prowd audit export", "export"),
        ("standalone verifier on export", "standalone_verify"),
    ):
        r = result[key]
        print(
            f"  {label:34} {r['events_per_s']:>12,.0f} events/s  {r['seconds']:>8.2f} s wall"
            f"  CPU {r['cpu_s']:>7.2f} s"
        )
    print(f"  load before: {result['load_before']}\n  load after:  {result['load_after']}")
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = write_json(f"audit-verify-{stamp}.json", result)
    print(f"  results: {path}")
    ok = ver["exit_code"] == 0 and not any(
        result[k]["failed"] for k in ("export", "standalone_verify")
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
