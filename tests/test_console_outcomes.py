"""A program exit and a participant's outcomes from the console, through HTTP form posts
against the real application: each form pre-fills nothing, records once however often it is
sent (read back through the API), says each refusal next to the field it is about and appends
nothing; the participant's page shows the exit and the outcomes to the roles that may read
them; a peer mentor gets neither the forms nor a record by posting one."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from services.projector import live as projector
from tests.console_helpers import beside, key_of, post, refusal, sign_in
from tests.meetings_helpers import World

# A Tuesday, 09:00 in Chicago (the world's zone). Participants enter on 2025-09-15.
NOW = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)


@pytest.fixture
def world(client, auth, db, frozen_at) -> World:
    frozen_at(NOW, tick=True)
    return World(client, auth, db)


def blank(html: str, action: str) -> None:
    """The form posting to `action` fills nothing in and chooses nothing."""
    form = html.split(f'action="{action}"')[1].split("</form>")[0]
    assert not re.findall(r'<option value="[^"]+" selected', form), form
    typed = re.findall(r'<input id="[^"]+" name="[^"]+" type="[^"]+" value="([^"]*)"', form)
    assert typed and not any(typed), form
    assert re.findall(r"<textarea[^>]*></textarea>", form) or "<textarea" not in form


def outcomes_part(html: str) -> str:
    return html.split('id="h-outcomes"')[1].split("</section>")[0]


def test_an_exit_is_recorded_from_the_participant_page(browser, world):
    pid = world.enrol(name="Odalys")
    sign_in(browser, "case_manager", world.slug)
    action = f"/console/participants/{pid}/exit"
    assert f'href="{action}"' in browser.get(f"/console/participants/{pid}").text
    form = browser.get(action)
    assert form.status_code == 200 and "Record an exit" in form.text
    blank(form.text, action)
    for reason in ("Completed the program", "Declined services", "Deceased"):
        assert reason in form.text
    key = key_of(form.text, action)
    before = world.events()

    r = post(browser, action, {"exit_date": "", "reason": ""}, key)
    assert r.status_code == 422
    assert beside(r, "exit_date") == "The exit date: enter a date."
    assert beside(r, "reason") == "Why the participant exits: choose one of the options."
    r = post(browser, action, {"exit_date": "2026-03-11", "reason": "completed"}, key)
    assert r.status_code == 422
    assert beside(r, "exit_date") == "The exit date lies in the future."
    assert "The exit date lies in the future." in refusal(r)
    r = post(browser, action, {"exit_date": "2025-09-01", "reason": "relocated"}, key)
    assert beside(r, "exit_date") == "The exit date is before the current stage began."
    # What was chosen is kept.
    assert '<option value="relocated" selected' in r.text
    assert world.events() == before

    good = {"exit_date": "2026-03-09", "reason": "completed", "note": "Finished stage 3."}
    done = post(browser, action, good, key)
    assert done.status_code == 303, done.text
    assert post(browser, action, good, key).status_code == 303
    assert world.events() == before + 1
    person = world.get(f"/participants/{pid}")
    assert (person["status"], person["exit_date"], person["exit_reason"]) == (
        "exited",
        "2026-03-09",
        "completed",
    )
    projector.drain(world.db, world.schema)
    page = browser.get(done.headers["location"]).text
    assert "Exit recorded: completed the program, on 2026-03-09." in page
    assert "exited on Mon 09 Mar 2026" in page
    assert f'href="{action}"' not in page


def test_the_exit_form_of_a_participant_who_has_exited_shows_the_exit_as_final(browser, world):
    """The form opened again (a bookmark, the back button) shows the exit recorded, says it is
    final and offers nothing to send; a form sent from an older page is refused in words."""
    pid = world.enrol(name="Odalys")
    action = f"/console/participants/{pid}/exit"
    sign_in(browser, "case_manager", world.slug)
    stale = key_of(browser.get(action).text, action)
    world.post(f"/participants/{pid}/exit", {"exit_date": "2026-03-02", "reason": "relocated"})
    before = world.events()

    page = browser.get(action)
    assert page.status_code == 200
    assert "<h1>The program exit</h1>" in page.text
    facts = page.text.split('id="exit"')[1].split("</dl>")[0]
    assert "Mon 02 Mar 2026" in facts and "Relocated" in facts
    assert "The exit is final." in page.text
    assert f'action="{action}"' not in page.text
    assert "<main" in page.text and "Record the exit" not in page.text
    r = post(browser, action, {"exit_date": "2026-03-09", "reason": "completed"}, stale)
    assert r.status_code == 422
    assert "already exited" in refusal(r) and "The exit is final." in r.text
    assert f'action="{action}"' not in r.text
    assert world.events() == before


JOB = {
    "employer": "Tri-County Logistics",
    "job_title": "forklift operator",
    "started_on": "2026-03-02",
    "wage": "$18.50",
    "wage_unit": "hourly",
    "hours_per_week": "37.5",
}


def test_a_job_is_recorded_with_its_wage_in_dollars_and_cents(browser, world):
    pid = world.enrol(name="Odalys")
    sign_in(browser, "coordinator", world.slug)
    page = browser.get(f"/console/participants/{pid}").text
    assert "No outcome recorded." in outcomes_part(page)
    action = f"/console/participants/{pid}/job"
    assert f'href="{action}"' in outcomes_part(page)
    form = browser.get(action)
    assert form.status_code == 200
    blank(form.text, action)
    key = key_of(form.text, action)
    before = world.events()

    r = post(browser, action, {**JOB, "wage": "eighteen", "wage_unit": ""}, key)
    assert r.status_code == 422
    assert beside(r, "wage") == "Wage, in dollars and cents: enter a number, such as 18.50."
    assert beside(r, "wage_unit") == "The wage is paid: choose one of the options."
    r = post(browser, action, {**JOB, "wage": "18.555"}, key)
    assert r.status_code == 422
    assert beside(r, "wage") == (
        "Wage, in dollars and cents must be an amount from 0.01 to 9999999.99, in whole cents."
    )
    assert beside(r, "employer") == ""
    for odd in ("nan", "inf", "9" * 400):
        r = post(browser, action, {**JOB, "hours_per_week": odd}, key)
        assert r.status_code == 422, odd
        assert beside(r, "hours_per_week") == (
            "Hours a week (optional): enter a number, such as 37.5."
        ), odd
    r = post(browser, action, {**JOB, "hours_per_week": "90"}, key)
    assert r.status_code in (400, 422)
    assert beside(r, "hours_per_week") == "Hours a week (optional) must be 80 or less."
    r = post(browser, action, {**JOB, "started_on": "2026-03-11"}, key)
    assert beside(r, "started_on") == "The employment start date lies in the future."
    r = post(browser, action, {**JOB, "started_on": "2025-09-01"}, key)
    assert beside(r, "started_on") == (
        "The employment start date is before the date of program entry."
    )
    r = post(browser, action, {**JOB, "employer": " "}, key)
    assert beside(r, "employer") == "Employer: fill this in."
    assert 'value="forklift operator"' in r.text
    assert world.events() == before

    done = post(browser, action, JOB, key)
    assert done.status_code == 303, done.text
    assert post(browser, action, JOB, key).status_code == 303
    assert world.events() == before + 2  # the record opened, the job
    jobs = world.get(f"/participants/{pid}/outcomes")["employments"]
    assert jobs == [
        {
            "employer": "Tri-County Logistics",
            "started_on": "2026-03-02",
            "wage": "18.50",
            "wage_unit": "hourly",
            "hours_per_week": 37.5,
            "job_title": "forklift operator",
        }
    ]
    projector.drain(world.db, world.schema)
    shown = browser.get(done.headers["location"]).text
    assert "Job recorded: Tri-County Logistics, from 2026-03-02." in shown
    row = outcomes_part(shown).split("<tbody>")[1].split("</tbody>")[0]
    for said in ("Tri-County Logistics", "forklift operator", "$18.50 an hour", "37.5"):
        assert said in row, row
    assert "Mon 02 Mar 2026" in row

    # The same job again, from a new form: refused next to the employer.
    again = key_of(browser.get(action).text, action)
    r = post(browser, action, {**JOB, "wage": "19"}, again)
    assert r.status_code == 422
    assert beside(r, "employer") == "This employment is already recorded."
    assert world.events() == before + 2


def test_a_credential_and_housing_are_recorded_and_shown(browser, world):
    pid = world.enrol(name="Odalys")
    sign_in(browser, "coordinator", world.slug)
    action = f"/console/participants/{pid}/credential"
    form = browser.get(action)
    blank(form.text, action)
    key = key_of(form.text, action)
    before = world.events()
    good = {
        "credential_type": "industry_certificate",
        "name": "OSHA 10",
        "issuer": "OSHA Training Institute",
        "earned_on": "2026-02-20",
    }
    r = post(browser, action, {**good, "name": "", "credential_type": ""}, key)
    assert r.status_code == 422
    assert beside(r, "name") == "Its name: fill this in."
    assert beside(r, "credential_type") == "Kind of credential: choose one of the options."
    r = post(browser, action, {**good, "earned_on": "2025-08-01"}, key)
    assert beside(r, "earned_on") == (
        "The date the credential was earned is before the date of program entry."
    )
    assert world.events() == before
    done = post(browser, action, good, key)
    assert done.status_code == 303, done.text
    assert post(browser, action, good, key).status_code == 303
    assert world.events() == before + 2  # the record opened, the credential
    projector.drain(world.db, world.schema)
    shown = browser.get(f"/console/participants/{pid}").text
    assert "Credential recorded: OSHA 10, earned 2026-02-20." in shown

    action = f"/console/participants/{pid}/housing"
    form = browser.get(action)
    blank(form.text, action)
    key = key_of(form.text, action)
    home = {"housing_type": "own_lease", "secured_on": "2026-03-01", "note": ""}
    r = post(browser, action, {**home, "secured_on": "2026-03-12"}, key)
    assert beside(r, "secured_on") == "The date housing was secured lies in the future."
    done = post(browser, action, home, key)
    assert done.status_code == 303, done.text
    assert post(browser, action, home, key).status_code == 303
    assert world.events() == before + 3
    projector.drain(world.db, world.schema)
    page = browser.get(done.headers["location"]).text
    assert "Housing recorded: a lease in their own name, from 2026-03-01." in page
    again = key_of(browser.get(action).text, action)
    r = post(browser, action, home, again)
    assert beside(r, "secured_on") == "This housing outcome is already recorded."
    assert world.events() == before + 3

    found = world.get(f"/participants/{pid}/outcomes")
    assert found["credentials"] == [
        {
            "credential_type": "industry_certificate",
            "name": "OSHA 10",
            "earned_on": "2026-02-20",
            "issuer": "OSHA Training Institute",
        }
    ]
    assert found["housing"] == [
        {"housing_type": "own_lease", "secured_on": "2026-03-01", "note": ""}
    ]
    page = browser.get(done.headers["location"]).text
    shown = outcomes_part(page)
    assert "OSHA 10" in shown and "OSHA Training Institute" in shown and "Fri 20 Feb 2026" in shown
    assert "Own lease, from Sun 01 Mar 2026" in shown


def test_outcomes_and_the_forms_follow_the_role(browser, world):
    pid = world.enrol(name="Odalys")
    world.post(
        f"/participants/{pid}/outcomes/credentials",
        {"credential_type": "other", "name": "Food handler card", "earned_on": "2026-01-05"},
    )
    world.pair(world.mentor("mentor-zed"), [pid], "2025-10-01T15:00:00Z")
    projector.drain(world.db, world.schema)
    forms = [
        f"/console/participants/{pid}/{name}" for name in ("exit", "job", "credential", "housing")
    ]

    # A case manager records outcomes and reads them (outcomes.read, decision 146).
    sign_in(browser, "case_manager", world.slug)
    page = browser.get(f"/console/participants/{pid}").text
    shown = outcomes_part(page)
    assert "Not available to your role." not in shown and "Food handler card" in shown
    assert all(f'href="{f}"' in page for f in forms)

    # A coordinator reads them.
    sign_in(browser, "coordinator", world.slug)
    assert "Food handler card" in outcomes_part(browser.get(f"/console/participants/{pid}").text)

    # A peer mentor: no form, no outcomes, and a form sent anyway records nothing.
    sign_in(browser, "peer_mentor", world.slug, subject="mentor-zed")
    page = browser.get(f"/console/participants/{pid}")
    assert page.status_code == 200
    assert "Not available to your role." in outcomes_part(page.text)
    assert not any(f in page.text for f in forms)
    before = world.events()
    for action in forms:
        assert browser.get(action).status_code == 403
        r = post(browser, action, {"exit_date": "2026-03-09", "reason": "completed"}, "k-mentor")
        assert r.status_code == 403
        assert "Your role does not include it." in r.text
    assert world.events() == before
