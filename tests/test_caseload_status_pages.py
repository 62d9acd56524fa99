"""The caseload's `status` filter counts derived exits (more than 90 days without service, none
planned: decision 85) in SQL, before the page is cut, over HTTP with PostgreSQL on a frozen
clock.

Cohort C1 graduated on 2026-06-01 (its graduates' last service, their class hours). On
2026-09-15 the four graduates with nothing since have exited, derived; the three with a
case-management contact on 08-20 have not; the two newcomers of cohort C2 are in class; one
graduate's exit is recorded. Walked page by page (two rows a page), `active` and `exited`
each list exactly their participants, every page but the last is full, and `total` says how
many there are over all pages.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from services.projector import live as projector
from tests.conftest import FreezeAt
from tests.mentoring_helpers import Api, graduates_and_newcomers


class Scene:
    def __init__(self, api: Api, frozen_at: FreezeAt) -> None:
        self.api = api
        clock = frozen_at(datetime(2026, 8, 25, 15, 0, tzinfo=UTC), tick=True)
        grads, self.newcomers = graduates_and_newcomers(api, 8, 2)
        self.gone, self.served, self.recorded = grads[:4], grads[4:7], grads[7]
        for who in self.served:
            api.post(
                f"/participants/{who}/case-contacts",
                {"contacted_on": "2026-08-20", "mode": "phone"},
            )
        api.post(
            f"/participants/{self.recorded}/exit", {"exit_date": "2026-08-21", "reason": "other"}
        )
        clock.set(datetime(2026, 9, 15, 15, 0, tzinfo=UTC))
        projector.drain(api.db, f"g_{api.slug}")

    def pages(self, **params: Any) -> list[dict[str, Any]]:
        """Every page of the caseload with `params`, two rows a page, following the cursors."""
        out, cursor = [], ""
        while True:
            found = self.api.get("/participants", limit=2, cursor=cursor, total=True, **params)
            out.append(found)
            cursor = found["next_cursor"] or ""
            if not cursor:
                return out


@pytest.fixture
def scene(client: Any, auth: Any, grantee: str, db: Any, frozen_at: FreezeAt) -> Scene:
    return Scene(Api(client, auth, grantee, db), frozen_at)


def ids(pages: list[dict[str, Any]]) -> list[str]:
    return [row["id"] for page in pages for row in page["items"]]


@pytest.mark.parametrize("sort", [None, "last_name", "-number"])
def test_a_page_of_active_participants_holds_no_derived_exit(scene: Scene, sort: str | None):
    params = {} if sort is None else {"sort": sort}
    active = scene.pages(status="active", **params)
    assert sorted(ids(active)) == sorted([*scene.served, *scene.newcomers])
    assert all(row["status"] == "active" for page in active for row in page["items"])
    # Pages are cut after the filter: all full but the last, none empty.
    assert [len(page["items"]) for page in active] == [2, 2, 1]
    assert {page["total"] for page in active} == {5}

    exited = scene.pages(status="exited", **params)
    assert sorted(ids(exited)) == sorted([*scene.gone, scene.recorded])
    assert [len(page["items"]) for page in exited] == [2, 2, 1]
    assert {page["total"] for page in exited} == {5}
    derived = {row["id"]: row["exit_derived"] for page in exited for row in page["items"]}
    assert derived == {**{g: True for g in scene.gone}, scene.recorded: False}


def test_the_same_participants_were_active_before_the_90_days_passed(
    scene: Scene, frozen_at: FreezeAt
):
    """Computed when read: on 2026-08-30 (the 90th day since the graduation) no derived exit
    holds yet, so every graduate but the recorded exit is active."""
    frozen_at(datetime(2026, 8, 30, 15, 0, tzinfo=UTC))
    active = scene.pages(status="active")
    assert sorted(ids(active)) == sorted([*scene.gone, *scene.served, *scene.newcomers])
    assert [len(page["items"]) for page in active] == [2, 2, 2, 2, 1]
    assert ids(scene.pages(status="exited")) == [scene.recorded]


def test_the_total_without_a_status_counts_everyone_and_is_left_out_unless_asked(scene: Scene):
    everyone = scene.pages()
    assert len(ids(everyone)) == 10 and {page["total"] for page in everyone} == {10}
    assert scene.api.get("/participants", status="exited").get("total") is None
    stage1_exited = scene.pages(status="exited", stage=1)
    assert sorted(ids(stage1_exited)) == sorted([*scene.gone, scene.recorded])


@pytest.mark.parametrize("sort", ["status", "-status"])
def test_a_sort_by_status_puts_derived_exits_with_the_exited(scene: Scene, sort: str):
    rows = [row for page in scene.pages(sort=sort) for row in page["items"]]
    statuses = [row["status"] for row in rows]
    assert statuses == sorted(statuses, reverse=sort.startswith("-")), statuses
    exited = [row["id"] for row in rows if row["status"] == "exited"]
    assert sorted(exited) == sorted([*scene.gone, scene.recorded])


@pytest.mark.parametrize("sort", ["exit_date", "-exit_date"])
def test_a_sort_by_exit_date_puts_a_derived_exit_at_its_date(scene: Scene, sort: str):
    """The derived exits are dated 2026-06-01 (their last service), the recorded one 08-21;
    the participants without an exit come last either way."""
    rows = [row for page in scene.pages(sort=sort) for row in page["items"]]
    dated = [row["exit_date"] for row in rows if row["exit_date"] is not None]
    assert len(dated) == 5 and all(row["exit_date"] is None for row in rows[5:])
    assert dated == sorted(dated, reverse=sort.startswith("-"))
    assert sorted(set(dated)) == ["2026-06-01", "2026-08-21"]
