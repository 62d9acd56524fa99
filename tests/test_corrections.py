"""Corrections and duplicates over HTTP with the real app and PostgreSQL: a misspelt name or
a wrong date corrected with a reason (events; the history shows before and after to staff,
not to a peer mentor; the access log records the command), a second enrolment of the same
person answered 409 with the existing record unless a reason is recorded, and entry dates
checked against the cohort."""

from __future__ import annotations

from typing import Any

import pytest

from services.projector import live as projector
from tests.mentoring_helpers import Api


@pytest.fixture
def api(client, auth, grantee, db) -> Api:
    return Api(client, auth, grantee, db)


DANA = {
    "first_name": "Dana",
    "last_name": "Reyes",
    "date_of_birth": "1988-03-14",
    "program_entry_date": "2026-02-02",
    "facility": "FCI-A",
    "cohort": "C1",
    "bop_register_number": "12345-678",
}


def access_rows(api: Api, action: str) -> list[tuple[Any, ...]]:
    return api.db.fetchall(
        f'SELECT subject, action, method, resources FROM "g_{api.slug}".access_log'
        " WHERE action = %s ORDER BY 1",
        (action,),
    )


def problem(r: Any, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    body: dict[str, Any] = r.json()
    assert body["code"] == code, body
    return body


def test_a_misspelt_name_and_a_wrong_date_are_corrected_with_a_reason(api):
    pid = api.post("/participants", DANA)["id"]
    out = api.post(
        f"/participants/{pid}/corrections",
        {"last_name": "Reyes-Ortiz", "date_of_birth": "1988-03-15", "reason": "ID card seen"},
    )
    assert (out["last_name"], out["date_of_birth"]) == ("Reyes-Ortiz", "1988-03-15")
    assert out["first_name"] == "Dana" and out["bop_register_number"] == "12345-678"
    out = api.post(
        f"/participants/{pid}/corrections",
        {"program_entry_date": "2026-01-20", "reason": "keyed the release date by mistake"},
    )
    assert out["program_entry_date"] == "2026-01-20"

    # The history shows before and after to staff ...
    events = api.get(f"/participants/{pid}/history")["events"]
    corrected = next(e for e in events if e["type"] == "PersonalDetailsCorrected")
    assert corrected["data"]["fields"] == ["last_name", "date_of_birth"]
    assert corrected["data"]["before"] == {"last_name": "Reyes", "date_of_birth": "1988-03-14"}
    assert corrected["data"]["after"] == {
        "last_name": "Reyes-Ortiz",
        "date_of_birth": "1988-03-15",
    }
    assert corrected["data"]["reason"] == "ID card seen"
    entry = next(e for e in events if e["type"] == "EntryDateCorrected")
    assert entry["data"]["before"] == {"program_entry_date": "2026-02-02"}
    assert entry["data"]["after"] == {"program_entry_date": "2026-01-20"}
    # ... and to an auditor.
    audited = api.get(f"/participants/{pid}/history", role="auditor")["events"]
    assert next(e for e in audited if e["type"] == "PersonalDetailsCorrected")["data"]["before"]

    # The views follow the correction; the search finds the corrected name.
    projector.drain(api.db, f"g_{api.slug}")
    row = api.get("/participants", q="reyes-ortiz")["items"]
    assert [(r["last_name"], r["program_entry_date"]) for r in row] == [
        ("Reyes-Ortiz", "2026-01-20")
    ]

    # The access log has a row for each correction (the answer carries personal data).
    rows = access_rows(api, "participants.correct")
    assert len(rows) == 2
    assert all(r[2] == "POST" and r[3]["participant_id"] == pid for r in rows)


def test_corrections_are_refused_with_their_rules(api):
    pid = api.post("/participants", DANA)["id"]
    path = f"/participants/{pid}/corrections"
    api.refused(path, {"reason": "nothing"}, "nothing_to_correct")
    api.refused(path, {"last_name": "Reyes", "reason": "same"}, "nothing_to_correct")
    api.refused(path, {"last_name": "Ortiz", "reason": "  "}, "reason_required")
    api.refused(
        path, {"date_of_birth": "2020-01-01", "reason": "typo"}, "implausible_date_of_birth"
    )
    # Cohort C1 began on 2026-01-05: more than 30 days before it is not an entry date.
    api.refused(path, {"program_entry_date": "2025-05-01", "reason": "typo"}, "entry_before_cohort")
    api.move(pid, 2, placement="rrc", facility="RRC-1", at="2026-03-02T09:00:00Z")
    api.refused(
        path, {"program_entry_date": "2026-03-10", "reason": "typo"}, "entry_after_later_dates"
    )
    # Only staff correct.
    r = api.client.post(
        api.base + path,
        json={"last_name": "Ortiz", "reason": "x"},
        headers=api.headers("auditor"),
    )
    problem(r, 403, "forbidden")


def test_a_peer_mentor_sees_what_changed_but_not_the_values(api):
    from tests.mentoring_helpers import graduates_and_newcomers

    (grad,), (mentee,) = graduates_and_newcomers(api, 1, 1)
    mentor = api.certified("Gus G.", participant_id=grad, subject="gus")
    api.pair(mentor, [mentee])
    api.post(f"/participants/{mentee}/corrections", {"first_name": "Nora", "reason": "typo"})
    events = api.get(f"/participants/{mentee}/history", role="peer_mentor", sub="gus")["events"]
    corrected = next(e for e in events if e["type"] == "PersonalDetailsCorrected")
    assert corrected["data"] == {"fields": ["first_name"]}


def test_the_same_person_enrolled_twice_is_a_409_unless_a_reason_is_recorded(api):
    first = api.post("/participants", DANA)
    # Same register number, another name.
    r = api.client.post(
        api.base + "/participants",
        json={**DANA, "first_name": "Dan", "last_name": "Rey"},
        headers=api.headers(),
    )
    body = problem(r, 409, "possible_duplicate")
    assert body["existing"] == [
        {"participant_id": first["id"], "number": first["number"], "rule": "same_register_number"}
    ]
    assert "Reyes" not in r.text  # ids and numbers, never names
    # Same name (case and accents ignored) and date of birth, no register number.
    twin = {k: v for k, v in DANA.items() if k != "bop_register_number"}
    r = api.client.post(
        api.base + "/participants",
        json={**twin, "first_name": "DÁNA"},
        headers=api.headers(),
    )
    assert problem(r, 409, "possible_duplicate")["existing"][0]["rule"] == (
        "same_name_and_birth_date"
    )
    before = api.events()
    assert before == api.events()
    # Overridden with a recorded reason.
    second = api.post(
        "/participants", {**twin, "duplicate_reason": "a different person: twin brother"}
    )
    history = api.get(f"/participants/{second['id']}/history")["events"]
    assert history[0]["data"]["duplicate_reason"] == "a different person: twin brother"


def test_an_entry_date_months_before_the_cohort_is_refused_at_enrolment(api):
    api.refused(
        "/participants",
        {**DANA, "program_entry_date": "2025-05-05"},
        "entry_before_cohort",
    )
    # Within the intake grace (30 days before 2026-01-05) it is accepted.
    assert api.post("/participants", {**DANA, "program_entry_date": "2025-12-10"})["id"]


def test_a_mentors_name_is_corrected_with_a_reason(api):
    mentor = api.register("Marcus W")
    mid = mentor["id"]
    out = api.post(
        f"/mentors/{mid}/corrections", {"display_name": "Marcus Wélls", "reason": "typo"}
    )
    assert out["display_name"] == "Marcus Wélls"
    api.refused(
        f"/mentors/{mid}/corrections",
        {"display_name": "Marcus Wélls", "reason": "again"},
        "nothing_to_correct",
    )
    api.refused(
        f"/mentors/{mid}/corrections", {"display_name": "M", "reason": " "}, "reason_required"
    )
    projector.drain(api.db, f"g_{api.slug}")
    assert [m["id"] for m in api.get("/mentors", q="wells")["items"]] == [mid]
    r = api.client.post(
        f"{api.base}/mentors/{mid}/corrections",
        json={"display_name": "X", "reason": "x"},
        headers=api.headers("peer_mentor"),
    )
    assert r.status_code == 403
