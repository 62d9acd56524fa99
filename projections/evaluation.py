"""Evaluation view: participant feedback with per-question ratings (the mean per mentor is a
query over them), the coordinator's mentor assessments, and participant outcomes."""

from __future__ import annotations

from datetime import date
from typing import Any, ClassVar

from domain.evaluation import Feedback, MentorAssessment, Outcomes
from domain.participants import Participant
from projections.base import Projection, handles
from projections.erasure import ERASED
from projections.ops import Erase, Writer

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
