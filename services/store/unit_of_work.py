"""A unit of work: many commands decided in memory, their events written in one transaction.

While a `UnitOfWork` is active for a log (`deferring`; services/store/deferral.py), the ledger's
`record` writes nothing (`LedgerApplication.record` hands over to `defer`): the command's
events are mapped (personal fields encrypted) and kept with the command's side effects (its
idempotency record) as one write, and the saved aggregates are kept too, so a later command
of the same unit loads them as saved (a participant enrolled by item 0 is moved by item 1).
`commit` then writes every kept write with one `append_events` in one transaction; each
write's side effects see their own positions.

A command refused after it changed an aggregate leaves nothing behind: a kept aggregate is
handed out as a copy, and only `defer` puts a changed one back.

The unit is optimistic, as a single command is: a concurrent writer that saved one of its
aggregates first, or committed one of its idempotency keys first, makes `commit` raise
`LostRace`; the caller decides the commands again on a fresh unit (services/app/batch.py).
A record it meant to create that exists already is named in `LostRace.existing`, so that the
next attempt refuses that command alone (409 `already_exists`, as the single command would).
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import msgspec
from eventsourcing.persistence import IntegrityError, StoredEvent
from psycopg import Cursor, sql
from psycopg.rows import TupleRow

from domain.common import AlreadyExists, ProwdAggregate
from services.store import deferral, keys
from services.store.eventstore import DuplicateRequest, SideEffect
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


@dataclass
class UnitOfWork:
    ledger: LedgerApplication
    # Records known to exist already (from a lost race): creating one is refused at once.
    existing: frozenset[UUID] = frozenset()
    item: int = 0
    writes: list[_Write] = field(default_factory=list)
    saved: dict[UUID, ProwdAggregate] = field(default_factory=dict)
    creates: dict[UUID, int] = field(default_factory=dict)
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
        """The aggregate as an earlier command of this unit saved it (a copy), if one did."""
        found = self.saved.get(aggregate_id)
        return None if found is None else copy.deepcopy(found)

    def has(self, aggregate_id: UUID) -> bool:
        return aggregate_id in self.saved

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
            if aggregate.id in self.existing or aggregate.id in self.saved:
                raise AlreadyExists(f"{creates} already exists")
            self.creates[aggregate.id] = self.item
        effects = [*side_effects, *command.extra_effects]
        if command.idempotency_key is not None:
            effects.append(self.ledger._idempotency_effect(aggregate, command))
        self.context.aggregates = {a.id: a for a in everything}
        token = writing.set(self.context)
        try:
            stored = [
                self.ledger.mapper.to_stored_event(e)
                for a in everything
                for e in a.collect_events()
            ]
        finally:
            writing.reset(token)
        for a in everything:
            self.saved[a.id] = a
        self.writes.append(_Write(self.item, stored, tuple(effects)))
        return len(self.writes) - 1

    def commit(self) -> dict[int, int]:
        """Write everything kept in one transaction: each item's last position (0 for an
        item that appended nothing). `LostRace` when a concurrent writer came first."""
        events = [e for w in self.writes for e in w.events]
        if not events and not any(w.effects for w in self.writes):
            return {}
        spans: list[tuple[_Write, int, int]] = []
        at = 0
        for w in self.writes:
            spans.append((w, at, at + len(w.events)))
            at += len(w.events)

        def effects(cur: Cursor[TupleRow], ids: Sequence[int]) -> None:
            for w, start, end in spans:
                for effect in w.effects:
                    effect(cur, ids[start:end])
            for effect in self.shared:
                effect(cur, ids)

        try:
            ids = self.ledger.recorder.insert_events(events, side_effects=[effects]) or []
        except DuplicateRequest as e:
            raise LostRace(f"an idempotency key was committed first: {e}") from None
        except IntegrityError as e:
            raise LostRace(str(e), self._existing(self.creates)) from None
        for participant_id, raw in self.context.created.items():
            keys.STORE.put(self.schema, participant_id, raw)
        positions: dict[int, int] = {}
        for w, start, end in spans:
            positions[w.item] = ids[end - 1] if end > start else positions.get(w.item, 0)
        return positions

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
