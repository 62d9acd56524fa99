"""One HTTP attempt of a webhook delivery: checked target, signed request, bounded time.

The target is resolved and checked (services/webhooks/ssrf.py) and the request connects to the
address that was checked, never to a fresh resolution of the name. The `webhook-timestamp`
header is the wall-clock second of signing, as receivers check it against their own clocks.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from domain import clock
from services import tracecontext, tracing
from services.webhooks import signing, ssrf
from services.webhooks.deadline import DeadlineTransport
from services.webhooks.deadline import deadline as request_deadline
from services.webhooks.queue import Claimed, Result

MAX_RETRY_AFTER = timedelta(hours=24)
RESPONSE_BODY_BYTES = 1024


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


class Sender:
    """Sends claimed deliveries over one pooled HTTP client (thread-safe)."""

    def __init__(
        self,
        *,
        allowed: Sequence[ssrf.IPNetwork],
        now: Callable[[], datetime],
        concurrency: int,
        connect_timeout: float,
        total_timeout: float,
    ) -> None:
        self.allowed = tuple(allowed)
        self.now = now
        self.total_timeout = total_timeout
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

    def close(self) -> None:
        self.client.close()

    def send(self, item: Claimed) -> Result:
        """One attempt: its outcome, never an exception for what the receiver did."""
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
        _, trace_id, span_id, _ = headers["traceparent"].split("-")
        if item.sequence is not None:
            # Also in the (signed) body as `sequence`: the header is for routing and logs.
            headers["webhook-sequence"] = str(item.sequence)
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
            # With tracing on, the attempt's httpx span (and the traceparent it sends) is a
            # child of that span, in the trace of the request that recorded the event.
            with (
                tracing.parent(trace_id, span_id),
                request_deadline(max(0.0, deadline - time.monotonic())),
            ):
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
