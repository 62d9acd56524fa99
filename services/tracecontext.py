"""W3C Trace Context (Level 1), implemented by hand without an OpenTelemetry SDK.

A request's `traceparent` is parsed and validated; a valid one continues the caller's trace,
anything else (absent, malformed, all-zero ids, version `ff`) starts a new trace and is never
an error. Each request is a span of its own (a new span id whose parent is the caller's); the
answer carries `traceparent` with that span (services/api/middleware.py), the events the
request records carry its trace and span ids (domain/common.py), and each webhook delivery
attempt is a new span of the trace of the event it delivers (services/webhooks/dispatcher.py).
`tracestate` is validated and kept with the request's trace, not stored nor forwarded.
"""

from __future__ import annotations

import os
import re

# version-traceid-parentid-flags, lowercase hex; a later version may append "-..." fields.
_TRACEPARENT = re.compile(r"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?")
_ZERO_TRACE = "0" * 32
_ZERO_SPAN = "0" * 16
_ODD = frozenset("13579bdf")
# One tracestate list member: `key=value` (key: simple or tenant@system; value: printable ASCII
# without `,` and `=`, not ending in a space).
_TRACESTATE_MEMBER = re.compile(
    r"[a-z0-9][_0-9a-z\-*/]{0,255}(@[a-z][_0-9a-z\-*/]{0,13})?"
    r"=[\x20-\x2b\x2d-\x3c\x3e-\x7e]{0,255}[\x21-\x2b\x2d-\x3c\x3e-\x7e]"
)
TRACESTATE_MAX_MEMBERS = 32
TRACESTATE_MAX_CHARS = 512


class Trace:
    """The span of one request: its trace, its own span id, the caller's span (`parent_id`,
    empty when the trace started here), the trace flags and the caller's `tracestate`.
    (A plain slotted class: built once per request, it must cost next to nothing.)"""

    __slots__ = ("flags", "parent_id", "span_id", "state", "trace_id")

    def __init__(
        self, trace_id: str, span_id: str, parent_id: str, flags: str, state: str = ""
    ) -> None:
        self.trace_id = trace_id
        self.span_id = span_id
        self.parent_id = parent_id
        self.flags = flags
        self.state = state

    @property
    def traceparent(self) -> str:
        return f"00-{self.trace_id}-{self.span_id}-{self.flags}"


def new_ids() -> tuple[str, str]:
    """A random trace id (16 bytes) and span id (8 bytes) as lowercase hex, never all zeros."""
    while True:
        raw = os.urandom(24).hex()
        trace_id, span_id = raw[:32], raw[32:]
        if trace_id != _ZERO_TRACE and span_id != _ZERO_SPAN:
            return trace_id, span_id


def new_span_id() -> str:
    while True:
        span_id = os.urandom(8).hex()
        if span_id != _ZERO_SPAN:
            return span_id


def parse_traceparent(value: str) -> tuple[str, str, str] | None:
    """(trace id, parent span id, flags) of a valid `traceparent`, else None.

    Version 00 is exactly 55 characters; a later version is read by its first four fields
    (as the specification asks of a version-00 parser); `ff` is never valid."""
    match = _TRACEPARENT.fullmatch(value)
    if match is None:
        return None
    version, trace_id, parent_id, flags, rest = match.groups()
    if version == "ff" or (rest is not None and version == "00"):
        return None
    if trace_id == _ZERO_TRACE or parent_id == _ZERO_SPAN:
        return None
    # Only the sampled bit (the low bit) is defined in version 00: it is passed on, no other.
    return trace_id, parent_id, "01" if flags[1] in _ODD else "00"


def valid_tracestate(value: str) -> str:
    """The `tracestate` as received if well-formed (at most 32 members, 512 characters), else
    empty: a malformed one is dropped whole, never repaired."""
    value = value.strip()
    if not value or len(value) > TRACESTATE_MAX_CHARS:
        return ""
    members = [m.strip() for m in value.split(",")]
    members = [m for m in members if m]
    if len(members) > TRACESTATE_MAX_MEMBERS:
        return ""
    if not all(_TRACESTATE_MEMBER.fullmatch(m) for m in members):
        return ""
    return ",".join(members)


def start(traceparent: str | None, tracestate: str | None) -> Trace:
    """The request's span: a child of the caller's span when `traceparent` is valid, else the
    root of a new trace (sampled: every request is logged)."""
    parsed = parse_traceparent(traceparent) if traceparent else None
    if parsed is None:
        trace_id, span_id = new_ids()
        return Trace(trace_id, span_id, "", "01")
    trace_id, parent_id, flags = parsed
    state = valid_tracestate(tracestate) if tracestate else ""
    return Trace(trace_id, new_span_id(), parent_id, flags, state)


def child_traceparent(trace_id: str) -> str:
    """`traceparent` for an outgoing call made on behalf of trace `trace_id` (a webhook
    delivery attempt): a new span of that trace; a new trace when `trace_id` is not one."""
    if len(trace_id) != 32 or trace_id == _ZERO_TRACE or not _is_hex(trace_id):
        trace_id, span_id = new_ids()
    else:
        span_id = new_span_id()
    return f"00-{trace_id}-{span_id}-01"


def _is_hex(value: str) -> bool:
    return all(c in "0123456789abcdef" for c in value)
