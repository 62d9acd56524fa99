"""One structured log line per request (DESIGN D4), the request id and trace context headers,
and the in-process request metrics (docs/observability.md).

Logged: request id, trace id, grantee slug, token subject, route template, method, status,
duration. Never logged: bodies, query strings, tokens, personal data.

All of it in one middleware, outermost, so the figures cover every answer (refusals by the
rate limiter included) and the per-request work stays a few microseconds: one pass over the
request headers, one `traceparent` match, two header values added to the answer, one locked
counter update.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import structlog
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, ReceiveMessage, Scope, Send

from domain import common
from services import tracecontext, tracing
from services.api import telemetry

log = structlog.get_logger("prowd.request")

_REPLAYED = b"idempotent-replayed"


# The status a request is logged and counted with when its client closed the connection before
# any answer started (nginx's convention; never sent).
CLIENT_CLOSED = 499


def request_log_middleware(app: ASGIApp) -> ASGIApp:
    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await app(scope, receive, send)
            return
        incoming = traceparent = tracestate = None
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                incoming = value.decode("latin-1")
            elif name == b"traceparent":
                traceparent = value.decode("latin-1")
            elif name == b"tracestate":
                # Several tracestate headers make one list.
                text = value.decode("latin-1")
                tracestate = text if tracestate is None else f"{tracestate},{text}"
        request_id = (
            incoming
            if incoming and len(incoming) <= 64 and incoming.isprintable()
            else uuid.uuid4().hex
        )
        trace = tracecontext.start(traceparent, tracestate)
        if (span := tracing.current_ids()) is not None:
            # OpenTelemetry's server span (services/tracing.py): its ids are the request's.
            trace = tracecontext.Trace(span[0], span[1], trace.parent_id, trace.flags, trace.state)
        state: dict[str, Any] = scope.setdefault("state", {})
        state["request_id"] = request_id
        state["trace"] = trace
        # Copied into the handler's worker thread: every event the request records carries them.
        trace_token = common.trace_id.set(trace.trace_id)
        span_token = common.span_id.set(trace.span_id)
        started = time.perf_counter()
        status = 500
        replayed = False
        is_command = scope.get("method") in telemetry.COMMAND_METHODS
        # Whether the client went away before the answer started: no answer reached it, and
        # the request is counted and logged as 499 (client closed), not as a server error.
        gone = answered = False

        async def receive_wrapper() -> ReceiveMessage:
            nonlocal gone
            message = await receive()
            if message["type"] == "http.disconnect" and not answered:
                gone = True
            return message

        async def send_wrapper(message: Message) -> None:
            nonlocal status, replayed, answered
            if message["type"] == "http.response.start":
                answered = True
                status = message["status"]
                headers = list(message.get("headers", []))
                if is_command:
                    replayed = any(name.lower() == _REPLAYED for name, _ in headers)
                headers.append((b"x-request-id", request_id.encode()))
                headers.append((b"traceparent", trace.traceparent.encode()))
                message["headers"] = headers
                # Before the answer goes out: the server span ends with its last byte.
                tracing.name_span(scope.get("method", ""), _route(scope))
            await send(message)

        try:
            await app(scope, receive_wrapper, send_wrapper)
        finally:
            seconds = time.perf_counter() - started
            if gone:
                status = CLIENT_CLOSED
            common.trace_id.reset(trace_token)
            common.span_id.reset(span_token)
            handler = scope.get("route_handler")
            route = _route(scope)
            method = scope.get("method", "")
            telemetry.METRICS.observe(
                method,
                route,
                status,
                seconds,
                handler.opt.get("action") if handler else None,
                replayed,
            )
            log.info(
                "request",
                request_id=request_id,
                trace_id=trace.trace_id,
                grantee=state.get("grantee"),
                subject=state.get("subject"),
                method=method,
                route=route,
                status=status,
                duration_ms=round(seconds * 1000, 2),
            )

    return middleware


def _route(scope: Scope) -> str:
    """The route template the router matched (never the raw path), or `unmatched`."""
    handler = scope.get("route_handler")
    return (
        scope.get("path_template") or (handler.paths and next(iter(handler.paths)))
        if handler
        else None
    ) or telemetry.UNMATCHED
