"""Grantees: the organisations (tenants) that run a PROWD program on the platform."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from difflib import get_close_matches
from typing import TYPE_CHECKING, Any
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from domain.common import NotFound, ProwdAggregate, RuleViolation, natural_id, utcnow

SLUG = re.compile(r"[a-z][a-z0-9_]{1,29}")
GRANT_NUMBER = re.compile(r"[A-Z0-9][A-Z0-9-]{3,39}")


def grantee_id(slug: str) -> UUID:
    return natural_id("grantee", slug)


def check_slug(slug: str) -> None:
    if not SLUG.fullmatch(slug):
        raise RuleViolation(
            "a grantee slug is 2-30 characters: a lower-case letter, then lower-case letters, "
            "digits or underscores",
            code="invalid_slug",
        )


def check_time_zone(name: str) -> None:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        near = close_time_zones(name)
        raise RuleViolation(
            f"unknown time zone {name!r}: a time zone is an IANA name such as America/New_York"
            + (f" (did you mean {' or '.join(near)}?)" if near else ""),
            code="invalid_time_zone",
        ) from None


def close_time_zones(name: str, limit: int = 3) -> list[str]:
    """The known time zones `name` was probably meant to be: the same name in other capitals,
    a zone whose city it names (`Chicago`), or names spelt alike."""
    zones = sorted(available_timezones())
    folded = name.strip().lower().replace(" ", "_")
    same = [z for z in zones if z.lower() == folded]
    if same:
        return same
    city = [z for z in zones if z.lower().rsplit("/", 1)[-1] == folded]
    if city:
        return city[:limit]
    by_lower = {z.lower(): z for z in zones}
    return [by_lower[z] for z in get_close_matches(folded, list(by_lower), n=limit, cutoff=0.75)]


# 2 CFR 200.334: records are kept three years from the submission of the final expenditure
# report (longer when litigation, a claim or an audit starts before the end: a legal hold).
RETENTION_YEARS = 3


def years_after(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February, in a year without one
        return day.replace(year=day.year + years, day=28)


@dataclass(frozen=True)
class LegalHold:
    hold_id: UUID
    reason: str
    placed_on: date
    placed_by: str
    # None: the whole grantee's records; otherwise one participant's.
    participant_id: UUID | None


class Grantee(ProwdAggregate):
    if TYPE_CHECKING:  # state set by the events' apply(); not dataclass fields
        slug: str
        name: str
        grant_number: str
        time_zone: str
        final_report_on: date | None
        legal_holds: dict[UUID, LegalHold]

    class Registered(ProwdAggregate.Created):
        slug: str
        name: str
        grant_number: str
        time_zone: str

        def apply(self, aggregate: Any) -> None:
            aggregate.slug = self.slug
            aggregate.name = self.name
            aggregate.grant_number = self.grant_number
            aggregate.time_zone = self.time_zone
            aggregate.final_report_on = None
            aggregate.legal_holds = {}

    class RetentionSet(ProwdAggregate.Event):
        """The final expenditure report was submitted on `final_report_on`."""

        final_report_on: date

        def apply(self, aggregate: Any) -> None:
            aggregate.final_report_on = self.final_report_on

    class LegalHoldPlaced(ProwdAggregate.Event):
        hold_id: UUID
        reason: str
        participant_id: UUID | None

        def apply(self, aggregate: Any) -> None:
            # Grantees registered before holds existed have no such attribute yet.
            aggregate.__dict__.setdefault("legal_holds", {})[self.hold_id] = LegalHold(
                self.hold_id,
                self.reason,
                self.occurred_at.date(),
                self.recorded_by,
                self.participant_id,
            )

    class LegalHoldReleased(ProwdAggregate.Event):
        hold_id: UUID
        reason: str

        def apply(self, aggregate: Any) -> None:
            del aggregate.legal_holds[self.hold_id]

    @classmethod
    def register(cls, slug: str, name: str, grant_number: str, time_zone: str) -> Grantee:
        check_slug(slug)
        if not GRANT_NUMBER.fullmatch(grant_number):
            raise RuleViolation(
                "a DOL grant number is 4-40 upper-case letters, digits and dashes",
                code="invalid_grant_number",
            )
        if not name.strip():
            raise RuleViolation("a grantee needs a name", code="missing_name")
        check_time_zone(time_zone)
        grantee: Grantee = cls._create(
            cls.Registered,
            id=grantee_id(slug),
            slug=slug,
            name=name.strip(),
            grant_number=grant_number,
            time_zone=time_zone,
            occurred_at=utcnow(),
        )
        return grantee

    # Retention and legal holds -----------------------------------------------------------

    @property
    def retention_ends_on(self) -> date | None:
        """The day from which the grantee's records may be destroyed, unless held."""
        final = getattr(self, "final_report_on", None)
        return None if final is None else years_after(final, RETENTION_YEARS)

    def set_retention(self, final_report_on: date, today: date) -> None:
        if final_report_on > today:
            raise RuleViolation(
                "the final expenditure report date cannot be in the future",
                code="date_in_future",
            )
        if final_report_on.year < 2000:
            raise RuleViolation("that report date is before the program", code="date_too_early")
        # A final report ends a grant this grantee ran: it cannot predate the grantee's record,
        # and a date before it would start the clock on records that may then be destroyed.
        registered_on = self.created_on.astimezone(ZoneInfo(self.time_zone)).date()
        if final_report_on < registered_on:
            raise RuleViolation(
                f"the final expenditure report date {final_report_on} is before the grantee "
                f"was registered ({registered_on})",
                code="date_before_registration",
            )
        self.trigger_event(self.RetentionSet, final_report_on=final_report_on, occurred_at=utcnow())

    def place_legal_hold(self, reason: str, participant_id: UUID | None = None) -> UUID:
        if not reason.strip():
            raise RuleViolation("a legal hold needs a reason", code="missing_reason")
        hold_id = uuid4()
        self.trigger_event(
            self.LegalHoldPlaced,
            hold_id=hold_id,
            reason=reason.strip(),
            participant_id=participant_id,
            occurred_at=utcnow(),
        )
        return hold_id

    def release_legal_hold(self, hold_id: UUID, reason: str) -> None:
        if hold_id not in getattr(self, "legal_holds", {}):
            raise NotFound(f"no legal hold {hold_id} in force", code="legal_hold_not_found")
        if not reason.strip():
            raise RuleViolation("releasing a legal hold needs a reason", code="missing_reason")
        self.trigger_event(
            self.LegalHoldReleased, hold_id=hold_id, reason=reason.strip(), occurred_at=utcnow()
        )

    def holds_on(self, participant_id: UUID | None = None) -> list[LegalHold]:
        """Holds in force over the grantee's records, or over one participant's."""
        return [
            h
            for h in getattr(self, "legal_holds", {}).values()
            if h.participant_id is None or h.participant_id == participant_id
        ]

    def check_erasable(self, participant_id: UUID) -> None:
        """Erasing a participant's personal data is refused while a legal hold covers it."""
        if self.holds_on(participant_id):
            raise RuleViolation(
                "a legal hold covers this participant's records: erasure is blocked",
                code="legal_hold",
            )

    def retention_status(self, today: date) -> str:
        """`not_set`, `retaining` (before the end), `held` (past the end, under a grantee-wide
        hold) or `due` (past the end: the records may be destroyed)."""
        end = self.retention_ends_on
        if end is None:
            return "not_set"
        if today < end:
            return "retaining"
        return "held" if any(h.participant_id is None for h in self.holds_on()) else "due"
