"""`/v1/grantees/{grantee}/cohorts/{code}/class-hours`: a cohort's weekly class periods, which
stage-1 mentoring avoids (listed with the meetings)."""

from __future__ import annotations

from datetime import time
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, post
from litestar.di import Provide

from domain.facilities import ClassSlot
from services.api.context import Tenant, action, provide_tenant, tenant_command
from services.api.docs import body, problems
from services.api.facilities import CohortOut, render_cohort

ClockTime = Annotated[
    str, msgspec.Meta(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$(?![\n])", examples=["09:00"])
]


class SlotIn(msgspec.Struct, forbid_unknown_fields=True):
    weekday: Annotated[int, msgspec.Meta(ge=1, le=7)]
    start: ClockTime
    end: ClockTime


class ClassHoursIn(msgspec.Struct, forbid_unknown_fields=True):
    slots: Annotated[list[SlotIn], msgspec.Meta(max_length=50)]


_EXAMPLE = {
    "slots": [
        {"weekday": 2, "start": "09:00", "end": "12:00"},
        {"weekday": 4, "start": "09:00", "end": "11:30"},
    ]
}


class ClassHoursController(Controller):
    path = "/v1/grantees/{grantee:str}"
    tags = ["meetings"]
    dependencies = {"tenant": Provide(provide_tenant, sync_to_thread=False)}

    @post(
        "/cohorts/{code:str}/class-hours",
        opt=action("facilities.write"),
        sync_to_thread=True,
        status_code=201,
        responses=problems(
            (422, "invalid_class_hours", "a class period ends after it starts"),
            (
                422,
                "overlapping_class_hours",
                "class periods 09:00-12:00 and 11:00-13:00 on weekday 1 overlap; make them one "
                "period or move one",
            ),
        ),
    )
    def class_hours(
        self,
        request: Request[Any, Any, Any],
        tenant: Tenant,
        code: str,
        data: Annotated[ClassHoursIn, body("two mornings a week", _EXAMPLE)],
    ) -> Response[CohortOut]:
        """Set a cohort's weekly class periods (grantee-local time, weekday 1 = Monday); stage-1
        meetings during them are refused or flagged, as the program policy says."""
        slots = [
            ClassSlot(s.weekday, time.fromisoformat(s.start), time.fromisoformat(s.end))
            for s in data.slots
        ]
        return tenant_command(
            request,
            tenant,
            data,
            lambda cmd: tenant.app.facilities.set_class_hours(cmd, code, slots),
            render_cohort,
            status=201,
        )
