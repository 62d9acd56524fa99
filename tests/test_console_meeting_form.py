"""The meeting form as a peer mentor and a coordinator use it, by HTTP form posts against the
real application and PostgreSQL: a remote or off-site meeting sent without the facility the form
pre-filled; the summary tagged as 42 CFR Part 2; a meeting in class hours refused with words
saying what to do, then recorded as a class session under the facility's approval; and a
second meeting at the same time refused in words, with the time in the grantee's zone and a
link to the participant's meetings, never the API's timestamp or id."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime

import pytest

from services.projector import live as projector
from tests.console_helpers import beside, key_of, post, refusal, select_of, sign_in
from tests.meetings_helpers import World, held

# Thursday 26 Nov 2026, 12:00 in Chicago (the world's zone, UTC-06:00).
NOW = datetime(2026, 11, 26, 18, 0, tzinfo=UTC)
CLASS = {"slots": [{"weekday": 2, "start": "09:00", "end": "12:00"}]}  # Tuesdays
OFFICER = "J. Ortiz, Reentry Affairs Coordinator, FCI-A"


@pytest.fixture
def world(client, auth, db, frozen_at) -> World:
    frozen_at(NOW, tick=True)
    return World(client, auth, db)


def meeting(pairing: str, at: str, **extra: str) -> dict[str, str]:
    return {
        "pairing_id": pairing,
        "occurred_at": at,
        "duration_minutes": "45",
        "place": "bop_institution",
        "facility": "FCI-A",
        "topics": "employment",
        "summary": "Practised an interview.",
        **extra,
    }


def test_a_remote_or_off_site_meeting_is_sent_without_the_prefilled_facility(browser, world):
    pid = world.enrol(name="Odalys")
    pairing = world.pair(world.mentor("mentor-zed"), [pid], "2026-10-01T15:00:00Z")
    # The API's sentence has its article right ("a remote", "an off-site"); the code is kept.
    for kind, said in (("remote", "a remote"), ("off_site", "an off-site")):
        body = world.meeting_body(
            pairing,
            "2026-11-20T10:00:00-06:00",
            location={"kind": kind, "facility": "FCI-A"},
            record=held("2026-11-20T10:00:00-06:00"),
        )
        problem = world.refused("/meetings", body, "facility_not_allowed")
        assert problem["detail"] == f"{said} meeting has no facility"

    projector.drain(world.db, world.schema)  # the facilities' list, as the worker keeps it
    sign_in(browser, "peer_mentor", world.slug, subject="mentor-zed")
    action = f"/console/participants/{pid}/meeting"
    form = browser.get(action).text
    # The place of the placement is pre-filled, with its facility, chosen among the grantee's.
    assert select_of(form, "facility") == (["", "FCI-A", "FCI-B", "RRC-1"], ["FCI-A"])
    key = key_of(form, action)
    done = post(browser, action, meeting(pairing, "2026-11-24T18:00", place="remote"), key)
    assert done.status_code == 303, refusal(done) if done.status_code != 303 else ""
    other = key_of(browser.get(action).text, action)
    done = post(browser, action, meeting(pairing, "2026-11-25T18:00", place="off_site"), other)
    assert done.status_code == 303, done.text
    places = [
        (m["location_kind"], m["facility"])
        for m in world.view("/meetings", pairing_id=pairing)["items"]
    ]
    assert places == [("remote", None), ("off_site", None)]


def test_the_summary_is_tagged_as_part_2_from_the_form(browser, world):
    pid = world.enrol(name="Odalys")
    pairing = world.pair(world.mentor("mentor-zed"), [pid], "2026-10-01T15:00:00Z")
    sign_in(browser, "peer_mentor", world.slug, subject="mentor-zed")
    action = f"/console/participants/{pid}/meeting"
    form = browser.get(action).text
    box = re.search(r'<input type="checkbox" id="summary_part2"[^>]*>', form)
    assert box and " checked" not in box.group(0)
    assert 'aria-describedby="summary_part2-help"' in box.group(0)
    assert "only under the participant's written consent" in form
    said = "Talked about her RDAP aftercare plan."
    r = post(
        browser,
        action,
        meeting(pairing, "2026-11-24T18:00", summary=said, summary_part2="1"),
        key_of(form, action),
    )
    assert r.status_code == 303, r.text
    (listed,) = world.view("/meetings", pairing_id=pairing)["items"]
    got = world.get(f"/meetings/{listed['id']}")["held"]
    assert (got["summary"], got["summary_part2"]) == (said, True)


def test_a_meeting_in_class_hours_is_refused_in_words_then_held_as_a_class_session(browser, world):
    world.post("/cohorts/C1/class-hours", CLASS)
    mentor = world.mentor("mentor-zed")
    ava, ben = world.enrol(name="Ava"), world.enrol(name="Ben")
    group = world.pair(mentor, [ava, ben], "2026-10-01T15:00:00Z", kind="group")
    projector.drain(world.db, world.schema)
    sign_in(browser, "coordinator", world.slug)
    action = f"/console/participants/{ava}/meeting"
    form = browser.get(action).text
    assert "No approval is recorded for Ava's cohort." in form
    key = key_of(form, action)
    # A group meeting records each member's attendance, nothing chosen for the mentor.
    marks = {f"attendance-{group}-{ava}": "present", f"attendance-{group}-{ben}": "absent"}
    for name in marks:
        assert re.search(rf'<select id="{name}" name="{name}"><option value="">Choose one', form)
    assert "Ava Lee" in form and "Ben Lee" in form
    in_class = {**meeting(group, "2026-11-24T10:00"), **marks}  # a Tuesday, in class
    before = world.events()
    r = post(browser, action, in_class, key)
    assert r.status_code == 422
    said = html.unescape(refusal(r))
    assert "overlaps a class period" in said and "“Held as”" in said, said
    assert "“The facility's approval”" in said and "`" not in said
    # The class hours named, from the cohort's own read, above the form and by the time.
    hours = "Cohort C1 is in class on Tuesdays 09:00 to 12:00."
    assert f"{hours}</p>" in said, said
    assert "overlaps a class period" in beside(r, "occurred_at")
    assert beside(r, "occurred_at").endswith(hours)
    # A class session with no approval: refused next to the approval.
    r = post(browser, action, {**in_class, "session": "class_session"}, key)
    assert r.status_code == 422
    assert beside(r, "approval_id"), r.text
    assert world.events() == before

    rid = world.post(
        "/cohorts/C1/class-session-requests",
        {"kinds": ["class_session"], "requested_on": "2026-11-02"},
    )["id"]
    world.post(
        f"/class-session-requests/{rid}/decision",
        {"decision": "approved", "decided_by": OFFICER, "decided_on": "2026-11-05"},
    )
    world.view("/class-session-requests")
    form = browser.get(action).text
    option = re.search(rf'<option value="{rid}">([^<]*)</option>', form)
    assert option and "class sessions with cohort C1 at FCI-A" in option.group(1), form
    # The approval named with a mentoring meeting: said in words, no kind's value.
    r = post(browser, action, {**in_class, "approval_id": rid}, key_of(form, action))
    assert r.status_code == 422
    assert beside(r, "approval_id") == (
        "An approval is named only by a class session or a graduate speakers' session."
    )
    r = post(
        browser,
        action,
        {**in_class, "session": "class_session", "approval_id": rid},
        key_of(form, action),
    )
    assert r.status_code == 303, r.text
    (listed,) = world.view("/meetings", pairing_id=group)["items"]
    got = world.get(f"/meetings/{listed['id']}")["held"]
    assert (got["session"], got["approval_id"], got["during_class_hours"]) == (
        "class_session",
        rid,
        True,
    )
    assert got["attendance"] == {ava: "present", ben: "absent"}


def test_a_second_meeting_at_the_same_time_is_refused_in_words_with_a_link(browser, world):
    pid = world.enrol(name="Odalys")
    pairing = world.pair(world.mentor("mentor-zed"), [pid], "2026-10-01T15:00:00Z")
    sign_in(browser, "peer_mentor", world.slug, subject="mentor-zed")
    action = f"/console/participants/{pid}/meeting"
    first = post(
        browser,
        action,
        meeting(pairing, "2026-11-24T10:00"),
        key_of(browser.get(action).text, action),
    )
    assert first.status_code == 303, first.text
    (existing,) = world.view("/meetings", pairing_id=pairing)["items"]
    before = world.events()
    again = post(
        browser,
        action,
        meeting(pairing, "2026-11-24T10:00", summary="Recorded twice by mistake."),
        key_of(browser.get(action).text, action),
    )
    assert again.status_code == 409
    said = (
        "This pairing has a meeting at Tue 24 Nov 2026, 10:00 (UTC-06:00) already (held);"
        " choose another time, or see that meeting on the participant's page."
    )
    box = html.unescape(refusal(again))
    assert said in box, box
    assert existing["id"] not in again.text and "2026-11-24T" not in box
    assert f'href="/console/participants/{pid}#h-meetings"' in box
    assert beside(again, "occurred_at") == said
    assert world.events() == before


def test_a_meeting_overlapping_another_is_refused_in_words(browser, world):
    """Retyped five minutes later, the meeting overlaps the one held from 10:00 for 45
    minutes: said with that meeting's time and end in the grantee's zone (decision 146)."""
    pid = world.enrol(name="Odalys")
    pairing = world.pair(world.mentor("mentor-zed"), [pid], "2026-10-01T15:00:00Z")
    sign_in(browser, "peer_mentor", world.slug, subject="mentor-zed")
    action = f"/console/participants/{pid}/meeting"
    first = post(
        browser,
        action,
        meeting(pairing, "2026-11-24T10:00"),
        key_of(browser.get(action).text, action),
    )
    assert first.status_code == 303, first.text
    before = world.events()
    again = post(
        browser,
        action,
        meeting(pairing, "2026-11-24T10:05"),
        key_of(browser.get(action).text, action),
    )
    assert again.status_code == 409
    said = (
        "This pairing has a meeting from Tue 24 Nov 2026, 10:00 to 10:45 (UTC-06:00) already"
        " (held), which this time overlaps; choose another time, or see that meeting on the"
        " participant's page."
    )
    box = html.unescape(refusal(again))
    assert said in box, box
    assert beside(again, "occurred_at") == said
    assert world.events() == before


def test_a_meeting_before_the_match_is_said_next_to_its_time_and_keeps_what_was_typed(
    browser, world
):
    pid = world.enrol(name="Odalys")
    pairing = world.pair(world.mentor("mentor-early"), [pid], "2026-10-01T15:00:00Z")
    sign_in(browser, "peer_mentor", world.slug, subject="mentor-early")
    action = f"/console/participants/{pid}/meeting"
    key = key_of(browser.get(action).text, action)
    typed = meeting(pairing, "2026-09-30T18:00", summary="Talked about the job fair.")
    page = post(browser, action, typed, key)
    assert page.status_code == 422
    assert beside(page, "occurred_at") == "The meeting cannot precede the match."
    assert "Talked about the job fair." in page.text
    assert world.view("/meetings", pairing_id=pairing)["items"] == []


def test_where_is_offered_in_words_not_the_apis_codes(browser, world):
    pid = world.enrol(name="Odalys")
    world.pair(world.mentor("mentor-words"), [pid], "2026-10-01T15:00:00Z")
    sign_in(browser, "peer_mentor", world.slug, subject="mentor-words")
    form = browser.get(f"/console/participants/{pid}/meeting").text
    where = form.split('<select id="place"')[1].split("</select>")[0]
    offered = re.findall(r'<option value="([a-z_]+)"[^>]*>([^<]*)</option>', where)
    assert offered == [
        ("bop_institution", "At a BOP institution"),
        ("rrc", "At an RRC"),
        ("off_site", "Off site"),
        ("remote", "Remote (phone or video)"),
    ]


def test_a_meeting_form_left_empty_says_every_missing_field_at_once(browser, world):
    """Nothing typed, nothing ticked: the time, the minutes and the topics each said beside
    its field in one round, with no call to the API; for a group, each member's attendance
    left to choose too (the empty selects a browser sends)."""
    pid = world.enrol(name="Odalys")
    pairing = world.pair(world.mentor("mentor-zed"), [pid], "2026-10-01T15:00:00Z")
    projector.drain(world.db, world.schema)
    sign_in(browser, "peer_mentor", world.slug, subject="mentor-zed")
    action = f"/console/participants/{pid}/meeting"
    key = key_of(browser.get(action).text, action)
    before = world.events()
    empty = {"pairing_id": pairing, "occurred_at": "", "duration_minutes": "", "summary": ""}
    r = post(browser, action, {**empty, "place": "off_site", "facility": ""}, key)
    assert r.status_code == 422
    assert beside(r, "occurred_at") == "When it took place: enter a date and time."
    assert beside(r, "duration_minutes") == "Minutes: fill this in."
    assert beside(r, "topics") == "Topics discussed: tick at least one."
    assert "Topics discussed: tick at least one." in html.unescape(refusal(r))
    # Filled in but the topics: said alone.
    r = post(browser, action, {**meeting(pairing, "2026-11-24T18:00"), "topics": []}, key)
    assert r.status_code == 422 and beside(r, "topics") == "Topics discussed: tick at least one."
    assert beside(r, "occurred_at") == "" and beside(r, "duration_minutes") == ""
    assert world.events() == before

    ava, ben = world.enrol(name="Ava"), world.enrol(name="Ben")
    group = world.pair(world.mentor("mentor-yan"), [ava, ben], "2026-10-01T15:00:00Z", kind="group")
    projector.drain(world.db, world.schema)
    sign_in(browser, "coordinator", world.slug)
    action = f"/console/participants/{ava}/meeting"
    key = key_of(browser.get(action).text, action)
    unmarked = {f"attendance-{group}-{ava}": "", f"attendance-{group}-{ben}": ""}
    before = world.events()
    r = post(browser, action, {**empty, "pairing_id": group, "place": "off_site", **unmarked}, key)
    assert r.status_code == 422
    for field in ("occurred_at", "duration_minutes", "topics"):
        assert beside(r, field), field
    assert beside(r, "attendance") == "Attendance: choose present or absent for each member."
    assert world.events() == before
