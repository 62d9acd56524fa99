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

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Generic, TypeVar
from uuid import UUID

from psycopg import sql

from domain.participants import Participant, PersonalDetails
from projections.base import Tables
from projections.search import PersonKeys, fold, key, person_keys
from services.app import enrolment_index
from services.projector.serving import caught_up_tables
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


def caught_up_search(ledger: LedgerApplication, wait: float) -> Tables:
    """The search index once it has applied the whole log (caught up here, or waited for
    while the worker holds it): what duplicate detection compares enrolments with."""
    return caught_up_tables(ledger.db, ledger.schema, "search", wait)


def indexed_people(ledger: LedgerApplication, wait: float) -> list[PersonKeys]:
    """Everyone the search index holds once it has applied the whole log: what duplicate
    detection compares an import's rows with, read once."""
    return person_keys(ledger.db, caught_up_search(ledger, wait))


NameBorn = tuple[str, date]


def _keys(personal: PersonalDetails) -> tuple[str | None, NameBorn | None]:
    register = key(personal.bop_register_number)
    born = personal.date_of_birth
    name = fold(f"{personal.first_name} {personal.last_name}")
    return register, None if born is None else (name, born)


@dataclass
class BatchPeople:
    """Whom a batch's enrolments may duplicate, matched as enrolment matches them
    (services/app/enrolment_index.py): the participants indexed before the batch, looked up
    by the keys asked for (the batch's enrolments, all in one query: never the whole index),
    and those the batch enrolled. The enrolment index is kept by the writes themselves, so a
    participant enrolled by an earlier request is found. An indexed participant wins over
    the batch's own."""

    ledger: LedgerApplication
    wait: float
    tables: sql.Composable | None = None
    # Each key looked up, and the indexed participant it found (None: nobody).
    registers: dict[str, UUID | None] = field(default_factory=dict)
    names: dict[NameBorn, UUID | None] = field(default_factory=dict)
    # The keys of the participants the batch enrolled.
    own_registers: dict[str, UUID] = field(default_factory=dict)
    own_names: dict[NameBorn, UUID] = field(default_factory=dict)

    def look_up(self, people: Iterable[PersonalDetails]) -> None:
        """Find the indexed participants these people may duplicate (the keys not looked up
        before), in one query."""
        registers: set[str] = set()
        names: set[NameBorn] = set()
        for personal in people:
            register, name = _keys(personal)
            if register is not None and register not in self.registers:
                registers.add(register)
            if name is not None and name not in self.names:
                names.add(name)
        if not registers and not names:
            return
        if self.tables is None:
            self.tables = enrolment_index.people(self.ledger, self.wait)
        self.registers.update(dict.fromkeys(registers))
        self.names.update(dict.fromkeys(names))
        found = enrolment_index.matching(
            self.ledger.db, self.tables, sorted(registers), sorted(names)
        )
        for person_id, folded, register_key, born in found:
            if register_key in registers and self.registers[register_key] is None:
                self.registers[register_key] = person_id
            pair = None if born is None else (folded, born)
            if pair in names and self.names[pair] is None:
                self.names[pair] = person_id

    def duplicate_of(self, personal: PersonalDetails) -> tuple[str, UUID] | None:
        """The rule and the participant `personal` matches first (by register number, then
        by name and date of birth), or None."""
        self.look_up([personal])
        register, name = _keys(personal)
        if register is not None:
            found = self.registers.get(register) or self.own_registers.get(register)
            if found is not None:
                return "same_register_number", found
        if name is not None:
            found = self.names.get(name) or self.own_names.get(name)
            if found is not None:
                return "same_name_and_birth_date", found
        return None

    def enrolled(self, participant: Participant) -> None:
        """A participant the batch enrolled counts for the duplicates of the next items."""
        register, name = _keys(participant.personal)
        if register is not None:
            self.own_registers.setdefault(register, participant.id)
        if name is not None:
            self.own_names.setdefault(name, participant.id)
