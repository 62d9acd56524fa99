"""Eligibility at a match is judged on the grantee's day, not UTC's (DESIGN D10, decision 95):
a volunteer clearance that expires tomorrow in Chicago is still good at 19:30 there, when UTC
has already turned to tomorrow. The command, the options read before it and a group's new
member all agree, over HTTP against the real application with the clock frozen."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from services.projector import live as projector
from tests.conftest import FreezeAt
from tests.meetings_helpers import OFF_SITE, World, inside

# Monday 2026-12-07, 19:30 in Chicago: already Tuesday 01:30 in UTC.
EVENING = datetime(2026, 12, 8, 1, 30, tzinfo=UTC)
# The clearance's last good day in Chicago is the 7th; it has expired on the 8th.
EXPIRES = "2026-12-08"


@pytest.fixture
def world(client: Any, auth: Any, db: Any, frozen_at: FreezeAt) -> World:
    frozen_at(EVENING)
    return World(client, auth, db)


def match(mentor_id: str, members: list[str], location: dict[str, Any]) -> dict[str, Any]:
    return {
        "kind": "individual",
        "mentor_id": mentor_id,
        "members": members,
        "location": location,
        "criteria": ["shared_experience"],
    }


def test_a_clearance_good_until_midnight_in_chicago_admits_the_match(world: World) -> None:
    mentor = world.mentor("ada", clearances=(("FCI-A", "2025-08-01", EXPIRES),))
    mentee = world.enrol()
    projector.drain(world.db, world.schema)
    options = world.get(f"/participants/{mentee}/mentor-options", facility="FCI-A")
    (option,) = [o for o in options["items"] if o["mentor_id"] == mentor]
    assert option["eligible"] is True, option
    assert option["reasons"] == []
    assert "FCI-A" in option["cleared_for"]
    pairing = world.post("/pairings", match(mentor, [mentee], inside("FCI-A")))
    assert pairing["status"] == "open"


def test_the_clearance_has_expired_on_the_grantees_next_day(
    world: World, frozen_at: FreezeAt
) -> None:
    mentor = world.mentor("bo", clearances=(("FCI-A", "2025-08-01", EXPIRES),))
    mentee = world.enrol()
    # Tuesday 00:30 in Chicago: the clearance ran out at midnight there.
    frozen_at(datetime(2026, 12, 8, 6, 30, tzinfo=UTC))
    projector.drain(world.db, world.schema)
    options = world.get(f"/participants/{mentee}/mentor-options", facility="FCI-A")
    (option,) = [o for o in options["items"] if o["mentor_id"] == mentor]
    assert [r["code"] for r in option["reasons"]] == ["clearance_required"]
    assert "FCI-A" not in option["cleared_for"]
    world.refused("/pairings", match(mentor, [mentee], inside("FCI-A")), "clearance_required")
    # Off site, no clearance is asked for.
    assert world.post("/pairings", match(mentor, [mentee], OFF_SITE))["status"] == "open"
