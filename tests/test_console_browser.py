"""The staff console in a real Chromium against `prowd serve` (issue 22): a case manager signs
in, finds a participant by name, records a meeting, sees the caseload change and a refusal in
plain words, and signs out; RRC staff cannot reach another RRC's resident; a form without its
CSRF token is refused."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.console_browser import (
    CASE_MANAGER,
    CRISIS_WORDS,
    DESKTOP,
    PHONE,
    Scene,
    axe_violations,
    build_scene,
    chromium,
    own_database,
    screenshot,
    serve,
    sign_in,
    tour,
    wait_for,
)


@pytest.fixture(scope="module")
def scene(server_url, settings, auth, tmp_path_factory) -> Iterator[Scene]:
    """A database of its own: the server's projection worker then follows this module's
    grantee only, not every grantee the other tests of this process made."""
    log = tmp_path_factory.mktemp("console") / "serve.log"
    with own_database(server_url) as url:
        for base in serve(url, settings, log):
            yield build_scene(base, auth)


@pytest.fixture
def driver() -> Iterator[Any]:
    browser = chromium()
    try:
        yield browser
    finally:
        browser.quit()


def text_of(driver: Any, css: str) -> str:
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By

    # A page being replaced (a form sent) can drop the element between finding and reading
    # it: "" then, and wait_for asks again.
    try:
        return str(driver.find_element(By.CSS_SELECTOR, css).text)
    except StaleElementReferenceException:
        return ""


def topic_boxes(driver: Any) -> list[Any]:
    from selenium.webdriver.common.by import By

    return list(driver.find_elements(By.CSS_SELECTOR, "input[name=topics]"))


def tick(driver: Any, topic: str) -> None:
    """Tick a topic of the meeting form, as a person does (scrolled to, then clicked)."""
    from selenium.webdriver.common.by import By

    box = driver.find_element(By.CSS_SELECTOR, f"input[name=topics][value={topic}]")
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", box)
    box.click()


def row_of(driver: Any, name: str) -> str:
    """The caseload row's text for `name` (after reloading until the worker has it)."""
    from selenium.webdriver.common.by import By

    def find() -> str:
        for row in driver.find_elements(By.CSS_SELECTOR, "#results tbody tr"):
            if name in row.text:
                return str(row.text)
        driver.refresh()
        return ""

    return str(wait_for(find, what=f"{name} in the caseload"))


def alert_count(row: str) -> int:
    """The alerts a caseload row's badge counts ("2 alerts"), 0 without a badge."""
    found = re.search(r"(\d+) alerts?", row)
    return int(found.group(1)) if found else 0


def test_a_group_members_alert_badge_opens_their_alerts_and_names_the_groups_mentor(driver, scene):
    """Decision 135: the caseload names a group member's mentor and its alert badge is a link,
    saying whose alerts it opens, to the alerts near the top of the participant's page."""
    from selenium.webdriver.common.by import By

    sign_in(driver, scene, "case_manager")
    row = row_of(driver, "Delgado, Rosa")
    assert "Mentor mentor-ben (group)" in row, row
    # Weeks without a group meeting: the group's pairing missed its weekly cadence.
    badge = driver.find_element(
        By.CSS_SELECTOR, f'a[href="/console/participants/{scene.delgado}#alerts"]'
    )
    assert "about Rosa Delgado" in str(badge.get_attribute("textContent"))
    counted = int(badge.text.split()[0])
    badge.click()
    wait_for(lambda: driver.current_url.endswith("#alerts"), what="the participant's alerts")
    assert "Rosa Delgado" in text_of(driver, "h1")
    listed = driver.find_elements(By.CSS_SELECTOR, "#alerts li")
    assert len(listed) == counted and "Missed cadence" in listed[0].text
    for width in (DESKTOP, PHONE):
        driver.set_window_size(width, 900)
        bad = [v for v in axe_violations(driver) if v["impact"] in ("serious", "critical")]
        assert bad == [], f"the participant's alerts at {width}px: {bad}"


def test_a_case_manager_finds_records_sees_the_caseload_change_and_signs_out(driver, scene):
    from selenium.webdriver.common.by import By

    sign_in(driver, scene, "case_manager")
    assert driver.current_url.endswith("/console/caseload")
    # Months without a meeting: the pairing missed its weekly cadence; and meetings planned
    # months ago await their outcome (one until the phone test answers it, one for good).
    alerts = alert_count(row_of(driver, "Quintero, Marisol"))
    assert alerts >= 2

    # Find by name: htmx posts the search as the person types; no name enters the address.
    driver.find_element(By.ID, "q").send_keys("Quintero")
    wait_for(
        lambda: "Quintero, Marisol" in (t := text_of(driver, "#results")) and "Brandvold" not in t,
        what="the search",
    )
    assert "Quintero, Marisol" in text_of(driver, "#results")
    assert "Quintero" not in driver.current_url
    driver.find_element(By.LINK_TEXT, "Quintero, Marisol").click()
    wait_for(lambda: "/participants/" in driver.current_url)
    assert "Quintero" not in driver.title and "Quintero" not in driver.current_url
    assert "Marisol Quintero" in text_of(driver, "h1")

    # The form says nothing for the mentor: no time, no minutes, no topic; only the place
    # follows the participant's placement (stage 1 at FCI-A).
    driver.find_element(By.LINK_TEXT, "Record a meeting").click()
    wait_for(lambda: driver.current_url.endswith("/meeting"))
    assert driver.find_element(By.ID, "occurred_at").get_attribute("value") == ""
    assert driver.find_element(By.ID, "duration_minutes").get_attribute("value") == ""
    assert not [t for t in topic_boxes(driver) if t.is_selected()]
    assert driver.find_element(By.ID, "place").get_attribute("value") == "bop_institution"
    assert driver.find_element(By.ID, "facility").get_attribute("value") == "FCI-A"
    # Above the form, the planned meeting that awaits its outcome, with its links.
    awaiting = text_of(driver, "#h-awaiting + p + ul")
    assert "Scheduled for Tue 20 Jan 2026, 15:00 (UTC-06:00)" in awaiting, awaiting
    held = f"/console/meetings/{scene.unanswered}/held?participant={scene.quintero}"
    assert driver.find_elements(By.CSS_SELECTOR, f"a[href='{held}']")
    # A meeting that has not happened yet is refused, in the rule's words, as a sentence next
    # to the time.
    occurred = driver.find_element(By.ID, "occurred_at")
    driver.execute_script("arguments[0].value = '2026-03-12T09:00'", occurred)
    driver.find_element(By.ID, "duration_minutes").send_keys("60")
    tick(driver, "goals")
    driver.find_element(By.ID, "summary").send_keys("Worked on a resume.")
    driver.find_element(By.CSS_SELECTOR, "main form button[type=submit]").click()
    refusal = wait_for(lambda: driver.find_elements(By.ID, "refusal"), what="the refusal")
    said = "The time the meeting was held lies in the future."
    # The rule in plain words, no field name.
    assert said in refusal[0].text, refusal[0].text
    assert "occurred_at" not in refusal[0].text, refusal[0].text
    assert text_of(driver, "#occurred_at-error") == said
    # What was typed is kept; the time is corrected and the meeting recorded.
    assert driver.find_element(By.ID, "summary").get_attribute("value") == "Worked on a resume."
    assert driver.find_element(By.ID, "duration_minutes").get_attribute("value") == "60"
    assert [t.get_attribute("value") for t in topic_boxes(driver) if t.is_selected()] == ["goals"]
    occurred = driver.find_element(By.ID, "occurred_at")
    driver.execute_script("arguments[0].value = '2026-03-10T08:30'", occurred)
    driver.find_element(By.CSS_SELECTOR, "main form button[type=submit]").click()
    wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, ".notice"), what="the notice")
    assert text_of(driver, ".notice") == "Meeting recorded."
    meetings = text_of(driver, "#h-meetings + table")
    assert "Tue 10 Mar 2026, 08:30 (UTC-05:00)" in meetings and "Worked on a resume." in meetings

    # The caseload has taken the meeting: the cadence alert is gone.
    driver.find_element(By.LINK_TEXT, "Caseload").click()
    wait_for(
        lambda: alert_count(row_of(driver, "Quintero, Marisol")) == alerts - 1,
        what="the cadence alert to go",
    )
    driver.find_element(By.LINK_TEXT, "This week").click()
    assert "Tue 10 Mar 2026, 08:30" in wait_for(lambda: text_of(driver, "main"))

    driver.find_element(By.CSS_SELECTOR, "form.signout button").click()
    wait_for(lambda: "signed_out" in driver.current_url)
    assert "You are signed out." in text_of(driver, "main")
    driver.get(f"{scene.url}/console/caseload")
    assert "/console/sign-in" in driver.current_url


def test_a_peer_mentor_records_a_meeting_on_a_phone(driver, scene):
    """A peer mentor on a phone (390 px wide): the caseload holds their mentee alone, the
    meeting form fits the screen and records a meeting (dated before the case manager's test's
    week, so that test's cadence alert is untouched whatever the order)."""
    from selenium.webdriver.common.by import By

    driver.set_window_size(PHONE, 860)
    sign_in(driver, scene, "peer_mentor", subject="mentor-ana")
    assert driver.current_url.endswith("/console/caseload")
    row_of(driver, "Quintero, Marisol")
    listed = text_of(driver, "#results")
    assert "Brandvold" not in listed and "Okafor" not in listed

    def fits() -> bool:
        width = driver.execute_script("return document.documentElement.scrollWidth")
        return int(width) <= PHONE

    assert fits(), "the caseload scrolls sideways on a phone"
    driver.find_element(By.LINK_TEXT, "Quintero, Marisol").click()
    wait_for(lambda: "/participants/" in driver.current_url)
    driver.find_element(By.LINK_TEXT, "Record a meeting").click()
    wait_for(lambda: driver.current_url.endswith("/meeting"))
    assert fits(), "the meeting form scrolls sideways on a phone"
    occurred = driver.find_element(By.ID, "occurred_at")
    driver.execute_script("arguments[0].value = '2025-11-04T18:00'", occurred)
    # Nothing is pre-filled but the place: the mentor says how long and what about.
    driver.find_element(By.ID, "duration_minutes").send_keys("50")
    tick(driver, "employment")
    driver.find_element(By.ID, "summary").send_keys("Met at the library; practised an interview.")
    submit = driver.find_element(By.CSS_SELECTOR, "main form button[type=submit]")
    driver.execute_script("arguments[0].scrollIntoView()", submit)
    submit.click()
    wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, ".notice"), what="the notice")
    assert text_of(driver, ".notice") == "Meeting recorded."
    meetings = text_of(driver, "#h-meetings + table")
    assert "Tue 04 Nov 2025, 18:00 (UTC-06:00)" in meetings, meetings
    assert "practised an interview" in meetings


def test_a_peer_mentor_records_a_scheduled_meeting_as_held_on_a_phone(driver, scene):
    """A peer mentor on a phone (390 px wide) answers a meeting planned months ago from their
    mentee's page: the form fits the screen, its time is the planned one, and the meeting is
    recorded as held (in a week long before the case manager's test's cadence alert)."""
    from selenium.webdriver.common.by import By

    driver.set_window_size(PHONE, 860)
    sign_in(driver, scene, "peer_mentor", subject="mentor-ana")
    driver.get(f"{scene.url}/console/participants/{scene.quintero}")
    held = f"a[href$='/meetings/{scene.earlier}/held?participant={scene.quintero}']"
    link = wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, held), what="the Held link")[0]
    assert link.text.startswith("Held")
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", link)
    link.click()
    wait_for(lambda: "/held" in driver.current_url)
    width = driver.execute_script("return document.documentElement.scrollWidth")
    assert int(width) <= PHONE, "the held form scrolls sideways on a phone"
    assert driver.find_element(By.ID, "occurred_at").get_attribute("value") == "2025-11-11T12:00"
    driver.find_element(By.ID, "duration_minutes").send_keys("45")
    tick(driver, "housing")
    driver.find_element(By.ID, "summary").send_keys("Went over the housing list by phone.")
    submit = driver.find_element(By.CSS_SELECTOR, "main form button[type=submit]")
    driver.execute_script("arguments[0].scrollIntoView()", submit)
    submit.click()
    wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, ".notice"), what="the notice")
    said = "Meeting of Tue 11 Nov 2025, 12:00 (UTC-06:00) recorded as held."
    assert text_of(driver, ".notice") == said
    assert driver.current_url.endswith(f"/console/participants/{scene.quintero}")
    meetings = text_of(driver, "#h-meetings + table")
    assert "Went over the housing list by phone." in meetings, meetings


def test_a_rows_actions_are_targets_a_thumb_can_press_on_a_phone(driver, scene):
    """At 390 px a planned meeting's Held, Missed and Cancel (on the participant's page and the
    week's meetings) and a goal's and a step's actions are each at least 44 px high and apart
    from the next (docs/console.md, "Phone and accessibility"); at 1280 px they stay plain
    links a line of text high, so the tables' rows do not grow."""
    from selenium.webdriver.common.by import By

    def meeting(mid: str, about: str = "") -> list[str]:
        return [f"/console/meetings/{mid}/{what}{about}" for what in ("held", "missed", "cancel")]

    goal = f"/console/goals/{scene.goal}"
    pages = {
        f"/console/participants/{scene.quintero}": [
            meeting(scene.unanswered, f"?participant={scene.quintero}"),
            [f"{goal}/{what}" for what in ("progress", "step", "revise", "achieve", "abandon")],
            [f"{goal}/steps/{scene.step}/{what}" for what in ("complete", "drop")],
        ],
        "/console/meetings": [meeting(scene.planned)],
    }

    def apart(a: dict[str, float], b: dict[str, float], gap: float = 8) -> bool:
        return (
            a["x"] + a["width"] + gap <= b["x"]
            or b["x"] + b["width"] + gap <= a["x"]
            or a["y"] + a["height"] + gap <= b["y"]
            or b["y"] + b["height"] + gap <= a["y"]
        )

    sign_in(driver, scene, "case_manager")
    for width in (PHONE, DESKTOP):
        driver.set_window_size(width, 900)
        for address, groups in pages.items():
            driver.get(f"{scene.url}{address}")
            for hrefs in groups:
                links = [
                    wait_for(
                        lambda h=h: driver.find_elements(By.CSS_SELECTOR, f'main a[href="{h}"]'),
                        what=h,
                    )[0]
                    for h in hrefs
                ]
                boxes = [link.rect for link in links]
                if width == PHONE:
                    heights = zip(hrefs, (b["height"] for b in boxes), strict=True)
                    low = {h: height for h, height in heights if height < 44}
                    assert low == {}, f"{address}: targets under 44 px high: {low}"
                    close = [
                        (hrefs[i], hrefs[j])
                        for i in range(len(boxes))
                        for j in range(i + 1, len(boxes))
                        if not apart(boxes[i], boxes[j])
                    ]
                    assert close == [], f"{address}: targets closer than 8 px: {close}"
                else:
                    assert all(b["height"] < 30 for b in boxes), (address, boxes)
    driver.set_window_size(DESKTOP, 900)


def test_a_search_as_you_type_holding_a_control_character_is_refused_beside_the_box(driver, scene):
    """htmx's search as the person types: words holding a control character (pasted) bring
    the sentence beside the box and "Nothing was searched" in place of the list; the next
    words take both away."""
    from selenium.webdriver.common.by import By

    sign_in(driver, scene, "coordinator")
    row_of(driver, "Quintero, Marisol")
    box = driver.find_element(By.ID, "q")
    driver.execute_script(
        "arguments[0].value = 'Quin\\u0000tero';"
        " arguments[0].dispatchEvent(new Event('input', {bubbles: true}))",
        box,
    )
    said = wait_for(lambda: text_of(driver, "#q-error"), what="the sentence beside the box")
    assert said.startswith("Find by name or number: 'Quin\\x00tero' holds a control"), said
    assert "Nothing was searched" in text_of(driver, "#results")
    box.clear()
    box.send_keys("Quintero")
    wait_for(lambda: "Quintero, Marisol" in text_of(driver, "#results"), what="the search")
    assert not driver.find_elements(By.ID, "q-error")


def test_enter_finds_in_the_group_forms_search_box_and_sends_the_form_elsewhere(driver, scene):
    """A coordinator starting a group types a name in the search box and presses Enter: the
    list is drawn again for that name, keeping the mentor chosen and the members ticked;
    Enter in a field of the match sends the group itself (refused here, the focus not chosen:
    the sentence beside it; the browser's own check is off to show the console's)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import Select

    def mentor() -> str:
        return str(Select(driver.find_element(By.ID, "mentor_id")).first_selected_option.text)

    def okafor() -> list[Any]:
        return list(driver.find_elements(By.ID, f"members-{scene.okafor}"))

    sign_in(driver, scene, "coordinator")
    form = f"{scene.url}/console/participants/{scene.brandvold}/group"
    driver.get(form)
    Select(driver.find_element(By.ID, "mentor_id")).select_by_value(scene.mentor)
    driver.find_element(By.ID, "members-find").send_keys("Nobody by this name", Keys.ENTER)
    wait_for(lambda: "matches that" in text_of(driver, "#members-help"), what="the search")
    assert not okafor() and not driver.find_elements(By.ID, "refusal")
    assert mentor() == "Mentor mentor-ana" and driver.current_url == form
    assert driver.switch_to.active_element.get_attribute("id") == "members-find"

    box = driver.find_element(By.ID, "members-find")
    box.clear()
    box.send_keys("Okafor", Keys.ENTER)
    wait_for(okafor, what="Okafor found")
    okafor()[0].click()
    driver.execute_script("document.getElementById('entry').noValidate = true")
    driver.find_element(By.ID, "months").send_keys("6", Keys.ENTER)
    wait_for(lambda: driver.find_elements(By.ID, "focus-error"), what="the refusal")
    assert text_of(driver, "#focus-error") == "The group's shared focus: choose one of the options."
    assert "Not recorded" in text_of(driver, "#refusal")
    assert okafor()[0].is_selected() and mentor() == "Mentor mentor-ana"
    assert driver.find_element(By.ID, "months").get_attribute("value") == "6"


def test_rrc_staff_reach_their_residents_and_not_another_rrcs(driver, scene):
    from selenium.webdriver.common.by import By

    sign_in(driver, scene, "rrc_staff", rrc="RRC-1")
    assert driver.current_url.endswith("/console/rrc")
    residents = wait_for(
        lambda: driver.find_elements(By.CSS_SELECTOR, "tbody tr") or driver.refresh(),
        what="the residents",
    )
    assert len(residents) == 1
    residents[0].find_element(By.TAG_NAME, "a").click()
    wait_for(lambda: "/rrc/residents/" in driver.current_url)
    assert "RRC-1" in text_of(driver, "main")
    # Another RRC's resident, by the address: not found, nothing of theirs shown.
    driver.get(f"{scene.url}/console/rrc/residents/{scene.okafor}")
    assert text_of(driver, "h1") == "Not found"
    assert "RRC-2" not in text_of(driver, "main") and "Okafor" not in driver.page_source
    # The participant pages are not an RRC's either.
    driver.get(f"{scene.url}/console/participants/{scene.okafor}")
    assert "Okafor" not in driver.page_source


def test_a_case_manager_sees_the_crisis_about_their_participant_among_the_alerts(driver, scene):
    """Rosa Delgado's case manager sees her open crisis among the alerts, at desktop and phone
    widths (axe-checked): her name linked to her page, how serious and who holds it, not the
    escalation (the coordinators') nor its words nor the mentor (decision 129). The tour's case
    manager, who holds nobody, does not see it; a coordinator does, linked."""
    from selenium.webdriver.common.by import By

    def crisis_rows() -> list[Any]:
        return [
            r
            for r in driver.find_elements(By.CSS_SELECTOR, "main tbody tr")
            if r.find_element(By.CSS_SELECTOR, 'td[data-label="Kind"]').text == "open crisis"
        ]

    sign_in(driver, scene, "case_manager", subject=CASE_MANAGER)
    driver.get(f"{scene.url}/console/alerts")
    (row,) = wait_for(lambda: crisis_rows() or driver.refresh(), what="Rosa's crisis")
    text = str(row.text)
    assert "Delgado" in text and "critical crisis unresolved for" in text, text
    assert "raised with the coordinators, not acknowledged yet" in text
    person = row.find_element(By.CSS_SELECTOR, 'td[data-label="Participant"] a')
    assert person.get_attribute("href").endswith(f"/console/participants/{scene.delgado}")
    assert row.find_element(By.CSS_SELECTOR, 'td[data-label="Mentor"]').text == "—"
    assert not row.find_elements(By.CSS_SELECTOR, 'td[data-label="Kind"] a')
    source = driver.page_source
    assert CRISIS_WORDS not in source and scene.delgado_crisis not in source
    assert "/console/escalations/" not in source
    for width in (DESKTOP, PHONE):
        driver.set_window_size(width, 900)
        bad = [v for v in axe_violations(driver) if v["impact"] in ("serious", "critical")]
        assert bad == [], f"alerts at {width}px: {bad}"
    driver.set_window_size(DESKTOP, 900)

    driver.delete_all_cookies()
    sign_in(driver, scene, "case_manager")
    driver.get(f"{scene.url}/console/alerts")
    wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, "main h1"), what="the alerts")
    assert crisis_rows() == [] and scene.delgado_crisis not in driver.page_source
    driver.delete_all_cookies()
    sign_in(driver, scene, "coordinator")
    driver.get(f"{scene.url}/console/alerts")
    linked = driver.find_elements(
        By.CSS_SELECTOR, f'a[href="/console/escalations/{scene.delgado_crisis}"]'
    )
    assert linked and "Mentor mentor-ben" in str(linked[0].find_element(By.XPATH, "../..").text)


def test_a_form_without_its_csrf_token_is_refused(driver, scene):
    from selenium.webdriver.common.by import By

    sign_in(driver, scene, "coordinator")
    driver.execute_script("document.querySelector('form.signout input[name=_csrf_token]').remove()")
    driver.find_element(By.CSS_SELECTOR, "form.signout button").click()
    wait_for(lambda: "Form refused" in text_of(driver, "h1"), what="the refusal")
    # The refused sign-out did nothing: still signed in.
    driver.get(f"{scene.url}/console/caseload")
    assert driver.current_url.endswith("/console/caseload")


def test_every_page_has_no_serious_or_critical_accessibility_violation(driver, scene):
    """axe-core in the same Chromium, on every page, at desktop and phone widths; at the phone's
    width no page is wider than the screen (nothing cut off at the right edge: a certify page's
    SHA-256, a participant's email address). With PROWD_CONSOLE_SCREENSHOTS=1 the tour also
    writes docs/img/console-*.png."""
    shots = bool(os.environ.get("PROWD_CONSOLE_SCREENSHOTS"))
    seen = []
    wide: dict[str, int] = {}
    for name in tour(driver, scene):
        seen.append(name)
        for width in (DESKTOP, PHONE):
            driver.set_window_size(width, 900)
            bad = [v for v in axe_violations(driver) if v["impact"] in ("serious", "critical")]
            assert bad == [], f"{name} at {width}px: {bad}"
            if width == PHONE:
                scrolled = int(driver.execute_script("return document.documentElement.scrollWidth"))
                if scrolled > PHONE:
                    wide[name] = scrolled
        driver.set_window_size(DESKTOP, 900)
        if shots:
            screenshot(driver, name)
    assert len(seen) == 63
    assert wide == {}, f"pages wider than a {PHONE} px phone: {wide}"


def test_the_printable_quarterly_reports_fit_a_phone(driver, scene):
    """The API's printable report, opened from the console on a phone (390 px): nothing wider
    than the screen; the charts shrink to fit and a wide table scrolls inside its own box. The
    quarter is running on the server's day: marked provisional; every part of the page in a
    landmark (axe-core finds no violation at all), and its link leads back to the console."""
    from selenium.webdriver.common.by import By

    driver.set_window_size(PHONE, 860)

    def overflow() -> tuple[int, int]:
        return (
            int(driver.execute_script("return document.documentElement.scrollWidth")),
            int(driver.execute_script("return window.innerWidth")),
        )

    sign_in(driver, scene, "coordinator")
    for role, address in (
        ("coordinator", "/console/reports/quarterly/2026Q1"),
        ("federal_oversight", "/console/oversight/quarterly/2026Q1"),
    ):
        if role != "coordinator":
            driver.delete_all_cookies()
            sign_in(driver, scene, role)
        driver.get(f"{scene.url}{address}")
        wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, "svg"), what="the charts")
        wide, screen = overflow()
        assert wide <= screen, f"{address}: {wide} px wide on a {screen} px screen"
        for svg in driver.find_elements(By.CSS_SELECTOR, "svg"):
            assert svg.size["width"] <= screen, (address, svg.size)
        assert text_of(driver, "main #standing").startswith("Provisional. 2026Q1 has not ended")
        assert axe_violations(driver) == [], address
        back = driver.find_element(By.CSS_SELECTOR, "nav.back a")
        assert back.rect["height"] >= 44, back.rect
        back.click()
        wait_for(lambda: "/quarterly/" not in driver.current_url, what="the way back")
        assert driver.current_url.endswith("?quarter=2026Q1") and text_of(driver, "h1")


def test_a_case_manager_uploads_a_part2_document_sees_it_marked_and_untags_it(
    driver, scene, tmp_path
):
    """Decision 131 in Chromium: the upload form's Part 2 box, then the participant's
    documents list marking the document with the §2.32 notice beside its link; both pages
    without serious axe violations. Decision 140: the tag then removed from the row's link,
    with a reason, and the row saying so."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    from services.audit.disclosure import PART2_NOTICE_ABBREVIATED

    letter = tmp_path / "rdap-letter.pdf"
    letter.write_bytes(b"%PDF-1.4\n% RDAP progress letter\n")
    sign_in(driver, scene, "case_manager")
    driver.get(f"{scene.url}/console/participants/{scene.quintero}/document")
    assert [v for v in axe_violations(driver) if v["impact"] in ("serious", "critical")] == []
    driver.find_element(By.ID, "file").send_keys(str(letter))
    driver.find_element(By.ID, "title").send_keys("RDAP progress letter")
    Select(driver.find_element(By.ID, "kind")).select_by_value("letter")
    driver.find_element(By.ID, "part2").click()
    driver.find_element(By.CSS_SELECTOR, "form#entry button[type=submit]").click()
    wait_for(lambda: "#h-documents" in driver.current_url, what="the participant's page")

    def row() -> str:
        rows = driver.find_elements(By.CSS_SELECTOR, "section[aria-labelledby=h-documents] tr")
        return next((r.text for r in rows if "RDAP progress letter" in r.text), "")

    wait_for(lambda: row() or driver.refresh(), what="the document listed")
    assert "42 CFR Part 2" in row() and PART2_NOTICE_ABBREVIATED in row()
    assert [v for v in axe_violations(driver) if v["impact"] in ("serious", "critical")] == []
    # Decision 140: the tag removed from the row's link, with a reason; the row then says so.
    rows = driver.find_elements(By.CSS_SELECTOR, "section[aria-labelledby=h-documents] tr")
    (letter_row,) = [r for r in rows if "RDAP progress letter" in r.text]
    letter_row.find_element(By.CSS_SELECTOR, "a[href$='/part2']").click()
    wait_for(lambda: driver.find_elements(By.ID, "part2-now"), what="the tag's page")
    assert driver.find_element(By.ID, "part2").is_selected()
    driver.find_element(By.ID, "part2").click()
    driver.find_element(By.ID, "reason").send_keys("The letter names no treatment.")
    driver.find_element(By.CSS_SELECTOR, "form#entry button[type=submit]").click()
    wait_for(lambda: "#h-documents" in driver.current_url, what="the participant's page")
    assert "is no longer tagged as holding 42 CFR Part 2 information" in driver.page_source
    wait_for(lambda: "Part 2 tag removed" in row() or driver.refresh(), what="the change")
    assert "The letter names no treatment." in row() and PART2_NOTICE_ABBREVIATED not in row()
