"""What needs attention today, on the caseload (decision 135): a group member's row names the
group's mentor (`group_mentors`, beside `mentor_name`, which stays the individual pairing's),
the alert badge is a link to the participant's page, which lists the same alerts near the top,
and the triage sort by last service lists the active before the exited. HTTP against
PostgreSQL; the suite's clock is frozen at 2026-11-26 15:00 UTC (09:00 in Chicago)."""

from __future__ import annotations

import html
import re
from typing import Any

import pytest

from tests.console_helpers import shown, sign_in
from tests.meetings_helpers import World


@pytest.fixture
def world(client: Any, auth: Any, db: Any) -> World:
    return World(client, auth, db, "America/Chicago")


def row_of(w: World, participant_id: str) -> dict[str, Any]:
    return next(r for r in w.view("/participants", limit=500)["items"] if r["id"] == participant_id)


def text(fragment: str) -> str:
    """A fragment of a page as a reader hears it: tags out (inline `<bdi>` without a break),
    spaces folded."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", shown(fragment))).split())


def caseload_row(page: str, participant_id: str) -> str:
    """The caseload table's row of one participant (the link to their page opens it)."""
    start = page.index(f'<a href="/console/participants/{participant_id}">')
    return page[page.rindex("<tr>", 0, start) : page.index("</tr>", start)]


def cell(row: str, label: str) -> str:
    found = re.search(rf'<td data-label="{label}">(.*?)</td>', row, re.S)
    assert found, row
    return found.group(1)


def test_a_group_member_is_shown_with_the_groups_mentor(world: World) -> None:
    w = world
    alone = w.enrol("C1", "2026-09-17", "Mia")
    grouped = w.enrol("C1", "2026-09-17", "Ola")
    both = w.enrol("C1", "2026-09-17", "Eve")
    w.pair(w.mentor("mentor-a"), [alone], "2026-10-01T15:00:00Z")
    group = w.pair(w.mentor("mentor-b"), [grouped, both], "2026-10-01T15:00:00Z", kind="group")
    w.pair(w.mentor("mentor-c"), [both], "2026-10-02T15:00:00Z")

    # `mentor_name` keeps its meaning (the individual pairing's mentor); the groups' are apart.
    row = row_of(w, grouped)
    assert (row["mentor_name"], row["group_pairing_ids"]) == (None, [group])
    assert row["group_mentors"] == ["Mentor mentor-b"]
    assert row_of(w, alone)["group_mentors"] == []
    row = row_of(w, both)
    assert (row["mentor_name"], row["group_mentors"]) == ("Mentor mentor-c", ["Mentor mentor-b"])

    sign_in(w.client, "coordinator", w.slug)
    page = w.client.get("/console/caseload", params={"whose": "all"}).text
    assert text(cell(caseload_row(page, grouped), "Mentor")) == "Mentor mentor-b (group)"
    assert text(cell(caseload_row(page, alone), "Mentor")) == "Mentor mentor-a"
    shown = text(cell(caseload_row(page, both), "Mentor"))
    assert shown == "Mentor mentor-c, Mentor mentor-b (group)"

    # The group closed: no mentor of it is named any longer.
    w.close(group)
    assert row_of(w, grouped)["group_mentors"] == []
    page = w.client.get("/console/caseload", params={"whose": "all"}).text
    assert text(cell(caseload_row(page, grouped), "Mentor")) == "—"


def test_the_openapi_schema_documents_the_group_mentors(client: Any) -> None:
    row = client.get("/schema/openapi.json").json()["components"]["schemas"]["CaseloadRow"]
    described = row["properties"]["group_mentors"]["description"]
    assert "group pairings" in described and "mentor_name" in described


def to_rrc(at: str) -> dict[str, Any]:
    """A move to stage 2 at an RRC at `at`: the end of class hours, the last service so far."""
    return {"to_stage": 2, "placement": "rrc", "facility": "RRC-1", "occurred_at": at}


def alerts_section(page: str) -> str:
    return page.split('<section id="alerts"')[1].split("</section>")[0]


def test_the_alert_badge_opens_the_participants_alerts(world: World) -> None:
    w = world
    # Paired two months ago and never met: the pairing missed its weekly cadence.
    grouped = w.enrol("C1", "2026-09-17", "Ola")
    w.pair(
        w.mentor("mentor-b"),
        [grouped, w.enrol("C1", "2026-11-20", "Eve")],
        "2026-10-01T15:00:00Z",
        kind="group",
    )
    # Out of class 69 days ago without a service since: the derived exit approaches.
    quiet = w.enrol("C1", "2026-09-17", "Ida")
    w.post(f"/participants/{quiet}/stage-transitions", to_rrc("2026-09-18T15:00:00Z"))
    fine = w.enrol("C1", "2026-11-20", "Una")
    alerts = w.view("/alerts")["items"]
    kinds = {a["kind"] for a in alerts}
    assert {"missed_cadence", "exit_approaching"} <= kinds, kinds

    sign_in(w.client, "case_manager", w.slug)
    page = w.client.get("/console/caseload", params={"whose": "all"}).text
    counted = {}
    for pid in (grouped, quiet):
        badge = cell(caseload_row(page, pid), "Alerts")
        # A link to the participant's alerts, saying what it is and whose they are.
        assert f'href="/console/participants/{pid}#alerts"' in badge, badge
        said = text(badge)
        assert re.fullmatch(r"\d+ alerts? about \w+ Lee", said), said
        counted[pid] = int(said.split()[0])
    assert text(cell(caseload_row(page, fine), "Alerts")) == "—"

    # The participant's page lists the alerts the badge counted, near the top.
    for pid, kind in ((grouped, "Missed cadence"), (quiet, "Exit approaching")):
        shown = w.client.get(f"/console/participants/{pid}").text
        assert shown.index('id="alerts"') < shown.index('id="h-contact"')
        section = alerts_section(shown)
        assert section.count("<li>") == counted[pid]
        assert kind in text(section), text(section)
    assert "No alert." in text(alerts_section(w.client.get(f"/console/participants/{fine}").text))
    assert "Exit approaching" not in text(
        alerts_section(w.client.get(f"/console/participants/{grouped}").text)
    )

    # A peer mentor reads no alerts: their mentee's page has no such part.
    sign_in(w.client, "peer_mentor", w.slug, subject="mentor-b")
    mentee = w.client.get(f"/console/participants/{grouped}")
    assert mentee.status_code == 200 and 'id="alerts"' not in mentee.text


def pages_of(w: World, **params: Any) -> list[str]:
    """The ids of every page of the caseload, one row a page, following the cursors."""
    out, cursor = [], ""
    while True:
        # The client itself: `World.get`'s `status` is the HTTP status it expects.
        r = w.client.get(
            w.base + "/participants",
            params={"limit": 1, "cursor": cursor, **params},
            headers=w.headers(),
        )
        assert r.status_code == 200, r.text
        found = r.json()
        out += [r["id"] for r in found["items"]]
        cursor = found["next_cursor"] or ""
        if not cursor:
            return out


def test_the_triage_sort_lists_the_active_before_the_exited(world: World) -> None:
    w = world
    # Out of class and without a service for 421 days: a derived exit, the longest ago of all.
    derived = w.enrol("C1", "2025-09-15", "Dan")
    w.post(f"/participants/{derived}/stage-transitions", to_rrc("2025-10-01T15:00:00Z"))
    recorded = w.enrol("C1", "2026-10-01", "Rex")
    w.post(f"/participants/{recorded}/exit", {"exit_date": "2026-11-02", "reason": "other"})
    quiet = w.enrol("C1", "2026-09-17", "Ida")
    recent = w.enrol("C1", "2026-11-20", "Una")
    w.view("/participants")
    mine = {derived, recorded, quiet, recent}
    assert row_of(w, derived)["exit_derived"] and row_of(w, recorded)["status"] == "exited"

    # Either direction, a row a page: the active first, then the exited, each in the order asked.
    longest = [i for i in pages_of(w, sort="last_service_on") if i in mine]
    assert longest == [quiet, recent, derived, recorded]
    latest = [i for i in pages_of(w, sort="-last_service_on") if i in mine]
    assert latest == [recent, quiet, recorded, derived]
    # With the status filter, the same order within it.
    active = [i for i in pages_of(w, sort="last_service_on", status="active") if i in mine]
    assert active == [quiet, recent]

    sign_in(w.client, "coordinator", w.slug)
    page = w.client.get("/console/caseload", params={"sort": "last_service_on", "whose": "all"})
    assert "sorted by Last service, longest ago first, exited last" in page.text
    shown = [pid for pid in re.findall(r'href="/console/participants/([0-9a-f-]+)"', page.text)]
    assert [pid for pid in dict.fromkeys(shown) if pid in mine] == longest
