"""The audit key history (decision 40): every Ed25519 public key the platform has signed
checkpoints with, in `prowd.audit_keys`, each with its id, validity and fingerprint.

Rows are only ever inserted (append-only like the log). A key is valid from its `not_before`
(NULL for the first key: from the start of every log) until the next key's `not_before`, so
a rotation is one INSERT and no row is ever edited. `GET /v1/audit/public-keys` publishes the
set as a JWKS-style document; `prowd verify --keys FILE` and `tools/prowd_audit_verify.py` read
that same document back.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from psycopg import sql

from services.store.database import Database
from services.store.schema import PLATFORM_SCHEMA

TABLE = sql.Identifier(PLATFORM_SCHEMA, "audit_keys")


def kid_of(raw: bytes) -> str:
    """A key's id: the first 16 hex digits of the SHA-256 of its 32 raw public bytes."""
    return hashlib.sha256(raw).hexdigest()[:16]


@dataclass(frozen=True)
class PublicKey:
    kid: str
    raw: bytes
    not_before: datetime | None
    not_after: datetime | None

    @property
    def fingerprint(self) -> str:
        return "SHA256:" + hashlib.sha256(self.raw).hexdigest()

    def valid_at(self, at: datetime) -> bool:
        return (self.not_before is None or at >= self.not_before) and (
            self.not_after is None or at < self.not_after
        )

    def verifies(self, signature: bytes, message: bytes) -> bool:
        try:
            Ed25519PublicKey.from_public_bytes(self.raw).verify(signature, message)
        except InvalidSignature:
            return False
        return True

    def jwk(self) -> dict[str, Any]:
        return {
            "kty": "OKP",
            "crv": "Ed25519",
            "alg": "EdDSA",
            "use": "sig",
            "kid": self.kid,
            "x": base64.urlsafe_b64encode(self.raw).rstrip(b"=").decode(),
            "not_before": None if self.not_before is None else self.not_before.isoformat(),
            "not_after": None if self.not_after is None else self.not_after.isoformat(),
            "fingerprint": self.fingerprint,
        }


KeySet = Mapping[str, PublicKey]


def published(db: Database) -> dict[str, PublicKey]:
    """Every key ever registered, by id, with its validity."""
    rows = db.fetchall(
        sql.SQL(
            "SELECT kid, public_key, not_before,"
            " lead(not_before) OVER (ORDER BY not_before NULLS FIRST, kid)"
            " FROM {} ORDER BY not_before NULLS FIRST, kid"
        ).format(TABLE)
    )
    return {
        str(kid): PublicKey(str(kid), bytes(raw), not_before, not_after)
        for kid, raw, not_before, not_after in rows
    }


def current_kid(db: Database) -> str | None:
    row = db.fetchone(
        sql.SQL("SELECT kid FROM {} ORDER BY not_before DESC NULLS LAST, kid LIMIT 1").format(TABLE)
    )
    return None if row is None else str(row[0])


def register(db: Database, raw: bytes, at: datetime) -> str:
    """Publish a key, current from `at` (the first key ever: from the start); a key already
    published keeps its row. Returns its id."""
    kid = kid_of(raw)
    db.fetchone(
        sql.SQL(
            "INSERT INTO {t} (kid, public_key, not_before)"
            " SELECT %s, %s, CASE WHEN EXISTS (SELECT 1 FROM {t}) THEN %s::timestamptz END"
            " ON CONFLICT (kid) DO NOTHING RETURNING 1"
        ).format(t=TABLE),
        (kid, raw, at),
    )
    return kid


def jwks(keys: KeySet) -> dict[str, Any]:
    return {"keys": [k.jwk() for k in keys.values()]}


def from_jwks(document: Any) -> dict[str, PublicKey]:
    """The key set of a JWKS-style document as published; ValueError when it is not one."""
    try:
        result: dict[str, PublicKey] = {}
        for k in document["keys"]:
            x = str(k["x"])
            raw = base64.urlsafe_b64decode(x + "=" * (-len(x) % 4))
            if k.get("crv") != "Ed25519" or len(raw) != 32 or kid_of(raw) != k["kid"]:
                raise ValueError(f"key {k.get('kid')!r} is not a well-formed Ed25519 key")
            nb, na = k.get("not_before"), k.get("not_after")
            result[str(k["kid"])] = PublicKey(
                str(k["kid"]),
                raw,
                None if nb is None else datetime.fromisoformat(nb),
                None if na is None else datetime.fromisoformat(na),
            )
        return result
    except (KeyError, TypeError, AttributeError) as e:
        raise ValueError(f"not a key set document ({e})") from e
