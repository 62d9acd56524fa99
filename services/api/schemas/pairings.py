"""What the pairing and policy endpoints accept and answer (services/api/pairings.py), and a
pairing as the API shows it. Why `LocationIn` is declared here and in schemas/meetings.py: see
there."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Union
from uuid import UUID

import msgspec

from domain.exit_review import MenteeExit
from domain.pairings import (
    ClosureType,
    Focus,
    Frequency,
    Initiator,
    LocationKind,
    MatchCriterion,
    Pairing,
    PairingFlag,
    PairingKind,
)
from domain.policy import MentoringRules, ProgramPolicy
from projections.pairings import PairingStatus
from services.api.params import Code
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


EXIT_OF = (
    "The members' derived exits (90 days without service, none planned) in effect on the"
    " closure's day, which the closure answers: recorded with it, so an auditor reads why the"
    " pairing ended. Empty when no member had one (and in closures recorded before decision 104)."
)
EXIT_REVIEW = (
    "Worked out when read, for an open pairing: its members whose derived exit (90 days"
    " without service, none planned; no exit recorded) has taken effect today, each with the"
    " exit's date (their last service) and `basis` `derived`. Staff end the pairing (its"
    " closure then cites these exits in `exit_of`) or keep it; empty otherwise."
)


class ClosureOut(ClosureIn):
    """A pairing's closure as recorded."""

    exit_of: Annotated[list[MenteeExit], msgspec.Meta(description=EXIT_OF)] = []


class PolicyOut(msgspec.Struct):
    rules: MentoringRules
    version: int
    position: int | None = None


# PATCH /policy's body, a JSON merge patch (RFC 7396): each rule of `MentoringRules`, of its
# own type and bounds, optional. A rule left out keeps the value in force; `null` is refused
# (no rule is ever empty). Built from the rules' own fields, so a new rule is patchable at once.
PolicyChanges = msgspec.defstruct(
    "PolicyChanges",
    [
        (f.name, Union[f.type, msgspec.UnsetType], msgspec.UNSET)  # noqa: UP007
        for f in msgspec.structs.fields(MentoringRules)
    ],
    kw_only=True,
    forbid_unknown_fields=True,
    module=__name__,
)


def changes_of(patch: msgspec.Struct) -> dict[str, Any]:
    """The rules a `PolicyChanges` names, with their new values."""
    return {
        name: value
        for name in patch.__struct_fields__
        if (value := getattr(patch, name)) is not msgspec.UNSET
    }


def render_policy(p: ProgramPolicy, position: int) -> PolicyOut:
    """The program policy as a command answers it."""
    return PolicyOut(p.rules, p.version, position or None)


class LocationIn(msgspec.Struct, forbid_unknown_fields=True):
    kind: LocationKind
    facility: Code | None = None


class PairingIn(msgspec.Struct, forbid_unknown_fields=True):
    kind: PairingKind
    mentor_id: UUID
    members: Annotated[list[UUID], msgspec.Meta(min_length=1, max_length=30)]
    location: LocationIn
    criteria: Annotated[list[MatchCriterion], msgspec.Meta(min_length=1, max_length=9)]
    commitment: CommitmentIn = msgspec.field(default_factory=CommitmentIn)
    criteria_note: Text = ""
    focus: Focus | None = None
    opened_at: datetime | None = None


class PairingOut(msgspec.Struct, omit_defaults=True):
    id: UUID
    kind: PairingKind
    mentor_id: UUID
    members: list[UUID]
    focus: Focus | None
    location: LocationIn
    commitment: CommitmentIn
    opened_at: datetime
    first_meeting_on: date | None
    open_flags: dict[str, str]
    status: PairingStatus
    closure: ClosureOut | None
    exit_review: Annotated[list[MenteeExit], msgspec.Meta(description=EXIT_REVIEW)]
    version: int
    position: int | None = None


def render(p: Pairing, position: int, exit_review: tuple[MenteeExit, ...] = ()) -> PairingOut:
    """A pairing as the log has it, with what a command answers; `exit_review` as worked out
    when read (a command's answer leaves it empty)."""
    c = p.closure
    return PairingOut(
        id=p.id,
        kind=p.kind,
        mentor_id=p.mentor_id,
        members=list(p.members),
        focus=p.focus,
        location=LocationIn(p.location.kind, p.location.facility_code),
        commitment=CommitmentIn(
            p.commitment.frequency, p.commitment.minutes_per_meeting, p.commitment.months
        ),
        opened_at=p.opened_at,
        first_meeting_on=p.first_meeting_on,
        open_flags=dict(p.open_flags),
        status="open" if c is None else "closed",
        closure=None
        if c is None
        else ClosureOut(
            c.closure_type,
            c.reason,
            c.initiator,
            c.rematch_eligible,
            c.exit_interview_on,
            c.post_closure_contact,
            exit_of=list(c.exit_of),
        ),
        exit_review=list(exit_review),
        version=p.version,
        position=position or None,
    )
