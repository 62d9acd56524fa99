"""Caseload: one row per participant with current stage, placement, facility and cohort.

Days in stage are computed when read (from `stage_started_at`), so the rows themselves stay a
pure function of the log.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any
from uuid import UUID

import msgspec

from domain.corrections import (
    EntryDateCorrected,
    MentorNameCorrected,
    PersonalDetailsCorrected,
    PlacementCorrected,
)
from domain.mentors import Mentor
from domain.pairings import Pairing
from domain.participants import ExitReason, FundingSource, Participant, Placement, Status
from projections.base import Projection, Tables, handles
from projections.caseload_reads import (
    CASELOAD_SORT,
    SHOWN_SORTS,
    Filters,
    derived_exits,
    group_mentor_names,
    last_service_sort,
    mentor_names,
    row_extras,
    shown_sort,
    where_of,
)
from projections.erasure import ERASED
from projections.ops import Append, IfNull, Inc, Ref, Remove, Writer
from projections.query import Reader, Sort, count, page
from projections.rows import select, typed
from projections.service import Person


class Caseload(Projection):
    name = "caseload"
    tables = {
        "caseload": (
            "participant_id uuid PRIMARY KEY,"
            " number text NOT NULL UNIQUE,"
            " first_name text NOT NULL,"
            " last_name text NOT NULL,"
            " cohort_code text NOT NULL,"
            " program_entry_date date NOT NULL,"
            " stage smallint NOT NULL,"
            " placement text NOT NULL,"
            " facility_code text,"
            " stage_started_at timestamptz NOT NULL,"
            " funding_source text NOT NULL,"
            " status text NOT NULL,"
            " exit_date date,"
            " exit_reason text,"
            " returns_to_custody int NOT NULL DEFAULT 0,"
            " last_event_at timestamptz NOT NULL,"
            " last_position bigint NOT NULL,"
            " individual_pairing_id uuid,"
            " mentor_id uuid,"
            " group_pairing_ids uuid[] NOT NULL DEFAULT '{}',"
            " first_paired_at timestamptz"
        ),
        # Who mentors in which pairing, so rows can name their mentor and peer mentors can be
        # shown only their own mentees.
        "caseload_mentors": "mentor_id uuid PRIMARY KEY, display_name text NOT NULL, subject text",
        "caseload_pairings": "pairing_id uuid PRIMARY KEY, mentor_id uuid NOT NULL",
    }
    order = {
        "caseload": "participant_id",
        "caseload_mentors": "mentor_id",
        "caseload_pairings": "pairing_id",
    }

    @handles(Participant.Enrolled)
    def enrolled(self, w: Writer, e: Participant.Enrolled, position: int) -> None:
        w.insert(
            "caseload",
            {
                "participant_id": e.originator_id,
                "number": e.number,
                "first_name": e.personal.first_name,
                "last_name": e.personal.last_name,
                "cohort_code": e.cohort_code,
                "program_entry_date": e.program_entry_date,
                "stage": 1,
                "placement": "bop_institution",
                "facility_code": e.facility_code,
                "stage_started_at": e.occurred_at,
                "funding_source": e.funding_source.value,
                "status": "active",
                "last_event_at": e.timestamp,
                "last_position": position,
            },
        )

    @handles(Participant.StageTransitioned)
    def transitioned(self, w: Writer, e: Participant.StageTransitioned, position: int) -> None:
        self._moved(w, e, position, int(e.to_stage), e.placement.value, returned=0)

    @handles(Participant.ReturnedToCustody)
    def returned(self, w: Writer, e: Participant.ReturnedToCustody, position: int) -> None:
        self._moved(w, e, position, 1, "bop_institution", returned=1)

    def _moved(
        self,
        w: Writer,
        e: Participant.StageTransitioned | Participant.ReturnedToCustody,
        position: int,
        stage: int,
        placement: str,
        *,
        returned: int,
    ) -> None:
        w.update(
            "caseload",
            {
                "stage": stage,
                "placement": placement,
                "facility_code": e.facility_code,
                "stage_started_at": e.occurred_at,
                "funding_source": e.funding_source.value,
                "returns_to_custody": Inc(returned),
                "last_event_at": e.timestamp,
                "last_position": position,
            },
            participant_id=e.originator_id,
        )

    @handles(Participant.Exited)
    def exited(self, w: Writer, e: Participant.Exited, position: int) -> None:
        w.update(
            "caseload",
            {
                "status": "exited",
                "exit_date": e.exit_date,
                "exit_reason": e.reason.value,
                "last_event_at": e.timestamp,
                "last_position": position,
            },
            participant_id=e.originator_id,
        )

    @handles(Mentor.Registered)
    def mentor(self, w: Writer, e: Mentor.Registered, position: int) -> None:
        w.insert(
            "caseload_mentors",
            {"mentor_id": e.originator_id, "display_name": e.display_name, "subject": e.subject},
        )

    @handles(MentorNameCorrected)
    def mentor_renamed(self, w: Writer, e: MentorNameCorrected, position: int) -> None:
        w.update("caseload_mentors", {"display_name": e.display_name}, mentor_id=e.originator_id)

    @handles(Pairing.Opened)
    def pairing(self, w: Writer, e: Pairing.Opened, position: int) -> None:
        w.insert("caseload_pairings", {"pairing_id": e.originator_id, "mentor_id": e.mentor_id})

    @handles(Participant.PairingJoined)
    def joined(self, w: Writer, e: Participant.PairingJoined, position: int) -> None:
        change: dict[str, Any]
        if e.individual:
            change = {
                "individual_pairing_id": e.pairing_id,
                "mentor_id": Ref("caseload_pairings", "mentor_id", {"pairing_id": e.pairing_id}),
            }
        else:
            change = {"group_pairing_ids": Append(e.pairing_id)}
        w.update(
            "caseload",
            {
                **change,
                "first_paired_at": IfNull(e.occurred_at),
                "last_event_at": e.timestamp,
                "last_position": position,
            },
            participant_id=e.originator_id,
        )

    @handles(Participant.PairingLeft)
    def left(self, w: Writer, e: Participant.PairingLeft, position: int) -> None:
        change: dict[str, Any]
        if e.individual:
            change = {"individual_pairing_id": None, "mentor_id": None}
        else:
            change = {"group_pairing_ids": Remove(e.pairing_id)}
        w.update(
            "caseload",
            {**change, "last_event_at": e.timestamp, "last_position": position},
            participant_id=e.originator_id,
        )

    @handles(PersonalDetailsCorrected)
    def corrected(self, w: Writer, e: PersonalDetailsCorrected, position: int) -> None:
        w.update(
            "caseload",
            {
                "first_name": e.personal.first_name,
                "last_name": e.personal.last_name,
                "last_event_at": e.timestamp,
                "last_position": position,
            },
            participant_id=e.originator_id,
        )

    @handles(EntryDateCorrected)
    def entry_corrected(self, w: Writer, e: EntryDateCorrected, position: int) -> None:
        w.update(
            "caseload",
            {
                "program_entry_date": e.program_entry_date,
                "last_event_at": e.timestamp,
                "last_position": position,
            },
            participant_id=e.originator_id,
        )

    @handles(PlacementCorrected)
    def placement_corrected(self, w: Writer, e: PlacementCorrected, position: int) -> None:
        change: dict[str, Any] = {"cohort_code": e.cohort_code, "facility_code": e.facility_code}
        change |= {"last_event_at": e.timestamp, "last_position": position}
        w.update("caseload", change, participant_id=e.originator_id)

    @handles(Participant.Erased)
    def erased(self, w: Writer, e: Participant.Erased, position: int) -> None:
        w.update(
            "caseload",
            {
                "first_name": ERASED,
                "last_name": ERASED,
                "last_event_at": e.timestamp,
                "last_position": position,
            },
            participant_id=e.originator_id,
        )


# -- reads -----------------------------------------------------------------------------------


class CaseloadRow(msgspec.Struct):
    """A participant in the caseload, with their mentor and the counts worked out when read."""

    id: UUID
    number: str
    first_name: str
    last_name: str
    cohort: str
    program_entry_date: date
    stage: int
    placement: Placement
    facility: str | None
    stage_started_at: datetime
    days_in_stage: int
    funding_source: FundingSource
    status: Status
    exit_date: date | None
    exit_reason: ExitReason | None
    returns_to_custody: int
    last_event_at: datetime
    mentor_id: UUID | None
    mentor_name: str | None
    individual_pairing_id: UUID | None
    group_pairing_ids: list[UUID]
    first_paired_at: datetime | None
    days_to_first_pairing: int | None
    overdue_goals: int
    # Token subjects of the staff assigned (decision 57), read from the assignments view.
    case_manager: str | None = None
    coordinator: str | None = None
    # The exit is derived (domain/definitions.py: 90 days without service, none planned), not
    # recorded: `exit_date` is the last service, as in the quarterly report and the PIRL file.
    exit_derived: bool = False
    # Worked out when read from the oversight facts the derived exit reads (decision 111), so
    # a held meeting or a contact moves it and a correction of the record does not.
    last_service_on: Annotated[
        date | None,
        msgspec.Meta(
            description="the participant's last participation-level service up to today in"
            " the grantee's zone: the program entry, a held meeting they attended, a case"
            "-management contact, a referral connection or the end of their class hours (the"
            " facts of the 90-day derived exit); null while the oversight view has not"
            " applied the participant yet"
        ),
    ] = None
    days_since_service: Annotated[
        Annotated[int, msgspec.Meta(ge=0)] | None,
        msgspec.Meta(
            description="days from `last_service_on` to today in the grantee's zone (null with it)",
        ),
    ] = None
    # `mentor_name` is the individual pairing's mentor only (its meaning since the start): the
    # mentors of the group pairings are a field of their own (decision 135).
    group_mentors: Annotated[
        list[str],
        msgspec.Meta(
            description="the display names of the mentors of the participant's open group"
            " pairings (`group_pairing_ids`), by name, each once; empty when in no group"
            " pairing. `mentor_name` names the individual pairing's mentor only"
        ),
    ] = msgspec.field(default_factory=list)


CASELOAD = select(
    CaseloadRow,
    skip=(
        "days_in_stage",
        "mentor_name",
        "days_to_first_pairing",
        "overdue_goals",
        "case_manager",
        "coordinator",
        "exit_derived",
        "last_service_on",
        "days_since_service",
        "group_mentors",
    ),
    id="participant_id",
    cohort="cohort_code",
    facility="facility_code",
)


def caseload_page(
    db: Reader,
    t: Tables,
    goals: Tables,
    now: datetime,
    *,
    after: str,
    limit: int,
    filters: Filters | None = None,
    sort: Sort | None = None,
    served: tuple[dict[UUID, Person], date] | None = None,
) -> tuple[list[CaseloadRow], str | None]:
    """Participants in number order (or by `sort`; searched without one, closest first) after
    `after`, kept by `filters`: for a peer
    mentor only those they mentor now (individually or in a group); with `filters.staff`, each
    row names its case manager and coordinator, and its `assigned_to` keeps only the
    participants assigned to that subject. Days and overdue goals count to `now`.
    With `served` (projections.service's people, and today in the grantee's zone) a derived
    exit shows as one, and the status filter counts it in SQL, before the page is cut: a page
    of `active` never holds a derived exit, and every page but the last is full."""
    filters = filters or Filters()
    where, extra, extra_params = where_of(db, t, filters, served)
    if filters.find is not None:
        find = filters.find
        sort = find.closest(find.rank("participant_id")) if sort is None else find.sorted(sort)
    if served is not None and sort is not None and sort.column == CASELOAD_SORT["last_service_on"]:
        sort = last_service_sort(sort, *served)
    elif served is not None and sort is not None and sort.column in SHOWN_SORTS:
        sort = shown_sort(sort, derived_exits(*served))
    staff = filters.staff
    # The page's key (the number) comes first, then the row.
    rows, nxt = page(
        db,
        t,
        "caseload",
        f"number, {CASELOAD.sql}",
        "number",
        after=after,
        limit=limit,
        where=where,
        extra=extra,
        extra_params=extra_params,
        sort=sort,
    )
    body = [r[1:] for r in rows]
    at = CASELOAD.names.index
    mentor_ids = [r[at("mentor_id")] for r in body if r[at("mentor_id")] is not None]
    names = mentor_names(db, t, mentor_ids)
    groups = group_mentor_names(db, t, [g for r in body for g in r[at("group_pairing_ids")]])
    overdue, assigned = row_extras(
        db, goals, None if staff is None else staff.t, [r[at("id")] for r in body], now.date()
    )
    derived = {
        "days_in_stage": lambda r: max(0, (now - r["stage_started_at"]).days),
        "mentor_name": lambda r: names.get(r["mentor_id"]),
        "days_to_first_pairing": lambda r: (
            None
            if r["first_paired_at"] is None
            else (r["first_paired_at"].date() - r["program_entry_date"]).days
        ),
        "overdue_goals": lambda r: overdue.get(r["id"], 0),
        "case_manager": lambda r: assigned.get(r["id"], (None, None))[0],
        "coordinator": lambda r: assigned.get(r["id"], (None, None))[1],
        "exit_derived": lambda r: False,
        "group_mentors": lambda r: sorted(
            {groups[g] for g in r["group_pairing_ids"] if g in groups}
        ),
    }
    out = typed(CaseloadRow, CASELOAD, body, derived)
    if served is not None:
        out = [with_last_service(derive_exit(row, *served), *served) for row in out]
    return out, nxt


def caseload_total(
    db: Reader,
    t: Tables,
    *,
    filters: Filters | None = None,
    served: tuple[dict[UUID, Person], date] | None = None,
) -> int:
    """How many participants `filters` keep over every page (as `caseload_page` counts them)."""
    where, extra, extra_params = where_of(db, t, filters or Filters(), served)
    return count(db, t, "caseload", where=where, extra=extra, extra_params=extra_params)


def derive_exit(row: CaseloadRow, people: dict[UUID, Person], today: date) -> CaseloadRow:
    """The row with its derived exit, when one holds today and no exit is recorded."""
    person = people.get(row.id)
    if row.status is not Status.ACTIVE or person is None:
        return row
    derived = person.derived_exit(today)
    if derived is None:
        return row
    return msgspec.structs.replace(
        row,
        status=Status.EXITED,
        exit_date=derived[0],
        exit_reason=ExitReason.NO_SERVICE_90_DAYS,
        exit_derived=True,
    )


def with_last_service(row: CaseloadRow, people: dict[UUID, Person], today: date) -> CaseloadRow:
    """The row with the participant's last service up to `today` and the days since it (the
    facts `people` holds; none while the oversight view has not applied the participant)."""
    person = people.get(row.id)
    if person is None:
        return row
    on = person.last_service(today)[0]
    return msgspec.structs.replace(
        row, last_service_on=on, days_since_service=max(0, (today - on).days)
    )
