"""`/v1/grantees/{grantee}/api-keys`: keys for RRC systems, issued and revoked by the grantee
admin. A key authenticates as `rrc_staff` of this grantee and one RRC (services/identity/apikeys.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.di import Provide
from litestar.params import Parameter

from domain.apikeys import MAX_DESCRIPTION, ApiKey
from services.api.context import Tenant, action, provide_tenant, tenant_command
from services.api.docs import body, problems
from services.api.params import LIMIT_DEFAULT, Code, Limit
from services.api.problems import ProblemError
from services.api.text import FreeText, Line
from services.identity import apikeys


class ApiKeyIn(msgspec.Struct, forbid_unknown_fields=True):
    rrc: Code
    description: Annotated[Line, msgspec.Meta(min_length=1, max_length=MAX_DESCRIPTION)]


class RevokeIn(msgspec.Struct, forbid_unknown_fields=True):
    reason: Annotated[FreeText, msgspec.Meta(max_length=500)] = ""


class ApiKeyOut(msgspec.Struct):
    id: UUID
    rrc: str
    description: str
    created_at: datetime
    created_by: str
    revoked_at: datetime | None
    last_used_at: datetime | None


class IssuedKeyOut(msgspec.Struct):
    id: UUID
    rrc: str
    description: str
    created_at: datetime
    created_by: str
    # The key itself, shown in this response only; null in an idempotent replay.
    key: str | None
    position: int


class ApiKeyPage(msgspec.Struct):
    items: list[ApiKeyOut]
    next_cursor: str | None


TENANT = {"tenant": Provide(provide_tenant, sync_to_thread=False)}


def _out(record: apikeys.KeyRecord) -> ApiKeyOut:
    return ApiKeyOut(
        record.key_id,
        record.rrc,
        record.description,
        record.created_at,
        record.created_by,
        record.revoked_at,
        record.last_used_at,
    )


class ApiKeyController(Controller):
    path = "/v1/grantees/{grantee:str}"
    tags = ["RRC systems"]
    dependencies = TENANT

    @post(
        "/api-keys",
        opt=action("api_keys.write"),
        sync_to_thread=True,
        status_code=201,
        responses=problems(
            (422, "unknown_rrc", "no facility 'RRC-9' in this grantee"),
            (
                422,
                "facility_wrong_kind",
                "facility FCI-A is a bop_institution; API keys are for RRCs",
            ),
        ),
    )
    def issue_api_key(
        self,
        request: Request[Any, Any, Any],
        tenant: Tenant,
        data: Annotated[
            ApiKeyIn,
            body(
                "a key for an RRC's case system",
                {"rrc": "RRC-N1", "description": "Northside RRC resident tracking system"},
            ),
        ],
    ) -> Response[IssuedKeyOut]:
        """Issue an API key for the system of one of the grantee's RRCs. The response carries the
        key (`prowd_rk_...`) once; only its SHA-256 is stored, so it can never be shown again (a
        replay of the same `Idempotency-Key` answers with `key: null`). The RRC system sends it as
        `Authorization: Bearer <key>` and may then read that RRC's view only."""
        issued: dict[UUID, str] = {}

        def execute(cmd: Any) -> Any:
            saved, key = tenant.app.api_keys.issue_api_key(
                cmd, grantee=tenant.info.slug, rrc=data.rrc, description=data.description
            )
            issued[saved.aggregate.id] = key
            return saved

        def render(k: ApiKey, position: int) -> IssuedKeyOut:
            return IssuedKeyOut(
                k.id, k.rrc, k.description, k.issued_at, k.issued_by, issued.get(k.id), position
            )

        return tenant_command(request, tenant, data, execute, render, status=201)

    @get(
        "/api-keys",
        opt=action("api_keys.read"),
        sync_to_thread=True,
        responses=problems(),
    )
    def list_api_keys(
        self,
        tenant: Tenant,
        limit: Limit = LIMIT_DEFAULT,
        cursor: Annotated[
            UUID | None, Parameter(description="`next_cursor` of the previous page")
        ] = None,
    ) -> ApiKeyPage:
        """The grantee's RRC API keys in id order, revoked ones included, with when each was last
        used (to the minute). Never the key or its hash."""
        records, nxt = apikeys.key_records(
            tenant.tenancy.db, tenant.info.slug, after=cursor, limit=limit
        )
        return ApiKeyPage([_out(r) for r in records], str(nxt) if nxt else None)

    @post(
        "/api-keys/{key_id:uuid}/revoke",
        opt=action("api_keys.write"),
        sync_to_thread=True,
        status_code=200,
        responses=problems((422, "api_key_revoked", "the API key is already revoked")),
    )
    def revoke_api_key(
        self,
        request: Request[Any, Any, Any],
        tenant: Tenant,
        key_id: UUID,
        data: Annotated[
            RevokeIn | None, body("the RRC replaced its system", {"reason": "system replaced"})
        ] = None,
    ) -> Response[ApiKeyOut]:
        """Revoke an API key: every request bearing it is refused (401) from the moment this
        commits. Revocation is final; issue a new key instead. The body, an optional reason,
        may be left out."""
        command = data or RevokeIn()

        def render(k: ApiKey, position: int) -> ApiKeyOut:
            record = apikeys.key_record(tenant.tenancy.db, tenant.info.slug, k.id)
            if record is None:
                raise ProblemError(404, "not_found", "API key not found")
            return _out(record)

        return tenant_command(
            request,
            tenant,
            command,
            lambda cmd: tenant.app.api_keys.revoke_api_key(cmd, key_id, reason=command.reason),
            render,
        )


ROUTES: list[Any] = [ApiKeyController]
