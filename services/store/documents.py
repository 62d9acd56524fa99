"""Where the bytes of participants' documents are kept: a small storage interface and its
PostgreSQL implementation (a `bytea` table in the grantee's schema).

The store holds only ciphertext: the use case (services/app/documents.py) encrypts with the
participant's data key before `put` and decrypts after `get`, so whoever can read the store
(a backup, an object-store bucket) reads nothing without the key, and destroying the key
(erasure) leaves the bytes unreadable wherever copies remain.

`DocumentStore` is what the use cases need: an S3-compatible store would implement the same
three methods (`put` returning a reference such as `s3://bucket/g_slug/<participant>/<doc>`)
and run `delete_participant` from the erasure.

Writes are not in the event's transaction: `put` comes first, then the `Attached` event; if
recording the event fails the use case deletes what it put. A process killed in between leaves
an unreferenced row, still encrypted under the participant's key, and deleted with the
participant's other rows by an erasure.
"""

from __future__ import annotations

from typing import Protocol
from uuid import UUID

from psycopg import Cursor, sql
from psycopg.rows import TupleRow

from services.store.database import Database

_PREFIX = "pg:"


class DocumentStore(Protocol):
    """Encrypted document bytes by reference."""

    def put(self, participant_id: UUID, document_id: UUID, data: bytes) -> str:
        """Store `data`; the reference to record in the event."""

    def get(self, ref: str) -> bytes | None:
        """The stored bytes; None once deleted (or never stored)."""

    def delete(self, ref: str) -> None:
        """Delete the stored bytes (nothing if they are gone already)."""


def ddl(schema: str) -> list[sql.Composed]:
    """The table of stored documents in a grantee's schema (made with the grantee)."""
    s = sql.Identifier(schema)
    return [
        sql.SQL(
            "CREATE TABLE IF NOT EXISTS {}.document_blobs ("
            " document_id uuid PRIMARY KEY, participant_id uuid NOT NULL,"
            " data bytea NOT NULL, stored_at timestamptz NOT NULL DEFAULT now())"
        ).format(s),
        sql.SQL(
            "CREATE INDEX IF NOT EXISTS document_blobs_participant ON {}.document_blobs"
            " (participant_id)"
        ).format(s),
    ]


class PgDocumentStore:
    """`DocumentStore` on `g_<slug>.document_blobs`."""

    def __init__(self, db: Database, schema: str) -> None:
        self.db = db
        self.schema = schema
        self._table = sql.Identifier(schema, "document_blobs")

    def put(self, participant_id: UUID, document_id: UUID, data: bytes) -> str:
        with self.db.transaction() as cur:
            cur.execute(
                sql.SQL(
                    "INSERT INTO {} (document_id, participant_id, data) VALUES (%s, %s, %s)"
                ).format(self._table),
                (document_id, participant_id, data),
            )
        return f"{_PREFIX}{document_id}"

    def _id(self, ref: str) -> UUID:
        if not ref.startswith(_PREFIX):
            raise ValueError(f"not a reference of this store: {ref!r}")
        return UUID(ref.removeprefix(_PREFIX))

    def get(self, ref: str) -> bytes | None:
        row = self.db.fetchone(
            sql.SQL("SELECT data FROM {} WHERE document_id = %s").format(self._table),
            (self._id(ref),),
        )
        return None if row is None else bytes(row[0])

    def delete(self, ref: str) -> None:
        with self.db.transaction() as cur:
            cur.execute(
                sql.SQL("DELETE FROM {} WHERE document_id = %s").format(self._table),
                (self._id(ref),),
            )


def delete_participant(cur: Cursor[TupleRow], schema: str, participant_id: UUID) -> None:
    """Delete every stored document of the participant, in the caller's transaction (the
    erasure's: the key is destroyed and the ciphertext deleted together)."""
    cur.execute(
        sql.SQL("DELETE FROM {}.document_blobs WHERE participant_id = %s").format(
            sql.Identifier(schema)
        ),
        (participant_id,),
    )
