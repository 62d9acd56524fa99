"""The console's caseload in pages of 100 (plain HTTP against PostgreSQL): an honest count
("Showing 101-200 of 205", with an en dash), "More participants" (the next page's cursor sent in the body, so
an address never holds a sorted cursor's name) and "First page", the filters and the sort kept
from page to page, every participant once."""

from __future__ import annotations

import re
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from services.projector import live as projector
from tests.console_helpers import csrf_of, shown, sign_in
from tests.people import birth_date

PEOPLE = 205
ROW = re.compile(r'<a href="/console/participants/([0-9a-f-]{36})">([^<]*)</a>')
HIDDEN = re.compile(r'<input type="hidden" name="([a-z_]+)" value="([^"]*)">')


@pytest.fixture
def caseload(client: TestClient[Litestar], auth: Any, grantee: str, db: Any) -> list[str]:
    """205 participants enrolled in three batches (last names Pnnn, numbered in enrolment
    order: the last name sorts the other way round from the number); the first five exited."""
    items = [
        {
            "kind": "participant.enrol",
            "idempotency_key": f"enrol-{i}",
            "body": {
                "first_name": "Sam",
                "last_name": f"P{PEOPLE - i:03d}",
                "date_of_birth": birth_date(),
                "program_entry_date": "2026-02-01",
                "facility": "FCI-A",
                "cohort": "C1",
            },
        }
        for i in range(PEOPLE)
    ]
    ids: list[str] = []
    for chunk in (items[:100], items[100:200], items[200:]):
        r = client.post(
            f"/v1/grantees/{grantee}/commands",
            json={"items": chunk},
            headers=auth("coordinator", grantee),
        )
        assert r.status_code == 200, r.text
        results = r.json()["items"]
        assert all(x["status"] == 201 for x in results), results
        ids += [x["id"] for x in results]
    for pid in ids[:5]:
        r = client.post(
            f"/v1/grantees/{grantee}/participants/{pid}/exit",
            json={"exit_date": "2026-11-01", "reason": "other"},
            headers=auth("coordinator", grantee),
        )
        assert r.status_code == 201, r.text
    projector.drain(db, f"g_{grantee}")
    return ids


def rows(page: str) -> list[tuple[str, str]]:
    return ROW.findall(shown(page))


def count(page: str) -> str:
    found = re.search(r'<p class="count" role="status">([^<]*)</p>', page)
    assert found, page[:2000]
    # The page writes its ranges with an en dash; the test compares them with a hyphen.
    return found.group(1).replace("\u2013", "-")


def more(browser: TestClient[Litestar], page: str) -> str:
    """Press "More participants": its form's hidden fields, posted."""
    form = page[page.index('<nav class="pager"') :]
    assert "More participants" in form
    data = dict(HIDDEN.findall(form))
    data["_csrf_token"] = csrf_of(browser)
    r = browser.post("/console/caseload", data=data)
    assert r.status_code == 200, r.text[:1000]
    return r.text


def test_the_caseload_pages_by_100_with_an_honest_count(browser, caseload, grantee):
    sign_in(browser, "coordinator", grantee)
    first = browser.get("/console/caseload").text
    assert count(first) == f"Showing 1-100 of {PEOPLE} participants, sorted by Number, lowest first"
    assert len(rows(first)) == 100
    assert "First page" not in first
    second = more(browser, first)
    assert count(second).startswith(f"Showing 101-200 of {PEOPLE} participants")
    assert '<a href="/console/caseload?whose=all">First page</a>' in second
    third = more(browser, second)
    assert count(third).startswith(f"Showing 201-{PEOPLE} of {PEOPLE} participants")
    assert len(rows(third)) == PEOPLE - 200
    assert "More participants" not in third
    seen = [pid for page in (first, second, third) for pid, _ in rows(page)]
    assert sorted(seen) == sorted(caseload) and len(set(seen)) == PEOPLE


def test_the_filter_and_the_sort_stay_from_page_to_page(browser, caseload, grantee):
    sign_in(browser, "coordinator", grantee)
    address = "/console/caseload?status=active&sort=-last_name&whose=all"
    first = browser.get(address).text
    assert count(first) == (
        f"Showing 1-100 of {PEOPLE - 5} participants, sorted by Last name, Z to A"
    )
    second = more(browser, first)
    # 200 active: the second page is full and the last, with no "More participants".
    assert count(second).startswith(f"Showing 101-{PEOPLE - 5} of {PEOPLE - 5}")
    assert "More participants" not in second
    names = [name for page in (first, second) for _, name in rows(page)]
    # Z to A over both pages, without the five exited (the lowest numbers: P205 to P201).
    assert names == sorted(names, reverse=True) and len(names) == PEOPLE - 5
    assert names[0] == "P200, Sam" and names[-1] == "P001, Sam"
    for page in (second,):
        assert '<option value="-last_name" selected' in page
        assert '<option value="active" selected' in page
        # "First page" keeps the filters and the sort, and no cursor reaches an address.
        first_page = re.search(r'<a href="([^"]*)">First page</a>', page)
        assert first_page is not None
        assert (
            first_page.group(1)
            == "/console/caseload?sort=-last_name&amp;status=active&amp;whose=all"
        )
    assert "cursor=" not in first + second


def test_a_search_pages_too_and_keeps_its_words_out_of_the_address(browser, caseload, grantee):
    sign_in(browser, "coordinator", grantee)
    found = browser.post(
        "/console/caseload", data={"q": "Sam", "_csrf_token": csrf_of(browser)}
    ).text
    assert count(found).startswith(f"Showing 1-100 of {PEOPLE} participants")
    assert '<input type="hidden" name="q" value="Sam">' in found
    second = more(browser, found)
    assert count(second).startswith(f"Showing 101-200 of {PEOPLE}")
    assert '<a href="/console/caseload?whose=all">First page</a>' in second
