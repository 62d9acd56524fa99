"""The projection worker: follows the grantee logs it leases with one listening connection.

DESIGN D3: poll round-robin plus LISTEN as a wake-up, never LISTEN alone. A NOTIFY names the
grantee whose log grew, so that grantee is caught up at once; a sweep over the worker's
grantees every `sweep_seconds` catches anything a lost notification would have left behind.

DESIGN D9, leases: any number of workers share the grantees. A worker holds a session-level
advisory lock per grantee it serves (its lease), on its listening connection, and takes at most
its fair share (grantees / live workers, counted by that connection's application name). A
worker that dies loses its connection and with it every lease at once; the others take the
orphaned grantees on their next sweep. A worker that holds more than its share (a new worker
joined) lets the excess go. Exactly-once does not depend on leases: each batch still runs under
a per-grantee transaction lock and commits with its tracking position.
"""

from __future__ import annotations

import math
import random
import threading
import time
from typing import Any

import psycopg
import structlog
from psycopg import sql

from domain import clock
from services.app.tenancy import GRANTEES_CHANNEL, Tenancy
from services.audit import checkpoints
from services.audit.checkpoints import Signer
from services.projector import live
from services.store.database import Database
from services.store.schema import grantee_schema, notify_channel
from services.webhooks import checkpoints as checkpoint_hooks
from services.webhooks import outbox

log = structlog.get_logger("prowd.worker")

# The listening connection's application name: live workers are counted by it.
LEASE_APPLICATION = "prowd-worker-lease"
# Class of the two-key advisory locks that are grantee leases (the second key is the schema's
# hash); distinct from the one-key transaction locks of projection batches.
LEASE_CLASS = 74_262


class Leases:
    """The grantees one worker serves, as session advisory locks on its listening connection."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn
        self.held: set[str] = set()
        self._offset = random.random()

    def _lock(self, func: str, slug: str) -> bool:
        row = self.conn.execute(
            sql.SQL("SELECT {}(%s, hashtext(%s))").format(sql.Identifier(func)),
            (LEASE_CLASS, grantee_schema(slug)),
        ).fetchone()
        return bool(row and row[0])

    def live_workers(self) -> int:
        row = self.conn.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND application_name = %s",
            (LEASE_APPLICATION,),
        ).fetchone()
        return max(1, int(row[0]) if row else 1)

    def rebalance(self, slugs: list[str]) -> set[str]:
        """Keep at most the fair share; take free grantees up to it. The grantees held."""
        share = math.ceil(len(slugs) / self.live_workers()) if slugs else 0
        for slug in sorted(self.held)[share:]:
            self._lock("pg_advisory_unlock", slug)
            self.held.discard(slug)
            log.info("lease_released", grantee=slug, share=share)
        if len(self.held) < share:
            # Start at this worker's own offset so that workers starting together do not all
            # race for the same grantees first.
            start = int(self._offset * len(slugs))
            for slug in slugs[start:] + slugs[:start]:
                if len(self.held) >= share:
                    break
                if slug not in self.held and self._lock("pg_try_advisory_lock", slug):
                    self.held.add(slug)
                    log.info("lease_taken", grantee=slug, share=share)
        return self.held


class ProjectionWorker:
    def __init__(
        self,
        db: Database,
        *,
        sweep_seconds: float = 2.0,
        key: Signer | None = None,
        gather_seconds: float = 0.0,
        spacing_seconds: float = 0.0,
    ) -> None:
        self.db = db
        # After a first notice, how long to gather more before applying them as one batch.
        self.gather_seconds = gather_seconds
        # The least time from one catch-up of a grantee to its next on a notice: news of a
        # grantee caught up longer ago is applied at once, news of one caught up just now
        # waits for the rest of the spacing and goes with what arrives meanwhile.
        self.spacing_seconds = spacing_seconds
        # With the platform's key, the worker also signs chain checkpoints as they fall due;
        # what it last read of each chain spares it asking while none can be.
        self.key = key
        self.schedule = checkpoints.Schedule()
        self.tenancy = Tenancy(db)
        self.sweep_seconds = sweep_seconds
        self.stopping = threading.Event()
        self.processed = 0
        # Catch-ups that applied at least one event (with `processed`: the mean batch).
        self.batches = 0
        # Set once the worker listens and has swept every grantee once.
        self.ready = threading.Event()
        self.leases: Leases | None = None
        # When the loop last went round (time.monotonic): its liveness (`heartbeat_age`).
        self.beat = time.monotonic()

    def stop(self) -> None:
        self.stopping.set()

    def heartbeat_age(self) -> float:
        """Seconds since the loop last went round (a stuck loop grows it; the probe reads it)."""
        return time.monotonic() - self.beat

    def _slugs(self) -> list[str]:
        slugs: list[str] = []
        after = ""
        while page := self.tenancy.grantees(after=after, limit=1000):
            slugs.extend(g.slug for g in page)
            after = page[-1].slug
        return slugs

    def _catch_up(self, slug: str, *, sweeping: bool = False) -> None:
        schema = grantee_schema(slug)
        # The outbox is fed by the views' pass over the log while it is in step with them.
        follower = outbox.Follower(self.db)
        try:
            # A sweep looks for news a lost notice left behind: one statement tells whether
            # there is any (else two transactions of five statements each, for every grantee).
            if sweeping and not live.behind(self.db, schema):
                self._sign_if_due(schema, 0)
                return
            applied = live.drain(self.db, schema, follower=follower)
            self.processed += applied
            self.batches += applied > 0
            self._sign_if_due(schema, applied)
        except Exception as e:
            # One grantee's failure (an outage, a bad handler) never stops the others; the
            # batch rolled back, so the next sweep retries it from the same position. The
            # outbox then follows the log on its own.
            follower.current = False
            log.error(
                "projection_failed",
                grantee=slug,
                error_class=type(e).__name__,
                error=str(e),
                exc_info=True,
            )
        if follower.current:
            return
        try:
            # Otherwise it follows the log on its own, from its own position (never rebuilt).
            outbox.drain(self.db, schema)
        except Exception as e:
            log.error(
                "webhook_outbox_failed",
                grantee=slug,
                error_class=type(e).__name__,
                error=str(e),
                exc_info=True,
            )

    def _sign_if_due(self, schema: str, applied: int) -> None:
        """With the platform's key, sign the grantee's chain head when a checkpoint is due
        (asked only when one may be: `checkpoints.Schedule`) and deliver it."""
        if self.key is None or not self.schedule.may_be_due(schema, applied, clock.now()):
            return
        signed = checkpoints.sign_if_due(self.db, schema, self.key, schedule=self.schedule)
        if signed is not None:
            checkpoint_hooks.deliver(self.db, schema, signed, clock.now())

    def _mine(self) -> list[str]:
        slugs = self._slugs()
        if self.leases is None:
            return slugs
        return sorted(self.leases.rebalance(slugs))

    def sweep(self) -> None:
        rebalanced = time.monotonic()
        for slug in self._mine():
            if self.stopping.is_set():
                return
            if self.leases is not None:
                # A long sweep (many grantees behind) still hands its excess to workers that
                # joined meanwhile, instead of holding every grantee until it ends.
                if time.monotonic() - rebalanced >= self.sweep_seconds:
                    self.leases.rebalance(self._slugs())
                    rebalanced = time.monotonic()
                if slug not in self.leases.held:
                    continue
            self._catch_up(slug, sweeping=True)

    def run(self) -> None:
        """Run until `stop()`; reconnects the listener after a database outage."""
        while not self.stopping.is_set():
            self.beat = time.monotonic()
            try:
                self._listen_loop()
            except psycopg.OperationalError as e:
                # The leases were session locks of the lost connection: all gone with it.
                lost = sorted(self.leases.held) if self.leases is not None else []
                self.leases = None
                log.warning(
                    "listener_lost", error_class=type(e).__name__, error=str(e), leases_lost=lost
                )
                self.stopping.wait(1.0)

    def _listen_loop(self) -> None:
        with psycopg.connect(
            self.db.url, autocommit=True, connect_timeout=3, application_name=LEASE_APPLICATION
        ) as conn:
            # Leases live and die with this connection: a reconnect starts with none.
            self.leases = Leases(conn)
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
            self.ready.set()
            next_sweep = time.monotonic() + self.sweep_seconds
            prefix = "prowd_log_g_"
            # Grantees with news, by when each may be caught up; when each last was.
            due: dict[str, float] = {}
            last: dict[str, float] = {}
            while not self.stopping.is_set():
                self.beat = time.monotonic()
                dirty: set[str] = set()
                until = min(next_sweep, self.beat + 0.5, *due.values())
                timeout = max(0.0, until - time.monotonic())
                for note in conn.notifies(timeout=timeout, stop_after=1):
                    dirty.add(
                        note.payload
                        if note.channel == GRANTEES_CHANNEL
                        else note.channel[len(prefix) :]
                    )
                # Gather what else arrives within the window (or only what arrived meanwhile):
                # one larger batch costs less than many of an event or two.
                gather = self.gather_seconds if dirty else 0.0
                for note in conn.notifies(timeout=gather):
                    dirty.add(
                        note.payload
                        if note.channel == GRANTEES_CHANNEL
                        else note.channel[len(prefix) :]
                    )
                if dirty - self.leases.held - listening:
                    # A grantee registered just now: lease it now, not at the next sweep.
                    self.leases.rebalance(self._slugs())
                for slug in dirty:
                    listen(slug)
                    if slug in self.leases.held and slug not in due:
                        due[slug] = last.get(slug, -math.inf) + self.spacing_seconds
                now = time.monotonic()
                for slug in sorted(s for s, at in due.items() if at <= now):
                    del due[slug]
                    if slug in self.leases.held:
                        last[slug] = time.monotonic()
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
