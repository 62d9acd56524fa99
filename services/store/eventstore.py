"""The grantee event log: an eventsourcing application recorder over the shared pool.

One instance per grantee schema, all borrowing from one `Database` pool (DESIGN D1). Writes
take the library's ordering guarantee: `LOCK TABLE ... IN EXCLUSIVE MODE` inside the insert
transaction, so notification ids become visible in commit order and a projection that tails
the log never skips a gap that is filled later.

`insert_events` also writes the caller's `side_effects` with the events, so they commit or
vanish together. Most are declarative (`Insert`: the access-log row, the idempotency record,
new participant keys): they become data-modifying CTEs of the very statement that appends the
events, one round trip in autocommit, with the command's log position filled in by the server.
A callable side effect (a grantee's registration, an erasure) needs a cursor of its own, so a
write holding one runs as an explicit transaction instead. `reads` are the versions of the
aggregates a command took from the process's cache: `append_checked` refuses the write if any
moved since (`StaleRead`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
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

# Where an `Insert`'s text takes the log position of its command's last event.
POSITION = "__position__"


@dataclass(frozen=True)
class Insert:
    """Rows written by the statement that appends a command's events: `statement` is one
    INSERT (`%s` parameters; `POSITION` where the command's last log position goes, 0 when it
    appended nothing), `params` its values. `then` runs once they are committed."""

    statement: str
    params: Sequence[Any]
    then: Callable[[], None] | None = None


Effect = Callable[[Cursor[TupleRow], Sequence[int]], None]
SideEffect = Effect | Insert


@dataclass(frozen=True)
class Write:
    """One caller's stored events, the side effects to commit with them and the versions of
    the aggregates it read from the cache (id, version)."""

    events: Sequence[StoredEvent]
    effects: tuple[SideEffect, ...] = ()
    reads: tuple[tuple[UUID, int], ...] = field(default=())

    @property
    def declarative(self) -> bool:
        return all(isinstance(e, Insert) for e in self.effects)


class DuplicateRequest(Exception):
    """An idempotency key was committed by a concurrent request first."""


class StaleRead(IntegrityError):
    """An aggregate the command read from the cache was changed by another writer since."""


class TenantRecorder(ApplicationRecorder):
    def __init__(self, db: Database, schema: str, *, group_commit: bool = True) -> None:
        self.db = db
        self.schema = schema
        # Statements are rendered to text once: composing them on every call costs more than
        # the round trip of a small query.
        table = sql.SQL("{}.events").format(sql.Identifier(schema)).as_string()
        # `append_events` (services/store/schema.py) takes the table lock, inserts and notifies;
        # `append_checked` first checks the versions the writes read.
        ident = sql.Identifier(schema).as_string()
        # The arrays go as binary parameters: as text psycopg hex-escapes every `bytea` of the
        # events' state (decision 92 measured 87 ms against 6.5 ms for 2,400 events).
        events = "%b::uuid[], %b::bigint[], %b::text[], %b::bytea[]"
        self._append_events = f"SELECT * FROM {ident}.append_events({events})"
        self._append_checked = (
            f"WITH ids AS (SELECT id, n FROM {ident}.append_checked({events},"
            " %b::uuid[], %b::bigint[]) WITH ORDINALITY AS t(id, n))"
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
        reads: Sequence[tuple[UUID, int]] = (),
        **_: Any,
    ) -> Sequence[int] | None:
        write = Write(stored_events, tuple(side_effects), tuple(reads))
        try:
            # Concurrent commands to this log share one transaction (groupcommit.py).
            group = self._group
            ids = self._commit_one(write) if group is None else group.submit(write)
        except psycopg.errors.UniqueViolation as e:
            if e.diag.table_name == "idempotency":
                raise DuplicateRequest(str(e)) from None
            raise IntegrityError(str(e)) from None
        except psycopg.errors.SerializationFailure as e:
            raise StaleRead(str(e)) from None
        except (psycopg.OperationalError, PoolTimeout, TooManyRequests) as e:
            raise OperationalError(str(e)) from e
        except OutcomeUnknown as e:
            raise OperationalError(str(e.__cause__)) from e.__cause__
        for effect in write.effects:
            if isinstance(effect, Insert) and effect.then is not None:
                effect.then()
        return ids

    def _commit_one(self, write: Write) -> list[int]:
        return self._commit_batch([write])[0]

    def _commit_batch(self, writes: Sequence[Write]) -> list[list[int]]:
        """All writes at once: in one statement when every side effect is an `Insert` (its
        own transaction in autocommit: a single round trip), else in one explicit
        transaction: one `append_events` for every event, then each write's side effects
        with its own positions. Not pipelined: psycopg's pipeline mode cost more client CPU
        than the round trips it saved (docs/performance.md)."""
        events = [e for w in writes for e in w.events]
        single = events and all(w.declarative for w in writes)
        with self.db.connection() as conn:
            try:
                if single:
                    with conn.cursor() as cur:
                        return self._statement(cur, writes, events)
                with conn.transaction(), conn.cursor() as cur:
                    ids = self._append(cur, events, [r for w in writes for r in w.reads])
                    results = []
                    at = 0
                    for write in writes:
                        mine = ids[at : at + len(write.events)]
                        at += len(write.events)
                        for effect in write.effects:
                            if isinstance(effect, Insert):
                                position = str(mine[-1] if mine else 0)
                                cur.execute(
                                    effect.statement.replace(POSITION, position), effect.params
                                )
                            else:
                                effect(cur, mine)
                        results.append(mine)
                    return results
            except psycopg.Error as e:
                if conn.broken or conn.closed:
                    # Whether the COMMIT reached the server is unknown.
                    raise OutcomeUnknown(e) from e
                raise

    def _statement(
        self, cur: Cursor[TupleRow], writes: Sequence[Write], events: Sequence[StoredEvent]
    ) -> list[list[int]]:
        """One statement: `append_checked` in a CTE, each `Insert` a data-modifying CTE
        reading its write's last position from it (the ordinality of that event).

        The main query reads `ids`, so the append (and the log's lock) runs first; the
        INSERTs, which the main query does not read, run to completion after it
        (PostgreSQL's `ExecPostprocessPlan`). A twin request's idempotency row is therefore
        inserted only once its statement holds the lock, as in the explicit transaction: the
        second waits for the first on the lock, never the other way round."""
        parts = [self._append_checked]
        params: list[Any] = [*_columns(events), *_columns_of_reads(w.reads for w in writes)]
        at = 0
        for write in writes:
            at += len(write.events)
            position = f"(SELECT id FROM ids WHERE n = {at})" if write.events else "0"
            for effect in write.effects:
                assert isinstance(effect, Insert)
                parts.append(f", e{len(parts)} AS ({effect.statement.replace(POSITION, position)})")
                params.extend(effect.params)
        parts.append(" SELECT id FROM ids ORDER BY n")
        cur.execute("".join(parts), params)
        ids = [row[0] for row in cur.fetchall()]
        results = []
        at = 0
        for write in writes:
            results.append(ids[at : at + len(write.events)])
            at += len(write.events)
        return results

    def _append(
        self,
        cur: Cursor[TupleRow],
        stored_events: Sequence[StoredEvent],
        reads: Sequence[tuple[UUID, int]] = (),
    ) -> list[int]:
        if not stored_events and not reads:
            return []
        if reads:
            # No event with reads: a command that changed nothing still has the versions it
            # decided on checked (`append_checked` appends nothing then).
            cur.execute(
                self._append_checked + " SELECT id FROM ids ORDER BY n",
                [*_columns(stored_events), *_columns_of_reads([reads])],
            )
        else:
            cur.execute(self._append_events, _columns(stored_events))
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


def _columns(events: Sequence[StoredEvent]) -> list[list[Any]]:
    return [
        [e.originator_id for e in events],
        [e.originator_version for e in events],
        [e.topic for e in events],
        [e.state for e in events],
    ]


def _columns_of_reads(reads: Any) -> list[list[Any]]:
    pairs = [pair for group in reads for pair in group]
    return [[p[0] for p in pairs], [p[1] for p in pairs]]
