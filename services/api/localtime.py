"""Times in the grantee's own zone (decision 58): stored in UTC, rendered with the grantee's
offset (`2026-11-03T18:00:00-06:00`, not `2026-11-04T00:00:00Z`), so a meeting at 18:00 in
Chicago reads as 18:00 on its own day.

`provide_tenant` (context.py) names the grantee's zone for the request; `localize_response`,
the app's `after_request` hook, rewrites every aware datetime of the answer into it before the
answer is encoded. Answers outside a grantee (the platform's) stay in UTC.
"""

from __future__ import annotations

from contextvars import ContextVar
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import msgspec
from litestar import Response

from services.api import csv_export

zone: ContextVar[ZoneInfo | None] = ContextVar("grantee_zone", default=None)


def localize(value: Any, tz: ZoneInfo) -> Any:
    """`value` with every aware datetime in it (in structs, lists, tuples, dicts) in `tz`."""
    if isinstance(value, datetime):
        return value.astimezone(tz) if value.tzinfo is not None else value
    if isinstance(value, msgspec.Struct):
        changes = {}
        for name in value.__struct_fields__:
            old = getattr(value, name)
            new = localize(old, tz)
            if new is not old:
                changes[name] = new
        return msgspec.structs.replace(value, **changes) if changes else value
    if isinstance(value, list):
        items = [localize(v, tz) for v in value]
        return value if all(a is b for a, b in zip(items, value, strict=True)) else items
    if isinstance(value, dict):
        pairs = {k: localize(v, tz) for k, v in value.items()}
        return value if all(pairs[k] is value[k] for k in value) else pairs
    return value


async def localize_response(response: Response[Any]) -> Response[Any]:
    """The `after_request` hook: a grantee's answer in the grantee's zone (then, if the
    request asked for it, a list as CSV: services/api/csv_export.py)."""
    if not hasattr(response, "content"):
        return response  # a file or a stream (the docs' assets): nothing to render
    tz = zone.get()
    if tz is not None and not isinstance(response.content, bytes | str):
        response.content = localize(response.content, tz)
    return csv_export.render_csv(response)
