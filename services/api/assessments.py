"""`/v1/grantees/{grantee}/assessments`: the coordinator's assessments of mentors."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any
from uuid import UUID

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.di import Provide

from domain.evaluation import MAX_SCORE, MIN_SCORE, AreaScore, AssessmentArea, MentorAssessment
from projections.evaluation import assessment_page
from services.api.context import Tenant, action, provide_tenant, tenant_command
from services.api.docs import body, problems
from services.api.evaluation import INVALID_RATING, evaluation_tables
from services.api.params import FIRST_UUID, LIMIT_DEFAULT, Limit, LongText, MinPosition, UuidCursor

Text = LongText


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


def render_assessment(a: MentorAssessment, position: int) -> AssessmentOut:
    """The assessment as the API shows it."""
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


class AssessmentController(Controller):
    path = "/v1/grantees/{grantee:str}"
    tags = ("evaluation",)
    dependencies = {"tenant": Provide(provide_tenant, sync_to_thread=False)}

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
        limit: Limit = LIMIT_DEFAULT,
        cursor: UuidCursor = "",
        mentor_id: UUID | None = None,
        min_position: MinPosition = None,
    ) -> AssessmentPage:
        """Mentor assessments with their scores, optionally of one mentor."""
        t = evaluation_tables(request, tenant, min_position)
        rows, nxt = assessment_page(
            tenant.tenancy.db, t, after=cursor or FIRST_UUID, limit=limit, mentor_id=mentor_id
        )
        return AssessmentPage(
            [msgspec.convert(r, AssessmentOut, from_attributes=True) for r in rows], nxt
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
