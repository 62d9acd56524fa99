"""An escalation's page, where a coordinator acknowledges and
resolves it: each one command of the API (its acknowledgement and resolution), with the form's
own idempotency key; a refusal is the rule's sentence, next to the field it is about."""

from __future__ import annotations

import uuid
from typing import Any
from uuid import UUID

from litestar import Request, Response, get, post
from litestar.response import Template

from services.api.console.backend import read
from services.api.console.checks import FormCheck
from services.api.console.naming import person_name
from services.api.console.pages import log_position, optional, page
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


ROUTES = [escalation, acknowledge, resolve]
