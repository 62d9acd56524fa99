"""`/v1/grantees/{grantee}/alerts`: everything that needs a coordinator's attention, in one list
(computed by the alerts use case, services/app/alerts.py)."""

from __future__ import annotations

from typing import Any

from litestar import Request, get
from litestar.di import Provide

from services.api import views
from services.api.context import Tenant, action, provide_tenant
from services.api.docs import problems
from services.api.params import AssignedTo, MinPosition, me
from services.app.alerts import AlertList, Kind


@get(
    "/v1/grantees/{grantee:str}/alerts",
    opt=action("alerts.read"),
    sync_to_thread=True,
    tags=["alerts"],
    dependencies={"tenant": Provide(provide_tenant, sync_to_thread=False)},
    responses=problems(),
)
def alerts(
    request: Request[Any, Any, Any],
    tenant: Tenant,
    kind: Kind | None = None,
    assigned_to: AssignedTo = None,
    min_position: MinPosition = None,
) -> AlertList:
    """The grantee's alerts: pairings that missed their weekly cadence, overdue SMART goals,
    crisis escalations open for more than 24 hours, volunteer clearances expiring within 30 days
    and mentors without a debrief in 30 days; for the grantee's admins and coordinators also
    disabled webhook endpoints and projection faults (an event a view could not take as it was:
    its text made storable, or its write refused and skipped). Crises and debriefs are
    supervision records: the roles that read them (admins, coordinators) see every one; a case
    manager sees no debrief and only the crises about the participants whose case manager or
    coordinator they are (as `assigned_to=me` reads it), each with the participant, severity,
    how long it has been open and who holds it (the coordinators, or the one who acknowledged
    it), never the mentor, what was raised or the coordinator's notes (decision 129). Filter
    with `kind`; `assigned_to` keeps the alerts about the participants (and their pairings)
    whose case manager or coordinator that subject is (`me`: the caller)."""
    db, schema = tenant.tenancy.db, tenant.info.schema
    wait = request.app.state.settings.view_wait_max
    return tenant.app.alerts.alerts(
        lambda view: views.tables(db, schema, view, min_position, wait),
        tenant.principal.roles,
        tenant.principal.subject,
        kind,
        me(tenant.principal.subject, assigned_to),
    )


ROUTES: list[Any] = [alerts]
