"""Use cases: issue and revoke an RRC system's API key (services/identity/apikeys.py checks
them). The key's row in `prowd.api_keys` is written in the transaction of its event."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from uuid import UUID

from psycopg import Cursor, sql
from psycopg.rows import TupleRow

from domain.apikeys import ApiKey
from domain.common import NotFound, RuleViolation
from services.app.facilities import Facilities
from services.identity.apikeys import TABLE, key_string, new_secret, secret_hash
from services.store.ledger import Command, LedgerApplication, Saved


@dataclass
class ApiKeys:
    ledger: LedgerApplication
    facilities: Facilities

    def issue_api_key(
        self, command: Command, *, grantee: str, rrc: str, description: str
    ) -> tuple[Saved[ApiKey], str]:
        """Issue a key for the system of one of the grantee's RRCs; returns it with the full
        key string, which is never stored and cannot be shown again."""
        try:
            facility = self.facilities.facility(rrc)
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
                ).format(TABLE),
                (key.id, grantee, key.rrc, key.description, digest, key.issued_at, key.issued_by),
            )

        saved = self.ledger.record(key, command, creates="API key", side_effects=[insert])
        return saved, key_string(key.id, secret)

    def api_key(self, key_id: UUID) -> ApiKey:
        return self.ledger.load(ApiKey, key_id, "API key")

    def revoke_api_key(self, command: Command, key_id: UUID, *, reason: str = "") -> Saved[ApiKey]:
        """Revoke a key: requests bearing it are refused from the moment this commits."""
        key = self.api_key(key_id)
        key.revoke(reason)

        def update(cur: Cursor[TupleRow], ids: Sequence[int]) -> None:
            cur.execute(
                sql.SQL("UPDATE {} SET revoked_at = %s WHERE key_id = %s").format(TABLE),
                (key.revoked_at, key.id),
            )

        return self.ledger.record(key, command, side_effects=[update])
