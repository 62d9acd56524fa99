"""`/v1/grantees/{grantee}/participants/{id}/documents`: documents attached to a participant
(release papers, a certificate). Staff upload and remove them; staff and auditors list and
download them (never peer mentors, RRC staff or oversight, like case notes). The content is
encrypted with the participant's key and kept outside the log; erasure shreds it.

Uploads are `multipart/form-data` (`file`, `title`, `kind`, `part2`): up to `PROWD_DOCUMENT_MAX_BYTES`
(10 MiB by default; larger: 413 `document_too_large`), of an allowed type (else 415
`document_type_not_allowed`) whose bytes match it (else 422 `document_content_mismatch`).
`part2` tags a document holding 42 CFR Part 2 information; staff change the tag with a reason
later, and a download of a tagged document carries the §2.32 notice (decision 131).
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import quote
from uuid import UUID

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.di import Provide
from litestar.enums import RequestEncodingType
from litestar.openapi.spec import Example
from litestar.params import Body, Parameter

from domain.documents import (
    ALLOWED_TYPES,
    MAX_FILENAME,
    MAX_REASON,
    MAX_TITLE,
    Document,
    DocumentKind,
)
from domain.documents import media_type as media_type_of
from projections.documents import DOCUMENT_SORT, DocumentRow, document_page
from projections.query import sort_of, sort_pattern
from services.api import views
from services.api.context import Tenant, action, provide_tenant, tenant_command
from services.api.docs import body, problems
from services.api.params import (
    FIRST_UUID,
    LIMIT_DEFAULT,
    Limit,
    MinPosition,
    SortCursor,
    sort_description,
)
from services.api.problems import ProblemError
from services.api.text import FreeText, Name
from services.audit.disclosure import PART2_NOTICE
from services.refusals import shown
from services.settings import Settings

# Room for the form's boundaries, headers and fields around the file.
FORM_OVERHEAD = 64 * 1024
# The response header that carries the §2.32 notice with a Part 2 document's content.
PART2_HEADER = "Part2-Notice"


class DocumentUpload(msgspec.Struct, forbid_unknown_fields=True):
    # The document (its part's Content-Type must be one of the allowed types).
    file: UploadFile
    # What the document is, e.g. "Release papers, FCI Elkton".
    title: Annotated[Name, msgspec.Meta(min_length=1, max_length=MAX_TITLE)]
    kind: DocumentKind
    # It holds 42 CFR Part 2 information (substance use disorder treatment records).
    part2: bool = False


class DocumentOut(msgspec.Struct):
    id: UUID
    participant_id: UUID
    kind: DocumentKind
    title: str
    filename: str
    content_type: str
    size: int
    sha256: str
    attached_by: str
    attached_at: datetime
    part2: bool
    removed_at: datetime | None = None
    removal_reason: str | None = None
    part2_changed_by: str | None = None
    part2_changed_at: datetime | None = None
    part2_reason: str | None = None
    position: int | None = None


class DocumentPage(msgspec.Struct):
    items: list[DocumentRow]
    next_cursor: str | None


class RemovalIn(msgspec.Struct, forbid_unknown_fields=True):
    reason: Annotated[FreeText, msgspec.Meta(min_length=1, max_length=MAX_REASON)]


class ReclassificationIn(msgspec.Struct, forbid_unknown_fields=True):
    # The document holds 42 CFR Part 2 information (true) or does not (false).
    part2: bool
    reason: Annotated[FreeText, msgspec.Meta(min_length=1, max_length=MAX_REASON)]


DocumentSort = Annotated[
    str | None,
    Parameter(
        max_length=40,
        description=sort_description(DOCUMENT_SORT),
        schema_extra={"pattern": sort_pattern(DOCUMENT_SORT)},
    ),
]


def render(doc: Document, position: int) -> DocumentOut:
    return DocumentOut(
        doc.id,
        doc.participant_id,
        doc.kind,
        doc.title,
        doc.filename,
        doc.content_type,
        doc.size,
        doc.sha256,
        doc.attached_by,
        doc.attached_at,
        doc.part2,
        doc.removed_at,
        doc.removal_reason,
        doc.part2_changed_by,
        doc.part2_changed_at,
        doc.part2_reason,
        position or None,
    )


def clean_filename(name: str) -> str:
    """The file name without a client's folders or control characters."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    return "".join(c for c in base if c.isprintable())[-MAX_FILENAME:]


def disposition(filename: str) -> str:
    """`attachment` with the file name: an ASCII fallback and the UTF-8 name (RFC 6266)."""
    fallback = "".join(
        c if c.isascii() and c.isprintable() and c not in '"\\' else "_" for c in filename
    )
    return f"attachment; filename=\"{fallback or 'document'}\"; filename*=UTF-8''{quote(filename)}"


class DocumentController(Controller):
    path = "/v1/grantees/{grantee:str}/participants/{participant_id:uuid}/documents"
    tags = ["participants"]
    dependencies = {"tenant": Provide(provide_tenant, sync_to_thread=False)}

    @post(
        "/",
        opt={**action("documents.write"), "too_large": "document_too_large"},
        sync_to_thread=True,
        status_code=201,
        responses=problems(
            (404, "not_found", "no such participant in this grantee"),
            (413, "document_too_large", "the document is larger than 10485760 bytes"),
            (415, "document_type_not_allowed", "documents may be application/pdf, image/png, ..."),
            (422, "document_content_mismatch", "the bytes are not a application/pdf document"),
            (422, "document_empty", "the document is empty"),
            (422, "title_required", "a document has a title"),
            (422, "already_erased", "the participant's personal data was erased"),
        ),
    )
    def upload(
        self,
        request: Request[Any, Any, Any],
        tenant: Tenant,
        participant_id: UUID,
        data: Annotated[
            DocumentUpload,
            Body(
                media_type=RequestEncodingType.MULTI_PART,
                examples=[
                    Example(
                        summary="release papers (a PDF)",
                        value={
                            "file": "%PDF-1.7 ...",
                            "title": "Release papers, FCI Elkton",
                            "kind": "release_papers",
                            "part2": False,
                        },
                    )
                ],
            ),
        ],
    ) -> Response[DocumentOut]:
        """Attach a document to the participant (`multipart/form-data`: `file`, `title`,
        `kind`, and `part2`, true when it holds 42 CFR Part 2 information). Allowed: PDF,
        PNG, JPEG, plain text (UTF-8) and Word (.docx), checked by the bytes' signature; at
        most `PROWD_DOCUMENT_MAX_BYTES`. The content is encrypted with the participant's key;
        the log records its metadata and digest, never the bytes."""
        settings: Settings = request.app.state.settings
        declared = media_type_of(data.file.content_type or "")
        if declared not in ALLOWED_TYPES:
            raise ProblemError(
                415,
                "document_type_not_allowed",
                f"documents may be {', '.join(ALLOWED_TYPES)}, not {shown(declared) if declared else 'untyped'}",
            )
        content = data.file.file.read(settings.document_max_bytes + 1)
        if len(content) > settings.document_max_bytes:
            raise ProblemError(413, "document_too_large", too_large(settings))
        if len(data.title) > MAX_TITLE:
            raise ProblemError(
                422, "title_too_long", f"a title holds at most {MAX_TITLE} characters"
            )
        filename = clean_filename(data.file.filename or "")
        # What the idempotency fingerprint covers: the metadata and the content's digest.
        summary = {
            "title": data.title,
            "kind": data.kind.value,
            "filename": filename,
            "content_type": declared,
            "sha256": hashlib.sha256(content).hexdigest(),
            "part2": data.part2,
        }
        return tenant_command(
            request,
            tenant,
            summary,
            lambda cmd: tenant.app.documents.attach_document(
                cmd,
                participant_id,
                kind=data.kind,
                title=data.title,
                filename=filename,
                content_type=declared,
                data=content,
                part2=data.part2,
            ),
            render,
            status=201,
        )

    @get("/", opt=action("documents.read"), sync_to_thread=True, responses=problems())
    def list_documents(
        self,
        request: Request[Any, Any, Any],
        tenant: Tenant,
        participant_id: UUID,
        limit: Limit = LIMIT_DEFAULT,
        cursor: SortCursor = "",
        kind: DocumentKind | None = None,
        removed: bool | None = None,
        part2: bool | None = None,
        sort: DocumentSort = None,
        min_position: MinPosition = None,
    ) -> DocumentPage:
        """The participant's documents (metadata) in id order or by `sort`, of one `kind`,
        `removed` or not, holding 42 CFR Part 2 information (`part2`) or not (staff and
        auditors only)."""
        tenant.app.participants.participant(participant_id)
        db, schema = tenant.tenancy.db, tenant.info.schema
        wait = request.app.state.settings.view_wait_max
        t = views.tables(db, schema, "documents", min_position, wait)
        order = sort_of(sort, DOCUMENT_SORT)
        items, nxt = document_page(
            db,
            t,
            participant_id,
            after=cursor if order else (cursor or FIRST_UUID),
            limit=limit,
            kind=kind,
            removed=removed,
            part2=part2,
            sort=order,
        )
        return DocumentPage(items, nxt)

    @get(
        "/{document_id:uuid}/content",
        opt=action("documents.download"),
        sync_to_thread=True,
        media_type="application/octet-stream",
        responses=problems(
            (404, "not_found", "no such document of this participant"),
            (410, "document_removed", "the document was removed"),
            (410, "document_erased", "the participant's personal data was erased"),
        ),
    )
    def download(self, tenant: Tenant, participant_id: UUID, document_id: UUID) -> Response[bytes]:
        """The document's content, with the content type it was stored with, as an attachment
        (never cached). Each download is a row in the access log. A document holding 42 CFR
        Part 2 information comes with the §2.32 notice in the `Part2-Notice` header."""
        doc, content = tenant.app.documents.content(participant_id, document_id)
        headers = {
            "Content-Disposition": disposition(doc.filename or f"{doc.id}"),
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        }
        if doc.part2:
            headers[PART2_HEADER] = PART2_NOTICE
        return Response(content, media_type=doc.content_type, headers=headers)

    @post(
        "/{document_id:uuid}/part2",
        opt=action("documents.write"),
        sync_to_thread=True,
        status_code=201,
        responses=problems(
            (404, "not_found", "no such document of this participant"),
            (422, "part2_unchanged", "the document is already tagged as holding 42 CFR Part 2"),
            (422, "reason_required", "a reclassification states its reason"),
            (422, "already_removed", "the document was removed"),
            (422, "already_erased", "the participant's personal data was erased"),
        ),
    )
    def reclassify(
        self,
        request: Request[Any, Any, Any],
        tenant: Tenant,
        participant_id: UUID,
        document_id: UUID,
        data: Annotated[
            ReclassificationIn,
            body(
                "a treatment letter",
                {"part2": True, "reason": "The letter reports RDAP treatment."},
            ),
        ],
    ) -> Response[DocumentOut]:
        """Say the document holds 42 CFR Part 2 information (`part2: true`) or does not, with
        a reason (personal): `Document.Reclassified`, with who and when."""
        return tenant_command(
            request,
            tenant,
            data,
            lambda cmd: tenant.app.documents.reclassify_document(
                cmd, participant_id, document_id, part2=data.part2, reason=data.reason
            ),
            render,
            status=201,
        )

    @post(
        "/{document_id:uuid}/removal",
        opt=action("documents.write"),
        sync_to_thread=True,
        status_code=201,
        responses=problems(
            (404, "not_found", "no such document of this participant"),
            (422, "already_removed", "the document was removed before"),
            (422, "reason_required", "a removal states its reason"),
        ),
    )
    def remove(
        self,
        request: Request[Any, Any, Any],
        tenant: Tenant,
        participant_id: UUID,
        document_id: UUID,
        data: Annotated[
            RemovalIn, body("a wrong file", {"reason": "Uploaded to the wrong person."})
        ],
    ) -> Response[DocumentOut]:
        """Remove the document, with a reason: the removal is an event; the stored content is
        deleted."""
        return tenant_command(
            request,
            tenant,
            data,
            lambda cmd: tenant.app.documents.remove_document(
                cmd, participant_id, document_id, reason=data.reason
            ),
            render,
            status=201,
        )


def too_large(settings: Settings) -> str:
    return f"the document is larger than {settings.document_max_bytes} bytes (PROWD_DOCUMENT_MAX_BYTES)"


def routes(settings: Settings) -> list[Any]:
    """The controller, taking bodies up to the document limit (and the form around it)."""
    limit = settings.document_max_bytes + FORM_OVERHEAD
    return [type("DocumentController", (DocumentController,), {"request_max_body_size": limit})]
