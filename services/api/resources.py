"""`/v1/grantees/{grantee}/resources`: the grantee's directory of local resources."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.di import Provide

from domain.resources import Contact, Resource, ResourceCategory
from projections.referrals import directory
from services.api import views
from services.api.context import Tenant, action, provide_tenant, tenant_command
from services.api.docs import body, problems
from services.api.params import FIRST_UUID, LIMIT_DEFAULT, Limit, MinPosition, UuidCursor
from services.api.referrals import ContactLine, Name, ReasonIn, Text


class ContactIO(msgspec.Struct, forbid_unknown_fields=True):
    phone: ContactLine = ""
    email: ContactLine = ""
    address: ContactLine = ""
    website: ContactLine = ""


class ResourceIn(msgspec.Struct, forbid_unknown_fields=True):
    name: Name
    category: ResourceCategory
    description: Text = ""
    contact: ContactIO = msgspec.field(default_factory=ContactIO)
    requires_case_manager: bool = False


class ResourceChangeIn(msgspec.Struct, forbid_unknown_fields=True):
    name: Name
    description: Text = ""
    contact: ContactIO = msgspec.field(default_factory=ContactIO)
    requires_case_manager: bool = False


class ResourceOut(msgspec.Struct, omit_defaults=True):
    id: UUID
    name: str
    category: ResourceCategory
    description: str
    contact: ContactIO
    requires_case_manager: bool
    withdrawn: bool
    referrals: int | None = None
    connected: int | None = None
    version: int | None = None
    position: int | None = None


class ResourcePage(msgspec.Struct):
    items: list[ResourceOut]
    next_cursor: str | None


def render_resource(r: Resource, position: int) -> ResourceOut:
    """The directory entry as the API shows it."""
    c = r.contact
    return ResourceOut(
        id=r.id,
        name=r.name,
        category=r.category,
        description=r.description,
        contact=ContactIO(c.phone, c.email, c.address, c.website),
        requires_case_manager=r.requires_case_manager,
        withdrawn=r.withdrawn,
        version=r.version,
        position=position or None,
    )


def _contact(c: ContactIO) -> Contact:
    return Contact(phone=c.phone, email=c.email, address=c.address, website=c.website)


RESOURCE_EXAMPLE = {
    "name": "Second Chance Staffing",
    "category": "job_placement",
    "description": "fair-chance employer network; walk-ins Tuesdays",
    "contact": {"phone": "555-0142", "address": "12 Main St"},
}


class ResourceController(Controller):
    path = "/v1/grantees/{grantee:str}"
    tags = ("resources and referrals",)
    dependencies = {"tenant": Provide(provide_tenant, sync_to_thread=False)}

    def _resource_cmd(
        self, request: Request[Any, Any, Any], tenant: Tenant, data: Any, execute: Any
    ) -> Response[ResourceOut]:
        return tenant_command(request, tenant, data, execute, render_resource, status=201)

    @post(
        "/resources",
        opt=action("resources.write"),
        sync_to_thread=True,
        status_code=201,
        responses=problems((422, "missing_name", "a resource has a name")),
    )
    def list_resource(
        self,
        request: Request[Any, Any, Any],
        tenant: Tenant,
        data: Annotated[ResourceIn, body("a fair-chance job placement service", RESOURCE_EXAMPLE)],
    ) -> Response[ResourceOut]:
        """Add a local resource (job placement, recovery, housing, ID documents, legal aid...) to
        the grantee's directory; `requires_case_manager` marks case-management work, which a peer
        mentor hands to a case manager."""
        return self._resource_cmd(
            request,
            tenant,
            data,
            lambda cmd: tenant.app.referrals.list_resource(
                cmd,
                name=data.name,
                category=data.category,
                description=data.description,
                contact=_contact(data.contact),
                requires_case_manager=data.requires_case_manager,
            ),
        )

    @get("/resources", opt=action("resources.read"), sync_to_thread=True, responses=problems())
    def directory(
        self,
        request: Request[Any, Any, Any],
        tenant: Tenant,
        limit: Limit = LIMIT_DEFAULT,
        cursor: UuidCursor = "",
        category: ResourceCategory | None = None,
        include_withdrawn: bool = False,
        min_position: MinPosition = None,
    ) -> ResourcePage:
        """The resource directory, by category, with how many referrals each received and how
        many connected."""
        db = tenant.tenancy.db
        wait = request.app.state.settings.view_wait_max
        t = views.tables(db, tenant.info.schema, "referrals", min_position, wait)
        entries, nxt = directory(
            db,
            t,
            after=cursor or FIRST_UUID,
            limit=limit,
            category=category,
            include_withdrawn=include_withdrawn,
        )
        return ResourcePage(
            [msgspec.convert(e, ResourceOut, from_attributes=True) for e in entries], nxt
        )

    @get(
        "/resources/{resource_id:uuid}",
        opt=action("resources.read"),
        sync_to_thread=True,
        responses=problems(),
    )
    def get_resource(self, tenant: Tenant, resource_id: UUID) -> ResourceOut:
        """A directory entry as the log has it now."""
        return render_resource(tenant.app.referrals.resource(resource_id), 0)

    @post(
        "/resources/{resource_id:uuid}/changes",
        opt=action("resources.write"),
        sync_to_thread=True,
        status_code=201,
        responses=problems(
            (422, "resource_withdrawn", "the resource was withdrawn from the directory")
        ),
    )
    def change_resource(
        self,
        request: Request[Any, Any, Any],
        tenant: Tenant,
        resource_id: UUID,
        data: ResourceChangeIn,
    ) -> Response[ResourceOut]:
        """Replace a directory entry's details (name, description, contact, case-manager need);
        the body is the entry as it should now read, omitted fields taking their defaults."""
        return self._resource_cmd(
            request,
            tenant,
            data,
            lambda cmd: tenant.app.referrals.update_resource(
                cmd,
                resource_id,
                name=data.name,
                description=data.description,
                contact=_contact(data.contact),
                requires_case_manager=data.requires_case_manager,
            ),
        )

    @post(
        "/resources/{resource_id:uuid}/withdrawal",
        opt=action("resources.write"),
        sync_to_thread=True,
        status_code=201,
        responses=problems(
            (422, "resource_withdrawn", "the resource was withdrawn from the directory"),
            (422, "reason_required", "a withdrawal states its reason"),
        ),
    )
    def withdraw_resource(
        self, request: Request[Any, Any, Any], tenant: Tenant, resource_id: UUID, data: ReasonIn
    ) -> Response[ResourceOut]:
        """Withdraw a resource from the directory; no new referral can name it."""
        return self._resource_cmd(
            request,
            tenant,
            data,
            lambda cmd: tenant.app.referrals.withdraw_resource(cmd, resource_id, data.reason),
        )
