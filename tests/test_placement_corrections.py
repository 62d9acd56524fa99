"""Placement corrections over HTTP with the real app and PostgreSQL (issue 21, point 2): a
cohort, institution or RRC recorded wrongly is corrected with a reason (an event, not a move);
the history shows before and after to staff and an auditor, only the field names to a peer
mentor; the access log records the command; the corrected placement is checked against the
cohort's start and facility; the RRC view follows it (the RRC first recorded stops seeing the
resident) and equals a rebuild; the caseload and the oversight facts follow it too."""

from __future__ import annotations

from typing import Any

import pytest

from services.projector import live as projector
from services.projector import rebuilds
from tests.mentoring_helpers import Api


@pytest.fixture
def api(client: Any, auth: Any, grantee: str, db: Any) -> Api:
    api = Api(client, auth, grantee, db)
    api.facility("RRC-2")
    api.cohort("C3", "2026-01-12")  # at FCI-A, like C1 (from 2026-01-05)
    api.cohort("B1", "2026-01-05", facility="FCI-B")
    return api


def correct(api: Api, pid: str, **body: Any) -> Any:
    return api.post(f"/participants/{pid}/corrections", body)


def access_rows(api: Api) -> list[tuple[Any, ...]]:
    return api.db.fetchall(
        f'SELECT subject, method, resources FROM "g_{api.slug}".access_log'
        " WHERE action = 'participants.correct' ORDER BY id",
    )


def rrc_residents(api: Api, rrc: str) -> list[str]:
    h = api.auth("rrc_staff", api.slug, sub="rrc-desk", rrc=rrc)
    r = api.client.get(f"{api.base}/rrc/{rrc}/residents", headers=h)
    assert r.status_code == 200, r.text
    return [row["participant_id"] for row in r.json()["items"]]


def test_a_wrong_cohort_and_institution_are_corrected_with_before_and_after(api: Api) -> None:
    pid = api.enrol("C1", "2026-02-02")
    out = correct(api, pid, cohort="B1", facility="FCI-B", reason="keyed the wrong class")
    assert (out["cohort"], out["facility"], out["stage"]) == ("B1", "FCI-B", 1)

    history = api.get(f"/participants/{pid}/history")["events"]
    fixed = next(e for e in history if e["type"] == "PlacementCorrected")
    assert fixed["data"] == {
        "fields": ["cohort", "facility"],
        "before": {"cohort": "C1", "facility": "FCI-A"},
        "after": {"cohort": "B1", "facility": "FCI-B"},
        "reason": "keyed the wrong class",
    }
    audited = api.get(f"/participants/{pid}/history", role="auditor")["events"]
    assert next(e for e in audited if e["type"] == "PlacementCorrected")["data"]["before"]

    rows = access_rows(api)
    assert len(rows) == 1
    assert rows[0][1] == "POST" and rows[0][2]["participant_id"] == pid

    # The caseload and the oversight facts follow the correction.
    projector.drain(api.db, f"g_{api.slug}")
    row = api.get("/participants", cohort="B1")["items"]
    assert [(r["id"], r["cohort"], r["facility"]) for r in row] == [(pid, "B1", "FCI-B")]
    assert api.get("/participants", cohort="C1")["items"] == []
    facts = api.db.fetchall(
        f'SELECT cohort_code FROM "g_{api.slug}".ov_participants_b1 WHERE participant_id = %s',
        (pid,),
    )
    assert facts == [("B1",)]


def test_placement_corrections_are_refused_with_their_rules(api: Api) -> None:
    pid = api.enrol("C1", "2026-01-06")
    path = f"/participants/{pid}/corrections"
    api.refused(path, {"cohort": "C1", "reason": "same"}, "nothing_to_correct")
    api.refused(path, {"cohort": "C3", "reason": "  "}, "reason_required")
    # In stage 1 before any move the cohort meets at the institution.
    api.refused(path, {"cohort": "B1", "reason": "typo"}, "cohort_at_other_facility")
    api.refused(path, {"facility": "FCI-B", "reason": "typo"}, "cohort_at_other_facility")
    api.refused(path, {"facility": "RRC-1", "reason": "typo"}, "facility_wrong_kind")
    # A cohort that began long after the entry date; the corrected entry date is the one checked.
    api.cohort("C9", "2026-06-01")
    api.refused(path, {"cohort": "C9", "reason": "typo"}, "entry_before_cohort")
    out = correct(api, pid, cohort="C9", program_entry_date="2026-06-01", reason="late intake")
    assert (out["cohort"], out["program_entry_date"]) == ("C9", "2026-06-01")
    # A cohort that graduated before the entry date.
    api.cohort("C0", "2025-06-01")
    api.graduate("C0", "2026-01-02")
    api.refused(path, {"cohort": "C0", "reason": "typo"}, "cohort_graduated")
    # An unknown cohort is not found; only staff correct.
    r = api.client.post(
        api.base + path, json={"cohort": "NOPE", "reason": "x"}, headers=api.headers()
    )
    assert r.status_code == 404, r.text
    r = api.client.post(
        api.base + path, json={"cohort": "C3", "reason": "x"}, headers=api.headers("auditor")
    )
    assert r.status_code == 403, r.text
    # In the community there is no facility to correct.
    api.move(pid, 3, placement="community", at="2026-08-03T09:00:00Z")
    api.refused(path, {"facility": "RRC-1", "reason": "typo"}, "facility_not_allowed")


def test_the_rrc_view_follows_a_corrected_rrc(api: Api) -> None:
    pid = api.enrol("C1", "2026-02-02")
    other = api.enrol("C1", "2026-02-02", first_name="Bo")
    api.move(pid, 2, placement="rrc", facility="RRC-1", at="2026-08-03T09:00:00Z")
    api.move(other, 2, placement="rrc", facility="RRC-1", at="2026-08-03T09:00:00Z")
    for who in (pid, other):
        # Served within 90 days of leaving class: not a derived exit (decision 97).
        api.post(
            f"/participants/{who}/case-contacts", {"contacted_on": "2026-10-01", "mode": "phone"}
        )
    projector.drain(api.db, f"g_{api.slug}")
    assert sorted(rrc_residents(api, "RRC-1")) == sorted([pid, other])
    assert rrc_residents(api, "RRC-2") == []

    # The BOP institution is not an RRC: refused while at an RRC.
    api.refused(
        f"/participants/{pid}/corrections",
        {"facility": "FCI-A", "reason": "typo"},
        "facility_wrong_kind",
    )
    out = correct(api, pid, facility="RRC-2", reason="the transfer order named RRC-2")
    assert (out["stage"], out["placement"], out["facility"]) == (2, "rrc", "RRC-2")
    projector.drain(api.db, f"g_{api.slug}")
    # RRC-1 no longer sees the participant; RRC-2 does, from the arrival recorded.
    assert rrc_residents(api, "RRC-1") == [other]
    assert rrc_residents(api, "RRC-2") == [pid]
    h = api.auth("rrc_staff", api.slug, sub="rrc-desk", rrc="RRC-1")
    r = api.client.get(f"{api.base}/rrc/RRC-1/residents/{pid}", headers=h)
    assert r.status_code == 404
    history = api.get(f"/participants/{pid}/history")["events"]
    fixed = next(e for e in history if e["type"] == "PlacementCorrected")
    assert fixed["data"]["before"] == {"facility": "RRC-1"}
    assert fixed["data"]["after"] == {"facility": "RRC-2"}

    # Every view equals a rebuild from the log.
    schema = f"g_{api.slug}"
    before = projector.digests(api.db, schema)
    for view in ("rrc", "caseload", "oversight"):
        rebuilds.rebuild(api.db, schema, view)
    assert projector.digests(api.db, schema) == before
    assert rrc_residents(api, "RRC-2") == [pid]


def test_a_peer_mentor_sees_which_placement_field_changed_but_not_the_values(api: Api) -> None:
    from tests.mentoring_helpers import graduates_and_newcomers

    (grad,), (mentee,) = graduates_and_newcomers(api, 1, 1)
    mentor = api.certified("Gus G.", participant_id=grad, subject="gus")
    api.pair(mentor, [mentee])
    correct(api, mentee, cohort="C3", reason="typo")
    events = api.get(f"/participants/{mentee}/history", role="peer_mentor", sub="gus")["events"]
    fixed = next(e for e in events if e["type"] == "PlacementCorrected")
    assert fixed["data"] == {"fields": ["cohort"]}


def test_a_corrected_rrc_tells_both_rrc_systems(hooks: Any, receiver: Any) -> None:
    first = hooks.endpoint(receiver.url, facility="RRC-1")
    second = hooks.endpoint(receiver.url, facility="RRC-2")
    pid = hooks.resident("RRC-1")
    hooks.post(
        f"/participants/{pid}/corrections",
        {"facility": "RRC-2", "reason": "the transfer order named RRC-2"},
    )
    hooks.fill()
    assert [r[4] for r in hooks.deliveries(first["id"])] == [
        "participant.arrived_at_rrc",
        "participant.left_rrc",
    ]
    assert [r[4] for r in hooks.deliveries(second["id"])] == ["participant.arrived_at_rrc"]
