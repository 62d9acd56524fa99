"""`/v1/grantees/{grantee}/referrals`: participants referred to the resources of the
directory (`resources`), and what came of it."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any
from uuid import UUID

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.di import Provide

from domain.resources import DeclinedBy, Referral, ReferralStatus
from projections.referrals import Mentees, ReferralOut, referral_page
from services.api import text, views
from services.api.context import Tenant, action, check_own_mentee, provide_tenant, tenant_command
from services.api.docs import body, problems
from services.api.params import FIRST_UUID, LIMIT_DEFAULT, Limit, LongText, MinPosition, UuidCursor
from services.identity.access import only_own

Text = LongText
Name = Annotated[text.Name, msgspec.Meta(max_length=200)]
# A resource's contact details: one line, not a name (an address may be written right to left).
ContactLine = Annotated[text.Line, msgspec.Meta(max_length=200)]


# A resource's withdrawal states its reason. Declared here, the module that always held it: the
# OpenAPI document names it `referrals_ReasonIn` (the mentors' `ReasonIn` is another).
class ReasonIn(msgspec.Struct, forbid_unknown_fields=True):
    reason: Text


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


class ReferralPage(msgspec.Struct):
    items: list[ReferralOut]
    next_cursor: str | None


def render_referral(r: Referral, position: int) -> ReferralOut:
    """The referral as the API shows it."""
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

    def _referral_cmd(
        self,
        request: Request[Any, Any, Any],
        tenant: Tenant,
        referral_id: UUID,
        data: Any,
        execute: Any,
    ) -> Response[ReferralOut]:
        referral = tenant.app.referrals.referral(referral_id)
        check_own_mentee(
            tenant, tenant.app.participants.participant(referral.participant_id), "referrals.write"
        )
        return tenant_command(request, tenant, data, execute, render_referral, status=201)

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
        check_own_mentee(
            tenant, tenant.app.participants.participant(data.participant_id), "referrals.write"
        )
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
        limit: Limit = LIMIT_DEFAULT,
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
        db, schema = tenant.tenancy.db, tenant.info.schema
        wait = request.app.state.settings.view_wait_max
        t = views.tables(db, schema, "referrals", min_position, wait)
        mentees = None
        if only_own("referrals.read", tenant.principal.roles):
            mentees = Mentees(
                tenant.principal.subject,
                pairings=views.tables(db, schema, "pairings", None, 0),
                roster=views.tables(db, schema, "mentor_roster", None, 0),
            )
        items, nxt = referral_page(
            db,
            t,
            after=cursor or FIRST_UUID,
            limit=limit,
            participant_id=participant_id,
            resource_id=resource_id,
            meeting_id=meeting_id,
            status=status,
            case_manager=case_manager,
            mentees=mentees,
        )
        return ReferralPage(items, nxt)

    @get(
        "/referrals/{referral_id:uuid}",
        opt=action("referrals.read"),
        sync_to_thread=True,
        responses=problems(),
    )
    def get_referral(self, tenant: Tenant, referral_id: UUID) -> ReferralOut:
        """A referral as the log has it now."""
        referral = tenant.app.referrals.referral(referral_id)
        check_own_mentee(
            tenant, tenant.app.participants.participant(referral.participant_id), "referrals.read"
        )
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
            lambda cmd: tenant.app.referrals.connect_referral(
                cmd, referral_id, data.connected_on, data.note
            ),
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
