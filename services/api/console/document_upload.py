"""Upload a participant's document from the console: a `multipart/form-data` form (the file, a
title, its kind, whether it holds 42 CFR Part 2 information) forwarded, file and all, to the
API's upload (`POST …/participants/{id}/documents`) in process, with the form's own idempotency
key. The API checks the type, the size and that the bytes are what the type says; its refusal
comes back in words beside the file field. The route takes bodies as large as the API's upload
does (the document limit and the form around it); a larger one is the console's own 413 page
(console/__init__.py)."""

from __future__ import annotations

import uuid
from typing import Any
from uuid import UUID

from litestar import Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.response import Template

from domain.documents import ALLOWED_TYPES, DOCX, DocumentKind
from services.api.console.actions import CHOOSE, Field, labels_of, render_form
from services.api.console.backend import read
from services.api.console.checks import FormCheck, as_sentence
from services.api.console.erased import not_erased
from services.api.console.format import size, words
from services.api.console.roles import may
from services.api.console.session import PATH, Staff, signed_in
from services.api.console.submit import Refused, done, submit
from services.api.documents import FORM_OVERHEAD
from services.settings import Settings

WRITE = "documents.write"
DOING = "upload a participant's document"
# The allowed types as a person names them, and the files a picker offers for them.
TYPE_WORDS = {
    "application/pdf": "a PDF",
    "image/png": "a PNG image",
    "image/jpeg": "a JPEG image",
    "text/plain": "a plain text file",
    DOCX: "a Word document (.docx)",
}
ACCEPT = ".pdf,.png,.jpg,.jpeg,.txt,.docx," + ",".join(ALLOWED_TYPES)
# Which field each of the upload's documented rule refusals is about.
RULES = {
    "document_too_large": "file",
    "document_type_not_allowed": "file",
    "document_content_mismatch": "file",
    "document_empty": "file",
    "title_required": "title",
    "title_too_long": "title",
}


def allowed_types() -> str:
    said = [TYPE_WORDS.get(t, t) for t in ALLOWED_TYPES]
    return ", ".join(said[:-1]) + " or " + said[-1]


def fields(settings: Settings) -> list[Field]:
    limit = size(settings.document_max_bytes)
    return [
        Field(
            "file",
            "The file",
            "file",
            required=True,
            help=f"{allowed_types()[0].upper()}{allowed_types()[1:]}, at most {limit}.",
            accept=ACCEPT,
        ),
        Field(
            "title",
            "Title",
            required=True,
            help="What it is, such as “Release papers, FCI Elkton”.",
        ),
        Field(
            "kind",
            "Kind",
            "select",
            [CHOOSE, *((k.value, words(k.value).capitalize()) for k in DocumentKind)],
            required=True,
        ),
        Field(
            "part2",
            "It holds 42 CFR Part 2 information (substance use disorder treatment)",
            "checkbox",
            help="Tick it for an RDAP or RRC treatment letter and the like: such a document is"
            " marked, and each download carries the federal notice against redisclosure.",
        ),
    ]


def file_words(code: str, declared: str, settings: Settings) -> str:
    """The API's refusal of the file in words a person reads (the API's own detail names media
    types and bytes)."""
    kind = TYPE_WORDS.get(declared, declared or "of no known type")
    said = {
        "document_too_large": f"the file is larger than {size(settings.document_max_bytes)},"
        " the most a document may be",
        "document_type_not_allowed": f"this file is {kind}: a document may be {allowed_types()}",
        "document_content_mismatch": f"this file is named as {kind}, but its contents are not:"
        " choose the document itself",
        "document_empty": "the file is empty: choose the document itself",
    }
    return as_sentence(said.get(code, ""))


async def _page(
    request: Request[Any, Any, Any],
    staff: Staff,
    participant_id: UUID,
    values: dict[str, Any],
    **shown: Any,
) -> Template:
    person = await read(request, staff, f"/participants/{participant_id}")
    return render_form(
        request,
        staff,
        title="Upload a document",
        heading="Upload a document",
        intro=f"For {person['first_name']} {person['last_name']} ({person['number']}). Staff and"
        " auditors may read it; peer mentors, RRC staff and oversight may not.",
        action=f"{PATH}/participants/{participant_id}/document",
        back=f"{PATH}/participants/{participant_id}#h-documents",
        fields=fields(request.app.state.settings),
        values=values,
        submit="Upload",
        multipart=True,
        **shown,
    )


@get(f"{PATH}/participants/{{participant_id:uuid}}/document")
async def upload_form(request: Request[Any, Any, Any], participant_id: UUID) -> Template:
    """The upload form: nothing chosen, nothing filled in."""
    staff = signed_in(request)
    may(staff, WRITE, DOING)
    await not_erased(request, staff, participant_id)
    return await _page(request, staff, participant_id, {"idempotency_key": uuid.uuid4().hex})


async def upload(request: Request[Any, Any, Any], participant_id: UUID) -> Response[Any]:
    """Forward the file, its title and kind to the API; on refusal, the form again with the
    rule's words beside the field (the file is not kept: it is chosen again)."""
    staff = signed_in(request)
    may(staff, WRITE, DOING)
    settings: Settings = request.app.state.settings
    form = await request.form()
    values = {name: str(form.get(name, "")).strip() for name in ("title", "kind")}
    part2 = bool(form.get("part2"))
    values["idempotency_key"] = str(form.get("idempotency_key", "")) or uuid.uuid4().hex
    chosen = form.get("file")
    labels = labels_of(fields(settings))
    check = FormCheck()
    files: dict[str, tuple[str, bytes, str]] = {}
    declared = ""
    if isinstance(chosen, UploadFile):
        declared = chosen.content_type or ""
        files["file"] = (chosen.filename, await chosen.read(), declared)
    else:
        check.problem("file", f"{labels['file']}: choose a file")
    if not values["kind"]:
        check.problem("kind", f"{labels['kind']}: choose one of the options")
    sent = await submit(
        request,
        staff,
        check,
        f"/participants/{participant_id}/documents",
        {"title": values["title"], "kind": values["kind"], "part2": "true" if part2 else "false"},
        values["idempotency_key"],
        labels,
        RULES,
        files=files or None,
    )
    if isinstance(sent, Refused):
        shown = dict(sent.shown)
        said = file_words(sent.refusal.code, declared, settings)
        if said:
            shown |= {"error": said, "errs": {**shown["errs"], "file": said}}
        return await _page(request, staff, participant_id, {**values, "part2": part2}, **shown)
    back = f"{PATH}/participants/{participant_id}#h-documents"
    tagged = " (42 CFR Part 2)" if sent.answer["part2"] else ""
    return done(request, sent, f"Document uploaded: {sent.answer['title']}{tagged}.", back)


def routes(settings: Settings) -> list[Any]:
    """The form and its POST, which takes bodies up to the API's own upload limit (the
    document limit and the form around it); `upload` marks it for the 413 page's words."""
    limit = settings.document_max_bytes + FORM_OVERHEAD
    return [
        upload_form,
        post(
            f"{PATH}/participants/{{participant_id:uuid}}/document",
            request_max_body_size=limit,
            opt={"upload": True},
        )(upload),
    ]
