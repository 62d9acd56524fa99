"""OpenTelemetry spans, exported over OTLP when `OTEL_EXPORTER_OTLP_ENDPOINT` (or
`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set, off otherwise (docs/observability.md).

`configure()` installs the SDK's tracer provider with a batch processor and the OTLP/HTTP
(protobuf) exporter, which read the standard `OTEL_*` variables themselves, and instruments
psycopg (every query a client span) and httpx (every webhook attempt a client span) with the
official instrumentations. The API adds its server spans through Litestar's own integration
(`litestar.plugins.opentelemetry`, services/api/app.py).

The ids the rest of the code carries (`services/tracecontext.py`: request log lines, the
metadata of stored events, webhook `traceparent` headers) are the spans' ids when tracing is
on: `current_ids()` reads them from the active span, and `parent(trace_id)` makes a webhook
attempt a span of the trace of the request that recorded its event.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

_provider: Any = None


def wanted() -> bool:
    return (
        bool(
            os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
            or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        )
        and os.environ.get("OTEL_SDK_DISABLED", "").lower() != "true"
    )


def enabled() -> bool:
    return _provider is not None


def configure(service: str) -> Any:
    """Install tracing once per process when an OTLP endpoint is set; the provider, or None."""
    global _provider
    if _provider is not None or not wanted():
        return _provider
    from opentelemetry import trace
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
    from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider(
        resource=Resource.create({"service.name": os.environ.get("OTEL_SERVICE_NAME", service)})
    )
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    # No SQL comments: statements stay as written (prepared statements, pg_stat_statements).
    PsycopgInstrumentor().instrument(tracer_provider=provider, enable_commenter=False)
    HTTPXClientInstrumentor().instrument(tracer_provider=provider)
    _provider = provider
    return provider


def shutdown() -> None:
    """Export what is still buffered (at a process's end)."""
    if _provider is not None:
        _provider.shutdown()


def current_ids() -> tuple[str, str] | None:
    """The active span's (trace id, span id) in hex, when tracing is on and a span is active."""
    if _provider is None:
        return None
    from opentelemetry import trace

    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return None
    return f"{context.trace_id:032x}", f"{context.span_id:016x}"


@contextlib.contextmanager
def parent(trace_id: str, span_id: str) -> Iterator[None]:
    """Within the block, spans (the httpx client span of a webhook attempt) are children of
    `span_id` in trace `trace_id`; nothing when tracing is off or the ids are empty."""
    if _provider is None or not trace_id or not span_id:
        yield
        return
    from opentelemetry import context, trace

    remote = trace.SpanContext(
        int(trace_id, 16),
        int(span_id, 16),
        is_remote=True,
        trace_flags=trace.TraceFlags(trace.TraceFlags.SAMPLED),
    )
    token = context.attach(trace.set_span_in_context(trace.NonRecordingSpan(remote)))
    try:
        yield
    finally:
        context.detach(token)


def name_span(method: str, route: str) -> None:
    """Name the request's server span by its route template (never the raw path)."""
    if _provider is None:
        return
    from opentelemetry import trace

    span = trace.get_current_span()
    if span.is_recording():
        span.update_name(f"{method} {route}")
        span.set_attribute("http.route", route)
