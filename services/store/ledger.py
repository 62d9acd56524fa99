"""Base of the event-sourced applications: one per log, all on the shared pool.

A command method loads aggregates, lets the domain decide, and records the new events in one
transaction together with the request's idempotency record (`Command`). The idempotency
record holds the aggregate id, its version and the log position, so a retried request is
answered by rendering that aggregate exactly as it stood after the first attempt.

This module is the store's face to the layers above it (use cases, API): besides the
application, `Command` and `Saved`, it re-exports what recording a command involves from the
store's internals: `SideEffect` (a write added to a command's transaction) and
`DuplicateRequest` (an idempotency key a concurrent request committed first).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Generic, TypeVar
from uuid import UUID
from zoneinfo import ZoneInfo

import msgspec
from eventsourcing.application import AggregateNotFoundError, Application, Repository
from eventsourcing.persistence import IntegrityError
from psycopg import sql

from domain import clock
from domain.common import AlreadyExists, Conflict, NotFound, ProwdAggregate
from services.store import aggregates, deferral, keys
from services.store.database import Database
from services.store.eventstore import POSITION, Insert, StaleRead, TenantRecorder
from services.store.eventstore import DuplicateRequest as DuplicateRequest
from services.store.eventstore import SideEffect as SideEffect
from services.store.mapping import MsgspecMapper, WriteContext, writing

A = TypeVar("A", bound=ProwdAggregate)
T = TypeVar("T")


@dataclass(frozen=True)
class Command:
    """What the API knows of the request that carries a command."""

    idempotency_key: str | None = None
    fingerprint: str = ""
    status: int = 200
    # Written in the command's transaction besides its events (the access-log row of the
    # response it will answer with).
    extra_effects: tuple[SideEffect, ...] = ()


class IdempotentResult(msgspec.Struct, frozen=True):
    aggregate_id: UUID
    version: int
    position: int


@dataclass(frozen=True)
class Saved(Generic[A]):
    aggregate: A
    position: int


def _mutate_each(aggregate: Any, events: Iterable[Any]) -> Any:
    """The aggregate after `events`: the library's `project_aggregate` without its per-event
    `isinstance` against a runtime-checkable protocol, which cost 4 % of an API process's CPU
    under the command benchmark (every event of the log is one of ours)."""
    for event in events:
        aggregate = event.mutate(aggregate)
    return aggregate


class LedgerRepository(Repository[UUID]):
    """The library's repository, folding events with `_mutate_each` unless told otherwise."""

    def get(self, aggregate_id: UUID, **kwargs: Any) -> Any:
        kwargs.setdefault("projector_func", _mutate_each)
        return super().get(aggregate_id, **kwargs)


class LedgerApplication(Application[UUID]):
    """An application whose log is the `events` table of one schema."""

    def __init__(
        self, db: Database, schema: str, *, group_commit: bool = True, time_zone: str = "UTC"
    ) -> None:
        self.db = db
        self.schema = schema
        self.group_commit = group_commit
        self.time_zone = time_zone
        # Aggregates served to commands from memory (services/store/aggregates.py).
        self.cache = aggregates.AggregateCache(db.settings.aggregate_cache_size)
        super().__init__(env={"IS_SNAPSHOTTING_ENABLED": "n"})
        self._idempotency_insert = (
            sql.SQL(
                "INSERT INTO {}.idempotency (key, fingerprint, status, body, position)"
                " VALUES (%s, %s, %s, %s, "
            )
            .format(sql.Identifier(schema))
            .as_string()
            + POSITION
            + ")"
        )

    def construct_repository(self) -> LedgerRepository:
        return LedgerRepository(event_store=self.events, snapshot_store=self.snapshots)

    def construct_mapper(self) -> MsgspecMapper:
        # Without a database (an in-memory application, e.g. a benchmark's generator) there is
        # no key table: events are stored without encryption. Plain days are read in the
        # grantee's zone (decision 95).
        return MsgspecMapper(
            self.schema if getattr(self, "db", None) is not None else None, self.zone
        )

    # Concurrent saves share transactions (services/store/groupcommit.py); off where a save's side
    # effects are too heavy to share one (a grantee's registration creates its whole schema).
    group_commit: bool = True
    # The grantee's IANA time zone (set by the tenancy from the registry): the calendar on which
    # its dates are read (DESIGN D10).
    time_zone: str = "UTC"

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    def local_now(self) -> datetime:
        """Now, from the clock, on the grantee's calendar: the date of what a use case stamps
        with it is the grantee's date, not UTC's."""
        return clock.now().astimezone(self.zone)

    def day_of(self, at: datetime) -> date:
        """The grantee's calendar day at instant `at` (UTC's turns over hours earlier or
        later: a rule that counts days counts the grantee's, DESIGN D10)."""
        return at.astimezone(self.zone).date()

    def construct_recorder(self) -> TenantRecorder:
        return TenantRecorder(self.db, self.schema, group_commit=self.group_commit)

    def load(self, cls: type[A], aggregate_id: UUID, what: str, version: int | None = None) -> A:
        """The aggregate (as of `version`); inside a command (`run`), from the cache if kept."""
        # A batch (services/store/unit_of_work.py): what an earlier command of it saved.
        unit = deferral.active(self.schema) if version is None else None
        deferred = None if unit is None else unit.get(aggregate_id)
        if deferred is not None:
            if not isinstance(deferred, cls):
                raise NotFound(f"{what} not found")
            return deferred
        scope = aggregates.current() if version is None else None
        aggregate: object = None
        if scope is not None and not scope.fresh:
            aggregate = self.cache.get(aggregate_id)
            if aggregate is aggregates.ABSENT:
                scope.note(self.cache, aggregate_id, 0)
                raise NotFound(f"{what} not found")
            if aggregate is not None and isinstance(aggregate, cls):
                scope.note(self.cache, aggregate_id, aggregate.version)
                return aggregate
        try:
            aggregate = self.repository.get(aggregate_id, version=version)
        except AggregateNotFoundError:
            if scope is not None:
                self.cache.put_absent(aggregate_id)
            raise NotFound(f"{what} not found") from None
        if not isinstance(aggregate, cls):
            raise NotFound(f"{what} not found")
        if scope is not None:
            self.cache.put(aggregate)
        return aggregate

    def run(self, execute: Callable[[], T], rerun_on: tuple[type[Exception], ...] = ()) -> T:
        """Run a command (a use case's call) with aggregates from the cache, rerun once from
        the log if it fails having used any (services/store/aggregates.py)."""
        return aggregates.run(execute, rerun_on)

    def exists(self, aggregate_id: UUID) -> bool:
        unit = deferral.active(self.schema)
        if unit is not None and unit.has(aggregate_id):
            return True
        return bool(self.recorder.select_events(aggregate_id, limit=1))

    def record(
        self,
        aggregate: A,
        command: Command,
        *,
        creates: str | None = None,
        also: Sequence[ProwdAggregate] = (),
        side_effects: Sequence[SideEffect] = (),
    ) -> Saved[A]:
        """Save `aggregate` (and `also`) in one transaction with the idempotency record.

        `creates` names what is created; a collision on its id means it exists already.
        Inside a batch the write is deferred to the batch's transaction (position 0 here).
        """
        unit = deferral.active(self.schema)
        if unit is not None:
            unit.defer(aggregate, command, creates=creates, also=also, side_effects=side_effects)
            return Saved(aggregate, 0)
        effects = [*side_effects, *command.extra_effects]
        if command.idempotency_key is not None:
            effects.append(self._idempotency_effect(aggregate, command))
        # Personal fields are encrypted while the events are mapped (services/store/mapping.py);
        # a participant's first one creates its data key, stored in this same transaction.
        scope = aggregates.current()
        saved: list[ProwdAggregate] = [aggregate, *also]
        # Filled further while the events are mapped (an aggregate read to find whose personal
        # fields an event holds); the recorder takes the list when it writes.
        # An aggregate saved with no new event (the command changed nothing: an enabling of an
        # endpoint the cache holds as enabled) is not checked by the log's unique key, so it
        # is checked as a read: decided on a stale copy, the command reruns from the log.
        changed = {a.id for a in saved if a.pending_events}
        reads = scope.reads(self.cache, changed) if scope is not None else []
        context = WriteContext(
            self.schema,
            {aggregate.id: aggregate, **{a.id: a for a in also}},
            lambda aggregate_id: self._peek(aggregate_id, reads),
            effects,
            self.db,
        )
        token = writing.set(context)
        try:
            recordings = self.save(aggregate, *also, side_effects=effects, reads=reads)
        except StaleRead:
            raise Conflict(
                "a record this change depends on was changed by another request; retry"
            ) from None
        except IntegrityError:
            if creates is not None:
                raise AlreadyExists(f"{creates} already exists") from None
            raise Conflict(
                "the record was changed by another request at the same time; reload and retry"
            ) from None
        finally:
            writing.reset(token)
        for participant_id, raw in context.created.items():
            keys.STORE.put(self.schema, participant_id, raw)
        if scope is not None:
            for each in saved:
                self.cache.put(each)
        return Saved(aggregate, recordings[-1].notification.id if recordings else 0)

    def _peek(self, aggregate_id: UUID, reads: list[tuple[UUID, int]]) -> Any:
        """An aggregate read while a save is mapped: from the cache inside a command (its
        version then checked by the write), else from the log."""
        scope = aggregates.current()
        if scope is not None and not scope.fresh:
            found = self.cache.get(aggregate_id)
            if found is not None and found is not aggregates.ABSENT:
                scope.note(self.cache, aggregate_id, found.version)
                reads.append((aggregate_id, found.version))
                return found
        return self.repository.get(aggregate_id)

    def _idempotency_effect(self, aggregate: ProwdAggregate, command: Command) -> SideEffect:
        # The position is the server's to fill in (the column; `body` holds 0).
        result = IdempotentResult(aggregate.id, aggregate.version, 0)
        return Insert(
            self._idempotency_insert,
            (
                command.idempotency_key,
                command.fingerprint,
                command.status,
                msgspec.json.encode(result),
            ),
        )

    def replayed(self, key: str) -> tuple[str, int, IdempotentResult] | None:
        """The first outcome of a request with this idempotency key, if it committed."""
        row = self.db.fetchone(
            sql.SQL(
                "SELECT fingerprint, status, body, position FROM {}.idempotency WHERE key = %s"
            ).format(sql.Identifier(self.schema)),
            (key,),
        )
        if row is None:
            return None
        result = msgspec.json.decode(row[2], type=IdempotentResult)
        if row[3] is not None:
            result = msgspec.structs.replace(result, position=row[3])
        return row[0], row[1], result

    def history_with_positions(self, aggregate_id: UUID) -> list[tuple[int, Any]]:
        """An aggregate's events in order, each with its position in the log."""
        recorder: TenantRecorder = self.recorder  # type: ignore[assignment]
        return [
            (position, self.mapper.to_domain_event(stored))
            for position, stored in recorder.select_stream(aggregate_id)
        ]
