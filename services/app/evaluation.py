"""Use cases: participant feedback, mentor assessments and participant outcomes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from uuid import UUID

import msgspec

from domain.common import NotFound
from domain.evaluation import (
    AreaScore,
    Credential,
    Employment,
    Feedback,
    Housing,
    MentorAssessment,
    Outcomes,
    Rating,
    outcomes_id,
)
from projections.base import Tables
from projections.evaluation import FeedbackRow, feedback_page
from services.app.mentors import Mentors
from services.app.pairings import Pairings
from services.app.participants import Participants
from services.store.ledger import Command, LedgerApplication, Saved


@dataclass
class Evaluation:
    ledger: LedgerApplication
    participants: Participants
    mentors: Mentors
    pairings: Pairings

    # -- feedback ---------------------------------------------------------------------------
    def feedback(self, feedback_id: UUID) -> Feedback:
        return self.ledger.load(Feedback, feedback_id, "feedback")

    def record_feedback(
        self,
        command: Command,
        *,
        pairing_id: UUID,
        participant_id: UUID,
        given_on: date,
        ratings: list[Rating],
        comment: str = "",
        anonymous_to_mentor: bool = False,
    ) -> Saved[Feedback]:
        """Record a participant's feedback on the mentor of one of their pairings."""
        self.participants.participant(participant_id)
        feedback = Feedback.give(
            pairing=self.pairings.pairing(pairing_id),
            participant_id=participant_id,
            given_on=given_on,
            ratings=ratings,
            comment=comment,
            anonymous_to_mentor=anonymous_to_mentor,
            zone=self.ledger.zone,
        )
        return self.ledger.record(feedback, command)

    def mentors_copy(
        self,
        mentor_id: UUID,
        subject: str | None,
        view: Callable[[], Tables],
        *,
        after: str,
        limit: int,
    ) -> tuple[list[FeedbackRow], str | None]:
        """The mentor's copy of their feedback, to share with them: it never names who gave
        feedback anonymous to the mentor, nor who collected any. With `subject` (a peer
        mentor's token), only the mentor of that subject finds it: another's is not found.
        `view` gives the evaluation view's live build, asked for once the mentor is found."""
        mentor = self.mentors.mentor(mentor_id)
        if subject is not None and mentor.subject != subject:
            raise NotFound("mentor not found")
        rows, nxt = feedback_page(
            self.ledger.db, view(), after=after, limit=limit, mentor_id=mentor_id
        )
        return [
            msgspec.structs.replace(
                r,
                pairing_id=None if r.anonymous_to_mentor else r.pairing_id,
                participant_id=None if r.anonymous_to_mentor else r.participant_id,
                collected_by=None,
            )
            for r in rows
        ], nxt

    # -- mentor assessments -----------------------------------------------------------------
    def assessment(self, assessment_id: UUID) -> MentorAssessment:
        return self.ledger.load(MentorAssessment, assessment_id, "assessment")

    def assess_mentor(
        self,
        command: Command,
        *,
        mentor_id: UUID,
        assessed_on: date,
        scores: list[AreaScore],
        summary: str = "",
        development_plan: str = "",
    ) -> Saved[MentorAssessment]:
        """Record the coordinator's assessment of a mentor on named areas, with notes."""
        assessment = MentorAssessment.assess(
            mentor=self.mentors.mentor(mentor_id),
            assessed_on=assessed_on,
            scores=scores,
            summary=summary,
            development_plan=development_plan,
            zone=self.ledger.zone,
        )
        return self.ledger.record(assessment, command)

    # -- outcomes ---------------------------------------------------------------------------
    def outcomes(self, participant_id: UUID) -> Outcomes:
        """The participant's outcomes (an empty record, not yet saved, if none were recorded)."""
        participant = self.participants.participant(participant_id)
        if self.ledger.exists(outcomes_id(participant_id)):
            return self.ledger.load(Outcomes, outcomes_id(participant_id), "outcomes")
        return Outcomes.open(participant)

    def record_employment(
        self, command: Command, participant_id: UUID, employment: Employment
    ) -> Saved[Outcomes]:
        """Record that the participant started a job (employer, wage)."""
        outcomes = self.outcomes(participant_id)
        outcomes.record_employment(employment, self.ledger.zone)
        return self.ledger.record(outcomes, command)

    def record_credential(
        self, command: Command, participant_id: UUID, credential: Credential
    ) -> Saved[Outcomes]:
        """Record a credential the participant earned."""
        outcomes = self.outcomes(participant_id)
        outcomes.record_credential(credential, self.ledger.zone)
        return self.ledger.record(outcomes, command)

    def record_housing(
        self, command: Command, participant_id: UUID, housing: Housing
    ) -> Saved[Outcomes]:
        """Record that the participant secured housing."""
        outcomes = self.outcomes(participant_id)
        outcomes.record_housing(housing, self.ledger.zone)
        return self.ledger.record(outcomes, command)
