"""`/v1/grantees/{grantee}/feedback`: participants' feedback on their mentors.

`assessments` (the coordinator's mentor assessments) and `outcomes` (participant outcomes) are
the rest of the evaluation endpoints.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any
from uuid import UUID

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.di import Provide

from domain.evaluation import MAX_SCORE, MIN_SCORE, Feedback, FeedbackQuestion, Rating
from projections.base import Tables
from projections.evaluation import FeedbackRow, MentorRating, feedback_page, rating_summary
from services.api import views
from services.api.context import Tenant, action, provide_tenant, tenant_command
from services.api.docs import body, problems
from services.api.params import FIRST_UUID, LIMIT_DEFAULT, Limit, LongText, MinPosition, UuidCursor
from services.identity.access import only_own

Text = LongText


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


class RatingSummary(msgspec.Struct):
    items: list[MentorRating]


def render_feedback(f: Feedback, position: int) -> FeedbackOut:
    """The feedback as staff see it."""
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


def feedback_page_out(rows: list[FeedbackRow], next_cursor: str | None) -> FeedbackPage:
    """A page of feedback rows as the API shows them."""
    return FeedbackPage(
        [msgspec.convert(r, FeedbackOut, from_attributes=True) for r in rows], next_cursor
    )


def evaluation_tables(request: Request[Any, Any, Any], tenant: Tenant, at: int | None) -> Tables:
    """The live build of the evaluation view, at log position `at` if asked."""
    return views.tables(
        tenant.tenancy.db,
        tenant.info.schema,
        "evaluation",
        at,
        request.app.state.settings.view_wait_max,
    )


FEEDBACK_EXAMPLE = {
    "pairing_id": "7c0e4f7a-2b1d-4c3e-9f8a-6b5c4d3e2f1a",
    "participant_id": "3f2c1a9e-8d7b-5c6a-9e0f-1a2b3c4d5e6f",
    "given_on": "2026-11-20",
    "ratings": [{"question": "trust", "score": 5}, {"question": "helps_with_goals", "score": 4}],
    "comment": "He has been where I am.",
    "anonymous_to_mentor": True,
}
INVALID_RATING = (422, "invalid_rating", "a rating is a whole number from 1 to 5")


class EvaluationController(Controller):
    path = "/v1/grantees/{grantee:str}"
    tags = ("evaluation",)
    dependencies = {"tenant": Provide(provide_tenant, sync_to_thread=False)}

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

    @get("/feedback", opt=action("feedback.read"), sync_to_thread=True, responses=problems())
    def list_feedback(
        self,
        request: Request[Any, Any, Any],
        tenant: Tenant,
        limit: Limit = LIMIT_DEFAULT,
        cursor: UuidCursor = "",
        mentor_id: UUID | None = None,
        participant_id: UUID | None = None,
        min_position: MinPosition = None,
    ) -> FeedbackPage:
        """Participant feedback as staff see it (with its author), by mentor or participant."""
        t = evaluation_tables(request, tenant, min_position)
        return feedback_page_out(
            *feedback_page(
                tenant.tenancy.db,
                t,
                after=cursor or FIRST_UUID,
                limit=limit,
                mentor_id=mentor_id,
                participant_id=participant_id,
            )
        )

    @get(
        "/feedback/mentors/{mentor_id:uuid}",
        opt=action("feedback.mentor_copy"),
        sync_to_thread=True,
        responses=problems((404, "not_found", "mentor not found")),
    )
    def mentors_copy(
        self,
        request: Request[Any, Any, Any],
        tenant: Tenant,
        mentor_id: UUID,
        limit: Limit = LIMIT_DEFAULT,
        cursor: UuidCursor = "",
        min_position: MinPosition = None,
    ) -> FeedbackPage:
        """The mentor's copy of their feedback, to share with them: ratings and comments, never
        the author of feedback given anonymously to the mentor. A peer mentor reads their own
        copy with their own token (another mentor's is 404)."""
        own = only_own("feedback.mentor_copy", tenant.principal.roles)
        return feedback_page_out(
            *tenant.app.evaluation.mentors_copy(
                mentor_id,
                tenant.principal.subject if own else None,
                lambda: evaluation_tables(request, tenant, min_position),
                after=cursor or FIRST_UUID,
                limit=limit,
            )
        )

    @get(
        "/feedback/summary", opt=action("feedback.read"), sync_to_thread=True, responses=problems()
    )
    def rating_summary(
        self, request: Request[Any, Any, Any], tenant: Tenant, min_position: MinPosition = None
    ) -> RatingSummary:
        """The mean rating per mentor, overall and per question."""
        t = evaluation_tables(request, tenant, min_position)
        return RatingSummary(rating_summary(tenant.tenancy.db, t))

    @get(
        "/feedback/{feedback_id:uuid}",
        opt=action("feedback.read"),
        sync_to_thread=True,
        responses=problems(),
    )
    def get_feedback(self, tenant: Tenant, feedback_id: UUID) -> FeedbackOut:
        """One piece of feedback as the log has it."""
        return render_feedback(tenant.app.evaluation.feedback(feedback_id), 0)
