"""Use cases for Part 2 consents: record a participant's written consent, revoke it, list a
participant's consents and their accounting of disclosures.

Each save also writes the consent's row in `g_<slug>.consents` in the same transaction as its
events (a side effect of the save, like the idempotency record): `services.disclosure.
covering_consent` reads that row with one indexed query, and a revocation is in force for every
disclosure path from the moment it commits. The row is a pure function of the consent's events.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from uuid import UUID

import msgspec
from psycopg import Cursor, sql
from psycopg.rows import TupleRow

from domain.common import NotFound, RuleViolation, utcnow
from domain.consents import Consent, ConsentTerms, check_terms, consent_status, rrc_code
from domain.facilities import FacilityKind
from projections.query import InvalidCursor
from projections.rows import select, typed
from services.app.facilities import Facilities
from services.app.participants import Participants
from services.audit.accounting import DisclosureOut, disclosures_of
from services.store.eventstore import SideEffect
from services.store.ledger import Command, LedgerApplication, Saved


class ConsentOut(msgspec.Struct):
    """A consent as its index row holds it, with its status at the time of reading."""

    id: UUID
    participant_id: UUID
    discloser: str
    information: list[str]
    recipient: str
    purpose: str
    signed_on: date
    signed_by: str
    representative: str
    expires_on: date | None
    expiry_event: str
    effective_at: datetime
    expires_at: datetime | None
    status: str
    recorded_at: datetime
    recorded_by: str
    revoked_at: datetime | None
    revoked_by: str | None
    revocation_note: str


CONSENT = select(
    ConsentOut,
    skip=("status",),
    id="consent_id",
    representative="coalesce(representative, '')",
    expiry_event="coalesce(expiry_event, '')",
)


@dataclass
class Consents:
    ledger: LedgerApplication
    facilities: Facilities
    participants: Participants

    def consent(self, participant_id: UUID, consent_id: UUID) -> Consent:
        consent = self.ledger.load(Consent, consent_id, "consent")
        if consent.participant_id != participant_id:
            raise NotFound("consent not found")
        return consent

    def consents_of(
        self, participant_id: UUID, *, after: str, limit: int
    ) -> tuple[list[ConsentOut], str | None]:
        """The participant's consents in id order after the cursor `after` (a consent id, or
        empty), each with its status now, and the next page's cursor if there is one. Read
        from the index written with the consents' events: never behind the log."""
        self.participants.participant(participant_id)
        try:
            first = UUID(after) if after else UUID(int=0)
        except ValueError:
            raise InvalidCursor("the cursor is not one this list handed out") from None
        rows = self.ledger.db.fetchall(
            sql.SQL(
                "SELECT " + CONSENT.sql + " FROM {}.consents"
                " WHERE participant_id = %s AND consent_id > %s ORDER BY consent_id LIMIT %s"
            ).format(sql.Identifier(self.ledger.schema)),
            (participant_id, first, limit + 1),
        )
        now = utcnow()
        status = {
            "status": lambda r: consent_status(
                r["effective_at"], r["expires_at"], r["revoked_at"], now
            )
        }
        items = typed(ConsentOut, CONSENT, rows[:limit], status)
        return items, str(items[-1].id) if len(rows) > limit and items else None

    def disclosures_of(
        self, participant_id: UUID, *, after: str, limit: int
    ) -> tuple[list[DisclosureOut], str | None]:
        """The participant's accounting of disclosures, oldest first, a page after `after`."""
        self.participants.participant(participant_id)
        return disclosures_of(
            self.ledger.db, self.ledger.schema, participant_id, after=after, limit=limit
        )

    def _day_start(self, day: date) -> datetime:
        return datetime.combine(day, time(0), self.ledger.zone)

    def record_consent(
        self, command: Command, *, participant_id: UUID, terms: ConsentTerms
    ) -> Saved[Consent]:
        """Record a participant's signed consent to disclose Part 2 information to a recipient."""
        self.participants.participant(participant_id)
        check_terms(terms)  # the form's own rules first: a malformed recipient is not looked up
        code = rrc_code(terms.recipient)
        if code is not None:
            try:
                facility = self.facilities.facility(code)
            except NotFound:
                raise RuleViolation(
                    f"the grantee has no facility {code}", code="unknown_recipient"
                ) from None
            if facility.kind is not FacilityKind.RRC:
                raise RuleViolation(
                    f"facility {code} is not a Residential Reentry Center",
                    code="unknown_recipient",
                )
        expires_at = (
            self._day_start(terms.expires_on + timedelta(days=1))
            if terms.expires_on is not None
            else None
        )
        consent = Consent.record(
            participant_id=participant_id,
            terms=terms,
            effective_at=self._day_start(terms.signed_on),
            expires_at=expires_at,
            at=utcnow(),
        )
        return self.ledger.record(
            consent, command, creates=f"consent {consent.id}", side_effects=[self._index(consent)]
        )

    def revoke_consent(
        self,
        command: Command,
        *,
        participant_id: UUID,
        consent_id: UUID,
        revoked_at: datetime | None,
        note: str,
    ) -> Saved[Consent]:
        """Revoke a consent from an instant on (now unless given); final."""
        consent = self.consent(participant_id, consent_id)
        consent.revoke(revoked_at or utcnow(), note)
        return self.ledger.record(consent, command, side_effects=[self._index(consent)])

    def _index(self, consent: Consent) -> SideEffect:
        table = sql.SQL("{}.consents").format(sql.Identifier(self.ledger.schema))
        terms = consent.terms

        def effect(cur: Cursor[TupleRow], ids: Sequence[int]) -> None:
            cur.execute(
                sql.SQL(
                    "INSERT INTO {} (consent_id, participant_id, recipient, information,"
                    " discloser, purpose, signed_on, signed_by, representative, effective_at,"
                    " expires_on, expiry_event, expires_at, revoked_at, revoked_by,"
                    " revocation_note, recorded_at, recorded_by, position)"
                    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s,"
                    " %s, %s, %s)"
                    " ON CONFLICT (consent_id) DO UPDATE SET revoked_at = EXCLUDED.revoked_at,"
                    " revoked_by = EXCLUDED.revoked_by,"
                    " revocation_note = EXCLUDED.revocation_note, position = EXCLUDED.position"
                ).format(table),
                (
                    consent.id,
                    consent.participant_id,
                    terms.recipient,
                    list(terms.information),
                    terms.discloser,
                    terms.purpose,
                    terms.signed_on,
                    terms.signed_by.value,
                    terms.representative or None,
                    consent.effective_at,
                    terms.expires_on,
                    terms.expiry_event or None,
                    consent.expires_at,
                    consent.revoked_at,
                    consent.revoked_by,
                    consent.revocation_note,
                    consent.recorded_at,
                    consent.recorded_by,
                    ids[-1] if ids else 0,
                ),
            )

        return effect
