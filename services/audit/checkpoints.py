"""Signed checkpoints of the hash chain (DESIGN D7).

Now and then the projection worker signs the chain's head of each grantee with the platform's
Ed25519 key and stores the signature beside the log. A checkpoint pins the chain: whoever
rewrites events and recomputes every later chain hash still cannot produce the signature, so
`prowd verify` finds the rewrite at the first signed position it changed. The public key is
published at `GET /v1/audit/public-key` for auditors to check signatures on their own.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from psycopg import sql

from domain import clock
from services.settings import Settings, create_once
from services.store.database import Database

# A checkpoint is due after this many new events, or when the last one is this old.
EVERY_EVENTS = 1000
EVERY_SECONDS = 300


@dataclass(frozen=True)
class AuditKey:
    private: Ed25519PrivateKey

    @property
    def public(self) -> Ed25519PublicKey:
        return self.private.public_key()

    @property
    def public_pem(self) -> str:
        return self.public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode()

    @property
    def key_id(self) -> str:
        raw = self.public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return hashlib.sha256(raw).hexdigest()[:16]


def load_key(settings: Settings) -> AuditKey:
    """The platform's signing key: `PROWD_AUDIT_KEY_FILE`, else one generated into the data dir."""
    path = (
        Path(settings.audit_key_file)
        if settings.audit_key_file
        else settings.data_dir / "audit-ed25519.pem"
    )
    if not path.exists() and settings.environment == "production":
        raise SystemExit("PROWD_ENV=production needs PROWD_AUDIT_KEY_FILE")
    pem = create_once(
        path,
        lambda: Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    )
    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise SystemExit(f"{path} is not an Ed25519 private key")
    return AuditKey(key)


def message(schema: str, position: int, chain_hash: bytes) -> bytes:
    return f"prowd-checkpoint:{schema}:{position}:{chain_hash.hex()}".encode()


def sign_if_due(db: Database, schema: str, key: AuditKey, *, force: bool = False) -> int | None:
    """Sign the chain's head when enough events or time have passed; returns the position."""
    s = sql.Identifier(schema)
    head = db.fetchone(
        sql.SQL(
            "SELECT notification_id, hash FROM {}.chain ORDER BY notification_id DESC LIMIT 1"
        ).format(s)
    )
    if head is None:
        return None
    now = clock.now()
    last = db.fetchone(
        sql.SQL(
            "SELECT notification_id, extract(epoch FROM %s - signed_at) FROM {}.checkpoints"
            " ORDER BY notification_id DESC LIMIT 1"
        ).format(s),
        (now,),
    )
    position, chain_hash = int(head[0]), bytes(head[1])
    if last is not None and int(last[0]) >= position:
        return None
    due = last is None or position - int(last[0]) >= EVERY_EVENTS or float(last[1]) >= EVERY_SECONDS
    if not (due or force):
        return None
    signature = key.private.sign(message(schema, position, chain_hash))
    db.fetchone(
        sql.SQL(
            "INSERT INTO {}.checkpoints (notification_id, hash, key_id, signature, signed_at)"
            " VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING RETURNING 1"
        ).format(s),
        (position, chain_hash, key.key_id, signature, now),
    )
    return position


def signature_valid(
    key: AuditKey, schema: str, position: int, chain_hash: bytes, signature: bytes
) -> bool:
    try:
        key.public.verify(signature, message(schema, position, chain_hash))
    except InvalidSignature:
        return False
    return True
