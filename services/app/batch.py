"""A batch of commands in one transaction (decision 89).

`run_batch` hands `decide` a fresh unit of work (services/store/unit_of_work.py) and the
first outcomes of the batch's idempotency keys, read in one query. `decide` runs the commands
one after the other through the ordinary use cases; their records are deferred into the unit,
and each command sees what the earlier ones saved. Then the unit commits: every accepted
command's events in one transaction. When a concurrent writer came first (it saved one of the
batch's aggregates, or committed one of its keys, or created a record the batch meant to
create), the commands are decided again from the start on a fresh unit, up to `ATTEMPTS`
times; nothing of a lost attempt was written. After that, `BatchContended`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar
from uuid import UUID

from projections.search import PersonKeys, person_keys
from services.projector import live as projector
from services.projector.serving import live_tables
from services.store.ledger import IdempotentResult, LedgerApplication
from services.store.unit_of_work import LostRace, UnitOfWork, deferring, replayed

T = TypeVar("T")
ATTEMPTS = 3

# An idempotency key's first outcome: its request fingerprint, status and result.
Prior = tuple[str, int, IdempotentResult]


class BatchContended(Exception):
    """Concurrent writers won every attempt: nothing of the batch was written."""


@dataclass
class Attempt:
    """What one attempt at a batch decides with."""

    unit: UnitOfWork
    # The first outcomes of the batch's keys that had committed when the attempt began.
    prior: dict[str, Prior]
    number: int


@dataclass
class Outcome(Generic[T]):
    decided: T
    # Each accepted item's last log position (items by index; 0: it appended nothing).
    positions: dict[int, int]
    attempts: int


def run_batch(
    ledger: LedgerApplication,
    keys: Sequence[str],
    decide: Callable[[Attempt], T],
    *,
    attempts: int = ATTEMPTS,
) -> Outcome[T]:
    """Decide the batch's commands with `decide`, then commit them in one transaction."""
    existing: frozenset[UUID] = frozenset()
    for number in range(1, attempts + 1):
        unit = UnitOfWork(ledger, existing)
        with ledger.db.session():
            prior = replayed(ledger, keys)
            with deferring(unit):
                decided = decide(Attempt(unit, prior, number))
            try:
                positions = unit.commit()
            except LostRace as lost:
                existing = lost.existing
                continue
        return Outcome(decided, positions, number)
    raise BatchContended(f"concurrent writers won {attempts} attempts; send the batch again")


def indexed_people(ledger: LedgerApplication, wait: float) -> list[PersonKeys]:
    """Everyone the search index holds once it has applied the whole log: what duplicate
    detection compares a batch's enrolments (and an import's rows) with, read once."""
    db, schema = ledger.db, ledger.schema
    projector.drain(db, schema, only="search")
    with db.transaction() as cur:
        head = projector.log_head(cur, schema)
    return person_keys(db, live_tables(db, schema, "search", head, wait))
