"""The staff console over HTTP (issue 22): the development sign-in, the session cookie's flags,
CSRF on every form, the idle timeout, sign-out, no-store and access-log rows on personal pages,
the API's refusals shown in plain words, and the vendored htmx's digest. The browser itself is
in tests/test_console_browser.py; the OIDC sign-in in tests/test_console_oidc.py."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from domain import clock
from services.api.app import create_app
from services.projector import live as projector
from services.settings import Settings
from services.store.database import Database
from tests.conftest import count_events
from tests.console_helpers import csrf_of, sign_in
from tests.meetings_helpers import World as MeetingsWorld

ROOT = Path(__file__).resolve().parents[1]


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
    # The cookie is base64 of nonce + ciphertext + the clear expiry the cipher
    # authenticates; decode it and look for the subject and a JWT in the bytes.
    value = session.split(";", 1)[0].split("=", 1)[1].strip('"')
    sealed = base64.b64decode(value)
    ciphertext, _, clear = sealed.partition(b"additional_authenticated_data=")
    assert clear.startswith(b'{"expires_at":')
    for readable in (b"demo-case_manager", b"case_manager", b"eyJ", grantee.encode()):
        assert readable not in ciphertext and readable not in clear
    before = access_rows(db, grantee)
    page = browser.get("/console/caseload")
    assert page.status_code == 200
    assert "<bdi>Quintero</bdi>, <bdi>Marisol</bdi>" in page.text
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
    assert "<bdi>Brandvold</bdi>, <bdi>Tobias</bdi>" in r.text and "Quintero" not in r.text
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
    # A GET records nothing: with no export of the quarter on record there is no file.
    assert browser.get("/console/exports/pirl/2026Q1").status_code == 404
    assert 'action="/console/exports/pirl/2026Q1"' in reports.text
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
    # The badge says "intact"; the sentence beside it says what that means, not "intact" again.
    assert "</span> intact" not in page.text
    assert "No record was altered, deleted, inserted or moved." in page.text


def test_the_audit_page_is_refused_to_a_case_manager_and_a_grantee_admin_reads_no_events(
    browser, grantee, enrol
):
    enrol()
    sign_in(browser, "case_manager", grantee)
    refused = browser.get("/console/audit")
    assert refused.status_code == 403
    assert "Only grantee administrators and auditors may open the audit page" in refused.text
    sign_in(browser, "grantee_admin", grantee)
    page = browser.get("/console/audit")
    assert page.status_code == 200 and "intact" in page.text
    assert "Only auditors read the stored events." in page.text


def test_oversight_staff_open_the_cross_grantee_report(browser, grantee):
    sign_in(browser, "federal_oversight", grantee)
    assert (
        browser.get("/console/", follow_redirects=False).headers["location"] == "/console/oversight"
    )
    page = browser.get("/console/oversight?quarter=2026Q1")
    assert page.status_code == 200
    report = browser.get("/console/oversight/quarterly/2026Q1")
    assert report.status_code == 200 and report.headers["content-type"].startswith("text/html")


PDF = b"%PDF-1.4\n% release papers\n"


def cells(html: str, grantee: str) -> dict[str, str]:
    """The oversight table's cells of one grantee's row, by figure."""
    row = html.split(f'data-grantee="{grantee}">')[1].split("</tr>")[0]
    return dict(re.findall(r'data-figure="([^"]+)">([^<]*)</td>', row))


@pytest.fixture
def world(client, auth, db) -> MeetingsWorld:
    return MeetingsWorld(client, auth, db)


def test_the_participant_page_shows_referrals_case_notes_and_documents_by_role(
    browser, client, world, db
):
    pid = world.enrol(name="Odalys")
    mentor = world.mentor("mentor-zed")
    world.pair(mentor, [pid], "2025-10-01T15:00:00Z")
    world.post(
        f"/participants/{pid}/case-notes",
        {"text": "Housing voucher discussed."},
        role="case_manager",
    )
    uploaded = client.post(
        f"{world.base}/participants/{pid}/documents",
        files={"file": ("release.pdf", PDF, "application/pdf")},
        data={"title": "Release papers", "kind": "release_papers"},
        headers=world.headers("case_manager"),
    )
    assert uploaded.status_code == 201, uploaded.text
    doc = uploaded.json()
    resource = world.post(
        "/resources",
        {
            "name": "Second Chance Jobs",
            "category": "job_placement",
            "description": "Job placement",
            "contact": {"phone": "+1 312 555 0100"},
        },
    )
    world.post(
        "/referrals",
        {"participant_id": pid, "resource_id": resource["id"], "need": "A forklift job"},
        role="case_manager",
    )
    projector.drain(db, f"g_{world.slug}")

    sign_in(browser, "case_manager", world.slug)
    page = browser.get(f"/console/participants/{pid}")
    assert page.status_code == 200
    notes = page.text.split('id="h-notes"')[1].split("</section>")[0]
    assert "Housing voucher discussed." in notes and "test-case_manager" in notes
    referrals = page.text.split('id="h-referrals"')[1].split("</section>")[0]
    assert "A forklift job" in referrals and "job placement" in referrals
    documents = page.text.split('id="h-documents"')[1].split("</section>")[0]
    link = f"/console/participants/{pid}/documents/{doc['id']}"
    assert "Release papers" in documents and f'href="{link}"' in documents

    # The download goes through the API's endpoint: its bytes, its headers, its access-log row;
    # the address holds ids only.
    before = access_rows(db, world.slug)
    got = browser.get(link)
    assert got.status_code == 200 and got.content == PDF
    assert got.headers["content-type"] == "application/pdf"
    assert got.headers["content-disposition"].startswith("attachment; filename=")
    assert got.headers["cache-control"] == "no-store"
    assert got.headers["x-content-type-options"] == "nosniff"
    logged = db.fetchall(
        f'SELECT action, resources FROM "g_{world.slug}".access_log'
        " WHERE action = 'documents.download' ORDER BY id"
    )
    assert [(r[1]["participant_id"], r[1]["document_id"]) for r in logged] == [(pid, doc["id"])]
    assert access_rows(db, world.slug) > before
    # Another participant's document by the address: the API's not found.
    other = world.enrol(name="Bea")
    assert browser.get(f"/console/participants/{other}/documents/{doc['id']}").status_code == 404

    # A peer mentor reads their mentee's referrals, never the case notes or the documents.
    browser.cookies.clear()
    sign_in(browser, "peer_mentor", world.slug, subject="mentor-zed")
    mine = browser.get(f"/console/participants/{pid}")
    assert mine.status_code == 200
    assert "A forklift job" in mine.text
    assert "Housing voucher" not in mine.text and "Release papers" not in mine.text
    for section in ("h-notes", "h-documents"):
        part = mine.text.split(f'id="{section}"')[1].split("</section>")[0]
        assert "Not available to your role." in part
    refused = browser.get(link)
    assert refused.status_code == 403 and PDF not in refused.content


def test_the_oversight_dashboard_shows_the_apis_figures_per_grantee_with_charts(
    browser, client, auth, world, db
):
    people = [world.enrol(name=n) for n in ("Ana", "Ben", "Cruz")]
    mentor = world.mentor("mentor-oy")
    pairing = world.pair(mentor, people[:2], "2026-10-05T15:00:00Z", kind="group")
    world.meet(
        pairing,
        "2026-11-16T15:00:00Z",
        90,
        attendance={people[0]: "present", people[1]: "absent"},
    )
    projector.drain(db, f"g_{world.slug}")
    quarter = "2026Q4"
    api = client.get(
        f"/v1/reports/quarterly/{quarter}", headers=auth("federal_oversight", "*")
    ).json()
    mine = next(g for g in api["grantees"] if g["grantee"] == world.slug)["figures"]
    assert mine["meetings.held"]["value"] == 1 and mine["meetings.hours"]["value"] == 1.5
    # Two of the active participants are paired (the world's graduates count as active too).
    paired, active = mine["mentoring.coverage_rate"]["of"]
    assert paired == 2 and active >= 3

    sign_in(browser, "federal_oversight", world.slug)
    page = browser.get(f"/console/oversight?quarter={quarter}")
    assert page.status_code == 200
    shown = cells(page.text, world.slug)
    assert shown["meetings.held"] == "1" and shown["meetings.hours"] == "1.5"
    assert shown["mentoring.coverage_rate"] == f"{100 * paired / active:.1f}% (2 of {active})"
    for name in ("enrolment.new", "enrolment.active", "exits.total", "meetings.held"):
        assert shown[name] == str(mine[name]["value"]), name
    for name in ("cadence.compliance_rate", "retention.rate"):
        value, of = mine[name]["value"], mine[name]["of"]
        words = "\u2014" if value is None else f"{100 * value:.1f}%"
        assert shown[name] == f"{words} ({of[0]} of {of[1]})", name
    totals = cells(page.text, "All grantees")
    assert totals["enrolment.new"] == str(api["totals"]["enrolment.new"])
    of = api["totals_of"]["mentoring.coverage_rate"]
    assert totals["mentoring.coverage_rate"].endswith(f"({of[0]} of {of[1]})")
    # Charts drawn on the server, named for assistive technology; no script, no personal data.
    assert page.text.count('<svg class="chart" role="img"') == 2
    assert '<title id="people-t">Participants per grantee, 2026Q4</title>' in page.text
    assert "Ana" not in page.text.split("<main")[1] and "Lee" not in page.text.split("<main")[1]
    # A quarter the API refuses: its words, not an error page.
    bad = browser.get("/console/oversight?quarter=2026Q9")
    assert bad.status_code == 200 and "is not a quarter" in bad.text


@pytest.mark.parametrize(
    "quarter",
    ["%00", "%0A", "2026Q4%3Fformat%3Dcsv", "2026Q4%23x", "2026Q4%2F..%2Fx"],
    ids=["nul", "newline", "query", "fragment", "slash"],
)
@pytest.mark.parametrize(
    "route",
    ["/console/reports/quarterly/", "/console/exports/pirl/", "/console/oversight/quarterly/"],
)
def test_a_quarter_in_the_address_is_one_value_refused_in_words(browser, grantee, route, quarter):
    """Whatever the address holds, the console asks the API about that value as it stands (it
    is escaped into the API's path): never a 500, never another request than the one meant."""
    sign_in(browser, "federal_oversight" if "oversight" in route else "coordinator", grantee)
    answer = browser.get(route + quarter)
    assert answer.status_code in (400, 404), (answer.status_code, answer.text[:300])
    assert "2026 Q4" not in answer.text and "internal" not in answer.text.lower()


def test_a_coordinator_certifies_a_recorded_pirl_file_in_the_console(
    browser, client, auth, grantee, enrol, db, frozen_at
):
    frozen_at(datetime(2026, 10, 20, 15, 0, tzinfo=UTC))
    enrol(program_entry_date="2026-07-01")
    exported = client.post(
        f"/v1/grantees/{grantee}/exports/pirl/2026Q3", headers=auth("coordinator", grantee)
    )
    assert exported.status_code == 201, exported.text
    export_id, digest = exported.headers["x-export-id"], exported.headers["x-export-digest"]
    sign_in(browser, "coordinator", grantee)
    listed = browser.get("/console/reports?quarter=2026Q3")
    assert f"/console/exports/{export_id}/certify" in listed.text and digest[:12] in listed.text
    # A blank name is refused in words, and nothing is recorded.
    events = count_events(db, grantee)
    path = f"/console/exports/{export_id}/certify"
    refused = form(
        browser,
        path,
        {"signer_name": " ", "signer_title": "Coordinator", "statement": "I certify."},
    )
    assert refused.status_code in (400, 422)
    problem = refused.text.split('id="refusal"')[1].split("</div>")[0]
    assert "Your name, as you sign" in problem and "signer_name" not in problem
    assert count_events(db, grantee) == events
    done = form(
        browser,
        path,
        {
            "signer_name": "Dana Reyes",
            "signer_title": "Coordinator",
            "statement": "I certify that this file is drawn from our own records.",
        },
    )
    assert done.status_code == 303, done.text
    shown = browser.get(done.headers["location"]).text
    assert "Dana Reyes, Coordinator" in shown and "Certify this file" not in shown
    record = client.get(
        f"/v1/grantees/{grantee}/exports/{export_id}", headers=auth("auditor", grantee)
    ).json()
    assert record["certification"]["sha256"] == digest
    # An auditor reads who certified, with no link to certify.
    sign_in(browser, "auditor", grantee)
    seen = browser.get("/console/reports?quarter=2026Q3")
    assert seen.status_code == 200 and "Dana Reyes" in seen.text
    assert "Certify this file" not in seen.text


def _picked(page: str, name: str) -> list[str]:
    """The options of the sign-in page's `name` select that are selected."""
    box = page.split(f'<select id="{name}"')[1].split("</select>")[0]
    return re.findall(r'<option value="([^"]+)" selected>', box)


@pytest.mark.parametrize(
    ("rrc", "said"),
    [
        ("RRC-9", "has no RRC with the code 'RRC-9'"),
        ("FCI-A", "has no RRC with the code 'FCI-A'"),  # a BOP institution, not an RRC
        ("", "RRC staff sign in with their RRC's facility code: fill in RRC."),
    ],
    ids=["unknown", "not-an-rrc", "none"],
)
def test_rrc_staff_sign_in_only_with_one_of_the_grantees_rrcs(browser, grantee, rrc, said):
    """An RRC code the grantee has no RRC for used to sign in, and every page then answered
    "Not found"; the sign-in now refuses it beside the RRC box, keeping what was typed."""
    browser.get("/console/sign-in")
    form = {"role": "rrc_staff", "grantee": grantee, "subject": "lee", "rrc": rrc}
    refused = browser.post(
        "/console/sign-in", data={**form, "_csrf_token": csrf_of(browser)}, follow_redirects=False
    )
    assert refused.status_code == 422
    page = refused.text.replace("&#39;", "'").replace("&#34;", '"')
    assert said in page.split('id="rrc-error"')[1].split("</p>")[0]
    assert 'aria-invalid="true" aria-describedby="rrc-error rrc-help"' in page
    assert _picked(page, "role") == ["rrc_staff"] and _picked(page, "grantee") == [grantee]
    assert 'name="subject" autocomplete="username" value="lee"' in page
    assert f'name="rrc" value="{rrc}"' in page
    # Not signed in: the console still sends the browser to the sign-in.
    r = browser.get("/console/rrc", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/console/sign-in")
    # The grantee's RRC signs in and its residents' page opens.
    sign_in(browser, "rrc_staff", grantee, rrc="RRC-1")
    assert browser.get("/console/rrc").status_code == 200


def test_a_grantee_that_is_not_registered_is_refused_at_sign_in(browser, grantee):
    browser.get("/console/sign-in")
    refused = browser.post(
        "/console/sign-in",
        data={"role": "coordinator", "grantee": "nowhere_at_all", "_csrf_token": csrf_of(browser)},
        follow_redirects=False,
    )
    assert refused.status_code == 422
    beside = refused.text.split('id="grantee-error"')[1].split("</p>")[0]
    assert "There is no grantee" in beside and "nowhere_at_all" in beside
    assert browser.get("/console/caseload", follow_redirects=False).status_code == 303


def test_the_sign_in_offers_the_configured_grantee_first(settings, db, grantee):
    """`prowd demo` names the grantee of its tokens and the README's walk-through
    (PROWD_CONSOLE_GRANTEE): the picker selects it; a slug not registered falls back to the
    first grantee."""
    for wanted in (grantee, "not_registered_here"):
        configured = dataclasses.replace(settings, console_grantee=wanted)
        with TestClient(create_app(configured, db)) as console:
            page = console.get("/console/sign-in").text
        listed = re.findall(r'<option value="([^"]+)"', page.split('<select id="grantee"')[1])
        expected = grantee if wanted == grantee else listed[0]
        assert _picked(page, "grantee") == [expected]
        assert _picked(page, "role") == ["case_manager"]
    assert Settings.from_env({"PROWD_CONSOLE_GRANTEE": " northside_works "}).console_grantee == (
        "northside_works"
    )
