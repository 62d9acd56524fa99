"""`/v1/grantees/{grantee}/audit/verification`: is the log intact?"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import get
from litestar.di import Provide

from services.api.context import Tenant, action, provide_tenant
from services.api.docs import problems
from services.audit import verify


class VerificationOut(msgspec.Struct):
    intact: bool
    checked: int
    head: int
    first_bad_position: int | None
    problem: str


@get(
    "/v1/grantees/{grantee:str}/audit/verification",
    opt=action("audit.verify"),
    sync_to_thread=True,
    tags=["audit"],
    responses=problems(),
    dependencies={"tenant": Provide(provide_tenant, sync_to_thread=False)},
)
def verification(tenant: Tenant) -> VerificationOut:
    """Recompute the grantee's hash chain over every stored event, as `prowd verify` does:
    `intact` is false when a stored record was altered, deleted, inserted or moved behind the
    service's back, and `first_bad_position` names where."""
    v = verify(tenant.tenancy.db, tenant.info.schema)
    return VerificationOut(v.intact, v.checked, v.head, v.first_bad_position, v.problem)


ROUTES: list[Any] = [verification]
