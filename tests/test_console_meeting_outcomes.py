"""Scheduled meetings awaiting an outcome, in the console, by HTTP against the real application
and PostgreSQL (frozen clock): the meeting form lists the pairing's scheduled meetings whose
time has passed or is today, each with links to record it as held, as missed or to cancel it,
so a mentor answers the plan instead of recording a second meeting beside it; and the alerts
page links a meeting without an outcome to the same three pages (decision 137)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.projector import live as projector
from tests.console_helpers import key_of, post, refusal, sign_in
from tests.meetings_helpers import World

# Thursday 3 Dec 2026, 12:00 in Chicago (the world's zone, UTC-06:00).
NOW = datetime(2026, 12, 3, 18, 0, tzinfo=UTC)


@pytest.fixture
def world(client, auth, db, frozen_at) -> World:
    frozen_at(datetime(2026, 11, 30, 18, 0, tzinfo=UTC))
    return World(client, auth, db)


def awaiting(page: str) -> str:
    """The meeting form's list of scheduled meetings awaiting an outcome ('' if none)."""
    if 'id="h-awaiting"' not in page:
        return ""
    return page.split('id="h-awaiting"')[1].split("</section>")[0]


def outcome_links(meeting_id: str, suffix: str = "") -> list[str]:
    return [
        f'href="/console/meetings/{meeting_id}/{k}{suffix}"' for k in ("held", "missed", "cancel")
    ]


def test_the_meeting_form_lists_the_scheduled_meetings_awaiting_an_outcome(
    browser, world, frozen_at
):
    ava, bea = world.enrol(name="Ava"), world.enrol(name="Bea")
    pairing = world.pair(world.mentor("mentor-zed"), [ava], "2026-10-01T15:00:00Z")
    world.pair(world.mentor("mentor-yan"), [bea], "2026-10-01T15:00:00Z")
    world.meet(pairing, "2026-11-30T10:00:00-06:00")
    passed = world.schedule(pairing, "2026-12-02T17:00:00-06:00")["id"]
    later_today = world.schedule(pairing, "2026-12-03T16:00:00-06:00")["id"]
    tomorrow = world.schedule(pairing, "2026-12-04T10:00:00-06:00")["id"]
    frozen_at(NOW, tick=True)
    projector.drain(world.db, world.schema)
    sign_in(browser, "peer_mentor", world.slug, subject="mentor-zed")

    form = browser.get(f"/console/participants/{ava}/meeting").text
    listed = awaiting(form)
    # Before the form, in time order: the one whose time has passed, then today's.
    assert form.index('id="h-awaiting"') < form.index('name="occurred_at"')
    assert "Scheduled for Wed 02 Dec 2026, 17:00 (UTC-06:00)" in listed
    assert listed.index("Wed 02 Dec 2026") < listed.index("Thu 03 Dec 2026, 16:00")
    for link in outcome_links(passed, f"?participant={ava}"):
        assert link in listed, link
    for link in outcome_links(later_today, f"?participant={ava}"):
        assert link in listed, link
    assert tomorrow not in form and "Mon 30 Nov" not in listed
    # Another pairing's participant: nothing awaits.
    assert awaiting(browser.get(f"/console/participants/{bea}/meeting").text) == ""

    # The mentor records the planned meeting as held, from its link, and is back on the page.
    action = f"/console/meetings/{passed}/held?participant={ava}"
    page = browser.get(action).text
    fields = {
        "occurred_at": "2026-12-02T17:10",
        "duration_minutes": "50",
        "place": "off_site",
        "facility": "",
        "topics": "employment",
        "summary": "Met after work.",
    }
    done = post(browser, action, fields, key_of(page, action))
    assert done.status_code == 303, refusal(done) if done.status_code != 303 else ""
    assert done.headers["location"] == f"/console/participants/{ava}"
    assert world.get(f"/meetings/{passed}")["status"] == "held"
    projector.drain(world.db, world.schema)
    listed = awaiting(browser.get(f"/console/participants/{ava}/meeting").text)
    assert passed not in listed and later_today in listed
    # One held, one scheduled for later today: one meeting on 2 Dec, never two.
    log = world.log(pairing)
    assert [m["status"] for m in log if m["scheduled_for"].startswith("2026-12-02")] == ["held"]


def test_the_alerts_page_links_a_meeting_without_outcome_to_its_outcomes(browser, world, frozen_at):
    ava = world.enrol(name="Ava")
    pairing = world.pair(world.mentor("mentor-zed"), [ava], "2026-10-01T15:00:00Z")
    passed = world.schedule(pairing, "2026-12-02T17:00:00-06:00")["id"]
    frozen_at(NOW, tick=True)  # 19 hours after it: no alert yet
    projector.drain(world.db, world.schema)
    sign_in(browser, "coordinator", world.slug)
    assert passed not in browser.get("/console/alerts").text

    frozen_at(datetime(2026, 12, 4, 0, 0, tzinfo=UTC), tick=True)  # 25 hours after it
    sign_in(browser, "coordinator", world.slug)  # the session of a day ago has ended
    page = browser.get("/console/alerts").text
    row = next(r for r in page.split("<tbody>")[1].split("<tr>") if "meeting without outcome" in r)
    assert "Wed 02 Dec 2026, 17:00 (UTC-06:00)" in row
    assert f'href="/console/participants/{ava}"' in row
    for link in outcome_links(passed):
        assert link in row, link
    world.post(f"/meetings/{passed}/missed", {"no_show_by": "mentee", "note": ""})
    projector.drain(world.db, world.schema)
    assert "meeting without outcome" not in browser.get("/console/alerts").text
