"""The PIRL-aligned quarterly export (ETA-9172): one positional CSV row per participant.

Everything here is a pure function of a grantee's log up to a position, the quarter and the
grantee's time zone: `collect` folds the events into per-participant facts, `build` turns them
into rows through the one element table `COLUMNS`, `render` writes the bytes. The same inputs
always give the same bytes (docs/pirl.md).

Who is in a quarter's file: every participant whose date of program entry (900) is on or before
the last day of the quarter, exited or not (the file is cumulative, so exiters stay in it for
their outcome quarters). Facts count when their date in the world is on or before that last day.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from eventsourcing.utils import get_topic

from domain.evaluation import CredentialType, Outcomes
from domain.facilities import Cohort
from domain.meetings import Attendance, HeldRecord, Meeting
from domain.pairings import Pairing
from domain.participants import ExitReason, Participant

QUARTER = re.compile(r"^([0-9]{4})Q([1-4])$")
# Days without service (and none planned) after which a participant has exited (DOMAIN.md).
NO_SERVICE_DAYS = 90
# Bump when a rule behind a column changes without the table itself changing.
RULES_REVISION = 1


@dataclass(frozen=True, order=True)
class Quarter:
    year: int
    number: int

    @classmethod
    def parse(cls, text: str) -> Quarter:
        """`YYYYQn` (calendar quarters: Q1 is January to March); ValueError otherwise."""
        match = QUARTER.fullmatch(text)
        if match is None or int(match[1]) < 1900:
            raise ValueError(f"{text!r} is not a quarter of the form YYYYQn, e.g. 2026Q1")
        return cls(int(match[1]), int(match[2]))

    def __str__(self) -> str:
        return f"{self.year}Q{self.number}"

    @property
    def first_day(self) -> date:
        return date(self.year, 3 * self.number - 2, 1)

    @property
    def last_day(self) -> date:
        return self.after(1).first_day - timedelta(days=1)

    def after(self, n: int) -> Quarter:
        index = self.year * 4 + self.number - 1 + n
        return Quarter(index // 4, index % 4 + 1)

    @classmethod
    def of(cls, day: date) -> Quarter:
        return cls(day.year, (day.month - 1) // 3 + 1)


# -- facts ----------------------------------------------------------------------------------------


@dataclass
class Facts:
    """What the log says of one participant, each fact with its date in the world."""

    participant_id: UUID
    date_of_birth: date | None
    ex_offender: bool
    entry: date
    cohort: str
    exit_date: date | None = None
    exit_reason: ExitReason | None = None
    contacts: list[date] = field(default_factory=list)
    # (pairing, joined on, left on)
    pairings: list[tuple[UUID, date, date | None]] = field(default_factory=list)
    employments: list[date] = field(default_factory=list)
    credentials: list[tuple[date, CredentialType]] = field(default_factory=list)


@dataclass
class Log:
    """The folded log: participants, and each cohort's graduation date."""

    people: dict[UUID, Facts] = field(default_factory=dict)
    graduations: dict[str, date | None] = field(default_factory=dict)


TOPICS = tuple(
    get_topic(cls)
    for cls in (
        Participant.Enrolled,
        Participant.Exited,
        Participant.PairingJoined,
        Participant.PairingLeft,
        Pairing.Opened,
        Pairing.MemberAdded,
        Pairing.MemberRemoved,
        Meeting.Scheduled,
        Meeting.Held,
        Meeting.Amended,
        Outcomes.EmploymentStarted,
        Outcomes.CredentialEarned,
        Cohort.Started,
        Cohort.Graduated,
    )
)


def collect(events: Iterable[Any], zone: ZoneInfo) -> Log:
    """Fold events (of `TOPICS`, in log order) into facts per participant."""
    log = Log()
    cohorts: dict[UUID, str] = {}
    members: dict[UUID, list[UUID]] = {}  # pairing -> its members now
    meeting_pairing: dict[UUID, UUID] = {}
    # meeting -> its record as last amended, and the pairing's members when it was held
    held: dict[UUID, tuple[HeldRecord, list[UUID]]] = {}
    for e in events:
        if isinstance(e, Participant.Enrolled):
            log.people[e.originator_id] = Facts(
                e.originator_id,
                e.personal.date_of_birth,
                e.ex_offender_at_entry,
                e.program_entry_date,
                e.cohort_code,
            )
        elif isinstance(e, Participant.Exited):
            person = log.people[e.originator_id]
            person.exit_date, person.exit_reason = e.exit_date, e.reason
        elif isinstance(e, Participant.PairingJoined):
            on = e.occurred_at.astimezone(zone).date()
            log.people[e.originator_id].pairings.append((e.pairing_id, on, None))
        elif isinstance(e, Participant.PairingLeft):
            spans = log.people[e.originator_id].pairings
            for i, (pairing, joined, left) in enumerate(spans):
                if pairing == e.pairing_id and left is None:
                    spans[i] = (pairing, joined, e.occurred_at.astimezone(zone).date())
        elif isinstance(e, Pairing.Opened):
            members[e.originator_id] = list(e.members)
        elif isinstance(e, Pairing.MemberAdded):
            members[e.originator_id].append(e.participant_id)
        elif isinstance(e, Pairing.MemberRemoved):
            members[e.originator_id].remove(e.participant_id)
        elif isinstance(e, Meeting.Scheduled):
            meeting_pairing[e.originator_id] = e.pairing_id
        elif isinstance(e, Meeting.Held):
            present = list(members[meeting_pairing[e.originator_id]])
            held[e.originator_id] = (e.record, present)
        elif isinstance(e, Meeting.Amended):
            held[e.originator_id] = (e.record, held[e.originator_id][1])
        elif isinstance(e, Outcomes.EmploymentStarted):
            log.people[e.participant_id].employments.append(e.employment.started_on)
        elif isinstance(e, Outcomes.CredentialEarned):
            c = e.credential
            log.people[e.participant_id].credentials.append((c.earned_on, c.credential_type))
        elif isinstance(e, Cohort.Started):
            cohorts[e.originator_id] = e.code
            log.graduations[e.code] = None
        elif isinstance(e, Cohort.Graduated):
            log.graduations[cohorts[e.originator_id]] = e.graduated_on
    for record, present in held.values():
        on = record.occurred_at.astimezone(zone).date()
        for participant_id in _attended(record, present):
            if participant_id in log.people:
                log.people[participant_id].contacts.append(on)
    return log


def _attended(record: HeldRecord, members: list[UUID]) -> list[UUID]:
    """Who took part: those marked present, or every member when attendance was not taken."""
    if not record.attendance:
        return members
    return [p for p, a in record.attendance.items() if a is Attendance.PRESENT]


# -- one participant in one quarter ---------------------------------------------------------------


@dataclass(frozen=True)
class Subject:
    """A participant as the file reports them for a quarter: facts up to its last day."""

    identifier: str
    facts: Facts
    quarter: Quarter
    graduated_on: date | None

    @property
    def as_of(self) -> date:
        return self.quarter.last_day

    @property
    def last_contact(self) -> date | None:
        return max((d for d in self.facts.contacts if d <= self.as_of), default=None)

    @property
    def exit(self) -> tuple[date, ExitReason] | None:
        """The recorded exit dated within the quarter or before it, else the derived one."""
        f = self.facts
        if f.exit_date is not None and f.exit_reason is not None and f.exit_date <= self.as_of:
            return f.exit_date, f.exit_reason
        last_service = max(d for d in (f.entry, self.last_contact, self._classes_ended) if d)
        if (self.as_of - last_service).days > NO_SERVICE_DAYS and not self._service_planned:
            return last_service, ExitReason.NO_SERVICE_90_DAYS
        return None

    @property
    def _classes_ended(self) -> date | None:
        g = self.graduated_on
        return g if g is not None and g <= self.as_of else None

    @property
    def _service_planned(self) -> bool:
        """Classes not yet graduated, or a pairing the participant is in on the last day."""
        in_class = self.graduated_on is None or self.graduated_on > self.as_of
        paired = any(
            joined <= self.as_of and (left is None or left > self.as_of)
            for _, joined, left in self.facts.pairings
        )
        return in_class or paired

    def employed_after_exit(self, n: int) -> str:
        """1 when a recorded job started by the end of the n-th quarter after the exit quarter;
        empty while that quarter has not ended by the report's quarter, or nothing is recorded."""
        exit = self.exit
        if exit is None:
            return ""
        quarter = Quarter.of(exit[0]).after(n)
        if quarter > self.quarter:
            return ""
        return "1" if any(d <= quarter.last_day for d in self.facts.employments) else ""

    @property
    def credential(self) -> tuple[date, CredentialType] | None:
        """The first credential attained from program entry up to the end of the quarter."""
        earned = [c for c in self.facts.credentials if self.facts.entry <= c[0] <= self.as_of]
        return min(earned, default=None)


# -- the element table ----------------------------------------------------------------------------

# PIRL 923 "other reasons for exit"; reasons not listed are 0 (none of them).
EXIT_REASON_CODE: Mapping[ExitReason, str] = {
    ExitReason.INSTITUTIONALIZED: "1",
    ExitReason.HEALTH_MEDICAL: "2",
    ExitReason.DECEASED: "3",
}
# PIRL 1800 "type of recognized credential".
CREDENTIAL_CODE: Mapping[CredentialType, str] = {
    CredentialType.HIGH_SCHOOL_EQUIVALENCY: "1",
    CredentialType.ASSOCIATE_DEGREE: "2",
    CredentialType.BACHELOR_DEGREE: "3",
    CredentialType.OCCUPATIONAL_LICENSE: "4",
    CredentialType.APPRENTICESHIP_CERTIFICATE: "5",
    CredentialType.INDUSTRY_CERTIFICATE: "6",
    CredentialType.OTHER: "7",
}


def yyyymmdd(day: date | None) -> str:
    return "" if day is None else day.strftime("%Y%m%d")


@dataclass(frozen=True)
class Column:
    element: int
    name: str
    source: str  # where the value comes from, for docs/pirl.md
    format: str  # how it is written
    value: Callable[[Subject], str]


def _exit_reason(s: Subject) -> str:
    exit = s.exit
    return "" if exit is None else EXIT_REASON_CODE.get(exit[1], "0")


def _employed(n: int) -> Callable[[Subject], str]:
    return lambda s: s.employed_after_exit(n)


def _credential_type(s: Subject) -> str:
    c = s.credential
    return "" if c is None else CREDENTIAL_CODE[c[1]]


COLUMNS: tuple[Column, ...] = (
    Column(
        100,
        "Unique Individual Identifier",
        "random pseudonym assigned once per participant by the grantee's export register "
        "(`ExportRegister.IdentifiersAssigned`); never the SSN, the participant number or a "
        "register number",
        "12 characters A-Z and 2-9",
        lambda s: s.identifier,
    ),
    Column(
        200,
        "Date of Birth",
        "`Participant.Enrolled` personal.date_of_birth",
        "YYYYMMDD",
        lambda s: yyyymmdd(s.facts.date_of_birth),
    ),
    Column(
        801,
        "Ex-Offender Status at Program Entry",
        "`Participant.Enrolled` ex_offender_at_entry",
        "1 = yes, 0 = no",
        lambda s: "1" if s.facts.ex_offender else "0",
    ),
    Column(
        900,
        "Date of Program Entry",
        "`Participant.Enrolled` program_entry_date",
        "YYYYMMDD",
        lambda s: yyyymmdd(s.facts.entry),
    ),
    Column(
        901,
        "Date of Program Exit",
        "`Participant.Exited` exit_date when on or before the quarter's last day; else the "
        "derived exit: the last service date when more than 90 days passed without service "
        "and none is planned",
        "YYYYMMDD; empty while not exited",
        lambda s: yyyymmdd(None if (e := s.exit) is None else e[0]),
    ),
    Column(
        923,
        "Other Reasons for Exit",
        "`Participant.Exited` reason (`no_service_90_days` for a derived exit)",
        "1 = institutionalized, 2 = health/medical, 3 = deceased, 0 = none of these; "
        "empty while not exited",
        _exit_reason,
    ),
    Column(
        1007,
        "Date of Most Recent Reportable Individual Contact",
        "latest `Meeting.Held` (as last amended) the participant attended, local date in the "
        "grantee's time zone, on or before the quarter's last day",
        "YYYYMMDD; empty without a held meeting",
        lambda s: yyyymmdd(s.last_contact),
    ),
    *(
        Column(
            1600 + 2 * (n - 1),
            f"Employed in {ordinal} Quarter After Exit Quarter",
            "`Outcomes.EmploymentStarted` started_on on or before that quarter's last day",
            "1 = employed; empty before that quarter has ended, or with no employment recorded",
            _employed(n),
        )
        for n, ordinal in ((1, "1st"), (2, "2nd"), (3, "3rd"), (4, "4th"))
    ),
    Column(
        1800,
        "Type of Recognized Credential",
        "the first `Outcomes.CredentialEarned` from program entry to the quarter's last day",
        "1 = secondary diploma or equivalency, 2 = associate, 3 = bachelor, "
        "4 = occupational licensure, 5 = apprenticeship certificate, "
        "6 = industry-recognized certificate, 7 = other; empty with none",
        _credential_type,
    ),
    Column(
        1801,
        "Date Attained Recognized Credential",
        "earned_on of that credential",
        "YYYYMMDD; empty with none",
        lambda s: yyyymmdd(None if (c := s.credential) is None else c[0]),
    ),
)


def _table_version() -> str:
    described = [f"{c.element}|{c.name}|{c.source}|{c.format}" for c in COLUMNS]
    text = "\n".join([f"rules {RULES_REVISION}", *described])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


# Names the element table and its rules: an export can be regenerated only under the same one.
ELEMENTS_VERSION = _table_version()


# -- the file -------------------------------------------------------------------------------------


def in_scope(log: Log, quarter: Quarter) -> list[Facts]:
    """Participants in the quarter's file: entered on or before its last day."""
    return [f for f in log.people.values() if f.entry <= quarter.last_day]


def build(log: Log, quarter: Quarter, identifiers: Mapping[UUID, str]) -> list[list[str]]:
    """The rows of the file, ordered by identifier (which carries no meaning)."""
    subjects = [
        Subject(identifiers[f.participant_id], f, quarter, log.graduations.get(f.cohort))
        for f in in_scope(log, quarter)
    ]
    subjects.sort(key=lambda s: s.identifier)
    return [[c.value(s) for c in COLUMNS] for s in subjects]


def render(rows: list[list[str]]) -> bytes:
    """CSV (RFC 4180: CRLF line ends), UTF-8; the header row holds the element numbers."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([str(c.element) for c in COLUMNS])
    writer.writerows(rows)
    return out.getvalue().encode()


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def markdown_table() -> str:
    """The element table as Markdown (docs/pirl.md embeds it; a test keeps them equal)."""
    lines = ["| element | name | source | format |", "|---|---|---|---|"]
    for c in COLUMNS:
        lines.append(f"| {c.element} | {c.name} | {c.source} | {c.format} |")
    return "\n".join(lines) + "\n"
