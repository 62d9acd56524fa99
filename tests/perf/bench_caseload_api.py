"""The caseload page's cost in the API process itself (issue 23: ≤ 2 ms of API CPU per page).

`prowd serve --workers 1` with its projection worker, a grantee of `--participants` enrolled
participants (through the API) and `--goals` goals, then `--pages` sequential
`GET /v1/grantees/{g}/participants?limit=50` from this process over loopback (httpx, one
keep-alive connection). Measured from /proc: CPU ticks of the API process and of the
PostgreSQL backends of the scratch database per page (the client is another process and is
not counted), and the wall time of each page as the client sees it.

    uv run python tests/perf/bench_caseload_api.py [--pages 500] [--compare REF] [--rounds N]
        [--path /health]

With `--compare REF` the same script runs first from a detached worktree of REF (as
bench_compare.py makes it, with this script copied in) and then from this tree: both codes in
one run. Results are printed, and written to tests/perf/results/caseload-api-<stamp>.json.
Not a pytest test.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import psycopg
from psycopg import sql

from projections.base import Tables
from tests.perf.bench_compare import baseline_tree, uv_env
from tests.perf.harness.meters import ticks
from tests.perf.harness.postgres import DATABASE_URL, scratch_database
from tests.perf.harness.results import ROOT, log, machine_info, stamp, write_json
from tests.perf.harness.server import Server
from tests.perf.harness.world import Tokens, add_goals, create_grantee, enrolment

SLUG = "bench_caseload"
TICK_MS = 1000 / os.sysconf("SC_CLK_TCK")


def load(server: Server, url: str, tokens: Tokens, args: argparse.Namespace) -> dict[str, str]:
    with httpx.Client(base_url=server.base, timeout=60.0) as c:
        create_grantee(c, tokens, SLUG, name="Caseload")
        h = tokens.auth("coordinator", SLUG)
        for i in range(args.participants):
            body = enrolment(f"First{i}", f"Last{i}x{secrets.token_hex(2)}")
            c.post(f"/v1/grantees/{SLUG}/participants", json=body, headers=h).raise_for_status()
    schema = f"g_{SLUG}"
    with psycopg.connect(url, autocommit=True) as owner:
        for _ in range(600):
            row = owner.execute(
                sql.SQL(
                    "SELECT min(t.position) >= (SELECT max(notification_id) FROM {s}.events)"
                    " FROM {s}.active_views a JOIN {s}.tracking t"
                    " ON t.view = a.view AND t.version = a.version"
                ).format(s=sql.Identifier(schema))
            ).fetchone()
            if row and row[0]:
                break
            time.sleep(0.1)
        builds = dict(
            owner.execute(
                sql.SQL("SELECT view, version FROM {}.active_views").format(sql.Identifier(schema))
            ).fetchall()
        )
        caseload = Tables(schema, builds["caseload"])["caseload"]
        goals = Tables(schema, builds["goals"])["goals"]
        ids = [
            r[0] for r in owner.execute(sql.SQL("SELECT participant_id FROM {}").format(caseload))
        ]
        add_goals(owner, goals, ids, args.goals)
    return h


def measure(args: argparse.Namespace) -> dict[str, Any]:
    secret = "bench-" + secrets.token_hex(24)
    with scratch_database(args.database_url) as url, tempfile.TemporaryDirectory() as tmp:
        server = Server(
            url, secret, Path(tmp) / "server.log", workers=1, env={"PROWD_LOG_LEVEL": "warning"}
        )
        try:
            server.wait_ready()
            tokens = Tokens(secret, "bench")
            log(f"enrolling {args.participants} participants, {args.goals} goals")
            h = load(server, url, tokens, args)
            # With one worker, uvicorn serves in its supervisor process.
            api = (server.pids("api") or server.pids("serve (uvicorn supervisor)"))[0]
            page = args.path.format(grantee=SLUG)
            with httpx.Client(base_url=server.base, timeout=60.0, headers=h) as c:
                for _ in range(50):
                    c.get(page).raise_for_status()
                with psycopg.connect(url, autocommit=True) as conn:
                    # The backends of this database only (other work on the server is not ours).
                    backends = [
                        int(r[0])
                        for r in conn.execute(
                            "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
                            " AND pid <> pg_backend_pid()"
                        )
                    ]
                time.sleep(1.0)
                spy = None
                if args.profile:
                    spy = subprocess.Popen(
                        [
                            "py-spy",
                            "record",
                            "-p",
                            str(api),
                            "-r",
                            "250",
                            "-f",
                            "raw",
                            "-o",
                            args.profile,
                            "--nonblocking",
                            "--gil",
                        ],
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL,
                    )
                    time.sleep(2.0)
                api0 = ticks(api) or 0
                pg0 = sum(ticks(p) or 0 for p in backends)
                walls = []
                for _ in range(args.pages):
                    t0 = time.perf_counter()
                    c.get(page).raise_for_status()
                    walls.append(time.perf_counter() - t0)
                api1 = ticks(api) or 0
                pg1 = sum(ticks(p) or 0 for p in backends)
                if spy is not None:
                    spy.send_signal(signal.SIGINT)
                    spy.wait(60)
        finally:
            server.stop()
    return {
        "path": args.path,
        "pages": args.pages,
        "participants": args.participants,
        "goals": args.goals,
        "api_cpu_ms_per_page": round((api1 - api0) * TICK_MS / args.pages, 3),
        "postgres_cpu_ms_per_page": round((pg1 - pg0) * TICK_MS / args.pages, 3),
        "wall_ms_p50": round(1000 * statistics.median(walls), 2),
        "wall_ms_p99": round(1000 * sorted(walls)[int(0.99 * (len(walls) - 1))], 2),
    }


def median_of(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """One side's rounds: each figure's median, with the rounds themselves."""
    out = dict(rounds[0])
    for name, value in rounds[0].items():
        if isinstance(value, float):
            out[name] = round(statistics.median(r[name] for r in rounds), 3)
    out["rounds"] = rounds
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--database-url", default=DATABASE_URL)
    ap.add_argument("--participants", type=int, default=300)
    ap.add_argument("--goals", type=int, default=40_000)
    ap.add_argument("--pages", type=int, default=500)
    ap.add_argument("--compare", metavar="REF", help="also measure REF's code, first")
    ap.add_argument(
        "--path",
        default="/v1/grantees/{grantee}/participants?limit=50",
        help="the page to read ({grantee} is the benchmark's grantee); another path measures"
        " the same stack on a cheaper read, e.g. /health for the floor of a request",
    )
    ap.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="measure each side this many times, the sides alternating; medians are reported",
    )
    ap.add_argument("--json-out", help=argparse.SUPPRESS)
    ap.add_argument(
        "--profile", metavar="FILE", help="py-spy the API process over the pages (collapsed stacks)"
    )
    args = ap.parse_args(argv)
    if not (1 <= args.pages <= 100_000 and 1 <= args.participants <= 100_000):
        print("--pages and --participants must be 1-100000", file=sys.stderr)
        return 2
    if not 1 <= args.rounds <= 20:
        print("--rounds must be 1-20", file=sys.stderr)
        return 2
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(measure(args)))
        return 0
    result: dict[str, Any] = {"machine": machine_info(args.database_url)}
    sides: list[tuple[str, Path]] = []
    if args.compare:
        sides.append((f"before ({args.compare})", baseline_tree(args.compare, [__file__])))
    sides.append(("this tree", ROOT))
    runs: dict[str, list[dict[str, Any]]] = {label: [] for label, _ in sides}
    for round_no in range(1, args.rounds + 1):
        for label, tree in sides:  # alternating, so a noisy spell falls on both sides
            with tempfile.NamedTemporaryFile(suffix=".json") as out:
                cmd = [
                    "uv",
                    "run",
                    "python",
                    "tests/perf/bench_caseload_api.py",
                    "--json-out",
                    out.name,
                ]
                cmd += ["--pages", str(args.pages), "--participants", str(args.participants)]
                cmd += ["--goals", str(args.goals), "--database-url", args.database_url]
                cmd += ["--path", args.path]
                if args.profile and tree == ROOT and round_no == 1:
                    cmd += ["--profile", str(Path(args.profile).resolve())]
                log(f"{label}: measuring (round {round_no} of {args.rounds})")
                subprocess.run(cmd, cwd=tree, check=True, env=uv_env())
                runs[label].append(json.loads(Path(out.name).read_text()))
            print(f"{label}, round {round_no}: {json.dumps(runs[label][-1])}")
    for label, rounds in runs.items():
        result[label] = median_of(rounds)
        print(f"{label}, median of {len(rounds)}: {json.dumps(result[label])}")
    path = write_json(f"caseload-api-{stamp()}.json", result)
    print(f"result: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
