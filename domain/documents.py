"""Documents attached to a participant: release papers, a certificate, an identity document.

The bytes never enter the log: they are encrypted with the participant's key and kept by a
document store (services/store/documents.py); the `Attached` event records what was stored
(kind, content type, size, digests) and where (`storage_ref`). Title, file name and the digest
of the content are personal (encrypted in the event, shredded by erasure). Documents are staff
records, like case notes: never peer mentors, RRC systems or oversight figures.

A document may hold 42 CFR Part 2 information (an RDAP or RRC treatment letter): `part2`, said
when it is attached and changed later by staff with a reason (`Reclassified`, decision 131).

What a document may be is decided here: one of the allowed content types, and bytes that are
what the type says (their signature, not the client's `Content-Type`).
"""

from __future__ import annotations

import io
import zipfile
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, ClassVar
from uuid import UUID

from domain.common import ProwdAggregate, RuleViolation, utcnow

MAX_TITLE = 200
MAX_FILENAME = 255
MAX_REASON = 2000

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


class DocumentKind(StrEnum):
    RELEASE_PAPERS = "release_papers"
    CERTIFICATE = "certificate"
    IDENTIFICATION = "identification"
    LETTER = "letter"
    OTHER = "other"


def _docx(data: bytes) -> bool:
    """A Word document: a ZIP whose parts include the main document part."""
    if not data.startswith(b"PK\x03\x04"):
        return False
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            names = set(z.namelist())
    except (zipfile.BadZipFile, ValueError, OSError):
        return False
    return "[Content_Types].xml" in names and "word/document.xml" in names


def _text(data: bytes) -> bool:
    """Plain text: UTF-8 without NUL bytes (binary files nearly always hold one)."""
    if b"\x00" in data:
        return False
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


# The allowed content types, each with the test its bytes must pass.
SIGNATURES: dict[str, Any] = {
    "application/pdf": lambda d: d.startswith(b"%PDF-"),
    "image/png": lambda d: d.startswith(b"\x89PNG\r\n\x1a\n"),
    "image/jpeg": lambda d: d.startswith(b"\xff\xd8\xff"),
    "text/plain": _text,
    DOCX: _docx,
}
ALLOWED_TYPES = tuple(SIGNATURES)


def media_type(content_type: str) -> str:
    """The media type of a `Content-Type` value, parameters (charset) aside, lower case."""
    return content_type.split(";", 1)[0].strip().lower()


def check_content(content_type: str, data: bytes) -> None:
    """The bytes are a non-empty document of the declared (allowed) type."""
    if not data:
        raise RuleViolation("the document is empty", code="document_empty")
    test = SIGNATURES.get(content_type)
    if test is None:
        raise RuleViolation(
            f"documents may be {', '.join(ALLOWED_TYPES)}", code="document_type_not_allowed"
        )
    if not test(data):
        raise RuleViolation(
            f"the file's first bytes do not match its type, {content_type}",
            code="document_content_mismatch",
        )


def check_title(title: str) -> None:
    if not title.strip():
        raise RuleViolation("a document has a title", code="title_required")
    if len(title) > MAX_TITLE:
        raise RuleViolation(f"a title holds at most {MAX_TITLE} characters", code="title_too_long")


_ATTACHED_FIELDS = (
    "participant_id",
    "kind",
    "title",
    "filename",
    "content_type",
    "size",
    "sha256",
    "stored_sha256",
    "storage_ref",
)


class Document(ProwdAggregate):
    if TYPE_CHECKING:
        participant_id: UUID
        kind: DocumentKind
        title: str
        filename: str
        content_type: str
        size: int
        sha256: str
        stored_sha256: str
        storage_ref: str
        part2: bool
        part2_changed_by: str | None
        part2_changed_at: datetime | None
        part2_reason: str | None
        attached_by: str
        attached_at: datetime
        removed_at: datetime | None
        removed_by: str | None
        removal_reason: str | None

    class Attached(ProwdAggregate.Created):
        """A document was stored for the participant. `sha256` is the digest of the content
        (personal), `stored_sha256` that of the encrypted bytes the store holds."""

        participant_id: UUID
        kind: DocumentKind
        title: str
        filename: str
        content_type: str
        size: int
        sha256: str
        stored_sha256: str
        storage_ref: str
        # It holds 42 CFR Part 2 information; absent from events stored before decision 131.
        part2: bool = False
        stored_defaults: ClassVar[dict[str, Any]] = {
            **ProwdAggregate.Created.stored_defaults,
            "part2": False,
        }

        def apply(self, doc: Any) -> None:
            for name in _ATTACHED_FIELDS:
                setattr(doc, name, getattr(self, name))
            doc.part2 = self.part2
            doc.part2_changed_by = None
            doc.part2_changed_at = None
            doc.part2_reason = None
            doc.attached_by = self.recorded_by
            doc.attached_at = self.timestamp
            doc.removed_at = None
            doc.removed_by = None
            doc.removal_reason = None

    class Removed(ProwdAggregate.Event):
        """The document was removed (its stored bytes are deleted); the reason is personal."""

        reason: str

        def apply(self, doc: Any) -> None:
            doc.removed_at = self.timestamp
            doc.removed_by = self.recorded_by
            doc.removal_reason = self.reason

    class Reclassified(ProwdAggregate.Event):
        """Staff said the document does (`part2`) or does not hold 42 CFR Part 2 information;
        the reason is personal."""

        part2: bool
        reason: str

        def apply(self, doc: Any) -> None:
            doc.part2 = self.part2
            doc.part2_changed_by = self.recorded_by
            doc.part2_changed_at = self.timestamp
            doc.part2_reason = self.reason

    @classmethod
    def attach(
        cls,
        document_id: UUID,
        participant_id: UUID,
        *,
        kind: DocumentKind,
        title: str,
        filename: str,
        content_type: str,
        size: int,
        sha256: str,
        stored_sha256: str,
        storage_ref: str,
        part2: bool = False,
    ) -> Document:
        """Record a stored document of the participant (the content was checked by
        `check_content` before it was encrypted and stored)."""
        check_title(title)
        doc: Document = cls._create(
            cls.Attached,
            id=document_id,
            participant_id=participant_id,
            kind=kind,
            title=title.strip(),
            filename=filename[:MAX_FILENAME],
            content_type=content_type,
            size=size,
            sha256=sha256,
            stored_sha256=stored_sha256,
            storage_ref=storage_ref,
            part2=part2,
            occurred_at=utcnow(),
        )
        return doc

    @property
    def removed(self) -> bool:
        return self.removed_at is not None

    def remove(self, reason: str) -> None:
        """Remove the document, with a reason. Once only."""
        if self.removed:
            raise RuleViolation("the document was removed before", code="already_removed")
        if not reason.strip():
            raise RuleViolation("a removal states its reason", code="reason_required")
        self.trigger_event(self.Removed, reason=reason.strip(), occurred_at=utcnow())

    def reclassify(self, *, part2: bool, reason: str) -> None:
        """Say the document holds 42 CFR Part 2 information (`part2`) or does not, with a
        reason: a change of what it is tagged, of a document not removed."""
        if self.removed:
            raise RuleViolation("the document was removed", code="already_removed")
        if part2 == self.part2:
            said = "already tagged" if part2 else "not tagged"
            raise RuleViolation(
                f"the document is {said} as holding 42 CFR Part 2 information",
                code="part2_unchanged",
            )
        if not reason.strip():
            raise RuleViolation("a reclassification states its reason", code="reason_required")
        self.trigger_event(
            self.Reclassified, part2=part2, reason=reason.strip(), occurred_at=utcnow()
        )
