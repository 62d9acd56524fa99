"""Verifying a grantee's log against its hash chain (DESIGN D7).

Each stored record's hash is SHA-256 over the previous record's hash and the record: its
position, stream (originator id), version, topic and stored bytes, each length-prefixed where
its length varies. `append_events` (services/store/schema.py) writes the chain in the same statement
as the events; this module recomputes it from the events alone and names the first position
where the log and the chain part ways: a record altered, deleted, inserted or moved.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from psycopg import sql

from services.audit.checkpoints import message
from services.audit.keys import KeySet
from services.store.database import Database

BATCH = 20_000


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


# The named verdicts (docs/audit.md) and the exit code `prowd verify` gives each.
INTACT, TAMPERED, UNKNOWN_KEY, OUTSIDE_VALIDITY = (
    "intact",
    "tampered",
    "unknown_key",
    "outside_validity",
)
EXIT_CODES = {INTACT: 0, TAMPERED: 1, UNKNOWN_KEY: 3, OUTSIDE_VALIDITY: 4}
# An intact chain with events after its last signed head, when signatures are required
# (`prowd verify --require-signed`; the standalone verifier requires them by default).
UNSIGNED_TAIL_EXIT = 5


@dataclass(frozen=True)
class Verification:
    intact: bool
    checked: int
    head: int
    first_bad_position: int | None = None
    problem: str = ""
    verdict: str = INTACT
    # Where the first bad record lies when only a range is known (a signed head the rewritten
    # log misses): `first_bad_position` is then None.
    span: tuple[int, int] | None = None
    # How far the signatures reach on an intact chain: the last signed head the chain passes
    # through (0 for none), and the events after it, which the chain alone holds together
    # (a rewrite that recomputed their hashes would leave it intact): how many and from which
    # position to which.
    signed_through: int = 0
    unsigned: int = 0
    tail: tuple[int, int] | None = None

    @property
    def bad_from(self) -> int | None:
        return self.span[0] if self.span else self.first_bad_position

    @property
    def bad_through(self) -> int | None:
        return self.span[1] if self.span else self.first_bad_position

    def summary(self) -> str:
        """The verdict in words: `intact`, `tampered at position N: ...`, `tampered at or before
        position N: ...` (a signed head missed), `unknown key id K at position N`, `checkpoint
        outside its key's validity at position N: ...`."""
        if self.verdict == INTACT:
            return "intact"
        if self.verdict == UNKNOWN_KEY:
            return self.problem
        if self.span:
            return f"tampered at or before position {self.span[1]}: {self.problem}"
        prefix = "tampered" if self.verdict == TAMPERED else "checkpoint outside its key's validity"
        return f"{prefix} at position {self.first_bad_position}: {self.problem}"


def unsigned_tail(signed_through: int, unsigned: int, tail: tuple[int, int] | None) -> str:
    """The events of an intact chain that no signature covers, in words: `K events after the
    last checkpoint (positions A through B) are chained but not covered by a signature`. The
    chain holds them together but proves nothing about them: whoever can write the log can
    rewrite them and recompute their hashes. tools/prowd_audit_verify.py words it alike."""
    first, last = tail or (0, 0)
    span = f"position {first}" if first == last else f"positions {first} through {last}"
    after = " after the last checkpoint" if signed_through else ""
    return (
        f"{unsigned} event{'' if unsigned == 1 else 's'}{after} ({span})"
        f" {'is' if unsigned == 1 else 'are'} chained but not covered by a signature"
    )


def contradiction(position: int, what: str, proven: int, proven_by: str) -> str:
    """A signed head at `position` the recomputed chain misses. The chain matched the last head
    before it (`proven`, 0 for none), so only this is known: some record after `proven` and at
    or before `position` changed. tools/prowd_audit_verify.py words it alike."""
    where = (
        f"some record from position {proven + 1} through {position}"
        if proven
        else f"some record at or before position {position}"
    )
    by_signature = (
        f"events verified by signature: through the previous {proven_by} at {proven}"
        if proven
        else "no earlier checkpoint: no event is verified by signature"
    )
    return (
        f"the log through position {position} does not match the {what} at {position}:"
        f" {where} was changed (chain and events alike); {by_signature}"
    )


HELD = "signed head held outside the platform"


def check_checkpoints(
    db: Database, schema: str, keys: KeySet
) -> tuple[dict[int, bytes], Verification | None]:
    """Every signed checkpoint against the published keys: its key known, its signing time
    within that key's validity, its signature good. The signed hashes by position, or the
    first failing checkpoint's verdict."""
    signed: dict[int, bytes] = {}
    rows = db.fetchall(
        sql.SQL(
            "SELECT notification_id, hash, key_id, signature, signed_at FROM {}.checkpoints"
            " ORDER BY notification_id"
        ).format(sql.Identifier(schema))
    )
    for position, chain_hash, kid, signature, signed_at in rows:
        at, digest = int(position), bytes(chain_hash)
        key = keys.get(str(kid))
        if key is None:
            return signed, Verification(
                False, 0, 0, at, f"unknown key id {kid} at position {at}", UNKNOWN_KEY
            )
        if not key.valid_at(signed_at):
            return signed, Verification(
                False,
                0,
                0,
                at,
                f"signed at {signed_at.isoformat()} by key {kid}, valid from"
                f" {key.not_before} until {key.not_after}",
                OUTSIDE_VALIDITY,
            )
        if not key.verifies(bytes(signature), message(schema, at, digest)):
            return signed, Verification(
                False, 0, 0, at, "a signed checkpoint's signature does not verify", TAMPERED
            )
        signed[at] = digest
    return signed, None


def verify(
    db: Database,
    schema: str,
    *,
    keys: KeySet | None = None,
    progress: Callable[[int, int], None] | None = None,
    held: Mapping[int, bytes] | None = None,
) -> Verification:
    """Recompute the chain over every stored record, in position order; with the published
    public keys, also check every signed checkpoint (`check_checkpoints`) against the
    recomputed chain, and that none lies beyond the log's head (the end of the log cut off:
    truncation). No private key is needed. `held`: signed heads collected outside the platform
    (`audit.checkpoint` webhooks, already checked against the keys), by position: the chain
    must pass through each of them too."""
    held = held or {}
    s = sql.Identifier(schema)
    signed: dict[int, bytes] = {}
    if keys is not None:
        signed, failed = check_checkpoints(db, schema, keys)
        if failed is not None:
            return failed
    head_row = db.fetchone(
        sql.SQL(
            "SELECT greatest((SELECT coalesce(max(notification_id), 0) FROM {s}.events),"
            " (SELECT coalesce(max(notification_id), 0) FROM {s}.chain))"
        ).format(s=s)
    )
    head = int(head_row[0]) if head_row else 0
    # Two ordered passes, side by side: the log and the chain, each by position (index
    # order, no sort), through server-side cursors fetched in large batches in binary, merged
    # here as a full join on the position. The server lays out each stored record exactly as
    # `record_hash` does (position, stream, version, topic and state, length-prefixed), so the
    # loop below only hashes; the position in the record is the event's own.
    events = sql.SQL(
        "SELECT notification_id, int8send(notification_id) || uuid_send(originator_id)"
        " || int8send(originator_version) || int4send(octet_length(topic))"
        " || convert_to(topic, 'UTF8') || int4send(octet_length(state)) || state"
        " FROM {s}.events ORDER BY notification_id"
    ).format(s=s)
    chain = sql.SQL("SELECT notification_id, hash FROM {s}.chain ORDER BY notification_id").format(
        s=s
    )
    previous, checked, unsigned_from, position = b"", 0, 0, 0
    proven: tuple[int, str, int] = (0, "", 0)  # the last signed head matched: position, kind, count
    sha256 = hashlib.sha256
    done = object()
    with (
        db.connection() as conn,
        conn.transaction(),
        conn.cursor(name="prowd_verify_events", binary=True) as log_cur,
        conn.cursor(name="prowd_verify_chain", binary=True) as chain_cur,
    ):
        log_rows = _stream(log_cur, events)
        chain_rows = _stream(chain_cur, chain)
        event: Any = next(log_rows, done)
        link: Any = next(chain_rows, done)
        while event is not done or link is not done:
            if link is done or (event is not done and event[0] < link[0]):
                return Verification(
                    False, checked, head, event[0], "a record was inserted into the log", TAMPERED
                )
            if event is done or link[0] < event[0]:
                return Verification(
                    False, checked, head, link[0], "a record was deleted from the log", TAMPERED
                )
            position = event[0]
            expected = sha256(previous + event[1]).digest()
            if expected != link[1]:
                return Verification(
                    False, checked, head, position, "a record was altered or moved", TAMPERED
                )
            for heads, what, kind in (
                (signed, "signed checkpoint", "checkpoint"),
                (held, HELD, HELD),
            ):
                if heads and position in heads:
                    if heads[position] != expected:
                        return Verification(
                            False,
                            proven[2],
                            head,
                            None,
                            contradiction(position, what, proven[0], proven[1]),
                            TAMPERED,
                            (proven[0] + 1, position),
                        )
                    proven = (position, kind, checked + 1)
            if proven[0] == position:
                unsigned_from = 0
            elif not unsigned_from:
                unsigned_from = position
            previous = expected
            checked += 1
            if progress and checked % BATCH == 0:
                progress(checked, head)
            event = next(log_rows, done)
            link = next(chain_rows, done)
    if progress:
        progress(checked, head)
    beyond = max([*signed, *held], default=0)
    if beyond > head:
        # What is left may be a consistent prefix, but a signature proves the log once reached
        # further: its end was cut off.
        return Verification(
            False,
            checked,
            head,
            head + 1,
            f"truncated after position {head}: a signed checkpoint stands at position {beyond}",
            TAMPERED,
        )
    unsigned = checked - proven[2]
    return Verification(
        True,
        checked,
        head,
        signed_through=proven[0],
        unsigned=unsigned,
        tail=(unsigned_from, position) if unsigned else None,
    )


def _stream(cur: Any, query: sql.Composed) -> Iterator[Any]:
    cur.itersize = BATCH
    cur.execute(query)
    while rows := cur.fetchmany(BATCH):
        yield from rows
