"""A meeting planned ahead, and a planned meeting that did not take place: scheduling one
(`POST /meetings` without `held`), and marking it missed (`…/missed`) or cancelled, its week
excused or not (`…/cancellation`), so that a cadence alert can be answered from the console.
Each is one command of the API with the form's own idempotency key; a refusal is the rule's
sentence next to the field it is about."""

from __future__ import annotations

import uuid
from datetime import datetime, time, timedelta
from typing import Any
from uuid import UUID

from litestar import Request, Response, get, post
from litestar.response import Template

from domain import clock
from domain.meetings import NoShow
from services.api.console.actions import CHOOSE, LONG_TEXT, TEXT, Field, read_form, render_form
from services.api.console.backend import Refusal, read
from services.api.console.checks import FormCheck
from services.api.console.format import when, words
from services.api.console.meeting_record import (
    PLACE_NAMES,
    PLACES,
    duplicate_words,
    facility_choices,
    location,
    place_of,
)
from services.api.console.pages import grantee_zone, optional, optional_all
from services.api.console.roles import may
from services.api.console.session import PATH, Staff, signed_in
from services.api.console.submit import Refused, done, submit

WRITE = "meetings.write"
# The schedule form's field for each API body path, and the label a sentence names it by.
SCHEDULE_PATHS = {
    "pairing_id": "pairing_id",
    "scheduled_for": "scheduled_for",
    "planned_minutes": "planned_minutes",
    "location.kind": "place",
    "location.facility": "facility",
}
SCHEDULE_RULES = {
    "naive_datetime": "scheduled_for",
    "before_match": "scheduled_for",
    "too_far_ahead": "scheduled_for",
    "duplicate_meeting": "scheduled_for",
    "invalid_duration": "planned_minutes",
    "pairing_closed": "pairing_id",
    "facility_required": "location.facility",
    "facility_wrong_kind": "location.facility",
    "facility_not_allowed": "location.facility",
    "clearance_required": "location.facility",
}
NO_SHOW = {
    NoShow.MENTOR: "The mentor",
    NoShow.MENTEE: "The mentee",
    NoShow.BOTH: "Neither the mentor nor the mentee",
}
MISSED = [
    Field(
        "no_show_by",
        "Who did not come",
        "select",
        [CHOOSE, *((n.value, NO_SHOW[n]) for n in NoShow)],
        required=True,
    ),
    Field(
        "note",
        "A note (optional)",
        "textarea",
        maxlength=LONG_TEXT,
        help="What you know of why, if anything.",
    ),
]
CANCEL = [
    Field("reason", "Why it is cancelled", "textarea", maxlength=TEXT, required=True),
    Field(
        "excused",
        "Excuse the week in the meeting cadence",
        "checkbox",
        help="Tick it when the pair could not meet that week for a reason outside their"
        " control (a lockdown, an illness): the week then counts as excused, not missed, in"
        " the pairing's meeting cadence, and no missed-cadence alert counts it.",
    ),
]


def schedule_fields(
    pairings: list[dict[str, Any]], facilities: list[tuple[str, str]] | None = None
) -> list[Field]:
    return [
        Field(
            "pairing_id",
            "Pairing",
            "select",
            [
                (str(p["id"]), f"{words(p['kind'])} pairing opened {when(p['opened_at'])}")
                for p in pairings
            ],
            required=True,
        ),
        Field("scheduled_for", "When it is to take place", "datetime", required=True),
        Field("planned_minutes", "Planned minutes", "number", required=True, bounds=(1, 480)),
        Field("place", "Where", "select", [(k, PLACE_NAMES[k]) for k in PLACES]),
        Field(
            "facility",
            "Facility (in a facility)",
            "select",
            [("", "None"), *(facilities or [])],
            help="For a meeting in a BOP institution or an RRC. Not sent for a meeting off site"
            " or remote.",
        ),
    ]


def by_field(refused: Refusal, labels: dict[str, str]) -> dict[str, str]:
    """The schedule refusal's sentences by the form field they are about."""
    found = refused.fields(labels, SCHEDULE_RULES)
    return {SCHEDULE_PATHS.get(path, path): said for path, said in found.items()}


async def awaiting_outcome(
    request: Request[Any, Any, Any], staff: Staff, pairings: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The `pairings`' meetings still scheduled for a time that has passed or is today (the
    grantee's day), oldest first, each with `pairing` naming its pairing's kind when there is
    more than one: the meeting form lists them so that the mentor records what became of the
    plan rather than a second meeting beside it (decision 137)."""
    if not pairings:
        return []
    zone = await grantee_zone(request, staff)
    end = datetime.combine(clock.today(zone) + timedelta(days=1), time(0), zone)
    found: list[dict[str, Any]] = []
    for p in pairings:
        log = await optional_all(
            request,
            staff,
            "/meetings",
            pairing_id=str(p["id"]),
            status="scheduled",
            until=end.isoformat(),
            limit=100,
        )
        kind = f"{words(p['kind'])} pairing" if len(pairings) > 1 else ""
        found += [{**m, "pairing": kind} for m in (log or {}).get("items", [])]
    return sorted(found, key=lambda m: (datetime.fromisoformat(str(m["scheduled_for"])), m["id"]))


async def _open_pairings(
    request: Request[Any, Any, Any], staff: Staff, participant_id: UUID
) -> list[dict[str, Any]]:
    found = await optional(request, staff, "/pairings", participant_id=str(participant_id))
    return [p for p in (found or {}).get("items", []) if p.get("status") == "open"]


async def _schedule_page(
    request: Request[Any, Any, Any],
    staff: Staff,
    participant_id: UUID,
    values: dict[str, Any],
    **shown: Any,
) -> Template:
    person = await read(request, staff, f"/participants/{participant_id}")
    pairings = await _open_pairings(request, staff, participant_id)
    name = f"{person['first_name']} {person['last_name']}"
    intro = f"With {name} ({person['number']}). Times are in the grantee's time zone."
    if not pairings:
        intro += " This participant has no open pairing: a meeting belongs to a pairing."
    facilities = await facility_choices(request, staff)
    chosen = values.get("facility") or ""
    if chosen and chosen not in {code for code, _ in facilities}:
        facilities.append((chosen, chosen))  # pre-filled, and the list not caught up with it
    return render_form(
        request,
        staff,
        title="Schedule a meeting",
        heading="Schedule a meeting",
        intro=intro,
        action=f"{PATH}/participants/{participant_id}/schedule",
        back=f"{PATH}/participants/{participant_id}",
        fields=schedule_fields(pairings, facilities),
        values=values,
        submit="Schedule the meeting",
        **shown,
    )


@get(f"{PATH}/participants/{{participant_id:uuid}}/schedule")
async def schedule_form(request: Request[Any, Any, Any], participant_id: UUID) -> Template:
    """Schedule a meeting ahead: the pairing, when, how long, where. Nothing is pre-filled
    but the place of the participant's placement."""
    staff = signed_in(request)
    may(staff, WRITE, "schedule a meeting")
    person = await read(request, staff, f"/participants/{participant_id}")
    place, facility = place_of(person)
    values = {"place": place, "facility": facility, "idempotency_key": uuid.uuid4().hex}
    return await _schedule_page(request, staff, participant_id, values)


@post(f"{PATH}/participants/{{participant_id:uuid}}/schedule")
async def schedule(request: Request[Any, Any, Any], participant_id: UUID) -> Response[Any]:
    """POST /meetings without `held`; on refusal, the form again in the rule's words."""
    staff = signed_in(request)
    may(staff, WRITE, "schedule a meeting")
    fields = schedule_fields([])
    values = await read_form(request, fields)
    values["facility"] = values["facility"].upper()
    labels = {f.name: f.label for f in fields}
    labels |= {path: labels[name] for path, name in SCHEDULE_PATHS.items()}
    zone = await grantee_zone(request, staff)
    check = FormCheck()
    at = check.moment(labels["scheduled_for"], values["scheduled_for"], zone, "scheduled_for")
    minutes = check.whole_number(
        labels["planned_minutes"], values["planned_minutes"], name="planned_minutes"
    )
    body = {
        "pairing_id": values["pairing_id"],
        "scheduled_for": at,
        "planned_minutes": minutes,  # its range is the API's rule
        "location": location(values["place"], values["facility"]),
    }
    sent = await submit(
        request,
        staff,
        check,
        "/meetings",
        body,
        values["idempotency_key"],
        labels,
        field_errors=lambda refused: by_field(refused, labels),
    )
    if isinstance(sent, Refused):
        shown = dict(sent.shown)
        if sent.refusal.code == "duplicate_meeting":
            said = duplicate_words(sent.refusal, at)
            shown |= {"error": said, "errs": {"scheduled_for": said}}
        return await _schedule_page(request, staff, participant_id, values, **shown)
    return done(
        request, sent, f"Meeting scheduled for {when(at)}.", f"{PATH}/participants/{participant_id}"
    )


def back_to(request: Request[Any, Any, Any]) -> str:
    """The participant's page the form came from (`?participant=`), else the week's meetings."""
    asked = request.query_params.get("participant", "")
    try:
        return f"{PATH}/participants/{UUID(asked)}"
    except ValueError:
        return f"{PATH}/meetings"


async def _outcome_page(
    request: Request[Any, Any, Any],
    staff: Staff,
    meeting_id: UUID,
    kind: str,
    values: dict[str, Any],
    **shown: Any,
) -> Template:
    m = await read(request, staff, f"/meetings/{meeting_id}")
    back = back_to(request)
    place = words(m["location"]["kind"]) + (
        f" {m['location']['facility']}" if m["location"].get("facility") else ""
    )
    intro = f"The meeting scheduled for {when(m['scheduled_for'])}, {place}."
    if m["status"] != "scheduled":
        intro += f" It is {words(m['status'])} already: nothing here changes it."
    suffix = "" if back.endswith("/meetings") else f"?participant={back.rsplit('/', 1)[-1]}"
    missed = kind == "missed"
    return render_form(
        request,
        staff,
        title="A missed meeting" if missed else "Cancel a meeting",
        heading="Record a missed meeting" if missed else "Cancel a meeting",
        intro=intro,
        action=f"{PATH}/meetings/{meeting_id}/{kind}{suffix}",
        back=back,
        fields=MISSED if missed else CANCEL,
        values=values,
        submit="Record it as missed" if missed else "Cancel the meeting",
        **shown,
    )


async def _outcome(request: Request[Any, Any, Any], meeting_id: UUID, kind: str) -> Response[Any]:
    staff = signed_in(request)
    may(staff, WRITE, "mark a meeting missed or cancelled")
    missed = kind == "missed"
    fields = MISSED if missed else CANCEL
    values = await read_form(request, fields)
    check = FormCheck()
    if missed and not values["no_show_by"]:
        check.problem("no_show_by", "Who did not come: choose one of the options")
    body: dict[str, Any] = (
        {"no_show_by": values["no_show_by"], "note": values["note"]}
        if missed
        else {"reason": values["reason"], "excused": bool(values["excused"])}
    )
    sent = await submit(
        request,
        staff,
        check,
        f"/meetings/{meeting_id}/{'missed' if missed else 'cancellation'}",
        body,
        values["idempotency_key"],
        {f.name: f.label for f in fields},
        {"reason_required": "reason"},
    )
    if isinstance(sent, Refused):
        return await _outcome_page(request, staff, meeting_id, kind, values, **sent.shown)
    notice = (
        "Meeting recorded as missed."
        if missed
        else "Meeting cancelled, its week excused."
        if body["excused"]
        else "Meeting cancelled."
    )
    return done(request, sent, notice, back_to(request))


@get(f"{PATH}/meetings/{{meeting_id:uuid}}/missed")
async def missed_form(request: Request[Any, Any, Any], meeting_id: UUID) -> Template:
    """Record that a scheduled meeting did not take place, and who did not come."""
    staff = signed_in(request)
    may(staff, WRITE, "mark a meeting missed or cancelled")
    values = {"idempotency_key": uuid.uuid4().hex}
    return await _outcome_page(request, staff, meeting_id, "missed", values)


@post(f"{PATH}/meetings/{{meeting_id:uuid}}/missed")
async def record_missed(request: Request[Any, Any, Any], meeting_id: UUID) -> Response[Any]:
    """POST /meetings/{id}/missed."""
    return await _outcome(request, meeting_id, "missed")


@get(f"{PATH}/meetings/{{meeting_id:uuid}}/cancel")
async def cancel_form(request: Request[Any, Any, Any], meeting_id: UUID) -> Template:
    """Cancel a scheduled meeting, saying why, and whether its week is excused."""
    staff = signed_in(request)
    may(staff, WRITE, "mark a meeting missed or cancelled")
    values = {"idempotency_key": uuid.uuid4().hex}
    return await _outcome_page(request, staff, meeting_id, "cancel", values)


@post(f"{PATH}/meetings/{{meeting_id:uuid}}/cancel")
async def cancel(request: Request[Any, Any, Any], meeting_id: UUID) -> Response[Any]:
    """POST /meetings/{id}/cancellation."""
    return await _outcome(request, meeting_id, "cancel")


ROUTES = [schedule_form, schedule, missed_form, record_missed, cancel_form, cancel]
