"""Supervision: debriefs with each mentor's well-being check, the support-network view (no
debrief in 30 days), escalations raised for a mentor, acknowledged and resolved by the
coordinator, overdue crises; and the supervision, evaluation and referral views equal a rebuild."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import pytest

from domain import clock
from domain.common import RuleViolation
from domain.mentors import (
    BackgroundDecision,
    Mentor,
    MentorSource,
    MentorStatus,
    RecruitmentChannel,
    ScreeningStep,
    TrainingModule,
    TrainingRecord,
)
from domain.supervision import (
    Escalation,
    EscalationType,
    Severity,
    debrief_due,
    escalation_status,
)
from services.projector import live as projector
from services.projector import rebuilds
from tests.mentoring_helpers import Api, graduates_and_newcomers

MENTOR_SUB = "pm-marcus"


def today() -> date:
    return clock.now().date()


def ago(**delta: float) -> str:
    return (clock.now() - timedelta(**delta)).isoformat()


def day(days_ago: int) -> str:
    return (today() - timedelta(days=days_ago)).isoformat()


class SupApi(Api):
    """The mentoring helper's API with our own reads: `expect` is the HTTP status, so every
    other keyword (`status` included) is a query parameter."""

    def get(
        self,
        path: str,
        *,
        role: str = "coordinator",
        sub: str | None = None,
        expect: int = 200,
        **params: Any,
    ) -> Any:
        r = self.client.get(self.base + path, params=params, headers=self.headers(role, sub))
        assert r.status_code == expect, r.text
        return r.json()

    def view(
        self,
        path: str,
        position: int,
        *,
        role: str = "coordinator",
        sub: str | None = None,
        **params: Any,
    ) -> Any:
        projector.drain(self.db, f"g_{self.slug}")
        return self.get(path, role=role, sub=sub, min_position=position, **params)


@dataclass
class World:
    api: SupApi
    mentor: str  # certified graduate mentor, token subject MENTOR_SUB
    other_mentor: str  # certified community peer without mentees
    mentee: str  # in an individual pairing with `mentor`
    stranger: str  # a participant nobody mentors
    pairing: str


def world(api: SupApi) -> World:
    """A graduate mentor (subject `pm-marcus`) paired with a newcomer, a second certified
    mentor, and a participant without a mentor."""
    (grad,), (mentee, stranger) = graduates_and_newcomers(api, 1, 2)
    mentor = api.certified("Marcus W.", participant_id=grad, subject=MENTOR_SUB)
    other = api.certified("Rosa P.")
    pairing = api.pair(mentor, [mentee])["id"]
    return World(api, mentor, other, mentee, stranger, pairing)


@pytest.fixture
def w(client, auth, grantee, db) -> World:
    return world(SupApi(client, auth, grantee, db))


def check(mentor: str, wellbeing: str = "steady", **extra: Any) -> dict[str, Any]:
    return {"mentor_id": mentor, "wellbeing": wellbeing, **extra}


def debrief(mentors: list[str], held_on: str | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "mentor_ids": mentors,
        "held_on": held_on or day(1),
        "topics": ["challenging_situation", "self_care"],
        "checks": [check(m) for m in mentors],
        **extra,
    }


# -- debriefs ------------------------------------------------------------------------------
def test_a_debrief_keeps_topics_and_each_mentors_wellbeing(w):
    one = w.api.post(
        "/debriefs",
        debrief(
            [w.mentor],
            notes="relapse of a mentee weighed on him",
            checks=[
                check(
                    w.mentor, "strained", work_life_balance_ok=False, support_offered="peer group"
                )
            ],
        ),
    )
    assert one["format"] == "individual"
    assert one["coordinator"] == "test-coordinator"
    assert one["topics"] == ["challenging_situation", "self_care"]
    assert one["checks"] == [
        {
            "mentor_id": w.mentor,
            "wellbeing": "strained",
            "work_life_balance_ok": False,
            "support_offered": "peer group",
        }
    ]
    group = w.api.post(
        "/debriefs", debrief([w.mentor, w.other_mentor], day(3), topics=["peer_learning"])
    )
    assert group["format"] == "group"
    assert w.api.get(f"/debriefs/{one['id']}")["notes"] == "relapse of a mentee weighed on him"
    page = w.api.view("/debriefs", group["position"], mentor_id=w.other_mentor)
    assert [d["id"] for d in page["items"]] == [group["id"]]
    assert w.api.get("/debriefs", role="auditor")["items"]
    w.api.get("/debriefs", role="case_manager", expect=403)
    r = w.api.client.post(
        w.api.base + "/debriefs",
        json=debrief([w.mentor]),
        headers=w.api.headers("peer_mentor", MENTOR_SUB),
    )
    assert r.status_code == 403


@pytest.mark.parametrize(
    "change, code",
    [
        (lambda w, b: {**b, "mentor_ids": [], "checks": []}, "mentors_required"),
        (lambda w, b: {**b, "mentor_ids": [w.mentor, w.mentor]}, "duplicate_mentor"),
        (lambda w, b: {**b, "topics": []}, "topics_required"),
        (lambda w, b: {**b, "checks": []}, "wellbeing_check_required"),
        (
            lambda w, b: {**b, "checks": [check(w.mentor), check(w.other_mentor)]},
            "check_for_absent_mentor",
        ),
        (
            lambda w, b: {**b, "checks": [check(w.mentor), check(w.mentor, "thriving")]},
            "duplicate_check",
        ),
        (lambda w, b: {**b, "held_on": (today() + timedelta(days=2)).isoformat()}, "in_future"),
    ],
)
def test_debrief_refusals_name_the_rule(w, change, code):
    w.api.refused("/debriefs", change(w, debrief([w.mentor])), code)


def test_debriefs_are_for_certified_mentors_only(w):
    applicant = w.api.register("New Applicant")["id"]
    w.api.refused("/debriefs", debrief([applicant]), "mentor_not_certified")
    w.api.post(f"/mentors/{w.other_mentor}/retirement", {"reason": "moved away"})
    w.api.refused("/debriefs", debrief([w.other_mentor]), "mentor_retired")
    w.api.post(f"/mentors/{w.mentor}/suspension", {"reason": "pending review"})
    w.api.post("/debriefs", debrief([w.mentor]))  # a suspended mentor still gets support


# -- the support network ---------------------------------------------------------------------
def test_the_support_network_lists_certified_mentors_without_a_debrief_in_30_days(w):
    api = w.api
    recent = api.certified("Recent R.")
    never = api.certified("Never N.")
    retired = api.certified("Gone G.")
    api.register("Applicant A.")
    api.post("/debriefs", debrief([w.mentor], day(40)))
    api.post("/debriefs", debrief([recent], day(5)))
    # Recorded late, an older debrief never moves the last one back.
    api.post("/debriefs", debrief([recent], day(60), checks=[check(recent, "at_risk")]))
    api.post("/debriefs", debrief([retired], day(45)))
    api.post(f"/mentors/{retired}/retirement", {"reason": "moved away"})
    api.post(f"/mentors/{w.other_mentor}/suspension", {"reason": "pending review"})
    pos = api.post("/debriefs", debrief([w.other_mentor], day(90)))["position"]

    rows = {r["mentor_id"]: r for r in api.view("/support-network", pos)["items"]}
    assert set(rows) == {w.mentor, w.other_mentor, recent, never}  # no retired, no applicant
    assert rows[recent]["last_debrief_on"] == day(5)
    assert rows[recent]["last_wellbeing"] == "steady"
    assert rows[recent]["debriefs"] == 2
    assert rows[recent]["days_since_debrief"] == 5
    assert rows[w.mentor]["days_since_debrief"] == 40
    assert rows[never]["last_debrief_on"] is None
    assert [rows[m]["debrief_due"] for m in (w.mentor, recent, never, w.other_mentor)] == [
        True,
        False,
        True,
        False,
    ]  # a suspended mentor is not due
    due = api.view("/support-network", pos, due=True)["items"]
    assert {r["mentor_id"] for r in due} == {w.mentor, never}
    alerts = api.view("/supervision/alerts", pos)
    assert {a["mentor_id"] for a in alerts["debriefs_due"]} == {w.mentor, never}
    # The debriefs due are the mentors' supervision: a case manager reads none (decision 139).
    assert api.view("/supervision/alerts", pos, role="case_manager")["debriefs_due"] == []
    api.get("/support-network", role="peer_mentor", expect=403)


# -- escalations -----------------------------------------------------------------------------
def escalation(w: World, **extra: Any) -> dict[str, Any]:
    return {
        "mentor_id": w.mentor,
        "participant_id": w.mentee,
        "type": "crisis",
        "severity": "high",
        "description": "mentee lost his RRC bed",
        **extra,
    }


def test_an_escalation_is_acknowledged_then_resolved_with_its_time_to_acknowledge(w):
    api = w.api
    raised_at = clock.now() - timedelta(hours=30)
    x = api.post(
        "/escalations", escalation(w, raised_at=raised_at.isoformat()), role="case_manager"
    )
    assert (x["status"], x["raised_by"], x["overdue"]) == ("open", "test-case_manager", True)
    fresh = api.post("/escalations", escalation(w, raised_at=ago(hours=2)))
    old_conflict = api.post(
        "/escalations",
        escalation(
            w, type="conflict", severity="low", participant_id=None, raised_at=ago(hours=72)
        ),
    )
    assert not fresh["overdue"] and not old_conflict["overdue"]

    page = api.view("/escalations", old_conflict["position"], status="open", overdue="true")
    assert [e["id"] for e in page["items"]] == [x["id"]]
    alerts = api.view("/supervision/alerts", old_conflict["position"])
    assert [
        (a["escalation_id"], a["hours_open"], a["acknowledged"]) for a in alerts["overdue_crises"]
    ] == [(x["id"], 30, False)]
    assert "description" not in str(alerts)

    acked_at = raised_at + timedelta(hours=1, minutes=30)
    acked = api.post(
        f"/escalations/{x['id']}/acknowledgement",
        {"acknowledged_at": acked_at.isoformat(), "note": "called the RRC"},
    )
    assert (acked["status"], acked["acknowledged_by"]) == ("acknowledged", "test-coordinator")
    assert acked["seconds_to_acknowledge"] == 5400
    # Acknowledged but unresolved, the crisis stays an alert.
    alerts = api.view("/supervision/alerts", acked["position"])
    assert alerts["overdue_crises"][0]["acknowledged"] is True
    done = api.post(
        f"/escalations/{x['id']}/resolution", {"resolution": "bed found at the partner shelter"}
    )
    assert (done["status"], done["overdue"]) == ("resolved", False)

    rows = {e["id"]: e for e in api.view("/escalations", done["position"])["items"]}
    assert rows[x["id"]]["seconds_to_acknowledge"] == 5400
    assert rows[x["id"]]["resolution"] == "bed found at the partner shelter"
    assert api.view("/escalations", done["position"], overdue="true")["items"] == []
    assert api.view("/supervision/alerts", done["position"])["overdue_crises"] == []
    resolved = api.view("/escalations", done["position"], status="resolved")["items"]
    assert [e["id"] for e in resolved] == [x["id"]]
    still_open = api.view("/escalations", done["position"], status="open")["items"]
    assert {e["id"] for e in still_open} == {fresh["id"], old_conflict["id"]}
    assert {e["id"] for e in api.get("/escalations", type="conflict")["items"]} == {
        old_conflict["id"]
    }
    assert api.get(f"/escalations/{x['id']}", role="auditor")["status"] == "resolved"


def test_escalation_refusals_name_the_rule(w):
    api = w.api
    api.refused("/escalations", escalation(w, description="   "), "description_required")
    api.refused("/escalations", escalation(w, participant_id=w.stranger), "not_mentors_mentee")
    api.refused(
        "/escalations",
        escalation(w, raised_at=(clock.now() + timedelta(hours=1)).isoformat()),
        "in_future",
    )
    x = api.post("/escalations", escalation(w, raised_at=ago(hours=5)))
    path = f"/escalations/{x['id']}"
    api.refused(f"{path}/resolution", {"resolution": "sorted"}, "not_acknowledged")
    api.refused(f"{path}/acknowledgement", {"acknowledged_at": ago(hours=6)}, "before_raised")
    api.refused(f"{path}/acknowledgement", {"acknowledged_at": ago(hours=-1)}, "in_future")
    api.post(f"{path}/acknowledgement", {"acknowledged_at": ago(hours=3)})
    api.refused(f"{path}/acknowledgement", {}, "already_acknowledged")
    api.refused(f"{path}/resolution", {"resolution": "  "}, "resolution_required")
    api.refused(
        f"{path}/resolution",
        {"resolution": "ok", "resolved_at": ago(hours=4)},
        "before_acknowledged",
    )
    api.post(f"{path}/resolution", {"resolution": "talked it through"})
    api.refused(f"{path}/resolution", {"resolution": "again"}, "escalation_resolved")
    api.refused(f"{path}/acknowledgement", {}, "escalation_resolved")
    api.post(f"/mentors/{w.other_mentor}/retirement", {"reason": "moved away"})
    api.refused(
        "/escalations",
        escalation(w, mentor_id=w.other_mentor, participant_id=None),
        "mentor_retired",
    )


def test_a_peer_mentor_raises_escalations_for_themselves_about_their_own_mentees(w):
    api = w.api
    me = api.headers("peer_mentor", MENTOR_SUB)
    r = api.client.post(
        api.base + "/escalations",
        json=escalation(w, type="boundary_concern", severity="medium"),
        headers=me,
    )
    assert r.status_code == 201, r.text
    assert r.json()["raised_by"] == MENTOR_SUB
    escalation_id = r.json()["id"]
    before = api.events()
    for body in (
        escalation(w, mentor_id=w.other_mentor, participant_id=None),
        escalation(w, participant_id=w.stranger),
    ):
        r = api.client.post(api.base + "/escalations", json=body, headers=me)
        assert r.status_code == 404, r.text
    assert api.events() == before
    x = r.json()
    assert x["code"] == "not_found"
    for path in ("/escalations", f"/escalations/{escalation_id}"):
        assert api.client.get(api.base + path, headers=me).status_code == 403
    r = api.client.post(
        api.base + f"/escalations/{escalation_id}/acknowledgement", json={}, headers=me
    )
    assert r.status_code == 403
    assert api.client.get(api.base + "/supervision/alerts", headers=me).status_code == 403


def certified_mentor() -> Mentor:
    m = Mentor.register(
        display_name="Dee", source=MentorSource.COMMUNITY_PEER, channel=RecruitmentChannel.OTHER
    )
    for step in ScreeningStep:
        m.complete_screening_step(step, date(2026, 6, 1), "staff")
    m.review_background(BackgroundDecision.APPROVED, "reviewer", date(2026, 6, 1))
    for module in TrainingModule:
        m.complete_training(TrainingRecord(module, date(2026, 6, 2), 1.0, "trainer"))
    m.certify()
    return m


def test_a_crisis_is_overdue_until_resolved_and_keeps_its_time_to_acknowledge():
    now = clock.now()
    x = Escalation.raise_for(
        mentor=certified_mentor(),
        mentees=set(),
        participant_id=None,
        type=EscalationType.CRISIS,
        severity=Severity.CRITICAL,
        description="threats",
        raised_by="pm",
        raised_at=now - timedelta(hours=25),
    )
    assert x.time_to_acknowledge is None
    assert not x.is_overdue(now - timedelta(hours=2)) and x.is_overdue(now)
    x.acknowledge("coord", now - timedelta(hours=24, minutes=45))
    assert x.time_to_acknowledge == timedelta(minutes=15)
    assert x.is_overdue(now)
    x.resolve("police and shelter", now)
    assert not x.is_overdue(now + timedelta(days=3))
    with pytest.raises(RuleViolation) as refused:
        x.resolve("again", now)
    assert refused.value.code == "escalation_resolved"
    other = Escalation.raise_for(
        mentor=certified_mentor(),
        mentees=set(),
        participant_id=None,
        type=EscalationType.SAFETY,
        severity=Severity.HIGH,
        description="unsafe housing",
        raised_by="pm",
        raised_at=now - timedelta(days=3),
    )
    assert not other.is_overdue(now)  # only crises raise the 24-hour alert


def test_an_escalation_is_open_then_acknowledged_then_resolved():
    now = clock.now()
    assert escalation_status(None, None) == "open"
    assert escalation_status(now, None) == "acknowledged"
    assert escalation_status(now, now) == "resolved"


def test_a_certified_mentor_is_due_a_debrief_after_30_days_without_one():
    today = date(2027, 1, 1)
    assert debrief_due(MentorStatus.CERTIFIED, None, today)
    assert debrief_due(MentorStatus.CERTIFIED, today - timedelta(days=31), today)
    assert not debrief_due(MentorStatus.CERTIFIED, today - timedelta(days=30), today)
    assert not debrief_due(MentorStatus.SUSPENDED, None, today)
    assert not debrief_due(MentorStatus.APPLICANT, None, today)


# -- the views are deterministic -------------------------------------------------------------
def test_the_live_supervision_evaluation_and_referral_views_equal_a_rebuild(w):
    api = w.api
    schema = f"g_{api.slug}"
    api.post("/debriefs", debrief([w.mentor, w.other_mentor], day(12)))
    api.post("/debriefs", debrief([w.mentor], day(50)))
    x = api.post("/escalations", escalation(w, raised_at=ago(hours=26)))
    api.post(f"/escalations/{x['id']}/acknowledgement", {"acknowledged_at": ago(hours=25)})
    api.post(f"/escalations/{x['id']}/resolution", {"resolution": "mentee is safe"})
    api.post("/escalations", escalation(w, type="relapse_risk", participant_id=None))
    api.post(
        "/feedback",
        {
            "pairing_id": w.pairing,
            "participant_id": w.mentee,
            "given_on": today().isoformat(),
            "anonymous_to_mentor": True,
            "ratings": [{"question": "trust", "score": 5}, {"question": "overall", "score": 4}],
        },
    )
    api.post(
        "/assessments",
        {
            "mentor_id": w.mentor,
            "assessed_on": day(2),
            "scores": [{"area": "crisis_response", "score": 3}],
        },
    )
    api.post(
        f"/participants/{w.mentee}/outcomes/employment",
        {
            "employer": "Tri-County Logistics",
            "started_on": day(10),
            "wage": "18.50",
            "wage_unit": "hourly",
        },
    )
    api.post(
        f"/participants/{w.mentee}/outcomes/housing",
        {"housing_type": "transitional", "secured_on": day(9)},
    )
    resource = api.post(
        "/resources", {"name": "Second Chance Staffing", "category": "job_placement"}
    )["id"]
    referral = api.post(
        "/referrals",
        {"participant_id": w.mentee, "resource_id": resource, "need": "a fair-chance employer"},
    )["id"]
    api.post(f"/referrals/{referral}/connection", {"connected_on": today().isoformat()})
    api.post(f"/resources/{resource}/changes", {"name": "Second Chance Staffing Co."})

    projector.drain(api.db, schema)
    live = projector.digests(api.db, schema)
    for view in ("supervision", "evaluation", "referrals"):
        assert rebuilds.rebuild(api.db, schema, view) == 2
    assert projector.digests(api.db, schema) == live
    rows = api.get("/support-network")["items"]
    assert {r["mentor_id"]: r["last_debrief_on"] for r in rows} == {
        w.mentor: day(12),
        w.other_mentor: day(12),
    }


# -- the API explains itself -----------------------------------------------------------------
AREAS = (
    "/debriefs",
    "/escalations",
    "/support-network",
    "/supervision/alerts",
    "/feedback",
    "/assessments",
    "/outcomes",
    "/resources",
    "/referrals",
)
CREATIONS = (
    "/debriefs",
    "/escalations",
    "/feedback",
    "/assessments",
    "/resources",
    "/referrals",
    "/outcomes/employment",
    "/outcomes/credentials",
    "/outcomes/housing",
)


def test_the_openapi_document_explains_every_supervision_evaluation_and_referral_operation(
    client,
):
    doc = client.get("/schema/openapi.json").json()
    ops = {
        f"{method.upper()} {path}": op
        for path, item in doc["paths"].items()
        if any(a in path for a in AREAS)
        for method, op in item.items()
    }
    assert len(ops) >= 30
    for name, op in ops.items():
        assert op.get("summary") and op.get("description", "").strip(), name
        assert {"401", "403", "404"} <= set(op["responses"]), name
        if not name.startswith("POST"):
            continue
        examples = op["responses"]["422"]["content"]["application/problem+json"]["examples"]
        assert examples, name
        for code, example in examples.items():
            value = example["value"]
            assert (value["status"], value["code"]) == (422, code), name
            assert value["type"] == f"urn:prowd:problem:{code}" and value["detail"], name
        if name.endswith(CREATIONS):
            schema = op["requestBody"]["content"]["application/json"]["schema"]
            assert schema["examples"], f"{name} has no request example"
