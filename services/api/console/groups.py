"""Group pairings from the console, each one command of the API: start a group from a
participant's page (one POST /pairings with `members` and the shared `focus`), add a member
(POST …/pairings/{id}/members) and remove one with the reason (POST …/member-removals). The
other members are chosen from the grantee's active participants with no open pairing, as the
API's caseload read gives them, a page at most, found by name or number (decision 115); the
match's own fields, checks and refusals are the individual form's (pairing.py). Only a role
with `pairings.write` opens these forms; nothing a person decides is pre-filled."""

from __future__ import annotations

import uuid
from typing import Any
from uuid import UUID

from litestar import Request, Response, get, post
from litestar.response import Redirect, Template

from domain.pairings import Focus
from services.api.console.actions import CHOOSE, TEXT, Field, render_form
from services.api.console.backend import Refusal, command, read, read_all
from services.api.console.checks import FormCheck
from services.api.console.erased import not_erased
from services.api.console.format import ended, words
from services.api.console.pairing import (
    PAIR_PATHS,
    PAIR_RULES,
    back_to,
    beside,
    check_match,
    labels_by_path,
    match_body,
    match_fields,
    match_values,
    who,
)
from services.api.console.reports import may_open
from services.api.console.session import PATH, Staff, signed_in, tell

# The most participants a form lists to choose from; the search narrows a longer list.
SHOWN = 50
# The most caseload rows read to find them (active ones, in pages of 100).
SCANNED = 300
FIND = "Find participants by name or number"
GROUP_PATHS = {**PAIR_PATHS, "members": "members", "focus": "focus"}
# Which field each of the group's documented rule refusals is about: a member's own
# refusal (their derived exit, a participant twice, the group's size) by the members.
GROUP_RULES = {
    **PAIR_RULES,
    "group_size": "members",
    "duplicate_member": "members",
    "mentee_exited": "members",
    "mentee_already_paired": "members",
    "focus_required": "focus",
}
ADD_RULES = {
    code: "participant_id"
    for code in (
        "group_size",
        "duplicate_member",
        "mentee_exited",
        "mentee_already_paired",
        "mentor_not_eligible_for_stage",
        "mentor_not_certified",
        "not_a_group",
        "pairing_closed",
    )
}
REMOVE_RULES = {
    code: "participant_id"
    for code in ("group_size", "not_a_member", "not_a_group", "pairing_closed")
}


def _may(staff: Staff, what: str) -> None:
    may_open(staff, "pairings.write", what, need="a change to a pairing")


def _named(row: Any) -> str:
    return f"{row['first_name']} {row['last_name']} ({row['number']}), stage {row['stage']}"


async def _unpaired(
    request: Request[Any, Any, Any], staff: Staff, find: str, leave_out: set[str]
) -> tuple[list[tuple[str, str]], bool]:
    """The grantee's active participants with no open pairing (found by `find`), but those in
    `leave_out`: at most SHOWN, and whether there are more (or more not read)."""
    found = await read_all(
        request, staff, "/participants", cap=SCANNED, limit=100, status="active", q=find or None
    )
    rows = [
        r
        for r in found["items"]
        if str(r["id"]) not in leave_out
        and r.get("individual_pairing_id") is None
        and not r.get("group_pairing_ids")
    ]
    more = len(rows) > SHOWN or not found["complete"]
    return [(str(r["id"]), _named(r)) for r in rows[:SHOWN]], more


async def _people(
    request: Request[Any, Any, Any], staff: Staff, ids: list[str]
) -> list[tuple[str, str]]:
    """These participants by name, in the order given (one caseload read)."""
    if not ids:
        return []
    found = await read(request, staff, "/participants", id=ids[:100], limit=100)
    names = {str(r["id"]): _named(r) for r in found["items"]}
    return [(i, names[i]) for i in ids if i in names]


def _listed(found: list[tuple[str, str]], more: bool, find: str) -> str:
    """What the list of participants to choose from holds, in words."""
    if not found:
        return f"No active participant without a pairing{' matches that' if find else ''}."
    said = "Active participants with no open pairing"
    return f"{said}: the first {SHOWN}; find by name or number to narrow." if more else f"{said}."


async def _group_fields(
    request: Request[Any, Any, Any], staff: Staff, person: Any, values: dict[str, Any]
) -> list[Field]:
    mentors = await read_all(request, staff, "/mentors", status="certified")
    facilities = await read_all(request, staff, "/facilities")
    ticked = [m for m in values.get("members", []) if m != str(person["id"])]
    find = values.get("find", "")
    found, more = await _unpaired(request, staff, find, {str(person["id"]), *ticked})
    return [
        Field(
            "mentor_id",
            "Mentor",
            "select",
            [CHOOSE, *((str(m["id"]), str(m["display_name"])) for m in mentors["items"])],
            required=True,
            help="The grantee's certified mentors. Whether the mentor may mentor each member"
            " (the stage), and a clearance for the facility, are checked when you start the"
            " group.",
        ),
        Field(
            "members",
            "The other members",
            "checkboxes",
            [*await _people(request, staff, ticked), *found],
            help=f"{who(person)} is in the group; tick the others. {_listed(found, more, find)}",
            search=FIND,
        ),
        Field(
            "focus",
            "The group's shared focus",
            "select",
            [CHOOSE, *((f.value, words(f.value)) for f in Focus)],
            required=True,
        ),
        *match_fields(facilities["items"]),
    ]


async def _group_page(
    request: Request[Any, Any, Any], staff: Staff, person: Any, values: dict[str, Any], **more: Any
) -> Template:
    return render_form(
        request,
        staff,
        title="Start a group pairing",
        heading="Start a group pairing",
        intro=f"A mentor for a small group with {who(person)}, sharing one focus. Every field"
        " is needed.",
        action=f"{PATH}/participants/{person['id']}/group",
        back=f"{PATH}/participants/{person['id']}",
        fields=await _group_fields(request, staff, person, values),
        values=values,
        submit="Start the group",
        **more,
    )


@get(f"{PATH}/participants/{{participant_id:uuid}}/group")
async def group_form(request: Request[Any, Any, Any], participant_id: UUID) -> Template:
    """Start a group pairing with this participant and others."""
    staff = signed_in(request)
    _may(staff, "the form that starts a group pairing")
    person = await not_erased(request, staff, participant_id)
    return await _group_page(request, staff, person, {"idempotency_key": uuid.uuid4().hex})


@post(f"{PATH}/participants/{{participant_id:uuid}}/group")
async def start_group(request: Request[Any, Any, Any], participant_id: UUID) -> Response[Any]:
    """POST /pairings with `members` and `focus`; the "Find" button draws the form again
    with the participants found, keeping what was entered; on refusal, the form again with
    the rule's sentence by its field."""
    staff = signed_in(request)
    _may(staff, "the form that starts a group pairing")
    person = await read(request, staff, f"/participants/{participant_id}")
    values = await match_values(request, "focus", "find")
    form = await request.form()
    values["members"] = [str(m) for m in form.getall("members", [])]
    if form.get("search"):
        return await _group_page(request, staff, person, values)
    check = FormCheck()
    fields = await _group_fields(request, staff, person, values)
    named = {f.name: f.label for f in fields}
    check_match(check, values, named)
    if not values["focus"]:
        check.problem("focus", f"{named['focus']}: choose one of the options")
    try:
        if check.problems:
            raise Refusal(422, "invalid_form", check.text())
        others = [m for m in values["members"] if m != str(participant_id)]
        body = {
            "kind": "group",
            "members": [str(participant_id), *others],
            "focus": values["focus"],
            **await match_body(request, staff, values),
        }
        done, position = await command(request, staff, "/pairings", body, values["idempotency_key"])
    except Refusal as refused:
        return await _group_page(
            request,
            staff,
            person,
            values,
            error=refused.words(labels_by_path(fields, GROUP_PATHS)),
            errs=check.fields or beside(refused, fields, GROUP_PATHS, GROUP_RULES),
            status=refused.status,
        )
    mentor = await read(request, staff, f"/mentors/{done['mentor_id']}")
    tell(request, position, ended(f"Group started with {mentor['display_name']}"))
    return Redirect(f"{PATH}/participants/{participant_id}", status_code=303)


async def _add_page(
    request: Request[Any, Any, Any],
    staff: Staff,
    pairing: Any,
    back: str,
    values: dict[str, Any],
    **more: Any,
) -> Template:
    find = values.get("find", "")
    found, many = await _unpaired(request, staff, find, {str(m) for m in pairing["members"]})
    fields = [
        Field(
            "participant_id",
            "The new member",
            "select",
            [CHOOSE, *found],
            required=True,
            help=f"{_listed(found, many, find)} Whether the mentor may mentor them (the"
            " stage) and the group's size are checked when you add them.",
            search=FIND,
        )
    ]
    return render_form(
        request,
        staff,
        title="Add a member",
        heading="Add a member to the group",
        intro=f"The group pairing ({words(pairing['focus'])}) of {len(pairing['members'])}"
        " members. The new member joins it now.",
        action=f"{PATH}/pairings/{pairing['id']}/member?participant={back.rsplit('/', 1)[-1]}",
        back=back,
        fields=fields,
        values=values,
        submit="Add the member",
        **more,
    )


@get(f"{PATH}/pairings/{{pairing_id:uuid}}/member")
async def add_form(request: Request[Any, Any, Any], pairing_id: UUID) -> Template:
    """Add a participant to a group pairing."""
    staff = signed_in(request)
    _may(staff, "the form that adds a member to a group")
    pairing = await read(request, staff, f"/pairings/{pairing_id}")
    back = back_to(request, pairing)
    return await _add_page(request, staff, pairing, back, {"idempotency_key": uuid.uuid4().hex})


@post(f"{PATH}/pairings/{{pairing_id:uuid}}/member")
async def add_member(request: Request[Any, Any, Any], pairing_id: UUID) -> Response[Any]:
    """POST …/pairings/{id}/members; "Find" draws the form again with the participants found;
    on refusal, the form again with the rule's sentence by the field."""
    staff = signed_in(request)
    _may(staff, "the form that adds a member to a group")
    pairing = await read(request, staff, f"/pairings/{pairing_id}")
    back = back_to(request, pairing)
    form = await request.form()
    values = {n: str(form.get(n, "")).strip() for n in ("participant_id", "find")}
    values["idempotency_key"] = str(form.get("idempotency_key", "")) or uuid.uuid4().hex
    if form.get("search"):
        return await _add_page(request, staff, pairing, back, values)
    labels = {"participant_id": "The new member"}
    check = FormCheck()
    if not values["participant_id"]:
        check.problem("participant_id", "The new member: choose one of the options")
    try:
        if check.problems:
            raise Refusal(422, "invalid_form", check.text())
        body = {"participant_id": values["participant_id"]}
        _, position = await command(
            request, staff, f"/pairings/{pairing_id}/members", body, values["idempotency_key"]
        )
    except Refusal as refused:
        return await _add_page(
            request,
            staff,
            pairing,
            back,
            values,
            error=refused.words(labels),
            errs=check.fields or refused.fields(labels, ADD_RULES),
            status=refused.status,
        )
    tell(request, position, "Member added.")
    return Redirect(back, status_code=303)


async def _remove_page(
    request: Request[Any, Any, Any],
    staff: Staff,
    pairing: Any,
    back: str,
    values: dict[str, Any],
    **more: Any,
) -> Template:
    members = await _people(request, staff, [str(m) for m in pairing["members"]])
    return render_form(
        request,
        staff,
        title="Remove a member",
        heading="Remove a member from the group",
        intro=f"The group pairing ({words(pairing['focus'])}) of {len(pairing['members'])}"
        " members. The member leaves it now; the group stays open.",
        action=f"{PATH}/pairings/{pairing['id']}/member-removal"
        f"?participant={back.rsplit('/', 1)[-1]}",
        back=back,
        fields=_remove_fields(members),
        values=values,
        submit="Remove the member",
        **more,
    )


def _remove_fields(members: list[tuple[str, str]]) -> list[Field]:
    return [
        Field(
            "participant_id", "The member to remove", "select", [CHOOSE, *members], required=True
        ),
        Field("reason", "The reason", "textarea", maxlength=TEXT, required=True),
    ]


@get(f"{PATH}/pairings/{{pairing_id:uuid}}/member-removal")
async def remove_form(request: Request[Any, Any, Any], pairing_id: UUID) -> Template:
    """Remove a member from a group pairing, with the reason."""
    staff = signed_in(request)
    _may(staff, "the form that removes a member from a group")
    pairing = await read(request, staff, f"/pairings/{pairing_id}")
    back = back_to(request, pairing)
    return await _remove_page(request, staff, pairing, back, {"idempotency_key": uuid.uuid4().hex})


@post(f"{PATH}/pairings/{{pairing_id:uuid}}/member-removal")
async def remove_member(request: Request[Any, Any, Any], pairing_id: UUID) -> Response[Any]:
    """POST …/pairings/{id}/member-removals; on refusal, the form again with the rule's
    sentence by its field."""
    staff = signed_in(request)
    _may(staff, "the form that removes a member from a group")
    pairing = await read(request, staff, f"/pairings/{pairing_id}")
    back = back_to(request, pairing)
    form = await request.form()
    values = {n: str(form.get(n, "")).strip() for n in ("participant_id", "reason")}
    values["idempotency_key"] = str(form.get("idempotency_key", "")) or uuid.uuid4().hex
    labels = {"participant_id": "The member to remove", "reason": "The reason"}
    check = FormCheck()
    if not values["participant_id"]:
        check.problem("participant_id", "The member to remove: choose one of the options")
    if not values["reason"]:
        check.problem("reason", "The reason: fill this in")
    try:
        if check.problems:
            raise Refusal(422, "invalid_form", check.text())
        body = {"participant_id": values["participant_id"], "reason": values["reason"]}
        _, position = await command(
            request,
            staff,
            f"/pairings/{pairing_id}/member-removals",
            body,
            values["idempotency_key"],
        )
    except Refusal as refused:
        return await _remove_page(
            request,
            staff,
            pairing,
            back,
            values,
            error=refused.words(labels),
            errs=check.fields or refused.fields(labels, REMOVE_RULES),
            status=refused.status,
        )
    tell(request, position, "Member removed.")
    return Redirect(back, status_code=303)


ROUTES = [group_form, start_group, add_form, add_member, remove_form, remove_member]
