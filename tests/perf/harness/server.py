"""`prowd` processes: `prowd serve` in a process group of its own, and one-off commands."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import httpx

from tests.perf.harness.meters import cmdline, parent_of
from tests.perf.harness.results import ROOT, log

HOST = "127.0.0.1"
# The CLI run by this interpreter: the project's virtual environment under `uv run`.
PROWD = [sys.executable, "-m", "services.cli"]


def free_port() -> int:
    """A TCP port of 127.0.0.1 that nothing listens on now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def spawn(
    args: Sequence[str], env: Mapping[str, str], *, cwd: Path = ROOT
) -> subprocess.Popen[bytes]:
    """`prowd <args>` in the background, its output discarded."""
    return subprocess.Popen(
        [*PROWD, *args],
        env=dict(env),
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def stop(process: subprocess.Popen[bytes], timeout: float = 15) -> None:
    """SIGTERM, then SIGKILL after `timeout` seconds."""
    process.terminate()
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(10)


def _role(pid: int, supervisor: int) -> str:
    cmd = cmdline(pid)
    args = cmd.split()
    if pid == supervisor:
        return "serve (uvicorn supervisor)"
    if "worker" in args and any(a.startswith("services.cli") for a in args):
        return "projection worker"
    if "webhooks dispatch" in cmd:
        return "webhook dispatcher"
    if "resource_tracker" in cmd:
        return "resource tracker"
    if "multiprocessing.forkserver" in cmd:
        # Report children are forks of an API process's forkserver (same command line).
        forked = "multiprocessing.forkserver" in cmdline(parent_of(pid))
        return "report child" if forked else "report forkserver"
    if "multiprocessing" in cmd:
        return "api"
    if parent_of(pid) == supervisor and "serve" in args:
        # granian's API processes: forks of the supervisor, with its command line.
        return "api"
    return "other: " + cmd[:60]


class Server:
    """`prowd serve` in a process group of its own, so that its processes can be found, killed
    together (`kill9`) or stopped (`stop`: SIGTERM, then SIGKILL for whatever is left).

    The environment turns the rate limits off (one address and a few tokens send the whole
    load) and logs warnings only; `env` adds to it or overrides it. Output goes to `log_path`
    (appended to with `append`, as a server restarted on the same port does).
    """

    def __init__(
        self,
        url: str,
        secret: str,
        log_path: Path,
        *,
        port: int | None = None,
        workers: int = 1,
        env: Mapping[str, str] | None = None,
        options: Sequence[str] = (),
        cwd: Path = ROOT,
        append: bool = False,
    ) -> None:
        self.port = port or free_port()
        self.base = f"http://{HOST}:{self.port}"
        self.log_path = log_path
        self.env = {
            **os.environ,
            "PROWD_DATABASE_URL": url,
            "PROWD_JWT_SECRET": secret,
            "PROWD_LOG_LEVEL": "warning",
            "PROWD_RATE_LIMIT_TOKEN": "0",
            "PROWD_RATE_LIMIT_IP": "0",
            "PROWD_RATE_LIMIT_GRANTEE": "0",
            **(env or {}),
        }
        command = ["serve", "--host", HOST, "--port", str(self.port), "--workers", str(workers)]
        with log_path.open("ab" if append else "wb") as out:  # the child keeps its own copy
            self.proc = subprocess.Popen(
                [*PROWD, *command, *options],
                env=self.env,
                cwd=cwd,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def wait_ready(self, timeout: float = 90.0) -> float:
        """Seconds until /ready answered 200 (a loaded 2-core machine may need a minute)."""
        started = time.monotonic()
        with httpx.Client(timeout=2.0) as c:
            while time.monotonic() < started + timeout:
                if self.proc.poll() is not None:
                    raise SystemExit(
                        f"prowd serve exited with {self.proc.returncode} (its output: {self.log_path})"
                    )
                with contextlib.suppress(httpx.HTTPError):
                    if c.get(f"{self.base}/ready").status_code == 200:
                        return round(time.monotonic() - started, 1)
                time.sleep(0.1)
        raise SystemExit(f"prowd serve did not become ready (its output: {self.log_path})")

    def processes(self) -> dict[int, str]:
        """Every process of the serve group, pid -> role (from its command line)."""
        out: dict[int, str] = {}
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            pid = int(entry)
            try:
                if os.getpgid(pid) != self.proc.pid:
                    continue
            except OSError:
                continue
            out[pid] = _role(pid, self.proc.pid)
        return out

    def pids(self, role: str) -> list[int]:
        """The processes of one role (`api`, `projection worker`, ...)."""
        return [pid for pid, r in self.processes().items() if r == role]

    def errors(self, tail_bytes: int | None = None) -> list[str]:
        """Error lines and tracebacks of its output (of the last `tail_bytes` only, if given)."""
        data = self.log_path.read_bytes()
        text = data[-tail_bytes:] if tail_bytes else data
        lines = []
        for line in text.decode(errors="replace").splitlines():
            low = line.lower()
            if '"level": "error"' in low or "traceback" in low or '"level": "critical"' in low:
                lines.append(line.strip()[:400])
        return lines

    def kill9(self) -> None:
        """SIGKILL to every process of the group at once (a crash)."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self, timeout: float = 30.0) -> None:
        """A graceful stop (SIGTERM to the supervisor); then SIGKILL to the group, which also
        reaches a worker that outlived its parent. Stopping a stopped server does nothing."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                log("prowd serve did not stop on SIGTERM; killing its process group")
        self.kill9()
