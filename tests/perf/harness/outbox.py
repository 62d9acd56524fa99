"""The webhook outbox against the log and the receiver, after a load of enrolments and moves
to RRC-1 (the reliability scripts: nothing lost, doubled or changed on the way)."""

from __future__ import annotations

import time
from collections import Counter
from typing import Any
from uuid import UUID

import httpx
import psycopg
from psycopg import sql

from services.settings import Settings
from services.store.database import Database
from services.webhooks.batch import message_id
from tests.perf.harness.load import LOAD_TOPICS
from tests.perf.harness.postgres import OneConnection, log_head
from tests.perf.harness.probes import equals_rebuild, wait_caught_up
from tests.perf.harness.receiver import HookReceiver
from tests.perf.harness.server import Server
from tests.perf.harness.world import RRC, Tokens

# What the load produces for an endpoint of RRC-1: every acknowledged enrolment is moved there.
HOOK_TYPES = ["participant.arrived_at_rrc"]


def subscribe(base: str, tokens: Tokens, slug: str, hook_url: str) -> dict[str, Any]:
    """A webhook endpoint of RRC-1 subscribed to HOOK_TYPES at `hook_url`: the service's
    answer (its id and secret)."""
    r = httpx.post(
        f"{base}/v1/grantees/{slug}/webhook-endpoints",
        json={"url": hook_url, "facility": RRC, "event_types": HOOK_TYPES},
        headers=tokens.auth("grantee_admin", slug),
    )
    r.raise_for_status()
    return dict(r.json())


def converged(
    url: str,
    settings: Settings,
    server: Server,
    schema: str,
    endpoint_id: str,
    receiver: HookReceiver,
) -> dict[str, Any]:
    """After the load: the views caught up with the log and the outbox drained by the running
    service; then, the service stopped (nothing more can arrive), the outbox against the
    receiver and the views against a fresh rebuild."""
    db = Database(url, settings, name="reliability-check").open()
    try:
        caught_up, head = wait_caught_up(db, schema, 60)
        drain = wait_drained(url, schema, endpoint_id)
        server.stop()
        webhooks = {**drain, **webhook_check(url, schema, endpoint_id, receiver)}
        return {
            "views_caught_up": caught_up,
            "views_equal_rebuild": equals_rebuild(db, schema),
            "head_position": head,
            "webhooks": webhooks,
        }
    finally:
        db.close()


def _outbox_state(conn: psycopg.Connection[Any], schema: str, endpoint_id: str) -> tuple[int, int]:
    """(the outbox consumer's position, the endpoint's deliveries not yet final)."""
    s = sql.Identifier(schema)
    pos = conn.execute(sql.SQL("SELECT position FROM {}.webhook_outbox").format(s)).fetchone()
    pending = conn.execute(
        sql.SQL(
            "SELECT count(*) FROM {}.webhook_deliveries WHERE endpoint_id = %s AND status = 'pending'"
        ).format(s),
        (endpoint_id,),
    ).fetchone()
    return (int(pos[0]) if pos else 0), (int(pending[0]) if pending else 0)


def wait_drained(url: str, schema: str, endpoint_id: str, timeout: float = 240) -> dict[str, Any]:
    """Poll until the outbox has read the whole log and nothing of the endpoint is pending.
    Bounded: a delivery claimed by a killed dispatcher waits out its 60 s lease first."""
    started = time.monotonic()
    with OneConnection(url) as db:
        while True:
            head = log_head(db, schema)
            position, pending = _outbox_state(db.conn, schema, endpoint_id)
            drained = position >= head and pending == 0
            if drained or time.monotonic() - started > timeout:
                return {
                    "drained": drained,
                    "drain_wait_s": round(time.monotonic() - started, 1),
                    "outbox_position": position,
                    "log_head": head,
                    "pending_left": pending,
                }
            time.sleep(0.5)


def expected_positions(conn: psycopg.Connection[Any], schema: str, after: int) -> list[int]:
    """Log positions (after the endpoint's creation at `after`) of the events its subscription
    matches, worked out from the log alone: a stage transition into RRC-1 of a participant who
    was not already there (`participant.arrived_at_rrc`)."""
    rows = conn.execute(
        sql.SQL(
            "SELECT notification_id, originator_id, topic, convert_from(state, 'UTF8')::json"
            " FROM {}.events WHERE topic LIKE ANY(%s) ORDER BY notification_id"
        ).format(sql.Identifier(schema)),
        (LOAD_TOPICS,),
    ).fetchall()
    where: dict[Any, tuple[str, str | None]] = {}
    out = []
    for position, participant, topic, state in rows:
        if topic.endswith("Enrolled"):
            where[participant] = ("bop_institution", state.get("facility_code"))
            continue
        now = (state.get("placement"), state.get("facility_code"))
        if now == ("rrc", RRC) and where.get(participant) != now and position > after:
            out.append(position)
        where[participant] = now
    return out


def webhook_check(
    url: str, schema: str, endpoint_id: str, receiver: HookReceiver
) -> dict[str, Any]:
    """Log vs outbox vs receiver, after the dispatcher drained and the service was stopped.

    outbox: every matching event has exactly one delivery row, with the webhook-id derived
    from (grantee, endpoint, position), and nothing else is in it; deliveries: every row was
    received (verified) at least once, nothing received is outside the outbox, the bodies are
    the stored ones; redeliveries (the same webhook-id again, allowed by at-least-once after a
    crash) are counted apart."""
    s = sql.Identifier(schema)
    with psycopg.connect(url) as conn:
        created = conn.execute(
            sql.SQL(
                "SELECT created_position FROM {}.webhook_endpoints WHERE endpoint_id = %s"
            ).format(s),
            (endpoint_id,),
        ).fetchone()
        expected = expected_positions(conn, schema, int(created[0]) if created else 0)
        rows = conn.execute(
            sql.SQL(
                "SELECT position, msg_id, status, body, sequence FROM {}.webhook_deliveries"
                " WHERE endpoint_id = %s AND event_type <> 'ping'"
            ).format(s),
            (endpoint_id,),
        ).fetchall()
        succeeded = conn.execute(
            sql.SQL(
                "SELECT count(*) FROM {}.webhook_attempts WHERE endpoint_id = %s"
                " AND outcome = 'succeeded'"
            ).format(s),
            (endpoint_id,),
        ).fetchone()
    received, rejected, truncated = receiver.snapshot()
    by_position = Counter(r[0] for r in rows)
    bodies = {r[1]: bytes(r[3]) for r in rows}
    eid = UUID(endpoint_id)
    got = Counter(msg_id for msg_id, _ in received)
    statuses = Counter(r[2] for r in rows)
    sequences = sorted(r[4] for r in rows)
    return {
        "endpoint_event_types": HOOK_TYPES,
        "matching_events_in_log": len(expected),
        "outbox_rows": len(rows),
        "outbox_missing": len(set(expected) - set(by_position)),
        "outbox_unexpected": len(set(by_position) - set(expected)),
        "outbox_duplicated": sum(c - 1 for c in by_position.values() if c > 1),
        "outbox_bad_webhook_id": sum(1 for r in rows if r[1] != message_id(schema, eid, r[0])[1]),
        "outbox_sequence_gapless": sequences == list(range(1, len(rows) + 1)),
        "outbox_status": dict(statuses),
        "received_requests": len(received),
        "received_distinct_webhook_ids": len(got),
        "lost_deliveries": len(set(bodies) - set(got)),
        "spurious_deliveries": len(set(got) - set(bodies)),
        "redeliveries": sum(c - 1 for c in got.values() if c > 1),
        "redelivered_messages": sum(1 for c in got.values() if c > 1),
        "body_mismatch": sum(1 for m, b in received if m in bodies and bodies[m] != b),
        "signature_rejected": rejected,
        "truncated_requests": truncated,
        "attempts_recorded_succeeded": int(succeeded[0]) if succeeded else 0,
    }


def webhooks_ok(w: dict[str, Any]) -> bool:
    return bool(
        w.get("drained")
        and w["matching_events_in_log"] > 0
        and w["outbox_rows"] == w["matching_events_in_log"]
        and w["outbox_missing"] == w["outbox_unexpected"] == w["outbox_duplicated"] == 0
        and w["outbox_bad_webhook_id"] == 0
        and w["outbox_sequence_gapless"]
        and set(w["outbox_status"]) <= {"delivered"}
        and w["lost_deliveries"] == w["spurious_deliveries"] == 0
        and w["received_distinct_webhook_ids"] == w["outbox_rows"]
        and w["body_mismatch"] == w["signature_rejected"] == 0
    )


def webhook_summary(w: dict[str, Any]) -> str:
    return (
        f"webhooks: {w['matching_events_in_log']} matching events, {w['outbox_rows']} outbox rows"
        f" (missing {w['outbox_missing']}, unexpected {w['outbox_unexpected']},"
        f" duplicated {w['outbox_duplicated']}); received {w['received_requests']}"
        f" ({w['received_distinct_webhook_ids']} distinct webhook-ids, {w['redeliveries']}"
        f" redeliveries of {w['redelivered_messages']} messages); lost {w['lost_deliveries']},"
        f" spurious {w['spurious_deliveries']}, body mismatch {w['body_mismatch']},"
        f" bad signatures {w['signature_rejected']}, cut off by a kill {w['truncated_requests']};"
        f" drained {w.get('drained')}"
        f" after {w.get('drain_wait_s')} s"
    )
