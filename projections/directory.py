"""Directory: a grantee's facilities and cohorts, for listing and pickers."""

from __future__ import annotations

from datetime import date, datetime

import msgspec

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
    }
    order = {"facilities": "code", "cohorts": "code"}

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
