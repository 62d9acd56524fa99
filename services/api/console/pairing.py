"""Matching from the console, each one command of the API: pair a participant with a mentor
(POST /pairings) and end a pairing (POST /pairings/{id}/closure). The console lists the
grantee's certified mentors as the API's mentor options for this participant give them (those a
rule refuses disabled, with the reason: decision 112) and the facilities; the match is still
the API's to refuse (a clearance, a race), and its refusal comes back as a sentence next to the
field it is about. Nothing a person decides is pre-filled."""

from __future__ import annotations

import uuid
from datetime import date, datetime, time
from typing import Any
from uuid import UUID

from litestar import Request, Response, get, post
from litestar.response import Redirect, Template

from domain.pairings import ClosureType, Frequency, Initiator, LocationKind, MatchCriterion
from services.api.console.actions import CHOOSE, TEXT, Field, render_form
from services.api.console.backend import Refusal, command, read, read_all
from services.api.console.checks import FormCheck
from services.api.console.erased import not_erased
from services.api.console.format import ended, words
from services.api.console.meeting_record import PLACE_NAMES
from services.api.console.pages import grantee_zone
from services.api.console.session import PATH, Staff, signed_in, tell
from services.api.console.submit import Refused, done, submit

# The match's own fields besides the mentor, the same for an individual match and a group.
MATCH_NAMES = (
    "opened_on",
    "place",
    "facility",
    "frequency",
    "minutes_per_meeting",
    "months",
)
# The API body's paths, by the pairing form's field for each.
PAIR_PATHS = {
    "mentor_id": "mentor_id",
    "opened_on": "opened_at",
    "place": "location.kind",
    "facility": "location.facility",
    "criteria": "criteria",
    "frequency": "commitment.frequency",
    "minutes_per_meeting": "commitment.minutes_per_meeting",
    "months": "commitment.months",
}
# Which field each of the match's documented rule refusals is about; a refusal not here
# (`mentee_already_paired`, `mentee_exited`) is about the participant, said above the form.
PAIR_RULES = {
    "mentor_not_certified": "mentor_id",
    "mentor_not_eligible_for_stage": "mentor_id",
    "self_mentoring": "mentor_id",
    "caseload_limit": "mentor_id",
    "clearance_required": "location.facility",
    "facility_required": "location.facility",
    "facility_not_allowed": "location.facility",
    "in_future": "opened_at",
    "invalid_commitment": "commitment.minutes_per_meeting",
}
END = [
    Field(
        "closure_type",
        "Planned or not",
        "select",
        [CHOOSE, *((c.value, words(c.value)) for c in ClosureType)],
        required=True,
    ),
    Field(
        "initiator",
        "Who ended it",
        "select",
        [CHOOSE, *((i.value, words(i.value)) for i in Initiator)],
        required=True,
    ),
    Field("reason", "The reason", "textarea", maxlength=TEXT, required=True),
    Field(
        "rematch_eligible",
        "May the participant be paired again",
        "select",
        [CHOOSE, ("yes", "Yes"), ("no", "No")],
        required=True,
    ),
    Field("exit_interview_on", "The exit interview's day (if held)", "date"),
    Field("post_closure_contact", "Contact after the ending (the agreed rule, if any)"),
]
END_RULES = {"reason_required": "reason", "pairing_closed": "reason"}


def labels_by_path(fields: list[Field], paths: dict[str, str]) -> dict[str, str]:
    """The form's labels by field name and by the API body path each field fills."""
    labels = {f.name: f.label for f in fields}
    labels.update({paths[f.name]: f.label for f in fields if f.name in paths})
    return labels


def beside(refused: Refusal, fields: list[Field], paths: dict[str, str], rules: Any) -> Any:
    """The refusal's sentences by the form field each is about."""
    field_of = {path: name for name, path in paths.items()}
    found = refused.fields(labels_by_path(fields, paths), rules)
    return {field_of.get(name, name): said for name, said in found.items()}


def _why_not(option: Any) -> str:
    """A refused mentor's option: the name, then what refuses them, as one sentence."""
    said = "; ".join(str(r["detail"]) for r in option["reasons"])
    return f"{option['display_name']}: {said}."


def match_fields(facilities: list[Any]) -> list[Field]:
    """The match's own fields, after the mentor (and a group's members and focus): the date,
    the place, the reasons and the commitment, the same for a one-to-one match and a group."""
    return [
        Field("opened_on", "The match date", "date", required=True),
        Field(
            "place",
            "Where they will meet",
            "select",
            [CHOOSE, *((k.value, PLACE_NAMES[k.value]) for k in LocationKind)],
            required=True,
        ),
        Field(
            "facility",
            "Facility (for a BOP institution or an RRC)",
            "select",
            [("", "None"), *((str(f["code"]), f"{f['name']} ({f['code']})") for f in facilities)],
        ),
        Field(
            "criteria",
            "Why this match",
            "checkboxes",
            [(c.value, words(c.value)) for c in MatchCriterion],
            required=True,
        ),
        Field(
            "frequency",
            "How often they agree to meet",
            "select",
            [CHOOSE, *((f.value, words(f.value)) for f in Frequency)],
            required=True,
        ),
        Field("minutes_per_meeting", "Minutes a meeting", "number", required=True, bounds=(1, 480)),
        Field("months", "For how many months", "number", required=True, bounds=(1, 36)),
    ]


async def _pair_fields(
    request: Request[Any, Any, Any], staff: Staff, participant_id: UUID
) -> list[Field]:
    # The API's own reading of the rules for this participant, eligible mentors first.
    options = await read_all(request, staff, f"/participants/{participant_id}/mentor-options")
    facilities = await read_all(request, staff, "/facilities")
    items = options["items"]
    return [
        Field(
            "mentor_id",
            "Mentor",
            "select",
            [
                CHOOSE,
                *((str(m["mentor_id"]), str(m["display_name"])) for m in items if m["eligible"]),
            ],
            required=True,
            help="The grantee's certified mentors; those the rules do not allow for this"
            " participant now (the stage, the caseload limit) are listed after, not to be"
            " chosen, with the reason. A clearance for the facility, and a match made"
            " meanwhile, are checked when you pair them.",
            unavailable=[(str(m["mentor_id"]), _why_not(m)) for m in items if not m["eligible"]],
            unavailable_label="Not allowed now (the reason follows the name)",
        ),
        *match_fields(facilities["items"]),
    ]


async def match_values(request: Request[Any, Any, Any], *more: str) -> dict[str, Any]:
    """What the match form holds (the mentor, the match's own fields and `more`), trimmed."""
    form = await request.form()
    names = ("mentor_id", *MATCH_NAMES, *more)
    values: dict[str, Any] = {n: str(form.get(n, "")).strip() for n in names}
    values["criteria"] = [str(c) for c in form.getall("criteria", [])]
    values["idempotency_key"] = str(form.get("idempotency_key", "")) or uuid.uuid4().hex
    return values


def check_match(check: FormCheck, values: dict[str, Any], labels: dict[str, str]) -> None:
    """The console's own reading of the match's fields (decision 108): each problem a
    sentence by its field, nothing decided for the person."""
    for name in ("mentor_id", "place", "frequency"):
        if not values[name]:
            check.problem(name, f"{labels[name]}: choose one of the options")
    values["_day"] = check.day(labels["opened_on"], values["opened_on"], "opened_on")
    if not values["criteria"]:
        check.problem("criteria", f"{labels['criteria']}: tick at least one")
    values["_minutes"] = check.whole_number(
        labels["minutes_per_meeting"], values["minutes_per_meeting"], name="minutes_per_meeting"
    )
    values["_months"] = check.whole_number(labels["months"], values["months"], name="months")


async def match_body(
    request: Request[Any, Any, Any], staff: Staff, values: dict[str, Any]
) -> dict[str, Any]:
    """The body of POST /pairings from a form `check_match` found no problem in, less the
    kind, the members and a group's focus."""
    zone = await grantee_zone(request, staff)
    location: dict[str, Any] = {"kind": values["place"]}
    if values["facility"]:
        location["facility"] = values["facility"]
    return {
        "mentor_id": values["mentor_id"],
        "location": location,
        "criteria": values["criteria"],
        "commitment": {
            "frequency": values["frequency"],
            "minutes_per_meeting": values["_minutes"],  # the ranges are the API's rules
            "months": values["_months"],
        },
        # A match date: the start of that day in the grantee's zone.
        "opened_at": datetime.combine(date.fromisoformat(values["_day"]), time(), zone).isoformat(),
    }


def who(person: Any) -> str:
    return f"{person['first_name']} {person['last_name']} ({person['number']})"


async def _pair_page(
    request: Request[Any, Any, Any], staff: Staff, person: Any, values: dict[str, Any], **more: Any
) -> Template:
    return render_form(
        request,
        staff,
        title="Pair with a mentor",
        heading="Pair with a mentor",
        intro=f"A mentor for {who(person)}, one to one. Every field is needed.",
        action=f"{PATH}/participants/{person['id']}/pairing",
        back=f"{PATH}/participants/{person['id']}",
        fields=await _pair_fields(request, staff, person["id"]),
        values=values,
        submit="Pair them",
        **more,
    )


@get(f"{PATH}/participants/{{participant_id:uuid}}/pairing")
async def pair_form(request: Request[Any, Any, Any], participant_id: UUID) -> Template:
    """Pair the participant with a mentor (an individual match)."""
    staff = signed_in(request)
    person = await not_erased(request, staff, participant_id)
    return await _pair_page(request, staff, person, {"idempotency_key": uuid.uuid4().hex})


@post(f"{PATH}/participants/{{participant_id:uuid}}/pairing")
async def pair(request: Request[Any, Any, Any], participant_id: UUID) -> Response[Any]:
    """POST /pairings; on refusal, the form again with the rule's sentence by its field."""
    staff = signed_in(request)
    person = await read(request, staff, f"/participants/{participant_id}")
    values = await match_values(request)
    fields = await _pair_fields(request, staff, participant_id)
    check = FormCheck()
    check_match(check, values, {f.name: f.label for f in fields})
    try:
        if check.problems:
            raise Refusal(422, "invalid_form", check.text())
        body = {
            "kind": "individual",
            "members": [str(participant_id)],
            **await match_body(request, staff, values),
        }
        done, position = await command(request, staff, "/pairings", body, values["idempotency_key"])
    except Refusal as refused:
        return await _pair_page(
            request,
            staff,
            person,
            values,
            error=refused.words(labels_by_path(fields, PAIR_PATHS)),
            errs=check.fields or beside(refused, fields, PAIR_PATHS, PAIR_RULES),
            status=refused.status,
        )
    # Read, not taken from the form: once paired (a form sent again), every mentor is listed
    # as refused (`mentee_already_paired`), the one paired with included.
    mentor = await read(request, staff, f"/mentors/{done['mentor_id']}")
    tell(request, position, ended(f"Paired with {mentor['display_name']}"))
    return Redirect(f"{PATH}/participants/{participant_id}", status_code=303)


async def _end_page(
    request: Request[Any, Any, Any],
    staff: Staff,
    pairing: Any,
    back: str,
    values: dict[str, Any],
    **more: Any,
) -> Template:
    mentor = await read(request, staff, f"/mentors/{pairing['mentor_id']}")
    return render_form(
        request,
        staff,
        title="End a pairing",
        heading="End the pairing",
        intro=f"The {words(pairing['kind'])} pairing with {mentor['display_name']}, opened"
        f" {str(pairing['opened_at'])[:10]}. It ends now; what is asked here is recorded"
        " with the ending.",
        action=f"{PATH}/pairings/{pairing['id']}/end?participant={back.rsplit('/', 1)[-1]}",
        back=back,
        fields=END,
        values=values,
        submit="End the pairing",
        **more,
    )


def back_to(request: Request[Any, Any, Any], pairing: Any) -> str:
    """The page the form came from: the participant named in the address if a member, else
    the pairing's first member."""
    asked = request.query_params.get("participant", "")
    members = [str(m) for m in pairing["members"]]
    return f"{PATH}/participants/{asked if asked in members else members[0]}"


@get(f"{PATH}/pairings/{{pairing_id:uuid}}/end")
async def end_form(request: Request[Any, Any, Any], pairing_id: UUID) -> Template:
    """End a pairing: planned or not, who ended it, the reason, rematch eligibility."""
    staff = signed_in(request)
    pairing = await read(request, staff, f"/pairings/{pairing_id}")
    back = back_to(request, pairing)
    return await _end_page(request, staff, pairing, back, {"idempotency_key": uuid.uuid4().hex})


@post(f"{PATH}/pairings/{{pairing_id:uuid}}/end")
async def end(request: Request[Any, Any, Any], pairing_id: UUID) -> Response[Any]:
    """POST /pairings/{id}/closure; on refusal, the form again with the rule's sentence."""
    staff = signed_in(request)
    pairing = await read(request, staff, f"/pairings/{pairing_id}")
    back = back_to(request, pairing)
    form = await request.form()
    values: dict[str, Any] = {f.name: str(form.get(f.name, "")).strip() for f in END}
    values["idempotency_key"] = str(form.get("idempotency_key", "")) or uuid.uuid4().hex
    labels = {f.name: f.label for f in END}
    check = FormCheck()
    for name in ("closure_type", "initiator", "rematch_eligible"):
        if not values[name]:
            check.problem(name, f"{labels[name]}: choose one of the options")
    body: dict[str, Any] = {
        "closure_type": values["closure_type"],
        "initiator": values["initiator"],
        "reason": values["reason"],
        "rematch_eligible": values["rematch_eligible"] == "yes",
    }
    if values["exit_interview_on"]:
        body["exit_interview_on"] = check.day(
            labels["exit_interview_on"], values["exit_interview_on"], "exit_interview_on"
        )
    if values["post_closure_contact"]:
        body["post_closure_contact"] = values["post_closure_contact"]
    sent = await submit(
        request,
        staff,
        check,
        f"/pairings/{pairing_id}/closure",
        body,
        values["idempotency_key"],
        labels,
        END_RULES,
    )
    if isinstance(sent, Refused):
        return await _end_page(request, staff, pairing, back, values, **sent.shown)
    return done(request, sent, "Pairing ended.", back)


ROUTES = [pair_form, pair, end_form, end]
