"""Use cases for SMART goals: set, break down, monitor, revise, achieve, abandon.

Every change is stamped with the moment it is recorded: goals are worked on now, never
back-dated. Work on a goal needs an active participant; only abandonment is still possible
after the participant exited, so staff can close the goals that were left open.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from uuid import UUID

import msgspec

from domain.goals import Goal, GoalDomain, GoalTerms, Horizon, check_participant_active
from services.app.participants import Participants
from services.store.ledger import Command, LedgerApplication, Saved


@dataclass
class Goals:
    ledger: LedgerApplication
    participants: Participants

    def goal(self, goal_id: UUID) -> Goal:
        return self.ledger.load(Goal, goal_id, "goal")

    def _workable(self, goal_id: UUID) -> Goal:
        goal = self.goal(goal_id)
        participant = self.participants.participant(goal.participant_id)
        check_participant_active(participant)
        self.participants.check_not_derived_exit(participant)
        return goal

    def set_goal(self, command: Command, *, participant_id: UUID, terms: GoalTerms) -> Saved[Goal]:
        """Set a SMART goal for an active participant, its target date within its horizon."""
        participant = self.participants.participant(participant_id)
        self.participants.check_not_derived_exit(participant)
        goal = Goal.set_for(participant=participant, terms=terms, at=self.ledger.local_now())
        return self.ledger.record(goal, command, creates=f"goal {goal.id}")

    def add_goal_step(
        self, command: Command, goal_id: UUID, *, description: str, due_on: date | None = None
    ) -> Saved[Goal]:
        """Break a goal down into a smaller step, optionally due by a date."""
        goal = self._workable(goal_id)
        goal.add_step(description, due_on, self.ledger.local_now())
        return self.ledger.record(goal, command)

    def complete_goal_step(
        self, command: Command, goal_id: UUID, step_id: UUID, note: str = ""
    ) -> Saved[Goal]:
        """Mark an open step done."""
        goal = self._workable(goal_id)
        goal.complete_step(step_id, note, self.ledger.local_now())
        return self.ledger.record(goal, command)

    def drop_goal_step(
        self, command: Command, goal_id: UUID, step_id: UUID, reason: str
    ) -> Saved[Goal]:
        """Drop an open step that no longer serves the goal, with the reason."""
        goal = self._workable(goal_id)
        goal.drop_step(step_id, reason, self.ledger.local_now())
        return self.ledger.record(goal, command)

    def record_goal_progress(
        self,
        command: Command,
        goal_id: UUID,
        *,
        note: str,
        evidence: str,
        percent: int | None = None,
    ) -> Saved[Goal]:
        """Record progress with its evidence (a text or URL reference) and a percent if known."""
        goal = self._workable(goal_id)
        goal.record_progress(note, evidence, percent, self.ledger.local_now())
        return self.ledger.record(goal, command)

    def revise_goal(
        self,
        command: Command,
        goal_id: UUID,
        *,
        reason: str,
        horizon: Horizon | None = None,
        domain: GoalDomain | None = None,
        statement: str | None = None,
        measure: str | None = None,
        target: str | None = None,
        target_date: date | None = None,
    ) -> Saved[Goal]:
        """Reassess and adjust a goal; unnamed terms stay as they were, the old version is kept."""
        goal = self._workable(goal_id)
        changes = {
            name: value
            for name, value in (
                ("horizon", horizon),
                ("domain", domain),
                ("statement", statement),
                ("measure", measure),
                ("target", target),
                ("target_date", target_date),
            )
            if value is not None
        }
        goal.revise(msgspec.structs.replace(goal.terms, **changes), reason, self.ledger.local_now())
        return self.ledger.record(goal, command)

    def achieve_goal(self, command: Command, goal_id: UUID, note: str) -> Saved[Goal]:
        """Record that the goal was met, with a note celebrating it."""
        goal = self._workable(goal_id)
        goal.achieve(note, self.ledger.local_now())
        return self.ledger.record(goal, command)

    def abandon_goal(self, command: Command, goal_id: UUID, reason: str) -> Saved[Goal]:
        """Abandon a goal with the reason (possible after the participant exited)."""
        goal = self.goal(goal_id)
        goal.abandon(reason, self.ledger.local_now())
        return self.ledger.record(goal, command)
