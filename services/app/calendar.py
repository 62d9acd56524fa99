"""Use case: a staff member's calendar feed link (domain/calendar.py)."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from domain.calendar import CalendarFeed
from domain.common import NotFound
from services.store.ledger import Command, LedgerApplication, Saved


def token_hash(token: str) -> str:
    """What the log and the view keep of a feed token."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass
class CalendarFeeds:
    ledger: LedgerApplication

    def issue_feed(self, command: Command, subject: str) -> tuple[Saved[CalendarFeed], str]:
        """Issue (or replace) the calendar feed token of the staff member `subject`; returns
        the token, shown once and never stored."""
        token = secrets.token_urlsafe(32)
        digest = token_hash(token)
        try:
            feed = self.ledger.load(CalendarFeed, CalendarFeed.id_for(subject), "calendar feed")
        except NotFound:
            feed = CalendarFeed.issue(subject, digest)
        else:
            feed.rotate(digest)
        return self.ledger.record(feed, command), token
