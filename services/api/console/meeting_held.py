"""A meeting scheduled ahead, recorded as held (`POST /meetings/{id}/held`): the meeting form's
record (meeting_record.py), its time pre-filled with the time the meeting was scheduled for
and its place with where, the rest the mentor's to say. One command of the API with the form's
own idempotency key; a refusal is the rule's sentence next to the field it is about, and the
form comes back to the page it was opened from."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any
from uuid import UUID

from litestar import Request, Response, get, post
from litestar.response import Template

from domain.class_sessions import SessionKind
from services.api.console.backend import read
from services.api.console.class_hours import with_class_hours
from services.api.console.erased import mentee_not_erased
from services.api.console.format import when, words
from services.api.console.meeting_forms import WRITE, back_to
from services.api.console.meeting_record import (
    RECORD_FIELDS,
    RECORD_LABELS,
    RECORD_RULES,
    by_field,
    by_label,
    choices,
    read_record,
)
from services.api.console.naming import person_name
from services.api.console.pages import grantee_zone, page
from services.api.console.roles import may
from services.api.console.session import PATH, Staff, signed_in
from services.api.console.submit import Refused, done, submit

DOING = "record a meeting as held"


async def _held_page(
    request: Request[Any, Any, Any],
    staff: Staff,
    meeting: dict[str, Any],
    values: dict[str, Any],
    error: str = "",
    status: int = 200,
    errs: dict[str, str] | None = None,
) -> Template:
    back = back_to(request)
    pairing_id = str(meeting["pairing_id"])
    pairing = await read(request, staff, f"/pairings/{pairing_id}")
    asked = back.rsplit("/", 1)[-1] if "/participants/" in back else ""
    members = [str(m) for m in pairing["members"]]
    # The participant the page was opened for, if a member; else the pairing's first member.
    person = await read(
        request, staff, f"/participants/{asked if asked in members else members[0]}"
    )
    offered = await choices(request, staff, person, [pairing])
    names = [name for _, name in offered["members"].get(pairing_id, [])] or [person_name(person)]
    where = meeting["location"]
    place = words(where["kind"]) + (f" {where['facility']}" if where.get("facility") else "")
    intro = f"With {', '.join(names)}: the meeting scheduled for {when(meeting['scheduled_for'])}"
    intro += f", {place}, for {meeting['planned_minutes']} minutes."
    if meeting["status"] != "scheduled":
        intro += f" It is {words(meeting['status'])} already: nothing here changes it."
    template = page(
        request,
        staff,
        "meeting_held.html",
        title="Record a meeting as held",
        intro=intro,
        action=f"{PATH}/meetings/{meeting['id']}/held" + (f"?participant={asked}" if asked else ""),
        back=back,
        p=person,
        pairings=[pairing],
        **offered,
        v=values,
        error=error,
        errs=errs or {},
    )
    template.status_code = status
    return template


@get(f"{PATH}/meetings/{{meeting_id:uuid}}/held")
async def held_form(request: Request[Any, Any, Any], meeting_id: UUID) -> Template:
    """Record that a scheduled meeting took place: when (pre-filled with the time it was
    scheduled for), how long, what about, the summary and, for a group, who came."""
    staff = signed_in(request)
    may(staff, WRITE, DOING)
    meeting = await read(request, staff, f"/meetings/{meeting_id}")
    await mentee_not_erased(request, staff, meeting)
    zone = await grantee_zone(request, staff)
    planned = datetime.fromisoformat(str(meeting["scheduled_for"])).astimezone(zone)
    where = meeting["location"]
    # The time it was planned for is most often the time it took place, and the page says so;
    # how long, what about and who came are the mentor's to say (decision 108).
    values = {
        "occurred_at": f"{planned:%Y-%m-%dT%H:%M}",
        "duration_minutes": "",
        "place": where["kind"],
        "facility": where.get("facility") or "",
        "topics": [],
        "session": SessionKind.MENTORING.value,
        "idempotency_key": uuid.uuid4().hex,
    }
    return await _held_page(request, staff, meeting, values)


@post(f"{PATH}/meetings/{{meeting_id:uuid}}/held")
async def record_held(request: Request[Any, Any, Any], meeting_id: UUID) -> Response[Any]:
    """POST /meetings/{id}/held; on refusal, the form again with the rule's sentence next to
    its field and what was entered."""
    staff = signed_in(request)
    may(staff, WRITE, DOING)
    meeting = await read(request, staff, f"/meetings/{meeting_id}")
    await mentee_not_erased(request, staff, meeting)
    form = await request.form()
    record = read_record(form, await grantee_zone(request, staff), str(meeting["pairing_id"]))
    key = record.values["idempotency_key"] or uuid.uuid4().hex
    sent = await submit(
        request,
        staff,
        record.check,
        f"/meetings/{meeting_id}/held",
        {**record.held, "location": record.location},
        key,
        RECORD_LABELS,
        field_errors=lambda refused: by_field(refused, RECORD_LABELS, RECORD_FIELDS, RECORD_RULES),
    )
    if isinstance(sent, Refused):
        pairing_id = str(meeting["pairing_id"])
        shown = await with_class_hours(
            request, staff, sent.refusal, by_label(sent.shown), pairing_id
        )
        return await _held_page(request, staff, meeting, record.values, **shown)
    return done(request, sent, f"Meeting of {when(record.at)} recorded as held.", back_to(request))


ROUTES = [held_form, record_held]
