"""The auditor's page lists the last day's access-log rows newest first, a page at a time, with
an "Older rows" link to the next page (docs/console.md "Long lists"): after a busy day it shows
the newest rows, not the day's first 100."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from services.audit import access_log
from tests.console_helpers import sign_in

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def readers(page: str) -> list[int]:
    return [int(n) for n in re.findall(r"reader-(\d+)", page)]


def test_the_access_log_shows_the_newest_rows_first_and_pages_to_older_ones(
    browser, db, grantee, frozen_at
):
    clock = frozen_at(NOW - timedelta(hours=30))

    def row(subject: str) -> None:
        access_log.record(
            db,
            f"g_{grantee}",
            access_log.Access(
                subject=subject,
                roles=["coordinator"],
                action="participants.read",
                method="GET",
                path="/",
                resources={},
                request_id="r",
                status=200,
            ),
        )

    for n in range(3):
        row(f"yesterday-{n}")
    # 150 reads in the last day, more than one page of 100.
    clock.set(NOW - timedelta(hours=20))
    for n in range(150):
        row(f"reader-{n:03d}")
    clock.set(NOW)
    sign_in(browser, "auditor", grantee)

    page = browser.get("/console/audit")
    assert page.status_code == 200
    first = readers(page.text)
    assert first[0] == 149 and first == sorted(first, reverse=True)
    assert "Newest rows" not in page.text
    seen = list(first)
    pages = 1
    while older := re.search(r'href="(/console/audit\?before=\d+)#h-access"', page.text):
        page = browser.get(older.group(1))
        assert page.status_code == 200 and "Newest rows" in page.text
        seen += readers(page.text)
        pages += 1
    assert pages == 2
    assert seen == list(range(149, -1, -1))
    assert "yesterday-" not in page.text
