"""`/metrics` from prometheus_client, parsed with prometheus_client's own parser (issue 19): the
API in two processes (multiprocess mode: any process's scrape counts the whole pod's
requests), a projection worker and a webhook dispatcher on their metrics ports; process, GC,
pool and build figures beside the platform's."""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from litestar.testing import TestClient
from prometheus_client.parser import text_string_to_metric_families

from services.api.app import create_app
from services.settings import Settings
from services.store.database import Database
from tests.conftest import fresh_database, grantee_maker, suite_settings, token_maker
from tests.deploy_sim import free_port

ROOT = Path(__file__).resolve().parents[1]
PROCESS_FAMILIES = {
    "process_cpu_seconds",
    "process_resident_memory_bytes",
    "process_open_fds",
    "python_gc_collections",
    "python_info",
    "prowd_build_info",
    "prowd_db_pool_size",
    "prowd_db_requests_waiting",
}


def families(url: str) -> dict[str, list[tuple[str, dict[str, str], float]]]:
    # A full scrape reads every grantee's schema: late in a parallel run the test database
    # holds hundreds of grantees, and a scrape under load has taken longer than a few seconds.
    text = httpx.get(url, timeout=120).text
    return {
        f.name: [(s.name, s.labels, s.value) for s in f.samples]
        for f in text_string_to_metric_families(text)
    }


def wait_for(url: str, proc: subprocess.Popen[bytes]) -> None:
    """Until `url` answers; fails at once, with the process's output, if the process exits.

    The worker's and dispatcher's readiness is asked of the heartbeat family alone (as the
    liveness probe does): a full scrape's database reads are not what this waits for, and a
    short read timeout on them made retries pile up on a loaded machine."""
    deadline = time.monotonic() + 180
    while True:
        assert proc.poll() is None, f"{proc.args} exited {proc.returncode}"
        try:
            httpx.get(url, timeout=10)
            return
        except httpx.TransportError:
            assert time.monotonic() < deadline, f"{url} did not answer"
            time.sleep(0.3)


def load_probe():
    spec = importlib.util.spec_from_file_location("probe", ROOT / "deploy" / "probe.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def own_grantee(server_url: str) -> Iterator[tuple[str, Settings, str]]:
    """A database of the test's own, migrated, holding one grantee: the scrape, the worker and
    the dispatcher read every grantee's schema, and late in a parallel run the suite's
    database holds hundreds (the test took a minute there)."""
    with fresh_database(server_url, "prowd_metrics") as url:
        settings = suite_settings(url)
        db = Database(url, settings, name="prowd-test-metrics").open()
        try:
            with TestClient(create_app(settings, db)) as client:
                slug = grantee_maker(client, token_maker(settings))()
        finally:
            db.close()
        yield url, settings, slug


def test_metrics_of_the_api_the_worker_and_the_dispatcher(own_grantee, monkeypatch):
    database_url, settings, slug = own_grantee
    env = {
        **os.environ,
        "PROWD_DATABASE_URL": database_url,
        "PROWD_DATA_DIR": str(settings.data_dir.resolve()),
        "PROWD_JWT_SECRET": settings.jwt_secret,
        "PROWD_LOG_LEVEL": "warning",
        "PROWD_MIGRATE_ON_START": "false",
        "PROWD_METRICS_HOST": "127.0.0.1",
    }
    for name in ("PROWD_PARENT_PID", "PROMETHEUS_MULTIPROC_DIR"):
        env.pop(name, None)
    api_port, worker_port, dispatcher_port = free_port(), free_port(), free_port()
    argv = [sys.executable, "-m", "services.cli"]
    procs = [
        subprocess.Popen(
            [
                *argv,
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(api_port),
                "--workers",
                "2",
                "--no-worker",
            ],
            env=env,
            cwd=ROOT,
            stderr=subprocess.DEVNULL,
        ),
        subprocess.Popen(
            [*argv, "worker"],
            env={**env, "PROWD_METRICS_PORT": str(worker_port)},
            cwd=ROOT,
            stderr=subprocess.DEVNULL,
        ),
        subprocess.Popen(
            [*argv, "webhooks", "dispatch"],
            env={**env, "PROWD_METRICS_PORT": str(dispatcher_port)},
            cwd=ROOT,
            stderr=subprocess.DEVNULL,
        ),
    ]
    try:
        api = f"http://127.0.0.1:{api_port}"
        heartbeat = "metrics?name[]=prowd_heartbeat_age_seconds"
        for url, proc in zip(
            (
                f"{api}/health",
                f"http://127.0.0.1:{worker_port}/{heartbeat}",
                f"http://127.0.0.1:{dispatcher_port}/{heartbeat}",
            ),
            procs,
            strict=True,
        ):
            wait_for(url, proc)
        for _ in range(20):
            assert httpx.get(f"{api}/v1/no-such-route", timeout=5).status_code == 404
        # Each scrape reaches one of the two processes; every one counts the pod's 20.
        for _ in range(6):
            got = families(f"{api}/metrics")
            assert got.keys() >= PROCESS_FAMILIES, sorted(got)
            [count] = [
                v
                for name, labels, v in got["prowd_http_requests"]
                if name == "prowd_http_requests_total" and labels["route"] == "unmatched"
            ]
            assert count == 20
            assert any(
                labels.get("grantee") == slug for _, labels, _ in got["prowd_webhook_queue_depth"]
            )
        time.sleep(3)  # the worker's first sweep leases the grantees
        worker = families(f"http://127.0.0.1:{worker_port}/metrics")
        assert worker.keys() >= PROCESS_FAMILIES
        assert worker["prowd_worker_leases"][0][2] >= 1
        assert "prowd_projection_lag_events" in worker
        dispatcher = families(f"http://127.0.0.1:{dispatcher_port}/metrics")
        assert dispatcher.keys() >= PROCESS_FAMILIES
        assert "prowd_webhook_queue_depth" in dispatcher
        assert "prowd_http_requests" not in worker and "prowd_http_requests" not in dispatcher
        # The liveness probe reads the loops' heartbeats from these ports.
        probe = load_probe()
        for port in (worker_port, dispatcher_port):
            [(_, _, age)] = families(f"http://127.0.0.1:{port}/metrics")[
                "prowd_heartbeat_age_seconds"
            ]
            # A loop beats once a pass; late in a parallel run a pass over the test database's
            # hundreds of grantees has taken 7 s on a loaded machine (the probe allows 300 s).
            assert 0 <= age < 60
            monkeypatch.setenv("PROWD_METRICS_PORT", str(port))
            monkeypatch.delenv("PROWD_HEARTBEAT_MAX", raising=False)
            assert probe.heartbeat() == 0
            monkeypatch.setenv("PROWD_HEARTBEAT_MAX", "0.000001")  # as if the loop were stuck
            assert probe.heartbeat() == 1
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
