"""The caseload's pages in a real Chromium against `prowd serve`: a coordinator of a grantee
with 105 participants sorts by last name, reads "Showing 1-100 of 105" (an en dash on the page), presses "More
participants" (a form: the cursor never reaches the address), sees the last five in the same
order, goes back with "First page"; the paged page has no serious or critical accessibility
violation at 1280 and 390 px."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.console_browser import (
    DESKTOP,
    PHONE,
    Scene,
    axe_violations,
    chromium,
    own_database,
    serve,
    sign_in,
    wait_for,
)
from tests.meetings_helpers import World
from tests.people import birth_date

# With the world's four graduates of cohort C0: 105 participants.
ENROLLED = 101


@pytest.fixture(scope="module")
def scene(server_url, settings, auth, tmp_path_factory) -> Iterator[Scene]:
    log = tmp_path_factory.mktemp("caseload") / "serve.log"
    with own_database(server_url) as url:
        for base in serve(url, settings, log):
            with httpx.Client(base_url=base, timeout=60) as http:
                world = World(http, auth, None)  # type: ignore[arg-type]
                items = [
                    {
                        "kind": "participant.enrol",
                        "idempotency_key": f"e-{i}",
                        "body": {
                            "first_name": "Kim",
                            "last_name": f"Page{i:03d}",
                            "date_of_birth": birth_date(),
                            "program_entry_date": "2025-09-15",
                            "facility": "FCI-A",
                            "cohort": "C1",
                        },
                    }
                    for i in range(ENROLLED)
                ]
                world.post("/commands", {"items": items}, status=200)
            yield Scene(base, world.slug, "", "", "", "", "", "")


@pytest.fixture
def driver() -> Iterator[Any]:
    browser = chromium()
    try:
        yield browser
    finally:
        browser.quit()


def count_text(driver: Any) -> str:
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
    from selenium.webdriver.common.by import By

    try:
        return str(driver.find_element(By.CSS_SELECTOR, "#results .count").text)
    except (NoSuchElementException, StaleElementReferenceException):
        return ""


def names(driver: Any) -> list[str]:
    """The last names of the page's rows, in order (the sort is by last name)."""
    from selenium.webdriver.common.by import By

    found = driver.find_elements(By.CSS_SELECTOR, '#results td[data-label="Name"] a')
    return [str(a.text).split(",")[0] for a in found]


def test_a_coordinator_pages_through_the_caseload(driver, scene):
    from selenium.webdriver.common.by import By

    sign_in(driver, scene, "coordinator")
    driver.get(f"{scene.url}/console/caseload?sort=last_name&whose=all")
    total = 4 + ENROLLED
    first = f"Showing 1\u2013100 of {total} participants, sorted by Last name, A to Z"
    wait_for(lambda: count_text(driver) == first, what="the first page (the worker)")
    sorted_th = driver.find_element(By.CSS_SELECTOR, "th[aria-sort]")
    assert (sorted_th.get_attribute("aria-sort"), sorted_th.text.split()[0]) == (
        "ascending",
        "Name",
    )
    page_one = names(driver)
    assert len(page_one) == 100 and page_one == sorted(page_one)
    address = driver.current_url

    driver.find_element(By.XPATH, "//button[text()='More participants']").click()
    wait_for(lambda: count_text(driver).startswith(f"Showing 101\u2013{total} of {total}"))
    page_two = names(driver)
    assert len(page_two) == total - 100 and page_two == sorted(page_two)
    assert page_one[-1] < page_two[0]
    # The cursor went in the body: the address is the caseload's, with no cursor or name.
    assert "cursor" not in driver.current_url and "Page" not in driver.current_url
    assert not driver.find_elements(By.XPATH, "//button[text()='More participants']")
    for width in (DESKTOP, PHONE):
        driver.set_window_size(width, 900)
        bad = [v["id"] for v in axe_violations(driver) if v["impact"] in ("serious", "critical")]
        assert bad == [], (width, bad)
    driver.set_window_size(DESKTOP, 900)

    driver.find_element(By.LINK_TEXT, "First page").click()
    wait_for(lambda: count_text(driver) == first, what="the first page again")
    assert driver.current_url == address
