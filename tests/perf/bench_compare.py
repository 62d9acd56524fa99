"""The command benchmark on two versions of the code in one run: before and after a change.

    uv run python tests/perf/bench_compare.py [--baseline REF] [--rounds 2] [--duration 20]

The baseline is a commit (default: `be11709`, the code before issue 23's command-path work),
checked out as a detached git worktree beside the repository with its own virtual environment
(`uv sync --frozen`). Each round runs `tests/perf/bench_commands.py --skip-baselines` from the
baseline tree and then from this tree, each with its own server, scratch database and wrk load
(4 grantees; the same connections and duration), so both sides meet the same machine within
minutes of each other. Both sides run this tree's benchmark (bench_commands.py, commands.lua and
the harness are copied into the baseline's tree): the same instrument measures both codes. The
default mix is a third each of enrolments, 1->3 stage transitions and held meetings.

Printed: per side and round, commands/s, p50/p99 latency, projection lag p99, PostgreSQL
transactions per command and CPU per command by process (API, PostgreSQL, projection worker,
webhook dispatcher; wrk and other processes are left out); then the medians per side and the
ratio after ÷ before of the CPU per command. The whole result goes to
tests/perf/results/compare-<timestamp>.json.

Not a pytest test: the file name does not match test_*.py and it defines no test_ function.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tests.perf.harness.postgres import DATABASE_URL
from tests.perf.harness.results import ROOT, log, machine_info, stamp, write_json

DEFAULT_BASELINE = "be11709"
# Roles of `bench_commands.py`'s CPU table that are the service (not the load generator).
SERVICE_ROLES = ("api", "postgres", "projection", "webhook", "serve")
# The measuring instrument, copied from this tree into the baseline's.
INSTRUMENT = (
    "tests/perf/bench_compare.py",
    "tests/perf/bench_commands.py",
    "tests/perf/commands.lua",
    "tests/perf/harness",
)


def baseline_tree(ref: str, extra: Sequence[str] = ()) -> Path:
    """A detached worktree of `ref` with its dependencies installed (made once, then reused),
    this tree's instrument copied in (with `extra`: more of this tree's files)."""
    sha = subprocess.run(
        ["git", "rev-parse", "--short", ref], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()
    tree = ROOT.parent / f".prowd-bench-{sha}"
    if not (tree / ".git").exists():
        log(f"checking out {sha} at {tree}")
        subprocess.run(["git", "worktree", "add", "--detach", str(tree), sha], cwd=ROOT, check=True)
    subprocess.run(["uv", "sync", "--frozen", "--quiet"], cwd=tree, check=True, env=uv_env())
    # One instrument for both sides: this tree's benchmark, wrk script and harness.
    for path in (*INSTRUMENT, *(str(Path(p).resolve().relative_to(ROOT)) for p in extra)):
        target = tree / path
        if (ROOT / path).is_dir():
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(ROOT / path, target, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(ROOT / path, target)
    return tree


def uv_env() -> dict[str, str]:
    """This environment without the active virtual environment: `uv run` in another tree uses
    that tree's own."""
    return {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}


def run_side(tree: Path, args: argparse.Namespace, http_server: str | None) -> dict[str, Any]:
    """One run of `bench_commands.py` in `tree`; its result file, read back."""
    results = tree / "tests" / "perf" / "results"
    before = set(results.glob("commands-*.json")) if results.exists() else set()
    cmd = [
        "uv",
        "run",
        "python",
        "tests/perf/bench_commands.py",
        "--skip-baselines",
        "--duration",
        str(args.duration),
        "--connections",
        str(args.connections),
        "--workers",
        str(args.workers),
        "--quiet-wait",
        str(args.quiet_wait),
        "--log-level",
        "warning",
        "--transition-share",
        str(args.transition_share),
        "--meeting-share",
        str(args.meeting_share),
        *(["--http-server", http_server] if http_server else []),
    ]
    log(f"{tree.name}: {' '.join(cmd[3:])}")
    subprocess.run(cmd, cwd=tree, check=True, stdout=subprocess.DEVNULL, env=uv_env())
    new = sorted(set(results.glob("commands-*.json")) - before)
    if not new:
        raise RuntimeError(f"{tree}: the benchmark wrote no result file")
    data: dict[str, Any] = json.loads(new[-1].read_text())
    return data


def figures(r: dict[str, Any]) -> dict[str, Any]:
    cpu = r["cpu_ms_per_command"]
    service = {
        role: ms
        for role, ms in cpu.items()
        if role.startswith(SERVICE_ROLES) and not role.startswith("total")
    }
    s = r["summary"]
    return {
        "commands_per_s": s["http_commands_per_s"],
        "p50_ms": s["http_p50_ms"],
        "p99_ms": s["http_p99_ms"],
        "non_2xx": s["http_non_2xx"],
        "lag_p99_ms": s["lag_p99_ms"],
        "transactions_per_command": r["postgres_during_load"]["transactions_per_command"],
        "cpu_ms_per_command": service,
        "cpu_ms_per_command_total": round(sum(service.values()), 2),
        "other_processes_cores": s["max_other_processes_cores"],
        "git": r.get("git"),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--baseline", default=DEFAULT_BASELINE, help="git ref of the code before")
    ap.add_argument("--rounds", type=int, default=2, help="before/after pairs (alternating)")
    ap.add_argument("--duration", type=int, default=20, help="seconds of wrk load per side")
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--workers", type=int, default=2, help="API processes")
    ap.add_argument("--quiet-wait", type=float, default=60.0)
    # The mix: a third each of enrolments, 1->3 transitions and held meetings.
    ap.add_argument("--meeting-share", type=float, default=1 / 3)
    ap.add_argument("--transition-share", type=float, default=0.5, help="of the rest")
    # The ASGI server of each side (PROWD_HTTP_SERVER; unset: that code's default).
    ap.add_argument("--before-http-server", choices=("uvicorn", "granian"))
    ap.add_argument("--after-http-server", choices=("uvicorn", "granian"))
    args = ap.parse_args(argv)
    if not 1 <= args.rounds <= 5:
        print("--rounds must be 1-5", file=sys.stderr)
        return 2

    base = baseline_tree(args.baseline)
    sides: dict[str, list[dict[str, Any]]] = {"before": [], "after": []}
    for n in range(args.rounds):
        log(f"round {n + 1} of {args.rounds}")
        sides["before"].append(figures(run_side(base, args, args.before_http_server)))
        sides["after"].append(figures(run_side(ROOT, args, args.after_http_server)))

    def median(side: str, key: str) -> float:
        return round(statistics.median(float(f[key]) for f in sides[side]), 2)

    keys = ("commands_per_s", "p99_ms", "lag_p99_ms", "cpu_ms_per_command_total")
    medians = {side: {k: median(side, k) for k in keys} for side in sides}
    before_cpu = medians["before"]["cpu_ms_per_command_total"]
    ratio = round(medians["after"]["cpu_ms_per_command_total"] / before_cpu, 3)
    after = medians["after"]
    passed = {
        "cpu_ms_per_command<=2.0": after["cpu_ms_per_command_total"] <= 2.0,
        "cpu_ratio<=0.55": ratio <= 0.55,
        "commands_per_s>=1000": after["commands_per_s"] >= 1000,
        "p99<=150ms": after["p99_ms"] <= 150,
        "lag_p99<=1s": after["lag_p99_ms"] <= 1000,
    }
    result = {
        "targets_issue_23": passed,
        "parameters": vars(args),
        "machine": machine_info(DATABASE_URL),
        "rounds": sides,
        "medians": medians,
        "cpu_ratio_after_to_before": ratio,
    }
    for side, runs in sides.items():
        for i, f in enumerate(runs, 1):
            roles = ", ".join(f"{k} {v}" for k, v in f["cpu_ms_per_command"].items())
            print(
                f"{side} #{i}: {f['commands_per_s']} commands/s, p50 {f['p50_ms']} ms,"
                f" p99 {f['p99_ms']} ms, lag p99 {f['lag_p99_ms']} ms,"
                f" {f['transactions_per_command']} transactions/command,"
                f" CPU {f['cpu_ms_per_command_total']} ms/command ({roles})"
            )
    print(f"medians: {json.dumps(medians)}")
    print(f"CPU per command, after / before: {ratio}")
    print(f"issue 23 targets (after): {json.dumps(passed)}")
    path = write_json(f"compare-{stamp()}.json", result)
    print(f"result: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
