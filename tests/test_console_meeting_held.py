"""A meeting scheduled ahead, recorded as held from the console, by HTTP form posts against the
real application and PostgreSQL (frozen clock): the form opened from the participant's page
with the scheduled time pre-filled and nothing else the mentor must say; refusals beside their
field that record nothing; the meeting held in the API and on the participant's page, recorded
once however often the form is sent; from the week's meetings and back there; a group meeting
with each member's attendance; and the page refused to a role that may not record meetings."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime

import pytest

from services.projector import live as projector
from tests.console_helpers import beside, key_of, post, refusal, sign_in
from tests.meetings_helpers import World

# Thursday 26 Nov 2026, 12:00 in Chicago (the world's zone, UTC-06:00): week 2026-W48.
NOW = datetime(2026, 11, 26, 18, 0, tzinfo=UTC)
PLANNED = "2026-11-24T18:00:00-06:00"


@pytest.fixture
def world(client, auth, db, frozen_at) -> World:
    frozen_at(NOW, tick=True)
    return World(client, auth, db)


def row_of(page: str, text: str) -> str:
    rows = page.split("<tbody>")[1].split("</tbody>")[0].split("<tr>")
    return next(r for r in rows if text in r)


def record(**extra: str) -> dict[str, str]:
    return {
        "occurred_at": "2026-11-24T18:10",
        "duration_minutes": "50",
        "place": "off_site",
        "facility": "",
        "topics": "employment",
        "summary": "Practised an interview at the library.",
        **extra,
    }


def test_a_scheduled_meeting_is_recorded_as_held_from_the_participant_page(browser, world):
    ava = world.enrol(name="Ava")
    pairing = world.pair(world.mentor("mentor-zed"), [ava], "2026-10-01T15:00:00Z")
    planned = world.schedule(pairing, PLANNED)["id"]
    projector.drain(world.db, world.schema)
    sign_in(browser, "peer_mentor", world.slug, subject="mentor-zed")
    action = f"/console/meetings/{planned}/held?participant={ava}"
    person = browser.get(f"/console/participants/{ava}").text
    assert f'href="{action}"' in person
    form = browser.get(action).text
    assert "Record this meeting as held" in form
    assert "the meeting scheduled for Tue 24 Nov 2026, 18:00 (UTC-06:00), off site" in form
    # The time it was planned for is pre-filled; how long and what about are not.
    assert re.search(r'name="occurred_at"[^>]*value="2026-11-24T18:00"', form)
    assert re.search(r'name="duration_minutes"[^>]*value=""', form)
    assert " checked" not in form.split("Topics discussed")[1].split("</fieldset>")[0]
    key = key_of(form, action)
    before = world.events()

    r = post(browser, action, record(duration_minutes="0"), key)
    assert r.status_code in (400, 422)
    assert beside(r, "duration_minutes") == "Minutes must be 1 or more."
    assert 'aria-invalid="true"' in r.text.split('id="duration_minutes"')[1].split(">")[0]
    r = post(browser, action, record(occurred_at="2026-11-28T10:00"), key)
    assert r.status_code == 422
    said = "The time the meeting was held lies in the future."
    assert beside(r, "occurred_at") == said and said in refusal(r)
    # What was typed comes back.
    assert "Practised an interview at the library." in r.text
    r = post(browser, action, record(duration_minutes="fifty"), key)
    assert beside(r, "duration_minutes") == "Minutes must be a whole number."
    assert world.events() == before

    done = post(browser, action, record(), key)
    assert done.status_code == 303, refusal(done) if done.status_code != 303 else ""
    assert done.headers["location"] == f"/console/participants/{ava}"
    # The same form sent again (a double tap) records once.
    assert post(browser, action, record(), key).status_code == 303
    after = world.events()
    assert after > before
    assert world.topics_of(planned)[-1] == "Held"
    assert post(browser, action, record(), key).status_code == 303
    assert world.events() == after

    held = world.get(f"/meetings/{planned}")
    assert held["status"] == "held"
    assert held["held"]["occurred_at"] == "2026-11-24T18:10:00-06:00"
    assert (held["held"]["duration_minutes"], held["held"]["topics"]) == (50, ["employment"])
    assert held["held"]["summary"] == "Practised an interview at the library."
    projector.drain(world.db, world.schema)
    shown = browser.get(done.headers["location"]).text
    assert "Meeting of Tue 24 Nov 2026, 18:10 (UTC-06:00) recorded as held." in shown
    row = row_of(shown.split('id="h-meetings"')[1], "Tue 24 Nov 2026, 18:10")
    assert "held" in row and "Practised an interview" in row
    assert f"/console/meetings/{planned}/" not in row

    # Held already: a new form for it is refused by the API's rule, above the form.
    form = browser.get(action).text
    assert "It is held already" in form
    again = post(browser, action, record(), key_of(form, action))
    assert again.status_code == 422
    assert "The meeting is already held." in refusal(again)
    assert world.events() == after


def test_from_the_weeks_meetings_the_form_returns_there(browser, world):
    ava = world.enrol(name="Ava")
    pairing = world.pair(world.mentor("mentor-zed"), [ava], "2026-10-01T15:00:00Z")
    planned = world.schedule(pairing, PLANNED)["id"]
    projector.drain(world.db, world.schema)
    sign_in(browser, "case_manager", world.slug)
    action = f"/console/meetings/{planned}/held"
    week = browser.get("/console/meetings").text
    assert f'href="{action}"' in row_of(week, "Tue 24 Nov 2026, 18:00")
    form = browser.get(action).text
    assert "With Ava Lee (" in form
    assert '<a href="/console/meetings">Back to this week' in form
    done = post(browser, action, record(), key_of(form, action))
    assert done.status_code == 303, refusal(done) if done.status_code != 303 else ""
    assert done.headers["location"] == "/console/meetings"
    projector.drain(world.db, world.schema)
    week = browser.get("/console/meetings").text
    assert "recorded as held." in week
    assert f'href="{action}"' not in week
    assert world.get(f"/meetings/{planned}")["status"] == "held"


def test_a_group_meeting_needs_each_members_attendance(browser, world):
    ben, cy = world.enrol(name="Ben"), world.enrol(name="Cy")
    group = world.pair(world.mentor("mentor-yan"), [ben, cy], "2026-10-01T15:00:00Z", kind="group")
    planned = world.schedule(group, PLANNED)["id"]
    projector.drain(world.db, world.schema)
    sign_in(browser, "peer_mentor", world.slug, subject="mentor-yan")
    action = f"/console/meetings/{planned}/held?participant={cy}"
    form = browser.get(action).text
    intro = form.split("</h1>")[1].split("</p>")[0]
    assert "Ben Lee (" in intro and "Cy Lee (" in intro, intro
    marks = {f"attendance-{group}-{who}" for who in (ben, cy)}
    for mark in marks:
        assert f'name="{mark}"' in form
    key = key_of(form, action)
    before = world.events()
    r = post(browser, action, record(), key)
    assert r.status_code == 422
    assert beside(r, "attendance") == "A group meeting records attendance for every member."
    assert world.events() == before
    present = {mark: "present" for mark in marks}
    done = post(browser, action, {**record(), **present}, key)
    assert done.status_code == 303, refusal(done) if done.status_code != 303 else ""
    assert done.headers["location"] == f"/console/participants/{cy}"
    held = world.get(f"/meetings/{planned}")["held"]
    assert held["attendance"] == {ben: "present", cy: "present"}


def test_the_held_page_is_refused_to_a_role_that_may_not_record_meetings(browser, world):
    ava = world.enrol(name="Ava")
    pairing = world.pair(world.mentor("mentor-zed"), [ava], "2026-10-01T15:00:00Z")
    planned = world.schedule(pairing, PLANNED)["id"]
    projector.drain(world.db, world.schema)
    sign_in(browser, "auditor", world.slug)
    assert f"/meetings/{planned}/held" not in browser.get(f"/console/participants/{ava}").text
    assert f"/meetings/{planned}/held" not in browser.get("/console/meetings").text
    r = browser.get(f"/console/meetings/{planned}/held")
    assert r.status_code == 403
    assert "may record a meeting as held" in html.unescape(r.text)
    before = world.events()
    r = post(browser, f"/console/meetings/{planned}/held", record(), "k-auditor")
    assert r.status_code == 403
    assert world.events() == before
    assert world.get(f"/meetings/{planned}")["status"] == "scheduled"
