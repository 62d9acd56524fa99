"""`/v1/grantees/{grantee}/rrc/{rrc}/...`: what a grantee shares with a Residential Reentry
Center about its residents (projections/rrc.py).

RRC staff (a token with an `rrc` claim, or an RRC system's API key) see their own RRC only: any
other RRC in the path is not found. Staff of the grantee may read any RRC's view, to check what
is shared. Residents are the participants placed at the RRC now; once a participant moves on
(another RRC, home confinement, the community, back to custody, or exits) they and their
meeting records leave the view at once. Meeting records are held meetings that took place while
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

import re
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from uuid import UUID

import msgspec
from litestar import Request, get
from litestar.di import Provide
from litestar.params import Parameter
from psycopg import sql

from domain import clock
from domain.common import NotFound
from domain.facilities import FacilityKind
from projections.base import Tables
from services.api import views
from services.api.context import Tenant, action, provide_tenant
from services.api.docs import problems
from services.api.params import FIRST_UUID, Limit, MinPosition
from services.api.problems import ProblemError
from services.audit.disclosure import PART2_NOTICE, covering_consent, record_disclosure
from services.identity.access import STAFF, Role

VIEW = "rrc"
_CURSOR = re.compile(r"^(-?[0-9]{1,18})\.([0-9a-f-]{36})$")


class ResidentOut(msgspec.Struct):
    participant_id: UUID
    number: str
    rrc: str
    arrived_at: datetime
    stage: int
    placement: str
    facility: str | None
    # The mentor of the resident's individual pairing, and of each of their open groups.
    mentor: str | None
    group_mentors: list[str]


class ResidentPage(msgspec.Struct):
    rrc: str
    items: list[ResidentOut]
    next_cursor: str | None


class PlaceOut(msgspec.Struct):
    kind: str
    facility: str | None


class MeetingRecordOut(msgspec.Struct):
    meeting_id: UUID
    occurred_at: datetime
    duration_minutes: int
    location: PlaceOut
    # The residents of this RRC the meeting was with, and their attendance when recorded.
    residents: list[UUID]
    attendance: dict[str, str]
    summary: str | None
    # True when the summary is tagged Part 2 and not every resident it concerns has a consent
    # in force for this RRC: it is not shared.
    summary_withheld: bool
    # Set when a Part 2-tagged summary is shared under consent: the §2.32 notice that must
    # accompany it.
    part2_notice: str | None = None


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
            raise ProblemError(404, "not_found", f"no RRC {rrc!r}")
    try:
        facility = tenant.app.facilities.facility(rrc)
    except NotFound:
        raise ProblemError(404, "not_found", f"no RRC {rrc!r}") from None
    if facility.kind is not FacilityKind.RRC:
        raise ProblemError(404, "not_found", f"no RRC {rrc!r}")


def _tables(request: Request[Any, Any, Any], tenant: Tenant, min_position: int | None) -> Tables:
    return views.tables(
        tenant.tenancy.db,
        tenant.info.schema,
        VIEW,
        min_position,
        request.app.state.settings.view_wait_max,
    )


_RESIDENTS = (
    "SELECT s.participant_id, p.number, s.rrc, s.arrived_at, p.stage, p.placement,"
    " p.facility_code, mi.display_name,"
    " array(SELECT mg.display_name FROM {pairings} pg JOIN {mentors} mg USING (mentor_id)"
    "  WHERE pg.pairing_id = ANY(p.group_pairing_ids) ORDER BY mg.display_name)"
    " FROM {stays} s JOIN {people} p USING (participant_id)"
    " LEFT JOIN {pairings} pi ON pi.pairing_id = p.individual_pairing_id"
    " LEFT JOIN {mentors} mi ON mi.mentor_id = pi.mentor_id"
    " WHERE s.rrc = %s AND s.left_at IS NULL AND s.participant_id > %s::uuid"
)


def _residents(
    tenant: Tenant, t: Tables, rrc: str, *, after: str, limit: int, only: UUID | None = None
) -> list[ResidentOut]:
    query = sql.SQL(_RESIDENTS).format(
        pairings=t["rrc_pairings"],
        mentors=t["rrc_mentors"],
        stays=t["rrc_stays"],
        people=t["rrc_people"],
    )
    params: list[Any] = [rrc, after]
    if only is not None:
        query += sql.SQL(" AND s.participant_id = %s")
        params.append(only)
    query += sql.SQL(" ORDER BY s.participant_id LIMIT %s")
    params.append(limit)
    rows = tenant.tenancy.db.fetchall(query, params)
    return [
        ResidentOut(r[0], r[1], r[2], r[3], int(r[4]), r[5], r[6], r[7], list(r[8])) for r in rows
    ]


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
    limit: Limit = 100,
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
    items = _residents(tenant, t, rrc, after=str(cursor or FIRST_UUID), limit=limit + 1)
    more = len(items) > limit
    items = items[:limit]
    disclose(request, tenant, f"rrc:{rrc}", {i.participant_id for i in items}, "stage")
    return ResidentPage(rrc, items, str(items[-1].participant_id) if more and items else None)


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
    items = _residents(tenant, t, rrc, after=FIRST_UUID, limit=1, only=participant_id)
    if not items:
        raise ProblemError(404, "not_found", f"no resident of {rrc} with this id")
    disclose(request, tenant, f"rrc:{rrc}", {participant_id}, "stage")
    return items[0]


_MEETINGS = (
    "WITH residents AS (SELECT participant_id, arrived_at, left_at FROM {stays}"
    "  WHERE rrc = %(rrc)s AND participant_id IN"
    "  (SELECT participant_id FROM {stays} WHERE rrc = %(rrc)s AND left_at IS NULL))"
    " SELECT m.meeting_id, m.occurred_at, m.duration_minutes, m.location_kind, m.facility_code,"
    " m.attendance, m.summary, m.part2_withheld,"
    " array_agg(DISTINCT r.participant_id ORDER BY r.participant_id)"
    " FROM {meetings} m JOIN residents r ON r.participant_id = ANY(m.participants)"
    "  AND m.occurred_at >= r.arrived_at AND (r.left_at IS NULL OR m.occurred_at < r.left_at)"
    " WHERE m.held AND (m.occurred_at, m.meeting_id) > (%(after_at)s, %(after_id)s)"
    " AND m.occurred_at >= %(since)s AND m.occurred_at < %(until)s"
    " AND (%(who)s::uuid IS NULL OR r.participant_id = %(who)s::uuid)"
    " GROUP BY m.meeting_id ORDER BY m.occurred_at, m.meeting_id LIMIT %(limit)s"
)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_BEGINNING = datetime(1, 1, 2, tzinfo=UTC)
_END = datetime(9999, 12, 30, tzinfo=UTC)


def _micros(moment: datetime) -> int:
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _parse_cursor(cursor: str) -> tuple[datetime, UUID]:
    if not cursor:
        return _BEGINNING, UUID(int=0)
    match = _CURSOR.fullmatch(cursor)
    try:
        if match is None:
            raise ValueError(cursor)
        at = _EPOCH + timedelta(microseconds=int(match.group(1)))
        return at, UUID(match.group(2))
    except (ValueError, OverflowError):
        raise ProblemError(
            400, "invalid_cursor", "the cursor is not one this list handed out"
        ) from None


def _aware(moment: datetime | None, name: str, default: datetime) -> datetime:
    if moment is None:
        return default
    if moment.tzinfo is None:
        raise ProblemError(400, "invalid_request", f"{name} must carry a UTC offset (RFC 3339)")
    return moment


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
    limit: Limit = 100,
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
    after_at, after_id = _parse_cursor(cursor)
    t = _tables(request, tenant, min_position)
    rows = tenant.tenancy.db.fetchall(
        sql.SQL(_MEETINGS).format(stays=t["rrc_stays"], meetings=t["rrc_meetings"]),
        {
            "rrc": rrc,
            "after_at": after_at,
            "after_id": after_id,
            "since": _aware(since, "since", _BEGINNING),
            "until": _aware(until, "until", _END),
            "who": participant_id,
            "limit": limit + 1,
        },
    )
    more = len(rows) > limit
    rows = rows[:limit]
    items = []
    now = clock.now()
    recipient = f"rrc:{rrc}"
    consents: dict[UUID, UUID] = {}  # resident → consent that released a Part 2 summary
    for meeting_id, at, minutes, kind, facility, attendance, summary, withheld, residents in rows:
        ids = {str(r) for r in residents}
        notice = None
        if withheld:
            grants = [
                covering_consent(tenant.tenancy.db, tenant.info.schema, r, recipient, now)
                for r in residents
            ]
            if residents and all(g is not None for g in grants):
                record = tenant.app.meetings.meeting(meeting_id).record
                summary, withheld, notice = (
                    (record.summary if record else None),
                    False,
                    PART2_NOTICE,
                )
                consents.update(
                    (r, g.consent_id) for r, g in zip(residents, grants, strict=True) if g
                )
        items.append(
            MeetingRecordOut(
                meeting_id,
                at,
                minutes,
                PlaceOut(kind, facility),
                list(residents),
                {k: v for k, v in attendance.items() if k in ids},
                summary,
                withheld,
                notice,
            )
        )
    disclose(
        request,
        tenant,
        recipient,
        {r for item in items for r in item.residents},
        "attendance",
        part2=consents,
    )
    last = items[-1] if more and items else None
    nxt = f"{_micros(last.occurred_at)}.{last.meeting_id}" if last else None
    return MeetingRecordPage(rrc, items, nxt)


def disclose(
    request: Request[Any, Any, Any],
    tenant: Tenant,
    recipient: str,
    residents: set[UUID],
    information: str,
    *,
    part2: dict[UUID, UUID] | None = None,
) -> None:
    """Log what RRC staff were shown: a row per resident, and a Part 2 row per resident whose
    tagged summary was released under their consent."""
    principal = tenant.principal
    if principal.roles & STAFF or not residents:
        return  # the grantee's own staff checking the view: not a disclosure
    now = clock.now()
    reference = str(getattr(request.state, "request_id", "") or "")
    with tenant.tenancy.db.transaction() as cur:
        for resident in sorted(residents):
            record_disclosure(
                cur,
                tenant.info.schema,
                participant_id=resident,
                recipient=recipient,
                channel="rrc_view",
                information=information,
                part2=False,
                consent_id=None,
                reference=reference,
                at=now,
                actor=principal.subject,
            )
        for resident, consent_id in sorted((part2 or {}).items()):
            record_disclosure(
                cur,
                tenant.info.schema,
                participant_id=resident,
                recipient=recipient,
                channel="rrc_view",
                information="meeting_summaries",
                part2=True,
                consent_id=consent_id,
                reference=reference,
                at=now,
                actor=principal.subject,
            )


ROUTES: list[Any] = [list_residents, get_resident, list_meeting_records]
