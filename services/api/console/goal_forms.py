"""Finishing a SMART goal from the console: add a step, complete or drop a step, revise the
goal, mark it achieved or abandon it, each a page of its own and one command of the API
(`/goals/{id}/…`, goal_changes.py). Each page shows the goal (its terms, target date and steps)
above its form; a refusal is a sentence next to the field it is about, by the rule's documented
code, and records nothing; the API decides every rule (decision 70)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from litestar import Request, Response, get, post
from litestar.exceptions import NotFoundException
from litestar.response import Template

from services.api.console.actions import (
    SHORT_TEXT,
    TEXT,
    Field,
    check_filled,
    labels_of,
    read_form,
    render_form,
)
from services.api.console.backend import read
from services.api.console.casework import GOAL, GOAL_RULES
from services.api.console.checks import FormCheck
from services.api.console.format import day
from services.api.console.roles import may
from services.api.console.session import PATH, Staff, signed_in
from services.api.console.submit import Refused, done, submit

Answer = dict[str, Any]


@dataclass(frozen=True)
class Change:
    """One command on a goal: the API's path under the goal (or under its step), the page's
    heading, its button, the fields, which field each documented rule code is about, and the
    notice after it (from the goal as it now stands and the step, if any)."""

    api: str
    heading: str
    submit: str
    notice: Callable[[Answer, Answer], str]
    fields: list[Field] = field(default_factory=list)
    rules: dict[str, str] = field(default_factory=dict)


REASON = Field("reason", "Reason", "textarea", maxlength=TEXT, required=True)
# Changes of the goal itself, by the last part of their address.
CHANGES: dict[str, Change] = {
    "step": Change(
        "steps",
        "Add a step to a goal",
        "Add the step",
        lambda g, s: f"Step added: {g['steps'][-1]['description']}.",
        [
            Field(
                "description",
                "The step",
                required=True,
                maxlength=SHORT_TEXT,
                help="A smaller thing to do on the way, such as: request a birth certificate.",
            ),
            Field(
                "due_on",
                "Due on (optional)",
                "date",
                help="A day by the goal's target date, or none.",
            ),
        ],
        {
            "description_required": "description",
            "due_in_past": "due_on",
            "step_due_after_target": "due_on",
        },
    ),
    "achieve": Change(
        "achievement",
        "Mark a goal achieved",
        "Mark it achieved",
        lambda g, s: f"Goal achieved: {g['statement']}.",
        [
            Field(
                "note",
                "How it was achieved",
                "textarea",
                maxlength=TEXT,
                required=True,
                help="What shows it, and how it was celebrated.",
            )
        ],
        {"note_required": "note"},
    ),
    "abandon": Change(
        "abandonment",
        "Abandon a goal",
        "Abandon the goal",
        lambda g, s: f"Goal abandoned: {g['statement']}.",
        [REASON],
        {"reason_required": "reason"},
    ),
}
# Changes of one open step, by the last part of their address.
STEP_CHANGES: dict[str, Change] = {
    "complete": Change(
        "completion",
        "Complete a step",
        "Mark the step done",
        lambda g, s: f"Step completed: {s['description']}.",
        [Field("note", "Note (optional)", "textarea", maxlength=TEXT)],
    ),
    "drop": Change(
        "drop",
        "Drop a step",
        "Drop the step",
        lambda g, s: f"Step dropped: {s['description']}.",
        [REASON],
        {"reason_required": "reason"},
    ),
}
REVISE = [
    *GOAL,
    Field(
        "reason",
        "Why it changes",
        "textarea",
        maxlength=TEXT,
        required=True,
        help="What changed in the participant's circumstances.",
    ),
]
# The revision's documented codes: the goal's terms, the reason, an open step due after a
# new target date ("drop it first").
REVISE_RULES = {**GOAL_RULES, "reason_required": "reason", "step_due_after_target": "target_date"}
TERMS = ("statement", "measure", "target", "domain", "horizon", "target_date")


def _back(goal: Answer) -> str:
    return f"{PATH}/participants/{goal['participant_id']}"


def _body(check: FormCheck, fields: list[Field], values: dict[str, str]) -> dict[str, Any]:
    """The API's body: text as typed (an empty one is the API's to refuse, by its label), a day
    read as a date, an empty optional day left out."""
    body: dict[str, Any] = {}
    for f in fields:
        if f.kind == "date":
            if values[f.name]:
                body[f.name] = check.day(f.label, values[f.name], f.name)
        else:
            body[f.name] = values[f.name]
    return body


def _page(
    request: Request[Any, Any, Any],
    staff: Staff,
    goal: Answer,
    heading: str,
    action: str,
    fields: list[Field],
    values: dict[str, Any],
    **about: Any,
) -> Template:
    """A goal's form: the goal (its terms, target date and steps) above the fields."""
    return render_form(
        request,
        staff,
        title=heading,
        heading=heading,
        action=f"{PATH}{action}",
        back=_back(goal),
        fields=fields,
        values=values,
        template_name="goal_form.html",
        g=goal,
        **about,
    )


@dataclass(frozen=True)
class Opened:
    """A change's form as asked for: who asks, the change, the goal, the step (if one) and the
    address of the form under /console, which is also the API's path before its last part."""

    staff: Staff
    change: Change
    goal: Answer
    step: Answer | None
    where: str

    def page(
        self, request: Request[Any, Any, Any], values: dict[str, Any], **refused: Any
    ) -> Template:
        c = self.change
        return _page(
            request,
            self.staff,
            self.goal,
            c.heading,
            self.where,
            c.fields,
            values,
            submit=c.submit,
            step=self.step,
            **refused,
        )


async def _open(
    request: Request[Any, Any, Any], goal_id: UUID, name: str, step_id: UUID | None = None
) -> Opened:
    """The change `name` of the goal (or of its step), for staff who may write goals; the Not
    found page for a change or step there is not."""
    staff = signed_in(request)
    change = (STEP_CHANGES if step_id else CHANGES).get(name)
    if change is None:
        raise NotFoundException()
    may(staff, "goals.write", change.heading[0].lower() + change.heading[1:])
    goal = await read(request, staff, f"/goals/{goal_id}")
    where = f"/goals/{goal_id}"
    step = None
    if step_id:
        step = next((dict(s) for s in goal["steps"] if s["step_id"] == str(step_id)), None)
        if step is None:
            raise NotFoundException()
        where = f"{where}/steps/{step_id}"
    return Opened(staff, change, goal, step, f"{where}/{name}")


async def _send(request: Request[Any, Any, Any], opened: Opened) -> Response[Any]:
    """POST the change to the API; on refusal, the form with the rule's sentence by its field."""
    change = opened.change
    values = await read_form(request, change.fields)
    check = FormCheck()
    check_filled(check, change.fields, values)
    sent = await submit(
        request,
        opened.staff,
        check,
        f"{opened.where.rsplit('/', 1)[0]}/{change.api}",
        _body(check, change.fields, values),
        values["idempotency_key"],
        labels_of(change.fields),
        change.rules,
    )
    if isinstance(sent, Refused):
        return opened.page(request, values, **sent.shown)
    notice = change.notice(sent.answer, opened.step or {})
    return done(request, sent, notice, _back(opened.goal))


@get(f"{PATH}/goals/{{goal_id:uuid}}/{{name:str}}")
async def change_form(request: Request[Any, Any, Any], goal_id: UUID, name: str) -> Template:
    """Add a step to a goal, mark it achieved or abandon it (staff who may write goals)."""
    opened = await _open(request, goal_id, name)
    return opened.page(request, {"idempotency_key": uuid.uuid4().hex})


@post(f"{PATH}/goals/{{goal_id:uuid}}/{{name:str}}")
async def record_change(request: Request[Any, Any, Any], goal_id: UUID, name: str) -> Response[Any]:
    """POST /goals/{id}/steps, …/achievement or …/abandonment."""
    return await _send(request, await _open(request, goal_id, name))


@get(f"{PATH}/goals/{{goal_id:uuid}}/steps/{{step_id:uuid}}/{{name:str}}")
async def step_form(
    request: Request[Any, Any, Any], goal_id: UUID, step_id: UUID, name: str
) -> Template:
    """Complete or drop one of a goal's open steps (staff who may write goals)."""
    opened = await _open(request, goal_id, name, step_id)
    return opened.page(request, {"idempotency_key": uuid.uuid4().hex})


@post(f"{PATH}/goals/{{goal_id:uuid}}/steps/{{step_id:uuid}}/{{name:str}}")
async def record_step_change(
    request: Request[Any, Any, Any], goal_id: UUID, step_id: UUID, name: str
) -> Response[Any]:
    """POST /goals/{id}/steps/{step}/completion or …/drop."""
    return await _send(request, await _open(request, goal_id, name, step_id))


def _revise_page(
    request: Request[Any, Any, Any],
    staff: Staff,
    goal: Answer,
    values: dict[str, Any],
    shown: dict[str, str],
    **refused: Any,
) -> Template:
    return _page(
        request,
        staff,
        goal,
        "Revise a goal",
        f"/goals/{goal['id']}/revise",
        REVISE,
        values,
        submit="Revise the goal",
        hidden={f"was_{name}": value for name, value in shown.items()},
        **refused,
    )


@get(f"{PATH}/goals/{{goal_id:uuid}}/revise")
async def revise_form(request: Request[Any, Any, Any], goal_id: UUID) -> Template:
    """Revise a goal: its terms as they stand, to change what changed, and an empty reason."""
    staff = signed_in(request)
    may(staff, "goals.write", "revise a goal")
    goal = await read(request, staff, f"/goals/{goal_id}")
    shown = {name: str(goal[name]) for name in TERMS}
    values = {**shown, "idempotency_key": uuid.uuid4().hex}
    return _revise_page(request, staff, goal, values, shown)


@post(f"{PATH}/goals/{{goal_id:uuid}}/revise")
async def revise(request: Request[Any, Any, Any], goal_id: UUID) -> Response[Any]:
    """POST /goals/{id}/revisions with the terms changed from those shown, and the reason;
    on refusal, the form with the rule's sentence next to its field."""
    staff = signed_in(request)
    may(staff, "goals.write", "revise a goal")
    goal = await read(request, staff, f"/goals/{goal_id}")
    values = await read_form(request, REVISE)
    # The terms the form showed travel with it: a form sent twice is the same request.
    form = await request.form()
    shown = {name: str(form.get(f"was_{name}", goal[name])).strip() for name in TERMS}
    labels = labels_of(REVISE)
    check = FormCheck()
    check_filled(check, REVISE, values)
    target_date = check.day(labels["target_date"], values["target_date"], "target_date")
    typed = {**values, "target_date": target_date}
    body: dict[str, Any] = {name: typed[name] for name in TERMS if typed[name] != shown[name]}
    body["reason"] = values["reason"]
    sent = await submit(
        request,
        staff,
        check,
        f"/goals/{goal_id}/revisions",
        body,
        values["idempotency_key"],
        labels,
        REVISE_RULES,
    )
    if isinstance(sent, Refused):
        return _revise_page(request, staff, goal, values, shown, **sent.shown)
    revised = sent.answer
    notice = f"Goal revised: {revised['statement']}, by {day(revised['target_date'])}."
    return done(request, sent, notice, _back(goal))


ROUTES = [revise_form, revise, change_form, record_change, step_form, record_step_change]
