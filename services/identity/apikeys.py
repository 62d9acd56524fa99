"""RRC API keys: issue, revoke, list, and authenticate a request by its key (DESIGN D5).

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
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from psycopg import Cursor, sql
from psycopg.rows import TupleRow

from domain import clock
from domain.apikeys import ApiKey
from domain.common import NotFound, RuleViolation
from services.app.facilities import FacilityCommands
from services.identity.access import Role
from services.identity.tokens import NotAuthenticated, Principal
from services.store.database import Database
from services.store.ledger import Command, Saved
from services.store.schema import PLATFORM_SCHEMA

KEY_PREFIX = "prowd_rk_"
_KEY = re.compile(r"^prowd_rk_([0-9a-f]{32})_([A-Za-z0-9_-]{43})$")
TOUCH_EVERY = timedelta(minutes=1)
# The actions of the role matrix a key may perform (services/api/rrc.py).
KEY_ACTIONS = frozenset({"rrc.read"})
# Compared against when the key id is unknown, so an unknown id costs the same as a wrong secret.
_NO_HASH = hashlib.sha256(b"no such key").digest()

_TABLE = sql.SQL("{}.api_keys").format(sql.Identifier(PLATFORM_SCHEMA))


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


class ApiKeyCommands(FacilityCommands):
    def issue_api_key(
        self, command: Command, *, grantee: str, rrc: str, description: str
    ) -> tuple[Saved[ApiKey], str]:
        """Issue a key for the system of one of the grantee's RRCs; returns it with the full
        key string, which is never stored and cannot be shown again."""
        try:
            facility = self.facility(rrc)
        except NotFound:
            raise RuleViolation(
                f"no facility {rrc!r} in this grantee", code="unknown_rrc"
            ) from None
        key = ApiKey.issue(facility=facility, description=description)
        secret = new_secret()
        digest = secret_hash(secret)

        def insert(cur: Cursor[TupleRow], ids: Sequence[int]) -> None:
            cur.execute(
                sql.SQL(
                    "INSERT INTO {} (key_id, grantee, rrc, description, secret_hash, created_at,"
                    " created_by) VALUES (%s, %s, %s, %s, %s, %s, %s)"
                ).format(_TABLE),
                (key.id, grantee, key.rrc, key.description, digest, key.issued_at, key.issued_by),
            )

        saved = self.record(key, command, creates="API key", side_effects=[insert])
        return saved, key_string(key.id, secret)

    def api_key(self, key_id: UUID) -> ApiKey:
        return self.load(ApiKey, key_id, "API key")

    def revoke_api_key(self, command: Command, key_id: UUID, *, reason: str = "") -> Saved[ApiKey]:
        """Revoke a key: requests bearing it are refused from the moment this commits."""
        key = self.api_key(key_id)
        key.revoke(reason)

        def update(cur: Cursor[TupleRow], ids: Sequence[int]) -> None:
            cur.execute(
                sql.SQL("UPDATE {} SET revoked_at = %s WHERE key_id = %s").format(_TABLE),
                (key.revoked_at, key.id),
            )

        return self.record(key, command, side_effects=[update])


def key_records(
    db: Database, grantee: str, *, after: UUID | None, limit: int
) -> tuple[list[KeyRecord], UUID | None]:
    """A grantee's keys in id order (keyset pages); never the hash."""
    rows = db.fetchall(
        sql.SQL(
            "SELECT key_id, rrc, description, created_at, created_by, revoked_at, last_used_at"
            " FROM {} WHERE grantee = %s AND key_id > %s ORDER BY key_id LIMIT %s"
        ).format(_TABLE),
        (grantee, after or UUID(int=0), limit + 1),
    )
    records = [KeyRecord(*row) for row in rows[:limit]]
    return records, (records[-1].key_id if len(rows) > limit else None)


def key_record(db: Database, grantee: str, key_id: UUID) -> KeyRecord | None:
    row = db.fetchone(
        sql.SQL(
            "SELECT key_id, rrc, description, created_at, created_by, revoked_at, last_used_at"
            " FROM {} WHERE grantee = %s AND key_id = %s"
        ).format(_TABLE),
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
        ).format(_TABLE),
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
            ).format(_TABLE),
            (now, key_id, now - TOUCH_EVERY),
        )
    return Principal(
        subject=f"apikey:{key_id.hex}",
        roles=frozenset({Role.RRC_STAFF.value}),
        grantees=frozenset({str(grantee)}),
        rrc=str(rrc),
    )
