"""`/v1/grantees/{grantee}/reports/quarterly/{quarter}` and `/v1/reports/quarterly/{quarter}`.

The quarterly oversight report of one grantee, or of every grantee the token may see, as JSON,
CSV or a printable HTML page; and the drill-down of each figure to the log positions of the
events behind it. Figures come from the oversight facts (`projections/oversight.py`) through
`services/reports/quarterly.py`; nothing here carries personal data.

`as_of` replays the grantee's events recorded at or before that instant through the same
projection handlers into temporary tables, dropped in the same transaction: the report as it
stood then, from the events alone.

The handlers parse and check the request, then await the report from a short-lived child
process (`services/reports/processes.py` runs a task of `services/reports/jobs.py`): the facts
never enter the API process, and the report's CPU never holds its GIL (decision 28).
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Any

import anyio.to_thread
from litestar import Request, Response, get
from litestar.di import Provide
from litestar.openapi.spec import OpenAPI, OpenAPIMediaType, OpenAPIType, Reference, Schema
from litestar.params import Parameter

from domain import clock
from domain.common import CLOCK_SKEW
from services.api.context import Tenant, action, provide_platform, provide_tenant
from services.api.dates import check_parameter
from services.api.docs import problems
from services.api.params import INSTANT_SCHEMA, MAX_POSITION, MinPosition
from services.api.problems import ProblemError
from services.app.tenancy import Tenancy
from services.identity.tokens import Principal
from services.reports.jobs import (
    Ask,
    FigureOut,
    Format,
    Grantee,
    all_body,
    figure_page,
    grantee_body,
    today,
)
from services.reports.processes import ReportPool
from services.reports.quarterly import QUARTER_PATTERN, Quarter

QuarterPath = Annotated[
    str,
    Parameter(
        description="a calendar quarter from 1900Q1 to 2200Q4, e.g. 2026Q3",
        # What `Quarter.parse` takes (a quarter not begun yet is a 422 of its own).
        schema_extra={"pattern": QUARTER_PATTERN},
    ),
]
AsOf = Annotated[
    str | None,
    Parameter(
        max_length=40,
        description="the report as it stood at this instant (RFC 3339 with a UTC offset), "
        "from the events recorded at or before it",
        schema_extra=INSTANT_SCHEMA,
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
QUARTER_PROBLEMS = (
    (
        400,
        "invalid_quarter",
        "'2026Q5' is not a quarter of the form YYYYQn from 1900Q1 to 2200Q4, e.g. 2026Q3",
    ),
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
    check_parameter(moment, "as_of")
    if moment > clock.now() + CLOCK_SKEW:
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


def choose(request: Request[Any, Any, Any], format: Format | None) -> Format:
    if format is not None:
        return format
    accept = request.headers.get("accept", "")
    if "text/csv" in accept:
        return "csv"
    if "text/html" in accept:
        return "html"
    return "json"


def _pool(request: Request[Any, Any, Any]) -> ReportPool:
    pool: ReportPool = request.app.state.report_pool
    return pool


def _tenant_ask(
    request: Request[Any, Any, Any],
    tenant: Tenant,
    quarter_text: str,
    as_of_text: str | None,
    min_position: int | None,
) -> tuple[Grantee, Ask]:
    as_of = parse_as_of(as_of_text)
    quarter = parse_quarter(quarter_text, today(tenant.app.zone, as_of))
    info = tenant.info
    grantee = Grantee(info.slug, info.schema, info.time_zone, info.name)
    return grantee, Ask(quarter, as_of, min_position, request.app.state.settings.view_wait_max)


@get(
    "/v1/grantees/{grantee:str}/reports/quarterly/{quarter:str}",
    opt=action("reports.read"),
    tags=["reports"],
    responses=problems(*QUARTER_PROBLEMS),
    dependencies={"tenant": Provide(provide_tenant, sync_to_thread=False)},
)
async def quarterly(
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
    grantee, ask = _tenant_ask(request, tenant, quarter, as_of, min_position)
    fmt = choose(request, format)
    # Computed and rendered in a child process (services/reports/processes.py).
    body, position = await _pool(request).compute(
        tenant.tenancy.db, grantee_body, grantee, ask, fmt
    )
    return Response(
        body,
        media_type=MEDIA[fmt],
        headers={"X-Log-Position": str(position), "Vary": "Accept"},
    )


@get(
    "/v1/grantees/{grantee:str}/reports/quarterly/{quarter:str}/figures/{figure:str}",
    opt=action("reports.read"),
    tags=["reports"],
    responses=problems(
        *QUARTER_PROBLEMS, (404, "figure_not_found", "no figure 'enrolment.everyone' in 2026Q3")
    ),
    dependencies={"tenant": Provide(provide_tenant, sync_to_thread=False)},
)
async def figure(
    request: Request[Any, Any, Any],
    tenant: Tenant,
    quarter: QuarterPath,
    figure: str,
    after: Annotated[
        int, Parameter(ge=0, le=MAX_POSITION, description="`next_after` of the previous page")
    ] = 0,
    limit: Annotated[int, Parameter(ge=1, le=5000, description="page size")] = 1000,
    as_of: AsOf = None,
    min_position: MinPosition = None,
) -> FigureOut:
    """The drill-down of one figure of the quarterly report: the log positions of the events
    that produced it, ascending, in pages (`after`, `limit`). Read them with the audit event
    stream. Positions only: no personal data."""
    grantee, ask = _tenant_ask(request, tenant, quarter, as_of, min_position)
    page: FigureOut = await _pool(request).compute(
        tenant.tenancy.db, figure_page, grantee, ask, figure, after, limit
    )
    return page


def _visible(tenancy: Tenancy, principal: Principal) -> list[Grantee]:
    """Every grantee the token may see, in slug order."""
    out: list[Grantee] = []
    after = ""
    while True:
        batch = tenancy.grantees(after=after, limit=500)
        out += [
            Grantee(info.slug, info.schema, info.time_zone, info.name)
            for info in batch
            if principal.may_see(info.slug)
        ]
        if len(batch) < 500:
            return out
        after = batch[-1].slug


@get(
    "/v1/reports/quarterly/{quarter:str}",
    opt=action("oversight.read"),
    tags=["reports"],
    responses=problems(*QUARTER_PROBLEMS),
    dependencies={"tenancy": Provide(provide_platform, sync_to_thread=False)},
)
async def quarterly_all(
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
    q = parse_quarter(quarter, (when or clock.now()).date())
    fmt = choose(request, format)
    grantees = await anyio.to_thread.run_sync(_visible, tenancy, principal)
    ask = Ask(q, when, None, request.app.state.settings.view_wait_max)
    # Every grantee in one child task: their bases are pooled there, never in this process.
    body = await _pool(request).compute(tenancy.db, all_body, grantees, ask, fmt)
    return Response(body, media_type=MEDIA[fmt], headers={"Vary": "Accept"})


ROUTES: list[Any] = [quarterly, figure, quarterly_all]


def document_formats(spec: OpenAPI) -> None:
    """The reports answer JSON, CSV or HTML (`format`, else the Accept header): the document
    lists the three for their 200 (Litestar, from `Response[bytes]`, knows of one string)."""
    for path in (
        "/v1/grantees/{grantee}/reports/quarterly/{quarter}",
        "/v1/reports/quarterly/{quarter}",
    ):
        item = (spec.paths or {}).get(path)
        operation = item.get if item is not None else None
        ok = (operation.responses or {}).get("200") if operation is not None else None
        if ok is None or isinstance(ok, Reference):
            raise RuntimeError(f"no 200 response documented for GET {path}")
        ok.content = {
            MEDIA["json"]: OpenAPIMediaType(
                schema=Schema(type=OpenAPIType.OBJECT, description="the report's figures")
            ),
            MEDIA["csv"]: OpenAPIMediaType(schema=Schema(type=OpenAPIType.STRING)),
            MEDIA["html"]: OpenAPIMediaType(schema=Schema(type=OpenAPIType.STRING)),
        }
