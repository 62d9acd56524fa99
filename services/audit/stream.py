"""The stored log as an auditor reads it: its head, the range of a page, and the stored
records with the chain hash kept beside each (DESIGN D7). Read straight from the grantee's
`events` and `chain` tables: no view stands between an auditor and the log."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from uuid import UUID

from eventsourcing.persistence import StoredEvent
from psycopg import sql

from projections.query import Reader


@dataclass(frozen=True)
class Logged:
    """One stored record of the log and its chain hash (None where the chain has none)."""

    position: int
    originator_id: UUID
    version: int
    topic: str
    state: bytes
    hash: bytes | None

    def stored(self) -> StoredEvent:
        return StoredEvent(self.originator_id, self.version, self.topic, self.state)


def head(db: Reader, schema: str) -> int:
    """The log's last position (0 when empty)."""
    row = db.fetchone(
        sql.SQL("SELECT coalesce(max(notification_id), 0) FROM {}.events").format(
            sql.Identifier(schema)
        )
    )
    return int(row[0]) if row else 0


def page_range(db: Reader, schema: str, after: int, limit: int) -> tuple[int, int]:
    """How many records follow `after` (at most `limit`) and the position of the last of them
    (`after` when none does)."""
    row = db.fetchone(
        sql.SQL(
            "SELECT count(*), max(notification_id) FROM (SELECT notification_id FROM {}.events"
            " WHERE notification_id > %s ORDER BY notification_id LIMIT %s) page"
        ).format(sql.Identifier(schema)),
        (after, limit),
    )
    return (int(row[0]), int(row[1])) if row and row[1] is not None else (0, after)


def records(db: Reader, schema: str, after: int, upto: int, batch: int) -> Iterator[list[Logged]]:
    """The records after `after` up to `upto`, in log order, `batch` a round trip: memory
    stays flat however long the range, and no connection is held between batches."""
    s = sql.Identifier(schema)
    query = sql.SQL(
        "SELECT e.notification_id, e.originator_id, e.originator_version, e.topic, e.state, c.hash"
        " FROM {s}.events e LEFT JOIN {s}.chain c ON c.notification_id = e.notification_id"
        " WHERE e.notification_id > %s AND e.notification_id <= %s"
        " ORDER BY e.notification_id LIMIT %s"
    ).format(s=s)
    while after < upto:
        rows = db.fetchall(query, (after, upto, batch))
        if not rows:
            return
        yield [
            Logged(
                position,
                originator_id,
                version,
                topic,
                bytes(state),
                None if chain_hash is None else bytes(chain_hash),
            )
            for position, originator_id, version, topic, state, chain_hash in rows
        ]
        after = rows[-1][0]
