"""A console session that ends while a form is being filled in (decision 144), over HTTP on
the real application and PostgreSQL with a frozen clock: the browser keeps the session cookie
past the idle limit, so the server tells an ended session from none and the sign-in page says
so; a form sent after the end is not recorded, is kept sealed for the same person's next
sign-in, and comes back filled in with a notice that it must be sent again; sending it then
records one meeting; another person signing in on that browser never sees it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from services.api.console.session import CARRY_BYTES, CARRY_MINUTES, SESSION_HOURS
from tests.console_helpers import csrf_of, sign_in
from tests.meetings_helpers import World

START = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)
ENDED = "Your session ended"
NOT_RECORDED = "it was NOT recorded"
SUMMARY = "Talked about the job interview at the warehouse on Tuesday."


@pytest.fixture
def world(client, auth, db) -> World:
    return World(client, auth, db)


def cookie_lines(response: Any) -> list[str]:
    return [v for k, v in response.headers.multi_items() if k == "set-cookie"]


def meeting_form(world: World) -> tuple[str, str, dict[str, str]]:
    """A participant paired with mentor-zed: the meeting form's address, and what is typed."""
    pid = world.enrol(name="Odalys")
    mentor = world.mentor("mentor-zed")
    pairing = world.pair(mentor, [pid], "2025-10-01T15:00:00Z")
    typed = {
        "pairing_id": pairing,
        "occurred_at": "2026-03-09T10:00",
        "duration_minutes": "45",
        "place": "off_site",
        "topics": "employment",
        "summary": SUMMARY,
    }
    return pid, f"/console/participants/{pid}/meeting", typed


def open_and_idle(
    browser: TestClient[Litestar], world: World, frozen_at: Any, settings: Any, path: str
) -> str:
    """mentor-zed opens the form, then leaves it past the idle limit; the form's key."""
    fixed = frozen_at(START)
    sign_in(browser, "peer_mentor", world.slug, subject="mentor-zed")
    page = browser.get(path)
    assert page.status_code == 200, page.text
    fixed.advance(timedelta(minutes=settings.console_idle_minutes + 1))
    return page.text.split('name="idempotency_key" value="')[1].split('"')[0]


def test_the_session_cookie_outlives_the_idle_limit_and_the_server_ends_it(
    browser, grantee, frozen_at, settings
):
    frozen_at(START)
    r = sign_in(browser, "coordinator", grantee)
    session = next(c for c in cookie_lines(r) if c.startswith("prowd_console="))
    max_age = int(session.lower().split("max-age=")[1].split(";")[0])
    # The browser keeps the cookie to the absolute limit, not only to the idle one.
    assert max_age == SESSION_HOURS * 3600 > settings.console_idle_minutes * 60
    # An expired GET: the sign-in page says the session ended.
    frozen_at(START + timedelta(minutes=settings.console_idle_minutes + 1))
    idle = browser.get("/console/caseload", follow_redirects=False)
    assert idle.headers["location"] == "/console/sign-in?expired=1"
    assert ENDED in browser.get(idle.headers["location"]).text


def test_a_form_sent_after_the_end_comes_back_to_the_same_person_to_send_again(
    browser, world, frozen_at, settings
):
    pid, path, typed = meeting_form(world)
    key = open_and_idle(browser, world, frozen_at, settings, path)
    before = world.events()
    late = browser.post(
        path,
        data={**typed, "idempotency_key": key, "_csrf_token": csrf_of(browser)},
        follow_redirects=False,
    )
    assert late.status_code == 303 and late.headers["location"] == "/console/sign-in?expired=1"
    # The sealed session carries it: nothing of it is readable in the cookie.
    for line in cookie_lines(late):
        assert "warehouse" not in line and "mentor-zed" not in line
    signin = browser.get(late.headers["location"]).text
    assert ENDED in signin and "The form you sent was NOT recorded" in signin
    assert world.events() == before and world.log(typed["pairing_id"]) == []
    # Signing in again as the same person returns to the form, filled in, not recorded.
    again = sign_in(browser, "peer_mentor", world.slug, subject="mentor-zed")
    assert again.headers["location"] == path
    form = browser.get(path)
    assert form.status_code == 200
    assert NOT_RECORDED in form.text and "send it again" in form.text
    assert SUMMARY in form.text and 'value="45"' in form.text
    assert 'value="2026-03-09T10:00"' in form.text
    assert f'name="idempotency_key" value="{key}"' in form.text
    assert world.events() == before
    # Given once: the next visit is the empty form.
    assert SUMMARY not in browser.get(path).text
    # Sent again, it records one meeting; sent twice (the same key), still one.
    for _ in range(2):
        sent = browser.post(
            path,
            data={**typed, "idempotency_key": key, "_csrf_token": csrf_of(browser)},
            follow_redirects=False,
        )
        assert sent.status_code == 303, sent.text
        assert sent.headers["location"] == f"/console/participants/{pid}"
    assert len(world.log(typed["pairing_id"])) == 1


def test_another_person_signing_in_on_that_browser_does_not_get_the_form(
    browser, world, frozen_at, settings
):
    _, path, typed = meeting_form(world)
    key = open_and_idle(browser, world, frozen_at, settings, path)
    browser.post(
        path,
        data={**typed, "idempotency_key": key, "_csrf_token": csrf_of(browser)},
        follow_redirects=False,
    )
    other = sign_in(browser, "coordinator", world.slug)
    assert other.headers["location"] == "/console/"
    for page in ("/console/caseload", path):
        shown = browser.get(page).text
        assert SUMMARY not in shown and NOT_RECORDED not in shown
    # Nor does the first person, signing in after the other: it was dropped.
    sign_in(browser, "peer_mentor", world.slug, subject="mentor-zed")
    assert SUMMARY not in browser.get(path).text


def test_a_carried_form_is_short_lived_and_size_limited(browser, world, frozen_at, settings):
    _, path, typed = meeting_form(world)
    key = open_and_idle(browser, world, frozen_at, settings, path)
    browser.post(
        path,
        data={**typed, "idempotency_key": key, "_csrf_token": csrf_of(browser)},
        follow_redirects=False,
    )
    frozen_at(START + timedelta(minutes=settings.console_idle_minutes + CARRY_MINUTES + 2))
    late = sign_in(browser, "peer_mentor", world.slug, subject="mentor-zed")
    assert late.headers["location"] == "/console/"
    assert SUMMARY not in browser.get(path).text
    # Too long to keep: not carried, and the sign-in page says it was lost, not recorded.
    key = open_and_idle(browser, world, frozen_at, settings, path)
    long = {**typed, "summary": "x" * (CARRY_BYTES + 1)}
    r = browser.post(
        path,
        data={**long, "idempotency_key": key, "_csrf_token": csrf_of(browser)},
        follow_redirects=False,
    )
    page = browser.get(r.headers["location"]).text
    assert "too long to keep" in page and "NOT recorded" in page
    assert sum(len(c) for c in cookie_lines(r)) < 8 * 1024


def test_every_command_form_and_any_other_page_give_back_what_was_sent(
    browser, world, frozen_at, settings
):
    """The command forms (render_form) fill the fields in again; a page that does not (here
    the caseload's search) shows what was sent as it was, so that nothing typed is lost."""
    pid, _, typed = meeting_form(world)
    path = f"/console/participants/{pid}/schedule"
    key = open_and_idle(browser, world, frozen_at, settings, path)
    plan = {
        "pairing_id": typed["pairing_id"],
        "scheduled_for": "2026-03-17T10:00",
        "planned_minutes": "75",
        "place": "off_site",
    }
    browser.post(
        path,
        data={**plan, "idempotency_key": key, "_csrf_token": csrf_of(browser)},
        follow_redirects=False,
    )
    again = sign_in(browser, "peer_mentor", world.slug, subject="mentor-zed")
    assert again.headers["location"] == path
    form = browser.get(path).text
    assert NOT_RECORDED in form and 'value="75"' in form and 'value="2026-03-17T10:00"' in form
    assert f'name="idempotency_key" value="{key}"' in form
    assert world.log(typed["pairing_id"]) == []
    # The caseload's search, sent after the end: its page lists what was sent.
    fixed = frozen_at(START + timedelta(hours=1))
    sign_in(browser, "coordinator", world.slug)
    fixed.advance(timedelta(minutes=settings.console_idle_minutes + 1))
    browser.post(
        "/console/caseload",
        data={"q": "Brandvold", "_csrf_token": csrf_of(browser)},
        follow_redirects=False,
    )
    back = sign_in(browser, "coordinator", world.slug)
    assert back.headers["location"] == "/console/caseload"
    page = browser.get("/console/caseload").text
    assert "NOT recorded" in page and "<dd>Brandvold</dd>" in page


def test_a_form_whose_sender_is_unknown_is_not_kept_and_the_sign_in_page_says_so(browser):
    """A cookie the console can no longer open (an old key) names nobody: nothing is kept for
    whoever signs in next, and the page says the form was not recorded."""
    token = csrf_of(browser)
    browser.cookies.clear()
    browser.cookies.set("prowd_csrf", token, path="/console")
    browser.cookies.set("prowd_console", "c3RhbGU=", path="/console")
    r = browser.post(
        "/console/caseload", data={"q": "Brandvold", "_csrf_token": token}, follow_redirects=False
    )
    assert r.headers["location"] == "/console/sign-in?expired=1"
    page = browser.get(r.headers["location"]).text
    assert "NOT recorded" in page and "could not be kept" in page and "Brandvold" not in page
