"""Group commit: the writes of concurrent commands to one log share one transaction.

A grantee's log takes one writer at a time (`append_events` locks the table so positions
become visible in commit order, DESIGN D3), so single-command transactions queue behind each
other and the log tops out at the commit rate of one connection. Here a thread that arrives
while another is committing to the same log waits in a queue instead; when the commit in
flight ends, the first waiter becomes the next leader and commits everything queued in one
transaction. Nothing is delayed on purpose: an idle log commits a lone write at once, and the
batches grow only as fast as writers pile up.

Per-command semantics are kept: each caller gets its own positions or its own exception. A
batch whose transaction fails for any reason other than a lost connection is rolled back
and each of its writes is committed alone, so one command's optimistic-concurrency conflict
or duplicate idempotency key fails that command only. A lost connection fails the whole
batch (as it would a single write): whether the commit landed is unknown, and the callers
retry with their idempotency keys.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

W = TypeVar("W")  # one caller's write
R = TypeVar("R")  # its result


class OutcomeUnknown(Exception):
    """A batch's connection broke: its commit may or may not have landed (the cause says why)."""


@dataclass
class _Slot(Generic[W, R]):
    write: W
    done: threading.Event = field(default_factory=threading.Event)
    lead: bool = False
    result: R | None = None
    error: BaseException | None = None


@dataclass
class Stats:
    """Counters for tests, benchmarks and metrics (read without the lock: figures, not facts)."""

    batches: int = 0
    writes: int = 0
    largest: int = 0
    fallbacks: int = 0


class GroupCommit(Generic[W, R]):
    """Leader/follower batching of `commit_batch` over the writes of concurrent threads.

    `commit_batch(writes)` commits all of them in one transaction and returns their results
    in order, or raises; `commit_one(write)` commits one alone (the fallback, and the path
    of a batch of one).
    """

    def __init__(
        self,
        commit_batch: Callable[[Sequence[W]], list[R]],
        commit_one: Callable[[W], R],
        *,
        max_batch: int = 64,
    ) -> None:
        self._commit_batch = commit_batch
        self._commit_one = commit_one
        self._max = max(1, max_batch)
        self._lock = threading.Lock()
        self._queue: list[_Slot[W, R]] = []
        self._busy = False
        self.stats = Stats()

    @property
    def waiting(self) -> int:
        return len(self._queue)

    def submit(self, write: W) -> R:
        slot: _Slot[W, R] = _Slot(write)
        with self._lock:
            if self._busy:
                self._queue.append(slot)
            else:
                self._busy = True
                slot.lead = True
        if not slot.lead:
            slot.done.wait()
        if slot.lead:
            self._run(slot)
        if slot.error is not None:
            raise slot.error
        return slot.result  # type: ignore[return-value]

    def _run(self, first: _Slot[W, R]) -> None:
        """Commit `first` and whatever queued with it, then pass the lead on."""
        batch = [first]
        with self._lock:
            take = self._max - 1
            batch.extend(self._queue[:take])
            del self._queue[:take]
        try:
            self._commit(batch)
        finally:
            successor: _Slot[W, R] | None = None
            with self._lock:
                if self._queue:
                    successor = self._queue.pop(0)
                    successor.lead = True
                else:
                    self._busy = False
            for slot in batch:
                if slot is not first:
                    slot.done.set()
            if successor is not None:
                successor.done.set()

    def _commit(self, batch: list[_Slot[W, R]]) -> None:
        stats = self.stats
        stats.batches += 1
        stats.writes += len(batch)
        stats.largest = max(stats.largest, len(batch))
        if len(batch) == 1:
            self._alone(batch[0])
            return
        try:
            results = self._commit_batch([slot.write for slot in batch])
        except OutcomeUnknown as e:
            # Each caller hears of it as from a single write and retries with its key.
            for slot in batch:
                slot.error = e.__cause__ or e
            return
        except Exception:
            stats.fallbacks += 1
            for slot in batch:
                self._alone(slot)
            return
        for slot, result in zip(batch, results, strict=True):
            slot.result = result

    def _alone(self, slot: _Slot[W, R]) -> None:
        try:
            slot.result = self._commit_one(slot.write)
        except BaseException as e:  # handed to the caller's thread, raised there
            slot.error = e
