"""`/v1/grantees/{grantee}/cohorts/{code}/class-session-requests` and
`/class-session-requests`: asking a facility for class sessions with a cohort (group mentoring
as a class session, graduates speaking to the new class), and recording its decision
(domain/class_sessions.py). A held group meeting then names the approval
(`held.session`, `held.approval_id`, services/api/meetings.py)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal
from uuid import UUID

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.di import Provide

from domain.class_sessions import ClassSessionRequest, RequestStatus, SessionKind
from projections.directory import ClassSessionRequestRow, class_session_requests
from services.api import views
from services.api.context import Tenant, action, provide_tenant, tenant_command
from services.api.docs import body, problems
from services.api.params import FIRST_UUID, LIMIT_DEFAULT, Code, Limit, MinPosition, UuidCursor
from services.api.text import FreeText, Name

Words = Annotated[FreeText, msgspec.Meta(max_length=2000)]
Who = Annotated[Name, msgspec.Meta(min_length=1, max_length=200)]


class RequestIn(msgspec.Struct, forbid_unknown_fields=True):
    kinds: Annotated[list[Literal["class_session", "graduate_speaker"]], msgspec.Meta(max_length=2)]
    note: Words = ""
    # When the grantee asked the facility (a letter sent earlier); today if left out.
    requested_on: date | None = None


class DecisionIn(msgspec.Struct, forbid_unknown_fields=True):
    """The facility's decision: who decided there (name and title), on which day; `note` is
    the reason of a denial (required then)."""

    decision: Literal["approved", "denied"]
    decided_by: Who
    decided_on: date
    note: Words = ""


class RevocationIn(msgspec.Struct, forbid_unknown_fields=True):
    revoked_by: Who
    revoked_on: date
    reason: Annotated[FreeText, msgspec.Meta(min_length=1, max_length=2000)]


class RequestOut(ClassSessionRequestRow):
    pass


class RequestPage(msgspec.Struct):
    items: list[RequestOut]
    next_cursor: str | None


def render(r: ClassSessionRequest, position: int) -> RequestOut:
    """A request as the log has it."""
    return RequestOut(
        id=r.id,
        cohort=r.cohort_code,
        facility=r.facility_code,
        kinds=list(r.kinds),
        status=r.status,
        requested_on=r.requested_on,
        decided_by=r.decided_by,
        decided_on=r.decided_on,
        revoked_on=r.revoked_on,
        position=position or None,
    )


# What a held meeting of a class kind is refused for (services/api/meetings.py HELD_RULES).
SESSION_RULES = [
    (422, "class_session_not_approved", "no approval named, or not yet decided or in force"),
    (422, "approval_for_other_cohort", "the approval is for another cohort than the members'"),
    (422, "class_session_denied", "the facility denied the request named"),
    (422, "class_session_revoked", "the facility revoked the approval before that day"),
    (422, "session_kind_not_approved", "the approval does not cover this kind of session"),
    (422, "class_session_not_group", "a class session is held by a group pairing"),
    (422, "speaker_not_a_graduate", "a graduate speaker session is held by a graduate mentor"),
    (422, "class_session_elsewhere", "a class session takes place at the cohort's institution"),
    (422, "approval_without_class_session", "an approval is named by a class session only"),
]

DECISION_ERRORS = (
    (404, "not_found", "no such class-session request in this grantee"),
    (422, "already_decided", "the facility's decision is recorded already"),
    (422, "before_request", "the decision is dated before the request"),
    (422, "in_future", "the day lies in the future"),
    (422, "reason_required", "a denial states its reason"),
    (422, "decided_by_required", "who decided at the facility is blank"),
)


class ClassSessionController(Controller):
    path = "/v1/grantees/{grantee:str}"
    tags = ["class sessions"]
    dependencies = {"tenant": Provide(provide_tenant, sync_to_thread=False)}

    @post(
        "/cohorts/{code:str}/class-session-requests",
        opt=action("class_sessions.request"),
        sync_to_thread=True,
        status_code=201,
        responses=problems(
            (404, "not_found", "no such cohort"),
            (422, "cohort_graduated", "the cohort's classes are over"),
            (422, "invalid_session_kinds", "no kind of session named"),
            (422, "in_future", "the day of the request lies in the future"),
        ),
    )
    def ask(
        self,
        request: Request[Any, Any, Any],
        tenant: Tenant,
        code: str,
        data: Annotated[
            RequestIn,
            body(
                "graduates of the first cohort speak to the new class",
                {"kinds": ["graduate_speaker", "class_session"], "note": "monthly, Tuesdays"},
            ),
        ],
    ) -> Response[RequestOut]:
        """Ask the cohort's facility for class sessions: group mentoring as a class session
        and/or graduate speakers (the tip sheet: grantees "may also request to invite
        graduates from the first cohort to speak to the new class or provide group mentoring
        as a class session")."""
        kinds = [SessionKind(k) for k in data.kinds]
        return tenant_command(
            request,
            tenant,
            data,
            lambda cmd: tenant.app.class_sessions.ask(
                cmd, cohort_code=code, kinds=kinds, note=data.note, requested_on=data.requested_on
            ),
            render,
            status=201,
        )

    @post(
        "/class-session-requests/{request_id:uuid}/decision",
        opt=action("class_sessions.decide"),
        sync_to_thread=True,
        status_code=201,
        responses=problems(*DECISION_ERRORS),
    )
    def decide(
        self,
        request: Request[Any, Any, Any],
        tenant: Tenant,
        request_id: UUID,
        data: Annotated[
            DecisionIn,
            body(
                "the warden approved",
                {
                    "decision": "approved",
                    "decided_by": "J. Ortiz, Reentry Affairs Coordinator, FCI-N1",
                    "decided_on": "2026-10-02",
                },
            ),
        ],
    ) -> Response[RequestOut]:
        """Record the facility's decision on a request: approved or denied, who decided at
        the facility and on which day."""
        return tenant_command(
            request,
            tenant,
            data,
            lambda cmd: tenant.app.class_sessions.decide(
                cmd,
                request_id,
                approved=data.decision == "approved",
                decided_by=data.decided_by,
                decided_on=data.decided_on,
                note=data.note,
            ),
            render,
            status=201,
        )

    @post(
        "/class-session-requests/{request_id:uuid}/revocation",
        opt=action("class_sessions.decide"),
        sync_to_thread=True,
        status_code=201,
        responses=problems(
            (404, "not_found", "no such class-session request in this grantee"),
            (422, "not_approved", "only an approval in force can be revoked"),
            (422, "before_approval", "the revocation is dated before the approval"),
            (422, "in_future", "the day lies in the future"),
        ),
    )
    def revoke(
        self,
        request: Request[Any, Any, Any],
        tenant: Tenant,
        request_id: UUID,
        data: Annotated[
            RevocationIn,
            body(
                "the facility withdrew its approval",
                {
                    "revoked_by": "J. Ortiz, Reentry Affairs Coordinator, FCI-N1",
                    "revoked_on": "2026-11-20",
                    "reason": "institution lockdown",
                },
            ),
        ],
    ) -> Response[RequestOut]:
        """Record that the facility withdrew its approval from `revoked_on` on: class
        sessions held from that day are refused."""
        return tenant_command(
            request,
            tenant,
            data,
            lambda cmd: tenant.app.class_sessions.revoke(
                cmd,
                request_id,
                revoked_by=data.revoked_by,
                revoked_on=data.revoked_on,
                reason=data.reason,
            ),
            render,
            status=201,
        )

    @get(
        "/class-session-requests/{request_id:uuid}",
        opt=action("class_sessions.read"),
        sync_to_thread=True,
    )
    def get_request(self, tenant: Tenant, request_id: UUID) -> RequestOut:
        """A class-session request as the log has it now."""
        return render(tenant.app.class_sessions.request(request_id), 0)

    @get("/class-session-requests", opt=action("class_sessions.read"), sync_to_thread=True)
    def list_requests(
        self,
        request: Request[Any, Any, Any],
        tenant: Tenant,
        limit: Limit = LIMIT_DEFAULT,
        cursor: UuidCursor = "",
        cohort: Code | None = None,
        status: RequestStatus | None = None,
        min_position: MinPosition = None,
    ) -> RequestPage:
        """Class-session requests in id order, optionally of one cohort or status."""
        db = tenant.tenancy.db
        wait = request.app.state.settings.view_wait_max
        t = views.tables(db, tenant.info.schema, "directory", min_position, wait)
        rows, nxt = class_session_requests(
            db, t, after=cursor or FIRST_UUID, limit=limit, cohort=cohort, status=status
        )
        return RequestPage(msgspec.convert(rows, list[RequestOut], from_attributes=True), nxt)
