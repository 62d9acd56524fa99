"""The console's pages: a participant, the week's meetings and the alerts (the caseload is
caseload.py's, an RRC's residents residents.py's). Each reads the API as the signed-in staff member
(backend.py): what a role may see, and the access-log row of each read, are the API's."""

from __future__ import annotations

import uuid
from datetime import datetime, time, timedelta
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from litestar import Request, get
from litestar.response import Redirect, Template

from domain import clock
from domain.casework import ContactMode
from services.api.console.attention import participant_alerts
from services.api.console.backend import Refusal, read, read_all, views_behind
from services.api.console.erased import explained
from services.api.console.naming import alert_names, pairing_people
from services.api.console.session import PATH, Staff, session_of, signed_in, take_left_over
from services.audit.disclosure import PART2_NOTICE_ABBREVIATED
from services.identity.access import Role, allowed


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
        (f"{PATH}/escalations", "Escalations", allowed("supervision.read", roles)),
        (f"{PATH}/rrc", "RRC residents", Role.RRC_STAFF.value in roles),
        (f"{PATH}/mentors", "Mentors", allowed("mentors.read", roles)),
        (f"{PATH}/reports", "Reports", allowed("reports.read", roles)),
        (f"{PATH}/audit", "Audit", allowed("audit.verify", roles)),
        (f"{PATH}/oversight", "Oversight", allowed("oversight.read", roles)),
    ]
    # A form carried from an ended session that this page did not fill in again: shown as
    # it was sent, so that nothing typed is lost (decision 144).
    left_over = take_left_over(request)
    return Template(
        name,
        context={
            "staff": staff,
            "nav": [(href, label) for href, label, ok in nav if ok],
            "notice": notice,
            "behind": views_behind(request),
            "left_over": left_over,
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


@get(f"{PATH}/participants/{{participant_id:uuid}}")
async def participant(request: Request[Any, Any, Any], participant_id: UUID) -> Template:
    """One participant: their alerts, contact details, stages, pairings, meetings, goals,
    referrals, outcomes, case notes, documents, consents and the timeline (each part the role
    may read).
    The contact details come with the participant's own read (its access-log row), as the API
    shows them to the role: no read of their own."""
    staff = signed_in(request)
    pid = str(participant_id)
    # The lists wait (bounded) for the staff member's own last command.
    at = log_position(request)
    person = await read(request, staff, f"/participants/{pid}")
    # What needs attention first: the alerts the caseload counts for them (attention.py).
    alerts = await participant_alerts(request, staff, pid, at)
    pairings = await optional(request, staff, "/pairings", participant_id=pid, min_position=at)
    meetings: list[Any] = []
    for pairing in (pairings or {}).get("items", []):
        found = await optional(
            request, staff, "/meetings", pairing_id=pairing["id"], limit=20, min_position=at
        )
        meetings.extend((found or {}).get("items", []))
    meetings.sort(key=instant, reverse=True)
    # Each pairing's mentor by name (a role that may not read mentors sees none).
    mentors: dict[str, str] = {}
    for pairing in (pairings or {}).get("items", []):
        mentor = await optional(request, staff, f"/mentors/{pairing['mentor_id']}")
        if mentor:
            mentors[str(pairing["mentor_id"])] = str(mentor["display_name"])
    # The goal board: active goals by target date, each with its steps, then the closed ones.
    board = await optional(request, staff, "/goals/board", participant_id=pid, min_position=at)
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
    # Each referral's resource by name (withdrawn ones too: a referral may predate it).
    directory = (
        await optional_all(request, staff, "/resources", include_withdrawn=True, limit=500)
        if referrals and referrals.get("items")
        else None
    )
    # Outcomes are read from the participant's own record (no view to wait for).
    outcomes = await optional(request, staff, f"/participants/{pid}/outcomes")
    may_contact = allowed("casework.write", staff.roles)
    # By the contact's day, newest first, as the API lists them (decision 146).
    listed = (
        await optional_all(request, staff, f"/participants/{pid}/case-contacts", limit=500)
        if may_contact
        else None
    )
    contacts = (listed or {}).get("items", [])
    # Erased: the record stays for the figures; no form that adds something personal to it.
    personal = not person.get("erased_at")
    return page(
        request,
        staff,
        "participant.html",
        title="Participant",
        p=person,
        alerts=alerts,
        pairings=(pairings or {}).get("items", []),
        mentors=mentors,
        may_pair=personal and allowed("pairings.write", staff.roles),
        may_assign=allowed("participants.assign", staff.roles),
        meetings=meetings[:20],
        goals=[
            g for part in ("active", "achieved", "abandoned") for g in (board or {}).get(part, [])
        ],
        timeline=timeline or [],
        consents=(consents or {}).get("items", [])
        if isinstance(consents, dict)
        else consents or [],
        documents=None if documents is None else documents.get("items", []),
        notes=None if notes is None else notes.get("items", []),
        referrals=None if referrals is None else referrals.get("items", []),
        resources={str(r["id"]): str(r["name"]) for r in (directory or {}).get("items", [])},
        outcomes=outcomes,
        may_outcome=personal and allowed("outcomes.write", staff.roles),
        may_download=allowed("documents.download", staff.roles),
        part2_notice=PART2_NOTICE_ABBREVIATED,
        may_upload=personal and allowed("documents.write", staff.roles),
        may_record=personal and allowed("meetings.write", staff.roles),
        may_escalate=personal and allowed("escalations.raise", staff.roles),
        may_move=allowed("participants.move", staff.roles),
        may_refer=personal and allowed("referrals.write", staff.roles),
        may_progress=personal and allowed("goals.write", staff.roles),
        may_contact=may_contact,
        may_add_contact=personal and may_contact,
        contacts=contacts,
        may_note=personal and allowed("casenotes.write", staff.roles),
        may_correct=personal and allowed("participants.correct", staff.roles),
        may_contact_details=personal and allowed("participants.contact", staff.roles),
        may_consent=personal and allowed("consents.write", staff.roles),
        erased=explained(person["erased_at"]) if not personal else "",
        contact_modes=[m.value for m in ContactMode],
        # Each form drawn on the page carries its own idempotency key.
        keys={"contact": uuid.uuid4().hex, "note": uuid.uuid4().hex},
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
    meetings = found["items"]
    # Whose meetings: each list read once for the page, never once a row (decision 113).
    ids = list(dict.fromkeys(str(m["pairing_id"]) for m in meetings))
    people = await pairing_people(request, staff, ids) if ids else None
    pairings = await optional_all(request, staff, "/pairings", limit=500) if ids else None
    mentor_of = {str(p["id"]): str(p["mentor_id"]) for p in (pairings or {}).get("items", [])}
    roster = await optional_all(request, staff, "/mentors", limit=500) if ids else None
    names = {str(m["id"]): str(m["display_name"]) for m in (roster or {}).get("items", [])}
    return page(
        request,
        staff,
        "meetings.html",
        title="This week's meetings",
        meetings=meetings,
        members=people.members if people else {},
        mentor_of=mentor_of,
        mentor_names={**(people.mentors if people else {}), **names},
        may_read_mentors=roster is not None,
        may_record=allowed("meetings.write", staff.roles),
        monday=monday,
        zone=str(zone),
    )


@get(f"{PATH}/alerts")
async def alerts(request: Request[Any, Any, Any]) -> Template:
    """The grantee's alerts the role may see, naming the participants and mentors. A role that
    may not read supervision records (a case manager) sees the crises about the participants
    it holds, unlinked: the escalation is the coordinators' (decision 129)."""
    staff = signed_in(request)
    found = await read_all(request, staff, "/alerts", min_position=log_position(request))
    about, mentors = await alert_names(request, staff, found.get("items", []))
    return page(
        request,
        staff,
        "alerts.html",
        title="Alerts",
        alerts=found,
        about=about,
        mentors=mentors,
        may_supervise=allowed("supervision.write", staff.roles),
        may_read_escalations=allowed("supervision.read", staff.roles),
    )


ROUTES = [home, participant, week, alerts]
