"""CSV export of every list (`Accept: text/csv`): the list's own handler runs with its own
filters, search, sort and page; the answer's `items` become CSV rows, one column per field
(nested values as JSON), and the next page's cursor travels in `X-Next-Cursor`. Decided in
provide_tenant (context.py), rendered by the app's `after_request` hook (app.py)."""

from __future__ import annotations

import csv
import io
import typing
from contextvars import ContextVar
from datetime import date
from typing import Any

import msgspec
from litestar import Response

from services.reports.csvsafe import safe_cell

CSV = "text/csv"
wanted: ContextVar[bool] = ContextVar("csv_wanted", default=False)
# The file name of the answer, `<list>-<grantee's today>.csv`: set with `wanted`.
filename: ContextVar[str] = ContextVar("csv_filename", default="list.csv")


def name_for(path_template: str, today: date) -> str:
    """`<list>-<date>.csv`: the last segment of the route's template that is no parameter
    (`/v1/grantees/{grantee}/participants/{participant_id}/goals` gives `goals`), so the name
    never holds an id or anything else a caller sent."""
    words = [s for s in path_template.split("/") if s and not s.startswith("{")]
    return f"{words[-1] if words else 'list'}-{today.isoformat()}.csv"


def asks_for_csv(accept: str) -> bool:
    """Whether an `Accept` header names text/csv (before any JSON type)."""
    types = [part.split(";")[0].strip().lower() for part in accept.split(",")]
    if CSV not in types:
        return False
    json_at = [i for i, t in enumerate(types) if t in ("application/json", "*/*")]
    return not json_at or types.index(CSV) < min(json_at)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return safe_cell(value)
    if isinstance(value, bool | int | float):
        return str(value).lower() if isinstance(value, bool) else str(value)
    encoded = msgspec.json.encode(value).decode()
    return safe_cell(encoded.strip('"') if encoded.startswith('"') else encoded)


def item_fields(page: Any) -> list[str]:
    """The field names of the items a list's answer `page` holds (its `items: list[X]`, X a
    Struct), read from its type: the header of an empty list. None known: no column."""
    if not isinstance(page, msgspec.Struct):
        return []
    for field in msgspec.structs.fields(type(page)):
        if field.name != "items" or typing.get_origin(field.type) is not list:
            continue
        (item,) = typing.get_args(field.type)[:1] or (None,)
        if isinstance(item, type) and issubclass(item, msgspec.Struct):
            return [f.encode_name for f in msgspec.structs.fields(item)]
    return []


def as_csv(items: list[Any], header: list[str] | None = None) -> str:
    """The rows of a list's `items` as CSV, with a header of their field names (`header`
    first: an empty list still has its columns)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    builtins = [msgspec.to_builtins(i) for i in items]
    columns: list[str] = list(header or [])
    for item in items:
        names = (
            list(item.__struct_fields__)
            if isinstance(item, msgspec.Struct)
            else list(msgspec.to_builtins(item))
        )
        columns += [n for n in names if n not in columns]
    writer.writerow([safe_cell(c) for c in columns])
    for row in builtins:
        writer.writerow([_cell(row.get(c)) for c in columns])
    return out.getvalue()


def render_csv(response: Response[Any]) -> Response[Any]:
    """A list's answer as CSV when the request asked for it (anything else as it was)."""
    content = getattr(response, "content", None)
    if not wanted.get() or response.status_code != 200:
        return response
    items = getattr(content, "items", None)
    if not isinstance(items, list):
        return response
    headers = dict(response.headers)
    cursor = getattr(content, "next_cursor", None)
    if cursor:
        headers["X-Next-Cursor"] = str(cursor)
    headers["Content-Disposition"] = f'attachment; filename="{filename.get()}"'
    # Litestar appends `; charset=utf-8` to a text/* type itself (naming it here doubled it).
    return Response(
        as_csv(items, item_fields(content)), status_code=200, media_type=CSV, headers=headers
    )
