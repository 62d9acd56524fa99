"""The pairings API's requests and responses beside the pairing's own (services/api/pairings.py):
members, flags, closure, commitment and the program policy."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated
from uuid import UUID

import msgspec

from domain.pairings import ClosureType, Frequency, Initiator, PairingFlag
from domain.policy import MentoringRules, ProgramPolicy
from services.api.text import FreeText

Text = Annotated[FreeText, msgspec.Meta(max_length=2000)]


class CommitmentIn(msgspec.Struct, forbid_unknown_fields=True):
    frequency: Frequency = Frequency.WEEKLY
    minutes_per_meeting: Annotated[int, msgspec.Meta(ge=1, le=480)] = 60
    months: Annotated[int, msgspec.Meta(ge=1, le=36)] = 6


class MemberIn(msgspec.Struct, forbid_unknown_fields=True):
    participant_id: UUID


class MemberRemovalIn(msgspec.Struct, forbid_unknown_fields=True):
    participant_id: UUID
    reason: Annotated[FreeText, msgspec.Meta(min_length=1, max_length=2000)]


class FirstMeetingIn(msgspec.Struct, forbid_unknown_fields=True):
    met_on: date


class FlagResolutionIn(msgspec.Struct, forbid_unknown_fields=True):
    flag: PairingFlag
    resolution: Annotated[FreeText, msgspec.Meta(min_length=1, max_length=2000)]


class ClosureIn(msgspec.Struct, forbid_unknown_fields=True):
    closure_type: ClosureType
    reason: Annotated[FreeText, msgspec.Meta(min_length=1, max_length=2000)]
    initiator: Initiator
    rematch_eligible: bool
    exit_interview_on: date | None = None
    post_closure_contact: Text = ""
    closed_at: datetime | None = None


class PolicyOut(msgspec.Struct):
    rules: MentoringRules
    version: int
    position: int | None = None


def render_policy(p: ProgramPolicy, position: int) -> PolicyOut:
    """The program policy as a command answers it."""
    return PolicyOut(p.rules, p.version, position or None)
