"""Every log line of every process as one JSON object (DESIGN D4), through structlog.

structlog's own loggers render directly; records of the standard library's `logging` (uvicorn,
Litestar, psycopg's pool, anything else) go through the same processors by structlog's
`ProcessorFormatter` on the root handler, so no plain-text line reaches stderr. Each line has
`timestamp` (ISO, UTC), `level`, `event` (the message), `logger` (stdlib records), the context variables bound
for the request or task (`trace_id`, `grantee`, ...) and, for an error, `exception` (the
formatted traceback).
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable
from typing import Any

import msgspec
import structlog

LEVELS = ("debug", "info", "warning", "error", "critical")

# Loggers that install handlers of their own elsewhere; here they hand their records to the root.
_FOREIGN = ("uvicorn", "uvicorn.error", "litestar", "psycopg", "psycopg.pool")
# uvicorn's access line is never written: it carries the path with its query string (ids,
# search words such as a participant's name), where the platform's own `request` line names
# the route (services/api/middleware.py). With no handler and no propagation uvicorn does not
# even format it (3 % of an API process's CPU under the command load at level info).
_SILENT = ("uvicorn.access",)


_ENCODER = msgspec.json.Encoder()


def dumps(value: Any, default: Callable[[Any], Any] | None = None, **_: Any) -> str:
    """structlog's serializer: msgspec's encoder, a third of the standard library's cost per line
    (tests/perf/bench_request_stack.py). What msgspec cannot encode as it is (an object without a
    JSON form, a string with a lone surrogate) takes the standard library's path, as before."""
    try:
        if default is None:
            return _ENCODER.encode(value).decode()
        return msgspec.json.encode(value, enc_hook=default).decode()
    except (TypeError, ValueError, UnicodeError, msgspec.EncodeError):
        return json.dumps(value, default=default)


def configure(level: str = "info", *, cache: bool = True) -> None:
    level = level.lower() if level.lower() in LEVELS else "info"
    number = logging.getLevelName(level.upper())
    stamp = structlog.processors.TimeStamper(fmt="iso", utc=True)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[
                structlog.contextvars.merge_contextvars,
                structlog.stdlib.add_log_level,
                structlog.stdlib.add_logger_name,
                stamp,
            ],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                structlog.processors.JSONRenderer(serializer=dumps),
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(number)
    for name in _FOREIGN:
        foreign = logging.getLogger(name)
        foreign.handlers.clear()
        foreign.propagate = True
    for name in _SILENT:
        silent = logging.getLogger(name)
        silent.handlers.clear()
        silent.propagate = False
    logging.captureWarnings(True)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            stamp,
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(serializer=dumps),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(number),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=cache,
    )
