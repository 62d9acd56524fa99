"""Records retention (2 CFR 200.334) and legal holds, on the platform log's grantee records.

A grantee's records are kept three years from its final expenditure report; a legal hold (a
claim, litigation or audit) keeps them past that and blocks the erasure of the participants it
covers. `prowd retention report` lists what has come due.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Protocol
from uuid import UUID

from domain import clock
from domain.grantees import Grantee, LegalHold, grantee_id
from services.refusals import shown
from services.store.ledger import Command, LedgerApplication, Saved


def today_in(time_zone: str) -> date:
    """Today in the grantee's time zone, by the clock."""
    return clock.today(time_zone)


@dataclass(frozen=True)
class RetentionRow:
    slug: str
    final_report_on: date | None
    retention_ends_on: date | None
    status: str
    holds: list[LegalHold]


@dataclass
class Retention:
    """Retention and legal holds, recorded on the grantee's record in the platform log."""

    ledger: LedgerApplication

    def grantee_record(self, slug: str) -> Grantee:
        """The grantee's record in the platform log."""
        return self.ledger.load(Grantee, grantee_id(slug), f"grantee {shown(slug)}")

    def set_retention(
        self, command: Command, *, slug: str, final_report_on: date
    ) -> Saved[Grantee]:
        """Record the date the grantee's final expenditure report was submitted."""
        grantee = self.grantee_record(slug)
        grantee.set_retention(final_report_on, today_in(grantee.time_zone))
        return self.ledger.record(grantee, command)

    def place_legal_hold(
        self, command: Command, *, slug: str, reason: str, participant_id: UUID | None
    ) -> Saved[Grantee]:
        """Hold the grantee's records (or one participant's) past retention and against erasure."""
        grantee = self.grantee_record(slug)
        grantee.place_legal_hold(reason, participant_id)
        return self.ledger.record(grantee, command)

    def release_legal_hold(
        self, command: Command, *, slug: str, hold_id: UUID, reason: str
    ) -> Saved[Grantee]:
        """Release a legal hold, giving the reason."""
        grantee = self.grantee_record(slug)
        grantee.release_legal_hold(hold_id, reason)
        return self.ledger.record(grantee, command)

    def retention_row(self, slug: str, today: date | None = None) -> RetentionRow:
        """Where the grantee's retention stands `today` (by default, today in its zone)."""
        grantee = self.grantee_record(slug)
        day = today or today_in(grantee.time_zone)
        return RetentionRow(
            slug=slug,
            final_report_on=getattr(grantee, "final_report_on", None),
            retention_ends_on=grantee.retention_ends_on,
            status=grantee.retention_status(day),
            holds=sorted(grantee.holds_on(None) + _participant_holds(grantee), key=_hold_key),
        )


def _participant_holds(grantee: Grantee) -> list[LegalHold]:
    return [h for h in getattr(grantee, "legal_holds", {}).values() if h.participant_id is not None]


def _hold_key(hold: LegalHold) -> tuple[date, str]:
    return hold.placed_on, str(hold.hold_id)


class _Slugged(Protocol):
    @property
    def slug(self) -> str: ...


class _Platform(Protocol):
    @property
    def retention(self) -> Retention: ...


class Grantees(Protocol):
    """What the report reads of `services.app.tenancy.Tenancy` (which builds `Retention`, so
    this module does not import it): the grantees a page at a time, and the platform's use
    cases."""

    @property
    def platform(self) -> _Platform: ...

    def grantees(self, *, after: str = ..., limit: int = ...) -> Sequence[_Slugged]: ...


def retention_rows(tenancy: Grantees, status: str = "") -> list[RetentionRow]:
    """Every grantee's retention row in slug order, optionally only those with `status`."""
    rows: list[RetentionRow] = []
    after = ""
    while page := tenancy.grantees(after=after, limit=500):
        for info in page:
            row = tenancy.platform.retention.retention_row(info.slug)
            if not status or row.status == status:
                rows.append(row)
        after = page[-1].slug
    return rows
