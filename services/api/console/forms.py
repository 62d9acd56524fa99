"""The console's forms: each becomes one command of the API, with the form's own idempotency
key (a form sent twice records once), and shows the rule's plain-language message when the API
refuses."""

from __future__ import annotations

import uuid
from typing import Any
from uuid import UUID

from litestar import Request, Response, get, post
from litestar.response import Template

from domain.meetings import Topic
from domain.pairings import LocationKind
from domain.stages import Placement
from services.api.console.backend import Refusal, read
from services.api.console.checks import FormCheck
from services.api.console.pages import grantee_zone, optional, page
from services.api.console.session import PATH, Staff, signed_in
from services.api.console.submit import Refused, done, submit
from services.identity.access import allowed

TOPICS = [t.value for t in Topic]
# The meeting form's labels (meeting_form.html) for the API body's paths.
MEETING_LABELS = {
    "pairing_id": "Pairing",
    "scheduled_for": "When it took place",
    "held.occurred_at": "When it took place",
    "held.duration_minutes": "Minutes",
    "location.kind": "Where",
    "location.facility": "Facility code (in a facility)",
    "held.topics": "Topics discussed",
    "held.summary": "Summary (shared with the team)",
    "held.confidential_note": "Confidential note (you and the coordinator only)",
}
PLACES = [k.value for k in LocationKind]
# The form's field for each of those paths.
MEETING_FIELDS = {
    "pairing_id": "pairing_id",
    "scheduled_for": "occurred_at",
    "held.occurred_at": "occurred_at",
    "held.duration_minutes": "duration_minutes",
    "location.kind": "place",
    "location.facility": "facility",
    "held.topics": "topics",
    "held.summary": "summary",
    "held.confidential_note": "confidential_note",
}
# Which path each of the meeting's documented rule refusals is about.
MEETING_RULES = {
    "in_future": "held.occurred_at",
    "naive_datetime": "held.occurred_at",
    "during_class_hours": "held.occurred_at",
    "invalid_duration": "held.duration_minutes",
    "topics_required": "held.topics",
    "pairing_closed": "pairing_id",
    "facility_required": "location.facility",
    "facility_not_allowed": "location.facility",
    "clearance_required": "location.facility",
}
# Where a meeting most likely takes place, by the participant's placement: only a default,
# which the mentor changes (a stage-2 pair may meet at the RRC or off site).
PLACE_OF_PLACEMENT = {
    Placement.BOP_INSTITUTION.value: LocationKind.BOP_INSTITUTION.value,
    Placement.RRC.value: LocationKind.RRC.value,
}


def place_of(person: dict[str, Any]) -> tuple[str, str]:
    """The default place and facility code for a meeting with `person`: their institution or
    RRC while they are placed in one, else off site (no facility)."""
    place = PLACE_OF_PLACEMENT.get(str(person.get("placement")), LocationKind.OFF_SITE.value)
    facility = str(person.get("facility") or "") if place != LocationKind.OFF_SITE.value else ""
    return place, facility


def meeting_errors(refused: Refusal) -> dict[str, str]:
    """The refusal's sentences by the meeting form's field they are about."""
    found = refused.fields(MEETING_LABELS, MEETING_RULES)
    return {MEETING_FIELDS.get(path, path): said for path, said in found.items()}


async def _meeting_form(
    request: Request[Any, Any, Any],
    staff: Staff,
    participant_id: UUID,
    values: dict[str, Any],
    error: str = "",
    status: int = 200,
    errs: dict[str, str] | None = None,
    person: Any = None,
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
        may_pair=allowed("pairings.write", staff.roles),
        topics=TOPICS,
        places=PLACES,
        v=values,
        error=error,
        errs=errs or {},
    )
    template.status_code = status
    return template


@get(f"{PATH}/participants/{{participant_id:uuid}}/meeting")
async def meeting_form(request: Request[Any, Any, Any], participant_id: UUID) -> Template:
    """The form recording a meeting that took place."""
    staff = signed_in(request)
    person = await read(request, staff, f"/participants/{participant_id}")
    place, facility = place_of(person)
    # When, how long and what about are the mentor's to say: a default recorded unchanged
    # would be a meeting that did not happen that way.
    values = {
        "occurred_at": "",
        "duration_minutes": "",
        "place": place,
        "facility": facility,
        "topics": [],
        "idempotency_key": uuid.uuid4().hex,
    }
    return await _meeting_form(request, staff, participant_id, values, person=person)


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
    check = FormCheck()
    at = check.moment(
        MEETING_LABELS["held.occurred_at"], text["occurred_at"], zone, name="occurred_at"
    )
    minutes = check.whole_number(
        MEETING_LABELS["held.duration_minutes"],
        text["duration_minutes"],
        name="duration_minutes",
    )
    location: dict[str, Any] = {"kind": text["place"]}
    if text["facility"]:
        location["facility"] = text["facility"]
    held: dict[str, Any] = {
        "occurred_at": at,
        "duration_minutes": minutes,  # its range (1-480) is the API's rule
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
    sent = await submit(
        request,
        staff,
        check,
        "/meetings",
        body,
        text["idempotency_key"],
        MEETING_LABELS,
        field_errors=meeting_errors,
    )
    if isinstance(sent, Refused):
        return await _meeting_form(request, staff, participant_id, values, **sent.shown)
    return done(request, sent, "Meeting recorded.", f"{PATH}/participants/{participant_id}")


ROUTES = [meeting_form, record_meeting]
