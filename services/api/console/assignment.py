"""Assign a participant's case manager or coordinator from the console: one command of the API
(POST /participants/{id}/assignments), the staff member named by their sign-in subject, as
`GET …/participants?assigned_to=me` and the caseload's "Mine" read it."""

from __future__ import annotations

import uuid
from typing import Any
from uuid import UUID

from litestar import Request, Response, get, post
from litestar.response import Redirect, Template

from domain.assignment import Duty
from services.api.console.actions import CHOOSE, Field, labels_of, read_form, render_form
from services.api.console.backend import Refusal, command, read
from services.api.console.checks import FormCheck
from services.api.console.format import words
from services.api.console.session import PATH, Staff, session_of, signed_in

ASSIGN = [
    Field(
        "duty",
        "The duty",
        "select",
        [CHOOSE, *((d.value, words(d.value)) for d in Duty)],
        required=True,
    ),
    Field(
        "staff",
        "The staff member's sign-in name",
        required=True,
        help="As they sign in (their subject), such as cm-rita. Whoever held the duty is replaced.",
    ),
]
ASSIGN_RULES = {"already_assigned": "staff"}


def _page(
    request: Request[Any, Any, Any], staff: Staff, person: Any, values: dict[str, Any], **more: Any
) -> Template:
    held = " ".join(
        f"{words(d.value).capitalize()}: {person.get(d.value) or 'nobody'}." for d in Duty
    )
    return render_form(
        request,
        staff,
        title="Assign staff",
        heading="Assign a case manager or coordinator",
        intro=f"For {person['first_name']} {person['last_name']} ({person['number']}). {held}",
        action=f"{PATH}/participants/{person['id']}/assign",
        back=f"{PATH}/participants/{person['id']}",
        fields=ASSIGN,
        values=values,
        submit="Assign",
        **more,
    )


@get(f"{PATH}/participants/{{participant_id:uuid}}/assign")
async def assign_form(request: Request[Any, Any, Any], participant_id: UUID) -> Template:
    """Assign the participant's case manager or coordinator."""
    staff = signed_in(request)
    person = await read(request, staff, f"/participants/{participant_id}")
    return _page(request, staff, person, {"idempotency_key": uuid.uuid4().hex})


@post(f"{PATH}/participants/{{participant_id:uuid}}/assign")
async def assign(request: Request[Any, Any, Any], participant_id: UUID) -> Response[Any]:
    """POST /participants/{id}/assignments; on refusal, the form with the rule's sentence."""
    staff = signed_in(request)
    values = await read_form(request, ASSIGN)
    labels = labels_of(ASSIGN)
    check = FormCheck()
    if not values["duty"]:
        check.problem("duty", f"{labels['duty']}: choose one of the options")
    if not values["staff"]:
        check.problem("staff", f"{labels['staff']}: fill this in")
    try:
        if check.problems:
            raise Refusal(422, "invalid_form", check.text())
        _, position = await command(
            request,
            staff,
            f"/participants/{participant_id}/assignments",
            {"duty": values["duty"], "staff": values["staff"]},
            values["idempotency_key"],
        )
    except Refusal as refused:
        person = await read(request, staff, f"/participants/{participant_id}")
        return _page(
            request,
            staff,
            person,
            values,
            error=refused.words(labels),
            errs=check.fields or refused.fields(labels, ASSIGN_RULES),
            status=refused.status,
        )
    session = session_of(request)
    session["position"] = position
    session["notice"] = f"{words(values['duty']).capitalize()} assigned: {values['staff']}."
    request.set_session(session)
    return Redirect(f"{PATH}/participants/{participant_id}", status_code=303)


ROUTES = [assign_form, assign]
