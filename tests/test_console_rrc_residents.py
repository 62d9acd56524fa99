"""RRC staff's list of their residents (services/api/console/residents.py, plain HTTP against
PostgreSQL): the API lists them by id, which nobody reads by; the console shows them by number,
or by arrival either way, as chosen, the sorted column marked. A resident's page says their
placement in words and lists the meetings the API shares with the RRC, newest first."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from services.projector import live as projector
from tests.console_helpers import select_of, shown, sign_in
from tests.meetings_helpers import NOTE, World


def test_the_residents_are_listed_by_number_or_by_arrival(
    browser, client, auth, grantee, enrol, db
):
    # Arrivals in another order than the numbers' (given: random ones could fall in arrival
    # order, one run in 120), and than the ids' (random).
    arrivals = ["2026-11-04T15:00:00Z", "2026-11-02T15:00:00Z", "2026-11-05T15:00:00Z"]
    arrivals += ["2026-11-01T15:00:00Z", "2026-11-03T15:00:00Z"]
    given = ["NRC3", "NRC1", "NRC5", "NRC2", "NRC4"]
    arrived: dict[str, str] = {}
    for i, at in enumerate(arrivals):
        person = enrol(last_name=f"Resident{i}", number=given[i])
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


def test_a_resident_s_page_says_the_placement_in_words_and_lists_their_meetings_newest_first(
    browser, client, auth, db, frozen_at
):
    frozen_at(datetime(2026, 3, 10, 15, 0, tzinfo=UTC), tick=True)
    w = World(client, auth, db)
    ava = w.enrol(name="Ava")
    pairing = w.pair(w.mentor("mentor-one"), [ava], "2025-10-01T15:00:00Z")
    w.meet(pairing, "2025-10-10T15:00:00Z", summary="Met in the institution.")
    w.post(
        f"/participants/{ava}/stage-transitions",
        {
            "to_stage": 2,
            "placement": "rrc",
            "facility": "RRC-1",
            "occurred_at": "2025-11-01T12:00:00Z",
        },
    )
    # Recorded out of order; the confidential note is never the RRC's.
    w.meet(pairing, "2025-11-12T15:00:00Z", summary="Second week.", confidential_note=NOTE)
    w.meet(pairing, "2025-11-19T15:00:00Z", 45, summary="Third week.")
    w.meet(pairing, "2025-11-05T15:00:00Z", summary="First week.")
    projector.drain(db, w.schema)
    sign_in(browser, "rrc_staff", w.slug, rrc="RRC-1")
    page = shown(browser.get(f"/console/rrc/residents/{ava}").text)
    # The placement as the residents' list says it, never its code.
    assert "Stage 2</span> in an RRC" in page and "Stage 2</span> rrc" not in page
    meetings = page.split('id="h-meetings"')[1].split("</section>")[0]
    rows = re.findall(
        r'<td data-label="When">([^<]+)</td>.*?<td data-label="Summary">([^<]+)<', meetings
    )
    # Newest first, in the grantee's zone (Chicago); the meeting before the stay is not here.
    assert rows == [
        ("Wed 19 Nov 2025, 09:00 (UTC-06:00)", "Third week."),
        ("Wed 12 Nov 2025, 09:00 (UTC-06:00)", "Second week."),
        ("Wed 05 Nov 2025, 09:00 (UTC-06:00)", "First week."),
    ]
    assert '<td data-label="Minutes">45</td>' in meetings
    assert NOTE not in page and "Met in the institution." not in page
