"""Times in the grantee's own zone (decision 58): stored in UTC, rendered with the grantee's
offset (`2026-11-03T18:00:00-06:00`, not `2026-11-04T00:00:00Z`), so a meeting at 18:00 in
Chicago reads as 18:00 on its own day.

`provide_tenant` (context.py) names the grantee's zone for the request; `localize_response`,
the app's `after_request` hook, rewrites every aware datetime of the answer into it before the
answer is encoded. Answers outside a grantee (the platform's) stay in UTC.
"""

from __future__ import annotations

import typing
from contextvars import ContextVar
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import msgspec
from litestar import Response

from services.api import csv_export

zone: ContextVar[ZoneInfo | None] = ContextVar("grantee_zone", default=None)


# Types no datetime can hide in: their fields are not visited.
_PLAIN: tuple[type, ...] = (str, bytes, int, float, bool, date, UUID, Decimal, Enum, type(None))
# Struct type -> the names of its fields whose declared type may hold a datetime.
_FIELDS: dict[type, tuple[str, ...]] = {}


def _may_hold_datetime(tp: Any) -> bool:
    """Whether a value of the declared type `tp` may be or contain a datetime."""
    if tp is datetime:
        return True
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        return _may_hold_datetime(typing.get_args(tp)[0])
    if origin is not None:
        if origin is typing.Literal:
            return False
        return any(_may_hold_datetime(a) for a in typing.get_args(tp) if a is not Ellipsis)
    if isinstance(tp, type):
        if issubclass(tp, msgspec.Struct):
            return bool(_fields_of(tp))
        if issubclass(tp, datetime):
            return True
        return not issubclass(tp, _PLAIN)
    return True  # Any, a type variable, a forward reference: look inside


def _fields_of(cls: type[msgspec.Struct]) -> tuple[str, ...]:
    found = _FIELDS.get(cls)
    if found is None:
        _FIELDS[cls] = cls.__struct_fields__  # while being worked out (a recursive type)
        try:
            hints = typing.get_type_hints(cls, include_extras=True)
            found = tuple(
                name
                for name in cls.__struct_fields__
                if name not in hints or _may_hold_datetime(hints[name])
            )
        except (NameError, TypeError):
            found = cls.__struct_fields__
        _FIELDS[cls] = found
    return found


def localize(value: Any, tz: ZoneInfo) -> Any:
    """`value` with every aware datetime in it (in structs, lists, tuples, dicts) in `tz`.

    A struct's fields are visited only where their declared type may hold a datetime (worked
    out once per struct type): a caseload page's rows have two such fields of thirty."""
    if isinstance(value, datetime):
        return value.astimezone(tz) if value.tzinfo is not None else value
    if isinstance(value, msgspec.Struct):
        changes = {}
        for name in _fields_of(type(value)):
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
