"""Where results go and how the figures are summarised."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
from array import array
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

import psycopg

ROOT = Path(__file__).resolve().parents[3]
RESULTS = ROOT / "tests" / "perf" / "results"


def _stamped(msg: str, stream: TextIO) -> None:
    print(f"[{datetime.now(UTC):%H:%M:%S}] {msg}", file=stream, flush=True)


def log(msg: str) -> None:
    """A progress line on stderr (the benchmarks keep stdout for their figures)."""
    _stamped(msg, sys.stderr)


def report(msg: str) -> None:
    """A progress line on stdout (the reliability scripts' output is their report)."""
    _stamped(msg, sys.stdout)


def stamp() -> str:
    """This moment as results files are named: UTC, `20260301T090000Z`."""
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")


def write_json(name: str, data: Any) -> Path:
    """Write `data` to tests/perf/results/`name` (indented; what JSON lacks, as text)."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / name
    path.write_text(json.dumps(data, indent=2, default=str) + "\n")
    return path


def pct(values: list[float] | array[float], q: float) -> float | None:
    """The `q`th percentile (the value at rank q% of the sorted values); None when empty."""
    if not values:
        return None
    s = sorted(values)
    return s[min(len(s) - 1, int(q / 100 * len(s)))]


def ms(v: float | None) -> float | None:
    """Seconds as milliseconds, to 0.1 ms."""
    return None if v is None else round(1000 * v, 1)


def percentiles_ms(values: list[float]) -> dict[str, float]:
    """p50, p90, p99, max and mean of `values` (seconds) in milliseconds, and their count."""
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


def _proc_field(path: str, prefix: str) -> str:
    with contextlib.suppress(OSError):
        for line in Path(path).read_text().splitlines():
            if line.startswith(prefix):
                return line.split(":", 1)[1].strip()
    return ""


def machine_info(url: str) -> dict[str, Any]:
    """The machine, its PostgreSQL server (of `url`) and wrk, as the results record them."""
    mem_kib = int((_proc_field("/proc/meminfo", "MemTotal:") or "0 kB").split()[0])
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
        text = out.stdout or out.stderr
        wrk_version = text.splitlines()[0] if text else ""
    return {
        "nproc": os.cpu_count(),
        "cpu_model": _proc_field("/proc/cpuinfo", "model name"),
        "memory_gib": round(mem_kib / 1024 / 1024, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "postgresql": pg,
        "wrk": wrk_version,
    }


def git(*args: str) -> str:
    """The output of `git <args>` in the repository (empty when git fails)."""
    out = subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True)
    return out.stdout.strip()
