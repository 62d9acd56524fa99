"""The grantee's resource directory and the referrals made to it.

Mentors should know local resources (job placement, recovery, housing...) and refer to them,
while staying within the peer mentor's scope: case managers do case management. A directory
entry may be marked as needing a case manager; a peer mentor's referral to it is then handed
to a named case manager. A referral is made, then connected or declined.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, tzinfo
from enum import StrEnum
from typing import TYPE_CHECKING, Any
from uuid import UUID, uuid4

import msgspec

from domain.common import (
    ProwdAggregate,
    RuleViolation,
    check_date_not_future,
    check_not_future,
    utcnow,
)
from domain.participants import Participant, Status
from domain.plaindays import local_day, start_of_day


class ResourceCategory(StrEnum):
    JOB_PLACEMENT = "job_placement"
    RECOVERY = "recovery"
    HOUSING = "housing"
    ID_DOCUMENTS = "id_documents"
    LEGAL_AID = "legal_aid"
    EDUCATION = "education"
    HEALTH = "health"
    MENTAL_HEALTH = "mental_health"
    BENEFITS = "benefits"
    TRANSPORTATION = "transportation"
    FAMILY = "family"
    FOOD_AND_CLOTHING = "food_and_clothing"
    OTHER = "other"


class Contact(msgspec.Struct, frozen=True, kw_only=True):
    phone: str = ""
    email: str = ""
    address: str = ""
    website: str = ""


class ReferralStatus(StrEnum):
    MADE = "made"
    CONNECTED = "connected"
    DECLINED = "declined"


class DeclinedBy(StrEnum):
    PARTICIPANT = "participant"
    RESOURCE = "resource"


class Resource(ProwdAggregate):
    if TYPE_CHECKING:  # state set by the events' apply(); not dataclass fields
        name: str
        category: ResourceCategory
        description: str
        contact: Contact
        requires_case_manager: bool
        withdrawn: bool

    class Listed(ProwdAggregate.Created):
        name: str
        category: ResourceCategory
        description: str
        contact: Contact
        requires_case_manager: bool

        def apply(self, r: Any) -> None:
            r.name = self.name
            r.category = self.category
            r.description = self.description
            r.contact = self.contact
            r.requires_case_manager = self.requires_case_manager
            r.withdrawn = False

    class Updated(ProwdAggregate.Event):
        name: str
        description: str
        contact: Contact
        requires_case_manager: bool

        def apply(self, r: Any) -> None:
            r.name = self.name
            r.description = self.description
            r.contact = self.contact
            r.requires_case_manager = self.requires_case_manager

    class Withdrawn(ProwdAggregate.Event):
        reason: str

        def apply(self, r: Any) -> None:
            r.withdrawn = True

    @staticmethod
    def _check_name(name: str) -> None:
        if not name.strip():
            raise RuleViolation("a resource has a name", code="missing_name")

    @classmethod
    def list_new(
        cls,
        *,
        name: str,
        category: ResourceCategory,
        description: str = "",
        contact: Contact | None = None,
        requires_case_manager: bool = False,
    ) -> Resource:
        """Add a local resource (an organisation or service) to the directory."""
        cls._check_name(name)
        resource: Resource = cls._create(
            cls.Listed,
            id=uuid4(),
            name=name.strip(),
            category=category,
            description=description.strip(),
            contact=contact or Contact(),
            requires_case_manager=requires_case_manager,
            occurred_at=utcnow(),
        )
        return resource

    def check_listed(self) -> None:
        if self.withdrawn:
            raise RuleViolation(
                "the resource was withdrawn from the directory", code="resource_withdrawn"
            )

    def update(
        self, *, name: str, description: str, contact: Contact, requires_case_manager: bool
    ) -> None:
        self.check_listed()
        self._check_name(name)
        self.trigger_event(
            self.Updated,
            name=name.strip(),
            description=description.strip(),
            contact=contact,
            requires_case_manager=requires_case_manager,
            occurred_at=utcnow(),
        )

    def withdraw(self, reason: str) -> None:
        self.check_listed()
        if not reason.strip():
            raise RuleViolation("a withdrawal states its reason", code="reason_required")
        self.trigger_event(self.Withdrawn, reason=reason.strip(), occurred_at=utcnow())


class Referral(ProwdAggregate):
    if TYPE_CHECKING:  # state set by the events' apply(); not dataclass fields
        participant_id: UUID
        resource_id: UUID
        meeting_id: UUID | None
        need: str
        made_by: str
        made_at: datetime
        case_manager: str | None
        status: ReferralStatus

    class Made(ProwdAggregate.Created):
        participant_id: UUID
        resource_id: UUID
        category: ResourceCategory
        meeting_id: UUID | None
        need: str
        made_by: str

        def apply(self, r: Any) -> None:
            r.participant_id = self.participant_id
            r.resource_id = self.resource_id
            r.meeting_id = self.meeting_id
            r.need = self.need
            r.made_by = self.made_by
            r.made_at = self.occurred_at
            r.case_manager = None
            r.status = ReferralStatus.MADE

    class HandedToCaseManager(ProwdAggregate.Event):
        case_manager: str
        note: str

        def apply(self, r: Any) -> None:
            r.case_manager = self.case_manager

    class Connected(ProwdAggregate.Event):
        connected_on: date
        note: str

        def apply(self, r: Any) -> None:
            r.status = ReferralStatus.CONNECTED

        def plain_day(self) -> date:
            return self.connected_on

    class Declined(ProwdAggregate.Event):
        declined_on: date
        declined_by: DeclinedBy
        reason: str

        def apply(self, r: Any) -> None:
            r.status = ReferralStatus.DECLINED

        def plain_day(self) -> date:
            return self.declined_on

    @classmethod
    def make(
        cls,
        *,
        participant: Participant,
        resource: Resource,
        meeting_id: UUID | None,
        need: str,
        made_by: str,
        made_at: datetime,
        by_peer_mentor: bool,
        case_manager: str | None = None,
    ) -> Referral:
        """Refer a participant to a listed resource, possibly from a meeting."""
        if participant.status is Status.EXITED:
            raise RuleViolation("the participant has exited the program", code="participant_exited")
        resource.check_listed()
        if not need.strip():
            raise RuleViolation("a referral states the need it answers", code="need_required")
        check_not_future(made_at, "the time the referral was made")
        if made_at.date() < participant.program_entry_date:
            raise RuleViolation(
                "a referral cannot precede program entry", code="before_program_entry"
            )
        if by_peer_mentor and resource.requires_case_manager and not (case_manager or "").strip():
            raise RuleViolation(
                f"{resource.name} is case management: a peer mentor hands this referral"
                " to a named case manager",
                code="case_manager_required",
            )
        referral: Referral = cls._create(
            cls.Made,
            id=uuid4(),
            participant_id=participant.id,
            resource_id=resource.id,
            category=resource.category,
            meeting_id=meeting_id,
            need=need.strip(),
            made_by=made_by,
            occurred_at=made_at,
        )
        if case_manager is not None:
            referral.hand_over(case_manager, "")
        return referral

    def _check_made(self) -> None:
        if self.status is not ReferralStatus.MADE:
            raise RuleViolation(
                f"the referral is already {self.status.value}", code="referral_closed"
            )

    def _check_day(self, day: date, what: str, zone: tzinfo) -> None:
        check_date_not_future(day, what, zone)
        if day < local_day(self.made_at, zone):
            raise RuleViolation(f"{what} is before the referral was made", code="before_referral")

    def hand_over(self, case_manager: str, note: str) -> None:
        """Hand the referral to a case manager (the follow-up is case management)."""
        self._check_made()
        if not case_manager.strip():
            raise RuleViolation("name the case manager", code="case_manager_required")
        if self.case_manager == case_manager.strip():
            raise RuleViolation(
                "the referral is already with this case manager", code="already_handed_over"
            )
        self.trigger_event(
            self.HandedToCaseManager,
            case_manager=case_manager.strip(),
            note=note,
            occurred_at=utcnow(),
        )

    def connect(self, on: date, note: str = "", *, zone: tzinfo = UTC) -> None:
        """The participant was connected on `on`, a day of `zone` (the grantee's time zone)."""
        self._check_made()
        self._check_day(on, "the connection date", zone)
        self.trigger_event(
            self.Connected,
            connected_on=on,
            note=note,
            occurred_at=max(start_of_day(on, zone), self.made_at),
        )

    def decline(self, on: date, by: DeclinedBy, reason: str, *, zone: tzinfo = UTC) -> None:
        """The referral was declined on `on`, a day of `zone` (the grantee's time zone)."""
        self._check_made()
        self._check_day(on, "the date declined", zone)
        if not reason.strip():
            raise RuleViolation("a declined referral states the reason", code="reason_required")
        self.trigger_event(
            self.Declined,
            declined_on=on,
            declined_by=by,
            reason=reason.strip(),
            occurred_at=max(start_of_day(on, zone), self.made_at),
        )
