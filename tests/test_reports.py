"""The quarterly report over HTTP: formats, reproducibility, `as_of`, the cross-grantee report,
access, validation, and the privacy of every oversight response.

The history is the one of tests/test_oversight.py (its figures are checked there).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from datetime import timedelta
from html.parser import HTMLParser
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from domain import clock
from services.identity.tokens import issue_token
from services.projector import live as projector
from services.reports.privacy import PERSONAL_FIELDS, personal_keys
from services.reports.quarterly import Kind, Quarter, catalogue
from services.settings import Settings
from services.store.database import Database
from tests.conftest import corrupt_event
from tests.test_oversight import MENTOR_NAMES, PEOPLE, History, build

Q = "2026Q3"


@pytest.fixture(scope="module")
def history(
    client: TestClient[Litestar],
    auth: Callable[..., dict[str, str]],
    db: Database,
    settings: Settings,
) -> History:
    h = build(client, auth, db)
    h.settings = settings
    return h


@pytest.fixture(scope="module")
def other(
    client: TestClient[Litestar],
    auth: Callable[..., dict[str, str]],
    db: Database,
    make_grantee: Callable[[], str],
) -> str:
    """A second grantee: two participants entered in 2026Q3, one exited (completed)."""
    slug = make_grantee()
    h = auth("coordinator", slug)
    ids = []
    for first, entry in (("Octavian", "2026-07-06"), ("Perpetua", "2026-08-03")):
        r = client.post(
            f"/v1/grantees/{slug}/participants",
            json={
                "first_name": first,
                "last_name": "Strathmore",
                "date_of_birth": "1984-03-19",
                "program_entry_date": entry,
                "facility": "FCI-A",
                "cohort": "C1",
            },
            headers=h,
        )
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])
    r = client.post(
        f"/v1/grantees/{slug}/participants/{ids[0]}/exit",
        json={"exit_date": "2026-09-01", "reason": "completed"},
        headers=h,
    )
    assert r.status_code == 201, r.text
    projector.drain(db, f"g_{slug}")
    OTHERS.append(slug)
    return slug


def get(history: History, path: str, role: str = "federal_oversight", **kw: Any) -> Any:
    """GET with a token of `role` for this module's grantees only: other tests' grantees (some
    with deliberately altered logs) stay out of the cross-grantee report."""
    projector.drain(history.db, history.schema)
    grantees = [history.slug, *OTHERS]
    token = issue_token(history.settings, subject=f"test-{role}", roles=[role], grantees=grantees)
    headers = {"Authorization": f"Bearer {token}", **kw.pop("headers", {})}
    return history.client.get(path, headers=headers, **kw)


OTHERS: list[str] = []


def test_json_is_sorted_and_byte_identical_when_repeated(history: History) -> None:
    for fmt in ("json", "csv", "html"):
        first = history.report(Q, format=fmt).content
        second = history.report(Q, format=fmt).content
        assert first == second, fmt
    body = history.report(Q).content
    assert body == json.dumps(json.loads(body), sort_keys=True, separators=(",", ":")).encode()
    # Another role reads the same bytes: nothing in the report depends on who asks.
    assert history.report(Q, role="coordinator").content == body


def test_formats_by_parameter_and_by_accept_header(history: History) -> None:
    base = f"{history.base}/reports/quarterly/{Q}"
    r = get(history, base)
    assert r.headers["content-type"] == "application/json"
    for accept, media in (("text/csv", "text/csv"), ("text/html", "text/html")):
        r = get(history, base, headers={"Accept": accept})
        assert r.status_code == 200
        assert r.headers["content-type"].split(";")[0] == media
        assert r.content == history.report(Q, format=media.split("/")[1]).content
    assert get(history, base, params={"format": "xml"}).status_code == 400


def test_csv_parses_and_agrees_with_json(history: History) -> None:
    doc = history.report(Q).json()
    r = history.report(Q, format="csv")
    assert r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert list(rows[0]) == [
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
    assert [row["figure"] for row in rows] == [f.name for f in catalogue(Quarter(2026, 3))]
    rates = 0
    for row in rows:
        figure = doc["figures"][row["figure"]]
        value = figure["value"]
        assert row["value"] == ("" if value is None else repr(value))
        assert int(row["events"]) == figure["events"]
        # A rate's numerator and denominator, as the JSON's `of` (found missing by oversight).
        of = figure.get("of")
        assert [row["numerator"], row["denominator"]] == ([str(n) for n in of] if of else ["", ""])
        rates += bool(of)
        assert (row["grantee"], row["quarter"], row["through"]) == (history.slug, Q, "2026-09-30")
        assert int(row["position"]) == doc["stands_at"]["position"]
    assert rates > 0  # the history has rates to show


class Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attrs: list[str] = []
        self.text: list[str] = []
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs.extend(name for name, _ in attrs)
        self.hrefs.extend(v or "" for name, v in attrs if name == "href")

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_html_is_a_printable_page_with_inline_svg_charts(history: History) -> None:
    r = history.report(Q, format="html")
    assert r.headers["content-type"].startswith("text/html")
    page = Page()
    page.feed(r.text)
    page.close()
    assert page.tags.count("svg") == 3
    titles = "".join(page.text)
    for chart in ("Stage funnel", "Weekly cadence compliance", "Goals set and achieved"):
        assert chart in titles
    # Self-contained: no scripts, no external stylesheets or images; the only links are the
    # way back to the console's reports page, then the figures' drill-downs, relative to the
    # report.
    assert not {"script", "link", "img", "iframe"} & set(page.tags)
    assert "src" not in page.attrs
    back, *figures = page.hrefs
    assert back == f"/console/reports?quarter={Q}" and "Back to the reports" in page.text
    assert figures and all(h.startswith(f"{Q}/figures/") for h in figures)
    assert "@media print" in r.text and "@page" in r.text and ".back{display:none}" in r.text
    # Landmarks: the way back a navigation, the report the page's one main.
    assert page.tags.count("main") == 1 and page.tags.index("nav") < page.tags.index("main")
    # 2026Q3 is over on the suite's day (2026-11-26): final, nothing provisional about it.
    assert "Provisional" not in r.text
    # For a program director: a rate with its numerator and denominator, human labels, no
    # code names or positions, and how each figure is computed.
    text = "".join(page.text)
    assert "27.8% (5 of 18)" in text and "0.2778" not in text
    assert "boundary concern escalations raised" in text
    assert "boundary_concern" not in text and "cadence.compliance_rate" not in text
    assert "log position" not in text
    assert "How each figure is computed" in text and "derived exit" in text


def test_the_page_leaves_out_weeks_that_have_not_begun(history: History) -> None:
    # The suite's clock stands on Thursday 2026-11-26 (W48): W49 to W53 have not begun.
    page = Page()
    running = history.report("2026Q4", format="html").text
    page.feed(running)
    labels = {t.strip() for t in page.text}
    assert {"W40", "W48"} <= labels and not {"W49", "W52", "W53"} & labels
    # A quarter still running in the grantee's zone says so before any figure.
    said = " ".join("".join(page.text).split())
    assert (
        "Provisional. 2026Q4 has not ended in America/Chicago (its last day is 2026-12-31): its"
        " figures can still change, and its PIRL file cannot be certified until the quarter is"
        " over." in said
    )
    assert running.index('id="standing"') < running.index("<svg")


def test_as_of_gives_the_report_as_it_stood_then(history: History) -> None:
    assert history.before_last is not None
    exit_position = history.positions(history.ids["P2"], "Exited")[0]
    earlier = history.report(Q, as_of=history.before_last.isoformat()).json()
    figures = {k: v["value"] for k, v in earlier["figures"].items()}
    assert figures["exits.completed"] == 0
    assert figures["exits.total"] == 1
    assert figures["funnel.completed"] == 0
    assert figures["enrolment.active"] == 4
    assert figures["enrolment.exited"] == 2
    assert earlier["stands_at"]["position"] == exit_position - 1
    now = history.report(Q).json()
    assert now["figures"]["exits.completed"]["value"] == 1
    assert now["stands_at"]["position"] == exit_position
    # As of now, the replay from the events alone equals the live view, byte for byte.
    for fmt in ("json", "csv", "html"):
        live = history.report(Q, format=fmt).content
        replayed = history.report(Q, format=fmt, as_of=clock.now().isoformat()).content
        assert replayed == live, fmt
    drill = history.drill(Q, "exits.completed", as_of=history.before_last.isoformat())
    assert drill["positions"] == [] and drill["value"] == 0


def test_cross_grantee_report_rows_and_totals(history: History, other: str) -> None:
    r = get(history, f"/v1/reports/quarterly/{Q}")
    assert r.status_code == 200, r.text
    doc = r.json()
    slugs = [g["grantee"] for g in doc["grantees"]]
    assert slugs == sorted(slugs) and {history.slug, other} <= set(slugs)
    mine = next(g for g in doc["grantees"] if g["grantee"] == history.slug)
    assert mine == history.report(Q).json()
    theirs = next(g for g in doc["grantees"] if g["grantee"] == other)
    assert theirs["figures"]["enrolment.new"]["value"] == 2
    assert theirs["figures"]["exits.completed"]["value"] == 1
    totals = doc["totals"]
    kinds = {f.name: f for f in catalogue(Quarter(2026, 3))}

    def total(name: str) -> float:
        return sum(g["figures"][name]["value"] or 0 for g in doc["grantees"])

    for name, fig in kinds.items():
        if fig.kind is Kind.COUNT:
            assert totals[name] == total(name), name
        elif fig.kind is Kind.SUM:
            assert totals[name] == pytest.approx(total(name)), name
    for rate, num, den in (
        ("retention.rate", "retention.retained", "retention.eligible"),
        (
            "mentoring.coverage_rate",
            "mentoring.paired_participants",
            "mentoring.active_participants",
        ),
    ):
        assert totals[rate] == round(total(num) / total(den), 4)
    csv_rows = list(
        csv.DictReader(
            io.StringIO(get(history, f"/v1/reports/quarterly/{Q}", params={"format": "csv"}).text)
        )
    )
    total_rows = {row["figure"]: row["value"] for row in csv_rows if row["grantee"] == "TOTAL"}
    assert total_rows["enrolment.cumulative"] == str(totals["enrolment.cumulative"])
    assert {row["grantee"] for row in csv_rows} == {*slugs, "TOTAL"}
    html = get(history, f"/v1/reports/quarterly/{Q}", params={"format": "html"})
    assert html.headers["content-type"].startswith("text/html") and html.text.count("<svg") == 3
    assert f'<a href="/console/oversight?quarter={Q}">Back to the oversight dashboard' in html.text
    assert html.text.count("<main>") == 1 and "Provisional" not in html.text
    running = get(history, "/v1/reports/quarterly/2026Q4", params={"format": "html"}).text
    assert "Provisional.</strong> 2026Q4 has not ended for every grantee" in running
    again = get(history, f"/v1/reports/quarterly/{Q}")
    assert again.content == r.content


def test_cross_grantee_report_keeps_to_the_token_grantees(history: History, other: str) -> None:
    headers = history.auth("federal_oversight", other)
    projector.drain(history.db, history.schema)
    doc = history.client.get(f"/v1/reports/quarterly/{Q}", headers=headers).json()
    assert [g["grantee"] for g in doc["grantees"]] == [other]


def test_access_404_for_another_grantee_and_403_for_other_roles(
    history: History, other: str
) -> None:
    path = f"{history.base}/reports/quarterly/{Q}"
    for role in ("federal_oversight", "coordinator"):
        r = history.client.get(path, headers=history.auth(role, other))
        assert r.status_code == 404 and r.json()["code"] == "grantee_not_found"
        r = history.client.get(path + "/figures/meetings.held", headers=history.auth(role, other))
        assert r.status_code == 404
    for role in ("case_manager", "peer_mentor", "rrc_staff", "platform_admin"):
        r = history.client.get(path, headers=history.auth(role, history.slug))
        assert r.status_code == 403 and r.json()["code"] == "forbidden", role
    for role in ("grantee_admin", "coordinator", "auditor", "federal_oversight"):
        assert history.client.get(path, headers=history.auth(role, history.slug)).status_code == 200
    for role in ("coordinator", "auditor", "grantee_admin", "platform_admin"):
        r = history.client.get(f"/v1/reports/quarterly/{Q}", headers=history.auth(role, "*"))
        assert r.status_code == 403, role
    assert history.client.get(f"/v1/reports/quarterly/{Q}").status_code == 401


@pytest.mark.parametrize(
    "quarter", ["2026Q5", "2026Q0", "2026-Q3", "26Q3", "1899Q4", "2201Q1", "q", "2026q3"]
)
def test_invalid_quarters_are_400(history: History, quarter: str) -> None:
    for path in (
        f"{history.base}/reports/quarterly/{quarter}",
        f"{history.base}/reports/quarterly/{quarter}/figures/meetings.held",
        f"/v1/reports/quarterly/{quarter}",
    ):
        r = get(history, path)
        assert r.status_code == 400, (path, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
        assert r.json()["code"] == "invalid_quarter"


def test_next_quarter_is_refused_until_it_begins(history: History) -> None:
    today = clock.now().date()
    current = Quarter.of(today)
    following = Quarter(current.year + (current.number == 4), current.number % 4 + 1)
    for path in (
        f"{history.base}/reports/quarterly/{following.name}",
        f"{history.base}/reports/quarterly/{following.name}/figures/meetings.held",
        f"/v1/reports/quarterly/{following.name}",
        "/v1/reports/quarterly/2200Q4",
    ):
        r = get(history, path)
        assert r.status_code == 422 and r.json()["code"] == "quarter_not_started", path
    # As of an instant before 2026Q3 began, 2026Q3 had not begun either.
    r = get(
        history, f"{history.base}/reports/quarterly/{Q}", params={"as_of": "2026-06-30T12:00:00Z"}
    )
    assert r.status_code == 422 and r.json()["code"] == "quarter_not_started"


@pytest.mark.parametrize(
    "as_of",
    ["yesterday", "2026-10-01T00:00:00", "2026-10-01", "2026-13-01T00:00:00Z", "future"],
)
def test_invalid_as_of_is_400(history: History, as_of: str) -> None:
    if as_of == "future":
        as_of = (clock.now() + timedelta(days=2)).isoformat()
    for path in (f"{history.base}/reports/quarterly/{Q}", f"/v1/reports/quarterly/{Q}"):
        r = get(history, path, params={"as_of": as_of})
        assert r.status_code == 400, (path, as_of, r.text)
        assert r.json()["code"] == "invalid_instant"


def personal_values(history: History) -> list[str]:
    values = []
    for first, last, dob, register in PEOPLE.values():
        values += [first, last, dob, register, dob.replace("-", "")]
    values += [part for name in MENTOR_NAMES for part in name.split()]
    for key, ident in history.ids.items():
        if key.startswith(("P", "M")):
            values += [ident, ident.replace("-", "")]
    for key in PEOPLE:
        number = history.client.get(
            f"{history.base}/participants/{history.ids[key]}",
            headers=history.auth("coordinator", history.slug),
        ).json()["number"]
        if len(number) >= 6:
            values.append(number)
    values += ["Talked about", "asked for help", "says thanks", "talked it through"]
    return values


def test_no_oversight_response_carries_personal_data(history: History, other: str) -> None:
    """Every report, drill-down and cross-grantee response a federal_oversight token can get,
    in every format: no personal field as a key or CSV column, no personal value anywhere."""
    quarters = [Q, "2026Q2", Quarter.of(clock.now().date()).name]
    as_ofs = [None, history.before_last.isoformat() if history.before_last else None]
    responses = []
    for quarter in quarters:
        for as_of in as_ofs:
            params = {} if as_of is None else {"as_of": as_of}
            for fmt in ("json", "csv", "html"):
                for path in (
                    f"{history.base}/reports/quarterly/{quarter}",
                    f"/v1/reports/quarterly/{quarter}",
                ):
                    responses.append(get(history, path, params={**params, "format": fmt}))
        doc = get(history, f"{history.base}/reports/quarterly/{quarter}").json()
        for name, figure in doc["figures"].items():
            if figure["events"]:
                responses.append(
                    get(history, f"{history.base}/reports/quarterly/{quarter}/figures/{name}")
                )
    values = personal_values(history)
    assert len(responses) > 60
    for r in responses:
        assert r.status_code == 200, r.text
        media = r.headers["content-type"]
        if media.startswith("application/json"):
            assert personal_keys(r.json()) == set(), r.url
        elif media.startswith("text/csv"):
            header = next(csv.reader(io.StringIO(r.text)))
            assert not set(header) & PERSONAL_FIELDS
        else:
            assert media.startswith("text/html")
        for value in values:
            assert value.encode() not in r.content, (value, r.url)
            assert value.lower().encode() not in r.content.lower(), (value, r.url)


def test_an_altered_log_gives_no_report_but_a_problem(
    client: TestClient[Litestar],
    auth: Callable[..., dict[str, str]],
    db: Database,
    make_grantee: Callable[[], str],
) -> None:
    slug = make_grantee()
    schema = f"g_{slug}"
    projector.drain(db, schema)
    corrupt_event(db, schema, 2)
    as_of = clock.now().isoformat()
    headers = auth("federal_oversight", slug)
    for path in (f"/v1/grantees/{slug}/reports/quarterly/{Q}", f"/v1/reports/quarterly/{Q}"):
        r = client.get(path, params={"as_of": as_of}, headers=headers)
        assert r.status_code == 409, r.text
        assert r.json()["code"] == "log_unreadable"
        assert "position 2" in r.json()["detail"]
