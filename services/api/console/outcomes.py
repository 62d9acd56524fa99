"""The console's exit and outcome forms, each one command of the API: the program exit (PIRL 901
date and 923 reason), a job, a credential and housing. Each has a page of its own, reached from
the participant's page; nothing a person must say is filled in (decision 108), and a refusal is
a sentence next to the field it is about (checks.per_field), with what was typed kept.

A wage is typed as dollars and cents ("18.50", "$1,250.00"): the console reads the number and
sends it as the API's decimal string; whether it is a wage (`invalid_wage`) is the API's rule.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from litestar import Request, Response, get, post
from litestar.response import Redirect, Template

from domain.evaluation import CredentialType, HousingType, WageUnit
from domain.stages import ExitReason
from services.api.console.actions import (
    CHOOSE,
    LONG_TEXT,
    TEXT,
    Field,
    labels_of,
    read_form,
    render_form,
)
from services.api.console.backend import Refusal, command, read
from services.api.console.checks import FormCheck
from services.api.console.erased import not_erased
from services.api.console.roles import may
from services.api.console.session import PATH, Staff, signed_in, tell

# The API's exit reasons (PIRL 923), in words.
EXIT_REASONS = {
    ExitReason.COMPLETED: "Completed the program",
    ExitReason.NO_SERVICE_90_DAYS: "No service for more than 90 days",
    ExitReason.INSTITUTIONALIZED: "Institutionalized",
    ExitReason.HEALTH_MEDICAL: "Health or medical reasons",
    ExitReason.DECEASED: "Deceased",
    ExitReason.RELOCATED: "Relocated",
    ExitReason.DECLINED_SERVICES: "Declined services",
    ExitReason.OTHER: "Other",
}
WAGE_UNITS = {WageUnit.HOURLY: "an hour", WageUnit.WEEKLY: "a week", WageUnit.ANNUAL: "a year"}
CREDENTIALS = {
    CredentialType.HIGH_SCHOOL_EQUIVALENCY: "High school equivalency",
    CredentialType.INDUSTRY_CERTIFICATE: "Industry certificate",
    CredentialType.OCCUPATIONAL_LICENSE: "Occupational license",
    CredentialType.APPRENTICESHIP_CERTIFICATE: "Apprenticeship certificate",
    CredentialType.ASSOCIATE_DEGREE: "Associate degree",
    CredentialType.BACHELOR_DEGREE: "Bachelor's degree",
    CredentialType.OTHER: "Other",
}
HOUSING = {
    HousingType.OWN_LEASE: "A lease in their own name",
    HousingType.FAMILY: "With family",
    HousingType.TRANSITIONAL: "Transitional housing",
    HousingType.RECOVERY_HOUSING: "Recovery housing",
    HousingType.SUPPORTIVE_HOUSING: "Supportive housing",
    HousingType.OTHER: "Other",
}


def _choices(named: dict[Any, str]) -> list[tuple[str, str]]:
    return [CHOOSE, *((str(k.value), label) for k, label in named.items())]


@dataclass(frozen=True)
class Form:
    """One form: its address under the participant (`exit`), the API command it sends, the
    permission it needs, its fields, and which field each of the command's rule codes is
    about."""

    name: str
    heading: str
    submit: str
    may: str  # the role matrix's action
    doing: str  # what the form does, after "may"
    api: str  # the command, under the participant
    fields: list[Field]
    rules: dict[str, str]
    notice: Callable[[dict[str, Any]], str]
    template_name: str = "command_form.html"


def _amount(
    check: FormCheck, label: str, value: str, name: str, *, required: bool, example: str = "18.50"
) -> str:
    """A number typed in the box (a `$` and thousands commas allowed), as the API's decimal
    text; "" when empty (said, if the box is required) or not a number (said)."""
    text = value.replace("$", "").replace(",", "")
    return check.decimal(label, text, name=name, example=example, required=required)


def _body(check: FormCheck, fields: list[Field], values: dict[str, str]) -> dict[str, Any]:
    """The API's body from the form, each empty or unreadable field said next to it; an
    optional field left empty is not sent (the API's default)."""
    body: dict[str, Any] = {}
    for f in fields:
        value = values[f.name]
        if f.kind == "date":
            body[f.name] = check.day(f.label, value, f.name)
        elif f.kind == "select":
            if not value:
                check.problem(f.name, f"{f.label}: choose one of the options")
            body[f.name] = value
        elif f.name == "wage":
            body[f.name] = _amount(check, f.label, value, f.name, required=True)
        elif f.name == "hours_per_week":
            hours = _amount(check, f.label, value, f.name, required=False, example="37.5")
            if hours:
                body[f.name] = float(hours)
        elif f.required and not value:
            check.problem(f.name, f"{f.label}: fill this in")
        elif value:
            body[f.name] = value
    return body


EXIT = Form(
    name="exit",
    heading="Record an exit",
    submit="Record the exit",
    may="participants.move",
    doing="record an exit",
    api="exit",
    fields=[
        Field("exit_date", "The exit date", "date", required=True),
        Field(
            "reason", "Why the participant exits", "select", _choices(EXIT_REASONS), required=True
        ),
        Field("note", "A note (optional)", "textarea", maxlength=TEXT),
    ],
    rules={"in_future": "exit_date", "before_current_stage": "exit_date"},
    notice=lambda b: (
        f"Exit recorded: {EXIT_REASONS[ExitReason(b['reason'])].lower()}, on {b['exit_date']}."
    ),
    template_name="exit_form.html",
)
JOB = Form(
    name="job",
    heading="Record a job",
    submit="Record the job",
    may="outcomes.write",
    doing="record an outcome",
    api="outcomes/employment",
    fields=[
        Field("employer", "Employer", required=True),
        Field("job_title", "Job title (optional)"),
        Field("started_on", "The day the job started", "date", required=True),
        Field(
            "wage",
            "Wage, in dollars and cents",
            required=True,
            help="Such as 18.50; before taxes.",
        ),
        Field("wage_unit", "The wage is paid", "select", _choices(WAGE_UNITS), required=True),
        Field("hours_per_week", "Hours a week (optional)"),
    ],
    rules={
        "in_future": "started_on",
        "before_program_entry": "started_on",
        "employer_required": "employer",
        "duplicate_outcome": "employer",
        "invalid_wage": "wage",
        "invalid_hours": "hours_per_week",
    },
    notice=lambda b: f"Job recorded: {b['employer']}, from {b['started_on']}.",
)
CREDENTIAL = Form(
    name="credential",
    heading="Record a credential",
    submit="Record the credential",
    may="outcomes.write",
    doing="record an outcome",
    api="outcomes/credentials",
    fields=[
        Field(
            "credential_type", "Kind of credential", "select", _choices(CREDENTIALS), required=True
        ),
        Field("name", "Its name", required=True, help="Such as OSHA 10."),
        Field("issuer", "Who issued it (optional)"),
        Field("earned_on", "The day it was earned", "date", required=True),
    ],
    rules={
        "in_future": "earned_on",
        "before_program_entry": "earned_on",
        "credential_name_required": "name",
        "duplicate_outcome": "name",
    },
    notice=lambda b: f"Credential recorded: {b['name']}, earned {b['earned_on']}.",
)
HOUSING_FORM = Form(
    name="housing",
    heading="Record housing",
    submit="Record the housing",
    may="outcomes.write",
    doing="record an outcome",
    api="outcomes/housing",
    fields=[
        Field("housing_type", "Kind of housing", "select", _choices(HOUSING), required=True),
        Field("secured_on", "The day it was secured", "date", required=True),
        Field("note", "A note (optional)", "textarea", maxlength=LONG_TEXT),
    ],
    rules={
        "in_future": "secured_on",
        "before_program_entry": "secured_on",
        "duplicate_outcome": "secured_on",
    },
    notice=lambda b: (
        f"Housing recorded: {HOUSING[HousingType(b['housing_type'])].lower()}, "
        f"from {b['secured_on']}."
    ),
)


def recorded_exit(person: Any) -> dict[str, str] | None:
    """The participant's recorded exit (its day and reason in words), or None: an exit is
    recorded once (the API refuses another, `participant_exited`), so its form shows it instead
    of fields. A derived exit (decision 85) is no record: an exit may still be recorded for a
    day before it took effect, so its form stays."""
    if person.get("status") != "exited" or person.get("exit_derived"):
        return None
    return {
        "exit_date": str(person["exit_date"]),
        "reason": EXIT_REASONS[ExitReason(person["exit_reason"])],
    }


def _page(
    request: Request[Any, Any, Any],
    staff: Staff,
    form: Form,
    person: Any,
    values: dict[str, Any],
    **refused: Any,
) -> Template:
    back = f"{PATH}/participants/{person['id']}"
    exited = recorded_exit(person) if form is EXIT else None
    heading = "The program exit" if exited else form.heading
    return render_form(
        request,
        staff,
        title=heading,
        heading=heading,
        intro=f"For {person['first_name']} {person['last_name']} ({person['number']}).",
        action=f"{back}/{form.name}",
        back=back,
        fields=form.fields,
        values=values,
        submit=form.submit,
        template_name=form.template_name,
        exited=exited,
        **refused,
    )


async def _show(request: Request[Any, Any, Any], participant_id: UUID, form: Form) -> Template:
    staff = signed_in(request)
    may(staff, form.may, form.doing)
    person = await read(request, staff, f"/participants/{participant_id}")
    return _page(request, staff, form, person, {"idempotency_key": uuid.uuid4().hex})


async def _record(
    request: Request[Any, Any, Any], participant_id: UUID, form: Form
) -> Response[Any]:
    staff = signed_in(request)
    may(staff, form.may, form.doing)
    values = await read_form(request, form.fields)
    labels = labels_of(form.fields)
    check = FormCheck()
    body = _body(check, form.fields, values)
    try:
        if check.problems:
            raise Refusal(422, "invalid_form", check.text())
        _, position = await command(
            request,
            staff,
            f"/participants/{participant_id}/{form.api}",
            body,
            values["idempotency_key"],
        )
    except Refusal as refused:
        person = await read(request, staff, f"/participants/{participant_id}")
        return _page(
            request,
            staff,
            form,
            person,
            values,
            error=refused.words(labels),
            errs=check.fields or refused.fields(labels, form.rules),
            status=refused.status,
        )
    tell(request, position, form.notice(body))
    return Redirect(f"{PATH}/participants/{participant_id}", status_code=303)


@get(f"{PATH}/participants/{{participant_id:uuid}}/exit")
async def exit_form(request: Request[Any, Any, Any], participant_id: UUID) -> Template:
    """Record the participant's program exit: the day and the reason."""
    return await _show(request, participant_id, EXIT)


@post(f"{PATH}/participants/{{participant_id:uuid}}/exit")
async def record_exit(request: Request[Any, Any, Any], participant_id: UUID) -> Response[Any]:
    """POST /participants/{id}/exit; on refusal, the form with each sentence by its field."""
    return await _record(request, participant_id, EXIT)


@get(f"{PATH}/participants/{{participant_id:uuid}}/job")
async def job_form(request: Request[Any, Any, Any], participant_id: UUID) -> Template:
    """Record a job the participant started (not for an erased participant: the employer and
    job title would be kept only as erased)."""
    await not_erased(request, signed_in(request), participant_id)
    return await _show(request, participant_id, JOB)


@post(f"{PATH}/participants/{{participant_id:uuid}}/job")
async def record_job(request: Request[Any, Any, Any], participant_id: UUID) -> Response[Any]:
    """POST /participants/{id}/outcomes/employment; on refusal, the form again."""
    return await _record(request, participant_id, JOB)


@get(f"{PATH}/participants/{{participant_id:uuid}}/credential")
async def credential_form(request: Request[Any, Any, Any], participant_id: UUID) -> Template:
    """Record a credential the participant earned (not for an erased participant)."""
    await not_erased(request, signed_in(request), participant_id)
    return await _show(request, participant_id, CREDENTIAL)


@post(f"{PATH}/participants/{{participant_id:uuid}}/credential")
async def record_credential(request: Request[Any, Any, Any], participant_id: UUID) -> Response[Any]:
    """POST /participants/{id}/outcomes/credentials; on refusal, the form again."""
    return await _record(request, participant_id, CREDENTIAL)


@get(f"{PATH}/participants/{{participant_id:uuid}}/housing")
async def housing_form(request: Request[Any, Any, Any], participant_id: UUID) -> Template:
    """Record housing the participant secured (not for an erased participant: the note would be
    kept only as erased)."""
    await not_erased(request, signed_in(request), participant_id)
    return await _show(request, participant_id, HOUSING_FORM)


@post(f"{PATH}/participants/{{participant_id:uuid}}/housing")
async def record_housing(request: Request[Any, Any, Any], participant_id: UUID) -> Response[Any]:
    """POST /participants/{id}/outcomes/housing; on refusal, the form again."""
    return await _record(request, participant_id, HOUSING_FORM)


ROUTES = [
    exit_form,
    record_exit,
    job_form,
    record_job,
    credential_form,
    record_credential,
    housing_form,
    record_housing,
]
