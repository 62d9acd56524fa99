"""The calendar over HTTP with the real app and PostgreSQL: meetings across pairings by mentor,
case manager, facility or date range; a staff member's iCalendar feed behind its own token,
parsed by the `icalendar` library; reminders among the alerts the day before."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import icalendar
import pytest

from services.projector import live as projector
from tests.meetings_helpers import World


@pytest.fixture
def world(client: Any, auth: Any, db: Any) -> World:
    return World(client, auth, db, "America/Chicago")


def setup(w: World) -> dict[str, str]:
    ana, bob = w.mentor("ana"), w.mentor("bob")
    a, b = w.enrol(name="Ada"), w.enrol(name="Bea")
    p1 = w.pair(ana, [a], "2026-10-01T15:00:00Z")
    p2 = w.pair(bob, [b], "2026-10-02T15:00:00Z")
    w.post(f"/participants/{b}/assignments", {"duty": "case_manager", "staff": "cm-rita"})
    m1 = w.schedule(p1, "2026-11-03T18:00:00-06:00")["id"]
    m2 = w.schedule(p2, "2026-11-10T18:00:00-06:00")["id"]
    projector.drain(w.db, w.schema)
    return {"ana": ana, "bob": bob, "p1": p1, "p2": p2, "m1": m1, "m2": m2}


def test_meetings_across_pairings_by_mentor_case_manager_and_dates(world: World) -> None:
    w = world
    s = setup(w)
    ids = lambda page: [m["id"] for m in page["items"]]  # noqa: E731
    assert ids(w.get("/meetings")) == [s["m1"], s["m2"]]
    assert ids(w.get("/meetings", mentor_id=s["bob"])) == [s["m2"]]
    assert ids(w.get("/meetings", assigned_to="cm-rita")) == [s["m2"]]
    mine = w.get("/meetings", role="case_manager", sub="cm-rita", assigned_to="me")
    assert ids(mine) == [s["m2"]]
    week = w.get("/meetings", since="2026-11-02T00:00:00-06:00", until="2026-11-09T00:00:00-06:00")
    assert ids(week) == [s["m1"]]
    assert w.get("/meetings", facility="FCI-B")["items"] == []
    r = w.client.get(w.base + "/meetings", params={"since": "monday"}, headers=w.headers())
    assert r.status_code == 400 and r.json()["code"] == "invalid_instant"


def test_a_staff_members_ics_feed_is_parsed_by_icalendar(world: World, frozen_at: Any) -> None:
    w = world
    frozen_at(datetime(2026, 11, 1, 12, tzinfo=UTC), tick=True)
    s = setup(w)
    issued = w.post("/calendar-feed", {}, role="case_manager", sub="cm-rita")
    assert issued["subject"] == "cm-rita" and issued["url"].endswith(".ics")
    projector.drain(w.db, w.schema)
    r = w.client.get(issued["url"])  # no bearer token: the link is the credential
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "text/calendar; charset=utf-8"  # the charset once
    cal = icalendar.Calendar.from_ical(r.content)
    events = list(cal.walk("VEVENT"))
    assert [str(e["uid"]) for e in events] == [f"{s['m2']}@prowd-ledger"]
    start = events[0].decoded("dtstart")
    assert start == datetime(2026, 11, 11, 0, tzinfo=UTC)  # 18:00 in Chicago
    assert start.utcoffset() == timedelta(hours=-6)
    assert "Bea" not in r.text and "Lee" not in r.text  # a feed names no one
    # The mentor's own feed holds their pairing's meeting.
    bob = w.post("/calendar-feed", {}, role="peer_mentor", sub="bob")
    projector.drain(w.db, w.schema)
    cal = icalendar.Calendar.from_ical(w.client.get(bob["url"]).content)
    assert [str(e["uid"]) for e in cal.walk("VEVENT")] == [f"{s['m2']}@prowd-ledger"]
    # Issuing again replaces the link: the old token no longer opens the feed.
    again = w.post("/calendar-feed", {}, role="case_manager", sub="cm-rita")
    projector.drain(w.db, w.schema)
    assert w.client.get(issued["url"]).status_code == 404
    assert w.client.get(again["url"]).status_code == 200
    assert w.client.get(f"{w.base}/calendar/not-a-token.ics").status_code == 404
    r = w.client.post(w.base + "/calendar-feed", json={}, headers=w.headers("auditor"))
    assert r.status_code == 403


def test_reminders_are_alerts_the_day_before(world: World, frozen_at: Any) -> None:
    w = world
    s = setup(w)
    # The evening before, in Chicago: the meeting of 2026-11-03 18:00 is tomorrow's.
    frozen_at(datetime(2026, 11, 3, 3, tzinfo=UTC))
    alerts = w.get("/alerts", kind="meeting_tomorrow")["items"]
    assert [(a["subject"], a["subject_id"]) for a in alerts] == [("meeting", s["m1"])]
    assert "18:00" in alerts[0]["detail"]
    # Filtered by assignment: cm-rita's participants meet on the 10th, not tomorrow.
    assert w.get("/alerts", kind="meeting_tomorrow", assigned_to="cm-rita")["items"] == []
