"""Who looks after a participant: a case manager and a coordinator, each a staff member named
by their token subject, assigned and reassigned as events (decision 57)."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from domain.common import ProwdAggregate, RuleViolation, utcnow
from domain.participants import Participant


class Duty(StrEnum):
    CASE_MANAGER = "case_manager"
    COORDINATOR = "coordinator"


class StaffAssigned(ProwdAggregate.Event):
    """A staff member (`staff`, a token subject; None: nobody) took on a `duty` for the
    participant, from `previous`."""

    duty: Duty
    staff: str | None
    previous: str | None

    def apply(self, aggregate: Any) -> None:
        setattr(aggregate, f"assigned_{self.duty.value}", self.staff)


def assigned(participant: Participant, duty: Duty) -> str | None:
    """Who holds `duty` for the participant now (None: nobody yet)."""
    staff: str | None = getattr(participant, f"assigned_{duty.value}", None)
    return staff


def assign(participant: Participant, duty: Duty, staff: str | None) -> None:
    """Assign (or, with None, unassign) the participant's case manager or coordinator."""
    if staff is not None and not staff.strip():
        raise RuleViolation("name the staff member by their token subject", code="staff_required")
    previous = assigned(participant, duty)
    if previous == staff:
        raise RuleViolation(
            f"the {duty.value.replace('_', ' ')} is already {staff or 'nobody'}",
            code="already_assigned",
        )
    participant.trigger_event(
        StaffAssigned, duty=duty, staff=staff, previous=previous, occurred_at=utcnow()
    )
