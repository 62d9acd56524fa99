"""Signed checkpoints of the hash chain (DESIGN D7).

Now and then the projection worker signs the chain's head of each grantee with the platform's
Ed25519 key and stores the signature beside the log. A checkpoint pins the chain: whoever
rewrites events and recomputes every later chain hash still cannot produce the signature, so
`prowd verify` finds the rewrite at the first signed position it changed. The public key is
published with every earlier one at `GET /v1/audit/public-keys` (services/audit/keys.py) for
auditors to check signatures on their own.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import structlog
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from psycopg import sql

from domain import clock
from services.audit import keys
from services.settings import Settings, create_once
from services.store.database import Database

# A checkpoint is due after this many new events, or when the last one is this old.
EVERY_EVENTS = 1000
EVERY_SECONDS = 300

log = structlog.get_logger("prowd.audit")


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
    def raw_public(self) -> bytes:
        return self.public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)

    @property
    def key_id(self) -> str:
        return keys.kid_of(self.raw_public)


def _read_private(path: Path) -> AuditKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise SystemExit(f"{path} is not an Ed25519 private key")
    return AuditKey(key)


def _pem(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


class Signer:
    """The signing side of the key history (decision 40). The configured key file is published
    on first use; the key that signs is always the newest published one, whose private key is
    read from `audit-ed25519-<kid>.pem` beside the configured file (where `rotate` writes it).
    Every process asks the database which key is current before it signs, so a rotation takes
    effect in running workers without a restart, and the old key stops signing at once."""

    def __init__(self, path: Path) -> None:
        self.folder = path.parent
        self.configured = _read_private(path)
        self._loaded: dict[str, AuditKey] = {self.configured.key_id: self.configured}
        self._published = False

    def publish(self, db: Database) -> None:
        if not self._published:
            keys.register(db, self.configured.raw_public, clock.now())
            self._published = True

    def current(self, db: Database) -> AuditKey | None:
        """The key that signs now; None when its private key is not in the key folder."""
        self.publish(db)
        kid = keys.current_kid(db)
        if kid is None:
            return None
        if kid not in self._loaded:
            path = self.folder / f"audit-ed25519-{kid}.pem"
            if not path.exists():
                return None
            self._loaded[kid] = _read_private(path)
        return self._loaded[kid]

    def rotate(self, db: Database) -> AuditKey:
        """A new key, written beside the configured one and published as current from now."""
        self.publish(db)
        key = AuditKey(Ed25519PrivateKey.generate())
        path = self.folder / f"audit-ed25519-{key.key_id}.pem"
        create_once(path, lambda: _pem(key.private))
        self._loaded[key.key_id] = key
        keys.register(db, key.raw_public, clock.now())
        return key


def load_key(settings: Settings) -> Signer:
    """The platform's signer: `PROWD_AUDIT_KEY_FILE`, else a key generated into the data dir."""
    path = (
        Path(settings.audit_key_file)
        if settings.audit_key_file
        else settings.data_dir / "audit-ed25519.pem"
    )
    if not path.exists() and settings.environment == "production":
        raise SystemExit("PROWD_ENV=production needs PROWD_AUDIT_KEY_FILE")
    create_once(path, lambda: _pem(Ed25519PrivateKey.generate()))
    return Signer(path)


def message(schema: str, position: int, chain_hash: bytes) -> bytes:
    return f"prowd-checkpoint:{schema}:{position}:{chain_hash.hex()}".encode()


@dataclass
class _Seen:
    """One grantee's chain as a worker last read it: events past the last checkpoint (grown by
    what the worker applied since), when that checkpoint was signed, when this was read."""

    gap: int
    signed_at: datetime | None
    read_at: datetime


class Schedule:
    """When a worker need not ask whether a grantee's checkpoint is due (decision 154).

    `sign_if_due` reads the chain's head and the last checkpoint: two reads for every catch-up
    and every grantee of every sweep, nearly all of them answering "not yet". The worker keeps
    what the last read found and adds the events it applies since; while that says neither
    rule can be due (fewer than `EVERY_EVENTS` past the checkpoint and it is younger than
    `EVERY_SECONDS`, or nothing past it at all) the read is skipped. What the worker does not
    see (events another worker applied meanwhile) can only delay a checkpoint to the next read,
    which happens at least every `EVERY_SECONDS` whatever it last found."""

    def __init__(self) -> None:
        self._seen: dict[str, _Seen] = {}

    def may_be_due(self, schema: str, applied: int, now: datetime) -> bool:
        """Count `applied` new events of `schema`; whether a checkpoint may be due."""
        seen = self._seen.get(schema)
        if seen is None:
            return True
        seen.gap += applied
        if (now - seen.read_at).total_seconds() >= EVERY_SECONDS:
            return True
        if seen.gap <= 0:
            return False
        return (
            seen.gap >= EVERY_EVENTS
            or seen.signed_at is None
            or (now - seen.signed_at).total_seconds() >= EVERY_SECONDS
        )

    def read(self, schema: str, gap: int, signed_at: datetime | None, now: datetime) -> None:
        self._seen[schema] = _Seen(gap, signed_at, now)

    def forget(self, schema: str) -> None:
        self._seen.pop(schema, None)


def sign_if_due(
    db: Database,
    schema: str,
    signer: Signer,
    *,
    force: bool = False,
    schedule: Schedule | None = None,
) -> int | None:
    """Sign the chain's head with the current key when enough events or time have passed;
    returns the position. `schedule` is told what was found."""
    now = clock.now()
    # One statement: the chain's head and the last checkpoint beside it.
    row = db.fetchone(
        sql.SQL(
            "SELECT h.notification_id, h.hash, c.notification_id, c.signed_at"
            " FROM (SELECT notification_id, hash FROM {s}.chain"
            " ORDER BY notification_id DESC LIMIT 1) h"
            " LEFT JOIN LATERAL (SELECT notification_id, signed_at FROM {s}.checkpoints"
            " ORDER BY notification_id DESC LIMIT 1) c ON true"
        ).format(s=sql.Identifier(schema))
    )
    if row is None:
        if schedule is not None:
            schedule.read(schema, 0, None, now)
        return None
    position, chain_hash = int(row[0]), bytes(row[1])
    last: int | None = None if row[2] is None else int(row[2])
    signed_at: datetime | None = row[3]
    if last is not None and last >= position:
        if schedule is not None:
            schedule.read(schema, 0, signed_at, now)
        return None
    due = (
        last is None
        or signed_at is None
        or position - last >= EVERY_EVENTS
        or (now - signed_at).total_seconds() >= EVERY_SECONDS
    )
    signed = sign_at(db, schema, signer, position, chain_hash) if due or force else None
    if schedule is not None:
        if signed is not None:
            schedule.read(schema, 0, now, now)
        else:
            schedule.read(schema, position - (last or 0), signed_at, now)
    return signed


def sign_at(
    db: Database, schema: str, signer: Signer, position: int, chain_hash: bytes
) -> int | None:
    """Sign the chain's hash at `position` with the current key (None when its private key is
    missing: nothing is signed with a retired key); returns the position."""
    key = signer.current(db)
    if key is None:
        log.warning("audit_key_missing", schema=schema, kid=keys.current_kid(db))
        return None
    now = clock.now()
    signature = key.private.sign(message(schema, position, chain_hash))
    db.fetchone(
        sql.SQL(
            "INSERT INTO {}.checkpoints (notification_id, hash, key_id, signature, signed_at)"
            " VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING RETURNING 1"
        ).format(sql.Identifier(schema)),
        (position, chain_hash, key.key_id, signature, now),
    )
    return position
