"""The stage-transition form (one command of the API, `POST …/stage-transitions`): whom it is
for and where they are now above it, the stages and placements in the domain's words
(domain/stages.py: the placements each stage holds), and afterwards what was recorded for whom.
"""

from __future__ import annotations

import uuid
from typing import Any
from uuid import UUID

from litestar import Request, Response, get, post
from litestar.response import Template

from domain.stages import STAGE_OF_PLACEMENT, Placement, Stage
from services.api.console.actions import CHOOSE, KINDS, Field, labels_of, read_form, render_form
from services.api.console.backend import read
from services.api.console.checks import FormCheck
from services.api.console.format import day, when
from services.api.console.pages import grantee_zone, optional
from services.api.console.session import PATH, Staff, signed_in
from services.api.console.submit import Refused, done, submit

HEADING = "Record a stage transition"
# Which field each of the stage transition's documented rule refusals is about.
STAGE_RULES = {
    "illegal_transition": "to_stage",
    "placement_required": "placement",
    "placement_mismatch": "placement",
    "facility_required": "facility",
    "facility_wrong_kind": "facility",
    "facility_not_allowed": "facility",
    "in_future": "occurred_at",
    "before_current_stage": "occurred_at",
}


def stage_words(stage: Stage) -> str:
    """A stage by the placements the domain puts in it: "Stage 2: an RRC or home confinement"."""
    held = [p.in_words for p in Placement if STAGE_OF_PLACEMENT[p] is stage]
    return f"Stage {int(stage)}: {' or '.join(held)}"


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def _facilities(found: Any) -> dict[str, Any]:
    """The grantee's facilities by code."""
    return {str(f["code"]): f for f in (found or {}).get("items", [])}


def where(person: Any, facilities: dict[str, Any]) -> str:
    """Where a participant is, in words: "stage 2, in an RRC at Riverside RRC (RRC-N1)"; the
    facility by its code alone when the grantee's list does not name it."""
    placed = f"stage {person['stage']}, in {Placement(person['placement']).in_words}"
    code = person.get("facility")
    if code in facilities:
        placed += f" at {facilities[code]['name']} ({code})"
    elif code:
        placed += f" at {code}"
    return placed


def _fields(facilities: dict[str, Any]) -> list[Field]:
    return [
        Field(
            "to_stage",
            "New stage",
            "select",
            [CHOOSE, *((str(int(s)), stage_words(s)) for s in Stage)],
            help="Back to stage 1 only on a return to custody: tick it below.",
            required=True,
        ),
        Field(
            "placement",
            "Placement",
            "select",
            [
                CHOOSE,
                *(
                    (p.value, f"{_capital(p.in_words)} (stage {int(STAGE_OF_PLACEMENT[p])})")
                    for p in Placement
                ),
            ],
            help="Stage 2 needs one. Not chosen, stage 3 is the community and a return to"
            " custody a BOP institution.",
        ),
        Field(
            "facility",
            "Facility",
            "select",
            [
                ("", "None"),
                *(
                    (code, f"{f['name']} ({code}), {KINDS.get(f['kind'], f['kind'])}")
                    for code, f in facilities.items()
                ),
            ],
            help="An RRC for a placement in an RRC, a BOP institution for a return to custody;"
            " none for home confinement or the community.",
        ),
        Field("occurred_at", "When", "datetime", required=True),
        Field("returned_to_custody", "A return to custody", "checkbox"),
    ]


def _intro(person: Any, facilities: dict[str, Any]) -> str:
    """Whom the form is for and where they are now."""
    now = f"Now in {where(person, facilities)}, since {when(person['stage_started_at'])}"
    if person.get("status") == "exited" and person.get("exit_date"):
        now += f"; exited on {day(person['exit_date'])}"
    return f"For {person['first_name']} {person['last_name']} ({person['number']}). {now}."


def _notice(moved: Any, facilities: dict[str, Any], returned: bool) -> str:
    """What was recorded, for whom: the stage, placement and facility they are in now."""
    what = "Return to custody" if returned else "Stage transition"
    return (
        f"{what} recorded for {moved['first_name']} {moved['last_name']} ({moved['number']}):"
        f" now in {where(moved, facilities)}, from {when(moved['stage_started_at'])}."
    )


async def _about(
    request: Request[Any, Any, Any], staff: Staff, participant_id: UUID
) -> tuple[Any, dict[str, Any]]:
    person = await read(request, staff, f"/participants/{participant_id}")
    facilities = _facilities(await optional(request, staff, "/facilities", limit=500))
    return person, facilities


def _page(
    request: Request[Any, Any, Any],
    staff: Staff,
    person: Any,
    facilities: dict[str, Any],
    values: dict[str, Any],
    **refused: Any,
) -> Template:
    back = f"{PATH}/participants/{person['id']}"
    return render_form(
        request,
        staff,
        heading=HEADING,
        intro=_intro(person, facilities),
        action=f"{back}/stage",
        back=back,
        fields=_fields(facilities),
        values=values,
        **refused,
    )


@get(f"{PATH}/participants/{{participant_id:uuid}}/stage")
async def stage_form(request: Request[Any, Any, Any], participant_id: UUID) -> Template:
    """Record a stage transition."""
    staff = signed_in(request)
    person, facilities = await _about(request, staff, participant_id)
    return _page(request, staff, person, facilities, {"idempotency_key": uuid.uuid4().hex})


@post(f"{PATH}/participants/{{participant_id:uuid}}/stage")
async def record_stage(request: Request[Any, Any, Any], participant_id: UUID) -> Response[Any]:
    staff = signed_in(request)
    person, facilities = await _about(request, staff, participant_id)
    fields = _fields(facilities)
    values = await read_form(request, fields)
    zone = await grantee_zone(request, staff)
    check = FormCheck()
    if not values["to_stage"]:
        check.problem("to_stage", f"{labels_of(fields)['to_stage']}: choose one of the options")
    body: dict[str, Any] = {
        "to_stage": int(values["to_stage"]) if values["to_stage"].isdigit() else values["to_stage"],
        "occurred_at": check.moment(
            labels_of(fields)["occurred_at"], values["occurred_at"], zone, name="occurred_at"
        ),
    }
    # No placement chosen: the API's default for the stage, or its refusal in words.
    if values["placement"] and not values["returned_to_custody"]:
        body["placement"] = values["placement"]
    if values["facility"]:
        body["facility"] = values["facility"].upper()
    if values["returned_to_custody"]:
        body["returned_to_custody"] = True
    sent = await submit(
        request,
        staff,
        check,
        f"/participants/{participant_id}/stage-transitions",
        body,
        values["idempotency_key"],
        labels_of(fields),
        STAGE_RULES,
    )
    if isinstance(sent, Refused):
        return _page(request, staff, person, facilities, values, **sent.shown)
    notice = _notice(sent.answer, facilities, bool(values["returned_to_custody"]))
    return done(request, sent, notice, f"{PATH}/participants/{participant_id}")


ROUTES = [stage_form, record_stage]
