"""Peer mentors: recruitment, screening, the six trainings, facility clearance, certification,
suspension and retirement, and the pairings they mentor in. What certifies a mentor, and the
records of it, are in domain/certification.py.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, tzinfo
from enum import StrEnum
from typing import TYPE_CHECKING, Any
from uuid import UUID, uuid4

from domain import certification

# The records of certification are the mentor's vocabulary: re-exported for its readers.
from domain.certification import REQUIRED_MODULES as REQUIRED_MODULES
from domain.certification import BackgroundDecision as BackgroundDecision
from domain.certification import Clearance as Clearance
from domain.certification import ScreeningStep as ScreeningStep
from domain.certification import TrainingModule as TrainingModule
from domain.certification import TrainingRecord as TrainingRecord
from domain.common import ProwdAggregate, RuleViolation, check_date_not_future, nameless, utcnow
from domain.plaindays import start_of_day


class MentorSource(StrEnum):
    GRADUATE = "graduate"  # a PROWD participant who graduated from a cohort
    COMMUNITY_PEER = "community_peer"  # a peer from outside the program


class RecruitmentChannel(StrEnum):
    COHORT_GRADUATION = "cohort_graduation"
    STAFF_REFERRAL = "staff_referral"
    PEER_REFERRAL = "peer_referral"
    COMMUNITY_ORGANIZATION = "community_organization"
    RRC_REFERRAL = "rrc_referral"
    SELF_REFERRAL = "self_referral"
    OTHER = "other"


class MentorStatus(StrEnum):
    APPLICANT = "applicant"
    CERTIFIED = "certified"
    SUSPENDED = "suspended"
    RETIRED = "retired"


class Mentor(ProwdAggregate):
    if TYPE_CHECKING:  # state set by the events' apply(); not dataclass fields
        display_name: str
        subject: str | None
        source: MentorSource
        participant_id: UUID | None
        lived_experience: bool
        channel: RecruitmentChannel
        expected_hours_per_month: float
        status: MentorStatus
        screening: dict[ScreeningStep, date]
        background: BackgroundDecision | None
        trainings: dict[TrainingModule, TrainingRecord]
        clearances: dict[str, Clearance]
        coordinator: str | None
        open_pairings: set[UUID]
        individual_mentees: set[UUID]

    class Registered(ProwdAggregate.Created):
        display_name: str
        subject: str | None
        source: MentorSource
        participant_id: UUID | None
        lived_experience: bool
        channel: RecruitmentChannel
        expected_hours_per_month: float

        def apply(self, m: Any) -> None:
            m.display_name = self.display_name
            m.subject = self.subject
            m.source = self.source
            m.participant_id = self.participant_id
            m.lived_experience = self.lived_experience
            m.channel = self.channel
            m.expected_hours_per_month = self.expected_hours_per_month
            m.status = MentorStatus.APPLICANT
            m.screening = {}
            m.background = None
            m.trainings = {}
            m.clearances = {}
            m.coordinator = None
            m.open_pairings = set()
            m.individual_mentees = set()

    class ScreeningStepCompleted(ProwdAggregate.Event):
        step: ScreeningStep
        completed_on: date
        staff: str
        note: str

        def apply(self, m: Any) -> None:
            m.screening[self.step] = self.completed_on

        def plain_day(self) -> date:
            return self.completed_on

    class BackgroundReviewed(ProwdAggregate.Event):
        decision: BackgroundDecision
        reviewer: str
        reviewed_on: date
        conditions: str

        def apply(self, m: Any) -> None:
            m.background = self.decision

        def plain_day(self) -> date:
            return self.reviewed_on

    class TrainingCompleted(ProwdAggregate.Event):
        record: TrainingRecord

        def apply(self, m: Any) -> None:
            m.trainings[self.record.module] = self.record

        def plain_day(self) -> date:
            return self.record.completed_on

    class ClearanceGranted(ProwdAggregate.Event):
        clearance: Clearance

        def apply(self, m: Any) -> None:
            m.clearances[self.clearance.facility_code] = self.clearance

        def plain_day(self) -> date:
            return self.clearance.trained_on

    class CoordinatorAssigned(ProwdAggregate.Event):
        coordinator: str

        def apply(self, m: Any) -> None:
            m.coordinator = self.coordinator

    class Certified(ProwdAggregate.Event):
        training_hours: float

        def apply(self, m: Any) -> None:
            m.status = MentorStatus.CERTIFIED

    class Suspended(ProwdAggregate.Event):
        reason: str

        def apply(self, m: Any) -> None:
            m.status = MentorStatus.SUSPENDED

    class Reinstated(ProwdAggregate.Event):
        note: str

        def apply(self, m: Any) -> None:
            m.status = MentorStatus.CERTIFIED

    class Retired(ProwdAggregate.Event):
        reason: str

        def apply(self, m: Any) -> None:
            m.status = MentorStatus.RETIRED

    class PairingJoined(ProwdAggregate.Event):
        pairing_id: UUID
        individual_mentee: UUID | None

        def apply(self, m: Any) -> None:
            m.open_pairings.add(self.pairing_id)
            if self.individual_mentee is not None:
                m.individual_mentees.add(self.individual_mentee)

    class PairingLeft(ProwdAggregate.Event):
        pairing_id: UUID
        individual_mentee: UUID | None

        def apply(self, m: Any) -> None:
            m.open_pairings.discard(self.pairing_id)
            if self.individual_mentee is not None:
                m.individual_mentees.discard(self.individual_mentee)

    @classmethod
    def register(
        cls,
        *,
        display_name: str,
        source: MentorSource,
        channel: RecruitmentChannel,
        participant_id: UUID | None = None,
        lived_experience: bool = True,
        expected_hours_per_month: float = 4.0,
        subject: str | None = None,
        mentor_id: UUID | None = None,
        in_stage3: bool = False,
    ) -> Mentor:
        """Register a mentor applicant: a graduate (linked to the participant) or a community
        peer, linked to their participant record only while that participant is in stage 3
        (`in_stage3`; decision 59)."""
        if nameless(display_name):
            raise RuleViolation("a mentor needs a display name", code="missing_name")
        if source is MentorSource.GRADUATE:
            if participant_id is None:
                raise RuleViolation(
                    "a graduate mentor is linked to the participant record",
                    code="participant_required",
                )
            lived_experience = True  # a PROWD graduate has a history of incarceration
        elif participant_id is not None:
            if not in_stage3:
                raise RuleViolation(
                    "a community peer is linked to a participant record only while that"
                    " participant is in stage 3",
                    code="participant_not_allowed",
                )
            lived_experience = True
        if not 0 < expected_hours_per_month <= 200:
            raise RuleViolation(
                "expected hours per month must be between 0 and 200", code="invalid_time_commitment"
            )
        mentor: Mentor = cls._create(
            cls.Registered,
            id=mentor_id or uuid4(),
            display_name=display_name.strip(),
            subject=subject,
            source=source,
            participant_id=participant_id,
            lived_experience=lived_experience,
            channel=channel,
            expected_hours_per_month=expected_hours_per_month,
            occurred_at=utcnow(),
        )
        return mentor

    def _check_not_retired(self) -> None:
        if self.status is MentorStatus.RETIRED:
            raise RuleViolation("this mentor has retired", code="mentor_retired")

    def complete_screening_step(
        self, step: ScreeningStep, on: date, staff: str, note: str = "", *, zone: tzinfo = UTC
    ) -> None:
        """A screening step completed on `on`, a day of `zone` (the grantee's time zone)."""
        self._check_not_retired()
        check_date_not_future(on, "the screening date", zone)
        self.trigger_event(
            self.ScreeningStepCompleted,
            step=step,
            completed_on=on,
            staff=staff,
            note=note,
            occurred_at=start_of_day(on, zone),
        )

    def review_background(
        self,
        decision: BackgroundDecision,
        reviewer: str,
        on: date,
        conditions: str = "",
        *,
        zone: tzinfo = UTC,
    ) -> None:
        """Record the background review as an assessment decision by a named reviewer, on a
        day of `zone` (the grantee's time zone)."""
        self._check_not_retired()
        check_date_not_future(on, "the review date", zone)
        certification.check_background_review(decision, reviewer, conditions)
        self.trigger_event(
            self.BackgroundReviewed,
            decision=decision,
            reviewer=reviewer.strip(),
            reviewed_on=on,
            conditions=conditions,
            occurred_at=start_of_day(on, zone),
        )
        if decision is BackgroundDecision.NOT_APPROVED and self.status is MentorStatus.CERTIFIED:
            # A certified mentor is one whose screening is approved: a new review that does
            # not approve suspends them until a later review approves and they are reinstated.
            self.trigger_event(
                self.Suspended,
                reason=f"background review not approved by {reviewer.strip()}",
                occurred_at=utcnow(),
            )

    def complete_training(self, record: TrainingRecord, *, zone: tzinfo = UTC) -> None:
        """A training module completed on a day of `zone` (the grantee's time zone)."""
        self._check_not_retired()
        check_date_not_future(record.completed_on, "the training date", zone)
        certification.check_training(record)
        self.trigger_event(
            self.TrainingCompleted,
            record=record,
            occurred_at=start_of_day(record.completed_on, zone),
        )

    def grant_clearance(self, clearance: Clearance, *, zone: tzinfo = UTC) -> None:
        """Volunteer training completed at a BOP institution or RRC, valid until `expires_on`;
        trained on a day of `zone` (the grantee's time zone)."""
        self._check_not_retired()
        check_date_not_future(clearance.trained_on, "the volunteer training date", zone)
        certification.check_clearance(clearance)
        self.trigger_event(
            self.ClearanceGranted,
            clearance=clearance,
            occurred_at=start_of_day(clearance.trained_on, zone),
        )

    def assign_coordinator(self, coordinator: str) -> None:
        self._check_not_retired()
        if not coordinator.strip():
            raise RuleViolation("name the coordinator", code="coordinator_required")
        self.trigger_event(
            self.CoordinatorAssigned, coordinator=coordinator.strip(), occurred_at=utcnow()
        )

    @property
    def training_hours(self) -> float:
        return certification.training_hours(self.trainings)

    @property
    def missing_modules(self) -> list[TrainingModule]:
        return certification.missing_modules(self.trainings)

    @property
    def screening_approved(self) -> bool:
        return certification.screening_approved(self.screening, self.background)

    def certify(self) -> None:
        """Certify once all six modules are done and screening is approved."""
        if self.status is not MentorStatus.APPLICANT:
            raise RuleViolation(
                f"the mentor is {self.status.value}, not an applicant", code="not_an_applicant"
            )
        certification.check_certifiable(self.trainings, self.screening, self.background)
        self.trigger_event(self.Certified, training_hours=self.training_hours, occurred_at=utcnow())

    def suspend(self, reason: str) -> None:
        if self.status is not MentorStatus.CERTIFIED:
            raise RuleViolation(
                f"only a certified mentor can be suspended (is {self.status.value})",
                code="not_certified",
            )
        if not reason.strip():
            raise RuleViolation("a suspension states its reason", code="reason_required")
        self.trigger_event(self.Suspended, reason=reason.strip(), occurred_at=utcnow())

    def reinstate(self, note: str = "") -> None:
        if self.status is not MentorStatus.SUSPENDED:
            raise RuleViolation("only a suspended mentor can be reinstated", code="not_suspended")
        if not self.screening_approved:
            raise RuleViolation(
                "the latest background review did not approve this mentor",
                code="screening_not_approved",
            )
        self.trigger_event(self.Reinstated, note=note, occurred_at=utcnow())

    def retire(self, reason: str) -> None:
        self._check_not_retired()
        self.trigger_event(self.Retired, reason=reason, occurred_at=utcnow())

    def clearance_valid(self, facility_code: str, on: date) -> bool:
        """An unexpired volunteer clearance for the facility on that day."""
        clearance = self.clearances.get(facility_code)
        return clearance is not None and clearance.trained_on <= on < clearance.expires_on

    def check_can_take_pairing(self) -> None:
        if self.status is not MentorStatus.CERTIFIED:
            raise RuleViolation(
                f"the mentor is {self.status.value}; only a certified mentor takes new pairings",
                code="mentor_not_certified"
                if self.status is MentorStatus.APPLICANT
                else f"mentor_{self.status.value}",
            )

    def join_pairing(self, pairing_id: UUID, individual_mentee: UUID | None, at: datetime) -> None:
        self.trigger_event(
            self.PairingJoined,
            pairing_id=pairing_id,
            individual_mentee=individual_mentee,
            occurred_at=at,
        )

    def leave_pairing(self, pairing_id: UUID, individual_mentee: UUID | None, at: datetime) -> None:
        if pairing_id in self.open_pairings:
            self.trigger_event(
                self.PairingLeft,
                pairing_id=pairing_id,
                individual_mentee=individual_mentee,
                occurred_at=at,
            )
