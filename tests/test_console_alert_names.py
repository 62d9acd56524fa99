"""The console's alerts page names whom each alert concerns with a few reads for the whole list
(decision 113): the caseload read by `pairing_id` and by `id`, never a participant or a
pairing read per alert. Counted as the API requests the page makes (the request log) and as
the database transactions its pool ran (libpq's trace): a page of many alerts costs what a page
of a few does, and every name is still shown."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from structlog.testing import capture_logs

from domain.clock import FixedClock
from services.projector import live as projector
from tests.console_helpers import sign_in
from tests.meetings_helpers import World
from tests.pgtrace import CONNECTIONS, traced, traced_app

# A Tuesday, 09:00 in Chicago (the world's zone); goals are set 20 days before, due 10 days
# before: each is an overdue goal, an alert about its participant.
NOW = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)
SET_AT = NOW - timedelta(days=20)
DUE = (NOW - timedelta(days=10)).date().isoformat()
OPENED = "2025-10-01T15:00:00Z"


@pytest.fixture
def clock(frozen_at) -> FixedClock:
    return frozen_at(SET_AT)


@pytest.fixture
def world(client, auth, db, clock) -> World:
    return World(client, auth, db)


@pytest.fixture
def console(settings: Any, database_url: str) -> Iterator[tuple[Any, Any]]:
    """The app on a pool of its own, every connection traced; signed out at the end."""
    with traced_app(settings, database_url, "prowd-alert-names") as (pool, browser):
        yield pool, browser


def enrol(world: World, n: int, prefix: str, *, goal: bool = True) -> list[str]:
    """`n` participants, each with a goal due on `DUE`."""
    people = [world.enrol(name=f"{prefix}{chr(65 + i)}x") for i in range(n)]
    for pid in people if goal else ():
        world.post(
            "/goals",
            {
                "participant_id": pid,
                "horizon": "short_term",
                "domain": "id_documents",
                "statement": "Get a state ID card",
                "measure": "ID card issued",
                "target": "card in hand",
                "target_date": DUE,
            },
        )
    return people


def alerts_page(console: tuple[Any, Any], slug: str) -> tuple[str, list[str], int]:
    """The page's HTML, the API routes it requested and the transactions its pool ran."""
    pool, browser = console
    sign_in(browser, "coordinator", slug)
    with capture_logs() as logs, traced(pool, CONNECTIONS) as transactions:
        page = browser.get("/console/alerts")
    assert page.status_code == 200, page.text
    routes = [
        f"{e['method']} {e['route']}"
        for e in logs
        if e["event"] == "request" and e["route"].startswith("/v1/")
    ]
    return page.text, routes, len(transactions)


def test_the_alerts_page_names_everyone_with_the_same_reads_for_many_alerts(world, clock, console):
    paired = enrol(world, 2, "Paired", goal=False)
    for i, pid in enumerate(paired):
        world.pair(world.mentor(f"pm-{i}"), [pid], OPENED)
    few = enrol(world, 3, "Few")
    clock.set(NOW)
    projector.drain(world.db, world.schema)
    alerts_page(console, world.slug)  # what a first read caches (a session's keys) aside
    html, routes, transactions = alerts_page(console, world.slug)
    assert html.count(">overdue goal<") == 3 and html.count(">missed cadence<") == 2
    for first in ("PairedAx", "PairedBx", "FewAx", "FewBx", "FewCx"):
        assert f"{first} Lee (" in html, first

    clock.set(SET_AT)
    many = enrol(world, 25, "Many")
    clock.set(NOW)
    projector.drain(world.db, world.schema)
    alerts_page(console, world.slug)  # the new participants' keys, read once
    html_many, routes_many, transactions_many = alerts_page(console, world.slug)
    assert html_many.count(">overdue goal<") == 28
    for pid in paired + few + many:
        assert f'href="/console/participants/{pid}">' in html_many
        assert f'href="/console/participants/{pid}">Open the participant' not in html_many
    assert "ManyYx Lee (" in html_many

    # The same requests and transactions for 30 alerts as for 5: no read an alert.
    assert routes_many == routes, routes_many
    assert transactions_many == transactions
    assert routes == [
        "GET /v1/grantees/{grantee}/alerts",
        "GET /v1/grantees/{grantee}/mentors",
        "GET /v1/grantees/{grantee}/participants",
        "GET /v1/grantees/{grantee}/participants",
    ]


def test_the_caseload_keeps_the_participants_and_pairing_members_asked_for(world):
    a, b, c = enrol(world, 3, "Kept", goal=False)
    pairing = world.pair(world.mentor("pm-kept"), [b], OPENED)
    projector.drain(world.db, world.schema)
    by_id = world.get("/participants", id=[a, c])
    assert sorted(p["id"] for p in by_id["items"]) == sorted([a, c])
    members = world.get("/participants", pairing_id=[pairing])
    assert [p["id"] for p in members["items"]] == [b]
    assert world.get("/participants", id=[a], pairing_id=[pairing])["items"] == []
    too_many = [a] * 101
    status, text = world.get_text("/participants", id=too_many)
    assert status == 400, text
