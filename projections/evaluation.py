"""Evaluation view: participant feedback with per-question ratings (the mean per mentor is a
query over them), the coordinator's mentor assessments, and participant outcomes."""

from __future__ import annotations

from typing import Any, ClassVar

from psycopg import Cursor, sql
from psycopg.rows import TupleRow

from domain.evaluation import Feedback, MentorAssessment, Outcomes
from domain.participants import Participant
from projections.base import Projection, Tables, handles
from projections.erasure import erased

Cur = Cursor[TupleRow]


class EvaluationView(Projection):
    name = "evaluation"
    tables: ClassVar[dict[str, str]] = {
        "feedback": (
            "feedback_id uuid PRIMARY KEY, participant_id uuid NOT NULL, mentor_id uuid NOT NULL,"
            " pairing_id uuid NOT NULL, given_on date NOT NULL, mean_score numeric NOT NULL,"
            " comment text NOT NULL, anonymous_to_mentor boolean NOT NULL,"
            " recorded_by text NOT NULL, position bigint NOT NULL"
        ),
        "feedback_ratings": (
            "feedback_id uuid NOT NULL, mentor_id uuid NOT NULL, question text NOT NULL,"
            " score int NOT NULL, PRIMARY KEY (feedback_id, question)"
        ),
        "assessments": (
            "assessment_id uuid PRIMARY KEY, mentor_id uuid NOT NULL, assessed_on date NOT NULL,"
            " assessor text NOT NULL, mean_score numeric NOT NULL, summary text NOT NULL,"
            " development_plan text NOT NULL, position bigint NOT NULL"
        ),
        "assessment_scores": (
            "assessment_id uuid NOT NULL, mentor_id uuid NOT NULL, area text NOT NULL,"
            " score int NOT NULL, note text NOT NULL, PRIMARY KEY (assessment_id, area)"
        ),
        "outcomes": (
            "position bigint PRIMARY KEY, participant_id uuid NOT NULL, kind text NOT NULL,"
            " occurred_on date NOT NULL, employer text, job_title text, wage numeric,"
            " wage_unit text, hours_per_week numeric, credential_type text, credential_name text,"
            " issuer text, housing_type text, note text, recorded_by text NOT NULL"
        ),
    }
    order: ClassVar[dict[str, str]] = {
        "feedback": "feedback_id",
        "feedback_ratings": "feedback_id, question",
        "assessments": "assessment_id",
        "assessment_scores": "assessment_id, area",
        "outcomes": "position",
    }

    @handles(Feedback.Given)
    def feedback(self, cur: Cur, t: Tables, e: Any, position: int) -> None:
        mean = sum(r.score for r in e.ratings) / len(e.ratings)
        cur.execute(
            sql.SQL("INSERT INTO {} VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)").format(
                t["feedback"]
            ),
            (
                e.originator_id,
                e.participant_id,
                e.mentor_id,
                e.pairing_id,
                e.given_on,
                round(mean, 2),
                e.comment,
                e.anonymous_to_mentor,
                e.recorded_by,
                position,
            ),
        )
        for r in e.ratings:
            cur.execute(
                sql.SQL("INSERT INTO {} VALUES (%s, %s, %s, %s)").format(t["feedback_ratings"]),
                (e.originator_id, e.mentor_id, r.question.value, r.score),
            )

    @handles(MentorAssessment.Assessed)
    def assessed(self, cur: Cur, t: Tables, e: Any, position: int) -> None:
        mean = sum(s.score for s in e.scores) / len(e.scores)
        cur.execute(
            sql.SQL("INSERT INTO {} VALUES (%s, %s, %s, %s, %s, %s, %s, %s)").format(
                t["assessments"]
            ),
            (
                e.originator_id,
                e.mentor_id,
                e.assessed_on,
                e.recorded_by,
                round(mean, 2),
                e.summary,
                e.development_plan,
                position,
            ),
        )
        for s in e.scores:
            cur.execute(
                sql.SQL("INSERT INTO {} VALUES (%s, %s, %s, %s, %s)").format(
                    t["assessment_scores"]
                ),
                (e.originator_id, e.mentor_id, s.area.value, s.score, s.note),
            )

    def _outcome(
        self, cur: Cur, t: Tables, e: Any, position: int, kind: str, on: Any, **columns: Any
    ) -> None:
        names = ["position", "participant_id", "kind", "occurred_on", "recorded_by", *columns]
        cur.execute(
            sql.SQL("INSERT INTO {} ({}) VALUES ({})").format(
                t["outcomes"],
                sql.SQL(", ").join(map(sql.Identifier, names)),
                sql.SQL(", ").join(sql.Placeholder() * len(names)),
            ),
            (position, e.participant_id, kind, on, e.recorded_by, *columns.values()),
        )

    @handles(Outcomes.EmploymentStarted)
    def employed(self, cur: Cur, t: Tables, e: Any, position: int) -> None:
        j = e.employment
        self._outcome(
            cur,
            t,
            e,
            position,
            "employment",
            j.started_on,
            employer=j.employer,
            job_title=j.job_title,
            wage=j.wage,
            wage_unit=j.wage_unit.value,
            hours_per_week=j.hours_per_week,
        )

    @handles(Outcomes.CredentialEarned)
    def credential(self, cur: Cur, t: Tables, e: Any, position: int) -> None:
        c = e.credential
        self._outcome(
            cur,
            t,
            e,
            position,
            "credential",
            c.earned_on,
            credential_type=c.credential_type.value,
            credential_name=c.name,
            issuer=c.issuer,
        )

    @handles(Outcomes.HousingSecured)
    def housed(self, cur: Cur, t: Tables, e: Any, position: int) -> None:
        h = e.housing
        self._outcome(
            cur,
            t,
            e,
            position,
            "housing",
            h.secured_on,
            housing_type=h.housing_type.value,
            note=h.note,
        )

    @handles(Participant.Erased)
    def participant_erased(self, cur: Cursor[TupleRow], t: Tables, e: Any, position: int) -> None:
        cur.execute(
            sql.SQL("UPDATE {} SET comment = {} WHERE participant_id = %s").format(
                t["feedback"], erased("comment")
            ),
            (e.originator_id,),
        )
        cur.execute(
            sql.SQL(
                "UPDATE {} SET employer = {}, job_title = {}, note = {} WHERE participant_id = %s"
            ).format(t["outcomes"], erased("employer"), erased("job_title"), erased("note")),
            (e.originator_id,),
        )
