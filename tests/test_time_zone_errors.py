"""An unknown time zone answers 422 `invalid_time_zone` saying what a time zone is, the zones
it was probably meant to be, and where the allowed ones are listed (a pointer into the OpenAPI
document that resolves to the enumeration); nothing is created (docs/api.md, "Time zones")."""

from __future__ import annotations

from typing import Any

import pytest

from domain.common import RuleViolation
from domain.grantees import check_time_zone, close_time_zones
from tests.conftest import unique_slug


@pytest.mark.parametrize(
    ("given", "meant"),
    [
        ("america/chicago", "America/Chicago"),
        ("Chicago", "America/Chicago"),
        ("New York", "America/New_York"),
        ("America/Chicgo", "America/Chicago"),
        ("Mars/Olympus", None),
    ],
)
def test_an_unknown_time_zone_is_refused_with_what_was_meant(given: str, meant: str | None) -> None:
    with pytest.raises(RuleViolation) as refused:
        check_time_zone(given)
    assert refused.value.code == "invalid_time_zone"
    assert "IANA name such as America/New_York" in refused.value.detail
    if meant is None:
        assert close_time_zones(given) == [] and "did you mean" not in refused.value.detail
    else:
        assert meant in close_time_zones(given)
        assert f"did you mean {meant}" in refused.value.detail


def test_the_api_answers_422_with_where_the_allowed_zones_are(client: Any, auth: Any) -> None:
    slug = unique_slug("tz")
    admin = auth("platform_admin", "*")
    r = client.post(
        "/v1/grantees",
        json={
            "slug": slug,
            "name": "Zone probe",
            "grant_number": "FS-40003-26-60-A-17",
            "time_zone": "america/chicago",
        },
        headers=admin,
    )
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    problem = r.json()
    assert (problem["type"], problem["code"]) == (
        "urn:prowd:problem:invalid_time_zone",
        "invalid_time_zone",
    )
    assert "did you mean America/Chicago?" in problem["detail"]
    [error] = problem["errors"]
    assert (error["key"], error["source"]) == ("time_zone", "body")
    assert error["allowed"] in problem["detail"]
    # The pointer resolves, in the document the service serves, to the zones it accepts.
    path, pointer = error["allowed"].split("#")
    node: Any = client.get(path).json()
    for part in pointer.strip("/").split("/"):
        node = node[part]
    assert "America/Chicago" in node and "america/chicago" not in node
    assert client.get(f"/v1/grantees/{slug}", headers=admin).status_code == 404
