"""`/v1/grantees/{grantee}/staff`: the staff members the grantee's records know, for pickers
(decision 114). Staff identities live with the identity provider; this is no registry, only
everyone ever assigned as a case manager or coordinator and what they hold now."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Request, get
from litestar.di import Provide
from litestar.params import Parameter

from projections.assignments import StaffRow, staff_page
from services.api import views
from services.api.context import Tenant, action, provide_tenant
from services.api.docs import problems
from services.api.params import LIMIT_DEFAULT, Limit, MinPosition

# A subject is up to 200 characters (the assignment's `staff`), and the cursor is one.
SubjectCursor = Annotated[
    str, Parameter(max_length=200, description="`next_cursor` of the previous page")
]


class StaffPage(msgspec.Struct):
    items: list[StaffRow]
    next_cursor: str | None


@get(
    "/v1/grantees/{grantee:str}/staff",
    opt=action("staff.read"),
    sync_to_thread=True,
    tags=["staff"],
    dependencies={"tenant": Provide(provide_tenant, sync_to_thread=False)},
    responses=problems((400, "invalid_cursor", "the cursor is not one this list handed out")),
)
def list_staff(
    request: Request[Any, Any, Any],
    tenant: Tenant,
    limit: Limit = LIMIT_DEFAULT,
    cursor: SubjectCursor = "",
    min_position: MinPosition = None,
) -> StaffPage:
    """The staff members the grantee's records know, in subject order: everyone ever assigned
    as a participant's case manager or coordinator, with how many participants they hold now
    in each duty. Identities live with the identity provider, so someone who has only signed
    in is not listed until first assigned."""
    t = views.tables(
        tenant.tenancy.db,
        tenant.info.schema,
        "assignments",
        min_position,
        request.app.state.settings.view_wait_max,
    )
    rows, nxt = staff_page(tenant.tenancy.db, t, after=cursor, limit=limit)
    return StaffPage(rows, nxt)


ROUTES: list[Any] = [list_staff]
