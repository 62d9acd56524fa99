"""`/v1/grantees/{grantee}/pairings/{id}/cadence`: a pairing's weekly cadence compliance."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

import msgspec
from litestar import Controller, Request, get
from litestar.di import Provide
from litestar.params import Parameter

from domain.cadence import CadenceWeek
from services.api import views
from services.api.context import Tenant, action, provide_tenant
from services.api.pairings import check_own_pairing
from services.api.params import MinPosition


class WeekOut(CadenceWeek):
    pass


class CadenceOut(msgspec.Struct):
    pairing_id: UUID
    cadence: str
    time_zone: str
    weeks: list[WeekOut]


class CadenceController(Controller):
    path = "/v1/grantees/{grantee:str}"
    tags = ["meetings"]
    dependencies = {"tenant": Provide(provide_tenant, sync_to_thread=False)}

    @get("/pairings/{pairing_id:uuid}/cadence", opt=action("meetings.read"), sync_to_thread=True)
    def cadence(
        self,
        request: Request[Any, Any, Any],
        tenant: Tenant,
        pairing_id: UUID,
        weeks: Annotated[int, Parameter(ge=1, le=156, description="weeks to show")] = 12,
        min_position: MinPosition = None,
    ) -> CadenceOut:
        """Weekly cadence compliance of a pairing: per ISO week of the grantee's time zone,
        met, missed, excused (an excused cancellation) or pending (the current week)."""
        check_own_pairing(tenant, pairing_id, "meetings.read")
        wait = request.app.state.settings.view_wait_max
        report = tenant.app.meetings.cadence(
            pairing_id,
            weeks,
            lambda: views.tables(
                tenant.tenancy.db, tenant.info.schema, "meetings", min_position, wait
            ),
        )
        return CadenceOut(
            pairing_id,
            report.cadence.value,
            tenant.app.time_zone,
            msgspec.convert(report.weeks, list[WeekOut], from_attributes=True),
        )
