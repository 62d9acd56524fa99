"""Assignments: each participant's case manager and coordinator (token subjects), for the
caseload's `assigned_to` and the alerts' (decision 57)."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from psycopg import sql

from domain.assignment import StaffAssigned
from domain.participants import Participant
from projections.base import Projection, Tables, handles
from projections.ops import Writer
from projections.query import Reader


class Assignments(Projection):
    name = "assignments"
    tables = {
        "assignments": "participant_id uuid PRIMARY KEY, case_manager text, coordinator text",
    }
    order = {"assignments": "participant_id"}

    @handles(Participant.Enrolled)
    def enrolled(self, w: Writer, e: Participant.Enrolled, position: int) -> None:
        w.insert("assignments", {"participant_id": e.originator_id})

    @handles(StaffAssigned)
    def assigned(self, w: Writer, e: StaffAssigned, position: int) -> None:
        w.update("assignments", {e.duty.value: e.staff}, participant_id=e.originator_id)


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
