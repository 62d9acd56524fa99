"""Evaluation: participant feedback on their mentor, mentor assessments, participant outcomes.

The tip sheet asks a program to assess itself through participant feedback, mentor
assessments and outcomes data, hearing both mentors and participants. Feedback may be
anonymous to the mentor: staff see who gave it, the mentor's copy never names the author.
Outcomes (employment, credentials, housing) sit on one record per participant; a return to
custody is already a stage transition of the participant.
"""

from __future__ import annotations

from datetime import UTC, date, tzinfo
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, Any
from uuid import UUID, uuid4

import msgspec

from domain.common import ProwdAggregate, RuleViolation, check_date_not_future, natural_id, utcnow
from domain.mentors import Mentor, MentorStatus
from domain.pairings import Pairing
from domain.participants import Participant
from domain.plaindays import local_day, start_of_day

MIN_SCORE, MAX_SCORE = 1, 5


class FeedbackQuestion(StrEnum):
    TRUST = "trust"  # I can trust my mentor with what I share
    LISTENING = "listening"  # my mentor listens without judging
    RESPECTS_BOUNDARIES = "respects_boundaries"
    HELPS_WITH_GOALS = "helps_with_goals"
    CONNECTS_TO_RESOURCES = "connects_to_resources"
    AVAILABILITY = "availability"
    OVERALL = "overall"


class AssessmentArea(StrEnum):
    COMMUNICATION = "communication"
    BOUNDARIES_AND_CONFIDENTIALITY = "boundaries_and_confidentiality"
    CRISIS_RESPONSE = "crisis_response"
    CULTURAL_SENSITIVITY = "cultural_sensitivity"
    GOAL_SUPPORT = "goal_support"
    RESOURCE_KNOWLEDGE = "resource_knowledge"
    RELIABILITY = "reliability"
    SELF_CARE = "self_care"


class Rating(msgspec.Struct, frozen=True, kw_only=True):
    question: FeedbackQuestion
    score: int


class AreaScore(msgspec.Struct, frozen=True, kw_only=True):
    area: AssessmentArea
    score: int
    note: str = ""


class WageUnit(StrEnum):
    HOURLY = "hourly"
    WEEKLY = "weekly"
    ANNUAL = "annual"


class CredentialType(StrEnum):
    """PIRL 1800-style credential kinds *(unconfirmed against the current ETA-9172)*."""

    HIGH_SCHOOL_EQUIVALENCY = "high_school_equivalency"
    INDUSTRY_CERTIFICATE = "industry_certificate"
    OCCUPATIONAL_LICENSE = "occupational_license"
    APPRENTICESHIP_CERTIFICATE = "apprenticeship_certificate"
    ASSOCIATE_DEGREE = "associate_degree"
    BACHELOR_DEGREE = "bachelor_degree"
    OTHER = "other"


class HousingType(StrEnum):
    OWN_LEASE = "own_lease"
    FAMILY = "family"
    TRANSITIONAL = "transitional"
    RECOVERY_HOUSING = "recovery_housing"
    SUPPORTIVE_HOUSING = "supportive_housing"
    OTHER = "other"


def _check_scores(scores: list[int]) -> None:
    if any(not MIN_SCORE <= s <= MAX_SCORE for s in scores):
        raise RuleViolation(
            f"a rating is a whole number from {MIN_SCORE} to {MAX_SCORE}", code="invalid_rating"
        )


class Feedback(ProwdAggregate):
    if TYPE_CHECKING:  # state set by the events' apply(); not dataclass fields
        participant_id: UUID
        mentor_id: UUID
        pairing_id: UUID
        given_on: date
        ratings: list[Rating]
        comment: str
        anonymous_to_mentor: bool
        collected_by: str

    class Given(ProwdAggregate.Created):
        participant_id: UUID
        mentor_id: UUID
        pairing_id: UUID
        given_on: date
        ratings: list[Rating]
        comment: str
        anonymous_to_mentor: bool

        def apply(self, f: Any) -> None:
            f.participant_id = self.participant_id
            f.mentor_id = self.mentor_id
            f.pairing_id = self.pairing_id
            f.given_on = self.given_on
            f.ratings = list(self.ratings)
            f.comment = self.comment
            f.anonymous_to_mentor = self.anonymous_to_mentor
            f.collected_by = self.recorded_by

        def plain_day(self) -> date:
            return self.given_on

    @classmethod
    def give(
        cls,
        *,
        pairing: Pairing,
        participant_id: UUID,
        given_on: date,
        ratings: list[Rating],
        comment: str = "",
        anonymous_to_mentor: bool = False,
        zone: tzinfo = UTC,
    ) -> Feedback:
        """A participant's feedback on the mentor of one of their pairings, given on a day of
        `zone`, the grantee's time zone."""
        if participant_id not in pairing.members:
            raise RuleViolation(
                "the participant is not a member of this pairing", code="not_a_member"
            )
        check_date_not_future(given_on, "the feedback date", zone)
        if given_on < local_day(pairing.opened_at, zone):
            raise RuleViolation("feedback cannot precede the match", code="before_match")
        if not ratings:
            raise RuleViolation("feedback rates at least one question", code="ratings_required")
        questions = [r.question for r in ratings]
        if len(set(questions)) != len(questions):
            raise RuleViolation("a question is rated once", code="duplicate_question")
        _check_scores([r.score for r in ratings])
        feedback: Feedback = cls._create(
            cls.Given,
            id=uuid4(),
            participant_id=participant_id,
            mentor_id=pairing.mentor_id,
            pairing_id=pairing.id,
            given_on=given_on,
            ratings=sorted(ratings, key=lambda r: list(FeedbackQuestion).index(r.question)),
            comment=comment.strip(),
            anonymous_to_mentor=anonymous_to_mentor,
            occurred_at=start_of_day(given_on, zone),
        )
        return feedback

    @property
    def mean_score(self) -> float:
        return sum(r.score for r in self.ratings) / len(self.ratings)


class MentorAssessment(ProwdAggregate):
    if TYPE_CHECKING:  # state set by the events' apply(); not dataclass fields
        mentor_id: UUID
        assessed_on: date
        scores: list[AreaScore]
        summary: str
        development_plan: str
        assessor: str

    class Assessed(ProwdAggregate.Created):
        mentor_id: UUID
        assessed_on: date
        scores: list[AreaScore]
        summary: str
        development_plan: str

        def apply(self, a: Any) -> None:
            a.mentor_id = self.mentor_id
            a.assessed_on = self.assessed_on
            a.scores = list(self.scores)
            a.summary = self.summary
            a.development_plan = self.development_plan
            a.assessor = self.recorded_by

        def plain_day(self) -> date:
            return self.assessed_on

    @classmethod
    def assess(
        cls,
        *,
        mentor: Mentor,
        assessed_on: date,
        scores: list[AreaScore],
        summary: str = "",
        development_plan: str = "",
        zone: tzinfo = UTC,
    ) -> MentorAssessment:
        """The coordinator rates a certified (or suspended) mentor on named areas, with notes,
        on a day of `zone`, the grantee's time zone."""
        if mentor.status is MentorStatus.RETIRED:
            raise RuleViolation("this mentor has retired", code="mentor_retired")
        if mentor.status is MentorStatus.APPLICANT:
            raise RuleViolation(
                "an applicant is screened, not assessed", code="mentor_not_certified"
            )
        check_date_not_future(assessed_on, "the assessment date", zone)
        if not scores:
            raise RuleViolation("an assessment scores at least one area", code="areas_required")
        areas = [s.area for s in scores]
        if len(set(areas)) != len(areas):
            raise RuleViolation("an area is scored once per assessment", code="duplicate_area")
        _check_scores([s.score for s in scores])
        assessment: MentorAssessment = cls._create(
            cls.Assessed,
            id=uuid4(),
            mentor_id=mentor.id,
            assessed_on=assessed_on,
            scores=sorted(scores, key=lambda s: list(AssessmentArea).index(s.area)),
            summary=summary.strip(),
            development_plan=development_plan.strip(),
            occurred_at=start_of_day(assessed_on, zone),
        )
        return assessment


# A wage, in any unit: whole cents from a cent to just under ten million. An amount beyond
# every real wage is a typing error, and one beyond what PostgreSQL's `numeric` holds
# (1E+200000) would stop the evaluation view of its grantee.
MIN_WAGE = Decimal("0.01")
MAX_WAGE = Decimal("9999999.99")
WAGE_RANGE = f"an amount from {MIN_WAGE} to {MAX_WAGE}, in whole cents"


def check_wage(wage: Decimal) -> None:
    """`wage` lies in the range of a wage (`invalid_wage`, naming the field, otherwise)."""
    if not wage.is_finite() or not MIN_WAGE <= wage <= MAX_WAGE or wage != wage.quantize(MIN_WAGE):
        raise RuleViolation(f"wage must be {WAGE_RANGE}", code="invalid_wage", field="wage")


class Employment(msgspec.Struct, frozen=True, kw_only=True):
    employer: str
    started_on: date
    wage: Decimal
    wage_unit: WageUnit
    hours_per_week: float | None = None
    job_title: str = ""


class Credential(msgspec.Struct, frozen=True, kw_only=True):
    credential_type: CredentialType
    name: str
    earned_on: date
    issuer: str = ""


class Housing(msgspec.Struct, frozen=True, kw_only=True):
    housing_type: HousingType
    secured_on: date
    note: str = ""


def outcomes_id(participant_id: UUID) -> UUID:
    return natural_id("outcomes", str(participant_id))


class Outcomes(ProwdAggregate):
    """The outcomes of one participant (one record per participant, id derived from theirs)."""

    if TYPE_CHECKING:  # state set by the events' apply(); not dataclass fields
        participant_id: UUID
        program_entry_date: date
        employments: list[Employment]
        credentials: list[Credential]
        housing: list[Housing]

    class Opened(ProwdAggregate.Created):
        participant_id: UUID
        program_entry_date: date

        def apply(self, o: Any) -> None:
            o.participant_id = self.participant_id
            o.program_entry_date = self.program_entry_date
            o.employments = []
            o.credentials = []
            o.housing = []

    class EmploymentStarted(ProwdAggregate.Event):
        participant_id: UUID
        employment: Employment

        def apply(self, o: Any) -> None:
            o.employments.append(self.employment)

        def plain_day(self) -> date:
            return self.employment.started_on

    class CredentialEarned(ProwdAggregate.Event):
        participant_id: UUID
        credential: Credential

        def apply(self, o: Any) -> None:
            o.credentials.append(self.credential)

        def plain_day(self) -> date:
            return self.credential.earned_on

    class HousingSecured(ProwdAggregate.Event):
        participant_id: UUID
        housing: Housing

        def apply(self, o: Any) -> None:
            o.housing.append(self.housing)

        def plain_day(self) -> date:
            return self.housing.secured_on

    @classmethod
    def open(cls, participant: Participant) -> Outcomes:
        outcomes: Outcomes = cls._create(
            cls.Opened,
            id=outcomes_id(participant.id),
            participant_id=participant.id,
            program_entry_date=participant.program_entry_date,
            occurred_at=utcnow(),
        )
        return outcomes

    def _check_day(self, day: date, what: str, zone: tzinfo) -> None:
        check_date_not_future(day, what, zone)
        if day < self.program_entry_date:
            raise RuleViolation(
                f"{what} is before the date of program entry", code="before_program_entry"
            )

    def record_employment(self, employment: Employment, zone: tzinfo = UTC) -> None:
        """Record a job started on a day of `zone` (the grantee's time zone)."""
        self._check_day(employment.started_on, "the employment start date", zone)
        if not employment.employer.strip():
            raise RuleViolation("an employment names its employer", code="employer_required")
        check_wage(employment.wage)
        if employment.hours_per_week is not None and not 0 < employment.hours_per_week <= 80:
            raise RuleViolation("hours per week are between 0 and 80", code="invalid_hours")
        if any(
            e.employer.casefold() == employment.employer.strip().casefold()
            and e.started_on == employment.started_on
            for e in self.employments
        ):
            raise RuleViolation("this employment is already recorded", code="duplicate_outcome")
        employment = msgspec.structs.replace(employment, employer=employment.employer.strip())
        self.trigger_event(
            self.EmploymentStarted,
            participant_id=self.participant_id,
            employment=employment,
            occurred_at=start_of_day(employment.started_on, zone),
        )

    def record_credential(self, credential: Credential, zone: tzinfo = UTC) -> None:
        """Record a credential earned on a day of `zone` (the grantee's time zone)."""
        self._check_day(credential.earned_on, "the date the credential was earned", zone)
        if not credential.name.strip():
            raise RuleViolation("a credential has a name", code="credential_name_required")
        if any(
            c.credential_type is credential.credential_type
            and c.name.casefold() == credential.name.strip().casefold()
            for c in self.credentials
        ):
            raise RuleViolation("this credential is already recorded", code="duplicate_outcome")
        credential = msgspec.structs.replace(credential, name=credential.name.strip())
        self.trigger_event(
            self.CredentialEarned,
            participant_id=self.participant_id,
            credential=credential,
            occurred_at=start_of_day(credential.earned_on, zone),
        )

    def record_housing(self, housing: Housing, zone: tzinfo = UTC) -> None:
        """Record housing secured on a day of `zone` (the grantee's time zone)."""
        self._check_day(housing.secured_on, "the date housing was secured", zone)
        if any(
            h.secured_on == housing.secured_on and h.housing_type is housing.housing_type
            for h in self.housing
        ):
            raise RuleViolation(
                "this housing outcome is already recorded", code="duplicate_outcome"
            )
        self.trigger_event(
            self.HousingSecured,
            participant_id=self.participant_id,
            housing=housing,
            occurred_at=start_of_day(housing.secured_on, zone),
        )
