"""Group pairings from the console, through HTTP form posts against the real application: a
coordinator starts a group from a participant's page (one POST /pairings with `members` and
`focus`), the API's refusals said as sentences next to their field; members are added and
removed from the group's row; a role without `pairings.write` is refused the forms in words."""

from __future__ import annotations

import re
from typing import Any

import pytest

from services.projector import live as projector
from tests.conftest import FreezeAt
from tests.console_helpers import beside, csrf_of, key_of, post, refusal, shown, sign_in
from tests.meetings_helpers import World
from tests.test_console_pairing import MATCH, NOW, options


@pytest.fixture
def world(client: Any, auth: Any, db: Any, frozen_at: FreezeAt) -> World:
    frozen_at(NOW, tick=True)
    return World(client, auth, db)


GROUP = {**MATCH, "focus": "employment"}


def ticks(page: Any, field: str) -> list[str]:
    """The values of a checkbox group's boxes, in order."""
    return re.findall(rf'name="{field}" value="([^"]*)"', page.text)


def test_a_coordinator_starts_a_group_of_three_from_the_participant_page(browser, world):
    first = world.enrol(name="Odalys")
    bea = world.enrol(name="Bea")
    cy = world.enrol(name="Cy")
    paired = world.enrol(name="Dora")
    mentor = world.mentor("ada")
    world.pair(world.mentor("bo"), [paired], "2026-03-01T15:00:00Z")
    projector.drain(world.db, world.schema)
    sign_in(browser, "coordinator", world.slug)

    page = browser.get(f"/console/participants/{first}")
    action = f"/console/participants/{first}/group"
    assert f'href="{action}"' in page.text
    form = browser.get(action)
    assert form.status_code == 200
    # The other active participants with no open pairing; nothing chosen for the person.
    assert sorted(ticks(form, "members")) == sorted([bea, cy])
    assert "<legend>The other members</legend>" in form.text
    assert options(form, "mentor_id")[0] == "" and mentor in options(form, "mentor_id")
    assert options(form, "focus")[:2] == ["", "employment"]
    assert " selected>" not in form.text and " checked>" not in form.text
    key = key_of(form.text, action)
    before = world.events()

    # A search narrows the list and keeps what was ticked and typed; it records nothing.
    found = post(browser, action, {**GROUP, "members": [cy], "find": "Bea", "search": "1"}, key)
    assert found.status_code == 200
    assert ticks(found, "members") == [cy, bea] and f'value="{cy}" checked>' in found.text
    assert 'name="months" type="number" inputmode="numeric" min="1" max="36" value="6"' in (
        found.text
    )
    # Without JavaScript the search box's own form sends the search words alone.
    finder = form.text.split('id="members-finder"')[1].split("</form>")[0]
    assert 'form="members-finder"' in form.text and 'name="idempotency_key"' not in finder
    alone = browser.post(
        action, data={"find": "Bea", "search": "1", "_csrf_token": csrf_of(browser)}
    )
    assert alone.status_code == 200 and ticks(alone, "members") == [bea]
    assert world.events() == before

    # The console's own reading, each sentence by its field.
    r = post(browser, action, {}, key)
    assert r.status_code == 422
    assert beside(r, "mentor_id") == "Mentor: choose one of the options."
    assert beside(r, "focus") == "The group's shared focus: choose one of the options."
    # The API's rule: a group of one is refused, said next to the members.
    r = post(browser, action, {**GROUP, "mentor_id": mentor}, key)
    assert r.status_code == 422
    assert beside(r, "members") == "A group has 2-8 members." and "2-8" in refusal(r)
    assert 'aria-describedby="members-error' in r.text
    assert world.events() == before

    done = post(browser, action, {**GROUP, "mentor_id": mentor, "members": [bea, cy]}, key)
    assert done.status_code == 303, done.text
    assert post(browser, action, {**GROUP, "mentor_id": mentor, "members": [bea, cy]}, key)
    projector.drain(world.db, world.schema)
    (row,) = world.get("/pairings", participant_id=cy)["items"]
    pairing = world.get(f"/pairings/{row['id']}")
    assert pairing["kind"] == "group" and pairing["focus"] == "employment"
    assert sorted(pairing["members"]) == sorted([first, bea, cy])
    assert pairing["mentor_id"] == mentor
    page = browser.get(f"/console/participants/{first}")
    assert "Group started with Mentor ada." in page.text
    assert "group pairing with <strong>Mentor ada</strong>" in shown(page.text)
    assert "focus: employment, 3 members" in page.text
    assert f"/console/pairings/{row['id']}/member?participant={first}" in page.text
    assert f"/console/pairings/{row['id']}/member-removal?participant={first}" in page.text


def test_members_are_added_and_removed_and_refusals_are_said(browser, world):
    ann, bea, cy = (world.enrol(name=n) for n in ("Ann", "Bea", "Cy"))
    mentor = world.mentor("ada")
    group = world.pair(mentor, [ann, bea], "2026-03-01T15:00:00Z", kind="group")
    projector.drain(world.db, world.schema)
    sign_in(browser, "coordinator", world.slug)

    add = f"/console/pairings/{group}/member?participant={ann}"
    form = browser.get(add)
    assert form.status_code == 200
    assert options(form, "participant_id") == ["", cy] and " selected>" not in form.text
    key = key_of(form.text, add)
    before = world.events()
    r = post(browser, add, {}, key)
    assert r.status_code == 422
    assert beside(r, "participant_id") == "The new member: choose one of the options."
    world.policy(group_max=2)
    r = post(browser, add, {"participant_id": cy}, key)
    assert r.status_code == 422
    assert beside(r, "participant_id") == "A group has at most 2 members."
    assert world.events() == before + 1  # the policy only
    world.policy(group_max=8)
    done = post(browser, add, {"participant_id": cy}, key)
    assert done.status_code == 303, done.text
    assert done.headers["location"] == f"/console/participants/{ann}"
    assert sorted(world.get(f"/pairings/{group}")["members"]) == sorted([ann, bea, cy])

    remove = f"/console/pairings/{group}/member-removal?participant={ann}"
    form = browser.get(remove)
    assert sorted(options(form, "participant_id")) == sorted(["", ann, bea, cy])
    assert " selected>" not in form.text and 'name="reason"' in form.text
    key = key_of(form.text, remove)
    before = world.events()
    r = post(browser, remove, {"participant_id": "", "reason": ""}, key)
    assert r.status_code == 422
    assert beside(r, "participant_id") == "The member to remove: choose one of the options."
    assert beside(r, "reason") == "The reason: fill this in."
    assert world.events() == before
    done = post(browser, remove, {"participant_id": cy, "reason": "moved away"}, key)
    assert done.status_code == 303, done.text
    assert sorted(world.get(f"/pairings/{group}")["members"]) == sorted([ann, bea])
    projector.drain(world.db, world.schema)
    assert "Member removed." in browser.get(f"/console/participants/{ann}").text
    # Two left: removing one more would drop the group below its minimum.
    again = browser.get(remove)
    r = post(browser, remove, {"participant_id": bea, "reason": "left"}, key_of(again.text, remove))
    assert r.status_code == 422
    said = "A group keeps at least 2 members; close the group instead."
    assert beside(r, "participant_id") == said and said in refusal(r)
    projector.drain(world.db, world.schema)
    page = browser.get(f"/console/participants/{ann}")
    assert "focus: employment, 2 members" in page.text


def test_a_peer_mentor_and_an_auditor_are_refused_the_group_forms(browser, world):
    ann, bea = world.enrol(name="Ann"), world.enrol(name="Bea")
    mentor = world.mentor("ada")
    group = world.pair(mentor, [ann, bea], "2026-03-01T15:00:00Z", kind="group")
    projector.drain(world.db, world.schema)
    for role, subject in (("peer_mentor", "ada"), ("auditor", "")):
        browser.cookies.clear()
        sign_in(browser, role, world.slug, subject=subject)
        page = browser.get(f"/console/participants/{ann}")
        assert page.status_code == 200 and "group pairing" in page.text
        assert "/group" not in page.text and "/member" not in page.text
        for path in (
            f"/console/participants/{ann}/group",
            f"/console/pairings/{group}/member?participant={ann}",
            f"/console/pairings/{group}/member-removal?participant={ann}",
        ):
            refused = browser.get(path)
            assert refused.status_code == 403, (role, path)
            assert "Your role does not include it" in refused.text
