"""The staff console over HTTP (issue 22): the development sign-in, the session cookie's flags,
CSRF on every form, the idle timeout, sign-out, no-store and access-log rows on personal pages,
the API's refusals shown in plain words, and the vendored htmx's digest. The browser itself is
in tests/test_console_browser.py; the OIDC sign-in in tests/test_console_oidc.py."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from domain import clock
from services.projector import live as projector
from services.store.database import Database
from tests.conftest import count_events
from tests.console_helpers import csrf_of, sign_in

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def browser(client: TestClient[Litestar]) -> Iterator[TestClient[Litestar]]:
    """The session's test client with no cookie: a browser of its own for the test."""
    client.cookies.clear()
    yield client
    client.cookies.clear()


def access_rows(db: Database, slug: str) -> int:
    row = db.fetchone(f'SELECT count(*) FROM "g_{slug}".access_log')
    return int(row[0]) if row else 0


def test_sign_in_sets_a_sealed_httponly_lax_session_and_opens_the_caseload(
    browser, grantee, enrol, db
):
    enrol(first_name="Marisol", last_name="Quintero")
    projector.drain(db, f"g_{grantee}")
    r = sign_in(browser, "case_manager", grantee)
    cookies = [v for k, v in r.headers.multi_items() if k == "set-cookie"]
    session = next(c for c in cookies if c.startswith("prowd_console="))
    assert "HttpOnly" in session and "Path=/console" in session
    assert "samesite=lax" in session.lower()
    # Sealed (AES-GCM): neither the token nor the subject can be read from the cookie.
    assert "demo-case_manager" not in session and "eyJ" not in session
    before = access_rows(db, grantee)
    page = browser.get("/console/caseload")
    assert page.status_code == 200
    assert "Quintero, Marisol" in page.text
    assert page.headers["cache-control"] == "no-store"
    # No personal data in the title.
    title = page.text.split("<title>")[1].split("</title>")[0]
    assert "Quintero" not in title and "Marisol" not in title
    # The read went through the API, which logged it.
    assert access_rows(db, grantee) > before


def test_a_search_by_name_is_a_post_so_no_name_reaches_an_address(browser, grantee, enrol, db):
    enrol(first_name="Marisol", last_name="Quintero")
    enrol(first_name="Tobias", last_name="Brandvold")
    projector.drain(db, f"g_{grantee}")
    sign_in(browser, "coordinator", grantee)
    r = browser.post("/console/caseload", data={"q": "Brandvold", "_csrf_token": csrf_of(browser)})
    assert r.status_code == 200
    assert "Brandvold, Tobias" in r.text and "Quintero" not in r.text
    assert "Brandvold" not in str(r.url)


def test_every_form_needs_the_csrf_token(browser, grantee):
    browser.get("/console/sign-in")
    form = {"role": "coordinator", "grantee": grantee}
    refused = browser.post("/console/sign-in", data=form, follow_redirects=False)
    assert refused.status_code == 403
    assert "did not come from this console" in refused.text
    sign_in(browser, "coordinator", grantee)
    assert browser.post("/console/sign-out", data={}, follow_redirects=False).status_code == 403
    forged = browser.post(
        "/console/caseload", data={"q": "x", "_csrf_token": "0" * 80}, follow_redirects=False
    )
    assert forged.status_code == 403
    # Still signed in: the refused sign-out did nothing.
    assert browser.get("/console/caseload").status_code == 200


def test_sign_out_ends_the_session(browser, grantee):
    sign_in(browser, "coordinator", grantee)
    out = browser.post(
        "/console/sign-out", data={"_csrf_token": csrf_of(browser)}, follow_redirects=False
    )
    assert out.status_code == 303
    r = browser.get("/console/caseload", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/console/sign-in")


def test_an_idle_session_ends(browser, grantee, frozen_at, settings):
    start = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)
    fixed = frozen_at(start)
    sign_in(browser, "coordinator", grantee)
    fixed.set(start + timedelta(minutes=settings.console_idle_minutes - 1))
    assert browser.get("/console/caseload").status_code == 200
    # Activity restarts the idle clock; a longer silence ends the session.
    fixed.set(start + timedelta(minutes=2 * settings.console_idle_minutes - 1))
    assert browser.get("/console/caseload").status_code == 200
    fixed.advance(timedelta(minutes=settings.console_idle_minutes + 1))
    r = browser.get("/console/caseload", follow_redirects=False)
    assert r.status_code == 303 and "expired" in r.headers["location"]


def test_a_page_without_a_session_sends_to_the_sign_in(browser):
    r = browser.get("/console/caseload", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/console/sign-in")


def test_a_role_without_the_right_is_refused_in_words(browser, grantee, enrol):
    person = enrol()
    sign_in(browser, "federal_oversight", grantee)
    r = browser.get(f"/console/participants/{person['id']}")
    assert r.status_code in (403, 404)
    assert person["last_name"] not in r.text


def test_the_console_is_not_in_the_api_document(client):
    paths = client.get("/schema/openapi.json").json()["paths"]
    assert not [p for p in paths if p.startswith("/console")]


def test_htmx_is_served_from_the_app_with_the_recorded_digest(client):
    readme = (ROOT / "services/api/console/static/README.md").read_text()
    r = client.get("/console/static/htmx.min.js")
    assert r.status_code == 200
    assert hashlib.sha256(r.content).hexdigest() in readme


def form(browser: TestClient[Litestar], path: str, data: dict[str, str]) -> Any:
    """POST a console form with its CSRF token and idempotency key, as the page would."""
    page = browser.get(path)
    assert page.status_code == 200, page.text
    key = page.text.split('name="idempotency_key" value="')[1].split('"')[0]
    return browser.post(
        path,
        data={**data, "idempotency_key": key, "_csrf_token": csrf_of(browser)},
        follow_redirects=False,
    )


def test_a_goals_progress_is_recorded_once_however_often_the_form_is_sent(
    browser, client, auth, grantee, enrol, db
):
    person = enrol()
    today = clock.now().date()
    goal = client.post(
        f"/v1/grantees/{grantee}/goals",
        json={
            "participant_id": person["id"],
            "horizon": "short_term",
            "domain": "id_documents",
            "statement": "Get a state ID card",
            "measure": "ID card issued by the DMV",
            "target": "card in hand",
            "target_date": (today + timedelta(days=60)).isoformat(),
        },
        headers=auth("case_manager", grantee),
    ).json()
    sign_in(browser, "case_manager", grantee)
    path = f"/console/goals/{goal['id']}/progress"
    page = browser.get(path)
    assert "Get a state ID card" in page.text
    assert "Get a state ID card" not in page.text.split("</title>")[0]
    key = page.text.split('name="idempotency_key" value="')[1].split('"')[0]
    data = {"note": "Birth certificate ordered", "evidence": "receipt seen", "percent": "30"}
    before = count_events(db, grantee)
    for _ in range(2):  # sent twice (a double click, a retry): recorded once
        r = browser.post(
            path,
            data={**data, "idempotency_key": key, "_csrf_token": csrf_of(browser)},
            follow_redirects=False,
        )
        assert r.status_code == 303 and r.headers["location"].endswith(person["id"])
    assert count_events(db, grantee) == before + 1
    projector.drain(db, f"g_{grantee}")
    shown = browser.get(r.headers["location"])
    assert "Recorded." in shown.text
    assert "30%" in shown.text and "1 progress update" in shown.text


def test_a_refused_stage_transition_shows_the_rule_and_appends_nothing(browser, grantee, enrol, db):
    person = enrol()
    sign_in(browser, "coordinator", grantee)
    before = count_events(db, grantee)
    r = form(
        browser,
        f"/console/participants/{person['id']}/stage",
        {
            "to_stage": "2",
            "placement": "rrc",
            "facility": "FCI-A",
            "occurred_at": "2026-02-10T09:00",
        },
    )
    assert r.status_code == 422
    refusal = r.text.split('id="refusal"')[1].split("</div>")[0]
    assert "RRC" in refusal or "rrc" in refusal
    assert count_events(db, grantee) == before
    done = form(
        browser,
        f"/console/participants/{person['id']}/stage",
        {
            "to_stage": "2",
            "placement": "rrc",
            "facility": "RRC-1",
            "occurred_at": "2026-02-10T09:00",
        },
    )
    assert done.status_code == 303
    projector.drain(db, f"g_{grantee}")
    assert "Stage 2" in browser.get(done.headers["location"]).text


def test_coordinator_reports_pirl_and_mentors(browser, grantee, enrol, db):
    enrol()
    projector.drain(db, f"g_{grantee}")
    sign_in(browser, "coordinator", grantee)
    reports = browser.get("/console/reports?quarter=2026Q1")
    assert reports.status_code == 200 and "/console/reports/quarterly/2026Q1" in reports.text
    report = browser.get("/console/reports/quarterly/2026Q1")
    assert report.status_code == 200 and report.headers["content-type"].startswith("text/html")
    assert report.headers["cache-control"] == "no-store"
    pirl = browser.get("/console/exports/pirl/2026Q1?allow_warnings=true")
    assert pirl.status_code in (200, 422), pirl.text
    if pirl.status_code == 200:
        assert "attachment" in pirl.headers["content-disposition"]
    mentors = browser.get("/console/mentors")
    assert mentors.status_code == 200 and "<h1>Mentors</h1>" in mentors.text


def test_an_auditor_sees_the_chain_the_access_log_and_the_events(browser, grantee, enrol):
    enrol()
    sign_in(browser, "auditor", grantee)
    home = browser.get("/console/", follow_redirects=False)
    assert home.headers["location"] == "/console/audit"
    page = browser.get("/console/audit")
    assert page.status_code == 200
    assert "intact" in page.text and "Participant enrolled" in page.text


def test_oversight_staff_open_the_cross_grantee_report(browser, grantee):
    sign_in(browser, "federal_oversight", grantee)
    assert (
        browser.get("/console/", follow_redirects=False).headers["location"] == "/console/oversight"
    )
    page = browser.get("/console/oversight?quarter=2026Q1")
    assert page.status_code == 200
    report = browser.get("/console/oversight/quarterly/2026Q1")
    assert report.status_code == 200 and report.headers["content-type"].startswith("text/html")
