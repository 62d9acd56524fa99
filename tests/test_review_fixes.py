"""Rules found missing in review: a mentor's access ends with their certification; an amendment
never silently drops a confidential note; bad cursors and naive times are 4xx, not 500."""

from __future__ import annotations

import pytest

from services.projector import live as projector
from tests.meetings_helpers import World


@pytest.fixture
def world(client, auth, db):
    return World(client, auth, db, "America/Chicago")


def test_a_retired_or_suspended_mentor_loses_access_to_former_mentees(world):
    mentor = world.mentor("mentor-ret")
    mentee = world.enrol()
    world.pair(mentor, [mentee], "2026-10-01T12:00:00Z")
    projector.drain(world.db, world.schema)
    assert (
        world.client.get(
            f"{world.base}/participants/{mentee}",
            headers=world.headers("peer_mentor", "mentor-ret"),
        ).status_code
        == 200
    )
    world.post(f"/mentors/{mentor}/suspension", {"reason": "review"})
    projector.drain(world.db, world.schema)
    h = world.headers("peer_mentor", "mentor-ret")
    assert world.client.get(f"{world.base}/participants/{mentee}", headers=h).status_code == 404
    r = world.client.get(f"{world.base}/participants", headers=h)
    assert (r.status_code, r.json()["items"]) == (200, [])
    r = world.client.get(f"{world.base}/pairings", headers=h)
    assert (r.status_code, r.json()["items"]) == (200, [])


def test_an_amendment_without_a_note_keeps_it_and_others_cannot_replace_it(world):
    mentor = world.mentor("mentor-note")
    mentee = world.enrol()
    pairing = world.pair(mentor, [mentee], "2026-10-01T12:00:00Z")
    meeting = world.meet(
        pairing,
        "2026-11-03T18:00:00-06:00",
        confidential_note="only for us",
        sub="mentor-note",
        role="peer_mentor",
    )
    body = {
        "reason": "duration was wrong",
        "record": {
            "occurred_at": "2026-11-03T18:00:00-06:00",
            "duration_minutes": 45,
            "topics": ["goals"],
        },
    }
    world.post(f"/meetings/{meeting['id']}/amendments", body, role="case_manager")
    got = world.get(f"/meetings/{meeting['id']}", role="coordinator")
    assert got["held"]["confidential_note"] == "only for us"
    assert got["held"]["duration_minutes"] == 45
    replaced = {**body, "record": {**body["record"], "confidential_note": "overwritten"}}
    before = world.events()
    world.post(f"/meetings/{meeting['id']}/amendments", replaced, role="case_manager", status=403)
    assert world.events() == before


def test_a_meeting_time_without_an_offset_is_refused(world):
    mentor = world.mentor("mentor-naive")
    pairing = world.pair(mentor, [world.enrol()], "2026-10-01T12:00:00Z")
    before = world.events()
    body = world.meeting_body(
        pairing,
        "2026-11-03T18:00:00-06:00",
        record={"occurred_at": "2026-11-03T18:00:00", "duration_minutes": 30, "topics": ["goals"]},
    )
    r = world.client.post(f"{world.base}/meetings", json=body, headers=world.headers())
    assert (r.status_code, r.json()["code"]) == (422, "naive_datetime")
    assert world.events() == before


@pytest.mark.parametrize(
    "url",
    [
        "/goals?cursor=abc",
        "/pairings?cursor=not-a-uuid",
        "/participants?cursor=%00",
        "/participants?facility=A%00B",
    ],
)
def test_malformed_cursors_and_filters_are_client_errors(world, url):
    r = world.client.get(world.base + url, headers=world.headers())
    assert r.status_code == 400, r.text
    assert r.headers["content-type"].startswith("application/problem+json")


def test_unicode_digits_are_not_positions(world):
    r = world.client.get(f"{world.base}/participants?min_position=%C2%B2", headers=world.headers())
    assert (r.status_code, r.json()["code"]) == (400, "invalid_request")


def test_a_meeting_discusses_only_goals_of_its_members(world):
    mentor = world.mentor("mentor-goals")
    mentee, stranger = world.enrol(), world.enrol(name="Bo")
    pairing = world.pair(mentor, [mentee], "2026-10-01T12:00:00Z")
    goal = {
        "horizon": "short_term",
        "domain": "employment",
        "statement": "Finish a resume",
        "measure": "reviewed by staff",
        "target": "1 resume",
        "target_date": "2026-12-20",
    }
    theirs = world.post("/goals", {"participant_id": stranger, **goal})["id"]
    mine = world.post("/goals", {"participant_id": mentee, **goal})["id"]
    before = world.events()
    body = world.meeting_body(
        pairing,
        "2026-11-03T18:00:00-06:00",
        record={
            "occurred_at": "2026-11-03T18:00:00-06:00",
            "duration_minutes": 30,
            "topics": ["goals"],
            "goals_discussed": [theirs],
        },
    )
    r = world.client.post(f"{world.base}/meetings", json=body, headers=world.headers())
    assert (r.status_code, r.json()["code"]) == (422, "goal_of_other_participant")
    assert world.events() == before
    body["held"]["goals_discussed"] = [mine]
    assert (
        world.client.post(f"{world.base}/meetings", json=body, headers=world.headers()).status_code
        == 201
    )


def test_every_event_of_a_command_names_its_grantee(world):
    mentee = world.enrol()
    world.post(
        f"/participants/{mentee}/stage-transitions",
        {"to_stage": 3, "occurred_at": "2026-10-01T12:00:00Z"},
    )
    rows = world.db.fetchall(
        f"SELECT topic, convert_from(state, 'UTF8') FROM \"{world.schema}\".events"
    )
    assert rows
    for topic, state in rows:
        assert f'"grantee":"{world.slug}"' in state, topic
