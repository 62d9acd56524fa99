"""The escalations list, newest raised first (decision 139), over HTTP on the real app and
PostgreSQL with a frozen clock: pages of `GET …/escalations` give every row once, in the order
(raised_at, id) descending, ties at one instant included, with the filters kept; a cursor the
list did not hand out (an id, as the list's cursors were before) is 400 `invalid_cursor`."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from tests.meetings_helpers import World

NOW = datetime(2026, 11, 26, 18, 0, tzinfo=UTC)
# Raised out of time order, two at the same instant (the id breaks the tie).
RAISED = (
    "2026-11-20T18:00:00Z",
    "2026-11-25T09:30:00Z",
    "2026-11-22T18:00:00Z",
    "2026-11-22T18:00:00Z",
    "2026-11-01T00:00:00Z",
    "2026-11-26T17:59:00Z",
    "2026-11-24T12:00:00Z",
)


@pytest.fixture
def world(client, auth, db, frozen_at) -> World:
    frozen_at(NOW)
    return World(client, auth, db)


def raise_all(world: World, kind: str = "conflict") -> dict[str, datetime]:
    mentor = world.mentor("mentor-zed")
    raised: dict[str, datetime] = {}
    for at in RAISED:
        body = {"mentor_id": mentor, "type": kind, "severity": "low", "description": "Words."}
        raised[str(world.post("/escalations", {**body, "raised_at": at})["id"])] = (
            datetime.fromisoformat(at)
        )
    return raised


def newest_first(raised: dict[str, datetime]) -> list[str]:
    return sorted(raised, key=lambda i: (raised[i], i), reverse=True)


def pages_of(world: World, limit: int, **params: Any) -> list[list[str]]:
    """Every page of the list, following `next_cursor`, each page's ids."""
    out: list[list[str]] = []
    cursor: str | None = None
    while True:
        query = {**params, "limit": limit} | ({"cursor": cursor} if cursor else {})
        page = world.view("/escalations", **query)
        out.append([x["id"] for x in page["items"]])
        cursor = page["next_cursor"]
        if cursor is None:
            return out


def test_pages_give_every_escalation_once_newest_raised_first(world):
    raised = raise_all(world)
    first, second, third = pages_of(world, 3)
    assert (len(first), len(second), len(third)) == (3, 3, 1)
    assert first + second + third == newest_first(raised)
    # The two raised at one instant: the greater id first.
    tie = datetime(2026, 11, 22, 18, tzinfo=UTC)
    tied = [i for i in first + second + third if raised[i] == tie]
    assert len(tied) == 2 and tied == sorted(tied, reverse=True)
    # One page of all of them: the same order.
    assert pages_of(world, 7) == [newest_first(raised)]


def test_an_escalation_raised_between_two_pages_keeps_the_rest_in_place(world):
    raised = raise_all(world)
    first = world.view("/escalations", limit=3)
    # Raised after the first page was read: one older than its last row, one newer than all.
    mentor = world.view("/escalations", limit=1)["items"][0]["mentor_id"]
    body = {"mentor_id": mentor, "type": "safety", "severity": "low", "description": "Words."}
    older = world.post("/escalations", {**body, "raised_at": "2026-11-21T00:00:00Z"})["id"]
    world.post("/escalations", {**body, "raised_at": "2026-11-26T17:59:30Z"})
    rest = world.view("/escalations", limit=10, cursor=first["next_cursor"])
    raised[older] = datetime(2026, 11, 21, tzinfo=UTC)
    shown = [x["id"] for x in first["items"]] + [x["id"] for x in rest["items"]]
    assert shown == newest_first(raised)
    assert rest["next_cursor"] is None


def test_the_filters_page_in_the_same_order(world):
    raised = raise_all(world)
    mentor = world.view("/escalations", limit=1)["items"][0]["mentor_id"]
    body = {"mentor_id": mentor, "type": "safety", "severity": "low", "description": "Words."}
    world.post("/escalations", {**body, "raised_at": "2026-11-23T00:00:00Z"})
    conflicts = pages_of(world, 2, type="conflict", severity="low")
    assert [len(p) for p in conflicts] == [2, 2, 2, 1]
    assert [i for p in conflicts for i in p] == newest_first(raised)


@pytest.mark.parametrize(
    "cursor",
    [
        "00000000-0000-0000-0000-000000000000",  # an id: the cursor before decision 139
        "garbage",
        "WyJub3QgYSB0aW1lIiwgIngiXQ",  # ["not a time", "x"]
        "~WyIyMDI2IiwgIngiXQ",  # a sorted list's cursor
    ],
)
def test_a_cursor_the_list_did_not_hand_out_is_refused(world, cursor):
    r = world.client.get(
        world.base + "/escalations", params={"cursor": cursor}, headers=world.headers()
    )
    assert r.status_code == 400, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["code"] == "invalid_cursor"
