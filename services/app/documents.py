"""Use cases for documents attached to a participant: attach, read back, remove (DESIGN D8).

The content is encrypted with the participant's data key (AES-GCM; associated data: the
participant and document ids, so stored bytes moved onto another document do not decrypt)
before the document store (services/store/documents.py) sees it; the `Document.Attached` event
carries the metadata, the digests and the store's reference, never the bytes. Erasure destroys
the key, so every copy of the ciphertext is unreadable, and deletes the stored rows in the
same transaction (`_shred_documents`).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from uuid import UUID, uuid4

from cryptography.exceptions import InvalidTag
from psycopg import Cursor
from psycopg.rows import TupleRow

from domain.common import Gone, NotFound, RuleViolation
from domain.documents import Document, DocumentKind, check_content, check_title
from services.app import erasure
from services.app.participants import Participants
from services.store import documents as blobs
from services.store import keys
from services.store.ledger import Command, LedgerApplication, Saved

NONCE_BYTES = 12


def _aad(participant_id: UUID, document_id: UUID) -> bytes:
    return b"prowd-document:" + participant_id.bytes + document_id.bytes


@erasure.on_erase
def _shred_documents(cur: Cursor[TupleRow], schema: str, participant_id: UUID) -> None:
    """The stored (encrypted) documents of an erased participant are deleted with the key."""
    blobs.delete_participant(cur, schema, participant_id)


@dataclass
class Documents:
    ledger: LedgerApplication
    participants: Participants
    store: blobs.DocumentStore

    def attach_document(
        self,
        command: Command,
        participant_id: UUID,
        *,
        kind: DocumentKind,
        title: str,
        filename: str,
        content_type: str,
        data: bytes,
        part2: bool = False,
    ) -> Saved[Document]:
        """Attach a document to the participant: checked (type by its bytes), encrypted with
        the participant's key, stored, and recorded as `Document.Attached` (`part2`: it holds
        42 CFR Part 2 information)."""
        participant = self.participants.participant(participant_id)
        if participant.erased_at is not None:
            raise RuleViolation(
                "the participant's personal data was erased: nothing more is kept about them",
                code="already_erased",
            )
        # Checked before anything is stored: a refusal leaves no bytes behind.
        check_content(content_type, data)
        check_title(title)
        key = keys.STORE.key_for_write(self.ledger.schema, participant_id)
        if key is None:
            # Enrolled before personal fields were encrypted: nothing can be stored for them
            # that erasure could shred, so the upload is refused rather than kept in clear.
            raise RuleViolation(
                "this participant's record has no data key (enrolled before personal data was"
                " encrypted), so a document could not be shredded on erasure",
                code="no_data_key",
            )
        document_id = uuid4()
        nonce = os.urandom(NONCE_BYTES)
        stored = nonce + key.encrypt(nonce, data, _aad(participant_id, document_id))
        ref = self.store.put(participant_id, document_id, stored)
        try:
            doc = Document.attach(
                document_id,
                participant_id,
                kind=kind,
                title=title,
                filename=filename,
                content_type=content_type,
                size=len(data),
                sha256=hashlib.sha256(data).hexdigest(),
                stored_sha256=hashlib.sha256(stored).hexdigest(),
                storage_ref=ref,
                part2=part2,
            )
            return self.ledger.record(doc, command, creates="document")
        except BaseException:
            self.store.delete(ref)
            raise

    def document(self, participant_id: UUID, document_id: UUID) -> Document:
        """The document, if it is one of the participant's."""
        doc = self.ledger.load(Document, document_id, "document")
        if doc.participant_id != participant_id:
            raise NotFound("document not found")
        return doc

    def content(self, participant_id: UUID, document_id: UUID) -> tuple[Document, bytes]:
        """The document and its decrypted bytes; `Gone` once removed or erased."""
        doc = self.document(participant_id, document_id)
        if doc.removed:
            raise Gone("the document was removed", code="document_removed")
        key = keys.STORE.key(self.ledger.schema, participant_id)
        stored = self.store.get(doc.storage_ref) if key is not None else None
        if key is None or stored is None:
            raise Gone(
                "the participant's personal data was erased: the document cannot be read",
                code="document_erased",
            )
        try:
            data = key.decrypt(
                stored[:NONCE_BYTES], stored[NONCE_BYTES:], _aad(participant_id, document_id)
            )
        except InvalidTag:
            raise RuntimeError(f"stored document {document_id} does not decrypt") from None
        if hashlib.sha256(data).hexdigest() != doc.sha256:
            raise RuntimeError(f"stored document {document_id} does not match its digest")
        return doc, data

    def remove_document(
        self, command: Command, participant_id: UUID, document_id: UUID, *, reason: str
    ) -> Saved[Document]:
        """Remove the document with a reason (`Document.Removed`); its stored bytes are
        deleted once the event is recorded."""
        doc = self.document(participant_id, document_id)
        doc.remove(reason)
        saved = self.ledger.record(doc, command)
        self.store.delete(doc.storage_ref)
        return saved

    def reclassify_document(
        self, command: Command, participant_id: UUID, document_id: UUID, *, part2: bool, reason: str
    ) -> Saved[Document]:
        """Tag the document as holding 42 CFR Part 2 information, or untag it, with a reason
        (`Document.Reclassified`). Not for an erased participant: the reason is personal."""
        doc = self.document(participant_id, document_id)
        if self.participants.participant(participant_id).erased_at is not None:
            raise RuleViolation(
                "the participant's personal data was erased: nothing more is kept about them",
                code="already_erased",
            )
        doc.reclassify(part2=part2, reason=reason)
        return self.ledger.record(doc, command)
