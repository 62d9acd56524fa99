"""What the caseload page reads beside its own rows: the columns it sorts by, the mentors'
display names and the overdue-goal counts (the goals view's own rule)."""

from __future__ import annotations

from datetime import date
from uuid import UUID

from psycopg import sql

from projections.base import Tables
from projections.goals import OVERDUE
from projections.query import Column, Reader
from projections.search import folded_name

# The columns the caseload sorts by (`sort`); names case-insensitively.
CASELOAD_SORT = {
    "number": Column("number", "text"),
    "first_name": Column(folded_name("participant_id", "first_folded"), "text"),
    "last_name": Column(folded_name("participant_id"), "text"),
    "cohort": Column("cohort_code", "text"),
    "facility": Column("facility_code", "text"),
    "stage": Column("stage", "smallint"),
    "status": Column("status", "text"),
    "program_entry_date": Column("program_entry_date", "date"),
    "stage_started_at": Column("stage_started_at", "timestamptz"),
    "exit_date": Column("exit_date", "date"),
    "last_event_at": Column("last_event_at", "timestamptz"),
}


def mentor_names(db: Reader, t: Tables, mentor_ids: list[UUID]) -> dict[UUID, str]:
    """The display names of these mentors, by id."""
    if not mentor_ids:
        return {}
    rows = db.fetchall(
        sql.SQL("SELECT mentor_id, display_name FROM {} WHERE mentor_id = ANY(%s)").format(
            t["caseload_mentors"]
        ),
        (mentor_ids,),
    )
    return dict(rows)


def overdue_goal_counts(
    db: Reader, goals: Tables, participant_ids: list[UUID], today: date
) -> dict[UUID, int]:
    """How many goals of each participant are overdue as of `today` (read from the goals view,
    by its rule, for the caseload's column)."""
    rows = db.fetchall(
        sql.SQL(
            "SELECT participant_id, count(*)::int FROM {} WHERE participant_id = ANY(%s)"
            " AND " + OVERDUE + " GROUP BY participant_id"
        ).format(goals["goals"]),
        (participant_ids, today),
    )
    return dict(rows)
