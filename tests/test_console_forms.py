"""The console in plain words: a form's fields the console can check itself (a whole number, a
date and time) are named by their label before any API call, a validation problem the API still
answers is shown with the form's labels, once (services/api/console/checks.py); and the sign-in page
says a session ended only to a browser that had one."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from domain import clock
from services.api.console.checks import UNMATCHED, in_words, sentence
from services.projector import live as projector
from tests.conftest import count_events
from tests.console_helpers import csrf_of, sign_in
from tests.meetings_helpers import World as MeetingsWorld


@pytest.fixture
def world(client, auth, db) -> MeetingsWorld:
    return MeetingsWorld(client, auth, db)


def send(browser: TestClient[Litestar], path: str, data: dict[str, Any]) -> Any:
    page = browser.get(path)
    assert page.status_code == 200, page.text
    key = page.text.split('name="idempotency_key" value="')[1].split('"')[0]
    return browser.post(
        path,
        data={**data, "idempotency_key": key, "_csrf_token": csrf_of(browser)},
        follow_redirects=False,
    )


def refusal(page: Any) -> str:
    return page.text.split('id="refusal"')[1].split("</div>")[0]


def test_meeting_form_errors_name_the_field_by_its_label(browser, world):
    pid = world.enrol(name="Odalys")
    mentor = world.mentor("mentor-zed")
    pairing = world.pair(mentor, [pid], "2025-10-01T15:00:00Z")
    sign_in(browser, "coordinator", world.slug)
    path = f"/console/participants/{pid}/meeting"
    good = {
        "pairing_id": pairing,
        "occurred_at": "2025-11-03T10:00",
        "duration_minutes": "60",
        "place": "off_site",
        "topics": "goals",
        "summary": "Talked about work.",
    }
    before = world.events()
    for change, expected in [
        ({"duration_minutes": "abc"}, "Minutes must be a whole number"),
        ({"duration_minutes": "1.5"}, "Minutes must be a whole number"),
        ({"occurred_at": ""}, "When it took place: enter a date and time"),
        ({"occurred_at": "2025-02-30T10:00"}, "When it took place: enter a date and time"),
        ({"summary": "bad\x00byte"}, "Summary (shared with the team)"),
    ]:
        r = send(browser, path, {**good, **change})
        assert r.status_code in (400, 422), (change, r.status_code)
        shown = refusal(r)
        assert expected in shown, (change, shown)
        for raw in ("$.", "held.", "Expected `", "RFC3339", "fails validation"):
            assert raw not in shown, (change, shown)
        sentences = [s.strip() for s in shown.split("<p>")[1].split("</p>")[0].split(".") if s]
        assert len(sentences) == len(set(sentences)), shown
    assert world.events() == before


def test_the_other_forms_name_their_fields_too(browser, client, auth, grantee, enrol, db):
    person = enrol()
    goal = client.post(
        f"/v1/grantees/{grantee}/goals",
        json={
            "participant_id": person["id"],
            "horizon": "short_term",
            "domain": "id_documents",
            "statement": "Get a state ID card",
            "measure": "ID card issued by the DMV",
            "target": "card in hand",
            "target_date": (clock.now().date() + timedelta(days=60)).isoformat(),
        },
        headers=auth("case_manager", grantee),
    ).json()
    sign_in(browser, "coordinator", grantee)
    before = count_events(db, grantee)
    progress = f"/console/goals/{goal['id']}/progress"
    r = send(browser, progress, {"note": "Called", "evidence": "", "percent": "half"})
    assert r.status_code == 422
    assert "Percent done (optional) must be a whole number." in refusal(r)
    stage = f"/console/participants/{person['id']}/stage"
    good = {"to_stage": "2", "placement": "rrc", "facility": "RRC-1"}
    r = send(browser, stage, {**good, "occurred_at": "tomorrow"})
    assert r.status_code == 422 and "When: enter a date and time." in refusal(r)
    # What the API refuses as invalid is said with the form's label, not its body path.
    r = send(browser, stage, {**good, "to_stage": "two", "occurred_at": "2026-02-10T09:00"})
    assert r.status_code == 400, r.text
    assert "New stage must be a whole number." in refusal(r)
    assert "$." not in refusal(r) and "Expected" not in refusal(r)
    assert count_events(db, grantee) == before


@pytest.mark.parametrize(
    ("detail", "errors", "said"),
    [
        (
            "the request body fails validation",
            [
                {
                    "message": "Expected `int`, got `str` - at `$.held.duration_minutes`",
                    "key": "data",
                }
            ],
            "Minutes must be a whole number.",
        ),
        (
            "the request body fails validation",
            [{"message": "Invalid RFC3339 encoded datetime - at `$.scheduled_for`", "key": "data"}],
            "When it took place: enter a date and time.",
        ),
        (
            "held.summary takes text without control characters",
            [
                {
                    "message": "held.summary takes text without control characters",
                    "key": "held.summary",
                }
            ],
            "Summary takes text without control characters.",
        ),
        (
            "the request body fails validation",
            [{"message": "Expected `int` >= 1 - at `$.held.duration_minutes`", "key": "data"}],
            "Minutes must be 1 or more.",
        ),
        ("A meeting cannot be in the future.", [], "A meeting cannot be in the future."),
        (
            "the request body fails validation: missing required fields: held.duration_minutes,"
            " scheduled_for",
            [
                {
                    "message": "Object missing required field `duration_minutes` - at `$.held`",
                    "key": "data",
                },
                {
                    "message": "Object missing required field `scheduled_for` - at `$`",
                    "key": "data",
                },
            ],
            "Minutes: fill this in. When it took place: fill this in.",
        ),
    ],
)
def test_an_api_problem_is_said_with_the_forms_labels_once(detail, errors, said):
    labels = {
        "held.duration_minutes": "Minutes",
        "scheduled_for": "When it took place",
        "held.summary": "Summary",
    }
    assert in_words(detail, errors, labels) == said


def patterns_of(node: Any) -> set[str]:
    if isinstance(node, dict):
        found = {str(node["pattern"])} if isinstance(node.get("pattern"), str) else set()
        return found.union(*(patterns_of(v) for v in node.values()))
    if isinstance(node, list):
        return set().union(*(patterns_of(v) for v in node))
    return set()


def test_a_value_not_matching_an_api_pattern_is_said_in_words_never_as_the_pattern(client):
    """Every pattern the API declares (its OpenAPI document) refused as msgspec says it: the
    console names the field and says what it takes, in words; the patterns of the fields a
    console form types (register number, participant number, phone, email, codes, one line of
    text, a name, free text, a time of day) have words of their own."""
    spec = client.get("/schema/openapi.json").json()
    patterns = patterns_of(spec["components"]["schemas"])
    typed = {
        r"^[0-9]{5}-[0-9]{3}$",
        r"^[A-Z0-9]{1,12}$",
        r"^\+?[0-9 ().-]{7,25}$",
        r"^[^@\s]+@[^@\s]+\.[^@\s]+$",
        r"^[A-Z0-9][A-Z0-9-]{1,15}$",
    }
    assert typed <= patterns
    for pattern in patterns:
        message = f"Expected `str` matching regex {pattern!r} - at `$.box`"
        said = sentence({"message": message, "key": "data"}, {"box": "The box"})
        assert said.startswith("The box: ") and pattern not in said and "regex" not in said
        if pattern in typed or "x00" in pattern:
            assert said != f"The box{UNMATCHED}", pattern


def test_only_a_session_that_ended_is_said_to_have_ended(browser, grantee, frozen_at, settings):
    ended = "Your session ended"
    first = browser.get("/console/caseload", follow_redirects=False)
    assert first.status_code == 303 and first.headers["location"] == "/console/sign-in"
    assert ended not in browser.get(first.headers["location"]).text
    # An idle session has ended: the sign-in page says so.
    start = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)
    fixed = frozen_at(start)
    sign_in(browser, "coordinator", grantee)
    fixed.advance(timedelta(minutes=settings.console_idle_minutes + 1))
    idle = browser.get("/console/caseload", follow_redirects=False)
    assert idle.headers["location"] == "/console/sign-in?expired=1"
    assert ended in browser.get(idle.headers["location"]).text
    # A cookie the console can no longer open (expired, or from an old key) has ended too.
    browser.cookies.clear()
    browser.cookies.set("prowd_console", "c3RhbGU=", path="/console")
    stale = browser.get("/console/caseload", follow_redirects=False)
    assert stale.headers["location"] == "/console/sign-in?expired=1"
    # After signing out, a visit is not an ended session.
    browser.cookies.clear()
    sign_in(browser, "coordinator", grantee)
    browser.post("/console/sign-out", data={"_csrf_token": csrf_of(browser)})
    after = browser.get("/console/caseload", follow_redirects=False)
    assert after.headers["location"] == "/console/sign-in", after.headers


@pytest.mark.parametrize(
    "path",
    [
        "/console/participants/not-a-uuid",
        "/console/goals/not-a-uuid/progress",
        "/console/nonexistent",
        "/console/participants/00000000-0000-4000-8000-000000000000",
    ],
)
def test_an_unknown_console_address_is_the_consoles_not_found_page(browser, grantee, path):
    sign_in(browser, "coordinator", grantee)
    r = browser.get(path)
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("text/html"), r.text[:200]
    assert "<title>Not found" in r.text and "There is no such page" in r.text


def test_the_timeline_is_in_the_order_of_the_times_it_shows(browser, world, db):
    """A stage move recorded after a meeting but for an earlier day comes before it."""
    pid = world.enrol(name="Odalys")
    mentor = world.mentor("mentor-zed")
    pairing = world.pair(mentor, [pid], "2025-10-01T15:00:00Z")
    sign_in(browser, "coordinator", world.slug)
    met = send(
        browser,
        f"/console/participants/{pid}/meeting",
        {
            "pairing_id": pairing,
            "occurred_at": "2025-12-05T10:00",
            "duration_minutes": "60",
            "place": "off_site",
            "topics": "goals",
            "summary": "Talked about work.",
        },
    )
    assert met.status_code == 303, met.text
    moved = send(
        browser,
        f"/console/participants/{pid}/stage",
        {
            "to_stage": "2",
            "placement": "rrc",
            "facility": "RRC-1",
            "occurred_at": "2025-12-01T09:00",
        },
    )
    assert moved.status_code == 303, moved.text
    projector.drain(db, f"g_{world.slug}")
    page = browser.get(f"/console/participants/{pid}").text
    timeline = page.split('id="h-timeline"')[1].split("</ol>")[0]
    days = re.findall(r"<li>\w{3} (\d\d \w{3} \d{4})", timeline)
    assert "01 Dec 2025" in days and "05 Dec 2025" in days, timeline
    shown = [datetime.strptime(d, "%d %b %Y") for d in days]
    assert shown == sorted(shown), days


def test_the_timeline_is_in_time_order_beyond_its_first_page(browser, world, db):
    """A stage move recorded after more than 200 other entries, for a day before them, is on
    the page, in its place (the page reads the API's time order, every page of it)."""
    pid = world.enrol(name="Odalys")
    pairing = world.pair(world.mentor("mentor-zed"), [pid], "2025-10-01T15:00:00Z")
    start = datetime(2025, 11, 1, 15, tzinfo=UTC)
    for i in range(101):
        world.meet(pairing, (start + timedelta(hours=7 * i)).isoformat(), 30)
    sign_in(browser, "coordinator", world.slug)
    moved = send(
        browser,
        f"/console/participants/{pid}/stage",
        {
            "to_stage": "2",
            "placement": "rrc",
            "facility": "RRC-1",
            "occurred_at": "2025-10-20T09:00",
        },
    )
    assert moved.status_code == 303, moved.text
    projector.drain(db, f"g_{world.slug}")
    page = browser.get(f"/console/participants/{pid}").text
    timeline = page.split('id="h-timeline"')[1].split("</ol>")[0]
    entries = re.findall(r"<li>\w{3} (\d\d \w{3} \d{4})", timeline)
    assert len(entries) > 200, len(entries)
    assert "20 Oct 2025" in entries, entries[:5]
    shown = [datetime.strptime(d, "%d %b %Y") for d in entries]
    assert shown == sorted(shown), entries[:10]


def test_the_participants_meetings_are_newest_first_by_their_instant(browser, world, db):
    """Across the end of daylight saving time, 01:10 CST is after 01:30 CDT: as text the
    times sort the other way."""
    pid = world.enrol(name="Odalys")
    pairing = world.pair(world.mentor("mentor-zed"), [pid], "2025-10-01T15:00:00Z")
    world.meet(pairing, "2025-11-02T06:30:00Z", 30, summary="Earlier, daylight time.")
    world.meet(pairing, "2025-11-02T07:10:00Z", 30, summary="Later, standard time.")
    projector.drain(db, f"g_{world.slug}")
    sign_in(browser, "coordinator", world.slug)
    page = browser.get(f"/console/participants/{pid}").text
    meetings = page.split('id="h-meetings"')[1].split("</table>")[0]
    later, earlier = meetings.index("Later, standard time."), meetings.index("Earlier, daylight")
    assert later < earlier, meetings
