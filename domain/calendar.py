"""A staff member's calendar feed: a link with a secret token, so that their meetings appear in
the calendar application they already use (docs/areas.md). Only the SHA-256 of the token
enters the log; issuing again replaces the token (the old link stops working)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from domain.common import ProwdAggregate, RuleViolation, natural_id, utcnow


class CalendarFeed(ProwdAggregate):
    if TYPE_CHECKING:
        subject: str
        token_hash: str

    class Issued(ProwdAggregate.Created):
        subject: str
        token_hash: str

        def apply(self, feed: Any) -> None:
            feed.subject = self.subject
            feed.token_hash = self.token_hash

    class Rotated(ProwdAggregate.Event):
        subject: str
        token_hash: str

        def apply(self, feed: Any) -> None:
            feed.token_hash = self.token_hash

    @staticmethod
    def id_for(subject: str) -> Any:
        return natural_id("calendar_feed", subject)

    @classmethod
    def issue(cls, subject: str, token_hash: str) -> CalendarFeed:
        """The feed of the staff member with this token subject."""
        if not subject.strip():
            raise RuleViolation("a feed belongs to a named subject", code="staff_required")
        feed: CalendarFeed = cls._create(
            cls.Issued,
            id=cls.id_for(subject),
            subject=subject,
            token_hash=token_hash,
            occurred_at=utcnow(),
        )
        return feed

    def rotate(self, token_hash: str) -> None:
        """A new token: the old link stops working."""
        self.trigger_event(
            self.Rotated, subject=self.subject, token_hash=token_hash, occurred_at=utcnow()
        )
