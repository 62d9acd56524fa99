"""`/v1/grantees/{grantee}/pairings` (matches) and `/policy` (who may mentor whom)."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

import msgspec
from litestar import Controller, Request, Response, get, patch, post
from litestar.di import Provide
from litestar.params import Parameter

from domain.pairings import (
    Closure,
)
from domain.policy import MentoringRules
from projections.mentors import PeerMentor
from projections.pairings import PAIRING_SORT, PairingRow, PairingStatus, pairing_page
from projections.query import sort_pattern
from services.api import views
from services.api.commands import check_own_pairing as check_own_pairing
from services.api.commands import open_command
from services.api.context import Tenant, action, provide_tenant, tenant_command
from services.api.docs import body, problems
from services.api.params import (
    FIRST_UUID,
    LIMIT_DEFAULT,
    Limit,
    MinPosition,
    SearchText,
    SortCursor,
    sort_description,
)
from services.api.schemas.pairings import (
    ClosureIn,
    FirstMeetingIn,
    FlagResolutionIn,
    MemberIn,
    MemberRemovalIn,
    PairingIn,
    PolicyChanges,
    PolicyOut,
    changes_of,
    render_policy,
)

# A pairing as the API shows it, also rendered by the audit's as-of reads (audit_reads.py).
from services.api.schemas.pairings import PairingOut as PairingOut
from services.api.schemas.pairings import render as render
from services.identity.access import only_own

PairingSort = Annotated[
    str | None,
    Parameter(
        max_length=40,
        description=sort_description(PAIRING_SORT),
        schema_extra={"pattern": sort_pattern(PAIRING_SORT)},
    ),
]


class PairingPage(msgspec.Struct):
    items: list[PairingRow]
    next_cursor: str | None


OPEN_EXAMPLE = {
    "kind": "individual",
    "mentor_id": "9b1d2c3e-4f5a-4b6c-8d7e-0f1a2b3c4d5e",
    "members": ["3f2c1a9e-8d7b-5c6a-9e0f-1a2b3c4d5e6f"],
    "location": {"kind": "bop_institution", "facility": "FCI-N1"},
    "criteria": ["shared_experience", "shared_goals"],
    "commitment": {"frequency": "weekly", "minutes_per_meeting": 60, "months": 6},
}
ELIGIBILITY = [
    (
        422,
        "mentor_not_certified",
        "the mentor is applicant; only a certified mentor takes new pairings",
    ),
    (422, "clearance_required", "the mentor has no unexpired volunteer clearance for FCI-N1"),
    (
        422,
        "mentor_not_eligible_for_stage",
        "for a stage 1 mentee the mentor must be one of: earlier_graduate; this mentor is: none of these",
    ),
    (422, "self_mentoring", "a person never mentors themselves"),
    (422, "caseload_limit", "the mentor already has 5 individual mentees (limit 5)"),
    (422, "group_size", "a group has 2-8 members"),
    (422, "mentee_already_paired", "participant NDEMO0001 already has an open individual pairing"),
]


class PairingController(Controller):
    path = "/v1/grantees/{grantee:str}"
    tags = ["pairings"]
    dependencies = {"tenant": Provide(provide_tenant, sync_to_thread=False)}

    def _do(
        self, request: Request[Any, Any, Any], tenant: Tenant, data: Any, execute: Any
    ) -> Response[PairingOut]:
        # The answer shows the pairing as its GET does, with the members' derived exits.
        pairings = tenant.app.pairings
        with tenant.app.derived_exits.remembering():
            return tenant_command(
                request,
                tenant,
                data,
                execute,
                lambda p, position: render(p, position, pairings.exits_to_review(p)),
                status=201,
            )

    @post(
        "/pairings",
        opt=action("pairings.write"),
        sync_to_thread=True,
        status_code=201,
        responses=problems(*ELIGIBILITY),
    )
    def open_pairing(
        self,
        request: Request[Any, Any, Any],
        tenant: Tenant,
        data: Annotated[
            PairingIn, body("an individual match inside a BOP institution", OPEN_EXAMPLE)
        ],
    ) -> Response[PairingOut]:
        """Match a certified mentor with one mentee or a small group (with a shared focus),
        recording the matching criteria and the commitment agreement. Every eligibility rule
        is checked; a refusal names the rule and appends nothing."""
        return self._do(request, tenant, data, open_command(request, tenant, data))

    @get("/pairings", opt=action("pairings.read"), sync_to_thread=True)
    def list_pairings(
        self,
        request: Request[Any, Any, Any],
        tenant: Tenant,
        limit: Limit = LIMIT_DEFAULT,
        cursor: SortCursor = "",
        mentor_id: UUID | None = None,
        participant_id: UUID | None = None,
        status: PairingStatus | None = None,
        flagged: Annotated[
            bool | None,
            Parameter(
                description="true: pairings with a recorded review flag, or open ones with a"
                " member whose derived exit (90 days without service, none planned) has taken"
                " effect (`exit_review`, worked out when read); false: the others"
            ),
        ] = None,
        q: SearchText = None,
        sort: PairingSort = None,
        min_position: MinPosition = None,
    ) -> PairingPage:
        """Pairings with their flags and closure, filtered by mentor, participant, status or
        flags; `q` finds by the mentor's or a member's name or number; in id order or by
        `sort`. `flagged=true` lists the pairings with a recorded review flag or, worked out
        when read, an open pairing whose member's derived exit (90 days without service) has
        taken effect (`exit_review`); `flagged=false` the others."""
        db, schema = tenant.tenancy.db, tenant.info.schema
        wait = request.app.state.settings.view_wait_max
        t = views.tables(db, schema, "pairings", min_position, wait)
        find, order = views.search_and_sort(db, schema, q, sort, PAIRING_SORT, min_position, wait)
        peer_mentor = None
        if only_own("pairings.read", tenant.principal.roles):
            roster = views.tables(db, schema, "mentor_roster", None, 0)
            peer_mentor = PeerMentor(tenant.principal.subject, roster)
        rows, nxt = pairing_page(
            db,
            t,
            after=cursor if order or find else (cursor or FIRST_UUID),
            limit=limit,
            mentor_id=mentor_id,
            participant_id=participant_id,
            status=status,
            flagged=flagged,
            peer_mentor=peer_mentor,
            find=find,
            sort=order,
            exited=tenant.app.derived_exits.in_effect(),
        )
        return PairingPage(rows, nxt)

    @get("/pairings/{pairing_id:uuid}", opt=action("pairings.read"), sync_to_thread=True)
    def get_pairing(self, tenant: Tenant, pairing_id: UUID) -> PairingOut:
        """A pairing as the log has it now; `exit_review` names its members whose derived exit
        (90 days without service, none planned) has taken effect while it is open, and a
        closure cites the exits it answered (`closure.exit_of`)."""
        pairing = tenant.app.pairings.pairing(pairing_id)
        check_own_pairing(tenant, pairing_id, "pairings.read")
        return render(pairing, 0, tenant.app.pairings.exits_to_review(pairing))

    @post(
        "/pairings/{pairing_id:uuid}/members",
        opt=action("pairings.write"),
        sync_to_thread=True,
        status_code=201,
        responses=problems(*ELIGIBILITY, (422, "not_a_group", "members are added to groups only")),
    )
    def add_member(
        self, request: Request[Any, Any, Any], tenant: Tenant, pairing_id: UUID, data: MemberIn
    ) -> Response[PairingOut]:
        """Add a participant to a group pairing (checked as a new match would be)."""
        return self._do(
            request,
            tenant,
            data,
            lambda cmd: tenant.app.pairings.add_group_member(cmd, pairing_id, data.participant_id),
        )

    @post(
        "/pairings/{pairing_id:uuid}/member-removals",
        opt=action("pairings.write"),
        sync_to_thread=True,
        status_code=201,
        responses=problems(
            (422, "group_size", "a group keeps at least 2 members; close the group instead")
        ),
    )
    def remove_member(
        self,
        request: Request[Any, Any, Any],
        tenant: Tenant,
        pairing_id: UUID,
        data: MemberRemovalIn,
    ) -> Response[PairingOut]:
        """Remove a participant from a group pairing, with the reason."""
        return self._do(
            request,
            tenant,
            data,
            lambda cmd: tenant.app.pairings.remove_group_member(
                cmd, pairing_id, data.participant_id, data.reason
            ),
        )

    @post(
        "/pairings/{pairing_id:uuid}/first-meeting",
        opt=action("pairings.write"),
        sync_to_thread=True,
        status_code=201,
        responses=problems((422, "before_match", "the first meeting cannot precede the match")),
    )
    def first_meeting(
        self,
        request: Request[Any, Any, Any],
        tenant: Tenant,
        pairing_id: UUID,
        data: FirstMeetingIn,
    ) -> Response[PairingOut]:
        """Record the date of the first meeting."""
        return self._do(
            request,
            tenant,
            data,
            lambda cmd: tenant.app.pairings.record_first_meeting(cmd, pairing_id, data.met_on),
        )

    @post(
        "/pairings/{pairing_id:uuid}/flag-resolutions",
        opt=action("pairings.write"),
        sync_to_thread=True,
        status_code=201,
        responses=problems((422, "no_such_flag", "no open flag 'mentee_ineligible'")),
    )
    def resolve_flag(
        self,
        request: Request[Any, Any, Any],
        tenant: Tenant,
        pairing_id: UUID,
        data: FlagResolutionIn,
    ) -> Response[PairingOut]:
        """Resolve a review flag (for instance after reassignment was considered)."""
        return self._do(
            request,
            tenant,
            data,
            lambda cmd: tenant.app.pairings.resolve_flag(
                cmd, pairing_id, data.flag, data.resolution
            ),
        )

    @post(
        "/pairings/{pairing_id:uuid}/closure",
        opt=action("pairings.write"),
        sync_to_thread=True,
        status_code=201,
        responses=problems((422, "pairing_closed", "the pairing is closed")),
    )
    def close(
        self, request: Request[Any, Any, Any], tenant: Tenant, pairing_id: UUID, data: ClosureIn
    ) -> Response[PairingOut]:
        """Close the pairing: planned or not, reason, initiator, exit interview, rematch
        eligibility. A member's derived exit in effect on the closure's day is cited in the
        closure (`exit_of`), recorded with it: the reason an auditor reads for the ending."""
        closure = Closure(
            closure_type=data.closure_type,
            reason=data.reason,
            initiator=data.initiator,
            exit_interview_on=data.exit_interview_on,
            rematch_eligible=data.rematch_eligible,
            post_closure_contact=data.post_closure_contact,
        )
        return self._do(
            request,
            tenant,
            data,
            lambda cmd: tenant.app.pairings.close_pairing(cmd, pairing_id, closure, data.closed_at),
        )

    @get("/policy", opt=action("policy.read"), sync_to_thread=True)
    def get_policy(self, tenant: Tenant) -> PolicyOut:
        """The program policy in force: the tip sheet's defaults (version 0) until the
        grantee sets one; `version` counts the changes since. `position` is null here: it is
        the log position a command's answer reached."""
        policy = tenant.app.policy.current()
        if policy is None:
            return PolicyOut(tenant.app.policy.rules(), 0)
        return PolicyOut(policy.rules, policy.version)

    @post(
        "/policy",
        opt=action("policy.write"),
        sync_to_thread=True,
        status_code=201,
        responses=problems(
            (422, "invalid_policy", "group sizes need 2 <= group_min <= group_max <= 30")
        ),
    )
    def set_policy(
        self, request: Request[Any, Any, Any], tenant: Tenant, data: MentoringRules
    ) -> Response[PolicyOut]:
        """Set who may mentor whom at each stage, the individual caseload limit and group
        sizes: the whole policy. A rule left out takes the tip sheet's default, not the value
        in force; to change some rules and keep the rest, PATCH /policy."""
        return tenant_command(
            request,
            tenant,
            data,
            lambda cmd: tenant.app.policy.set_rules(cmd, data),
            render_policy,
            status=201,
        )

    @patch(
        "/policy",
        opt=action("policy.write"),
        sync_to_thread=True,
        status_code=200,
        responses=problems(
            (422, "invalid_policy", "group sizes need 2 <= group_min <= group_max <= 30")
        ),
    )
    def amend_policy(
        self,
        request: Request[Any, Any, Any],
        tenant: Tenant,
        data: Annotated[
            PolicyChanges,  # type: ignore[valid-type]
            body("a larger group", {"group_max": 10}),
        ],
    ) -> Response[PolicyOut]:
        """Change some rules, keep the rest in force: a JSON merge patch (RFC 7396; send it
        as `application/merge-patch+json` or `application/json`). A rule left out keeps its
        value; `null` is refused. The result is checked as a whole policy (POST's rules)."""
        return tenant_command(
            request,
            tenant,
            data,
            lambda cmd: tenant.app.policy.amend(cmd, changes_of(data)),
            render_policy,
            status=200,
        )
