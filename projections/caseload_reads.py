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


def row_extras(
    db: Reader,
    goals: Tables,
    assignments: Tables | None,
    participant_ids: list[UUID],
    today: date,
) -> tuple[dict[UUID, int], dict[UUID, tuple[str | None, str | None]]]:
    """For the caseload's rows, in one statement: how many goals of each participant are
    overdue as of `today` (by the goals view's rule; only those with some) and, with
    `assignments`, each participant's (case manager, coordinator)."""
    if not participant_ids:
        return {}, {}
    staff = (
        sql.SQL("NULL::text, NULL::text")
        if assignments is None
        else sql.SQL("a.case_manager, a.coordinator")
    )
    join = (
        sql.SQL("")
        if assignments is None
        else sql.SQL(" LEFT JOIN {} a ON a.participant_id = p.id").format(
            assignments["assignments"]
        )
    )
    rows = db.fetchall(
        sql.SQL(
            "SELECT p.id, (SELECT count(*)::int FROM {goals} g WHERE g.participant_id = p.id AND "
            + OVERDUE
            + "), {staff} FROM unnest(%s::uuid[]) AS p(id){join}"
        ).format(goals=goals["goals"], staff=staff, join=join),
        # The ids as one array literal: cheaper to send than a list of UUIDs to adapt.
        (today, "{" + ",".join(map(str, participant_ids)) + "}"),
    )
    overdue = {r[0]: r[1] for r in rows if r[1]}
    assigned = {} if assignments is None else {r[0]: (r[2], r[3]) for r in rows}
    return overdue, assigned
