"""The console's refusals in the words of the people who use it (decision 149): a stage move,
a placement's facility, a meeting place of the wrong kind and a form sent again with other
content are refused in sentences that name no API field (`to_stage`, `returned_to_custody`),
no enum value (`rrc`, `bop_institution`) and no protocol header (`Idempotency-Key`); through
HTTP form posts against the real application and PostgreSQL, appending nothing."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime
from typing import Any

import pytest

from services.projector import live as projector
from tests.conftest import FreezeAt
from tests.console_helpers import beside, key_of, post, refusal, sign_in
from tests.meetings_helpers import World

# A Tuesday, 09:00 in Chicago (the world's zone).
NOW = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)
# The API's words that a console user must never read.
API_WORDS = re.compile(
    r"to_stage|returned_to_custody|bop_institution|home_confinement|\brrc\b|Idempotency|_"
)


@pytest.fixture
def world(client: Any, auth: Any, db: Any, frozen_at: FreezeAt) -> World:
    frozen_at(NOW, tick=True)
    return World(client, auth, db)


def said(page: Any) -> str:
    """The refusal's sentences above the form, without its heading."""
    return html.unescape(re.sub(r"<[^>]*>", "", refusal(page).split("</h2>")[-1])).strip()


def plain(text: str) -> str:
    assert text and not API_WORDS.search(text), text
    return text


def test_a_stage_move_is_refused_in_the_words_of_the_form(browser, world):
    pid = world.enrol(name="Odalys")
    projector.drain(world.db, world.schema)
    sign_in(browser, "coordinator", world.slug)
    action = f"/console/participants/{pid}/stage"
    key = key_of(browser.get(action).text, action)
    before = world.events()
    at = {"occurred_at": "2026-03-02T09:00"}

    r = post(browser, action, {**at, "to_stage": "1", "facility": "FCI-B"}, key)
    assert r.status_code == 422
    assert plain(beside(r, "to_stage")) == (
        "A participant goes back to stage 1 only on a return to custody: mark the move as a"
        " return to custody."
    )
    r = post(browser, action, {**at, "to_stage": "3", "returned_to_custody": "1"}, key)
    assert plain(beside(r, "to_stage")) == (
        "A return to custody moves the participant back to stage 1: choose stage 1."
    )
    r = post(browser, action, {**at, "to_stage": "2", "placement": "rrc"}, key)
    assert plain(beside(r, "facility")) == (
        "A placement in an RRC needs its facility: choose an RRC."
    )
    r = post(
        browser,
        action,
        {**at, "to_stage": "2", "placement": "home_confinement", "facility": "RRC-1"},
        key,
    )
    assert plain(beside(r, "facility")) == (
        "A placement in home confinement has no facility: leave the facility empty."
    )
    r = post(browser, action, {**at, "to_stage": "3", "placement": "rrc", "facility": "RRC-1"}, key)
    assert plain(said(r)) == "A placement in an RRC belongs to stage 2, not stage 3."
    early = {"occurred_at": "2025-01-02T09:00", "to_stage": "2", "placement": "rrc"}
    r = post(browser, action, {**early, "facility": "RRC-1"}, key)
    assert plain(beside(r, "occurred_at")).startswith(
        "The time of the stage transition, 2025-01-02T09:00:00-06:00, is before the current"
        " stage began"
    )
    assert world.events() == before


def test_a_form_sent_again_with_other_content_says_so_without_the_protocol(browser, world):
    pid = world.enrol(name="Odalys")
    projector.drain(world.db, world.schema)
    sign_in(browser, "coordinator", world.slug)
    action = f"/console/participants/{pid}/stage"
    key = key_of(browser.get(action).text, action)
    move = {"to_stage": "2", "placement": "rrc", "facility": "RRC-1"}
    done = post(browser, action, {**move, "occurred_at": "2026-03-02T09:00"}, key)
    assert done.status_code == 303, done.text
    before = world.events()
    # The page kept by the browser (Back), changed and sent again with its key.
    r = post(browser, action, {**move, "occurred_at": "2026-03-03T09:00"}, key)
    assert r.status_code == 422
    assert plain(said(r)) == (
        "This form was sent before with other content, and that was recorded; nothing was"
        " recorded now. To record this too, open the form anew (not with the browser's Back"
        " button), fill it in and send it."
    )
    assert world.events() == before
    # The same content again is the first sending, answered as it was.
    again = post(browser, action, {**move, "occurred_at": "2026-03-02T09:00"}, key)
    assert again.status_code == 303
    assert world.events() == before


def test_a_meeting_place_of_the_wrong_kind_says_so_before_the_clearance(browser, world):
    pid = world.enrol(name="Odalys")
    # The mentor is cleared for FCI-A, a BOP institution.
    pairing = world.pair(world.mentor("mentor-zed"), [pid], "2026-03-01T15:00:00Z")
    projector.drain(world.db, world.schema)
    sign_in(browser, "peer_mentor", world.slug, subject="mentor-zed")
    action = f"/console/participants/{pid}/meeting"
    key = key_of(browser.get(action).text, action)
    before = world.events()
    held = {
        "pairing_id": pairing,
        "occurred_at": "2026-03-09T10:00",
        "duration_minutes": "45",
        "topics": "employment",
        "summary": "Practised an interview.",
    }
    for place, facility, words in (
        ("rrc", "FCI-A", "Facility FCI-A is a BOP institution, not an RRC"),
        ("bop_institution", "RRC-1", "Facility RRC-1 is an RRC, not a BOP institution"),
    ):
        r = post(browser, action, {**held, "place": place, "facility": facility}, key)
        assert r.status_code == 422
        assert plain(beside(r, "facility")) == f"{words}: choose the place that fits the facility."
    assert world.events() == before


def test_a_local_time_the_clocks_skipped_is_refused_and_one_they_repeated_is_the_first(
    browser, world
):
    """A typed local time read in the grantee's zone (America/Chicago): 02:30 on 8 March 2026
    never happened (02:00 became 03:00) and is refused beside its field, where it used to be
    recorded silently as 03:30; 01:30 on 2 November 2025 happened twice and is taken as the
    first, in daylight time (UTC-05:00)."""
    pid = world.enrol(name="Odalys")
    projector.drain(world.db, world.schema)
    sign_in(browser, "coordinator", world.slug)
    action = f"/console/participants/{pid}/stage"
    page = browser.get(action)
    key = key_of(page.text, action)
    before = world.events()
    move = {"to_stage": "2", "placement": "rrc", "facility": "RRC-1"}

    r = post(browser, action, {**move, "occurred_at": "2026-03-08T02:30"}, key)
    assert r.status_code == 422
    assert plain(beside(r, "occurred_at")) == (
        "When: 02:30 on Sun 08 Mar 2026 did not happen in America/Chicago (the"
        " clocks went forward from 02:00 to 03:00); enter the time the clock showed."
    )
    assert world.events() == before

    r = post(browser, action, {**move, "occurred_at": "2025-11-02T01:30"}, key)
    assert r.status_code in (200, 303), r.text
    [moved] = [
        e
        for e in world.get(f"/participants/{pid}/history")["events"]
        if e["type"] == "StageTransitioned"
    ]
    assert moved["occurred_at"] == "2025-11-02T01:30:00-05:00"  # not 01:30-06:00, an hour later
