"""The console's pages: the caseload, a participant, the week's meetings, the alerts and an RRC's
residents. Each reads the API as the signed-in staff member (backend.py): what a role may see,
and the access-log row of each read, are the API's."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode
from uuid import UUID
from zoneinfo import ZoneInfo

from litestar import Request, get, post
from litestar.response import Redirect, Template

from domain import clock
from services.api.console.backend import Refusal, read, read_all
from services.api.console.session import PATH, Staff, session_of, signed_in
from services.api.console.sorts import SORTS, api_sort, sorted_by
from services.identity.access import STAFF, Role, allowed


def page(request: Request[Any, Any, Any], staff: Staff, name: str, **context: Any) -> Template:
    """A page with the layout's context: the navigation the role may use, a one-time notice."""
    session = session_of(request)
    notice = session.pop("notice", None)
    if notice:
        request.set_session(session)
    roles = staff.roles
    nav = [
        (f"{PATH}/caseload", "Caseload", allowed("participants.read", roles)),
        (f"{PATH}/meetings", "This week", allowed("meetings.read", roles)),
        (f"{PATH}/alerts", "Alerts", allowed("alerts.read", roles)),
        (f"{PATH}/rrc", "RRC residents", Role.RRC_STAFF.value in roles),
        (f"{PATH}/mentors", "Mentors", allowed("mentors.read", roles)),
        (f"{PATH}/reports", "Reports", allowed("reports.read", roles)),
        (f"{PATH}/audit", "Audit", allowed("audit.verify", roles)),
        (f"{PATH}/oversight", "Oversight", allowed("oversight.read", roles)),
    ]
    return Template(
        name,
        context={
            "staff": staff,
            "nav": [(href, label) for href, label, ok in nav if ok],
            "notice": notice,
            "path": request.url.path,
            **context,
        },
    )


async def optional(request: Request[Any, Any, Any], staff: Staff, path: str, **params: Any) -> Any:
    """A read whose refusal (the role may not see it) leaves its part of the page out."""
    try:
        return await read(request, staff, path, **params)
    except Refusal:
        return None


async def optional_all(
    request: Request[Any, Any, Any], staff: Staff, path: str, **params: Any
) -> dict[str, Any] | None:
    """Every page of a list (`read_all`); None when the role may not read it."""
    try:
        return await read_all(request, staff, path, **params)
    except Refusal:
        return None


def log_position(request: Request[Any, Any, Any]) -> int | None:
    """The position of the staff member's last command: lists wait until their views have it."""
    position = session_of(request).get("position")
    return position if isinstance(position, int) else None


@get(f"{PATH}/")
async def home(request: Request[Any, Any, Any]) -> Redirect:
    """Each role's first page."""
    staff = signed_in(request)
    if Role.RRC_STAFF.value in staff.roles:
        return Redirect(f"{PATH}/rrc", status_code=303)
    if Role.AUDITOR.value in staff.roles:
        return Redirect(f"{PATH}/audit", status_code=303)
    if not allowed("participants.read", staff.roles):
        return Redirect(f"{PATH}/oversight", status_code=303)
    return Redirect(f"{PATH}/caseload", status_code=303)


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
    return page(
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
        sorted_by=sorted_by(sort),
        start=start,
        total=rows.get("total"),
        next_cursor=rows.get("next_cursor"),
        first_page=_first_page(sort, stage, status, whose),
    )


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


async def whole_timeline(
    request: Request[Any, Any, Any], staff: Staff, pid: str, at: int | None
) -> list[dict[str, Any]] | None:
    """Every timeline entry the role may read, in the API's order (the time each fact happened,
    then the log: decision 100), page after page; None if the role may read none."""
    entries: list[dict[str, Any]] = []
    cursor = ""
    while True:
        found = await optional(
            request,
            staff,
            f"/participants/{pid}/timeline",
            limit=500,
            cursor=cursor,
            min_position=at,
        )
        if found is None:
            return entries or None
        entries.extend(found.get("items", []))
        cursor = found.get("next_cursor") or ""
        if not cursor:
            return entries


def instant(meeting: dict[str, Any]) -> datetime:
    """When a meeting took place (or is to), as an instant: its text carries the grantee's
    offset, which changes with daylight saving time, so the text does not sort."""
    return datetime.fromisoformat(str(meeting.get("occurred_at") or meeting["scheduled_for"]))


def alerts_per_person(rows: list[dict[str, Any]], alerts: list[dict[str, Any]]) -> dict[str, int]:
    """How many alerts concern each participant: about them, or about one of their pairings
    (a missed cadence is the pairing's)."""
    about: Counter[str] = Counter()
    for alert in alerts:
        subject = alert.get("subject") in ("participant", "pairing") and alert.get("subject_id")
        concerns = alert.get("participant_id") or alert.get("pairing_id") or subject
        if concerns:
            about[str(concerns)] += 1
    counts = {}
    for row in rows:
        pairings = [row.get("individual_pairing_id"), *row.get("group_pairing_ids", [])]
        counts[str(row["id"])] = about[str(row["id"])] + sum(about[str(p)] for p in pairings if p)
    return counts


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


@get(f"{PATH}/participants/{{participant_id:uuid}}")
async def participant(request: Request[Any, Any, Any], participant_id: UUID) -> Template:
    """One participant: stages, pairings, meetings, goals, referrals, case notes, documents,
    consents and the timeline (each part the role may read)."""
    staff = signed_in(request)
    pid = str(participant_id)
    # The lists wait (bounded) for the staff member's own last command.
    at = log_position(request)
    person = await read(request, staff, f"/participants/{pid}")
    pairings = await optional(request, staff, "/pairings", participant_id=pid, min_position=at)
    meetings: list[Any] = []
    for pairing in (pairings or {}).get("items", []):
        found = await optional(
            request, staff, "/meetings", pairing_id=pairing["id"], limit=20, min_position=at
        )
        meetings.extend((found or {}).get("items", []))
    meetings.sort(key=instant, reverse=True)
    goals = await optional(request, staff, "/goals", participant_id=pid, min_position=at)
    timeline = await whole_timeline(request, staff, pid, at)
    consents = await optional(request, staff, f"/participants/{pid}/consents")
    # What the role may not read stays out (the API refuses it: "not available to your role").
    documents = await optional_all(
        request, staff, f"/participants/{pid}/documents", limit=500, min_position=at
    )
    notes = await optional(request, staff, f"/participants/{pid}/case-notes", min_position=at)
    referrals = await optional_all(
        request, staff, "/referrals", participant_id=pid, limit=500, min_position=at
    )
    return page(
        request,
        staff,
        "participant.html",
        title="Participant",
        p=person,
        pairings=(pairings or {}).get("items", []),
        meetings=meetings[:20],
        goals=(goals or {}).get("items", []),
        timeline=timeline or [],
        consents=(consents or {}).get("items", [])
        if isinstance(consents, dict)
        else consents or [],
        documents=None if documents is None else documents.get("items", []),
        notes=None if notes is None else notes.get("items", []),
        referrals=None if referrals is None else referrals.get("items", []),
        may_download=allowed("documents.download", staff.roles),
        may_record=allowed("meetings.write", staff.roles),
        may_move=allowed("participants.move", staff.roles),
        may_refer=allowed("referrals.write", staff.roles),
        may_progress=allowed("goals.write", staff.roles),
    )


async def grantee_zone(request: Request[Any, Any, Any], staff: Staff) -> ZoneInfo:
    info = await optional(request, staff, f"/v1/grantees/{staff.grantee}")
    return ZoneInfo(str((info or {}).get("time_zone") or "UTC"))


@get(f"{PATH}/meetings")
async def week(request: Request[Any, Any, Any]) -> Template:
    """The meetings of this week (Monday to Sunday, in the grantee's time zone)."""
    staff = signed_in(request)
    zone = await grantee_zone(request, staff)
    today = clock.today(zone)
    monday = today - timedelta(days=today.weekday())
    start = datetime.combine(monday, time(0), zone)
    end = datetime.combine(monday + timedelta(days=7), time(0), zone)
    found = await read_all(
        request,
        staff,
        "/meetings",
        since=start.isoformat(),
        until=end.isoformat(),
        limit=500,
        min_position=log_position(request),
    )
    return page(
        request,
        staff,
        "meetings.html",
        title="This week's meetings",
        meetings=found["items"],
        monday=monday,
        zone=str(zone),
    )


@get(f"{PATH}/alerts")
async def alerts(request: Request[Any, Any, Any]) -> Template:
    """The grantee's alerts the role may see."""
    staff = signed_in(request)
    found = await read_all(request, staff, "/alerts", min_position=log_position(request))
    return page(request, staff, "alerts.html", title="Alerts", alerts=found)


@get(f"{PATH}/rrc")
async def rrc(request: Request[Any, Any, Any]) -> Template:
    """RRC staff: the residents of their own RRC."""
    staff = signed_in(request)
    code = staff.principal.rrc or ""
    found = await read_all(request, staff, f"/rrc/{code}/residents", limit=500)
    return page(
        request,
        staff,
        "rrc.html",
        title="RRC residents",
        rrc=code,
        residents=found["items"],
        complete=found["complete"],
    )


@get(f"{PATH}/rrc/residents/{{participant_id:uuid}}")
async def resident(request: Request[Any, Any, Any], participant_id: UUID) -> Template:
    """One resident of the staff member's own RRC (another RRC's is not found)."""
    staff = signed_in(request)
    code = staff.principal.rrc or ""
    found = await read(request, staff, f"/rrc/{code}/residents/{participant_id}")
    return page(request, staff, "resident.html", title="Resident", rrc=code, r=found)


ROUTES = [home, caseload, caseload_search, participant, week, alerts, rrc, resident]
