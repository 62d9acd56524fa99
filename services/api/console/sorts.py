"""The caseload's sort choices: every column the API's caseload sorts by, either way, and the
days in stage, which the console offers by name and asks of the API as the stage's start (the
more days in stage, the earlier it started).

Each choice has its own label, naming the column and the direction in words ("Last name, A to
Z"), and the table column it orders: the page marks that column (`aria-sort`) and, when the
table does not show it already, shows it beside the others."""

from __future__ import annotations

from typing import NamedTuple

from projections.caseload_reads import CASELOAD_SORT


class Column(NamedTuple):
    """A column of the caseload table a choice orders: its heading, the row's field it shows
    (None: one of the table's own columns) and the words for each direction."""

    heading: str
    field: str | None
    ascending: str
    descending: str


A_TO_Z = ("A to Z", "Z to A")
EARLIEST = ("earliest first", "latest first")

# The table's own columns are Name, Number, Stage and Last service; the others are shown
# when the caseload is sorted by them. "Record changed" is the participant record's own latest
# event (a correction moves it; a meeting or a contact does not, decision 111).
COLUMNS = {
    "number": Column("Number", None, "lowest first", "highest first"),
    "last_name": Column("Name", None, *A_TO_Z),
    "first_name": Column("First name", "first_name", *A_TO_Z),
    "cohort": Column("Cohort", "cohort", *A_TO_Z),
    "facility": Column("Facility", "facility", *A_TO_Z),
    "stage": Column("Stage", None, "1 to 3", "3 to 1"),
    "status": Column("Status", "status", "active first", "exited first"),
    "program_entry_date": Column("Program entry", "program_entry_date", *EARLIEST),
    "stage_started_at": Column("Stage started", "stage_started_at", *EARLIEST),
    "exit_date": Column("Exit date", "exit_date", *EARLIEST),
    "last_event_at": Column("Record changed", "last_event_at", "oldest first", "newest first"),
    # The active first either way, the exited after them (decision 135).
    "last_service_on": Column(
        "Last service", None, "longest ago first, exited last", "most recent first, exited last"
    ),
    "days_in_stage": Column("Days in stage", "days_in_stage", "fewest first", "most first"),
}

# What the API is asked for each choice of the console that is not an API column itself.
_ALIASES = {"days_in_stage": "-stage_started_at", "-days_in_stage": "stage_started_at"}


def _label(choice: str) -> str:
    column = COLUMNS[choice.removeprefix("-")]
    heading = "Last name" if choice.removeprefix("-") == "last_name" else column.heading
    return f"{heading}, {column.descending if choice.startswith('-') else column.ascending}"


# The choices in the order the form lists them: the caseload's own order (by number) first,
# then the ones staff use most, then every other column either way.
_FIRST = ["number", "last_name", "days_in_stage", "-days_in_stage", "last_service_on"]
_ORDER = [
    *_FIRST,
    *(c for c in CASELOAD_SORT if c not in _FIRST),
    *(f"-{c}" for c in CASELOAD_SORT if f"-{c}" not in _FIRST),
]
SORTS = {choice: _label(choice) for choice in _ORDER}
# The form's first choice, no sort: the API's own order, closest match first when searching
# (decision 141), else by number.
CLOSEST = "Closest match first, else by number"


class Sorted(NamedTuple):
    """Which column of the table the caseload is sorted by, and how (the `aria-sort` value)."""

    heading: str
    field: str | None
    direction: str  # "ascending" or "descending"
    label: str


def sorted_by(choice: str, searching: bool = False) -> Sorted:
    """The column a choice orders (no choice, or an unknown one: the API's order, by number;
    while `searching`, by closeness, which no column of the table shows)."""
    if choice not in SORTS and searching:
        return Sorted("", None, "", "closest match first")
    if choice not in SORTS:
        choice = "number"
    column = COLUMNS[choice.removeprefix("-")]
    direction = "descending" if choice.startswith("-") else "ascending"
    return Sorted(column.heading, column.field, direction, SORTS[choice])


def api_sort(choice: str) -> str | None:
    """The API's `sort` for a choice of the form (None: the API's own order)."""
    if choice not in SORTS:
        return None
    return _ALIASES.get(choice, choice)
