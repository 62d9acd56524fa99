"""Enrolling a participant from the console: one POST /participants through the real application.
The form pre-fills nothing a person must say; a refusal is a sentence next to its field and
appends nothing; a possible duplicate shows the records it matches and asks for the reason to
enrol all the same; staff without `participants.enroll` have neither the link nor the form."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from services.projector import live as projector
from tests.console_helpers import beside, key_of, post, sign_in
from tests.meetings_helpers import World

# A Tuesday, 09:00 in Chicago (the world's zone).
NOW = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)
ACTION = "/console/enrol"
PERSON = {
    "first_name": "Rosalind",
    "last_name": "Okonkwo-Baptiste",
    "date_of_birth": "1984-06-02",
    "bop_register_number": "",
    "program_entry_date": "2026-03-02",
    "facility": "FCI-A",
    "cohort": "C1",
    "ex_offender_at_entry": "yes",
}


@pytest.fixture
def world(client, auth, db, frozen_at) -> World:
    frozen_at(NOW, tick=True)
    return World(client, auth, db)


def chosen(html: str, field: str) -> list[str]:
    """The values of a select's options, and which one is selected."""
    select = html.split(f'<select id="{field}"')[1].split("</select>")[0]
    return re.findall(r'<option value="([^"]*)"', select)


def test_a_coordinator_enrols_a_participant_from_the_console(browser, world):
    sign_in(browser, "coordinator", world.slug)
    projector.drain(world.db, world.schema)  # the facilities and cohorts the form lists
    caseload = browser.get("/console/caseload?whose=all")
    assert f'href="{ACTION}"' in caseload.text
    form = browser.get(ACTION)
    assert form.status_code == 200, form.text
    html = form.text
    # Nothing a person must say is filled in: no value in any text or date box, every select
    # on "Choose one".
    boxes = re.findall(
        r'<input id="([a-z_]+)" name="[a-z_]+" type="(?:text|date)" value="([^"]*)"', html
    )
    assert {name for name, _ in boxes} >= {
        "first_name",
        "last_name",
        "date_of_birth",
        "bop_register_number",
        "program_entry_date",
    }
    assert all(value == "" for _, value in boxes), boxes
    assert " selected" not in html.split(f'action="{ACTION}"')[1].split("</form>")[0]
    # The facilities a participant is enrolled at are BOP institutions; the cohorts are those
    # not graduated, each named with its facility.
    assert chosen(html, "facility") == ["", "FCI-A", "FCI-B"]
    assert chosen(html, "cohort") == ["", "C1"]
    assert ">C1 at FCI-A</option>" in html
    key = key_of(html, ACTION)
    before = world.events()

    # Refused in sentences next to the fields; nothing appended.
    r = post(browser, ACTION, {k: "" for k in PERSON}, key)
    assert r.status_code == 422
    assert beside(r, "first_name") == "First name: fill this in."
    assert beside(r, "date_of_birth") == "Date of birth: enter a date."
    assert beside(r, "cohort") == "Cohort: choose one of the options."
    assert beside(r, "ex_offender_at_entry") == (
        "An ex-offender at program entry: choose one of the options."
    )
    r = post(browser, ACTION, {**PERSON, "facility": "FCI-B"}, key)
    assert r.status_code == 422, r.text
    assert "FCI-A" in beside(r, "cohort"), r.text
    r = post(browser, ACTION, {**PERSON, "date_of_birth": "2024-01-01"}, key)
    assert r.status_code == 422, r.text
    assert beside(r, "date_of_birth"), r.text
    # What was typed comes back with the refusal.
    assert 'value="Okonkwo-Baptiste"' in r.text
    # A value that is not in the form a field takes is said in words, never as the pattern.
    r = post(browser, ACTION, {**PERSON, "bop_register_number": "12345678"}, key)
    assert r.status_code in (400, 422), r.text
    assert beside(r, "bop_register_number") == (
        "BOP register number (if known): write it as five digits, a dash and three digits,"
        " like 12345-678."
    )
    r = post(browser, ACTION, {**PERSON, "facility": "fci a"}, key)
    assert r.status_code in (400, 422), r.text
    assert beside(r, "facility") == (
        "BOP institution: choose one of the options (a code of 2 to 16 capital letters,"
        " digits and dashes, like FCI-ELK)."
    )
    assert "regex" not in r.text and "Expected `str`" not in r.text
    assert world.events() == before

    # Enrolled once, however often the same form is sent; the participant's page follows.
    done = post(browser, ACTION, PERSON, key)
    assert done.status_code == 303, done.text
    again = post(browser, ACTION, PERSON, key)
    assert again.status_code == 303 and again.headers["location"] == done.headers["location"]
    pid = done.headers["location"].rsplit("/", 1)[1]
    person = world.get(f"/participants/{pid}")
    assert (person["first_name"], person["last_name"], person["date_of_birth"]) == (
        "Rosalind",
        "Okonkwo-Baptiste",
        "1984-06-02",
    )
    assert (person["facility"], person["cohort"], person["ex_offender_at_entry"]) == (
        "FCI-A",
        "C1",
        True,
    )
    projector.drain(world.db, world.schema)
    shown = browser.get(done.headers["location"]).text
    assert f"Enrolled: Rosalind Okonkwo-Baptiste ({person['number']})." in shown


def test_a_possible_duplicate_is_shown_and_enrolled_only_with_a_reason(browser, world):
    sign_in(browser, "case_manager", world.slug)
    key = key_of(browser.get(ACTION).text, ACTION)
    first = post(browser, ACTION, PERSON, key)
    assert first.status_code == 303, first.text
    existing = first.headers["location"].rsplit("/", 1)[1]
    projector.drain(world.db, world.schema)
    before = world.events()

    key = key_of(browser.get(ACTION).text, ACTION)
    same = {**PERSON, "first_name": "ROSALIND", "ex_offender_at_entry": "no"}
    r = post(browser, ACTION, same, key)
    assert r.status_code == 409, r.text
    # The record it matches, by a link (no name in the address), and the reason asked for.
    assert f'href="/console/participants/{existing}"' in r.text
    assert "Participant " in r.text and "the same name and date of birth" in r.text
    assert "This may be someone enrolled already." in r.text
    assert '<textarea id="duplicate_reason"' in r.text
    assert world.events() == before

    r = post(browser, ACTION, {**same, "duplicate_reason": "   "}, key)
    assert r.status_code == 409
    done = post(
        browser, ACTION, {**same, "duplicate_reason": "Twin sister, the same birthday."}, key
    )
    assert done.status_code == 303, done.text
    second = done.headers["location"].rsplit("/", 1)[1]
    assert second != existing
    assert world.get(f"/participants/{second}")["ex_offender_at_entry"] is False


def test_staff_who_may_not_enrol_have_no_form(browser, world):
    sign_in(browser, "peer_mentor", world.slug, subject="mentor-zed")
    assert f'href="{ACTION}"' not in browser.get("/console/caseload").text
    form = browser.get(ACTION)
    assert form.status_code == 403, form.text
    before = world.events()
    r = post(browser, ACTION, PERSON, "k-mentor")
    assert r.status_code == 403
    assert world.events() == before
