"""The PIRL file's element table: one `Column` per element, how its value is derived from a
`Subject` and how it is written (docs/pirl.md embeds `markdown_table`)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date

from domain.evaluation import CredentialType
from domain.participants import ExitReason
from services.reports.pirl_facts import Subject

# Bump when a rule behind a column changes without the table itself changing.
RULES_REVISION = 2  # 2: a quarter in progress stands at the day the file is made

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


def markdown_table() -> str:
    """The element table as Markdown (docs/pirl.md embeds it; a test keeps them equal)."""
    lines = ["| element | name | source | format |", "|---|---|---|---|"]
    for c in COLUMNS:
        lines.append(f"| {c.element} | {c.name} | {c.source} | {c.format} |")
    return "\n".join(lines) + "\n"
