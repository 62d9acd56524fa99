"""A mentor's lifecycle from the console: the mentor's own page and one form a step of the
API's (`/mentors/{id}/…`): screening, the background review, a training, a facility
clearance, certification, suspension, reinstatement and retirement (registering an applicant:
mentor_register.py). Each form is a page of its own and one command; nothing a person must say
is filled in (decision 108), and a refusal is a sentence next to the field it is about, by the
rule's documented code. The page offers the steps the mentor's status admits; the API still
decides each (decision 119)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from litestar import Request, Response, get, post
from litestar.exceptions import NotFoundException
from litestar.response import Template

from domain.mentors import BackgroundDecision, ScreeningStep, TrainingModule
from services.api.console.actions import (
    CHOOSE,
    KINDS,
    TEXT,
    Field,
    labels_of,
    read_form,
    render_form,
)
from services.api.console.backend import read
from services.api.console.checks import FormCheck
from services.api.console.format import day, ended, words
from services.api.console.pages import optional_all, page
from services.api.console.roles import may
from services.api.console.session import PATH, Staff, signed_in
from services.api.console.submit import Refused, done, submit
from services.identity.access import allowed

# Boxes that take a number of hours, such as 1.5 (a browser's number box takes whole ones).
DECIMALS = {"hours", "expected_hours_per_month"}


def choices(values: Any) -> list[tuple[str, str]]:
    return [CHOOSE, *((v.value, words(v.value).capitalize()) for v in values)]


@dataclass(frozen=True)
class Step:
    """One command of the mentor's lifecycle: its address under the mentor, the API's path,
    the form's fields, which field each documented rule code is about, the notice after it."""

    api: str
    heading: str
    submit: str
    notice: Callable[[dict[str, Any], dict[str, Any]], str]
    fields: list[Field] = field(default_factory=list)
    rules: dict[str, str] = field(default_factory=dict)
    statuses: tuple[str, ...] = ("applicant", "certified", "suspended")


async def _facilities(request: Request[Any, Any, Any], staff: Staff) -> list[Field]:
    found = (await optional_all(request, staff, "/facilities") or {}).get("items", [])
    return [
        Field(
            "facility",
            "Facility",
            "select",
            [
                CHOOSE,
                *(
                    (
                        str(f["code"]),
                        f"{f['name']} ({f['code']}), {KINDS.get(f['kind'], f['kind'])}",
                    )
                    for f in found
                ),
            ],
            required=True,
        ),
        Field("trained_on", "Volunteer training at the facility, on", "date", required=True),
        Field("expires_on", "The clearance expires on", "date", required=True),
    ]


STEPS: dict[str, Step] = {
    "screening": Step(
        "screening-steps",
        "Record a screening step",
        "Record the step",
        lambda m, d: f"Screening step recorded: {words(d['step'])}, {day(d['completed_on'])}.",
        [
            Field("step", "Step", "select", choices(ScreeningStep), required=True),
            Field("completed_on", "Completed on", "date", required=True),
            Field("staff", "Who did it", required=True, help="The staff member's name."),
            Field("note", "Note (optional)", "textarea", maxlength=TEXT),
        ],
        {"in_future": "completed_on"},
    ),
    "background": Step(
        "background-review",
        "Record the background review",
        "Record the review",
        lambda m, d: f"Background review recorded: {words(d['decision'])}.",
        [
            Field("decision", "Decision", "select", choices(BackgroundDecision), required=True),
            Field(
                "reviewer",
                "Reviewer",
                required=True,
                help="An assessment by a named person, never an automatic disqualification.",
            ),
            Field("reviewed_on", "Reviewed on", "date", required=True),
            Field(
                "conditions",
                "Conditions (for an approval with conditions)",
                "textarea",
                maxlength=TEXT,
            ),
        ],
        {
            "in_future": "reviewed_on",
            "conditions_required": "conditions",
            "reviewer_required": "reviewer",
        },
    ),
    "training": Step(
        "trainings",
        "Record a training module",
        "Record the training",
        lambda m, d: f"Training recorded: {words(d['module'])}, {d['hours']:g} h.",
        [
            Field("module", "Module", "select", choices(TrainingModule), required=True),
            Field("completed_on", "Completed on", "date", required=True),
            Field("hours", "Hours", required=True, help="More than 0 and at most 40, such as 1.5."),
            Field("trainer", "Trainer", required=True),
        ],
        {"in_future": "completed_on", "invalid_hours": "hours", "trainer_required": "trainer"},
    ),
    "clearance": Step(
        "clearances",
        "Record a facility clearance",
        "Record the clearance",
        lambda m, d: f"Clearance recorded: {d['facility']} until {day(d['expires_on'])}.",
        rules={"in_future": "trained_on", "invalid_expiry": "expires_on"},
    ),
    "certify": Step(
        "certification",
        "Certify the mentor",
        "Certify",
        lambda m, d: f"Certified: {m['display_name']} may now be paired.",
        rules={
            "training_incomplete": "training",
            "training_hours_insufficient": "training",
            "screening_not_approved": "screening",
        },
        statuses=("applicant",),
    ),
    "suspend": Step(
        "suspension",
        "Suspend the mentor",
        "Suspend",
        lambda m, d: f"Suspended: {m['display_name']}; open pairings are flagged for reassignment.",
        [Field("reason", "Reason", "textarea", maxlength=TEXT, required=True)],
        {"reason_required": "reason"},
        ("certified",),
    ),
    "reinstate": Step(
        "reinstatement",
        "Reinstate the mentor",
        "Reinstate",
        lambda m, d: ended(f"Reinstated: {m['display_name']}"),
        [Field("note", "Note (optional)", "textarea", maxlength=TEXT)],
        statuses=("suspended",),
    ),
    "retire": Step(
        "retirement",
        "Retire the mentor",
        "Retire",
        lambda m, d: f"Retired: {m['display_name']}; open pairings are flagged for reassignment.",
        [Field("reason", "Reason", "textarea", maxlength=TEXT, required=True)],
    ),
}


def may_write(staff: Staff, what: str) -> None:
    may(staff, "mentors.write", what)


def form_body(check: FormCheck, fields: list[Field], values: dict[str, str]) -> dict[str, Any]:
    """The API's body from the form, each empty or malformed field said next to it."""
    body: dict[str, Any] = {}
    for f in fields:
        value = values[f.name]
        if not value:
            if f.required:
                verb = "choose one of the options" if f.kind == "select" else "fill this in"
                check.problem(f.name, f"{f.label}: {verb}")
            continue
        if f.kind == "date":
            body[f.name] = check.day(f.label, value, f.name)
        elif f.name in DECIMALS:
            number = check.decimal(f.label, value, name=f.name)
            if number:
                body[f.name] = float(number)
        else:
            body[f.name] = value
    return body


def mentor_back(mentor_id: Any) -> str:
    return f"{PATH}/mentors/{mentor_id}"


@get(f"{PATH}/mentors/{{mentor_id:uuid}}")
async def mentor_page(request: Request[Any, Any, Any], mentor_id: UUID) -> Template:
    """A mentor: status, source, screening, background, trainings, clearances, certification,
    pairings; for staff who may, the steps the status admits."""
    staff = signed_in(request)
    mentor = await read(request, staff, f"/mentors/{mentor_id}")
    steps = [
        (slug, s.heading)
        for slug, s in STEPS.items()
        if mentor["status"] in s.statuses and allowed("mentors.write", staff.roles)
    ]
    return page(
        request,
        staff,
        "mentor.html",
        title="A mentor",
        m=mentor,
        steps=steps,
        participant=(
            f"{PATH}/participants/{mentor['participant_id']}" if mentor["participant_id"] else ""
        ),
    )


async def _step_of(
    request: Request[Any, Any, Any], staff: Staff, name: str
) -> tuple[Step, list[Field]]:
    step = STEPS.get(name)
    if step is None:
        raise NotFoundException()
    fields = await _facilities(request, staff) if name == "clearance" else step.fields
    return step, fields


def _step_page(
    request: Request[Any, Any, Any],
    staff: Staff,
    name: str,
    mentor: dict[str, Any],
    fields: list[Field],
    values: dict[str, Any],
    **refused: Any,
) -> Template:
    step = STEPS[name]
    return render_form(
        request,
        staff,
        title=step.heading,
        heading=step.heading,
        intro=f"{mentor['display_name']}, {words(mentor['status'])}.",
        action=f"{mentor_back(mentor['id'])}/{name}",
        back=mentor_back(mentor["id"]),
        fields=fields,
        values=values,
        submit=step.submit,
        template_name="mentor_step.html",
        m=mentor,
        certify=name == "certify",
        **refused,
    )


@get(f"{PATH}/mentors/{{mentor_id:uuid}}/{{name:str}}")
async def step_form(request: Request[Any, Any, Any], mentor_id: UUID, name: str) -> Template:
    """One step of the mentor's lifecycle, its form (staff who may write mentors)."""
    staff = signed_in(request)
    step, fields = await _step_of(request, staff, name)
    may_write(staff, step.heading[0].lower() + step.heading[1:])
    mentor = await read(request, staff, f"/mentors/{mentor_id}")
    return _step_page(request, staff, name, mentor, fields, {"idempotency_key": uuid.uuid4().hex})


@post(f"{PATH}/mentors/{{mentor_id:uuid}}/{{name:str}}")
async def record_step(request: Request[Any, Any, Any], mentor_id: UUID, name: str) -> Response[Any]:
    """POST /mentors/{id}/…; on refusal, the form with the rule's sentence next to its field."""
    staff = signed_in(request)
    step, fields = await _step_of(request, staff, name)
    may_write(staff, step.heading[0].lower() + step.heading[1:])
    values = await read_form(request, fields)
    labels = labels_of(fields)
    check = FormCheck()
    body = form_body(check, fields, values)
    sent = await submit(
        request,
        staff,
        check,
        f"/mentors/{mentor_id}/{step.api}",
        body,
        values["idempotency_key"],
        labels,
        step.rules,
    )
    if isinstance(sent, Refused):
        mentor = await read(request, staff, f"/mentors/{mentor_id}")
        return _step_page(request, staff, name, mentor, fields, values, **sent.shown)
    return done(request, sent, step.notice(sent.answer, body), mentor_back(mentor_id))


ROUTES = [mentor_page, step_form, record_step]
