"""Read-your-writes waits woken when a grantee's views advance, not only by polling.

The projector sends `NOTIFY prowd_views, '<schema>'` in the transaction of each batch it applies
(so the note arrives once the batch is committed). A process that waits for views (the API)
keeps one listening connection (`ViewSignals`); a waiter checks the views' position, then sleeps
until the next note for its grantee or a short poll interval, whichever comes first. As DESIGN
D3 has it, the note is a wake-up, never the only way: a wait still re-reads the position at
least every `POLL` seconds, and while the listening connection is down it polls as before.

A wait reads the note counter of its grantee before it reads the position, so a batch that
commits between the read and the sleep still wakes it.
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from collections import defaultdict

import psycopg
import structlog
from psycopg import sql
from psycopg.rows import TupleRow

CHANNEL = "prowd_views"
POLL = 0.25  # the longest sleep between two reads of the position while listening

log = structlog.get_logger("prowd.view_signals")


class ViewSignals:
    """One listening connection per process: a counter of notes per grantee schema, and the
    sync and async waiters each note wakes."""

    def __init__(self, url: str, *, application_name: str = "prowd-view-signals") -> None:
        self._url = url
        self._application_name = application_name
        self._cond = threading.Condition()
        self._notes: dict[str, int] = defaultdict(int)
        self._futures: dict[str, set[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]]] = (
            defaultdict(set)
        )
        self.listening = threading.Event()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="prowd-view-signals", daemon=True)

    def start(self, ready_within: float = 5.0) -> ViewSignals:
        self._thread.start()
        self.listening.wait(ready_within)
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(5.0)

    # -- the listener ---------------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                with psycopg.connect(
                    self._url,
                    autocommit=True,
                    connect_timeout=3,
                    application_name=self._application_name,
                ) as conn:
                    conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(CHANNEL)))
                    self.listening.set()
                    while not self._stopping.is_set():
                        for note in conn.notifies(timeout=0.5):
                            self._noted(note.payload)
            except psycopg.Error as e:
                log.warning("view_signals_lost", error_class=type(e).__name__)
            finally:
                # Waiters poll meanwhile; each wakes now so that none sleeps on a lost note.
                self.listening.clear()
                self._wake_all()
            self._stopping.wait(1.0)

    def _noted(self, schema: str) -> None:
        with self._cond:
            self._notes[schema] += 1
            futures = self._futures.pop(schema, set())
            self._cond.notify_all()
        for loop, future in futures:
            loop.call_soon_threadsafe(_settle, future)

    def _wake_all(self) -> None:
        with self._cond:
            futures = [f for waiting in self._futures.values() for f in waiting]
            self._futures.clear()
            self._cond.notify_all()
        for loop, future in futures:
            loop.call_soon_threadsafe(_settle, future)

    # -- the waiters ----------------------------------------------------------------------------

    def seen(self, schema: str) -> int:
        """The grantee's note counter: read before the position, passed to `wait`."""
        with self._cond:
            return self._notes[schema]

    def wait(self, schema: str, seen: int, timeout: float) -> None:
        """Sleep until a note for `schema` after `seen`, at most `timeout` (and `POLL`)."""
        limit = min(timeout, POLL if self.listening.is_set() else 0.1)
        with self._cond:
            self._cond.wait_for(lambda: self._notes[schema] != seen, max(0.0, limit))

    async def wait_async(self, schema: str, seen: int, timeout: float) -> None:
        """`wait` on the event loop, holding no thread."""
        limit = min(timeout, POLL if self.listening.is_set() else 0.1)
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        entry = (loop, future)
        with self._cond:
            if self._notes[schema] != seen:
                return
            self._futures[schema].add(entry)
        try:
            await asyncio.wait_for(asyncio.shield(future), max(0.0, limit))
        except TimeoutError:
            pass
        finally:
            with self._cond:
                self._futures.get(schema, set()).discard(entry)


def _settle(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


# The signals listening for each database's process (the API starts them; a CLI command or a
# test without them polls). Several apps may share one database object (tests build more than
# one), each attaching its own: the newest serves, and one app's stop takes away only its own.
_BY_DATABASE: weakref.WeakKeyDictionary[object, list[ViewSignals]] = weakref.WeakKeyDictionary()


def attach(db: object, signals: ViewSignals) -> None:
    _BY_DATABASE.setdefault(db, []).append(signals)


def detach(db: object, signals: ViewSignals) -> None:
    attached = _BY_DATABASE.get(db, [])
    if signals in attached:
        attached.remove(signals)


def of(db: object) -> ViewSignals | None:
    attached = _BY_DATABASE.get(db)
    return attached[-1] if attached else None


def notify(cur: psycopg.Cursor[TupleRow], schema: str) -> None:
    """Note, in the batch's own transaction, that `schema`'s views advanced (sent on commit)."""
    cur.execute("SELECT pg_notify(%s, %s)", (CHANNEL, schema))
