"""An erased participant in the console: their page says plainly that their personal data was
erased, when, and what that means, and offers no form that the API would refuse
(`already_erased`) or whose text it would keep only as `[erased]`; such a form's address opened
anyway says why instead of drawing the form, and a post of one records nothing."""

from __future__ import annotations

import html
from datetime import UTC, datetime

import pytest

from services.projector import live as projector
from tests.console_helpers import post, shown, sign_in
from tests.meetings_helpers import World

# A Tuesday, 09:00 in Chicago (the world's zone).
NOW = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)

# Each form the page offers a case manager or coordinator that adds something personal.
FORMS = [
    "meeting",
    "schedule",
    "escalation",
    "referral",
    "goal",
    "correct",
    "contact-details",
    "document",
    "consent",
    "job",
    "credential",
    "housing",
    "pairing",
    "group",
]
# The forms whose address, opened anyway, says why there is no form.
REFUSED = [
    "meeting",
    "escalation",
    "correct",
    "contact-details",
    "document",
    "consent",
    "note",
    "contact",
    "referral",
    "goal",
    "job",
    "credential",
    "housing",
    "pairing",
    "group",
]


@pytest.fixture
def world(client, auth, db, frozen_at) -> World:
    frozen_at(NOW, tick=True)
    return World(client, auth, db)


def erased(world: World) -> str:
    pid = world.enrol(name="Odalys")
    pairing = world.pair(world.mentor("mentor-erased"), [pid], "2025-10-01T15:00:00Z")
    world.schedule(pairing, "2026-03-12T15:00:00Z")
    world.post(f"/participants/{pid}/erasure", {"reason": "participant request of 2026-03-09"})
    projector.drain(world.db, world.schema)
    return pid


def test_an_erased_participant_s_page_says_so_and_offers_no_personal_form(browser, world):
    pid = erased(world)
    sign_in(browser, "coordinator", world.slug)
    page = browser.get(f"/console/participants/{pid}")
    assert page.status_code == 200, page.text
    text = html.unescape(shown(page.text))
    banner = text.split('id="erased"')[1].split("</div>")[0]
    assert "Personal data erased on Tue 10 Mar 2026" in banner
    assert "stays, without them, for the program's figures" in banner
    assert "nothing personal can be added" in banner
    # Near the top: before the record's first section.
    assert text.index('id="erased"') < text.index('id="h-contact"')
    for form in FORMS:
        assert f'href="/console/participants/{pid}/{form}"' not in text, form
    for action in ("note", "contact"):
        assert f'action="/console/participants/{pid}/{action}"' not in text, action
    assert "Record contact details" not in text and "Upload a document" not in text
    # What carries nothing personal stays: the record's staff can still be assigned.
    assert f'href="/console/participants/{pid}/assign"' in text


def test_a_form_s_address_opened_anyway_says_why_and_a_post_records_nothing(browser, world):
    pid = erased(world)
    sign_in(browser, "coordinator", world.slug)
    for form in REFUSED:
        page = browser.get(f"/console/participants/{pid}/{form}")
        assert page.status_code == 409, (form, page.text)
        assert "Personal data erased on Tue 10 Mar 2026" in html.unescape(page.text), form
        assert "<form" not in page.text.split("<main")[1], form
        assert f'href="/console/participants/{pid}"' in page.text
    # The scheduled meeting's "held" form would keep the summary only as erased.
    meeting = world.log(world.get("/pairings", participant_id=pid)["items"][0]["id"])[0]
    held = browser.get(f"/console/meetings/{meeting['id']}/held?participant={pid}")
    assert held.status_code == 409 and "Personal data erased" in held.text
    assert f'href="/console/participants/{pid}"' in held.text
    before = world.events()
    # Posted anyway (a page kept open since before the erasure): nothing recorded.
    contact = post(
        browser,
        f"/console/participants/{pid}/contact",
        {"contacted_on": "2026-03-09", "mode": "phone"},
        "k-contact",
    )
    escalation = post(
        browser,
        f"/console/participants/{pid}/escalation",
        {"kind": "crisis", "severity": "high", "description": "Called at night"},
        "k-escalation",
    )
    assert (contact.status_code, escalation.status_code) == (409, 409)
    assert "Personal data erased" in contact.text
    assert world.events() == before


def test_a_participant_not_erased_has_no_banner_and_every_form(browser, world):
    pid = world.enrol(name="Odalys")
    sign_in(browser, "coordinator", world.slug)
    projector.drain(world.db, world.schema)
    page = browser.get(f"/console/participants/{pid}")
    assert 'id="erased"' not in page.text and "erased" not in shown(page.text).lower()
    for form in ("escalation", "correct", "contact-details", "consent"):
        assert f'href="/console/participants/{pid}/{form}"' in page.text, form
    assert browser.get(f"/console/participants/{pid}/correct").status_code == 200
