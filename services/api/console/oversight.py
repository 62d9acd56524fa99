"""The oversight dashboard: the cross-grantee quarterly report (`/v1/reports/quarterly/{q}`,
JSON) as a table per grantee and simple charts drawn on the server as inline SVG. The figures,
rates and their numerators and denominators are the API's; this module only lays them out (no
personal data is in the report, and none is asked for)."""

from __future__ import annotations

from html import escape
from typing import Any

from litestar import Request, get
from litestar.response import Template

from domain import clock
from services.api.console.backend import Refusal, read
from services.api.console.pages import page
from services.api.console.records import asked_quarter
from services.api.console.session import PATH, signed_in

# (figure, column heading): counts, then rates (shown with numerator and denominator).
COUNTS = [
    ("enrolment.new", "Enrolled in the quarter"),
    ("enrolment.active", "Active at the end"),
    ("mentoring.paired_participants", "Served: in an open pairing"),
    ("exits.total", "Exited in the quarter"),
    ("meetings.held", "Meetings held"),
    ("meetings.hours", "Meeting hours"),
]
RATES = [
    ("cadence.compliance_rate", "Weekly meeting cadence"),
    ("mentoring.coverage_rate", "Mentoring coverage"),
    ("retention.rate", "Retention (90 days)"),
]
PEOPLE = COUNTS[:4]
# Bar colours with at least 3:1 contrast on white (WCAG 1.4.11), told apart by the legend.
COLOURS = ["#0b4f8a", "#b3541e", "#1d5e2e", "#5b2a86"]


NONE = "\u2014"  # an em dash: no value (nothing was due)


def number(value: Any) -> str:
    if value is None:
        return NONE
    if isinstance(value, float) and not value.is_integer():
        return f"{value:.1f}".rstrip("0").rstrip(".") if value < 100 else f"{value:.0f}"
    return str(int(value))


def rate(value: Any, of: Any) -> str:
    """`60.0% (3 of 5)`; a dash and `(0 of 0)` when nothing was due."""
    ratio = f" ({of[0]} of {of[1]})" if isinstance(of, list) and len(of) == 2 else ""
    return (NONE if value is None else f"{100 * float(value):.1f}%") + ratio


def short(value: Any, percent: bool) -> str:
    if value is None:
        return NONE
    return f"{100 * float(value):.0f}%" if percent else number(value)


def bar_chart(
    chart_id: str,
    title: str,
    groups: list[tuple[str, list[float | None]]],
    series: list[str],
    percent: bool = False,
) -> str:
    """Horizontal grouped bars, a group per grantee, a bar per series, with the value written
    at the end of each bar. `role="img"`, named by its <title> and described by <desc>; the
    same numbers are in the table below it."""
    label_w, width, bar, gap, legend_h = 150, 720, 20, 16, 30
    plot = width - label_w - 70
    values = [v for _, vs in groups for v in vs if v is not None]
    top = 1.0 if percent else max([*values, 1.0])
    group_h = bar * len(series) + gap
    height = legend_h + group_h * len(groups) + 8
    body: list[str] = []
    for i, name in enumerate(series):
        x = label_w + i * (width - label_w) // len(series)
        body.append(
            f'<rect x="{x}" y="4" width="14" height="14" fill="{COLOURS[i]}"/>'
            f'<text x="{x + 19}" y="16" class="lbl">{escape(name)}</text>'
        )
    for g, (label, vs) in enumerate(groups):
        y0 = legend_h + g * group_h
        body.append(
            f'<text x="{label_w - 8}" y="{y0 + bar * len(series) / 2 + 4:.0f}"'
            f' text-anchor="end" class="lbl">{escape(label)}</text>'
        )
        for i, v in enumerate(vs):
            y = y0 + i * bar
            w = 0.0 if v is None else plot * float(v) / top
            shown = short(v, percent)
            body.append(
                f'<rect x="{label_w}" y="{y}" width="{w:.1f}" height="{bar - 3}"'
                f' fill="{COLOURS[i]}"/>'
                f'<text x="{label_w + w + 4:.1f}" y="{y + bar - 5}" class="val">{shown}</text>'
            )
    body.append(
        f'<line x1="{label_w}" y1="{legend_h - 4}" x2="{label_w}" y2="{height}" class="axis"/>'
    )
    described = "; ".join(
        f"{label}: "
        + ", ".join(f"{s} {short(v, percent)}" for s, v in zip(series, vs, strict=True))
        for label, vs in groups
    )
    return (
        f'<svg class="chart" role="img" aria-labelledby="{chart_id}-t {chart_id}-d"'
        f' viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg">'
        f'<title id="{chart_id}-t">{escape(title)}</title>'
        f'<desc id="{chart_id}-d">{escape(described)}</desc>{"".join(body)}</svg>'
    )


def rows_of(report: dict[str, Any]) -> list[dict[str, Any]]:
    """A row per grantee, then the totals row: each count and each rate as shown."""
    rows = []
    for g in report.get("grantees", []):
        figures = g.get("figures", {})
        rows.append(
            {
                "grantee": g["grantee"],
                "through": (g.get("period") or {}).get("through"),
                "time_zone": (g.get("period") or {}).get("time_zone"),
                "values": {n: (figures.get(n) or {}).get("value") for n, _ in COUNTS + RATES},
                "shown": {n: number((figures.get(n) or {}).get("value")) for n, _ in COUNTS}
                | {
                    n: rate((figures.get(n) or {}).get("value"), (figures.get(n) or {}).get("of"))
                    for n, _ in RATES
                },
            }
        )
    totals, of = report.get("totals", {}), report.get("totals_of", {})
    rows.append(
        {
            "grantee": "All grantees",
            "total": True,
            "values": {n: totals.get(n) for n, _ in COUNTS + RATES},
            "shown": {n: number(totals.get(n)) for n, _ in COUNTS}
            | {n: rate(totals.get(n), of.get(n)) for n, _ in RATES},
        }
    )
    return rows


@get(f"{PATH}/oversight")
async def oversight(request: Request[Any, Any, Any]) -> Template:
    """Oversight staff: the quarter's figures across every grantee they may see, as a table
    and charts (no personal data), and the API's printable report."""
    staff = signed_in(request)
    quarter = asked_quarter(request, clock.now().date())
    problem, rows, charts = None, [], []
    try:
        report = await read(request, staff, f"/v1/reports/quarterly/{quarter}", format="json")
    except Refusal as refused:
        if refused.status not in (400, 422):
            raise
        problem = refused.detail
    else:
        rows = rows_of(report)
        grantees = [r for r in rows if not r.get("total")]
        charts = [
            (
                "Participants: enrolled in the quarter, active at the end, served, exited",
                bar_chart(
                    "people",
                    f"Participants per grantee, {quarter}",
                    [(r["grantee"], [r["values"][n] for n, _ in PEOPLE]) for r in grantees],
                    [
                        "enrolled",
                        "active",
                        "served",
                        "exited",
                    ],
                ),
            ),
            (
                "Rates: weekly meeting cadence, mentoring coverage, retention",
                bar_chart(
                    "rates",
                    f"Meeting cadence, mentoring coverage and retention per grantee, {quarter}",
                    [(r["grantee"], [r["values"][n] for n, _ in RATES]) for r in grantees],
                    ["cadence", "coverage", "retention"],
                    percent=True,
                ),
            ),
        ]
    return page(
        request,
        staff,
        "oversight.html",
        title="Oversight",
        quarter=quarter,
        problem=problem,
        rows=rows,
        counts=COUNTS,
        rates=RATES,
        charts=charts,
    )


ROUTES = [oversight]
