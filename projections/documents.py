"""Documents of each participant (metadata only: the bytes are in the document store); title,
file name, digest and the removal and reclassification reasons erased with the participant.
`part2`: the document holds 42 CFR Part 2 information (decision 131)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import msgspec
from psycopg import sql

from domain.documents import Document, DocumentKind
from domain.participants import Participant
from projections.base import Projection, Tables, handles
from projections.erasure import ERASED
from projections.ops import Erase, Writer
from projections.query import Column, Reader, Sort, page
from projections.rows import select, typed


class Documents(Projection):
    name = "documents"
    tables = {
        "documents": (
            "document_id uuid PRIMARY KEY, participant_id uuid NOT NULL, kind text NOT NULL,"
            " title text NOT NULL, filename text NOT NULL, content_type text NOT NULL,"
            " size bigint NOT NULL, sha256 text NOT NULL, attached_by text NOT NULL,"
            " attached_at timestamptz NOT NULL, removed_at timestamptz, removed_by text,"
            " removal_reason text, erased boolean NOT NULL DEFAULT false,"
            " part2 boolean NOT NULL DEFAULT false, part2_changed_by text,"
            " part2_changed_at timestamptz, part2_reason text"
        )
    }
    order = {"documents": "document_id"}

    @handles(Document.Attached)
    def attached(self, w: Writer, e: Document.Attached, position: int) -> None:
        w.insert(
            "documents",
            {
                "document_id": e.originator_id,
                "participant_id": e.participant_id,
                "kind": e.kind.value,
                "title": e.title,
                "filename": e.filename,
                "content_type": e.content_type,
                "size": e.size,
                "sha256": e.sha256,
                "attached_by": e.recorded_by,
                "attached_at": e.timestamp,
                "erased": False,
                "part2": e.part2,
            },
        )

    @handles(Document.Reclassified)
    def reclassified(self, w: Writer, e: Document.Reclassified, position: int) -> None:
        w.update(
            "documents",
            {
                "part2": e.part2,
                "part2_changed_by": e.recorded_by,
                "part2_changed_at": e.timestamp,
                "part2_reason": e.reason,
            },
            document_id=e.originator_id,
        )

    @handles(Document.Removed)
    def removed(self, w: Writer, e: Document.Removed, position: int) -> None:
        w.update(
            "documents",
            {"removed_at": e.timestamp, "removed_by": e.recorded_by, "removal_reason": e.reason},
            document_id=e.originator_id,
        )

    @handles(Participant.Erased)
    def erased(self, w: Writer, e: Participant.Erased, position: int) -> None:
        w.update(
            "documents",
            {
                "title": Erase(ERASED),
                "filename": Erase(ERASED),
                "sha256": Erase(ERASED),
                "removal_reason": Erase(ERASED),
                "part2_reason": Erase(ERASED),
                "erased": True,
            },
            participant_id=e.originator_id,
        )


class DocumentRow(msgspec.Struct):
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
    removed_at: datetime | None
    removed_by: str | None
    removal_reason: str | None
    # The participant was erased: the content can no longer be read.
    erased: bool
    # It holds 42 CFR Part 2 information; who last changed that, when and why (decision 131).
    part2: bool
    part2_changed_by: str | None
    part2_changed_at: datetime | None
    part2_reason: str | None


DOCUMENT = select(DocumentRow, id="document_id")

DOCUMENT_SORT = {
    "attached_at": Column("attached_at", "timestamptz"),
    "kind": Column("kind", "text"),
    "title": Column("title", "text"),
    "size": Column("size", "bigint"),
    "content_type": Column("content_type", "text"),
}


def document_page(
    db: Reader,
    t: Tables,
    participant_id: UUID,
    *,
    after: str,
    limit: int,
    kind: DocumentKind | None = None,
    removed: bool | None = None,
    part2: bool | None = None,
    sort: Sort | None = None,
) -> tuple[list[DocumentRow], str | None]:
    """The participant's documents in id order (or by `sort`) after `after`, of one `kind`,
    removed or not, Part 2 or not."""
    where: list[tuple[str, Any]] = [("participant_id", participant_id)]
    if kind is not None:
        where.append(("kind", kind.value))
    if part2 is not None:
        where.append(("part2", part2))
    extra: sql.Composable = sql.SQL("TRUE")
    if removed is not None:
        extra = sql.SQL("removed_at IS NOT NULL" if removed else "removed_at IS NULL")
    rows, nxt = page(
        db,
        t,
        "documents",
        DOCUMENT.sql,
        "document_id",
        after=after,
        limit=limit,
        where=where,
        cast_key="uuid",
        extra=extra,
        sort=sort,
    )
    return typed(DocumentRow, DOCUMENT, rows), nxt
