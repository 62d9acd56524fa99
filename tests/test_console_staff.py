"""Assigning from the console with the staff directory (decision 114), through HTTP form posts
against the real application: the sign-in name's field offers the staff the grantee's
assignments know, each with what they hold now, and still takes a name typed for someone not
yet known; "Unassign (nobody)" releases the duty, the notice says so in words, and the
caseload's "Mine" no longer lists the participant; refusals are sentences next to the field."""

from __future__ import annotations

import html
import re
from typing import Any

from services.projector import live as projector
from tests.console_helpers import beside, key_of, post, shown, sign_in
from tests.test_console_pairing import world  # noqa: F401


def known(page: Any) -> list[tuple[str, str]]:
    """The datalist of the sign-in name's field: (subject, what they hold); none while the
    directory is empty."""
    if 'list="staff-known"' not in page.text:
        return []
    datalist = page.text.split('<datalist id="staff-known">')[1].split("</datalist>")[0]
    found = re.findall(r'<option value="([^"]*)">([^<]*)</option>', datalist)
    return [(html.unescape(v), html.unescape(label)) for v, label in found]


def test_the_assign_form_offers_known_staff_and_unassigns(browser, world):  # noqa: F811
    ada = world.enrol(name="Ada")
    bea = world.enrol(name="Bea")
    sign_in(browser, "coordinator", world.slug)
    action = f"/console/participants/{ada}/assign"
    form = browser.get(action)
    assert form.status_code == 200 and known(form) == []
    assert 'name="staff" type="text" value=""' in form.text
    assert 'name="nobody" value="1"' in form.text and "Unassign (nobody)" in form.text

    # A name typed for someone the directory does not know yet: asked to confirm first, then
    # recorded with "A new staff member" ticked.
    before = world.events()
    first = {"duty": "case_manager", "staff": "cm-rita"}
    asked = post(browser, action, first, key_of(form.text, action))
    assert asked.status_code == 422
    assert beside(asked, "staff") == (
        "The staff member's sign-in name: nobody named cm-rita holds a duty here yet. Check"
        " the spelling, or tick A new staff member to assign them."
    )
    assert world.events() == before
    done = post(browser, action, {**first, "new_staff": "1"}, key_of(asked.text, action))
    assert done.status_code == 303, done.text
    world.post(f"/participants/{bea}/assignments", {"duty": "coordinator", "staff": "cm-rita"})
    world.post(f"/participants/{bea}/assignments", {"duty": "case_manager", "staff": "cm-sam"})
    projector.drain(world.db, world.schema)
    form = browser.get(action)
    assert known(form) == [
        ("cm-rita", "case manager of 1, coordinator of 1"),
        ("cm-sam", "case manager of 1"),
    ]

    # A name and "nobody" at once, or neither: said next to the fields, nothing recorded.
    before = world.events()
    both = {"duty": "case_manager", "staff": "cm-sam", "nobody": "1"}
    r = post(browser, action, both, key_of(form.text, action))
    assert r.status_code == 422
    assert beside(r, "staff") == (
        "The staff member's sign-in name: leave this empty to unassign, or untick Unassign (nobody)."
    )
    r = post(browser, action, {"duty": "case_manager", "staff": ""}, key_of(form.text, action))
    assert beside(r, "staff") == (
        "The staff member's sign-in name: fill this in, or tick Unassign (nobody)."
    )
    assert world.events() == before

    # Unassigned: the notice says so; the participant's page and the caseload show nobody.
    form = browser.get(action)
    r = post(browser, action, {"duty": "case_manager", "nobody": "1"}, key_of(form.text, action))
    assert r.status_code == 303, r.text
    projector.drain(world.db, world.schema)
    page = browser.get(f"/console/participants/{ada}")
    assert "Case manager unassigned: nobody holds the duty now." in page.text
    assert "Case manager: nobody assigned" in shown(page.text)
    assert "case_manager" not in world.get(f"/participants/{ada}")
    projector.drain(world.db, world.schema)
    form = browser.get(action)
    assert known(form)[0] == ("cm-rita", "coordinator of 1")

    # Nobody again: the API's rule, said next to the choice.
    r = post(browser, action, {"duty": "case_manager", "nobody": "1"}, key_of(form.text, action))
    assert r.status_code == 422
    assert beside(r, "nobody") == "The case manager is already nobody."

    sign_in(browser, "case_manager", world.slug, subject="cm-rita")
    mine = browser.get("/console/caseload?whose=mine")
    assert f"/console/participants/{bea}" in mine.text
    assert f"/console/participants/{ada}" not in mine.text


def test_a_mistyped_name_is_caught_before_it_assigns_nobody(browser, world):  # noqa: F811
    """A name close to a known one is a typing mistake until the coordinator says otherwise:
    the form names the known one, records nothing, and takes the name once confirmed; the
    coordinator's own sign-in name needs no confirming."""
    ada = world.enrol(name="Ada")
    bea = world.enrol(name="Bea")
    world.post(f"/participants/{bea}/assignments", {"duty": "case_manager", "staff": "cm-rita"})
    projector.drain(world.db, world.schema)
    sign_in(browser, "coordinator", world.slug, subject="co-ned")
    action = f"/console/participants/{ada}/assign"
    form = browser.get(action)
    assert 'name="new_staff" value="1"' in form.text

    before = world.events()
    typo = {"duty": "case_manager", "staff": "cm-rtia"}
    r = post(browser, action, typo, key_of(form.text, action))
    assert r.status_code == 422
    assert beside(r, "staff") == (
        "The staff member's sign-in name: nobody named cm-rtia holds a duty here yet. Did you"
        " mean cm-rita? Check the spelling, or tick A new staff member to assign them."
    )
    assert world.events() == before
    assert "case_manager" not in world.get(f"/participants/{ada}")

    # The known name goes through without a tick, as does the coordinator's own.
    r = post(browser, action, {**typo, "staff": "cm-rita"}, key_of(r.text, action))
    assert r.status_code == 303, r.text
    projector.drain(world.db, world.schema)
    form = browser.get(action)
    own = {"duty": "coordinator", "staff": "co-ned"}
    r = post(browser, action, own, key_of(form.text, action))
    assert r.status_code == 303, r.text
    person = world.get(f"/participants/{ada}")
    assert (person["case_manager"], person["coordinator"]) == ("cm-rita", "co-ned")
