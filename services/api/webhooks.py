"""`/v1/grantees/{grantee}/webhook-endpoints`: endpoints of RRC systems.

Configuration changes are events of the endpoint in the grantee's log (domain/webhooks.py);
the secret is shown once, in the answer that created it (creation, rotation), and is never
readable again. The registry is read through services/webhooks/queries.py; an endpoint's
deliveries and attempts are served by services/api/webhook_deliveries.py; what the routes
accept and answer is in services/api/webhook_schemas.py.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any
from uuid import UUID

from litestar import Controller, Request, Response, get, post
from litestar.di import Provide

from domain.webhooks import WebhookEndpoint
from projections.query import check_cursor
from services.api.context import Tenant, action, provide_tenant, tenant_command
from services.api.docs import body, problems
from services.api.params import FIRST_UUID, LIMIT_DEFAULT, Limit
from services.api.webhook_deliveries import WebhookDeliveryController, found_endpoint
from services.api.webhook_schemas import (
    ENDPOINT_EXAMPLE,
    ENDPOINT_RULES,
    NOT_FOUND,
    EndpointChange,
    EndpointIn,
    EndpointPage,
)
from services.settings import Settings
from services.store.ledger import Command, Saved
from services.webhooks import queries, ssrf
from services.webhooks.queries import EndpointOut


def _allowed(request: Request[Any, Any, Any]) -> tuple[ssrf.IPNetwork, ...]:
    settings: Settings = request.app.state.settings
    return ssrf.parse_networks(settings.webhook_allowed_networks)


def _render(secret: list[str]) -> Callable[[WebhookEndpoint, int], EndpointOut]:
    def render(e: WebhookEndpoint, position: int) -> EndpointOut:
        return EndpointOut(
            id=e.id,
            url=e.url,
            facility=e.facility_code,
            event_types=list(e.event_types),
            description=e.description,
            enabled=e.enabled,
            secret_version=e.secret_version,
            disabled_reason=None if e.disabled_reason is None else e.disabled_reason.value,
            rate_limit=e.rate_limit,
            created_at=e.created_on,
            position=position or None,
            secret=secret[0] if secret else None,
        )

    return render


class WebhookController(Controller):
    path = "/v1/grantees/{grantee:str}/webhook-endpoints"
    tags = ["webhooks"]
    dependencies = {"tenant": Provide(provide_tenant, sync_to_thread=False)}

    @post(
        "/",
        opt=action("webhooks.write"),
        sync_to_thread=True,
        status_code=201,
        responses=problems(*ENDPOINT_RULES),
    )
    def create(
        self,
        request: Request[Any, Any, Any],
        tenant: Tenant,
        data: Annotated[EndpointIn, body("an endpoint of an RRC's system", ENDPOINT_EXAMPLE)],
    ) -> Response[EndpointOut]:
        """Register the endpoint of one RRC's system: its URL (checked on the resolved address:
        no private, loopback, link-local, multicast or reserved targets), the RRC it serves, the
        event types it receives (`meeting.scheduled`, `meeting.held`, `meeting.missed`,
        `meeting.cancelled`, `meeting.amended`, `participant.arrived_at_rrc`,
        `participant.left_rrc`, `participant.exited`, `pairing.opened`, `pairing.closed`), a
        description, whether it starts enabled and an optional rate limit (deliveries per
        second). The answer carries the signing secret `whsec_…` ONCE; store it now."""
        secret: list[str] = []
        allowed = _allowed(request)

        def execute(c: Command) -> Saved[WebhookEndpoint]:
            saved, new = tenant.app.webhooks.create_endpoint(
                c,
                url=data.url,
                facility_code=data.facility,
                event_types=list(data.event_types),
                description=data.description,
                enabled=data.enabled,
                rate_limit=data.rate_limit,
                allowed=allowed,
            )
            secret.append(new)
            return saved

        def render(e: WebhookEndpoint, position: int) -> EndpointOut:
            if not secret:  # an idempotent replay: the same caller, the same answer
                found = tenant.app.webhooks.endpoint_secret(e.id, 1)
                if found:
                    secret.append(found)
            return _render(secret)(e, position)

        return tenant_command(request, tenant, data, execute, render, status=201)

    @get("/", opt=action("webhooks.read"), sync_to_thread=True, responses=problems())
    def list_endpoints(
        self, tenant: Tenant, cursor: str | None = None, limit: Limit = LIMIT_DEFAULT
    ) -> EndpointPage:
        """The grantee's webhook endpoints (never their secrets), with their health: failing
        since when, last success. Keyset pages by id."""
        after = cursor or FIRST_UUID
        check_cursor(after, "uuid")
        items, nxt = queries.endpoints(
            tenant.tenancy.db, tenant.info.schema, after=UUID(after), limit=limit
        )
        return EndpointPage(items, None if nxt is None else str(nxt))

    @get(
        "/{endpoint_id:uuid}",
        opt=action("webhooks.read"),
        sync_to_thread=True,
        responses=problems(*NOT_FOUND),
    )
    def get_endpoint(self, tenant: Tenant, endpoint_id: UUID) -> EndpointOut:
        """One webhook endpoint (never its secret)."""
        return found_endpoint(tenant, endpoint_id)

    @post(
        "/{endpoint_id:uuid}",
        opt=action("webhooks.write"),
        sync_to_thread=True,
        status_code=200,
        responses=problems(*NOT_FOUND, *ENDPOINT_RULES),
    )
    def update(
        self,
        request: Request[Any, Any, Any],
        tenant: Tenant,
        endpoint_id: UUID,
        data: Annotated[
            EndpointChange,
            body("subscribe to more types", {"event_types": ["meeting.held", "pairing.opened"]}),
        ],
    ) -> Response[EndpointOut]:
        """Change an endpoint's URL (checked again), subscribed event types, description or
        rate limit (`clear_rate_limit` removes it). Fields left out stay as they are."""
        allowed = _allowed(request)
        return tenant_command(
            request,
            tenant,
            data,
            lambda c: tenant.app.webhooks.update_endpoint(
                c,
                endpoint_id,
                url=data.url,
                event_types=None if data.event_types is None else list(data.event_types),
                description=data.description,
                rate_limit=data.rate_limit,
                clear_rate_limit=data.clear_rate_limit,
                allowed=allowed,
            ),
            _render([]),
        )

    @post(
        "/{endpoint_id:uuid}/disable",
        opt=action("webhooks.write"),
        sync_to_thread=True,
        status_code=200,
        responses=problems(*NOT_FOUND),
    )
    def disable(
        self, request: Request[Any, Any, Any], tenant: Tenant, endpoint_id: UUID
    ) -> Response[EndpointOut]:
        """Stop deliveries to the endpoint. New events are not queued for it while disabled;
        deliveries already queued wait and resume when it is enabled again."""
        return tenant_command(
            request,
            tenant,
            None,
            lambda c: tenant.app.webhooks.set_endpoint_enabled(c, endpoint_id, False),
            _render([]),
        )

    @post(
        "/{endpoint_id:uuid}/enable",
        opt=action("webhooks.write"),
        sync_to_thread=True,
        status_code=200,
        responses=problems(*NOT_FOUND),
    )
    def enable(
        self, request: Request[Any, Any, Any], tenant: Tenant, endpoint_id: UUID
    ) -> Response[EndpointOut]:
        """Resume deliveries to the endpoint (also after the dispatcher disabled it)."""
        return tenant_command(
            request,
            tenant,
            None,
            lambda c: tenant.app.webhooks.set_endpoint_enabled(c, endpoint_id, True),
            _render([]),
        )

    @post(
        "/{endpoint_id:uuid}/rotate-secret",
        opt=action("webhooks.write"),
        sync_to_thread=True,
        status_code=200,
        responses=problems(*NOT_FOUND),
    )
    def rotate(
        self, request: Request[Any, Any, Any], tenant: Tenant, endpoint_id: UUID
    ) -> Response[EndpointOut]:
        """Rotate the signing secret. The answer carries the new secret ONCE; for 24 hours
        every message is signed with both the old and the new secret (`webhook-signature`
        holds both `v1,…` values), then with the new one only."""
        secret: list[str] = []

        def execute(c: Command) -> Saved[WebhookEndpoint]:
            saved, new = tenant.app.webhooks.rotate_endpoint_secret(c, endpoint_id)
            secret.append(new)
            return saved

        def render(e: WebhookEndpoint, position: int) -> EndpointOut:
            if not secret:
                found = tenant.app.webhooks.endpoint_secret(e.id, e.secret_version)
                if found:
                    secret.append(found)
            return _render(secret)(e, position)

        return tenant_command(request, tenant, None, execute, render)


ROUTES: list[Any] = [WebhookController, WebhookDeliveryController]
