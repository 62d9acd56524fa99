"""Aggregates kept in the process between commands, checked when a command writes.

A command used to read every aggregate it needs from the log (a held meeting: the meeting, its
pairing, the mentor, the participant, the cohort, the policy; an enrolment: the cohort), one
round trip each. Inside a command (`run`), `LedgerApplication.load` serves them from a bounded
LRU per log instead, and the write is checked against the log:
- an aggregate the command saves is appended at the cached version + 1, so a stale one collides
  with the log's unique (originator_id, version);
- an aggregate it only read goes with its version to `append_checked`, which refuses the write
  if the log holds a later version (`StaleRead`), after taking the log's ordering lock.
A command that fails having used cached aggregates (a stale write, or a rule refused on state
that may be stale), or that lost a race to another writer (`Conflict`), evicts them and runs
once more, reading everything from the log: the user never sees a conflict or a refusal that
the current state would not give. The rerun decides afresh (the domain's rules are checked
again on the state the other writer left), so nothing is lost; a second conflict is the
user's 409.

Aggregates are mutable and commands mutate them: the cache hands out copies and keeps copies,
so a command that fails after mutating its aggregate leaves nothing behind. A copy is kept as
its pickle and handed out unpickled: `copy.deepcopy`, in Python, cost a tenth of the API
process's CPU under the command benchmark (a mentor's clearances and trainings copied at each
meeting), the pickle module, in C, a fraction of it. Outside a command
(queries) nothing is served from here: a read never shows a state older than the log's.
"""

from __future__ import annotations

import contextlib
import pickle
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, TypeVar
from uuid import UUID

from domain.common import Conflict, DomainError

T = TypeVar("T")


class _Absent:
    version = 0


ABSENT: Any = _Absent()


class AggregateCache:
    """The latest known state of up to `capacity` aggregates of one log."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._lock = threading.Lock()
        # id -> ABSENT, or (version, the aggregate's pickle)
        self._items: OrderedDict[UUID, Any] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def get(self, aggregate_id: UUID) -> Any | None:
        """A copy of the cached aggregate (the caller may mutate it), `ABSENT` if the log had
        none, or None if nothing is known."""
        with self._lock:
            found = self._items.get(aggregate_id)
            if found is None:
                self.misses += 1
                return None
            self._items.move_to_end(aggregate_id)
            self.hits += 1
        return found if found is ABSENT else pickle.loads(found[1])

    def put_absent(self, aggregate_id: UUID) -> None:
        """The log has no such aggregate (a grantee without its own policy): a command that
        relies on that is checked as having read version 0."""
        if self.capacity <= 0:
            return
        with self._lock:
            self._items.setdefault(aggregate_id, ABSENT)
            self._trim()

    def put(self, aggregate: Any) -> None:
        """Keep a copy of `aggregate` unless a later version is kept already."""
        if self.capacity <= 0:
            return
        copy = (aggregate.version, pickle.dumps(aggregate, pickle.HIGHEST_PROTOCOL))
        with self._lock:
            kept = self._items.get(aggregate.id)
            if kept is not None and kept is not ABSENT and kept[0] > copy[0]:
                return
            self._items[aggregate.id] = copy
            self._items.move_to_end(aggregate.id)
            self._trim()

    def _trim(self) -> None:
        while len(self._items) > self.capacity:
            self._items.popitem(last=False)

    def evict(self, aggregate_id: UUID) -> None:
        with self._lock:
            self._items.pop(aggregate_id, None)

    def __len__(self) -> int:
        return len(self._items)


@dataclass
class Scope:
    """One run of a command: the aggregates it was served from caches, with their versions."""

    fresh: bool = False
    served: dict[tuple[int, UUID], tuple[AggregateCache, int]] = field(default_factory=dict)

    def note(self, cache: AggregateCache, aggregate_id: UUID, version: int) -> None:
        self.served[(id(cache), aggregate_id)] = (cache, version)

    def reads(self, cache: AggregateCache, saved: set[UUID]) -> list[tuple[UUID, int]]:
        """The versions to check at the write: what was served from `cache` and is not saved
        (a saved aggregate is checked by the log's unique key)."""
        return [
            (aggregate_id, version)
            for (key, aggregate_id), (_, version) in self.served.items()
            if key == id(cache) and aggregate_id not in saved
        ]

    def evict(self) -> None:
        for (_, aggregate_id), (cache, _) in self.served.items():
            cache.evict(aggregate_id)


_scope: ContextVar[Scope | None] = ContextVar("aggregate_scope", default=None)


def current() -> Scope | None:
    """The command being run, if any (`LedgerApplication.load` serves from caches only then)."""
    return _scope.get()


@contextlib.contextmanager
def _running(scope: Scope) -> Iterator[Scope]:
    token = _scope.set(scope)
    try:
        yield scope
    finally:
        _scope.reset(token)


def run(execute: Callable[[], T], rerun_on: tuple[type[Exception], ...] = ()) -> T:
    """Run a command with cached aggregates; if it fails with a domain error (a conflict
    included; `rerun_on`: other refusals the caller makes on aggregates it read, e.g. an access
    check) after using any, evict them and run it once more from the log."""
    if _scope.get() is not None:
        return execute()  # a command inside a command: the outer run decides
    refusals: tuple[type[Exception], ...] = (DomainError, *rerun_on)
    with _running(Scope()) as scope:
        try:
            return execute()
        except refusals as refused:
            # A conflict is a race lost to another writer: the state it was decided on is
            # gone, cached or not. Any other refusal counts only if cached state was used.
            if not scope.served and not isinstance(refused, Conflict):
                raise
            scope.evict()
    with _running(Scope(fresh=True)):
        return execute()
