"""`/v1/grantees/{grantee}/rrc/{rrc}/...`: what a grantee shares with a Residential Reentry
Center about its residents (projections/rrc.py).

RRC staff (a token with an `rrc` claim, or an RRC system's API key) see their own RRC only: any
other RRC in the path is not found. Staff of the grantee may read any RRC's view, to check what
is shared. Residents are the participants placed at the RRC now; once a participant moves on
(another RRC, home confinement, the community, back to custody, or exits, a derived exit
included) they and their meeting records leave the view at once. Meeting records are held meetings that took place while
the participant resided at this RRC: date, length, place, the residents' attendance and the
shareable summary; never the confidential note, topics or goals. A Part 2-tagged summary is
shared only when every resident it concerns has a consent in force naming this RRC for
meeting summaries (42 CFR Part 2), and then with the §2.32 notice.

What an RRC reads is a disclosure: each answer to RRC staff (token or API key) appends one row
per resident it concerns to the grantee's disclosure log (services/audit/disclosure.py), with the
request id as reference. Grantee staff previewing the view disclose nothing and log nothing
there (their reads are in the access log).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

import msgspec
from litestar import Request, get
from litestar.di import Provide
from litestar.params import Parameter

from projections.base import Tables
from projections.rrc import BEGINNING, END, ResidentOut, parse_cursor, resident, residents
from services.api import views
from services.api.context import Tenant, action, provide_tenant
from services.api.dates import check_parameter
from services.api.docs import problems
from services.api.params import LIMIT_DEFAULT, Limit, MinPosition
from services.api.problems import ProblemError
from services.app.rrc import MeetingRecordOut
from services.identity.access import STAFF, Role
from services.refusals import shown

VIEW = "rrc"


class ResidentPage(msgspec.Struct):
    rrc: str
    items: list[ResidentOut]
    next_cursor: str | None


class MeetingRecordPage(msgspec.Struct):
    rrc: str
    items: list[MeetingRecordOut]
    next_cursor: str | None


TENANT = {"tenant": Provide(provide_tenant, sync_to_thread=False)}
NOT_HERE = (404, "not_found", "no resident of RRC-N1 with this id")
CLAIM = (403, "forbidden", "an rrc_staff token must name one grantee and its RRC (`rrc` claim)")


def check_rrc(tenant: Tenant, rrc: str) -> None:
    """The caller may read this RRC's view, and the RRC is one of the grantee's."""
    principal = tenant.principal
    if not principal.roles & STAFF:
        # RRC staff: scoped to one grantee and one RRC by their token or key.
        if (
            Role.RRC_STAFF not in principal.roles
            or principal.rrc is None
            or len(principal.grantees) != 1
            or "*" in principal.grantees
        ):
            raise ProblemError(403, "forbidden", CLAIM[2])
        if principal.rrc != rrc:
            raise ProblemError(404, "not_found", f"no RRC {shown(rrc)}")
    tenant.app.rrc.check_rrc(rrc)


def _tables(request: Request[Any, Any, Any], tenant: Tenant, min_position: int | None) -> Tables:
    return views.tables(
        tenant.tenancy.db,
        tenant.info.schema,
        VIEW,
        min_position,
        request.app.state.settings.view_wait_max,
    )


def disclose(
    request: Request[Any, Any, Any],
    tenant: Tenant,
    rrc: str,
    residents: set[UUID],
    information: str,
    *,
    part2: dict[UUID, UUID] | None = None,
) -> None:
    """What RRC staff were shown is a disclosure, referenced by the request id; the grantee's
    own staff checking the view disclose nothing."""
    if tenant.principal.roles & STAFF:
        return
    tenant.app.rrc.record_disclosures(
        f"rrc:{rrc}",
        residents,
        information,
        part2=part2 or {},
        reference=str(getattr(request.state, "request_id", "") or ""),
        actor=tenant.principal.subject,
    )


@get(
    "/v1/grantees/{grantee:str}/rrc/{rrc:str}/residents",
    opt=action("rrc.read"),
    sync_to_thread=True,
    tags=["RRC systems"],
    responses=problems(CLAIM, (404, "not_found", "no RRC 'RRC-N2'")),
    dependencies=TENANT,
)
def list_residents(
    request: Request[Any, Any, Any],
    tenant: Tenant,
    rrc: str,
    limit: Limit = LIMIT_DEFAULT,
    cursor: Annotated[
        UUID | None, Parameter(description="`next_cursor` of the previous page")
    ] = None,
    min_position: MinPosition = None,
) -> ResidentPage:
    """The participants residing at the RRC now, by id: their program number, arrival, stage,
    placement and the display name of their current mentor(s). Participants who moved on are
    not listed. RRC staff and RRC API keys may name their own RRC only."""
    check_rrc(tenant, rrc)
    t = _tables(request, tenant, min_position)
    gone = tenant.app.rrc.gone(t, rrc)
    items, nxt = residents(tenant.tenancy.db, t, rrc, after=cursor, limit=limit, gone=gone)
    disclose(request, tenant, rrc, {i.participant_id for i in items}, "stage")
    return ResidentPage(rrc, items, nxt)


@get(
    "/v1/grantees/{grantee:str}/rrc/{rrc:str}/residents/{participant_id:uuid}",
    opt=action("rrc.read"),
    sync_to_thread=True,
    tags=["RRC systems"],
    responses=problems(CLAIM, NOT_HERE),
    dependencies=TENANT,
)
def get_resident(
    request: Request[Any, Any, Any],
    tenant: Tenant,
    rrc: str,
    participant_id: UUID,
    min_position: MinPosition = None,
) -> ResidentOut:
    """One resident of the RRC; not found when the participant does not reside there now."""
    check_rrc(tenant, rrc)
    t = _tables(request, tenant, min_position)
    found = resident(tenant.tenancy.db, t, rrc, participant_id, tenant.app.rrc.gone(t, rrc))
    if found is None:
        raise ProblemError(404, "not_found", f"no resident of {rrc} with this id")
    disclose(request, tenant, rrc, {participant_id}, "stage")
    return found


def _aware(moment: datetime | None, name: str, default: datetime) -> datetime:
    if moment is None:
        return default
    if moment.tzinfo is None:
        raise ProblemError(400, "invalid_request", f"{name} must carry a UTC offset (RFC 3339)")
    return check_parameter(moment, name)


@get(
    "/v1/grantees/{grantee:str}/rrc/{rrc:str}/meetings",
    opt=action("rrc.read"),
    sync_to_thread=True,
    tags=["RRC systems"],
    responses=problems(CLAIM, (404, "not_found", "no RRC 'RRC-N2'")),
    dependencies=TENANT,
)
def list_meeting_records(
    request: Request[Any, Any, Any],
    tenant: Tenant,
    rrc: str,
    since: Annotated[
        datetime | None, Parameter(description="held at or after this instant (RFC 3339)")
    ] = None,
    until: Annotated[
        datetime | None, Parameter(description="held before this instant (RFC 3339)")
    ] = None,
    participant_id: Annotated[
        UUID | None, Parameter(description="only the meetings of this resident")
    ] = None,
    limit: Limit = LIMIT_DEFAULT,
    cursor: Annotated[
        str, Parameter(max_length=64, description="`next_cursor` of the previous page")
    ] = "",
    min_position: MinPosition = None,
) -> MeetingRecordPage:
    """The record of meetings held with current residents of the RRC while they resided there,
    oldest first: when, how long, where, the residents' attendance and the shareable summary.
    Confidential notes, topics and goals are never shared; a Part 2-tagged summary is withheld
    (`summary_withheld`)."""
    check_rrc(tenant, rrc)
    after = parse_cursor(cursor)
    t = _tables(request, tenant, min_position)
    shared = tenant.app.rrc.meeting_records(
        t,
        rrc,
        after=after,
        since=_aware(since, "since", BEGINNING),
        until=_aware(until, "until", END),
        participant_id=participant_id,
        limit=limit,
    )
    residents_shown = {r for item in shared.items for r in item.residents}
    disclose(request, tenant, rrc, residents_shown, "attendance", part2=shared.released)
    return MeetingRecordPage(rrc, shared.items, shared.next_cursor)


ROUTES: list[Any] = [list_residents, get_resident, list_meeting_records]
