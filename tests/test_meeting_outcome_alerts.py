"""A meeting scheduled ahead whose time passed more than 24 hours ago with no outcome recorded
(held, missed or cancelled) is an alert, `meeting_without_outcome`, over HTTP on the real app
and PostgreSQL with the clock frozen: not before the 24 hours are up, then until the meeting is
recorded held, missed or cancelled; for the staff who read the pairing's alerts, narrowed by
`assigned_to` as a missed cadence is; dated from the meeting's time, said in the grantee's
zone; never for a closed pairing's meeting (decision 137)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.projector import live as projector
from tests.meetings_helpers import World, held

KIND = "meeting_without_outcome"
# Wed 2 Dec 2026, 17:00 in Chicago (UTC-06:00).
PLANNED = "2026-12-02T17:00:00-06:00"
AT = datetime.fromisoformat(PLANNED)


@pytest.fixture
def world(client, auth, db, frozen_at) -> World:
    frozen_at(datetime(2026, 12, 1, 15, 0, tzinfo=UTC))
    return World(client, auth, db)


def outcome_alerts(world: World, **params: Any) -> list[dict[str, Any]]:
    projector.drain(world.db, world.schema)
    body = world.get("/alerts", **params)
    items = [a for a in body["items"] if a["kind"] == KIND]
    assert body["counts"].get(KIND, 0) == len(items) or "kind" in params
    return items


def test_a_meeting_without_outcome_is_an_alert_after_24_hours_until_it_has_one(
    world: World, frozen_at: Any
) -> None:
    ava, bea, cy = (world.enrol(name=n) for n in ("Ava", "Bea", "Cy"))
    mentor = world.mentor("mentor-zed")
    pairing = world.pair(mentor, [ava], "2026-10-01T15:00:00Z")
    other = world.pair(world.mentor("mentor-yan"), [bea], "2026-10-01T15:00:00Z")
    closing = world.pair(world.mentor("mentor-xu"), [cy], "2026-10-01T15:00:00Z")
    world.post(f"/participants/{ava}/assignments", {"duty": "case_manager", "staff": "cm-rita"})
    planned = world.schedule(pairing, PLANNED)["id"]
    # Two more of the same hour, answered below as missed and as cancelled; one of a pairing
    # that closes; one held when it was recorded.
    missed = world.schedule(other, PLANNED)["id"]
    cancelled = world.schedule(pairing, "2026-12-02T09:00:00-06:00")["id"]
    world.schedule(closing, PLANNED)
    world.close(closing)

    # The meeting's own hour and the day after, up to 24 hours: no alert yet.
    frozen_at(AT)
    assert outcome_alerts(world) == []
    frozen_at(AT + timedelta(hours=24))
    assert [a["subject_id"] for a in outcome_alerts(world)] == [cancelled]
    frozen_at(AT + timedelta(hours=24, minutes=1))
    alerts = outcome_alerts(world)
    # In the order of their times (the two of 17:00 in either order).
    assert alerts[0]["subject_id"] == cancelled
    assert {a["subject_id"] for a in alerts[1:]} == {planned, missed}
    alert = next(a for a in alerts if a["subject_id"] == planned)
    assert (alert["subject"], alert["pairing_id"], alert["mentor_id"]) == (
        "meeting",
        pairing,
        mentor,
    )
    # Since the meeting's time, with the grantee's offset.
    assert alert["since"] == "2026-12-02T17:00:00-06:00"
    assert "2026-12-02 17:00 CST" in alert["detail"]
    assert "Ava" not in str(alerts)
    assert world.get("/alerts", kind=KIND)["items"] == alerts
    # A case manager's own: only the pairings of the participants assigned to them.
    mine = outcome_alerts(world, role="case_manager", sub="cm-rita", assigned_to="me")
    assert [a["subject_id"] for a in mine] == [cancelled, planned]
    assert outcome_alerts(world, assigned_to="cm-nobody") == []

    # An outcome, whichever, clears it.
    world.post(f"/meetings/{planned}/held", held("2026-12-02T17:10:00-06:00"))
    world.post(f"/meetings/{missed}/missed", {"no_show_by": "mentee", "note": ""})
    assert [a["subject_id"] for a in outcome_alerts(world)] == [cancelled]
    world.post(f"/meetings/{cancelled}/cancellation", {"reason": "ill", "excused": False})
    assert outcome_alerts(world) == []


def test_the_24_hours_are_hours_across_a_change_of_the_clocks(world: World, frozen_at: Any) -> None:
    """Chicago falls back on Sun 1 Nov 2026: a meeting of Sat 31 Oct, 17:00 (UTC-05:00) is due
    an outcome 24 hours later, at 16:00 on the Sunday's clocks (UTC-06:00)."""
    frozen_at(datetime(2026, 10, 30, 15, 0, tzinfo=UTC))
    ava = world.enrol(name="Ava")
    pairing = world.pair(world.mentor("mentor-zed"), [ava], "2026-10-01T15:00:00Z")
    planned = world.schedule(pairing, "2026-10-31T17:00:00-05:00")["id"]
    frozen_at(datetime.fromisoformat("2026-11-01T15:59:00-06:00"))
    assert outcome_alerts(world) == []
    frozen_at(datetime.fromisoformat("2026-11-01T16:01:00-06:00"))
    alerts = outcome_alerts(world)
    assert [a["subject_id"] for a in alerts] == [planned]
    assert "2026-10-31 17:00 CDT" in alerts[0]["detail"]
