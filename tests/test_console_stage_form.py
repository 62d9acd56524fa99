"""The stage-transition form (services/api/console/stage_form.py), by HTTP form posts against
the real application on a frozen clock: it says whom it is for and where they are now, offers
the stages in order in the domain's words and the placements in words, and after the move says
what was recorded for whom."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from services.projector import live as projector
from tests.conftest import FreezeAt
from tests.console_helpers import key_of, post, select_of, shown, sign_in
from tests.meetings_helpers import World

# A Tuesday, 09:00 in Chicago (the world's zone).
NOW = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)


@pytest.fixture
def world(client: Any, auth: Any, db: Any, frozen_at: FreezeAt) -> World:
    frozen_at(NOW, tick=True)
    return World(client, auth, db)


def test_the_stage_form_says_whom_and_where_and_what_was_recorded(browser, world):
    pid = world.enrol(name="Odalys")
    person = world.get(f"/participants/{pid}")
    projector.drain(world.db, world.schema)
    sign_in(browser, "coordinator", world.slug)
    action = f"/console/participants/{pid}/stage"
    form = browser.get(action)
    text = shown(form.text)
    assert (
        f"For Odalys Lee ({person['number']}). Now in stage 1, in a BOP institution at"
        " Facility FCI-A (FCI-A), since Mon 15 Sep 2025, 00:00 (UTC-05:00)." in text
    )
    # The stages in order, each said by the placements it holds; no code shown as a word.
    offered, chosen = select_of(form.text, "to_stage")
    assert offered == ["", "1", "2", "3"] and chosen == []
    stages = form.text.split('<select id="to_stage"')[1].split("</select>")[0]
    assert ">Stage 1: a BOP institution<" in stages
    assert ">Stage 2: an RRC or home confinement<" in stages
    assert ">Stage 3: the community<" in stages
    placements = form.text.split('<select id="placement"')[1].split("</select>")[0]
    for said in (
        ">A BOP institution (stage 1)<",
        ">An RRC (stage 2)<",
        ">Home confinement (stage 2)<",
        ">The community (stage 3)<",
    ):
        assert said in placements, said
    assert "bop_institution<" not in placements and "home_confinement<" not in placements

    move = {"to_stage": "2", "placement": "rrc", "facility": "RRC-1"}
    done = post(
        browser, action, {**move, "occurred_at": "2026-03-09T10:30"}, key_of(form.text, action)
    )
    assert done.status_code == 303, done.text
    page = browser.get(done.headers["location"])
    assert (
        f"Stage transition recorded for Odalys Lee ({person['number']}): now in stage 2, in an"
        " RRC at Facility RRC-1 (RRC-1), from Mon 09 Mar 2026, 10:30 (UTC-05:00)."
        in shown(page.text)
    )
    assert "Recorded.</" not in page.text
    # The form opened again starts from where they are now.
    again = shown(browser.get(action).text)
    assert "Now in stage 2, in an RRC at Facility RRC-1 (RRC-1), since Mon 09 Mar 2026" in again

    # A return to custody is said as one.
    back = browser.get(action)
    custody = {"to_stage": "1", "facility": "FCI-B", "returned_to_custody": "1"}
    done = post(
        browser, action, {**custody, "occurred_at": "2026-03-10T08:00"}, key_of(back.text, action)
    )
    assert done.status_code == 303, done.text
    assert (
        f"Return to custody recorded for Odalys Lee ({person['number']}): now in stage 1, in a"
        " BOP institution at Facility FCI-B (FCI-B), from Tue 10 Mar 2026, 08:00 (UTC-05:00)."
        in shown(browser.get(done.headers["location"]).text)
    )
