"""What every aggregate of the domain shares: context stamping, errors, time rules.

Each event carries who recorded it (the token's subject), the request it came from, the
grantee whose log holds it and when it happened in the world (`occurred_at`), besides the
store's own `timestamp`. The application layer sets the context variables for the duration
of a command; the aggregates stamp every event they trigger with them.
"""

from __future__ import annotations

import unicodedata
from contextvars import ContextVar
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any, ClassVar
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate

from domain import clock

actor: ContextVar[str] = ContextVar("actor", default="system")
request_id: ContextVar[str] = ContextVar("request_id", default="")
grantee: ContextVar[str] = ContextVar("grantee", default="")
# W3C trace context of the request (services/tracecontext.py, set by the request middleware):
# the trace and the request's own span. Empty outside a request (the CLI, workers).
trace_id: ContextVar[str] = ContextVar("trace_id", default="")
span_id: ContextVar[str] = ContextVar("span_id", default="")

# Future-dated facts are refused beyond this tolerance for clock skew between devices.
CLOCK_SKEW = timedelta(minutes=5)

# Namespace for deterministic aggregate ids: a natural key (a facility code, a participant
# number) always maps to the same id, so a second registration of the same key collides in
# the store and is refused without a uniqueness index of our own.
ID_NAMESPACE = UUID("5b8f5cf4-6f4e-4a8c-9b0e-2d8f3c1a7e42")


def natural_id(kind: str, key: str) -> UUID:
    return uuid5(ID_NAMESPACE, f"{kind}:{key}")


def utcnow() -> datetime:
    """Now, from the clock in force (domain/clock.py), never the wall clock directly."""
    return clock.now()


class DomainError(Exception):
    """A rule of the domain refused a command. `code` is stable and names the rule."""

    default_code: ClassVar[str] = "rule_violated"

    def __init__(self, detail: str, *, code: str | None = None, **context: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.code: str = code or self.default_code
        self.context = context


class RuleViolation(DomainError):
    """The command is well-formed but breaks a rule of the program (HTTP 422)."""


class NotFound(DomainError):
    default_code = "not_found"


class Forbidden(DomainError):
    """The caller may not do this to this record, whatever their role allows (HTTP 403)."""

    default_code = "forbidden"


class AlreadyExists(DomainError):
    """What the command would create exists already (HTTP 409). `existing` names what was
    found (ids and states, never personal data), so that a client can go to it."""

    default_code = "already_exists"

    def __init__(
        self, detail: str, *, code: str | None = None, existing: list[dict[str, str]] | None = None
    ) -> None:
        super().__init__(detail, code=code)
        self.existing = existing


class Gone(DomainError):
    """The record exists but what was asked of it no longer does: removed, or shredded by an
    erasure (HTTP 410)."""

    default_code = "gone"


class Conflict(DomainError):
    """Someone else changed the same record first; reload and retry (HTTP 409)."""

    default_code = "conflict"


def nameless(text: str) -> bool:
    """True when `text` holds no letter or digit of any script: blank, or only spaces,
    invisible format characters (a zero-width space) or combining marks with nothing to
    combine with. No one is named so, and no search could find them."""
    return not any(unicodedata.category(c)[0] in "LN" for c in text)


def check_not_future(moment: datetime, what: str) -> None:
    if moment.tzinfo is None:
        raise RuleViolation(f"{what} must carry a UTC offset", code="naive_datetime")
    if moment > utcnow() + CLOCK_SKEW:
        raise RuleViolation(f"{what} lies in the future", code="in_future")


def check_date_not_future(day: date, what: str, zone: tzinfo = UTC) -> None:
    """A plain day is not after today in `zone` (the grantee's time zone)."""
    if day > (utcnow() + CLOCK_SKEW).astimezone(zone).date():
        raise RuleViolation(f"{what} lies in the future", code="in_future")


class ProwdAggregate(Aggregate):
    """Base aggregate: stamps the request context on every event it triggers."""

    class Event(Aggregate.Event):
        recorded_by: str
        request_id: str
        grantee: str
        occurred_at: datetime
        trace_id: str
        span_id: str

        # Fields added after events were first stored: what an older stored event reads as
        # (services/store/mapping.py decodes a missing field as its value here).
        stored_defaults: ClassVar[dict[str, Any]] = {"trace_id": "", "span_id": ""}

        @staticmethod
        def create_timestamp() -> datetime:
            # The store's timestamp comes from the same clock as every other "now" (D10).
            return clock.now()

    class Created(Event, Aggregate.Created):
        pass

    @staticmethod
    def _context() -> dict[str, str]:
        return {
            "recorded_by": actor.get(),
            "request_id": request_id.get(),
            "grantee": grantee.get(),
            "trace_id": trace_id.get(),
            "span_id": span_id.get(),
        }

    def trigger_event(self, event_class: Any, **kwargs: Any) -> None:
        super().trigger_event(event_class, **self._context(), **kwargs)

    @classmethod
    def _create(cls, event_class: Any, *, id: Any = None, **kwargs: Any) -> Any:
        return super()._create(event_class, id=id, **cls._context(), **kwargs)
