"""The console's forms: each becomes one command of the API, with the form's own idempotency
key (a form sent twice records once), and shows the rule's plain-language message when the API
refuses."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from litestar import Request, Response, get, post
from litestar.response import Redirect, Template

from domain import clock
from domain.meetings import Topic
from domain.pairings import LocationKind
from services.api.console.backend import Refusal, command, read
from services.api.console.pages import grantee_zone, optional, page
from services.api.console.session import PATH, Staff, session_of, signed_in

TOPICS = [t.value for t in Topic]
PLACES = [k.value for k in LocationKind]


def local_instant(value: str, zone: ZoneInfo) -> str:
    """A `datetime-local` field's value, read in the grantee's zone, as RFC 3339."""
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        return value  # the API names what is wrong with it
    return (at if at.tzinfo else at.replace(tzinfo=zone)).isoformat()


async def _meeting_form(
    request: Request[Any, Any, Any],
    staff: Staff,
    participant_id: UUID,
    values: dict[str, Any],
    error: str = "",
    status: int = 200,
) -> Template:
    person = await read(request, staff, f"/participants/{participant_id}")
    pairings = await optional(request, staff, "/pairings", participant_id=str(participant_id))
    open_pairings = [p for p in (pairings or {}).get("items", []) if p.get("status") == "open"]
    template = page(
        request,
        staff,
        "meeting_form.html",
        title="Record a meeting",
        p=person,
        pairings=open_pairings,
        topics=TOPICS,
        places=PLACES,
        v=values,
        error=error,
    )
    template.status_code = status
    return template


@get(f"{PATH}/participants/{{participant_id:uuid}}/meeting")
async def meeting_form(request: Request[Any, Any, Any], participant_id: UUID) -> Template:
    """The form recording a meeting that took place."""
    staff = signed_in(request)
    zone = await grantee_zone(request, staff)
    values = {
        "occurred_at": clock.now().astimezone(zone).strftime("%Y-%m-%dT%H:%M"),
        "duration_minutes": "60",
        "place": "off_site",
        "topics": ["goals"],
        "idempotency_key": uuid.uuid4().hex,
    }
    return await _meeting_form(request, staff, participant_id, values)


@post(f"{PATH}/participants/{{participant_id:uuid}}/meeting")
async def record_meeting(request: Request[Any, Any, Any], participant_id: UUID) -> Response[Any]:
    """Record the meeting (POST /meetings with `held`); on refusal, the form again with the
    rule's message and what was entered."""
    staff = signed_in(request)
    form = await request.form()
    zone = await grantee_zone(request, staff)
    text = {
        name: str(form.get(name, "")).strip()
        for name in (
            "pairing_id",
            "occurred_at",
            "duration_minutes",
            "place",
            "facility",
            "summary",
            "confidential_note",
            "idempotency_key",
        )
    }
    text["facility"] = text["facility"].upper()
    text["idempotency_key"] = text["idempotency_key"] or uuid.uuid4().hex
    topics = [str(t) for t in form.getall("topics", [])]
    values: dict[str, Any] = {**text, "topics": topics}
    at = local_instant(text["occurred_at"], zone)
    location: dict[str, Any] = {"kind": text["place"]}
    if text["facility"]:
        location["facility"] = text["facility"]
    minutes = text["duration_minutes"]
    held: dict[str, Any] = {
        "occurred_at": at,
        # A number the API checks (1-480); anything else it names as invalid.
        "duration_minutes": int(minutes) if minutes.isdigit() else minutes,
        "topics": topics,
        "summary": text["summary"],
    }
    if text["confidential_note"]:
        held["confidential_note"] = text["confidential_note"]
    body = {
        "pairing_id": values["pairing_id"],
        "scheduled_for": at,
        "location": location,
        "held": held,
    }
    try:
        _, position = await command(request, staff, "/meetings", body, text["idempotency_key"])
    except Refusal as refused:
        return await _meeting_form(
            request, staff, participant_id, values, error=refused.detail, status=refused.status
        )
    session = session_of(request)
    session["position"] = position
    session["notice"] = "Meeting recorded."
    request.set_session(session)
    return Redirect(f"{PATH}/participants/{participant_id}", status_code=303)


ROUTES = [meeting_form, record_meeting]
