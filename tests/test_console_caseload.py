"""The console's caseload sorts (plain HTTP): every column the API's caseload sorts by, either
way, and days in stage (services/api/console/sorts.py)."""

from __future__ import annotations

import re

from projections.caseload_reads import CASELOAD_SORT
from services.projector import live as projector
from tests.console_helpers import beside, csrf_of, shown, sign_in


def signed_in_holding(browser, client, auth, grantee, db, participant_id) -> None:
    """Signed in as case manager cm-rita, who holds `participant_id` (the views caught up)."""
    r = client.post(
        f"/v1/grantees/{grantee}/participants/{participant_id}/assignments",
        json={"duty": "case_manager", "staff": "cm-rita"},
        headers=auth("coordinator", grantee),
    )
    assert r.status_code == 201, r.text
    projector.drain(db, f"g_{grantee}")
    sign_in(browser, "case_manager", grantee, subject="cm-rita")


def test_the_caseload_sorts_by_every_column_the_api_sorts_by(browser, grantee, enrol, db):
    enrol(first_name="Ana", last_name="Zorrilla", program_entry_date="2026-02-01")
    enrol(first_name="Zoe", last_name="Abbott", program_entry_date="2026-03-01")
    projector.drain(db, f"g_{grantee}")
    sign_in(browser, "coordinator", grantee)
    offered = re.findall(r'<option value="([^"]*)"', browser.get("/console/caseload").text)
    keys = [*CASELOAD_SORT, *(f"-{k}" for k in CASELOAD_SORT)]
    assert set(keys) <= set(offered), sorted(set(keys) - set(offered))
    for key in [*keys, "days_in_stage", "-days_in_stage"]:
        page = browser.get("/console/caseload", params={"sort": key})
        assert page.status_code == 200, (key, page.text[:500])
        assert "<bdi>Zorrilla</bdi>, <bdi>Ana</bdi>" in page.text, key
        assert "<bdi>Abbott</bdi>, <bdi>Zoe</bdi>" in page.text, key
        assert f'<option value="{key}" selected' in page.text, key
    # Days in stage: Ana entered first, so she has been longest in stage 1.
    longest = browser.get("/console/caseload", params={"sort": "-days_in_stage"}).text
    assert longest.index("<bdi>Zorrilla</bdi>, <bdi>Ana</bdi>") < longest.index(
        "<bdi>Abbott</bdi>, <bdi>Zoe</bdi>"
    )
    shortest = browser.get("/console/caseload", params={"sort": "days_in_stage"}).text
    assert shortest.index("<bdi>Abbott</bdi>, <bdi>Zoe</bdi>") < shortest.index(
        "<bdi>Zorrilla</bdi>, <bdi>Ana</bdi>"
    )


def test_mine_shows_the_signed_in_staff_members_own_caseload(
    browser, client, auth, grantee, enrol, db
):
    """A case manager with participants assigned sees theirs first ("Mine", by default), and can
    ask for everyone; one with none assigned sees everyone; the filter is in the address."""
    ada = enrol(first_name="Ada", last_name="Assigned")
    enrol(first_name="Bea", last_name="Elsewhere")
    signed_in_holding(browser, client, auth, grantee, db, ada["id"])
    mine = browser.get("/console/caseload").text
    assert "<bdi>Assigned</bdi>, <bdi>Ada</bdi>" in mine and "Elsewhere" not in mine
    assert '<option value="mine" selected' in mine and "assigned to you" in mine
    everyone = browser.get("/console/caseload", params={"whose": "all"}).text
    assert (
        "<bdi>Assigned</bdi>, <bdi>Ada</bdi>" in everyone
        and "<bdi>Elsewhere</bdi>, <bdi>Bea</bdi>" in everyone
    )
    assert '<option value="all" selected' in everyone
    # The search keeps the filter it was sent with.
    found = browser.post(
        "/console/caseload",
        data={"q": "Elsewhere", "whose": "mine", "_csrf_token": csrf_of(browser)},
    ).text
    assert "No participant assigned to you matches" in shown(found)
    # Another case manager with nobody assigned: everyone, unless they ask for theirs.
    browser.cookies.clear()
    sign_in(browser, "case_manager", grantee, subject="cm-sam")
    page = browser.get("/console/caseload").text
    assert (
        "<bdi>Assigned</bdi>, <bdi>Ada</bdi>" in page
        and "<bdi>Elsewhere</bdi>, <bdi>Bea</bdi>" in page
    )
    assert "No participant matches." in browser.get("/console/caseload?whose=mine").text
    # A coordinator sees everyone by default, and theirs when asked.
    browser.cookies.clear()
    sign_in(browser, "coordinator", grantee)
    assert "<bdi>Elsewhere</bdi>, <bdi>Bea</bdi>" in browser.get("/console/caseload").text


def test_a_search_in_mine_offers_the_same_search_over_everyone(
    browser, client, auth, grantee, enrol, db
):
    """A case manager who holds someone searches "Mine" by default; a participant just enrolled
    but held by nobody (or a colleague) is not there, so the page says whose were searched and
    offers the same search over everyone, which finds them (the words stay in the body)."""
    ada = enrol(first_name="Ada", last_name="Garcia")
    enrol(first_name="Bea", last_name="Garcia")
    enrol(first_name="Cal", last_name="Newcome")
    signed_in_holding(browser, client, auth, grantee, db, ada["id"])
    mine = browser.get("/console/caseload").text
    assert '<option value="mine" selected' in mine
    # Nothing of theirs matches: said so, with the search over everyone one press away.
    nothing = browser.post(
        "/console/caseload",
        data={"q": "Newcome", "whose": "mine", "_csrf_token": csrf_of(browser)},
    ).text
    assert "No participant assigned to you matches “Newcome”." in shown(nothing)
    widen = nothing.split('class="widen"')[1].split("</form>")[0]
    assert '<input type="hidden" name="whose" value="all">' in widen
    assert '<input type="hidden" name="q" value="Newcome">' in widen
    assert "Search everyone for “Newcome”" in shown(widen)
    everyone = browser.post(
        "/console/caseload",
        data={"q": "Newcome", "whose": "all", "_csrf_token": csrf_of(browser)},
    )
    assert everyone.url.path == "/console/caseload" and "Newcome" not in str(everyone.url)
    assert "<bdi>Newcome</bdi>, <bdi>Cal</bdi>" in everyone.text
    assert '<option value="all" selected' in everyone.text and 'class="widen"' not in everyone.text
    # One of theirs matches: listed, and the others of that name are one press away too.
    some = browser.post(
        "/console/caseload",
        data={"q": "Garcia", "whose": "mine", "_csrf_token": csrf_of(browser)},
    ).text
    assert "<bdi>Garcia</bdi>, <bdi>Ada</bdi>" in some and "Bea" not in some
    assert "Only the participants assigned to you were searched." in some
    assert "Search everyone for “Garcia”" in shown(some)
    # Without search words there is nothing to widen: "Everyone" is the filter above.
    assert 'class="widen"' not in mine


def test_a_search_holding_a_control_character_is_refused_beside_the_box(
    browser, grantee, enrol, db
):
    """A NUL pasted into the search: no bare "Refused" page, but the caseload with the sentence
    beside the box (tied to it), the words given back without it, the navigation, and no list,
    as nothing was searched; under htmx the sentence comes with the results it replaces."""
    enrol(first_name="Ada", last_name="Garcia")
    projector.drain(db, f"g_{grantee}")
    sign_in(browser, "coordinator", grantee)
    said = (
        "Find by name or number: 'Gar\\x00cia' holds a control character, which no name or"
        " number has, so nothing was searched. Search again without it."
    )
    page = browser.post(
        "/console/caseload", data={"q": "Gar\x00cia", "_csrf_token": csrf_of(browser)}
    )
    assert page.status_code == 400
    assert beside(page, "q") == said
    box = page.text.split('<input id="q"')[1].split(">")[0]
    assert 'value="Garcia"' in box and 'aria-invalid="true"' in box
    assert 'aria-describedby="q-error"' in box
    assert 'href="/console/alerts"' in page.text and "Nothing was searched" in page.text
    assert "<bdi>Garcia</bdi>, <bdi>Ada</bdi>" not in page.text
    typed = browser.post(
        "/console/caseload",
        data={"q": "Gar\x01", "_csrf_token": csrf_of(browser)},
        headers={"HX-Request": "true"},
    )
    assert typed.status_code == 200 and 'id="q-problem"' in typed.text
    assert "holds a control character" in beside(typed, "q")
    found = browser.post("/console/caseload", data={"q": "Garcia", "_csrf_token": csrf_of(browser)})
    assert found.status_code == 200 and beside(found, "q") == ""
    assert "<bdi>Garcia</bdi>, <bdi>Ada</bdi>" in found.text
