"""A participant's details from the console, through HTTP form posts against the real
application: a correction of the personal details (only the fields changed, with a reason), the
contact details (recorded whole: what is left empty is cleared), and a Part 2 consent recorded
and revoked. Each is read back from the API; each refusal is a sentence next to its field and
appends nothing; a peer mentor has none of the forms and a post of one is refused."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from services.projector import live as projector
from tests.console_helpers import beside, form_of, key_of, post, sign_in
from tests.meetings_helpers import World

# A Tuesday, 09:00 in Chicago (the world's zone).
NOW = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)


@pytest.fixture
def world(client, auth, db, frozen_at) -> World:
    frozen_at(NOW, tick=True)
    return World(client, auth, db)


def hidden_of(html: str, action: str) -> dict[str, str]:
    """The form's hidden fields other than its keys (the values it was shown with)."""
    found = re.findall(
        r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form_of(html, action)
    )
    return {k: v for k, v in found if k not in ("idempotency_key", "_csrf_token")}


def value_of(html: str, field: str) -> str:
    found = re.search(rf'<input id="{field}" name="{field}" type="[^"]+" value="([^"]*)"', html)
    return found.group(1) if found else ""


def shown_after(world: World, browser: TestClient[Litestar], done: Any) -> Any:
    """The page a form sent the browser back to, its lists caught up with the log."""
    projector.drain(world.db, world.schema)
    return browser.get(done.headers["location"])


def peer_mentor_is_refused(browser, world, pid: str, action: str, data: dict[str, Any]) -> None:
    """A peer mentor paired with the participant: no link, no form, a post refused."""
    world.pair(world.mentor("mentor-zed"), [pid], "2025-10-01T15:00:00Z")
    before = world.events()
    sign_in(browser, "peer_mentor", world.slug, subject="mentor-zed")
    projector.drain(world.db, world.schema)
    page = browser.get(f"/console/participants/{pid}")
    assert page.status_code == 200 and f'href="{action}"' not in page.text
    assert browser.get(action).status_code == 403
    r = post(browser, action, data, "k-mentor")
    assert r.status_code in (403, 404)
    assert world.events() == before


def test_personal_details_are_corrected_with_a_reason_sending_only_what_changed(browser, world):
    pid = world.enrol(name="Odalys")
    person = world.get(f"/participants/{pid}")
    sign_in(browser, "case_manager", world.slug)
    projector.drain(world.db, world.schema)  # the facilities and cohorts the forms list
    action = f"/console/participants/{pid}/correct"
    assert f'href="{action}"' in browser.get(f"/console/participants/{pid}").text
    form = browser.get(action)
    assert form.status_code == 200, form.text
    # The record as it is; the reason empty.
    assert value_of(form.text, "first_name") == "Odalys"
    assert value_of(form.text, "last_name") == "Lee"
    assert value_of(form.text, "date_of_birth") == person["date_of_birth"]
    assert re.search(r'<textarea id="reason" name="reason"[^>]*></textarea>', form.text)
    key = key_of(form.text, action)
    shown = hidden_of(form.text, action)
    assert shown["was_last_name"] == "Lee"
    fields = {
        "first_name": "Odalys",
        "last_name": "Lee",
        "date_of_birth": person["date_of_birth"],
        "bop_register_number": "",
        "program_entry_date": "2025-09-15",
        "cohort": "C1",
        "facility": "FCI-A",
    }
    before = world.events()

    # Refused, each sentence next to its field; nothing appended.
    r = post(browser, action, {**shown, **fields, "last_name": "Lee-Ortiz", "reason": ""}, key)
    assert r.status_code in (400, 422)
    assert beside(r, "reason") == "Why it is corrected must not be empty."
    r = post(browser, action, {**shown, **fields, "reason": "Checked the ID card"}, key)
    assert r.status_code == 422
    assert beside(r, "first_name") == (
        "Name the details, the placement or the entry date to correct."
    )
    r = post(
        browser,
        action,
        {**shown, **fields, "date_of_birth": "2020-01-01", "reason": "Checked the ID card"},
        key,
    )
    assert beside(r, "date_of_birth") == (
        "The date of birth gives an age outside 16-110 at program entry."
    )
    assert 'value="2020-01-01"' in r.text  # what was typed is kept
    r = post(browser, action, {**shown, **fields, "bop_register_number": "123", "reason": "x"}, key)
    assert beside(r, "bop_register_number").startswith("BOP register number")
    assert world.events() == before

    # Recorded once however often sent: only the last name, with the reason.
    good = {**shown, **fields, "last_name": "Lee-Ortiz", "reason": "Misspelt at intake; ID seen"}
    done = post(browser, action, good, key)
    assert done.status_code == 303, done.text
    assert post(browser, action, good, key).status_code == 303
    assert world.events() == before + 1
    got = world.get(f"/participants/{pid}")
    assert (got["first_name"], got["last_name"]) == ("Odalys", "Lee-Ortiz")
    assert got["date_of_birth"] == person["date_of_birth"]
    corrected = [
        e
        for e in world.get(f"/participants/{pid}/history")["events"]
        if e["type"] == "PersonalDetailsCorrected"
    ]
    assert [(e["data"]["fields"], e["data"]["reason"]) for e in corrected] == [
        (["last_name"], "Misspelt at intake; ID seen")
    ]
    assert done.headers["location"] == f"/console/participants/{pid}"
    page = shown_after(world, browser, done).text
    assert "Corrected for Odalys Lee-Ortiz" in page and "last name." in page

    peer_mentor_is_refused(browser, world, pid, action, good)


def test_contact_details_are_recorded_whole_and_what_is_left_empty_is_cleared(browser, world):
    pid = world.enrol(name="Odalys")
    sign_in(browser, "case_manager", world.slug)
    projector.drain(world.db, world.schema)  # the facilities and cohorts the forms list
    action = f"/console/participants/{pid}/contact-details"
    assert f'href="{action}"' in browser.get(f"/console/participants/{pid}").text
    form = browser.get(action)
    assert form.status_code == 200
    assert "a field left empty is cleared" in form.text
    for name in ("phone", "email", "address", "projected_release_date"):
        assert value_of(form.text, name) == ""
    key = key_of(form.text, action)
    good = {
        "phone": "+1 312 555 0142",
        "email": "odalys@example.org",
        "address": "12 Elm St, Chicago",
        "projected_release_date": "2026-09-14",
    }
    before = world.events()

    # An empty form records nothing: refused beside the first field, nothing appended.
    r = post(browser, action, {k: "" for k in good}, key)
    assert r.status_code == 422, r.text
    assert beside(r, "phone") == (
        "Nothing to record: fill in at least one way to reach them, or the projected release date."
    )
    assert world.events() == before

    r = post(browser, action, {**good, "projected_release_date": "2025-01-01"}, key)
    assert r.status_code == 422
    assert beside(r, "projected_release_date") == (
        "A projected release on 2025-01-01 is before program entry (2025-09-15)."
    )
    r = post(browser, action, {**good, "email": "not an address"}, key)
    assert r.status_code in (400, 422)
    assert beside(r, "email") == "Email: enter an email address, like name@example.org."
    assert beside(r, "phone") == ""
    r = post(browser, action, {**good, "phone": "call me"}, key)
    assert r.status_code in (400, 422)
    assert beside(r, "phone") == (
        "Phone: enter a phone number of 7 to 25 digits, spaces, dashes, dots or brackets, a +"
        " first for another country, like +1 312 555 0142."
    )
    assert "regex" not in r.text and "Expected `str`" not in r.text
    assert world.events() == before

    done = post(browser, action, good, key)
    assert done.status_code == 303, done.text
    assert post(browser, action, good, key).status_code == 303
    assert world.events() == before + 1
    got = world.get(f"/participants/{pid}")
    assert got["contact"] == {
        "phone": "+1 312 555 0142",
        "email": "odalys@example.org",
        "address": "12 Elm St, Chicago",
    }
    assert got["projected_release_date"] == "2026-09-14"
    assert "Contact details recorded" in shown_after(world, browser, done).text

    # Shown as on record; the same details again are refused beside the first field.
    form = browser.get(action)
    assert value_of(form.text, "email") == "odalys@example.org"
    key = key_of(form.text, action)
    r = post(browser, action, good, key)
    assert r.status_code == 422
    assert beside(r, "phone") == "The contact details already read so."
    # An emptied field is cleared.
    done = post(browser, action, {**good, "email": ""}, key)
    assert done.status_code == 303, done.text
    got = world.get(f"/participants/{pid}")
    assert got["contact"] == {"phone": "+1 312 555 0142", "address": "12 Elm St, Chicago"}
    assert "Cleared: email." in shown_after(world, browser, done).text

    peer_mentor_is_refused(browser, world, pid, action, good)


def contact_part(html: str) -> str:
    return html.split('id="h-contact"')[1].split("</section>")[0]


def test_the_participant_page_shows_the_contact_details_with_a_link_to_edit_them(browser, world):
    """Read with the participant (one API read, its one access-log row): staff see them with a
    link to the form; a peer mentor sees their mentee's (mentoring needs them, docs/security.md)
    without the link."""
    pid = world.enrol(name="Odalys")
    page = f"/console/participants/{pid}"
    action = f"{page}/contact-details"
    sign_in(browser, "case_manager", world.slug)
    empty = contact_part(browser.get(page).text)
    assert "No contact details recorded." in empty
    assert f'<a href="{action}">Record contact details</a>' in empty
    world.post(
        f"/participants/{pid}/contact",
        {"phone": "+1 312 555 0142", "address": "12 Elm St, Chicago"},
        role="case_manager",
    )
    logged = world.db.fetchone(f'SELECT max(id) FROM "{world.schema}".access_log')
    shown = contact_part(browser.get(page).text)
    assert "<dt>Phone</dt><dd>+1 312 555 0142</dd>" in shown
    assert "<dt>Address</dt><dd><bdi>12 Elm St, Chicago</bdi></dd>" in shown
    assert "<dt>Email</dt><dd>—</dd>" in shown
    assert "<dt>Projected release date</dt><dd>—</dd>" in shown
    assert f'<a href="{action}">Edit the contact details</a>' in shown
    # The details came with the participant's read: its row, and no other read of them.
    rows = world.db.fetchall(
        f'SELECT action, method, path FROM "{world.schema}".access_log WHERE id > %s',
        (logged[0] if logged else 0,),
    )
    person = f"/v1/grantees/{world.slug}/participants/{pid}"
    assert [r for r in rows if r[2] == person] == [("participants.read", "GET", person)]

    world.pair(world.mentor("mentor-zed"), [pid], "2025-10-01T15:00:00Z")
    browser.cookies.clear()
    sign_in(browser, "peer_mentor", world.slug, subject="mentor-zed")
    projector.drain(world.db, world.schema)
    mine = contact_part(browser.get(page).text)
    assert "+1 312 555 0142" in mine and action not in mine


CONSENT = {
    "discloser": "Northside Works reentry mentoring program",
    "information": ["meeting_summaries", "attendance"],
    "recipient": "rrc:RRC-1",
    "purpose": "coordinate reentry support with the RRC case manager",
    "signed_on": "2026-03-09",
    "signed_by": "participant",
    "representative": "",
    "expires_on": "2026-09-09",
    "expiry_event": "",
}


def test_a_consent_is_recorded_and_revoked_with_refusals_next_to_the_field(browser, world):
    pid = world.enrol(name="Odalys")
    sign_in(browser, "case_manager", world.slug)
    projector.drain(world.db, world.schema)  # the facilities and cohorts the forms list
    action = f"/console/participants/{pid}/consent"
    assert f'href="{action}"' in browser.get(f"/console/participants/{pid}").text
    form = browser.get(action)
    assert form.status_code == 200, form.text
    # Nothing a person decides is pre-filled.
    fields = form_of(form.text, action)
    assert " checked" not in fields
    assert not re.findall(r'<option value="[^"]+" selected', fields)
    assert value_of(form.text, "signed_on") == "" and value_of(form.text, "discloser") == ""
    assert "rrc:RRC-1" in fields and "export:pirl" in fields
    key = key_of(form.text, action)
    before = world.events()

    r = post(browser, action, {**CONSENT, "information": []}, key)
    assert r.status_code == 422
    assert beside(r, "information").startswith("A written consent names who may disclose")
    r = post(browser, action, {**CONSENT, "expires_on": ""}, key)
    assert beside(r, "expires_on") == (
        "A consent states when it expires: an expiry date or an expiry event (§2.31)."
    )
    r = post(browser, action, {**CONSENT, "signed_by": "representative"}, key)
    assert beside(r, "representative").startswith("A consent signed by a representative")
    r = post(browser, action, {**CONSENT, "signed_on": "2026-03-11"}, key)
    assert beside(r, "signed_on") == "The signature date lies in the future."
    r = post(browser, action, {**CONSENT, "recipient": "", "signed_by": ""}, key)
    assert beside(r, "recipient") == "To whom: choose one of the options."
    assert beside(r, "signed_by") == "Who signed: choose one of the options."
    assert 'value="meeting_summaries" checked' in r.text  # what was ticked is kept
    assert world.events() == before

    done = post(browser, action, CONSENT, key)
    assert done.status_code == 303, done.text
    assert post(browser, action, CONSENT, key).status_code == 303
    assert world.events() == before + 1
    consents = world.get(f"/participants/{pid}/consents")["items"]
    assert [
        (c["recipient"], c["information"], c["signed_by"], c["expires_on"], c["status"])
        for c in consents
    ] == [
        ("rrc:RRC-1", ["meeting_summaries", "attendance"], "participant", "2026-09-09", "in_force")
    ]
    page = shown_after(world, browser, done).text
    assert "Consent recorded: to rrc:RRC-1, in force." in page

    # Revoke it, from the moment the revocation was received (nothing pre-filled).
    revoke = f"/console/participants/{pid}/consents/{consents[0]['id']}/revoke"
    assert f'href="{revoke}"' in page
    form = browser.get(revoke)
    assert form.status_code == 200
    assert value_of(form.text, "revoked_at") == ""
    rkey = key_of(form.text, revoke)
    r = post(browser, revoke, {"revoked_at": "", "note": ""}, rkey)
    assert r.status_code == 422
    assert beside(r, "revoked_at") == "When the revocation was received: enter a date and time."
    r = post(browser, revoke, {"revoked_at": "2026-03-11T09:00", "note": ""}, rkey)
    assert beside(r, "revoked_at") == "The revocation instant lies in the future."
    r = post(browser, revoke, {"revoked_at": "2026-03-08T09:00", "note": ""}, rkey)
    assert beside(r, "revoked_at") == "A consent cannot be revoked before it was signed."
    assert world.events() == before + 1
    sent = {"revoked_at": "2026-03-10T08:30", "note": "Written revocation received"}
    done = post(browser, revoke, sent, rkey)
    assert done.status_code == 303, done.text
    assert post(browser, revoke, sent, rkey).status_code == 303
    assert world.events() == before + 2
    got = world.get(f"/participants/{pid}/consents")["items"][0]
    assert got["status"] == "revoked"
    assert got["revoked_at"] == "2026-03-10T08:30:00-05:00"
    assert got["revocation_note"] == "Written revocation received"
    page = shown_after(world, browser, done).text
    assert "Consent revoked" in page and f'href="{revoke}"' not in page

    peer_mentor_is_refused(browser, world, pid, action, CONSENT)
    r = post(browser, revoke, sent, "k-mentor-revoke")
    assert r.status_code in (403, 404)
