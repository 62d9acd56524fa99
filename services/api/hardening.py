"""Protections in front of every route: rate limits per token and per client address, and the
security headers of every response (issue: privacy and security, hardening).

Both are ASGI middleware so that a refused request costs no handler thread, no token check and
no database round trip. Limits are token buckets held in this process: with N API processes the
platform-wide allowance is N times the setting (docs/security.md).
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import msgspec
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from services.api.problems import PROBLEM_JSON, TITLES, Problem, problem_type
from services.settings import Settings

# Buckets kept at most; beyond it, buckets that have refilled completely (idle clients) go.
MAX_BUCKETS = 50_000


@dataclass
class Bucket:
    tokens: float
    stamp: float


class TokenBuckets:
    """`rate` requests per second on average, bursts up to `burst`, per key."""

    def __init__(
        self, rate: float, burst: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate = rate
        self.burst = max(burst, 1.0)
        self.clock = clock
        self.buckets: dict[str, Bucket] = {}

    def take(self, key: str) -> float:
        """Take one token for `key`: 0.0 when allowed, else the seconds until one is free."""
        now = self.clock()
        bucket = self.buckets.get(key)
        if bucket is None:
            if len(self.buckets) >= MAX_BUCKETS:
                self._forget_idle(now)
            bucket = self.buckets[key] = Bucket(self.burst, now)
        else:
            bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.stamp) * self.rate)
            bucket.stamp = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0.0
        return (1.0 - bucket.tokens) / self.rate

    def _forget_idle(self, now: float) -> None:
        full = self.burst / self.rate
        self.buckets = {k: b for k, b in self.buckets.items() if now - b.stamp < full}
        if len(self.buckets) >= MAX_BUCKETS:  # all busy: start over rather than grow unbounded
            self.buckets.clear()


def _refusal(retry_after: float, what: str) -> tuple[Message, Message]:
    seconds = max(1, math.ceil(retry_after))
    body = msgspec.json.encode(
        Problem(
            type=problem_type("rate_limited"),
            title=TITLES[429],
            status=429,
            detail=f"too many requests from this {what}; retry after {seconds} s",
            code="rate_limited",
        )
    )
    start: Message = {
        "type": "http.response.start",
        "status": 429,
        "headers": [
            (b"content-type", PROBLEM_JSON.encode()),
            (b"content-length", str(len(body)).encode()),
            (b"retry-after", str(seconds).encode()),
        ],
    }
    end: Message = {"type": "http.response.body", "body": body, "more_body": False}
    return start, end


# Routes that stay reachable under any load: probes must tell the truth to the orchestrator.
UNLIMITED = ("/health", "/ready")


def rate_limit_middleware(settings: Settings) -> Callable[[ASGIApp], ASGIApp]:
    """Per bearer token (`PROWD_RATE_LIMIT_TOKEN`/s) and per client address
    (`PROWD_RATE_LIMIT_IP`/s), each with bursts of twice the rate; 0 turns a limit off."""
    per_token = (
        TokenBuckets(settings.rate_limit_token, 2 * settings.rate_limit_token)
        if settings.rate_limit_token > 0
        else None
    )
    per_ip = (
        TokenBuckets(settings.rate_limit_ip, 2 * settings.rate_limit_ip)
        if settings.rate_limit_ip > 0
        else None
    )

    def wrap(app: ASGIApp) -> ASGIApp:
        async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != ScopeType.HTTP or scope["path"] in UNLIMITED:
                await app(scope, receive, send)
                return
            wait, what = 0.0, ""
            if per_ip is not None:
                client = scope.get("client")
                wait, what = per_ip.take(client[0] if client else "-"), "address"
            if not wait and per_token is not None:
                header = dict(scope["headers"]).get(b"authorization")
                if header:
                    # Keyed by a digest: raw tokens are not kept in memory longer than needed.
                    key = hashlib.blake2b(header, digest_size=16).hexdigest()
                    wait, what = per_token.take(key), "token"
            if wait:
                start, body = _refusal(wait, what)
                await send(start)
                await send(body)
                return
            await app(scope, receive, send)

        return middleware

    return wrap


# JSON answers need nothing from a browser; the printable report pages need their own inline
# styles and SVG. The OpenAPI viewers under /schema load their scripts and are left alone.
CSP_JSON = b"default-src 'none'; frame-ancestors 'none'"
CSP_HTML = b"default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'"


def security_headers_middleware(settings: Settings) -> Callable[[ASGIApp], ASGIApp]:
    """Adds nosniff, frame denial, no referrer, a content security policy, `no-store` on the
    API's answers (they carry personal data) and, in production, HSTS."""
    production = settings.environment == "production"

    def wrap(app: ASGIApp) -> ASGIApp:
        async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != ScopeType.HTTP:
                await app(scope, receive, send)
                return
            path: str = scope["path"]

            async def with_headers(message: Message) -> None:
                if message["type"] == "http.response.start":
                    headers = list(message.get("headers", []))
                    present = {name.lower() for name, _ in headers}
                    content_type = dict(headers).get(b"content-type", b"")
                    extra = [
                        (b"x-content-type-options", b"nosniff"),
                        (b"x-frame-options", b"DENY"),
                        (b"referrer-policy", b"no-referrer"),
                        (b"cross-origin-resource-policy", b"same-origin"),
                    ]
                    if not path.startswith("/schema"):
                        html = content_type.startswith(b"text/html")
                        extra.append((b"content-security-policy", CSP_HTML if html else CSP_JSON))
                    if path.startswith("/v1/"):
                        extra.append((b"cache-control", b"no-store"))
                    if production:
                        extra.append((b"strict-transport-security", b"max-age=31536000"))
                    headers.extend(h for h in extra if h[0] not in present)
                    message["headers"] = headers
                await send(message)

            await app(scope, receive, with_headers)

        return middleware

    return wrap
