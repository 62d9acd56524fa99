"""Observability (docs/observability.md): request and command metrics by route template, view
and outbox lag, valid Prometheus exposition; W3C trace context from the request to its events
and on to the webhook deliveries of those events (a real receiver on 127.0.0.1)."""

from __future__ import annotations

import json
import math
import re
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import msgspec
import pytest
from eventsourcing.persistence import StoredEvent
from psycopg import sql
from structlog.testing import capture_logs

from services import tracecontext
from services.store.mapping import MsgspecMapper
from tests.webhooks_helpers import Clock, dispatcher, run_until_idle

ANN = {
    "first_name": "Ann",
    "last_name": "Lee",
    "date_of_birth": "1990-04-01",
    "program_entry_date": "2026-02-01",
    "facility": "FCI-A",
    "cohort": "C1",
}
PARTICIPANT_ROUTE = "/v1/grantees/{grantee}/participants/{participant_id}"
TRACEPARENT = re.compile(r"00-([0-9a-f]{32})-([0-9a-f]{16})-0[01]")

# -- a small exposition-format (0.0.4) reader that refuses what Prometheus would -------------

_NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
_SAMPLE = re.compile(rf"({_NAME})(\{{(.*)\}})? (\S+)")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$)')

Series = dict[tuple[str, frozenset[tuple[str, str]]], float]


def _labels(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    pos = 0
    while pos < len(text):
        m = _LABEL.match(text, pos)
        assert m is not None, f"bad label set {text!r}"
        assert m[1] not in out, f"label {m[1]} twice"
        out[m[1]] = m[2]
        pos = m.end()
    return out


def parse_exposition(text: str) -> tuple[dict[str, str], Series]:
    """(type by family, value by (sample name, labels)); asserts the format as it reads:
    one HELP and TYPE per family before its samples, samples of declared families only,
    numeric values, histograms with cumulative buckets ending in +Inf equal to _count."""
    assert text.endswith("\n")
    types: dict[str, str] = {}
    helped: set[str] = set()
    series: Series = {}
    for line in text.splitlines():
        if line.startswith("# HELP "):
            name = line.split(" ", 3)[2]
            assert name not in helped, f"HELP {name} twice"
            helped.add(name)
            continue
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            assert kind in ("counter", "gauge", "histogram", "summary", "untyped")
            assert name not in types, f"TYPE {name} twice"
            types[name] = kind
            continue
        m = _SAMPLE.fullmatch(line)
        assert m is not None, f"not a sample line: {line!r}"
        name, labels, value = m[1], _labels(m[3] or ""), m[4]
        family = name
        if name not in types:
            family = re.sub(r"_(bucket|sum|count)$", "", name)
            assert types.get(family) == "histogram", f"{name} has no TYPE"
        float(value)  # NaN and ±Inf parse too
        key = (name, frozenset(labels.items()))
        assert key not in series, f"{line!r} twice"
        series[key] = float(value)
    for family, kind in types.items():
        if kind == "histogram":
            _check_histogram(family, series)
    return types, series


def _check_histogram(family: str, series: Series) -> None:
    buckets: dict[frozenset[tuple[str, str]], list[tuple[float, float]]] = {}
    for (name, labels), value in series.items():
        if name == f"{family}_bucket":
            le = dict(labels)["le"]
            rest = frozenset((k, v) for k, v in labels if k != "le")
            buckets.setdefault(rest, []).append((float(le), value))
    for labels, points in buckets.items():
        points.sort()
        assert math.isinf(points[-1][0]), f"{family} {labels}: no +Inf bucket"
        counts = [v for _, v in points]
        assert counts == sorted(counts), f"{family} {labels}: buckets not cumulative"
        assert series[(f"{family}_count", labels)] == counts[-1]
        assert series[(f"{family}_sum", labels)] >= 0


def scrape(client: Any) -> tuple[dict[str, str], Series]:
    r = client.get("/metrics")
    assert r.status_code == 200, r.text
    return parse_exposition(r.text)


def value(series: Series, name: str, **labels: str) -> float:
    return series.get((name, frozenset(labels.items())), 0.0)


# -- request and command metrics -------------------------------------------------------------


def test_requests_are_counted_by_route_template_and_the_exposition_is_valid(client, auth, grantee):
    h = auth("coordinator", grantee)
    missing = uuid.uuid4()
    _, before = scrape(client)
    for _ in range(3):
        r = client.get(f"/v1/grantees/{grantee}/participants/{missing}", headers=h)
        assert r.status_code == 404
    r = client.get(f"/v1/grantees/{grantee}/participants", headers=h)
    assert r.status_code == 200
    stray = f"/no/such/{uuid.uuid4().hex}"
    assert client.get(stray).status_code == 404
    types, after = scrape(client)

    assert types["prowd_http_requests_total"] == "counter"
    assert types["prowd_http_request_duration_seconds"] == "histogram"
    assert types["prowd_commands_total"] == "counter"
    one = {"method": "GET", "route": PARTICIPANT_ROUTE}
    name = "prowd_http_requests_total"
    assert value(after, name, **one, status="404") - value(before, name, **one, status="404") == 3
    listing = {"method": "GET", "route": "/v1/grantees/{grantee}/participants", "status": "200"}
    assert value(after, name, **listing) - value(before, name, **listing) == 1
    stray_labels = {"method": "GET", "route": "unmatched", "status": "404"}
    assert value(after, name, **stray_labels) - value(before, name, **stray_labels) == 1
    # The histogram saw the same three answers, each in some bucket up to +Inf.
    hist = {**one, "status_class": "4xx"}
    count = "prowd_http_request_duration_seconds_count"
    assert value(after, count, **hist) - value(before, count, **hist) == 3
    inf = {**hist, "le": "+Inf"}
    bucket = "prowd_http_request_duration_seconds_bucket"
    assert value(after, bucket, **inf) == value(after, count, **hist)
    # Route templates only: no slug, id or stray path ever becomes a label value.
    routes = {dict(labels).get("route") for (_, labels) in after}
    assert not any(grantee in r or str(missing) in r or "no/such" in r for r in routes if r)


def test_an_unknown_method_is_counted_as_other(client):
    _, before = scrape(client)
    r = client.request("BREW", f"/coffee/{uuid.uuid4().hex}")
    assert r.status_code in (404, 405)
    _, after = scrape(client)
    labels = {"method": "other", "route": "unmatched", "status": str(r.status_code)}
    name = "prowd_http_requests_total"
    assert value(after, name, **labels) - value(before, name, **labels) == 1
    assert not any(dict(lab).get("method") == "BREW" for (_, lab) in after)


def test_command_outcomes_ok_replayed_rejected_and_denied(client, auth, grantee):
    url = f"/v1/grantees/{grantee}/participants"
    h = {**auth("coordinator", grantee), "Idempotency-Key": f"obs-{uuid.uuid4().hex}"}
    _, before = scrape(client)
    assert client.post(url, json=ANN, headers=h).status_code == 201
    again = client.post(url, json=ANN, headers=h)
    assert again.status_code == 201 and again.headers["idempotent-replayed"] == "true"
    bad = client.post(url, json={**ANN, "date_of_birth": "yesterday"}, headers=h)
    assert 400 <= bad.status_code < 500 and bad.status_code not in (401, 403, 409)
    refused = client.post(url, json=ANN, headers=auth("auditor", grantee))
    assert refused.status_code == 403
    # A read of the same action family is not a command.
    assert client.get(url, headers=h).status_code == 200
    _, after = scrape(client)

    def delta(outcome: str) -> float:
        labels = {"action": "participants.enroll", "outcome": outcome}
        return value(after, "prowd_commands_total", **labels) - value(
            before, "prowd_commands_total", **labels
        )

    assert (delta("ok"), delta("replayed"), delta("rejected"), delta("denied")) == (1, 1, 1, 1)
    assert delta("error") == 0 and delta("conflict") == 0
    assert not any(
        dict(lab).get("action") == "participants.read"
        for (name, lab) in after
        if name == "prowd_commands_total"
    )


def test_view_and_outbox_lag_per_grantee(client, auth, grantee, db):
    types, series = scrape(client)
    for name in (
        "prowd_projection_lag_events",
        "prowd_projection_lag_seconds",
        "prowd_projection_position",
        "prowd_webhook_outbox_lag_events",
    ):
        assert types[name] == "gauge"
    row = db.fetchone(
        sql.SQL("SELECT coalesce(max(notification_id), 0) FROM {}.events").format(
            sql.Identifier(f"g_{grantee}")
        )
    )
    assert row is not None
    head = int(row[0])
    views = {
        dict(labels)["view"]: v
        for (name, labels), v in series.items()
        if name == "prowd_projection_lag_events" and dict(labels)["grantee"] == grantee
    }
    assert "caseload" in views and len(views) >= 10
    for view, behind in views.items():
        labels = {"grantee": grantee, "view": view}
        position = value(series, "prowd_projection_position", **labels)
        assert behind >= 0 and position >= 0
        # Nothing writes to this grantee meanwhile: behind + applied = the log's head.
        assert behind + position == head
        seconds = value(series, "prowd_projection_lag_seconds", **labels)
        assert seconds > 0 if behind else seconds == 0
    outbox = ("prowd_webhook_outbox_lag_events", frozenset({("grantee", grantee)}))
    assert outbox in series and 0 <= series[outbox] <= head


# -- trace context -----------------------------------------------------------------------------


def _audit_events(client: Any, auth: Any, grantee: str) -> list[dict[str, Any]]:
    r = client.get(f"/v1/grantees/{grantee}/audit/events", headers=auth("auditor", grantee))
    assert r.status_code == 200, r.text
    return [json.loads(line) for line in r.text.splitlines() if line]


def test_a_valid_traceparent_is_continued_echoed_stamped_on_events_and_logged(
    client, auth, grantee
):
    trace_id, parent = uuid.uuid4().hex, uuid.uuid4().hex[:16]
    sent = f"00-{trace_id}-{parent}-01"
    h = {
        **auth("coordinator", grantee),
        "traceparent": sent,
        "tracestate": "vendor=abc,other@sys=x y",
    }
    with capture_logs() as logs:
        r = client.post(f"/v1/grantees/{grantee}/participants", json=ANN, headers=h)
    assert r.status_code == 201, r.text
    echoed = TRACEPARENT.fullmatch(r.headers["traceparent"])
    assert echoed is not None
    # The same trace; this request is a span of its own, a child of the caller's.
    assert echoed[1] == trace_id and echoed[2] != parent
    assert r.headers["traceparent"].endswith("-01")
    (line,) = [e for e in logs if e["event"] == "request"]
    assert line["trace_id"] == trace_id
    enrolled = [
        e for e in _audit_events(client, auth, grantee) if e["originator_id"] == r.json()["id"]
    ]
    assert enrolled and all(e["event"]["trace_id"] == trace_id for e in enrolled)
    assert all(e["event"]["span_id"] == echoed[2] for e in enrolled)
    assert all(e["event"]["request_id"] == r.headers["x-request-id"] for e in enrolled)


@pytest.mark.parametrize(
    "bad",
    [
        "garbage",
        "00-" + "0" * 32 + "-00f067aa0ba902b7-01",  # all-zero trace id
        "00-4bf92f3577b34da6a3ce929d0e0e4736-" + "0" * 16 + "-01",  # all-zero parent
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",  # version ff
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-01",  # upper case
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",  # v00 with more
        "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",  # short trace id
        "",
    ],
)
def test_an_invalid_traceparent_starts_a_new_trace_and_is_never_an_error(client, bad):
    r = client.get("/health", headers={"traceparent": bad})
    assert r.status_code == 200
    echoed = TRACEPARENT.fullmatch(r.headers["traceparent"])
    assert echoed is not None and echoed[1] not in bad.lower()


def test_without_traceparent_each_request_starts_its_own_trace(client):
    a = TRACEPARENT.fullmatch(client.get("/health").headers["traceparent"])
    b = TRACEPARENT.fullmatch(client.get("/health").headers["traceparent"])
    assert a is not None and b is not None and a[1] != b[1]


def test_a_later_version_is_read_by_its_first_four_fields():
    later = "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03-what-comes-next"
    assert tracecontext.parse_traceparent(later) == (
        "4bf92f3577b34da6a3ce929d0e0e4736",
        "00f067aa0ba902b7",
        "01",  # only the sampled bit is passed on
    )
    assert tracecontext.valid_tracestate("a=1,b=2") == "a=1,b=2"
    assert tracecontext.valid_tracestate("a=1,=2") == ""
    assert tracecontext.valid_tracestate(",".join(f"k{i}=v" for i in range(33))) == ""


def test_events_stored_before_trace_context_still_decode(client, auth, grantee, db):
    """An event stored without the trace fields (as every event before them) decodes with
    empty ones: the stored bytes of a real event, less those two fields."""
    r = client.post(
        f"/v1/grantees/{grantee}/participants", json=ANN, headers=auth("coordinator", grantee)
    )
    assert r.status_code == 201
    originator, version, topic, state = db.fetchone(
        sql.SQL(
            "SELECT originator_id, originator_version, topic, state FROM {}.events"
            " WHERE originator_id = %s ORDER BY originator_version LIMIT 1"
        ).format(sql.Identifier(f"g_{grantee}")),
        (r.json()["id"],),
    )
    raw = msgspec.json.decode(bytes(state))
    assert raw.pop("trace_id") and raw.pop("span_id")
    old = StoredEvent(originator, version, topic, msgspec.json.encode(raw))
    event: Any = MsgspecMapper().to_domain_event(old)
    assert event.trace_id == "" and event.span_id == ""
    assert event.recorded_by == "test-coordinator"


# -- webhook deliveries ------------------------------------------------------------------------


class HeaderReceiver:
    """A loopback HTTP receiver that keeps each request's headers (answers 200)."""

    def __init__(self) -> None:
        self.received: list[dict[str, str]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("content-length", "0")))
                receiver.received.append({k.lower(): v for k, v in self.headers.items()})
                self.send_response(200)
                self.send_header("content-length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def header_receiver() -> Iterator[HeaderReceiver]:
    r = HeaderReceiver()
    yield r
    r.stop()


def test_a_webhook_delivery_carries_the_trace_of_the_request_that_caused_it(
    hooks, header_receiver, db
):
    _, pairing = hooks.paired()
    hooks.endpoint(header_receiver.url, types=["meeting.held"])
    trace_id = uuid.uuid4().hex
    at = "2026-08-11T15:00:00Z"
    r = hooks.client.post(
        f"{hooks.base}/meetings",
        json=hooks.meeting_body(pairing, at, record=_held(at)),
        headers={**hooks.headers(), "traceparent": f"00-{trace_id}-{uuid.uuid4().hex[:16]}-01"},
    )
    assert r.status_code == 201, r.text
    request_span = TRACEPARENT.fullmatch(r.headers["traceparent"])
    assert request_span is not None
    assert hooks.fill() > 0
    d = dispatcher(db, Clock())
    try:
        assert run_until_idle(d, hooks.schema) == 1
    finally:
        d.close()
    (headers,) = header_receiver.received
    sent = TRACEPARENT.fullmatch(headers["traceparent"])
    assert sent is not None
    # The delivery is a span of the request's trace, not the request's span itself.
    assert sent[1] == trace_id and sent[2] != request_span[2]
    assert headers["webhook-id"].startswith("msg_")


def _held(at: str) -> dict[str, Any]:
    from tests.meetings_helpers import held

    return dict(held(at, 60))
