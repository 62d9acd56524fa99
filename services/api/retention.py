"""Records retention and legal holds: `/v1/grantees/{grantee}/retention`, `/legal-holds`, and
the platform-wide `/v1/retention` report (2 CFR 200.334)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any
from uuid import UUID

import msgspec
from litestar import Controller, Request, Response, get, post, put
from litestar.di import Provide
from litestar.params import Parameter

from domain.grantees import Grantee
from services.api.context import (
    Tenant,
    action,
    provide_platform,
    provide_tenant,
    run_command,
)
from services.api.docs import body, problems
from services.api.text import FreeText
from services.app.retention import RetentionRow, retention_rows
from services.app.tenancy import Tenancy

Reason = Annotated[FreeText, msgspec.Meta(min_length=1, max_length=1000)]


class RetentionIn(msgspec.Struct, forbid_unknown_fields=True):
    final_expenditure_report_on: date


class LegalHoldIn(msgspec.Struct, forbid_unknown_fields=True):
    reason: Reason
    # Omitted: the hold covers every record of the grantee.
    participant_id: UUID | None = None


class ReleaseIn(msgspec.Struct, forbid_unknown_fields=True):
    reason: Reason


class LegalHoldOut(msgspec.Struct):
    hold_id: UUID
    reason: str
    placed_on: date
    placed_by: str
    participant_id: UUID | None


class RetentionOut(msgspec.Struct):
    grantee: str
    final_expenditure_report_on: date | None
    retention_ends_on: date | None
    status: str
    legal_holds: list[LegalHoldOut]
    position: int | None = None


class RetentionReport(msgspec.Struct):
    items: list[RetentionOut]


def _out(row: RetentionRow, position: int | None = None) -> RetentionOut:
    return RetentionOut(
        grantee=row.slug,
        final_expenditure_report_on=row.final_report_on,
        retention_ends_on=row.retention_ends_on,
        status=row.status,
        legal_holds=[
            LegalHoldOut(h.hold_id, h.reason, h.placed_on, h.placed_by, h.participant_id)
            for h in row.holds
        ],
        position=position,
    )


def _render(tenant: Tenant) -> Any:
    def render(g: Grantee, position: int) -> RetentionOut:
        return _out(tenant.tenancy.platform.retention.retention_row(g.slug), position)

    return render


TENANT = {"tenant": Provide(provide_tenant, sync_to_thread=False)}


class RetentionController(Controller):
    """GET and PUT share a path: as a controller, Litestar registers both handlers once (two
    module-level handlers on one path get wrapped twice and lose their descriptions)."""

    path = "/v1/grantees/{grantee:str}/retention"

    @get(
        "/",
        opt=action("retention.read"),
        dependencies=TENANT,
        sync_to_thread=True,
        tags=["retention"],
        responses=problems(),
    )
    def read_retention(self, tenant: Tenant) -> RetentionOut:
        """The grantee's records retention: the final expenditure report date, the day retention
        ends (three years later, 2 CFR 200.334), the legal holds in force, and the status:
        `not_set`, `retaining`, `held` (past the end under a grantee-wide hold) or `due`."""
        return _out(tenant.tenancy.platform.retention.retention_row(tenant.info.slug))

    @put(
        "/",
        opt=action("retention.write"),
        dependencies=TENANT,
        sync_to_thread=True,
        tags=["retention"],
        responses=problems(
            (422, "date_in_future", "the final expenditure report date cannot be in the future"),
            (
                422,
                "date_before_registration",
                "the final expenditure report date is before the grantee was registered",
            ),
        ),
    )
    def set_retention(
        self,
        request: Request[Any, Any, Any],
        tenant: Tenant,
        data: Annotated[
            RetentionIn,
            body("the final report's date", {"final_expenditure_report_on": "2026-10-30"}),
        ],
    ) -> Response[RetentionOut]:
        """Record the date the final expenditure report was submitted; retention runs three years
        from it. Recorded as an event of the grantee in the platform log; setting it again (a
        correction) is another event."""
        platform = tenant.tenancy.platform
        return run_command(
            request,
            platform.ledger,
            tenant.principal,
            data,
            lambda cmd: platform.retention.set_retention(
                cmd, slug=tenant.info.slug, final_report_on=data.final_expenditure_report_on
            ),
            _render(tenant),
        )


@post(
    "/v1/grantees/{grantee:str}/legal-holds",
    opt=action("retention.write"),
    dependencies=TENANT,
    sync_to_thread=True,
    status_code=201,
    tags=["retention"],
    responses=problems((422, "missing_reason", "a legal hold needs a reason")),
)
def place_legal_hold(
    request: Request[Any, Any, Any],
    tenant: Tenant,
    data: Annotated[
        LegalHoldIn, body("a hold for an audit", {"reason": "OIG audit 2027-014 opened"})
    ],
) -> Response[RetentionOut]:
    """Place a legal hold (litigation, a claim, an audit): the grantee's records (or, with
    `participant_id`, one participant's) are kept past the end of retention, and erasing a
    participant they cover is refused with `legal_hold`."""
    if data.participant_id is not None:
        # 404 when there is no such participant.
        tenant.app.participants.participant(data.participant_id)
    platform = tenant.tenancy.platform
    return run_command(
        request,
        platform.ledger,
        tenant.principal,
        data,
        lambda cmd: platform.retention.place_legal_hold(
            cmd, slug=tenant.info.slug, reason=data.reason, participant_id=data.participant_id
        ),
        _render(tenant),
        status=201,
    )


@post(
    "/v1/grantees/{grantee:str}/legal-holds/{hold_id:uuid}/release",
    opt=action("retention.write"),
    dependencies=TENANT,
    sync_to_thread=True,
    tags=["retention"],
    responses=problems((404, "legal_hold_not_found", "no legal hold in force with that id")),
)
def release_legal_hold(
    request: Request[Any, Any, Any],
    tenant: Tenant,
    hold_id: UUID,
    data: Annotated[ReleaseIn, body("the audit closed", {"reason": "audit closed"})],
) -> Response[RetentionOut]:
    """Release a legal hold in force, with the reason."""
    platform = tenant.tenancy.platform
    return run_command(
        request,
        platform.ledger,
        tenant.principal,
        data,
        lambda cmd: platform.retention.release_legal_hold(
            cmd, slug=tenant.info.slug, hold_id=hold_id, reason=data.reason
        ),
        _render(tenant),
    )


@get(
    "/v1/retention",
    opt=action("retention.report"),
    dependencies={"tenancy": Provide(provide_platform, sync_to_thread=False)},
    sync_to_thread=True,
    tags=["retention"],
    responses=problems(),
)
def retention_report(
    tenancy: Tenancy,
    status: Annotated[
        str, Parameter(pattern="^(not_set|retaining|held|due)?$", description="only this status")
    ] = "",
) -> RetentionReport:
    """Every grantee's retention, as `prowd retention report` prints it; `status=due` lists
    only the grantees whose records may now be destroyed."""
    return RetentionReport([_out(row) for row in retention_rows(tenancy, status)])


ROUTES: list[Any] = [
    RetentionController,
    place_legal_hold,
    release_legal_hold,
    retention_report,
]
