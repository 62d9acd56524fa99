"""The webhook outbox reads its state once per batch and writes it once (decision 152).

The consumer keeps, beside the log, where each participant lived when, each pairing's members
and each meeting's scheduling (services/webhooks/batch.py). A batch now holds that state in
memory between its events; these tests show that a batch of the whole log decides exactly what
the consumer decides one event at a time (state written and read back between every event),
and that a batch's statements do not grow with its events.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from psycopg import sql

from services.store.database import Database
from services.webhooks import outbox
from tests.pgtrace import traced
from tests.webhooks_helpers import TYPES, Clock, Hooks, held

ALL_TYPES = [*TYPES, "meeting.scheduled", "meeting.cancelled", "participant.exited"]
STATE = {
    "webhook_placements": "participant_id, position",
    "webhook_pairings": "pairing_id",
    "webhook_meetings": "meeting_id",
    "webhook_routes": "endpoint_id",
    "webhook_deliveries": "endpoint_id, sequence",
}


def _mixed_log(hooks: Hooks) -> dict[str, str]:
    """Moves, a group pairing whose members change, meetings held, amended, missed and
    cancelled, a meeting held before a move it is recorded after, a placement corrected, an
    exit, and endpoints created, disabled and enabled along the way."""
    rrc1 = hooks.endpoint("https://127.0.0.1:9/one", types=ALL_TYPES)["id"]
    a = hooks.resident("RRC-1", "Ada")
    b = hooks.resident("RRC-1", "Bea")
    c = hooks.resident("RRC-2", "Cy")
    rrc2 = hooks.endpoint("https://127.0.0.1:9/two", facility="RRC-2", types=ALL_TYPES)["id"]
    group = hooks.pair(hooks.mentor_id, [a, b], "2026-08-10T10:00:00Z", kind="group")
    hooks.post(f"/pairings/{group}/members", {"participant_id": c})
    everyone = {"attendance": {a: "present", b: "present", c: "absent"}}
    first = hooks.held_meeting(group, **everyone)
    admin = hooks.headers("grantee_admin")
    r = hooks.client.post(f"{hooks.base}/webhook-endpoints/{rrc2}/disable", headers=admin)
    assert r.status_code == 200, r.text
    hooks.held_meeting(group, **everyone)
    r = hooks.client.post(f"{hooks.base}/webhook-endpoints/{rrc2}/enable", headers=admin)
    assert r.status_code == 200, r.text
    hooks.post(
        f"/meetings/{first['id']}/amendments",
        {"reason": "longer", "record": held("2026-08-11T14:00:00Z", 90, **everyone)},
    )
    hooks.post(f"/pairings/{group}/member-removals", {"participant_id": b, "reason": "moved"})
    d, single = hooks.paired("RRC-2")
    cancelled = hooks.schedule(single, "2026-09-01T15:00:00Z")
    hooks.post(f"/meetings/{cancelled['id']}/cancellation", {"reason": "ill", "excused": True})
    missed = hooks.schedule(single, "2026-09-02T15:00:00Z")
    hooks.post(f"/meetings/{missed['id']}/missed", {"no_show_by": "mentee"})
    hooks.post(
        f"/participants/{a}/stage-transitions",
        {"to_stage": 3, "placement": "community", "occurred_at": "2026-09-20T09:00:00Z"},
    )
    two = {"attendance": {a: "present", c: "present"}}
    hooks.meet(group, "2026-09-19T15:00:00Z", **two)  # recorded after the move, held before it
    hooks.meet(group, "2026-09-21T15:00:00Z", **two)
    hooks.post(f"/participants/{d}/corrections", {"facility": "RRC-1", "reason": "wrong RRC"})
    hooks.post(f"/participants/{b}/exit", {"exit_date": "2026-09-25", "reason": "other"})
    hooks.close(group)
    return {"rrc1": rrc1, "rrc2": rrc2}


def _state(db: Database, schema: str) -> dict[str, list[tuple[Any, ...]]]:
    out = {
        table: db.fetchall(
            sql.SQL("SELECT * FROM {}.{} ORDER BY {}").format(
                sql.Identifier(schema), sql.Identifier(table), sql.SQL(order)
            )
        )
        for table, order in STATE.items()
    }
    # The row number is the table's own counter, not the consumer's decision.
    out["webhook_deliveries"] = [row[:1] + row[2:] for row in out["webhook_deliveries"]]
    out["position"] = [(outbox.position(db, schema),)]
    return out


def _forget(db: Database, schema: str) -> None:
    """Take the consumer back to the start of the log, as if it had never run."""
    with db.transaction() as cur:
        for table in STATE:
            cur.execute(
                sql.SQL("DELETE FROM {}.{}").format(sql.Identifier(schema), sql.Identifier(table))
            )
        cur.execute(
            sql.SQL("UPDATE {}.webhook_outbox SET position = 0").format(sql.Identifier(schema))
        )


def test_one_batch_of_the_whole_log_decides_what_the_consumer_decides_event_by_event(
    local_client: Any, auth: Any, db: Database
) -> None:
    hooks = Hooks(local_client, auth, db)
    endpoints = _mixed_log(hooks)
    clock = Clock()
    events = hooks.events()
    # One event per batch: every event's state written and read back from the tables.
    assert outbox.drain(db, hooks.schema, batch=1, now=clock) == events
    one_by_one = _state(db, hooks.schema)
    _forget(db, hooks.schema)
    assert outbox.catch_up(db, hooks.schema, batch=events + 10, now=clock) == events
    assert _state(db, hooks.schema) == one_by_one

    # Not an empty agreement: the deliveries each RRC was sent, in order.
    by_endpoint: dict[Any, list[str]] = {}
    for row in one_by_one["webhook_deliveries"]:
        by_endpoint.setdefault(str(row[1]), []).append(row[4])
    held_twice = ["meeting.scheduled", "meeting.held"] * 2
    assert by_endpoint[endpoints["rrc1"]] == [
        "participant.arrived_at_rrc",  # Ada
        "participant.arrived_at_rrc",  # Bea
        "pairing.opened",
        *held_twice,
        "meeting.amended",
        "participant.left_rrc",  # Ada to the community on 09-20
        "meeting.held",  # 09-19, recorded later: Ada was still here (scheduled: she was not)
        "participant.arrived_at_rrc",  # Dee's RRC corrected to RRC-1
        "participant.exited",  # Bea
    ]
    assert by_endpoint[endpoints["rrc2"]] == [
        "meeting.scheduled",  # Cy, a member since the endpoint was created
        "meeting.held",  # the next meeting while the endpoint was disabled: nothing
        "meeting.amended",
        "participant.arrived_at_rrc",  # Dee
        "pairing.opened",
        "meeting.scheduled",
        "meeting.cancelled",
        "meeting.scheduled",
        "meeting.missed",
        *held_twice,  # the group's 09-19 and 09-21 meetings: Cy
        "participant.left_rrc",  # Dee's RRC corrected to RRC-1
        "pairing.closed",  # Cy
    ]
    assert one_by_one["webhook_placements"] and one_by_one["webhook_meetings"]


def test_a_batch_reads_and_writes_the_consumers_state_with_a_bounded_number_of_statements(
    settings: Any, database_url: str, local_client: Any, auth: Any
) -> None:
    """The statements of one catch-up (libpq's trace of a one-connection pool) for a batch of
    a few participants' moves and meetings, and for one of ten times as many."""
    own = dataclasses.replace(settings, pool_min=1, pool_max=1)
    db = Database(database_url, own, name="prowd-traced-outbox").open()
    try:
        sent = []
        for participants in (2, 20):
            hooks = Hooks(local_client, auth, db)
            for _ in range(participants // 2):
                pair = [hooks.resident("RRC-1"), hooks.resident("RRC-1")]
                group = hooks.pair(hooks.mentor_id, pair, "2026-08-10T10:00:00Z", kind="group")
                hooks.held_meeting(group, attendance=dict.fromkeys(pair, "present"))
                for pid in pair:
                    hooks.post(
                        f"/participants/{pid}/stage-transitions",
                        {
                            "to_stage": 3,
                            "placement": "community",
                            "occurred_at": "2026-09-20T09:00:00Z",
                        },
                    )
            with traced(db, 1) as transactions:
                assert outbox.catch_up(db, hooks.schema) == hooks.events()
            statements = [s for transaction in transactions for s in transaction]
            sent.append(len(statements))
            assert not [
                s for s in statements if "webhook_placements WHERE participant_id = $1" in s
            ]
        few, many = sent
        # Statement by statement, the larger batch alone was over 200 statements.
        assert many <= few + 3, sent
        assert many < 30, sent
    finally:
        db.close()
