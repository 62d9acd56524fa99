"""The coordinator who signs the quarter for DOL, in the console: the reports page (who may
open it, the quarter asked for, the exports of that quarter, a quarter still running marked
provisional), each figure's drill-down from the printable report, and the certification of a
PIRL file (the file's digest, rows and time on the form, the statement's rule, a quarter not
ended refused, who certified a file already, the certified file downloaded byte for byte)."""

from __future__ import annotations

import hashlib
import html
import re
from datetime import UTC, datetime
from typing import Any

from litestar import Litestar
from litestar.testing import TestClient

from services.projector import live as projector
from tests.conftest import count_events
from tests.console_helpers import beside, csrf_of, sign_in

STATEMENT = "I certify that this file is drawn from the grantee's own records."


def _form(browser: TestClient[Litestar], path: str, data: dict[str, str]) -> Any:
    page = browser.get(path)
    assert page.status_code == 200, page.text
    key = page.text.split('name="idempotency_key" value="')[1].split('"')[0]
    return browser.post(
        path,
        data={**data, "idempotency_key": key, "_csrf_token": csrf_of(browser)},
        follow_redirects=False,
    )


def _export(client, auth, grantee: str, quarter: str) -> dict[str, str]:
    r = client.post(
        f"/v1/grantees/{grantee}/exports/pirl/{quarter}", headers=auth("coordinator", grantee)
    )
    assert r.status_code == 201, r.text
    return {"id": r.headers["x-export-id"], "sha256": r.headers["x-export-digest"]}


def _refusal(page: str) -> str:
    return page.split('id="refusal"')[1].split("</div>")[0]


def test_each_figure_of_the_quarterly_report_opens_the_units_it_counted(
    browser, client, auth, grantee, enrol, db, frozen_at
):
    frozen_at(datetime(2026, 10, 20, 15, 0, tzinfo=UTC))
    for first in ("Ann", "Bea", "Cal"):
        enrol(first_name=first, program_entry_date="2026-08-03")
    enrol(first_name="Dov", program_entry_date="2026-04-06")  # an earlier quarter's entrant
    projector.drain(db, f"g_{grantee}")
    sign_in(browser, "coordinator", grantee)
    report = browser.get("/console/reports/quarterly/2026Q3")
    assert report.status_code == 200, report.text
    # The printable page's links are relative: under the console's address they open its
    # drill-down pages. Every figure has one, and each one opens.
    links = re.findall(r'href="(2026Q3/figures/[^"]+)"', report.text)
    assert "2026Q3/figures/enrolment.new" in links and len(links) > 10
    api = f"/v1/grantees/{grantee}/reports/quarterly/2026Q3/figures/enrolment.new"
    truth = client.get(api, headers=auth("coordinator", grantee)).json()
    assert truth["value"] == 3 and len(truth["units"]) == 3
    for link in links:
        opened = browser.get("/console/reports/quarterly/" + link)
        assert opened.status_code == 200, (link, opened.text[:300])
    drill = browser.get("/console/reports/quarterly/2026Q3/figures/enrolment.new")
    assert drill.status_code == 200, drill.text
    # Headed by the report's label for the figure, as the printable page names it; its name
    # in the JSON and CSV said below, not as the heading.
    assert "<h1>2026Q3: Participants enrolled in the quarter</h1>" in drill.text
    assert "<title>2026Q3: Participants enrolled in the quarter" in drill.text
    assert '<dd id="figure"><code>enrolment.new</code>' in drill.text
    codes = browser.get("/console/reports/quarterly/2026Q3/figures/funnel.reached_stage_2")
    assert "<h1>2026Q3: Reached stage 2 (RRC or home confinement)</h1>" in codes.text
    worded = browser.get(
        "/console/reports/quarterly/2026Q3/figures/escalations.raised.boundary_concern"
    )
    assert "<h1>2026Q3: Boundary concern escalations raised</h1>" in worded.text
    assert re.search(r'id="value">\s*3\s*<', drill.text)
    assert re.search(r'id="counted">\s*3\s*<', drill.text)
    for unit in truth["units"]:
        assert f'<td data-label="Log positions">{", ".join(map(str, unit))}</td>' in drill.text
    assert ", ".join(map(str, truth["positions"])) in drill.text
    assert "Ann" not in drill.text and "Lee" not in drill.text  # positions, never names
    # The quarter in either case; an unknown figure is the console's Not found page.
    lower = browser.get("/console/reports/quarterly/2026q3/figures/enrolment.new")
    assert lower.status_code == 200 and re.search(r'id="value">\s*3\s*<', lower.text)
    missing = browser.get("/console/reports/quarterly/2026Q3/figures/enrolment.everyone")
    assert missing.status_code == 404 and "Not found" in missing.text
    # A case manager may not open it, and is told who may.
    sign_in(browser, "case_manager", grantee)
    refused = browser.get("/console/reports/quarterly/2026Q3/figures/enrolment.new")
    assert refused.status_code == 403 and "Only coordinators" in refused.text


def test_the_reports_page_names_who_may_see_it_and_reads_the_quarter(
    browser, client, auth, grantee, enrol, db, frozen_at
):
    frozen_at(datetime(2026, 10, 20, 15, 0, tzinfo=UTC))
    enrol(program_entry_date="2026-05-04")
    second = _export(client, auth, grantee, "2026Q2")
    third = _export(client, auth, grantee, "2026Q3")
    for role in ("case_manager", "peer_mentor"):
        sign_in(browser, role, grantee)
        refused = browser.get("/console/reports?quarter=2026Q3")
        assert refused.status_code == 403, refused.text
        assert (
            "Only coordinators, grantee administrators, auditors and federal oversight staff"
            " may open the reports page" in refused.text
        )
        assert third["id"] not in refused.text
    sign_in(browser, "coordinator", grantee)
    bad = browser.get("/console/reports?quarter=2026Q9")
    assert bad.status_code == 400
    assert "is not a quarter. Write the year and the quarter" in bad.text
    # Typed the other way round: said beside the box, which keeps it, on the page itself.
    typed = browser.get("/console/reports", params={"quarter": "Q3 2026"})
    assert typed.status_code == 400
    assert beside(typed, "quarter") == (
        "'Q3 2026' is not a quarter. Write the year and the quarter's number as YYYYQn, for"
        " example 2026Q3 (July to September 2026)."
    )
    box = typed.text.split('<input id="quarter"')[1].split(">")[0]
    assert 'value="Q3 2026"' in box and 'aria-invalid="true"' in box
    assert 'aria-describedby="quarter-error"' in box
    assert 'href="/console/caseload"' in typed.text and "Recorded exports" not in typed.text
    # Lower case is the same quarter; only its exports are listed.
    page = browser.get("/console/reports?quarter=2026q3")
    assert page.status_code == 200, page.text
    assert 'value="2026Q3"' in page.text and "/console/reports/quarterly/2026Q3" in page.text
    assert third["id"] in page.text and second["id"] not in page.text
    assert f"/console/exports/{third['id']}/certify" in page.text
    assert "Provisional" not in page.text
    earlier = browser.get("/console/reports?quarter=2026Q2").text
    assert second["id"] in earlier and third["id"] not in earlier
    # 20 October: 2026Q4 is running, so its figures are provisional.
    running = browser.get("/console/reports?quarter=2026Q4")
    assert running.status_code == 200 and "Provisional." in running.text
    assert "No export of 2026Q4 is recorded" in running.text
    # So is its printable report, which leads back here; an ended quarter's is not marked.
    printable = browser.get("/console/reports/quarterly/2026Q4").text
    assert "<strong>Provisional.</strong> 2026Q4 has not ended in" in printable
    assert '<a href="/console/reports?quarter=2026Q4">Back to the reports</a>' in printable
    assert printable.count("<main>") == 1
    ended = browser.get("/console/reports/quarterly/2026Q3").text
    assert "Provisional" not in ended and 'href="/console/reports?quarter=2026Q3"' in ended
    # A quarter not begun has no report: said, and not linked (its address is refused).
    ahead = browser.get("/console/reports?quarter=2030Q1")
    assert ahead.status_code == 200 and "Not begun." in ahead.text
    assert "/console/reports/quarterly/2030Q1" not in ahead.text
    assert "The quarterly report for" not in ahead.text
    assert browser.get("/console/reports/quarterly/2030Q1").status_code == 422
    # The API lists one quarter's exports too, and refuses a malformed quarter.
    listed = client.get(
        f"/v1/grantees/{grantee}/exports?quarter=2026Q2", headers=auth("auditor", grantee)
    )
    assert [e["id"] for e in listed.json()["items"]] == [second["id"]]
    wrong = client.get(
        f"/v1/grantees/{grantee}/exports?quarter=2026Q5", headers=auth("auditor", grantee)
    )
    assert wrong.status_code == 400 and wrong.json()["code"] == "invalid_quarter"


def test_a_coordinator_checks_the_file_signs_it_and_downloads_what_was_signed(
    browser, client, auth, grantee, enrol, db, frozen_at
):
    frozen_at(datetime(2026, 10, 20, 15, 0, tzinfo=UTC))
    enrol(program_entry_date="2026-07-01")
    enrol(first_name="Bea", program_entry_date="2026-08-03")
    exported = _export(client, auth, grantee, "2026Q3")
    path = f"/console/exports/{exported['id']}/certify"
    sign_in(browser, "coordinator", grantee, subject="dana")
    shown = browser.get(path)
    assert shown.status_code == 200
    assert f'<code id="sha256">{exported["sha256"]}</code>' in shown.text
    assert re.search(r'id="rows">\s*2\s*<', shown.text)
    assert "Tue 20 Oct 2026, 11:00 (UTC-04:00)" in shown.text
    # Nobody's title is written into their signature for them.
    title = shown.text.split('name="signer_title"')[1].split(">")[0]
    assert 'value=""' in title or "value=" not in title, title
    # A statement that certifies nothing, or denies it, is refused in words beside the
    # statement, what was typed comes back, and nothing is recorded.
    events = count_events(db, grantee)
    for statement, said in (
        ("I certify.", "at least 40 characters in which you certify"),
        ("All of this file is true and complete, as far as I know.", '"I certify that …"'),
        ("I can't certify that all of this file is true and complete.", "can't certify"),
        ("We decline to certify that this file is true and complete.", "decline to certify"),
        ("I certify that the data are false and I do not stand behind them at all.", "are false"),
    ):
        refused = _form(
            browser,
            path,
            {"signer_name": "Dana Reyes", "signer_title": "Coordinator", "statement": statement},
        )
        assert refused.status_code == 422
        page = html.unescape(refused.text)
        assert said in _refusal(page)
        beside = page.split('id="statement-error"')[1].split("</p>")[0]
        assert said in beside and "Statement" in beside
        assert 'aria-describedby="statement-error statement-help"' in page
        assert f">{statement}</textarea>" in page
        assert count_events(db, grantee) == events
    done = _form(
        browser,
        path,
        {"signer_name": "Dana Reyes", "signer_title": "Coordinator", "statement": STATEMENT},
    )
    assert done.status_code == 303, done.text
    # Opened again, the file says who certified it and when, and offers no form.
    again = browser.get(path)
    assert (
        "Already certified." in again.text
        and '<form method="post" action="/console/exports' not in again.text
    )
    assert (
        "certified by Dana Reyes, Coordinator (signed in as dana), on Tue 20 Oct 2026, 11:00"
        in (again.text)
    )
    quarter = browser.get("/console/reports?quarter=2026Q3").text
    assert "was certified by Dana Reyes, Coordinator, on Tue 20 Oct 2026, 11:00" in quarter
    # An auditor may read who signed, not open the form, and is told who may.
    sign_in(browser, "auditor", grantee)
    barred = browser.get(path)
    assert barred.status_code == 403
    assert "Only coordinators may open the page that certifies a PIRL file" in barred.text
    sign_in(browser, "coordinator", grantee, subject="dana")
    # The certified file, downloaded from the console, is the one signed, byte for byte.
    signed = client.get(
        f"/v1/grantees/{grantee}/exports/{exported['id']}", headers=auth("auditor", grantee)
    ).json()["certification"]
    download = browser.get(f"/console/exports/{exported['id']}/file")
    assert download.status_code == 200 and "attachment" in download.headers["content-disposition"]
    assert hashlib.sha256(download.content).hexdigest() == signed["sha256"] == exported["sha256"]
    assert download.headers["cache-control"] == "no-store"


def test_a_quarter_still_running_is_not_certified_in_the_console(
    browser, client, auth, grantee, enrol, db, frozen_at
):
    clock = frozen_at(datetime(2026, 9, 30, 12, 0, tzinfo=UTC))
    enrol(program_entry_date="2026-07-01")
    exported = _export(client, auth, grantee, "2026Q3")
    path = f"/console/exports/{exported['id']}/certify"
    sign_in(browser, "coordinator", grantee)
    shown = browser.get(path)
    assert "Provisional." in shown.text and "can be certified from the day after" in shown.text
    events = count_events(db, grantee)
    refused = _form(
        browser,
        path,
        {"signer_name": "Dana Reyes", "signer_title": "Coordinator", "statement": STATEMENT},
    )
    assert refused.status_code == 422
    assert "Quarter 2026Q3 has not ended (its last day is 2026-09-30)" in _refusal(refused.text)
    assert count_events(db, grantee) == events
    clock.set(datetime(2026, 10, 1, 12, 0, tzinfo=UTC))
    sign_in(browser, "coordinator", grantee)  # the session idled out overnight
    done = _form(
        browser,
        path,
        {"signer_name": "Dana Reyes", "signer_title": "Coordinator", "statement": STATEMENT},
    )
    assert done.status_code == 303, done.text
