"""Rate limits that hold across API processes and per grantee (issue 19, decision 46): two
apps with their own middleware state (as two processes have) count in the same PostgreSQL
table, so the second one refuses what the first already allowed; one grantee over its rate
does not stop another's requests."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest
from litestar.testing import TestClient


@pytest.fixture
def two_apps(settings, db) -> Iterator[list[TestClient]]:
    from services.api.app import create_app

    limited = dataclasses.replace(settings, rate_limit_grantee=1.0, rate_limit_store="database")
    with TestClient(create_app(limited, db)) as a, TestClient(create_app(limited, db)) as b:
        yield [a, b]


def test_a_grantee_limit_holds_across_processes_and_spares_other_grantees(
    two_apps, make_grantee, auth
):
    first, second = make_grantee(), make_grantee()
    a, b = two_apps
    h = auth("coordinator", "*")
    # Rate 1/s, bursts of 2: two requests pass, in whichever process they land.
    assert a.get(f"/v1/grantees/{first}/facilities", headers=h).status_code == 200
    assert b.get(f"/v1/grantees/{first}/facilities", headers=h).status_code == 200
    r = a.get(f"/v1/grantees/{first}/facilities", headers=h)
    assert r.status_code == 429, r.text
    assert r.json()["code"] == "rate_limited" and "grantee" in r.json()["detail"]
    assert int(r.headers["retry-after"]) >= 1
    # The other grantee is not starved.
    assert b.get(f"/v1/grantees/{second}/facilities", headers=h).status_code == 200


def test_per_process_limits_would_allow_each_process_its_own_burst(
    settings, db, make_grantee, auth
):
    """The contrast: `PROWD_RATE_LIMIT_STORE=process` gives every process its own buckets."""
    from services.api.app import create_app

    local = dataclasses.replace(settings, rate_limit_grantee=1.0, rate_limit_store="process")
    slug = make_grantee()
    h = auth("coordinator", slug)
    with TestClient(create_app(local, db)) as a, TestClient(create_app(local, db)) as b:
        codes = [
            c.get(f"/v1/grantees/{slug}/facilities", headers=h).status_code for c in (a, a, b, b)
        ]
    assert codes == [200, 200, 200, 200]
