"""The console's caseload sorts (plain HTTP): every column the API's caseload sorts by, either
way, and days in stage (services/api/console/sorts.py)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from projections.caseload_reads import CASELOAD_SORT
from services.projector import live as projector
from tests.console_helpers import sign_in


@pytest.fixture
def browser(client: TestClient[Litestar]) -> Iterator[TestClient[Litestar]]:
    """The session's test client with no cookie: a browser of its own for the test."""
    client.cookies.clear()
    yield client
    client.cookies.clear()


def test_the_caseload_sorts_by_every_column_the_api_sorts_by(browser, grantee, enrol, db):
    enrol(first_name="Ana", last_name="Zorrilla", program_entry_date="2026-02-01")
    enrol(first_name="Zoe", last_name="Abbott", program_entry_date="2026-03-01")
    projector.drain(db, f"g_{grantee}")
    sign_in(browser, "coordinator", grantee)
    offered = re.findall(r'<option value="([^"]*)"', browser.get("/console/caseload").text)
    keys = [*CASELOAD_SORT, *(f"-{k}" for k in CASELOAD_SORT)]
    assert set(keys) <= set(offered), sorted(set(keys) - set(offered))
    for key in [*keys, "days_in_stage", "-days_in_stage"]:
        page = browser.get("/console/caseload", params={"sort": key})
        assert page.status_code == 200, (key, page.text[:500])
        assert "Zorrilla, Ana" in page.text and "Abbott, Zoe" in page.text, key
        assert f'<option value="{key}" selected' in page.text, key
    # Days in stage: Ana entered first, so she has been longest in stage 1.
    longest = browser.get("/console/caseload", params={"sort": "-days_in_stage"}).text
    assert longest.index("Zorrilla, Ana") < longest.index("Abbott, Zoe")
    shortest = browser.get("/console/caseload", params={"sort": "days_in_stage"}).text
    assert shortest.index("Abbott, Zoe") < shortest.index("Zorrilla, Ana")
