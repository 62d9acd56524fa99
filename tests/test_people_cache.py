"""The services every participant has had (`projections.service.load_people`), read for the
derived exits of the caseload page and of a participant's page, are kept per view position:
read once while the oversight view stands still, read again as soon as it moves on."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from projections.service import load_people
from services.projector import live as projector
from services.projector import serving
from tests.conftest import FreezeAt
from tests.mentoring_helpers import Api


@pytest.fixture
def api(client: Any, auth: Any, grantee: str, db: Any, frozen_at: FreezeAt) -> Api:
    frozen_at(datetime(2026, 9, 1, 15, 0, tzinfo=UTC), tick=True)
    return Api(client, auth, grantee, db)


def _people(api: Api) -> tuple[int, dict[Any, Any]]:
    schema = f"g_{api.slug}"
    with serving.one_lookup():
        t = serving.live_tables(api.db, schema, "oversight", None, 0)
        position = serving.view_position(api.db, schema, "oversight")
        return position, load_people(api.db, t, ZoneInfo("UTC"), position=position)


def test_the_people_of_a_position_are_read_once_and_a_new_position_reads_them_again(
    api: Api,
) -> None:
    first = api.enrol(first_name="Ada", last_name="Keeps")
    projector.drain(api.db, f"g_{api.slug}")
    at, people = _people(api)
    assert set(map(str, people)) >= {first}
    again_at, again = _people(api)
    assert again_at == at and again is people  # kept: no second read at the same position

    second = api.enrol(first_name="Bo", last_name="Arrives")
    projector.drain(api.db, f"g_{api.slug}")
    later_at, later = _people(api)
    assert later_at > at and later is not people
    assert {first, second} <= set(map(str, later))
    # The caseload answers from the same reading, with the newcomer in it.
    ids = {r["id"] for r in api.get("/participants", limit=100)["items"]}
    assert {first, second} <= ids
