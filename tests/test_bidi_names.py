"""Names refuse the invisible bidirectional controls; free text keeps them; names stored before
still load and are shown isolated (docs/decisions.md 130).

A name holding U+202E RIGHT-TO-LEFT OVERRIDE is drawn reversed (and reverses what follows it on
the line), so one record can be made to read as another: names, titles and other labels that
tell records apart refuse these characters at the door with 422 `invalid_text`, naming the field
and the code point. Free text keeps them (right-to-left writing pasted from a word processor
carries embeddings), and the console isolates each value it shows in `<bdi>`."""

from __future__ import annotations

import html
import re
from datetime import date
from typing import Any

import pytest

from domain.facilities import FacilityKind
from domain.mentors import MentorSource, RecruitmentChannel
from domain.participants import PersonalDetails
from services.projector import live as projector
from services.store.ledger import Command
from tests.conftest import count_events
from tests.console_helpers import beside, key_of, post, sign_in

ANN = {
    "first_name": "Ann",
    "last_name": "Lee",
    "date_of_birth": "1990-04-01",
    "program_entry_date": "2026-02-01",
    "facility": "FCI-A",
    "cohort": "C1",
}
# Embeddings and overrides, isolates, and the three marks.
BIDI = ["\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2068", "\u2069"]
MARKS = ["\u200e", "\u200f", "\u061c"]
SPOOF = "Ann\u202eeeL"  # drawn as "AnnLee"


def refused(r: Any, field: str, char: str) -> None:
    code = f"U+{ord(char):04X}"
    assert r.status_code == 422, r.text
    problem = r.json()
    assert r.headers["content-type"].startswith("application/problem+json")
    assert problem["code"] == "invalid_text"
    (error,) = [e for e in problem["errors"] if e["key"] == field]
    assert error["character"] == code
    assert code in error["message"] and error["message"].startswith(field)
    assert problem["detail"].startswith(field) and code in problem["detail"]
    assert "bidirectional" in problem["detail"]


@pytest.mark.parametrize("char", BIDI + MARKS)
def test_a_bidi_control_in_a_name_is_a_422_naming_the_field_and_code_point(
    client, auth, grantee, db, char
):
    h = auth("coordinator", grantee)
    before = count_events(db, grantee)
    calls = [
        ("/participants", {**ANN, "first_name": f"Ann{char}Lee"}, "first_name"),
        ("/participants", {**ANN, "last_name": f"Lee{char}"}, "last_name"),
        (
            "/facilities",
            {"code": "FCI-N", "name": f"FCI{char}N", "kind": "bop_institution"},
            "name",
        ),
        (
            "/mentors",
            {
                "display_name": f"Sam{char}",
                "source": "community_peer",
                "channel": "staff_referral",
            },
            "display_name",
        ),
    ]
    for path, body, field in calls:
        refused(client.post(f"/v1/grantees/{grantee}{path}", json=body, headers=h), field, char)
    assert count_events(db, grantee) == before


def test_every_kind_of_name_refuses_them(client, auth, grantee, db, enrol):
    """A correction of a name, a mentor's other people, an outcome's names, a document's
    title (a form, not JSON): each refuses U+202E the same way."""
    pid = enrol()["id"]
    mentor = client.post(
        f"/v1/grantees/{grantee}/mentors",
        json={"display_name": "Sam", "source": "community_peer", "channel": "staff_referral"},
        headers=auth("coordinator", grantee),
    ).json()["id"]
    before = count_events(db, grantee)
    h = auth("coordinator", grantee)
    base = f"/v1/grantees/{grantee}"
    calls = [
        (
            f"/participants/{pid}/corrections",
            {"reason": "typo", "last_name": SPOOF},
            "last_name",
        ),
        (
            f"/mentors/{mentor}/screening-steps",
            {"step": "application", "completed_on": "2026-02-01", "staff": SPOOF},
            "staff",
        ),
        (
            f"/participants/{pid}/outcomes/employment",
            {
                "employer": SPOOF,
                "started_on": "2026-02-01",
                "wage": "15.00",
                "wage_unit": "hourly",
            },
            "employer",
        ),
    ]
    for path, body, field in calls:
        r = client.post(base + path, json=body, headers=h)
        refused(r, field, "\u202e")
    r = client.post(
        f"{base}/participants/{pid}/documents",
        files={"file": ("a.pdf", b"%PDF-1.7\n%%EOF\n", "application/pdf")},
        data={"title": SPOOF, "kind": "release_papers"},
        headers=auth("case_manager", grantee),
    )
    refused(r, "title", "\u202e")
    assert count_events(db, grantee) == before


def test_free_text_keeps_bidi_controls(client, auth, grantee, db, enrol):
    """A note in Arabic pasted from a word processor, with its embedding, is taken as written."""
    pid = enrol()["id"]
    arabic = "\u0645\u0631\u062d\u0628\u0627 \u0628\u0643\u0645"
    hebrew = "\u05e9\u05dc\u05d5\u05dd"
    text = f"Called the family: \u202b{arabic}\u202c, and \u2067{hebrew}\u2069 on Monday."
    r = client.post(
        f"/v1/grantees/{grantee}/participants/{pid}/case-notes",
        json={"text": text},
        headers=auth("case_manager", grantee),
    )
    assert r.status_code == 201, r.text
    projector.drain(db, f"g_{grantee}")
    listed = client.get(
        f"/v1/grantees/{grantee}/participants/{pid}/case-notes",
        headers=auth("case_manager", grantee),
    ).json()["items"]
    assert [n["text"] for n in listed] == [text]


def test_a_name_in_another_script_and_joiners_are_names(client, auth, grantee):
    """Only the bidirectional controls are refused: Arabic or Hebrew letters, and the zero-width
    non-joiner Persian writing needs, are part of names."""
    r = client.post(
        f"/v1/grantees/{grantee}/participants",
        json={
            **ANN,
            "first_name": "\u0645\u062d\u0645\u062f",
            "last_name": "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645",
        },
        headers=auth("coordinator", grantee),
    )
    assert r.status_code == 201, r.text


def store_spoofed(app: Any, slug: str) -> dict[str, Any]:
    """What an earlier version accepted over HTTP: an override in a participant's name (an
    encrypted personal field), a facility's name and a mentor's display name."""
    tenant = app.state.tenancy.app(slug)
    participant = tenant.participants.enroll_participant(
        Command(),
        personal=PersonalDetails(first_name=SPOOF, last_name="Lee", date_of_birth=date(1990, 4, 1)),
        program_entry_date=date(2026, 2, 1),
        facility_code="FCI-A",
        cohort_code="C1",
        number="BIDI1",
    )
    tenant.facilities.register_facility(
        Command(), code="FCI-N", name="FCI\u202eN", kind=FacilityKind.RRC
    )
    mentor = tenant.mentors.register_mentor(
        Command(),
        display_name="Sam\u2067X",
        source=MentorSource.COMMUNITY_PEER,
        channel=RecruitmentChannel.STAFF_REFERRAL,
    )
    return {"participant": str(participant.aggregate.id), "mentor": str(mentor.aggregate.id)}


def test_names_stored_before_still_load_and_project(app, client, auth, db, grantee):
    ids = store_spoofed(app, grantee)
    projector.drain(db, f"g_{grantee}")
    h = auth("coordinator", grantee)
    base = f"/v1/grantees/{grantee}"
    r = client.get(f"{base}/participants/{ids['participant']}", headers=h)
    assert r.status_code == 200, r.text
    assert r.json()["first_name"] == SPOOF
    assert SPOOF in {
        p["first_name"] for p in client.get(f"{base}/participants", headers=h).json()["items"]
    }
    assert "FCI\u202eN" in {
        f["name"] for f in client.get(f"{base}/facilities", headers=h).json()["items"]
    }
    r = client.get(f"{base}/mentors/{ids['mentor']}", headers=h)
    assert r.status_code == 200 and r.json()["display_name"] == "Sam\u2067X", r.text
    # The record stays usable: its other fields can be corrected without retyping the name.
    r = client.post(
        f"{base}/participants/{ids['participant']}/corrections",
        json={"reason": "the name as the ID card reads", "first_name": "Ann"},
        headers=h,
    )
    assert r.status_code in (200, 201), r.text


def test_the_console_isolates_each_name_and_note_it_shows(app, browser, db, grantee):
    """A name stored with an override is shown in its own `<bdi>`, so it cannot reorder the
    rest of the line (the caseload's "Lee, Ann…", the page heading, the mentor list)."""
    ids = store_spoofed(app, grantee)
    projector.drain(db, f"g_{grantee}")
    sign_in(browser, "coordinator", grantee)
    spoof = html.escape(SPOOF)
    caseload = browser.get("/console/caseload?whose=all")
    assert caseload.status_code == 200, caseload.text
    assert f"<bdi>Lee</bdi>, <bdi>{spoof}</bdi></a>" in caseload.text
    page = browser.get(f"/console/participants/{ids['participant']}")
    assert page.status_code == 200, page.text
    assert f"<h1><bdi>{spoof}</bdi> <bdi>Lee</bdi>" in page.text
    mentors = browser.get("/console/mentors")
    assert mentors.status_code == 200, mentors.text
    assert "<bdi>Sam\u2067X</bdi>" in mentors.text
    # No bidirectional character of a value is outside a <bdi> of its own.
    for text in (caseload.text, page.text, mentors.text):
        outside = re.sub(r"<bdi>[^<]*</bdi>", "", text)
        assert not re.search("[\u202a-\u202e\u2066-\u2069]", outside)


def test_the_console_form_says_the_refusal_beside_the_name(browser, client, auth, grantee, db):
    """The enrolment form sends the name to the API, which refuses it; the sentence is beside
    the field, naming the character, and nothing is appended."""
    sign_in(browser, "coordinator", grantee)
    projector.drain(db, f"g_{grantee}")
    form = browser.get("/console/enrol")
    assert form.status_code == 200, form.text
    before = count_events(db, grantee)
    r = post(
        browser,
        "/console/enrol",
        {
            "first_name": SPOOF,
            "last_name": "Lee",
            "date_of_birth": "1984-06-02",
            "bop_register_number": "",
            "program_entry_date": "2026-02-01",
            "facility": "FCI-A",
            "cohort": "C1",
            "ex_offender_at_entry": "yes",
        },
        key_of(form.text, "/console/enrol"),
    )
    assert r.status_code == 422, r.text
    said = beside(r, "first_name")
    assert said.startswith("First name takes a name on one line"), said
    assert "U+202E RIGHT-TO-LEFT OVERRIDE" in said
    assert count_events(db, grantee) == before


@pytest.mark.parametrize("name", ["\u200b", "\u0301", "\u200b\u0301 ", "\u2060"])
def test_a_name_with_no_letter_is_missing(client, auth, grantee, db, enrol, name):
    """A zero-width space, a combining mark with nothing to combine with, a word joiner: no one
    is named so and no search finds them. A participant's names and a mentor's display name
    are refused as missing (422 `missing_name`), at enrolment, registration and correction;
    the log is unchanged."""
    pid = enrol()["id"]
    mentor = client.post(
        f"/v1/grantees/{grantee}/mentors",
        json={"display_name": "Sam", "source": "community_peer", "channel": "staff_referral"},
        headers=auth("coordinator", grantee),
    ).json()["id"]
    h = auth("coordinator", grantee)
    before = count_events(db, grantee)
    calls = [
        ("/participants", {**ANN, "first_name": name}),
        ("/participants", {**ANN, "last_name": name}),
        (f"/participants/{pid}/corrections", {"reason": "typo", "first_name": name}),
        (
            "/mentors",
            {"display_name": name, "source": "community_peer", "channel": "staff_referral"},
        ),
        (f"/mentors/{mentor}/corrections", {"reason": "typo", "display_name": name}),
    ]
    for path, body in calls:
        r = client.post(f"/v1/grantees/{grantee}{path}", json=body, headers=h)
        assert r.status_code == 422, (path, r.text)
        assert r.json()["code"] == "missing_name", (path, r.text)
    assert count_events(db, grantee) == before
    # A name in any script, with its combining marks, is a name.
    ok = client.post(
        f"/v1/grantees/{grantee}/participants",
        json={**ANN, "first_name": "Zoe\u0301", "last_name": "李", "duplicate_reason": "test"},
        headers=h,
    )
    assert ok.status_code == 201, ok.text
