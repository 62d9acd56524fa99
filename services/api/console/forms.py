"""The console's forms: each becomes one command of the API, with the form's own idempotency
key (a form sent twice records once), and shows the rule's plain-language message when the API
refuses."""

from __future__ import annotations

import uuid
from typing import Any
from uuid import UUID

from litestar import Request, Response, get, post
from litestar.response import Template

from domain.class_sessions import SessionKind
from domain.meetings import Topic
from domain.pairings import LocationKind
from domain.stages import Placement
from services.api.console.backend import Refusal, read
from services.api.console.checks import FormCheck, as_sentence
from services.api.console.format import when
from services.api.console.naming import pairing_people
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
    "held.attendance": "Attendance",
    "held.summary": "Summary (shared with the team)",
    "held.summary_part2": "The summary holds 42 CFR Part 2 information",
    "held.confidential_note": "Confidential note (you and the coordinator only)",
    "held.session": "Held as",
    "held.approval_id": "The facility's approval",
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
    "held.attendance": "attendance",
    "held.summary": "summary",
    "held.summary_part2": "summary_part2",
    "held.confidential_note": "confidential_note",
    "held.session": "session",
    "held.approval_id": "approval_id",
}
# Which path each of the meeting's documented rule refusals is about.
MEETING_RULES = {
    "in_future": "held.occurred_at",
    "naive_datetime": "held.occurred_at",
    "during_class_hours": "held.occurred_at",
    "invalid_duration": "held.duration_minutes",
    "topics_required": "held.topics",
    "attendance_required": "held.attendance",
    "not_a_member": "held.attendance",
    "nobody_attended": "held.attendance",
    "pairing_closed": "pairing_id",
    "facility_required": "location.facility",
    "facility_not_allowed": "location.facility",
    "clearance_required": "location.facility",
    "duplicate_meeting": "held.occurred_at",
    # A class session in class hours (services/api/class_sessions.py SESSION_RULES).
    "class_session_not_approved": "held.approval_id",
    "approval_for_other_cohort": "held.approval_id",
    "class_session_denied": "held.approval_id",
    "class_session_revoked": "held.approval_id",
    "session_kind_not_approved": "held.session",
    "class_session_not_group": "held.session",
    "speaker_not_a_graduate": "held.session",
    "approval_without_class_session": "held.approval_id",
    "class_session_elsewhere": "location.kind",
}
# How a meeting may be held (`held.session`), in words; a class kind may fall in class hours
# under the facility's approval.
SESSIONS = [
    (SessionKind.MENTORING.value, "A mentoring meeting"),
    (SessionKind.CLASS_SESSION.value, "Group mentoring as a class session"),
    (SessionKind.GRADUATE_SPEAKER.value, "Graduates speaking to the class"),
]
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


def location(place: str, facility: str) -> dict[str, Any]:
    """The API's `location` for the form's place and facility code: a place that has no
    facility (off site, remote) is sent without the code the form may still hold (pre-filled
    from the placement, or typed before the place changed)."""
    sent: dict[str, Any] = {"kind": place}
    try:
        has_facility = LocationKind(place).at_a_facility
    except ValueError:
        has_facility = True  # not a place the form offers: the API refuses it in words
    if facility and has_facility:
        sent["facility"] = facility
    return sent


def duplicate_words(refused: Refusal, at: str) -> str:
    """A 409 `duplicate_meeting` in words: the time the form gave (in the grantee's zone) and
    what the pairing's meeting then is, without the API's timestamp and id."""
    existing = (refused.problem.get("existing") or [{}])[0]
    status = str(existing.get("status") or "")
    return as_sentence(
        f"this pairing has a meeting at {when(at)} already"
        + (f" ({status.replace('_', ' ')})" if status else "")
        + "; choose another time, or see that meeting on the participant's page"
    )


def meeting_errors(refused: Refusal) -> dict[str, str]:
    """The refusal's sentences by the meeting form's field they are about."""
    found = refused.fields(MEETING_LABELS, MEETING_RULES)
    return {MEETING_FIELDS.get(path, path): said for path, said in found.items()}


def meeting_refusal(refused: Refused, at: str, participant_id: UUID) -> dict[str, Any]:
    """The form page's arguments for a refused meeting: a duplicate said in words with a link
    to the participant's meetings; a field the API names in backticks (the class-hours rule's
    `session`, `approval_id`) called by the form's label."""
    shown = dict(refused.shown)
    if refused.refusal.code == "duplicate_meeting":
        said = duplicate_words(refused.refusal, at)
        shown["error"] = said
        shown["errs"] = {**shown["errs"], "occurred_at": said}
        shown["existing"] = f"{PATH}/participants/{participant_id}#h-meetings"
        return shown
    for path in ("held.session", "held.approval_id"):
        name = f"`{path.split('.')[1]}`"
        label = f"“{MEETING_LABELS[path]}”"
        shown["error"] = shown["error"].replace(name, label)
        shown["errs"] = {k: v.replace(name, label) for k, v in shown["errs"].items()}
    return shown


async def approvals(
    request: Request[Any, Any, Any], staff: Staff, person: dict[str, Any]
) -> list[tuple[str, str]]:
    """The facility approvals a class session with `person`'s cohort may be held under (the
    approved class-session requests of the cohort, as the API lists them), each in words."""
    if not person.get("cohort"):
        return []
    found = await optional(
        request,
        staff,
        "/class-session-requests",
        cohort=person["cohort"],
        status="approved",
        limit=100,
    )
    return [
        (
            str(r["id"]),
            f"{' and '.join(k.replace('_', ' ') + 's' for k in r['kinds'])} with cohort"
            f" {r['cohort']} at {r['facility']}, approved {r.get('decided_on') or ''}"
            f" by {r.get('decided_by') or 'the facility'}",
        )
        for r in (found or {}).get("items", [])
    ]


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
    # A group meeting records each member's attendance: the groups' members by name.
    groups = [str(p["id"]) for p in open_pairings if p.get("kind") == "group"]
    members = (await pairing_people(request, staff, groups)).members if groups else {}
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
        sessions=SESSIONS,
        approvals=await approvals(request, staff, person),
        members=members,
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
        "session": SessionKind.MENTORING.value,
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
            "summary_part2",
            "confidential_note",
            "session",
            "approval_id",
            "idempotency_key",
        )
    }
    text["facility"] = text["facility"].upper()
    text["idempotency_key"] = text["idempotency_key"] or uuid.uuid4().hex
    topics = [str(t) for t in form.getall("topics", [])]
    # Attendance (group pairings): `attendance-<pairing>-<member>`, the chosen pairing's sent.
    marks = {
        str(name): str(value)
        for name, value in form.multi_items()
        if str(name).startswith("attendance-") and value
    }
    values: dict[str, Any] = {**text, "topics": topics, "attendance": marks}
    check = FormCheck()
    at = check.moment(
        MEETING_LABELS["held.occurred_at"], text["occurred_at"], zone, name="occurred_at"
    )
    minutes = check.whole_number(
        MEETING_LABELS["held.duration_minutes"],
        text["duration_minutes"],
        name="duration_minutes",
    )
    held: dict[str, Any] = {
        "occurred_at": at,
        "duration_minutes": minutes,  # its range (1-480) is the API's rule
        "topics": topics,
        "summary": text["summary"],
    }
    prefix = f"attendance-{text['pairing_id']}-"
    attendance = {k[len(prefix) :]: v for k, v in marks.items() if k.startswith(prefix)}
    if attendance:
        held["attendance"] = attendance
    if text["summary_part2"]:
        held["summary_part2"] = True
    if text["confidential_note"]:
        held["confidential_note"] = text["confidential_note"]
    # A mentoring meeting is the API's default; a class kind names the facility's approval.
    if text["session"] and text["session"] != SessionKind.MENTORING.value:
        held["session"] = text["session"]
    if text["approval_id"]:
        held["approval_id"] = text["approval_id"]
    body = {
        "pairing_id": values["pairing_id"],
        "scheduled_for": at,
        "location": location(text["place"], text["facility"]),
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
        shown = meeting_refusal(sent, at, participant_id)
        return await _meeting_form(request, staff, participant_id, values, **shown)
    return done(request, sent, "Meeting recorded.", f"{PATH}/participants/{participant_id}")


ROUTES = [meeting_form, record_meeting]
