"""Register a mentor applicant from the console, from the roster: one command of the API
(POST /mentors). Nothing a person must say is filled in (decision 108); a graduate mentor's
participant is chosen from the participants of the grantee's graduated cohorts, never typed as
an id; the API still judges the link (decision 119)."""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Request, Response, get, post
from litestar.response import Template

from domain.mentors import MentorSource, RecruitmentChannel
from services.api.console.actions import CHOOSE, Field, labels_of, read_form, render_form
from services.api.console.checks import FormCheck
from services.api.console.mentor_admin import choices, form_body, may_write, mentor_back
from services.api.console.pages import optional_all
from services.api.console.session import PATH, Staff, signed_in
from services.api.console.submit import Refused, done, submit

NEW = f"{PATH}/mentors/new"
YES_NO = [CHOOSE, ("yes", "Yes"), ("no", "No")]


async def _graduates(request: Request[Any, Any, Any], staff: Staff) -> list[tuple[str, str]]:
    """The participants of the grantee's graduated cohorts, by name, number and cohort."""
    cohorts = (await optional_all(request, staff, "/cohorts") or {}).get("items", [])
    found: list[tuple[str, str]] = []
    for c in cohorts:
        if c.get("graduated_on"):
            people = await optional_all(request, staff, "/participants", cohort=c["code"])
            found += [
                (str(p["id"]), f"{p['first_name']} {p['last_name']} ({p['number']}), {c['code']}")
                for p in (people or {}).get("items", [])
            ]
    return found


async def _register_fields(request: Request[Any, Any, Any], staff: Staff) -> list[Field]:
    return [
        Field("display_name", "Name as shown", required=True, help="Such as Marcus W."),
        Field("source", "Source", "select", choices(MentorSource), required=True),
        Field(
            "participant_id",
            "The graduate (for a graduate mentor)",
            "select",
            [("", "None: not a graduate"), *await _graduates(request, staff)],
            help="A participant of a graduated cohort; a graduate mentor is linked to their record.",
        ),
        Field("channel", "How recruited", "select", choices(RecruitmentChannel), required=True),
        Field(
            "lived_experience",
            "Lived experience of incarceration",
            "select",
            YES_NO,
            required=True,
        ),
        Field(
            "expected_hours_per_month",
            "Expected hours a month",
            required=True,
            help="More than 0 and at most 200.",
        ),
        Field(
            "subject",
            "Sign-in subject (optional)",
            help="The mentor's own sign-in, for the meetings they record.",
        ),
    ]


# Which field each of registration's documented rule refusals is about.
REGISTER_RULES = {
    "missing_name": "display_name",
    "participant_required": "participant_id",
    "participant_not_allowed": "participant_id",
    "not_a_graduate": "participant_id",
    "not_found": "participant_id",
    "invalid_time_commitment": "expected_hours_per_month",
}


def _register_page(
    request: Request[Any, Any, Any],
    staff: Staff,
    fields: list[Field],
    values: dict[str, Any],
    **refused: Any,
) -> Template:
    return render_form(
        request,
        staff,
        title="Register a mentor",
        heading="Register a mentor",
        intro="An applicant: screening, the background review, the six trainings and a"
        " facility clearance follow, on the mentor's page.",
        action=NEW,
        back=f"{PATH}/mentors",
        fields=fields,
        values=values,
        submit="Register",
        **refused,
    )


@get(NEW)
async def register_form(request: Request[Any, Any, Any]) -> Template:
    """Register a mentor applicant (staff who may write mentors)."""
    staff = signed_in(request)
    may_write(staff, "register a mentor")
    fields = await _register_fields(request, staff)
    return _register_page(request, staff, fields, {"idempotency_key": uuid.uuid4().hex})


@post(NEW)
async def register(request: Request[Any, Any, Any]) -> Response[Any]:
    """POST /mentors; on refusal, the form with the rule's sentence next to its field."""
    staff = signed_in(request)
    may_write(staff, "register a mentor")
    fields = await _register_fields(request, staff)
    values = await read_form(request, fields)
    check = FormCheck()
    body = form_body(check, fields, values)
    if "lived_experience" in body:
        body["lived_experience"] = body["lived_experience"] == "yes"
    sent = await submit(
        request,
        staff,
        check,
        "/mentors",
        body,
        values["idempotency_key"],
        labels_of(fields),
        REGISTER_RULES,
    )
    if isinstance(sent, Refused):
        return _register_page(request, staff, fields, values, **sent.shown)
    mentor = sent.answer
    notice = f"Registered: {mentor['display_name']}, an applicant."
    return done(request, sent, notice, mentor_back(mentor["id"]))


ROUTES = [register_form, register]
