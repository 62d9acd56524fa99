"""What the caseload page reads beside its own rows: the columns it sorts by, its filters
(derived exits counted), the mentors' display names (of individual and group pairings) and the
overdue-goal counts (the goals view's own rule)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from typing import Any
from uuid import UUID

from psycopg import sql

from domain.participants import Status
from projections.assignments import Staff, assigned_to
from projections.base import Tables
from projections.goals import OVERDUE
from projections.mentors import PeerMentor
from projections.query import Column, Reader, Sort
from projections.search import Find, folded_name
from projections.service import Person

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
    # Not a column of the view: worked out when read (`last_service_sort`), never sent as is.
    "last_service_on": Column("last_service_on", "date"),
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


def group_mentor_names(db: Reader, t: Tables, pairing_ids: list[UUID]) -> dict[UUID, str]:
    """The display name of the mentor of each of these (group) pairings, by pairing id."""
    if not pairing_ids:
        return {}
    rows = db.fetchall(
        sql.SQL(
            "SELECT p.pairing_id, m.display_name FROM {p} p JOIN {m} m USING (mentor_id)"
            " WHERE p.pairing_id = ANY(%s)"
        ).format(p=t["caseload_pairings"], m=t["caseload_mentors"]),
        (pairing_ids,),
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


@dataclass(frozen=True)
class Filters:
    """What keeps a caseload row: the columns' own values, a peer mentor's mentees, a search, the
    staff member's assigned participants, the status (a derived exit counted as one), a list of
    ids and the members of a list of pairings."""

    stage: int | None = None
    status: Status | None = None
    facility: str | None = None
    cohort: str | None = None
    peer_mentor: PeerMentor | None = None
    find: Find | None = None
    staff: Staff | None = None
    # Only these participants, or the members of these pairings now (a page naming the people
    # of a list, in one read).
    ids: tuple[UUID, ...] | None = None
    pairings: tuple[UUID, ...] | None = None


def derived_exits(people: dict[UUID, Person], today: date) -> dict[UUID, date]:
    """The participants whose derived exit holds `today`, with its date (their last service):
    `derive_exit` shows it on the rows the view holds active."""
    out = {}
    for pid, person in people.items():
        found = person.derived_exit(today)
        if found is not None:
            out[pid] = found[0]
    return out


def _ids(derived: dict[UUID, date]) -> str:
    return "{" + ",".join(map(str, derived)) + "}"


def status_clause(
    status: Status, derived: dict[UUID, date]
) -> tuple[sql.Composable, tuple[Any, ...]]:
    """`status` as the caseload shows it: a row the view holds `active` is exited when its
    derived exit holds (`derived`), so the filter keeps the page honest before it is cut."""
    if status is Status.EXITED:
        clause = "(status = 'exited' OR (status = 'active' AND participant_id = ANY(%s::uuid[])))"
        return sql.SQL(clause), (_ids(derived),)
    clause = "(status = 'active' AND participant_id <> ALL(%s::uuid[]))"
    return sql.SQL(clause), (_ids(derived),)


# The sorts whose column a derived exit changes as the caseload shows it.
SHOWN_SORTS = (CASELOAD_SORT["status"], CASELOAD_SORT["exit_date"])


def shown_sort(sort: Sort, derived: dict[UUID, date]) -> Sort:
    """A sort by status or exit date as the caseload shows them: a derived exit sorts with the
    exited, at its date (the last service). Other sorts are the view's columns as they are.
    The derived exits are written into the expression (ids and dates only): a sort expression
    is repeated in the keyset's condition and order, where it takes no parameters."""
    active = "status = 'active' AND participant_id = ANY('" + _ids(derived) + "'::uuid[])"
    if sort.column == CASELOAD_SORT["status"]:
        expr = f"CASE WHEN {active} THEN 'exited' ELSE status END"
    elif sort.column == CASELOAD_SORT["exit_date"]:
        dates = json.dumps({str(pid): on.isoformat() for pid, on in derived.items()})
        expr = (
            f"CASE WHEN {active} THEN ('{dates}'::jsonb ->> participant_id::text)::date"
            " ELSE exit_date END"
        )
    else:
        return sort
    return Sort(Column(expr, sort.column.cast), sort.descending, sort.people)


def last_service_sort(sort: Sort, people: dict[UUID, Person], today: date) -> Sort:
    """A sort by last service (decision 111), before the page is cut: every participant's last
    service up to `today`, written into the expression as ids and dates (as `shown_sort`
    does), so the statement grows with the grantee. The active come first in either direction,
    the exited (a derived exit counted, as the caseload shows it) after them in the same order:
    the sort is for finding whom to serve next (decision 135). A participant the oversight view
    has not applied yet has no last service and sorts last."""
    dates = json.dumps(
        {str(pid): p.last_service(today)[0].isoformat() for pid, p in people.items()}
    )
    exited = (
        "status <> 'active' OR participant_id = ANY('"
        + _ids(derived_exits(people, today))
        + "'::uuid[])"
    )
    # One text key: a group mark, then the date (ISO dates order as text). Descending, the
    # active's mark is the greater one, so they still come first.
    first, last = ("1", "0") if sort.descending else ("0", "1")
    expr = (
        f"(CASE WHEN {exited} THEN '{last}' ELSE '{first}' END"
        f" || ('{dates}'::jsonb ->> participant_id::text))"
    )
    return Sort(Column(expr, "text"), sort.descending, sort.people)


def where_of(
    db: Reader,
    t: Tables,
    f: Filters,
    served: tuple[dict[UUID, Person], date] | None,
) -> tuple[list[tuple[str, Any]], sql.Composable | None, tuple[Any, ...]]:
    """The caseload's WHERE for `f`: `column = value` pairs and one extra clause with its
    parameters. With `served` (everyone's services and today) the status counts derived exits."""
    status = f.status
    columns = (
        ("stage", f.stage),
        ("status", None if status is None or served is not None else status.value),
        ("facility_code", f.facility),
        ("cohort_code", f.cohort),
    )
    where: list[tuple[str, Any]] = [(c, v) for c, v in columns if v is not None]
    clauses: list[sql.Composable] = []
    params: tuple[Any, ...] = ()
    if f.peer_mentor is not None:
        clauses.append(
            sql.SQL(
                "(mentor_id IN ({mine}) OR group_pairing_ids && ARRAY(SELECT p.pairing_id FROM"
                " {p} p WHERE p.mentor_id IN ({mine})))"
            ).format(mine=f.peer_mentor.mentor_ids(), p=t["caseload_pairings"])
        )
        params += (f.peer_mentor.subject, f.peer_mentor.subject)
    if f.ids is not None:
        clauses.append(sql.SQL("participant_id = ANY(%s::uuid[])"))
        params += (list(f.ids),)
    if f.pairings is not None:
        clauses.append(
            sql.SQL("(individual_pairing_id = ANY(%s::uuid[]) OR group_pairing_ids && %s::uuid[])")
        )
        params += (list(f.pairings), list(f.pairings))
    if f.find is not None:
        found, found_params = f.find.clause("participant", "participant_id")
        clauses.append(found)
        params += found_params
    if f.staff is not None and f.staff.assigned_to is not None:
        mine, mine_params = assigned_to(f.staff.t, f.staff.assigned_to)
        clauses.append(sql.SQL("participant_id IN ({})").format(mine))
        params += mine_params
    if status is not None and served is not None:
        clause, clause_params = status_clause(status, derived_exits(*served))
        clauses.append(clause)
        params += clause_params
    extra = sql.SQL(" AND ").join(clauses) if clauses else None
    return where, extra, params
