"""What the participant endpoints accept and answer (services/api/participants.py), and a
participant as the API shows it."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime
from typing import Annotated, Any, Literal, TypeVar
from uuid import UUID

import msgspec

from domain.assignment import Duty, assigned
from domain.common import ProwdAggregate
from domain.contact import contact_of
from domain.corrections import EntryDateCorrected, PersonalDetailsCorrected, PlacementCorrected
from domain.participants import ExitReason, FundingSource, Participant, Placement, Status
from projections.caseload import CaseloadRow
from services.api.params import Code
from services.api.text import FreeText, Line, Name

_T = TypeVar("_T")
PersonName = Annotated[Name, msgspec.Meta(min_length=1, max_length=100)]
RegisterNumber = Annotated[str, msgspec.Meta(pattern=r"^[0-9]{5}-[0-9]{3}$")]


class EnrollmentIn(msgspec.Struct, forbid_unknown_fields=True):
    first_name: PersonName
    last_name: PersonName
    date_of_birth: date
    program_entry_date: date
    facility: Code
    cohort: Code
    number: Annotated[str, msgspec.Meta(pattern=r"^[A-Z0-9]{1,12}$")] | None = None
    bop_register_number: RegisterNumber | None = None
    ex_offender_at_entry: bool = True
    # Enrol a possible duplicate (409 `possible_duplicate`) all the same, for this reason.
    duplicate_reason: Annotated[FreeText, msgspec.Meta(max_length=2000)] = ""


Phone = Annotated[str, msgspec.Meta(pattern=r"^\+?[0-9 ().-]{7,25}$")]
Email = Annotated[str, msgspec.Meta(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", max_length=254)]


class ContactOut(msgspec.Struct, omit_defaults=True):
    phone: str | None = None
    email: str | None = None
    address: str | None = None


class ContactIn(msgspec.Struct, forbid_unknown_fields=True):
    """The participant's contact details and projected release date as they now are (what is
    left out is cleared)."""

    phone: Phone | None = None
    email: Email | None = None
    address: Annotated[Line, msgspec.Meta(max_length=300)] | None = None
    projected_release_date: date | None = None


class AssignmentIn(msgspec.Struct, forbid_unknown_fields=True):
    """Who takes on a duty for the participant: a staff member's token subject, or null to
    leave it unassigned."""

    duty: Duty
    staff: Annotated[Name, msgspec.Meta(min_length=1, max_length=200)] | None


class CorrectionIn(msgspec.Struct, forbid_unknown_fields=True):
    """The fields to correct (those left out stay as they are) and why."""

    reason: Annotated[FreeText, msgspec.Meta(min_length=1, max_length=2000)]
    first_name: PersonName | msgspec.UnsetType = msgspec.UNSET
    last_name: PersonName | msgspec.UnsetType = msgspec.UNSET
    date_of_birth: date | msgspec.UnsetType = msgspec.UNSET
    bop_register_number: RegisterNumber | msgspec.UnsetType | None = msgspec.UNSET
    program_entry_date: date | msgspec.UnsetType = msgspec.UNSET
    # The placement recorded wrongly (not a move): the cohort, the current facility or RRC.
    cohort: Code | msgspec.UnsetType = msgspec.UNSET
    facility: Code | msgspec.UnsetType = msgspec.UNSET

    def personal(self) -> dict[str, Any]:
        """The personal fields to correct, by name."""
        fields = ("first_name", "last_name", "date_of_birth", "bop_register_number")
        return {f: getattr(self, f) for f in fields if getattr(self, f) is not msgspec.UNSET}


def unset_none(value: _T | msgspec.UnsetType) -> _T | None:
    """A field left out of a request, as None."""
    return None if value is msgspec.UNSET else value


class StageTransitionIn(msgspec.Struct, forbid_unknown_fields=True):
    to_stage: Literal[1, 2, 3]
    occurred_at: datetime
    placement: Placement | None = None
    facility: Code | None = None
    returned_to_custody: bool = False


class ExitIn(msgspec.Struct, forbid_unknown_fields=True):
    exit_date: date
    reason: ExitReason
    note: Annotated[FreeText, msgspec.Meta(max_length=2000)] = ""


class ParticipantOut(msgspec.Struct, omit_defaults=True):
    id: UUID
    number: str
    first_name: str
    last_name: str
    # None (and the names `[erased]`) once the participant's personal data was erased.
    date_of_birth: date | None
    bop_register_number: str | None
    ex_offender_at_entry: bool
    program_entry_date: date
    cohort: str
    stage: int
    placement: Placement
    facility: str | None
    stage_started_at: datetime
    funding_source: FundingSource
    status: Status
    exit_date: date | None
    exit_reason: ExitReason | None
    returns_to_custody: int
    version: int
    position: int | None = None
    # When the participant's personal data was erased (absent until then).
    erased_at: datetime | None = None
    # The staff assigned (token subjects; absent until assigned, decision 57).
    case_manager: str | None = None
    coordinator: str | None = None
    # Personal, encrypted (decision 58); absent until recorded.
    contact: ContactOut | None = None
    projected_release_date: date | None = None
    # True when the exit shown is derived (90 days without service, none planned; see
    # docs/reports.md), not recorded: `exit_date` is then the last service.
    exit_derived: bool = False


class CaseloadPage(msgspec.Struct):
    items: list[CaseloadRow]
    next_cursor: str | None
    position: int
    # Asked with `total=true`: the participants the filters keep over every page.
    total: int | None = None


class HistoryEntry(msgspec.Struct):
    position: int
    version: int
    type: str
    occurred_at: datetime
    recorded_at: datetime
    recorded_by: str
    request_id: str
    data: dict[str, Any]


class HistoryOut(msgspec.Struct):
    participant_id: UUID
    events: list[HistoryEntry]


# What a peer mentor is not shown of their own mentee (minimum necessary; docs/security.md):
# they mentor the person, they do not identify them to the Bureau of Prisons.
WITHHELD_FROM_PEER_MENTORS = ("date_of_birth", "bop_register_number")


def for_peer_mentor(out: ParticipantOut) -> ParticipantOut:
    """The participant view a peer mentor gets: the withheld fields null."""
    return msgspec.structs.replace(out, date_of_birth=None, bop_register_number=None)


def history_entries(
    events: list[tuple[int, ProwdAggregate.Event]],
    *,
    before_after: bool,
    withhold: tuple[str, ...] = (),
) -> list[HistoryEntry]:
    """A participant's history; a correction shows the fields it changed, and, `before_after`
    (roles that may read the whole record), their values before and after and the reason.
    The personal details of the enrolment leave out the `withhold` fields."""
    out = []
    current: dict[str, Any] = {}
    for position, e in events:
        entry = history_entry(position, e)
        if isinstance(e, Participant.Enrolled):
            current = msgspec.structs.asdict(e.personal)
            if withhold:
                entry.data["personal"] = {k: v for k, v in current.items() if k not in withhold}
        elif isinstance(e, PersonalDetailsCorrected):
            after = msgspec.structs.asdict(e.personal)
            entry.data = {"fields": e.fields}
            if before_after:
                entry.data["before"] = {f: current.get(f) for f in e.fields}
                entry.data["after"] = {f: after[f] for f in e.fields}
                entry.data["reason"] = e.reason
            current = after
        elif isinstance(e, EntryDateCorrected):
            entry.data = {"fields": ["program_entry_date"]}
            if before_after:
                entry.data["before"] = {"program_entry_date": e.previous}
                entry.data["after"] = {"program_entry_date": e.program_entry_date}
                entry.data["reason"] = e.reason
        elif isinstance(e, PlacementCorrected):
            before = {"cohort": e.previous_cohort_code, "facility": e.previous_facility_code}
            after = {"cohort": e.cohort_code, "facility": e.facility_code}
            changed = [f for f in ("cohort", "facility") if before[f] != after[f]]
            entry.data = {"fields": changed}
            if before_after:
                entry.data["before"] = {f: before[f] for f in changed}
                entry.data["after"] = {f: after[f] for f in changed}
                entry.data["reason"] = e.reason
        out.append(entry)
    return out


def render(p: Participant, position: int) -> ParticipantOut:
    """A participant as the log has it, with what a command answers."""
    contact, release = contact_of(p)
    return ParticipantOut(
        id=p.id,
        number=p.number,
        first_name=p.personal.first_name,
        last_name=p.personal.last_name,
        date_of_birth=p.personal.date_of_birth,
        bop_register_number=p.personal.bop_register_number,
        ex_offender_at_entry=p.ex_offender_at_entry,
        program_entry_date=p.program_entry_date,
        cohort=p.cohort_code,
        stage=int(p.stage),
        placement=p.placement,
        facility=p.facility_code,
        stage_started_at=p.stage_started_at,
        funding_source=p.funding_source,
        status=p.status,
        exit_date=p.exit_date,
        exit_reason=p.exit_reason,
        returns_to_custody=p.returns_to_custody,
        erased_at=getattr(p, "erased_at", None),
        case_manager=assigned(p, Duty.CASE_MANAGER),
        coordinator=assigned(p, Duty.COORDINATOR),
        contact=None if contact is None else ContactOut(**msgspec.structs.asdict(contact)),
        projected_release_date=release,
        version=p.version,
        position=position or None,
    )


# What the store and the request stamp on every event: the history shows them as its columns.
_CONTEXT_FIELDS = frozenset(f.name for f in dataclasses.fields(ProwdAggregate.Created))


def history_entry(position: int, e: ProwdAggregate.Event) -> HistoryEntry:
    """One event of a participant's history, its own fields under `data`."""
    return HistoryEntry(
        position=position,
        version=e.originator_version,
        type=type(e).__name__,
        occurred_at=e.occurred_at,
        recorded_at=e.timestamp,
        recorded_by=e.recorded_by,
        request_id=e.request_id,
        data={k: v for k, v in vars(e).items() if k not in _CONTEXT_FIELDS},
    )


# Request examples for the OpenAPI document (services/api/participants.py).
ENROL_EXAMPLE = {
    "first_name": "Dana",
    "last_name": "Reyes",
    "date_of_birth": "1988-03-14",
    "program_entry_date": "2026-02-02",
    "facility": "FCI-N1",
    "cohort": "NC-2026A",
    "bop_register_number": "12345-678",
}
MOVE_EXAMPLE = {
    "to_stage": 2,
    "placement": "rrc",
    "facility": "RRC-N1",
    "occurred_at": "2026-06-01T09:00:00-05:00",
}
CONTACT_EXAMPLE = {"phone": "+1 312 555 0142", "projected_release_date": "2026-09-14"}
ASSIGN_EXAMPLE = {"duty": "case_manager", "staff": "cm-rita"}
CORRECT_EXAMPLE = {"last_name": "Reyes-Ortiz", "reason": "misspelt at intake; ID card seen"}
EXIT_EXAMPLE = {"exit_date": "2026-11-20", "reason": "completed"}
