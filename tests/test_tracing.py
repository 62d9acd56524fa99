"""OpenTelemetry spans exported over OTLP/HTTP to a collector in this test (issue 19): the API
started as `prowd serve`, with `OTEL_EXPORTER_OTLP_ENDPOINT` pointing at a small HTTP server on
loopback that decodes the protobuf with opentelemetry-proto. The request's server span (from
Litestar's OpenTelemetry middleware) continues the caller's trace, the psycopg spans of its
queries are its children, and the request log line and the stored event carry its ids."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import psycopg
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from domain import clock
from tests.conftest import unique_slug
from tests.deploy_sim import free_port

ROOT = Path(__file__).resolve().parents[1]
TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN = "00f067aa0ba902b7"


class Collector:
    """An OTLP/HTTP receiver: every span posted to /v1/traces, decoded."""

    def __init__(self) -> None:
        self.spans: list[dict[str, object]] = []
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                request = ExportTraceServiceRequest.FromString(body)
                for resource in request.resource_spans:
                    service = {a.key: a.value.string_value for a in resource.resource.attributes}
                    for scope in resource.scope_spans:
                        for span in scope.spans:
                            collector.spans.append(
                                {
                                    "service": service.get("service.name"),
                                    "name": span.name,
                                    "trace_id": span.trace_id.hex(),
                                    "span_id": span.span_id.hex(),
                                    "parent": span.parent_span_id.hex(),
                                    "attributes": {
                                        a.key: a.value.string_value or a.value.int_value
                                        for a in span.attributes
                                    },
                                }
                            )
                self.send_response(200)
                self.send_header("content-type", "application/x-protobuf")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def api_log(api: subprocess.Popen[str]) -> str:
    api.send_signal(signal.SIGTERM)
    return api.communicate(timeout=30)[1][-4000:]


@pytest.fixture
def collector() -> Iterator[Collector]:
    c = Collector()
    yield c
    c.close()


def test_spans_reach_an_otlp_collector_and_share_ids_with_logs_and_events(
    database_url, settings, auth, collector, client
):
    port = free_port()
    env = {
        **os.environ,
        "PROWD_DATABASE_URL": database_url,
        "PROWD_DATA_DIR": str(settings.data_dir.resolve()),
        "PROWD_JWT_SECRET": settings.jwt_secret,
        "PROWD_MIGRATE_ON_START": "false",
        "OTEL_EXPORTER_OTLP_ENDPOINT": collector.url,
        "OTEL_BSP_SCHEDULE_DELAY": "200",
        "OTEL_SERVICE_NAME": "prowd-api-test",
        # The tests' tokens are issued by the tests' clock.
        "PROWD_CLOCK": clock.now().isoformat(),
    }
    env.pop("PROWD_PARENT_PID", None)
    api = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "services.cli",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
            "--no-worker",
        ],
        env=env,
        cwd=ROOT,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{base}/health", timeout=2)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the API did not start"
                time.sleep(0.3)
        slug = unique_slug("otel")
        r = httpx.post(
            f"{base}/v1/grantees",
            json={"slug": slug, "name": "Traced", "grant_number": "FS-0019-26"},
            headers={**auth("platform_admin"), "traceparent": f"00-{TRACE}-{CALLER_SPAN}-01"},
            timeout=30,
        )
        assert r.status_code == 201, r.text + api_log(api)
        _, trace_id, span_id, _ = r.headers["traceparent"].split("-")
        assert trace_id == TRACE
        deadline = time.monotonic() + 20
        while not any(s["span_id"] == span_id for s in collector.spans):
            assert time.monotonic() < deadline, collector.spans[-5:]
            time.sleep(0.2)
        time.sleep(0.5)
    finally:
        err = api_log(api) if api.poll() is None else ""
    [server] = [s for s in collector.spans if s["span_id"] == span_id]
    assert server["trace_id"] == TRACE and server["parent"] == CALLER_SPAN, server
    assert server["name"] == "POST /v1/grantees" and server["service"] == "prowd-api-test", server
    assert server["attributes"]["http.route"] == "/v1/grantees"
    queries = [
        s
        for s in collector.spans
        if s["trace_id"] == TRACE and s["attributes"].get("db.system") == "postgresql"
    ]
    assert queries, [s["name"] for s in collector.spans if s["trace_id"] == TRACE]
    # The stored event carries the server span's ids in its metadata.
    with psycopg.connect(database_url) as conn:
        [(state,)] = conn.execute(
            "SELECT e.state FROM prowd.events e WHERE e.topic LIKE %s"
            " AND position(%s::bytea IN e.state) > 0",
            ("%Registered%", slug.encode()),
        ).fetchall()
    assert TRACE.encode() in state and span_id.encode() in state
    # The request log line carries the same trace id.
    lines = [json.loads(line) for line in err.splitlines() if line.strip()]
    [logged] = [
        x for x in lines if x.get("event") == "request" and x.get("route") == "/v1/grantees"
    ]
    assert logged["trace_id"] == TRACE
