"""The console speaks to the API, in process, as the signed-in staff member (decision 70).

Each page and form is a client of the JSON API, called through the application's own ASGI
handler with the staff member's bearer token: the same role matrix, the same use cases
(`services.app`), the same idempotency keys, the same access-log rows and the same refusals as
any other client, with no second copy of a rule. A refusal comes back as the API's problem
document; the console shows its `detail`, the rule's plain-language message.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import httpx
from litestar import Request

from services.api.console.checks import in_words, per_field
from services.api.console.session import Staff


class Refusal(Exception):
    """The API refused: its status, its problem code and its plain-language detail."""

    def __init__(
        self,
        status: int,
        code: str,
        detail: str,
        errors: list[dict[str, Any]] | None = None,
        problem: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.problem_detail = detail
        self.errors = errors or []
        # The whole problem document (a 409 `possible_duplicate` names the records it found).
        self.problem = problem or {}
        # Which field is wrong, in plain words (checks.py), each sentence once.
        self.detail = in_words(detail, self.errors)

    def words(self, labels: Mapping[str, str]) -> str:
        """The refusal naming each invalid field by the form's label for it."""
        return in_words(self.problem_detail, self.errors, labels)

    def fields(
        self, labels: Mapping[str, str], rules: Mapping[str, str] | None = None
    ) -> dict[str, str]:
        """The refusal's sentences by the form field each is about (checks.per_field)."""
        return per_field(self.problem_detail, self.code, self.errors, labels, rules or {})


def segment(value: str) -> str:
    """A value from the console's own address as one path segment of an API call: escaped,
    so that a `?`, `#`, `/` or control character in it stays part of the value (the API then
    refuses it in words) and never changes which request the console makes."""
    return quote(value, safe="")


async def call(
    request: Request[Any, Any, Any],
    staff: Staff,
    method: str,
    path: str,
    *,
    params: dict[str, Any] | None = None,
    body: Any = None,
    idempotency_key: str | None = None,
    files: Mapping[str, tuple[str, bytes, str]] | None = None,
) -> httpx.Response:
    """One API request as `staff`; `path` is under the staff member's grantee unless it starts
    with `/v1/`. With `files` (field: file name, bytes, media type) the request is
    `multipart/form-data`, `body` its other fields; else `body` is sent as JSON."""
    url = path if path.startswith("/v1/") else f"/v1/grantees/{staff.grantee}{path}"
    headers = {"authorization": f"Bearer {staff.token}", "accept": "application/json"}
    if idempotency_key:
        headers["idempotency-key"] = idempotency_key
    request_id = request.scope.get("state", {}).get("request_id")
    if request_id:
        headers["x-request-id"] = str(request_id)
    client = request.client
    transport = httpx.ASGITransport(
        app=request.app,  # type: ignore[arg-type]
        # Rate limits count the browser's address, not the console's.
        client=(client.host, client.port) if client else ("127.0.0.1", 0),
    )
    async with httpx.AsyncClient(transport=transport, base_url="http://console.internal") as c:
        return await c.request(
            method,
            url,
            params={k: v for k, v in (params or {}).items() if v not in (None, "")},
            json=None if files else body,
            data=body if files else None,
            files=files,
            headers=headers,
        )


def refusal(response: httpx.Response) -> Refusal:
    try:
        problem = response.json()
    except ValueError:
        problem = {}
    if not isinstance(problem, dict):
        problem = {}
    detail = str(problem.get("detail") or problem.get("title") or "the request was refused")
    errors = problem.get("errors")
    listed = [e for e in errors if isinstance(e, dict)] if isinstance(errors, list) else []
    return Refusal(response.status_code, str(problem.get("code", "error")), detail, listed, problem)


def views_behind(request: Request[Any, Any, Any]) -> bool:
    """Whether a read of this page found the views short of the staff member's last command
    (the API's 503 `view_behind`): the page then says its lists may not show it yet."""
    return bool(getattr(request.state, "views_behind", False))


def _unwaited(params: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in params.items() if k != "min_position"}


async def read(request: Request[Any, Any, Any], staff: Staff, path: str, **params: Any) -> Any:
    """The JSON of a GET; a Refusal when the API says no.

    A list read with `min_position` waits (bounded) for the staff member's last command. When
    that wait runs out (the worker is down or far behind), the list is read as the view has it
    and the page's later reads do not wait again: one bounded wait per page, not one per part,
    and a page with every part drawn (decision 148)."""
    if params.get("min_position") is not None and views_behind(request):
        params = _unwaited(params)
    response = await call(request, staff, "GET", path, params=params)
    if response.status_code == 503 and params.get("min_position") is not None:
        found = refusal(response)
        if found.code != "view_behind":
            raise found
        request.state.views_behind = True
        return await read(request, staff, path, **_unwaited(params))
    if response.status_code != 200:
        raise refusal(response)
    return response.json()


# The most rows of one list a console page shows: a list longer than this (a grantee's every
# resident, say) is cut there, and the page says so (`complete` false) instead of pretending.
READ_ALL_CAP = 2000


async def read_all(
    request: Request[Any, Any, Any],
    staff: Staff,
    path: str,
    *,
    cap: int = READ_ALL_CAP,
    **params: Any,
) -> dict[str, Any]:
    """Every item of a paged list: its pages read one after the other, following `next_cursor`
    to the end, at most `cap` items. The answer is the first page's, with all the items and
    `complete` (false when the cap cut the list). A list that does not page answers in one
    read. A Refusal when the API says no."""
    found: dict[str, Any] = await read(request, staff, path, **params)
    items = list(found.get("items", []))
    cursor = found.get("next_cursor")
    while cursor and len(items) < cap:
        more = await read(request, staff, path, **params, cursor=cursor)
        items.extend(more.get("items", []))
        cursor = more.get("next_cursor")
    complete = not cursor and len(items) <= cap
    return {**found, "items": items[:cap], "next_cursor": None, "complete": complete}


async def command(
    request: Request[Any, Any, Any],
    staff: Staff,
    path: str,
    body: Any,
    idempotency_key: str | None,
    files: Mapping[str, tuple[str, bytes, str]] | None = None,
) -> tuple[Any, int]:
    """POST a command (with `files`: a multipart upload); its result and log position, or a
    Refusal."""
    response = await call(
        request, staff, "POST", path, body=body, idempotency_key=idempotency_key, files=files
    )
    if response.status_code not in (200, 201):
        raise refusal(response)
    return response.json(), int(response.headers.get("x-log-position", "0") or 0)
