"""Sequence numbers and the RRC's own delivery log (issue 20, docs/webhooks.md "Order and
loss"): a real receiver on loopback sees consecutive per-endpoint numbers in the signed body and
the `webhook-sequence` header, detects a gap when one delivery is lost, and fetches and replays
it through the RRC's own API key."""

from __future__ import annotations

from typing import Any

from tests.webhooks_helpers import Clock, dispatcher, run_until_idle


def gaps(received: list[Any]) -> list[int]:
    """What a receiver does: the numbers missing below the highest it has seen."""
    seen = {m.payload["sequence"] for m in received if "sequence" in m.payload}
    return sorted(set(range(1, max(seen, default=0) + 1)) - seen)


def deliver(hooks: Any, db: Any, clock: Clock) -> int:
    hooks.fill(clock)
    d = dispatcher(db, clock)
    try:
        return run_until_idle(d, hooks.schema)
    finally:
        d.close()


def test_consecutive_sequence_numbers_a_gap_found_and_replayed_with_the_rrc_key(
    hooks, receiver, db, local_client
):
    _, pairing = hooks.paired()
    ep = hooks.endpoint(receiver.url, types=["meeting.held"])
    receiver.secrets = [ep["secret"]]
    # The dispatcher's clock stands still a minute ahead: what is due now is sent, a retry
    # (5 s after a failure) waits until it is asked for.
    clock = Clock()
    clock.advance(60)
    for _ in range(2):
        hooks.held_meeting(pairing)
    # A ping sent between the events carries no number and does not count.
    r = local_client.post(
        f"{hooks.base}/webhook-endpoints/{ep['id']}/ping", headers=hooks.headers("grantee_admin")
    )
    assert r.status_code == 202, r.text
    assert deliver(hooks, db, clock) == 3
    # Sent in parallel, messages may arrive in any order: the receiver orders them by number.
    numbered = sorted(
        (m for m in receiver.accepted if m.payload["type"] == "meeting.held"),
        key=lambda m: m.payload["sequence"],
    )
    assert [m.payload["sequence"] for m in numbered] == [1, 2]
    assert [m.headers["webhook-sequence"] for m in numbered] == ["1", "2"]
    ping = next(m for m in receiver.accepted if m.payload["type"] == "ping")
    assert "sequence" not in ping.payload and "webhook-sequence" not in ping.headers
    assert gaps(receiver.accepted) == []

    # Message 3 is lost: the receiver fails it (it stays pending, its retry minutes away on
    # the dispatcher's clock); 4 and 5 arrive. The receiver sees the gap.
    receiver.status = 503
    hooks.held_meeting(pairing)
    assert deliver(hooks, db, clock) == 1
    receiver.status = 200
    for _ in range(2):
        hooks.held_meeting(pairing)
    assert deliver(hooks, db, clock) == 2
    assert sorted(m.payload["sequence"] for m in receiver.accepted if "sequence" in m.payload) == [
        1,
        2,
        4,
        5,
    ]
    missing = gaps(receiver.accepted)
    assert missing == [3]

    # The RRC's own system, with its own API key, looks the gap up and asks for a replay.
    issued = local_client.post(
        f"{hooks.base}/api-keys",
        json={"rrc": "RRC-1", "description": "RRC-1 resident system"},
        headers=hooks.headers("grantee_admin"),
    )
    assert issued.status_code == 201, issued.text
    key = {"Authorization": f"Bearer {issued.json()['key']}"}
    own = f"{hooks.base}/rrc/RRC-1/webhook-endpoints"
    listed = local_client.get(own, headers=key)
    assert listed.status_code == 200, listed.text
    assert [e["id"] for e in listed.json()["items"]] == [ep["id"]]
    log = local_client.get(
        f"{own}/{ep['id']}/deliveries",
        params={"from_sequence": missing[0], "to_sequence": missing[-1]},
        headers=key,
    )
    assert log.status_code == 200, log.text
    (lost,) = log.json()["items"]
    assert lost["sequence"] == 3 and lost["status"] == "pending"
    assert lost["attempts"] == 1 and lost["last_response_code"] == 503
    everything = local_client.get(f"{own}/{ep['id']}/deliveries", headers=key).json()["items"]
    assert sorted(d["sequence"] for d in everything if d["sequence"]) == [1, 2, 3, 4, 5]
    replay = local_client.post(
        f"{own}/{ep['id']}/redeliveries",
        json={"from_sequence": missing[0], "to_sequence": missing[-1]},
        headers=key,
    )
    assert replay.status_code == 202, replay.text
    assert replay.json()["queued"] == 1
    assert deliver(hooks, db, clock) == 1
    assert gaps(receiver.accepted) == []
    replayed = receiver.accepted[-1]
    assert replayed.payload["sequence"] == 3 and replayed.headers["webhook-sequence"] == "3"
    assert replayed.msg_id == lost["webhook_id"]  # the original webhook-id: dedupe still works

    # One message by id, too; and the key reaches its own RRC only.
    again = local_client.post(
        f"{own}/{ep['id']}/redeliveries", json={"delivery_id": lost["id"]}, headers=key
    )
    assert again.status_code == 202 and again.json()["queued"] == 1
    assert again.json()["webhook_id"] == lost["webhook_id"]
    other = local_client.get(f"{hooks.base}/rrc/RRC-2/webhook-endpoints", headers=key)
    assert other.status_code == 404
    grantee_side = local_client.get(f"{hooks.base}/webhook-endpoints", headers=key)
    assert grantee_side.status_code == 403


def test_a_redelivery_request_names_one_message_or_one_range(hooks, receiver, local_client):
    ep = hooks.endpoint(receiver.url, types=["meeting.held"])
    own = f"{hooks.base}/rrc/RRC-1/webhook-endpoints/{ep['id']}/redeliveries"
    admin = hooks.headers("grantee_admin")
    for body, says in (
        ({}, "name a delivery_id or a sequence range (from_sequence, to_sequence)"),
        ({"delivery_id": ep["id"], "from_sequence": 1}, "not both"),
        ({"from_sequence": 5, "to_sequence": 2}, "ascending"),
        ({"from_sequence": 1, "to_sequence": 20_000}, "at most 10000"),
    ):
        r = local_client.post(own, json=body, headers=admin)
        assert r.status_code == 400, (body, r.text)
        assert r.json()["code"] == "invalid_redelivery"
        assert says in r.json()["detail"], (body, r.text)
    # Naming neither is not called naming both.
    r = local_client.post(own, json={}, headers=admin)
    assert "not both" not in r.json()["detail"]
    r = local_client.post(own, json={"delivery_id": ep["id"]}, headers=admin)
    assert r.status_code == 404
    # The deliveries' list refuses a range that runs backwards, as the redelivery does,
    # instead of answering an empty page a receiver would read as "nothing lost".
    listed = own.replace("/redeliveries", "/deliveries")
    backwards = {"from_sequence": 5, "to_sequence": 1}
    r = local_client.get(listed, params=backwards, headers=admin)
    assert r.status_code == 400, r.text
    assert r.json()["code"] == "invalid_range"
    assert "from_sequence 5 is after to_sequence 1" in r.json()["detail"]
    one = local_client.get(listed, params={"from_sequence": 3, "to_sequence": 3}, headers=admin)
    assert one.status_code == 200 and one.json()["items"] == []
    # An endpoint of another RRC is not this RRC's.
    other = hooks.endpoint(receiver.url, facility="RRC-2", types=["meeting.held"])
    r = local_client.get(
        f"{hooks.base}/rrc/RRC-1/webhook-endpoints/{other['id']}/deliveries", headers=admin
    )
    assert r.status_code == 404
