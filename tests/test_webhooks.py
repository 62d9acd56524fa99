"""Webhooks to RRC systems end to end: a real receiver on 127.0.0.1 verifies every delivery
with the official `standardwebhooks` library; the dispatcher's clock is moved, never slept."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import httpx
import pytest
from psycopg import sql

from domain import clock
from services.audit.disclosure import PART2_NOTICE
from services.webhooks.dispatcher import JITTER, LEASE, SCHEDULE, Result
from tests.webhooks_helpers import Clock, Hooks, dispatcher, run_until_idle


def test_delivery_is_signed_verified_and_a_tampered_body_is_rejected(hooks, receiver, db):
    _, pairing = hooks.paired()
    ep = hooks.endpoint(receiver.url, description="RRC One system")
    assert ep["secret"].startswith("whsec_") and len(ep["secret"]) > 40
    receiver.secrets = [ep["secret"]]
    # The secret is shown once: never in a read.
    got = hooks.get(f"/webhook-endpoints/{ep['id']}", role="grantee_admin")
    listed = hooks.get("/webhook-endpoints", role="auditor")["items"]
    assert "secret" not in got and all("secret" not in e for e in listed)
    assert got["facility"] == "RRC-1" and got["enabled"] is True
    hooks.held_meeting(pairing, summary="Worked on a resume.", confidential_note="family stress")
    assert hooks.fill() > 0
    clock = Clock()
    d = dispatcher(db, clock)
    try:
        assert run_until_idle(d, hooks.schema) == 1
    finally:
        d.close()
    assert len(receiver.accepted) == 1 and not receiver.rejected
    msg = receiver.accepted[0]
    body = msg.payload
    assert body["type"] == "meeting.held" and body["version"] == 1
    datetime.fromisoformat(body["timestamp"])
    data = body["data"]
    assert data["summary"] == "Worked on a resume." and data["duration_minutes"] == 60
    assert data["attendance"] == {} and data["location"] == {
        "kind": "off_site",
        "facility_code": None,
    }
    assert b"family stress" not in msg.body and b"confidential" not in msg.body
    assert msg.msg_id.startswith("msg_") and msg.signature.startswith("v1,")
    # A tampered body with the genuine headers is refused by the receiver's verification.
    tampered = msg.body.replace(b"resume", b"RESUME")
    r = httpx.post(
        receiver.url,
        content=tampered,
        headers={
            "webhook-id": msg.msg_id,
            "webhook-timestamp": msg.timestamp,
            "webhook-signature": msg.signature,
        },
    )
    assert r.status_code == 400 and len(receiver.rejected) == 1 and len(receiver.accepted) == 1
    # The operations view: one delivery, sequence 1, delivered; one attempt, 200.
    deliveries = hooks.get(f"/webhook-endpoints/{ep['id']}/deliveries", role="coordinator")
    (row,) = deliveries["items"]
    assert (row["status"], row["sequence"], row["attempts"], row["webhook_id"]) == (
        "delivered",
        1,
        1,
        msg.msg_id,
    )
    (attempt,) = hooks.get(f"/webhook-endpoints/{ep['id']}/attempts", role="auditor")["items"]
    assert attempt["status"] == "succeeded" and attempt["response_code"] == 200
    assert attempt["response_body"] == "ok" and attempt["latency_ms"] >= 0
    # The delivery is a logged disclosure to the RRC, referenced by the webhook id.
    rows = db.fetchall(
        sql.SQL(
            "SELECT recipient, channel, part2, consent_id FROM {}.disclosures WHERE reference = %s"
        ).format(sql.Identifier(hooks.schema)),
        (msg.msg_id,),
    )
    assert rows == [("rrc:RRC-1", "webhook", False, None)]


def test_receiver_down_retries_follow_the_schedule_then_everything_arrives_once(
    hooks, receiver, db
):
    _, pairing = hooks.paired()
    ep = hooks.endpoint(receiver.url, types=["meeting.held"])
    receiver.secrets = [ep["secret"]]
    receiver.stop()
    for _ in range(4):
        hooks.held_meeting(pairing)
    hooks.fill()
    clock = Clock()
    d = dispatcher(db, clock)
    try:
        for step in range(1, 5):
            assert run_until_idle(d, hooks.schema) == 4, f"attempt {step}"
            rows = hooks.deliveries(ep["id"])
            for _, _, status, attempts, _, next_at, _ in rows:
                assert status == "pending" and attempts == step
                wait = (next_at - clock()).total_seconds()
                assert SCHEDULE[step] * (1 - JITTER) <= wait <= SCHEDULE[step] * (1 + JITTER)
            # Not due yet: nothing is attempted before its time.
            clock.advance(SCHEDULE[step] * (1 - JITTER) * 0.99)
            assert d.process(hooks.schema) == 0
            clock.advance(SCHEDULE[step] * (2 * JITTER) + 1)
        assert not receiver.accepted
        receiver.start()
        assert run_until_idle(d, hooks.schema) == 4
    finally:
        d.close()
    rows = hooks.deliveries(ep["id"])
    assert [r[1] for r in rows] == [1, 2, 3, 4]
    assert all(r[2] == "delivered" and r[3] == 5 for r in rows)
    ids = receiver.ids()
    assert sorted(ids) == sorted(r[0] for r in rows) and len(set(ids)) == 4
    attempts = hooks.get(f"/webhook-endpoints/{ep['id']}/attempts", role="grantee_admin", limit=500)
    errors = [a["error"] for a in attempts["items"] if a["status"] == "failed"]
    assert len(errors) == 16 and all(e.startswith("connection error") for e in errors)


def test_retry_after_is_honoured_and_a_delivery_fails_after_the_last_retry(hooks, receiver, db):
    _, pairing = hooks.paired()
    ep = hooks.endpoint(receiver.url, types=["meeting.held"])
    receiver.secrets = [ep["secret"]]
    receiver.status = 429
    receiver.headers = {"Retry-After": "7200"}
    hooks.held_meeting(pairing)
    hooks.fill()
    clock = Clock()
    d = dispatcher(db, clock)
    try:
        assert d.process(hooks.schema) == 1
        ((_, _, status, attempts, _, next_at, _),) = hooks.deliveries(ep["id"])
        # The schedule says 5 s; the receiver asked for two hours.
        assert status == "pending" and (next_at - clock()).total_seconds() >= 7200
        receiver.status, receiver.headers = 503, {}
        for _ in range(len(SCHEDULE) - 1):
            clock.advance(36000 * 1.3)
            assert d.process(hooks.schema) == 1
        ((_, _, status, attempts, _, next_at, _),) = hooks.deliveries(ep["id"])
        assert (status, attempts, next_at) == ("failed", len(SCHEDULE), None)
        clock.advance(36000 * 2)
        assert d.process(hooks.schema) == 0
    finally:
        d.close()


def test_a_dispatcher_that_dies_after_claiming_leaves_the_work_to_another(hooks, receiver, db):
    _, pairing = hooks.paired()
    ep = hooks.endpoint(receiver.url, types=["meeting.held"])
    receiver.secrets = [ep["secret"]]
    hooks.held_meeting(pairing)
    hooks.held_meeting(pairing)
    hooks.fill()
    clock = Clock()
    dead, other = dispatcher(db, clock), dispatcher(db, clock)
    try:
        claimed = dead.claim(hooks.schema)
        assert len(claimed) == 2
        # The claim is leased: nobody else takes it while the lease runs.
        assert other.process(hooks.schema) == 0
        clock.advance(LEASE.total_seconds() - 1)
        assert other.process(hooks.schema) == 0
        clock.advance(2)
        assert other.process(hooks.schema) == 2
        # The dead dispatcher's late answer no longer matches its claim: nothing changes.
        dead.finish([(item, Result(False, 503, 1, "", "HTTP 503")) for item in claimed])
    finally:
        dead.close()
        other.close()
    rows = hooks.deliveries(ep["id"])
    assert [r[2] for r in rows] == ["delivered", "delivered"]
    assert sorted(receiver.ids()) == sorted(r[0] for r in rows)


def test_secret_rotation_signs_with_both_secrets_for_24_hours(hooks, receiver, db, local_client):
    _, pairing = hooks.paired()
    ep = hooks.endpoint(receiver.url, types=["meeting.held"])
    old = ep["secret"]
    r = local_client.post(
        f"{hooks.base}/webhook-endpoints/{ep['id']}/rotate-secret",
        headers=hooks.headers("grantee_admin"),
    )
    assert r.status_code == 200, r.text
    new = r.json()["secret"]
    assert new != old and r.json()["secret_version"] == 2
    receiver.secrets = [old, new]
    hooks.held_meeting(pairing)
    hooks.fill()
    clock = Clock()
    d = dispatcher(db, clock)
    try:
        assert d.process(hooks.schema) == 1
        first = receiver.accepted[-1]
        assert len(first.signature.split(" ")) == 2 and first.verified_with == [0, 1]
        clock.advance(25 * 3600)
        hooks.held_meeting(pairing)
        hooks.fill()
        assert d.process(hooks.schema) == 1
    finally:
        d.close()
    after = receiver.accepted[-1]
    assert len(after.signature.split(" ")) == 1 and after.verified_with == [1]


def test_410_disables_the_endpoint_and_the_grantee_is_told(hooks, receiver, db, local_client):
    _, pairing = hooks.paired()
    ep = hooks.endpoint(receiver.url, types=["meeting.held"])
    receiver.secrets = [ep["secret"]]
    receiver.status = 410
    hooks.held_meeting(pairing)
    hooks.fill()
    clock = Clock()
    d = dispatcher(db, clock)
    try:
        assert d.process(hooks.schema) == 1
    finally:
        d.close()
    got = hooks.get(f"/webhook-endpoints/{ep['id']}", role="grantee_admin")
    assert got["enabled"] is False and got["disabled_reason"] == "gone_410"
    topics = hooks.topics_of(ep["id"])
    assert topics == ["Created", "Disabled"]
    alerts = hooks.get("/alerts", role="grantee_admin", kind="webhook_endpoint_disabled")["items"]
    assert [a["subject_id"] for a in alerts] == [ep["id"]]
    # While disabled, new events are not queued for it.
    hooks.held_meeting(pairing)
    hooks.fill()
    assert len(hooks.deliveries(ep["id"])) == 1
    r = local_client.post(
        f"{hooks.base}/webhook-endpoints/{ep['id']}/enable", headers=hooks.headers("grantee_admin")
    )
    assert r.status_code == 200 and r.json()["enabled"] is True
    assert not hooks.get("/alerts", role="grantee_admin", kind="webhook_endpoint_disabled")["items"]


def test_an_endpoint_failing_for_5_days_is_disabled(hooks, receiver, db):
    _, pairing = hooks.paired()
    ep = hooks.endpoint(receiver.url, types=["meeting.held"])
    receiver.secrets = [ep["secret"]]
    receiver.status = 500
    clock = Clock()
    d = dispatcher(db, clock)
    try:
        for day in range(6):
            hooks.held_meeting(pairing)
            hooks.fill(clock)
            d.process(hooks.schema)
            got = hooks.get(f"/webhook-endpoints/{ep['id']}", role="grantee_admin")
            assert got["enabled"] is (day < 5), day
            clock.advance(86400 + 60)
    finally:
        d.close()
    assert got["disabled_reason"] == "failing_5_days"
    alerts = hooks.get("/alerts", role="coordinator", kind="webhook_endpoint_disabled")["items"]
    assert [a["subject_id"] for a in alerts] == [ep["id"]]


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/hooks",
        "http://10.1.2.3/hooks",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]:8080/hooks",
        "http://localhost:8080/hooks",
        "http://[::ffff:127.0.0.1]/hooks",
        "http://224.0.0.1/hooks",
        "https://0.0.0.0/hooks",
    ],
)
def test_private_targets_are_refused_without_the_allow_list(client, auth, make_grantee, db, url):
    slug = make_grantee()
    before = db.fetchone(f'SELECT count(*) FROM "g_{slug}".events')
    r = client.post(
        f"/v1/grantees/{slug}/webhook-endpoints",
        json={"url": url, "facility": "RRC-1", "event_types": ["meeting.held"]},
        headers=auth("grantee_admin", slug),
    )
    assert r.status_code == 422, r.text
    assert r.json()["code"] == "unsafe_webhook_target"
    assert db.fetchone(f'SELECT count(*) FROM "g_{slug}".events') == before


def test_the_target_is_checked_again_at_delivery_time(hooks, receiver, db):
    _, pairing = hooks.paired()
    ep = hooks.endpoint(receiver.url, types=["meeting.held"])
    receiver.secrets = [ep["secret"]]
    hooks.held_meeting(pairing)
    hooks.fill()
    clock = Clock()
    d = dispatcher(db, clock, allowed=())
    try:
        assert d.process(hooks.schema) == 1
    finally:
        d.close()
    assert not receiver.accepted and not receiver.rejected
    (attempt,) = hooks.get(f"/webhook-endpoints/{ep['id']}/attempts", role="grantee_admin")["items"]
    assert attempt["status"] == "failed" and attempt["error"].startswith("unsafe target")
    assert attempt["response_code"] is None


def _consent(hooks: Hooks, pid: str, recipient: str = "rrc:RRC-1") -> None:
    hooks.post(
        f"/participants/{pid}/consents",
        {
            "discloser": "the program",
            "information": ["meeting_summaries", "attendance"],
            "recipient": recipient,
            "purpose": "coordinate support with the RRC",
            "signed_on": (clock.now() - timedelta(days=1)).date().isoformat(),
            "signed_by": "participant",
            "expires_on": (clock.now() + timedelta(days=180)).date().isoformat(),
        },
    )


def test_part2_summary_withheld_without_consent_and_sent_with_consent_and_notice(
    hooks, receiver, db
):
    pid, pairing = hooks.paired()
    ep = hooks.endpoint(receiver.url, types=["meeting.held"])
    receiver.secrets = [ep["secret"]]
    hooks.held_meeting(pairing, summary="Talked about staying sober.", summary_part2=True)
    hooks.fill()
    _consent(hooks, pid, "rrc:RRC-2")  # a consent for another RRC covers nothing here
    hooks.held_meeting(pairing, summary="Relapse plan reviewed.", summary_part2=True)
    hooks.fill()
    _consent(hooks, pid)
    hooks.held_meeting(pairing, summary="Recovery meeting attended.", summary_part2=True)
    hooks.fill()
    clock = Clock()
    d = dispatcher(db, clock)
    try:
        assert run_until_idle(d, hooks.schema) == 3
    finally:
        d.close()
    by_seq = {int(r[1]): r[0] for r in hooks.deliveries(ep["id"])}
    payloads = {m.msg_id: m.payload["data"] for m in receiver.accepted}
    first, second, third = (payloads[by_seq[i]] for i in (1, 2, 3))
    for withheld in (first, second):
        assert withheld["summary"] is None and withheld["withheld"] == "part2_no_consent"
        assert "part2_notice" not in withheld
    assert (
        third["summary"] == "Recovery meeting attended." and third["part2_notice"] == PART2_NOTICE
    )
    assert "withheld" not in third
    rows = db.fetchall(
        sql.SQL(
            "SELECT reference, part2, consent_id IS NOT NULL FROM {}.disclosures"
            " WHERE channel = 'webhook' ORDER BY disclosure_id"
        ).format(sql.Identifier(hooks.schema))
    )
    assert {r[0]: (r[1], r[2]) for r in rows} == {
        by_seq[1]: (False, False),
        by_seq[2]: (False, False),
        by_seq[3]: (True, True),
    }


def test_rrc_scoping_only_residents_of_the_endpoints_rrc(hooks, receiver, db, make_grantee):
    p1, pairing1 = hooks.paired("RRC-1")
    _, pairing2 = hooks.paired("RRC-2")
    ep = hooks.endpoint(receiver.url)
    receiver.secrets = [ep["secret"]]
    hooks.held_meeting(pairing2)  # a resident of RRC-2: nothing for RRC-1
    hooks.held_meeting(pairing1)
    # Moving out of RRC-1 tells RRC-1; a meeting after the move is no longer RRC-1's business.
    hooks.post(
        f"/participants/{p1}/stage-transitions",
        {"to_stage": 3, "placement": "community", "occurred_at": "2026-09-20T09:00:00Z"},
    )
    hooks.meet(pairing1, "2026-09-21T15:00:00Z")
    # A meeting that took place while resident, recorded after the move, still goes.
    hooks.meet(pairing1, "2026-09-19T15:00:00Z")
    hooks.fill()
    rows = hooks.deliveries(ep["id"])
    assert [r[4] for r in rows] == ["meeting.held", "participant.left_rrc", "meeting.held"]
    assert [r[1] for r in rows] == [1, 2, 3]
    clock = Clock()
    d = dispatcher(db, clock)
    try:
        assert run_until_idle(d, hooks.schema) == 3
    finally:
        d.close()
    for payload in receiver.payloads():
        people = payload["data"].get("participants") or [payload["data"]]
        assert {p["participant_id"] for p in people} == {p1}
    left = next(p for p in receiver.payloads() if p["type"] == "participant.left_rrc")["data"]
    assert left["facility_code"] == "RRC-1" and left["to_placement"] == "community"
    # Another grantee's log never reaches this grantee's endpoints.
    other = Hooks(hooks.client, hooks.auth, db)
    _, pairing3 = other.paired("RRC-1")
    other.held_meeting(pairing3)
    other.fill()
    assert len(hooks.deliveries(ep["id"])) == 3


def test_arrival_and_pairing_events_go_to_the_rrc_arrived_at(hooks, receiver, db):
    ep = hooks.endpoint(receiver.url, facility="RRC-2")
    pid = hooks.resident("RRC-1")
    hooks.post(
        f"/participants/{pid}/stage-transitions",
        {
            "to_stage": 2,
            "placement": "rrc",
            "facility": "RRC-2",
            "occurred_at": "2026-08-20T09:00:00Z",
        },
    )
    pairing = hooks.pair(hooks.mentor_id, [pid], "2026-08-21T10:00:00Z")
    hooks.close(pairing)
    hooks.fill()
    assert [r[4] for r in hooks.deliveries(ep["id"])] == [
        "participant.arrived_at_rrc",
        "pairing.opened",
        "pairing.closed",
    ]


def test_instants_carry_an_offset_but_not_always_the_same_one(hooks, receiver):
    """docs/webhooks.md: `meeting.scheduled` keeps the offset the meeting was scheduled with,
    `meeting.cancelled` gives the same instant in UTC; a receiver compares instants."""
    ep = hooks.endpoint(receiver.url, types=["meeting.scheduled", "meeting.cancelled"])
    _, pairing = hooks.paired()
    meeting = hooks.post(
        "/meetings",
        {
            "pairing_id": pairing,
            "scheduled_for": "2026-12-09T10:00:00-06:00",
            "planned_minutes": 45,
            "location": {"kind": "off_site"},
        },
    )
    hooks.post(f"/meetings/{meeting['id']}/cancellation", {"reason": "ill", "excused": True})
    hooks.fill()
    bodies = {r[4]: json.loads(r[6]) for r in hooks.deliveries(ep["id"])}
    scheduled = bodies["meeting.scheduled"]["data"]["scheduled_for"]
    cancelled = bodies["meeting.cancelled"]["data"]["scheduled_for"]
    assert scheduled == "2026-12-09T10:00:00-06:00"
    assert cancelled.endswith(("Z", "+00:00")) and cancelled != scheduled
    assert datetime.fromisoformat(cancelled) == datetime.fromisoformat(scheduled)
