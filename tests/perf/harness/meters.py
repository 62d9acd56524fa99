"""What the machine's processes use: CPU per group of processes, resident memory, idleness.

Read from /proc (Linux), with no sampling thread: a meter compares two samples.
"""

from __future__ import annotations

import os
import resource
import time
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

from tests.perf.harness.results import log


def stat_fields(pid: int) -> list[str]:
    """/proc/<pid>/stat after the command name: state, ppid, ... (utime is index 11,
    starttime 19). Raises OSError when the process is gone."""
    return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()


def parent_of(pid: int) -> int:
    """The parent's pid (0 when the process is gone)."""
    try:
        return int(stat_fields(pid)[1])
    except (OSError, IndexError, ValueError):
        return 0


def cmdline(pid: int) -> str:
    """The command line, arguments separated by spaces ('' when the process is gone)."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return ""
    return raw.replace(b"\0", b" ").decode(errors="replace")


def ticks(pid: int, *, reaped: bool = False) -> int | None:
    """CPU clock ticks used by the process (with `reaped`: plus those of its children it has
    waited for); None when it is gone."""
    try:
        fields = stat_fields(pid)
    except OSError:
        return None
    own = int(fields[11]) + int(fields[12])  # utime + stime
    return own + int(fields[13]) + int(fields[14]) if reaped else own  # + cutime + cstime


def machine_ticks() -> tuple[int, int]:
    """(busy, total) clock ticks of all CPUs since boot."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:8]]
    return sum(values) - values[3] - values[4], sum(values)  # without idle and iowait


def rss_kb(pid: int, field_name: str = "VmRSS") -> int | None:
    """A memory figure of /proc/<pid>/status in kB (VmRSS resident, VmHWM peak resident)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field_name + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def rss_mb(pid: int, field_name: str = "VmRSS") -> float | None:
    """`rss_kb` in MB."""
    kb = rss_kb(pid, field_name)
    return None if kb is None else kb / 1024


def postmaster_of(conn: psycopg.Connection[Any]) -> int:
    """The pid of the PostgreSQL server this connection talks to (0 if not on this machine)."""
    row = conn.execute("SELECT pg_backend_pid()").fetchone()
    return parent_of(int(row[0])) if row else 0


def postgres_pids(conn: psycopg.Connection[Any]) -> list[int]:
    """The postmaster of this connection's server and every process it started."""
    postmaster = postmaster_of(conn)
    if not postmaster:
        return []
    children = [
        int(e) for e in os.listdir("/proc") if e.isdigit() and parent_of(int(e)) == postmaster
    ]
    return [postmaster, *children]


@dataclass(frozen=True)
class CpuSample:
    """Clock ticks of the watched processes (pid -> (group, ticks)) and of the machine."""

    ticks: dict[int, tuple[str, int]]
    busy: int
    total: int
    children_s: float
    t: float
    load: tuple[float, float, float]


@dataclass(frozen=True)
class CpuUsage:
    """Cores used between two samples: per group (and by the other processes), and by the
    whole machine."""

    seconds: float
    cores: dict[str, float]
    machine: float


def cpu_sample(groups: dict[int, str], reapers: Collection[int] = ()) -> CpuSample:
    """The CPU ticks so far of the processes in `groups` (pid -> group) and of the machine.
    `reapers`: processes whose waited-for children's CPU counts as theirs (a child living less
    than a sample interval reaches us that way, once its parent has reaped it)."""
    seen: dict[int, tuple[str, int]] = {}
    for pid, group in groups.items():
        used = ticks(pid, reaped=pid in reapers)
        if used is not None:
            seen[pid] = (group, used)
    busy, total = machine_ticks()
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return CpuSample(
        seen, busy, total, children.ru_utime + children.ru_stime, time.monotonic(), os.getloadavg()
    )


def cpu_usage(before: CpuSample, after: CpuSample, *, other: str, children: str = "") -> CpuUsage:
    """Cores per group between two samples, in the order of `after`'s groups. A process counts
    from the earlier sample, or from its start if it started in between. With `children`, the
    CPU of this script's reaped children (wrk) under that name. What the machine used beyond
    all that is `other`: when it is large, the figures are not clean."""
    hz = os.sysconf("SC_CLK_TCK")
    seconds = max(1e-6, after.t - before.t)
    cores: dict[str, float] = {}
    for pid, (group, now) in after.ticks.items():
        then = before.ticks.get(pid, (group, 0))[1]
        cores[group] = cores.get(group, 0.0) + max(0, now - then) / hz / seconds
    if children:
        cores[children] = (after.children_s - before.children_s) / seconds
    total = after.total - before.total
    machine = (os.cpu_count() or 1) * (after.busy - before.busy) / total if total else 0.0
    cores[other] = max(0.0, machine - sum(cores.values()))
    return CpuUsage(seconds, cores, machine)


def wait_quiet(max_seconds: float, threshold: float = 0.25) -> dict[str, Any]:
    """Wait (bounded) until the machine is nearly idle: busy < threshold cores over 3 s."""
    deadline = time.monotonic() + max_seconds
    t0 = time.monotonic()
    while True:
        busy_a, total_a = machine_ticks()
        time.sleep(3.0)
        busy_b, total_b = machine_ticks()
        total = total_b - total_a
        busy = (os.cpu_count() or 1) * (busy_b - busy_a) / total if total else 0.0
        if busy < threshold or time.monotonic() >= deadline:
            return {
                "busy_cores": round(busy, 2),
                "waited_s": round(time.monotonic() - t0, 1),
                "quiet": busy < threshold,
            }
        log(f"   machine busy ({busy:.2f} cores used by other processes); waiting")
