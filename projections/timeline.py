"""Participant timeline: every fact about a participant, in the order they happened, for their
case file (by `occurred_at`, the time in the world, then log position: a fact recorded late
takes its place in time).

Each row says who may see it (`audience`): `case` rows are for the people who work the case,
`evaluation` rows (feedback) and `supervision` rows (escalations) for the coordinator's side.
Confidential text never enters the view: a held meeting shows only that a confidential note
exists, and an escalation shows its type and severity but not its description. A case manager's
case-management contact is a `case` row with its day and mode: the event carries no text (what
was said is a case note, which stays out of the view).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from datetime import datetime
from typing import Any, ClassVar
from uuid import UUID

import msgspec
from psycopg import sql

from domain.casework import CaseManagementContact
from domain.common import ProwdAggregate
from domain.evaluation import Feedback, Outcomes
from domain.goals import Goal
from domain.meetings import Meeting
from domain.pairings import Pairing
from domain.participants import Participant
from domain.resources import Referral
from domain.supervision import Escalation
from projections.base import Projection, Tables, handles
from projections.erasure import scrub
from projections.ops import Src, Writer
from projections.query import Column, Keyset, Reader
from projections.rows import select, typed

# Fields that never leave the log through this view: what the store and the request stamp on
# every event, and the confidential and personal text.
_HIDDEN = frozenset(f.name for f in dataclasses.fields(ProwdAggregate.Created)) | {
    "confidential_note",
    "description",
    "comment",
    "personal",
}


Event = ProwdAggregate.Event
ParticipantFact = (
    Participant.Enrolled
    | Participant.StageTransitioned
    | Participant.ReturnedToCustody
    | Participant.Exited
    | Participant.RegisteredAsMentor
    | Participant.PairingJoined
    | Participant.PairingLeft
    | CaseManagementContact
)
PairingFact = (
    Pairing.FlaggedForReview | Pairing.FlagResolved | Pairing.FirstMeetingRecorded | Pairing.Closed
)
MeetingFact = Meeting.Held | Meeting.Missed | Meeting.Cancelled | Meeting.Amended
# Events of a participant's goals and referrals: the first names the participant.
OwnedStart = Goal.Set | Referral.Made
OwnedFact = (
    Goal.StepAdded
    | Goal.StepCompleted
    | Goal.StepDropped
    | Goal.ProgressRecorded
    | Goal.Revised
    | Goal.Achieved
    | Goal.Abandoned
    | Referral.HandedToCaseManager
    | Referral.Connected
    | Referral.Declined
)
OutcomeFact = Outcomes.EmploymentStarted | Outcomes.CredentialEarned | Outcomes.HousingSecured


def _detail(event: Event) -> str:
    data = {k: v for k, v in vars(event).items() if k not in _HIDDEN}
    record = data.get("record")
    if record is not None and hasattr(record, "confidential_note"):
        shown = msgspec.to_builtins(record)
        shown.pop("confidential_note", None)
        shown["has_confidential_note"] = bool(record.confidential_note)
        data["record"] = shown
    # msgspec encodes UUIDs, instants, enums and structs as `to_builtins` would: the same text.
    return msgspec.json.encode(data).decode()


# A row's kind is `<record>.<Event>`, the record named by the event's enclosing class; an event
# declared on its own names the record whose stream it is on.
_KINDS: dict[type, str] = {CaseManagementContact: "participant.CaseManagementContact"}


def _kind(event: Event) -> str:
    kind = _KINDS.get(type(event))
    if kind is None:
        kind = _KINDS[type(event)] = (
            f"{type(event).__qualname__.split('.')[0].lower()}.{type(event).__name__}"
        )
    return kind


class Timeline(Projection):
    name = "timeline"
    tables: ClassVar[dict[str, str]] = {
        "timeline": (
            "participant_id uuid NOT NULL, position bigint NOT NULL, occurred_at timestamptz NOT NULL,"
            " recorded_at timestamptz NOT NULL, recorded_by text NOT NULL, kind text NOT NULL,"
            " subject_id uuid NOT NULL, audience text NOT NULL, detail jsonb NOT NULL,"
            " PRIMARY KEY (participant_id, position)"
        ),
        # Whose record an aggregate is, for events that do not name the participant.
        "timeline_owners": "aggregate_id uuid NOT NULL, participant_id uuid NOT NULL,"
        " PRIMARY KEY (aggregate_id, participant_id)",
    }
    order: ClassVar[dict[str, str]] = {
        "timeline": "participant_id, position",
        "timeline_owners": "aggregate_id, participant_id",
    }
    # The page's order (`TIME_ORDER`), within one participant.
    extra_indexes = (("timeline", "time", "(participant_id, occurred_at, position)"),)

    def _own(self, w: Writer, aggregate_id: UUID, participants: Iterable[UUID]) -> None:
        for pid in participants:
            w.insert(
                "timeline_owners",
                {"aggregate_id": aggregate_id, "participant_id": pid},
                on_conflict="nothing",
            )

    @staticmethod
    def _row(e: Event, position: int, participant: UUID | Src, audience: str) -> dict[str, Any]:
        return {
            "participant_id": participant,
            "position": position,
            "occurred_at": e.occurred_at,
            "recorded_at": e.timestamp,
            "recorded_by": e.recorded_by,
            "kind": _kind(e),
            "subject_id": e.originator_id,
            "audience": audience,
            "detail": _detail(e),
        }

    def _add_owned(
        self, w: Writer, e: Event, position: int, aggregate_id: UUID, audience: str = "case"
    ) -> None:
        """`_add` for every owner of `aggregate_id`, in one statement (an insert from the
        owners' rows)."""
        w.insert(
            "timeline",
            self._row(e, position, Src("participant_id"), audience),
            source=("timeline_owners", {"aggregate_id": aggregate_id}),
        )

    def _add(
        self,
        w: Writer,
        e: Event,
        position: int,
        participants: Iterable[UUID],
        audience: str = "case",
    ) -> None:
        for pid in participants:
            w.insert("timeline", self._row(e, position, pid, audience))

    @handles(
        Participant.Enrolled,
        Participant.StageTransitioned,
        Participant.ReturnedToCustody,
        Participant.Exited,
        Participant.RegisteredAsMentor,
        Participant.PairingJoined,
        Participant.PairingLeft,
        CaseManagementContact,
    )
    def participant(self, w: Writer, e: ParticipantFact, position: int) -> None:
        self._add(w, e, position, [e.originator_id])

    @handles(Pairing.Opened)
    def pairing_opened(self, w: Writer, e: Pairing.Opened, position: int) -> None:
        self._own(w, e.originator_id, e.members)

    @handles(Pairing.MemberAdded)
    def member_added(self, w: Writer, e: Pairing.MemberAdded, position: int) -> None:
        self._own(w, e.originator_id, [e.participant_id])

    @handles(Pairing.MemberRemoved)
    def member_removed(self, w: Writer, e: Pairing.MemberRemoved, position: int) -> None:
        # A member who leaves a group no longer hears of it: neither the group's later events
        # nor its meetings still to be held (those they attended stay theirs, amendments too).
        pid = e.participant_id
        held = {
            s
            for (s,) in w.select(
                "timeline", ("subject_id",), participant_id=pid, kind="meeting.Held"
            )
        }
        scheduled = w.select(
            "timeline", ("subject_id", "detail"), participant_id=pid, kind="meeting.Scheduled"
        )
        w.delete("timeline_owners", participant_id=pid, aggregate_id=e.originator_id)
        pairing = str(e.originator_id)
        for subject, detail in scheduled:
            if subject not in held and detail.get("pairing_id") == pairing:
                w.delete("timeline_owners", participant_id=pid, aggregate_id=subject)

    @handles(
        Pairing.FlaggedForReview, Pairing.FlagResolved, Pairing.FirstMeetingRecorded, Pairing.Closed
    )
    def pairing(self, w: Writer, e: PairingFact, position: int) -> None:
        self._add_owned(w, e, position, e.originator_id)

    @handles(Meeting.Scheduled)
    def meeting_scheduled(self, w: Writer, e: Meeting.Scheduled, position: int) -> None:
        # The meeting belongs to whoever the pairing belongs to now.
        w.insert(
            "timeline_owners",
            {"aggregate_id": e.originator_id, "participant_id": Src("participant_id")},
            source=("timeline_owners", {"aggregate_id": e.pairing_id}),
            on_conflict="nothing",
        )
        self._add_owned(w, e, position, e.originator_id)

    @handles(Meeting.Held, Meeting.Missed, Meeting.Cancelled, Meeting.Amended)
    def meeting(self, w: Writer, e: MeetingFact, position: int) -> None:
        self._add_owned(w, e, position, e.originator_id)

    @handles(Goal.Set, Referral.Made)
    def owned_created(self, w: Writer, e: OwnedStart, position: int) -> None:
        self._own(w, e.originator_id, [e.participant_id])
        self._add(w, e, position, [e.participant_id])

    @handles(
        Goal.StepAdded,
        Goal.StepCompleted,
        Goal.StepDropped,
        Goal.ProgressRecorded,
        Goal.Revised,
        Goal.Achieved,
        Goal.Abandoned,
        Referral.HandedToCaseManager,
        Referral.Connected,
        Referral.Declined,
    )
    def owned(self, w: Writer, e: OwnedFact, position: int) -> None:
        self._add_owned(w, e, position, e.originator_id)

    @handles(Outcomes.EmploymentStarted, Outcomes.CredentialEarned, Outcomes.HousingSecured)
    def outcome(self, w: Writer, e: OutcomeFact, position: int) -> None:
        self._add(w, e, position, [e.participant_id])

    @handles(Feedback.Given)
    def feedback(self, w: Writer, e: Feedback.Given, position: int) -> None:
        self._add(w, e, position, [e.participant_id], audience="evaluation")

    @handles(Escalation.Raised)
    def escalation(self, w: Writer, e: Escalation.Raised, position: int) -> None:
        if e.participant_id is not None:
            self._own(w, e.originator_id, [e.participant_id])
            self._add(w, e, position, [e.participant_id], audience="supervision")

    @handles(Escalation.Acknowledged, Escalation.Resolved)
    def escalation_progress(
        self, w: Writer, e: Escalation.Acknowledged | Escalation.Resolved, position: int
    ) -> None:
        self._add_owned(w, e, position, e.originator_id, audience="supervision")

    @handles(Participant.Erased)
    def participant_erased(self, w: Writer, e: Participant.Erased, position: int) -> None:
        # Every earlier row of the participant keeps its facts, not its text (a rebuild reads
        # the same from the events: their encrypted fields decode as erased).
        rows = w.select("timeline", ("position", "detail"), participant_id=e.originator_id)
        for row_position, detail in rows:
            cleaned = scrub(detail)
            if cleaned != detail:
                w.update(
                    "timeline",
                    {"detail": msgspec.json.encode(cleaned).decode()},
                    participant_id=e.originator_id,
                    position=row_position,
                )
        self._add(w, e, position, [e.originator_id])


# -- reads -----------------------------------------------------------------------------------


class TimelineEntry(msgspec.Struct):
    position: int
    occurred_at: datetime
    recorded_at: datetime
    recorded_by: str
    kind: str
    subject_id: UUID
    audience: str
    detail: dict[str, Any]


ENTRY = select(TimelineEntry)
# The timeline's order: when each fact happened, then its log position (unique per participant,
# so the order is total and a page's cursor names exactly where the next begins). A keyset on
# the columns themselves, served by the index `(participant_id, occurred_at, position)`.
TIME_ORDER = Keyset((Column("occurred_at", "timestamptz"), Column("position", "bigint")))


def timeline_page(
    db: Reader,
    t: Tables,
    participant_id: UUID,
    audiences: list[str],
    *,
    after: str,
    limit: int,
) -> tuple[list[TimelineEntry], str | None]:
    """The participant's rows for these audiences in time order (`TIME_ORDER`) after the cursor
    `after` (empty: from the first); the cursor of the next page if there is one."""
    params: list[Any] = [participant_id, audiences]
    following = ""
    if after:
        params += TIME_ORDER.read(after)
        following = " AND (occurred_at, position) > (%s::timestamptz, %s::bigint)"
    rows = db.fetchall(
        sql.SQL(
            "SELECT " + ENTRY.sql + " FROM {} WHERE participant_id = %s"
            " AND audience = ANY(%s)" + following + " ORDER BY occurred_at, position LIMIT %s"
        ).format(t["timeline"]),
        (*params, limit + 1),
    )
    entries = typed(TimelineEntry, ENTRY, rows[:limit])
    if len(rows) <= limit or not entries:
        return entries, None
    return entries, TIME_ORDER.cursor((entries[-1].occurred_at, entries[-1].position))
