"""SMART goals of a participant: weekly, short-term and long-term, broken into steps.

The tip sheet asks mentors to help set achievable weekly, short-term and long-term SMART
goals, break them into smaller steps, monitor progress, celebrate successes, and reassess and
adjust goals as circumstances change. A goal is specific (statement), measurable (measure and
target), tied to a life domain and time-bound: its target date lies within its horizon of the
day it was set. A revision sets a new version on the day it is made (the target date is
checked again from that day); every earlier version stays in `revisions`.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any
from uuid import UUID, uuid4

import msgspec

from domain.common import ProwdAggregate, RuleViolation, check_not_future
from domain.participants import Participant, Status


class Horizon(StrEnum):
    WEEKLY = "weekly"
    SHORT_TERM = "short_term"
    LONG_TERM = "long_term"


# How far ahead of the day a goal is set its target date may lie.
HORIZON_DAYS = {Horizon.WEEKLY: 7, Horizon.SHORT_TERM: 90, Horizon.LONG_TERM: 730}
MAX_STEPS = 50


class GoalDomain(StrEnum):
    EMPLOYMENT = "employment"
    EDUCATION = "education"
    HOUSING = "housing"
    ID_DOCUMENTS = "id_documents"
    RECOVERY = "recovery"
    HEALTH = "health"
    FAMILY = "family"
    LEGAL_OBLIGATIONS = "legal_obligations"
    FINANCES = "finances"
    TRANSPORTATION = "transportation"
    PRO_SOCIAL_SUPPORTS = "pro_social_supports"
    BENEFITS = "benefits"


class GoalStatus(StrEnum):
    ACTIVE = "active"
    ACHIEVED = "achieved"
    ABANDONED = "abandoned"


class StepStatus(StrEnum):
    OPEN = "open"
    COMPLETED = "completed"
    DROPPED = "dropped"


class GoalTerms(msgspec.Struct, frozen=True, kw_only=True):
    """What one version of a goal says: specific, measurable, in a domain, time-bound."""

    horizon: Horizon
    domain: GoalDomain
    statement: str
    measure: str
    target: str
    target_date: date


class Revision(msgspec.Struct, frozen=True, kw_only=True):
    """One version of the goal; number 1 is the goal as first set."""

    number: int
    terms: GoalTerms
    set_on: date
    reason: str
    recorded_at: datetime
    recorded_by: str


class Step(msgspec.Struct, frozen=True, kw_only=True):
    step_id: UUID
    description: str
    due_on: date | None
    status: StepStatus
    added_at: datetime
    closed_at: datetime | None = None
    note: str = ""


class ProgressUpdate(msgspec.Struct, frozen=True, kw_only=True):
    note: str
    evidence: str
    percent: int | None
    recorded_at: datetime
    recorded_by: str


def goal_overdue(status: GoalStatus, target_date: date, today: date) -> bool:
    """An active goal whose target date has passed, as of `today` (the grantee's local date)."""
    return status is GoalStatus.ACTIVE and target_date < today


def step_overdue(status: StepStatus, due_on: date | None, today: date) -> bool:
    """An open step whose due date has passed, as of `today`."""
    return status is StepStatus.OPEN and due_on is not None and due_on < today


def check_participant_active(participant: Participant) -> None:
    if participant.status is not Status.ACTIVE:
        raise RuleViolation(
            f"participant {participant.number} exited on {participant.exit_date}; goals are "
            "set and worked on for active participants only",
            code="participant_exited",
        )


def check_terms(terms: GoalTerms, set_on: date) -> None:
    """A SMART goal names what, how it is measured and the target, by a date in its horizon."""
    missing = [
        name for name in ("statement", "measure", "target") if not getattr(terms, name).strip()
    ]
    if missing:
        raise RuleViolation(
            "a SMART goal states what (statement), how it is measured (measure) and the "
            "target; missing: " + ", ".join(missing),
            code="goal_not_specific",
        )
    if terms.target_date < set_on:
        raise RuleViolation(
            f"the target date {terms.target_date} is before the day the goal is set ({set_on})",
            code="target_in_past",
        )
    days = HORIZON_DAYS[terms.horizon]
    if terms.target_date > set_on + timedelta(days=days):
        raise RuleViolation(
            f"a {terms.horizon.value.replace('_', '-')} goal set on {set_on} has a target"
            f" date within {days} days "
            f"(by {set_on + timedelta(days=days)}), not {terms.target_date}",
            code="target_beyond_horizon",
        )


def _required(text: str, what: str, code: str) -> None:
    if not text.strip():
        raise RuleViolation(f"{what} is required", code=code)


class Goal(ProwdAggregate):
    if TYPE_CHECKING:  # state set by the events' apply(); not dataclass fields
        participant_id: UUID
        terms: GoalTerms
        set_on: date
        status: GoalStatus
        steps: dict[UUID, Step]
        progress: list[ProgressUpdate]
        revisions: list[Revision]
        closed_at: datetime | None
        outcome: str

    class Set(ProwdAggregate.Created):
        participant_id: UUID
        terms: GoalTerms

        def apply(self, g: Any) -> None:
            g.participant_id = self.participant_id
            g.terms = self.terms
            g.set_on = self.occurred_at.date()
            g.status = GoalStatus.ACTIVE
            g.steps = {}
            g.progress = []
            g.revisions = [
                Revision(
                    number=1,
                    terms=self.terms,
                    set_on=g.set_on,
                    reason="",
                    recorded_at=self.occurred_at,
                    recorded_by=self.recorded_by,
                )
            ]
            g.closed_at = None
            g.outcome = ""

    class StepAdded(ProwdAggregate.Event):
        step_id: UUID
        description: str
        due_on: date | None

        def apply(self, g: Any) -> None:
            g.steps[self.step_id] = Step(
                step_id=self.step_id,
                description=self.description,
                due_on=self.due_on,
                status=StepStatus.OPEN,
                added_at=self.occurred_at,
            )

    class StepCompleted(ProwdAggregate.Event):
        step_id: UUID
        note: str

        def apply(self, g: Any) -> None:
            g.steps[self.step_id] = msgspec.structs.replace(
                g.steps[self.step_id],
                status=StepStatus.COMPLETED,
                closed_at=self.occurred_at,
                note=self.note,
            )

    class StepDropped(ProwdAggregate.Event):
        step_id: UUID
        reason: str

        def apply(self, g: Any) -> None:
            g.steps[self.step_id] = msgspec.structs.replace(
                g.steps[self.step_id],
                status=StepStatus.DROPPED,
                closed_at=self.occurred_at,
                note=self.reason,
            )

    class ProgressRecorded(ProwdAggregate.Event):
        note: str
        evidence: str
        percent: int | None

        def apply(self, g: Any) -> None:
            g.progress.append(
                ProgressUpdate(
                    note=self.note,
                    evidence=self.evidence,
                    percent=self.percent,
                    recorded_at=self.occurred_at,
                    recorded_by=self.recorded_by,
                )
            )

    class Revised(ProwdAggregate.Event):
        terms: GoalTerms
        reason: str

        def apply(self, g: Any) -> None:
            g.terms = self.terms
            g.set_on = self.occurred_at.date()
            g.revisions.append(
                Revision(
                    number=len(g.revisions) + 1,
                    terms=self.terms,
                    set_on=g.set_on,
                    reason=self.reason,
                    recorded_at=self.occurred_at,
                    recorded_by=self.recorded_by,
                )
            )

    class Achieved(ProwdAggregate.Event):
        note: str

        def apply(self, g: Any) -> None:
            g.status, g.closed_at, g.outcome = GoalStatus.ACHIEVED, self.occurred_at, self.note

    class Abandoned(ProwdAggregate.Event):
        reason: str

        def apply(self, g: Any) -> None:
            g.status, g.closed_at, g.outcome = GoalStatus.ABANDONED, self.occurred_at, self.reason

    @classmethod
    def set_for(cls, *, participant: Participant, terms: GoalTerms, at: datetime) -> Goal:
        """Set a goal for an active participant; `at` is when it is set."""
        check_participant_active(participant)
        check_not_future(at, "the moment the goal is set")
        check_terms(terms, at.date())
        goal: Goal = cls._create(
            cls.Set, id=uuid4(), participant_id=participant.id, terms=terms, occurred_at=at
        )
        return goal

    def _check_active(self) -> None:
        if self.status is not GoalStatus.ACTIVE:
            raise RuleViolation(
                f"the goal was {self.status.value}; it accepts no further changes",
                code="goal_closed",
            )

    def _check_at(self, at: datetime) -> None:
        self._check_active()
        check_not_future(at, "the time of the goal's change")
        if at.date() < self.set_on:
            raise RuleViolation(
                "nothing is recorded on a goal before its current version was set",
                code="before_goal_set",
            )

    def _open_step(self, step_id: UUID) -> Step:
        step = self.steps.get(step_id)
        if step is None:
            raise RuleViolation("the goal has no such step", code="no_such_step")
        if step.status is not StepStatus.OPEN:
            raise RuleViolation(f"the step is already {step.status.value}", code="step_closed")
        return step

    def add_step(self, description: str, due_on: date | None, at: datetime) -> UUID:
        """Break the goal down: a smaller step, optionally due by a date."""
        self._check_at(at)
        _required(description, "a step description", "description_required")
        if len(self.steps) >= MAX_STEPS:
            raise RuleViolation(f"a goal has at most {MAX_STEPS} steps", code="too_many_steps")
        if due_on is not None and due_on < at.date():
            raise RuleViolation(f"the step's due date {due_on} has passed", code="due_in_past")
        if due_on is not None and due_on > self.terms.target_date:
            raise RuleViolation(
                f"a step is due by the goal's target date {self.terms.target_date}, not {due_on}",
                code="step_due_after_target",
            )
        step_id = uuid4()
        self.trigger_event(
            self.StepAdded,
            step_id=step_id,
            description=description,
            due_on=due_on,
            occurred_at=at,
        )
        return step_id

    def complete_step(self, step_id: UUID, note: str, at: datetime) -> None:
        self._check_at(at)
        self._open_step(step_id)
        self.trigger_event(self.StepCompleted, step_id=step_id, note=note, occurred_at=at)

    def drop_step(self, step_id: UUID, reason: str, at: datetime) -> None:
        self._check_at(at)
        self._open_step(step_id)
        _required(reason, "a reason", "reason_required")
        self.trigger_event(self.StepDropped, step_id=step_id, reason=reason, occurred_at=at)

    def record_progress(self, note: str, evidence: str, percent: int | None, at: datetime) -> None:
        """Monitor progress: what happened and what shows it (setbacks too: percent may fall)."""
        self._check_at(at)
        _required(note, "a progress note", "note_required")
        _required(evidence, "evidence (a text or URL reference)", "evidence_required")
        if percent is not None and not 0 <= percent <= 100:
            raise RuleViolation("percent complete is 0-100", code="invalid_percent")
        self.trigger_event(
            self.ProgressRecorded, note=note, evidence=evidence, percent=percent, occurred_at=at
        )

    def revise(self, terms: GoalTerms, reason: str, at: datetime) -> None:
        """Reassess and adjust: a new version set on `at`'s day; the old one stays in history."""
        self._check_at(at)
        _required(reason, "a reason", "reason_required")
        if terms == self.terms:
            raise RuleViolation("the revision changes nothing", code="revision_unchanged")
        check_terms(terms, at.date())
        for step in self.open_steps:
            if step.due_on is not None and step.due_on > terms.target_date:
                raise RuleViolation(
                    f"open step {step.description!r} is due {step.due_on}, after the new "
                    f"target date {terms.target_date}; drop it first",
                    code="step_due_after_target",
                )
        self.trigger_event(self.Revised, terms=terms, reason=reason, occurred_at=at)

    def achieve(self, note: str, at: datetime) -> None:
        """Celebrate: the goal is met; the note says how."""
        self._check_at(at)
        _required(note, "a celebration note", "note_required")
        self.trigger_event(self.Achieved, note=note, occurred_at=at)

    def abandon(self, reason: str, at: datetime) -> None:
        """Let the goal go, with the reason (also after the participant exited)."""
        self._check_at(at)
        _required(reason, "a reason", "reason_required")
        self.trigger_event(self.Abandoned, reason=reason, occurred_at=at)

    @property
    def open_steps(self) -> list[Step]:
        return [s for s in self.steps.values() if s.status is StepStatus.OPEN]

    def is_overdue(self, today: date) -> bool:
        return goal_overdue(self.status, self.terms.target_date, today)
