"""`/v1/grantees/{grantee}/meetings`: scheduling and recording meetings, reading them, and the
cadence alerts. `ROUTES` also holds a pairing's cadence (meeting_cadence.py) and a cohort's
class hours (class_hours.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any
from uuid import UUID

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.di import Provide
from litestar.params import Parameter

from domain import clock
from domain.cadence import week_name
from domain.meetings import Meeting, MeetingStatus, NoteReader
from projections import meetings as meetings_view
from projections.meetings import MEETING_SORT, Across, CadenceAlert, MeetingRow
from projections.mentors import PeerMentor
from projections.query import sort_pattern
from services.api import views
from services.api.class_hours import ClassHoursController
from services.api.class_sessions import SESSION_RULES, ClassSessionController
from services.api.commands import check_own_pairing, hold_command, own_meeting, schedule_command
from services.api.context import Tenant, action, provide_tenant, tenant_command
from services.api.docs import Refusal, body, problems
from services.api.meeting_cadence import CadenceController
from services.api.params import (
    INSTANT_SCHEMA,
    LIMIT_DEFAULT,
    AssignedTo,
    Limit,
    MinPosition,
    SearchText,
    SortCursor,
    instant,
    me,
    sort_description,
)
from services.api.reads import recorded_read
from services.api.schemas.meetings import (
    AmendmentIn,
    CancellationIn,
    HeldIn,
    MeetingIn,
    MissedIn,
    held_record,
    render_meeting,
)

# A meeting as the API shows it, also rendered by the audit's as-of reads (audit_reads.py).
from services.api.schemas.meetings import MeetingOut as MeetingOut
from services.identity.access import Role, only_own
from services.store.ledger import Command, Saved

MeetingSort = Annotated[
    str | None,
    Parameter(
        max_length=40,
        description=sort_description(MEETING_SORT),
        schema_extra={"pattern": sort_pattern(MEETING_SORT)},
    ),
]


class MeetingPage(msgspec.Struct):
    items: list[MeetingRow]
    next_cursor: str | None


class AlertsOut(msgspec.Struct):
    current_week: str
    items: list[CadenceAlert]


def find_cadence_alerts(
    tenant: Tenant, min_position: int | None, wait_max: float
) -> tuple[str, list[CadenceAlert]]:
    """The current week and the open pairings that missed their cadence
    (`projections.meetings.cadence_alerts`), from the views' live builds."""
    db, schema = tenant.tenancy.db, tenant.info.schema
    meetings = views.tables(db, schema, "meetings", min_position, wait_max)
    pairings = views.tables(db, schema, "pairings", min_position, wait_max)
    zone = tenant.app.zone
    today = clock.today(zone)
    return week_name(today), meetings_view.cadence_alerts(db, meetings, pairings, today, zone)


def note_reader(tenant: Tenant) -> NoteReader:
    """The caller, as the confidential-note rule sees them."""
    return NoteReader(tenant.principal.subject, Role.COORDINATOR.value in tenant.principal.roles)


def render_for(tenant: Tenant) -> Callable[[Meeting, int], MeetingOut]:
    """Renders a meeting for the caller: the confidential note only if they may read it."""
    return render_meeting(note_reader(tenant))


MEETING_EXAMPLE = {
    "pairing_id": "6e25b1f4-3b2a-4a96-91e5-9f67672a017e",
    "scheduled_for": "2026-11-24T18:00:00-06:00",
    "location": {"kind": "bop_institution", "facility": "FCI-N1"},
    "held": {
        "occurred_at": "2026-11-24T18:05:00-06:00",
        "duration_minutes": 55,
        "topics": ["employment", "goals"],
        "summary": "Worked on a resume; practised an interview.",
        "confidential_note": "Mentioned stress about family contact; follow up.",
    },
}
HELD_RULES = [
    (422, "pairing_closed", "no meeting on a closed pairing"),
    (422, "in_future", "a held meeting's occurred_at lies in the future"),
    (422, "invalid_duration", "a held meeting lasts more than 0 and at most 480 minutes"),
    (
        422,
        "facility_wrong_kind",
        "facility RRC-1 is an RRC, not a BOP institution: choose the place that fits the facility",
    ),
    (
        422,
        "clearance_required",
        "the mentor has no unexpired volunteer clearance for FCI-N1 on that date",
    ),
    (
        422,
        "during_class_hours",
        "stage-1 mentoring meets outside class hours; this meeting overlaps a class period",
    ),
    *SESSION_RULES,
]

_EXISTING = "0d5c3b7e-2f41-4c8a-9a37-5e1f0b6d9c21"
DUPLICATE: Refusal = (
    409,
    "duplicate_meeting",
    "the pairing has a meeting from 2026-11-25T00:00:00+00:00 to 2026-11-25T00:55:00+00:00"
    f" already (held): {_EXISTING}",
    [
        {
            "meeting_id": _EXISTING,
            "status": "held",
            "starts_at": "2026-11-25T00:00:00+00:00",
            "ends_at": "2026-11-25T00:55:00+00:00",
        }
    ],
)


class MeetingController(Controller):
    path = "/v1/grantees/{grantee:str}"
    tags = ["meetings"]
    dependencies = {"tenant": Provide(provide_tenant, sync_to_thread=False)}

    def _do(
        self,
        request: Request[Any, Any, Any],
        tenant: Tenant,
        data: Any,
        execute: Any,
        status: int = 201,
    ) -> Response[MeetingOut]:
        render = render_for(tenant)
        return tenant_command(request, tenant, data, execute, render, status=status)

    @post(
        "/meetings",
        opt=action("meetings.write"),
        sync_to_thread=True,
        status_code=201,
        responses=problems(
            *HELD_RULES,
            (422, "before_match", "the meeting cannot precede the match"),
            (
                422,
                "too_far_ahead",
                "a meeting is planned at most 365 days ahead, by 2027-11-24, not for 2062-11-24",
            ),
            DUPLICATE,
        ),
    )
    def schedule(
        self,
        request: Request[Any, Any, Any],
        tenant: Tenant,
        data: Annotated[MeetingIn, body("a meeting recorded as held", MEETING_EXAMPLE)],
    ) -> Response[MeetingOut]:
        """Schedule a meeting of a pairing; include `held` to record a meeting that took place
        (`held.summary_part2: true` tags its summary as 42 CFR Part 2 information, shared
        outside the grantee only under a covering consent). A pairing meets once at a time:
        while it has a meeting (not cancelled) at `scheduled_for`, or one whose span overlaps
        this meeting's (as held, else as planned), 409 `duplicate_meeting` names it and its
        span in `existing` (a retry with the same `Idempotency-Key` is answered as the first
        time instead)."""
        return self._do(request, tenant, data, schedule_command(request, tenant, data))

    def _own_meeting(self, tenant: Tenant, meeting_id: UUID, action_name: str) -> Meeting:
        return own_meeting(tenant, meeting_id, action_name)

    @post(
        "/meetings/{meeting_id:uuid}/held",
        opt=action("meetings.write"),
        sync_to_thread=True,
        status_code=201,
        responses=problems(
            *HELD_RULES, (422, "meeting_not_scheduled", "the meeting is already held"), DUPLICATE
        ),
    )
    def hold(
        self, request: Request[Any, Any, Any], tenant: Tenant, meeting_id: UUID, data: HeldIn
    ) -> Response[MeetingOut]:
        """Record that a scheduled meeting took place: when, how long, where, topics, goals
        discussed, attendance per member, a shareable summary and an optional confidential note.
        `summary_part2: true` tags the summary as 42 CFR Part 2 information: it then leaves the
        grantee (RRC view, webhooks) only under a covering consent, with the §2.32 notice."""
        return self._do(request, tenant, data, hold_command(request, tenant, data, meeting_id))

    @post(
        "/meetings/{meeting_id:uuid}/missed",
        opt=action("meetings.write"),
        sync_to_thread=True,
        status_code=201,
        responses=problems((422, "meeting_not_scheduled", "the meeting is already held")),
    )
    def miss(
        self, request: Request[Any, Any, Any], tenant: Tenant, meeting_id: UUID, data: MissedIn
    ) -> Response[MeetingOut]:
        """Record a missed meeting and who did not show."""

        def miss(cmd: Command) -> Saved[Meeting]:
            self._own_meeting(tenant, meeting_id, "meetings.write")
            return tenant.app.meetings.miss_meeting(cmd, meeting_id, data.no_show_by, data.note)

        return self._do(request, tenant, data, miss)

    @post(
        "/meetings/{meeting_id:uuid}/cancellation",
        opt=action("meetings.write"),
        sync_to_thread=True,
        status_code=201,
        responses=problems((422, "meeting_not_scheduled", "the meeting is already held")),
    )
    def cancel(
        self,
        request: Request[Any, Any, Any],
        tenant: Tenant,
        meeting_id: UUID,
        data: CancellationIn,
    ) -> Response[MeetingOut]:
        """Cancel a scheduled meeting; `excused` excuses its week in the cadence view."""

        def cancel(cmd: Command) -> Saved[Meeting]:
            self._own_meeting(tenant, meeting_id, "meetings.write")
            return tenant.app.meetings.cancel_meeting(cmd, meeting_id, data.reason, data.excused)

        return self._do(request, tenant, data, cancel)

    @post(
        "/meetings/{meeting_id:uuid}/amendments",
        opt=action("meetings.write"),
        sync_to_thread=True,
        status_code=201,
        responses=problems(
            *HELD_RULES, (422, "meeting_not_held", "only a held meeting can be amended")
        ),
    )
    def amend(
        self, request: Request[Any, Any, Any], tenant: Tenant, meeting_id: UUID, data: AmendmentIn
    ) -> Response[MeetingOut]:
        """Correct a held meeting: the correction is a new event with its reason; the original
        record stays in the history. Left out, `summary_part2` (the summary holds 42 CFR
        Part 2 information) and the confidential note stay as they were."""

        def amend(cmd: Command) -> Saved[Meeting]:
            meeting = self._own_meeting(tenant, meeting_id, "meetings.write")
            record = held_record(data.record, meeting.location)
            # A note written by someone else is withheld from a caller who may not read it: 403.
            return tenant.app.meetings.amend_meeting(
                cmd,
                meeting_id,
                data.reason,
                record,
                reader=note_reader(tenant),
                keep_part2=data.record.summary_part2 is None,
                keep_note=data.record.confidential_note is None,
            )

        return self._do(request, tenant, data, amend)

    @get("/meetings/{meeting_id:uuid}", opt=action("meetings.read"), sync_to_thread=True)
    def get_meeting(self, tenant: Tenant, meeting_id: UUID) -> MeetingOut:
        """A meeting as the log has it now, with `summary_part2` (the summary holds 42 CFR
        Part 2 information); the confidential note only for its author and the coordinator
        (others see `has_confidential_note`)."""
        meeting = self._own_meeting(tenant, meeting_id, "meetings.read")
        return render_for(tenant)(meeting, 0)

    @get("/meetings", opt=action("meetings.read"), sync_to_thread=True)
    def meeting_log(
        self,
        request: Request[Any, Any, Any],
        tenant: Tenant,
        pairing_id: UUID | None = None,
        limit: Limit = LIMIT_DEFAULT,
        cursor: SortCursor = "",
        status: MeetingStatus | None = None,
        q: SearchText = None,
        sort: MeetingSort = None,
        mentor_id: UUID | None = None,
        assigned_to: AssignedTo = None,
        facility: str | None = None,
        since: Annotated[
            str | None,
            Parameter(
                description="scheduled at or after (RFC 3339 with offset)",
                schema_extra=INSTANT_SCHEMA,
            ),
        ] = None,
        until: Annotated[
            str | None,
            Parameter(
                description="scheduled before (RFC 3339 with offset)",
                schema_extra=INSTANT_SCHEMA,
            ),
        ] = None,
        min_position: MinPosition = None,
    ) -> MeetingPage:
        """The meeting log of a pairing, or without `pairing_id` the meetings across pairings
        (a peer mentor's own only), in scheduled order or by `sort`; `q` finds by the mentor's
        or a member's name or number; the calendar's filters: `mentor_id`, `assigned_to` (the
        case manager's or coordinator's participants; `me`), `facility`, `since`/`until` (no
        confidential notes)."""
        db, schema = tenant.tenancy.db, tenant.info.schema
        wait = request.app.state.settings.view_wait_max
        # One transaction: the live builds read once, the rows, their access-log row.
        with recorded_read(request, tenant):
            across = None
            if pairing_id is not None:
                check_own_pairing(tenant, pairing_id, "meetings.read")
            find, order = views.search_and_sort(
                db, schema, q, sort, MEETING_SORT, min_position, wait
            )
            start = None if since is None else instant(since, "since")
            end = None if until is None else instant(until, "until")
            staff = me(tenant.principal.subject, assigned_to)
            calendar = mentor_id is not None or staff is not None or start or end
            if pairing_id is None or find is not None or calendar:
                peer = None
                if pairing_id is None and only_own("meetings.read", tenant.principal.roles):
                    peer = PeerMentor(
                        tenant.principal.subject, views.tables(db, schema, "mentor_roster", None, 0)
                    )
                pairings = views.tables(db, schema, "pairings", min_position, wait)
                across = Across(
                    pairings,
                    peer_mentor=peer,
                    find=find,
                    mentor_id=mentor_id,
                    assigned=(
                        None
                        if staff is None
                        else (views.tables(db, schema, "assignments", min_position, wait), staff)
                    ),
                    since=start,
                    until=end,
                )
            t = views.tables(db, schema, "meetings", min_position, wait)
            rows, nxt = meetings_view.meeting_log(
                db,
                t,
                pairing_id,
                after=cursor,
                limit=limit,
                status=status,
                facility=facility,
                across=across,
                sort=order,
            )
            return MeetingPage(rows, nxt)

    @get("/cadence-alerts", opt=action("alerts.read"), sync_to_thread=True)
    def cadence_alerts(
        self, request: Request[Any, Any, Any], tenant: Tenant, min_position: MinPosition = None
    ) -> AlertsOut:
        """Open pairings with no held meeting in the current or the previous week (pairings
        matched this week are not yet due)."""
        current, items = find_cadence_alerts(
            tenant, min_position, request.app.state.settings.view_wait_max
        )
        return AlertsOut(current, items)


ROUTES: list[Any] = [
    MeetingController,
    CadenceController,
    ClassHoursController,
    ClassSessionController,
]
