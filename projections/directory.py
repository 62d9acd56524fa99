"""Directory: a grantee's facilities and cohorts, for listing and pickers, and the requests to
facilities for class sessions with a cohort (domain/class_sessions.py) with their decisions."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from uuid import UUID

import msgspec

from domain.class_sessions import ClassSessionRequest, RequestStatus, SessionKind
from domain.facilities import Cohort, Facility, FacilityKind
from projections.base import Projection, Tables, handles
from projections.ops import Writer
from projections.query import Reader, page
from projections.rows import select, typed


class Directory(Projection):
    name = "directory"
    tables = {
        "facilities": "code text PRIMARY KEY, name text NOT NULL, kind text NOT NULL,"
        " registered_at timestamptz NOT NULL",
        "cohorts": "cohort_id uuid PRIMARY KEY, code text NOT NULL UNIQUE, name text NOT NULL,"
        " facility_code text NOT NULL, start_date date NOT NULL, graduated_on date",
        "class_session_requests": "request_id uuid PRIMARY KEY, cohort_code text NOT NULL,"
        " facility_code text NOT NULL, kinds text[] NOT NULL, status text NOT NULL,"
        " requested_on date NOT NULL, decided_by text, decided_on date, revoked_on date,"
        " last_position bigint NOT NULL",
    }
    order = {"facilities": "code", "cohorts": "code", "class_session_requests": "request_id"}

    @handles(Facility.Registered)
    def facility(self, w: Writer, e: Facility.Registered, position: int) -> None:
        w.insert(
            "facilities",
            {"code": e.code, "name": e.name, "kind": e.kind.value, "registered_at": e.timestamp},
        )

    @handles(Cohort.Started)
    def cohort(self, w: Writer, e: Cohort.Started, position: int) -> None:
        w.insert(
            "cohorts",
            {
                "cohort_id": e.originator_id,
                "code": e.code,
                "name": e.name,
                "facility_code": e.facility_code,
                "start_date": e.start_date,
            },
        )

    @handles(Cohort.Graduated)
    def graduated(self, w: Writer, e: Cohort.Graduated, position: int) -> None:
        w.update("cohorts", {"graduated_on": e.graduated_on}, cohort_id=e.originator_id)

    @handles(ClassSessionRequest.Requested)
    def class_requested(self, w: Writer, e: ClassSessionRequest.Requested, position: int) -> None:
        w.insert(
            "class_session_requests",
            {
                "request_id": e.originator_id,
                "cohort_code": e.cohort_code,
                "facility_code": e.facility_code,
                "kinds": [k.value for k in e.kinds],
                "status": "requested",
                "requested_on": e.requested_on,
                "last_position": position,
            },
        )

    def _decided(self, w: Writer, request_id: UUID, position: int, **change: Any) -> None:
        w.update(
            "class_session_requests", {**change, "last_position": position}, request_id=request_id
        )

    @handles(ClassSessionRequest.Approved)
    def class_approved(self, w: Writer, e: ClassSessionRequest.Approved, position: int) -> None:
        self._decided(
            w,
            e.originator_id,
            position,
            status="approved",
            decided_by=e.approved_by,
            decided_on=e.approved_on,
        )

    @handles(ClassSessionRequest.Denied)
    def class_denied(self, w: Writer, e: ClassSessionRequest.Denied, position: int) -> None:
        self._decided(
            w,
            e.originator_id,
            position,
            status="denied",
            decided_by=e.denied_by,
            decided_on=e.denied_on,
        )

    @handles(ClassSessionRequest.Revoked)
    def class_revoked(self, w: Writer, e: ClassSessionRequest.Revoked, position: int) -> None:
        self._decided(w, e.originator_id, position, status="revoked", revoked_on=e.revoked_on)


# -- reads -----------------------------------------------------------------------------------


class FacilityRow(msgspec.Struct):
    code: str
    name: str
    kind: FacilityKind
    registered_at: datetime


class CohortRow(msgspec.Struct):
    code: str
    name: str
    facility: str
    start_date: date
    graduated_on: date | None


FACILITY = select(FacilityRow)
COHORT = select(CohortRow, facility="facility_code")


def facility_page(
    db: Reader, t: Tables, *, after: str, limit: int, kind: FacilityKind | None = None
) -> tuple[list[FacilityRow], str | None]:
    """Facilities in code order after `after`, optionally of one kind."""
    rows, nxt = page(
        db,
        t,
        "facilities",
        FACILITY.sql,
        "code",
        after=after,
        limit=limit,
        where=[("kind", kind.value)] if kind else None,
    )
    return typed(FacilityRow, FACILITY, rows), nxt


def cohort_page(
    db: Reader, t: Tables, *, after: str, limit: int, facility: str | None = None
) -> tuple[list[CohortRow], str | None]:
    """Cohorts in code order after `after`, optionally at one facility."""
    rows, nxt = page(
        db,
        t,
        "cohorts",
        COHORT.sql,
        "code",
        after=after,
        limit=limit,
        where=[("facility_code", facility)] if facility else None,
    )
    return typed(CohortRow, COHORT, rows), nxt


class ClassSessionRequestRow(msgspec.Struct):
    id: UUID
    cohort: str
    facility: str
    kinds: list[SessionKind]
    status: RequestStatus
    requested_on: date
    # Who decided at the facility, and on which day (absent while requested).
    decided_by: str | None
    decided_on: date | None
    revoked_on: date | None
    # The log position of the request's last event (absent when read from the log itself).
    position: int | None = None


CLASS_REQUEST = select(
    ClassSessionRequestRow,
    id="request_id",
    cohort="cohort_code",
    facility="facility_code",
    position="last_position",
)


def class_session_requests(
    db: Reader,
    t: Tables,
    *,
    after: str,
    limit: int,
    cohort: str | None = None,
    status: RequestStatus | None = None,
) -> tuple[list[ClassSessionRequestRow], str | None]:
    """Class-session requests in id order after `after`, optionally of one cohort or status."""
    where: list[tuple[str, Any]] = []
    if cohort:
        where.append(("cohort_code", cohort))
    if status:
        where.append(("status", status.value))
    rows, nxt = page(
        db,
        t,
        "class_session_requests",
        CLASS_REQUEST.sql,
        "request_id",
        after=after,
        limit=limit,
        where=where,
        cast_key="uuid",
    )
    return typed(ClassSessionRequestRow, CLASS_REQUEST, rows), nxt
