"""A document's 42 CFR Part 2 tag changed from the console (decision 140), by form posts
against the real application and PostgreSQL (frozen clock): the staff's page and its link on
the participant's documents, labelled and tied to its refusals; a blank reason and an
unchanged tag refused beside their fields with nothing appended; a change redirected to the
participant's page with a notice, shown there and on the document's page, and reported by the
API; a form sent twice records once; a removed document's page has no form; roles without
`documents.write` have no link and are refused (403)."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime
from typing import Any

import pytest

from services.projector import live as projector
from tests.conftest import count_events
from tests.console_helpers import beside, form_of, key_of, post, refusal, shown, sign_in

NOW = datetime(2026, 11, 26, 18, 0, tzinfo=UTC)
PDF = b"%PDF-1.4\n% RDAP progress letter\n"
BOX = "It holds 42 CFR Part 2 information (substance use disorder treatment)"


@pytest.fixture(autouse=True)
def frozen(frozen_at) -> None:
    frozen_at(NOW, tick=True)


def attach(client: Any, auth: Any, db: Any, grantee: str, pid: str, title: str) -> str:
    """A document attached through the API (not tagged), its view caught up."""
    r = client.post(
        f"/v1/grantees/{grantee}/participants/{pid}/documents",
        files={"file": ("letter.pdf", PDF, "application/pdf")},
        data={"title": title, "kind": "letter"},
        headers=auth("case_manager", grantee),
    )
    assert r.status_code == 201, r.text
    projector.drain(db, f"g_{grantee}")
    return str(r.json()["id"])


def reported(client: Any, auth: Any, grantee: str, pid: str) -> dict[str, Any]:
    """The participant's one document as the API lists it."""
    r = client.get(
        f"/v1/grantees/{grantee}/participants/{pid}/documents",
        headers=auth("coordinator", grantee),
    )
    assert r.status_code == 200, r.text
    (doc,) = r.json()["items"]
    return dict(doc)


def documents_section(page: str) -> str:
    return shown(page.split('id="h-documents"')[1].split("</section>")[0])


def test_staff_see_the_form_and_a_blank_reason_or_unchanged_tag_is_refused(
    browser, client, auth, db, grantee, enrol
):
    pid = enrol()["id"]
    doc = attach(client, auth, db, grantee, pid, "RDAP progress letter")
    sign_in(browser, "case_manager", grantee)
    action = f"/console/participants/{pid}/documents/{doc}/part2"
    assert f'href="{action}"' in documents_section(browser.get(f"/console/participants/{pid}").text)
    page = browser.get(action)
    assert page.status_code == 200
    text = shown(page.text)
    assert "RDAP progress letter" in text
    assert re.search(r'id="part2-now">Not tagged<', text)
    assert "None: as it was when attached" in text
    form = form_of(page.text, action)
    assert 'name="_csrf_token"' in form
    # Labelled, ticked as the document is now (not tagged), the reason required and empty.
    assert re.search(r'<label><input type="checkbox" id="part2" name="part2" value="1"', form)
    assert 'id="part2" name="part2" value="1" aria-describedby="part2-help">' in form
    assert f"> {BOX}</label>" in form
    assert '<label for="reason">Why the tag changes</label>' in form
    assert re.search(
        r'<textarea id="reason" name="reason" rows="4" maxlength="2000" required[^>]*></textarea>',
        form,
    )
    key = key_of(page.text, action)
    before = count_events(db, grantee)

    # No reason: refused by the reason, the form again with the box as it was ticked.
    r = post(browser, action, {"part2": "1", "reason": "   "}, key)
    assert r.status_code == 422
    assert beside(r, "reason") == "Why the tag changes: fill this in."
    assert "Why the tag changes: fill this in." in refusal(r)
    again = form_of(r.text, action)
    assert re.search(
        r'<textarea id="reason" name="reason" rows="4" maxlength="2000" required aria-invalid="true"'
        r' aria-describedby="reason-error reason-help">',
        again,
    )
    assert 'id="part2" name="part2" value="1" checked' in again
    assert key_of(r.text, action) == key
    assert count_events(db, grantee) == before

    # The tag it has already (the box left unticked): the API's refusal, said by the box.
    r = post(browser, action, {"reason": "It names RDAP treatment."}, key)
    assert r.status_code == 422
    said = (
        "The document is not tagged as holding 42 CFR Part 2 information: tick the box to tag it."
    )
    assert beside(r, "part2") == said and said in refusal(r)
    assert 'aria-describedby="part2-error part2-help"' in form_of(r.text, action)
    assert count_events(db, grantee) == before
    assert reported(client, auth, grantee, pid)["part2"] is False


def test_a_change_shows_on_the_pages_and_in_the_api_and_a_removed_document_takes_none(
    browser, client, auth, db, grantee, enrol
):
    pid = enrol()["id"]
    doc = attach(client, auth, db, grantee, pid, "RRC treatment letter")
    sign_in(browser, "case_manager", grantee, subject="cm-rita")
    action = f"/console/participants/{pid}/documents/{doc}/part2"
    key = key_of(browser.get(action).text, action)
    before = count_events(db, grantee)
    tag = {"part2": "1", "reason": "The letter reports RDAP treatment."}
    r = post(browser, action, tag, key)
    assert r.status_code == 303, refusal(r) if r.status_code != 303 else ""
    assert r.headers["location"] == f"/console/participants/{pid}#h-documents"
    # Sent again (a retry): recorded once.
    assert post(browser, action, tag, key).status_code == 303
    assert count_events(db, grantee) == before + 1
    projector.drain(db, f"g_{grantee}")

    api = reported(client, auth, grantee, pid)
    assert (api["part2"], api["part2_changed_by"], api["part2_reason"]) == (
        True,
        "cm-rita",
        "The letter reports RDAP treatment.",
    )
    page = html.unescape(shown(browser.get(f"/console/participants/{pid}").text))
    assert "“RRC treatment letter” is tagged as holding 42 CFR Part 2 information." in page
    section = documents_section(page)
    assert 'RRC treatment letter <span class="badge alert">42 CFR Part 2</span>' in section
    assert re.search(
        r"Tagged 42 CFR Part 2 Thu 26 Nov 2026, \d\d:\d\d \(UTC[+-]\d\d:\d\d\) by cm-rita:"
        r" The letter reports RDAP treatment\.",
        section,
    )
    # The document's page says so, and its box is now ticked.
    page = browser.get(action).text
    assert 'id="part2-now"><span class="badge alert">42 CFR Part 2</span> Tagged' in page
    assert re.search(
        r'id="part2-changed">Tagged Thu 26 Nov 2026, [^<]* by <bdi>cm-rita</bdi>:'
        r" <bdi>The letter reports RDAP treatment\.</bdi>",
        page,
    )
    assert 'id="part2" name="part2" value="1" checked' in form_of(page, action)

    # Untagged the other way, with a new form's key.
    r = post(browser, action, {"reason": "Wrong letter ticked."}, key_of(page, action))
    assert r.status_code == 303, refusal(r) if r.status_code != 303 else ""
    projector.drain(db, f"g_{grantee}")
    api = reported(client, auth, grantee, pid)
    assert (api["part2"], api["part2_reason"]) == (False, "Wrong letter ticked.")
    page = html.unescape(shown(browser.get(f"/console/participants/{pid}").text))
    assert "“RRC treatment letter” is no longer tagged" in page
    section = documents_section(page)
    assert "badge" not in section and "Part 2 tag removed Thu 26 Nov 2026" in section

    # Removed: no link on its row, and its page says why there is no form.
    r = client.post(
        f"/v1/grantees/{grantee}/participants/{pid}/documents/{doc}/removal",
        json={"reason": "Uploaded to the wrong participant."},
        headers=auth("case_manager", grantee),
    )
    assert r.status_code == 201, r.text
    projector.drain(db, f"g_{grantee}")
    assert action not in browser.get(f"/console/participants/{pid}").text
    page = browser.get(action)
    assert page.status_code == 200
    assert 'id="closed"' in page.text and "This document was removed on" in page.text
    assert f'action="{action}"' not in page.text


def test_an_unknown_document_is_the_not_found_page(browser, client, auth, db, grantee, enrol):
    pid = enrol()["id"]
    attach(client, auth, db, grantee, pid, "Certificate")
    sign_in(browser, "coordinator", grantee)
    r = browser.get(
        f"/console/participants/{pid}/documents/{'0' * 8}-0000-4000-8000-{'0' * 12}/part2"
    )
    assert r.status_code == 404
    assert "There is no such page, or it is not one your role may open." in r.text


@pytest.mark.parametrize("role", ["auditor", "peer_mentor"])
def test_a_role_without_documents_write_has_no_link_and_is_refused(
    browser, client, auth, db, grantee, enrol, role
):
    pid = enrol()["id"]
    doc = attach(client, auth, db, grantee, pid, "RDAP progress letter")
    sign_in(browser, role, grantee)
    action = f"/console/participants/{pid}/documents/{doc}/part2"
    page = browser.get(f"/console/participants/{pid}")
    assert action not in page.text
    if role == "auditor":
        # The auditor reads the documents, not the form (a peer mentor, not their mentee).
        assert page.status_code == 200
        assert "RDAP progress letter" in documents_section(page.text)
    r = browser.get(action)
    assert r.status_code == 403
    said = "may change a document's 42 CFR Part 2 tag. Your role does not include it."
    assert said in html.unescape(r.text)
    before = count_events(db, grantee)
    r = post(browser, action, {"part2": "1", "reason": "It names RDAP treatment."}, "k" * 32)
    assert r.status_code == 403
    assert count_events(db, grantee) == before
    assert reported(client, auth, grantee, pid)["part2"] is False
