"""A participant's written consent to disclose Part 2 information (42 CFR §2.31).

One consent per aggregate: who may disclose (the discloser), what information (categories),
to whom (one recipient), for what purpose, until when (an expiry date, or an event when the
form names one), signed on which day and by whom (the participant or a representative). A
consent is in force from the start of its signature day until the end of its expiry day (in the
grantee's time zone) unless revoked earlier; a revocation takes effect at its instant and is
final. Nothing is ever edited: a changed consent is a new consent, the old one revoked.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Literal, get_args
from uuid import UUID, uuid4

import msgspec

from domain.common import (
    ProwdAggregate,
    RuleViolation,
    check_date_not_future,
    check_not_future,
)

# What a consent can name as the information to disclose (the categories the system sends).
Category = Literal["meeting_summaries", "stage", "attendance", "goals"]
CATEGORIES: tuple[str, ...] = get_args(Category)

# `rrc:<FACILITY CODE>` (a Residential Reentry Center of the grantee) or `export:pirl`.
RECIPIENT = re.compile(r"^(rrc:[A-Z0-9][A-Z0-9-]{1,15}|export:pirl)$")

MAX_TEXT = 500


class Signer(StrEnum):
    PARTICIPANT = "participant"
    REPRESENTATIVE = "representative"


class ConsentTerms(msgspec.Struct, frozen=True, kw_only=True):
    """What the signed form says."""

    discloser: str
    information: tuple[str, ...]
    recipient: str
    purpose: str
    signed_on: date
    signed_by: Signer
    representative: str = ""
    expires_on: date | None = None
    expiry_event: str = ""


ConsentStatus = Literal["in_force", "pending", "expired", "revoked"]


def consent_status(
    effective_at: datetime, expires_at: datetime | None, revoked_at: datetime | None, now: datetime
) -> ConsentStatus:
    """`revoked`, `expired`, `pending` (signature day not begun) or `in_force`, at `now`."""
    if revoked_at is not None and revoked_at <= now:
        return "revoked"
    if expires_at is not None and expires_at <= now:
        return "expired"
    if effective_at > now:
        return "pending"
    return "in_force"


def rrc_code(recipient: str) -> str | None:
    """The facility code of an `rrc:` recipient, else None."""
    return recipient.removeprefix("rrc:") if recipient.startswith("rrc:") else None


def check_terms(terms: ConsentTerms) -> None:
    """The elements §2.31 requires, in a shape the system can check."""
    missing = [name for name in ("discloser", "purpose") if not getattr(terms, name).strip()]
    if not terms.information:
        missing.append("information")
    if missing:
        raise RuleViolation(
            "a written consent names who may disclose, what information and the purpose; "
            "missing: " + ", ".join(missing),
            code="consent_incomplete",
        )
    for name in ("discloser", "purpose", "representative", "expiry_event"):
        if len(getattr(terms, name)) > MAX_TEXT:
            raise RuleViolation(f"{name} is longer than {MAX_TEXT} characters", code="too_long")
    unknown = sorted(set(terms.information) - set(CATEGORIES))
    if unknown:
        raise RuleViolation(
            "unknown information categories: "
            + ", ".join(unknown)
            + " (known: "
            + ", ".join(CATEGORIES)
            + ")",
            code="unknown_information",
        )
    if len(set(terms.information)) != len(terms.information):
        raise RuleViolation("an information category is named twice", code="unknown_information")
    if not RECIPIENT.fullmatch(terms.recipient):
        raise RuleViolation(
            "the recipient is `rrc:<FACILITY CODE>` or `export:pirl`", code="invalid_recipient"
        )
    if terms.signed_by is Signer.REPRESENTATIVE and not terms.representative.strip():
        raise RuleViolation(
            "a consent signed by a representative names the representative and their authority",
            code="representative_required",
        )
    if terms.signed_by is Signer.PARTICIPANT and terms.representative.strip():
        raise RuleViolation(
            "a representative is named only when the representative signed",
            code="representative_not_signer",
        )
    check_date_not_future(terms.signed_on, "the signature date")
    if terms.expires_on is None and not terms.expiry_event.strip():
        raise RuleViolation(
            "a consent states when it expires: an expiry date or an expiry event (§2.31)",
            code="expiry_required",
        )
    if terms.expires_on is not None and terms.expires_on <= terms.signed_on:
        raise RuleViolation(
            "the expiry date must fall after the signature date", code="expiry_before_signature"
        )


class Consent(ProwdAggregate):
    if TYPE_CHECKING:  # state set by the events' apply(); not dataclass fields
        participant_id: UUID
        terms: ConsentTerms
        effective_at: datetime
        expires_at: datetime | None
        recorded_at: datetime
        recorded_by: str
        revoked_at: datetime | None
        revoked_by: str | None
        revocation_note: str

    class Recorded(ProwdAggregate.Created):
        participant_id: UUID
        terms: ConsentTerms
        effective_at: datetime
        expires_at: datetime | None

        def apply(self, c: Any) -> None:
            c.participant_id = self.participant_id
            c.terms = self.terms
            c.effective_at = self.effective_at
            c.expires_at = self.expires_at
            c.recorded_at = self.occurred_at
            c.recorded_by = self.recorded_by
            c.revoked_at = None
            c.revoked_by = None
            c.revocation_note = ""

    class Revoked(ProwdAggregate.Event):
        note: str

        def apply(self, c: Any) -> None:
            c.revoked_at = self.occurred_at
            c.revoked_by = self.recorded_by
            c.revocation_note = self.note

    @classmethod
    def record(
        cls,
        *,
        participant_id: UUID,
        terms: ConsentTerms,
        effective_at: datetime,
        expires_at: datetime | None,
        at: datetime,
    ) -> Consent:
        """Record a signed consent. `effective_at` and `expires_at` are the signature day's
        start and the end of the expiry day in the grantee's time zone (the caller's zone)."""
        check_terms(terms)
        check_not_future(at, "the moment the consent is recorded")
        consent: Consent = cls._create(
            cls.Recorded,
            id=uuid4(),
            participant_id=participant_id,
            terms=terms,
            effective_at=effective_at,
            expires_at=expires_at,
            occurred_at=at,
        )
        return consent

    def revoke(self, at: datetime, note: str) -> None:
        """Revoke from instant `at` on (written or oral revocation, received at `at`)."""
        if self.revoked_at is not None:
            raise RuleViolation(
                f"the consent was revoked at {self.revoked_at.isoformat()}", code="consent_revoked"
            )
        check_not_future(at, "the revocation instant")
        if at < self.effective_at:
            raise RuleViolation(
                "a consent cannot be revoked before it was signed", code="revoked_before_signature"
            )
        if len(note) > MAX_TEXT:
            raise RuleViolation(f"note is longer than {MAX_TEXT} characters", code="too_long")
        self.trigger_event(self.Revoked, note=note, occurred_at=at)
