"""Verifying a grantee's log against its hash chain (DESIGN D7).

Each stored record's hash is SHA-256 over the previous record's hash and the record: its
position, stream (originator id), version, topic and stored bytes, each length-prefixed where
its length varies. `append_events` (services/schema.py) writes the chain in the same statement
as the events; this module recomputes it from the events alone and names the first position
where the log and the chain part ways: a record altered, deleted, inserted or moved.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from psycopg import sql

from services.checkpoints import AuditKey, signature_valid
from services.database import Database

BATCH = 10_000


def record_hash(
    previous: bytes, position: int, originator_id: Any, version: int, topic: str, state: bytes
) -> bytes:
    topic_bytes = topic.encode()
    return hashlib.sha256(
        previous
        + struct.pack(">q", position)
        + originator_id.bytes
        + struct.pack(">q", version)
        + struct.pack(">i", len(topic_bytes))
        + topic_bytes
        + struct.pack(">i", len(state))
        + state
    ).digest()


@dataclass(frozen=True)
class Verification:
    intact: bool
    checked: int
    head: int
    first_bad_position: int | None = None
    problem: str = ""


def verify(
    db: Database,
    schema: str,
    *,
    key: AuditKey | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Verification:
    """Recompute the chain over every stored record, in position order; with the platform's key,
    also check every signed checkpoint against its signature and the recomputed chain."""
    s = sql.Identifier(schema)
    signed: dict[int, bytes] = {}
    if key is not None:
        for position, chain_hash, key_id, signature in db.fetchall(
            sql.SQL("SELECT notification_id, hash, key_id, signature FROM {}.checkpoints").format(s)
        ):
            valid = key_id == key.key_id and signature_valid(
                key, schema, int(position), bytes(chain_hash), bytes(signature)
            )
            if not valid:
                return Verification(
                    False, 0, 0, int(position), "a signed checkpoint's signature does not verify"
                )
            signed[int(position)] = bytes(chain_hash)
    head_row = db.fetchone(
        sql.SQL(
            "SELECT greatest((SELECT coalesce(max(notification_id), 0) FROM {s}.events),"
            " (SELECT coalesce(max(notification_id), 0) FROM {s}.chain))"
        ).format(s=s)
    )
    head = int(head_row[0]) if head_row else 0
    query = sql.SQL(
        "SELECT coalesce(e.notification_id, c.notification_id), e.notification_id, e.originator_id,"
        " e.originator_version, e.topic, e.state, c.hash"
        " FROM {s}.events e FULL JOIN {s}.chain c ON c.notification_id = e.notification_id"
        " WHERE coalesce(e.notification_id, c.notification_id) > %s"
        " ORDER BY 1 LIMIT %s"
    ).format(s=s)
    previous, after, checked = b"", 0, 0
    while rows := db.fetchall(query, (after, BATCH)):
        for position, event_id, originator_id, version, topic, state, stored in rows:
            if event_id is None:
                return Verification(
                    False, checked, head, position, "a record was deleted from the log"
                )
            if stored is None:
                return Verification(
                    False, checked, head, position, "a record was inserted into the log"
                )
            expected = record_hash(previous, position, originator_id, version, topic, bytes(state))
            if expected != bytes(stored):
                return Verification(False, checked, head, position, "a record was altered or moved")
            if position in signed and signed[position] != expected:
                return Verification(
                    False,
                    checked,
                    head,
                    position,
                    "the log up to this signed checkpoint was rewritten (chain and events alike)",
                )
            previous = expected
            checked += 1
        after = rows[-1][0]
        if progress:
            progress(checked, head)
    return Verification(True, checked, head)
