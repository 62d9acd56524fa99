"""A mentor's lifecycle from the console, through HTTP form posts against the real application:
registered, screened, trained, cleared and certified by a coordinator, each step read back
through the API, and the mentor then certified on the roster; suspended, reinstated, retired.
Nothing a person must say is pre-filled; a refusal is a sentence next to its field and appends
nothing; roles without `mentors.write` see the mentor's page without forms, and a POST is
refused (403) with nothing appended."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from services.projector import live as projector
from tests.console_helpers import beside, form_of, key_of, post, sign_in
from tests.meetings_helpers import MODULES, World

# A Tuesday, 09:00 in Chicago (the world's zone).
NOW = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)
NEW = "/console/mentors/new"
STEPS = ["screening", "background", "training", "clearance", "certify"]


@pytest.fixture
def world(client, auth, db, frozen_at) -> World:
    frozen_at(NOW, tick=True)
    return World(client, auth, db)


def send(browser: TestClient[Litestar], action: str, data: dict[str, Any]) -> Any:
    """Open the form's page, send it; it must be recorded (303 to the mentor's page)."""
    page = browser.get(action)
    assert page.status_code == 200, page.text
    done = post(browser, action, data, key_of(page.text, action))
    assert done.status_code == 303, done.text
    return done


def notice(browser: TestClient[Litestar], location: str) -> str:
    found = re.search(r'<p class="notice" role="status">([^<]*)</p>', browser.get(location).text)
    return found.group(1) if found else ""


def test_a_coordinator_registers_screens_trains_clears_and_certifies_a_mentor(browser, world):
    sign_in(browser, "coordinator", world.slug)
    projector.drain(world.db, world.schema)  # the cohorts, participants and facilities listed
    roster = browser.get("/console/mentors")
    assert f'href="{NEW}"' in roster.text
    form = browser.get(NEW)
    assert form.status_code == 200, form.text
    html = form_of(form.text, NEW)
    # Nothing a person must say is filled in; the graduate is chosen from a list of the
    # graduated cohort's participants, not typed as an id.
    assert re.findall(r'type="text" value="([^"]*)"', html) == ["", "", ""]
    assert " selected" not in html
    graduates = re.findall(r'<option value="([0-9a-f-]{36})">([^<]*)</option>', html)
    assert len(graduates) == 4 and all(", C0" in label for _, label in graduates), graduates
    key = key_of(form.text, NEW)
    before = world.events()

    # Refused, in sentences next to the fields; nothing appended.
    r = post(browser, NEW, {"display_name": "", "expected_hours_per_month": "lots"}, key)
    assert r.status_code == 422
    assert beside(r, "display_name") == "Name as shown: fill this in."
    assert beside(r, "source") == "Source: choose one of the options."
    assert beside(r, "expected_hours_per_month") == (
        "Expected hours a month: enter a number, such as 1.5."
    )
    # Text float() would read as a number that is none: refused the same way, not a 500.
    for odd in ("nan", "inf", "-Infinity", "1e3", "9" * 400):
        r = post(browser, NEW, {"display_name": "X", "expected_hours_per_month": odd}, key)
        assert r.status_code == 422, odd
        assert beside(r, "expected_hours_per_month") == (
            "Expected hours a month: enter a number, such as 1.5."
        ), odd
    person = {
        "display_name": "Marcus W.",
        "source": "graduate",
        "participant_id": "",
        "channel": "cohort_graduation",
        "lived_experience": "yes",
        "expected_hours_per_month": "6",
    }
    r = post(browser, NEW, person, key)
    assert r.status_code == 422, r.text
    assert beside(r, "participant_id") == ("A graduate mentor is linked to the participant record.")
    assert 'value="Marcus W."' in r.text
    assert world.events() == before

    # Registered once, however often the same form is sent.
    graduate = graduates[0][0]
    done = post(browser, NEW, {**person, "participant_id": graduate}, key)
    assert done.status_code == 303, done.text
    again = post(browser, NEW, {**person, "participant_id": graduate}, key)
    assert again.headers["location"] == done.headers["location"]
    page = done.headers["location"]
    mentor_id = page.rsplit("/", 1)[1]
    mentor = world.get(f"/mentors/{mentor_id}")
    assert (mentor["status"], mentor["participant_id"], mentor["expected_hours_per_month"]) == (
        "applicant",
        graduate,
        6.0,
    )
    assert notice(browser, page) == "Registered: Marcus W., an applicant."

    # Certification before training and screening is refused next to what it lacks.
    certify = f"{page}/certify"
    shown = browser.get(certify)
    before = world.events()
    r = post(browser, certify, {}, key_of(shown.text, certify))
    assert r.status_code == 422, r.text
    assert beside(r, "training").startswith("Certification needs all six training modules")
    assert world.events() == before

    mentor_page = browser.get(page).text
    for step in STEPS:
        assert f'href="{page}/{step}"' in mentor_page
    for step in ("application", "interview", "references"):
        done = send(
            browser,
            f"{page}/screening",
            {"step": step, "completed_on": "2026-03-02", "staff": "Dana Cole", "note": ""},
        )
    assert world.get(f"/mentors/{mentor_id}")["screening_completed"] == [
        "application",
        "interview",
        "references",
    ]
    assert notice(browser, page) == "Screening step recorded: references, Mon 02 Mar 2026."

    # Training hours that are no finite number are the form's own refusal; nothing appended.
    training = f"{page}/training"
    shown = browser.get(training)
    before = world.events()
    for odd in ("nan", "inf", "NaN"):
        r = post(
            browser,
            training,
            {"module": MODULES[0], "completed_on": "2026-03-03", "hours": odd, "trainer": "Lou"},
            key_of(shown.text, training),
        )
        assert r.status_code == 422, odd
        assert r.headers["content-type"].startswith("text/html")
        assert beside(r, "hours") == "Hours: enter a number, such as 1.5.", odd
    assert world.events() == before

    # Still refused: the screening is not approved without the background review.
    for module in MODULES:
        send(
            browser,
            f"{page}/training",
            {"module": module, "completed_on": "2026-03-03", "hours": "1.5", "trainer": "Lou"},
        )
    mentor = world.get(f"/mentors/{mentor_id}")
    assert (mentor["missing_modules"], mentor["training_hours"]) == ([], 9.0)
    shown = browser.get(certify)
    r = post(browser, certify, {}, key_of(shown.text, certify))
    assert r.status_code == 422
    assert beside(r, "screening").startswith("Screening is not approved")
    assert beside(r, "training") == ""

    send(
        browser,
        f"{page}/background",
        {"decision": "approved", "reviewer": "Rita Ortiz", "reviewed_on": "2026-03-04"},
    )
    assert world.get(f"/mentors/{mentor_id}")["screening_approved"] is True

    clearance = f"{page}/clearance"
    shown = browser.get(clearance)
    assert re.findall(r'<option value="([^"]*)"', form_of(shown.text, clearance)) == [
        "",
        "FCI-A",
        "FCI-B",
        "RRC-1",
    ]
    key = key_of(shown.text, clearance)
    before = world.events()
    cleared = {"facility": "FCI-A", "trained_on": "2026-03-05", "expires_on": "2026-03-05"}
    r = post(browser, clearance, cleared, key)
    assert r.status_code == 422
    assert beside(r, "expires_on") == "A clearance expires after its training date."
    assert world.events() == before
    post(browser, clearance, {**cleared, "expires_on": "2027-03-05"}, key)
    assert world.get(f"/mentors/{mentor_id}")["clearances"] == [
        {"facility": "FCI-A", "trained_on": "2026-03-05", "expires_on": "2027-03-05"}
    ]

    send(browser, certify, {})
    assert world.get(f"/mentors/{mentor_id}")["status"] == "certified"
    shown = browser.get(page).text
    assert "Certified: Marcus W. may now be paired." in shown
    assert "FCI-A" in shown and "Fri 05 Mar 2027" in shown
    roster = world.view("/mentors")["items"]
    assert [(m["id"], m["status"]) for m in roster if m["id"] == mentor_id] == [
        (mentor_id, "certified")
    ]
    assert f'href="{page}"' in browser.get("/console/mentors").text


def test_a_coordinator_suspends_reinstates_and_retires_a_mentor(browser, world):
    mentor_id = world.mentor("mentor-bo")
    page = f"/console/mentors/{mentor_id}"
    sign_in(browser, "coordinator", world.slug)
    shown = browser.get(page).text
    assert f'href="{page}/suspend"' in shown and f'href="{page}/certify"' not in shown
    assert f'href="{page}/reinstate"' not in shown

    suspend = f"{page}/suspend"
    key = key_of(browser.get(suspend).text, suspend)
    before = world.events()
    r = post(browser, suspend, {"reason": "  "}, key)
    assert r.status_code == 422
    assert beside(r, "reason") == "Reason: fill this in."
    assert world.events() == before
    post(browser, suspend, {"reason": "Missed three supervision sessions"}, key)
    assert world.get(f"/mentors/{mentor_id}")["status"] == "suspended"

    send(browser, f"{page}/reinstate", {"note": ""})
    assert world.get(f"/mentors/{mentor_id}")["status"] == "certified"
    send(browser, f"{page}/retire", {"reason": "Moved out of state"})
    assert world.get(f"/mentors/{mentor_id}")["status"] == "retired"
    shown = browser.get(page).text
    assert "Retired: Mentor mentor-bo; open pairings are flagged for reassignment." in shown
    assert "Next steps" not in shown


@pytest.mark.parametrize("role", ["case_manager", "peer_mentor"])
def test_roles_without_mentors_write_have_no_forms_and_a_post_is_refused(browser, world, role):
    mentor_id = world.mentor("mentor-cy")
    page = f"/console/mentors/{mentor_id}"
    sign_in(browser, role, world.slug, subject="mentor-cy" if role == "peer_mentor" else "")
    shown = browser.get(page)
    if role == "case_manager":
        # Case managers read the roster and a mentor's page (`mentors.read`), without forms.
        assert shown.status_code == 200, shown.text
        assert "Mentor mentor-cy" in shown.text and "FCI-A" in shown.text
        assert "<form" not in shown.text.split("<main")[1]
        assert f'href="{page}/' not in shown.text
        assert f'href="{NEW}"' not in browser.get("/console/mentors").text
    else:
        # A peer mentor reads no mentor records at all: the API's refusal, in words.
        assert shown.status_code == 403, shown.text
    assert browser.get(f"{page}/suspend").status_code == 403
    assert browser.get(NEW).status_code == 403
    before = world.events()
    r = post(browser, f"{page}/suspend", {"reason": "No reason"}, "k-refused")
    assert r.status_code == 403
    assert "Only coordinators" in r.text
    r = post(browser, NEW, {"display_name": "X", "source": "community_peer"}, "k-refused-2")
    assert r.status_code == 403
    assert world.events() == before
    assert world.get(f"/mentors/{mentor_id}")["status"] == "certified"
