"""`audit.checkpoint`: signed chain heads delivered outside the grantee's log (issue 18).

Whenever a checkpoint is signed, every enabled endpoint of the grantee subscribed to
`audit.checkpoint` (whatever its facility: a head names no person) gets the signed head. The
subscriber then holds a head the platform cannot take back: a later rewrite of the log
contradicts it (`prowd verify --against FILE`). The delivery takes the outbox consumer's
advisory lock, so its per-endpoint sequence number never races the consumer's; its position is
NULL (a checkpoint is not an event of the log) and its id is derived from the checkpoint.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import uuid5

import msgspec
from psycopg import sql

from domain.common import ID_NAMESPACE
from services.audit.checkpoints import message
from services.store.database import Database
from services.webhooks.batch import envelope
from services.webhooks.outbox import lock_key
from services.webhooks.store import CHANNEL

EVENT_TYPE = "audit.checkpoint"


class CheckpointData(msgspec.Struct):
    """A signed head of the grantee's hash chain (docs/audit.md): `signature` (hex, Ed25519) is
    over `signed_message` by key `kid` of `GET /v1/audit/public-keys`."""

    schema: str
    position: int
    hash: str
    kid: str
    signature: str
    signed_at: datetime
    signed_message: str


CHECKPOINT_DESCRIPTION = (
    "A signed checkpoint of the grantee's log (any facility's endpoint may subscribe; it names"
    " no person). Keep it: a later rewrite of the log contradicts it."
)
_HASH = "a968ae4ee50e4e26ee8ee55adbdf2db95f63eb5b0bd36e51b1153f0f9506bb02"
CHECKPOINT_EXAMPLES = [
    (
        "checkpoint",
        {
            "schema": "g_northside_works",
            "position": 1000,
            "hash": _HASH,
            "kid": "3f9a0c1b2d4e5f60",
            "signature": "9c" * 64,
            "signed_at": "2026-11-03T10:00:00Z",
            "signed_message": f"prowd-checkpoint:g_northside_works:1000:{_HASH}",
        },
    )
]


def payload(
    schema: str, position: int, digest: bytes, kid: str, signature: bytes, signed_at: datetime
) -> dict[str, Any]:
    return {
        "schema": schema,
        "position": position,
        "hash": digest.hex(),
        "kid": kid,
        "signature": signature.hex(),
        "signed_at": signed_at,
        "signed_message": message(schema, position, digest).decode(),
    }


def deliver(db: Database, schema: str, position: int, now: datetime) -> int:
    """Queue the checkpoint at `position` for every subscribed endpoint; returns how many
    deliveries were written (none twice for one checkpoint and endpoint)."""
    s = sql.Identifier(schema)
    with db.session(), db.transaction() as cur:
        cur.execute("SELECT pg_advisory_xact_lock(%s)", (lock_key(schema),))
        cur.execute(
            sql.SQL(
                "SELECT hash, key_id, signature, signed_at FROM {}.checkpoints"
                " WHERE notification_id = %s"
            ).format(s),
            (position,),
        )
        row = cur.fetchone()
        if row is None:
            return 0
        data = payload(schema, position, bytes(row[0]), str(row[1]), bytes(row[2]), row[3])
        cur.execute(
            sql.SQL(
                "SELECT endpoint_id, last_sequence FROM {}.webhook_routes"
                " WHERE enabled AND %s = ANY(event_types) ORDER BY endpoint_id"
            ).format(s),
            (EVENT_TYPE,),
        )
        written = 0
        for endpoint_id, last_sequence in cur.fetchall():
            body = envelope(EVENT_TYPE, row[3], data, int(last_sequence) + 1)
            delivery_id = uuid5(
                ID_NAMESPACE, f"webhook-checkpoint:{schema}:{endpoint_id}:{position}"
            )
            cur.execute(
                sql.SQL(
                    "INSERT INTO {}.webhook_deliveries (delivery_id, endpoint_id, position,"
                    " sequence, event_type, msg_id, body, disclosures, committed_at, created_at,"
                    " status, next_attempt_at) VALUES (%s, %s, NULL, %s, %s, %s, %s, %s, %s,"
                    " %s, 'pending', %s) ON CONFLICT (delivery_id) DO NOTHING RETURNING 1"
                ).format(s),
                (
                    delivery_id,
                    endpoint_id,
                    int(last_sequence) + 1,
                    EVENT_TYPE,
                    f"msg_{delivery_id.hex}",
                    body,
                    msgspec.json.encode([]).decode(),
                    row[3],
                    now,
                    now,
                ),
            )
            if cur.fetchone() is None:
                continue
            cur.execute(
                sql.SQL(
                    "UPDATE {}.webhook_routes SET last_sequence = %s WHERE endpoint_id = %s"
                ).format(s),
                (int(last_sequence) + 1, endpoint_id),
            )
            written += 1
        if written:
            cur.execute("SELECT pg_notify(%s, %s)", (CHANNEL, schema))
        return written
