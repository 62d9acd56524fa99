"""Webhook dispatchers: claim due deliveries, sign, POST, record the outcome (DESIGN D6).

Any number of dispatchers (threads or processes) share every grantee's queue: a claim takes
due rows under a lease and a claim token (services/webhooks/queue.py), so the HTTP call
(services/webhooks/sender.py) holds no lock. A dispatcher that dies mid-delivery leaves its
rows to be claimed again once the lease has passed; a late answer from it no longer matches
the claim token and changes nothing but the attempts log. Delivery is at-least-once: the
`webhook-id` is the same for every attempt, so receivers drop duplicates by it.

Time: every scheduling decision uses the injected `now()` (tests move it instead of sleeping);
the `webhook-timestamp` header is the wall-clock second of signing, as receivers check it
against their own clocks.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol
from uuid import UUID

import psycopg
import structlog
from psycopg import sql

from domain.common import utcnow
from domain.webhooks import DisableReason
from services.audit.disclosure import record_disclosure
from services.store.database import Database
from services.webhooks import queue, ssrf
from services.webhooks.queue import Claimed, Result
from services.webhooks.sender import Sender
from services.webhooks.store import CHANNEL

log = structlog.get_logger("prowd.webhooks")

# Delay before attempt n+1 (n = 0: at once); after the last, the delivery has failed.
SCHEDULE: tuple[float, ...] = (0, 5, 300, 1800, 7200, 18000, 36000, 36000)
JITTER = 0.2
LEASE = timedelta(seconds=60)
FAILING_LIMIT = timedelta(days=5)
# Who disables endpoints and makes disclosures by webhook, in the log and the disclosure log.
ACTOR = "system:webhook-dispatcher"


class Control(Protocol):
    """What the dispatcher needs from the use cases above it (services/app/dispatching.py):
    the schemas whose queues it serves, and disabling an endpoint by an event in its log."""

    def schemas(self) -> list[str]: ...

    def disable(
        self, schema: str, endpoint_id: UUID, reason: DisableReason, detail: str
    ) -> None: ...


def delay(step: int, rng: random.Random) -> timedelta:
    """The scheduled delay before attempt `step + 1`, with ±20% jitter."""
    base = SCHEDULE[step]
    return timedelta(seconds=base * rng.uniform(1 - JITTER, 1 + JITTER))


class Dispatcher:
    def __init__(
        self,
        db: Database,
        control: Control,
        *,
        allowed: Sequence[ssrf.IPNetwork] = (),
        now: Callable[[], datetime] = utcnow,
        rng: random.Random | None = None,
        lease: timedelta = LEASE,
        batch: int = 100,
        concurrency: int = 16,
        connect_timeout: float = 5.0,
        total_timeout: float = 15.0,
        poll_seconds: float = 0.5,
    ) -> None:
        self.db = db
        self.now = now
        self.rng = rng or random.Random()
        self.lease = lease
        self.batch = batch
        self.poll_seconds = poll_seconds
        self.control = control
        self.sender = Sender(
            allowed=allowed,
            now=now,
            concurrency=concurrency,
            connect_timeout=connect_timeout,
            total_timeout=total_timeout,
        )
        self.pool = ThreadPoolExecutor(concurrency, thread_name_prefix="webhook-send")
        self.stopping = threading.Event()
        # When the loop last went round (time.monotonic): its liveness (`heartbeat_age`).
        self.beat = time.monotonic()
        self.delivered = 0
        self.failed = 0

    def close(self) -> None:
        self.pool.shutdown(wait=True)
        self.sender.close()

    def heartbeat_age(self) -> float:
        """Seconds since the loop last went round (a stuck loop grows it; the probe reads it)."""
        return time.monotonic() - self.beat

    def stop(self) -> None:
        self.stopping.set()

    def claim(self, schema: str, limit: int | None = None) -> list[Claimed]:
        """Take up to `limit` due deliveries of one grantee under a lease."""
        return queue.claim(
            self.db, schema, now=self.now(), lease=self.lease, limit=limit or self.batch
        )

    def send(self, item: Claimed) -> Result:
        """One HTTP attempt of a claimed delivery (services/webhooks/sender.py)."""
        return self.sender.send(item)

    # -- recording outcomes ------------------------------------------------------------

    def finish(self, items: list[tuple[Claimed, Result]]) -> None:
        """Record one claim's outcomes in one transaction; disable endpoints that asked."""
        if not items:
            return
        schema = items[0][0].schema
        now = self.now()
        to_disable: dict[UUID, tuple[DisableReason, str]] = {}
        ok_endpoints: set[UUID] = set()
        failed_endpoints: set[UUID] = set()
        with self.db.transaction() as cur:
            queue.record_attempts(cur, schema, items, now)
            ok = [(item, result) for item, result in items if result.ok]
            if ok:
                self.delivered += len(ok)
                ok_endpoints.update(item.endpoint_id for item, _ in ok)
                queue.mark_delivered(cur, schema, ok, now)
                # What went out is a disclosure, whoever's claim it was.
                for item, _ in ok:
                    for d in item.disclosures:
                        record_disclosure(
                            cur,
                            schema,
                            participant_id=UUID(d["participant_id"]),
                            recipient=f"rrc:{item.facility_code}",
                            channel="webhook",
                            information=d["information"],
                            part2=bool(d.get("part2")),
                            consent_id=UUID(d["consent_id"]) if d.get("consent_id") else None,
                            reference=item.msg_id,
                            at=now,
                            actor=ACTOR,
                        )
            for item, result in items:
                if result.ok:
                    continue
                self.failed += 1
                failed_endpoints.add(item.endpoint_id)
                step = item.step + 1
                if result.status == 410:
                    to_disable[item.endpoint_id] = (
                        DisableReason.GONE,
                        "the endpoint answered 410 Gone",
                    )
                status: Literal["pending", "failed"]
                next_at: datetime | None
                if step >= len(SCHEDULE):
                    status, next_at = "failed", None
                else:
                    status = "pending"
                    wait = delay(step, self.rng)
                    if result.retry_after is not None:
                        wait = max(wait, result.retry_after)
                    next_at = now + wait
                queue.reschedule(cur, item, result, status=status, step=step, next_at=next_at)
            for endpoint_id in sorted(ok_endpoints | failed_endpoints):
                if endpoint_id in ok_endpoints:
                    queue.endpoint_succeeded(cur, schema, endpoint_id, now)
                    continue
                failing = queue.endpoint_failed(cur, schema, endpoint_id, now)
                if failing is not None:
                    since, enabled = failing
                    if enabled and now - since >= FAILING_LIMIT:
                        to_disable.setdefault(
                            endpoint_id,
                            (
                                DisableReason.FAILING,
                                f"every delivery failed since {since.isoformat()}",
                            ),
                        )
        for endpoint_id, (reason, detail) in to_disable.items():
            self.control.disable(schema, endpoint_id, reason, detail)

    # -- the loop ----------------------------------------------------------------------

    def process(self, schema: str) -> int:
        """Claim, send (concurrently) and record one batch of one grantee."""
        items = self.claim(schema)
        if not items:
            return 0
        results = list(self.pool.map(self.send, items))
        self.finish(list(zip(items, results, strict=True)))
        return len(items)

    def run_once(self) -> int:
        """One round over every grantee; the number of deliveries attempted."""
        done = 0
        for schema in self.control.schemas():
            if self.stopping.is_set():
                break
            try:
                done += self.process(schema)
            except psycopg.Error as e:
                log.error(
                    "webhook_dispatch_failed",
                    schema=schema,
                    error_class=type(e).__name__,
                    error=str(e),
                    exc_info=True,
                )
        return done

    def run(self) -> None:
        """Until `stop()`: rounds back to back while there is work, else wait for a wake-up
        (the outbox notifies) or the poll interval (retries fall due by time)."""
        while not self.stopping.is_set():
            self.beat = time.monotonic()
            try:
                with psycopg.connect(self.db.url, autocommit=True, connect_timeout=3) as conn:
                    conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(CHANNEL)))
                    while not self.stopping.is_set():
                        self.beat = time.monotonic()
                        if self.run_once():
                            # Take the pending notifications without waiting.
                            for _ in conn.notifies(timeout=0.0):
                                pass
                            continue
                        for _ in conn.notifies(timeout=self.poll_seconds, stop_after=1):
                            pass
            except psycopg.OperationalError as e:
                log.warning("webhook_listener_lost", error_class=type(e).__name__, error=str(e))
                self.stopping.wait(1.0)


def start_in_thread(
    db: Database, control: Control, **kwargs: Any
) -> tuple[Dispatcher, threading.Thread]:
    dispatcher = Dispatcher(db, control, **kwargs)
    thread = threading.Thread(target=dispatcher.run, name="webhook-dispatcher", daemon=True)
    thread.start()
    return dispatcher, thread
