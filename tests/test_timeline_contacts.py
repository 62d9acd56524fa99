"""A case manager's case-management contacts on the participant's timeline (decision 113), on
the real app and PostgreSQL with the clock frozen: recorded through the API, each takes its
place in time among the meetings, says its day, its mode and who recorded it, reaches the
console's participant page, survives the participant's erasure as a fact with no text, and a
rebuild of the view from the log gives the same rows."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from services.projector import live as projector
from services.projector import rebuilds
from tests.console_helpers import sign_in
from tests.meetings_helpers import World

# A Tuesday, 09:00 in Chicago (the world's zone).
NOW = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)
CASE_MANAGER = "cm-ava"
MENTOR = "pm-marcus"
CONTACT = "participant.CaseManagementContact"


@pytest.fixture
def world(client, auth, db, frozen_at) -> World:
    frozen_at(NOW)
    return World(client, auth, db)


def contact(world: World, pid: str, on: str, mode: str) -> Any:
    return world.post(
        f"/participants/{pid}/case-contacts",
        {"contacted_on": on, "mode": mode},
        role="case_manager",
        sub=CASE_MANAGER,
    )


def timeline(world: World, pid: str, **as_who: Any) -> list[dict[str, Any]]:
    projector.drain(world.db, world.schema)
    return list(world.get(f"/participants/{pid}/timeline", **as_who)["items"])


def at(entry: dict[str, Any]) -> tuple[datetime, int]:
    return datetime.fromisoformat(entry["occurred_at"]), entry["position"]


def case(world: World) -> tuple[str, str]:
    """A mentee with two held meetings (3 Nov and 5 Dec 2025) and, recorded after both, a phone
    contact on 20 Nov and a video contact on 5 Jan; another participant with a contact."""
    pid = world.enrol(name="Odalys")
    other = world.enrol(name="Bertrand")
    pairing = world.pair(world.mentor(MENTOR), [pid], "2025-10-01T15:00:00Z")
    world.meet(pairing, "2025-11-03T16:00:00Z")
    world.meet(pairing, "2025-12-05T16:00:00Z")
    contact(world, pid, "2025-11-20", "phone")
    contact(world, pid, "2026-01-05", "video")
    contact(world, other, "2025-11-21", "in_person")
    return pid, other


def test_contacts_take_their_place_in_time_among_the_meetings(world):
    pid, other = case(world)
    items = timeline(world, pid, role="case_manager", sub=CASE_MANAGER)
    assert [at(e) for e in items] == sorted(at(e) for e in items)
    served = [e for e in items if e["kind"] in ("meeting.Held", CONTACT)]
    assert [(e["kind"], e["occurred_at"][:10]) for e in served] == [
        ("meeting.Held", "2025-11-03"),
        (CONTACT, "2025-11-20"),
        ("meeting.Held", "2025-12-05"),
        (CONTACT, "2026-01-05"),
    ]
    phone = served[1]
    assert phone["detail"] == {"contacted_on": "2025-11-20", "mode": "phone"}
    assert phone["recorded_by"] == CASE_MANAGER
    assert phone["subject_id"] == pid and phone["audience"] == "case"
    # The start of the contact's day in the grantee's zone (Chicago, UTC-06:00 in November).
    assert phone["occurred_at"] == "2025-11-20T00:00:00-06:00"
    # Recorded after both meetings, shown between them.
    assert served[1]["position"] > served[2]["position"]
    # Another participant's contact is theirs only.
    assert [e["detail"]["contacted_on"] for e in items if e["kind"] == CONTACT] == [
        "2025-11-20",
        "2026-01-05",
    ]
    theirs = timeline(world, other)
    assert [e["detail"]["mode"] for e in theirs if e["kind"] == CONTACT] == ["in_person"]
    # The participant's mentor reads their mentee's case rows, contacts included (the mentee's
    # history shows the same events); a mentor of someone else reads none of it.
    mine = timeline(world, pid, role="peer_mentor", sub=MENTOR)
    assert [e["kind"] for e in mine if e["kind"] == CONTACT] == [CONTACT, CONTACT]
    world.get(f"/participants/{other}/timeline", role="peer_mentor", sub=MENTOR, status=404)


def test_a_rebuild_from_the_log_gives_the_same_rows(world):
    pid, other = case(world)
    before = {p: timeline(world, p) for p in (pid, other)}
    live = projector.digests(world.db, world.schema)
    assert rebuilds.rebuild(world.db, world.schema, "timeline") >= 2
    assert projector.digests(world.db, world.schema) == live
    assert {p: timeline(world, p) for p in (pid, other)} == before


def test_the_erased_participants_contacts_stay_as_facts_and_the_rebuild_agrees(world):
    pid, _ = case(world)
    r = world.client.post(
        f"{world.base}/participants/{pid}/erasure",
        json={"reason": "participant request of 2026-03-09"},
        headers=world.headers(),
    )
    assert r.status_code == 201, r.text
    items = timeline(world, pid)
    assert items[-1]["kind"] == "participant.Erased"
    contacts = [e["detail"] for e in items if e["kind"] == CONTACT]
    assert contacts == [
        {"contacted_on": "2025-11-20", "mode": "phone"},
        {"contacted_on": "2026-01-05", "mode": "video"},
    ]
    assert "Odalys" not in str(items)
    live = projector.digests(world.db, world.schema)
    rebuilds.rebuild(world.db, world.schema, "timeline")
    assert projector.digests(world.db, world.schema) == live


def test_the_console_participant_page_shows_the_contacts_on_the_timeline(browser, world):
    pid, _ = case(world)
    projector.drain(world.db, world.schema)
    sign_in(browser, "case_manager", world.slug, CASE_MANAGER)
    page = browser.get(f"/console/participants/{pid}")
    assert page.status_code == 200, page.text
    shown = page.text.split('id="h-timeline"')[1].split("</section>")[0]
    rows = [row.split("</li>")[0] for row in shown.split("<li>")[1:]]
    served = [r for r in rows if "Meeting held" in r or "Case management contact" in r]
    assert [r.split(" · ")[1] for r in served] == [
        "<strong>Meeting held</strong>",
        "<strong>Case management contact</strong>: phone",
        "<strong>Meeting held</strong>",
        "<strong>Case management contact</strong>: video",
    ], served
    assert served[1].startswith("Thu 20 Nov 2025, 00:00 (UTC-06:00)")
