"""`/v1/grantees/{grantee}/resources` (the directory) and `/referrals`."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any
from uuid import UUID

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.di import Provide
from psycopg import sql

from domain.resources import (
    Contact,
    DeclinedBy,
    Referral,
    ReferralStatus,
    Resource,
    ResourceCategory,
)
from projections import query
from services.api import views
from services.api.context import Tenant, action, check_own_mentee, provide_tenant, tenant_command
from services.api.docs import body, problems
from services.api.params import FIRST_UUID, Limit, LongText, MinPosition, UuidCursor
from services.api.text import Line
from services.identity.access import only_own

Text = LongText
Name = Annotated[Line, msgspec.Meta(max_length=200)]


class ContactIO(msgspec.Struct, forbid_unknown_fields=True):
    phone: Name = ""
    email: Name = ""
    address: Name = ""
    website: Name = ""


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


class ReasonIn(msgspec.Struct, forbid_unknown_fields=True):
    reason: Text


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


class ReferralIn(msgspec.Struct, forbid_unknown_fields=True):
    participant_id: UUID
    resource_id: UUID
    need: Text
    meeting_id: UUID | None = None
    made_at: datetime | None = None
    case_manager: Name | None = None


class HandoverIn(msgspec.Struct, forbid_unknown_fields=True):
    case_manager: Name
    note: Text = ""


class ConnectionIn(msgspec.Struct, forbid_unknown_fields=True):
    connected_on: date
    note: Text = ""


class DeclineIn(msgspec.Struct, forbid_unknown_fields=True):
    declined_on: date
    declined_by: DeclinedBy
    reason: Text


class ReferralOut(msgspec.Struct, omit_defaults=True):
    id: UUID
    participant_id: UUID
    resource_id: UUID
    meeting_id: UUID | None
    need: str
    made_by: str
    made_at: datetime
    case_manager: str | None
    status: ReferralStatus
    category: ResourceCategory | None = None
    outcome_on: date | None = None
    declined_by: DeclinedBy | None = None
    outcome_note: str | None = None
    version: int | None = None
    position: int | None = None


class ReferralPage(msgspec.Struct):
    items: list[ReferralOut]
    next_cursor: str | None


def render_resource(r: Resource, position: int) -> ResourceOut:
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


def render_referral(r: Referral, position: int) -> ReferralOut:
    return ReferralOut(
        id=r.id,
        participant_id=r.participant_id,
        resource_id=r.resource_id,
        meeting_id=r.meeting_id,
        need=r.need,
        made_by=r.made_by,
        made_at=r.made_at,
        case_manager=r.case_manager,
        status=r.status,
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
REFERRAL_EXAMPLE = {
    "participant_id": "3f2c1a9e-8d7b-5c6a-9e0f-1a2b3c4d5e6f",
    "resource_id": "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d",
    "meeting_id": "5e6f7a8b-9c0d-4e1f-a2b3-c4d5e6f7a8b9",
    "need": "needs a fair-chance employer near the RRC",
}
CLOSED = (422, "referral_closed", "the referral is already connected")


class ReferralController(Controller):
    path = "/v1/grantees/{grantee:str}"
    tags = ("resources and referrals",)
    dependencies = {"tenant": Provide(provide_tenant, sync_to_thread=False)}

    def _resource_cmd(
        self, request: Request[Any, Any, Any], tenant: Tenant, data: Any, execute: Any
    ) -> Response[ResourceOut]:
        return tenant_command(request, tenant, data, execute, render_resource, status=201)

    def _referral_cmd(
        self,
        request: Request[Any, Any, Any],
        tenant: Tenant,
        referral_id: UUID,
        data: Any,
        execute: Any,
    ) -> Response[ReferralOut]:
        referral = tenant.app.referrals.referral(referral_id)
        check_own_mentee(tenant, tenant.app.participants.participant(referral.participant_id), "referrals.write")
        return tenant_command(request, tenant, data, execute, render_referral, status=201)

    # -- resource directory -----------------------------------------------------------------
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
        limit: Limit = 100,
        cursor: UuidCursor = "",
        category: ResourceCategory | None = None,
        include_withdrawn: bool = False,
        min_position: MinPosition = None,
    ) -> ResourcePage:
        """The resource directory, by category, with how many referrals each received and how
        many connected."""
        db = tenant.tenancy.db
        t = views.tables(
            db,
            tenant.info.schema,
            "referrals",
            min_position,
            request.app.state.settings.view_wait_max,
        )
        rows, nxt = query.page(
            db,
            t,
            "resources",
            "resource_id, name, category, description, phone, email, address, website,"
            " requires_case_manager, withdrawn, referrals, connected",
            "resource_id",
            after=cursor or FIRST_UUID,
            limit=limit,
            cast_key="uuid",
            where=[("category", category.value)] if category else None,
            extra=None if include_withdrawn else sql.SQL("NOT withdrawn"),
        )
        return ResourcePage(
            [
                ResourceOut(
                    id=r[0],
                    name=r[1],
                    category=ResourceCategory(r[2]),
                    description=r[3],
                    contact=ContactIO(r[4], r[5], r[6], r[7]),
                    requires_case_manager=r[8],
                    withdrawn=r[9],
                    referrals=r[10],
                    connected=r[11],
                )
                for r in rows
            ],
            nxt,
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

    # -- referrals --------------------------------------------------------------------------
    @post(
        "/referrals",
        opt=action("referrals.write"),
        sync_to_thread=True,
        status_code=201,
        responses=problems(
            (404, "not_found", "meeting not found"),
            (422, "resource_withdrawn", "the resource was withdrawn from the directory"),
            (
                422,
                "case_manager_required",
                "Legal Aid Society is case management: a peer"
                " mentor hands this referral to a named case manager",
            ),
            (422, "participant_exited", "the participant has exited the program"),
            (422, "need_required", "a referral states the need it answers"),
        ),
    )
    def make_referral(
        self,
        request: Request[Any, Any, Any],
        tenant: Tenant,
        data: Annotated[ReferralIn, body("a referral made at a meeting", REFERRAL_EXAMPLE)],
    ) -> Response[ReferralOut]:
        """Refer a participant to a resource of the directory, optionally from a meeting and
        optionally handed straight to a named case manager. A peer mentor refers only their own
        mentees, and hands case-management referrals to a case manager."""
        check_own_mentee(tenant, tenant.app.participants.participant(data.participant_id), "referrals.write")
        by_peer = only_own("referrals.write", tenant.principal.roles)
        return tenant_command(
            request,
            tenant,
            data,
            lambda cmd: tenant.app.referrals.make_referral(
                cmd,
                participant_id=data.participant_id,
                resource_id=data.resource_id,
                need=data.need,
                meeting_id=data.meeting_id,
                made_at=data.made_at,
                by_peer_mentor=by_peer,
                case_manager=data.case_manager,
            ),
            render_referral,
            status=201,
        )

    @get("/referrals", opt=action("referrals.read"), sync_to_thread=True, responses=problems())
    def list_referrals(
        self,
        request: Request[Any, Any, Any],
        tenant: Tenant,
        limit: Limit = 100,
        cursor: UuidCursor = "",
        participant_id: UUID | None = None,
        resource_id: UUID | None = None,
        meeting_id: UUID | None = None,
        status: ReferralStatus | None = None,
        case_manager: str | None = None,
        min_position: MinPosition = None,
    ) -> ReferralPage:
        """Referrals with their status, by participant, resource, meeting, status or case
        manager (peer mentors: their current mentees only)."""
        db = tenant.tenancy.db
        schema = tenant.info.schema
        t = views.tables(
            db, schema, "referrals", min_position, request.app.state.settings.view_wait_max
        )
        where: list[tuple[str, Any]] = [
            (c, v)
            for c, v in (
                ("participant_id", participant_id),
                ("resource_id", resource_id),
                ("meeting_id", meeting_id),
                ("case_manager", case_manager),
            )
            if v is not None
        ]
        if status is not None:
            where.append(("status", status.value))
        extra: sql.Composable | None = None
        params: tuple[Any, ...] = ()
        if only_own("referrals.read", tenant.principal.roles):
            p = views.tables(db, schema, "pairings", None, 0)
            m = views.tables(db, schema, "mentor_roster", None, 0)
            extra = sql.SQL(
                "participant_id IN (SELECT pm.participant_id FROM {pm} pm JOIN {p} p USING"
                " (pairing_id) WHERE pm.left_at IS NULL AND p.closed_at IS NULL AND p.mentor_id IN"
                " (SELECT mentor_id FROM {m} WHERE subject = %s AND status = 'certified'))"
            ).format(pm=p["pairing_members"], p=p["pairings"], m=m["mentors"])
            params = (tenant.principal.subject,)
        rows, nxt = query.page(
            db,
            t,
            "referrals",
            "referral_id, participant_id, resource_id, meeting_id, need, made_by, made_at,"
            " case_manager, status, category, outcome_on, declined_by, outcome_note",
            "referral_id",
            after=cursor or FIRST_UUID,
            limit=limit,
            cast_key="uuid",
            where=where,
            extra=extra,
            extra_params=params,
        )
        return ReferralPage(
            [
                ReferralOut(
                    id=r[0],
                    participant_id=r[1],
                    resource_id=r[2],
                    meeting_id=r[3],
                    need=r[4],
                    made_by=r[5],
                    made_at=r[6],
                    case_manager=r[7],
                    status=ReferralStatus(r[8]),
                    category=ResourceCategory(r[9]),
                    outcome_on=r[10],
                    declined_by=DeclinedBy(r[11]) if r[11] else None,
                    outcome_note=r[12],
                )
                for r in rows
            ],
            nxt,
        )

    @get(
        "/referrals/{referral_id:uuid}",
        opt=action("referrals.read"),
        sync_to_thread=True,
        responses=problems(),
    )
    def get_referral(self, tenant: Tenant, referral_id: UUID) -> ReferralOut:
        """A referral as the log has it now."""
        referral = tenant.app.referrals.referral(referral_id)
        check_own_mentee(tenant, tenant.app.participants.participant(referral.participant_id), "referrals.read")
        return render_referral(referral, 0)

    @post(
        "/referrals/{referral_id:uuid}/handover",
        opt=action("referrals.write"),
        sync_to_thread=True,
        status_code=201,
        responses=problems(
            CLOSED, (422, "already_handed_over", "the referral is already with this case manager")
        ),
    )
    def hand_over(
        self, request: Request[Any, Any, Any], tenant: Tenant, referral_id: UUID, data: HandoverIn
    ) -> Response[ReferralOut]:
        """Hand the referral to a named case manager: the follow-up is case management, outside
        the peer mentor's scope."""
        return self._referral_cmd(
            request,
            tenant,
            referral_id,
            data,
            lambda cmd: tenant.app.referrals.hand_referral_over(
                cmd, referral_id, data.case_manager, data.note
            ),
        )

    @post(
        "/referrals/{referral_id:uuid}/connection",
        opt=action("referrals.write"),
        sync_to_thread=True,
        status_code=201,
        responses=problems(
            CLOSED, (422, "before_referral", "the connection date is before the referral was made")
        ),
    )
    def connect(
        self, request: Request[Any, Any, Any], tenant: Tenant, referral_id: UUID, data: ConnectionIn
    ) -> Response[ReferralOut]:
        """Record that the participant connected with the resource."""
        return self._referral_cmd(
            request,
            tenant,
            referral_id,
            data,
            lambda cmd: tenant.app.referrals.connect_referral(cmd, referral_id, data.connected_on, data.note),
        )

    @post(
        "/referrals/{referral_id:uuid}/decline",
        opt=action("referrals.write"),
        sync_to_thread=True,
        status_code=201,
        responses=problems(
            CLOSED, (422, "reason_required", "a declined referral states the reason")
        ),
    )
    def decline(
        self, request: Request[Any, Any, Any], tenant: Tenant, referral_id: UUID, data: DeclineIn
    ) -> Response[ReferralOut]:
        """Record that the participant (or the resource) declined the referral, and why."""
        return self._referral_cmd(
            request,
            tenant,
            referral_id,
            data,
            lambda cmd: tenant.app.referrals.decline_referral(
                cmd, referral_id, data.declined_on, data.declined_by, data.reason
            ),
        )
