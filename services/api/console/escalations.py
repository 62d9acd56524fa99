"""Escalations: raising one about a mentee (a peer mentor, a case manager or a coordinator,
from the participant's page), and an escalation's page, where a coordinator acknowledges and
resolves it: each one command of the API (`POST /escalations`, its acknowledgement and
resolution), with the form's own idempotency key; a refusal is the rule's sentence, next to the
field it is about."""

from __future__ import annotations

import uuid
from typing import Any
from uuid import UUID

from litestar import Request, Response, get, post
from litestar.response import Template

from domain.supervision import EscalationType, Severity
from services.api.console.actions import CHOOSE, LONG_TEXT, Field, labels_of, read_form, render_form
from services.api.console.backend import read
from services.api.console.checks import FormCheck
from services.api.console.erased import not_erased
from services.api.console.format import words
from services.api.console.naming import pairing_people, person_name
from services.api.console.pages import log_position, optional, page
from services.api.console.roles import may
from services.api.console.session import PATH, Staff, signed_in
from services.api.console.submit import Refused, done, submit
from services.identity.access import allowed

ACK_LABELS = {"note": "A note (optional)"}
RESOLVE_LABELS = {"resolution": "How it was resolved"}
# Which field each documented rule refusal is about.
RESOLVE_RULES = {"resolution_required": "resolution"}


async def _page(
    request: Request[Any, Any, Any],
    staff: Staff,
    escalation_id: UUID,
    values: dict[str, Any] | None = None,
    error: str = "",
    errs: dict[str, str] | None = None,
    status: int = 200,
) -> Template:
    x = await read(
        request, staff, f"/escalations/{escalation_id}", min_position=log_position(request)
    )
    mentor = await optional(request, staff, f"/mentors/{x['mentor_id']}")
    person = (
        await optional(request, staff, f"/participants/{x['participant_id']}")
        if x.get("participant_id")
        else None
    )
    template = page(
        request,
        staff,
        "escalation.html",
        title="Escalation",
        x=x,
        mentor=(mentor or {}).get("display_name", ""),
        person=person_name(person) if person else "",
        v=values or {"ack_key": uuid.uuid4().hex, "resolve_key": uuid.uuid4().hex},
        error=error,
        errs=errs or {},
        may_supervise=allowed("supervision.write", staff.roles),
    )
    template.status_code = status
    return template


@get(f"{PATH}/escalations/{{escalation_id:uuid}}")
async def escalation(request: Request[Any, Any, Any], escalation_id: UUID) -> Template:
    """One escalation: what was raised, by whom, about whom; acknowledge it, resolve it."""
    staff = signed_in(request)
    return await _page(request, staff, escalation_id)


async def _act(
    request: Request[Any, Any, Any],
    escalation_id: UUID,
    path: str,
    body_of: Any,
    labels: dict[str, str],
    rules: dict[str, str],
    notice: str,
) -> Response[Any]:
    staff = signed_in(request)
    form = await request.form()
    values = {k: str(form.get(k, "")).strip() for k in ("note", "resolution")}
    key = str(form.get("idempotency_key", "")).strip() or uuid.uuid4().hex
    sent = await submit(
        request,
        staff,
        FormCheck(),
        f"/escalations/{escalation_id}/{path}",
        body_of(values),
        key,
        labels,
        rules,
    )
    if isinstance(sent, Refused):
        # The refused form keeps its key (sent again, it records once); the other a new one.
        mine = "ack_key" if path == "acknowledgement" else "resolve_key"
        keys = {"ack_key": uuid.uuid4().hex, "resolve_key": uuid.uuid4().hex, mine: key}
        return await _page(request, staff, escalation_id, {**values, **keys}, **sent.shown)
    return done(request, sent, notice, f"{PATH}/escalations/{escalation_id}")


@post(f"{PATH}/escalations/{{escalation_id:uuid}}/acknowledge")
async def acknowledge(request: Request[Any, Any, Any], escalation_id: UUID) -> Response[Any]:
    """POST /escalations/{id}/acknowledgement (now, with an optional note)."""
    return await _act(
        request,
        escalation_id,
        "acknowledgement",
        lambda v: {"note": v["note"]},
        ACK_LABELS,
        {},
        "Escalation acknowledged.",
    )


@post(f"{PATH}/escalations/{{escalation_id:uuid}}/resolve")
async def resolve(request: Request[Any, Any, Any], escalation_id: UUID) -> Response[Any]:
    """POST /escalations/{id}/resolution (now), saying how."""
    return await _act(
        request,
        escalation_id,
        "resolution",
        lambda v: {"resolution": v["resolution"]},
        RESOLVE_LABELS,
        RESOLVE_RULES,
        "Escalation resolved.",
    )


RAISE = "escalations.raise"
# Which field each of the raise's documented rule refusals is about.
RAISE_RULES = {
    "not_mentors_mentee": "mentor_id",
    "mentor_retired": "mentor_id",
    "mentor_not_certified": "mentor_id",
    "description_required": "description",
}


async def _mentors(
    request: Request[Any, Any, Any], staff: Staff, participant_id: UUID
) -> list[tuple[str, str]]:
    """The mentors of the participant's open pairings (a peer mentor: their own), by name: the
    caseload's names, or the mentor's read where the caseload has none (a group's mentor)."""
    found = await optional(request, staff, "/pairings", participant_id=str(participant_id))
    pairings = [p for p in (found or {}).get("items", []) if p.get("status") == "open"]
    named = (await pairing_people(request, staff, [str(p["id"]) for p in pairings])).mentors
    mentors: list[tuple[str, str]] = []
    for mentor_id in dict.fromkeys(str(p["mentor_id"]) for p in pairings):
        name = named.get(mentor_id)
        if name is None:
            mentor = await optional(request, staff, f"/mentors/{mentor_id}")
            name = str((mentor or {}).get("display_name") or "The pairing's mentor")
        mentors.append((mentor_id, name))
    return mentors


def raise_fields(mentors: list[tuple[str, str]]) -> list[Field]:
    return [
        Field(
            "mentor_id",
            "The mentor asking for guidance",
            "select",
            mentors if len(mentors) == 1 else [CHOOSE, *mentors],
            required=True,
        ),
        Field(
            "type",
            "What it is about",
            "select",
            [CHOOSE, *((t.value, words(t.value).capitalize()) for t in EscalationType)],
            required=True,
        ),
        Field(
            "severity",
            "How serious",
            "select",
            [CHOOSE, *((s.value, s.value.capitalize()) for s in Severity)],
            required=True,
            help="A crisis still unresolved 24 hours after it is raised shows among the"
            " coordinators' alerts, and the participant's case manager's: they see that it"
            " is open and how serious, never what you write here. In an emergency call 911"
            " first.",
        ),
        Field("description", "What is happening", "textarea", maxlength=LONG_TEXT, required=True),
    ]


async def _raise_page(
    request: Request[Any, Any, Any],
    staff: Staff,
    participant_id: UUID,
    values: dict[str, Any],
    **shown: Any,
) -> Template:
    person = await read(request, staff, f"/participants/{participant_id}")
    mentors = await _mentors(request, staff, participant_id)
    intro = (
        f"About {person_name(person)}. The coordinators see it at once in their list of"
        " escalations."
    )
    if not mentors:
        intro += " This participant has no open pairing: an escalation is raised by their mentor."
    return render_form(
        request,
        staff,
        title="Raise an escalation",
        heading="Raise an escalation",
        intro=intro,
        action=f"{PATH}/participants/{participant_id}/escalation",
        back=f"{PATH}/participants/{participant_id}",
        fields=raise_fields(mentors),
        values=values,
        submit="Raise it",
        **shown,
    )


@get(f"{PATH}/participants/{{participant_id:uuid}}/escalation")
async def raise_form(request: Request[Any, Any, Any], participant_id: UUID) -> Template:
    """Raise an escalation about a mentee: a boundary concern, crisis, safety issue, relapse
    risk or conflict on which the mentor seeks the coordinator's guidance."""
    staff = signed_in(request)
    may(staff, RAISE, "raise an escalation")
    await not_erased(request, staff, participant_id)
    return await _raise_page(request, staff, participant_id, {"idempotency_key": uuid.uuid4().hex})


@post(f"{PATH}/participants/{{participant_id:uuid}}/escalation")
async def raise_escalation(request: Request[Any, Any, Any], participant_id: UUID) -> Response[Any]:
    """POST /escalations about the participant (raised now); on refusal, the form again.
    Not about an erased participant: the API would keep its description only as erased."""
    staff = signed_in(request)
    may(staff, RAISE, "raise an escalation")
    await not_erased(request, staff, participant_id)
    fields = raise_fields([])
    values = await read_form(request, fields)
    check = FormCheck()
    for f in fields[:3]:
        if not values[f.name]:
            check.problem(f.name, f"{f.label}: choose one of the options")
    body = {
        "mentor_id": values["mentor_id"],
        "participant_id": str(participant_id),
        "type": values["type"],
        "severity": values["severity"],
        "description": values["description"],
    }
    sent = await submit(
        request,
        staff,
        check,
        "/escalations",
        body,
        values["idempotency_key"],
        labels_of(fields),
        RAISE_RULES,
    )
    if isinstance(sent, Refused):
        return await _raise_page(request, staff, participant_id, values, **sent.shown)
    return done(
        request,
        sent,
        "Escalation raised: the coordinators see it at once in their list of escalations; a crisis"
        " still unresolved after 24 hours also shows among the alerts.",
        f"{PATH}/participants/{participant_id}",
    )


ROUTES = [escalation, acknowledge, resolve, raise_form, raise_escalation]
