"""A held meeting's record, as the console's two meeting forms take it: a meeting recorded as
held when it is first entered (forms.py, `held` of `POST /meetings`) and a meeting scheduled
ahead recorded as held (meeting_held.py, the body of `POST /meetings/{id}/held`). Its fields'
labels, which field each of the API's refusals is about, the reading of the form into the
API's record and the choices the page offers are written once, here."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from litestar import Request

from domain.class_sessions import SessionKind
from domain.meetings import Topic
from domain.pairings import LocationKind
from domain.stages import Placement
from services.api.console.backend import Refusal
from services.api.console.checks import FormCheck, as_sentence
from services.api.console.format import when, words
from services.api.console.naming import pairing_people
from services.api.console.pages import optional, optional_all
from services.api.console.session import Staff

TOPICS = [t.value for t in Topic]
PLACES = [k.value for k in LocationKind]
# Each place in words, as the forms' "Where" offers it (not the API's codes: "rrc", "off site").
PLACE_NAMES = {
    LocationKind.BOP_INSTITUTION.value: "At a BOP institution",
    LocationKind.RRC.value: "At an RRC",
    LocationKind.OFF_SITE.value: "Off site",
    LocationKind.REMOTE.value: "Remote (phone or video)",
}
# The record's labels (meeting_record.html) by the path within the record, which is the
# body of `POST …/held` and the `held` of `POST /meetings` (its `location` stands beside it).
RECORD_LABELS = {
    "occurred_at": "When it took place",
    "duration_minutes": "Minutes",
    "location.kind": "Where",
    "location.facility": "Facility (in a facility)",
    "topics": "Topics discussed",
    "attendance": "Attendance",
    "summary": "Summary (shared with the team)",
    "summary_part2": "The summary holds 42 CFR Part 2 information",
    "confidential_note": "Confidential note (you and the coordinator only)",
    "session": "Held as",
    "approval_id": "The facility's approval",
}
# The form's field for each of those paths.
RECORD_FIELDS = {
    "occurred_at": "occurred_at",
    "duration_minutes": "duration_minutes",
    "location.kind": "place",
    "location.facility": "facility",
    "topics": "topics",
    "attendance": "attendance",
    "summary": "summary",
    "summary_part2": "summary_part2",
    "confidential_note": "confidential_note",
    "session": "session",
    "approval_id": "approval_id",
}
# Which path of the record each of a held meeting's documented rule refusals is about.
RECORD_RULES = {
    "in_future": "occurred_at",
    "naive_datetime": "occurred_at",
    "during_class_hours": "occurred_at",
    "invalid_duration": "duration_minutes",
    "topics_required": "topics",
    "attendance_required": "attendance",
    "not_a_member": "attendance",
    "nobody_attended": "attendance",
    "facility_required": "location.facility",
    "facility_wrong_kind": "location.facility",
    "facility_not_allowed": "location.facility",
    "clearance_required": "location.facility",
    # A class session in class hours (services/api/class_sessions.py SESSION_RULES).
    "class_session_not_approved": "approval_id",
    "approval_for_other_cohort": "approval_id",
    "class_session_denied": "approval_id",
    "class_session_revoked": "approval_id",
    "session_kind_not_approved": "session",
    "class_session_not_group": "session",
    "speaker_not_a_graduate": "session",
    "approval_without_class_session": "approval_id",
    "class_session_elsewhere": "location.kind",
}
# How a meeting may be held (`session`), in words; a class kind may fall in class hours
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
# The form's text fields of the record.
_TEXT = (
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


def in_held(path: str) -> str:
    """A record's path as `POST /meetings` has it: under `held`, but for the meeting's
    `location`, which that body holds beside `held`."""
    return path if path.startswith("location.") else f"held.{path}"


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
    said = f" ({status.replace('_', ' ')})" if status else ""
    then = "; choose another time, or see that meeting on the participant's page"
    span = overlapped(existing, at)
    if span is not None:
        starts, ends = span
        return as_sentence(
            f"this pairing has a meeting from {starts:%a %d %b %Y, %H:%M} to {ends:%H:%M}"
            f" ({zone_of(starts)}) already{said}, which this time overlaps{then}"
        )
    return as_sentence(f"this pairing has a meeting at {when(at)} already{said}{then}")


def overlapped(existing: Mapping[str, Any], at: str) -> tuple[datetime, datetime] | None:
    """The span of the meeting a refusal names, in the offset of the form's time, when it
    starts at another time than the form's (an overlap rather than the same time)."""
    try:
        asked = datetime.fromisoformat(at)
        starts = datetime.fromisoformat(str(existing["starts_at"]))
        ends = datetime.fromisoformat(str(existing["ends_at"]))
    except (KeyError, ValueError):
        return None
    if asked.tzinfo is None or starts == asked:
        return None
    return starts.astimezone(asked.tzinfo), ends.astimezone(asked.tzinfo)


def zone_of(at: datetime) -> str:
    offset = at.strftime("%z")
    return f"UTC{offset[:3]}:{offset[3:]}"


def by_label(shown: dict[str, Any]) -> dict[str, Any]:
    """A refused form's sentences with each field the API names in backticks (the class-hours
    rule's `session`, `approval_id`) called by the form's label."""
    shown = dict(shown)
    for path in ("session", "approval_id"):
        name, label = f"`{path}`", f"“{RECORD_LABELS[path]}”"
        shown["error"] = shown["error"].replace(name, label)
        shown["errs"] = {k: v.replace(name, label) for k, v in shown["errs"].items()}
    return shown


def by_field(
    refused: Refusal, labels: Mapping[str, str], fields: Mapping[str, str], rules: Mapping[str, str]
) -> dict[str, str]:
    """The refusal's sentences by the form field they are about (`fields`: path -> field)."""
    found = refused.fields(labels, rules)
    return {fields.get(path, path): said for path, said in found.items()}


@dataclass(frozen=True)
class Record:
    """A held meeting's record as the form gave it: `values` to show again, `held` the API's
    record (without its place: `location`), `at` when it took place (RFC 3339), and what the
    console's own reading found wrong (`check`)."""

    values: dict[str, Any]
    held: dict[str, Any]
    location: dict[str, Any]
    at: str
    check: FormCheck


def read_record(form: Any, zone: Any, pairing_id: str) -> Record:
    """Read the record's fields from the sent `form` (a multi-dict); the attendance sent is
    `pairing_id`'s (`attendance-<pairing>-<member>` fields)."""
    text = {name: str(form.get(name, "")).strip() for name in _TEXT}
    text["facility"] = text["facility"].upper()
    topics = [str(t) for t in form.getall("topics", [])]
    marks = {
        str(name): str(value)
        for name, value in form.multi_items()
        if str(name).startswith("attendance-") and value
    }
    check = FormCheck()
    at = check.moment(RECORD_LABELS["occurred_at"], text["occurred_at"], zone, name="occurred_at")
    minutes = check.whole_number(
        RECORD_LABELS["duration_minutes"], text["duration_minutes"], name="duration_minutes"
    )
    # Said with the time and the minutes, not in a round of their own after them: the API asks
    # for a topic (`topics_required`) and a group member's attendance left to choose
    # (`attendance_required`) too, and a form left empty then says all of them at once.
    if not topics:
        check.problem("topics", f"{RECORD_LABELS['topics']}: tick at least one")
    prefix = f"attendance-{pairing_id}-"
    if any(str(k).startswith(prefix) and not v for k, v in form.multi_items()):
        check.problem(
            "attendance", f"{RECORD_LABELS['attendance']}: choose present or absent for each member"
        )
    held: dict[str, Any] = {
        "occurred_at": at,
        "duration_minutes": minutes,  # its range (1-480) is the API's rule
        "topics": topics,
        "summary": text["summary"],
    }
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
    values = {**text, "topics": topics, "attendance": marks}
    return Record(values, held, location(text["place"], text["facility"]), at, check)


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


async def choices(
    request: Request[Any, Any, Any],
    staff: Staff,
    person: dict[str, Any],
    pairings: list[dict[str, Any]],
) -> dict[str, Any]:
    """What the record's fields offer (meeting_record.html): the topics, places and kinds of
    session, the facility's approvals for `person`'s cohort, and the members by name of the
    group `pairings`, whose attendance a group meeting records."""
    groups = [str(p["id"]) for p in pairings if p.get("kind") == "group"]
    members = (await pairing_people(request, staff, groups)).members if groups else {}
    return {
        "topics": TOPICS,
        "places": PLACES,
        "place_names": PLACE_NAMES,
        "sessions": SESSIONS,
        "approvals": await approvals(request, staff, person),
        "members": members,
        "facilities": await facility_choices(request, staff),
    }


async def facility_choices(request: Request[Any, Any, Any], staff: Staff) -> list[tuple[str, str]]:
    """The grantee's facilities a meeting may take place in, as a select offers them (code,
    "FCI Alpha (FCI-A), bop institution"): chosen from a list, a code cannot be mistyped."""
    found = (await optional_all(request, staff, "/facilities") or {}).get("items", [])
    return [(str(f["code"]), f"{f['name']} ({f['code']}), {words(f['kind'])}") for f in found]
