"""Directory: a grantee's facilities and cohorts, for listing and pickers."""

from __future__ import annotations

from typing import Any

from domain.facilities import Cohort, Facility
from projections.base import Projection, handles
from projections.ops import Writer


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
    def facility(self, w: Writer, e: Any, position: int) -> None:
        w.insert(
            "facilities",
            {"code": e.code, "name": e.name, "kind": e.kind.value, "registered_at": e.timestamp},
        )

    @handles(Cohort.Started)
    def cohort(self, w: Writer, e: Any, position: int) -> None:
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
    def graduated(self, w: Writer, e: Any, position: int) -> None:
        w.update("cohorts", {"graduated_on": e.graduated_on}, cohort_id=e.originator_id)
