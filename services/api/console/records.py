"""The console's pages for mentors' supervisors, coordinators, auditors and oversight staff:
the mentor roster, a participant's document, the auditor's page (verification,
access log, event stream) and the cross-grantee oversight report. Each is the API's answer,
fetched as the signed-in staff member."""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any
from uuid import UUID

from litestar import Request, Response, get
from litestar.response import Template

from domain import clock
from services.api.console.backend import call, read_all, refusal, segment
from services.api.console.pages import optional, page
from services.api.console.roles import may
from services.api.console.session import PATH, signed_in
from services.identity.access import allowed

# The access log's rows on one page of the auditor's page.
ACCESS_PAGE = 100

# The report pages are the API's own printable HTML, with its inline styles and SVG charts.
REPORT_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'"


def quarter_of(day: date) -> str:
    return f"{day.year}Q{(day.month - 1) // 3 + 1}"


def asked_quarter(request: Request[Any, Any, Any], today: date) -> str:
    """The quarter asked for (`YYYYQn`, no personal data: it may be in the address), else the
    current one; the API refuses a malformed one."""
    return str(request.query_params.get("quarter") or quarter_of(today))[:8].upper()


@get(f"{PATH}/mentors")
async def mentors(request: Request[Any, Any, Any]) -> Template:
    """The mentor roster: status, training, screening, clearances and their expiry."""
    staff = signed_in(request)
    found = await read_all(request, staff, "/mentors", limit=500)
    return page(
        request,
        staff,
        "mentors.html",
        title="Mentors",
        mentors=found["items"],
        may_register=allowed("mentors.write", staff.roles),
    )


def passed_on(content_type: str) -> str:
    """The API answer's media type for the console's response: Litestar appends
    `; charset=utf-8` to a text type itself, so a text type's parameters are left to it (the
    API's text is UTF-8); other types pass as they are."""
    if not content_type:
        return "application/octet-stream"
    if content_type.lower().startswith("text/"):
        return content_type.split(";", 1)[0].strip()
    return content_type


async def _document(
    request: Request[Any, Any, Any], path: str, fmt: str, filename: str = ""
) -> Response[Any]:
    staff = signed_in(request)
    answer = await call(request, staff, "GET", path, params={"format": fmt} if fmt else None)
    if answer.status_code != 200:
        raise refusal(answer)
    headers = {"cache-control": "no-store"}
    if fmt == "html":
        headers["content-security-policy"] = REPORT_CSP
    if filename:
        headers["content-disposition"] = f'attachment; filename="{filename}"'
    return Response(
        answer.content,
        media_type=passed_on(answer.headers.get("content-type", "")),
        headers=headers,
    )


@get(f"{PATH}/participants/{{participant_id:uuid}}/documents/{{document_id:uuid}}")
async def document(
    request: Request[Any, Any, Any], participant_id: UUID, document_id: UUID
) -> Response[Any]:
    """A participant's document, downloaded through the API's own endpoint (its role check and
    its access-log row); the address holds ids only, the file name is in the response, and a
    42 CFR Part 2 document's §2.32 notice is in its header, as the API gave them."""
    staff = signed_in(request)
    path = f"/participants/{participant_id}/documents/{document_id}/content"
    answer = await call(request, staff, "GET", path)
    if answer.status_code != 200:
        raise refusal(answer)
    headers = {"cache-control": "no-store", "x-content-type-options": "nosniff"}
    for name in ("content-disposition", "part2-notice"):
        if name in answer.headers:
            headers[name] = answer.headers[name]
    return Response(
        answer.content,
        media_type=passed_on(answer.headers.get("content-type", "")),
        headers=headers,
    )


@get(f"{PATH}/audit")
async def audit(request: Request[Any, Any, Any]) -> Template:
    """The auditor's page: the hash chain's verification, the last day's access-log rows
    (newest first, a page at a time: `?before=` the id the previous page ended at, ids only in
    the address) and the latest events of the log (types and positions, as streamed)."""
    staff = signed_in(request)
    may(staff, "audit.verify", "open the audit page")
    verification = await optional(request, staff, "/audit/verification")
    day_ago = (clock.now() - timedelta(days=1)).isoformat()
    before = str(request.query_params.get("before") or "")
    older_than = int(before) if before.isdigit() and 0 < len(before) < 19 else None
    access = await optional(
        request,
        staff,
        "/audit/access-log",
        since=day_ago,
        newest_first="true",
        before=older_than,
        limit=ACCESS_PAGE,
    )
    head = int((verification or {}).get("head") or 0)
    streams = allowed("audit.events", staff.roles)
    events = []
    if streams:
        stream = await call(
            request, staff, "GET", "/audit/events", params={"after": max(0, head - 25), "limit": 25}
        )
        if stream.status_code == 200:
            events = [json.loads(line) for line in stream.text.splitlines() if line.strip()]
    return page(
        request,
        staff,
        "audit.html",
        title="Audit",
        verification=verification,
        access=(access or {}).get("items", []),
        older=(access or {}).get("next_before"),
        first=older_than is None,
        events=list(reversed(events)),
        streams=streams,
    )


@get(f"{PATH}/oversight/quarterly/{{quarter:str}}")
async def oversight_report(request: Request[Any, Any, Any], quarter: str) -> Response[Any]:
    """The quarterly report across every grantee the staff member may see."""
    return await _document(request, f"/v1/reports/quarterly/{segment(quarter)}", "html")


ROUTES = [mentors, document, audit, oversight_report]
