"""Meetings planned and answered from the console, by HTTP form posts against the real
application and PostgreSQL (frozen clock): the week's meetings naming whose they are; a meeting
scheduled ahead, then one marked missed and one cancelled with its week excused (the pairing's
cadence reads it); an escalation raised about a mentee by a peer mentor; and the pages refused
to the roles the role matrix does not allow them."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime

import pytest

from services.projector import live as projector
from tests.console_helpers import beside, key_of, post, refusal, select_of, sign_in
from tests.meetings_helpers import OFF_SITE, World

# Thursday 26 Nov 2026, 12:00 in Chicago (the world's zone, UTC-06:00): week 2026-W48.
NOW = datetime(2026, 11, 26, 18, 0, tzinfo=UTC)


@pytest.fixture
def world(client, auth, db, frozen_at) -> World:
    frozen_at(NOW, tick=True)
    return World(client, auth, db)


def row_of(page: str, text: str) -> str:
    rows = page.split("<tbody>")[1].split("</tbody>")[0].split("<tr>")
    return next(r for r in rows if text in r)


def test_the_weeks_meetings_name_their_participants_and_mentors(browser, world):
    zed, yan = world.mentor("mentor-zed"), world.mentor("mentor-yan")
    ava, ben, cy = world.enrol(name="Ava"), world.enrol(name="Ben"), world.enrol(name="Cy")
    solo = world.pair(zed, [ava], "2026-10-01T15:00:00Z")
    group = world.pair(yan, [ben, cy], "2026-10-01T15:00:00Z", kind="group")
    world.meet(solo, "2026-11-24T10:00:00-06:00", location=OFF_SITE)
    present = {ben: "present", cy: "present"}
    world.meet(group, "2026-11-25T10:00:00-06:00", location=OFF_SITE, attendance=present)
    projector.drain(world.db, world.schema)

    sign_in(browser, "coordinator", world.slug)
    page = browser.get("/console/meetings").text
    assert '<th scope="col">Participants</th><th scope="col">Mentor</th>' in page
    first = row_of(page, "Tue 24 Nov 2026, 10:00")
    assert re.search(rf'<a href="/console/participants/{ava}"><bdi>Ava Lee \(', first), first
    assert f'<a href="/console/mentors/{zed}"><bdi>Mentor mentor-zed</bdi></a>' in first
    second = row_of(page, "Wed 25 Nov 2026, 10:00")
    for person, name in ((ben, "Ben Lee"), (cy, "Cy Lee")):
        assert re.search(rf'<a href="/console/participants/{person}"><bdi>{name} \(', second)
    assert f'<a href="/console/mentors/{yan}"><bdi>Mentor mentor-yan</bdi></a>' in second

    # A peer mentor sees their own meeting, named; no link to the roster they may not read.
    sign_in(browser, "peer_mentor", world.slug, subject="mentor-zed")
    page = browser.get("/console/meetings").text
    assert "Ben Lee" not in page
    mine = row_of(page, "Tue 24 Nov 2026, 10:00")
    assert "Ava Lee" in mine and "Mentor mentor-zed" in mine and "/console/mentors/" not in mine


def test_a_meeting_is_scheduled_ahead_then_marked_missed_or_cancelled(browser, world):
    ava = world.enrol(name="Ava")
    pairing = world.pair(world.mentor("mentor-zed"), [ava], "2026-10-01T15:00:00Z")
    projector.drain(world.db, world.schema)  # the facilities' list, as the worker keeps it
    sign_in(browser, "peer_mentor", world.slug, subject="mentor-zed")
    action = f"/console/participants/{ava}/schedule"
    person = browser.get(f"/console/participants/{ava}").text
    assert f'href="{action}"' in person
    form = browser.get(action).text
    assert select_of(form, "facility") == (["", "FCI-A", "FCI-B", "RRC-1"], ["FCI-A"])
    assert re.search(r'name="scheduled_for"[^>]*value=""', form)
    assert re.search(r'name="planned_minutes"[^>]*value=""', form)
    key = key_of(form, action)
    before = world.events()
    plan = {
        "pairing_id": pairing,
        "scheduled_for": "2026-12-01T18:00",
        "planned_minutes": "60",
        "place": "remote",
        "facility": "FCI-A",
    }
    r = post(browser, action, {**plan, "scheduled_for": "", "planned_minutes": ""}, key)
    assert r.status_code == 422
    assert beside(r, "scheduled_for") == "When it is to take place: enter a date and time."
    assert beside(r, "planned_minutes") == "Planned minutes: fill this in."
    assert world.events() == before
    # Remote: the facility the form pre-filled is not sent.
    done = post(browser, action, plan, key)
    assert done.status_code == 303, refusal(done) if done.status_code != 303 else ""
    projector.drain(world.db, world.schema)
    shown = browser.get(done.headers["location"]).text
    assert "Meeting scheduled for Tue 01 Dec 2026, 18:00 (UTC-06:00)." in shown
    (planned,) = world.log(pairing)
    assert (planned["status"], planned["location_kind"], planned["facility"]) == (
        "scheduled",
        "remote",
        None,
    )
    again = post(browser, action, plan, key_of(browser.get(action).text, action))
    assert again.status_code == 409
    assert beside(again, "scheduled_for").startswith(
        "This pairing has a meeting at Tue 01 Dec 2026, 18:00 (UTC-06:00) already (scheduled);"
    )
    assert planned["id"] not in again.text

    # Two meetings planned earlier did not take place: one missed, one cancelled and excused.
    gone = world.schedule(pairing, "2026-11-24T18:00:00-06:00")["id"]
    off = world.schedule(pairing, "2026-11-17T18:00:00-06:00")["id"]
    projector.drain(world.db, world.schema)
    person = browser.get(f"/console/participants/{ava}").text
    missed = f"/console/meetings/{gone}/missed?participant={ava}"
    cancel = f"/console/meetings/{off}/cancel?participant={ava}"
    assert f'href="{missed}"' in person and f'href="{cancel}"' in person
    form = browser.get(missed).text
    assert "The meeting scheduled for Tue 24 Nov 2026, 18:00 (UTC-06:00), off site." in form
    key = key_of(form, missed)
    before = world.events()
    r = post(browser, missed, {"no_show_by": ""}, key)
    assert beside(r, "no_show_by") == "Who did not come: choose one of the options."
    assert world.events() == before
    r = post(browser, missed, {"no_show_by": "mentee", "note": "No answer at the unit."}, key)
    assert r.status_code == 303 and r.headers["location"] == f"/console/participants/{ava}"
    assert (
        post(
            browser, missed, {"no_show_by": "mentee", "note": "No answer at the unit."}, key
        ).status_code
        == 303
    )
    assert world.events() == before + 1
    assert world.get(f"/meetings/{gone}")["status"] == "missed"

    form = browser.get(cancel).text
    key = key_of(form, cancel)
    r = post(browser, cancel, {"reason": " "}, key)
    assert r.status_code in (400, 422)
    assert beside(r, "reason")
    r = post(browser, cancel, {"reason": "The institution was locked down.", "excused": "1"}, key)
    assert r.status_code == 303, r.text
    projector.drain(world.db, world.schema)
    assert "Meeting cancelled, its week excused." in browser.get(r.headers["location"]).text
    assert world.get(f"/meetings/{off}")["status"] == "cancelled"
    assert world.cadence(pairing)["2026-W47"] == "excused"
    # The week's meetings offer the same for a meeting still scheduled, back to that page.
    page = browser.get("/console/meetings").text
    assert f'href="/console/meetings/{gone}/missed"' not in page


def test_a_peer_mentor_raises_an_escalation_about_a_mentee(browser, world):
    zed = world.mentor("mentor-zed")
    ava, other = world.enrol(name="Ava"), world.enrol(name="Ola")
    world.pair(zed, [ava], "2026-10-01T15:00:00Z")
    world.pair(world.mentor("mentor-yan"), [other], "2026-10-01T15:00:00Z")
    projector.drain(world.db, world.schema)
    sign_in(browser, "peer_mentor", world.slug, subject="mentor-zed")
    action = f"/console/participants/{ava}/escalation"
    assert f'href="{action}"' in browser.get(f"/console/participants/{ava}").text
    form = browser.get(action).text
    mentors = form.split('name="mentor_id"')[1].split("</select>")[0]
    assert re.findall(r'<option value="([^"]*)"', mentors) == [zed]
    assert "Mentor mentor-zed" in mentors
    key = key_of(form, action)
    before = world.events()
    r = post(browser, action, {"mentor_id": zed, "type": "", "severity": ""}, key)
    assert r.status_code == 422
    assert beside(r, "type") == "What it is about: choose one of the options."
    assert beside(r, "severity") == "How serious: choose one of the options."
    assert world.events() == before
    said = "She lost her bed at the RRC and talks of giving up."
    good = {"mentor_id": zed, "type": "crisis", "severity": "high", "description": said}
    r = post(browser, action, good, key)
    assert r.status_code == 303, html.unescape(r.text)
    assert post(browser, action, good, key).status_code == 303
    assert world.events() == before + 1
    projector.drain(world.db, world.schema)
    shown = browser.get(r.headers["location"]).text
    assert (
        "Escalation raised: the coordinators see it at once in their list of escalations" in shown
    )
    (raised,) = world.view("/escalations")["items"]
    assert (raised["participant_id"], raised["mentor_id"], raised["type"]) == (ava, zed, "crisis")
    assert (raised["description"], raised["raised_by"]) == (said, "mentor-zed")
    # Another mentor's mentee is not theirs to open.
    assert browser.get(f"/console/participants/{other}/escalation").status_code == 404


def test_the_new_pages_are_refused_to_roles_the_matrix_does_not_allow(browser, world):
    ava = world.enrol(name="Ava")
    pairing = world.pair(world.mentor("mentor-zed"), [ava], "2026-10-01T15:00:00Z")
    planned = world.schedule(pairing, "2026-11-24T18:00:00-06:00")["id"]
    projector.drain(world.db, world.schema)
    sign_in(browser, "auditor", world.slug)
    person = browser.get(f"/console/participants/{ava}").text
    # (The navigation's "Escalations", the auditor's to read, is not the raise form.)
    for link in ("/schedule", "/escalation", f"/meetings/{planned}/missed"):
        assert f'{link}"' not in person
    for path, who in (
        (f"/console/participants/{ava}/schedule", "may schedule a meeting"),
        (f"/console/meetings/{planned}/missed", "may mark a meeting missed or cancelled"),
        (f"/console/meetings/{planned}/cancel", "may mark a meeting missed or cancelled"),
        (f"/console/participants/{ava}/escalation", "may raise an escalation"),
    ):
        r = browser.get(path)
        assert r.status_code == 403 and who in html.unescape(r.text), path
    before = world.events()
    r = post(browser, f"/console/meetings/{planned}/cancel", {"reason": "no"}, "k-auditor")
    assert r.status_code == 403
    assert world.events() == before
    # A case manager may raise one (about the participant, for the pairing's mentor).
    sign_in(browser, "case_manager", world.slug)
    assert browser.get(f"/console/participants/{ava}/escalation").status_code == 200
