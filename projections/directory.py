"""Directory: a grantee's facilities and cohorts, for listing and pickers."""

from __future__ import annotations

from typing import Any

from psycopg import Cursor, sql
from psycopg.rows import TupleRow

from domain.facilities import Cohort, Facility
from projections.base import Projection, Tables, handles


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
    def facility(self, cur: Cursor[TupleRow], t: Tables, e: Any, position: int) -> None:
        cur.execute(
            sql.SQL("INSERT INTO {} VALUES (%s, %s, %s, %s)").format(t["facilities"]),
            (e.code, e.name, e.kind.value, e.timestamp),
        )

    @handles(Cohort.Started)
    def cohort(self, cur: Cursor[TupleRow], t: Tables, e: Any, position: int) -> None:
        cur.execute(
            sql.SQL("INSERT INTO {} VALUES (%s, %s, %s, %s, %s, NULL)").format(t["cohorts"]),
            (e.originator_id, e.code, e.name, e.facility_code, e.start_date),
        )

    @handles(Cohort.Graduated)
    def graduated(self, cur: Cursor[TupleRow], t: Tables, e: Any, position: int) -> None:
        cur.execute(
            sql.SQL("UPDATE {} SET graduated_on = %s WHERE cohort_id = %s").format(t["cohorts"]),
            (e.graduated_on, e.originator_id),
        )
