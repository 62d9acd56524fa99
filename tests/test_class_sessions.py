"""Class sessions over HTTP with the real app and PostgreSQL (issue 21, point 8; the tip sheet:
grantees "may also request to invite graduates from the first cohort to speak to the new class
or provide group mentoring as a class session").

A request to the facility for a cohort, the facility's decision (who decided there, when), and
then group sessions in class hours under the approval; graduate speaker sessions recorded as
such; refusals with their rule codes (nothing appended); the role matrix; the quarterly report's
figures; the views equal a rebuild. The suite's clock stands at 2026-11-26 (Chicago: Thursday)."""

from __future__ import annotations

from typing import Any

import pytest

from services.identity.tokens import issue_token
from services.projector import live as projector
from services.projector import rebuilds
from tests.meetings_helpers import MODULES, World, inside

CLASS = {"slots": [{"weekday": 2, "start": "09:00", "end": "12:00"}]}  # Tuesdays
OFFICER = "J. Ortiz, Reentry Affairs Coordinator, FCI-A"


class Scene:
    """World's FCI-A with cohort C1 (class on Tuesdays 09:00-12:00) and C2; a graduate mentor
    with a group of two C1 mentees, one of two C2 mentees, and an individual C1 pairing."""

    def __init__(self, w: World) -> None:
        self.w = w
        w.post("/cohorts", {"code": "C2", "facility": "FCI-A", "start_date": "2025-09-01"})
        for cohort in ("C1", "C2"):
            w.post(f"/cohorts/{cohort}/class-hours", CLASS)
        self.mentor = w.mentor("mentor-a")
        self.a, self.b = w.enrol(name="Ava"), w.enrol(name="Ben")
        self.group = w.pair(self.mentor, [self.a, self.b], "2026-10-01T15:00:00Z", kind="group")
        c2 = [w.enrol("C2", name="Cy"), w.enrol("C2", name="Di")]
        self.group2 = w.pair(self.mentor, c2, "2026-10-01T15:00:00Z", kind="group")
        self.c2 = c2
        self.solo = w.pair(w.mentor("mentor-b"), [w.enrol(name="Eve")], "2026-10-01T15:00:00Z")

    def ask(self, cohort: str, kinds: list[str], on: str = "2026-11-02", **kw: Any) -> str:
        body = {"kinds": kinds, "requested_on": on}
        return str(self.w.post(f"/cohorts/{cohort}/class-session-requests", body, **kw)["id"])

    def decide(self, rid: str, decision: str, on: str, **extra: Any) -> Any:
        body = {"decision": decision, "decided_by": OFFICER, "decided_on": on, **extra}
        return self.w.post(f"/class-session-requests/{rid}/decision", body)

    def session(
        self,
        at: str,
        kind: str = "class_session",
        approval: str | None = None,
        group: str | None = None,
        location: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        group = group or self.group
        members = [self.a, self.b] if group == self.group else self.c2
        record: dict[str, Any] = {
            "occurred_at": at,
            "duration_minutes": 60,
            "topics": ["employment"],
            "attendance": {m: "present" for m in members},
            "session": kind,
        }
        if approval is not None:
            record["approval_id"] = approval
        return self.w.meeting_body(group, at, location=location or inside("FCI-A"), record=record)


@pytest.fixture
def scene(client: Any, auth: Any, db: Any) -> Scene:
    return Scene(World(client, auth, db))


def test_a_class_session_is_held_in_class_hours_under_the_facilitys_approval(scene: Scene) -> None:
    w = scene.w
    at = "2026-11-10T10:00:00-06:00"  # Tuesday, in class
    # Today: a group meeting in class hours is refused; a class session needs an approval.
    plain = scene.session(at, kind="mentoring")
    w.refused("/meetings", plain, "during_class_hours")
    w.refused("/meetings", scene.session(at), "class_session_not_approved")

    rid = scene.ask("C1", ["class_session"], role="case_manager")
    asked = w.get(f"/class-session-requests/{rid}")
    assert (asked["cohort"], asked["facility"], asked["status"]) == ("C1", "FCI-A", "requested")
    assert asked["kinds"] == ["class_session"] and asked["requested_on"] == "2026-11-02"
    # Requested, not decided: still refused.
    w.refused("/meetings", scene.session(at, approval=rid), "class_session_not_approved")

    approved = scene.decide(rid, "approved", "2026-11-05")
    assert approved["status"] == "approved"
    assert (approved["decided_by"], approved["decided_on"]) == (OFFICER, "2026-11-05")
    # Who recorded it, and the facility's approval, are in the log.
    assert w.topics_of(rid) == ["Requested", "Approved"]

    held = w.post("/meetings", scene.session(at, approval=rid))["held"]
    assert held["session"] == "class_session" and held["approval_id"] == rid
    assert held["during_class_hours"] is True
    # Before the approval's day it was not yet in force.
    w.refused(
        "/meetings",
        scene.session("2026-11-03T10:00:00-06:00", approval=rid),
        "class_session_not_approved",
    )
    # A plain meeting of the same group in class hours is still refused (an hour later: at
    # `at` the group has its class session, and meets once at a time).
    w.refused(
        "/meetings",
        scene.session("2026-11-10T11:00:00-06:00", kind="mentoring"),
        "during_class_hours",
    )

    projector.drain(w.db, w.schema)
    listed = w.get("/class-session-requests", cohort="C1")["items"]
    assert [(r["id"], r["status"], r["decided_by"]) for r in listed] == [(rid, "approved", OFFICER)]


def test_class_sessions_are_refused_with_their_rules(scene: Scene) -> None:
    w = scene.w
    at = "2026-11-10T10:00:00-06:00"
    c1 = scene.ask("C1", ["class_session"])
    scene.decide(c1, "approved", "2026-11-05")
    # An approval for another cohort.
    c2 = scene.ask("C2", ["class_session"])
    scene.decide(c2, "approved", "2026-11-05")
    w.refused("/meetings", scene.session(at, approval=c2), "approval_for_other_cohort")
    w.refused(
        "/meetings", scene.session(at, approval=c1, group=scene.group2), "approval_for_other_cohort"
    )
    assert w.post("/meetings", scene.session(at, approval=c2, group=scene.group2))["held"]
    # A denied request.
    denied = scene.ask("C1", ["class_session", "graduate_speaker"])
    scene.decide(denied, "denied", "2026-11-06", note="staffing")
    w.refused("/meetings", scene.session(at, approval=denied), "class_session_denied")
    # A kind the approval does not cover.
    w.refused(
        "/meetings", scene.session(at, "graduate_speaker", approval=c1), "session_kind_not_approved"
    )
    # Only a group, only at the cohort's institution, an approval only with a class kind.
    individual = scene.session(at, approval=c1)
    individual["pairing_id"] = scene.solo
    individual["held"]["attendance"] = {}
    w.refused("/meetings", individual, "class_session_not_group")
    w.refused(
        "/meetings",
        scene.session(at, approval=c1, location={"kind": "off_site"}),
        "class_session_elsewhere",
    )
    w.refused(
        "/meetings",
        scene.session(at, "mentoring", approval=c1),
        "approval_without_class_session",
    )
    w.refused(
        "/meetings",
        scene.session(at, approval="00000000-0000-4000-8000-000000000000"),
        "class_session_not_approved",
    )
    # A revoked approval: refused from the revocation's day, not before it.
    revoked = w.post(
        f"/class-session-requests/{c1}/revocation",
        {"revoked_by": OFFICER, "revoked_on": "2026-11-17", "reason": "lockdown"},
    )
    assert (revoked["status"], revoked["revoked_on"]) == ("revoked", "2026-11-17")
    w.refused(
        "/meetings",
        scene.session("2026-11-24T10:00:00-06:00", approval=c1),
        "class_session_revoked",
    )
    assert w.post("/meetings", scene.session(at, approval=c1))["held"]["session"] == (
        "class_session"
    )


def test_requests_and_decisions_are_refused_with_their_rules(scene: Scene) -> None:
    w = scene.w
    rid = scene.ask("C1", ["class_session"])
    path = f"/class-session-requests/{rid}"
    w.refused("/cohorts/C1/class-session-requests", {"kinds": []}, "invalid_session_kinds")
    w.refused(
        "/cohorts/C1/class-session-requests",
        {"kinds": ["class_session"], "requested_on": "2026-12-24"},
        "in_future",
    )
    decision = {"decision": "approved", "decided_by": OFFICER, "decided_on": "2026-11-01"}
    w.refused(f"{path}/decision", decision, "before_request")
    w.refused(f"{path}/decision", {**decision, "decided_on": "2026-12-24"}, "in_future")
    w.refused(
        f"{path}/decision",
        {**decision, "decision": "denied", "decided_on": "2026-11-03"},
        "reason_required",
    )
    w.refused(
        f"{path}/revocation",
        {"revoked_by": OFFICER, "revoked_on": "2026-11-20", "reason": "x"},
        "not_approved",
    )
    scene.decide(rid, "approved", "2026-11-05")
    w.refused(f"{path}/decision", {**decision, "decided_on": "2026-11-06"}, "already_decided")
    w.refused(
        f"{path}/revocation",
        {"revoked_by": OFFICER, "revoked_on": "2026-11-04", "reason": "x"},
        "before_approval",
    )
    # A graduated cohort's classes are over; an unknown cohort or request is not found.
    w.refused(
        "/cohorts/C0/class-session-requests", {"kinds": ["class_session"]}, "cohort_graduated"
    )
    w.refused(
        "/cohorts/NOPE/class-session-requests",
        {"kinds": ["class_session"]},
        "not_found",
        status=404,
    )
    w.get("/class-session-requests/00000000-0000-4000-8000-000000000000", status=404)


def test_the_role_matrix_of_class_sessions(scene: Scene) -> None:
    w = scene.w
    ask = {"kinds": ["class_session"], "requested_on": "2026-11-02"}
    w.refused(
        "/cohorts/C1/class-session-requests", ask, "forbidden", role="peer_mentor", status=403
    )
    w.refused("/cohorts/C1/class-session-requests", ask, "forbidden", role="auditor", status=403)
    rid = scene.ask("C1", ["class_session"], role="grantee_admin")
    decision = {"decision": "approved", "decided_by": OFFICER, "decided_on": "2026-11-05"}
    for role in ("case_manager", "peer_mentor", "auditor"):
        w.refused(
            f"/class-session-requests/{rid}/decision", decision, "forbidden", role=role, status=403
        )
    for role in ("coordinator", "case_manager", "auditor", "peer_mentor"):
        assert w.get(f"/class-session-requests/{rid}", role=role)["id"] == rid
    for role in ("federal_oversight", "rrc_staff"):
        w.get(f"/class-session-requests/{rid}", role=role, status=403)
    # A peer mentor records a class session of their own group under the approval.
    scene.decide(rid, "approved", "2026-11-05")
    body = scene.session("2026-11-10T10:00:00-06:00", approval=rid)
    held = w.post("/meetings", body, role="peer_mentor", sub="mentor-a")["held"]
    assert held["session"] == "class_session"


def test_graduate_speakers_and_class_sessions_count_in_the_oversight_figures(
    scene: Scene, settings: Any
) -> None:
    w = scene.w
    rid = scene.ask("C1", ["graduate_speaker", "class_session"])
    scene.decide(rid, "approved", "2026-11-05")
    speaker = w.post(
        "/meetings", scene.session("2026-11-10T10:00:00-06:00", "graduate_speaker", approval=rid)
    )
    assert speaker["held"]["session"] == "graduate_speaker"
    assert w.get(f"/meetings/{speaker['id']}")["held"]["session"] == "graduate_speaker"
    sessions = [
        w.post("/meetings", scene.session(f"{day}T10:00:00-06:00", approval=rid))
        for day in ("2026-11-17", "2026-11-24")
    ]
    denied = scene.ask("C2", ["class_session"])
    scene.decide(denied, "denied", "2026-11-06", note="no room")
    revoked = scene.ask("C2", ["graduate_speaker"])
    scene.decide(revoked, "approved", "2026-11-07")
    w.post(
        f"/class-session-requests/{revoked}/revocation",
        {"revoked_by": OFFICER, "revoked_on": "2026-11-20", "reason": "lockdown"},
    )
    scene.ask("C2", ["class_session"])  # pending
    # An amendment that makes a class session a plain meeting (outside class hours) uncounts it.
    record = scene.session("2026-11-24T13:00:00-06:00", "mentoring")["held"]
    plain = w.post(
        f"/meetings/{sessions[1]['id']}/amendments", {"reason": "was after class", "record": record}
    )
    assert "session" not in plain["held"] and "approval_id" not in plain["held"]

    projector.drain(w.db, w.schema)
    token = issue_token(settings, subject="fed", roles=["federal_oversight"], grantees=[w.slug])
    r = w.client.get(
        f"{w.base}/reports/quarterly/2026Q4", headers={"Authorization": f"Bearer {token}"}
    )
    assert r.status_code == 200, r.text
    figures = {k: v["value"] for k, v in r.json()["figures"].items() if "class_session" in k}
    assert figures == {
        "class_sessions.requested": 4,
        "class_sessions.approved": 2,
        "class_sessions.denied": 1,
        "class_sessions.revoked": 1,
        "class_sessions.approvals_in_force": 1,
        "class_sessions.class_session_held": 1,
        "class_sessions.class_session_hours": 1.0,
        "class_sessions.graduate_speaker_held": 1,
        "class_sessions.graduate_speaker_hours": 1.0,
    }
    assert r.json()["figures"]["meetings.held"]["value"] == 3
    # The speaker session drills down to its own event.
    drill = w.client.get(
        f"{w.base}/reports/quarterly/2026Q4/figures/class_sessions.graduate_speaker_held",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert drill.status_code == 200, drill.text

    # Every view equals a rebuild from the log.
    before = projector.digests(w.db, w.schema)
    for view in ("oversight", "directory", "meetings"):
        rebuilds.rebuild(w.db, w.schema, view)
    assert projector.digests(w.db, w.schema) == before


def test_a_graduate_speaker_is_a_graduate_mentor(scene: Scene) -> None:
    w = scene.w
    w.policy(stage1=["earlier_graduate", "community_peer"])
    peer = w.post(
        "/mentors",
        {
            "display_name": "Pat Peer",
            "source": "community_peer",
            "channel": "community_organization",
            "subject": "pat",
        },
    )["id"]
    for step in ("application", "interview", "references"):
        w.post(
            f"/mentors/{peer}/screening-steps",
            {"step": step, "completed_on": "2025-07-01", "staff": "Dana Cole"},
        )
    w.post(
        f"/mentors/{peer}/background-review",
        {"decision": "approved", "reviewer": "Rita Ortiz", "reviewed_on": "2025-07-01"},
    )
    for module in MODULES:
        w.post(
            f"/mentors/{peer}/trainings",
            {"module": module, "completed_on": "2025-07-02", "hours": 1, "trainer": "Lou Brandt"},
        )
    w.post(
        f"/mentors/{peer}/clearances",
        {"facility": "FCI-A", "trained_on": "2025-08-01", "expires_on": "2027-08-01"},
    )
    w.post(f"/mentors/{peer}/certification", {})
    scene.group = w.pair(peer, [scene.a, scene.b], "2026-10-01T15:00:00Z", kind="group")
    rid = scene.ask("C1", ["graduate_speaker", "class_session"])
    scene.decide(rid, "approved", "2026-11-05")
    at = "2026-11-10T10:00:00-06:00"
    w.refused(
        "/meetings", scene.session(at, "graduate_speaker", approval=rid), "speaker_not_a_graduate"
    )
    # Group mentoring as a class session may be given by any mentor the policy allows.
    assert w.post("/meetings", scene.session(at, approval=rid))["held"]["session"] == (
        "class_session"
    )
