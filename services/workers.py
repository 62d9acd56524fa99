"""The projection worker: follows every grantee log with one listening connection.

DESIGN D3: poll round-robin plus LISTEN as a wake-up, never LISTEN alone. A NOTIFY names the
grantee whose log grew, so that grantee is caught up at once; a full sweep over all grantees
every `sweep_seconds` catches anything a lost notification would have left behind.
"""

from __future__ import annotations

import threading
import time

import psycopg
import structlog
from psycopg import sql

from services import checkpoints, projector
from services.checkpoints import AuditKey
from services.database import Database
from services.schema import grantee_schema, notify_channel
from services.tenancy import GRANTEES_CHANNEL, Tenancy

log = structlog.get_logger("prowd.worker")


class ProjectionWorker:
    def __init__(
        self, db: Database, *, sweep_seconds: float = 2.0, key: AuditKey | None = None
    ) -> None:
        self.db = db
        # With the platform's key, the worker also signs chain checkpoints as they fall due.
        self.key = key
        self.tenancy = Tenancy(db)
        self.sweep_seconds = sweep_seconds
        self.stopping = threading.Event()
        self.processed = 0

    def stop(self) -> None:
        self.stopping.set()

    def _slugs(self) -> list[str]:
        slugs: list[str] = []
        after = ""
        while page := self.tenancy.grantees(after=after, limit=1000):
            slugs.extend(g.slug for g in page)
            after = page[-1].slug
        return slugs

    def _catch_up(self, slug: str) -> None:
        schema = grantee_schema(slug)
        try:
            self.processed += projector.drain(self.db, schema)
            if self.key is not None:
                checkpoints.sign_if_due(self.db, schema, self.key)
        except Exception as e:
            # One grantee's failure (an outage, a bad handler) never stops the others; the
            # batch rolled back, so the next sweep retries it from the same position.
            log.error("projection_failed", grantee=slug, error_class=type(e).__name__)

    def sweep(self) -> None:
        for slug in self._slugs():
            if self.stopping.is_set():
                return
            self._catch_up(slug)

    def run(self) -> None:
        """Run until `stop()`; reconnects the listener after a database outage."""
        while not self.stopping.is_set():
            try:
                self._listen_loop()
            except psycopg.OperationalError as e:
                log.warning("listener_lost", error_class=type(e).__name__)
                self.stopping.wait(1.0)

    def _listen_loop(self) -> None:
        with psycopg.connect(self.db.url, autocommit=True, connect_timeout=3) as conn:
            listening: set[str] = set()

            def listen(slug: str) -> None:
                if slug not in listening:
                    channel = notify_channel(grantee_schema(slug))
                    conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
                    listening.add(slug)

            conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(GRANTEES_CHANNEL)))
            for slug in self._slugs():
                listen(slug)
            self.sweep()
            next_sweep = time.monotonic() + self.sweep_seconds
            prefix = "prowd_log_g_"
            while not self.stopping.is_set():
                dirty: set[str] = set()
                timeout = max(0.0, min(0.5, next_sweep - time.monotonic()))
                for note in conn.notifies(timeout=timeout, stop_after=1):
                    dirty.add(
                        note.payload
                        if note.channel == GRANTEES_CHANNEL
                        else note.channel[len(prefix) :]
                    )
                # Drain whatever else arrived meanwhile, without waiting.
                for note in conn.notifies(timeout=0.0):
                    dirty.add(
                        note.payload
                        if note.channel == GRANTEES_CHANNEL
                        else note.channel[len(prefix) :]
                    )
                for slug in dirty:
                    listen(slug)
                    self._catch_up(slug)
                if time.monotonic() >= next_sweep:
                    self.sweep()
                    next_sweep = time.monotonic() + self.sweep_seconds


def start_in_thread(
    db: Database, *, sweep_seconds: float = 2.0
) -> tuple[ProjectionWorker, threading.Thread]:
    worker = ProjectionWorker(db, sweep_seconds=sweep_seconds)
    thread = threading.Thread(target=worker.run, name="projection-worker", daemon=True)
    thread.start()
    return worker, thread
