"""Daily casework from the console, through HTTP form posts against the real application: a
case contact and a case note from the participant's page, a SMART goal and its progress, and the
meeting form that pre-fills nothing a mentor must say. Each record is then seen on the page or
in the API; each refusal is a sentence, next to the field it is about, and appends nothing."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest

from services.projector import live as projector
from tests.console_helpers import beside, key_of, post, refusal, sign_in
from tests.meetings_helpers import World

# A Tuesday, 09:00 in Chicago (the world's zone).
NOW = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)


@pytest.fixture
def world(client, auth, db, frozen_at) -> World:
    frozen_at(NOW, tick=True)
    return World(client, auth, db)


def history_kinds(world: World, pid: str) -> list[dict[str, Any]]:
    events = world.get(f"/participants/{pid}/history")["events"]
    return [e for e in events if "CaseManagementContact" in str(e)]


def test_a_case_contact_is_recorded_from_the_participant_page(browser, world):
    pid = world.enrol(name="Odalys")
    sign_in(browser, "case_manager", world.slug)
    page = browser.get(f"/console/participants/{pid}")
    action = f"/console/participants/{pid}/contact"
    assert f'action="{action}"' in page.text
    key = key_of(page.text, action)
    before = world.events()

    # Refused, in sentences next to the fields; nothing appended.
    r = post(browser, action, {"contacted_on": "2026-03-11", "mode": "phone"}, key)
    assert r.status_code == 422
    assert beside(r, "contacted_on") == "The contact date lies in the future."
    assert "The contact date lies in the future." in refusal(r)
    r = post(browser, action, {"contacted_on": "2025-09-01", "mode": "phone"}, key)
    assert beside(r, "contacted_on").startswith("A contact on 2025-09-01 is before program entry")
    r = post(browser, action, {"contacted_on": "", "mode": ""}, key)
    assert beside(r, "contacted_on") == "The day of the contact: enter a date."
    assert beside(r, "mode") == "How: choose one of the options."
    assert world.events() == before

    # Recorded once, however often the same form is sent.
    done = post(browser, action, {"contacted_on": "2026-03-09", "mode": "phone"}, key)
    assert done.status_code == 303, done.text
    again = post(browser, action, {"contacted_on": "2026-03-09", "mode": "phone"}, key)
    assert again.status_code == 303, again.text
    assert world.events() == before + 1
    projector.drain(world.db, world.schema)
    shown = browser.get(done.headers["location"]).text
    assert "Case contact recorded: phone, 2026-03-09." in shown
    listed = shown.split('id="h-casework"')[1].split("</ul>")[0]
    assert "Mon 09 Mar 2026 · phone · recorded by <bdi>demo-case_manager</bdi>" in listed, listed
    contacts = history_kinds(world, pid)
    assert len(contacts) == 1 and "2026-03-09" in str(contacts[0]), contacts

    # A peer mentor has no such form, and the API refuses one sent anyway.
    sign_in(browser, "peer_mentor", world.slug, subject="mentor-zed")
    r = post(browser, action, {"contacted_on": "2026-03-09", "mode": "phone"}, "k-mentor")
    assert r.status_code in (403, 404)
    assert world.events() == before + 1


def test_the_page_lists_case_contacts_by_their_day_newest_first(browser, world):
    """Recorded out of order, the contacts read by their day (decision 146); two on one day,
    the later recorded first."""
    pid = world.enrol(name="Odalys")
    for on, mode in (
        ("2026-03-05", "phone"),
        ("2026-03-02", "in_person"),
        ("2026-03-09", "phone"),
        ("2026-03-05", "video"),
    ):
        world.post(f"/participants/{pid}/case-contacts", {"contacted_on": on, "mode": mode})
    sign_in(browser, "case_manager", world.slug)
    page = browser.get(f"/console/participants/{pid}").text
    listed = page.split('id="h-casework"')[1].split("</ul>")[0]
    days = re.findall(r"<li>(\w{3} \d\d \w{3} \d{4} · [\w ]+) ·", listed)
    assert days == [
        "Mon 09 Mar 2026 · phone",
        "Thu 05 Mar 2026 · video",
        "Thu 05 Mar 2026 · phone",
        "Mon 02 Mar 2026 · in person",
    ], listed


def test_a_case_note_is_added_from_the_participant_page(browser, world):
    pid = world.enrol(name="Odalys")
    sign_in(browser, "case_manager", world.slug)
    page = browser.get(f"/console/participants/{pid}")
    action = f"/console/participants/{pid}/note"
    key = key_of(page.text, action)
    before = world.events()

    r = post(browser, action, {"text": "   "}, key)
    assert r.status_code in (400, 422)
    assert beside(r, "text") == "The note must not be empty."
    assert world.events() == before

    text = "Called about the bus pass; she starts at the warehouse Monday."
    done = post(browser, action, {"text": text, "part2": "1"}, key)
    assert done.status_code == 303, done.text
    assert post(browser, action, {"text": text, "part2": "1"}, key).status_code == 303
    assert world.events() == before + 1
    projector.drain(world.db, world.schema)
    shown = browser.get(done.headers["location"]).text
    assert "Case note added." in shown
    notes = shown.split('id="h-notes"')[1].split("</section>")[0]
    assert text in notes and "42 CFR Part 2" in notes
    listed = world.view(f"/participants/{pid}/case-notes")["items"]
    assert [(n["text"], n["part2"]) for n in listed] == [(text, True)]

    # Peer mentors neither write nor read case notes: no form, and a post is refused.
    world.pair(world.mentor("mentor-zed"), [pid], "2025-10-01T15:00:00Z")
    paired = world.events()
    sign_in(browser, "peer_mentor", world.slug, subject="mentor-zed")
    projector.drain(world.db, world.schema)
    mentee = browser.get(f"/console/participants/{pid}")
    assert mentee.status_code == 200 and f'action="{action}"' not in mentee.text
    r = post(browser, action, {"text": "From a mentor"}, "k-mentor")
    assert r.status_code in (403, 404)
    assert world.events() == paired


GOAL = {
    "statement": "Get a state ID card",
    "measure": "ID card issued by the DMV",
    "target": "card in hand",
    "domain": "id_documents",
    "horizon": "short_term",
    "target_date": "2026-04-30",
}


def test_a_smart_goal_is_set_and_progressed_with_refusals_next_to_the_field(browser, world, db):
    pid = world.enrol(name="Odalys")
    sign_in(browser, "case_manager", world.slug)
    assert f"/console/participants/{pid}/goal" in browser.get(f"/console/participants/{pid}").text
    action = f"/console/participants/{pid}/goal"
    form = browser.get(action)
    assert form.status_code == 200
    for label in ("Specific", "Measurable", "Achievable", "Relevant", "Time-bound"):
        assert label in form.text
    key = key_of(form.text, action)
    before = world.events()

    r = post(browser, action, {**GOAL, "horizon": "weekly"}, key)
    assert r.status_code == 422
    assert beside(r, "target_date") == (
        "A weekly goal set on 2026-03-10 has a target date within 7 days (by 2026-03-17),"
        " not 2026-04-30."
    )
    assert beside(r, "statement") == ""
    r = post(browser, action, {**GOAL, "target_date": "2026-03-01"}, key)
    assert beside(r, "target_date") == (
        "The target date 2026-03-01 is before the day the goal is set (2026-03-10)."
    )
    r = post(browser, action, {**GOAL, "measure": " ", "domain": ""}, key)
    assert r.status_code in (400, 422)
    assert beside(r, "domain") == "Relevant: the part of life it serves: choose one of the options."
    r = post(browser, action, {**GOAL, "measure": " "}, key)
    assert beside(r, "measure") == "Measurable: how you will know: fill this in."
    # What was typed is kept.
    assert 'value="Get a state ID card"' in r.text
    assert world.events() == before

    done = post(browser, action, GOAL, key)
    assert done.status_code == 303, done.text
    assert post(browser, action, GOAL, key).status_code == 303
    assert world.events() == before + 1
    goals = world.view("/goals", participant_id=pid)["items"]
    assert [(g["statement"], g["horizon"], g["target_date"]) for g in goals] == [
        ("Get a state ID card", "short_term", "2026-04-30")
    ]
    projector.drain(world.db, world.schema)
    page = browser.get(done.headers["location"]).text
    assert "Goal set." in page and "Get a state ID card" in page

    # Progress: a percent out of range is said next to its field; then recorded.
    progress = f"/console/goals/{goals[0]['id']}/progress"
    pkey = key_of(browser.get(progress).text, progress)
    r = post(
        browser,
        progress,
        {"note": "Birth certificate ordered", "evidence": "Receipt", "percent": "150"},
        pkey,
    )
    assert r.status_code in (400, 422)
    assert beside(r, "percent") == "Percent done (optional) must be 100 or less."
    r = post(
        browser,
        progress,
        {"note": "Birth certificate ordered", "evidence": "Receipt", "percent": "40"},
        pkey,
    )
    assert r.status_code == 303, r.text
    projector.drain(world.db, world.schema)
    page = browser.get(f"/console/participants/{pid}").text
    assert "40%" in page.split('id="h-goals"')[1].split("</section>")[0]


def test_the_meeting_form_prefills_only_the_place_of_the_placement(browser, world):
    inside = world.enrol(name="Odalys")
    at_rrc = world.enrol(name="Tobias")
    world.post(
        f"/participants/{at_rrc}/stage-transitions",
        {
            "to_stage": 2,
            "placement": "rrc",
            "facility": "RRC-1",
            "occurred_at": "2026-02-02T15:00:00Z",
        },
    )
    mentor = world.mentor("mentor-zed")
    pairing = world.pair(mentor, [inside], "2025-10-01T15:00:00Z")
    sign_in(browser, "coordinator", world.slug)

    def selected(html: str, name: str) -> str:
        select = html.split(f'name="{name}"')[1].split("</select>")[0]
        return re.findall(r'<option value="([^"]*)" selected', select)[0]

    form = browser.get(f"/console/participants/{inside}/meeting").text
    assert " checked" not in form.split("<legend>")[1].split("</fieldset>")[0]
    assert re.search(r'name="duration_minutes"[^>]*value=""', form)
    assert re.search(r'name="occurred_at"[^>]*value=""', form)
    assert selected(form, "place") == "bop_institution"
    assert selected(form, "facility") == "FCI-A"
    rrc = browser.get(f"/console/participants/{at_rrc}/meeting").text
    assert selected(rrc, "place") == "rrc" and selected(rrc, "facility") == "RRC-1"

    action = f"/console/participants/{inside}/meeting"
    key = key_of(form, action)
    good = {
        "pairing_id": pairing,
        "occurred_at": "2026-03-09T18:00",
        "duration_minutes": "45",
        "place": "bop_institution",
        "facility": "FCI-A",
        "topics": "employment",
        "summary": "Practised an interview.",
    }
    before = world.events()
    r = post(browser, action, {k: v for k, v in good.items() if k != "topics"}, key)
    assert r.status_code == 422
    # The console's own reading, with the form's other fields (no call to the API).
    assert beside(r, "topics") == "Topics discussed: tick at least one."
    r = post(browser, action, {**good, "duration_minutes": ""}, key)
    assert beside(r, "duration_minutes") == "Minutes: fill this in."
    r = post(browser, action, {**good, "occurred_at": "2026-03-12T09:00"}, key)
    assert beside(r, "occurred_at") == "The time the meeting was held lies in the future."
    assert "The time the meeting was held lies in the future." in refusal(r)
    assert world.events() == before
    done = post(browser, action, good, key)
    assert done.status_code == 303, done.text
    meetings = world.view("/meetings", pairing_id=pairing)["items"]
    assert [(m["duration_minutes"], m["topics"]) for m in meetings] == [(45, ["employment"])]


def test_alerts_name_people_and_an_escalation_is_acknowledged_and_resolved(browser, world):
    pid = world.enrol(name="Odalys")
    mentor = world.mentor("mentor-zed")
    world.pair(mentor, [pid], "2025-10-01T15:00:00Z")
    raised = world.post(
        "/escalations",
        {
            "mentor_id": mentor,
            "type": "crisis",
            "severity": "high",
            "participant_id": pid,
            "description": "Lost her bed at the shelter; talks of giving up.",
            "raised_at": "2026-03-08T15:00:00Z",
        },
    )
    projector.drain(world.db, world.schema)
    sign_in(browser, "coordinator", world.slug)
    page = browser.get("/console/alerts").text
    rows = page.split("<tbody>")[1].split("</tbody>")[0]
    crisis = next(r for r in rows.split("<tr>") if "open crisis" in r)
    # Names, not ids: the participant (a link to her page) and the mentor.
    assert "Odalys Lee" in crisis and f'href="/console/participants/{pid}"' in crisis
    assert "Mentor mentor-zed" in crisis and mentor not in crisis.replace(pid, "")
    cadence = [r for r in rows.split("<tr>") if "missed cadence" in r]
    assert cadence and all("Odalys Lee" in r and "Mentor mentor-zed" in r for r in cadence)

    path = f"/console/escalations/{raised['id']}"
    assert f'href="{path}"' in crisis
    shown = browser.get(path).text
    assert "Lost her bed at the shelter" in shown and "Odalys Lee" in shown
    # Resolving is offered once it is acknowledged, not before (the API would refuse it).
    assert f'action="{path}/resolve"' not in shown and "Once acknowledged" in shown
    ack = post(
        browser, f"{path}/acknowledge", {"note": "Called her"}, key_of(shown, f"{path}/acknowledge")
    )
    assert ack.status_code == 303, ack.text
    before = world.events()
    resolve = f"{path}/resolve"
    projector.drain(world.db, world.schema)
    after = browser.get(path)
    assert after.status_code == 200 and "Escalation acknowledged." in after.text, after.text[-3000:]
    rkey = key_of(after.text, resolve)
    r = post(browser, resolve, {"resolution": " "}, rkey)
    assert r.status_code in (400, 422)
    assert beside(r, "resolution") == "A resolution says how the situation was resolved."
    assert world.events() == before
    done = post(browser, resolve, {"resolution": "A bed at the RRC found the same day."}, rkey)
    assert done.status_code == 303, done.text
    got = world.get(f"/escalations/{raised['id']}")
    assert got["status"] == "resolved" and got["acknowledged_at"] is not None
    assert got["resolution"] == "A bed at the RRC found the same day."
    projector.drain(world.db, world.schema)
    assert "Escalation resolved." in browser.get(path).text
    # A case manager reads the alerts but does not act on an escalation.
    sign_in(browser, "case_manager", world.slug)
    assert 'action="' + resolve not in browser.get(path).text


def test_a_form_larger_than_the_service_takes_is_a_page_in_words(browser, world):
    """70,000 characters pasted into a case note: a 413 page saying what to do, not the API's
    problem JSON; nothing is written."""
    pid = world.enrol(name="Odalys")
    sign_in(browser, "case_manager", world.slug)
    page = browser.get(f"/console/participants/{pid}/note")
    action = f"/console/participants/{pid}/note"
    before = world.events()
    r = post(browser, action, {"text": "x" * 70_000}, key_of(page.text, action))
    assert r.status_code == 413
    assert r.headers["content-type"].startswith("text/html")
    assert "too large" in r.text and "Go back" in r.text
    assert world.events() == before
