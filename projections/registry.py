"""All read models, in one list: the worker, rebuilds and digests iterate over it; a new
grantee (or a new view) gets the first build of each (`ensure_views`)."""

from __future__ import annotations

from psycopg import Cursor, sql
from psycopg.rows import TupleRow

from projections import goals, meetings, oversight, rrc, supervision
from projections.assignments import Assignments
from projections.base import Projection, Tables
from projections.calendar import CalendarFeeds
from projections.caseload import Caseload
from projections.casenotes import CaseNotes
from projections.directory import Directory
from projections.documents import Documents
from projections.mentors import MentorRoster
from projections.pairings import PairingView
from projections.search import Search
from projections.timeline import Timeline

PROJECTIONS: tuple[Projection, ...] = (
    Caseload(),
    Directory(),
    MentorRoster(),
    PairingView(),
    *meetings.VIEWS,
    *goals.VIEWS,
    *supervision.VIEWS,
    *rrc.VIEWS,
    *oversight.VIEWS,
    Timeline(),
    Search(),
    Assignments(),
    CalendarFeeds(),
    CaseNotes(),
    Documents(),
)


def by_name(name: str) -> Projection:
    """The view called `name` (`KeyError` if none is)."""
    for projection in PROJECTIONS:
        if projection.name == name:
            return projection
    raise KeyError(name)


def ensure_views(cur: Cursor[TupleRow], schema: str) -> None:
    """Create build 1 of every view that has none yet (new grantee, new projection)."""
    s = sql.Identifier(schema)
    for projection in PROJECTIONS:
        cur.execute(
            sql.SQL("SELECT version FROM {}.active_views WHERE view = %s").format(s),
            (projection.name,),
        )
        if cur.fetchone() is None:
            projection.create(cur, Tables(schema, 1))
            cur.execute(
                sql.SQL("INSERT INTO {}.active_views VALUES (%s, 1) ON CONFLICT DO NOTHING").format(
                    s
                ),
                (projection.name,),
            )
            cur.execute(
                sql.SQL("INSERT INTO {}.tracking VALUES (%s, 1, 0) ON CONFLICT DO NOTHING").format(
                    s
                ),
                (projection.name,),
            )


def lacking_tables(cur: Cursor[TupleRow], schema: str) -> dict[str, int]:
    """The views whose live build lacks a table, or a column of a table, the view now declares
    (a release added one), by name with that build: the live projector would fail on what is
    missing, and the rows or values it should hold for the events already applied are not
    there (decisions 116 and 131)."""
    cur.execute(sql.SQL("SELECT view, version FROM {}.active_views").format(sql.Identifier(schema)))
    live: dict[str, int] = {str(view): int(build) for view, build in cur.fetchall()}
    wanted = [
        (projection.name, f"{table}_b{live[projection.name]}", column)
        for projection in PROJECTIONS
        if projection.name in live
        for table, spec in projection.specs.items()
        for column in spec.columns
    ]
    cur.execute(
        "SELECT DISTINCT w.view FROM unnest(%s::text[], %s::text[], %s::text[])"
        " AS w (view, tbl, col) WHERE NOT EXISTS (SELECT 1 FROM pg_attribute a"
        " WHERE a.attrelid = to_regclass(format('%%I.%%I', %s::text, w.tbl))"
        " AND a.attname = w.col AND a.attnum > 0 AND NOT a.attisdropped)",
        (
            [v for v, _, _ in wanted],
            [t for _, t, _ in wanted],
            [c for _, _, c in wanted],
            schema,
        ),
    )
    return {view: live[view] for (view,) in cur.fetchall()}
