"""The console's escalations page (decision 138), through HTTP on the real application with a
frozen clock: a boundary concern a peer mentor has just raised is listed for a coordinator at
once, named and linked, with how long it is open; the filters by status, type and severity; 50
a page with "More escalations", newest raised first across the pages (decision 139); a case
manager gets the console's 403 page and no link."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime

import pytest

from services.projector import live as projector
from tests.console_helpers import key_of, post, sign_in
from tests.meetings_helpers import World

# Thursday 26 Nov 2026, 12:00 in Chicago (the world's zone, UTC-06:00).
NOW = datetime(2026, 11, 26, 18, 0, tzinfo=UTC)


@pytest.fixture
def world(client, auth, db, frozen_at) -> World:
    frozen_at(NOW, tick=True)
    return World(client, auth, db)


def rows_of(page: str) -> list[str]:
    return (
        page.split("<tbody>")[1].split("</tbody>")[0].split("<tr>")[1:] if "<tbody>" in page else []
    )


def escalation(world: World, mentor: str, person: str | None, kind: str, raised: str) -> str:
    body = {"mentor_id": mentor, "type": kind, "severity": "medium", "description": "Words."}
    body |= {"raised_at": raised} | ({"participant_id": person} if person else {})
    return str(world.post("/escalations", body)["id"])


def test_a_just_raised_boundary_concern_is_listed_for_the_coordinators(browser, world):
    zed = world.mentor("mentor-zed")
    ava = world.enrol(name="Ava")
    world.pair(zed, [ava], "2026-10-01T15:00:00Z")
    older = escalation(world, zed, ava, "relapse_risk", "2026-11-24T18:00:00Z")
    projector.drain(world.db, world.schema)

    # Ava's mentor raises a boundary concern from her page; the form says where it is seen.
    sign_in(browser, "peer_mentor", world.slug, subject="mentor-zed")
    action = f"/console/participants/{ava}/escalation"
    form = browser.get(action).text
    assert "The coordinators see it at once in their list of escalations." in form
    assert "among the alerts." not in form.split("<form")[0]
    said = {
        "mentor_id": zed,
        "type": "boundary_concern",
        "severity": "low",
        "description": "He asked me to lend him money.",
    }
    r = post(browser, action, said, key_of(form, action))
    assert r.status_code == 303, html.unescape(r.text)
    projector.drain(world.db, world.schema)
    shown = html.unescape(browser.get(r.headers["location"]).text)
    assert (
        "Escalation raised: the coordinators see it at once in their list of escalations; a"
        " crisis still unresolved after 24 hours also shows among the alerts." in shown
    )
    assert 'href="/console/escalations"' not in shown
    (raised,) = [x for x in world.view("/escalations")["items"] if x["id"] != older]

    sign_in(browser, "coordinator", world.slug)
    page = browser.get("/console/escalations").text
    assert '<a href="/console/escalations" aria-current="page">Escalations</a>' in page
    first, second = rows_of(page)
    # Newest first: the boundary concern raised a moment ago, then the relapse risk of Tuesday.
    assert f'href="/console/escalations/{raised["id"]}"' in first
    assert "Boundary concern, low" in first and "not acknowledged" in first
    assert re.search(rf'<a href="/console/participants/{ava}"><bdi>Ava Lee \(', first), first
    assert f'<a href="/console/mentors/{zed}"><bdi>Mentor mentor-zed</bdi></a>' in first
    assert "under 1 h" in first and "money" not in page
    assert f'href="/console/escalations/{older}"' in second
    assert "Relapse risk, medium" in second and "2 days" in second
    assert "Tue 24 Nov 2026, 12:00 (UTC-06:00)" in second

    # A case manager may not: the console's 403 page, and no link in the navigation.
    sign_in(browser, "case_manager", world.slug)
    r = browser.get("/console/escalations")
    assert r.status_code == 403
    assert "Only coordinators, grantee administrators and auditors may see the escalations" in (
        html.unescape(r.text)
    )
    assert 'href="/console/escalations"' not in browser.get("/console/alerts").text


def test_the_filters_and_the_pages(browser, world):
    zed = world.mentor("mentor-zed")
    ava = world.enrol(name="Ava")
    world.pair(zed, [ava], "2026-10-01T15:00:00Z")
    safety = escalation(world, zed, ava, "safety", "2026-11-20T18:00:00Z")
    done = escalation(world, zed, ava, "conflict", "2026-11-21T18:00:00Z")
    seen = escalation(world, zed, None, "crisis", "2026-11-22T18:00:00Z")
    world.post(f"/escalations/{done}/acknowledgement", {})
    world.post(f"/escalations/{done}/resolution", {"resolution": "Talked it through."})
    world.post(f"/escalations/{seen}/acknowledgement", {})
    projector.drain(world.db, world.schema)
    sign_in(browser, "coordinator", world.slug)

    def listed(query: str) -> list[str]:
        page = browser.get(f"/console/escalations{query}").text
        return re.findall(r'<a href="/console/escalations/([0-9a-f-]{36})">', page)

    # Open by default: the unresolved, newest first; the crisis is overdue and acknowledged.
    assert listed("") == [seen, safety]
    page = browser.get("/console/escalations").text
    (crisis,) = [r for r in rows_of(page) if seen in r]
    assert "acknowledged" in crisis and "overdue" in crisis and "4 days" in crisis
    assert listed("?status=acknowledged") == [seen]
    assert listed("?status=resolved") == [done]
    resolved = browser.get("/console/escalations?status=resolved").text
    assert "(resolved)" in resolved and "Talked it through" not in resolved
    assert listed("?status=all") == [seen, done, safety]
    assert listed("?status=all&type=safety") == [safety]
    assert listed("?status=all&severity=high") == []
    assert "No escalation." in browser.get("/console/escalations?severity=high").text
    # A choice the page does not offer is the default, not an error.
    assert listed("?status=nonsense&type=x") == [seen, safety]

    # 50 a page, then "More escalations" (the API's cursor, the filters kept) and "First page".
    for n in range(50):
        escalation(world, zed, None, "conflict", f"2026-11-0{1 + n % 9}T12:{n:02d}:00Z")
    projector.drain(world.db, world.schema)
    page = browser.get("/console/escalations?type=conflict&status=all").text
    assert len(rows_of(page)) == 50 and "First page" not in page
    more = re.search(r'<a href="([^"]+)">More escalations</a>', page)
    assert more, page[-2000:]
    following = html.unescape(more.group(1))
    assert "type=conflict" in following and "status=all" in following
    rest = browser.get(following).text
    assert len(rows_of(rest)) == 1 and "More escalations" not in rest
    assert '<a href="/console/escalations?status=all&amp;type=conflict">First page</a>' in rest
    # Newest raised first across the pages, each escalation once (decision 139): the resolved
    # conflict of 21 Nov opens the first page, the oldest of 1 Nov ends the second.
    shown = listed("?type=conflict&status=all") + listed(
        following.removeprefix("/console/escalations")
    )
    raised = {
        x["id"]: datetime.fromisoformat(x["raised_at"])
        for x in world.view("/escalations", type="conflict", limit=100)["items"]
    }
    assert len(shown) == 51 and set(shown) == set(raised)
    assert shown == sorted(raised, key=lambda i: (raised[i], i), reverse=True)
    assert shown[0] == done

    # An address kept from before the order changed (an id as the cursor), or a cut one: the
    # first page, saying so, not a refusal.
    for stale in (f"?status=all&type=conflict&after={done}", "?status=all&after=~abc"):
        page = browser.get(f"/console/escalations{stale}")
        assert page.status_code == 200, page.text[-1500:]
        assert "no longer offered: here is the first page" in page.text
        assert len(rows_of(page.text)) == 50
