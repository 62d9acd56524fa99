"""Which fields of which events are personal, and whose key encrypts them (DESIGN D8).

One table, `FIELDS`: for each event class, the (dotted) path of a personal field and how the
participant it concerns is found. The mapper (services/store/mapping.py) encrypts these fields with
that participant's data key (services/store/keys.py) when it stores the event, and decrypts them
when it reads it; once the key is destroyed (erasure) they decode as `placeholder`.
docs/privacy.md prints this table (`markdown_table`).

Rules kept by the table:
- Empty strings and absent values are stored as they are: they say nothing about anyone, and
  keeping them lets a rebuild after erasure tell "no note" from "an erased note" exactly as
  the live view did.
- Group meetings' summaries and notes are not encrypted: they concern several people and no
  one person's key can hold them; they must not name individuals (the meeting form says so).
  Erasing a member scrubs the member's timeline copies of them (projections), not the log.
- Events that name no single participant (mentors, resources, supervision) are not here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol
from uuid import UUID

from domain.casenotes import CaseNote
from domain.contact import ERASED_CONTACT, ContactRecorded
from domain.corrections import EntryDateCorrected, PersonalDetailsCorrected, PlacementCorrected
from domain.documents import Document
from domain.evaluation import Feedback, Outcomes
from domain.goals import Goal
from domain.meetings import Meeting
from domain.pairings import Pairing, PairingKind
from domain.participants import Participant
from domain.resources import Referral
from domain.supervision import Escalation

ERASED = "[erased]"


class Lookup(Protocol):
    """What a locator may consult while an event is being stored."""

    def aggregate(self, aggregate_id: UUID) -> Any:
        """The aggregate being saved (or, failing that, loaded from the log)."""


Locator = Callable[[Any, Lookup], UUID | None]


def _originator(e: Any, _: Lookup) -> UUID | None:
    return e.originator_id  # type: ignore[no-any-return]


def _event_participant(e: Any, _: Lookup) -> UUID | None:
    return e.participant_id  # type: ignore[no-any-return]


def _aggregate_participant(e: Any, lookup: Lookup) -> UUID | None:
    return lookup.aggregate(e.originator_id).participant_id  # type: ignore[no-any-return]


def _individual(kind: Any, members: list[UUID]) -> UUID | None:
    return members[0] if kind is PairingKind.INDIVIDUAL and len(members) == 1 else None


def _opened_mentee(e: Any, _: Lookup) -> UUID | None:
    return _individual(e.kind, list(e.members))


def _pairing_mentee(e: Any, lookup: Lookup) -> UUID | None:
    pairing = lookup.aggregate(e.originator_id)
    return _individual(pairing.kind, list(pairing.members))


def _meeting_mentee(e: Any, lookup: Lookup) -> UUID | None:
    meeting = lookup.aggregate(e.originator_id)
    pairing = lookup.aggregate(meeting.pairing_id)
    return _individual(pairing.kind, list(pairing.members))


# How each locator is described in docs/privacy.md.
SUBJECTS: dict[Locator, str] = {
    _originator: "the participant (the event's aggregate)",
    _event_participant: "`participant_id` of the event",
    _aggregate_participant: "`participant_id` of the event's aggregate",
    _opened_mentee: "the mentee, for an individual pairing (group: not encrypted)",
    _pairing_mentee: "the pairing's mentee, for an individual pairing (group: not encrypted)",
    _meeting_mentee: "the mentee of the meeting's pairing, when individual (group: not encrypted)",
}

ERASED_PERSONAL = {
    "first_name": ERASED,
    "last_name": ERASED,
    "date_of_birth": None,
    "bop_register_number": None,
}


@dataclass(frozen=True)
class PersonalField:
    event: type[Any]
    path: str
    locate: Locator
    placeholder: Any = ERASED

    @property
    def steps(self) -> tuple[str, ...]:
        return tuple(self.path.split("."))


def _f(
    event: type[Any], paths: str, locate: Locator, placeholder: Any = ERASED
) -> list[PersonalField]:
    return [PersonalField(event, p, locate, placeholder) for p in paths.split()]


FIELDS: list[PersonalField] = [
    # Name, date of birth, BOP register number: the whole PersonalDetails, one ciphertext.
    *_f(Participant.Enrolled, "personal", _originator, ERASED_PERSONAL),
    *_f(Participant.Enrolled, "duplicate_reason", _originator),
    *_f(Participant.Exited, "note", _originator),
    *_f(PersonalDetailsCorrected, "personal", _originator, ERASED_PERSONAL),
    *_f(PersonalDetailsCorrected, "reason", _originator),
    *_f(EntryDateCorrected, "reason", _originator),
    *_f(PlacementCorrected, "reason", _originator),
    *_f(ContactRecorded, "contact", _originator, ERASED_CONTACT),
    *_f(CaseNote.Written, "text", _event_participant),
    *_f(Document.Attached, "title filename sha256", _event_participant),
    *_f(Document.Removed, "reason", _aggregate_participant),
    *_f(Document.Reclassified, "reason", _aggregate_participant),
    *_f(ContactRecorded, "projected_release_date", _originator, None),
    *_f(Meeting.Held, "record.summary record.confidential_note", _meeting_mentee),
    *_f(Meeting.Amended, "record.summary record.confidential_note reason", _meeting_mentee),
    *_f(Meeting.Missed, "note", _meeting_mentee),
    # Why a meeting was called off is as personal as how it went ("a medical appointment").
    *_f(Meeting.Cancelled, "reason", _meeting_mentee),
    *_f(Goal.Set, "terms.statement terms.measure terms.target", _event_participant),
    *_f(Goal.Revised, "terms.statement terms.measure terms.target reason", _aggregate_participant),
    *_f(Goal.StepAdded, "description", _aggregate_participant),
    *_f(Goal.StepCompleted, "note", _aggregate_participant),
    *_f(Goal.StepDropped, "reason", _aggregate_participant),
    *_f(Goal.ProgressRecorded, "note evidence", _aggregate_participant),
    *_f(Goal.Achieved, "note", _aggregate_participant),
    *_f(Goal.Abandoned, "reason", _aggregate_participant),
    *_f(Referral.Made, "need", _event_participant),
    *_f(Referral.HandedToCaseManager, "note", _aggregate_participant),
    *_f(Referral.Connected, "note", _aggregate_participant),
    *_f(Referral.Declined, "reason", _aggregate_participant),
    *_f(Feedback.Given, "comment", _event_participant),
    *_f(
        Outcomes.EmploymentStarted,
        "employment.employer employment.job_title",
        _aggregate_participant,
    ),
    *_f(Outcomes.HousingSecured, "housing.note", _aggregate_participant),
    *_f(Escalation.Raised, "description", _event_participant),
    *_f(Escalation.Acknowledged, "note", _aggregate_participant),
    *_f(Escalation.Resolved, "resolution", _aggregate_participant),
    *_f(Pairing.Opened, "criteria_note", _opened_mentee),
    *_f(Pairing.Closed, "closure.reason closure.post_closure_contact", _pairing_mentee),
]

BY_EVENT: dict[type[Any], list[PersonalField]] = {}
for _field in FIELDS:
    BY_EVENT.setdefault(_field.event, []).append(_field)


def markdown_table() -> str:
    """The table of personal fields, as docs/privacy.md prints it."""
    lines = [
        "| Event | Field | Key of | Erased as |",
        "|---|---|---|---|",
    ]
    for f in FIELDS:
        name = f"{f.event.__qualname__}"
        shown = (
            "names `[erased]`, date of birth and register number null"
            if isinstance(f.placeholder, dict)
            else f"`{f.placeholder}`"
        )
        lines.append(f"| `{name}` | `{f.path}` | {SUBJECTS[f.locate]} | {shown} |")
    return "\n".join(lines) + "\n"
