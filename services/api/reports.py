"""`/v1/grantees/{grantee}/reports/quarterly/{quarter}` and `/v1/reports/quarterly/{quarter}`.

The quarterly oversight report of one grantee, or of every grantee the token may see, as JSON,
CSV or a printable HTML page; and the drill-down of each figure to the log positions of the
events behind it. Figures come from the oversight facts (`projections/oversight.py`) through
`services/reports.py`; nothing here carries personal data.

`as_of` replays the grantee's events recorded at or before that instant through the same
projection handlers into temporary tables, dropped in the same transaction: the report as it
stood then, from the events alone.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

import msgspec
from eventsourcing.persistence import StoredEvent
from litestar import Request, Response, get
from litestar.di import Provide
from litestar.params import Parameter
from psycopg import Cursor, sql
from psycopg.rows import TupleRow

from domain.common import CLOCK_SKEW
from projections.base import Tables
from projections.oversight import Facts, load
from projections.registry import by_name
from services import privacy, report_render, reports
from services.api import views
from services.api.context import Tenant, action, provide_platform, provide_tenant
from services.api.docs import problems
from services.api.params import MinPosition
from services.api.problems import ProblemError
from services.auth import Principal
from services.database import Database
from services.mapping import MsgspecMapper
from services.reports import GranteeReport, Quarter, Stand
from services.tenancy import Tenancy

Format = Literal["json", "csv", "html"]
QuarterPath = Annotated[str, Parameter(description="a calendar quarter, e.g. 2026Q3")]
AsOf = Annotated[
    str | None,
    Parameter(
        max_length=40,
        description="the report as it stood at this instant (RFC 3339 with a UTC offset), "
        "from the events recorded at or before it",
    ),
]
FormatParam = Annotated[
    Format | None,
    Parameter(
        description="json (default), csv or html; without it the Accept header decides "
        "(text/csv, text/html)"
    ),
]
MEDIA = {
    "json": "application/json",
    "csv": "text/csv",
    "html": "text/html",
}
_RFC3339 = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?([Zz]|[+-][0-9]{2}:[0-9]{2})"
)
REPLAY_BATCH = 2000
_mapper = MsgspecMapper()


class _Stamp(msgspec.Struct):
    timestamp: datetime


_stamp = msgspec.json.Decoder(_Stamp)

QUARTER_PROBLEMS = (
    (400, "invalid_quarter", "'2026Q5' is not a quarter such as 2026Q3"),
    (400, "invalid_instant", "as_of must be RFC 3339 with a UTC offset"),
    (422, "quarter_not_started", "2027Q1 had not begun by 2026-11-26"),
    (409, "log_unreadable", "the event at position 3 of g_northside_works cannot be decoded"),
)


def parse_as_of(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        if _RFC3339.fullmatch(value) is None:
            raise ValueError(value)
        moment = datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
    except ValueError:
        raise ProblemError(
            400,
            "invalid_instant",
            "as_of must be RFC 3339 with a UTC offset, e.g. 2026-10-01T00:00:00Z",
        ) from None
    if moment > datetime.now(UTC) + CLOCK_SKEW:
        raise ProblemError(400, "invalid_instant", "as_of lies in the future")
    return moment


def parse_quarter(text: str, today: date) -> Quarter:
    try:
        quarter = Quarter.parse(text)
    except ValueError as e:
        raise ProblemError(400, "invalid_quarter", str(e)) from None
    if quarter.start > today:
        raise ProblemError(
            422, "quarter_not_started", f"{quarter.name} had not begun by {today.isoformat()}"
        )
    return quarter


def unreadable(schema: str, position: int) -> ProblemError:
    return ProblemError(
        409,
        "log_unreadable",
        f"the event at position {position} of {schema} cannot be decoded: the log was altered "
        "behind the service's back (see GET …/audit/verification); no report is computed from it",
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
    t = views.tables(db, schema, "oversight", min_position, wait_max)
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
                        event = _mapper.to_domain_event(
                            StoredEvent(originator_id, version, topic, data)
                        )
                    except (msgspec.MsgspecError, ValueError, TypeError):
                        raise unreadable(schema, position) from None
                    projection.apply(cur, t, topic, event, position)
            if len(rows) < REPLAY_BATCH:
                break
            after = rows[-1][0]
        facts = load(cur, t)
        projection.drop(cur, t)
    return facts, Stand(*last)


def _today(zone: ZoneInfo, as_of: datetime | None) -> date:
    return (as_of or datetime.now(UTC)).astimezone(zone).date()


def grantee_report(
    db: Database,
    slug: str,
    schema: str,
    zone_name: str,
    quarter: Quarter,
    as_of: datetime | None,
    min_position: int | None,
    wait_max: float,
) -> tuple[GranteeReport, reports.Bases]:
    zone = ZoneInfo(zone_name)
    if as_of is None:
        facts, stand = live_facts(db, schema, min_position, wait_max)
    else:
        facts, stand = replayed_facts(db, schema, as_of)
    through = reports.through_day(quarter, _today(zone, as_of))
    report, bases = reports.grantee_report(facts, quarter, through, zone)
    return GranteeReport(slug, zone_name, stand, report), bases


def choose(request: Request[Any, Any, Any], format: Format | None) -> Format:
    if format is not None:
        return format
    accept = request.headers.get("accept", "")
    if "text/csv" in accept:
        return "csv"
    if "text/html" in accept:
        return "html"
    return "json"


def _tenant_report(
    request: Request[Any, Any, Any],
    tenant: Tenant,
    quarter_text: str,
    as_of_text: str | None,
    min_position: int | None,
) -> tuple[GranteeReport, reports.Bases]:
    zone = tenant.app.zone
    as_of = parse_as_of(as_of_text)
    quarter = parse_quarter(quarter_text, _today(zone, as_of))
    return grantee_report(
        tenant.tenancy.db,
        tenant.info.slug,
        tenant.info.schema,
        tenant.info.time_zone,
        quarter,
        as_of,
        min_position,
        request.app.state.settings.view_wait_max,
    )


@get(
    "/v1/grantees/{grantee:str}/reports/quarterly/{quarter:str}",
    opt=action("reports.read"),
    sync_to_thread=True,
    tags=["reports"],
    responses=problems(*QUARTER_PROBLEMS),
    dependencies={"tenant": Provide(provide_tenant, sync_to_thread=False)},
)
def quarterly(
    request: Request[Any, Any, Any],
    tenant: Tenant,
    quarter: QuarterPath,
    format: FormatParam = None,
    as_of: AsOf = None,
    min_position: MinPosition = None,
) -> Response[bytes]:
    """The grantee's quarterly oversight report (calendar quarter, grantee-local dates):
    enrolment, stage transitions, exits by reason (with the derived 90-day exit), returns to
    custody, retention, mentoring coverage, meetings and hours, weekly cadence compliance,
    mentors and training, goals, escalations and feedback. No personal data. JSON (default),
    CSV (`text/csv`) or a printable HTML page with charts (`text/html`), chosen by `format` or
    the Accept header. The same quarter at the same log position gives the same bytes;
    `as_of` gives the report as it stood at that instant. Each figure's `events` counts the
    log events behind it, listed by `…/figures/{figure}`."""
    report, _ = _tenant_report(request, tenant, quarter, as_of, min_position)
    doc = report_render.grantee_doc(report)
    privacy.check(doc)  # every format renders these names and values
    fmt = choose(request, format)
    if fmt == "csv":
        body = report_render.csv_report([report])
    elif fmt == "html":
        body = report_render.html_grantee(report, tenant.info.name)
    else:
        body = report_render.json_bytes(doc)
    return Response(
        body,
        media_type=MEDIA[fmt],
        headers={"X-Log-Position": str(report.stand.position), "Vary": "Accept"},
    )


class FigureOut(msgspec.Struct):
    quarter: str
    figure: str
    value: int | float | None
    events: int
    positions: list[int]
    next_after: int | None


@get(
    "/v1/grantees/{grantee:str}/reports/quarterly/{quarter:str}/figures/{figure:str}",
    opt=action("reports.read"),
    sync_to_thread=True,
    tags=["reports"],
    responses=problems(
        *QUARTER_PROBLEMS, (404, "figure_not_found", "no figure 'enrolment.everyone' in 2026Q3")
    ),
    dependencies={"tenant": Provide(provide_tenant, sync_to_thread=False)},
)
def figure(
    request: Request[Any, Any, Any],
    tenant: Tenant,
    quarter: QuarterPath,
    figure: str,
    after: Annotated[int, Parameter(ge=0, description="`next_after` of the previous page")] = 0,
    limit: Annotated[int, Parameter(ge=1, le=5000, description="page size")] = 1000,
    as_of: AsOf = None,
    min_position: MinPosition = None,
) -> FigureOut:
    """The drill-down of one figure of the quarterly report: the log positions of the events
    that produced it, ascending, in pages (`after`, `limit`). Read them with the audit event
    stream. Positions only: no personal data."""
    report, _ = _tenant_report(request, tenant, quarter, as_of, min_position)
    value = report.report.figures.get(figure)
    if value is None:
        raise ProblemError(
            404, "figure_not_found", f"no figure {figure!r} in {report.report.quarter.name}"
        )
    page = [p for p in value.positions if p > after][: limit + 1]
    more = len(page) > limit
    page = page[:limit]
    return FigureOut(
        report.report.quarter.name,
        figure,
        value.value,
        len(value.positions),
        page,
        page[-1] if more and page else None,
    )


@get(
    "/v1/reports/quarterly/{quarter:str}",
    opt=action("oversight.read"),
    sync_to_thread=True,
    tags=["reports"],
    responses=problems(*QUARTER_PROBLEMS),
    dependencies={"tenancy": Provide(provide_platform, sync_to_thread=False)},
)
def quarterly_all(
    request: Request[Any, Any, Any],
    tenancy: Tenancy,
    principal: Principal,
    quarter: QuarterPath,
    format: FormatParam = None,
    as_of: AsOf = None,
) -> Response[bytes]:
    """The quarterly oversight report across every grantee the token may see: one row per
    grantee (in slug order, each in its own time zone) and the totals, computed from all
    grantees' items together (rates and means are never averaged). JSON, CSV or HTML as for
    one grantee; `as_of` replays each grantee's log to that instant. No personal data."""
    when = parse_as_of(as_of)
    q = parse_quarter(quarter, (when or datetime.now(UTC)).date())
    rows: list[GranteeReport] = []
    all_bases: list[reports.Bases] = []
    wait_max = request.app.state.settings.view_wait_max
    after = ""
    while True:
        batch = tenancy.grantees(after=after, limit=500)
        for info in batch:
            if not principal.may_see(info.slug):
                continue
            report, bases = grantee_report(
                tenancy.db, info.slug, info.schema, info.time_zone, q, when, None, wait_max
            )
            rows.append(report)
            all_bases.append(bases)
        if len(batch) < 500:
            break
        after = batch[-1].slug
    totals = reports.evaluate(q, None, reports.pool(all_bases))
    doc = report_render.all_doc(q, rows, totals)
    privacy.check(doc)
    fmt = choose(request, format)
    if fmt == "csv":
        body = report_render.csv_report(rows, totals)
    elif fmt == "html":
        body = report_render.html_all(q, rows, totals)
    else:
        body = report_render.json_bytes(doc)
    return Response(body, media_type=MEDIA[fmt], headers={"Vary": "Accept"})


ROUTES: list[Any] = [quarterly, figure, quarterly_all]
