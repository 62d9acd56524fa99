"""Evaluation: participant feedback on their mentor (anonymous to the mentor if asked), the mean
rating per mentor, the coordinator's mentor assessments, and participant outcomes."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import uuid4

import pytest

from tests.test_supervision import SupApi, World, day, today, world


@pytest.fixture
def w(client, auth, grantee, db) -> World:
    return world(SupApi(client, auth, grantee, db))


def feedback(w: World, **extra: Any) -> dict[str, Any]:
    return {
        "pairing_id": w.pairing,
        "participant_id": w.mentee,
        "given_on": day(0),
        "ratings": [{"question": "trust", "score": 5}, {"question": "overall", "score": 4}],
        "comment": "He has been where I am.",
        **extra,
    }


# -- feedback ------------------------------------------------------------------------------
def test_feedback_anonymous_to_the_mentor_never_names_its_author_on_the_mentors_copy(w):
    api = w.api
    anonymous = api.post("/feedback", feedback(w, anonymous_to_mentor=True), role="case_manager")
    assert anonymous["participant_id"] == w.mentee and anonymous["mentor_id"] == w.mentor
    assert (anonymous["mean_score"], anonymous["collected_by"]) == (4.5, "test-case_manager")
    named = api.post("/feedback", feedback(w, ratings=[{"question": "trust", "score": 3}]))

    staff = {f["id"]: f for f in api.view("/feedback", named["position"])["items"]}
    assert staff[anonymous["id"]]["participant_id"] == w.mentee
    copy = {f["id"]: f for f in api.get(f"/feedback/mentors/{w.mentor}")["items"]}
    assert "participant_id" not in copy[anonymous["id"]]
    assert "collected_by" not in copy[anonymous["id"]]
    assert copy[anonymous["id"]]["comment"] == "He has been where I am."
    assert copy[named["id"]]["participant_id"] == w.mentee
    assert [r["question"] for r in copy[anonymous["id"]]["ratings"]] == ["overall", "trust"]

    summary = api.get("/feedback/summary", role="auditor")["items"]
    assert summary == [
        {
            "mentor_id": w.mentor,
            "feedback_count": 2,
            "mean_rating": 4.0,
            "by_question": {"overall": 4.0, "trust": 4.0},
        }
    ]
    assert api.get(f"/feedback/{anonymous['id']}")["anonymous_to_mentor"] is True
    api.get("/feedback", role="peer_mentor", sub="pm-marcus", expect=403)
    api.get("/feedback/summary", role="case_manager", expect=403)
    api.post("/feedback", feedback(w), role="peer_mentor", status=403)


@pytest.mark.parametrize(
    "extra, code",
    [
        ({"participant_id": "stranger"}, "not_a_member"),
        ({"given_on": "yesterday"}, "before_match"),
        ({"given_on": "tomorrow"}, "in_future"),
        ({"ratings": []}, "ratings_required"),
        (
            {"ratings": [{"question": "trust", "score": 4}, {"question": "trust", "score": 5}]},
            "duplicate_question",
        ),
    ],
)
def test_feedback_refusals_name_the_rule(w, extra, code):
    dates = {"yesterday": day(1), "tomorrow": (today() + timedelta(days=2)).isoformat()}
    if extra.get("participant_id") == "stranger":
        extra = {"participant_id": w.stranger}
    if "given_on" in extra:
        extra = {"given_on": dates[extra["given_on"]]}
    w.api.refused("/feedback", feedback(w, **extra), code)


def test_a_rating_outside_1_to_5_is_refused_by_the_declared_range(w):
    """The schema declares 1-5 (`invalid_rating` is the domain's guard behind it)."""
    before = w.api.events()
    for score in (0, 6):
        body = feedback(w, ratings=[{"question": "trust", "score": score}])
        w.api.post("/feedback", body, status=400)
    body = assessment(w.mentor, scores=[{"area": "reliability", "score": 9}])
    w.api.post("/assessments", body, status=400)
    assert w.api.events() == before


def test_feedback_on_an_unknown_pairing_is_not_found(w):
    before = w.api.events()
    w.api.post("/feedback", feedback(w, pairing_id=str(uuid4())), status=404)
    assert w.api.events() == before


# -- mentor assessments --------------------------------------------------------------------
def assessment(mentor: str, **extra: Any) -> dict[str, Any]:
    return {
        "mentor_id": mentor,
        "assessed_on": day(3),
        "scores": [
            {"area": "crisis_response", "score": 3, "note": "escalated late once"},
            {"area": "communication", "score": 5},
        ],
        "summary": "steady",
        "development_plan": "crisis refresher",
        **extra,
    }


def test_the_coordinator_assesses_a_mentor_on_named_areas(w):
    api = w.api
    a = api.post("/assessments", assessment(w.mentor))
    assert (a["assessor"], a["mean_score"]) == ("test-coordinator", 4.0)
    assert [s["area"] for s in a["scores"]] == ["communication", "crisis_response"]
    b = api.post(
        "/assessments",
        assessment(w.other_mentor, scores=[{"area": "self_care", "score": 2}]),
        role="grantee_admin",
    )
    rows = api.view("/assessments", b["position"], mentor_id=w.mentor)["items"]
    assert [(r["id"], r["mean_score"], len(r["scores"])) for r in rows] == [(a["id"], 4.0, 2)]
    assert api.get(f"/assessments/{b['id']}", role="auditor")["scores"][0]["score"] == 2
    api.post("/assessments", assessment(w.mentor), role="case_manager", status=403)


def test_assessment_refusals_name_the_rule(w):
    api = w.api
    api.refused("/assessments", assessment(w.mentor, scores=[]), "areas_required")
    api.refused(
        "/assessments",
        assessment(
            w.mentor,
            scores=[{"area": "reliability", "score": 3}, {"area": "reliability", "score": 4}],
        ),
        "duplicate_area",
    )
    api.refused(
        "/assessments",
        assessment(w.mentor, assessed_on=(today() + timedelta(days=2)).isoformat()),
        "in_future",
    )
    applicant = api.register("New Applicant")["id"]
    api.refused("/assessments", assessment(applicant), "mentor_not_certified")
    api.post(f"/mentors/{w.other_mentor}/retirement", {"reason": "moved away"})
    api.refused("/assessments", assessment(w.other_mentor), "mentor_retired")


# -- outcomes ------------------------------------------------------------------------------
JOB = {
    "employer": "Tri-County Logistics",
    "started_on": "2026-10-05",
    "wage": "18.50",
    "wage_unit": "hourly",
    "hours_per_week": 40,
    "job_title": "forklift operator",
}
CERT = {"credential_type": "industry_certificate", "name": "OSHA 10", "earned_on": "2026-09-12"}
HOME = {"housing_type": "own_lease", "secured_on": "2026-11-02", "note": "lease in own name"}


def test_outcomes_are_recorded_on_the_participant(w):
    api = w.api
    base = f"/participants/{w.mentee}/outcomes"
    first = api.post(f"{base}/employment", JOB, role="case_manager")
    assert first["employments"] == [JOB]
    assert (first["credentials"], first["housing"]) == ([], [])
    api.post(f"{base}/credentials", CERT)
    last = api.post(f"{base}/housing", HOME)
    assert last["version"] == 4  # the record was opened by the first outcome
    assert api.get(base, role="auditor")["credentials"] == [{**CERT, "issuer": ""}]
    other = api.post(
        f"/participants/{w.stranger}/outcomes/employment",
        {**JOB, "employer": "City Parks", "wage": 41000, "wage_unit": "annual"},
    )
    rows = api.view("/outcomes", other["position"])["items"]
    assert [(r["participant_id"], r["kind"]) for r in rows] == [
        (w.mentee, "employment"),
        (w.mentee, "credential"),
        (w.mentee, "housing"),
        (w.stranger, "employment"),
    ]
    assert rows[3]["wage"] == "41000"
    jobs = api.view("/outcomes", other["position"], kind="employment", participant_id=w.mentee)
    assert [r["employer"] for r in jobs["items"]] == ["Tri-County Logistics"]
    assert api.get(f"/participants/{w.stranger}/outcomes")["employments"][0]["wage"] == "41000"
    api.get(base, role="peer_mentor", sub="pm-marcus", expect=403)


def test_a_case_manager_reads_the_outcomes_they_record_but_not_the_feedback_on_mentors(w):
    """Decision 146: what a case manager records (`outcomes.write`) they read
    (`outcomes.read`): the participant's outcomes and the grantee's list; the participants'
    feedback on their mentors stays the supervisors' (`feedback.read`)."""
    api = w.api
    base = f"/participants/{w.mentee}/outcomes"
    saved = api.post(f"{base}/employment", JOB, role="case_manager")
    assert api.get(base, role="case_manager")["employments"] == [JOB]
    rows = api.view("/outcomes", saved["position"], role="case_manager")["items"]
    assert [(r["participant_id"], r["kind"]) for r in rows] == [(w.mentee, "employment")]
    api.get("/feedback", role="case_manager", expect=403)
    api.get(base, role="rrc_staff", expect=403)
    api.get(base, role="federal_oversight", expect=403)


def test_outcome_refusals_name_the_rule(w):
    api = w.api
    base = f"/participants/{w.mentee}/outcomes"
    api.refused(f"{base}/employment", {**JOB, "started_on": "2026-01-15"}, "before_program_entry")
    tomorrow = (today() + timedelta(days=2)).isoformat()
    api.refused(f"{base}/employment", {**JOB, "started_on": tomorrow}, "in_future")
    api.refused(f"{base}/employment", {**JOB, "employer": "  "}, "employer_required")
    api.refused(f"{base}/employment", {**JOB, "wage": "0"}, "invalid_wage")
    api.refused(f"{base}/employment", {**JOB, "wage": "NaN"}, "invalid_wage")
    api.refused(f"{base}/employment", {**JOB, "wage": "-Infinity"}, "invalid_wage")
    # Hours outside 0-80 are refused by the schema that declares the range (`invalid_hours`
    # is the domain's guard behind it).
    api.post(f"{base}/employment", {**JOB, "hours_per_week": 90}, status=400)
    api.refused(f"{base}/credentials", {**CERT, "name": " "}, "credential_name_required")
    api.refused(f"{base}/housing", {**HOME, "secured_on": tomorrow}, "in_future")
    api.post(f"{base}/employment", JOB)
    api.refused(
        f"{base}/employment", {**JOB, "employer": "tri-county logistics "}, "duplicate_outcome"
    )
    api.post(f"{base}/credentials", CERT)
    api.refused(f"{base}/credentials", {**CERT, "earned_on": "2026-09-13"}, "duplicate_outcome")
    api.post(f"{base}/housing", HOME)
    api.refused(f"{base}/housing", HOME, "duplicate_outcome")
    before = api.events()
    api.post(f"/participants/{uuid4()}/outcomes/housing", HOME, status=404)
    assert api.events() == before
