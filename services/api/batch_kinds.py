"""The kinds of command a batch takes: each is its single endpoint's body, role-matrix action,
path and command factory (services/api/commands.py), so an item is decided exactly as the
single request would be (decision 89)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import msgspec
from litestar import Request

from domain.participants import PersonalDetails
from services.api.commands import (
    enroll_command,
    hold_command,
    open_command,
    register_command,
    schedule_command,
    transition_command,
)
from services.api.context import Tenant
from services.api.schemas.meetings import HeldIn, MeetingIn
from services.api.schemas.mentors import MentorIn
from services.api.schemas.pairings import PairingIn
from services.api.schemas.participants import EnrollmentIn, StageTransitionIn
from services.store.ledger import Command, Saved

# The batch's duplicate detection for enrolments (read once a batch, not once an item).
Duplicates = Callable[[PersonalDetails], None]
# (request, tenant, decoded body, target id, duplicates) -> the command.
Factory = Callable[
    [Request[Any, Any, Any], Tenant, Any, UUID | None, Duplicates],
    Callable[[Command], Saved[Any]],
]


@dataclass(frozen=True)
class Kind:
    name: str
    action: str
    body: type[msgspec.Struct]
    # The single endpoint's path below the grantee ("{target}": the id in it) and the path
    # of the record it saves ("{id}").
    path: str
    record: str
    factory: Factory
    status: int = 201

    @property
    def targeted(self) -> bool:
        return "{target}" in self.path


KINDS = {
    k.name: k
    for k in (
        Kind(
            "participant.enrol",
            "participants.enroll",
            EnrollmentIn,
            "/participants",
            "/participants/{id}",
            lambda r, t, d, _, dup: enroll_command(r, t, d, duplicates=dup),
        ),
        Kind(
            "participant.stage_transition",
            "participants.move",
            StageTransitionIn,
            "/participants/{target}/stage-transitions",
            "/participants/{id}",
            lambda r, t, d, target, _: transition_command(r, t, d, _given(target)),
        ),
        Kind(
            "mentor.register",
            "mentors.write",
            MentorIn,
            "/mentors",
            "/mentors/{id}",
            lambda r, t, d, *_: register_command(r, t, d),
        ),
        Kind(
            "pairing.open",
            "pairings.write",
            PairingIn,
            "/pairings",
            "/pairings/{id}",
            lambda r, t, d, *_: open_command(r, t, d),
        ),
        Kind(
            "meeting.schedule",
            "meetings.write",
            MeetingIn,
            "/meetings",
            "/meetings/{id}",
            lambda r, t, d, *_: schedule_command(r, t, d),
        ),
        Kind(
            "meeting.held",
            "meetings.write",
            HeldIn,
            "/meetings/{target}/held",
            "/meetings/{id}",
            lambda r, t, d, target, _: hold_command(r, t, d, _given(target)),
        ),
    )
}


def _given(target: UUID | None) -> UUID:
    if target is None:  # the batch checks `targeted` kinds for a target first
        raise ValueError("a target is required")
    return target
