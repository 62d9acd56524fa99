"""Webhook endpoints: where a grantee sends events to one RRC's own system (DESIGN D6).

An endpoint serves exactly one RRC (a facility code) and subscribes to a fixed list of event
types. Every change of its configuration is an event in the grantee's log, so an auditor sees
who pointed which RRC's data where and when. The signing secret itself never enters the log
(the log is read by auditors): the events carry only the secret's version number.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Literal, get_args
from urllib.parse import urlsplit
from uuid import uuid4

from domain.common import ProwdAggregate, RuleViolation, utcnow
from domain.facilities import check_code

# The event types an endpoint may subscribe to; `ping` is the test message, always sent.
EventType = Literal[
    "meeting.scheduled",
    "meeting.held",
    "meeting.missed",
    "meeting.cancelled",
    "meeting.amended",
    "participant.arrived_at_rrc",
    "participant.left_rrc",
    "participant.exited",
    "pairing.opened",
    "pairing.closed",
    "audit.checkpoint",
]
EVENT_TYPES: tuple[str, ...] = get_args(EventType)
PING = "ping"
MAX_URL = 2000
MAX_RATE = 1000.0
# How long a rotated-out secret keeps signing beside the new one.
ROTATION_OVERLAP = timedelta(hours=24)


class DisableReason(StrEnum):
    MANUAL = "manual"
    GONE = "gone_410"
    FAILING = "failing_5_days"


def check_url(url: str) -> None:
    if len(url) > MAX_URL:
        raise RuleViolation(f"a webhook URL has at most {MAX_URL} characters", code="invalid_url")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise RuleViolation("the webhook URL cannot be parsed", code="invalid_url") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise RuleViolation("a webhook URL is an absolute http or https URL", code="invalid_url")
    if parts.username is not None or parts.password is not None:
        raise RuleViolation("a webhook URL carries no user name or password", code="invalid_url")
    if parts.fragment:
        raise RuleViolation("a webhook URL has no fragment", code="invalid_url")
    if port == 0:
        raise RuleViolation("the webhook URL's port is invalid", code="invalid_url")


def check_types(types: list[str]) -> list[str]:
    if not types:
        raise RuleViolation("subscribe to at least one event type", code="event_types_required")
    unknown = sorted(set(types) - set(EVENT_TYPES))
    if unknown:
        raise RuleViolation(
            f"unknown event types: {', '.join(unknown)}; known: {', '.join(EVENT_TYPES)}",
            code="unknown_event_type",
        )
    return sorted(set(types))


def check_rate(rate: float | None) -> None:
    if rate is not None and not 0 < rate <= MAX_RATE:
        raise RuleViolation(
            f"a rate limit is more than 0 and at most {MAX_RATE:g} deliveries per second",
            code="invalid_rate_limit",
        )


class WebhookEndpoint(ProwdAggregate):
    if TYPE_CHECKING:  # state set by the events' apply(); not dataclass fields
        url: str
        facility_code: str
        event_types: list[str]
        description: str
        enabled: bool
        rate_limit: float | None
        secret_version: int
        disabled_reason: DisableReason | None

    class Created(ProwdAggregate.Created):
        url: str
        facility_code: str
        event_types: list[str]
        description: str
        enabled: bool
        rate_limit: float | None
        secret_version: int

        def apply(self, e: Any) -> None:
            e.url = self.url
            e.facility_code = self.facility_code
            e.event_types = list(self.event_types)
            e.description = self.description
            e.enabled = self.enabled
            e.rate_limit = self.rate_limit
            e.secret_version = self.secret_version
            e.disabled_reason = None if self.enabled else DisableReason.MANUAL

    class Updated(ProwdAggregate.Event):
        url: str
        event_types: list[str]
        description: str
        rate_limit: float | None

        def apply(self, e: Any) -> None:
            e.url = self.url
            e.event_types = list(self.event_types)
            e.description = self.description
            e.rate_limit = self.rate_limit

    class Disabled(ProwdAggregate.Event):
        reason: DisableReason
        detail: str

        def apply(self, e: Any) -> None:
            e.enabled = False
            e.disabled_reason = self.reason

    class Enabled(ProwdAggregate.Event):
        def apply(self, e: Any) -> None:
            e.enabled = True
            e.disabled_reason = None

    class SecretRotated(ProwdAggregate.Event):
        secret_version: int
        # Until when the previous secret keeps signing beside the new one.
        previous_valid_until: datetime

        def apply(self, e: Any) -> None:
            e.secret_version = self.secret_version

    @classmethod
    def create(
        cls,
        *,
        url: str,
        facility_code: str,
        event_types: list[str],
        description: str = "",
        enabled: bool = True,
        rate_limit: float | None = None,
    ) -> WebhookEndpoint:
        check_url(url)
        check_code(facility_code, "facility")
        types = check_types(event_types)
        check_rate(rate_limit)
        endpoint: WebhookEndpoint = cls._create(
            cls.Created,
            id=uuid4(),
            url=url,
            facility_code=facility_code,
            event_types=types,
            description=description.strip(),
            enabled=enabled,
            rate_limit=rate_limit,
            secret_version=1,
            occurred_at=utcnow(),
        )
        return endpoint

    def update(
        self,
        *,
        url: str | None = None,
        event_types: list[str] | None = None,
        description: str | None = None,
        rate_limit: float | None = None,
        clear_rate_limit: bool = False,
    ) -> None:
        new_url = self.url if url is None else url
        check_url(new_url)
        types = self.event_types if event_types is None else check_types(event_types)
        rate = None if clear_rate_limit else (self.rate_limit if rate_limit is None else rate_limit)
        check_rate(rate)
        text = self.description if description is None else description.strip()
        if (new_url, types, text, rate) == (
            self.url,
            self.event_types,
            self.description,
            self.rate_limit,
        ):
            return
        self.trigger_event(
            self.Updated,
            url=new_url,
            event_types=types,
            description=text,
            rate_limit=rate,
            occurred_at=utcnow(),
        )

    def disable(self, reason: DisableReason, detail: str = "") -> None:
        if self.enabled:
            self.trigger_event(self.Disabled, reason=reason, detail=detail, occurred_at=utcnow())

    def enable(self) -> None:
        if not self.enabled:
            self.trigger_event(self.Enabled, occurred_at=utcnow())

    def rotate_secret(self, at: datetime) -> int:
        """Start signing with a new secret; the previous one keeps signing for 24 hours."""
        version = self.secret_version + 1
        self.trigger_event(
            self.SecretRotated,
            secret_version=version,
            previous_valid_until=at + ROTATION_OVERLAP,
            occurred_at=at,
        )
        return version
