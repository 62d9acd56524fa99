"""A master key that unwraps none of the stored participant keys (the wrong secret mounted):
`prowd migrate` and `prowd serve` refuse to start with one line naming the setting, `/ready`
answers 503 `key_unavailable`, and a request that still meets an unwrappable key answers that
named 503, never a bare 500 (docs/operations.md, "A wrong master key")."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient

from services.api.app import create_app
from services.settings import Settings
from services.store import keys
from services.store.database import Database
from tests.conftest import own_database, stack_fixtures
from tests.deploy_sim import free_port

# A database of the module's own: `prowd migrate` and `prowd serve` check every grantee's keys,
# and the suite's holds hundreds of grantees late in a parallel run.
database_url = own_database("prowd_keycheck")
settings, db, app, client, auth, make_grantee = stack_fixtures("module", "prowd-keycheck")

ROOT = Path(__file__).resolve().parents[1]


def test_ready_and_personal_reads_and_writes_answer_key_unavailable(
    client: Any, auth: Any, grantee: str, enrol: Any, db: Database, settings: Settings
) -> None:
    pid = enrol(first_name="Marguerite")["id"]
    assert client.get("/ready").status_code == 200
    h = auth("case_manager", grantee)
    base = f"/v1/grantees/{grantee}/participants/{pid}"
    keys.STORE.attach(db, keys.KeyRing(os.urandom(32)), settings.key_cache_seconds)
    try:
        # A process started with the wrong key: its caches hold nothing decoded yet.
        with TestClient(create_app(settings, db)) as fresh:
            ready = fresh.get("/ready")
            assert ready.status_code == 503, ready.text
            problem = ready.json()
            assert problem["type"] == "urn:prowd:problem:key_unavailable"
            assert "PROWD_MASTER_KEY" in problem["detail"]
            assert grantee not in ready.text  # an unauthenticated probe learns no grantee
            read = fresh.get(base, headers=h)
            write = fresh.post(
                f"{base}/case-contacts",
                json={"contacted_on": "2026-02-20", "mode": "phone"},
                headers=h,
            )
            for r in (read, write):
                assert r.status_code == 503, r.text
                assert r.headers["content-type"].startswith("application/problem+json")
                assert r.json()["code"] == "key_unavailable"
                assert "PROWD_MASTER_KEY" in r.json()["detail"]
                assert "Marguerite" not in r.text
    finally:
        keys.STORE.attach(db, keys.load_keyring(settings), settings.key_cache_seconds)
    assert client.get("/ready").status_code == 200
    assert client.get(base, headers=h).json()["first_name"] == "Marguerite"


def _env(database_url: str, tmp_path: Path, settings: Settings) -> dict[str, str]:
    return {
        "PATH": os.environ["PATH"],
        "PROWD_DATA_DIR": str(settings.data_dir.resolve()),
        "PROWD_DATABASE_URL": database_url,
        "PROWD_MASTER_KEY": base64.b64encode(os.urandom(32)).decode(),
        "PROWD_MIGRATE_ON_START": "false",
        "PROWD_JWT_SECRET": "x" * 32,
    }


def _refusal(stderr: str) -> dict[str, Any]:
    assert "Traceback" not in stderr, stderr
    [line] = [line for line in stderr.splitlines() if line.strip()]
    record: dict[str, Any] = json.loads(line)
    assert record["event"] == "cannot start" and record["level"] == "error", record
    assert "PROWD_MASTER_KEY" in record["reason"], record
    return record


def test_migrate_and_serve_refuse_a_master_key_that_unwraps_nothing(
    enrol: Any, grantee: str, database_url: str, tmp_path: Path, settings: Settings
) -> None:
    enrol()
    env = _env(database_url, tmp_path, settings)
    done = subprocess.run(
        [sys.executable, "-m", "services.cli", "migrate"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 1, done.stderr
    record = _refusal(done.stderr)
    assert f"g_{grantee}" in record["reason"] or "grantee" in record["reason"]
    serve = subprocess.Popen(
        [sys.executable, "-m", "services.cli", "serve", "--no-worker", "--port", str(free_port())],
        env=env,
        cwd=ROOT,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _, err = serve.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        serve.kill()
        _, err = serve.communicate()
        pytest.fail(f"prowd serve started with a master key that unwraps nothing: {err}")
    assert serve.returncode == 1, err
    _refusal(err)
