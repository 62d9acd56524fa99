"""Which endpoints an event goes to: the endpoints' subscriptions, kept in log order by the
outbox consumer (an endpoint's change applies from the next event on)."""

from __future__ import annotations

from domain.common import ProwdAggregate
from domain.webhooks import WebhookEndpoint
from services.webhooks.batch import Batch, Route
from services.webhooks.handlers import Handlers

handlers = Handlers()


@handlers.handles(WebhookEndpoint.Created)
def _created(b: Batch, position: int, event: WebhookEndpoint.Created) -> None:
    b.add_route(
        event.originator_id,
        Route(event.facility_code, list(event.event_types), event.enabled, 0),
    )


@handlers.handles(WebhookEndpoint.Updated)
def _updated(b: Batch, position: int, event: WebhookEndpoint.Updated) -> None:
    route = b.routes.get(event.originator_id)
    if route is not None:
        route.event_types = list(event.event_types)
        route.changed = True


@handlers.handles(WebhookEndpoint.Disabled)
def _disabled(b: Batch, position: int, event: WebhookEndpoint.Disabled) -> None:
    _enable(b, event, False)


@handlers.handles(WebhookEndpoint.Enabled)
def _enabled(b: Batch, position: int, event: WebhookEndpoint.Enabled) -> None:
    _enable(b, event, True)


def _enable(b: Batch, event: ProwdAggregate.Event, on: bool) -> None:
    route = b.routes.get(event.originator_id)
    if route is not None:
        route.enabled = on
        route.changed = True
