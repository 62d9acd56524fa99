"""The quarterly report as bytes: JSON (sorted keys), CSV, and a printable HTML page whose
charts are inline SVG (no external assets, no scripts).

Rendering is a pure function of the computed report: the same report always gives the same
bytes. Nothing here reads a clock.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from html import escape
from typing import Any

import msgspec

from domain import definitions as rules
from domain.cadence import week_start
from domain.goals import Horizon
from services.reports.figures import GranteeReport, Report, Value
from services.reports.quarterly import Quarter

TOTAL = "TOTAL"  # never a slug: slugs are lower case
_encoder = msgspec.json.Encoder(order="sorted")


def json_bytes(doc: dict[str, Any]) -> bytes:
    return _encoder.encode(doc)


def _period(quarter: Quarter) -> dict[str, str]:
    return {"start": quarter.start.isoformat(), "end": quarter.end.isoformat()}


def _figure(v: Value) -> dict[str, Any]:
    """A figure's value and event count; a rate also its numerator and denominator (`of`)."""
    out: dict[str, Any] = {"value": v.value, "events": len(v.positions)}
    if v.of is not None:
        out["of"] = list(v.of)
    return out


def grantee_doc(r: GranteeReport) -> dict[str, Any]:
    rep = r.report
    through = rep.through.isoformat() if rep.through else None
    return {
        "grantee": r.slug,
        "quarter": rep.quarter.name,
        "period": {
            **_period(rep.quarter),
            "through": through,
            "complete": rep.complete,
            "time_zone": r.time_zone,
        },
        "stands_at": {
            "position": r.stand.position,
            "recorded_at": r.stand.recorded_at.isoformat() if r.stand.recorded_at else None,
        },
        "figures": {name: _figure(v) for name, v in rep.figures.items()},
        "drilldown": f"/v1/grantees/{r.slug}/reports/quarterly/{rep.quarter.name}/figures/{{figure}}",
    }


def all_doc(quarter: Quarter, rows: list[GranteeReport], totals: Report) -> dict[str, Any]:
    return {
        "quarter": quarter.name,
        "period": _period(quarter),
        "grantees": [grantee_doc(r) for r in rows],
        "totals": {name: v.value for name, v in totals.figures.items()},
        # A rate's numerator and denominator across every grantee, for a reader.
        "totals_of": {name: list(v.of) for name, v in totals.figures.items() if v.of},
    }


def _cell(value: int | float | None) -> str:
    return "" if value is None else repr(value)


def _of(of: tuple[int, ...] | list[int] | None) -> list[str]:
    """A rate's numerator and denominator as two cells (empty for a count)."""
    return [str(of[0]), str(of[1])] if of else ["", ""]


def csv_report(rows: list[GranteeReport], totals: Report | None = None) -> bytes:
    """One line per grantee and figure (`grantee,quarter,through,position,figure,value,events,
    numerator,denominator`: a rate's two counts, as the JSON's `of` gives them; empty for a
    count); with `totals`, lines of grantee `TOTAL` after them."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(
        [
            "grantee",
            "quarter",
            "through",
            "position",
            "figure",
            "value",
            "events",
            "numerator",
            "denominator",
        ]
    )
    for r in rows:
        rep = r.report
        through = rep.through.isoformat() if rep.through else ""
        for name, v in rep.figures.items():
            writer.writerow(
                [
                    r.slug,
                    rep.quarter.name,
                    through,
                    r.stand.position,
                    name,
                    _cell(v.value),
                    len(v.positions),
                    *_of(v.of),
                ]
            )
    if totals is not None:
        for name, v in totals.figures.items():
            writer.writerow(
                [TOTAL, totals.quarter.name, "", "", name, _cell(v.value), "", *_of(v.of)]
            )
    return out.getvalue().encode()


# -- charts -------------------------------------------------------------------------------------


def _num(x: float) -> str:
    return f"{x:.1f}".rstrip("0").rstrip(".")


def _svg(title: str, width: int, height: int, body: list[str]) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" height="{height}"'
        f' viewBox="0 0 {width} {height}"><title>{escape(title)}</title>{"".join(body)}</svg>'
    )


def funnel_chart(steps: list[tuple[str, float]]) -> str:
    """Centred horizontal bars, widest first: how far participants got."""
    width, bar, gap, label_w = 620, 26, 8, 250
    top = max([v for _, v in steps] + [1])
    body = []
    for i, (label, value) in enumerate(steps):
        y = i * (bar + gap)
        w = (width - label_w - 60) * value / top
        x = label_w + (width - label_w - 60 - w) / 2
        body.append(
            f'<text x="{label_w - 8}" y="{y + 18}" text-anchor="end" class="lbl">{escape(label)}</text>'
            f'<rect x="{_num(x)}" y="{y}" width="{_num(w)}" height="{bar}" class="bar"/>'
            f'<text x="{width - 50}" y="{y + 18}" class="val">{_num(value)}</text>'
        )
    return _svg("Stage funnel", width, len(steps) * (bar + gap), body)


def cadence_chart(weeks: list[tuple[str, int, int, int]]) -> str:
    """One column per ISO week: the share of due pairing-weeks met (excused weeks not due)."""
    height, base, col = 200, 160, 34
    width = max(60 + col * len(weeks), 200)
    body = [
        f'<line x1="40" y1="{base}" x2="{width}" y2="{base}" class="axis"/>',
        f'<line x1="40" y1="20" x2="{width}" y2="20" class="ref"/>',
        '<text x="36" y="24" text-anchor="end" class="lbl">100%</text>',
        f'<text x="36" y="{base}" text-anchor="end" class="lbl">0%</text>',
    ]
    for i, (week, met, missed, excused) in enumerate(weeks):
        x = 48 + i * col
        due = met + missed
        label = week.split("-")[1]
        if due:
            h = (base - 20) * met / due
            body.append(
                f'<rect x="{x}" y="{_num(base - h)}" width="{col - 10}" height="{_num(h)}"'
                f' class="bar"><title>{escape(week)}: {met} of {due} met, {excused} excused'
                "</title></rect>"
                f'<text x="{x + (col - 10) / 2}" y="{_num(base - h - 4)}" text-anchor="middle"'
                f' class="val">{round(100 * met / due)}</text>'
            )
        body.append(
            f'<text x="{x + (col - 10) / 2}" y="{base + 16}" text-anchor="middle"'
            f' class="lbl">{escape(label)}</text>'
        )
    return _svg("Weekly cadence compliance", width, height, body)


def goals_chart(rows: list[tuple[str, float, float]]) -> str:
    """Goals set and achieved in the quarter, by horizon."""
    width, base, group = 420, 160, 130
    top = max([max(s, a) for _, s, a in rows] + [1])
    body = [f'<line x1="20" y1="{base}" x2="{width}" y2="{base}" class="axis"/>']
    for i, (label, set_, achieved) in enumerate(rows):
        x = 30 + i * group
        for j, (value, cls) in enumerate(((set_, "bar2"), (achieved, "bar"))):
            h = (base - 20) * value / top
            bx = x + j * 44
            body.append(
                f'<rect x="{bx}" y="{_num(base - h)}" width="38" height="{_num(h)}" class="{cls}"/>'
                f'<text x="{bx + 19}" y="{_num(base - h - 4)}" text-anchor="middle"'
                f' class="val">{_num(value)}</text>'
            )
        body.append(
            f'<text x="{x + 41}" y="{base + 16}" text-anchor="middle" class="lbl">'
            f"{escape(label.replace('_', ' '))}</text>"
        )
    body.append(
        f'<rect x="{width - 150}" y="4" width="10" height="10" class="bar2"/>'
        f'<text x="{width - 136}" y="13" class="lbl">set</text>'
        f'<rect x="{width - 90}" y="4" width="10" height="10" class="bar"/>'
        f'<text x="{width - 76}" y="13" class="lbl">achieved</text>'
    )
    return _svg("Goals set and achieved", width, 180, body)


def _value(report: Report, name: str) -> float:
    v = report.figures[name].value
    return float(v) if v is not None else 0.0


def charts(report: Report) -> str:
    funnel = funnel_chart(
        [
            ("enrolled", _value(report, "funnel.enrolled")),
            ("entered an RRC or home confinement", _value(report, "funnel.reached_stage_2")),
            ("reached the community", _value(report, "funnel.reached_stage_3")),
            ("of those, through an RRC", _value(report, "funnel.stage_3_via_rrc")),
            ("of those, released directly", _value(report, "funnel.stage_3_direct")),
            ("completed", _value(report, "funnel.completed")),
        ]
    )
    weeks = [
        (
            week,
            int(_value(report, f"cadence.week.{week}.met")),
            int(_value(report, f"cadence.week.{week}.missed")),
            int(_value(report, f"cadence.week.{week}.excused")),
        )
        for week in report.quarter.weeks()
        # Weeks that have not begun by the report day are left out (no empty bars).
        if report.through is not None and week_start(week) <= report.through
    ]
    goals = goals_chart(
        [
            (
                h.value,
                _value(report, f"goals.set.{h.value}"),
                _value(report, f"goals.achieved.{h.value}"),
            )
            for h in Horizon
        ]
    )
    return (
        f'<section class="charts"><figure>{funnel}<figcaption>Stage funnel (through the end)'
        f"</figcaption></figure><figure>{cadence_chart(weeks)}<figcaption>Weekly cadence"
        " compliance: share of due pairing-weeks met, by ISO week</figcaption></figure>"
        f"<figure>{goals}<figcaption>Goals set and achieved, by horizon</figcaption></figure>"
        "</section>"
    )


# -- pages ----------------------------------------------------------------------------------------

STYLE = (
    "body{font:14px/1.4 system-ui,sans-serif;color:#111;margin:24px;max-width:1100px;"
    "overflow-wrap:anywhere}"
    "h1{font-size:22px;margin:0 0 4px}h2{font-size:16px;margin:18px 0 6px}"
    "table{border-collapse:collapse;width:100%;margin-bottom:12px;table-layout:fixed}"
    "th.n{width:170px}"
    "th,td{border-bottom:1px solid #ccc;padding:3px 6px;text-align:left}"
    "td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}"
    ".meta{color:#444}.charts{display:flex;flex-wrap:wrap;gap:16px}"
    "figure{margin:0;max-width:100%;min-width:0}figcaption{font-size:12px;color:#444}"
    # A chart keeps its drawn size where there is room and shrinks with its viewBox on a phone;
    # a table wider than the screen scrolls inside its own box, never the page.
    "svg{max-width:100%;height:auto}.wide{overflow-x:auto;max-width:100%}"
    "@media (max-width:640px){body{margin:12px}table{table-layout:auto}th.n{width:auto}}"
    ".bar{fill:#2f5d8a}.bar2{fill:#9db7d1}.axis{stroke:#333}.ref{stroke:#bbb;stroke-dasharray:4 3}"
    ".lbl{font-size:11px;fill:#333}.val{font-size:11px;fill:#111}"
    "dt{font-weight:600;margin-top:6px}dd{margin:0 0 0 16px}.src{color:#555;font-size:12px}"
    # A quarter still running: said before any figure, on the screen and on paper.
    ".provisional{border:2px solid #8a5a00;background:#fff4d6;padding:6px 10px;margin:10px 0}"
    # The way back to the console: a thumb's size on a phone, left off the paper.
    ".back a{display:inline-block;padding:12px 0;min-height:44px}"
    "@page{size:letter;margin:14mm}"
    "@media print{body{margin:0}section,table,figure{break-inside:avoid}a{color:inherit}"
    ".back{display:none}}"
)


def _page(title: str, body: str, back: tuple[str, str]) -> bytes:
    """The page: the way back to the staff console (`back`: its address and words), then the
    report in the page's `<main>`."""
    href, words = back
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{escape(title)}</title>"
        f"<style>{STYLE}</style></head><body>"
        f'<nav class="back" aria-label="Staff console"><a href="{escape(href)}">{escape(words)}</a>'
        f"</nav><main>{body}</main></body></html>\n"
    ).encode()


def provisional(quarter: Quarter, whose: str) -> str:
    """The notice on the report of a quarter not over (`Report.complete` false: its last day
    has not passed in the grantee's zone, as the console's reports page decides too)."""
    return (
        '<p class="provisional" id="standing"><strong>Provisional.</strong>'
        f" {escape(quarter.name)} has not ended {whose} (its last day is {quarter.end}): its"
        " figures can still change, and its PIRL file cannot be certified until the quarter is"
        " over.</p>"
    )


def _sections(names: Iterable[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for name in names:
        if name.startswith("cadence.week."):
            continue  # shown by the chart; listed in JSON and CSV
        out.setdefault(name.split(".")[0], []).append(name)
    return out


def _fmt(value: int | float | None) -> str:
    return "&ndash;" if value is None else escape(repr(value))


def _human(label: str) -> str:
    """A label for a reader: the codes (`boundary_concern`) in words; the codes stay in the
    CSV and JSON."""
    return label.replace("_", " ")


def _reader_value(v: Value) -> str:
    """A rate as a percentage with its numerator and denominator; other values as numbers."""
    if v.of is not None:
        if v.value is None:
            return f"&ndash; (0 of {v.of[1]})"
        return f"{100 * float(v.value):.1f}% ({v.of[0]} of {v.of[1]})"
    return _fmt(v.value)


def appendix() -> str:
    """How each figure is computed, from the definitions (domain/definitions.py)."""
    items = "".join(
        f"<dt>{escape(rule.name)}</dt><dd>{escape(rule.words)}"
        f' <span class="src">Source: {escape(rule.source)}.</span></dd>'
        for rule in rules.RULES
    )
    return (
        '<section class="appendix"><h2>How each figure is computed</h2>'
        f'<dl>{items}</dl><p class="meta">Counts through the report day; each figure\'s'
        " count links to its drill-down: the events behind it, without personal data.</p></section>"
    )


def html_grantee(r: GranteeReport, grantee_name: str) -> bytes:
    rep = r.report
    through = rep.through.isoformat() if rep.through else "&ndash;"
    head = (
        f"<h1>Quarterly oversight report {escape(rep.quarter.name)}</h1>"
        f'<p class="meta">{escape(grantee_name)} · {rep.quarter.start} to'
        f" {rep.quarter.end} · through {through} ({escape(r.time_zone)})</p>"
    )
    if not rep.complete:
        head += provisional(rep.quarter, f"in {escape(r.time_zone)}")
    tables = []
    q = escape(rep.quarter.name)
    for section, names in _sections(rep.figures).items():
        lines = "".join(
            f"<tr><td>{escape(_human(rep.labels[n]))}</td>"
            f'<td class="n">{_reader_value(rep.figures[n])}</td>'
            f'<td class="n"><a href="{q}/figures/{escape(n)}">'
            f"{len(rep.figures[n].units)} counted</a></td></tr>"
            for n in names
        )
        tables.append(
            f'<section><h2>{escape(_human(section))}</h2><div class="wide"><table><thead><tr>'
            '<th>figure</th><th class="n">value</th><th class="n">drill-down</th>'
            f"</tr></thead><tbody>{lines}</tbody></table></div></section>"
        )
    title = f"{rep.quarter.name} oversight report: {grantee_name}"
    back = (f"/console/reports?quarter={rep.quarter.name}", "Back to the reports")
    return _page(title, head + charts(rep) + "".join(tables) + appendix(), back)


def html_all(quarter: Quarter, rows: list[GranteeReport], totals: Report) -> bytes:
    head = (
        f"<h1>Quarterly oversight report {escape(quarter.name)}: all grantees</h1>"
        f'<p class="meta">{quarter.start} to {quarter.end} · {len(rows)} grantees;'
        " each grantee in its own time zone</p>"
    )
    if any(not r.report.complete for r in rows):
        head += provisional(quarter, "for every grantee")
    cols = "".join(f'<th class="n">{escape(r.slug)}</th>' for r in rows)
    tables = []
    for section, names in _sections(totals.figures).items():
        lines = "".join(
            f"<tr><td>{escape(totals.labels[n])}</td>"
            + "".join(f'<td class="n">{_fmt(r.report.figures[n].value)}</td>' for r in rows)
            + f'<td class="n">{_fmt(totals.figures[n].value)}</td></tr>'
            for n in names
        )
        tables.append(
            f"<section><h2>{escape(section.replace('_', ' '))}</h2>"
            f'<div class="wide"><table><thead><tr>'
            f'<th>figure</th>{cols}<th class="n">total</th></tr></thead>'
            f"<tbody>{lines}</tbody></table></div></section>"
        )
    back = (f"/console/oversight?quarter={quarter.name}", "Back to the oversight dashboard")
    return _page(f"{quarter.name} oversight report", head + charts(totals) + "".join(tables), back)
