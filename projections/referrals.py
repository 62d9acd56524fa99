"""Referral view: the grantee's resource directory and every referral with its status."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, ClassVar
from uuid import UUID

import msgspec
from psycopg import sql

from domain.participants import Participant
from domain.resources import (
    Contact,
    DeclinedBy,
    Referral,
    ReferralStatus,
    Resource,
    ResourceCategory,
)
from projections.base import Projection, Tables, handles
from projections.erasure import ERASED
from projections.ops import Erase, Inc, Ref, Writer
from projections.query import Reader, page
from projections.rows import select, typed


class ReferralView(Projection):
    name = "referrals"
    tables: ClassVar[dict[str, str]] = {
        "resources": (
            "resource_id uuid PRIMARY KEY, name text NOT NULL, category text NOT NULL,"
            " description text NOT NULL, phone text NOT NULL, email text NOT NULL,"
            " address text NOT NULL, website text NOT NULL, requires_case_manager boolean NOT NULL,"
            " withdrawn boolean NOT NULL DEFAULT false, withdrawn_reason text,"
            " listed_at timestamptz NOT NULL, referrals int NOT NULL DEFAULT 0,"
            " connected int NOT NULL DEFAULT 0, last_position bigint NOT NULL"
        ),
        "referrals": (
            "referral_id uuid PRIMARY KEY, participant_id uuid NOT NULL, resource_id uuid NOT NULL,"
            " category text NOT NULL, meeting_id uuid, need text NOT NULL, made_by text NOT NULL,"
            " made_at timestamptz NOT NULL, case_manager text, handed_over_at timestamptz,"
            " status text NOT NULL, outcome_on date, declined_by text, outcome_note text,"
            " last_position bigint NOT NULL"
        ),
    }
    order: ClassVar[dict[str, str]] = {"resources": "resource_id", "referrals": "referral_id"}

    def _resource(self, w: Writer, resource_id: UUID, position: int, **sets: Any) -> None:
        w.update("resources", {**sets, "last_position": position}, resource_id=resource_id)

    def _referral(self, w: Writer, referral_id: UUID, position: int, **sets: Any) -> None:
        w.update("referrals", {**sets, "last_position": position}, referral_id=referral_id)

    @handles(Resource.Listed)
    def listed(self, w: Writer, e: Resource.Listed, position: int) -> None:
        c = e.contact
        w.insert(
            "resources",
            {
                "resource_id": e.originator_id,
                "name": e.name,
                "category": e.category.value,
                "description": e.description,
                "phone": c.phone,
                "email": c.email,
                "address": c.address,
                "website": c.website,
                "requires_case_manager": e.requires_case_manager,
                "listed_at": e.occurred_at,
                "last_position": position,
            },
        )

    @handles(Resource.Updated)
    def updated(self, w: Writer, e: Resource.Updated, position: int) -> None:
        c = e.contact
        self._resource(
            w,
            e.originator_id,
            position,
            name=e.name,
            description=e.description,
            phone=c.phone,
            email=c.email,
            address=c.address,
            website=c.website,
            requires_case_manager=e.requires_case_manager,
        )

    @handles(Resource.Withdrawn)
    def withdrawn(self, w: Writer, e: Resource.Withdrawn, position: int) -> None:
        self._resource(w, e.originator_id, position, withdrawn=True, withdrawn_reason=e.reason)

    @handles(Referral.Made)
    def made(self, w: Writer, e: Referral.Made, position: int) -> None:
        w.insert(
            "referrals",
            {
                "referral_id": e.originator_id,
                "participant_id": e.participant_id,
                "resource_id": e.resource_id,
                "category": e.category.value,
                "meeting_id": e.meeting_id,
                "need": e.need,
                "made_by": e.made_by,
                "made_at": e.occurred_at,
                "status": "made",
                "last_position": position,
            },
        )
        self._resource(w, e.resource_id, position, referrals=Inc(1))

    @handles(Referral.HandedToCaseManager)
    def handed_over(self, w: Writer, e: Referral.HandedToCaseManager, position: int) -> None:
        self._referral(
            w, e.originator_id, position, case_manager=e.case_manager, handed_over_at=e.occurred_at
        )

    @handles(Referral.Connected)
    def connected(self, w: Writer, e: Referral.Connected, position: int) -> None:
        self._referral(
            w,
            e.originator_id,
            position,
            status="connected",
            outcome_on=e.connected_on,
            outcome_note=e.note,
        )
        w.update(
            "resources",
            {"connected": Inc(1)},
            resource_id=Ref("referrals", "resource_id", {"referral_id": e.originator_id}),
        )

    @handles(Referral.Declined)
    def declined(self, w: Writer, e: Referral.Declined, position: int) -> None:
        self._referral(
            w,
            e.originator_id,
            position,
            status="declined",
            outcome_on=e.declined_on,
            declined_by=e.declined_by.value,
            outcome_note=e.reason,
        )

    @handles(Participant.Erased)
    def participant_erased(self, w: Writer, e: Participant.Erased, position: int) -> None:
        w.update(
            "referrals",
            {"need": Erase(ERASED), "outcome_note": Erase(ERASED)},
            participant_id=e.originator_id,
        )


# -- reads -----------------------------------------------------------------------------------


class DirectoryEntry(msgspec.Struct):
    id: UUID
    name: str
    category: ResourceCategory
    description: str
    contact: Contact
    requires_case_manager: bool
    withdrawn: bool
    referrals: int
    connected: int


class ReferralOut(msgspec.Struct, omit_defaults=True):
    id: UUID
    participant_id: UUID
    resource_id: UUID
    meeting_id: UUID | None
    need: str
    made_by: str
    made_at: datetime
    case_manager: str | None
    status: ReferralStatus
    category: ResourceCategory | None = None
    outcome_on: date | None = None
    declined_by: DeclinedBy | None = None
    outcome_note: str | None = None
    version: int | None = None
    position: int | None = None


@dataclass(frozen=True)
class Mentees:
    """A peer mentor's current mentees (by the token's subject): members of the open pairings
    of their certified mentor record."""

    subject: str
    pairings: Tables
    roster: Tables


ENTRY = select(
    DirectoryEntry,
    id="resource_id",
    contact="json_build_object('phone', phone, 'email', email, 'address', address,"
    " 'website', website)",
)
REFERRAL = select(ReferralOut, skip=("version", "position"), id="referral_id")


def directory(
    db: Reader,
    t: Tables,
    *,
    after: str,
    limit: int,
    category: ResourceCategory | None = None,
    include_withdrawn: bool = False,
) -> tuple[list[DirectoryEntry], str | None]:
    """The directory in id order with each resource's referral counts, by category."""
    rows, nxt = page(
        db,
        t,
        "resources",
        ENTRY.sql,
        "resource_id",
        after=after,
        limit=limit,
        cast_key="uuid",
        where=[("category", category.value)] if category else None,
        extra=None if include_withdrawn else sql.SQL("NOT withdrawn"),
    )
    return typed(DirectoryEntry, ENTRY, rows), nxt


def referral_page(
    db: Reader,
    t: Tables,
    *,
    after: str,
    limit: int,
    participant_id: UUID | None = None,
    resource_id: UUID | None = None,
    meeting_id: UUID | None = None,
    status: ReferralStatus | None = None,
    case_manager: str | None = None,
    mentees: Mentees | None = None,
) -> tuple[list[ReferralOut], str | None]:
    """Referrals in id order with their status, filtered; for a peer mentor (`mentees`) only
    their current mentees'."""
    where: list[tuple[str, Any]] = [
        (c, v)
        for c, v in (
            ("participant_id", participant_id),
            ("resource_id", resource_id),
            ("meeting_id", meeting_id),
            ("case_manager", case_manager),
        )
        if v is not None
    ]
    if status is not None:
        where.append(("status", status.value))
    extra: sql.Composable | None = None
    params: tuple[Any, ...] = ()
    if mentees is not None:
        extra = sql.SQL(
            "participant_id IN (SELECT pm.participant_id FROM {pm} pm JOIN {p} p USING"
            " (pairing_id) WHERE pm.left_at IS NULL AND p.closed_at IS NULL AND p.mentor_id IN"
            " (SELECT mentor_id FROM {m} WHERE subject = %s AND status = 'certified'))"
        ).format(
            pm=mentees.pairings["pairing_members"],
            p=mentees.pairings["pairings"],
            m=mentees.roster["mentors"],
        )
        params = (mentees.subject,)
    rows, nxt = page(
        db,
        t,
        "referrals",
        REFERRAL.sql,
        "referral_id",
        after=after,
        limit=limit,
        cast_key="uuid",
        where=where,
        extra=extra,
        extra_params=params,
    )
    return typed(ReferralOut, REFERRAL, rows), nxt
