"""What the webhook dispatcher asks of the use cases: the grantees to serve, and disabling an
endpoint (410 Gone, failing for 5 days) by an event in its grantee's log, so the change is
audited and shows in the grantee's alerts like any other."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

import structlog

from domain import common
from domain.common import DomainError
from domain.webhooks import DisableReason
from services.app.tenancy import Tenancy
from services.store.ledger import Command
from services.store.schema import grantee_schema
from services.webhooks.dispatcher import ACTOR

log = structlog.get_logger("prowd.webhooks")


@dataclass
class Dispatching:
    tenancy: Tenancy

    def schemas(self) -> list[str]:
        """Every grantee's schema (each has its own delivery queue)."""
        return [grantee_schema(g.slug) for g in self.tenancy.grantees(limit=100_000)]

    def disable(self, schema: str, endpoint_id: UUID, reason: DisableReason, detail: str) -> None:
        """Disable the endpoint through its aggregate, as the dispatcher's own actor."""
        slug = schema.removeprefix("g_")
        common.actor.set(ACTOR)
        common.request_id.set("")
        common.grantee.set(slug)
        app = self.tenancy.app(slug)
        for _ in range(3):
            try:
                app.webhooks.set_endpoint_enabled(
                    Command(), endpoint_id, False, reason=reason, detail=detail
                )
                log.warning("webhook_endpoint_disabled", grantee=slug, reason=reason.value)
                return
            except DomainError:
                continue  # a concurrent change of the endpoint: reload and retry
