"""Case-management contacts: a staff member's contact with a participant (in person, by phone,
by video), a participation-level service (domain/definitions.py: it resets the 90-day clock of
the derived exit, DOMAIN.md; TEGL 10-16 counts staff-assisted services).

The event is on the participant's stream, dated in the world (`contacted_on`), and carries no
text: what was said belongs in a case note (domain/casenotes.py), so the contact itself can feed
the oversight figures without personal data.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, tzinfo
from enum import StrEnum
from typing import Any

import msgspec

from domain.common import ProwdAggregate, RuleViolation, check_date_not_future
from domain.participants import Participant
from domain.plaindays import start_of_day


class ContactMode(StrEnum):
    IN_PERSON = "in_person"
    PHONE = "phone"
    VIDEO = "video"


class CaseManagementContact(ProwdAggregate.Event):
    """A case-management contact with the participant on `contacted_on`."""

    contacted_on: date
    mode: ContactMode

    def apply(self, aggregate: Any) -> None:
        pass

    def plain_day(self) -> date:
        return self.contacted_on


class CaseContact(msgspec.Struct, frozen=True, kw_only=True):
    """A case contact as it is listed: its day, how, who recorded it and its log position (the
    record order)."""

    contacted_on: date
    mode: ContactMode
    recorded_by: str
    position: int


def newest_first(contacts: Iterable[CaseContact]) -> list[CaseContact]:
    """By the contact's day, newest first; on one day, the later recorded first (decision
    146): contacts are often recorded days after they took place, and out of order."""
    return sorted(contacts, key=lambda c: (c.contacted_on, c.position), reverse=True)


def contacts_after(
    contacts: Iterable[CaseContact], after: tuple[date, int] | None
) -> list[CaseContact]:
    """`newest_first`, from just after the contact keyed `after` (its day and position, the
    last of the previous page): a keyset, so a contact recorded meanwhile shifts no page."""
    ordered = newest_first(contacts)
    if after is None:
        return ordered
    return [c for c in ordered if (c.contacted_on, c.position) < after]


def record_case_contact(
    participant: Participant, on: date, mode: ContactMode, zone: tzinfo = UTC
) -> None:
    """Record a case-management contact on a day of `zone` (the grantee's time zone): on or
    after program entry, not in the future, and not after a recorded exit (service after an
    exit is a new enrolment)."""
    check_date_not_future(on, "the contact date", zone)
    if on < participant.program_entry_date:
        raise RuleViolation(
            f"a contact on {on} is before program entry ({participant.program_entry_date})",
            code="contact_before_entry",
        )
    exit_date = participant.exit_date
    if exit_date is not None and on > exit_date:
        raise RuleViolation(
            f"the participant exited on {exit_date}: a later contact is not a service of this"
            " enrolment",
            code="contact_after_exit",
        )
    participant.trigger_event(
        CaseManagementContact, contacted_on=on, mode=mode, occurred_at=start_of_day(on, zone)
    )
