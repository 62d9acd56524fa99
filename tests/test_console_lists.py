"""The console's caseload lists what the API lists (issue 22): sorted by the chosen column,
filtered by stage and status, with a stage badge per row; the filters are no personal data, so
they may stand in the address."""

from __future__ import annotations

from services.projector import live as projector
from tests.conftest import count_events
from tests.console_helpers import key_of, post, sign_in


def names_in_order(html: str, names: list[str]) -> list[str]:
    """The `names` ("Last, First") in the order the page shows them, each name in its own
    `<bdi>` (docs/decisions.md 130)."""
    html = html.replace("<bdi>", "").replace("</bdi>", "")
    found = [n for n in names if n in html]
    return sorted(found, key=html.index)


def test_the_caseload_sorts_and_filters_as_asked(browser, client, auth, grantee, enrol, db):
    adams = enrol(first_name="Zed", last_name="Adams")["id"]
    young = enrol(first_name="Amy", last_name="Young")["id"]
    moss = enrol(first_name="Cal", last_name="Moss")["id"]
    base, staff = f"/v1/grantees/{grantee}", auth("coordinator", grantee)
    moved = client.post(
        f"{base}/participants/{moss}/stage-transitions",
        json={"to_stage": 3, "placement": "community", "occurred_at": "2026-11-02T15:00:00Z"},
        headers=staff,
    )
    assert moved.status_code in (200, 201), moved.text
    exited = client.post(
        f"{base}/participants/{young}/exit",
        json={"exit_date": "2026-06-15", "reason": "relocated"},
        headers=staff,
    )
    assert exited.status_code in (200, 201), exited.text
    projector.drain(db, f"g_{grantee}")
    sign_in(browser, "case_manager", grantee)
    names = ["Adams, Zed", "Moss, Cal", "Young, Amy"]

    page = browser.get("/console/caseload", params={"sort": "last_name"})
    assert page.status_code == 200
    assert names_in_order(page.text, names) == names
    assert 'value="last_name" selected' in page.text  # the chosen sort stays chosen

    stage3 = browser.get("/console/caseload", params={"stage": "3"}).text
    assert names_in_order(stage3, names) == ["Moss, Cal"]
    assert "Stage 3" in stage3

    gone = browser.get("/console/caseload", params={"status": "exited"}).text
    assert names_in_order(gone, names) == ["Young, Amy"]
    assert "exited" in gone

    # The search form posts the same filters with the name (which stays out of the address).
    csrf = browser.cookies["prowd_csrf"]
    found = browser.post(
        "/console/caseload",
        data={"q": "Adams", "stage": "1", "sort": "last_name", "_csrf_token": csrf},
    )
    assert found.status_code == 200
    assert names_in_order(found.text, names) == ["Adams, Zed"]
    assert f"/console/participants/{adams}" in page.text


def test_the_mentors_page_shows_training_screening_clearance_and_certification(
    browser, client, auth, db
):
    from tests.meetings_helpers import World

    world = World(client, auth, db)
    world.mentor("pm-lists")
    projector.drain(db, f"g_{world.slug}")
    sign_in(browser, "coordinator", world.slug)
    page = browser.get("/console/mentors")
    assert page.status_code == 200
    row = page.text.split("Mentor pm-lists")[1].split("</tr>")[0]
    assert "certified" in row
    assert "6 modules, 6.0 h" in row  # the six tip-sheet modules, an hour each
    assert "application, interview, references" in row and "background approved" in row
    assert "FCI-A until" in row and "1 individual" not in row  # no mentee yet


def test_a_coordinator_records_the_pirl_file_then_downloads_it(browser, grantee, enrol, db):
    """The PIRL file is recorded by the reports page's form (POST, CSRF, idempotency key), then
    offered for download by a plain link; the links and a second GET write nothing, and the
    form sent again with nothing changed records nothing (decision 136)."""
    enrol()
    projector.drain(db, f"g_{grantee}")
    sign_in(browser, "coordinator", grantee)
    action = "/console/exports/pirl/2026Q1"
    page = browser.get("/console/reports?quarter=2026Q1")
    assert page.status_code == 200 and f'action="{action}"' in page.text
    assert f'href="{action}"' not in page.text  # nothing recorded yet: nothing to download
    events = count_events(db, grantee)
    # Without the CSRF token the console refuses, and nothing is recorded.
    forged = browser.post(action, data={"idempotency_key": "x"}, follow_redirects=False)
    assert forged.status_code == 403 and count_events(db, grantee) == events
    done = post(browser, action, {}, key_of(page.text, action))
    assert done.status_code == 303, done.text
    assert count_events(db, grantee) > events
    shown = browser.get(done.headers["location"])
    assert "is recorded" in shown.text and 'id="made"' in shown.text
    link = shown.text.split('id="made"><a href="')[1].split('"')[0]
    events = count_events(db, grantee)
    r = browser.get(link)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "text/csv; charset=utf-8"
    assert "attachment" in r.headers["content-disposition"]
    header, *rows = r.text.splitlines()
    assert header.startswith("100,200,801,900,901") and len(rows) == 1
    latest = browser.get(action)  # the latest recorded file, by a plain link
    assert latest.status_code == 200 and latest.content == r.content
    assert count_events(db, grantee) == events
    # The same page's form sent again is the first answer; a new form with nothing changed
    # finds the same file and records nothing.
    again = post(browser, action, {}, key_of(page.text, action))
    assert again.status_code == 303 and count_events(db, grantee) == events
    fresh = browser.get("/console/reports?quarter=2026Q1")
    unchanged = post(browser, action, {}, key_of(fresh.text, action))
    assert unchanged.status_code == 303 and count_events(db, grantee) == events
    said = browser.get(unchanged.headers["location"])
    assert "no new export was recorded" in said.text and link in said.text
