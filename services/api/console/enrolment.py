"""Enrol a participant from the console: one command of the API (POST /participants), from the
caseload. Nothing a person must say is filled in. A possible duplicate (409
`possible_duplicate`) comes back with links to the records it matches and asks for the reason
to enrol all the same, which the API records with the enrolment (decision 56)."""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Request, Response, get, post
from litestar.response import Template

from services.api.console.actions import CHOOSE, TEXT, Field, labels_of, read_form, render_form
from services.api.console.backend import Refusal
from services.api.console.checks import FormCheck
from services.api.console.format import words
from services.api.console.pages import optional_all
from services.api.console.roles import may
from services.api.console.session import PATH, Staff, signed_in
from services.api.console.submit import Refused, done, submit

ACTION = f"{PATH}/enrol"
# Which field each of the enrolment's documented rule refusals is about.
RULES = {
    "facility_wrong_kind": "facility",
    "cohort_at_other_facility": "cohort",
    "implausible_date_of_birth": "date_of_birth",
    "missing_name": "first_name",
    "not_found": "cohort",
}
REASON = Field(
    "duplicate_reason",
    "Why this is another person",
    "textarea",
    maxlength=TEXT,
    required=True,
    help="Recorded with the enrolment: for example, twins, or the same name and birthday"
    " checked against the BOP register number.",
)


async def _fields(request: Request[Any, Any, Any], staff: Staff) -> list[Field]:
    """The form: the grantee's BOP institutions, and the cohorts not graduated yet, each named
    with its facility."""
    facilities = (await optional_all(request, staff, "/facilities") or {}).get("items", [])
    cohorts = (await optional_all(request, staff, "/cohorts") or {}).get("items", [])
    return [
        Field("first_name", "First name", required=True),
        Field("last_name", "Last name", required=True),
        Field("date_of_birth", "Date of birth", "date", required=True),
        Field(
            "bop_register_number",
            "BOP register number (if known)",
            help="As the Bureau of Prisons writes it, such as 12345-678.",
        ),
        Field("program_entry_date", "Date of program entry", "date", required=True),
        Field(
            "facility",
            "BOP institution",
            "select",
            [
                CHOOSE,
                *(
                    (str(f["code"]), f"{f['name']} ({f['code']})")
                    for f in facilities
                    if f["kind"] == "bop_institution"
                ),
            ],
            required=True,
        ),
        Field(
            "cohort",
            "Cohort",
            "select",
            [
                CHOOSE,
                *((str(c["code"]), _cohort(c)) for c in cohorts if not c.get("graduated_on")),
            ],
            required=True,
            help="The cohort at the institution the participant starts stage 1 in.",
        ),
        Field(
            "ex_offender_at_entry",
            "An ex-offender at program entry",
            "select",
            [CHOOSE, ("yes", "Yes"), ("no", "No")],
            required=True,
        ),
    ]


# What each duplicate rule of the API (projections/search.py) means, in words.
MATCHES = {
    "same_register_number": "the same BOP register number",
    "same_name_and_birth_date": "the same name and date of birth",
}
DUPLICATE = (
    "This may be someone enrolled already. Open the record below to check; if this is another"
    " person, say why and enrol all the same."
)


def _cohort(cohort: dict[str, Any]) -> str:
    """`Spring 2026 (C1) at FCI-A`, or `C1 at FCI-A` for a cohort named by its code."""
    code, name = str(cohort["code"]), str(cohort.get("name") or "")
    named = code if name in ("", code) else f"{name} ({code})"
    return f"{named} at {cohort['facility']}"


def _duplicates(refused: Refusal) -> list[dict[str, Any]]:
    """The records a 409 `possible_duplicate` names, each with its rule in words."""
    found = refused.problem.get("existing") if refused.code == "possible_duplicate" else None
    return [
        {**d, "rule": MATCHES.get(str(d.get("rule")), words(d.get("rule")))}
        for d in (found if isinstance(found, list) else [])
        if isinstance(d, dict) and d.get("participant_id")
    ]


def _page(
    request: Request[Any, Any, Any],
    staff: Staff,
    fields: list[Field],
    values: dict[str, Any],
    **more: Any,
) -> Template:
    return render_form(
        request,
        staff,
        title="Enrol a participant",
        heading="Enrol a participant",
        intro="Stage 1, at a BOP institution and in its cohort. Every field but the register"
        " number is needed.",
        action=ACTION,
        back=f"{PATH}/caseload",
        fields=fields,
        values=values,
        submit="Enrol",
        template_name="enrol_form.html",
        **more,
    )


@get(ACTION)
async def enrol_form(request: Request[Any, Any, Any]) -> Template:
    """The enrolment form (staff who may enrol)."""
    staff = signed_in(request)
    may(staff, "participants.enroll", "enrol a participant")
    fields = await _fields(request, staff)
    return _page(request, staff, fields, {"idempotency_key": uuid.uuid4().hex})


def _check(check: FormCheck, fields: list[Field], values: dict[str, str]) -> dict[str, Any]:
    """The API's body from the form, each empty or malformed field said next to it."""
    body: dict[str, Any] = {}
    for f in fields:
        value = values[f.name]
        if f.kind == "date":
            body[f.name] = check.day(f.label, value, f.name)
        elif f.kind == "select":
            if not value:
                check.problem(f.name, f"{f.label}: choose one of the options")
            body[f.name] = value
        elif f.required and not value:
            check.problem(f.name, f"{f.label}: fill this in")
        elif value:
            body[f.name] = value
    body["ex_offender_at_entry"] = values["ex_offender_at_entry"] == "yes"
    if values.get("duplicate_reason"):
        body["duplicate_reason"] = values["duplicate_reason"]
    return body


@post(ACTION)
async def enrol(request: Request[Any, Any, Any]) -> Response[Any]:
    """POST /participants; on refusal, the form with the rule's sentence next to its field,
    and for a possible duplicate the records it matches and the reason asked for."""
    staff = signed_in(request)
    may(staff, "participants.enroll", "enrol a participant")
    fields = await _fields(request, staff)
    values = await read_form(request, [*fields, REASON])
    check = FormCheck()
    body = _check(check, fields, values)
    labels = labels_of([*fields, REASON])
    sent = await submit(
        request, staff, check, "/participants", body, values["idempotency_key"], labels, RULES
    )
    if isinstance(sent, Refused):
        duplicates = _duplicates(sent.refusal)
        shown = {**sent.shown, "error": DUPLICATE} if duplicates else sent.shown
        return _page(
            request,
            staff,
            [*fields, REASON] if duplicates else fields,
            values,
            duplicates=duplicates,
            **shown,
        )
    person = sent.answer
    notice = f"Enrolled: {person['first_name']} {person['last_name']} ({person['number']})."
    return done(request, sent, notice, f"{PATH}/participants/{person['id']}")


ROUTES = [enrol_form, enrol]
