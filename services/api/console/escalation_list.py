"""The console's escalations: what the mentors have raised with the coordinators, the open
ones by default, newest raised first, each linked to its page (decision 138). One page is one
read of the API's `GET …/escalations` (its filters, its order and its cursor: decision 139),
with the names in one caseload read and one roster read for the page, never a read a row."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from litestar import Request, get
from litestar.response import Template

from domain import clock
from domain.supervision import EscalationType, Severity
from services.api.console.backend import Refusal, read
from services.api.console.format import words
from services.api.console.naming import people_named
from services.api.console.pages import log_position, optional_all, page
from services.api.console.roles import may
from services.api.console.session import PATH, signed_in

# Escalations a page, then "More escalations".
ESCALATIONS_PAGE = 50
STATUSES = {
    "open": "Open (not resolved)",
    "acknowledged": "Acknowledged, not resolved",
    "resolved": "Resolved",
    "all": "All",
}
TYPES = {t.value: words(t.value).capitalize() for t in EscalationType}
SEVERITIES = {s.value: s.value.capitalize() for s in Severity}


def open_for(raised_at: str, resolved_at: str | None) -> str:
    """How long the escalation is (or was) open: "3 h", "2 days 4 h"; under an hour, "under
    1 h"."""
    end = datetime.fromisoformat(resolved_at) if resolved_at else clock.now()
    hours = int((end - datetime.fromisoformat(raised_at)).total_seconds() // 3600)
    if hours < 1:
        return "under 1 h"
    days, hours = divmod(hours, 24)
    if not days:
        return f"{hours} h"
    return f"{days} day{'' if days == 1 else 's'}" + (f" {hours} h" if hours else "")


def _chosen(value: str | None, choices: dict[str, str], default: str = "") -> str:
    return value if value in choices else default


@get(f"{PATH}/escalations")
async def escalations(request: Request[Any, Any, Any]) -> Template:
    """The grantee's escalations: open ones by default (`?status=open|acknowledged|resolved|
    all`, `type`, `severity`), newest raised first across pages, 50 a page (`after`, the API's
    cursor)."""
    staff = signed_in(request)
    may(staff, "supervision.read", "see the escalations")
    query = request.query_params
    status = _chosen(query.get("status"), STATUSES, "open")
    kind = _chosen(query.get("type"), TYPES)
    severity = _chosen(query.get("severity"), SEVERITIES)
    # The API's cursor (the last row's raised time and id), as the API declares it.
    after = str(query.get("after") or "")[:400]
    params: dict[str, Any] = {
        "limit": ESCALATIONS_PAGE,
        "status": None if status == "all" else status,
        "type": kind or None,
        "severity": severity or None,
        "min_position": log_position(request),
    }
    notice = None
    try:
        found = await read(request, staff, "/escalations", cursor=after or None, **params)
    except Refusal as refused:
        if not after or refused.code != "invalid_cursor":
            raise
        # An address kept from before the list's order changed (an id, decision 139), or one
        # cut short: the first page, saying why, rather than a dead end.
        found = await read(request, staff, "/escalations", **params)
        notice = "That page of the list is no longer offered: here is the first page."
    rows = found["items"]
    people = [str(x["participant_id"]) for x in rows if x.get("participant_id")]
    named = await people_named(request, staff, people) if people else {}
    roster = await optional_all(request, staff, "/mentors", limit=500) if rows else None
    mentors = {str(m["id"]): str(m["display_name"]) for m in (roster or {}).get("items", [])}
    kept = {"status": status, "type": kind, "severity": severity}
    filters = {k: v for k, v in kept.items() if v and (k, v) != ("status", "open")}
    cursor = found.get("next_cursor")
    return page(
        request,
        staff,
        "escalations.html",
        title="Escalations",
        **({"notice": notice} if notice else {}),
        rows=rows,
        people=named,
        mentors=mentors,
        open_for={str(x["id"]): open_for(x["raised_at"], x.get("resolved_at")) for x in rows},
        status=status,
        kind=kind,
        severity=severity,
        statuses=STATUSES,
        types=TYPES,
        severities=SEVERITIES,
        first_page=f"{PATH}/escalations" + (f"?{urlencode(filters)}" if filters else ""),
        more=f"{PATH}/escalations?{urlencode({**filters, 'after': cursor})}" if cursor else "",
        paged=bool(after),
    )


ROUTES = [escalations]
