"""What makes a peer mentor ready: screening, a background review, the six trainings, and the
volunteer clearances that let them meet at a facility.

The tip sheet's training list and the MENTOR standard's screening and training data are the
rules here. A background review is an *assessment decision* by a named reviewer: peers have
records by definition, so nothing disqualifies automatically. The mentor aggregate
(domain/mentors.py) records these steps by these rules.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from enum import StrEnum

import msgspec

from domain.common import RuleViolation

# MENTOR Elements: at least two hours of training before a match.
MIN_TRAINING_HOURS = 2.0
# A clearance that expires within this many days is shown as expiring soon.
CLEARANCE_WARNING_DAYS = 30


class TrainingModule(StrEnum):
    COMMUNICATION_SKILLS = "communication_skills"
    CRISIS_MANAGEMENT = "crisis_management"
    CULTURAL_SENSITIVITY = "cultural_sensitivity"
    MENTORING_TECHNIQUES = "mentoring_techniques"
    BOUNDARIES_AND_CONFIDENTIALITY = "boundaries_and_confidentiality"
    CONFLICT_RESOLUTION = "conflict_resolution"


REQUIRED_MODULES = frozenset(TrainingModule)


class ScreeningStep(StrEnum):
    APPLICATION = "application"
    INTERVIEW = "interview"
    REFERENCES = "references"


class BackgroundDecision(StrEnum):
    APPROVED = "approved"
    APPROVED_WITH_CONDITIONS = "approved_with_conditions"
    NOT_APPROVED = "not_approved"


class TrainingRecord(msgspec.Struct, frozen=True):
    module: TrainingModule
    completed_on: date
    hours: float
    trainer: str


class Clearance(msgspec.Struct, frozen=True):
    facility_code: str
    trained_on: date
    expires_on: date


def check_background_review(decision: BackgroundDecision, reviewer: str, conditions: str) -> None:
    """A review names its reviewer; an approval with conditions states them."""
    if not reviewer.strip():
        raise RuleViolation("a background review names its reviewer", code="reviewer_required")
    if decision is BackgroundDecision.APPROVED_WITH_CONDITIONS and not conditions.strip():
        raise RuleViolation(
            "approval with conditions states the conditions", code="conditions_required"
        )


def check_training(record: TrainingRecord) -> None:
    """A training lasts more than 0 and at most 40 hours and names its trainer."""
    if not 0 < record.hours <= 40:
        raise RuleViolation("training hours must be between 0 and 40", code="invalid_hours")
    if not record.trainer.strip():
        raise RuleViolation("a training record names its trainer", code="trainer_required")


def check_clearance(clearance: Clearance) -> None:
    """A clearance expires after the volunteer training that earned it."""
    if clearance.expires_on <= clearance.trained_on:
        raise RuleViolation("a clearance expires after its training date", code="invalid_expiry")


def training_hours(trainings: Mapping[TrainingModule, TrainingRecord]) -> float:
    """The hours of the modules completed (a module retaken counts once, as last recorded)."""
    return sum(t.hours for t in trainings.values())


def missing_modules(trainings: Mapping[TrainingModule, TrainingRecord]) -> list[TrainingModule]:
    """The required modules not yet completed, in the tip sheet's order."""
    return sorted(REQUIRED_MODULES - set(trainings), key=list(TrainingModule).index)


def screening_approved(
    screening: Mapping[ScreeningStep, date], background: BackgroundDecision | None
) -> bool:
    """Every screening step completed and a background review that approved."""
    return set(screening) == set(ScreeningStep) and background in (
        BackgroundDecision.APPROVED,
        BackgroundDecision.APPROVED_WITH_CONDITIONS,
    )


def check_certifiable(
    trainings: Mapping[TrainingModule, TrainingRecord],
    screening: Mapping[ScreeningStep, date],
    background: BackgroundDecision | None,
) -> None:
    """Certification needs all six modules, the minimum hours of training and an approved
    screening; a refusal names what is missing."""
    missing = missing_modules(trainings)
    if missing:
        raise RuleViolation(
            "certification needs all six training modules; missing: "
            + ", ".join(m.value for m in missing),
            code="training_incomplete",
        )
    if training_hours(trainings) < MIN_TRAINING_HOURS:
        raise RuleViolation(
            f"certification needs at least {MIN_TRAINING_HOURS:g} hours of training",
            code="training_hours_insufficient",
        )
    if not screening_approved(screening, background):
        steps = [s.value for s in ScreeningStep if s not in screening]
        detail = "screening is not approved"
        if steps:
            detail += "; missing steps: " + ", ".join(steps)
        if background is None:
            detail += "; no background review decision"
        elif background is BackgroundDecision.NOT_APPROVED:
            detail += "; the background review decision was not_approved"
        raise RuleViolation(detail, code="screening_not_approved")


def next_expiry(expiries: Iterable[date], today: date) -> date | None:
    """The soonest expiry from `today` on, if any clearance is still valid or expires today."""
    upcoming = [day for day in expiries if day >= today]
    return min(upcoming) if upcoming else None


def expiring_soon(expiry: date | None, today: date) -> bool:
    """An expiry within `CLEARANCE_WARNING_DAYS` of `today`."""
    return expiry is not None and (expiry - today).days <= CLEARANCE_WARNING_DAYS
