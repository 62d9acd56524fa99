"""RRC staff's list of their residents (services/api/console/residents.py, plain HTTP against
PostgreSQL): the API lists them by id, which nobody reads by; the console shows them by number,
or by arrival either way, as chosen, the sorted column marked."""

from __future__ import annotations

import re

from services.projector import live as projector
from tests.console_helpers import select_of, sign_in


def test_the_residents_are_listed_by_number_or_by_arrival(
    browser, client, auth, grantee, enrol, db
):
    # Arrivals in another order than the numbers', and than the ids' (random).
    arrivals = ["2026-11-04T15:00:00Z", "2026-11-02T15:00:00Z", "2026-11-05T15:00:00Z"]
    arrivals += ["2026-11-01T15:00:00Z", "2026-11-03T15:00:00Z"]
    arrived: dict[str, str] = {}
    for i, at in enumerate(arrivals):
        person = enrol(last_name=f"Resident{i}")
        r = client.post(
            f"/v1/grantees/{grantee}/participants/{person['id']}/stage-transitions",
            json={"to_stage": 2, "placement": "rrc", "facility": "RRC-1", "occurred_at": at},
            headers=auth("coordinator", grantee),
        )
        assert r.status_code == 201, r.text
        arrived[person["number"]] = at
    projector.drain(db, f"g_{grantee}")
    sign_in(browser, "rrc_staff", grantee, rrc="RRC-1")

    def numbers(page: str) -> list[str]:
        return re.findall(r'<td data-label="Number"><a href="[^"]+">([^<]+)</a>', page)

    by_number = sorted(arrived)
    by_arrival = sorted(arrived, key=arrived.__getitem__)
    assert by_arrival != by_number
    page = browser.get("/console/rrc").text
    assert numbers(page) == by_number
    assert select_of(page, "sort") == (
        ["number", "-number", "arrived_at", "-arrived_at"],
        ["number"],
    )
    assert "5 residents, sorted by Number, lowest first" in page
    assert '<th scope="col" aria-sort="ascending">Number' in page
    assert numbers(browser.get("/console/rrc?sort=-number").text) == by_number[::-1]
    latest = browser.get("/console/rrc", params={"sort": "-arrived_at"}).text
    assert numbers(latest) == by_arrival[::-1]
    assert '<th scope="col" aria-sort="descending">Arrived' in latest
    assert "sorted by Arrived, latest first" in latest
    assert numbers(browser.get("/console/rrc?sort=arrived_at").text) == by_arrival
    # An order not offered: by number, as when none is asked.
    assert numbers(browser.get("/console/rrc?sort=name").text) == by_number
