"""Use cases for a grantee's webhook endpoints.

Each command appends the endpoint's event and, in the same transaction (a side effect of the
save), brings the endpoint registry row up to date and stores any new signing secret, so the
API and the dispatcher see a change the moment it commits, and the secret never enters the log.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from psycopg import Cursor, sql
from psycopg.rows import TupleRow

from domain.common import RuleViolation, utcnow
from domain.facilities import FacilityKind
from domain.webhooks import ROTATION_OVERLAP, DisableReason, WebhookEndpoint
from services.app.facilities import Facilities
from services.store.eventstore import SideEffect
from services.store.ledger import Command, LedgerApplication, Saved
from services.webhooks import signing, ssrf


def check_target(url: str, allowed: Sequence[ssrf.IPNetwork]) -> None:
    try:
        ssrf.resolve(url, allowed)
    except ssrf.UnsafeTarget as e:
        raise RuleViolation(
            f"the webhook URL is refused: {e}; only public addresses are allowed",
            code="unsafe_webhook_target",
        ) from None


@dataclass
class Webhooks:
    ledger: LedgerApplication
    facilities: Facilities

    def endpoint(self, endpoint_id: UUID) -> WebhookEndpoint:
        return self.ledger.load(WebhookEndpoint, endpoint_id, "webhook endpoint")

    def _registry(
        self,
        endpoint: WebhookEndpoint,
        *,
        secret: str | None = None,
        rotated_at: datetime | None = None,
    ) -> SideEffect:
        s = sql.Identifier(self.ledger.schema)

        def effect(cur: Cursor[TupleRow], ids: Sequence[int]) -> None:
            now = utcnow()
            cur.execute(
                sql.SQL(
                    "INSERT INTO {}.webhook_endpoints (endpoint_id, url, facility_code, event_types,"
                    " description, enabled, disabled_reason, rate_limit, secret_version, created_at,"
                    " updated_at, created_position)"
                    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
                    " ON CONFLICT (endpoint_id) DO UPDATE SET url = excluded.url,"
                    " event_types = excluded.event_types, description = excluded.description,"
                    " enabled = excluded.enabled, disabled_reason = excluded.disabled_reason,"
                    " rate_limit = excluded.rate_limit, secret_version = excluded.secret_version,"
                    " updated_at = excluded.updated_at,"
                    # A re-enabled endpoint starts a fresh failure window.
                    " failing_since = CASE WHEN excluded.enabled AND NOT {}.webhook_endpoints.enabled"
                    " THEN NULL ELSE {}.webhook_endpoints.failing_since END"
                ).format(s, s, s),
                (
                    endpoint.id,
                    endpoint.url,
                    endpoint.facility_code,
                    endpoint.event_types,
                    endpoint.description,
                    endpoint.enabled,
                    None if endpoint.disabled_reason is None else endpoint.disabled_reason.value,
                    endpoint.rate_limit,
                    endpoint.secret_version,
                    now,
                    now,
                    ids[0] if ids else 0,
                ),
            )
            if secret is not None:
                if rotated_at is not None:
                    cur.execute(
                        sql.SQL(
                            "UPDATE {}.webhook_secrets SET expires_at = %s"
                            " WHERE endpoint_id = %s AND expires_at IS NULL"
                        ).format(s),
                        (rotated_at + ROTATION_OVERLAP, endpoint.id),
                    )
                cur.execute(
                    sql.SQL(
                        "INSERT INTO {}.webhook_secrets (endpoint_id, version, secret, created_at)"
                        " VALUES (%s, %s, %s, %s)"
                    ).format(s),
                    (endpoint.id, endpoint.secret_version, secret, rotated_at or now),
                )

        return effect

    def create_endpoint(
        self,
        command: Command,
        *,
        url: str,
        facility_code: str,
        event_types: list[str],
        description: str,
        enabled: bool,
        rate_limit: float | None,
        allowed: Sequence[ssrf.IPNetwork],
    ) -> tuple[Saved[WebhookEndpoint], str]:
        """Register an endpoint of one RRC; returns it with its new secret (shown once)."""
        facility = self.facilities.facility(facility_code)
        if facility.kind is not FacilityKind.RRC:
            raise RuleViolation(
                f"facility {facility_code} is not an RRC; a webhook endpoint serves one RRC",
                code="facility_wrong_kind",
            )
        endpoint = WebhookEndpoint.create(
            url=url,
            facility_code=facility_code,
            event_types=event_types,
            description=description,
            enabled=enabled,
            rate_limit=rate_limit,
        )
        check_target(url, allowed)
        secret = signing.new_secret()
        saved = self.ledger.record(
            endpoint, command, side_effects=[self._registry(endpoint, secret=secret)]
        )
        return saved, secret

    def update_endpoint(
        self,
        command: Command,
        endpoint_id: UUID,
        *,
        url: str | None,
        event_types: list[str] | None,
        description: str | None,
        rate_limit: float | None,
        clear_rate_limit: bool,
        allowed: Sequence[ssrf.IPNetwork],
    ) -> Saved[WebhookEndpoint]:
        """Change an endpoint's URL, subscribed types, description or rate limit."""
        endpoint = self.endpoint(endpoint_id)
        endpoint.update(
            url=url,
            event_types=event_types,
            description=description,
            rate_limit=rate_limit,
            clear_rate_limit=clear_rate_limit,
        )
        if url is not None:
            check_target(url, allowed)
        return self.ledger.record(endpoint, command, side_effects=[self._registry(endpoint)])

    def set_endpoint_enabled(
        self,
        command: Command,
        endpoint_id: UUID,
        enabled: bool,
        *,
        reason: DisableReason = DisableReason.MANUAL,
        detail: str = "",
    ) -> Saved[WebhookEndpoint]:
        """Enable or disable an endpoint (the dispatcher disables on 410 and 5 days failing)."""
        endpoint = self.endpoint(endpoint_id)
        if enabled:
            endpoint.enable()
        else:
            endpoint.disable(reason, detail)
        return self.ledger.record(endpoint, command, side_effects=[self._registry(endpoint)])

    def rotate_endpoint_secret(
        self, command: Command, endpoint_id: UUID
    ) -> tuple[Saved[WebhookEndpoint], str]:
        """A new secret; the previous one keeps signing beside it for 24 hours."""
        endpoint = self.endpoint(endpoint_id)
        at = utcnow()
        endpoint.rotate_secret(at)
        secret = signing.new_secret()
        saved = self.ledger.record(
            endpoint,
            command,
            side_effects=[self._registry(endpoint, secret=secret, rotated_at=at)],
        )
        return saved, secret

    def endpoint_secret(self, endpoint_id: UUID, version: int) -> str | None:
        row = self.ledger.db.fetchone(
            sql.SQL(
                "SELECT secret FROM {}.webhook_secrets WHERE endpoint_id = %s AND version = %s"
            ).format(sql.Identifier(self.ledger.schema)),
            (endpoint_id, version),
        )
        return None if row is None else str(row[0])
