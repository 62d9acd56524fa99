"""Use cases: the grantee's resource directory and referrals to it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from uuid import UUID

from domain import common
from domain.common import RuleViolation, utcnow
from domain.meetings import Meeting
from domain.pairings import Pairing
from domain.resources import Contact, DeclinedBy, Referral, Resource, ResourceCategory
from services.app.meetings import Meetings
from services.app.pairings import Pairings
from services.app.participants import Participants
from services.store.ledger import Command, LedgerApplication, Saved


@dataclass
class Referrals:
    ledger: LedgerApplication
    participants: Participants
    pairings: Pairings
    meetings: Meetings

    # -- resource directory -----------------------------------------------------------------
    def resource(self, resource_id: UUID) -> Resource:
        return self.ledger.load(Resource, resource_id, "resource")

    def list_resource(
        self,
        command: Command,
        *,
        name: str,
        category: ResourceCategory,
        description: str = "",
        contact: Contact | None = None,
        requires_case_manager: bool = False,
    ) -> Saved[Resource]:
        """Add a local resource to the grantee's directory."""
        resource = Resource.list_new(
            name=name,
            category=category,
            description=description,
            contact=contact,
            requires_case_manager=requires_case_manager,
        )
        return self.ledger.record(resource, command)

    def update_resource(
        self,
        command: Command,
        resource_id: UUID,
        *,
        name: str,
        description: str,
        contact: Contact,
        requires_case_manager: bool,
    ) -> Saved[Resource]:
        """Change a directory entry's name, description, contact or case-manager need."""
        resource = self.resource(resource_id)
        resource.update(
            name=name,
            description=description,
            contact=contact,
            requires_case_manager=requires_case_manager,
        )
        return self.ledger.record(resource, command)

    def withdraw_resource(
        self, command: Command, resource_id: UUID, reason: str
    ) -> Saved[Resource]:
        """Withdraw a resource from the directory (existing referrals keep it)."""
        resource = self.resource(resource_id)
        resource.withdraw(reason)
        return self.ledger.record(resource, command)

    # -- referrals --------------------------------------------------------------------------
    def referral(self, referral_id: UUID) -> Referral:
        return self.ledger.load(Referral, referral_id, "referral")

    def make_referral(
        self,
        command: Command,
        *,
        participant_id: UUID,
        resource_id: UUID,
        need: str,
        meeting_id: UUID | None = None,
        made_at: datetime | None = None,
        by_peer_mentor: bool = False,
        case_manager: str | None = None,
    ) -> Saved[Referral]:
        """Refer a participant to a resource of the directory, possibly from a meeting, possibly
        handed straight to a case manager."""
        participant = self.participants.participant(participant_id)
        resource = self.resource(resource_id)
        if meeting_id is not None:
            meeting = self.ledger.load(Meeting, meeting_id, "meeting")
            pairing = self.ledger.load(Pairing, meeting.pairing_id, "pairing")
            if participant_id not in pairing.members:
                raise RuleViolation(
                    "the referral's meeting was not a meeting of this participant",
                    code="meeting_of_other_participant",
                )
        self.participants.check_not_derived_exit(participant, on=made_at)
        referral = Referral.make(
            participant=participant,
            resource=resource,
            meeting_id=meeting_id,
            need=need,
            made_by=common.actor.get(),
            made_at=made_at or utcnow(),
            by_peer_mentor=by_peer_mentor,
            case_manager=case_manager,
        )
        return self.ledger.record(referral, command)

    def hand_referral_over(
        self, command: Command, referral_id: UUID, case_manager: str, note: str = ""
    ) -> Saved[Referral]:
        """Hand a referral to a case manager: the follow-up is case management."""
        referral = self.referral(referral_id)
        referral.hand_over(case_manager, note)
        return self.ledger.record(referral, command)

    def connect_referral(
        self, command: Command, referral_id: UUID, on: date, note: str = ""
    ) -> Saved[Referral]:
        """Record that the participant connected with the resource."""
        referral = self.referral(referral_id)
        referral.connect(on, note, zone=self.ledger.zone)
        return self.ledger.record(referral, command)

    def decline_referral(
        self, command: Command, referral_id: UUID, on: date, by: DeclinedBy, reason: str
    ) -> Saved[Referral]:
        """Record that the participant (or the resource) declined the referral."""
        referral = self.referral(referral_id)
        referral.decline(on, by, reason, zone=self.ledger.zone)
        return self.ledger.record(referral, command)
