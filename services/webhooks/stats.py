"""The webhook metric families (read from every grantee's tables when scraped)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from domain.common import utcnow
from services.store import fanout
from services.store.database import Database
from services.store.schema import GranteeDirectory

Sample = tuple[dict[str, str], float]


def _per_grantee(
    db: Database, tenancy: GranteeDirectory, query: str
) -> Iterable[tuple[str, tuple[Any, ...]]]:
    return fanout.per_grantee(db, tenancy, query)


def deliveries(db: Database, tenancy: GranteeDirectory) -> Iterable[Sample]:
    for slug, (status, n) in _per_grantee(
        db, tenancy, "SELECT status, count(*) FROM {s}.webhook_deliveries GROUP BY status"
    ):
        yield {"grantee": slug, "status": status}, float(n)


def attempts(db: Database, tenancy: GranteeDirectory) -> Iterable[Sample]:
    for slug, (outcome, n) in _per_grantee(
        db, tenancy, "SELECT outcome, count(*) FROM {s}.webhook_attempts GROUP BY outcome"
    ):
        yield {"grantee": slug, "outcome": outcome}, float(n)


def failures(db: Database, tenancy: GranteeDirectory) -> Iterable[Sample]:
    for slug, (n,) in _per_grantee(
        db, tenancy, "SELECT count(*) FROM {s}.webhook_attempts WHERE outcome = 'failed'"
    ):
        yield {"grantee": slug}, float(n)


def queue_depth(db: Database, tenancy: GranteeDirectory) -> Iterable[Sample]:
    for slug, (n,) in _per_grantee(
        db, tenancy, "SELECT count(*) FROM {s}.webhook_deliveries WHERE status = 'pending'"
    ):
        yield {"grantee": slug}, float(n)


def oldest_pending(db: Database, tenancy: GranteeDirectory) -> Iterable[Sample]:
    now = utcnow()
    for slug, (oldest,) in _per_grantee(
        db, tenancy, "SELECT min(created_at) FROM {s}.webhook_deliveries WHERE status = 'pending'"
    ):
        age = 0.0 if oldest is None else max(0.0, (now - oldest).total_seconds())
        yield {"grantee": slug}, age


def endpoints(db: Database, tenancy: GranteeDirectory) -> Iterable[Sample]:
    for slug, (enabled, n) in _per_grantee(
        db, tenancy, "SELECT enabled, count(*) FROM {s}.webhook_endpoints GROUP BY enabled"
    ):
        yield {"grantee": slug, "state": "enabled" if enabled else "disabled"}, float(n)


def outbox_lag(db: Database, tenancy: GranteeDirectory) -> Iterable[Sample]:
    """Events of the log the webhook outbox consumer has not read yet, per grantee."""
    for slug, (behind,) in _per_grantee(
        db,
        tenancy,
        "SELECT (SELECT coalesce(max(notification_id), 0) FROM {s}.events) - position"
        " FROM {s}.webhook_outbox",
    ):
        yield {"grantee": slug}, float(max(0, int(behind)))


FAMILIES = [
    (
        "prowd_webhook_deliveries",
        "Webhook deliveries by status (pending, delivered, failed after the last retry).",
        "gauge",
        deliveries,
    ),
    (
        "prowd_webhook_attempts_total",
        "Webhook HTTP attempts by outcome (succeeded, failed).",
        "counter",
        attempts,
    ),
    ("prowd_webhook_failures_total", "Failed webhook HTTP attempts.", "counter", failures),
    ("prowd_webhook_queue_depth", "Webhook deliveries waiting to be sent.", "gauge", queue_depth),
    (
        "prowd_webhook_oldest_pending_age_seconds",
        "Age of the oldest webhook delivery still waiting (0 when none).",
        "gauge",
        oldest_pending,
    ),
    ("prowd_webhook_endpoints", "Webhook endpoints by state.", "gauge", endpoints),
    (
        "prowd_webhook_outbox_lag_events",
        "Events of the grantee's log the webhook outbox consumer has not read yet.",
        "gauge",
        outbox_lag,
    ),
]
