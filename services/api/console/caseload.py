"""The console's caseload: a hundred participants a page, "More participants" and "First
page", an honest count, the filters and the sort kept from page to page (docs/console.md,
"Long lists"). Each page is the API's caseload read as the signed-in staff member."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from litestar import Request, get, post
from litestar.response import Template

from services.api.console.attention import alerts_per_person
from services.api.console.backend import read
from services.api.console.checks import CONTROL_CHARACTER
from services.api.console.pages import log_position, optional, page
from services.api.console.session import PATH, Staff, signed_in
from services.api.console.sorts import CLOSEST, SORTS, api_sort, sorted_by
from services.identity.access import STAFF, Role, allowed
from services.refusals import shown

# The caseload's page: a hundred participants, then "More participants".
CASELOAD_PAGE = 100


async def _caseload(request: Request[Any, Any, Any], q: str) -> Template:
    staff = signed_in(request)
    query = request.query_params
    sort = query.get("sort") or ""
    stage = query.get("stage") or ""
    status = query.get("status") or ""
    whose = query.get("whose") or ""
    cursor, start = "", 1
    if request.method == "POST":
        form = await request.form()
        sort = str(form.get("sort") or sort)
        stage = str(form.get("stage") or stage)
        status = str(form.get("status") or status)
        whose = str(form.get("whose") or whose)
        # The next page's cursor comes in the body: a sorted cursor carries the last row's
        # value (a name, when sorted by name), which no address may hold.
        cursor = str(form.get("cursor") or "")[:400]
        start = _start(str(form.get("start") or "")) if cursor else 1
    whose = await _whose(request, staff, whose)
    errs: dict[str, str] = {}
    rows: dict[str, Any] = {"items": []}
    alerts = None
    if CONTROL_CHARACTER.search(q):
        # Words the API refuses in any parameter (a NUL pasted from elsewhere): said beside
        # the box, which a full page gives back without it; nothing is searched, so no list.
        errs["q"] = (
            f"Find by name or number: {shown(q)} holds a control character, which no name or"
            " number has, so nothing was searched. Search again without it."
        )
        q = CONTROL_CHARACTER.sub("", q)
    else:
        rows = await read(
            request,
            staff,
            "/participants",
            limit=CASELOAD_PAGE,
            cursor=cursor or None,
            total="true",
            q=q or None,
            sort=api_sort(sort),
            stage=stage if stage in ("1", "2", "3") else None,
            status=status if status in ("active", "exited") else None,
            assigned_to="me" if whose == "mine" else None,
            min_position=log_position(request),
        )
        alerts = await optional(request, staff, "/alerts", min_position=log_position(request))
    shown_page = page(
        request,
        staff,
        "caseload.html",
        title="Caseload",
        rows=rows["items"],
        alerts=alerts_per_person(rows["items"], (alerts or {}).get("items", [])),
        q=q,
        sort=sort,
        stage=stage,
        status=status,
        whose=whose,
        sorts=SORTS,
        closest=CLOSEST,
        sorted_by=sorted_by(sort, bool(q)),
        start=start,
        total=rows.get("total"),
        next_cursor=rows.get("next_cursor"),
        first_page=_first_page(sort, stage, status, whose),
        may_enrol=allowed("participants.enroll", staff.roles),
        errs=errs,
    )
    if errs and not request.headers.get("hx-request"):
        # htmx swaps no 4xx answer in: the search as you type gets its sentence with a 200.
        shown_page.status_code = 400
    return shown_page


def _start(text: str) -> int:
    """The number of a page's first row (1 for anything that is not a count)."""
    return int(text) if text.isdigit() and 0 < int(text) < 10**9 else 1


def _first_page(sort: str, stage: str, status: str, whose: str) -> str:
    """The caseload's first page with the same filters and sort (no search words: those are
    sent in the body)."""
    kept = {"sort": sort, "stage": stage, "status": status, "whose": whose}
    filters = urlencode({k: v for k, v in kept.items() if v})
    return f"{PATH}/caseload" + (f"?{filters}" if filters else "")


async def _whose(request: Request[Any, Any, Any], staff: Staff, asked: str) -> str:
    """Whose participants the caseload lists: `mine` (assigned to the signed-in staff member,
    as case manager or coordinator: the API's `assigned_to=me`) or `all`. Not asked: `mine`
    for a case manager who has anyone assigned, else `all` (decision 98). A peer mentor's
    caseload is their mentees already, and an auditor has none: no choice for them."""
    if not staff.has(*CHOOSERS):
        return ""
    if asked in ("mine", "all"):
        return asked
    if Role.CASE_MANAGER.value not in staff.roles:
        return "all"
    anyone = await read(
        request,
        staff,
        "/participants",
        limit=1,
        assigned_to="me",
        min_position=log_position(request),
    )
    return "mine" if anyone["items"] else "all"


# The roles a participant can be assigned to (case manager, coordinator; the grantee's admin).
CHOOSERS = tuple(r.value for r in STAFF)


@get(f"{PATH}/caseload")
async def caseload(request: Request[Any, Any, Any]) -> Template:
    """The caseload, sorted and filtered (the filters are no personal data: they may be in the
    address)."""
    return await _caseload(request, "")


@post(f"{PATH}/caseload", status_code=200)
async def caseload_search(request: Request[Any, Any, Any]) -> Template:
    """A search by name or number: sent in the body, so no name reaches an address."""
    form = await request.form()
    return await _caseload(request, str(form.get("q", "")).strip()[:100])


ROUTES = [caseload, caseload_search]
