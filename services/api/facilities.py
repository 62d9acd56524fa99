"""`/v1/grantees/{grantee}/facilities` and `/cohorts`."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.di import Provide

from domain.facilities import Cohort, Facility, FacilityKind
from projections.directory import CohortRow, cohort_page, facility_page
from services.api import text, views
from services.api.context import Tenant, action, provide_tenant, tenant_command
from services.api.docs import body
from services.api.params import LIMIT_DEFAULT, Code, Cursor, Limit, MinPosition

Name = Annotated[text.Name, msgspec.Meta(min_length=1, max_length=200)]


class FacilityIn(msgspec.Struct, forbid_unknown_fields=True):
    code: Code
    name: Name
    kind: FacilityKind


class FacilityOut(msgspec.Struct, omit_defaults=True):
    code: str
    name: str
    kind: FacilityKind
    position: int | None = None
    registered_at: datetime | None = None


class FacilityPage(msgspec.Struct):
    items: list[FacilityOut]
    next_cursor: str | None


class CohortIn(msgspec.Struct, forbid_unknown_fields=True):
    code: Code
    facility: Code
    start_date: date
    name: Annotated[text.Name, msgspec.Meta(max_length=200)] = ""


class GraduationIn(msgspec.Struct, forbid_unknown_fields=True):
    graduated_on: date


class ClassPeriodOut(msgspec.Struct):
    """A weekly class period, in the grantee's local time (weekday 1 = Monday)."""

    weekday: int
    start: str
    end: str


class CohortOut(CohortRow):
    position: int | None = None
    # The weekly class periods stage-1 mentoring avoids (`POST …/class-hours`), as the cohort's
    # own read and its commands answer it; null in the list, which the directory view answers.
    class_hours: list[ClassPeriodOut] | None = None


class CohortPage(msgspec.Struct):
    items: list[CohortOut]
    next_cursor: str | None


def render_facility(f: Facility, position: int) -> FacilityOut:
    """A facility as a command answers it."""
    return FacilityOut(f.code, f.name, f.kind, position=position)


def render_cohort(c: Cohort, position: int) -> CohortOut:
    """A cohort as a command or a read by code answers it."""
    periods = [
        ClassPeriodOut(p.weekday, f"{p.start:%H:%M}", f"{p.end:%H:%M}") for p in c.class_hours
    ]
    return CohortOut(
        c.code, c.name, c.facility_code, c.start_date, c.graduated_on, position, periods
    )


TENANT = {"tenant": Provide(provide_tenant, sync_to_thread=False)}


class FacilityController(Controller):
    path = "/v1/grantees/{grantee:str}"
    tags = ["facilities and cohorts"]
    dependencies = TENANT

    @post("/facilities", opt=action("facilities.write"), sync_to_thread=True, status_code=201)
    def register_facility(
        self,
        request: Request[Any, Any, Any],
        tenant: Tenant,
        data: Annotated[
            FacilityIn,
            body(
                "a Residential Reentry Center",
                {"code": "RRC-N1", "name": "Northside RRC", "kind": "rrc"},
            ),
        ],
    ) -> Response[FacilityOut]:
        """Register a BOP institution or a Residential Reentry Center under a unique code."""
        return tenant_command(
            request,
            tenant,
            data,
            lambda cmd: tenant.app.facilities.register_facility(
                cmd, code=data.code, name=data.name, kind=data.kind
            ),
            render_facility,
            status=201,
        )

    @get("/facilities", opt=action("facilities.read"), sync_to_thread=True)
    def list_facilities(
        self,
        request: Request[Any, Any, Any],
        tenant: Tenant,
        limit: Limit = LIMIT_DEFAULT,
        cursor: Cursor = "",
        kind: FacilityKind | None = None,
        min_position: MinPosition = None,
    ) -> FacilityPage:
        """List facilities in code order, optionally of one kind."""
        db = tenant.tenancy.db
        t = views.tables(
            db,
            tenant.info.schema,
            "directory",
            min_position,
            request.app.state.settings.view_wait_max,
        )
        rows, nxt = facility_page(db, t, after=cursor, limit=limit, kind=kind)
        return FacilityPage(msgspec.convert(rows, list[FacilityOut], from_attributes=True), nxt)

    @get("/facilities/{code:str}", opt=action("facilities.read"), sync_to_thread=True)
    def get_facility(self, tenant: Tenant, code: str) -> FacilityOut:
        """One facility, from its event history."""
        f = tenant.app.facilities.facility(code)
        return FacilityOut(f.code, f.name, f.kind, registered_at=f.created_on)

    @post("/cohorts", opt=action("facilities.write"), sync_to_thread=True, status_code=201)
    def start_cohort(
        self,
        request: Request[Any, Any, Any],
        tenant: Tenant,
        data: Annotated[
            CohortIn,
            body(
                "a spring class",
                {"code": "NC-2026A", "facility": "FCI-N1", "start_date": "2026-01-12"},
            ),
        ],
    ) -> Response[CohortOut]:
        """Start a cohort (a class) at a BOP institution."""
        return tenant_command(
            request,
            tenant,
            data,
            lambda cmd: tenant.app.facilities.start_cohort(
                cmd,
                code=data.code,
                name=data.name,
                facility_code=data.facility,
                start_date=data.start_date,
            ),
            render_cohort,
            status=201,
        )

    @post(
        "/cohorts/{code:str}/graduation",
        opt=action("facilities.write"),
        sync_to_thread=True,
        status_code=200,
    )
    def graduate_cohort(
        self, request: Request[Any, Any, Any], tenant: Tenant, code: str, data: GraduationIn
    ) -> Response[CohortOut]:
        """Record the date a cohort graduated."""
        return tenant_command(
            request,
            tenant,
            data,
            lambda cmd: tenant.app.facilities.graduate_cohort(cmd, code=code, on=data.graduated_on),
            render_cohort,
        )

    @get("/cohorts", opt=action("facilities.read"), sync_to_thread=True)
    def list_cohorts(
        self,
        request: Request[Any, Any, Any],
        tenant: Tenant,
        limit: Limit = LIMIT_DEFAULT,
        cursor: Cursor = "",
        facility: str | None = None,
        min_position: MinPosition = None,
    ) -> CohortPage:
        """List cohorts in code order, optionally at one facility."""
        db = tenant.tenancy.db
        t = views.tables(
            db,
            tenant.info.schema,
            "directory",
            min_position,
            request.app.state.settings.view_wait_max,
        )
        rows, nxt = cohort_page(db, t, after=cursor, limit=limit, facility=facility)
        return CohortPage(msgspec.convert(rows, list[CohortOut], from_attributes=True), nxt)

    @get("/cohorts/{code:str}", opt=action("facilities.read"), sync_to_thread=True)
    def get_cohort(self, tenant: Tenant, code: str) -> CohortOut:
        """One cohort, from its event history, with its weekly class hours."""
        return render_cohort(tenant.app.facilities.cohort(code), 0)
