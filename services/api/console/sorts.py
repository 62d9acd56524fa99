"""The caseload's sort choices: every column the API's caseload sorts by, either way, and the
days in stage, which the console offers by name and asks of the API as the stage's start (the
more days in stage, the earlier it started)."""

from __future__ import annotations

from projections.caseload_reads import CASELOAD_SORT

_LABELS = {
    "number": "Number",
    "first_name": "First name",
    "last_name": "Last name",
    "cohort": "Cohort",
    "facility": "Facility",
    "stage": "Stage",
    "status": "Status",
    "program_entry_date": "Program entry",
    "stage_started_at": "Stage started",
    "exit_date": "Exit date",
    "last_event_at": "Latest activity",
}

# What the API is asked for each choice of the console that is not an API column itself.
_ALIASES = {"days_in_stage": "-stage_started_at", "-days_in_stage": "stage_started_at"}


def _label(column: str) -> str:
    return _LABELS.get(column, column.replace("_", " ").capitalize())


# The choices in the order the form lists them (the first four as the console always had them).
SORTS = {
    "number": "Number",
    "last_name": "Last name",
    "days_in_stage": "Days in stage",
    "-days_in_stage": "Days in stage, most first",
    "-last_event_at": "Latest activity",
    **{c: _label(c) for c in CASELOAD_SORT if c not in ("number", "last_name")},
    **{f"-{c}": f"{_label(c)}, descending" for c in CASELOAD_SORT if c != "last_event_at"},
}


def api_sort(choice: str) -> str | None:
    """The API's `sort` for a choice of the form (None: the API's own order)."""
    if choice not in SORTS:
        return None
    return _ALIASES.get(choice, choice)
