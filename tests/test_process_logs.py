"""Every line the processes write is one JSON object (issue 19, observability): the API under
uvicorn (`prowd serve --no-worker`: uvicorn's own lines and Litestar's included), the projection
worker and the webhook dispatcher, each started as the deploy files start them, then stopped.
The worker and the dispatcher say when they start and stop and which grantees they lease."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import jwt

from tests.deploy_sim import free_port

ROOT = Path(__file__).resolve().parents[1]


def start(argv: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "services.cli", *argv],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def stop(process: subprocess.Popen[str]) -> list[dict[str, object]]:
    process.send_signal(signal.SIGTERM)
    out, _ = process.communicate(timeout=30)
    lines = [line for line in out.splitlines() if line.strip()]
    assert lines, "the process wrote nothing"
    parsed = []
    for line in lines:
        try:
            parsed.append(json.loads(line))
        except ValueError:
            raise AssertionError(f"not a JSON line: {line!r}\n{out}") from None
    for record in parsed:
        assert {"event", "level", "timestamp"} <= record.keys(), record
    return parsed


def test_every_line_of_every_process_is_json(database_url, settings, make_grantee, tmp_path):
    slug = make_grantee()
    env = {
        **os.environ,
        "PROWD_DATABASE_URL": database_url,
        "PROWD_DATA_DIR": str(settings.data_dir.resolve()),
        "PROWD_JWT_SECRET": settings.jwt_secret,
        "PROWD_LOG_LEVEL": "info",
    }
    env.pop("PROWD_PARENT_PID", None)
    port = free_port()
    api = start(
        ["serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "1", "--no-worker"], env
    )
    worker = start(["worker"], env)
    dispatcher = start(["webhooks", "dispatch"], env)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/v1/nothing-here", timeout=2)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the API did not start"
                time.sleep(0.3)
        assert r.status_code == 404
        # A search by name (without a token: the process's own clock decides a token's age,
        # not the suite's): the request's line names its route, never the words searched.
        r = httpx.get(
            f"http://127.0.0.1:{port}/v1/grantees/{slug}/participants",
            params={"q": "Zelinskaya"},
            timeout=10,
        )
        assert r.status_code == 401, r.text
        # A client that goes away before its body is all sent: no answer can reach it, and the
        # server did nothing wrong; its line says 499 (client closed), not 500.
        token = jwt.encode(
            {
                "iss": settings.jwt_issuer,
                "aud": settings.jwt_audience,
                "sub": "someone",
                "iat": int(time.time()),
                "exp": int(time.time()) + 600,
                "roles": ["coordinator"],
                "grantees": ["*"],
            },
            settings.jwt_secret,
            algorithm="HS256",
        )
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(
                f"POST /v1/grantees/{slug}/participants HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
                'Content-Length: 10\r\n\r\n{"a":1}'.encode()
            )
            time.sleep(0.5)
        time.sleep(3)  # the worker's first sweep takes its leases
    finally:
        logs = {
            name: stop(p)
            for name, p in (("api", api), ("worker", worker), ("dispatcher", dispatcher))
        }
    api_events = [str(r["event"]) for r in logs["api"]]
    # One line per request, the platform's own: uvicorn's access line (the path with its query
    # string) is not written, so no search word, name or id reaches the log that way.
    assert not [r for r in logs["api"] if "Zelinskaya" in json.dumps(r)], logs["api"]
    assert not [r for r in logs["api"] if r.get("logger") == "uvicorn.access"], logs["api"]
    requests = [r for r in logs["api"] if r["event"] == "request"]
    assert [(r["status"], r["route"]) for r in requests] == [
        (404, "unmatched"),
        (401, "/v1/grantees/{grantee}/participants"),
        (499, "/v1/grantees/{grantee}/participants"),
    ], requests
    assert any(r.get("logger", "").startswith("uvicorn") for r in logs["api"]), api_events
    assert any("Uvicorn running on" in e for e in api_events), api_events
    worker_events = [r["event"] for r in logs["worker"]]
    assert worker_events[0] == "worker_started" and worker_events[-1] == "worker_stopped"
    assert any(r["event"] == "lease_taken" and r["grantee"] == slug for r in logs["worker"]), logs[
        "worker"
    ]
    dispatcher_events = [r["event"] for r in logs["dispatcher"]]
    assert dispatcher_events[0] == "dispatcher_started"
    assert dispatcher_events[-1] == "dispatcher_stopped"


def test_a_refusal_to_start_is_a_json_line_with_every_problem():
    done = subprocess.run(
        [sys.executable, "-m", "services.cli", "worker"],
        env={"PATH": os.environ["PATH"], "PROWD_ENV": "prod", "PROWD_POOL_MAX": "x"},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    [line] = done.stderr.splitlines()
    record = json.loads(line)
    assert record["event"] == "cannot start" and record["level"] == "error"
    assert "PROWD_ENV" in record["reason"] and "PROWD_POOL_MAX" in record["reason"]


def test_a_database_that_cannot_be_reached_is_a_json_line_not_a_traceback(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "services.cli", "migrate"],
        env={
            "PATH": os.environ["PATH"],
            "PROWD_DATA_DIR": str(tmp_path),
            "PROWD_DATABASE_URL": f"postgresql://nobody@127.0.0.1:{free_port()}/none",
            "PROWD_CONNECT_TIMEOUT": "2",
        },
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1, done.stderr
    records = [json.loads(line) for line in done.stderr.splitlines() if line.strip()]
    assert records[-1]["event"] == "database unavailable", records
    assert "Traceback" not in done.stderr


def test_a_line_msgspec_cannot_encode_is_still_one_json_object():
    """structlog's lines are encoded by msgspec (compact); a value without a JSON form, a
    non-string key or a lone surrogate takes the standard library's path, and no line is lost."""
    import io
    import logging

    import structlog

    from services.logging import configure

    saved, root = structlog.get_config(), logging.getLogger()
    handlers, level, stderr = root.handlers[:], root.level, sys.stderr
    sys.stderr = out = io.StringIO()
    try:
        configure("info", cache=False)
        log = structlog.get_logger("test")
        log.info("plain", count=3, names=["Rosa"])
        log.info("awkward", thing=object(), keyed={1: "one"}, text="a\ud800b")
    finally:
        sys.stderr = stderr
        structlog.configure(**saved)
        root.handlers[:] = handlers
        root.setLevel(level)
    lines = out.getvalue().splitlines()
    assert len(lines) == 2, lines
    plain, awkward = (json.loads(line) for line in lines)
    assert lines[0].startswith('{"count":3,'), lines[0]  # msgspec's compact form
    assert plain["names"] == ["Rosa"] and plain["event"] == "plain"
    assert awkward["event"] == "awkward"
    assert awkward["thing"].startswith("<object object")
    assert awkward["keyed"] == {"1": "one"} and awkward["text"] == "a\ud800b"
