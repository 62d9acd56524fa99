"""Use cases: supervision of mentors (debriefs with well-being checks, escalations)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from uuid import UUID

from domain import common
from domain.common import NotFound, utcnow
from domain.mentors import Mentor
from domain.supervision import (
    Debrief,
    DebriefTopic,
    Escalation,
    EscalationType,
    Severity,
    WellbeingCheck,
)
from services.app.mentors import Mentors
from services.app.pairings import Pairings
from services.app.participants import Participants
from services.store.ledger import Command, LedgerApplication, Saved


@dataclass
class Supervision:
    ledger: LedgerApplication
    participants: Participants
    mentors: Mentors
    pairings: Pairings

    # -- debriefs ---------------------------------------------------------------------------
    def debrief(self, debrief_id: UUID) -> Debrief:
        return self.ledger.load(Debrief, debrief_id, "debrief")

    def record_debrief(
        self,
        command: Command,
        *,
        mentor_ids: list[UUID],
        held_on: date,
        topics: list[DebriefTopic],
        checks: list[WellbeingCheck],
        notes: str = "",
    ) -> Saved[Debrief]:
        """Record a debrief of the coordinator with one or more mentors, with each mentor's
        well-being and self-care check."""
        mentors = [self.mentors.mentor(mentor_id) for mentor_id in mentor_ids]
        debrief = Debrief.record(
            mentors=mentors,
            held_on=held_on,
            topics=topics,
            checks=checks,
            notes=notes,
            zone=self.ledger.zone,
        )
        return self.ledger.record(debrief, command)

    # -- escalations ------------------------------------------------------------------------
    def escalation(self, escalation_id: UUID) -> Escalation:
        return self.ledger.load(Escalation, escalation_id, "escalation")

    def mentees_of(self, mentor: Mentor) -> set[UUID]:
        """Participants in the mentor's open pairings, individual and group."""
        mentees = set(mentor.individual_mentees)
        for pairing_id in mentor.open_pairings:
            mentees.update(self.pairings.pairing(pairing_id).members)
        return mentees

    def check_raised_by_own_mentor(
        self, subject: str, mentor_id: UUID, participant_id: UUID | None
    ) -> None:
        """A peer mentor raises only for themselves and about their own current mentees: any
        other mentor, or participant, is not found for them."""
        mentor = self.mentors.mentor(mentor_id)
        if mentor.subject != subject:
            raise NotFound("mentor not found")
        if participant_id is not None and participant_id not in self.mentees_of(mentor):
            raise NotFound("participant not found")

    def raise_escalation(
        self,
        command: Command,
        *,
        mentor_id: UUID,
        participant_id: UUID | None,
        type: EscalationType,
        severity: Severity,
        description: str,
        raised_at: datetime | None = None,
    ) -> Saved[Escalation]:
        """A mentor asks the coordinator for guidance (boundaries, crisis, safety, relapse risk,
        conflict); the caller's subject is recorded as who raised it."""
        mentor = self.mentors.mentor(mentor_id)
        if participant_id is not None:
            self.participants.participant(participant_id)
        escalation = Escalation.raise_for(
            mentor=mentor,
            mentees=self.mentees_of(mentor),
            participant_id=participant_id,
            type=type,
            severity=severity,
            description=description,
            raised_by=common.actor.get(),
            raised_at=raised_at or utcnow(),
        )
        return self.ledger.record(escalation, command)

    def acknowledge_escalation(
        self, command: Command, escalation_id: UUID, *, at: datetime | None = None, note: str = ""
    ) -> Saved[Escalation]:
        """The coordinator acknowledges the escalation; the time to acknowledge is kept."""
        escalation = self.escalation(escalation_id)
        escalation.acknowledge(common.actor.get(), at or utcnow(), note)
        return self.ledger.record(escalation, command)

    def resolve_escalation(
        self, command: Command, escalation_id: UUID, *, resolution: str, at: datetime | None = None
    ) -> Saved[Escalation]:
        """The coordinator resolves an acknowledged escalation, saying how."""
        escalation = self.escalation(escalation_id)
        escalation.resolve(resolution, at or utcnow())
        return self.ledger.record(escalation, command)
