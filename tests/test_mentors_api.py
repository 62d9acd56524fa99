"""Peer mentors over HTTP with the real app and PostgreSQL: registration, screening, the six
trainings, certification, suspension and retirement (which flag open pairings), the mentor
roster, tenancy, and the OpenAPI document of the mentoring endpoints."""

from __future__ import annotations

from datetime import timedelta

import pytest

from domain import clock
from tests.mentoring_helpers import MODULES, STEPS, Api, graduates_and_newcomers


@pytest.fixture
def api(client, auth, grantee, db) -> Api:
    return Api(client, auth, grantee, db)


def test_no_pairing_before_certification(api):
    (grad,), (newcomer,) = graduates_and_newcomers(api, 1, 1)
    mentor = api.register("Marcus W.", participant_id=grad)
    mid = mentor["id"]
    assert (mentor["status"], mentor["source"], mentor["lived_experience"]) == (
        "applicant",
        "graduate",
        True,
    )
    api.refuse_pair(mid, [newcomer], "mentor_not_certified")

    api.train(mid, MODULES[:5])
    problem = api.refused(f"/mentors/{mid}/certification", {}, "training_incomplete")
    assert "conflict_resolution" in problem["detail"]
    api.train(mid, MODULES[5:])

    problem = api.refused(f"/mentors/{mid}/certification", {}, "screening_not_approved")
    assert "application, interview, references" in problem["detail"]
    for step in STEPS:
        api.post(
            f"/mentors/{mid}/screening-steps",
            {"step": step, "completed_on": "2026-06-02", "staff": "Dana Cole"},
        )
    problem = api.refused(f"/mentors/{mid}/certification", {}, "screening_not_approved")
    assert "no background review decision" in problem["detail"]

    review = {"decision": "approved", "reviewer": "   ", "reviewed_on": "2026-06-03"}
    api.refused(f"/mentors/{mid}/background-review", review, "reviewer_required")
    not_approved = {**review, "decision": "not_approved", "reviewer": "Rita Ortiz"}
    assert api.post(f"/mentors/{mid}/background-review", not_approved)["background"] == (
        "not_approved"
    )
    problem = api.refused(f"/mentors/{mid}/certification", {}, "screening_not_approved")
    assert "not_approved" in problem["detail"]
    api.refuse_pair(mid, [newcomer], "mentor_not_certified")

    conditional = {**not_approved, "decision": "approved_with_conditions", "conditions": " "}
    api.refused(f"/mentors/{mid}/background-review", conditional, "conditions_required")
    conditional["conditions"] = "no contact with the victims' families"
    api.post(f"/mentors/{mid}/background-review", conditional)

    certified = api.certify(mid)
    assert certified["status"] == "certified"
    assert certified["screening_approved"] is True
    assert certified["background"] == "approved_with_conditions"
    assert certified["screening_completed"] == STEPS
    assert certified["missing_modules"] == []
    assert certified["training_hours"] == 9.0
    assert sorted(t["module"] for t in certified["trainings"]) == sorted(MODULES)
    api.refused(f"/mentors/{mid}/certification", {}, "not_an_applicant")

    pairing = api.pair(mid, [newcomer])
    assert (pairing["status"], pairing["mentor_id"], pairing["members"]) == (
        "open",
        mid,
        [newcomer],
    )
    assert api.get(f"/mentors/{mid}")["open_pairings"] == [pairing["id"]]


def test_a_graduate_mentor_comes_from_a_graduated_cohort(api):
    pid = api.enrol("C1")
    body = {
        "display_name": "Too Early",
        "source": "graduate",
        "channel": "cohort_graduation",
        "participant_id": pid,
    }
    problem = api.refused("/mentors", body, "not_a_graduate")
    assert "C1" in problem["detail"]
    api.refused("/mentors", {**body, "participant_id": None}, "participant_required")
    api.graduate("C1", "2026-06-01")
    api.refused("/mentors", {**body, "source": "community_peer"}, "participant_not_allowed")
    mentor = api.register("Now Graduated", participant_id=pid)
    assert mentor["participant_id"] == pid
    problem = api.refused("/mentors", body, "already_mentor")
    assert "already registered" in problem["detail"]


def test_training_and_clearance_records_are_checked(api):
    mid = api.register("Terry P.")["id"]
    future = (clock.today() + timedelta(days=3)).isoformat()
    training = {
        "module": "crisis_management",
        "completed_on": future,
        "hours": 2,
        "trainer": "Lou Brandt",
    }
    api.refused(f"/mentors/{mid}/trainings", training, "in_future")
    api.refused(
        f"/mentors/{mid}/trainings",
        {**training, "completed_on": "2026-06-10", "trainer": "  "},
        "trainer_required",
    )
    clearance = {"facility": "FCI-A", "trained_on": "2026-06-15", "expires_on": "2026-06-15"}
    api.refused(f"/mentors/{mid}/clearances", clearance, "invalid_expiry")
    before = api.events()
    r = api.client.post(
        f"{api.base}/mentors/{mid}/clearances",
        json={**clearance, "facility": "FCI-Q", "expires_on": "2027-06-15"},
        headers=api.headers(),
    )
    assert r.status_code == 404 and r.json()["code"] == "not_found"
    assert api.events() == before
    out = api.clear(mid, "FCI-A")
    assert out["clearances"] == [
        {"facility": "FCI-A", "trained_on": "2026-06-15", "expires_on": "2027-06-15"}
    ]


def test_suspension_and_retirement_flag_every_open_pairing(api):
    (grad,), news = graduates_and_newcomers(api, 1, 5)
    mid = api.certified("Marcus W.", participant_id=grad)
    individual = api.pair(mid, [news[0]])["id"]
    group = api.pair(mid, news[1:3], kind="group", focus="recovery")["id"]
    closed = api.pair(mid, [news[3]])["id"]
    api.close(closed)

    api.refused(f"/mentors/{mid}/reinstatement", {"note": ""}, "not_suspended")
    suspended = api.post(f"/mentors/{mid}/suspension", {"reason": "missed two debriefs"})
    assert suspended["status"] == "suspended"
    for pid in (individual, group):
        p = api.get(f"/pairings/{pid}")
        assert p["status"] == "open"
        assert p["open_flags"] == {"mentor_suspended": "reassign: missed two debriefs"}
    assert api.get(f"/pairings/{closed}")["open_flags"] == {}
    api.refuse_pair(mid, [news[4]], "mentor_suspended")
    api.refused(f"/pairings/{group}/members", {"participant_id": news[4]}, "mentor_suspended")
    api.refused(f"/mentors/{mid}/suspension", {"reason": "again"}, "not_certified")

    assert api.post(f"/mentors/{mid}/reinstatement", {"note": "back"})["status"] == "certified"
    api.post(
        f"/pairings/{individual}/flag-resolutions",
        {"flag": "mentor_suspended", "resolution": "kept after reinstatement"},
    )
    retired = api.post(f"/mentors/{mid}/retirement", {"reason": "moved out of state"})
    assert retired["status"] == "retired"
    assert api.get(f"/pairings/{individual}")["open_flags"] == {
        "mentor_retired": "reassign: moved out of state"
    }
    p = api.get(f"/pairings/{group}")
    assert p["status"] == "open"
    assert set(p["open_flags"]) == {"mentor_suspended", "mentor_retired"}
    api.refuse_pair(mid, [news[4]], "mentor_retired")
    training = {
        "module": "crisis_management",
        "completed_on": "2026-06-10",
        "hours": 1,
        "trainer": "Lou Brandt",
    }
    for path, body, code in (
        ("retirement", {"reason": "twice"}, "mentor_retired"),
        ("reinstatement", {"note": ""}, "not_suspended"),
        ("suspension", {"reason": "late"}, "not_certified"),
        ("certification", {}, "not_an_applicant"),
        ("coordinator", {"coordinator": "Kim Park"}, "mentor_retired"),
        ("trainings", training, "mentor_retired"),
        (
            "clearances",
            {"facility": "RRC-1", "trained_on": "2026-11-01", "expires_on": "2027-11-01"},
            "mentor_retired",
        ),
    ):
        api.refused(f"/mentors/{mid}/{path}", body, code)


def test_a_not_approved_review_suspends_a_certified_mentor(api):
    (grad,), (newcomer, other) = graduates_and_newcomers(api, 1, 2)
    mid = api.certified("Marcus W.", participant_id=grad)
    pairing = api.pair(mid, [newcomer])["id"]
    review = {"decision": "not_approved", "reviewer": "Rita Ortiz", "reviewed_on": "2026-11-02"}
    mentor = api.post(f"/mentors/{mid}/background-review", review)
    assert (mentor["status"], mentor["screening_approved"]) == ("suspended", False)
    assert "mentor_suspended" in api.get(f"/pairings/{pairing}")["open_flags"]
    api.refuse_pair(mid, [other], "mentor_suspended")
    api.refused(f"/mentors/{mid}/reinstatement", {"note": ""}, "screening_not_approved")
    api.post(f"/mentors/{mid}/background-review", {**review, "decision": "approved"})
    assert api.post(f"/mentors/{mid}/reinstatement", {"note": "appeal"})["status"] == "certified"
    api.pair(mid, [other])


def test_the_roster_shows_training_clearances_caseload_and_flags(api):
    (grad,), news = graduates_and_newcomers(api, 1, 4)
    today = clock.today()
    mid = api.certified("Marcus W.", participant_id=grad, clearances=())
    api.clear(
        mid,
        "FCI-A",
        (today - timedelta(days=300)).isoformat(),
        (today + timedelta(days=20)).isoformat(),
    )
    api.clear(
        mid,
        "RRC-1",
        (today - timedelta(days=10)).isoformat(),
        (today + timedelta(days=200)).isoformat(),
    )
    api.clear(mid, "FCI-B", "2025-01-10", "2026-01-10")  # expired
    api.post(f"/mentors/{mid}/coordinator", {"coordinator": "Kim Park"})
    later = api.certified("Lee N.", clearances=())
    api.clear(
        later,
        "FCI-B",
        (today - timedelta(days=5)).isoformat(),
        (today + timedelta(days=60)).isoformat(),
    )
    applicant = api.register("Sam Q.")["id"]
    api.train(applicant, MODULES[:2], hours=2.5)

    a = api.pair(mid, [news[0]])["id"]
    api.pair(mid, [news[1]])
    api.pair(mid, news[2:4], kind="group")
    api.close(a)
    last = api.post(f"/mentors/{mid}/suspension", {"reason": "review"})["position"]

    rows = {row["id"]: row for row in api.view("/mentors", last)["items"]}
    assert set(rows) == {mid, later, applicant}
    row = rows[mid]
    assert (row["display_name"], row["status"], row["coordinator"]) == (
        "Marcus W.",
        "suspended",
        "Kim Park",
    )
    assert (row["modules_completed"], row["training_hours"]) == (6, 9.0)
    assert row["screening_completed"] == STEPS and row["background"] == "approved"
    assert [c["facility"] for c in row["clearances"]] == ["FCI-A", "FCI-B", "RRC-1"]
    assert row["next_clearance_expiry"] == (today + timedelta(days=20)).isoformat()
    assert row["clearance_expiring_soon"] is True
    assert (row["individual_mentees"], row["groups"], row["open_flags"]) == (1, 1, 2)
    assert rows[later]["next_clearance_expiry"] == (today + timedelta(days=60)).isoformat()
    assert rows[later]["clearance_expiring_soon"] is False
    assert (rows[later]["individual_mentees"], rows[later]["groups"]) == (0, 0)
    assert (rows[applicant]["status"], rows[applicant]["modules_completed"]) == ("applicant", 2)
    assert rows[applicant]["training_hours"] == 5.0
    assert rows[applicant]["next_clearance_expiry"] is None

    only = api.view("/mentors", last, status="suspended")["items"]
    assert [r["id"] for r in only] == [mid]
    resolved = api.post(
        f"/pairings/{api.get(f'/mentors/{mid}')['open_pairings'][0]}/flag-resolutions",
        {"flag": "mentor_suspended", "resolution": "kept"},
    )
    row = next(r for r in api.view("/mentors", resolved["position"])["items"] if r["id"] == mid)
    assert row["open_flags"] == 1


def test_another_grantees_mentor_is_not_found(api, make_grantee, client, auth, db):
    other = Api(client, auth, make_grantee(), db)
    secret = other.register("Zebulon Quartermaine", subject="zq-secret")["id"]
    for path in (f"/mentors/{secret}",):
        r = client.get(api.base + path, headers=api.headers())
        assert r.status_code == 404
        assert r.headers["content-type"].startswith("application/problem+json")
        assert "Zebulon" not in r.text and "zq-secret" not in r.text
    before = other.events()
    r = client.post(f"{api.base}/mentors/{secret}/certification", json={}, headers=api.headers())
    assert r.status_code == 404 and "Zebulon" not in r.text
    r = client.post(
        f"{api.base}/mentors/{secret}/suspension", json={"reason": "x"}, headers=api.headers()
    )
    assert r.status_code == 404
    r = client.get(f"{other.base}/mentors/{secret}", headers=api.headers())
    assert r.status_code == 404 and r.json()["code"] == "grantee_not_found"
    assert "Zebulon" not in r.text
    assert other.events() == before
    roster = api.view("/mentors", 0)
    assert all(row["id"] != secret for row in roster["items"])


def _operations(doc, *fragments):
    for path, item in doc["paths"].items():
        if any(f in path for f in fragments):
            for method, op in item.items():
                if method in ("get", "post", "put", "patch", "delete"):
                    yield f"{method.upper()} {path}", op


def test_the_openapi_document_explains_every_mentoring_operation(client):
    doc = client.get("/schema/openapi.json").json()
    ops = dict(_operations(doc, "/mentors", "/pairings"))
    base = "/v1/grantees/{grantee}"
    for required in (
        f"POST {base}/mentors",
        f"POST {base}/pairings",
        f"POST {base}/mentors/{{mentor_id}}/certification",
        f"POST {base}/pairings/{{pairing_id}}/closure",
        f"GET {base}/mentors",
        f"GET {base}/pairings",
    ):
        assert required in ops, required
    for name, op in ops.items():
        assert op.get("summary"), name
        assert op.get("description", "").strip(), f"{name} has no description"
        body = op.get("requestBody")
        if body is None:
            continue
        responses = op["responses"]
        assert "422" in responses, f"{name} documents no 422"
        examples = responses["422"]["content"]["application/problem+json"]["examples"]
        assert examples, name
        for code, example in examples.items():
            value = example["value"]
            assert value["status"] == 422 and value["code"] == code, name
            assert value["type"] == f"urn:prowd:problem:{code}" and value["detail"], name
    for name in (f"POST {base}/mentors", f"POST {base}/pairings"):
        content = ops[name]["requestBody"]["content"]["application/json"]
        examples = content.get("examples") or content["schema"].get("examples")
        assert examples, f"{name} has no request example"
    register = ops[f"POST {base}/mentors"]["requestBody"]["content"]["application/json"]
    example = (register.get("examples") or register["schema"]["examples"])[0]
    assert {"display_name", "source", "channel"} <= set(example)
    pairing_codes = ops[f"POST {base}/pairings"]["responses"]["422"]["content"][
        "application/problem+json"
    ]["examples"]
    for code in (
        "mentor_not_certified",
        "clearance_required",
        "mentor_not_eligible_for_stage",
        "self_mentoring",
        "caseload_limit",
        "group_size",
        "mentee_already_paired",
    ):
        assert code in pairing_codes
