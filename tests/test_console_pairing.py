"""Matching from the console, through HTTP form posts against the real application: a case
manager pairs an unpaired participant with a mentor from the participant's page (the API's
eligibility refusals said as sentences next to their field, appending nothing) and ends a
pairing, whose member's derived exit is shown as under exit review (decision 104); a case
manager is assigned, and a stage transition chooses among the grantee's facilities."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from services.projector import live as projector
from tests.conftest import FreezeAt
from tests.console_helpers import beside, key_of, post, refusal, shown, sign_in
from tests.meetings_helpers import World
from tests.mentoring_helpers import Api
from tests.test_derived_exit_pairings import Scene

# A Tuesday, 09:00 in Chicago (the world's zone).
NOW = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)


@pytest.fixture
def world(client: Any, auth: Any, db: Any, frozen_at: FreezeAt) -> World:
    frozen_at(NOW, tick=True)
    return World(client, auth, db)


def options(page: Any, field: str) -> list[str]:
    select = page.text.split(f'<select id="{field}"')[1].split("</select>")[0]
    return re.findall(r'<option value="([^"]*)"', select)


MATCH = {
    "opened_on": "2026-03-09",
    "place": "bop_institution",
    "facility": "FCI-A",
    "criteria": ["shared_experience", "same_facility"],
    "frequency": "weekly",
    "minutes_per_meeting": "60",
    "months": "6",
}


def test_an_unpaired_participant_is_paired_with_a_mentor_from_the_page(browser, world):
    pid = world.enrol(name="Odalys")
    mentor = world.mentor("ada")
    world.post(f"/mentors/{world.mentor('bo')}/suspension", {"reason": "on leave"})
    projector.drain(world.db, world.schema)
    sign_in(browser, "case_manager", world.slug)

    # No pairing: the page offers one, and the meeting form is no longer a dead end.
    page = browser.get(f"/console/participants/{pid}")
    action = f"/console/participants/{pid}/pairing"
    assert f'href="{action}"' in page.text
    meeting = browser.get(f"/console/participants/{pid}/meeting")
    assert "has no open pairing" in meeting.text and f'href="{action}"' in meeting.text

    form = browser.get(action)
    assert form.status_code == 200
    # Only the certified mentors; nothing a person decides is chosen or typed for them.
    assert options(form, "mentor_id") == ["", mentor]
    assert options(form, "facility") == ["", "FCI-A", "FCI-B", "RRC-1"]
    assert " selected>" not in form.text and " checked>" not in form.text
    assert re.search(r'id="opened_on" name="opened_on" type="date" value=""', form.text)
    key = key_of(form.text, action)
    before = world.events()

    # The console's own reading of the form, each sentence by its field.
    r = post(browser, action, {}, key)
    assert r.status_code == 422
    assert beside(r, "mentor_id") == "Mentor: choose one of the options."
    assert beside(r, "opened_on") == "The match date: enter a date."
    assert beside(r, "criteria") == "Why this match: tick at least one."
    assert beside(r, "minutes_per_meeting") == "Minutes a meeting: fill this in."
    # The API's rules: no clearance for the facility, a date in the future, a suspended
    # mentor (not offered, but a stale form may still send it).
    r = post(browser, action, {**MATCH, "mentor_id": mentor, "facility": "FCI-B"}, key)
    assert r.status_code == 422
    said = "The mentor has no unexpired volunteer clearance for FCI-B."
    assert beside(r, "facility") == said and said in refusal(r)
    assert 'aria-invalid="true" aria-describedby="facility-error' in r.text
    assert "shared_experience" in r.text.split('id="criteria-shared_experience"')[1][:80]
    r = post(browser, action, {**MATCH, "mentor_id": mentor, "opened_on": "2026-03-11"}, key)
    assert beside(r, "opened_on") == "The time the pairing opens lies in the future."
    r = post(browser, action, {**MATCH, "mentor_id": mentor, "minutes_per_meeting": "500"}, key)
    assert beside(r, "minutes_per_meeting").startswith("Minutes a meeting must be 480 or less")
    assert world.events() == before
    assert world.get("/pairings", participant_id=pid)["items"] == []

    # Paired once, however often the form is sent; the mentor is named on the page.
    done = post(browser, action, {**MATCH, "mentor_id": mentor}, key)
    assert done.status_code == 303, done.text
    assert post(browser, action, {**MATCH, "mentor_id": mentor}, key).status_code == 303
    projector.drain(world.db, world.schema)
    (pairing,) = world.get("/pairings", participant_id=pid)["items"]
    assert pairing["mentor_id"] == mentor and pairing["status"] == "open"
    assert pairing["opened_at"].startswith("2026-03-09T00:00:00-05:00")
    page = browser.get(f"/console/participants/{pid}")
    assert "Paired with Mentor ada." in page.text
    assert "pairing with <strong>Mentor ada</strong>, open" in shown(page.text)
    assert f'href="{action}"' not in page.text
    assert f"/console/pairings/{pairing['id']}/end?participant={pid}" in page.text


def test_a_stage_rule_refuses_the_mentor_in_a_sentence(browser, world):
    pid = world.enrol(name="Odalys")
    mentor = world.mentor("ada")
    world.policy(stage1=["stage3_participant"])
    projector.drain(world.db, world.schema)
    sign_in(browser, "case_manager", world.slug)
    action = f"/console/participants/{pid}/pairing"
    before = world.events()
    r = post(
        browser, action, {**MATCH, "mentor_id": mentor}, key_of(browser.get(action).text, action)
    )
    assert r.status_code == 422
    assert beside(r, "mentor_id").startswith(
        "For a stage 1 mentee the mentor must be a stage 3 participant in good standing;"
        " this mentor is an earlier graduate"
    )
    assert world.events() == before


def test_a_pairing_under_exit_review_is_shown_and_ended_from_the_page(
    browser: TestClient[Litestar], client: Any, auth: Any, grantee: str, db: Any, frozen_at: Any
) -> None:
    scene = Scene(Api(client, auth, grantee, db), frozen_at)
    sign_in(browser, "case_manager", grantee)
    page = browser.get(f"/console/participants/{scene.gone}")
    assert "Under exit review: Grad0 has had no service for more than 90 days" in shown(page.text)
    assert "(the last on Mon 01 Jun 2026)" in page.text
    served = browser.get(f"/console/participants/{scene.served}")
    assert "Under exit review" not in served.text
    assert "pairing with <strong>Ada Mentor</strong>" in shown(served.text)

    action = f"/console/pairings/{scene.p_gone}/end?participant={scene.gone}"
    form = browser.get(action)
    assert form.status_code == 200 and " selected>" not in form.text
    key = key_of(form.text, action)
    before = scene.api.events()
    end = {"closure_type": "unplanned", "initiator": "program", "rematch_eligible": "no"}
    r = post(browser, action, {**end, "reason": "  "}, key)
    assert r.status_code == 400  # the API's validation: a reason of blanks is empty
    assert beside(r, "reason") == "The reason must not be empty."
    r = post(browser, action, {"reason": "left the program"}, key)
    assert beside(r, "closure_type") == "Planned or not: choose one of the options."
    assert beside(r, "rematch_eligible") == (
        "May the participant be paired again: choose one of the options."
    )
    assert scene.api.events() == before

    done = post(browser, action, {**end, "reason": "no contact since June"}, key)
    assert done.status_code == 303, done.text
    assert done.headers["location"] == f"/console/participants/{scene.gone}"
    closed = scene.api.get(f"/pairings/{scene.p_gone}")
    assert closed["status"] == "closed" and closed["closure"]["rematch_eligible"] is False
    assert closed["closure"]["exit_of"][0]["participant_id"] == scene.gone
    projector.drain(db, f"g_{grantee}")
    page = browser.get(f"/console/participants/{scene.gone}")
    assert "Pairing ended." in page.text
    assert "Under exit review" not in page.text and "End the pairing" not in page.text
    # Ended already: the API's refusal, said on the form.
    r = post(browser, action, {**end, "reason": "again"}, "another-key")
    assert r.status_code == 422 and "The pairing is closed." in refusal(r)


def test_a_case_manager_is_assigned_from_the_participant_page(browser, world):
    pid = world.enrol(name="Odalys")
    sign_in(browser, "coordinator", world.slug)
    page = browser.get(f"/console/participants/{pid}")
    assert "Case manager: nobody assigned · Coordinator: nobody assigned" in shown(page.text)
    action = f"/console/participants/{pid}/assign"
    assert f'href="{action}"' in page.text
    form = browser.get(action)
    assert " selected>" not in form.text and 'name="staff" type="text" value=""' in form.text
    key = key_of(form.text, action)
    before = world.events()
    r = post(browser, action, {"duty": "", "staff": ""}, key)
    assert r.status_code == 422
    assert beside(r, "duty") == "The duty: choose one of the options."
    assert beside(r, "staff") == (
        "The staff member's sign-in name: fill this in, or tick Unassign (nobody)."
    )
    assert world.events() == before

    # A first assignment of someone new: confirmed as such (decision 148).
    first = {"duty": "case_manager", "staff": "cm-rita", "new_staff": "1"}
    done = post(browser, action, first, key)
    assert done.status_code == 303, done.text
    assert world.get(f"/participants/{pid}")["case_manager"] == "cm-rita"
    # The views take the assignment (no worker runs beside the test: docs/pitfalls.md).
    projector.drain(world.db, world.schema)
    page = browser.get(f"/console/participants/{pid}")
    assert "Case manager assigned: cm-rita." in page.text
    assert "Case manager: cm-rita · Coordinator: nobody assigned" in shown(page.text)
    # The same person again: the API's rule, said next to the name.
    again = browser.get(action)
    r = post(
        browser, action, {"duty": "case_manager", "staff": "cm-rita"}, key_of(again.text, action)
    )
    assert r.status_code == 422
    assert beside(r, "staff") == "The case manager is already cm-rita."
    projector.drain(world.db, world.schema)
    sign_in(browser, "case_manager", world.slug, subject="cm-rita")
    mine = browser.get("/console/caseload?whose=mine")
    assert f"/console/participants/{pid}" in mine.text


def test_the_stage_form_offers_the_grantees_facilities_and_refuses_in_sentences(browser, world):
    pid = world.enrol(name="Odalys")
    projector.drain(world.db, world.schema)
    sign_in(browser, "coordinator", world.slug)
    action = f"/console/participants/{pid}/stage"
    form = browser.get(action)
    assert options(form, "facility") == ["", "FCI-A", "FCI-B", "RRC-1"]
    assert "Facility RRC-1 (RRC-1), an RRC" in form.text
    assert options(form, "to_stage")[0] == "" and " selected>" not in form.text
    key = key_of(form.text, action)
    before = world.events()
    r = post(browser, action, {"to_stage": "", "occurred_at": ""}, key)
    assert r.status_code == 422
    assert beside(r, "to_stage") == "New stage: choose one of the options."
    assert beside(r, "occurred_at") == "When: enter a date and time."
    move = {"to_stage": "2", "placement": "rrc", "occurred_at": "2026-03-02T09:00"}
    r = post(browser, action, {**move, "facility": "FCI-B"}, key)
    assert r.status_code == 422
    said = "Facility FCI-B is a BOP institution, but a placement in an RRC needs an RRC: choose an RRC."
    assert beside(r, "facility") == said and said in refusal(r)
    r = post(browser, action, {**move, "placement": "", "facility": "RRC-1"}, key)
    assert beside(r, "placement").startswith("A move to stage 2 names its placement")
    assert world.events() == before
    done = post(browser, action, {**move, "facility": "RRC-1"}, key)
    assert done.status_code == 303, done.text
    assert world.get(f"/participants/{pid}")["facility"] == "RRC-1"
