"""The caseload's sort choices say what they do (plain HTTP against PostgreSQL): each has its
own label naming the column and the direction, and the page marks the column it is sorted by
(`aria-sort`, one column at a time), showing that column when the table has no such column of
its own (services/api/console/sorts.py)."""

from __future__ import annotations

import re

from projections.caseload_reads import CASELOAD_SORT
from services.api.console.sorts import COLUMNS
from services.projector import live as projector
from tests.console_helpers import sign_in

OPTION = re.compile(r'<option value="([^"]*)"(?: selected)?>([^<]*)</option>')
SORTED = re.compile(r'<th scope="col" aria-sort="(ascending|descending)">([^<]*)')
HEADINGS = re.compile(r'<th scope="col"[^>]*>([^<]*)')


def marked(page: str) -> list[tuple[str, str]]:
    """The columns marked as sorted: (direction, heading)."""
    return [(d, h.strip()) for d, h in SORTED.findall(page)]


def sort_options(page: str) -> dict[str, str]:
    select = page[
        page.index('<select id="sort"') : page.index("</select>", page.index('id="sort"'))
    ]
    return dict(OPTION.findall(select))


def test_every_sort_choice_has_its_own_label_naming_column_and_direction(browser, grantee):
    sign_in(browser, "coordinator", grantee)
    options = sort_options(browser.get("/console/caseload").text)
    # First, no sort: the API's own order, closest first when searching (decision 141).
    assert options.pop("") == "Closest match first, else by number"
    keys = [*CASELOAD_SORT, "days_in_stage"]
    assert set(options) == {*keys, *(f"-{k}" for k in keys)}
    labels = list(options.values())
    assert len(set(labels)) == len(labels), sorted(labels)
    # Both directions of a column name it and differ in the words after the comma.
    for key in keys:
        up, down = options[key], options[f"-{key}"]
        assert up.split(", ")[0] == down.split(", ")[0], (up, down)
        assert up.split(", ")[1] != down.split(", ")[1], (up, down)
    assert options["last_name"] == "Last name, A to Z"
    assert options["-last_name"] == "Last name, Z to A"
    assert options["-days_in_stage"] == "Days in stage, most first"
    assert options["-last_event_at"] == "Record changed, newest first"


def test_the_page_marks_the_sorted_column(browser, grantee, enrol, db):
    enrol(first_name="Ana", last_name="Zorrilla", program_entry_date="2026-02-01")
    enrol(first_name="Zoe", last_name="Abbott", program_entry_date="2026-03-01")
    projector.drain(db, f"g_{grantee}")
    sign_in(browser, "coordinator", grantee)
    unsorted = browser.get("/console/caseload").text
    assert marked(unsorted) == [("ascending", "Number")]
    assert "sorted by Number, lowest first" in unsorted
    for key in [*CASELOAD_SORT, "days_in_stage"]:
        column = COLUMNS[key]
        for choice, direction in ((key, "ascending"), (f"-{key}", "descending")):
            page = browser.get("/console/caseload", params={"sort": choice}).text
            # Exactly one column is marked, the one the choice orders, in its direction.
            assert marked(page) == [(direction, column.heading)], choice
            headings = [h.strip() for h in HEADINGS.findall(page)]
            assert headings.count(column.heading) == 1, (choice, headings)
            assert f"sorted by {sort_options(page)[choice]}</p>" in page, choice
    # A column the table does not show is shown while the caseload is sorted by it.
    entry = browser.get("/console/caseload", params={"sort": "-program_entry_date"}).text
    shown = re.findall(r'<td data-label="Program entry">([^<]*)</td>', entry)
    assert shown == ["2026-03-01", "2026-02-01"]
    assert 'data-label="Program entry"' not in browser.get("/console/caseload").text
