"""Assignments: each participant's case manager and coordinator (token subjects), for the
caseload's `assigned_to` and the alerts' (decision 57); and the staff directory, everyone ever
assigned with how many participants they hold now per duty (decision 114)."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

import msgspec
from psycopg import sql

from domain.assignment import StaffAssigned
from domain.participants import Participant
from projections.base import Projection, Tables, handles
from projections.ops import ADD_EXCLUDED, Inc, Writer
from projections.query import Reader, page
from projections.rows import select, typed


class Assignments(Projection):
    name = "assignments"
    tables = {
        "assignments": "participant_id uuid PRIMARY KEY, case_manager text, coordinator text",
        # Everyone ever assigned (a row stays at 0 and 0), with the participants held now.
        "staff": "subject text PRIMARY KEY, case_manager int NOT NULL DEFAULT 0,"
        " coordinator int NOT NULL DEFAULT 0",
    }
    order = {"assignments": "participant_id", "staff": "subject"}

    @handles(Participant.Enrolled)
    def enrolled(self, w: Writer, e: Participant.Enrolled, position: int) -> None:
        w.insert("assignments", {"participant_id": e.originator_id})

    @handles(StaffAssigned)
    def assigned(self, w: Writer, e: StaffAssigned, position: int) -> None:
        w.update("assignments", {e.duty.value: e.staff}, participant_id=e.originator_id)
        duty = e.duty.value
        if e.previous is not None:
            w.update("staff", {duty: Inc(-1)}, subject=e.previous)
        if e.staff is not None:
            w.insert("staff", {"subject": e.staff, duty: 1}, on_conflict={duty: ADD_EXCLUDED})


@dataclass(frozen=True)
class Staff:
    """The assignments view's live build, and whose participants to keep (None: everyone's)."""

    t: Tables
    assigned_to: str | None = None


def assigned_to(t: Tables, staff: str) -> tuple[sql.Composable, tuple[str, str]]:
    """`SELECT participant_id` of the participants `staff` is case manager or coordinator of."""
    query = sql.SQL(
        "SELECT participant_id FROM {} WHERE case_manager = %s OR coordinator = %s"
    ).format(t["assignments"])
    return query, (staff, staff)


def assigned_ids(db: Reader, t: Tables, staff: str) -> set[UUID]:
    """The ids of the participants `staff` is case manager or coordinator of."""
    query, params = assigned_to(t, staff)
    return {r[0] for r in db.fetchall(query, params)}


class StaffRow(msgspec.Struct):
    """A staff member by token subject, and how many participants they are case manager and
    coordinator of now (those `GET …/participants?assigned_to=<subject>` lists; 0 and 0: once
    assigned, nobody now)."""

    subject: str
    case_manager_of: int
    coordinator_of: int


STAFF = select(StaffRow, case_manager_of="case_manager", coordinator_of="coordinator")


def staff_page(
    db: Reader, t: Tables, *, after: str, limit: int
) -> tuple[list[StaffRow], str | None]:
    """The staff directory in subject order after `after`."""
    rows, nxt = page(db, t, "staff", STAFF.sql, "subject", after=after, limit=limit)
    return typed(StaffRow, STAFF, rows), nxt
