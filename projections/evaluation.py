"""Evaluation view: participant feedback with per-question ratings (the mean per mentor is a
query over them), the coordinator's mentor assessments, and participant outcomes."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any, ClassVar, Literal
from uuid import UUID

import msgspec
from psycopg import sql

from domain.evaluation import (
    AreaScore,
    AssessmentArea,
    CredentialType,
    Feedback,
    FeedbackQuestion,
    HousingType,
    MentorAssessment,
    Outcomes,
    Rating,
    WageUnit,
)
from domain.participants import Participant
from projections.base import Projection, Tables, handles
from projections.erasure import ERASED
from projections.ops import Erase, Writer
from projections.query import Reader, page
from projections.rows import select, typed

OutcomeEvent = Outcomes.EmploymentStarted | Outcomes.CredentialEarned | Outcomes.HousingSecured


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
    def feedback(self, w: Writer, e: Feedback.Given, position: int) -> None:
        mean = sum(r.score for r in e.ratings) / len(e.ratings)
        w.insert(
            "feedback",
            {
                "feedback_id": e.originator_id,
                "participant_id": e.participant_id,
                "mentor_id": e.mentor_id,
                "pairing_id": e.pairing_id,
                "given_on": e.given_on,
                "mean_score": round(mean, 2),
                "comment": e.comment,
                "anonymous_to_mentor": e.anonymous_to_mentor,
                "recorded_by": e.recorded_by,
                "position": position,
            },
        )
        for r in e.ratings:
            w.insert(
                "feedback_ratings",
                {
                    "feedback_id": e.originator_id,
                    "mentor_id": e.mentor_id,
                    "question": r.question.value,
                    "score": r.score,
                },
            )

    @handles(MentorAssessment.Assessed)
    def assessed(self, w: Writer, e: MentorAssessment.Assessed, position: int) -> None:
        mean = sum(s.score for s in e.scores) / len(e.scores)
        w.insert(
            "assessments",
            {
                "assessment_id": e.originator_id,
                "mentor_id": e.mentor_id,
                "assessed_on": e.assessed_on,
                "assessor": e.recorded_by,
                "mean_score": round(mean, 2),
                "summary": e.summary,
                "development_plan": e.development_plan,
                "position": position,
            },
        )
        for s in e.scores:
            w.insert(
                "assessment_scores",
                {
                    "assessment_id": e.originator_id,
                    "mentor_id": e.mentor_id,
                    "area": s.area.value,
                    "score": s.score,
                    "note": s.note,
                },
            )

    def _outcome(
        self, w: Writer, e: OutcomeEvent, position: int, kind: str, on: date, **columns: Any
    ) -> None:
        w.insert(
            "outcomes",
            {
                "position": position,
                "participant_id": e.participant_id,
                "kind": kind,
                "occurred_on": on,
                "recorded_by": e.recorded_by,
                **columns,
            },
        )

    @handles(Outcomes.EmploymentStarted)
    def employed(self, w: Writer, e: Outcomes.EmploymentStarted, position: int) -> None:
        j = e.employment
        self._outcome(
            w,
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
    def credential(self, w: Writer, e: Outcomes.CredentialEarned, position: int) -> None:
        c = e.credential
        self._outcome(
            w,
            e,
            position,
            "credential",
            c.earned_on,
            credential_type=c.credential_type.value,
            credential_name=c.name,
            issuer=c.issuer,
        )

    @handles(Outcomes.HousingSecured)
    def housed(self, w: Writer, e: Outcomes.HousingSecured, position: int) -> None:
        h = e.housing
        self._outcome(
            w, e, position, "housing", h.secured_on, housing_type=h.housing_type.value, note=h.note
        )

    @handles(Participant.Erased)
    def participant_erased(self, w: Writer, e: Participant.Erased, position: int) -> None:
        erase = Erase(ERASED)
        w.update("feedback", {"comment": erase}, participant_id=e.originator_id)
        w.update(
            "outcomes",
            {"employer": erase, "job_title": erase, "note": erase},
            participant_id=e.originator_id,
        )


# -- reads -----------------------------------------------------------------------------------


class FeedbackRow(msgspec.Struct):
    """Feedback as staff see it; the mentor's copy leaves out who gave and who collected it."""

    id: UUID
    pairing_id: UUID | None
    mentor_id: UUID
    given_on: date
    mean_score: float
    comment: str
    anonymous_to_mentor: bool
    participant_id: UUID | None
    collected_by: str | None
    ratings: list[Rating]


class MentorRating(msgspec.Struct):
    mentor_id: UUID
    feedback_count: int
    mean_rating: float
    by_question: dict[str, float]


class AssessmentRow(msgspec.Struct):
    id: UUID
    mentor_id: UUID
    assessed_on: date
    assessor: str
    scores: list[AreaScore]
    mean_score: float
    summary: str
    development_plan: str


OutcomeKind = Literal["employment", "credential", "housing"]


class OutcomeRow(msgspec.Struct, omit_defaults=True):
    position: int
    participant_id: UUID
    kind: OutcomeKind
    occurred_on: date
    employer: str | None = None
    job_title: str | None = None
    wage: Decimal | None = None
    wage_unit: WageUnit | None = None
    credential_type: CredentialType | None = None
    credential_name: str | None = None
    housing_type: HousingType | None = None


FEEDBACK = select(FeedbackRow, skip=("ratings",), id="feedback_id", collected_by="recorded_by")
ASSESSMENT = select(AssessmentRow, skip=("scores",), id="assessment_id")
OUTCOME = select(OutcomeRow)


def feedback_page(
    db: Reader,
    t: Tables,
    *,
    after: str,
    limit: int,
    mentor_id: UUID | None = None,
    participant_id: UUID | None = None,
) -> tuple[list[FeedbackRow], str | None]:
    """Feedback in id order with its ratings (by question), by mentor or participant."""
    where = [
        (c, v)
        for c, v in (("mentor_id", mentor_id), ("participant_id", participant_id))
        if v is not None
    ]
    rows, nxt = page(
        db,
        t,
        "feedback",
        FEEDBACK.sql,
        "feedback_id",
        after=after,
        limit=limit,
        cast_key="uuid",
        where=where,
    )
    ratings: dict[UUID, list[Rating]] = {}
    for feedback_id, question, score in db.fetchall(
        sql.SQL(
            "SELECT feedback_id, question, score FROM {} WHERE feedback_id = ANY(%s)"
            " ORDER BY feedback_id, question"
        ).format(t["feedback_ratings"]),
        ([r[0] for r in rows],),
    ):
        ratings.setdefault(feedback_id, []).append(
            Rating(question=FeedbackQuestion(question), score=score)
        )
    return typed(FeedbackRow, FEEDBACK, rows, {"ratings": lambda r: ratings.get(r["id"], [])}), nxt


def rating_summary(db: Reader, t: Tables) -> list[MentorRating]:
    """The mean rating of each mentor, overall and per question (to two decimals)."""
    out: dict[UUID, MentorRating] = {}
    for mentor_id, question, mean, count in db.fetchall(
        sql.SQL(
            "SELECT mentor_id, question, avg(score), count(DISTINCT feedback_id) FROM {}"
            " GROUP BY GROUPING SETS ((mentor_id, question), (mentor_id))"
            " ORDER BY mentor_id, question NULLS FIRST"
        ).format(t["feedback_ratings"]),
    ):
        if question is None:
            out[mentor_id] = MentorRating(mentor_id, count, round(float(mean), 2), {})
        else:
            out[mentor_id].by_question[question] = round(float(mean), 2)
    return list(out.values())


def assessment_page(
    db: Reader, t: Tables, *, after: str, limit: int, mentor_id: UUID | None = None
) -> tuple[list[AssessmentRow], str | None]:
    """Mentor assessments in id order with their scores (by area), optionally of one mentor."""
    rows, nxt = page(
        db,
        t,
        "assessments",
        ASSESSMENT.sql,
        "assessment_id",
        after=after,
        limit=limit,
        cast_key="uuid",
        where=[("mentor_id", mentor_id)] if mentor_id else None,
    )
    scores: dict[UUID, list[AreaScore]] = {}
    for assessment_id, area, score, note in db.fetchall(
        sql.SQL(
            "SELECT assessment_id, area, score, note FROM {} WHERE assessment_id = ANY(%s)"
            " ORDER BY assessment_id, area"
        ).format(t["assessment_scores"]),
        ([r[0] for r in rows],),
    ):
        scores.setdefault(assessment_id, []).append(
            AreaScore(area=AssessmentArea(area), score=score, note=note)
        )
    return typed(
        AssessmentRow, ASSESSMENT, rows, {"scores": lambda r: scores.get(r["id"], [])}
    ), nxt


def outcome_page(
    db: Reader,
    t: Tables,
    *,
    after: str,
    limit: int,
    kind: OutcomeKind | None = None,
    participant_id: UUID | None = None,
) -> tuple[list[OutcomeRow], str | None]:
    """Every outcome recorded, in log order, by kind or participant."""
    where = [
        (c, v) for c, v in (("kind", kind), ("participant_id", participant_id)) if v is not None
    ]
    rows, nxt = page(
        db,
        t,
        "outcomes",
        OUTCOME.sql,
        "position",
        after=after,
        limit=limit,
        cast_key="bigint",
        where=where,
    )
    return typed(OutcomeRow, OUTCOME, rows), nxt
