"""RRC API keys: the key format, the platform table, listing, and authenticating a request by
its key (DESIGN D5). Issuing and revoking are use cases (services/app/apikeys.py).

A key reads `prowd_rk_<key id>_<secret>`: the id (32 hex digits) finds the key, the secret
(32 random bytes, base64url) proves it. The secret is shown once, to the grantee admin who
issues the key; the platform table `prowd.api_keys` keeps only its SHA-256, written in the
transaction of the key's event in the grantee's log, so a key exists, and stops working, exactly
when its event commits. Authentication compares hashes in constant time and updates
`last_used_at` at most once a minute per key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from psycopg import sql

from domain import clock
from services.identity.access import Role
from services.identity.tokens import NotAuthenticated, Principal
from services.store.database import Database
from services.store.schema import PLATFORM_SCHEMA

KEY_PREFIX = "prowd_rk_"
_KEY = re.compile(r"^prowd_rk_([0-9a-f]{32})_([A-Za-z0-9_-]{43})$")
TOUCH_EVERY = timedelta(minutes=1)
# The actions of the role matrix a key may perform (services/api/rrc.py).
KEY_ACTIONS = frozenset({"rrc.read", "rrc.webhooks"})
# Compared against when the key id is unknown, so an unknown id costs the same as a wrong secret.
_NO_HASH = hashlib.sha256(b"no such key").digest()

TABLE = sql.SQL("{}.api_keys").format(sql.Identifier(PLATFORM_SCHEMA))


def new_secret() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode()


def secret_hash(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


def key_string(key_id: UUID, secret: str) -> str:
    return f"{KEY_PREFIX}{key_id.hex}_{secret}"


def is_api_key(token: str) -> bool:
    return token.startswith(KEY_PREFIX)


@dataclass(frozen=True)
class KeyRecord:
    key_id: UUID
    rrc: str
    description: str
    created_at: datetime
    created_by: str
    revoked_at: datetime | None
    last_used_at: datetime | None


def key_records(
    db: Database, grantee: str, *, after: UUID | None, limit: int
) -> tuple[list[KeyRecord], UUID | None]:
    """A grantee's keys in id order (keyset pages); never the hash."""
    rows = db.fetchall(
        sql.SQL(
            "SELECT key_id, rrc, description, created_at, created_by, revoked_at, last_used_at"
            " FROM {} WHERE grantee = %s AND key_id > %s ORDER BY key_id LIMIT %s"
        ).format(TABLE),
        (grantee, after or UUID(int=0), limit + 1),
    )
    records = [KeyRecord(*row) for row in rows[:limit]]
    return records, (records[-1].key_id if len(rows) > limit else None)


def key_record(db: Database, grantee: str, key_id: UUID) -> KeyRecord | None:
    row = db.fetchone(
        sql.SQL(
            "SELECT key_id, rrc, description, created_at, created_by, revoked_at, last_used_at"
            " FROM {} WHERE grantee = %s AND key_id = %s"
        ).format(TABLE),
        (grantee, key_id),
    )
    return None if row is None else KeyRecord(*row)


def authenticate(db: Database, token: str, *, now: datetime | None = None) -> Principal:
    """The principal of an RRC system presenting its key: `rrc_staff` of one grantee and one
    RRC. A malformed, unknown or revoked key, or a wrong secret, is not authenticated."""
    match = _KEY.fullmatch(token)
    if match is None:
        raise NotAuthenticated("invalid API key")
    key_id = UUID(match.group(1))
    row = db.fetchone(
        sql.SQL(
            "SELECT grantee, rrc, secret_hash, revoked_at, last_used_at FROM {} WHERE key_id = %s"
        ).format(TABLE),
        (key_id,),
    )
    stored = bytes(row[2]) if row is not None else _NO_HASH
    matches = hmac.compare_digest(secret_hash(match.group(2)), stored)
    if row is None or not matches or row[3] is not None:
        raise NotAuthenticated("invalid or revoked API key")
    grantee, rrc, _, _, last_used = row
    now = now or clock.now()
    if last_used is None or now - last_used >= TOUCH_EVERY:
        # Conditional, so concurrent requests of one key write the row at most once a minute.
        db.fetchall(
            sql.SQL(
                "UPDATE {} SET last_used_at = %s WHERE key_id = %s"
                " AND (last_used_at IS NULL OR last_used_at <= %s) RETURNING key_id"
            ).format(TABLE),
            (now, key_id, now - TOUCH_EVERY),
        )
    return Principal(
        subject=f"apikey:{key_id.hex}",
        roles=frozenset({Role.RRC_STAFF.value}),
        grantees=frozenset({str(grantee)}),
        rrc=str(rrc),
    )
