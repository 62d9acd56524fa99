"""Assign a participant's case manager or coordinator from the console: one command of the API
(POST /participants/{id}/assignments), the staff member named by their sign-in subject, as
`GET …/participants?assigned_to=me` and the caseload's "Mine" read it. The name's field offers
the staff directory (GET …/staff, decision 114) and still takes a name typed for someone not
yet in it, once "A new staff member" confirms it is no typing mistake (decision 148);
"Unassign (nobody)" sends `staff: null`."""

from __future__ import annotations

import difflib
import uuid
from typing import Any
from uuid import UUID

from litestar import Request, Response, get, post
from litestar.response import Template

from domain.assignment import Duty
from services.api.console.actions import CHOOSE, Field, labels_of, read_form, render_form
from services.api.console.backend import read, views_behind
from services.api.console.checks import FormCheck
from services.api.console.format import words
from services.api.console.pages import log_position, optional
from services.api.console.session import PATH, Staff, signed_in
from services.api.console.submit import Refused, done, submit

DUTY = Field(
    "duty",
    "The duty",
    "select",
    [CHOOSE, *((d.value, words(d.value)) for d in Duty)],
    required=True,
)
STAFF_HELP = (
    "As they sign in (their subject), such as cm-rita: choose a known one or type a new one."
    " Whoever held the duty is replaced."
)
NOBODY = Field(
    "nobody",
    "Unassign (nobody)",
    "checkbox",
    help="Leave the name empty: whoever holds the duty is released and nobody takes it on.",
)

NEW_STAFF = Field(
    "new_staff",
    "A new staff member",
    "checkbox",
    help="Tick when the name is right but not in the list yet: their first assignment.",
)


def _fields(known: list[tuple[str, str]]) -> list[Field]:
    """The form: the name's field offers `known` (subject, what they hold) as suggestions."""
    return [
        DUTY,
        Field("staff", "The staff member's sign-in name", "text", known, help=STAFF_HELP),
        NEW_STAFF,
        NOBODY,
    ]


async def _unknown(request: Request[Any, Any, Any], staff: Staff, name: str) -> str | None:
    """Why `name` is taken for a typing mistake, or None when it is someone the grantee's
    records know (the staff directory, waiting for the signed-in member's last command) or the
    signed-in member themselves. A role that may not read the directory, or a directory short
    of the member's last command, is no ground to ask."""
    if name == staff.principal.subject:
        return None
    position = log_position(request)
    more = {} if position is None else {"min_position": position}
    found = await optional(request, staff, "/staff", limit=500, **more)
    if found is None or views_behind(request):
        # A directory that may not have the last assignments yet is no proof of a typo.
        return None
    subjects = [str(m["subject"]) for m in found.get("items", [])]
    if name in subjects:
        return None
    close = difflib.get_close_matches(name, subjects, n=1, cutoff=0.75)
    guess = f" Did you mean {close[0]}?" if close else ""
    return (
        f"nobody named {name} holds a duty here yet.{guess} Check the spelling, or tick"
        f" {NEW_STAFF.label} to assign them."
    )


def _holds(member: dict[str, Any]) -> str:
    held = [
        f"{words(d.value)} of {member[f'{d.value}_of']}" for d in Duty if member[f"{d.value}_of"]
    ]
    return ", ".join(held) or "holds nothing now"


async def known_staff(
    request: Request[Any, Any, Any], staff: Staff, *, wait: bool = True
) -> list[tuple[str, str]]:
    """The staff directory's first page (500), each with what they hold now; none for a role
    that may not read it. With `wait`, the directory first has the staff member's last
    command (an assignment just made); suggestions elsewhere need not wait."""
    position = log_position(request) if wait else None
    more = {} if position is None else {"min_position": position}
    found = await optional(request, staff, "/staff", limit=500, **more)
    return [(str(m["subject"]), _holds(m)) for m in (found or {}).get("items", [])]


async def _page(
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
        fields=_fields(await known_staff(request, staff)),
        values=values,
        submit="Assign",
        **more,
    )


@get(f"{PATH}/participants/{{participant_id:uuid}}/assign")
async def assign_form(request: Request[Any, Any, Any], participant_id: UUID) -> Template:
    """Assign the participant's case manager or coordinator."""
    staff = signed_in(request)
    person = await read(request, staff, f"/participants/{participant_id}")
    return await _page(request, staff, person, {"idempotency_key": uuid.uuid4().hex})


@post(f"{PATH}/participants/{{participant_id:uuid}}/assign")
async def assign(request: Request[Any, Any, Any], participant_id: UUID) -> Response[Any]:
    """POST /participants/{id}/assignments; on refusal, the form with the rule's sentence."""
    staff = signed_in(request)
    fields = _fields([])
    values = await read_form(request, fields)
    labels = labels_of(fields)
    nobody = bool(values["nobody"])
    check = FormCheck()
    if not values["duty"]:
        check.problem("duty", f"{labels['duty']}: choose one of the options")
    if nobody and values["staff"]:
        check.problem(
            "staff", f"{labels['staff']}: leave this empty to unassign, or untick {NOBODY.label}"
        )
    if not nobody and not values["staff"]:
        check.problem("staff", f"{labels['staff']}: fill this in, or tick {NOBODY.label}")
    if not nobody and values["staff"] and not values["new_staff"]:
        unknown = await _unknown(request, staff, values["staff"])
        if unknown is not None:
            check.problem("staff", f"{labels['staff']}: {unknown}")
    sent = await submit(
        request,
        staff,
        check,
        f"/participants/{participant_id}/assignments",
        {"duty": values["duty"], "staff": None if nobody else values["staff"]},
        values["idempotency_key"],
        labels,
        # "Already assigned" is about the name given, or about the choice of nobody.
        {"already_assigned": "nobody" if nobody else "staff"},
    )
    if isinstance(sent, Refused):
        person = await read(request, staff, f"/participants/{participant_id}")
        return await _page(request, staff, person, values, **sent.shown)
    duty = words(values["duty"]).capitalize()
    notice = (
        f"{duty} unassigned: nobody holds the duty now."
        if nobody
        else f"{duty} assigned: {values['staff']}."
    )
    return done(request, sent, notice, f"{PATH}/participants/{participant_id}")


ROUTES = [assign_form, assign]
