"""Webhook dispatchers: claim due deliveries, sign, POST, record the outcome (DESIGN D6).

Any number of dispatchers (threads or processes) share every grantee's queue: a claim takes
due rows with `FOR UPDATE SKIP LOCKED` and stamps them with a lease (`locked_until`) and a
claim token, then commits, so the HTTP call holds no lock. A dispatcher that dies mid-delivery
leaves its rows to be claimed again once the lease has passed; a late answer from it no longer
matches the claim token and changes nothing but the attempts log. Delivery is at-least-once:
the `webhook-id` is the same for every attempt, so receivers drop duplicates by it.

Time: every scheduling decision uses the injected `now()` (tests move it instead of sleeping);
the `webhook-timestamp` header is the wall-clock second of signing, as receivers check it
against their own clocks.
"""

from __future__ import annotations

import json
import random
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any
from uuid import UUID

import httpx
import psycopg
import structlog
from psycopg import Cursor, sql
from psycopg.rows import TupleRow

from domain import clock, common
from domain.common import DomainError, utcnow
from domain.webhooks import DisableReason
from services import tracecontext
from services.app.tenancy import Tenancy
from services.audit.disclosure import record_disclosure
from services.store.database import Database
from services.store.ledger import Command
from services.store.schema import grantee_schema
from services.webhooks import signing, ssrf
from services.webhooks.deadline import DeadlineTransport
from services.webhooks.deadline import deadline as request_deadline
from services.webhooks.store import CHANNEL

log = structlog.get_logger("prowd.webhooks")

# Delay before attempt n+1 (n = 0: at once); after the last, the delivery has failed.
SCHEDULE: tuple[float, ...] = (0, 5, 300, 1800, 7200, 18000, 36000, 36000)
JITTER = 0.2
LEASE = timedelta(seconds=60)
FAILING_LIMIT = timedelta(days=5)
MAX_RETRY_AFTER = timedelta(hours=24)
RESPONSE_BODY_BYTES = 1024
ACTOR = "system:webhook-dispatcher"


@dataclass(frozen=True)
class Claimed:
    schema: str
    delivery_id: UUID
    endpoint_id: UUID
    msg_id: str
    event_type: str
    body: bytes
    disclosures: list[dict[str, Any]]
    attempts: int
    step: int
    claim: UUID
    url: str
    facility_code: str
    secrets: list[str]
    # The trace of the request that recorded the delivered event ("" for a ping, or an event
    # recorded outside a request): each attempt is a new span of it (`traceparent`).
    trace_id: str = ""


@dataclass(frozen=True)
class Result:
    ok: bool
    status: int | None
    latency_ms: int
    body: str
    error: str | None
    retry_after: timedelta | None = None


def retry_after(value: str | None, now: datetime) -> timedelta | None:
    """`Retry-After` as seconds or an HTTP date; None if absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return min(timedelta(seconds=int(value)), MAX_RETRY_AFTER)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(timedelta(0), min(when - now, MAX_RETRY_AFTER))


def delay(step: int, rng: random.Random) -> timedelta:
    """The scheduled delay before attempt `step + 1`, with ±20% jitter."""
    base = SCHEDULE[step]
    return timedelta(seconds=base * rng.uniform(1 - JITTER, 1 + JITTER))


class Dispatcher:
    def __init__(
        self,
        db: Database,
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
        tenancy: Tenancy | None = None,
    ) -> None:
        self.db = db
        self.allowed = tuple(allowed)
        self.now = now
        self.rng = rng or random.Random()
        self.lease = lease
        self.batch = batch
        self.total_timeout = total_timeout
        self.poll_seconds = poll_seconds
        self.tenancy = tenancy or Tenancy(db)
        limits = httpx.Limits(
            max_connections=concurrency * 2, max_keepalive_connections=concurrency * 2
        )
        self.client = httpx.Client(
            timeout=httpx.Timeout(total_timeout, connect=connect_timeout),
            follow_redirects=False,
            limits=limits,
            trust_env=False,
            # Every connect, read and write gets at most what is left of `total_timeout`.
            transport=DeadlineTransport(limits=limits),
        )
        self.pool = ThreadPoolExecutor(concurrency, thread_name_prefix="webhook-send")
        self.stopping = threading.Event()
        self.delivered = 0
        self.failed = 0

    def close(self) -> None:
        self.pool.shutdown(wait=True)
        self.client.close()

    def stop(self) -> None:
        self.stopping.set()

    # -- claiming ----------------------------------------------------------------------

    def claim(self, schema: str, limit: int | None = None) -> list[Claimed]:
        """Take up to `limit` due deliveries of one grantee under a lease."""
        now = self.now()
        s = sql.Identifier(schema)
        limit = limit or self.batch
        with self.db.transaction() as cur:
            cur.execute(
                sql.SQL(
                    "SELECT d.delivery_id, d.endpoint_id FROM {s}.webhook_deliveries d"
                    " JOIN {s}.webhook_endpoints e USING (endpoint_id)"
                    " WHERE d.status = 'pending' AND d.next_attempt_at <= %(now)s"
                    " AND (d.locked_until IS NULL OR d.locked_until <= %(now)s) AND e.enabled"
                    " ORDER BY d.next_attempt_at, d.sequence NULLS FIRST LIMIT %(n)s"
                    " FOR UPDATE OF d SKIP LOCKED"
                ).format(s=s),
                {"now": now, "n": limit},
            )
            candidates = cur.fetchall()
            if not candidates:
                return []
            allowance = self._allowance(cur, schema, sorted({c[1] for c in candidates}), now)
            chosen = []
            for delivery_id, endpoint_id in candidates:
                left = allowance.get(endpoint_id)
                if left is None:
                    chosen.append(delivery_id)
                elif left > 0:
                    allowance[endpoint_id] = left - 1
                    chosen.append(delivery_id)
            if not chosen:
                return []
            token = uuid.uuid4()
            cur.execute(
                sql.SQL(
                    "UPDATE {s}.webhook_deliveries d SET locked_until = %(until)s, claim = %(claim)s"
                    " FROM {s}.webhook_endpoints e WHERE d.delivery_id = ANY(%(ids)s)"
                    " AND e.endpoint_id = d.endpoint_id"
                    " RETURNING d.delivery_id, d.endpoint_id, d.msg_id, d.event_type, d.body,"
                    " d.disclosures, d.attempts, d.step, e.url, e.facility_code,"
                    " (SELECT array_agg(secret ORDER BY version DESC) FROM {s}.webhook_secrets k"
                    "  WHERE k.endpoint_id = d.endpoint_id"
                    "  AND (k.expires_at IS NULL OR k.expires_at > %(now)s)),"
                    # The delivered event's trace id, read from its stored metadata.
                    " (SELECT convert_from(v.state, 'UTF8')::jsonb ->> 'trace_id'"
                    "  FROM {s}.events v WHERE v.notification_id = d.position)"
                ).format(s=s),
                {"until": now + self.lease, "claim": token, "ids": chosen, "now": now},
            )
            return [
                Claimed(
                    schema=schema,
                    delivery_id=r[0],
                    endpoint_id=r[1],
                    msg_id=r[2],
                    event_type=r[3],
                    body=bytes(r[4]),
                    disclosures=list(r[5]),
                    attempts=r[6],
                    step=r[7],
                    claim=token,
                    url=r[8],
                    facility_code=r[9],
                    secrets=list(r[10] or []),
                    trace_id=r[11] or "",
                )
                for r in cur.fetchall()
            ]

    def _allowance(
        self, cur: Cursor[TupleRow], schema: str, endpoint_ids: list[UUID], now: datetime
    ) -> dict[UUID, int]:
        """Token buckets of the rate-limited endpoints (burst = one second's worth)."""
        cur.execute(
            sql.SQL(
                "SELECT endpoint_id, rate_limit, tokens, tokens_at FROM {}.webhook_endpoints"
                " WHERE endpoint_id = ANY(%s) AND rate_limit IS NOT NULL ORDER BY endpoint_id"
                " FOR UPDATE"
            ).format(sql.Identifier(schema)),
            (endpoint_ids,),
        )
        out: dict[UUID, int] = {}
        for endpoint_id, rate, tokens, tokens_at in cur.fetchall():
            burst = max(1.0, rate)
            if tokens is None or tokens_at is None:
                available = burst
            else:
                elapsed = max(0.0, (now - tokens_at).total_seconds())
                available = min(burst, tokens + elapsed * rate)
            out[endpoint_id] = int(available)
            # Spend them now: what is not used this round is claimed by nobody else either.
            cur.execute(
                sql.SQL(
                    "UPDATE {}.webhook_endpoints SET tokens = %s, tokens_at = %s WHERE endpoint_id = %s"
                ).format(sql.Identifier(schema)),
                (available - int(available), now, endpoint_id),
            )
        return out

    # -- sending -----------------------------------------------------------------------

    def send(self, item: Claimed) -> Result:
        started = time.monotonic()

        def elapsed() -> int:
            return int((time.monotonic() - started) * 1000)

        try:
            target = ssrf.resolve(item.url, self.allowed)
        except ssrf.UnsafeTarget as e:
            return Result(False, None, elapsed(), "", f"unsafe target: {e}")
        if not item.secrets:
            return Result(False, None, elapsed(), "", "no signing secret")
        # Receivers check this against their own wall clocks, whatever clock the service runs on.
        timestamp = int(clock.wall().timestamp())
        headers = {
            "content-type": "application/json",
            "user-agent": "prowd-webhooks/1",
            "webhook-id": item.msg_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": signing.signature_header(
                item.secrets, item.msg_id, timestamp, item.body
            ),
            # Not signed: receivers correlate with it, never trust it.
            "traceparent": tracecontext.child_traceparent(item.trace_id),
        }
        url = httpx.URL(item.url)
        headers["host"] = url.netloc.decode("ascii")
        extensions: dict[str, Any] = {}
        if url.scheme == "https":
            extensions["sni_hostname"] = target.host
        # Connect to the address that was checked, never to a fresh resolution of the name.
        request = self.client.build_request(
            "POST",
            url.copy_with(host=str(target.ip)),
            content=item.body,
            headers=headers,
            extensions=extensions,
        )
        deadline = started + self.total_timeout
        try:
            with request_deadline(max(0.0, deadline - time.monotonic())):
                response = self.client.send(request, stream=True)
                try:
                    chunks = bytearray()
                    for chunk in response.iter_bytes():
                        chunks.extend(chunk)
                        if len(chunks) >= RESPONSE_BODY_BYTES:
                            break
                finally:
                    response.close()
        except httpx.TimeoutException as e:
            return Result(False, None, elapsed(), "", f"timeout: {type(e).__name__}")
        except httpx.HTTPError as e:
            return Result(False, None, elapsed(), "", f"connection error: {type(e).__name__}")
        if time.monotonic() > deadline:
            return Result(False, response.status_code, elapsed(), "", "timeout: total 15 s")
        text = bytes(chunks[:RESPONSE_BODY_BYTES]).decode("utf-8", errors="replace")
        ok = 200 <= response.status_code < 300
        return Result(
            ok,
            response.status_code,
            elapsed(),
            text,
            None if ok else f"HTTP {response.status_code}",
            None if ok else retry_after(response.headers.get("retry-after"), self.now()),
        )

    # -- recording outcomes ------------------------------------------------------------

    def finish(self, items: list[tuple[Claimed, Result]]) -> None:
        """Record one claim's outcomes in one transaction; disable endpoints that asked."""
        if not items:
            return
        schema = items[0][0].schema
        s = sql.Identifier(schema)
        now = self.now()
        to_disable: dict[UUID, tuple[DisableReason, str]] = {}
        ok_endpoints: set[UUID] = set()
        failed_endpoints: set[UUID] = set()
        with self.db.transaction() as cur:
            cur.executemany(
                sql.SQL(
                    "INSERT INTO {}.webhook_attempts (delivery_id, endpoint_id, msg_id, attempt,"
                    " at, outcome, response_code, latency_ms, response_body, error)"
                    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
                ).format(s),
                [
                    (
                        item.delivery_id,
                        item.endpoint_id,
                        item.msg_id,
                        item.attempts + 1,
                        now,
                        "succeeded" if result.ok else "failed",
                        result.status,
                        result.latency_ms,
                        result.body,
                        result.error,
                    )
                    for item, result in items
                ],
            )
            ok = [(item, result) for item, result in items if result.ok]
            if ok:
                self.delivered += len(ok)
                ok_endpoints.update(item.endpoint_id for item, _ in ok)
                cur.execute(
                    sql.SQL(
                        "UPDATE {}.webhook_deliveries d SET status = 'delivered',"
                        " attempts = d.attempts + 1, delivered_at = %s, locked_until = NULL,"
                        " claim = NULL, next_attempt_at = NULL, last_response_code = u.code,"
                        " last_error = NULL"
                        " FROM unnest(%s::uuid[], %s::uuid[], %s::int[]) AS u(id, claim, code)"
                        " WHERE d.delivery_id = u.id AND d.claim = u.claim"
                    ).format(s),
                    (
                        now,
                        [item.delivery_id for item, _ in ok],
                        [item.claim for item, _ in ok],
                        [result.status for _, result in ok],
                    ),
                )
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
                if step >= len(SCHEDULE):
                    status, next_at = "failed", None
                else:
                    status = "pending"
                    wait = delay(step, self.rng)
                    if result.retry_after is not None:
                        wait = max(wait, result.retry_after)
                    next_at = now + wait
                cur.execute(
                    sql.SQL(
                        "UPDATE {}.webhook_deliveries SET status = %s, attempts = attempts + 1,"
                        " step = %s, next_attempt_at = %s, locked_until = NULL, claim = NULL,"
                        " last_response_code = %s, last_error = %s"
                        " WHERE delivery_id = %s AND claim = %s"
                    ).format(s),
                    (
                        status,
                        step,
                        next_at,
                        result.status,
                        result.error,
                        item.delivery_id,
                        item.claim,
                    ),
                )
            for endpoint_id in sorted(ok_endpoints | failed_endpoints):
                if endpoint_id in ok_endpoints:
                    cur.execute(
                        sql.SQL(
                            "UPDATE {}.webhook_endpoints SET failing_since = NULL, last_success_at = %s"
                            " WHERE endpoint_id = %s"
                        ).format(s),
                        (now, endpoint_id),
                    )
                    continue
                cur.execute(
                    sql.SQL(
                        "UPDATE {}.webhook_endpoints SET failing_since = coalesce(failing_since, %s)"
                        " WHERE endpoint_id = %s RETURNING failing_since, enabled"
                    ).format(s),
                    (now, endpoint_id),
                )
                row = cur.fetchone()
                if row and row[1] and now - row[0] >= FAILING_LIMIT:
                    to_disable.setdefault(
                        endpoint_id,
                        (
                            DisableReason.FAILING,
                            f"every delivery failed since {row[0].isoformat()}",
                        ),
                    )
        for endpoint_id, (reason, detail) in to_disable.items():
            self.disable(schema, endpoint_id, reason, detail)

    def disable(self, schema: str, endpoint_id: UUID, reason: DisableReason, detail: str) -> None:
        """Disable the endpoint by an event in the grantee's log (and so its alert)."""
        slug = schema.removeprefix("g_")
        common.actor.set(ACTOR)
        common.request_id.set("")
        common.grantee.set(slug)
        app = self.tenancy.app(slug)
        for _ in range(3):
            try:
                app.webhooks.set_endpoint_enabled(
                    Command(), endpoint_id, False, reason=reason, detail=detail
                )
                log.warning("webhook_endpoint_disabled", grantee=slug, reason=reason.value)
                return
            except DomainError:
                continue  # a concurrent change of the endpoint: reload and retry

    # -- the loop ----------------------------------------------------------------------

    def _schemas(self) -> list[str]:
        return [grantee_schema(g.slug) for g in self.tenancy.grantees(limit=100_000)]

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
        for schema in self._schemas():
            if self.stopping.is_set():
                break
            try:
                done += self.process(schema)
            except psycopg.Error as e:
                log.error("webhook_dispatch_failed", schema=schema, error_class=type(e).__name__)
        return done

    def run(self) -> None:
        """Until `stop()`: rounds back to back while there is work, else wait for a wake-up
        (the outbox notifies) or the poll interval (retries fall due by time)."""
        while not self.stopping.is_set():
            try:
                with psycopg.connect(self.db.url, autocommit=True, connect_timeout=3) as conn:
                    conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(CHANNEL)))
                    while not self.stopping.is_set():
                        if self.run_once():
                            # Take the pending notifications without waiting.
                            for _ in conn.notifies(timeout=0.0):
                                pass
                            continue
                        for _ in conn.notifies(timeout=self.poll_seconds, stop_after=1):
                            pass
            except psycopg.OperationalError as e:
                log.warning("webhook_listener_lost", error_class=type(e).__name__)
                self.stopping.wait(1.0)


def enqueue_ping(db: Database, schema: str, endpoint_id: UUID, now: datetime) -> tuple[UUID, str]:
    """A `ping` test message for one endpoint: outside the sequence, due at once."""
    delivery_id = uuid.uuid4()
    msg_id = f"msg_{delivery_id.hex}"
    body = json.dumps(
        {
            "type": "ping",
            "timestamp": now.isoformat().replace("+00:00", "Z"),
            "data": {"endpoint_id": str(endpoint_id), "message": "a test message"},
            "version": 1,
        },
        separators=(",", ":"),
    ).encode()
    with db.transaction() as cur:
        cur.execute(
            sql.SQL(
                "INSERT INTO {}.webhook_deliveries (delivery_id, endpoint_id, event_type, msg_id,"
                " body, committed_at, created_at, status, next_attempt_at)"
                " VALUES (%s, %s, 'ping', %s, %s, %s, %s, 'pending', %s)"
            ).format(sql.Identifier(schema)),
            (delivery_id, endpoint_id, msg_id, body, now, now, now),
        )
        cur.execute("SELECT pg_notify(%s, %s)", (CHANNEL, schema))
    return delivery_id, msg_id


def start_in_thread(db: Database, **kwargs: Any) -> tuple[Dispatcher, threading.Thread]:
    dispatcher = Dispatcher(db, **kwargs)
    thread = threading.Thread(target=dispatcher.run, name="webhook-dispatcher", daemon=True)
    thread.start()
    return dispatcher, thread
