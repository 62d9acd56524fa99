"""`/v1/grantees`: the platform's tenants (platform_admin)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from zoneinfo import available_timezones

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.di import Provide
from litestar.params import Parameter

from domain.common import RuleViolation
from domain.grantees import Grantee
from services.api.context import Tenant, action, provide_platform, provide_tenant, run_command
from services.api.docs import body
from services.api.params import LIMIT_DEFAULT, Limit
from services.api.problems import ProblemError
from services.api.text import Name
from services.app.tenancy import GranteeInfo, Tenancy
from services.identity.tokens import Principal
from services.store.ledger import Command, Saved

# The IANA zones this machine knows (`check_time_zone` accepts what `ZoneInfo` loads). msgspec
# cannot enforce an enumeration built at run time; the domain does, and the schema declares it
# (Litestar copies `extra_json_schema["extra"]` into the field's schema). A machine without a
# time zone database declares none rather than an empty enumeration.
_ZONES = sorted(available_timezones())
TimeZone = Annotated[
    str,
    msgspec.Meta(
        max_length=64,
        extra_json_schema={"extra": {"enum": _ZONES}} if _ZONES else None,
        examples=["America/New_York"],
    ),
]
Slug = Annotated[str, msgspec.Meta(pattern=r"^[a-z][a-z0-9_]{1,29}$", examples=["northside_works"])]


class GranteeIn(msgspec.Struct, forbid_unknown_fields=True):
    slug: Slug
    name: Annotated[Name, msgspec.Meta(min_length=1, max_length=200)]
    grant_number: Annotated[
        str, msgspec.Meta(pattern=r"^[A-Z0-9][A-Z0-9-]{3,39}$", examples=["FS-38211-22-60-A-17"])
    ]
    time_zone: TimeZone = "America/New_York"


class GranteeOut(msgspec.Struct, omit_defaults=True):
    slug: str
    name: str
    grant_number: str
    time_zone: str
    position: int | None = None
    created_at: datetime | None = None


class GranteePage(msgspec.Struct):
    items: list[GranteeOut]
    next_cursor: str | None


def _out(info: GranteeInfo) -> GranteeOut:
    return GranteeOut(
        info.slug, info.name, info.grant_number, info.time_zone, created_at=info.created_at
    )


def _render(g: Grantee, position: int) -> GranteeOut:
    return GranteeOut(g.slug, g.name, g.grant_number, g.time_zone, position=position)


# Where a client finds the time zones a grantee may have (docs/api.md, "Time zones").
ZONES_LISTED = "/schema/openapi.json#/components/schemas/GranteeIn/properties/time_zone/enum"


def _register(tenancy: Tenancy, cmd: Command, data: GranteeIn) -> Saved[Grantee]:
    """Register the grantee; an unknown time zone's 422 also says where the allowed ones are."""
    try:
        return tenancy.platform.registry.register_grantee(
            cmd,
            slug=data.slug,
            name=data.name,
            grant_number=data.grant_number,
            time_zone=data.time_zone,
        )
    except RuleViolation as e:
        if e.code != "invalid_time_zone":
            raise
        raise ProblemError(
            422,
            e.code,
            f"{e.detail}; the allowed names are listed at {ZONES_LISTED}",
            errors=[
                {
                    "message": "unknown time zone",
                    "key": "time_zone",
                    "source": "body",
                    "allowed": ZONES_LISTED,
                }
            ],
        ) from None


class GranteeController(Controller):
    path = "/v1/grantees"
    tags = ["grantees"]

    @post(
        "/",
        dependencies={"tenancy": Provide(provide_platform, sync_to_thread=False)},
        opt=action("grantees.create"),
        sync_to_thread=True,
        status_code=201,
        responses={},
    )
    def create_grantee(
        self,
        request: Request[Any, Any, Any],
        data: Annotated[
            GranteeIn,
            body(
                "a new grantee",
                {
                    "slug": "lakeshore",
                    "name": "Lakeshore Reentry",
                    "grant_number": "FS-40001-26-60-A-17",
                    "time_zone": "America/Chicago",
                },
            ),
        ],
        tenancy: Tenancy,
        principal: Principal,
    ) -> Response[GranteeOut]:
        """Register a grantee (tenant): creates its own event log in schema `g_<slug>`."""
        return run_command(
            request,
            tenancy.platform.ledger,
            principal,
            data,
            lambda cmd: _register(tenancy, cmd, data),
            _render,
            status=201,
        )

    @get(
        "/",
        dependencies={"tenancy": Provide(provide_platform, sync_to_thread=False)},
        opt=action("grantees.list"),
        sync_to_thread=True,
    )
    def list_grantees(
        self,
        tenancy: Tenancy,
        limit: Limit = LIMIT_DEFAULT,
        cursor: Annotated[str, Parameter(max_length=64)] = "",
    ) -> GranteePage:
        """List grantees in slug order; pass `next_cursor` back as `cursor` for the next page."""
        rows = tenancy.grantees(after=cursor, limit=limit + 1)
        more = len(rows) > limit
        rows = rows[:limit]
        return GranteePage([_out(r) for r in rows], rows[-1].slug if more else None)

    @get(
        "/{grantee:str}",
        dependencies={"tenant": Provide(provide_tenant, sync_to_thread=False)},
        opt=action("grantees.read"),
        sync_to_thread=True,
    )
    def get_grantee(self, tenant: Tenant) -> GranteeOut:
        """A grantee's profile."""
        return _out(tenant.info)
