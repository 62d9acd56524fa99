"""Webhooks say nothing of a resident whose derived exit has taken effect, as the RRC's view
shows nothing of them (decisions 97 and 101): the worker's pass (views, then the outbox in
the same transaction), the dispatcher and a real receiver on 127.0.0.1 verifying every message.

RRC-1's residents `gone` and `served` (there since 2026-08-03, their class hours' end) were
paired on 08-10, each had a meeting booked for 08-28 and their pairings closed on 08-25. By
2026-11-10 `gone` has had no service since 08-03: the derived exit took effect on 11-02, dated
08-03. `served` had a case-management contact on 08-20 (in effect from 11-19). What is recorded about them afterwards
(their booked meeting missed, a release to the community dated 10-01, before the exit took
effect, so accepted) reaches RRC-1 for `served` only.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from psycopg import sql

from services.projector import live as projector
from services.webhooks import outbox
from tests.conftest import FreezeAt
from tests.webhooks_helpers import TYPES, Clock, Hooks, dispatcher, run_until_idle

BOOKED = "2026-08-28T15:00:00Z"


def _pass(hooks: Hooks) -> None:
    """The worker's pass: the views and, in their transaction, the outbox."""
    projector.drain(hooks.db, hooks.schema, follower=outbox.Follower(hooks.db))
    hooks.fill()


def _named(payload: dict[str, Any]) -> set[str]:
    data = payload["data"]
    return {p["participant_id"] for p in data.get("participants") or [data]}


def test_nothing_recorded_after_a_derived_exit_is_sent_about_the_resident(
    local_client: Any, auth: Any, db: Any, receiver: Any, frozen_at: FreezeAt
) -> None:
    clock = frozen_at(datetime(2026, 8, 25, 15, 0, tzinfo=UTC), tick=True)
    hooks = Hooks(local_client, auth, db)
    ep = hooks.endpoint(receiver.url, types=[*TYPES, "participant.exited"])
    receiver.secrets = [ep["secret"]]
    gone, served = hooks.resident(name="Gone"), hooks.resident(name="Served")
    hooks.post(
        f"/participants/{served}/case-contacts", {"contacted_on": "2026-08-20", "mode": "phone"}
    )
    booked = {}
    for who in (gone, served):
        pairing = hooks.pair(hooks.mentor_id, [who], "2026-08-10T10:00:00Z")
        booked[who] = hooks.schedule(pairing, BOOKED)["id"]
        hooks.close(pairing)
    _pass(hooks)
    before = len(hooks.deliveries(ep["id"]))
    # Arrived, paired and closed, for each, while neither had exited.
    assert before == 6

    clock.set(datetime(2026, 11, 10, 15, 0, tzinfo=UTC))
    assert hooks.view(f"/participants/{gone}")["exit_derived"] is True
    desk = hooks.auth("rrc_staff", hooks.slug, sub="rrc-desk", rrc="RRC-1")
    shown = hooks.client.get(f"{hooks.base}/rrc/RRC-1/residents", headers=desk).json()["items"]
    assert [r["participant_id"] for r in shown] == [served]
    for who in (gone, served):
        hooks.post(f"/meetings/{booked[who]}/missed", {"no_show_by": "mentee"})
        hooks.post(
            f"/participants/{who}/stage-transitions",
            {"to_stage": 3, "placement": "community", "occurred_at": "2026-10-01T09:00:00Z"},
        )
    _pass(hooks)
    rows = hooks.deliveries(ep["id"])[before:]
    assert [r[4] for r in rows] == ["meeting.missed", "participant.left_rrc"]

    d = dispatcher(db, Clock())
    try:
        assert run_until_idle(d, hooks.schema) == before + 2
    finally:
        d.close()
    assert not receiver.rejected
    after = [p for p in receiver.payloads() if p["sequence"] > before]
    assert sorted(p["type"] for p in after) == ["meeting.missed", "participant.left_rrc"]
    assert all(_named(p) == {served} for p in after)
    # Each delivery is a logged disclosure: of `gone`, only those sent before their exit.
    disclosed = db.fetchall(
        sql.SQL(
            "SELECT participant_id, count(*) FROM {}.disclosures WHERE channel = 'webhook'"
            " GROUP BY participant_id"
        ).format(sql.Identifier(hooks.schema))
    )
    assert {str(pid): n for pid, n in disclosed} == {gone: 3, served: 5}
