"""The console's reports for the people who sign the quarter: the reports page (a quarter, its
recorded PIRL exports and their certification), the grantee's printable quarterly report, each
figure's drill-down (the counted units and the log positions behind them, so a number can be
checked before it is signed), the PIRL file recorded by a form's POST, and a recorded file
downloaded as it was served by a plain link (a GET never records: decision 136). Each is the
API's answer, fetched as the signed-in staff member."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any
from uuid import UUID

from litestar import Request, Response, get, post
from litestar.response import Redirect, Template

from domain import clock
from services.api.console.backend import Refusal, call, read, refusal, segment
from services.api.console.pages import grantee_zone, optional_all, page
from services.api.console.records import _document, passed_on, quarter_of
from services.api.console.roles import who_may
from services.api.console.session import PATH, Staff, signed_in, tell
from services.identity.access import allowed
from services.refusals import shown
from services.reports.quarterly import YEARS, Quarter, catalogue


def may_open(staff: Staff, action: str, what: str, need: str = "a figure from it") -> None:
    """Refuse the page (403, the console's own page) to a role the matrix does not allow,
    saying in words who may open it."""
    if not allowed(action, staff.roles):
        raise Refusal(
            403,
            "forbidden",
            f"Only {who_may(action)} may open {what}. Your role does not include it; ask your"
            f" program's coordinator if you need {need}.",
        )


def quarter_named(text: str, years: range = YEARS) -> Quarter:
    """The quarter in the address or the form, `YYYYQn` in either case (`2026q3` is 2026Q3);
    anything else is refused (400) in a sentence."""
    try:
        return Quarter.parse(text.strip().upper(), years)
    except ValueError:
        raise Refusal(
            400,
            "invalid_quarter",
            f"{shown(text)} is not a quarter. Write the year and the quarter's number as"
            " YYYYQn, for example 2026Q3 (July to September 2026).",
        ) from None


def standing(quarter: Quarter, today: date) -> str:
    """Whether the quarter is over on the grantee's `today`: `final`, `provisional` (still
    running: its figures can change and its file cannot be certified yet) or `not_begun`."""
    if today < quarter.start:
        return "not_begun"
    return "provisional" if today <= quarter.end else "final"


def figure_label(quarter: Quarter, name: str) -> str:
    """A figure as the printable report names it: its label, the codes in it in words
    ("boundary concern escalations raised"); its name when the catalogue has no such figure."""
    label = next((f.label for f in catalogue(quarter) if f.name == name), name)
    return label.replace("_", " ")


@get(f"{PATH}/reports")
async def reports(request: Request[Any, Any, Any]) -> Template:
    """A quarter: its quarterly report, its PIRL file, and the exports recorded for it with
    their SHA-256 and who certified each."""
    staff = signed_in(request)
    may_open(staff, "reports.read", "the reports page")
    zone = await grantee_zone(request, staff)
    today = clock.today(zone)
    asked = request.query_params.get("quarter")
    try:
        quarter = quarter_named(asked) if asked else Quarter.parse(quarter_of(today))
    except Refusal as refused:
        # Typed into the page's own box: said beside it, what was typed kept, the page and
        # its navigation still there to try again.
        shown = page(
            request,
            staff,
            "reports.html",
            title="Reports",
            quarter=asked,
            errs={"quarter": refused.problem_detail},
        )
        shown.status_code = refused.status
        return shown
    exports = await optional_all(request, staff, "/exports", quarter=quarter.name, limit=500)
    items = (exports or {}).get("items", [])
    made = request.query_params.get("export")
    return page(
        request,
        staff,
        "reports.html",
        title="Reports",
        errs={},
        quarter=quarter.name,
        period=quarter,
        standing=standing(quarter, today),
        exports=items,
        certified=[x for x in items if x.get("certification")],
        may_export=allowed("exports.pirl", staff.roles),
        may_certify=allowed("exports.certify", staff.roles),
        # The export the form just made or found unchanged, offered for download.
        made=next((x for x in items if made and x["id"] == made), None),
        # A fresh key per page: sending the same page's form twice records once.
        idempotency_key=uuid.uuid4().hex,
    )


@get(f"{PATH}/reports/quarterly/{{quarter:str}}")
async def quarterly(request: Request[Any, Any, Any], quarter: str) -> Response[Any]:
    """The grantee's quarterly report, the API's printable page; each figure's count links to
    its drill-down below this address."""
    staff = signed_in(request)
    name = quarter_named(quarter).name
    return await _document(
        request, f"/v1/grantees/{staff.grantee}/reports/quarterly/{name}", "html"
    )


@get(f"{PATH}/reports/quarterly/{{quarter:str}}/figures/{{figure:str}}")
async def figure(request: Request[Any, Any, Any], quarter: str, figure: str) -> Template:
    """One figure of the quarterly report: its value, each unit it counted (a participant, a
    meeting, a pairing-week) with the log positions of the events that made it count, and
    every position behind it, in pages. Positions and counts only: no personal data."""
    staff = signed_in(request)
    may_open(staff, "reports.read", "a figure's drill-down")
    q = quarter_named(quarter)
    after = request.query_params.get("after") or ""
    found = await read(
        request,
        staff,
        f"/reports/quarterly/{q.name}/figures/{segment(figure)}",
        after=after if after.isdigit() else None,
        limit=500,
    )
    zone = await grantee_zone(request, staff)
    named = figure_label(q, str(found["figure"]))
    label = named[:1].upper() + named[1:]
    return page(
        request,
        staff,
        "report_figure.html",
        title=f"{q.name}: {label}",
        label=label,
        quarter=q.name,
        standing=standing(q, clock.today(zone)),
        period=q,
        figure=found,
        first=not after,
    )


@post(f"{PATH}/exports/pirl/{{quarter:str}}")
async def record_pirl(request: Request[Any, Any, Any], quarter: str) -> Redirect:
    """Record the quarter's PIRL file (the API's `POST`), then go back to the reports page,
    which offers the recorded file for download. A file unchanged since the quarter's last
    export is that export: nothing is recorded again, and the page says so."""
    staff = signed_in(request)
    may_open(staff, "exports.pirl", "the PIRL export", "a PIRL file")
    name = quarter_named(quarter).name
    form = await request.form()
    key = str(form.get("idempotency_key") or "") or uuid.uuid4().hex
    answer = await call(request, staff, "POST", f"/exports/pirl/{name}", idempotency_key=key)
    if answer.status_code not in (200, 201):
        raise refusal(answer)
    digest = answer.headers.get("x-export-digest", "")[:12]
    tell(
        request,
        int(answer.headers.get("x-log-position", "0") or 0),
        f"The {name} PIRL file is recorded (SHA-256 {digest}…): download it below."
        if answer.status_code == 201
        else f"Nothing in the {name} PIRL file changed since its last recorded export (SHA-256"
        f" {digest}…): no new export was recorded. Download it below.",
    )
    made = answer.headers.get("x-export-id", "")
    return Redirect(f"{PATH}/reports?quarter={name}&export={made}", status_code=303)


@get(f"{PATH}/exports/pirl/{{quarter:str}}")
async def pirl(request: Request[Any, Any, Any], quarter: str) -> Response[Any]:
    """The quarter's last recorded PIRL file, as it was recorded (the API's `GET`, which
    regenerates it and checks its SHA-256). Records nothing."""
    staff = signed_in(request)
    name = quarter_named(quarter).name
    return await _document(
        request,
        f"/v1/grantees/{staff.grantee}/exports/pirl/{name}",
        "",
        f"pirl-{name}.csv",
    )


@get(f"{PATH}/exports/{{export_id:uuid}}/file")
async def export_file(request: Request[Any, Any, Any], export_id: UUID) -> Response[Any]:
    """A recorded export's file as it was served (the API regenerates it and checks it against
    the recorded SHA-256): the certified file, byte for byte. Records nothing."""
    staff = signed_in(request)
    answer = await call(request, staff, "GET", f"/exports/{export_id}/file")
    if answer.status_code != 200:
        raise refusal(answer)
    headers = {"cache-control": "no-store", "x-content-type-options": "nosniff"}
    for name in ("content-disposition", "x-export-digest", "x-export-id"):
        if name in answer.headers:
            headers[name] = answer.headers[name]
    return Response(
        answer.content,
        media_type=passed_on(answer.headers.get("content-type", "")),
        headers=headers,
    )


ROUTES = [reports, quarterly, figure, record_pirl, pirl, export_file]
