"""What came of a referral, recorded from the console: the warm handover to a named case
manager (`…/referrals/{id}/handover`), the connection, the day the participant reached the
service (`…/connection`), or a decline, by whom and why (`…/decline`). Each page shows the
referral's resource and need; each is one command of the API with the form's own idempotency
key, and a refusal is the rule's sentence next to the field it is about. Only a referral still
open (`made`) offers them: the participant's page links them from its row; a closed one's page
says what it is, with no form. The API still decides."""

from __future__ import annotations

import uuid
from typing import Any
from uuid import UUID

from litestar import Request, Response, get, post
from litestar.response import Template

from domain.resources import DeclinedBy
from services.api.console.actions import CHOOSE, LONG_TEXT, Field, labels_of, read_form, render_form
from services.api.console.assignment import known_staff
from services.api.console.backend import read
from services.api.console.checks import FormCheck
from services.api.console.format import when
from services.api.console.pages import optional
from services.api.console.roles import may
from services.api.console.session import PATH, Staff, signed_in
from services.api.console.submit import Refused, done, submit

WRITE = "referrals.write"
DOING = "record what came of a referral"
DECLINERS = {DeclinedBy.PARTICIPANT: "The participant", DeclinedBy.RESOURCE: "The resource"}
CONNECTION = [
    Field("connected_on", "The day they connected", "date", required=True),
    Field(
        "note",
        "A note (optional)",
        "textarea",
        maxlength=LONG_TEXT,
        help="Whom they saw, what was arranged.",
    ),
]
DECLINE = [
    Field("declined_on", "The day it was declined", "date", required=True),
    Field(
        "declined_by",
        "Declined by",
        "select",
        [CHOOSE, *((d.value, DECLINERS[d]) for d in DeclinedBy)],
        required=True,
    ),
    Field("reason", "Why", "textarea", maxlength=LONG_TEXT, required=True),
]
HANDOVER_HELP = (
    "As they sign in (their subject), such as cm-rita: choose a known one or type a name."
    " The follow-up is case management, outside a peer mentor's scope."
)
# Which field each step's documented rule refusals are about; `referral_closed` is said above
# the form (the referral, not a field).
RULES = {
    "handover": {"case_manager_required": "case_manager", "already_handed_over": "case_manager"},
    "connection": {"before_referral": "connected_on", "in_future": "connected_on"},
    "decline": {
        "before_referral": "declined_on",
        "in_future": "declined_on",
        "reason_required": "reason",
    },
}
HEADINGS = {
    "handover": "Hand a referral to a case manager",
    "connection": "Record a referral's connection",
    "decline": "Record a declined referral",
}
SUBMITS = {
    "handover": "Hand it over",
    "connection": "Record the connection",
    "decline": "Record the decline",
}
NOTICES = {
    "handover": "Referral handed to {case_manager}.",
    "connection": "Connection recorded: the referral is connected.",
    "decline": "Decline recorded: the referral is closed.",
}


async def _fields(
    request: Request[Any, Any, Any], staff: Staff, step: str, drawn: bool = True
) -> list[Field]:
    """The step's fields; the handover's name offers the staff directory when the page is
    drawn (a POST reads the fields' names and labels only)."""
    if step == "connection":
        return CONNECTION
    if step == "decline":
        return DECLINE
    return [
        Field(
            "case_manager",
            "The case manager's sign-in name",
            "text",
            await known_staff(request, staff, wait=False) if drawn else [],
            help=HANDOVER_HELP,
            required=True,
        ),
        Field("note", "A note for them (optional)", "textarea", maxlength=LONG_TEXT),
    ]


async def _about(
    request: Request[Any, Any, Any], staff: Staff, referral: dict[str, Any]
) -> tuple[str, str]:
    """The page's opening words (whose referral, to what, for which need, where it stands) and
    the participant's page."""
    pid = str(referral["participant_id"])
    person = await read(request, staff, f"/participants/{pid}")
    resource = await optional(request, staff, f"/resources/{referral['resource_id']}")
    to = str((resource or {}).get("name") or "a resource of the directory")
    intro = (
        f"{person['first_name']} {person['last_name']} ({person['number']}), referred to"
        f" {to} on {when(referral['made_at'])} for: {referral['need']}"
    )
    intro = intro.rstrip(".") + "."
    if referral.get("case_manager"):
        intro += f" With case manager {referral['case_manager']}."
    return intro, f"{PATH}/participants/{pid}"


async def _page(
    request: Request[Any, Any, Any],
    staff: Staff,
    referral_id: UUID,
    step: str,
    values: dict[str, Any],
    **shown: Any,
) -> Template:
    referral = await read(request, staff, f"/referrals/{referral_id}")
    intro, back = await _about(request, staff, referral)
    status = str(referral["status"])
    return render_form(
        request,
        staff,
        title=HEADINGS[step],
        heading=HEADINGS[step],
        intro=intro,
        action=f"{PATH}/referrals/{referral_id}/{step}",
        back=f"{back}#h-referrals",
        fields=await _fields(request, staff, step),
        values=values,
        submit=SUBMITS[step],
        template_name="referral_form.html",
        closed="" if status == "made" else status,
        **shown,
    )


async def _form(request: Request[Any, Any, Any], referral_id: UUID, step: str) -> Template:
    staff = signed_in(request)
    may(staff, WRITE, DOING)
    values = {"idempotency_key": uuid.uuid4().hex}
    return await _page(request, staff, referral_id, step, values)


def _body(step: str, values: dict[str, str], check: FormCheck, labels: dict[str, str]) -> Any:
    """The API's body for the step, after the console's own reading of the form."""
    if step == "handover":
        return {"case_manager": values["case_manager"], "note": values["note"]}
    if step == "connection":
        on = check.day(labels["connected_on"], values["connected_on"], "connected_on")
        return {"connected_on": on, "note": values["note"]}
    on = check.day(labels["declined_on"], values["declined_on"], "declined_on")
    if not values["declined_by"]:
        check.problem("declined_by", f"{labels['declined_by']}: choose one of the options")
    return {"declined_on": on, "declined_by": values["declined_by"], "reason": values["reason"]}


async def _record(request: Request[Any, Any, Any], referral_id: UUID, step: str) -> Response[Any]:
    staff = signed_in(request)
    may(staff, WRITE, DOING)
    fields = await _fields(request, staff, step, drawn=False)
    values = await read_form(request, fields)
    labels = labels_of(fields)
    check = FormCheck()
    body = _body(step, values, check, labels)
    sent = await submit(
        request,
        staff,
        check,
        f"/referrals/{referral_id}/{step}",
        body,
        values["idempotency_key"],
        labels,
        RULES[step],
    )
    if isinstance(sent, Refused):
        return await _page(request, staff, referral_id, step, values, **sent.shown)
    back = f"{PATH}/participants/{sent.answer['participant_id']}#h-referrals"
    return done(request, sent, NOTICES[step].format(**values), back)


@get(f"{PATH}/referrals/{{referral_id:uuid}}/handover")
async def handover_form(request: Request[Any, Any, Any], referral_id: UUID) -> Template:
    """Hand the referral to a named case manager (a warm handover)."""
    return await _form(request, referral_id, "handover")


@post(f"{PATH}/referrals/{{referral_id:uuid}}/handover")
async def hand_over(request: Request[Any, Any, Any], referral_id: UUID) -> Response[Any]:
    """POST …/referrals/{id}/handover."""
    return await _record(request, referral_id, "handover")


@get(f"{PATH}/referrals/{{referral_id:uuid}}/connection")
async def connection_form(request: Request[Any, Any, Any], referral_id: UUID) -> Template:
    """Record the day the participant reached the service."""
    return await _form(request, referral_id, "connection")


@post(f"{PATH}/referrals/{{referral_id:uuid}}/connection")
async def connect(request: Request[Any, Any, Any], referral_id: UUID) -> Response[Any]:
    """POST …/referrals/{id}/connection."""
    return await _record(request, referral_id, "connection")


@get(f"{PATH}/referrals/{{referral_id:uuid}}/decline")
async def decline_form(request: Request[Any, Any, Any], referral_id: UUID) -> Template:
    """Record that the participant or the resource declined the referral, and why."""
    return await _form(request, referral_id, "decline")


@post(f"{PATH}/referrals/{{referral_id:uuid}}/decline")
async def decline(request: Request[Any, Any, Any], referral_id: UUID) -> Response[Any]:
    """POST …/referrals/{id}/decline."""
    return await _record(request, referral_id, "decline")


ROUTES = [handover_form, hand_over, connection_form, connect, decline_form, decline]
