"""Import benchmark (issue 21): a generated 20,000-row participants file imported with
`prowd import` beside a raw COPY of the same rows into a scratch table, each in its own
process, with its wall time, rows/s and peak RSS.

    uv run python tests/perf/bench_import.py [--rows 20000] [--xlsx]

Needs `PROWD_DATABASE_URL` (a scratch grantee is registered there; nothing else is touched).
The import runs the whole path: the file read and checked, every row through the domain's
enrolment (and stage transition) rules, duplicates matched, personal fields encrypted with a
new key per participant, events appended in batches with their hash chain. The COPY parses
the same CSV and streams its cells into an unlogged table: the floor a row costs in
PostgreSQL. Prints figures and writes tests/perf/results/import-<timestamp>.json. Target: at
least 2,000 rows/s for the import.
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import secrets
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from tests.perf.harness.results import ROOT, log, stamp, write_json

TARGET_ROWS_PER_S = 2000.0
HEADER = [
    "first_name",
    "last_name",
    "date_of_birth",
    "bop_register_number",
    "program_entry_date",
    "facility",
    "cohort",
    "stage",
    "placement",
    "stage_facility",
    "stage_date",
]
FIRST = ["Luis", "María", "Dewayne", "Ann", "Tom", "Xia", "Ngozi", "Piotr", "Aroha", "Sam"]
LAST = ["Ortega", "Núñez", "Harris", "Lee", "Baker", "Lin", "Okafor", "Nowak", "Ngata", "Reed"]


def generate(rows: int, seed: int = 21) -> list[list[str]]:
    """Distinct people (register numbers and last names never repeat): a fifth in stage 2 at
    the RRC, a tenth in stage 3, the rest in stage 1."""
    rng = random.Random(seed)
    out = []
    for i in range(rows):
        born = date(1960, 1, 1) + timedelta(days=i % 12_000)
        stage = "" if i % 10 < 7 else ("2" if i % 10 < 9 else "3")
        out.append(
            [
                rng.choice(FIRST),
                f"{rng.choice(LAST)}{i}",
                born.isoformat(),
                f"{10000 + i:05d}-{rng.randint(100, 999)}",
                "2026-02-02",
                "FCI-A",
                "C1",
                stage,
                "rrc" if stage == "2" else "",
                "RRC-1" if stage == "2" else "",
                "2026-06-01" if stage else "",
            ]
        )
    return out


def write_csv(path: Path, rows: list[list[str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(HEADER)
        w.writerows(rows)


def write_xlsx(path: Path, rows: list[list[str]]) -> None:
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet()
    sheet.append(HEADER)
    for r in rows:
        sheet.append(r)
    book.save(path)


def register_grantee(url: str) -> str:
    """A scratch grantee with FCI-A, RRC-1 and cohort C1 (started 2026-01-05)."""
    from domain.facilities import FacilityKind
    from services.app.tenancy import Tenancy
    from services.settings import Settings
    from services.store.database import Database
    from services.store.ledger import Command

    slug = f"bench_import_{secrets.token_hex(4)}"
    db = Database(url, Settings.from_env(), name="bench-import").open()
    try:
        tenancy = Tenancy(db)
        tenancy.migrate()
        tenancy.platform.registry.register_grantee(
            Command(), slug=slug, name="Import bench", grant_number="FS-0000-26", time_zone="UTC"
        )
        app = tenancy.app(slug)
        for code, kind in (("FCI-A", FacilityKind.BOP_INSTITUTION), ("RRC-1", FacilityKind.RRC)):
            app.facilities.register_facility(Command(), code=code, name=code, kind=kind)
        app.facilities.start_cohort(
            Command(), code="C1", name="C1", facility_code="FCI-A", start_date=date(2026, 1, 5)
        )
    finally:
        db.close()
    return slug


def child(cmd: list[str], env: dict[str, str]) -> dict[str, Any]:
    # Output to files, not pipes: a child that fills a pipe nobody reads would never end.
    with tempfile.TemporaryFile() as fo, tempfile.TemporaryFile() as fe:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, env=env, stdout=fo, stderr=fe)
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - t0
        fo.seek(0)
        fe.seek(0)
        out, err = fo.read().decode(), fe.read().decode()
    return {
        "exit_code": os.waitstatus_to_exitcode(status),
        "seconds": round(elapsed, 3),
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 2),
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
        "stdout_tail": out[-600:],
        "stderr_tail": err[-1500:],
    }


def raw_copy(url: str, path: str) -> None:
    """The floor: parse the CSV and COPY its cells into an unlogged scratch table (run as
    a child process by `main`)."""
    import psycopg

    with psycopg.connect(url) as conn:
        table = f"bench_import_copy_{secrets.token_hex(4)}"
        conn.execute(
            f"CREATE UNLOGGED TABLE {table} (first_name text, last_name text, date_of_birth date,"
            " bop_register_number text, program_entry_date date, facility text, cohort text,"
            " stage int, placement text, stage_facility text, stage_date date)"
        )
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.reader(f)
            next(reader)
            with conn.cursor().copy(f"COPY {table} FROM STDIN") as copy:
                for row in reader:
                    copy.write_row([c or None for c in row])
        conn.commit()
        count = conn.execute(f"SELECT count(*) FROM {table}").fetchone()
        conn.execute(f"DROP TABLE {table}")
        conn.commit()
    print(f"copied {count[0] if count else 0} rows")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rows", type=int, default=20_000)
    ap.add_argument("--xlsx", action="store_true", help="also import the same rows as XLSX")
    ap.add_argument("--copy-only", default="", help=argparse.SUPPRESS)
    args = ap.parse_args()
    url = os.environ.get("PROWD_DATABASE_URL", "")
    if not url:
        print("bench_import: set PROWD_DATABASE_URL", file=sys.stderr)
        return 2
    if args.copy_only:
        raw_copy(url, args.copy_only)
        return 0
    env = {**os.environ, "PROWD_LOG_LEVEL": "warning", "PYTHONPATH": str(ROOT)}
    uptime = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "participants.csv"
        rows = generate(args.rows)
        write_csv(path, rows)
        log(f"{args.rows} rows, {path.stat().st_size / 1e6:.1f} MB of CSV")
        copy = child([sys.executable, __file__, "--copy-only", str(path)], env)
        log(f"raw COPY: {copy['seconds']} s, peak RSS {copy['peak_rss_mb']} MB")
        results: dict[str, Any] = {"raw_copy": copy}
        files = [("csv", path)]
        if args.xlsx:
            xlsx = Path(tmp) / "participants.xlsx"
            write_xlsx(xlsx, rows)
            files.append(("xlsx", xlsx))
        for label, file in files:
            slug = register_grantee(url)
            prowd = [sys.executable, "-m", "services.cli"]
            dry = child(
                [*prowd, "import", "participants", str(file), "--grantee", slug, "--dry-run"], env
            )
            run = child([*prowd, "import", "participants", str(file), "--grantee", slug], env)
            again = child([*prowd, "import", "participants", str(file), "--grantee", slug], env)
            for name, r in (("dry run", dry), ("import", run), ("rerun", again)):
                if r["exit_code"] != 0:
                    print(r["stderr_tail"], file=sys.stderr)
                    raise SystemExit(f"bench_import: {label} {name} failed ({r['exit_code']})")
                log(
                    f"{label} {name}: {r['seconds']} s, peak RSS {r['peak_rss_mb']} MB;"
                    f" {r['stdout_tail'].strip()[-160:]}"
                )
            results[label] = {"grantee": slug, "dry_run": dry, "import": run, "rerun": again}
    rate = lambda s: round(args.rows / s, 1)  # noqa: E731
    summary = {
        "rows": args.rows,
        "raw_copy_rows_per_s": rate(copy["seconds"]),
        "raw_copy_peak_rss_mb": copy["peak_rss_mb"],
        **{
            f"{label}_{k}": v
            for label in ("csv", "xlsx")
            if label in results
            for k, v in (
                ("import_rows_per_s", rate(results[label]["import"]["seconds"])),
                # Less the process's fixed costs (start, migrate check, read, hash, index
                # load), which the rerun of the same file pays and nothing else.
                (
                    "import_rows_per_s_net_of_start",
                    rate(results[label]["import"]["seconds"] - results[label]["rerun"]["seconds"]),
                ),
                ("import_cpu_s", results[label]["import"]["cpu_s"]),
                ("import_peak_rss_mb", results[label]["import"]["peak_rss_mb"]),
                ("dry_run_rows_per_s", rate(results[label]["dry_run"]["seconds"])),
                ("rerun_seconds", results[label]["rerun"]["seconds"]),
            )
        },
        "load_before": uptime,
        "nproc": os.cpu_count(),
        "target_rows_per_s": TARGET_ROWS_PER_S,
    }
    print("\n".join(f"{k}: {v}" for k, v in summary.items()))
    out = write_json(f"import-{stamp()}.json", {"summary": summary, **results})
    print(f"written {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
