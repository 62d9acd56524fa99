"""How far ahead a meeting may be planned, and that its planned time never precedes the match
(decision 149): a year from now at most, said as a 422 `too_far_ahead` by the API and beside the
time by the console's schedule form; a meeting recorded as held at once has its planned time
checked against the match as a planned one does. Refusals append nothing. The domain's rule
under a fixed clock, then the API and the console against the real application."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from domain.common import RuleViolation
from domain.meetings import PLAN_AHEAD, Meeting
from services.projector import live as projector
from tests.console_helpers import beside, key_of, post, sign_in
from tests.meetings_helpers import OFF_SITE, World, held
from tests.test_cadence_domain import OFF_SITE as DOMAIN_OFF_SITE
from tests.test_cadence_domain import open_pairing

# Thursday 26 Nov 2026, 12:00 in Chicago (the world's zone, UTC-06:00).
NOW = datetime(2026, 11, 26, 18, 0, tzinfo=UTC)


@pytest.fixture
def world(client, auth, db, frozen_at) -> World:
    frozen_at(NOW, tick=True)
    return World(client, auth, db)


def schedule(at: datetime) -> Meeting:
    return Meeting.schedule(
        pairing=open_pairing([uuid4()]),
        scheduled_for=at,
        planned_minutes=60,
        location=DOMAIN_OFF_SITE,
        week="w",
    )


def test_a_meeting_is_planned_at_most_a_year_ahead(frozen_at):
    frozen_at(NOW)
    assert timedelta(days=365) == PLAN_AHEAD
    assert schedule(NOW + PLAN_AHEAD).scheduled_for == NOW + PLAN_AHEAD
    with pytest.raises(RuleViolation) as refused:
        schedule(NOW + PLAN_AHEAD + timedelta(minutes=1))
    assert refused.value.code == "too_far_ahead"
    assert refused.value.detail == (
        "a meeting is planned at most 365 days ahead, by 2027-11-26, not for 2027-11-26"
    )
    with pytest.raises(RuleViolation) as refused:
        schedule(datetime(2062, 12, 1, 18, tzinfo=UTC))
    assert refused.value.detail.endswith("not for 2062-12-01")


def test_the_api_refuses_a_plan_years_ahead_and_a_held_meeting_planned_before_the_match(world):
    ava = world.enrol(name="Ava")
    pairing = world.pair(world.mentor("mentor-zed"), [ava], "2026-10-01T15:00:00Z")
    problem = world.refused(
        "/meetings", world.meeting_body(pairing, "2062-12-01T18:00:00-06:00"), "too_far_ahead"
    )
    assert problem["detail"] == (
        "a meeting is planned at most 365 days ahead, by 2027-11-26, not for 2062-12-01"
    )
    # Held now, planned (as the client says) long before the match: refused as a plan is.
    body = world.meeting_body(
        pairing, "2019-11-24T18:00:00-06:00", record=held("2026-11-24T18:00:00-06:00")
    )
    problem = world.refused("/meetings", body, "before_match")
    assert problem["detail"] == "the meeting cannot precede the match"
    # Within the year: planned.
    planned = world.post(
        "/meetings", world.meeting_body(pairing, "2027-11-25T18:00:00-06:00", location=OFF_SITE)
    )
    assert planned["status"] == "scheduled"


def test_the_schedule_form_says_beside_the_time_how_far_ahead_a_meeting_is_planned(browser, world):
    ava = world.enrol(name="Ava")
    pairing = world.pair(world.mentor("mentor-zed"), [ava], "2026-10-01T15:00:00Z")
    projector.drain(world.db, world.schema)
    sign_in(browser, "peer_mentor", world.slug, subject="mentor-zed")
    action = f"/console/participants/{ava}/schedule"
    key = key_of(browser.get(action).text, action)
    before = world.events()
    plan = {
        "pairing_id": pairing,
        "scheduled_for": "2062-12-01T18:00",
        "planned_minutes": "60",
        "place": "remote",
    }
    r = post(browser, action, plan, key)
    assert r.status_code == 422
    assert beside(r, "scheduled_for") == (
        "A meeting is planned at most 365 days ahead, by 2027-11-26, not for 2062-12-01."
    )
    r = post(browser, action, {**plan, "scheduled_for": "2026-09-01T18:00"}, key)
    assert beside(r, "scheduled_for") == "The meeting cannot precede the match."
    assert world.events() == before
