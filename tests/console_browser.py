"""A real Chromium (Debian's package, headless, driven by Selenium with explicit paths: nothing
is downloaded) against the real application served by uvicorn (`prowd serve`, with its
projection worker) on 127.0.0.1, and a small world made through the API. The console's browser
tests, its accessibility check and its screenshots use it."""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from tests.deploy_sim import free_port
from tests.meetings_helpers import World
from tests.people import birth_date

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
# The server's clock (PROWD_CLOCK, ticking): a Tuesday, 10:00 in Chicago, so "this week" and
# the cadence alerts are the same whatever day the tests run.
SERVER_CLOCK = "2026-03-10T15:00:00+00:00"
# Rosa Delgado's case manager (the tour's case manager is `demo-case_manager`, holding nobody),
# and what the mentor wrote about her crisis: for the coordinators only (decision 129).
CASE_MANAGER = "cm-ines"
CRISIS_WORDS = "Rosa was evicted and slept at the bus station."


def need_chromium() -> None:
    """Chromium and its driver, or the test fails under CI (and is skipped elsewhere)."""
    if shutil.which(CHROMIUM) and shutil.which(CHROMEDRIVER):
        return
    message = "Debian's chromium and chromium-driver are needed (apt-get install chromium chromium-driver)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def chromium(width: int = 1280, height: int = 900) -> Any:
    need_chromium()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--hide-scrollbars",
        f"--window-size={width},{height}",
        "--lang=en-US",
    ):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    return driver


def serve(database_url: str, settings: Any, log: Path) -> Iterator[str]:
    """`prowd serve` (uvicorn and the projection worker) on a free loopback port."""
    port = free_port()
    env = {
        **os.environ,
        "PROWD_DATABASE_URL": database_url,
        "PROWD_DATA_DIR": str(settings.data_dir.resolve()),
        "PROWD_JWT_SECRET": settings.jwt_secret,
        "PROWD_CLOCK": SERVER_CLOCK,
        "PROWD_RATE_LIMIT_TOKEN": "0",
        "PROWD_RATE_LIMIT_IP": "0",
        "PROWD_LOG_LEVEL": "warning",
        # The pages are what is tried here, beside other tests' processes: the API keeps an
        # equal share of the CPU (decision 143's priority is for a host the service has alone).
        "PROWD_API_NICE": "0",
    }
    env.pop("PROWD_PARENT_PID", None)
    argv = ["serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "services.cli", *argv],
            env=env,
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.3)
        yield url
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


@dataclass
class Scene:
    """The world the browser visits: a grantee (America/Chicago), a certified mentor paired
    with Marisol Quintero (stage 1, no meeting for months: a missed cadence), Tobias Brandvold
    at RRC-1 and Imani Okafor at RRC-2 (stage 2), and another mentor's group of Rosa Delgado
    and Kwame Mensah (stage 1); a crisis about Rosa, unresolved for more than a day, and her
    case manager `CASE_MANAGER`."""

    url: str
    slug: str
    quintero: str
    brandvold: str
    okafor: str
    pairing: str
    goal: str
    escalation: str
    mentor: str = ""
    consent: str = ""
    group: str = ""
    delgado: str = ""
    planned: str = ""
    step: str = ""
    referral: str = ""
    earlier: str = ""
    unanswered: str = ""
    delgado_crisis: str = ""
    # Quintero's release papers, attached untagged (decision 140's page).
    document: str = ""


@contextmanager
def own_database(server_url: str) -> Iterator[str]:
    """A new, empty database on the test server, dropped afterwards."""
    name = f"prowd_console_{secrets.token_hex(4)}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield make_conninfo(server_url, dbname=name)
    finally:
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def build_scene(url: str, auth: Callable[..., dict[str, str]]) -> Scene:
    with httpx.Client(base_url=url, timeout=30) as http:
        # The world speaks HTTP only here (its event counts, which read the database, are unused).
        world = World(http, auth, None)  # type: ignore[arg-type]
        world.post("/facilities", {"code": "RRC-2", "name": "RRC Two", "kind": "rrc"})

        def enrol(first: str, last: str) -> str:
            body = {
                "first_name": first,
                "last_name": last,
                "date_of_birth": birth_date(),
                "program_entry_date": "2025-09-15",
                "facility": "FCI-A",
                "cohort": "C1",
            }
            return str(world.post("/participants", body)["id"])

        quintero = enrol("Marisol", "Quintero")
        brandvold = enrol("Tobias", "Brandvold")
        okafor = enrol("Imani", "Okafor")
        for person, rrc in ((brandvold, "RRC-1"), (okafor, "RRC-2")):
            world.post(
                f"/participants/{person}/stage-transitions",
                {
                    "to_stage": 2,
                    "placement": "rrc",
                    "facility": rrc,
                    "occurred_at": "2026-02-02T15:00:00Z",
                },
            )
        mentor = world.mentor("mentor-ana")
        pairing = world.pair(mentor, [quintero], "2025-10-01T15:00:00Z")
        # A meeting planned for Thursday (not tomorrow: no reminder among the alerts), for the
        # missed and cancel forms; scheduled, it leaves the cadence alert as it is.
        planned = world.schedule(pairing, "2026-03-12T16:30:00-05:00")["id"]
        # One planned months ago and not yet answered, for the held form on a phone (its week
        # long before the cadence alert's).
        earlier = world.schedule(pairing, "2025-11-11T12:00:00-06:00")["id"]
        # One planned in January that no test answers: the meeting form lists it as awaiting an
        # outcome and the alerts carry it (a meeting without outcome), in every order of tests.
        unanswered = world.schedule(pairing, "2026-01-20T15:00:00-06:00")["id"]
        # A group, for its add-member and remove-member forms.
        delgado = enrol("Rosa", "Delgado")
        ben = world.mentor("mentor-ben")
        group = world.pair(
            ben,
            [delgado, enrol("Kwame", "Mensah")],
            "2026-02-16T15:00:00Z",
            kind="group",
        )
        goal = world.post(
            "/goals",
            {
                "participant_id": quintero,
                "horizon": "short_term",
                "domain": "id_documents",
                "statement": "Get a state ID card",
                "measure": "ID card issued by the DMV",
                "target": "card in hand",
                "target_date": "2026-04-30",
            },
            role="case_manager",
        )
        # A step of the goal, for its complete and drop forms.
        step = world.post(
            f"/goals/{goal['id']}/steps",
            {"description": "Request a birth certificate", "due_on": "2026-04-15"},
            role="case_manager",
        )["steps"][0]["step_id"]
        jobs = world.post(
            "/resources",
            {
                "name": "Second Chance Jobs",
                "category": "job_placement",
                "description": "Job placement for people with records",
                "contact": {"phone": "+1 312 555 0100"},
            },
        )
        # Contact details with a long email address and address: the participant page's
        # label/value list must still fit a phone's screen.
        world.post(
            f"/participants/{quintero}/contact",
            {
                "phone": "+1 312 555 0147",
                "email": "marisol.quintero-hernandez.family-contact@northside-reentry-works.org",
                "address": "4417 North Kedzie Avenue, Apartment 3R, Chicago, Illinois 60625",
            },
            role="case_manager",
        )
        # The assign form's staff directory (decision 114).
        world.post(
            f"/participants/{quintero}/assignments", {"duty": "coordinator", "staff": "co-lena"}
        )
        # The participant page's referrals, case notes and documents.
        referral = world.post(
            "/referrals",
            {"participant_id": quintero, "resource_id": jobs["id"], "need": "A warehouse job"},
            role="case_manager",
        )
        world.post(
            f"/participants/{quintero}/case-notes",
            {"text": "Talked about housing; a voucher application is due in March."},
            role="case_manager",
        )
        attached = http.post(
            f"{world.base}/participants/{quintero}/documents",
            files={"file": ("release.pdf", b"%PDF-1.4\n% release\n", "application/pdf")},
            data={"title": "Release papers", "kind": "release_papers"},
            headers=world.headers("case_manager"),
        )
        assert attached.status_code == 201, attached.text
        # A crisis the mentor raised two days ago, about no one mentee: an alert, not a row's.
        crisis = world.post(
            "/escalations",
            {
                "mentor_id": mentor,
                "type": "crisis",
                "severity": "high",
                "description": "A mentor was threatened at the bus stop after a meeting.",
                "raised_at": "2026-03-08T15:00:00Z",
            },
        )
        # A crisis about Rosa Delgado, whose case manager is CASE_MANAGER: among her alerts
        # without its words (decision 129). The tour's case manager holds nobody, so their
        # caseload still opens on everyone.
        world.post(
            f"/participants/{delgado}/assignments", {"duty": "case_manager", "staff": CASE_MANAGER}
        )
        delgado_crisis = world.post(
            "/escalations",
            {
                "mentor_id": ben,
                "participant_id": delgado,
                "type": "crisis",
                "severity": "critical",
                "description": CRISIS_WORDS,
                "raised_at": "2026-03-09T03:00:00Z",
            },
        )
        # A consent in force, for the revoke form.
        consent = world.post(
            f"/participants/{quintero}/consents",
            {
                "discloser": "Northside Works reentry mentoring program",
                "information": ["attendance"],
                "recipient": "export:pirl",
                "purpose": "the quarterly participant report to DOL",
                "signed_on": "2026-03-02",
                "signed_by": "participant",
                "expires_on": "2026-09-02",
            },
            role="case_manager",
        )
        return Scene(
            url,
            world.slug,
            quintero,
            brandvold,
            okafor,
            pairing,
            str(goal["id"]),
            str(crisis["id"]),
            mentor,
            str(consent["id"]),
            group,
            delgado,
            str(planned),
            str(step),
            str(referral["id"]),
            str(earlier),
            str(unanswered),
            str(delgado_crisis["id"]),
            str(attached.json()["id"]),
        )


def wait_for(condition: Callable[[], Any], seconds: float = 20, what: str = "") -> Any:
    """`condition()` once it holds. A page replaced while the condition reads it (a form sent,
    the next page loading) is "not yet": the element read went stale, or Chromium answers that
    the node no longer belongs to the document."""
    from selenium.common.exceptions import (
        NoSuchElementException,
        StaleElementReferenceException,
        WebDriverException,
    )

    deadline = time.monotonic() + seconds
    while True:
        try:
            value = condition()
        except (NoSuchElementException, StaleElementReferenceException):
            value = None
        except WebDriverException as e:
            if "does not belong to the document" not in str(e.msg):
                raise
            value = None
        if value:
            return value
        assert time.monotonic() < deadline, f"waited {seconds}s for {what or condition}"
        time.sleep(0.2)


def sign_in(driver: Any, scene: Scene, role: str, subject: str = "", rrc: str = "") -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    driver.get(f"{scene.url}/console/sign-in")
    Select(driver.find_element(By.ID, "role")).select_by_value(role)
    Select(driver.find_element(By.ID, "grantee")).select_by_value(scene.slug)
    driver.find_element(By.ID, "subject").send_keys(subject)
    driver.find_element(By.ID, "rrc").send_keys(rrc)
    driver.find_element(By.CSS_SELECTOR, "form.stack button[type=submit]").click()
    wait_for(lambda: "/sign-in" not in driver.current_url, what="the sign-in")


AXE = ROOT / "tools" / "axe" / "node_modules" / "axe-core" / "axe.min.js"
IMAGES = ROOT / "docs" / "img"
PHONE, DESKTOP = 390, 1280


def axe_violations(driver: Any) -> list[dict[str, Any]]:
    """axe-core's violations on the page shown (axe from tools/axe, injected into the page)."""
    if not AXE.exists():
        message = "axe-core is not installed: npm ci --prefix tools/axe"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    driver.execute_script(AXE.read_text())
    driver.set_script_timeout(60)
    found: list[dict[str, Any]] = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "axe.run(document, {resultTypes: ['violations']}).then(r => done(r.violations.map("
        "v => ({id: v.id, impact: v.impact, help: v.help,"
        " targets: v.nodes.map(n => n.target.join(' '))}))));"
    )
    return found


def screenshot(driver: Any, name: str) -> None:
    """docs/img/console-<name>-desktop.png and -phone.png, the whole page at each width."""
    IMAGES.mkdir(parents=True, exist_ok=True)
    for label, width in (("desktop", DESKTOP), ("phone", PHONE)):
        driver.set_window_size(width, 900)
        time.sleep(0.3)  # the page reflows at the new width
        height = driver.execute_script(
            "return Math.max(document.body.scrollHeight, document.documentElement.scrollHeight)"
        )
        driver.set_window_size(width, max(600, min(int(height) + 120, 4000)))
        time.sleep(0.3)
        driver.save_screenshot(str(IMAGES / f"console-{name}-{label}.png"))
    driver.set_window_size(DESKTOP, 900)


def tour(driver: Any, scene: Scene) -> Iterator[str]:
    """Every page of the console, each yielded by name once it is shown."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    driver.delete_all_cookies()
    driver.get(f"{scene.url}/console/sign-in")
    yield "sign-in"
    sign_in(driver, scene, "case_manager")
    wait_for(
        lambda: "Quintero" in driver.find_element(By.ID, "results").text or driver.refresh(),
        what="the caseload",
    )
    yield "caseload"
    driver.get(f"{scene.url}/console/enrol")
    yield "enrol-form"
    driver.get(f"{scene.url}/console/participants/{scene.quintero}")
    yield "participant"
    driver.get(f"{scene.url}/console/participants/{scene.quintero}/meeting")
    yield "meeting-form"
    occurred = driver.find_element(By.ID, "occurred_at")
    driver.execute_script("arguments[0].value = '2026-04-01T09:00'", occurred)
    driver.find_element(By.ID, "duration_minutes").send_keys("60")
    driver.execute_script("document.querySelector('input[name=topics]').checked = true")
    driver.find_element(By.CSS_SELECTOR, "main form button[type=submit]").click()
    wait_for(lambda: driver.find_elements(By.ID, "refusal"), what="the refusal")
    yield "meeting-refused"
    driver.get(f"{scene.url}/console/participants/{scene.quintero}/schedule")
    yield "schedule-form"
    about = f"participant={scene.quintero}"
    driver.get(f"{scene.url}/console/meetings/{scene.planned}/missed?{about}")
    yield "missed-form"
    driver.get(f"{scene.url}/console/meetings/{scene.planned}/cancel?{about}")
    yield "cancel-form"
    driver.get(f"{scene.url}/console/meetings/{scene.planned}/held?{about}")
    yield "held-form"
    # Planned for Thursday: held at that time lies in the future, refused beside the time.
    driver.find_element(By.ID, "duration_minutes").send_keys("60")
    driver.execute_script("document.querySelector('input[name=topics]').checked = true")
    driver.find_element(By.CSS_SELECTOR, "main form button[type=submit]").click()
    wait_for(lambda: driver.find_elements(By.ID, "refusal"), what="the refusal")
    yield "held-refused"
    driver.get(f"{scene.url}/console/participants/{scene.quintero}/escalation")
    yield "raise-escalation-form"
    driver.get(f"{scene.url}/console/participants/{scene.quintero}/contact")
    yield "contact-form"
    driver.get(f"{scene.url}/console/participants/{scene.quintero}/goal")
    for field, value in (("statement", "Get a bus pass"), ("measure", "Pass in hand")):
        driver.find_element(By.ID, field).send_keys(value)
    driver.find_element(By.ID, "target").send_keys("a monthly pass")
    Select(driver.find_element(By.ID, "domain")).select_by_value("transportation")
    Select(driver.find_element(By.ID, "horizon")).select_by_value("weekly")
    driver.execute_script(
        "document.getElementById('target_date').value = '2026-12-31'",
    )
    driver.find_element(By.CSS_SELECTOR, "main form button[type=submit]").click()
    wait_for(lambda: driver.find_elements(By.ID, "target_date-error"), what="the refusal")
    yield "goal-refused"
    driver.get(f"{scene.url}/console/meetings")
    yield "week"
    driver.get(f"{scene.url}/console/alerts")
    yield "alerts"
    driver.get(f"{scene.url}/console/participants/{scene.quintero}/stage")
    yield "stage-form"
    driver.get(f"{scene.url}/console/participants/{scene.brandvold}/pairing")
    yield "pair-form"
    driver.get(f"{scene.url}/console/participants/{scene.brandvold}/group")
    yield "group-form"
    # Sent with nothing chosen: each field's sentence beside it, nothing recorded.
    driver.execute_script("document.querySelector('main form').noValidate = true")
    driver.find_element(By.CSS_SELECTOR, "main form button[type=submit]:not([name])").click()
    wait_for(lambda: driver.find_elements(By.ID, "focus-error"), what="the refusal")
    yield "group-refused"
    about = f"participant={scene.delgado}"
    driver.get(f"{scene.url}/console/pairings/{scene.group}/member?{about}")
    yield "add-member-form"
    driver.get(f"{scene.url}/console/pairings/{scene.group}/member-removal?{about}")
    yield "remove-member-form"
    driver.get(f"{scene.url}/console/pairings/{scene.pairing}/end?participant={scene.quintero}")
    yield "end-pairing-form"
    driver.get(f"{scene.url}/console/participants/{scene.quintero}/assign")
    yield "assign-form"
    driver.get(f"{scene.url}/console/participants/{scene.quintero}/referral")
    yield "referral-form"
    for step in ("handover", "connection", "decline"):
        driver.get(f"{scene.url}/console/referrals/{scene.referral}/{step}")
        yield f"referral-{step}-form"
    driver.get(f"{scene.url}/console/participants/{scene.quintero}/document")
    yield "document-upload-form"
    part2 = f"/console/participants/{scene.quintero}/documents/{scene.document}/part2"
    driver.get(f"{scene.url}{part2}")
    yield "document-part2-form"
    # The box ticked, no reason: the sentence beside the reason, nothing recorded.
    driver.execute_script("document.getElementById('entry').noValidate = true")
    driver.find_element(By.ID, "part2").click()
    driver.find_element(By.CSS_SELECTOR, "form#entry button[type=submit]").click()
    wait_for(lambda: driver.find_elements(By.ID, "reason-error"), what="the refusal")
    yield "document-part2-refused"
    driver.get(f"{scene.url}/console/participants/{scene.quintero}/correct")
    yield "correct-form"
    driver.get(f"{scene.url}/console/participants/{scene.quintero}/contact-details")
    yield "contact-details-form"
    driver.get(f"{scene.url}/console/participants/{scene.quintero}/consent")
    yield "consent-form"
    # Sent with nothing chosen: each field's sentence beside it, nothing recorded.
    driver.execute_script("document.querySelector('main form').noValidate = true")
    driver.find_element(By.CSS_SELECTOR, "main form button[type=submit]").click()
    wait_for(lambda: driver.find_elements(By.ID, "recipient-error"), what="the refusal")
    yield "consent-refused"
    driver.get(f"{scene.url}/console/participants/{scene.quintero}/consents/{scene.consent}/revoke")
    yield "revoke-form"
    driver.get(f"{scene.url}/console/goals/{scene.goal}/progress")
    yield "progress-form"
    driver.get(f"{scene.url}/console/goals/{scene.goal}/step")
    yield "goal-step-form"
    # A step due after the goal's target date: the rule's sentence beside the day.
    driver.find_element(By.ID, "description").send_keys("Book the DMV visit")
    driver.execute_script("document.getElementById('due_on').value = '2026-05-15'")
    driver.find_element(By.CSS_SELECTOR, "main form button[type=submit]").click()
    wait_for(lambda: driver.find_elements(By.ID, "due_on-error"), what="the refusal")
    yield "goal-step-refused"
    for form in ("complete", "drop"):
        driver.get(f"{scene.url}/console/goals/{scene.goal}/steps/{scene.step}/{form}")
        yield f"step-{form}-form"
    for form in ("revise", "achieve", "abandon"):
        driver.get(f"{scene.url}/console/goals/{scene.goal}/{form}")
        yield f"goal-{form}-form"
    for form in ("exit", "job"):
        driver.get(f"{scene.url}/console/participants/{scene.quintero}/{form}")
        yield f"{form}-form"
    # A wage that is not a number, and nothing else: each sentence beside its field.
    driver.execute_script("document.querySelector('main form').noValidate = true")
    driver.find_element(By.ID, "wage").send_keys("eighteen")
    driver.find_element(By.CSS_SELECTOR, "main form button[type=submit]").click()
    wait_for(lambda: driver.find_elements(By.ID, "wage-error"), what="the refusal")
    yield "job-refused"
    for form in ("credential", "housing"):
        driver.get(f"{scene.url}/console/participants/{scene.quintero}/{form}")
        yield f"{form}-form"
    driver.get(f"{scene.url}/console/participants/00000000-0000-4000-8000-000000000000")
    yield "not-found"
    driver.delete_all_cookies()
    sign_in(driver, scene, "coordinator")
    driver.get(f"{scene.url}/console/mentors")
    yield "mentors"
    driver.get(f"{scene.url}/console/mentors/{scene.mentor}")
    yield "mentor"
    driver.get(f"{scene.url}/console/mentors/{scene.mentor}/training")
    yield "mentor-training-form"
    driver.get(f"{scene.url}/console/reports?quarter=2026Q1")
    yield "reports"
    # Recording the PIRL file is a form's POST; the page then links the recorded file.
    driver.find_element(By.CSS_SELECTOR, "#record-pirl button[type=submit]").click()
    wait_for(lambda: driver.find_elements(By.ID, "made"), what="the recorded PIRL file")
    yield "reports-recorded"
    # The recorded file's certify page: its SHA-256 must fit a phone's screen.
    certify = driver.find_element(By.CSS_SELECTOR, 'main a[href$="/certify"]')
    driver.get(str(certify.get_attribute("href")))
    wait_for(lambda: driver.find_elements(By.ID, "sha256"), what="the certify page")
    yield "certify-form"
    # The open escalations, each linked to its page (decision 138).
    driver.get(f"{scene.url}/console/escalations")
    link = f'main table a[href="/console/escalations/{scene.escalation}"]'
    wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, link), what="the escalations")
    yield "escalations"
    driver.get(f"{scene.url}/console/escalations/{scene.escalation}")
    # Not yet acknowledged: its form acknowledges (Resolve is offered once it is).
    wait_for(lambda: driver.find_elements(By.ID, "note"), what="the escalation")
    yield "escalation"
    driver.get(f"{scene.url}/console/reports/quarterly/2026Q1/figures/enrolment.new")
    assert driver.find_elements(By.ID, "counted"), "the figure's drill-down"
    yield "report-figure"
    driver.delete_all_cookies()
    sign_in(driver, scene, "auditor")
    yield "audit"
    driver.delete_all_cookies()
    sign_in(driver, scene, "federal_oversight")
    wait_for(
        lambda: (
            "Quintero" not in driver.page_source
            and scene.slug in driver.find_element(By.ID, "figures").text
        ),
        what="the oversight figures",
    )
    yield "oversight"
    driver.delete_all_cookies()
    sign_in(driver, scene, "rrc_staff", rrc="RRC-1")
    wait_for(
        lambda: driver.find_elements(By.CSS_SELECTOR, "tbody tr") or driver.refresh(),
        what="the residents",
    )
    yield "rrc"
    driver.get(f"{scene.url}/console/rrc/residents/{scene.brandvold}")
    yield "resident"
