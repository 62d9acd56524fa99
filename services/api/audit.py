"""`/v1/grantees/{grantee}/audit/verification`: is the log intact?"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, get
from litestar.di import Provide

from services.api.context import Tenant, action, provide_tenant
from services.api.docs import problems
from services.audit.checkpoints import AuditKey
from services.audit.verify import verify


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
def verification(request: Request[Any, Any, Any], tenant: Tenant) -> VerificationOut:
    """Recompute the grantee's hash chain over every stored event, as `prowd verify` does:
    `intact` is false when a stored record was altered, deleted, inserted or moved behind the
    service's back, and `first_bad_position` names where."""
    v = verify(tenant.tenancy.db, tenant.info.schema, key=request.app.state.audit_key)
    return VerificationOut(v.intact, v.checked, v.head, v.first_bad_position, v.problem)


class PublicKeyOut(msgspec.Struct):
    algorithm: str
    key_id: str
    public_key_pem: str


@get("/v1/audit/public-key", tags=["audit"], sync_to_thread=False)
def public_key(request: Request[Any, Any, Any]) -> PublicKeyOut:
    """The Ed25519 public key that signs every grantee's chain checkpoints. A checkpoint signs
    `prowd-checkpoint:<schema>:<position>:<chain hash hex>`. No token needed."""
    key: AuditKey = request.app.state.audit_key
    return PublicKeyOut("Ed25519", key.key_id, key.public_pem)


ROUTES: list[Any] = [verification, public_key]
