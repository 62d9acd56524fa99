"""The meeting form: a meeting recorded as held when it is first entered (`POST /meetings`
with `held`), with the form's own idempotency key (a form sent twice records once), and the
rule's plain-language message beside its field when the API refuses. The record's fields are
meeting_record.py's, shared with the form for a meeting scheduled ahead (meeting_held.py)."""

from __future__ import annotations

import uuid
from typing import Any
from uuid import UUID

from litestar import Request, Response, get, post
from litestar.datastructures import MultiDict
from litestar.response import Template

from domain.class_sessions import SessionKind
from services.api.console.backend import read
from services.api.console.class_hours import with_class_hours
from services.api.console.erased import not_erased
from services.api.console.meeting_forms import awaiting_outcome
from services.api.console.meeting_record import (
    RECORD_FIELDS,
    RECORD_LABELS,
    RECORD_RULES,
    by_field,
    by_label,
    choices,
    duplicate_words,
    in_held,
    place_of,
    read_record,
)
from services.api.console.pages import grantee_zone, optional, page
from services.api.console.session import PATH, Staff, signed_in, take_carried
from services.api.console.submit import Refused, done, submit
from services.identity.access import allowed

# The meeting form's labels (meeting_form.html) for the paths of `POST /meetings`'s body.
MEETING_LABELS = {
    "pairing_id": "Pairing",
    "scheduled_for": RECORD_LABELS["occurred_at"],
    **{in_held(path): label for path, label in RECORD_LABELS.items()},
}
# The form's field for each of those paths.
MEETING_FIELDS = {
    "pairing_id": "pairing_id",
    "scheduled_for": "occurred_at",
    **{in_held(path): name for path, name in RECORD_FIELDS.items()},
}
# Which path each of the meeting's documented rule refusals is about.
MEETING_RULES = {
    "pairing_closed": "pairing_id",
    "duplicate_meeting": "held.occurred_at",
    "before_match": "held.occurred_at",
    "too_far_ahead": "scheduled_for",
    **{code: in_held(path) for code, path in RECORD_RULES.items()},
}


def meeting_refusal(refused: Refused, at: str, participant_id: UUID) -> dict[str, Any]:
    """The form page's arguments for a refused meeting: a duplicate said in words with a link
    to the participant's meetings; a field the API names in backticks called by its label."""
    shown = dict(refused.shown)
    if refused.refusal.code == "duplicate_meeting":
        said = duplicate_words(refused.refusal, at)
        shown["error"] = said
        shown["errs"] = {**shown["errs"], "occurred_at": said}
        shown["existing"] = f"{PATH}/participants/{participant_id}#h-meetings"
        return shown
    return by_label(shown)


async def _meeting_form(
    request: Request[Any, Any, Any],
    staff: Staff,
    participant_id: UUID,
    values: dict[str, Any],
    error: str = "",
    status: int = 200,
    errs: dict[str, str] | None = None,
    person: Any = None,
    existing: str = "",
) -> Template:
    person = person or await read(request, staff, f"/participants/{participant_id}")
    pairings = await optional(request, staff, "/pairings", participant_id=str(participant_id))
    open_pairings = [p for p in (pairings or {}).get("items", []) if p.get("status") == "open"]
    template = page(
        request,
        staff,
        "meeting_form.html",
        title="Record a meeting",
        p=person,
        pairings=open_pairings,
        awaiting=await awaiting_outcome(request, staff, open_pairings),
        may_pair=allowed("pairings.write", staff.roles),
        **await choices(request, staff, person, open_pairings),
        v=values,
        error=error,
        errs=errs or {},
        existing=existing,
    )
    template.status_code = status
    return template


@get(f"{PATH}/participants/{{participant_id:uuid}}/meeting")
async def meeting_form(request: Request[Any, Any, Any], participant_id: UUID) -> Template:
    """The form recording a meeting that took place."""
    staff = signed_in(request)
    person = await not_erased(request, staff, participant_id)
    place, facility = place_of(person)
    # When, how long and what about are the mentor's to say: a default recorded unchanged
    # would be a meeting that did not happen that way.
    values = {
        "occurred_at": "",
        "duration_minutes": "",
        "place": place,
        "facility": facility,
        "topics": [],
        "session": SessionKind.MENTORING.value,
        "idempotency_key": uuid.uuid4().hex,
    }
    carried = take_carried(request, f"{PATH}/participants/{participant_id}/meeting")
    if carried:
        # Sent after the session ended (decision 144): the same form, as it was typed, to
        # check and send again; nothing was recorded.
        sent = MultiDict(carried.fields)
        pairing_id = str(sent.get("pairing_id", "")).strip()
        record = read_record(sent, await grantee_zone(request, staff), pairing_id)
        values = {**record.values, "pairing_id": pairing_id}
        values["idempotency_key"] = values["idempotency_key"] or uuid.uuid4().hex
        return await _meeting_form(
            request, staff, participant_id, values, error=carried.notice(), person=person
        )
    return await _meeting_form(request, staff, participant_id, values, person=person)


@post(f"{PATH}/participants/{{participant_id:uuid}}/meeting")
async def record_meeting(request: Request[Any, Any, Any], participant_id: UUID) -> Response[Any]:
    """Record the meeting (POST /meetings with `held`); on refusal, the form again with the
    rule's message and what was entered. Not for an erased participant: the API would keep
    the summary only as erased."""
    staff = signed_in(request)
    await not_erased(request, staff, participant_id)
    form = await request.form()
    pairing_id = str(form.get("pairing_id", "")).strip()
    record = read_record(form, await grantee_zone(request, staff), pairing_id)
    values = {**record.values, "pairing_id": pairing_id}
    key = values["idempotency_key"] or uuid.uuid4().hex
    body = {
        "pairing_id": pairing_id,
        "scheduled_for": record.at,
        "location": record.location,
        "held": record.held,
    }
    sent = await submit(
        request,
        staff,
        record.check,
        "/meetings",
        body,
        key,
        MEETING_LABELS,
        field_errors=lambda refused: by_field(
            refused, MEETING_LABELS, MEETING_FIELDS, MEETING_RULES
        ),
    )
    if isinstance(sent, Refused):
        shown = meeting_refusal(sent, record.at, participant_id)
        shown = await with_class_hours(request, staff, sent.refusal, shown, pairing_id)
        return await _meeting_form(request, staff, participant_id, values, **shown)
    return done(request, sent, "Meeting recorded.", f"{PATH}/participants/{participant_id}")


ROUTES = [meeting_form, record_meeting]
