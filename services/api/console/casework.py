"""The console's casework forms, each one command of the API: a case-management contact, a case
note and a SMART goal. The contact and the note are also drawn on the participant's page; each
has a page of its own too, where a refusal comes back with what was typed. A refusal is said in
sentences, each next to the field it is about (checks.per_field), and in the box above the form.
"""

from __future__ import annotations

import uuid
from typing import Any
from uuid import UUID

from litestar import Request, Response, get, post
from litestar.response import Template

from domain.casenotes import MAX_NOTE
from domain.casework import ContactMode
from domain.goals import GoalDomain, Horizon
from services.api.console.actions import (
    CHOOSE,
    SHORT_TEXT,
    Field,
    check_filled,
    labels_of,
    read_form,
    render_form,
)
from services.api.console.backend import read
from services.api.console.checks import FormCheck
from services.api.console.erased import not_erased
from services.api.console.format import words
from services.api.console.session import PATH, Staff, signed_in
from services.api.console.submit import Refused, done, submit

CONTACT = [
    Field("contacted_on", "The day of the contact", "date", required=True),
    Field(
        "mode",
        "How",
        "select",
        [CHOOSE, *((m.value, words(m.value)) for m in ContactMode)],
        required=True,
    ),
]
NOTE = [
    Field("text", "The note", "textarea", maxlength=MAX_NOTE, required=True),
    Field(
        "part2",
        "It holds 42 CFR Part 2 information (substance use disorder treatment)",
        "checkbox",
    ),
]
HORIZONS = {
    Horizon.WEEKLY: "Weekly (within 7 days)",
    Horizon.SHORT_TERM: "Short-term (within 90 days)",
    Horizon.LONG_TERM: "Long-term (within 2 years)",
}
GOAL = [
    Field(
        "statement",
        "Specific: what the participant will do",
        maxlength=SHORT_TEXT,
        required=True,
        help="For example: get a state ID card.",
    ),
    Field(
        "measure",
        "Measurable: how you will know",
        maxlength=SHORT_TEXT,
        required=True,
        help="For example: the ID card issued by the DMV.",
    ),
    Field(
        "target",
        "Achievable: the target",
        maxlength=SHORT_TEXT,
        required=True,
        help="What counts as done, and can be done: card in hand.",
    ),
    Field(
        "domain",
        "Relevant: the part of life it serves",
        "select",
        [CHOOSE, *((d.value, words(d.value)) for d in GoalDomain)],
        required=True,
    ),
    Field(
        "horizon",
        "Time-bound: the horizon",
        "select",
        [CHOOSE, *((h.value, label) for h, label in HORIZONS.items())],
        required=True,
    ),
    Field(
        "target_date",
        "Time-bound: the target date",
        "date",
        required=True,
        help="Within the horizon of today.",
    ),
]
# Which field each of the goal's documented rule refusals is about.
GOAL_RULES = {
    "target_in_past": "target_date",
    "target_beyond_horizon": "target_date",
    "goal_not_specific": "statement",
}
CONTACT_RULES = {
    "in_future": "contacted_on",
    "contact_before_entry": "contacted_on",
    "contact_after_exit": "contacted_on",
}
NOTE_RULES = {"note_required": "text"}


async def _person(request: Request[Any, Any, Any], staff: Staff, participant_id: UUID) -> Any:
    return await read(request, staff, f"/participants/{participant_id}")


def _back(participant_id: UUID) -> str:
    return f"{PATH}/participants/{participant_id}"


def _who(person: Any) -> str:
    return f"With {person['first_name']} {person['last_name']} ({person['number']})."


def _contact_page(
    request: Request[Any, Any, Any],
    staff: Staff,
    person: Any,
    values: dict[str, Any],
    **refused: Any,
) -> Template:
    return render_form(
        request,
        staff,
        heading="Record a case contact",
        intro=_who(person),
        action=f"{PATH}/participants/{person['id']}/contact",
        back=_back(person["id"]),
        fields=CONTACT,
        values=values,
        submit="Record the contact",
        **refused,
    )


def _note_page(
    request: Request[Any, Any, Any],
    staff: Staff,
    person: Any,
    values: dict[str, Any],
    **refused: Any,
) -> Template:
    return render_form(
        request,
        staff,
        heading="Add a case note",
        intro=f"On {person['first_name']} {person['last_name']} ({person['number']}).",
        action=f"{PATH}/participants/{person['id']}/note",
        back=_back(person["id"]),
        fields=NOTE,
        values=values,
        submit="Add the note",
        **refused,
    )


@get(f"{PATH}/participants/{{participant_id:uuid}}/contact")
async def contact_form(request: Request[Any, Any, Any], participant_id: UUID) -> Template:
    """Record a case-management contact with the participant on a day."""
    staff = signed_in(request)
    person = await not_erased(request, staff, participant_id)
    return _contact_page(request, staff, person, {"idempotency_key": uuid.uuid4().hex})


@post(f"{PATH}/participants/{{participant_id:uuid}}/contact")
async def record_contact(request: Request[Any, Any, Any], participant_id: UUID) -> Response[Any]:
    """POST /participants/{id}/case-contacts; on refusal, its page with the rule's sentence.
    Not for an erased participant: the API would keep the contact's details only as erased."""
    staff = signed_in(request)
    await not_erased(request, staff, participant_id)
    values = await read_form(request, CONTACT)
    labels = labels_of(CONTACT)
    check = FormCheck()
    on = check.day(labels["contacted_on"], values["contacted_on"], "contacted_on")
    if not values["mode"]:
        check.problem("mode", f"{labels['mode']}: choose one of the options")
    sent = await submit(
        request,
        staff,
        check,
        f"/participants/{participant_id}/case-contacts",
        {"contacted_on": on, "mode": values["mode"]},
        values["idempotency_key"],
        labels,
        CONTACT_RULES,
    )
    if isinstance(sent, Refused):
        person = await _person(request, staff, participant_id)
        return _contact_page(request, staff, person, values, **sent.shown)
    contact = sent.answer
    notice = f"Case contact recorded: {words(contact['mode'])}, {contact['contacted_on']}."
    return done(request, sent, notice, _back(participant_id))


@get(f"{PATH}/participants/{{participant_id:uuid}}/note")
async def note_form(request: Request[Any, Any, Any], participant_id: UUID) -> Template:
    """Write a case note on the participant."""
    staff = signed_in(request)
    person = await not_erased(request, staff, participant_id)
    return _note_page(request, staff, person, {"idempotency_key": uuid.uuid4().hex})


@post(f"{PATH}/participants/{{participant_id:uuid}}/note")
async def write_note(request: Request[Any, Any, Any], participant_id: UUID) -> Response[Any]:
    """POST /participants/{id}/case-notes; on refusal, its page with the rule's sentence."""
    staff = signed_in(request)
    values = await read_form(request, NOTE)
    sent = await submit(
        request,
        staff,
        FormCheck(),
        f"/participants/{participant_id}/case-notes",
        {"text": values["text"], "part2": bool(values["part2"])},
        values["idempotency_key"],
        labels_of(NOTE),
        NOTE_RULES,
    )
    if isinstance(sent, Refused):
        person = await _person(request, staff, participant_id)
        return _note_page(request, staff, person, values, **sent.shown)
    return done(request, sent, "Case note added.", _back(participant_id))


def _goal_page(
    request: Request[Any, Any, Any],
    staff: Staff,
    person: Any,
    values: dict[str, Any],
    **refused: Any,
) -> Template:
    return render_form(
        request,
        staff,
        title="Set a SMART goal",
        heading="Set a SMART goal",
        intro=f"For {person['first_name']} {person['last_name']} ({person['number']}). "
        "Specific, measurable, achievable, relevant and time-bound: every field is needed.",
        action=f"{PATH}/participants/{person['id']}/goal",
        back=_back(person["id"]),
        fields=GOAL,
        values=values,
        submit="Set the goal",
        **refused,
    )


@get(f"{PATH}/participants/{{participant_id:uuid}}/goal")
async def goal_form(request: Request[Any, Any, Any], participant_id: UUID) -> Template:
    """Set a SMART goal for the participant."""
    staff = signed_in(request)
    person = await not_erased(request, staff, participant_id)
    return _goal_page(request, staff, person, {"idempotency_key": uuid.uuid4().hex})


@post(f"{PATH}/participants/{{participant_id:uuid}}/goal")
async def set_goal(request: Request[Any, Any, Any], participant_id: UUID) -> Response[Any]:
    """POST /goals; on refusal, the form with each sentence next to its field."""
    staff = signed_in(request)
    values = await read_form(request, GOAL)
    labels = labels_of(GOAL)
    check = FormCheck()
    check_filled(check, GOAL, values)
    target_date = check.day(labels["target_date"], values["target_date"], "target_date")
    body = {
        "participant_id": str(participant_id),
        **{k: values[k] for k in ("horizon", "domain", "statement", "measure", "target")},
        "target_date": target_date,
    }
    sent = await submit(
        request, staff, check, "/goals", body, values["idempotency_key"], labels, GOAL_RULES
    )
    if isinstance(sent, Refused):
        person = await _person(request, staff, participant_id)
        return _goal_page(request, staff, person, values, **sent.shown)
    return done(request, sent, "Goal set.", _back(participant_id))


ROUTES = [contact_form, record_contact, note_form, write_note, goal_form, set_goal]
