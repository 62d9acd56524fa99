"""The console's alerts and caseload show a case manager the crises about the participants they
hold (decision 129), through HTTP on the real application with a frozen clock: the participant
named and linked, how serious and who holds it, no link to the escalation (the coordinators'),
never what was raised nor the mentor; another case manager's participant's crisis is not shown.
A coordinator's page is as before: every crisis, linked, with its mentor."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from services.projector import live as projector
from tests.console_helpers import sign_in
from tests.meetings_helpers import World

# A Tuesday, 09:00 in Chicago (the world's zone); the crises were raised on Sunday.
NOW = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)
RAISED = "2026-03-08T15:00:00Z"
SECRET = "Lost her bed at the shelter; talks of giving up."
OTHER_SECRET = "Threatened by a former cellmate."


@pytest.fixture
def world(client, auth, db, frozen_at) -> World:
    frozen_at(NOW, tick=True)
    return World(client, auth, db)


def crisis(world: World, mentor: str, participant: str, text: str) -> Any:
    return world.post(
        "/escalations",
        {
            "mentor_id": mentor,
            "type": "crisis",
            "severity": "high",
            "participant_id": participant,
            "description": text,
            "raised_at": RAISED,
        },
    )


def rows_of(page: str) -> list[str]:
    return page.split("<tbody>")[1].split("</tbody>")[0].split("<tr>") if "<tbody>" in page else []


def test_a_case_manager_sees_the_crisis_about_their_participant_not_its_words(browser, world):
    odalys, ysolde = world.enrol(name="Odalys"), world.enrol(name="Ysolde")
    zed, yan = world.mentor("mentor-zed"), world.mentor("mentor-yan")
    world.pair(zed, [odalys], "2025-10-01T15:00:00Z")
    world.pair(yan, [ysolde], "2025-10-01T15:00:00Z")
    for person, cm in ((odalys, "cm-ines"), (ysolde, "cm-oskar")):
        world.post(f"/participants/{person}/assignments", {"duty": "case_manager", "staff": cm})
    mine = crisis(world, zed, odalys, SECRET)["id"]
    theirs = crisis(world, yan, ysolde, OTHER_SECRET)["id"]
    projector.drain(world.db, world.schema)

    sign_in(browser, "case_manager", world.slug, subject="cm-ines")
    page = browser.get("/console/alerts").text
    (row,) = [r for r in rows_of(page) if "open crisis" in r]
    # Named and linked to her page; how serious, how long, who holds it.
    assert "Odalys Lee" in row and f'href="/console/participants/{odalys}"' in row
    assert "high crisis unresolved for 48 h, raised with the coordinators" in row
    # Not the escalation (the coordinators'), its words or its mentor; not Ysolde's crisis
    # (her pairing's missed cadence is everyone's, as before).
    assert "/console/escalations/" not in page and mine not in page
    assert SECRET not in page and "Mentor mentor-zed" not in row
    assert theirs not in page and OTHER_SECRET not in page
    assert "not what was raised" in page
    # Her caseload row counts it, beside her pairing's missed cadence.
    caseload = browser.get("/console/caseload?whose=mine").text
    (listed,) = [r for r in rows_of(caseload) if "Odalys" in r]
    assert "2 alerts" in listed, listed

    # A coordinator's page is as it was: both crises, each linked, with its mentor.
    sign_in(browser, "coordinator", world.slug)
    page = browser.get("/console/alerts").text
    crises = [r for r in rows_of(page) if "open crisis" in r]
    assert len(crises) == 2
    for escalation, name, mentor in ((mine, "Odalys", "zed"), (theirs, "Ysolde", "yan")):
        (row,) = [r for r in crises if name in r]
        assert f'href="/console/escalations/{escalation}"' in row
        assert f"Mentor mentor-{mentor}" in row and ", not acknowledged" in row
    assert "not what was raised" not in page
