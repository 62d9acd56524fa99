"""Protections in front of every route: rate limits per token and per client address, and the
security headers of every response (issue: privacy and security, hardening).

Both are ASGI middleware so that a refused request costs no handler thread and no token check.
The limits are counted in PostgreSQL by default, shared by every API process and pod (one
statement per request, services/store/ratelimit.py, decision 46); `PROWD_RATE_LIMIT_STORE=process`
keeps token buckets in this process instead (N processes then allow N times the rates).
"""

from __future__ import annotations

import hashlib
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass

import anyio.to_thread
import msgspec
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from services.api.problems import PROBLEM_JSON, TITLES, Problem, problem_type
from services.settings import Settings
from services.store.ratelimit import Limit, SharedLimits

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


_GRANTEE = re.compile(r"^/v1/grantees/([a-z][a-z0-9_]{1,29})(?:/|$)")


def rate_limit_middleware(settings: Settings) -> Callable[[ASGIApp], ASGIApp]:
    """Per bearer token (`PROWD_RATE_LIMIT_TOKEN`/s), per client address
    (`PROWD_RATE_LIMIT_IP`/s) and per grantee (`PROWD_RATE_LIMIT_GRANTEE`/s, every request to
    `/v1/grantees/{grantee}/…`), each with bursts of twice the rate; 0 turns a limit off.
    Counted in PostgreSQL, shared by every process (`PROWD_RATE_LIMIT_STORE=database`, the
    default), or in this process alone (`process`)."""
    rates = {
        "address": settings.rate_limit_ip,
        "token": settings.rate_limit_token,
        "grantee": settings.rate_limit_grantee,
    }
    rates = {what: rate for what, rate in rates.items() if rate > 0}
    shared = settings.rate_limit_store == "database"
    local = {what: TokenBuckets(rate, 2 * rate) for what, rate in rates.items()}

    def keys(scope: Scope) -> list[tuple[str, str]]:
        """(what, key) of every limit this request counts against."""
        out = []
        if "address" in rates:
            client = scope.get("client")
            out.append(("address", f"ip:{client[0] if client else '-'}"))
        if "token" in rates:
            header = dict(scope["headers"]).get(b"authorization")
            if header:
                # Keyed by a digest: raw tokens are not kept longer than needed.
                out.append(("token", "tk:" + hashlib.blake2b(header, digest_size=16).hexdigest()))
        if "grantee" in rates and (m := _GRANTEE.match(scope["path"])):
            out.append(("grantee", f"g:{m[1]}"))
        return out

    async def over_shared(scope: Scope, counted: list[tuple[str, str]]) -> tuple[float, str]:
        state = scope["app"].state
        limits = state.get("shared_limits")
        if limits is None:
            limits = state["shared_limits"] = SharedLimits(state["tenancy"].db)
        what_of = {key: what for what, key in counted}
        over = await anyio.to_thread.run_sync(
            limits.take, [Limit(key, rates[what], 2 * rates[what]) for what, key in counted]
        )
        return (over.step, what_of[over.key]) if over else (0.0, "")

    def over_local(counted: list[tuple[str, str]]) -> tuple[float, str]:
        for what, key in counted:
            if wait := local[what].take(key):
                return wait, what
        return 0.0, ""

    def wrap(app: ASGIApp) -> ASGIApp:
        async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != ScopeType.HTTP or scope["path"] in UNLIMITED or not rates:
                await app(scope, receive, send)
                return
            counted = keys(scope)
            wait, what = (
                ((await over_shared(scope, counted)) if shared else over_local(counted))
                if counted
                else (0.0, "")
            )
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
# The staff console loads its own stylesheet and htmx (services/api/console/static), and
# posts its forms only to itself.
CSP_CONSOLE = (
    b"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:;"
    b" connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)


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
                    console = path.startswith("/console")
                    if console:
                        extra.append((b"content-security-policy", CSP_CONSOLE))
                    elif not path.startswith("/schema"):
                        html = content_type.startswith(b"text/html")
                        extra.append((b"content-security-policy", CSP_HTML if html else CSP_JSON))
                    if path.startswith("/v1/") or (
                        console and not path.startswith("/console/static")
                    ):
                        extra.append((b"cache-control", b"no-store"))
                    if production:
                        extra.append((b"strict-transport-security", b"max-age=31536000"))
                    headers.extend(h for h in extra if h[0] not in present)
                    message["headers"] = headers
                await send(message)

            await app(scope, receive, with_headers)

        return middleware

    return wrap
