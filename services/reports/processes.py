"""Quarterly reports computed in short-lived child processes (decision 28).

A report's working set grows with the grantee (the oversight facts of every participant, the
positions behind each figure) and so does its CPU. Computed in an API process, the allocator
kept its high-water mark and its second of CPU held the GIL every other request needs. Here
each report runs in a fresh child forked from a forkserver that has imported the report
modules and runs no thread; the child opens its own connection (as the service's pool does:
same options and timeouts, then `SET ROLE`), runs a task of `services/reports/jobs.py` (the
report exactly as the API computed it) and returns the rendered bytes, then exits. The parent
never holds the facts. `PROWD_REPORT_PROCESSES=0` runs the tasks in the calling process.

Two traps of the standard library shape this module. Results cross the process boundary
pickled, so failures travel as values: `Refused` does not survive unpickling (its
constructor takes arguments its `args` do not hold), and an exception that fails to unpickle
in the parent breaks the whole pool. And a forkserver child re-runs the parent's main module
before its task (multiprocessing's spawn preparation; preloading "__main__" is a no-op on
Python 3.11-3.13, CPython gh-98552 and gh-137996): under pytest that is 270 ms of imports a
report, under a console script a few. The tasks never unpickle anything of `__main__`, so the
children are started without it (`_Popen` filters the standard preparation data).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import signal
import threading
import traceback
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field, replace
from multiprocessing import context, popen_forkserver, spawn
from multiprocessing.process import BaseProcess
from typing import Any, Literal, TypeVar

import anyio.to_thread
import psycopg
from psycopg.rows import TupleRow

from services.refusals import Refused
from services.settings import Settings
from services.store import health, keys
from services.store.database import Database

T = TypeVar("T")
# Imported once by the forkserver (which starts no thread on importing them), so a child
# starts with every module a report needs.
PRELOAD = [__name__, "services.reports.jobs"]


_PREPARING = threading.Lock()


def _without_main(name: str) -> dict[str, Any]:
    data: dict[str, Any] = _standard_preparation(name)
    data.pop("init_main_from_name", None)
    data.pop("init_main_from_path", None)
    return data


_standard_preparation = spawn.get_preparation_data


class _Popen(popen_forkserver.Popen):
    """The forkserver's `Popen`, launching with preparation data that names no main module:
    the standard launch runs unchanged while `spawn.get_preparation_data` (which it looks up
    on its module at call time) leaves the two main-module keys out. Processes are started
    one at a time under a lock, so no other launch sees the filtered function."""

    def _launch(self, process_obj: BaseProcess) -> None:
        with _PREPARING:
            spawn.get_preparation_data = _without_main
            try:
                super()._launch(process_obj)  # type: ignore[misc]
            finally:
                spawn.get_preparation_data = _standard_preparation


class _Process(context.ForkServerProcess):
    @staticmethod
    def _Popen(process_obj: BaseProcess) -> _Popen:
        return _Popen(process_obj)


class _Context(context.ForkServerContext):
    Process = _Process


class ReportFailed(Exception):
    """A report failed in its child for a reason the API answers with 500 (the child's
    traceback is the message)."""


@dataclass(frozen=True)
class _Failure:
    kind: Literal["refused", "unavailable", "data", "error"]
    detail: str
    status: int = 0
    code: str = ""
    headers: dict[str, str] = field(default_factory=dict)

    def exception(self) -> Exception:
        if self.kind == "refused":
            return Refused(self.status, self.detail, code=self.code, headers=self.headers)
        if self.kind == "unavailable":  # answered 503 database_unavailable, as in-process
            return psycopg.OperationalError(self.detail)
        if self.kind == "data":
            return psycopg.DataError(self.detail)
        return ReportFailed(self.detail)


@dataclass(frozen=True)
class _Source:
    """How a child connects: the service's database address, role, timeouts and master keys
    (an `as_of` replay decodes events, personal fields included, as the API process did)."""

    url: str
    settings: Settings

    @classmethod
    def of(cls, db: Database) -> _Source:
        # The token secret stays in the parent: nothing in a report needs it.
        return cls(db.url, replace(db.settings, jwt_secret=""))


class _OwnConnection(Database):
    """A child's database: one connection of its own, made as the service's pool makes its
    connections (same options and timeouts, then `SET ROLE`), with the participant keys
    attached as `Database.open` attaches them. The pool is never opened."""

    def __init__(self, source: _Source) -> None:
        super().__init__(source.url, source.settings, name="prowd-report")
        self._conn = psycopg.connect(source.url, autocommit=True, **self._connect_kwargs)
        try:
            if self.role:
                self._act_as_role(self._conn)
            ring = keys.load_keyring(source.settings)
        except BaseException:
            self._conn.close()
            raise
        keys.STORE.attach(self, ring, source.settings.key_cache_seconds)

    @contextlib.contextmanager
    def connection(self) -> Iterator[psycopg.Connection[TupleRow]]:
        yield self._conn

    def close(self) -> None:
        keys.STORE.detach(self)
        self._conn.close()


def _ignore_interrupt() -> None:
    """A child's first act: Ctrl-C in a terminal reaches the whole process group, and the
    parent stops its pool itself; a child that took the interrupt would print a traceback of
    its idle wait."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _in_child(source: _Source, fn: Callable[..., T], args: tuple[Any, ...]) -> T | _Failure:
    try:
        db = _OwnConnection(source)
        try:
            return fn(db, *args)
        finally:
            db.close()
    except Refused as e:
        return _Failure("refused", e.detail, e.status, e.code, dict(e.headers))
    except health.UNAVAILABLE as e:  # the driver's, the pool's, or the event store giving up
        return _Failure("unavailable", f"{type(e).__name__}: {e}")
    except health.UNSTORABLE as e:
        return _Failure("data", f"{type(e).__name__}: {e}")
    except (Exception, SystemExit):  # SystemExit: a setting `keys.load_keyring` refuses
        return _Failure("error", traceback.format_exc())


def _unwrap(outcome: Any) -> Any:
    if isinstance(outcome, _Failure):
        raise outcome.exception()
    return outcome


def _lost() -> Refused:
    return Refused(
        503,
        "the process computing the report ended before it finished; retry shortly",
        code="report_process_lost",
        headers={"Retry-After": "1"},
    )


class ReportPool:
    """Runs reports in child processes, one task a child, at most `processes` at once; with
    0, in the calling process. The executor starts on first use and is replaced when a child
    dies (a broken executor refuses every later task)."""

    def __init__(self, processes: int) -> None:
        if processes < 0:
            raise ValueError("PROWD_REPORT_PROCESSES must be 0 or more")
        self.processes = processes
        self._executor: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()

    def _current(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._executor is None:
                mp_context = _Context()
                mp_context.set_forkserver_preload(PRELOAD)
                self._executor = ProcessPoolExecutor(
                    max_workers=self.processes,
                    mp_context=mp_context,
                    max_tasks_per_child=1,
                    initializer=_ignore_interrupt,
                )
            return self._executor

    def _discard(self, executor: ProcessPoolExecutor) -> None:
        with self._lock:
            if self._executor is executor:
                self._executor = None
        executor.shutdown(wait=False, cancel_futures=True)

    def _submit(
        self, fn: Callable[..., Any], args: tuple[Any, ...]
    ) -> tuple[ProcessPoolExecutor, Future[Any]]:
        # Blocking (the first call starts the forkserver): callers on the event loop use a thread.
        executor = self._current()
        try:
            return executor, executor.submit(fn, *args)
        except BrokenProcessPool:
            self._discard(executor)
            raise _lost() from None

    def call(self, fn: Callable[..., T], *args: Any) -> T:
        """`fn(*args)` in a child of its own, waited for; a child that dies gives 503."""
        executor, future = self._submit(fn, args)
        try:
            result: T = future.result()
            return result
        except BrokenProcessPool:
            self._discard(executor)
            raise _lost() from None

    def run(self, db: Database, fn: Callable[..., T], *args: Any) -> T:
        """`fn(db', *args)`, db' the child's own connection to `db`'s database (or `db`
        itself with no processes); failures raised as in the calling process."""
        if self.processes == 0:
            return fn(db, *args)
        result: T = _unwrap(self.call(_in_child, _Source.of(db), fn, args))
        return result

    async def compute(self, db: Database, fn: Callable[..., T], *args: Any) -> T:
        """`run` for the event loop: it waits for the child without holding a thread."""
        if self.processes == 0:
            return await anyio.to_thread.run_sync(functools.partial(fn, db, *args))
        executor, future = await anyio.to_thread.run_sync(
            self._submit, _in_child, (_Source.of(db), fn, args)
        )
        try:
            outcome = await asyncio.wrap_future(future)
        except BrokenProcessPool:
            self._discard(executor)
            raise _lost() from None
        result: T = _unwrap(outcome)
        return result

    def shutdown(self) -> None:
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)
