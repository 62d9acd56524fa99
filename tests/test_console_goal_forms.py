"""Finishing a SMART goal from the console, through HTTP form posts against the real application:
a step added (one due after the target date refused next to its day, appending nothing),
completed and dropped; the goal revised, achieved and abandoned, each read back through the
API; an overdue goal's alert cleared by achieving it; the links on the participant's page by
role and only for an active goal; a role without `goals.write` refused every page."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from domain.clock import FixedClock
from services.projector import live as projector
from tests.console_helpers import beside, key_of, post, refusal, shown, sign_in
from tests.meetings_helpers import World

# A Tuesday, 09:00 in Chicago (the world's zone). Participants enter on 2025-09-15.
NOW = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)
GOAL = {
    "horizon": "short_term",
    "domain": "id_documents",
    "statement": "Get a state ID card",
    "measure": "ID card issued by the DMV",
    "target": "card in hand",
    "target_date": "2026-04-30",
}


@pytest.fixture
def clock(frozen_at) -> FixedClock:
    return frozen_at(NOW, tick=True)


@pytest.fixture
def world(client, auth, db, clock) -> World:
    return World(client, auth, db)


def set_goal(world: World, pid: str, **terms: Any) -> str:
    goal = world.post("/goals", {"participant_id": pid, **GOAL, **terms}, role="case_manager")
    return str(goal["id"])


def goals_part(html: str) -> str:
    return shown(html).split('id="h-goals"')[1].split("</section>")[0]


def page_of(browser: Any, world: World, address: str) -> str:
    """A console page once the views have every event (no worker runs in these tests)."""
    projector.drain(world.db, world.schema)
    page = browser.get(address)
    assert page.status_code == 200, page.text
    return str(page.text)


def form_for(browser: Any, action: str) -> tuple[Any, str]:
    """The form's page and its idempotency key."""
    page = browser.get(action)
    assert page.status_code == 200, page.text
    return page, key_of(page.text, action)


def test_a_step_is_added_completed_and_dropped(browser, world):
    pid = world.enrol(name="Odalys")
    gid = set_goal(world, pid)
    sign_in(browser, "case_manager", world.slug)
    projector.drain(world.db, world.schema)
    action = f"/console/goals/{gid}/step"
    assert f'href="{action}"' in goals_part(page_of(browser, world, f"/console/participants/{pid}"))
    form, key = form_for(browser, action)
    # The goal above the form: what, by when, and its steps (none yet).
    assert "Get a state ID card" in form.text and "Thu 30 Apr 2026" in form.text
    assert "No step yet." in form.text
    before = world.events()

    step = {"description": "Request a birth certificate", "due_on": "2026-05-15"}
    r = post(browser, action, step, key)
    assert r.status_code == 422
    said = "A step is due by the goal's target date 2026-04-30, not 2026-05-15."
    assert beside(r, "due_on") == said
    assert said in html.unescape(refusal(r))
    assert 'value="Request a birth certificate"' in r.text
    r = post(browser, action, {**step, "due_on": "2026-03-01"}, key)
    assert beside(r, "due_on") == "The step's due date 2026-03-01 has passed."
    r = post(browser, action, {**step, "due_on": "someday"}, key)
    assert beside(r, "due_on") == "Due on (optional): enter a date."
    r = post(browser, action, {"description": "", "due_on": ""}, key)
    assert r.status_code in (400, 422)
    assert beside(r, "description") == "The step: fill this in."
    assert world.events() == before

    done = post(browser, action, {**step, "due_on": "2026-04-15"}, key)
    assert done.status_code == 303, done.text
    assert post(browser, action, {**step, "due_on": "2026-04-15"}, key).status_code == 303
    assert world.events() == before + 1
    assert "Step added: Request a birth certificate." in page_of(
        browser, world, done.headers["location"]
    )
    second = {"description": "Book the DMV visit", "due_on": ""}
    assert (
        post(browser, action, second, key_of(browser.get(action).text, action)).status_code == 303
    )
    goal = world.get(f"/goals/{gid}")
    assert [(s["description"], s.get("due_on"), s["status"]) for s in goal["steps"]] == [
        ("Request a birth certificate", "2026-04-15", "open"),
        ("Book the DMV visit", None, "open"),
    ]
    first, other = (s["step_id"] for s in goal["steps"])
    projector.drain(world.db, world.schema)
    shown = goals_part(page_of(browser, world, f"/console/participants/{pid}"))
    complete = f"/console/goals/{gid}/steps/{first}/complete"
    drop = f"/console/goals/{gid}/steps/{other}/drop"
    assert f'href="{complete}"' in shown and f'href="{drop}"' in shown
    assert "Wed 15 Apr 2026" in shown

    # Complete the first, with a note.
    form, key = form_for(browser, complete)
    assert "The step: <strong>Request a birth certificate</strong>" in form.text
    done = post(browser, complete, {"note": "Arrived by mail"}, key)
    assert done.status_code == 303, done.text
    assert "Step completed: Request a birth certificate." in page_of(
        browser, world, done.headers["location"]
    )
    steps = world.get(f"/goals/{gid}")["steps"]
    assert (steps[0]["status"], steps[0]["note"]) == ("completed", "Arrived by mail")
    # A completed step offers no form; sent anyway, the API refuses it above the form.
    again = browser.get(complete)
    assert "This step is completed already." in again.text and 'id="entry"' not in again.text
    before = world.events()
    r = post(browser, complete, {"note": "Twice"}, "k-again")
    assert r.status_code == 422
    assert "The step is already completed." in refusal(r)
    assert world.events() == before

    # Drop the other: a reason is needed.
    form, key = form_for(browser, drop)
    r = post(browser, drop, {"reason": ""}, key)
    assert r.status_code in (400, 422)
    assert beside(r, "reason") == "Reason: fill this in."
    assert world.events() == before
    done = post(browser, drop, {"reason": "The RRC books it for him"}, key)
    assert done.status_code == 303, done.text
    assert "Step dropped: Book the DMV visit." in page_of(browser, world, done.headers["location"])
    steps = world.get(f"/goals/{gid}")["steps"]
    assert [s["status"] for s in steps] == ["completed", "dropped"]
    assert steps[1]["note"] == "The RRC books it for him"
    shown = goals_part(page_of(browser, world, f"/console/participants/{pid}"))
    assert "/complete" not in shown and "/drop" not in shown
    assert "Steps: 1 of 1 done" in shown


def test_a_goal_is_revised_with_what_changed_and_each_refusal_by_its_field(browser, world):
    pid = world.enrol(name="Odalys")
    gid = set_goal(world, pid)
    world.post(
        f"/goals/{gid}/steps",
        {"description": "Book the DMV visit", "due_on": "2026-04-20"},
        role="case_manager",
    )
    sign_in(browser, "case_manager", world.slug)
    action = f"/console/goals/{gid}/revise"
    form, key = form_for(browser, action)
    # The terms as they stand, the reason empty.
    assert 'value="Get a state ID card"' in form.text and 'value="2026-04-30"' in form.text
    assert '<option value="short_term" selected' in form.text
    assert re.search(r'<textarea id="reason" name="reason"[^>]*></textarea>', form.text)
    # The terms shown travel with the form (hidden), as a browser sends them.
    shown = dict(re.findall(r'name="(was_\w+)" value="([^"]*)"', form.text))
    assert shown == {f"was_{k}": v for k, v in GOAL.items()}
    terms = {k: GOAL[k] for k in ("statement", "measure", "target", "domain", "horizon")}
    terms = {**terms, **shown}
    before = world.events()

    r = post(browser, action, {**terms, "target_date": "2026-04-30", "reason": "Nothing"}, key)
    assert r.status_code == 422
    assert "The revision changes nothing." in refusal(r)
    r = post(browser, action, {**terms, "target_date": "2026-07-01", "reason": "Later"}, key)
    assert beside(r, "target_date") == (
        "A short-term goal set on 2026-03-10 has a target date within 90 days (by 2026-06-08),"
        " not 2026-07-01."
    )
    r = post(browser, action, {**terms, "target_date": "2026-04-10", "reason": "Sooner"}, key)
    assert beside(r, "target_date") == (
        "Open step 'Book the DMV visit' is due 2026-04-20, after the new target date"
        " 2026-04-10; drop it first."
    )
    r = post(browser, action, {**terms, "target_date": "2026-05-29", "reason": ""}, key)
    assert r.status_code in (400, 422)
    assert beside(r, "reason") == "Why it changes: fill this in."
    # What was typed is kept.
    assert 'value="2026-05-29"' in r.text
    assert world.events() == before

    change = {**terms, "target_date": "2026-05-29", "reason": "The DMV is closed in April"}
    done = post(browser, action, change, key)
    assert done.status_code == 303, done.text
    r = post(browser, action, change, key)
    assert r.status_code == 303, refusal(r)
    assert world.events() == before + 1
    goal = world.get(f"/goals/{gid}")
    assert (goal["target_date"], goal["statement"], len(goal["revisions"])) == (
        "2026-05-29",
        "Get a state ID card",
        2,
    )
    assert goal["revisions"][-1]["reason"] == "The DMV is closed in April"
    page = page_of(browser, world, done.headers["location"])
    assert "Goal revised: Get a state ID card, by Fri 29 May 2026." in page


def test_an_overdue_goal_is_achieved_and_its_alert_goes(browser, world, clock):
    pid = world.enrol(name="Odalys")
    clock.set(NOW - timedelta(days=20))
    gid = set_goal(world, pid, target_date=(NOW - timedelta(days=10)).date().isoformat())
    clock.set(NOW)

    def overdue() -> list[str]:
        found = world.view("/alerts", kind="overdue_goal")["items"]
        return [a["subject_id"] for a in found]

    assert overdue() == [gid]
    sign_in(browser, "case_manager", world.slug)
    action = f"/console/goals/{gid}/achieve"
    assert f'href="{action}"' in goals_part(page_of(browser, world, f"/console/participants/{pid}"))
    form, key = form_for(browser, action)
    assert "overdue" in form.text.split('id="goal"')[1].split("</dl>")[0]
    before = world.events()
    r = post(browser, action, {"note": ""}, key)
    assert r.status_code in (400, 422)
    assert beside(r, "note") == "How it was achieved: fill this in."
    assert world.events() == before

    done = post(browser, action, {"note": "Card in hand; lunch with the group"}, key)
    assert done.status_code == 303, done.text
    assert world.events() == before + 1
    goal = world.get(f"/goals/{gid}")
    assert (goal["status"], goal["outcome"]) == ("achieved", "Card in hand; lunch with the group")
    assert overdue() == []
    page = page_of(browser, world, done.headers["location"])
    assert "Goal achieved: Get a state ID card." in page
    # A closed goal shows no actions, and its forms show no form.
    shown = goals_part(page)
    assert "achieved on Tue 10 Mar 2026" in shown
    assert f"/console/goals/{gid}/" not in shown
    for name in ("achieve", "abandon", "step", "revise"):
        again = browser.get(f"/console/goals/{gid}/{name}")
        assert again.status_code == 200
        assert "This goal was achieved: it takes no further changes." in again.text
        assert 'id="entry"' not in again.text
    # Sent anyway, the API refuses it above the form and records nothing.
    r = post(browser, f"/console/goals/{gid}/abandon", {"reason": "Moved away"}, "k-late")
    assert r.status_code == 422
    assert "The goal was achieved; it accepts no further changes." in refusal(r)
    assert world.events() == before + 1


def test_a_goal_is_abandoned_with_its_reason_on_the_grantees_day(browser, world, clock):
    pid = world.enrol(name="Odalys")
    gid = set_goal(world, pid)
    # 21:30 in Chicago on Tuesday 10 March is already Wednesday in UTC.
    clock.set(datetime(2026, 3, 11, 3, 30, tzinfo=UTC))
    sign_in(browser, "coordinator", world.slug)
    action = f"/console/goals/{gid}/abandon"
    form, key = form_for(browser, action)
    assert "Get a state ID card" in form.text and "Abandon the goal" in form.text
    before = world.events()
    r = post(browser, action, {"reason": ""}, key)
    assert beside(r, "reason") == "Reason: fill this in."
    assert world.events() == before
    done = post(browser, action, {"reason": "Moved to another district"}, key)
    assert done.status_code == 303, done.text
    goal = world.get(f"/goals/{gid}")
    assert (goal["status"], goal["outcome"]) == ("abandoned", "Moved to another district")
    page = page_of(browser, world, done.headers["location"])
    assert "Goal abandoned: Get a state ID card." in page
    shown = goals_part(page)
    assert "abandoned on Tue 10 Mar 2026" in shown and "Why: Moved to another district" in shown
    assert f"/console/goals/{gid}/" not in shown


def test_the_goal_links_and_pages_follow_the_role(browser, world):
    pid = world.enrol(name="Odalys")
    world.pair(world.mentor("mentor-zed"), [pid], "2025-10-01T15:00:00Z")
    gid = set_goal(world, pid)
    step = world.post(f"/goals/{gid}/steps", {"description": "Call the DMV"}, role="case_manager")
    sid = step["steps"][0]["step_id"]
    projector.drain(world.db, world.schema)
    pages = [f"/console/goals/{gid}/{name}" for name in ("step", "revise", "achieve", "abandon")]
    pages += [f"/console/goals/{gid}/steps/{sid}/{name}" for name in ("complete", "drop")]

    # A peer mentor works on their own mentee's goals.
    sign_in(browser, "peer_mentor", world.slug, subject="mentor-zed")
    shown = goals_part(page_of(browser, world, f"/console/participants/{pid}"))
    assert all(f'href="{p}"' in shown for p in pages)
    assert all(browser.get(p).status_code == 200 for p in pages)
    # Another mentor's mentee's goal is not found, nor a step the goal does not have.
    sign_in(browser, "peer_mentor", world.slug, subject="mentor-other")
    assert all(browser.get(p).status_code == 404 for p in pages)
    sign_in(browser, "case_manager", world.slug)
    missing = f"/console/goals/{gid}/steps/00000000-0000-4000-8000-000000000000/complete"
    assert browser.get(missing).status_code == 404

    # An auditor reads the goal but has no link, and every page and post is refused.
    sign_in(browser, "auditor", world.slug)
    shown = goals_part(page_of(browser, world, f"/console/participants/{pid}"))
    assert "Get a state ID card" in shown and "Call the DMV — open" in shown
    assert not any(p in shown for p in pages)
    before = world.events()
    for action in pages:
        r = browser.get(action)
        assert r.status_code == 403
        assert "Your role does not include it." in r.text
        r = post(browser, action, {"reason": "x", "note": "x", "description": "x"}, "k-auditor")
        assert r.status_code == 403
    assert world.events() == before
    assert browser.get(f"/console/goals/{gid}/unknown").status_code == 404
