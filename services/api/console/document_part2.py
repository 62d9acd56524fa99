"""A document's 42 CFR Part 2 tag changed from the console (decision 140): a page per
document, linked from its row on the participant's page, saying what the tag is now and who
last changed it, when and why (what the documents view keeps), with a form that sends `POST
…/documents/{id}/part2` (`documents.write`) with the form's own idempotency key. The box says
whether the document holds Part 2 information, ticked as it is now; the reason is required.
A refusal is its sentence beside its field; a removed or erased document's page has no form.
The API still decides."""

from __future__ import annotations

import uuid
from typing import Any
from uuid import UUID

from litestar import Request, Response, get, post
from litestar.response import Template

from services.api.console.actions import TEXT, Field, labels_of, read_form, render_form
from services.api.console.backend import Refusal, read, read_all
from services.api.console.checks import FormCheck
from services.api.console.pages import log_position
from services.api.console.roles import may
from services.api.console.session import PATH, Staff, signed_in
from services.api.console.submit import Refused, done, submit

WRITE = "documents.write"
DOING = "change a document's 42 CFR Part 2 tag"
FIELDS = [
    Field(
        "part2",
        "It holds 42 CFR Part 2 information (substance use disorder treatment)",
        "checkbox",
        help="Ticked as the document is tagged now. Tick it to tag the document (each download"
        " then carries the federal notice against redisclosure), untick it to remove the tag.",
    ),
    Field(
        "reason",
        "Why the tag changes",
        "textarea",
        maxlength=TEXT,
        required=True,
        help="Such as “The letter reports RDAP treatment.” Kept with the change; staff and"
        " auditors read it.",
    ),
]
# Which field each of the reclassification's documented rule refusals is about;
# `already_removed` and `already_erased` are said above the form (the document, not a field).
RULES = {"part2_unchanged": "part2", "reason_required": "reason"}


def unchanged_words(part2: bool) -> str:
    """`part2_unchanged` said as what to do about it."""
    if part2:
        return (
            "The document is tagged as holding 42 CFR Part 2 information already:"
            " untick the box to remove the tag"
        )
    return "The document is not tagged as holding 42 CFR Part 2 information: tick the box to tag it"


async def _document(
    request: Request[Any, Any, Any], staff: Staff, participant_id: UUID, document_id: UUID
) -> dict[str, Any]:
    """The document's row of the documents view (the API lists, it has no read of one),
    once the view holds the staff member's own last command."""
    found = await read_all(
        request,
        staff,
        f"/participants/{participant_id}/documents",
        limit=500,
        min_position=log_position(request),
    )
    for doc in found.get("items", []):
        if doc["id"] == str(document_id):
            return dict(doc)
    raise Refusal(404, "not_found", "no such document of this participant")


async def _page(
    request: Request[Any, Any, Any],
    staff: Staff,
    participant_id: UUID,
    document_id: UUID,
    values: dict[str, Any] | None = None,
    **shown: Any,
) -> Template:
    person = await read(request, staff, f"/participants/{participant_id}")
    doc = await _document(request, staff, participant_id, document_id)
    if values is None:
        values = {"part2": doc["part2"], "idempotency_key": uuid.uuid4().hex}
    closed = "removed" if doc.get("removed_at") else "erased" if doc.get("erased") else ""
    return render_form(
        request,
        staff,
        title="A document's 42 CFR Part 2 tag",
        heading="A document's 42 CFR Part 2 tag",
        intro=f"A document of {person['first_name']} {person['last_name']} ({person['number']}).",
        action=f"{PATH}/participants/{participant_id}/documents/{document_id}/part2",
        back=f"{PATH}/participants/{participant_id}#h-documents",
        fields=FIELDS,
        values=values,
        submit="Change the tag",
        template_name="document_part2.html",
        doc=doc,
        closed=closed,
        **shown,
    )


@get(f"{PATH}/participants/{{participant_id:uuid}}/documents/{{document_id:uuid}}/part2")
async def part2_form(
    request: Request[Any, Any, Any], participant_id: UUID, document_id: UUID
) -> Template:
    """The document's tag now, its last change, and the form changing it."""
    staff = signed_in(request)
    may(staff, WRITE, DOING)
    return await _page(request, staff, participant_id, document_id)


@post(f"{PATH}/participants/{{participant_id:uuid}}/documents/{{document_id:uuid}}/part2")
async def reclassify(
    request: Request[Any, Any, Any], participant_id: UUID, document_id: UUID
) -> Response[Any]:
    """POST …/documents/{id}/part2; on refusal, the page again with the sentence beside its
    field and what was entered."""
    staff = signed_in(request)
    may(staff, WRITE, DOING)
    values: dict[str, Any] = dict(await read_form(request, FIELDS))
    # The checkbox sends "1" when ticked and nothing when not: anything else is no tick.
    values["part2"] = values["part2"] == "1"
    labels = labels_of(FIELDS)
    check = FormCheck()
    if not values["reason"]:
        check.problem("reason", f"{labels['reason']}: fill this in")
    sent = await submit(
        request,
        staff,
        check,
        f"/participants/{participant_id}/documents/{document_id}/part2",
        {"part2": values["part2"], "reason": values["reason"]},
        values["idempotency_key"],
        labels,
        RULES,
    )
    if isinstance(sent, Refused):
        shown = dict(sent.shown)
        if sent.refusal.code == "part2_unchanged":
            said = unchanged_words(values["part2"]) + "."
            shown |= {"error": said, "errs": {**shown["errs"], "part2": said}}
        return await _page(request, staff, participant_id, document_id, values, **shown)
    title = sent.answer["title"]
    notice = (
        f"“{title}” is tagged as holding 42 CFR Part 2 information."
        if sent.answer["part2"]
        else f"“{title}” is no longer tagged as holding 42 CFR Part 2 information."
    )
    return done(request, sent, notice, f"{PATH}/participants/{participant_id}#h-documents")


ROUTES = [part2_form, reclassify]
