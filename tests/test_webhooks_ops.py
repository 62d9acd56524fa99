"""Webhook operations: the outbox's exactly-once, roles and validation, ping, redeliver,
recover-since, rate limits, a dispatcher process killed mid-delivery, and /metrics."""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta

import pytest
from litestar.testing import TestClient
from psycopg import sql

from domain import clock
from services.api.app import create_app
from services.projector import rebuilds
from services.store.database import Database
from services.webhooks import outbox
from services.webhooks.dispatcher import LEASE
from tests.webhooks_helpers import Clock, dispatcher, run_until_idle

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _delivery_rows(db: Database, schema: str) -> list[tuple[object, ...]]:
    return db.fetchall(
        sql.SQL(
            "SELECT endpoint_id, position, sequence FROM {}.webhook_deliveries"
            " WHERE position IS NOT NULL ORDER BY endpoint_id, sequence"
        ).format(sql.Identifier(schema))
    )


def test_outbox_is_exactly_once_under_concurrent_and_repeated_runs(hooks, receiver, db):
    _, pairing = hooks.paired()
    eps = [hooks.endpoint(receiver.url) for _ in range(3)]
    for _ in range(12):
        hooks.held_meeting(pairing)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            for _ in range(3):
                outbox.drain(db, hooks.schema, batch=5)
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    hooks.fill()
    hooks.fill()
    rows = _delivery_rows(db, hooks.schema)
    assert len(rows) == 3 * 12
    assert len({(r[0], r[1]) for r in rows}) == len(rows)
    for ep in eps:
        seqs = [r[2] for r in rows if str(r[0]) == ep["id"]]
        assert seqs == list(range(1, 13))
    # The outbox is no view: rebuilding every view creates no delivery again.
    for view in ("meetings", "pairings"):
        rebuilds.rebuild(db, hooks.schema, view)
    hooks.fill()
    assert _delivery_rows(db, hooks.schema) == rows
    assert (
        outbox.position(db, hooks.schema)
        == db.fetchone(
            sql.SQL("SELECT max(notification_id) FROM {}.events").format(
                sql.Identifier(hooks.schema)
            )
        )[0]
    )


def test_only_grantee_admins_configure_and_only_some_roles_read(hooks, receiver, local_client):
    body = {"url": receiver.url, "facility": "RRC-1", "event_types": ["meeting.held"]}
    for role in ("coordinator", "case_manager", "auditor", "peer_mentor", "rrc_staff"):
        r = local_client.post(
            f"{hooks.base}/webhook-endpoints", json=body, headers=hooks.headers(role)
        )
        assert r.status_code == 403, role
    ep = hooks.endpoint(receiver.url)
    for role, status in (("coordinator", 200), ("auditor", 200), ("case_manager", 403)):
        r = local_client.get(
            f"{hooks.base}/webhook-endpoints/{ep['id']}", headers=hooks.headers(role)
        )
        assert r.status_code == status, role
    # Another grantee's token sees no such grantee.
    r = local_client.get(
        f"{hooks.base}/webhook-endpoints", headers=hooks.auth("grantee_admin", "someone_else")
    )
    assert r.status_code == 404


@pytest.mark.parametrize(
    ("change", "code"),
    [
        # Declared by the schema (event types, the URL's form): request validation refuses
        # first; `unknown_event_type` and `invalid_url` are the domain's guards behind it.
        ({"event_types": ["meeting.deleted"]}, "invalid_request"),
        ({"url": "ftp://127.0.0.1/x"}, "invalid_request"),
        ({"url": "http://user:pw@127.0.0.1/x"}, "invalid_request"),
        ({"url": "not a url"}, "invalid_request"),
        ({"url": "http://127.0.0.1:0/x"}, "invalid_url"),
        ({"facility": "FCI-A"}, "facility_wrong_kind"),
        ({"facility": "RRC-9"}, "not_found"),
        ({"url": "http://[fe80::1]/x"}, "unsafe_webhook_target"),
        ({"url": "http://0.0.0.0:8080/x"}, "unsafe_webhook_target"),
    ],
)
def test_bad_endpoints_are_refused_and_append_nothing(hooks, receiver, local_client, change, code):
    body = {"url": receiver.url, "facility": "RRC-1", "event_types": ["meeting.held"], **change}
    before = hooks.events()
    r = local_client.post(
        f"{hooks.base}/webhook-endpoints", json=body, headers=hooks.headers("grantee_admin")
    )
    assert r.status_code in (400, 404, 422), r.text
    assert r.json()["code"] == code
    assert hooks.events() == before


def test_update_disable_enable_are_events_and_validated(hooks, receiver, local_client):
    ep = hooks.endpoint(receiver.url)
    h = hooks.headers("grantee_admin")
    base = f"{hooks.base}/webhook-endpoints/{ep['id']}"
    r = local_client.post(
        base, json={"event_types": ["pairing.opened"], "rate_limit": 5}, headers=h
    )
    assert r.status_code == 200, r.text
    assert r.json()["event_types"] == ["pairing.opened"] and r.json()["rate_limit"] == 5
    before = hooks.events()
    r = local_client.post(base, json={"url": "http://10.0.0.8/x"}, headers=h)
    assert r.status_code == 422 and r.json()["code"] == "unsafe_webhook_target"
    r = local_client.post(base, json={"rate_limit": 0}, headers=h)
    assert r.status_code == 400
    r = local_client.post(base, json={"colour": "red"}, headers=h)
    assert r.status_code == 400
    assert hooks.events() == before
    assert local_client.post(f"{base}/disable", headers=h).json()["enabled"] is False
    assert local_client.post(f"{base}/enable", headers=h).json()["enabled"] is True
    assert hooks.topics_of(ep["id"]) == ["Created", "Updated", "Disabled", "Enabled"]
    # The secret never enters the log.
    raw = hooks.db.fetchall(
        sql.SQL("SELECT state FROM {}.events WHERE originator_id = %s").format(
            sql.Identifier(hooks.schema)
        ),
        (ep["id"],),
    )
    assert all(ep["secret"].encode() not in bytes(r[0]) for r in raw)
    r = local_client.post(
        f"{hooks.base}/webhook-endpoints/00000000-0000-0000-0000-000000000001/disable", headers=h
    )
    assert r.status_code == 404


def test_ping_redeliver_and_recover_keep_the_webhook_id(hooks, receiver, db, local_client):
    _, pairing = hooks.paired()
    ep = hooks.endpoint(receiver.url, types=["meeting.held"])
    receiver.secrets = [ep["secret"]]
    h = hooks.headers("grantee_admin")
    base = f"{hooks.base}/webhook-endpoints/{ep['id']}"
    r = local_client.post(f"{base}/ping", headers=h)
    assert r.status_code == 202, r.text
    ping_id = r.json()["webhook_id"]
    for _ in range(3):
        hooks.held_meeting(pairing)
    hooks.fill()
    fake = Clock()
    d = dispatcher(db, fake)
    try:
        assert run_until_idle(d, hooks.schema) == 4
        assert receiver.accepted[0].payload["type"] == "ping" or ping_id in receiver.ids()
        assert [p["type"] for p in receiver.payloads()].count("ping") == 1
        items = hooks.get(f"/webhook-endpoints/{ep['id']}/deliveries", role="grantee_admin")[
            "items"
        ]
        meetings = [i for i in items if i["event_type"] == "meeting.held"]
        first = min(meetings, key=lambda i: i["sequence"])
        r = local_client.post(f"{base}/deliveries/{first['id']}/redeliver", headers=h)
        assert r.status_code == 202 and r.json()["queued"] == 1
        # The answer names the message by its webhook-id: the same as its first delivery's.
        assert r.json()["webhook_id"] == first["webhook_id"]
        fake.advance(5)  # the API queues at the real now; the dispatcher's clock catches up
        assert run_until_idle(d, hooks.schema) == 1
        assert receiver.ids().count(first["webhook_id"]) == 2
        since = (fake() - timedelta(minutes=10)).isoformat()
        r = local_client.post(f"{base}/recover", json={"since": since}, headers=h)
        assert r.status_code == 202 and r.json()["queued"] == 4
        fake.advance(5)
        assert run_until_idle(d, hooks.schema) == 4
        r = local_client.post(
            f"{base}/deliveries/00000000-0000-0000-0000-000000000001/redeliver", headers=h
        )
        assert r.status_code == 404
        r = local_client.post(f"{base}/recover", json={"since": "2026-11-01T00:00:00"}, headers=h)
        assert r.status_code == 422 and r.json()["code"] == "naive_datetime"
    finally:
        d.close()
    ids = receiver.ids()
    # Every webhook id the receiver saw is one of the endpoint's deliveries; no new ids.
    assert set(ids) == {i["webhook_id"] for i in items}
    attempts = hooks.get(f"/webhook-endpoints/{ep['id']}/attempts", role="grantee_admin", limit=3)
    assert len(attempts["items"]) == 3 and attempts["next_cursor"]
    more = hooks.get(
        f"/webhook-endpoints/{ep['id']}/attempts",
        role="grantee_admin",
        limit=100,
        cursor=attempts["next_cursor"],
    )
    assert len(more["items"]) == len(ids) - 3
    r = local_client.get(f"{base}/attempts", params={"cursor": "abc"}, headers=h)
    assert r.status_code == 400 and r.json()["code"] == "invalid_cursor"


def test_the_rate_limit_spreads_deliveries_over_time(hooks, receiver, db, local_client):
    _, pairing = hooks.paired()
    ep = hooks.endpoint(receiver.url, types=["meeting.held"], rate_limit=2)
    receiver.secrets = [ep["secret"]]
    for _ in range(5):
        hooks.held_meeting(pairing)
    fake = Clock()
    hooks.fill(fake)
    d = dispatcher(db, fake)
    try:
        assert d.process(hooks.schema) == 2
        assert d.process(hooks.schema) == 0
        fake.advance(0.5)
        assert d.process(hooks.schema) == 1
        fake.advance(1.0)
        assert d.process(hooks.schema) == 2
    finally:
        d.close()


def test_a_dispatcher_process_killed_mid_delivery_is_finished_by_another(
    hooks, receiver, db, database_url
):
    _, pairing = hooks.paired()
    ep = hooks.endpoint(receiver.url, types=["meeting.held"])
    receiver.secrets = [ep["secret"]]
    hooks.held_meeting(pairing)
    hooks.fill()
    receiver.hold = 30.0  # the request hangs at the receiver until released
    env = {
        **os.environ,
        "PROWD_DATABASE_URL": database_url,
        "PROWD_WEBHOOK_ALLOWED_NETWORKS": "127.0.0.0/8",
        "PROWD_JWT_SECRET": "x" * 48,
        # The child's clock stands where the test's does (DESIGN D10).
        "PROWD_CLOCK": clock.now().isoformat(),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "services.cli", "webhooks", "dispatch", "--concurrency", "2"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert receiver.in_flight.wait(30), "the dispatcher never sent"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    receiver.hold = 0.0
    receiver.hold_release.set()
    ((msg_id, _, status, attempts, _, _, _),) = hooks.deliveries(ep["id"])
    assert (status, attempts) == ("pending", 0)  # claimed, never finished
    fake = Clock()
    d = dispatcher(db, fake)
    try:
        assert d.process(hooks.schema) == 0  # the dead process's lease still runs
        fake.advance(LEASE.total_seconds() + 1)
        assert d.process(hooks.schema) == 1
    finally:
        d.close()
    ((_, _, status, attempts, _, _, _),) = hooks.deliveries(ep["id"])
    assert (status, attempts) == ("delivered", 1)
    time.sleep(0.2)
    # At least once: the killed attempt may also have reached the receiver, by the same id.
    assert set(receiver.ids()) == {msg_id}


def test_metrics_in_prometheus_text_format(hooks, receiver, db, local_client):
    _, pairing = hooks.paired()
    ep = hooks.endpoint(receiver.url, types=["meeting.held"])
    receiver.secrets = [ep["secret"]]
    hooks.held_meeting(pairing)
    hooks.held_meeting(pairing)
    hooks.fill()
    r = local_client.get("/metrics")
    assert r.status_code == 200
    # The exposition format's own type, its charset said once (an integrator found it twice).
    assert r.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    text = r.text
    for name in (
        "prowd_webhook_deliveries",
        "prowd_webhook_attempts_total",
        "prowd_webhook_failures_total",
        "prowd_webhook_queue_depth",
        "prowd_webhook_oldest_pending_age_seconds",
    ):
        assert f"# TYPE {name} " in text
    assert f'prowd_webhook_queue_depth{{grantee="{hooks.slug}"}} 2.0\n' in text
    fake = Clock()
    d = dispatcher(db, fake)
    try:
        run_until_idle(d, hooks.schema)
    finally:
        d.close()
    text = local_client.get("/metrics").text
    assert f'prowd_webhook_queue_depth{{grantee="{hooks.slug}"}} 0.0\n' in text
    assert f'prowd_webhook_deliveries{{grantee="{hooks.slug}",status="delivered"}} 2.0\n' in text
    assert (
        f'prowd_webhook_attempts_total{{grantee="{hooks.slug}",outcome="succeeded"}} 2.0\n' in text
    )


def test_metrics_token_when_set(settings, db):
    app = create_app(dataclasses.replace(settings, metrics_token="scrape-me"), db)
    with TestClient(app) as c:
        assert c.get("/metrics").status_code == 401
        assert c.get("/metrics", headers={"Authorization": "Bearer nope"}).status_code == 401
        assert c.get("/metrics", headers={"Authorization": "Bearer scrape-me"}).status_code == 200


def test_the_openapi_document_describes_every_message_with_examples(client):
    from domain.webhooks import EVENT_TYPES

    spec = client.get("/schema/openapi.json").json()
    assert spec["openapi"].startswith("3.1")
    webhooks = spec["webhooks"]
    assert set(webhooks) == {*EVENT_TYPES, "ping"}
    schemas = spec["components"]["schemas"]
    for event_type, item in webhooks.items():
        media = item["post"]["requestBody"]["content"]["application/json"]
        ref = media["schema"]["properties"]["data"]["$ref"].rsplit("/", 1)[-1]
        assert ref in schemas, event_type
        assert item["post"]["description"]
        for example in media["examples"].values():
            value = example["value"]
            assert value["type"] == event_type and value["version"] == 1
            assert set(value["data"]) <= set(schemas[ref]["properties"]), event_type
            assert set(schemas[ref]["required"]) <= set(value["data"]), event_type
