"""The caseload's last service (decision 111): each row carries `last_service_on` and
`days_since_service`, read from the facts the 90-day derived exit reads, so a held meeting or
a case-management contact moves it and a correction of the record does not; the console's
caseload shows it as "N days ago" with the date. HTTP against PostgreSQL; the suite's clock is
frozen at 2026-11-26 15:00 UTC (09:00 in Chicago, the grantee's zone)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.console_helpers import sign_in
from tests.meetings_helpers import World


@pytest.fixture
def world(client: Any, auth: Any, db: Any) -> World:
    return World(client, auth, db, "America/Chicago")


def row_of(w: World, participant_id: str) -> dict[str, Any]:
    rows = w.view("/participants", limit=500)["items"]
    return next(r for r in rows if r["id"] == participant_id)


def served(w: World, participant_id: str) -> tuple[str, int]:
    row = row_of(w, participant_id)
    return row["last_service_on"], row["days_since_service"]


def test_a_held_meeting_and_a_contact_move_the_last_service_and_a_correction_does_not(
    world: World,
) -> None:
    w = world
    mentee = w.enrol("C1", "2025-09-15", "Mia")
    other = w.enrol("C1", "2025-09-20", "Ola")
    pairing = w.pair(w.mentor("mentor-a"), [mentee], "2026-10-01T15:00:00Z")
    # Entered and in class: the entry is the last service so far.
    assert served(w, mentee) == ("2025-09-15", 437)

    w.meet(pairing, "2026-11-03T18:00:00-06:00")
    assert served(w, mentee) == ("2026-11-03", 23)
    # A meeting is the service of those who attended it, not of everyone.
    assert served(w, other) == ("2025-09-20", 432)

    w.post(f"/participants/{mentee}/case-contacts", {"contacted_on": "2026-11-20", "mode": "phone"})
    assert served(w, mentee) == ("2026-11-20", 6)

    # A correction changes the record (and its `last_event_at`), not the service.
    before = row_of(w, mentee)["last_event_at"]
    w.post(f"/participants/{mentee}/corrections", {"reason": "misspelt", "last_name": "Leigh"})
    after = row_of(w, mentee)
    assert after["last_name"] == "Leigh" and after["last_event_at"] != before
    assert (after["last_service_on"], after["days_since_service"]) == ("2026-11-20", 6)

    # A meeting scheduled, not yet held, is no service either.
    w.schedule(pairing, "2026-11-30T18:00:00-06:00")
    assert served(w, mentee) == ("2026-11-20", 6)


CELL = re.compile(r'<td data-label="Last service">(.*?)</td>', re.S)


def test_the_console_caseload_shows_the_last_service(world: World) -> None:
    w = world
    mentee = w.enrol("C1", "2025-09-15", "Mia")
    w.enrol("C1", "2025-09-20", "Ola")
    pairing = w.pair(w.mentor("mentor-a"), [mentee], "2026-10-01T15:00:00Z")
    w.meet(pairing, "2026-11-25T10:00:00-06:00")
    w.view("/participants")
    sign_in(w.client, "coordinator", w.slug)
    page = w.client.get("/console/caseload", params={"whose": "all"}).text
    headings = re.findall(r'<th scope="col"[^>]*>([^<]*)', page)
    assert "Last service" in [h.strip() for h in headings]
    assert "Latest activity" not in page
    cells = [re.sub(r"<[^>]+>", "", c).split() for c in CELL.findall(page)]
    shown = {" ".join(c) for c in cells}
    assert "1 day ago 2026-11-25" in shown, shown
    assert "432 days ago 2025-09-20" in shown, shown


def test_the_openapi_schema_documents_the_last_service(client: Any) -> None:
    spec = client.get("/schema/openapi.json").json()
    row = spec["components"]["schemas"]["CaseloadRow"]["properties"]
    assert "derived exit" in row["last_service_on"]["description"]
    assert "last_service_on" in row["days_since_service"]["description"]


def pages_of(w: World, **params: Any) -> list[str]:
    """The ids of every page of the caseload, one row a page, following the cursors."""
    out, cursor = [], ""
    while True:
        found = w.get("/participants", limit=1, cursor=cursor, **params)
        out += [r["id"] for r in found["items"]]
        cursor = found["next_cursor"] or ""
        if not cursor:
            return out


def test_the_caseload_sorts_by_last_service_before_the_page_is_cut(world: World) -> None:
    w = world
    met = w.enrol("C1", "2025-09-15", "Mia")
    quiet = w.enrol("C1", "2025-09-20", "Ola")
    called = w.enrol("C1", "2025-09-25", "Eve")
    w.meet(w.pair(w.mentor("mentor-a"), [met], "2026-10-01T15:00:00Z"), "2026-11-03T12:00:00Z")
    w.post(f"/participants/{called}/case-contacts", {"contacted_on": "2026-11-20", "mode": "phone"})
    w.view("/participants")
    mine = {met, quiet, called}
    # Both directions, a row a page: an order ignored (numbers are drawn at random) fails one.
    longest_ago = [i for i in pages_of(w, sort="last_service_on") if i in mine]
    assert longest_ago == [quiet, met, called]
    latest = [i for i in pages_of(w, sort="-last_service_on") if i in mine]
    assert latest == [called, met, quiet]
