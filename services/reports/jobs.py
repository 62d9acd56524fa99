"""The quarterly report's tasks, run in a child process by `services/reports/processes.py`.

Each task takes a database and small, picklable arguments (a `Grantee`, an `Ask`, a format)
and returns only the small result: the rendered bytes and the log position they stand at, or
a page of a figure's drill-down. The facts are read, and the report computed and rendered,
in the process that runs the task: the live view's facts and tracking position in one
repeatable-read snapshot, or (`as_of`) the grantee's events recorded at or before the instant
replayed through the oversight handlers into temporary tables dropped in the same
transaction (decision 21).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Literal
from zoneinfo import ZoneInfo

import msgspec
from psycopg import Cursor, sql
from psycopg.rows import TupleRow

from domain import clock
from projections.base import Tables
from projections.oversight import Facts, load, load_many
from projections.registry import by_name
from services.projector.serving import live_builds, live_tables
from services.refusals import Refused, shown
from services.reports import figures, privacy
from services.reports import render as report_render
from services.reports.figures import GranteeReport, Stand
from services.reports.quarterly import Bases, Quarter
from services.store.database import Database
from services.store.mapping import MsgspecMapper
from services.store.zones import zone_of

Format = Literal["json", "csv", "html"]
REPLAY_BATCH = 2000
# Grantees whose live facts the platform-wide report reads in one transaction. Each holds some
# forty relation locks to the transaction's end (its fact tables and their keys, its log, its
# builds and tracking), taken from the server's shared lock table (by default 64 a connection
# for all of them): twenty grantees take about 800, and a transaction per twenty grantees is
# already few round trips (docs/performance.md, decision 150).
TOGETHER = 20
_mapper = MsgspecMapper()


class _Stamp(msgspec.Struct):
    timestamp: datetime


_stamp = msgspec.json.Decoder(_Stamp)


def unreadable(schema: str, position: int) -> Refused:
    return Refused(
        409,
        f"the event at position {position} of {schema} cannot be decoded: the log was altered "
        "behind the service's back (see GET …/audit/verification); no report is computed from it",
        code="log_unreadable",
    )


def _stamp_of(schema: str, position: int, state: bytes) -> datetime:
    try:
        return _stamp.decode(state).timestamp
    except msgspec.MsgspecError:
        raise unreadable(schema, position) from None


def _recorded_at(cur: Cursor[TupleRow], schema: str, position: int) -> datetime | None:
    cur.execute(
        sql.SQL("SELECT state FROM {}.events WHERE notification_id = %s").format(
            sql.Identifier(schema)
        ),
        (position,),
    )
    row = cur.fetchone()
    return None if row is None else _stamp_of(schema, position, bytes(row[0]))


def live_facts(
    db: Database, schema: str, min_position: int | None, wait_max: float
) -> tuple[Facts, Stand]:
    """The facts of the live view and the position it has applied, read in one snapshot."""
    t = live_tables(db, schema, "oversight", min_position, wait_max)
    with db.transaction() as cur:
        cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        cur.execute(
            sql.SQL(
                "SELECT position FROM {}.tracking WHERE view = 'oversight' AND version = %s"
            ).format(sql.Identifier(schema)),
            (t.build,),
        )
        row = cur.fetchone()
        position = int(row[0]) if row else 0
        facts = load(cur, t)
        return facts, Stand(position, _recorded_at(cur, schema, position) if position else None)


def replayed_facts(db: Database, schema: str, as_of: datetime) -> tuple[Facts, Stand]:
    """The facts as they stood at `as_of`: every event recorded at or before it, replayed
    through the oversight handlers into temporary tables that vanish with the transaction."""
    projection = by_name("oversight")
    t = Tables("pg_temp", 0)
    topics = projection.topics
    last: tuple[int, datetime | None] = (0, None)
    with db.transaction() as cur:
        projection.create(cur, t)
        # Plain days are read in the grantee's zone, as the live view reads them (decision 95).
        zone = zone_of(cur, schema)
        after = 0
        while True:
            cur.execute(
                sql.SQL(
                    "SELECT notification_id, topic, originator_id, originator_version, state"
                    " FROM {}.events WHERE notification_id > %s ORDER BY notification_id LIMIT %s"
                ).format(sql.Identifier(schema)),
                (after, REPLAY_BATCH),
            )
            rows = cur.fetchall()
            for position, topic, originator_id, version, state in rows:
                data = bytes(state)
                stamp = _stamp_of(schema, position, data)
                if stamp > as_of:
                    continue
                last = (position, stamp)
                if topic in topics:
                    try:
                        event = _mapper.decode(topic, originator_id, version, data, zone)
                    except (msgspec.MsgspecError, ValueError, TypeError):
                        raise unreadable(schema, position) from None
                    projection.apply(cur, t, topic, event, position)
            if len(rows) < REPLAY_BATCH:
                break
            after = rows[-1][0]
        facts = load(cur, t)
        projection.drop(cur, t)
    return facts, Stand(*last)


def today(zone: ZoneInfo, as_of: datetime | None) -> date:
    """The day a report stands at: `as_of`'s, else today's, in the grantee's zone."""
    return (as_of or clock.now()).astimezone(zone).date()


@dataclass(frozen=True)
class Grantee:
    """What a report needs to know of a grantee (small, and it crosses to the child)."""

    slug: str
    schema: str
    time_zone: str
    name: str = ""


@dataclass(frozen=True)
class Ask:
    """One report asked for: the quarter, `as_of`, `min_position` and its wait bound, and when
    it was asked (by the asking process's clock: a report child has no clock of its own)."""

    quarter: Quarter
    as_of: datetime | None = None
    min_position: int | None = None
    wait_max: float = 5.0
    asked_at: datetime = field(default_factory=clock.now)


def grantee_report(db: Database, g: Grantee, ask: Ask) -> tuple[GranteeReport, Bases]:
    if ask.as_of is None:
        facts, stand = live_facts(db, g.schema, ask.min_position, ask.wait_max)
    else:
        facts, stand = replayed_facts(db, g.schema, ask.as_of)
    return _report(g, ask, facts, stand)


def _report(g: Grantee, ask: Ask, facts: Facts, stand: Stand) -> tuple[GranteeReport, Bases]:
    zone = ZoneInfo(g.time_zone)
    day = today(zone, ask.as_of or ask.asked_at)
    through = figures.through_day(ask.quarter, day)
    report, bases = figures.grantee_report(facts, ask.quarter, through, zone)
    report = dataclasses.replace(report, complete=day > ask.quarter.end)
    return GranteeReport(g.slug, g.time_zone, stand, report), bases


def grantee_body(db: Database, g: Grantee, ask: Ask, fmt: Format) -> tuple[bytes, int]:
    """One grantee's report rendered in `fmt`, and the log position it stands at."""
    report, _ = grantee_report(db, g, ask)
    doc = report_render.grantee_doc(report)
    privacy.check(doc)  # every format renders these names and values
    if fmt == "csv":
        body = report_render.csv_report([report])
    elif fmt == "html":
        body = report_render.html_grantee(report, g.name)
    else:
        body = report_render.json_bytes(doc)
    return body, report.stand.position


class FigureOut(msgspec.Struct):
    """A page of one figure's drill-down: the log positions of the events behind it."""

    quarter: str
    figure: str
    value: int | float | None
    events: int
    positions: list[int]
    next_after: int | None
    # Per counted unit (a participant, a meeting, a pairing-week...), the positions of the
    # events that made it count, on the first page only (`after` = 0); empty on later pages.
    units: list[list[int]] = []


def figure_page(
    db: Database, g: Grantee, ask: Ask, figure: str, after: int, limit: int
) -> FigureOut:
    """A page of one figure's drill-down: positions after `after`, at most `limit`."""
    report, _ = grantee_report(db, g, ask)
    value = report.report.figures.get(figure)
    if value is None:
        raise Refused(
            404,
            f"no figure {shown(figure)} in {report.report.quarter.name}",
            code="figure_not_found",
        )
    page = [p for p in value.positions if p > after][: limit + 1]
    more = len(page) > limit
    page = page[:limit]
    next_after = page[-1] if more and page else None
    units = [list(u) for u in value.units] if after == 0 else []
    return FigureOut(
        report.report.quarter.name,
        figure,
        value.value,
        len(value.positions),
        page,
        next_after,
        units,
    )


def live_facts_of(db: Database, grantees: Sequence[Grantee]) -> Iterator[tuple[Facts, Stand]]:
    """`live_facts` of every grantee, in order: `TOGETHER` grantees at a time in one
    repeatable-read transaction (each grantee's facts and position in one snapshot, as
    `live_facts` reads them), each fact table, the live builds and the stands' events read for
    all of them in one statement. Only one group's facts are held at a time."""
    for start in range(0, len(grantees), TOGETHER):
        group = [g.schema for g in grantees[start : start + TOGETHER]]
        with db.transaction() as cur:
            cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            builds = live_builds(cur, group, "oversight")
            facts = load_many(cur, [Tables(s, b) for s, (b, _) in zip(group, builds, strict=True)])
            stamps = _recorded_at_many(
                cur, [(s, p) for s, (_, p) in zip(group, builds, strict=True)]
            )
        for f, (_, position), stamp in zip(facts, builds, stamps, strict=True):
            yield f, Stand(position, stamp)


def _recorded_at_many(
    cur: Cursor[TupleRow], stands: Sequence[tuple[str, int]]
) -> list[datetime | None]:
    """`_recorded_at` of each (schema, position), in one statement (None at position 0)."""
    branches = [
        sql.SQL("SELECT {} AS grantee, state FROM {}.events WHERE notification_id = {}").format(
            sql.Literal(i), sql.Identifier(schema), sql.Literal(position)
        )
        for i, (schema, position) in enumerate(stands)
        if position
    ]
    out: list[datetime | None] = [None] * len(stands)
    if branches:
        cur.execute(sql.SQL(" UNION ALL ").join(branches))
        for i, state in cur.fetchall():
            schema, position = stands[i]
            out[i] = _stamp_of(schema, position, bytes(state))
    return out


def all_body(db: Database, grantees: list[Grantee], ask: Ask, fmt: Format) -> bytes:
    """The cross-grantee report in `fmt`: a row per grantee, totals from the pooled bases.
    Live, the grantees' facts are read together (`live_facts_of`; the report takes no
    `min_position`); `as_of` replays each grantee's log in turn."""
    if ask.as_of is None:
        read = live_facts_of(db, grantees)
    else:
        read = (replayed_facts(db, g.schema, ask.as_of) for g in grantees)
    made = (_report(g, ask, facts, stand) for g, (facts, stand) in zip(grantees, read, strict=True))
    return composed(ask.quarter, made, fmt)


def composed(quarter: Quarter, made: Iterable[tuple[GranteeReport, Bases]], fmt: Format) -> bytes:
    """The cross-grantee report in `fmt` from each grantee's row and bases: totals from the
    pooled bases, checked for personal data before it is rendered."""
    rows: list[GranteeReport] = []
    all_bases: list[Bases] = []
    for report, bases in made:
        rows.append(report)
        all_bases.append(bases)
    totals = figures.evaluate(quarter, None, figures.pool(all_bases))
    doc = report_render.all_doc(quarter, rows, totals)
    privacy.check(doc)
    if fmt == "csv":
        return report_render.csv_report(rows, totals)
    if fmt == "html":
        return report_render.html_all(quarter, rows, totals)
    return report_render.json_bytes(doc)
