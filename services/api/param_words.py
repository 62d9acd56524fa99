"""Where a request's parameters went wrong, in words (docs/errors.md "Parameters"): read by
`problems.handle_exception` and so free of responses.

- `malformed_path`: a path no route matches only because an `{id:uuid}` segment is not a UUID
  (the answer then names the path parameter and the value, not a bare "Not Found").
- `parameter_detail`: the detail of a parameter that fails validation names it, says where it
  is (query, path, header) and quotes the offending value (at most 40 characters of it).
"""

from __future__ import annotations

import re
import uuid
from functools import cache
from typing import Any

from litestar import Litestar, Request
from litestar.enums import ParamType

from services.refusals import clipped, shown

_PARAM = re.compile(r"\{(\w+)(?::(\w+))?\}")


@cache
def _templates(app: Litestar) -> list[tuple[re.Pattern[str], list[tuple[str, str]]]]:
    """Each route with a `uuid` path parameter as a pattern that takes any segment there."""
    out = []
    for route in app.routes:
        params: list[tuple[str, str]] = []
        pattern, pos = "", 0
        for m in _PARAM.finditer(route.path):
            pattern += re.escape(route.path[pos : m.start()]) + "([^/]+)"
            params.append((m[1], m[2] or "str"))
            pos = m.end()
        pattern += re.escape(route.path[pos:])
        if any(kind == "uuid" for _, kind in params):
            out.append((re.compile(pattern.rstrip("/") + "/?"), params))
    return out


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def malformed_path(request: Request[Any, Any, Any]) -> tuple[str, str] | None:
    """(name, value) of the `uuid` path parameter that kept a route from matching, if any."""
    path = request.url.path
    for pattern, params in _templates(request.app):
        match = pattern.fullmatch(path)
        if match is None:
            continue
        for (name, kind), value in zip(params, match.groups(), strict=False):
            if kind == "uuid" and not _is_uuid(value):
                return name, value
    return None


_SOURCES = {
    ParamType.QUERY: "query parameter",
    ParamType.PATH: "path parameter",
    ParamType.HEADER: "header",
    ParamType.COOKIE: "cookie",
}


def parameter_detail(request: Request[Any, Any, Any], errors: list[dict[str, Any]]) -> str | None:
    """ "query parameter 'limit' = '100000': Expected `int` <= 500", or None for a body error."""
    parts = []
    for error in errors:
        source = error.get("source")
        where = next((w for kind, w in _SOURCES.items() if str(source) in (kind, str(kind))), None)
        if where is None:
            return None
        key = str(error.get("key", ""))
        values: dict[str, Any] = {
            "query parameter": request.query_params,
            "path parameter": request.path_params,
            "header": request.headers,
            "cookie": request.cookies,
        }
        value = values[where].get(key)
        said = f" = {shown(value)}" if value is not None else " (missing)"
        parts.append(f"{where} {shown(key)}{said}: {clipped(str(error.get('message', 'invalid')))}")
    return "; ".join(parts) or None


def source_name(source: Any) -> str:
    """'query', 'path', 'header', 'cookie' or 'body' for Litestar's error `source`."""
    for kind in ParamType:
        if str(source) in (kind, str(kind)):
            return str(kind.value)
    return "body"
