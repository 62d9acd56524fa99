"""Supervision view: every mentor with the date of the last debrief (the support network),
debriefs with each mentor's well-being check, escalations with their time to acknowledge.

Handlers store facts only; whatever depends on today (30 days, 24 hours) is computed when read.
`VIEWS` also carries the evaluation and referral views (`projections.evaluation`,
`projections.referrals`).
"""

from __future__ import annotations

from typing import Any, ClassVar

from psycopg import Cursor, sql
from psycopg.rows import TupleRow

from domain.mentors import Mentor
from domain.participants import Participant
from domain.supervision import Debrief, Escalation
from projections.base import Projection, Tables, handles
from projections.erasure import erased
from projections.evaluation import EvaluationView
from projections.referrals import ReferralView

Cur = Cursor[TupleRow]


def update(
    cur: Cur, table: sql.Composed, key: str, key_value: Any, assignments: str, *params: Any
) -> None:
    cur.execute(
        sql.SQL("UPDATE {} SET " + assignments + " WHERE {} = %s").format(
            table, sql.Identifier(key)
        ),
        (*params, key_value),
    )


class SupervisionView(Projection):
    name = "supervision"
    tables: ClassVar[dict[str, str]] = {
        "sup_mentors": (
            "mentor_id uuid PRIMARY KEY, display_name text NOT NULL, subject text,"
            " status text NOT NULL, coordinator text, certified_at timestamptz,"
            " last_debrief_on date, debriefs int NOT NULL DEFAULT 0, last_wellbeing text,"
            " open_escalations int NOT NULL DEFAULT 0, last_position bigint NOT NULL"
        ),
        "debriefs": (
            "debrief_id uuid PRIMARY KEY, held_on date NOT NULL, format text NOT NULL,"
            " coordinator text NOT NULL, mentor_ids uuid[] NOT NULL, topics text[] NOT NULL,"
            " notes text NOT NULL, position bigint NOT NULL"
        ),
        "debrief_checks": (
            "debrief_id uuid NOT NULL, mentor_id uuid NOT NULL, held_on date NOT NULL,"
            " wellbeing text NOT NULL, work_life_balance_ok boolean NOT NULL,"
            " support_offered text NOT NULL, PRIMARY KEY (debrief_id, mentor_id)"
        ),
        "escalations": (
            "escalation_id uuid PRIMARY KEY, mentor_id uuid NOT NULL, participant_id uuid,"
            " type text NOT NULL, severity text NOT NULL, description text NOT NULL,"
            " raised_by text NOT NULL, raised_at timestamptz NOT NULL,"
            " acknowledged_at timestamptz, acknowledged_by text, seconds_to_acknowledge bigint,"
            " resolved_at timestamptz, resolution text, last_position bigint NOT NULL"
        ),
    }
    order: ClassVar[dict[str, str]] = {
        "sup_mentors": "mentor_id",
        "debriefs": "debrief_id",
        "debrief_checks": "debrief_id, mentor_id",
        "escalations": "escalation_id",
    }

    def _mentor(
        self, cur: Cur, t: Tables, mentor_id: Any, position: int, assignments: str, *params: Any
    ) -> None:
        update(
            cur,
            t["sup_mentors"],
            "mentor_id",
            mentor_id,
            assignments + " last_position = %s",
            *params,
            position,
        )

    @handles(Mentor.Registered)
    def registered(self, cur: Cur, t: Tables, e: Any, position: int) -> None:
        cur.execute(
            sql.SQL(
                "INSERT INTO {} (mentor_id, display_name, subject, status, last_position)"
                " VALUES (%s, %s, %s, 'applicant', %s)"
            ).format(t["sup_mentors"]),
            (e.originator_id, e.display_name, e.subject, position),
        )

    @handles(Mentor.CoordinatorAssigned)
    def coordinator(self, cur: Cur, t: Tables, e: Any, position: int) -> None:
        self._mentor(cur, t, e.originator_id, position, "coordinator = %s,", e.coordinator)

    @handles(Mentor.Certified, Mentor.Reinstated, Mentor.Suspended, Mentor.Retired)
    def status(self, cur: Cur, t: Tables, e: Any, position: int) -> None:
        if isinstance(e, Mentor.Certified):
            self._mentor(
                cur,
                t,
                e.originator_id,
                position,
                "status = 'certified', certified_at = %s,",
                e.occurred_at,
            )
        else:
            status = {Mentor.Reinstated: "certified", Mentor.Suspended: "suspended"}.get(
                type(e), "retired"
            )
            self._mentor(cur, t, e.originator_id, position, "status = %s,", status)

    @handles(Debrief.Recorded)
    def debriefed(self, cur: Cur, t: Tables, e: Any, position: int) -> None:
        cur.execute(
            sql.SQL("INSERT INTO {} VALUES (%s, %s, %s, %s, %s, %s, %s, %s)").format(t["debriefs"]),
            (
                e.originator_id,
                e.held_on,
                e.format.value,
                e.recorded_by,
                list(e.mentor_ids),
                [topic.value for topic in e.topics],
                e.notes,
                position,
            ),
        )
        for c in e.checks:
            cur.execute(
                sql.SQL("INSERT INTO {} VALUES (%s, %s, %s, %s, %s, %s)").format(
                    t["debrief_checks"]
                ),
                (
                    e.originator_id,
                    c.mentor_id,
                    e.held_on,
                    c.wellbeing.value,
                    c.work_life_balance_ok,
                    c.support_offered,
                ),
            )
            # A debrief recorded late (an earlier date) never moves the last debrief back.
            self._mentor(
                cur,
                t,
                c.mentor_id,
                position,
                "debriefs = debriefs + 1, last_wellbeing = CASE WHEN last_debrief_on IS NULL"
                " OR last_debrief_on <= %s THEN %s ELSE last_wellbeing END,"
                " last_debrief_on = GREATEST(last_debrief_on, %s),",
                e.held_on,
                c.wellbeing.value,
                e.held_on,
            )

    @handles(Participant.Erased)
    def participant_erased(self, cur: Cursor[TupleRow], t: Tables, e: Any, position: int) -> None:
        """An erased participant's escalations keep their type, severity and times; their
        description and resolution read as erased (as a rebuild reads them)."""
        cur.execute(
            sql.SQL(
                "UPDATE {} SET description = {}, resolution = {} WHERE participant_id = %s"
            ).format(t["escalations"], erased("description"), erased("resolution")),
            (e.originator_id,),
        )

    @handles(Escalation.Raised)
    def raised(self, cur: Cur, t: Tables, e: Any, position: int) -> None:
        cur.execute(
            sql.SQL(
                "INSERT INTO {} (escalation_id, mentor_id, participant_id, type, severity,"
                " description, raised_by, raised_at, last_position)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)"
            ).format(t["escalations"]),
            (
                e.originator_id,
                e.mentor_id,
                e.participant_id,
                e.type.value,
                e.severity.value,
                e.description,
                e.raised_by,
                e.occurred_at,
                position,
            ),
        )
        self._mentor(cur, t, e.mentor_id, position, "open_escalations = open_escalations + 1,")

    @handles(Escalation.Acknowledged)
    def acknowledged(self, cur: Cur, t: Tables, e: Any, position: int) -> None:
        update(
            cur,
            t["escalations"],
            "escalation_id",
            e.originator_id,
            "acknowledged_at = %s, acknowledged_by = %s,"
            " seconds_to_acknowledge = extract(epoch FROM %s - raised_at)::bigint,"
            " last_position = %s",
            e.occurred_at,
            e.acknowledged_by,
            e.occurred_at,
            position,
        )

    @handles(Escalation.Resolved)
    def resolved(self, cur: Cur, t: Tables, e: Any, position: int) -> None:
        cur.execute(
            sql.SQL(
                "UPDATE {} SET resolved_at = %s, resolution = %s, last_position = %s"
                " WHERE escalation_id = %s RETURNING mentor_id"
            ).format(t["escalations"]),
            (e.occurred_at, e.resolution, position, e.originator_id),
        )
        row = cur.fetchone()
        if row is not None:
            self._mentor(cur, t, row[0], position, "open_escalations = open_escalations - 1,")


VIEWS: tuple[Projection, ...] = (SupervisionView(), EvaluationView(), ReferralView())
