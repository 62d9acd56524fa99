"""Resources and referrals: the grantee's directory, referrals made (possibly from a meeting),
connected or declined, handed to a case manager; peer mentors refer only their own mentees and
hand case-management work to a case manager."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import uuid4

import pytest

from tests.test_supervision import MENTOR_SUB, SupApi, World, ago, day, today, world


@pytest.fixture
def w(client, auth, grantee, db) -> World:
    return world(SupApi(client, auth, grantee, db))


def resource(api: SupApi, name: str = "Second Chance Staffing", **extra: Any) -> str:
    body = {"name": name, "category": "job_placement", **extra}
    return str(api.post("/resources", body)["id"])


def as_peer(api: SupApi, path: str, body: dict[str, Any]) -> Any:
    return api.client.post(
        api.base + path, json=body, headers=api.headers("peer_mentor", MENTOR_SUB)
    )


# -- the directory ---------------------------------------------------------------------------
def test_the_directory_lists_changes_and_withdraws_resources(w):
    api = w.api
    jobs = api.post(
        "/resources",
        {
            "name": "Second Chance Staffing",
            "category": "job_placement",
            "description": "fair-chance employers",
            "contact": {"phone": "555-0142"},
        },
    )
    assert (jobs["contact"]["phone"], jobs["withdrawn"]) == ("555-0142", False)
    legal = resource(api, "Legal Aid Society", category="legal_aid", requires_case_manager=True)
    recovery = resource(api, "Hope Recovery Group", category="recovery")
    changed = api.post(
        f"/resources/{jobs['id']}/changes",
        {"name": "Second Chance Staffing Co.", "contact": {"phone": "555-0199"}},
        role="grantee_admin",
    )
    assert (changed["name"], changed["contact"]["phone"]) == (
        "Second Chance Staffing Co.",
        "555-0199",
    )
    gone = api.post(f"/resources/{recovery}/withdrawal", {"reason": "closed down"})
    assert gone["withdrawn"] is True

    rows = api.view("/resources", gone["position"], role="peer_mentor")["items"]
    assert {r["name"] for r in rows} == {"Second Chance Staffing Co.", "Legal Aid Society"}
    everything = api.view("/resources", gone["position"], include_withdrawn="true")["items"]
    assert len(everything) == 3
    legal_only = api.view("/resources", gone["position"], category="legal_aid")["items"]
    assert [(r["id"], r["requires_case_manager"]) for r in legal_only] == [(legal, True)]
    assert api.get(f"/resources/{recovery}", role="rrc_staff")["withdrawn"] is True
    api.get("/resources", role="federal_oversight", expect=403)
    api.post("/resources", {"name": "X", "category": "other"}, role="case_manager", status=403)


def test_directory_refusals_name_the_rule(w):
    api = w.api
    api.refused("/resources", {"name": "   ", "category": "housing"}, "missing_name")
    rid = resource(api)
    api.refused(f"/resources/{rid}/changes", {"name": " "}, "missing_name")
    api.refused(f"/resources/{rid}/withdrawal", {"reason": "  "}, "reason_required")
    api.post(f"/resources/{rid}/withdrawal", {"reason": "closed"})
    api.refused(f"/resources/{rid}/withdrawal", {"reason": "closed"}, "resource_withdrawn")
    api.refused(f"/resources/{rid}/changes", {"name": "Reopened"}, "resource_withdrawn")


# -- referrals -------------------------------------------------------------------------------
def referral(w: World, rid: str, **extra: Any) -> dict[str, Any]:
    return {
        "participant_id": w.mentee,
        "resource_id": rid,
        "need": "a fair-chance employer",
        **extra,
    }


def test_a_referral_is_made_then_connected_or_declined(w):
    api = w.api
    rid = resource(api)
    meeting = api.post(
        "/meetings",
        # Three hours after the match (opened now): a meeting is never before it.
        {"pairing_id": w.pairing, "scheduled_for": ago(hours=-3), "location": {"kind": "off_site"}},
    )["id"]
    made = api.post(
        "/referrals", referral(w, rid, meeting_id=meeting, made_at=ago(days=2)), role="case_manager"
    )
    assert (made["status"], made["made_by"], made["meeting_id"]) == (
        "made",
        "test-case_manager",
        meeting,
    )
    connected = api.post(
        f"/referrals/{made['id']}/connection", {"connected_on": day(1), "note": "interview Monday"}
    )
    assert connected["status"] == "connected"
    second = api.post("/referrals", referral(w, rid, participant_id=w.stranger))
    declined = api.post(
        f"/referrals/{second['id']}/decline",
        {"declined_on": day(0), "declined_by": "participant", "reason": "found work himself"},
    )
    assert declined["status"] == "declined"

    rows = {r["id"]: r for r in api.view("/referrals", declined["position"])["items"]}
    assert (
        rows[made["id"]]["status"],
        rows[made["id"]]["outcome_on"],
        rows[made["id"]]["category"],
    ) == ("connected", day(1), "job_placement")
    assert (rows[second["id"]]["declined_by"], rows[second["id"]]["outcome_note"]) == (
        "participant",
        "found work himself",
    )
    by_meeting = api.view("/referrals", declined["position"], meeting_id=meeting)["items"]
    assert [r["id"] for r in by_meeting] == [made["id"]]
    declined_only = api.view("/referrals", declined["position"], status="declined")["items"]
    assert [r["id"] for r in declined_only] == [second["id"]]
    directory = api.view("/resources", declined["position"])["items"]
    assert (directory[0]["referrals"], directory[0]["connected"]) == (2, 1)
    assert api.get(f"/referrals/{made['id']}", role="auditor")["status"] == "connected"


def test_a_referral_is_handed_to_a_case_manager(w):
    api = w.api
    rid = resource(api, "Legal Aid Society", category="legal_aid", requires_case_manager=True)
    made = api.post("/referrals", referral(w, rid, need="an old warrant", case_manager="cm-ana"))
    assert made["case_manager"] == "cm-ana"
    moved = api.post(
        f"/referrals/{made['id']}/handover", {"case_manager": "cm-ben", "note": "Ana is on leave"}
    )
    assert (moved["case_manager"], moved["status"]) == ("cm-ben", "made")
    rows = api.view("/referrals", moved["position"], case_manager="cm-ben")["items"]
    assert [r["id"] for r in rows] == [made["id"]]


def test_referral_refusals_name_the_rule(w):
    api = w.api
    rid = resource(api)
    api.refused("/referrals", referral(w, rid, need="  "), "need_required")
    tomorrow = (today() + timedelta(days=2)).isoformat()
    api.refused("/referrals", referral(w, rid, made_at=tomorrow + "T09:00:00Z"), "in_future")
    api.refused(
        "/referrals", referral(w, rid, made_at="2026-01-10T09:00:00Z"), "before_program_entry"
    )
    made = api.post("/referrals", referral(w, rid, made_at=ago(days=3)))["id"]
    path = f"/referrals/{made}"
    api.refused(f"{path}/connection", {"connected_on": day(5)}, "before_referral")
    api.refused(f"{path}/connection", {"connected_on": tomorrow}, "in_future")
    api.refused(
        f"{path}/decline",
        {"declined_on": day(1), "declined_by": "resource", "reason": " "},
        "reason_required",
    )
    api.refused(f"{path}/handover", {"case_manager": "  "}, "case_manager_required")
    api.post(f"{path}/handover", {"case_manager": "cm-ana"})
    api.refused(f"{path}/handover", {"case_manager": "cm-ana"}, "already_handed_over")
    api.post(
        f"{path}/decline",
        {"declined_on": day(1), "declined_by": "resource", "reason": "waiting list full"},
    )
    api.refused(f"{path}/connection", {"connected_on": day(0)}, "referral_closed")
    api.refused(f"{path}/handover", {"case_manager": "cm-ben"}, "referral_closed")
    api.post(f"/resources/{rid}/withdrawal", {"reason": "closed"})
    api.refused("/referrals", referral(w, rid), "resource_withdrawn")
    other = resource(api, "Open Door Housing", category="housing")
    api.post(f"/participants/{w.stranger}/exit", {"exit_date": day(0), "reason": "relocated"})
    api.refused("/referrals", referral(w, other, participant_id=w.stranger), "participant_exited")
    before = api.events()
    for body in (
        referral(w, other, meeting_id=str(uuid4())),
        referral(w, str(uuid4())),
        referral(w, other, participant_id=str(uuid4())),
    ):
        r = api.client.post(api.base + "/referrals", json=body, headers=api.headers())
        assert (r.status_code, r.json()["code"]) == (404, "not_found"), r.text
    assert api.events() == before


def test_a_peer_mentor_refers_own_mentees_and_hands_case_management_to_a_case_manager(w):
    api = w.api
    jobs = resource(api)
    legal = resource(api, "Legal Aid Society", category="legal_aid", requires_case_manager=True)
    r = as_peer(api, "/referrals", referral(w, jobs))
    assert r.status_code == 201, r.text
    mine = r.json()
    assert mine["made_by"] == MENTOR_SUB
    staff_made = api.post("/referrals", referral(w, jobs, participant_id=w.stranger))

    before = api.events()
    r = as_peer(api, "/referrals", referral(w, jobs, participant_id=w.stranger))
    assert r.status_code == 404, r.text
    r = as_peer(api, f"/referrals/{staff_made['id']}/connection", {"connected_on": day(0)})
    assert r.status_code == 404, r.text
    r = as_peer(api, "/referrals", referral(w, legal, need="an old warrant"))
    assert (r.status_code, r.json()["code"]) == (422, "case_manager_required"), r.text
    assert api.events() == before
    r = as_peer(api, "/referrals", referral(w, legal, need="an old warrant", case_manager="cm-ana"))
    assert r.status_code == 201, r.text
    assert r.json()["case_manager"] == "cm-ana"
    r = as_peer(api, f"/referrals/{mine['id']}/connection", {"connected_on": day(0)})
    assert r.status_code == 201, r.text

    rows = api.view("/referrals", r.json()["position"], role="peer_mentor", sub=MENTOR_SUB)
    assert {x["participant_id"] for x in rows["items"]} == {w.mentee}
    assert len(rows["items"]) == 2
    assert len(api.view("/referrals", r.json()["position"])["items"]) == 3
    api.get(f"/referrals/{staff_made['id']}", role="peer_mentor", sub=MENTOR_SUB, expect=404)
    assert (
        api.get(f"/referrals/{mine['id']}", role="peer_mentor", sub=MENTOR_SUB)["status"]
        == "connected"
    )
    api.get("/referrals", role="rrc_staff", expect=403)
