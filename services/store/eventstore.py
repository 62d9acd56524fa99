"""The grantee event log: an eventsourcing application recorder over the shared pool.

One instance per grantee schema, all borrowing from one `Database` pool (DESIGN D1). Writes
take the library's ordering guarantee: `LOCK TABLE ... IN EXCLUSIVE MODE` inside the insert
transaction, so notification ids become visible in commit order and a projection that tails
the log never skips a gap that is filled later.

`insert_events` also runs the caller's `side_effects` inside the same transaction (the
idempotency record of the request, the grantee registry row, ...), so they commit or vanish
with the events.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any
from uuid import UUID

import psycopg
import psycopg.errors
from eventsourcing.persistence import (
    ApplicationRecorder,
    IntegrityError,
    Notification,
    OperationalError,
    StoredEvent,
    Subscription,
)
from psycopg import Cursor, sql
from psycopg.rows import TupleRow
from psycopg_pool import PoolTimeout, TooManyRequests

from services.store.database import Database
from services.store.groupcommit import GroupCommit, OutcomeUnknown

SideEffect = Callable[[Cursor[TupleRow], Sequence[int]], None]
# One caller's stored events and the side effects to commit with them.
Write = tuple[Sequence[StoredEvent], tuple[SideEffect, ...]]


class DuplicateRequest(Exception):
    """An idempotency key was committed by a concurrent request first."""


class TenantRecorder(ApplicationRecorder):
    def __init__(self, db: Database, schema: str, *, group_commit: bool = True) -> None:
        self.db = db
        self.schema = schema
        # Statements are rendered to text once: composing them on every call costs more than
        # the round trip of a small query.
        table = sql.SQL("{}.events").format(sql.Identifier(schema)).as_string()
        # `append_events` (services/store/schema.py) takes the table lock, inserts and notifies.
        self._append_events = (
            sql.SQL("SELECT * FROM {}.append_events(%s, %s, %s, %s)")
            .format(sql.Identifier(schema))
            .as_string()
        )
        self._select_events = (
            "SELECT originator_id, originator_version, topic, state"
            f" FROM {table} WHERE originator_id = %s"
        )
        self._select_notifications = (
            "SELECT notification_id, originator_id, originator_version, topic, state"
            f" FROM {table} WHERE notification_id > %s"
        )
        self._select_stream = (
            "SELECT notification_id, originator_id, originator_version, topic, state"
            f" FROM {table} WHERE originator_id = %s ORDER BY originator_version"
        )
        self._max_id = f"SELECT max(notification_id) FROM {table}"
        # One group per log and process, whichever application instance writes to it.
        batch = db.settings.group_commit_max
        self._group: GroupCommit[Write, list[int]] | None = None
        if group_commit and batch > 1:
            self._group = db.group_commit(
                schema, lambda: GroupCommit(self._commit_batch, self._commit_one, max_batch=batch)
            )

    def insert_events(
        self,
        stored_events: Sequence[StoredEvent],
        *,
        side_effects: Sequence[SideEffect] = (),
        **_: Any,
    ) -> Sequence[int] | None:
        write = (stored_events, tuple(side_effects))
        try:
            if self._group is None:
                return self._commit_one(write)
            # Concurrent commands to this log share one transaction (services/store/groupcommit.py).
            return self._group.submit(write)
        except psycopg.errors.UniqueViolation as e:
            if e.diag.table_name == "idempotency":
                raise DuplicateRequest(str(e)) from None
            raise IntegrityError(str(e)) from None
        except (psycopg.OperationalError, PoolTimeout, TooManyRequests) as e:
            raise OperationalError(str(e)) from e
        except OutcomeUnknown as e:
            raise OperationalError(str(e.__cause__)) from e.__cause__

    def _commit_one(self, write: Write) -> list[int]:
        stored_events, side_effects = write
        if side_effects:
            return self._commit_batch([write])[0]
        with self.db.connection() as conn, conn.cursor() as cur:
            # One statement, its own transaction: a single round trip.
            return self._append(cur, stored_events)

    def _commit_batch(self, writes: Sequence[Write]) -> list[list[int]]:
        """All writes in one transaction: one `append_events` for every event, then each
        write's side effects with its own positions. Not pipelined: psycopg's pipeline mode
        cost more client CPU than the round trips it saves (docs/performance.md)."""
        events = [e for stored, _ in writes for e in stored]
        with self.db.connection() as conn:
            try:
                with conn.transaction(), conn.cursor() as cur:
                    ids = self._append(cur, events)
                    results = []
                    at = 0
                    for stored, effects in writes:
                        mine = ids[at : at + len(stored)]
                        at += len(stored)
                        for effect in effects:
                            effect(cur, mine)
                        results.append(mine)
                    return results
            except psycopg.Error as e:
                if conn.broken or conn.closed:
                    # Whether the COMMIT reached the server is unknown.
                    raise OutcomeUnknown(e) from e
                raise

    def _append(self, cur: Cursor[TupleRow], stored_events: Sequence[StoredEvent]) -> list[int]:
        if not stored_events:
            return []
        cur.execute(
            self._append_events,
            (
                [e.originator_id for e in stored_events],
                [e.originator_version for e in stored_events],
                [e.topic for e in stored_events],
                [e.state for e in stored_events],
            ),
        )
        return [row[0] for row in cur.fetchall()]

    def select_events(
        self,
        originator_id: UUID | str,
        *,
        gt: int | None = None,
        lte: int | None = None,
        desc: bool = False,
        limit: int | None = None,
    ) -> Sequence[StoredEvent]:
        query = self._select_events
        params: list[Any] = [originator_id]
        if gt is not None:
            query += " AND originator_version > %s"
            params.append(gt)
        if lte is not None:
            query += " AND originator_version <= %s"
            params.append(lte)
        query += " ORDER BY originator_version DESC" if desc else " ORDER BY originator_version"
        if limit is not None:
            query += " LIMIT %s"
            params.append(limit)
        try:
            rows = self.db.fetchall(query, params)
        except (psycopg.OperationalError, PoolTimeout, TooManyRequests) as e:
            raise OperationalError(str(e)) from e
        return [StoredEvent(r[0], r[1], r[2], bytes(r[3])) for r in rows]

    def select_notifications(
        self,
        start: int | None,
        limit: int,
        stop: int | None = None,
        topics: Sequence[str] = (),
        *,
        inclusive_of_start: bool = True,
    ) -> Sequence[Notification]:
        after = 0 if start is None else (start - 1 if inclusive_of_start else start)
        query = self._select_notifications
        params: list[Any] = [after]
        if stop is not None:
            query += " AND notification_id <= %s"
            params.append(stop)
        if topics:
            query += " AND topic = ANY(%s)"
            params.append(list(topics))
        query += " ORDER BY notification_id LIMIT %s"
        params.append(limit)
        rows = self.db.fetchall(query, params)
        return [
            Notification(
                id=r[0], originator_id=r[1], originator_version=r[2], topic=r[3], state=bytes(r[4])
            )
            for r in rows
        ]

    def select_stream(self, originator_id: UUID) -> list[tuple[int, StoredEvent]]:
        """One aggregate's events with their log positions, in version order."""
        rows = self.db.fetchall(self._select_stream, (originator_id,))
        return [(r[0], StoredEvent(r[1], r[2], r[3], bytes(r[4]))) for r in rows]

    def max_notification_id(self) -> int | None:
        row = self.db.fetchone(self._max_id)
        return None if row is None else row[0]

    def subscribe(
        self, gt: int | None = None, topics: Sequence[str] = ()
    ) -> Subscription[ApplicationRecorder]:
        # Projections follow logs with their own poll-plus-LISTEN worker (DESIGN D3).
        raise NotImplementedError("use services.workers to follow grantee logs")
