"""`/v1/grantees/{grantee}/feedback`, `/assessments` and participant `/outcomes`."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Literal
from uuid import UUID

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.di import Provide
from psycopg import sql

from domain.evaluation import (
    MAX_SCORE,
    MIN_SCORE,
    AreaScore,
    AssessmentArea,
    Credential,
    CredentialType,
    Employment,
    Feedback,
    FeedbackQuestion,
    Housing,
    HousingType,
    MentorAssessment,
    Outcomes,
    Rating,
    WageUnit,
)
from projections import query
from services.api import views
from services.api.context import Tenant, action, provide_tenant, tenant_command
from services.api.docs import body, problems
from services.api.params import FIRST_UUID, Cursor, Limit, LongText, MinPosition, UuidCursor
from services.api.text import Line

Text = LongText
Name = Annotated[Line, msgspec.Meta(max_length=200)]
# A positive decimal amount, as a string ("18.50"). msgspec takes no pattern on a Decimal; the
# domain refuses the rest (`invalid_wage`), the schema declares it (Litestar copies
# `extra_json_schema["extra"]` into the field's schema).
PositiveAmount = Annotated[
    Decimal,
    msgspec.Meta(
        extra_json_schema={
            "extra": {"pattern": r"^([0-9]*[1-9][0-9]*(\.[0-9]+)?|[0-9]+\.[0-9]*[1-9][0-9]*)$"}
        },
        examples=["18.50"],
    ),
]


class RatingIO(msgspec.Struct, forbid_unknown_fields=True):
    question: FeedbackQuestion
    score: Annotated[int, msgspec.Meta(ge=MIN_SCORE, le=MAX_SCORE)]


class FeedbackIn(msgspec.Struct, forbid_unknown_fields=True):
    pairing_id: UUID
    participant_id: UUID
    given_on: date
    ratings: Annotated[list[RatingIO], msgspec.Meta(max_length=7)]
    comment: Text = ""
    anonymous_to_mentor: bool = False


class FeedbackOut(msgspec.Struct, omit_defaults=True):
    id: UUID
    pairing_id: UUID | None
    mentor_id: UUID
    given_on: date
    ratings: list[RatingIO]
    mean_score: float
    comment: str
    anonymous_to_mentor: bool
    participant_id: UUID | None = None
    collected_by: str | None = None
    version: int | None = None
    position: int | None = None


class FeedbackPage(msgspec.Struct):
    items: list[FeedbackOut]
    next_cursor: str | None


class MentorRating(msgspec.Struct):
    mentor_id: UUID
    feedback_count: int
    mean_rating: float
    by_question: dict[str, float]


class RatingSummary(msgspec.Struct):
    items: list[MentorRating]


class ScoreIO(msgspec.Struct, forbid_unknown_fields=True):
    area: AssessmentArea
    score: Annotated[int, msgspec.Meta(ge=MIN_SCORE, le=MAX_SCORE)]
    note: Text = ""


class AssessmentIn(msgspec.Struct, forbid_unknown_fields=True):
    mentor_id: UUID
    assessed_on: date
    scores: Annotated[list[ScoreIO], msgspec.Meta(max_length=8)]
    summary: Text = ""
    development_plan: Text = ""


class AssessmentOut(msgspec.Struct, omit_defaults=True):
    id: UUID
    mentor_id: UUID
    assessed_on: date
    assessor: str
    scores: list[ScoreIO]
    mean_score: float
    summary: str
    development_plan: str
    version: int | None = None
    position: int | None = None


class AssessmentPage(msgspec.Struct):
    items: list[AssessmentOut]
    next_cursor: str | None


class EmploymentIO(msgspec.Struct, forbid_unknown_fields=True):
    employer: Name
    started_on: date
    wage: PositiveAmount
    wage_unit: WageUnit
    hours_per_week: Annotated[float, msgspec.Meta(gt=0, le=80)] | None = None
    job_title: Name = ""


class CredentialIO(msgspec.Struct, forbid_unknown_fields=True):
    credential_type: CredentialType
    name: Name
    earned_on: date
    issuer: Name = ""


class HousingIO(msgspec.Struct, forbid_unknown_fields=True):
    housing_type: HousingType
    secured_on: date
    note: Text = ""


class OutcomesOut(msgspec.Struct, omit_defaults=True):
    participant_id: UUID
    employments: list[EmploymentIO]
    credentials: list[CredentialIO]
    housing: list[HousingIO]
    version: int | None = None
    position: int | None = None


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


class OutcomePage(msgspec.Struct):
    items: list[OutcomeRow]
    next_cursor: str | None


def render_feedback(f: Feedback, position: int) -> FeedbackOut:
    return FeedbackOut(
        id=f.id,
        pairing_id=f.pairing_id,
        mentor_id=f.mentor_id,
        given_on=f.given_on,
        ratings=[RatingIO(r.question, r.score) for r in f.ratings],
        mean_score=f.mean_score,
        comment=f.comment,
        anonymous_to_mentor=f.anonymous_to_mentor,
        participant_id=f.participant_id,
        collected_by=f.collected_by,
        version=f.version,
        position=position or None,
    )


def render_assessment(a: MentorAssessment, position: int) -> AssessmentOut:
    return AssessmentOut(
        id=a.id,
        mentor_id=a.mentor_id,
        assessed_on=a.assessed_on,
        assessor=a.assessor,
        scores=[ScoreIO(s.area, s.score, s.note) for s in a.scores],
        mean_score=sum(s.score for s in a.scores) / len(a.scores),
        summary=a.summary,
        development_plan=a.development_plan,
        version=a.version,
        position=position or None,
    )


def render_outcomes(o: Outcomes, position: int) -> OutcomesOut:
    return OutcomesOut(
        participant_id=o.participant_id,
        employments=[
            EmploymentIO(
                e.employer, e.started_on, e.wage, e.wage_unit, e.hours_per_week, e.job_title
            )
            for e in o.employments
        ],
        credentials=[
            CredentialIO(c.credential_type, c.name, c.earned_on, c.issuer) for c in o.credentials
        ],
        housing=[HousingIO(h.housing_type, h.secured_on, h.note) for h in o.housing],
        version=o.version,
        position=position or None,
    )


FEEDBACK_EXAMPLE = {
    "pairing_id": "7c0e4f7a-2b1d-4c3e-9f8a-6b5c4d3e2f1a",
    "participant_id": "3f2c1a9e-8d7b-5c6a-9e0f-1a2b3c4d5e6f",
    "given_on": "2026-11-20",
    "ratings": [{"question": "trust", "score": 5}, {"question": "helps_with_goals", "score": 4}],
    "comment": "He has been where I am.",
    "anonymous_to_mentor": True,
}
ASSESSMENT_EXAMPLE = {
    "mentor_id": "9b1d2c3e-4f5a-4b6c-8d7e-0f1a2b3c4d5e",
    "assessed_on": "2026-11-20",
    "scores": [
        {"area": "boundaries_and_confidentiality", "score": 4},
        {"area": "crisis_response", "score": 3, "note": "escalated late once"},
    ],
    "summary": "steady, well liked",
    "development_plan": "crisis refresher in January",
}
OUTCOME_DAY = [
    (422, "before_program_entry", "the employment start date is before the date of program entry"),
    (422, "in_future", "the employment start date lies in the future"),
    (422, "duplicate_outcome", "this employment is already recorded"),
]
INVALID_RATING = (422, "invalid_rating", "a rating is a whole number from 1 to 5")


class EvaluationController(Controller):
    path = "/v1/grantees/{grantee:str}"
    tags = ("evaluation",)
    dependencies = {"tenant": Provide(provide_tenant, sync_to_thread=False)}

    def _tables(self, request: Request[Any, Any, Any], tenant: Tenant, at: int | None) -> Any:
        return views.tables(
            tenant.tenancy.db,
            tenant.info.schema,
            "evaluation",
            at,
            request.app.state.settings.view_wait_max,
        )

    # -- feedback ---------------------------------------------------------------------------
    @post(
        "/feedback",
        opt=action("feedback.write"),
        sync_to_thread=True,
        status_code=201,
        responses=problems(
            INVALID_RATING,
            (422, "not_a_member", "the participant is not a member of this pairing"),
            (422, "ratings_required", "feedback rates at least one question"),
            (422, "duplicate_question", "a question is rated once"),
        ),
    )
    def give_feedback(
        self,
        request: Request[Any, Any, Any],
        tenant: Tenant,
        data: Annotated[FeedbackIn, body("anonymous feedback on a mentor", FEEDBACK_EXAMPLE)],
    ) -> Response[FeedbackOut]:
        """Record a participant's feedback on the mentor of one of their pairings: 1-5 ratings on
        named questions and a comment, optionally anonymous to the mentor."""
        ratings = [Rating(question=r.question, score=r.score) for r in data.ratings]
        return tenant_command(
            request,
            tenant,
            data,
            lambda cmd: tenant.app.evaluation.record_feedback(
                cmd,
                pairing_id=data.pairing_id,
                participant_id=data.participant_id,
                given_on=data.given_on,
                ratings=ratings,
                comment=data.comment,
                anonymous_to_mentor=data.anonymous_to_mentor,
            ),
            render_feedback,
            status=201,
        )

    def _feedback_page(
        self,
        request: Request[Any, Any, Any],
        tenant: Tenant,
        limit: int,
        cursor: str,
        where: list[tuple[str, Any]],
        at: int | None,
        mentors_copy: bool,
    ) -> FeedbackPage:
        db = tenant.tenancy.db
        t = self._tables(request, tenant, at)
        rows, nxt = query.page(
            db,
            t,
            "feedback",
            "feedback_id, pairing_id, mentor_id, given_on, mean_score, comment,"
            " anonymous_to_mentor, participant_id, recorded_by",
            "feedback_id",
            after=cursor or FIRST_UUID,
            limit=limit,
            cast_key="uuid",
            where=where,
        )
        ratings: dict[UUID, list[RatingIO]] = {}
        for fid, question, score in db.fetchall(
            sql.SQL(
                "SELECT feedback_id, question, score FROM {} WHERE feedback_id = ANY(%s)"
                " ORDER BY feedback_id, question"
            ).format(t["feedback_ratings"]),
            ([r[0] for r in rows],),
        ):
            ratings.setdefault(fid, []).append(RatingIO(FeedbackQuestion(question), score))
        items = []
        for r in rows:
            # The mentor's copy never names who gave anonymous feedback, nor who collected it.
            hide = mentors_copy and r[6]
            items.append(
                FeedbackOut(
                    id=r[0],
                    pairing_id=None if hide else r[1],
                    mentor_id=r[2],
                    given_on=r[3],
                    ratings=ratings.get(r[0], []),
                    mean_score=float(r[4]),
                    comment=r[5],
                    anonymous_to_mentor=r[6],
                    participant_id=None if hide else r[7],
                    collected_by=None if mentors_copy else r[8],
                )
            )
        return FeedbackPage(items, nxt)

    @get("/feedback", opt=action("feedback.read"), sync_to_thread=True, responses=problems())
    def list_feedback(
        self,
        request: Request[Any, Any, Any],
        tenant: Tenant,
        limit: Limit = 100,
        cursor: UuidCursor = "",
        mentor_id: UUID | None = None,
        participant_id: UUID | None = None,
        min_position: MinPosition = None,
    ) -> FeedbackPage:
        """Participant feedback as staff see it (with its author), by mentor or participant."""
        where = [
            (c, v)
            for c, v in (("mentor_id", mentor_id), ("participant_id", participant_id))
            if v is not None
        ]
        return self._feedback_page(request, tenant, limit, cursor, where, min_position, False)

    @get(
        "/feedback/mentors/{mentor_id:uuid}",
        opt=action("feedback.read"),
        sync_to_thread=True,
        responses=problems((404, "not_found", "mentor not found")),
    )
    def mentors_copy(
        self,
        request: Request[Any, Any, Any],
        tenant: Tenant,
        mentor_id: UUID,
        limit: Limit = 100,
        cursor: UuidCursor = "",
        min_position: MinPosition = None,
    ) -> FeedbackPage:
        """The mentor's copy of their feedback, to share with them: ratings and comments, never
        the author of feedback given anonymously to the mentor."""
        tenant.app.mentors.mentor(mentor_id)  # 404 for a mentor that does not exist
        return self._feedback_page(
            request, tenant, limit, cursor, [("mentor_id", mentor_id)], min_position, True
        )

    @get(
        "/feedback/summary", opt=action("feedback.read"), sync_to_thread=True, responses=problems()
    )
    def rating_summary(
        self, request: Request[Any, Any, Any], tenant: Tenant, min_position: MinPosition = None
    ) -> RatingSummary:
        """The mean rating per mentor, overall and per question."""
        db = tenant.tenancy.db
        t = self._tables(request, tenant, min_position)
        rows = db.fetchall(
            sql.SQL(
                "SELECT mentor_id, question, avg(score), count(DISTINCT feedback_id) FROM {}"
                " GROUP BY GROUPING SETS ((mentor_id, question), (mentor_id))"
                " ORDER BY mentor_id, question NULLS FIRST"
            ).format(t["feedback_ratings"]),
        )
        out: dict[UUID, MentorRating] = {}
        for mentor_id, question, mean, count in rows:
            if question is None:
                out[mentor_id] = MentorRating(mentor_id, count, round(float(mean), 2), {})
            else:
                out[mentor_id].by_question[question] = round(float(mean), 2)
        return RatingSummary(list(out.values()))

    @get(
        "/feedback/{feedback_id:uuid}",
        opt=action("feedback.read"),
        sync_to_thread=True,
        responses=problems(),
    )
    def get_feedback(self, tenant: Tenant, feedback_id: UUID) -> FeedbackOut:
        """One piece of feedback as the log has it."""
        return render_feedback(tenant.app.evaluation.feedback(feedback_id), 0)

    # -- mentor assessments -----------------------------------------------------------------
    @post(
        "/assessments",
        opt=action("supervision.write"),
        sync_to_thread=True,
        status_code=201,
        responses=problems(
            INVALID_RATING,
            (422, "mentor_not_certified", "an applicant is screened, not assessed"),
            (422, "areas_required", "an assessment scores at least one area"),
            (422, "duplicate_area", "an area is scored once per assessment"),
        ),
    )
    def assess(
        self,
        request: Request[Any, Any, Any],
        tenant: Tenant,
        data: Annotated[AssessmentIn, body("a quarterly assessment", ASSESSMENT_EXAMPLE)],
    ) -> Response[AssessmentOut]:
        """The coordinator assesses a mentor: a 1-5 score on named areas, notes, a summary and a
        development plan."""
        scores = [AreaScore(area=s.area, score=s.score, note=s.note) for s in data.scores]
        return tenant_command(
            request,
            tenant,
            data,
            lambda cmd: tenant.app.evaluation.assess_mentor(
                cmd,
                mentor_id=data.mentor_id,
                assessed_on=data.assessed_on,
                scores=scores,
                summary=data.summary,
                development_plan=data.development_plan,
            ),
            render_assessment,
            status=201,
        )

    @get("/assessments", opt=action("supervision.read"), sync_to_thread=True, responses=problems())
    def list_assessments(
        self,
        request: Request[Any, Any, Any],
        tenant: Tenant,
        limit: Limit = 100,
        cursor: UuidCursor = "",
        mentor_id: UUID | None = None,
        min_position: MinPosition = None,
    ) -> AssessmentPage:
        """Mentor assessments with their scores, optionally of one mentor."""
        db = tenant.tenancy.db
        t = self._tables(request, tenant, min_position)
        rows, nxt = query.page(
            db,
            t,
            "assessments",
            "assessment_id, mentor_id, assessed_on, assessor, mean_score, summary,"
            " development_plan",
            "assessment_id",
            after=cursor or FIRST_UUID,
            limit=limit,
            cast_key="uuid",
            where=[("mentor_id", mentor_id)] if mentor_id else None,
        )
        scores: dict[UUID, list[ScoreIO]] = {}
        for aid, area, score, note in db.fetchall(
            sql.SQL(
                "SELECT assessment_id, area, score, note FROM {} WHERE assessment_id = ANY(%s)"
                " ORDER BY assessment_id, area"
            ).format(t["assessment_scores"]),
            ([r[0] for r in rows],),
        ):
            scores.setdefault(aid, []).append(ScoreIO(AssessmentArea(area), score, note))
        return AssessmentPage(
            [
                AssessmentOut(r[0], r[1], r[2], r[3], scores.get(r[0], []), float(r[4]), r[5], r[6])
                for r in rows
            ],
            nxt,
        )

    @get(
        "/assessments/{assessment_id:uuid}",
        opt=action("supervision.read"),
        sync_to_thread=True,
        responses=problems(),
    )
    def get_assessment(self, tenant: Tenant, assessment_id: UUID) -> AssessmentOut:
        """One mentor assessment as the log has it."""
        return render_assessment(tenant.app.evaluation.assessment(assessment_id), 0)

    # -- outcomes ---------------------------------------------------------------------------
    def _outcome(
        self, request: Request[Any, Any, Any], tenant: Tenant, data: Any, execute: Any
    ) -> Response[OutcomesOut]:
        return tenant_command(request, tenant, data, execute, render_outcomes, status=201)

    @post(
        "/participants/{participant_id:uuid}/outcomes/employment",
        opt=action("feedback.write"),
        sync_to_thread=True,
        status_code=201,
        responses=problems(*OUTCOME_DAY, (422, "invalid_wage", "the wage is a positive amount")),
    )
    def employment(
        self,
        request: Request[Any, Any, Any],
        tenant: Tenant,
        participant_id: UUID,
        data: Annotated[
            EmploymentIO,
            body(
                "a job start",
                {
                    "employer": "Tri-County Logistics",
                    "started_on": "2026-10-05",
                    "wage": "18.50",
                    "wage_unit": "hourly",
                    "hours_per_week": 40,
                    "job_title": "forklift operator",
                },
            ),
        ],
    ) -> Response[OutcomesOut]:
        """Record that the participant started a job: employer, start date and wage."""
        employment = Employment(
            employer=data.employer,
            started_on=data.started_on,
            wage=data.wage,
            wage_unit=data.wage_unit,
            hours_per_week=data.hours_per_week,
            job_title=data.job_title,
        )
        return self._outcome(
            request,
            tenant,
            data,
            lambda cmd: tenant.app.evaluation.record_employment(cmd, participant_id, employment),
        )

    @post(
        "/participants/{participant_id:uuid}/outcomes/credentials",
        opt=action("feedback.write"),
        sync_to_thread=True,
        status_code=201,
        responses=problems(*OUTCOME_DAY),
    )
    def credential(
        self,
        request: Request[Any, Any, Any],
        tenant: Tenant,
        participant_id: UUID,
        data: Annotated[
            CredentialIO,
            body(
                "an industry certificate",
                {
                    "credential_type": "industry_certificate",
                    "name": "OSHA 10",
                    "earned_on": "2026-09-12",
                    "issuer": "OSHA Training Institute",
                },
            ),
        ],
    ) -> Response[OutcomesOut]:
        """Record a credential the participant earned."""
        credential = Credential(
            credential_type=data.credential_type,
            name=data.name,
            earned_on=data.earned_on,
            issuer=data.issuer,
        )
        return self._outcome(
            request,
            tenant,
            data,
            lambda cmd: tenant.app.evaluation.record_credential(cmd, participant_id, credential),
        )

    @post(
        "/participants/{participant_id:uuid}/outcomes/housing",
        opt=action("feedback.write"),
        sync_to_thread=True,
        status_code=201,
        responses=problems(*OUTCOME_DAY),
    )
    def housing(
        self,
        request: Request[Any, Any, Any],
        tenant: Tenant,
        participant_id: UUID,
        data: Annotated[
            HousingIO,
            body(
                "a lease in the participant's name",
                {"housing_type": "own_lease", "secured_on": "2026-11-02"},
            ),
        ],
    ) -> Response[OutcomesOut]:
        """Record that the participant secured housing."""
        housing = Housing(
            housing_type=data.housing_type, secured_on=data.secured_on, note=data.note
        )
        return self._outcome(
            request,
            tenant,
            data,
            lambda cmd: tenant.app.evaluation.record_housing(cmd, participant_id, housing),
        )

    @get(
        "/participants/{participant_id:uuid}/outcomes",
        opt=action("feedback.read"),
        sync_to_thread=True,
        responses=problems(),
    )
    def participant_outcomes(self, tenant: Tenant, participant_id: UUID) -> OutcomesOut:
        """The participant's outcomes as the log has them (a return to custody is a stage
        transition of the participant)."""
        return render_outcomes(tenant.app.evaluation.outcomes(participant_id), 0)

    @get("/outcomes", opt=action("feedback.read"), sync_to_thread=True, responses=problems())
    def list_outcomes(
        self,
        request: Request[Any, Any, Any],
        tenant: Tenant,
        limit: Limit = 100,
        cursor: Cursor = "",
        kind: OutcomeKind | None = None,
        participant_id: UUID | None = None,
        min_position: MinPosition = None,
    ) -> OutcomePage:
        """Every outcome recorded, in log order, by kind or participant."""
        db = tenant.tenancy.db
        t = self._tables(request, tenant, min_position)
        where = [
            (c, v) for c, v in (("kind", kind), ("participant_id", participant_id)) if v is not None
        ]
        rows, nxt = query.page(
            db,
            t,
            "outcomes",
            "position, participant_id, kind, occurred_on, employer, job_title, wage, wage_unit,"
            " credential_type, credential_name, housing_type",
            "position",
            after=cursor or "0",
            limit=limit,
            cast_key="bigint",
            where=where,
        )
        return OutcomePage(
            [
                OutcomeRow(
                    position=r[0],
                    participant_id=r[1],
                    kind=r[2],
                    occurred_on=r[3],
                    employer=r[4],
                    job_title=r[5],
                    wage=r[6],
                    wage_unit=WageUnit(r[7]) if r[7] else None,
                    credential_type=CredentialType(r[8]) if r[8] else None,
                    credential_name=r[9],
                    housing_type=HousingType(r[10]) if r[10] else None,
                )
                for r in rows
            ],
            nxt,
        )
