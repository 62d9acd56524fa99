"""A unit of work: many commands decided in memory, their events written in one transaction.

While a `UnitOfWork` is active for a log (`deferring`; services/store/deferral.py), the ledger's
`record` writes nothing (`LedgerApplication.record` hands over to `defer`): the command's
events are mapped (personal fields encrypted) and kept with the command's side effects (its
idempotency record) as one write, and the saved aggregates are kept too, so a later command
of the same unit loads them as saved (a participant enrolled by item 0 is moved by item 1).
`commit` then writes every kept write with one `append_events` in one transaction of its own
(not through the recorder's group commit: its arrays go as binary parameters); each write's
side effects see their own positions.

Aggregates are loaded once a unit (a cohort read by 200 enrolments is one read; `prefetch`
reads many in one query) and handed out as they are. A command that changed one and was then
refused, or changed one it did not save, leaves nothing behind: at the end of each command
(`end_item`) an aggregate it touched that still holds events is rebuilt, from the log and the
events the unit's accepted commands gave it. Reads are as of the unit (a snapshot, like the
reads of commands running at the same time); writes are checked at commit as always.

The unit is optimistic, as a single command is: a concurrent writer that saved one of its
aggregates first, or committed one of its idempotency keys first, makes `commit` raise
`LostRace`; the caller decides the commands again on a fresh unit (services/app/batch.py).
A record it meant to create that exists already is named in `LostRace.existing`, so that the
next attempt refuses that command alone (409 `already_exists`, as the single command would).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import msgspec
import psycopg
import psycopg.errors
from eventsourcing.application import AggregateNotFoundError, project_aggregate
from eventsourcing.persistence import OperationalError, StoredEvent
from psycopg import Cursor, sql
from psycopg.rows import TupleRow
from psycopg_pool import PoolTimeout, TooManyRequests

from domain.common import AlreadyExists, ProwdAggregate
from services.store import deferral, keys
from services.store.eventstore import POSITION, Insert, SideEffect
from services.store.ledger import Command, IdempotentResult, LedgerApplication
from services.store.mapping import WriteContext, writing


class LostRace(Exception):
    """A concurrent writer committed first: decide the commands again.
    `existing`: records the unit meant to create that exist already."""

    def __init__(self, reason: str, existing: frozenset[UUID] = frozenset()) -> None:
        super().__init__(reason)
        self.existing = existing


@dataclass
class _Write:
    item: int
    events: list[StoredEvent]
    effects: tuple[SideEffect, ...]


@dataclass(frozen=True)
class _Stamp:
    """An aggregate's id and version as a command saved it (its idempotency record's)."""

    id: UUID
    version: int


@dataclass
class UnitOfWork:
    ledger: LedgerApplication
    # Records known to exist already (from a lost race): creating one is refused at once.
    existing: frozenset[UUID] = frozenset()
    item: int = 0
    writes: list[_Write] = field(default_factory=list)
    # Every aggregate of the unit as it stands (loaded, or saved by an accepted command).
    cache: dict[UUID, ProwdAggregate] = field(default_factory=dict)
    # The domain events the accepted commands gave each aggregate (to rebuild it).
    events: dict[UUID, list[Any]] = field(default_factory=dict)
    creates: dict[UUID, int] = field(default_factory=dict)
    touched: dict[UUID, ProwdAggregate] = field(default_factory=dict)
    # (write index, command, stamp) of each write with an idempotency key.
    keys: list[tuple[int, Command, _Stamp]] = field(default_factory=list)
    # Writes of the whole unit (the data keys of participants it enrols), run once.
    shared: list[SideEffect] = field(default_factory=list)

    def __post_init__(self) -> None:
        # One write context for the whole unit: a data key created by one command (an
        # enrolment) is found by the next that writes about the same participant.
        self.context = WriteContext(
            self.ledger.schema, {}, self._load_any, self.shared, self.ledger.db
        )

    @property
    def schema(self) -> str:
        return self.ledger.schema

    def _load_any(self, aggregate_id: UUID) -> Any:
        return self.get(aggregate_id) or self.ledger.repository.get(aggregate_id)

    def get(self, aggregate_id: UUID) -> ProwdAggregate | None:
        """The aggregate as the unit has it (loaded once from the log); None if it has none."""
        found = self.cache.get(aggregate_id)
        if found is None:
            found = self._from_log(aggregate_id)
            if found is None:
                return None
            self.cache[aggregate_id] = found
        self.touched[aggregate_id] = found
        return found

    def has(self, aggregate_id: UUID) -> bool:
        return aggregate_id in self.cache or aggregate_id in self.events

    def _from_log(self, aggregate_id: UUID) -> ProwdAggregate | None:
        try:
            found: Any = self.ledger.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return None
        return found if isinstance(found, ProwdAggregate) else None

    def prefetch(self, ids: Iterable[UUID]) -> int:
        """Load these aggregates (those the log has) in one query; how many were found."""
        wanted = [i for i in dict.fromkeys(ids) if i not in self.cache]
        if not wanted:
            return 0
        rows = self.ledger.db.fetchall(
            sql.SQL(
                "SELECT originator_id, originator_version, topic, state FROM {}.events"
                " WHERE originator_id = ANY(%s) ORDER BY originator_id, originator_version"
            ).format(sql.Identifier(self.schema)),
            (wanted,),
        )
        streams: dict[UUID, list[StoredEvent]] = {}
        for r in rows:
            streams.setdefault(r[0], []).append(StoredEvent(r[0], r[1], r[2], bytes(r[3])))
        mapper = self.ledger.mapper
        for aggregate_id, stored in streams.items():
            aggregate = project_aggregate(None, [mapper.to_domain_event(e) for e in stored])
            if isinstance(aggregate, ProwdAggregate):
                self.cache[aggregate_id] = aggregate
        return len(streams)

    def end_item(self) -> None:
        """After each command: an aggregate it changed without saving is rebuilt as the
        unit's accepted commands left it."""
        for aggregate_id, aggregate in self.touched.items():
            if aggregate.pending_events:
                self.cache.pop(aggregate_id, None)
                rebuilt = self._from_log(aggregate_id)
                for event in self.events.get(aggregate_id, ()):
                    rebuilt = event.mutate(rebuilt)
                if rebuilt is not None:
                    self.cache[aggregate_id] = rebuilt
        self.touched.clear()

    def defer(
        self,
        aggregate: ProwdAggregate,
        command: Command,
        *,
        creates: str | None,
        also: Sequence[ProwdAggregate],
        side_effects: Sequence[SideEffect],
    ) -> int:
        """Keep the command's events and side effects for `commit`; the index of its write."""
        everything = [aggregate, *also]
        if creates is not None and _is_new(aggregate):
            if aggregate.id in self.existing or self.has(aggregate.id):
                raise AlreadyExists(f"{creates} already exists")
            self.creates[aggregate.id] = self.item
        effects = [*side_effects, *command.extra_effects]
        if command.idempotency_key is not None:
            # Stamped now (later commands may change the aggregate further); all the unit's
            # keys are inserted by one statement at commit.
            self.keys.append((len(self.writes), command, _Stamp(aggregate.id, aggregate.version)))
        self.context.aggregates = {a.id: a for a in everything}
        token = writing.set(self.context)
        try:
            stored: list[StoredEvent] = []
            for a in everything:
                events = a.collect_events()
                self.events.setdefault(a.id, []).extend(events)
                stored.extend(self.ledger.mapper.to_stored_event(e) for e in events)
        finally:
            writing.reset(token)
        for a in everything:
            self.cache[a.id] = a
        self.writes.append(_Write(self.item, stored, tuple(effects)))
        return len(self.writes) - 1

    def commit(self) -> dict[int, int]:
        """Write everything kept in one transaction: each item's last position (0 for an
        item that appended nothing). `LostRace` when a concurrent writer came first."""
        events = [e for w in self.writes for e in w.events]
        if not events and not self.keys and not any(w.effects for w in self.writes):
            return {}
        spans: list[tuple[_Write, int, int]] = []
        at = 0
        for w in self.writes:
            spans.append((w, at, at + len(w.events)))
            at += len(w.events)

        after: list[Callable[[], None]] = []

        def effects(cur: Cursor[TupleRow], ids: Sequence[int]) -> None:
            for w, start, end in spans:
                for effect in w.effects:
                    _apply(cur, effect, ids[start:end], after)
            for effect in self.shared:
                _apply(cur, effect, ids, after)
            if self.keys:
                self._insert_keys(
                    cur, [ids[end - 1] if end > start else 0 for _, start, end in spans]
                )

        try:
            ids = self._write(events, effects)
        except psycopg.errors.UniqueViolation as e:
            if e.diag.table_name == "idempotency":
                raise LostRace(f"an idempotency key was committed first: {e}") from None
            raise LostRace(str(e), self._existing(self.creates)) from None
        except (psycopg.OperationalError, PoolTimeout, TooManyRequests) as e:
            raise OperationalError(str(e)) from e
        for participant_id, raw in self.context.created.items():
            keys.STORE.put(self.schema, participant_id, raw)
        for then in after:
            then()
        positions: dict[int, int] = {}
        for w, start, end in spans:
            positions[w.item] = ids[end - 1] if end > start else positions.get(w.item, 0)
        return positions

    def _write(
        self, events: list[StoredEvent], effects: Callable[[Cursor[TupleRow], Sequence[int]], None]
    ) -> list[int]:
        """One transaction: the unit's events by one `append_events` (the log's lock, the
        chain, the notification), then the side effects with their positions. The four
        arrays go as binary parameters: psycopg dumps a list as text by default, which for
        a batch's thousands of events (hex-escaped `bytea`) cost more than the statement
        (docs/performance.md); the recorder's single commands keep their own path."""
        with self.ledger.db.connection() as conn, conn.transaction(), conn.cursor() as cur:
            ids: list[int] = []
            if events:
                cur.execute(self._append, _binary_columns(events))
                ids = [row[0] for row in cur.fetchall()]
            effects(cur, ids)
            return ids

    @property
    def _append(self) -> sql.Composed:
        return sql.SQL(
            "SELECT * FROM {}.append_events(%b::uuid[], %b::bigint[], %b::text[], %b::bytea[])"
        ).format(sql.Identifier(self.schema))

    def _insert_keys(self, cur: Cursor[TupleRow], last: list[int]) -> None:
        """Every idempotency record of the unit in one statement (each as `record` writes
        one: the aggregate's id and version and the command's last position)."""
        rows = [
            (
                command.idempotency_key,
                command.fingerprint,
                command.status,
                msgspec.json.encode(IdempotentResult(stamp.id, stamp.version, last[write])),
            )
            for write, command, stamp in self.keys
        ]
        cur.execute(
            sql.SQL(
                "INSERT INTO {}.idempotency (key, fingerprint, status, body)"
                " SELECT * FROM unnest(%s::text[], %s::text[], %s::int[], %s::bytea[])"
            ).format(sql.Identifier(self.schema)),
            [list(column) for column in zip(*rows, strict=True)],
        )

    def _existing(self, ids: dict[UUID, int]) -> frozenset[UUID]:
        if not ids:
            return self.existing
        rows = self.ledger.db.fetchall(
            sql.SQL(
                "SELECT DISTINCT originator_id FROM {}.events"
                " WHERE originator_id = ANY(%s) AND originator_version = 1"
            ).format(sql.Identifier(self.schema)),
            (list(ids),),
        )
        return self.existing | {UUID(str(r[0])) for r in rows}


def _binary_columns(events: Sequence[StoredEvent]) -> list[list[Any]]:
    return [
        [e.originator_id for e in events],
        [e.originator_version for e in events],
        [e.topic for e in events],
        [e.state for e in events],
    ]


def _is_new(aggregate: ProwdAggregate) -> bool:
    pending = aggregate.pending_events
    return bool(pending) and pending[0].originator_version == 1


@contextmanager
def deferring(unit: UnitOfWork) -> Iterator[UnitOfWork]:
    """Within the block, the ledger of `unit` defers its records into it."""
    token = deferral.current.set(unit)
    try:
        yield unit
    finally:
        deferral.current.reset(token)


def replayed(
    ledger: LedgerApplication, keys_: Sequence[str]
) -> dict[str, tuple[str, int, IdempotentResult]]:
    """The first outcome of every one of these idempotency keys that committed (one query)."""
    if not keys_:
        return {}
    rows = ledger.db.fetchall(
        sql.SQL(
            "SELECT key, fingerprint, status, body FROM {}.idempotency WHERE key = ANY(%s)"
        ).format(sql.Identifier(ledger.schema)),
        (list(keys_),),
    )
    return {r[0]: (r[1], r[2], msgspec.json.decode(r[3], type=IdempotentResult)) for r in rows}


def _apply(
    cur: Cursor[TupleRow],
    effect: SideEffect,
    ids: Sequence[int],
    after: list[Callable[[], None]],
) -> None:
    """One side effect in the unit's transaction, with its write's positions: a declared
    `Insert` (its `POSITION` the write's last, its `then` kept for after the commit) or a
    write run on the cursor."""
    if isinstance(effect, Insert):
        position = str(ids[-1] if ids else 0)
        cur.execute(effect.statement.replace(POSITION, position), effect.params)
        if effect.then is not None:
            after.append(effect.then)
    else:
        effect(cur, ids)
