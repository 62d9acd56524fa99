"""How to reach a participant, and when they are expected out: personal data, encrypted with
the participant's key like their name (decision 58)."""

from __future__ import annotations

from datetime import date
from typing import Any

import msgspec

from domain.common import ProwdAggregate, RuleViolation, utcnow
from domain.participants import Participant


class Contact(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    phone: str | None = None
    email: str | None = None
    address: str | None = None


ERASED_CONTACT = {"phone": None, "email": None, "address": None}


class ContactRecorded(ProwdAggregate.Event):
    """The participant's contact details and projected release date, as they now are (each
    recording replaces the last)."""

    contact: Contact
    projected_release_date: date | None

    def apply(self, aggregate: Any) -> None:
        aggregate.contact = self.contact
        aggregate.projected_release_date = self.projected_release_date


def contact_of(participant: Participant) -> tuple[Contact | None, date | None]:
    """The participant's contact details and projected release date (None until recorded)."""
    return getattr(participant, "contact", None), getattr(
        participant, "projected_release_date", None
    )


def record_contact(
    participant: Participant, contact: Contact, projected_release_date: date | None
) -> None:
    """Record the participant's contact details and projected release date."""
    if participant.erased_at is not None:
        raise RuleViolation(
            "the participant's personal data was erased: nothing more is kept about them",
            code="already_erased",
        )
    if (
        contact == Contact()
        and projected_release_date is None
        and contact_of(participant)
        == (
            None,
            None,
        )
    ):
        # A first recording must record something; details on record may all be cleared.
        raise RuleViolation(
            "nothing to record: fill in at least one way to reach them, or the projected"
            " release date",
            code="contact_empty",
        )
    if (
        projected_release_date is not None
        and projected_release_date < participant.program_entry_date
    ):
        raise RuleViolation(
            f"a projected release on {projected_release_date} is before program entry"
            f" ({participant.program_entry_date})",
            code="release_before_entry",
        )
    if (contact, projected_release_date) == contact_of(participant):
        raise RuleViolation("the contact details already read so", code="nothing_to_correct")
    participant.trigger_event(
        ContactRecorded,
        contact=contact,
        projected_release_date=projected_release_date,
        occurred_at=utcnow(),
    )
