"""Participant timeline: every fact about a participant, in log order, for their case file.

Each row says who may see it (`audience`): `case` rows are for the people who work the case,
`evaluation` rows (feedback) and `supervision` rows (escalations) for the coordinator's side.
Confidential text never enters the view: a held meeting shows only that a confidential note
exists, and an escalation shows its type and severity but not its description.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

import msgspec
from psycopg import Cursor, sql
from psycopg.rows import TupleRow

from domain.evaluation import Feedback, Outcomes
from domain.goals import Goal
from domain.meetings import Meeting
from domain.pairings import Pairing
from domain.participants import Participant
from domain.resources import Referral
from domain.supervision import Escalation
from projections.base import Projection, Tables, handles
from projections.erasure import scrub

# Fields that never leave the log through this view.
_HIDDEN = frozenset(
    {
        "originator_id",
        "originator_version",
        "timestamp",
        "originator_topic",
        "recorded_by",
        "request_id",
        "grantee",
        "occurred_at",
        "confidential_note",
        "description",
        "comment",
        "personal",
    }
)


def _detail(event: Any) -> str:
    data = {k: v for k, v in vars(event).items() if k not in _HIDDEN}
    record = data.get("record")
    if record is not None and hasattr(record, "confidential_note"):
        shown = msgspec.to_builtins(record)
        shown.pop("confidential_note", None)
        shown["has_confidential_note"] = bool(record.confidential_note)
        data["record"] = shown
    return msgspec.json.encode(msgspec.to_builtins(data)).decode()


def _kind(event: Any) -> str:
    return f"{type(event).__qualname__.split('.')[0].lower()}.{type(event).__name__}"


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

    def _own(
        self, cur: Cursor[TupleRow], t: Tables, aggregate_id: Any, participants: Iterable[Any]
    ) -> None:
        for pid in participants:
            cur.execute(
                sql.SQL("INSERT INTO {} VALUES (%s, %s) ON CONFLICT DO NOTHING").format(
                    t["timeline_owners"]
                ),
                (aggregate_id, pid),
            )

    def _add_owned(
        self,
        cur: Cursor[TupleRow],
        t: Tables,
        e: Any,
        position: int,
        aggregate_id: Any,
        audience: str = "case",
    ) -> None:
        """`_add` for every owner of `aggregate_id`, in one statement (no round trip to read
        the owners first: rebuilds send it in a batch)."""
        cur.execute(
            sql.SQL(
                "INSERT INTO {t} SELECT participant_id, %s, %s, %s, %s, %s, %s, %s, %s::jsonb"
                " FROM {o} WHERE aggregate_id = %s"
            ).format(t=t["timeline"], o=t["timeline_owners"]),
            (
                position,
                e.occurred_at,
                e.timestamp,
                e.recorded_by,
                _kind(e),
                e.originator_id,
                audience,
                _detail(e),
                aggregate_id,
            ),
        )

    def _add(
        self,
        cur: Cursor[TupleRow],
        t: Tables,
        e: Any,
        position: int,
        participants: Iterable[Any],
        audience: str = "case",
    ) -> None:
        kind = _kind(e)
        detail = _detail(e)
        for pid in participants:
            cur.execute(
                sql.SQL("INSERT INTO {} VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s::jsonb)").format(
                    t["timeline"]
                ),
                (
                    pid,
                    position,
                    e.occurred_at,
                    e.timestamp,
                    e.recorded_by,
                    kind,
                    e.originator_id,
                    audience,
                    detail,
                ),
            )

    @handles(
        Participant.Enrolled,
        Participant.StageTransitioned,
        Participant.ReturnedToCustody,
        Participant.Exited,
        Participant.RegisteredAsMentor,
        Participant.PairingJoined,
        Participant.PairingLeft,
    )
    def participant(self, cur: Cursor[TupleRow], t: Tables, e: Any, position: int) -> None:
        self._add(cur, t, e, position, [e.originator_id])

    @handles(Pairing.Opened)
    def pairing_opened(self, cur: Cursor[TupleRow], t: Tables, e: Any, position: int) -> None:
        self._own(cur, t, e.originator_id, e.members)

    @handles(Pairing.MemberAdded)
    def member_added(self, cur: Cursor[TupleRow], t: Tables, e: Any, position: int) -> None:
        self._own(cur, t, e.originator_id, [e.participant_id])

    @handles(Pairing.MemberRemoved)
    def member_removed(self, cur: Cursor[TupleRow], t: Tables, e: Any, position: int) -> None:
        # A member who leaves a group no longer hears of it: neither the group's later events
        # nor its meetings still to be held (those they attended stay theirs, amendments too).
        cur.execute(
            sql.SQL(
                "DELETE FROM {o} WHERE participant_id = %s AND (aggregate_id = %s OR aggregate_id IN ("
                " SELECT s.subject_id FROM {t} s WHERE s.participant_id = %s AND s.kind = 'meeting.Scheduled'"
                " AND s.detail->>'pairing_id' = %s AND NOT EXISTS (SELECT 1 FROM {t} h"
                " WHERE h.participant_id = s.participant_id AND h.subject_id = s.subject_id"
                " AND h.kind = 'meeting.Held')))"
            ).format(o=t["timeline_owners"], t=t["timeline"]),
            (e.participant_id, e.originator_id, e.participant_id, str(e.originator_id)),
        )

    @handles(
        Pairing.FlaggedForReview, Pairing.FlagResolved, Pairing.FirstMeetingRecorded, Pairing.Closed
    )
    def pairing(self, cur: Cursor[TupleRow], t: Tables, e: Any, position: int) -> None:
        self._add_owned(cur, t, e, position, e.originator_id)

    @handles(Meeting.Scheduled)
    def meeting_scheduled(self, cur: Cursor[TupleRow], t: Tables, e: Any, position: int) -> None:
        # The meeting belongs to whoever the pairing belongs to now.
        cur.execute(
            sql.SQL(
                "INSERT INTO {o} SELECT %s, participant_id FROM {o} WHERE aggregate_id = %s"
                " ON CONFLICT DO NOTHING"
            ).format(o=t["timeline_owners"]),
            (e.originator_id, e.pairing_id),
        )
        self._add_owned(cur, t, e, position, e.originator_id)

    @handles(Meeting.Held, Meeting.Missed, Meeting.Cancelled, Meeting.Amended)
    def meeting(self, cur: Cursor[TupleRow], t: Tables, e: Any, position: int) -> None:
        self._add_owned(cur, t, e, position, e.originator_id)

    @handles(Goal.Set, Referral.Made)
    def owned_created(self, cur: Cursor[TupleRow], t: Tables, e: Any, position: int) -> None:
        self._own(cur, t, e.originator_id, [e.participant_id])
        self._add(cur, t, e, position, [e.participant_id])

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
    def owned(self, cur: Cursor[TupleRow], t: Tables, e: Any, position: int) -> None:
        self._add_owned(cur, t, e, position, e.originator_id)

    @handles(Outcomes.EmploymentStarted, Outcomes.CredentialEarned, Outcomes.HousingSecured)
    def outcome(self, cur: Cursor[TupleRow], t: Tables, e: Any, position: int) -> None:
        self._add(cur, t, e, position, [e.participant_id])

    @handles(Feedback.Given)
    def feedback(self, cur: Cursor[TupleRow], t: Tables, e: Any, position: int) -> None:
        self._add(cur, t, e, position, [e.participant_id], audience="evaluation")

    @handles(Escalation.Raised)
    def escalation(self, cur: Cursor[TupleRow], t: Tables, e: Any, position: int) -> None:
        if e.participant_id is not None:
            self._own(cur, t, e.originator_id, [e.participant_id])
            self._add(cur, t, e, position, [e.participant_id], audience="supervision")

    @handles(Escalation.Acknowledged, Escalation.Resolved)
    def escalation_progress(self, cur: Cursor[TupleRow], t: Tables, e: Any, position: int) -> None:
        self._add_owned(cur, t, e, position, e.originator_id, audience="supervision")

    @handles(Participant.Erased)
    def participant_erased(self, cur: Cursor[TupleRow], t: Tables, e: Any, position: int) -> None:
        # Every earlier row of the participant keeps its facts, not its text (a rebuild reads
        # the same from the events: their encrypted fields decode as erased).
        cur.execute(
            sql.SQL("SELECT position, detail FROM {} WHERE participant_id = %s").format(
                t["timeline"]
            ),
            (e.originator_id,),
        )
        for row_position, detail in cur.fetchall():
            cleaned = scrub(detail)
            if cleaned != detail:
                cur.execute(
                    sql.SQL(
                        "UPDATE {} SET detail = %s::jsonb WHERE participant_id = %s AND position = %s"
                    ).format(t["timeline"]),
                    (msgspec.json.encode(cleaned).decode(), e.originator_id, row_position),
                )
        self._add(cur, t, e, position, [e.originator_id])
