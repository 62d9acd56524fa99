"""A referral followed up from the console, by HTTP form posts against the real application and
PostgreSQL (frozen clock): handed to a case manager, then connected; another declined, and why.
Each page names the referral's resource and need; each refusal is a sentence beside its field
that appends nothing; a form sent twice records once; a closed referral offers no follow-up;
an auditor has no links and is refused the pages."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest

from services.projector import live as projector
from tests.conftest import count_events
from tests.console_helpers import beside, key_of, post, refusal, shown, sign_in

# Thursday 26 Nov 2026, 18:00 UTC.
NOW = datetime(2026, 11, 26, 18, 0, tzinfo=UTC)


@pytest.fixture
def referral(client, auth, db, grantee, enrol, frozen_at) -> dict[str, Any]:
    """A referral of Ann Lee to "Second Chance Jobs", made on 2 Nov 2026, still open."""
    frozen_at(NOW, tick=True)
    h = auth("coordinator", grantee)
    base = f"/v1/grantees/{grantee}"
    person = enrol(program_entry_date="2026-02-01")
    resource = client.post(
        f"{base}/resources",
        json={
            "name": "Second Chance Jobs",
            "category": "job_placement",
            "description": "Job placement for people with records",
            "contact": {"phone": "+1 312 555 0100"},
        },
        headers=h,
    )
    assert resource.status_code == 201, resource.text
    made = client.post(
        f"{base}/referrals",
        json={
            "participant_id": person["id"],
            "resource_id": resource.json()["id"],
            "need": "A warehouse job near the RRC",
            "made_at": "2026-11-02T15:00:00Z",
        },
        headers=h,
    )
    assert made.status_code == 201, made.text
    projector.drain(db, f"g_{grantee}")
    return {"id": made.json()["id"], "participant": person["id"], "base": base}


def api_referral(client, auth, grantee: str, referral_id: str) -> dict[str, Any]:
    r = client.get(
        f"/v1/grantees/{grantee}/referrals/{referral_id}", headers=auth("coordinator", grantee)
    )
    assert r.status_code == 200, r.text
    return dict(r.json())


def test_a_referral_is_handed_over_then_connected_from_the_participant_page(
    browser, client, auth, db, grantee, referral
):
    rid, pid = referral["id"], referral["participant"]
    sign_in(browser, "case_manager", grantee)
    page = browser.get(f"/console/participants/{pid}").text
    row = page.split('id="h-referrals"')[1].split("</section>")[0]
    assert "Second Chance Jobs" in row and "A warehouse job near the RRC" in row
    for step in ("handover", "connection", "decline"):
        assert f'href="/console/referrals/{rid}/{step}"' in row

    action = f"/console/referrals/{rid}/handover"
    form = browser.get(action)
    assert form.status_code == 200
    assert "referred to Second Chance Jobs on Mon 02 Nov 2026" in form.text
    assert "for: A warehouse job near the RRC." in form.text
    assert re.search(r'name="case_manager"[^>]*value=""', form.text)
    key = key_of(form.text, action)
    before = count_events(db, grantee)
    r = post(browser, action, {"case_manager": " ", "note": ""}, key)
    assert r.status_code in (400, 422), r.text
    assert beside(r, "case_manager"), refusal(r)
    assert count_events(db, grantee) == before
    handover = {"case_manager": "cm-rita", "note": "She asked for a woman case manager."}
    r = post(browser, action, handover, key)
    assert r.status_code == 303, refusal(r) if r.status_code != 303 else ""
    assert r.headers["location"] == f"/console/participants/{pid}#h-referrals"
    # Sent again (a double tap): recorded once.
    assert post(browser, action, handover, key).status_code == 303
    assert count_events(db, grantee) == before + 1
    assert api_referral(client, auth, grantee, rid)["case_manager"] == "cm-rita"
    projector.drain(db, f"g_{grantee}")
    page = shown(browser.get(f"/console/participants/{pid}").text)
    assert "Referral handed to cm-rita." in page and "Handed to cm-rita" in page
    # The same case manager again is the API's refusal, said beside the name.
    again = post(browser, action, handover, key_of(browser.get(action).text, action))
    assert again.status_code == 422
    assert beside(again, "case_manager") == "The referral is already with this case manager."
    assert count_events(db, grantee) == before + 1

    action = f"/console/referrals/{rid}/connection"
    key = key_of(browser.get(action).text, action)
    for day, said in (
        ("", "The day they connected: enter a date."),
        ("2026-11-01", "The connection date is before the referral was made."),
        ("2026-11-28", "The connection date lies in the future."),
    ):
        r = post(browser, action, {"connected_on": day, "note": ""}, key)
        assert r.status_code == 422, r.text
        assert beside(r, "connected_on") == said
    assert count_events(db, grantee) == before + 1
    connected = {"connected_on": "2026-11-20", "note": "Started an induction shift."}
    r = post(browser, action, connected, key)
    assert r.status_code == 303, refusal(r) if r.status_code != 303 else ""
    assert post(browser, action, connected, key).status_code == 303
    assert count_events(db, grantee) == before + 2
    assert api_referral(client, auth, grantee, rid)["status"] == "connected"
    projector.drain(db, f"g_{grantee}")
    page = shown(browser.get(f"/console/participants/{pid}").text)
    row = page.split('id="h-referrals"')[1].split("</section>")[0]
    assert "Connection recorded: the referral is connected." in page
    assert "Fri 20 Nov 2026" in row and "Started an induction shift." in row
    # Connected: no follow-up offered, and its pages say so without a form.
    assert f"/console/referrals/{rid}/" not in row
    closed = browser.get(f"/console/referrals/{rid}/decline")
    assert "This referral is connected already" in closed.text
    assert 'id="entry"' not in closed.text


def test_a_referral_is_declined_with_who_declined_it_and_why(
    browser, client, auth, db, grantee, referral
):
    rid, pid = referral["id"], referral["participant"]
    sign_in(browser, "case_manager", grantee)
    action = f"/console/referrals/{rid}/decline"
    form = browser.get(action).text
    assert "Second Chance Jobs" in form and "A warehouse job near the RRC" in form
    chosen = form.split('name="declined_by"')[1].split("</select>")[0]
    assert "selected" not in chosen
    key = key_of(form, action)
    before = count_events(db, grantee)
    r = post(browser, action, {"declined_on": "2026-11-20", "declined_by": "", "reason": ""}, key)
    assert r.status_code == 422
    assert beside(r, "declined_by") == "Declined by: choose one of the options."
    sent = {"declined_on": "2026-11-20", "declined_by": "participant", "reason": " "}
    r = post(browser, action, sent, key)
    assert r.status_code in (400, 422)
    assert beside(r, "reason"), refusal(r)
    assert count_events(db, grantee) == before
    sent["reason"] = "Found a job through a cousin."
    r = post(browser, action, sent, key)
    assert r.status_code == 303, refusal(r) if r.status_code != 303 else ""
    assert post(browser, action, sent, key).status_code == 303
    assert count_events(db, grantee) == before + 1
    assert api_referral(client, auth, grantee, rid)["status"] == "declined"
    projector.drain(db, f"g_{grantee}")
    page = shown(browser.get(f"/console/participants/{pid}").text)
    row = page.split('id="h-referrals"')[1].split("</section>")[0]
    assert "declined by participant: Found a job through a cousin." in row
    assert f"/console/referrals/{rid}/" not in row


def test_an_auditor_has_no_follow_up_links_and_is_refused_the_pages(browser, db, grantee, referral):
    rid, pid = referral["id"], referral["participant"]
    sign_in(browser, "auditor", grantee)
    page = browser.get(f"/console/participants/{pid}").text
    assert "Second Chance Jobs" in page
    assert "/console/referrals/" not in page
    before = count_events(db, grantee)
    for step, body in (
        ("handover", {"case_manager": "cm-rita"}),
        ("connection", {"connected_on": "2026-11-20"}),
        ("decline", {"declined_on": "2026-11-20", "declined_by": "resource", "reason": "Full"}),
    ):
        r = browser.get(f"/console/referrals/{rid}/{step}")
        assert r.status_code == 403
        assert "may record what came of a referral. Your role does not include it." in r.text
        assert post(browser, f"/console/referrals/{rid}/{step}", body, "k" * 32).status_code == 403
    assert count_events(db, grantee) == before
