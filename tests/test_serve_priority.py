"""`prowd serve` on one host (decision 143): the API processes yield the CPU to the projection
worker and the webhook dispatcher started beside them, by `PROWD_API_NICE` (5 unless set), so a
command load that saturates the host does not leave the views behind the log. And a process
started on a database no migration ran on, with migrations left to `prowd migrate`, says so in
one line."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from services.settings import Settings
from tests.deploy_sim import free_port

ROOT = Path(__file__).resolve().parents[1]


def nice_of(pid: int) -> int:
    """The process's nice value, from /proc (field 19 of its stat line)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    # The command name (field 2) is in parentheses and may hold spaces: split after it.
    return int(stat.rsplit(")", 1)[1].split()[16])


def descendants(pid: int) -> dict[int, str]:
    """Every process below `pid`, with its command line."""
    out: dict[int, str] = {}
    todo = [pid]
    while todo:
        parent = todo.pop()
        for task in Path(f"/proc/{parent}/task").iterdir():
            children = (task / "children").read_text().split()
            for child in map(int, children):
                try:
                    cmd = Path(f"/proc/{child}/cmdline").read_bytes().replace(b"\0", b" ")
                except FileNotFoundError:
                    continue
                out[child] = cmd.decode(errors="replace")
                todo.append(child)
    return out


def serve(env: dict[str, str], *extra: str) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    argv = [sys.executable, "-m", "services.cli", "serve", "--host", "127.0.0.1"]
    errors = Path(tempfile.mkdtemp()) / "stderr"
    with errors.open("wb") as out:
        proc = subprocess.Popen(
            [*argv, "--port", str(port), *extra],
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=out,
        )
    deadline = time.monotonic() + 120
    while True:
        if proc.poll() is not None:
            tail = errors.read_text(errors="replace")[-3000:]
            raise AssertionError(f"prowd serve exited {proc.returncode}: {tail}")
        try:
            httpx.get(f"http://127.0.0.1:{port}/health", timeout=5)
            return proc, port
        except httpx.TransportError:
            assert time.monotonic() < deadline, "the API did not start"
            time.sleep(0.3)


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture
def env(database_url, settings, make_grantee):
    make_grantee()  # the platform schema migrated, as `prowd migrate` leaves it
    out = {
        **os.environ,
        "PROWD_DATABASE_URL": database_url,
        "PROWD_DATA_DIR": str(settings.data_dir.resolve()),
        "PROWD_JWT_SECRET": settings.jwt_secret,
        "PROWD_LOG_LEVEL": "warning",
        "PROWD_MIGRATE_ON_START": "false",
    }
    for name in ("PROWD_PARENT_PID", "PROMETHEUS_MULTIPROC_DIR", "PROWD_API_NICE"):
        out.pop(name, None)
    return out


def roles(proc: subprocess.Popen[bytes]) -> dict[str, list[int]]:
    """The nice values of the processes `prowd serve` runs, by role."""
    base = nice_of(os.getpid())
    out: dict[str, list[int]] = {"api": [nice_of(proc.pid) - base]}
    for pid, cmd in descendants(proc.pid).items():
        if "services.cli worker" in cmd:
            role = "worker"
        elif "services.cli webhooks dispatch" in cmd:
            role = "dispatcher"
        elif "spawn_main" in cmd:
            role = "api"  # uvicorn's worker processes (spawned by multiprocessing)
        else:
            continue
        out.setdefault(role, []).append(nice_of(pid) - base)
    return out


def test_the_api_processes_yield_to_the_worker_and_dispatcher_beside_them(env):
    proc, _ = serve(env, "--workers", "2")
    try:
        got = roles(proc)
    finally:
        stop(proc)
    assert got["worker"] == [0] and got["dispatcher"] == [0], got
    # The supervisor and its two uvicorn worker processes.
    assert got["api"] == [5, 5, 5], got


def test_the_priority_is_a_setting_and_zero_keeps_equal_shares(env):
    proc, _ = serve({**env, "PROWD_API_NICE": "0"}, "--workers", "1")
    try:
        got = roles(proc)
    finally:
        stop(proc)
    assert got == {"api": [0], "worker": [0], "dispatcher": [0]}, got


def test_an_api_alone_keeps_its_priority(env):
    # `--no-worker` (Kubernetes, compose): the worker has its own container and CPU.
    proc, _ = serve(env, "--workers", "1", "--no-worker")
    try:
        got = roles(proc)
    finally:
        stop(proc)
    assert got == {"api": [0]}, got


@pytest.mark.parametrize("value", ["20", "-1", "high"])
def test_a_priority_out_of_range_is_refused(value):
    with pytest.raises(SystemExit) as e:
        Settings.from_env({"PROWD_API_NICE": value})
    assert "PROWD_API_NICE must be" in str(e.value.code)


@pytest.mark.parametrize("command", [["serve"], ["worker"], ["webhooks", "dispatch"], ["verify"]])
def test_an_unmigrated_database_is_a_one_line_refusal(server_url, env, command):
    # PROWD_MIGRATE_ON_START=false on a database `prowd migrate` never ran on: say so, no trace.
    name = f"prowd_empty_{secrets.token_hex(4)}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        done = subprocess.run(
            [sys.executable, "-m", "services.cli", *command],
            env={**env, "PROWD_DATABASE_URL": make_conninfo(server_url, dbname=name)},
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    said = done.stdout + done.stderr
    assert done.returncode == 1, said
    assert "run `prowd migrate` first" in said, said
    assert "Traceback" not in said, said
