"""SMART goals through the API on a real PostgreSQL: a narrated goal from setting to
celebration, every refusal as a 422 problem that appends nothing, revision history, the goal
board and list, overdue goals in the caseload, peer-mentor scoping, the view equal to a rebuild
and the OpenAPI document."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from domain import clock
from domain.goals import Goal, GoalDomain, GoalTerms, Horizon
from services.projector import live as projector
from services.projector import rebuilds
from services.store.ledger import Command
from tests.people import birth_date

TODAY = clock.now().date()
MODULES = [
    "communication_skills",
    "crisis_management",
    "cultural_sensitivity",
    "mentoring_techniques",
    "boundaries_and_confidentiality",
    "conflict_resolution",
]


def day(n: int) -> str:
    return (TODAY + timedelta(days=n)).isoformat()


class Api:
    """One grantee's API, spoken as a coordinator unless told otherwise."""

    def __init__(self, client: Any, auth: Any, slug: str, db: Any) -> None:
        self.client, self.auth, self.slug, self.db = client, auth, slug, db
        self.base = f"/v1/grantees/{slug}"

    def headers(self, role: str = "coordinator", sub: str | None = None) -> dict[str, str]:
        return dict(self.auth(role, self.slug, sub=sub))

    def events(self) -> int:
        row = self.db.fetchone(f'SELECT count(*) FROM "g_{self.slug}".events')
        return int(row[0]) if row else 0

    def post(
        self,
        path: str,
        body: dict[str, Any],
        *,
        role: str = "coordinator",
        sub: str | None = None,
        expect: int = 201,
    ) -> Any:
        r = self.client.post(self.base + path, json=body, headers=self.headers(role, sub))
        assert r.status_code == expect, r.text
        return r.json()

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

    def refused(self, path: str, body: dict[str, Any], code: str) -> dict[str, Any]:
        """POST `body`; it must be refused as a 422 problem naming `code`, appending nothing."""
        before = self.events()
        r = self.client.post(self.base + path, json=body, headers=self.headers())
        assert r.status_code == 422, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
        problem: dict[str, Any] = r.json()
        assert (problem["code"], problem["type"]) == (code, f"urn:prowd:problem:{code}"), problem
        assert problem["detail"]
        assert self.events() == before, "a refused command appended events"
        return problem

    def enrol(self, cohort: str = "C1", entry: str = "2026-02-01", first_name: str = "Ann") -> str:
        body = {
            "first_name": first_name,
            "last_name": "Lee",
            "date_of_birth": birth_date(),
            "program_entry_date": entry,
            "facility": "FCI-A",
            "cohort": cohort,
        }
        return str(self.post("/participants", body)["id"])

    def peer_mentor_with_mentee(self, subject: str) -> tuple[str, str]:
        """A graduate of cohort C1, certified as a peer mentor with token subject `subject` and
        matched with a newcomer of cohort C2; a second newcomer stays unmatched.
        Returns (mentee, stranger)."""
        grad = self.enrol()
        self.post("/cohorts/C1/graduation", {"graduated_on": "2026-06-01"}, expect=200)
        self.post("/cohorts", {"code": "C2", "facility": "FCI-A", "start_date": "2026-07-06"})
        mentee, stranger = (self.enrol("C2", "2026-07-06", name) for name in ("New", "Other"))
        mentor = self.post(
            "/mentors",
            {
                "display_name": "Sam",
                "source": "graduate",
                "channel": "cohort_graduation",
                "participant_id": grad,
                "subject": subject,
            },
        )["id"]
        for step in ("application", "interview", "references"):
            self.post(
                f"/mentors/{mentor}/screening-steps",
                {"step": step, "completed_on": "2026-06-02", "staff": "Dana Cole"},
            )
        self.post(
            f"/mentors/{mentor}/background-review",
            {"decision": "approved", "reviewer": "Rita Ortiz", "reviewed_on": "2026-06-03"},
        )
        for module in MODULES:
            self.post(
                f"/mentors/{mentor}/trainings",
                {
                    "module": module,
                    "completed_on": "2026-06-10",
                    "hours": 1.5,
                    "trainer": "Lou Brandt",
                },
            )
        assert self.post(f"/mentors/{mentor}/certification", {})["status"] == "certified"
        self.post(
            "/pairings",
            {
                "kind": "individual",
                "mentor_id": mentor,
                "members": [mentee],
                "location": {"kind": "off_site"},
                "criteria": ["shared_experience"],
            },
        )
        return mentee, stranger


@pytest.fixture
def api(client, auth, grantee, db) -> Api:
    return Api(client, auth, grantee, db)


def goal_body(participant_id: str, **overrides: Any) -> dict[str, Any]:
    return {
        "participant_id": participant_id,
        "horizon": "short_term",
        "domain": "id_documents",
        "statement": "Get a state ID card",
        "measure": "ID card issued by the DMV",
        "target": "card in hand",
        "target_date": day(60),
        **overrides,
    }


def set_goal(api: Api, participant_id: str, **overrides: Any) -> dict[str, Any]:
    return dict(api.post("/goals", goal_body(participant_id, **overrides)))


def backdated_goal(app: Any, slug: str, participant_id: str, days_ago: int, target_in: int) -> str:
    """A goal recorded as set `days_ago` days ago (as an import of earlier records would):
    the only way a target date can have passed by today."""
    tenant = app.state.tenancy.app(slug)
    at = clock.now() - timedelta(days=days_ago)
    terms = GoalTerms(
        horizon=Horizon.WEEKLY,
        domain=GoalDomain.EMPLOYMENT,
        statement="Apply to three jobs",
        measure="applications sent",
        target="3",
        target_date=at.date() + timedelta(days=target_in),
    )
    goal = Goal.set_for(
        participant=tenant.participants.participant(participant_id), terms=terms, at=at
    )
    tenant.ledger.record(goal, Command())
    return str(goal.id)


def test_a_goal_from_setting_to_celebration(api):
    pid = api.enrol()
    goal = set_goal(api, pid)
    gid = goal["id"]
    assert (goal["status"], goal["set_on"], goal["overdue"]) == ("active", TODAY.isoformat(), False)
    assert [r["number"] for r in goal["revisions"]] == [1]

    # Break it down into steps, each with its own status.
    goal = api.post(
        f"/goals/{gid}/steps", {"description": "Request a birth certificate", "due_on": day(10)}
    )
    birth = goal["steps"][-1]["step_id"]
    goal = api.post(f"/goals/{gid}/steps", {"description": "Get a letter from the RRC"})
    letter = goal["steps"][-1]["step_id"]
    api.post(f"/goals/{gid}/steps/{birth}/completion", {"note": "arrived by mail"})
    goal = api.post(f"/goals/{gid}/steps/{letter}/drop", {"reason": "not needed in this state"})
    assert [(s["status"], s["note"]) for s in goal["steps"]] == [
        ("completed", "arrived by mail"),
        ("dropped", "not needed in this state"),
    ]

    # Monitor progress, with evidence; a setback lowers the percent.
    api.post(
        f"/goals/{gid}/progress",
        {"note": "DMV visit booked", "evidence": "confirmation 48213", "percent": 60},
    )
    goal = api.post(
        f"/goals/{gid}/progress",
        {
            "note": "visit cancelled by the DMV",
            "evidence": "https://dmv.example/n/7",
            "percent": 40,
        },
    )
    assert [(p["percent"], p["evidence"]) for p in goal["progress"]] == [
        (60, "confirmation 48213"),
        (40, "https://dmv.example/n/7"),
    ]

    # Reassess: a later target date; the first version stays in the history.
    goal = api.post(
        f"/goals/{gid}/revisions", {"reason": "DMV closed for the holidays", "target_date": day(80)}
    )
    assert goal["target_date"] == day(80)
    first, second = goal["revisions"]
    assert (first["number"], first["terms"]["target_date"], first["reason"]) == (1, day(60), "")
    assert (second["number"], second["terms"]["target_date"], second["reason"]) == (
        2,
        day(80),
        "DMV closed for the holidays",
    )
    assert second["terms"]["statement"] == first["terms"]["statement"]
    assert second["recorded_by"] == "test-coordinator"

    # Celebrate; the goal then accepts nothing further.
    goal = api.post(f"/goals/{gid}/achievement", {"note": "Got the ID; lunch with the group"})
    assert (goal["status"], goal["outcome"]) == ("achieved", "Got the ID; lunch with the group")
    api.refused(f"/goals/{gid}/progress", {"note": "more", "evidence": "x"}, "goal_closed")
    api.refused(f"/goals/{gid}/abandonment", {"reason": "changed mind"}, "goal_closed")

    got = api.get(f"/goals/{gid}", role="auditor")
    assert got == {k: v for k, v in goal.items() if k != "position"}
    assert len(got["revisions"]) == 2 and got["version"] == 9


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"statement": "  "}, "goal_not_specific"),
        ({"measure": " "}, "goal_not_specific"),
        ({"target_date": day(-1)}, "target_in_past"),
        ({"horizon": "weekly", "target_date": day(8)}, "target_beyond_horizon"),
        ({"horizon": "short_term", "target_date": day(91)}, "target_beyond_horizon"),
        ({"horizon": "long_term", "target_date": day(731)}, "target_beyond_horizon"),
    ],
)
def test_a_goal_that_is_not_smart_is_refused(api, overrides, code):
    pid = api.enrol()
    api.refused("/goals", goal_body(pid, **overrides), code)


@pytest.mark.parametrize(
    ("horizon", "days"),
    [
        ("weekly", 7),
        ("short_term", 90),
        ("long_term", 730),
        ("weekly", 0),
    ],
)
def test_a_target_on_the_edge_of_its_horizon_is_accepted(api, horizon, days):
    goal = set_goal(api, api.enrol(), horizon=horizon, target_date=day(days))
    assert (goal["horizon"], goal["target_date"]) == (horizon, day(days))


def test_every_rule_on_an_active_goal_is_refused_with_its_code(api):
    gid = set_goal(api, api.enrol())["id"]
    base = f"/goals/{gid}"
    api.refused(f"{base}/steps", {"description": "  "}, "description_required")
    api.refused(f"{base}/steps", {"description": "Call", "due_on": day(-1)}, "due_in_past")
    api.refused(
        f"{base}/steps", {"description": "Call", "due_on": day(61)}, "step_due_after_target"
    )
    step = api.post(f"{base}/steps", {"description": "Call", "due_on": day(30)})["steps"][0]
    sid = step["step_id"]
    api.refused(f"{base}/steps/{gid}/completion", {}, "no_such_step")
    api.refused(f"{base}/steps/{sid}/drop", {"reason": " "}, "reason_required")
    api.refused(f"{base}/progress", {"note": " ", "evidence": "x"}, "note_required")
    api.refused(f"{base}/progress", {"note": "x", "evidence": " "}, "evidence_required")
    api.refused(f"{base}/revisions", {"reason": "same"}, "revision_unchanged")
    api.refused(f"{base}/revisions", {"reason": " ", "target_date": day(50)}, "reason_required")
    api.refused(
        f"{base}/revisions", {"reason": "sooner", "target_date": day(20)}, "step_due_after_target"
    )
    api.refused(
        f"{base}/revisions", {"reason": "weekly now", "horizon": "weekly"}, "target_beyond_horizon"
    )
    api.refused(f"{base}/revisions", {"reason": "vaguer", "measure": " "}, "goal_not_specific")
    api.refused(f"{base}/achievement", {"note": " "}, "note_required")
    api.refused(f"{base}/abandonment", {"reason": " "}, "reason_required")
    api.post(f"{base}/steps/{sid}/completion", {})
    api.refused(f"{base}/steps/{sid}/completion", {}, "step_closed")
    api.refused(f"{base}/steps/{sid}/drop", {"reason": "late"}, "step_closed")
    goal = api.post(
        f"{base}/revisions",
        {"reason": "a week is enough", "horizon": "weekly", "target_date": day(7)},
    )
    assert (goal["horizon"], len(goal["revisions"])) == ("weekly", 2)


@pytest.mark.parametrize(
    "body",
    [
        {"note": "x", "evidence": "y", "percent": 101},
        {"note": "x", "evidence": "y", "percent": -1},
        {"note": "x", "evidence": "y", "extra": 1},
        {"note": "", "evidence": "y"},
    ],
)
def test_a_malformed_progress_update_is_a_400(api, body):
    gid = set_goal(api, api.enrol())["id"]
    before = api.events()
    r = api.client.post(f"{api.base}/goals/{gid}/progress", json=body, headers=api.headers())
    assert r.status_code == 400, r.text
    assert api.events() == before


def test_an_abandoned_goal_accepts_nothing_further(api):
    gid = set_goal(api, api.enrol())["id"]
    goal = api.post(f"/goals/{gid}/abandonment", {"reason": "moved to another district"})
    assert (goal["status"], goal["outcome"]) == ("abandoned", "moved to another district")
    api.refused(f"/goals/{gid}/steps", {"description": "Call"}, "goal_closed")
    api.refused(f"/goals/{gid}/revisions", {"reason": "back", "target_date": day(5)}, "goal_closed")
    api.refused(f"/goals/{gid}/achievement", {"note": "did it anyway"}, "goal_closed")


def test_goals_belong_to_active_participants_but_can_be_abandoned_after_exit(api):
    pid = api.enrol()
    gid = set_goal(api, pid)["id"]
    api.post(f"/participants/{pid}/exit", {"exit_date": TODAY.isoformat(), "reason": "relocated"})
    api.refused("/goals", goal_body(pid), "participant_exited")
    api.refused(f"/goals/{gid}/progress", {"note": "x", "evidence": "y"}, "participant_exited")
    api.refused(f"/goals/{gid}/achievement", {"note": "x"}, "participant_exited")
    goal = api.post(f"/goals/{gid}/abandonment", {"reason": "participant exited the program"})
    assert goal["status"] == "abandoned"


def test_unknown_goals_steps_and_participants_are_not_found(api):
    pid = api.enrol()
    missing = "00000000-0000-4000-8000-000000000000"
    assert api.post("/goals", goal_body(missing), expect=404)["code"] == "not_found"
    assert api.get(f"/goals/{missing}", expect=404)["detail"] == "goal not found"
    assert (
        api.post(f"/goals/{missing}/progress", {"note": "x", "evidence": "y"}, expect=404)["code"]
        == "not_found"
    )
    assert api.get("/goals/board", participant_id=missing, expect=404)["code"] == "not_found"
    gid = set_goal(api, pid)["id"]
    api.refused(f"/goals/{gid}/steps/{missing}/drop", {"reason": "x"}, "no_such_step")


def test_the_goal_board_and_list_show_each_participants_goals(api):
    pid, other = api.enrol(), api.enrol(first_name="Bo")
    weekly = set_goal(
        api,
        pid,
        horizon="weekly",
        domain="employment",
        target_date=day(5),
        statement="Apply to three jobs",
        measure="applications",
        target="3",
    )
    later = set_goal(
        api,
        pid,
        domain="housing",
        target_date=day(40),
        statement="Find a room",
        measure="lease signed",
        target="1 lease",
    )
    done = set_goal(
        api,
        pid,
        domain="recovery",
        target_date=day(20),
        statement="Attend NA",
        measure="meetings",
        target="8",
    )
    dropped = set_goal(
        api,
        pid,
        domain="benefits",
        target_date=day(30),
        statement="Apply for SNAP",
        measure="application",
        target="filed",
    )
    set_goal(api, other)
    api.post(f"/goals/{weekly['id']}/steps", {"description": "Update the resume", "due_on": day(2)})
    api.post(f"/goals/{done['id']}/achievement", {"note": "eight meetings"})
    last = api.post(f"/goals/{dropped['id']}/abandonment", {"reason": "not eligible"})
    projector.drain(api.db, f"g_{api.slug}")
    board = api.get("/goals/board", participant_id=pid, role="auditor")
    assert [g["id"] for g in board["active"]] == [weekly["id"], later["id"]]
    assert [g["id"] for g in board["achieved"]] == [done["id"]]
    assert [g["id"] for g in board["abandoned"]] == [dropped["id"]]
    assert board["overdue"] == 0 and board["as_of"] == TODAY.isoformat()
    (step,) = board["active"][0]["steps"]
    assert (step["description"], step["status"], step["overdue"]) == (
        "Update the resume",
        "open",
        False,
    )
    assert board["active"][0]["steps_open"] == 1
    assert board["abandoned"][0]["outcome"] == last["outcome"] == "not eligible"
    assert board["position"] == projector.position_of(api.db, f"g_{api.slug}", "goals") > 0

    mine = api.get("/goals", participant_id=pid, limit=3)
    rest = api.get("/goals", participant_id=pid, cursor=mine["next_cursor"])
    assert len(mine["items"]) == 3 and rest["next_cursor"] is None
    ids = {g["id"] for g in mine["items"] + rest["items"]}
    assert ids == {weekly["id"], later["id"], done["id"], dropped["id"]}
    active = api.get("/goals", participant_id=pid, status="active", domain="housing")
    assert [g["id"] for g in active["items"]] == [later["id"]]
    assert len(api.get("/goals", horizon="short_term")["items"]) == 4


def test_a_write_is_read_back_from_the_views_at_its_position(api):
    pid = api.enrol()
    r = api.client.post(f"{api.base}/goals", json=goal_body(pid), headers=api.headers())
    position = int(r.headers["X-Log-Position"])
    projector.drain(api.db, f"g_{api.slug}")
    rows = api.get("/goals", participant_id=pid, min_position=position)["items"]
    assert [g["id"] for g in rows] == [r.json()["id"]]


def test_overdue_goals_surface_in_the_caseload_board_and_list(api, app):
    pid, other = api.enrol(), api.enrol(first_name="Bo")
    overdue = backdated_goal(app, api.slug, pid, days_ago=20, target_in=5)
    on_time = backdated_goal(app, api.slug, pid, days_ago=2, target_in=6)
    closed = backdated_goal(app, api.slug, pid, days_ago=30, target_in=7)
    api.post(f"/goals/{closed}/abandonment", {"reason": "the job fair was cancelled"})
    set_goal(api, other)
    projector.drain(api.db, f"g_{api.slug}")
    rows = {r["id"]: r for r in api.get("/participants")["items"]}
    assert (rows[pid]["overdue_goals"], rows[other]["overdue_goals"]) == (1, 0)
    board = api.get("/goals/board", participant_id=pid)
    assert board["overdue"] == 1
    assert [(g["id"], g["overdue"]) for g in board["active"]] == [(overdue, True), (on_time, False)]
    late = api.get("/goals", overdue=True)["items"]
    assert [g["id"] for g in late] == [overdue]
    assert api.get(f"/goals/{overdue}")["overdue"] is True
    # Reassessing the overdue goal gives it a new target from today: it is no longer overdue.
    api.post(f"/goals/{overdue}/revisions", {"reason": "no openings yet", "target_date": day(7)})
    projector.drain(api.db, f"g_{api.slug}")
    rows = {r["id"]: r for r in api.get("/participants")["items"]}
    assert rows[pid]["overdue_goals"] == 0


def test_peer_mentors_work_only_on_their_own_mentees_goals(api):
    mentee, stranger = api.peer_mentor_with_mentee("mentor-sam")
    sam = {"role": "peer_mentor", "sub": "mentor-sam"}
    mine = api.post("/goals", goal_body(mentee), **sam)["id"]
    api.post("/goals", goal_body(stranger), expect=404, **sam)
    theirs = set_goal(api, stranger)["id"]
    api.post(f"/goals/{mine}/progress", {"note": "x", "evidence": "y"}, **sam)
    before = api.events()
    refused = api.post(
        f"/goals/{theirs}/progress", {"note": "x", "evidence": "y"}, expect=404, **sam
    )
    assert refused["detail"] == "goal not found"
    assert api.events() == before
    projector.drain(api.db, f"g_{api.slug}")
    seen = api.get("/goals", role="peer_mentor", sub="mentor-sam")["items"]
    assert [g["id"] for g in seen] == [mine]
    api.get(f"/goals/{theirs}", role="peer_mentor", sub="mentor-sam", expect=404)
    api.get(
        "/goals/board", participant_id=stranger, role="peer_mentor", sub="mentor-sam", expect=404
    )
    board = api.get("/goals/board", participant_id=mentee, role="peer_mentor", sub="mentor-sam")
    assert [g["id"] for g in board["active"]] == [mine]
    # Auditors read but never write; federal oversight sees no goals at all.
    api.get(f"/goals/{mine}", role="auditor")
    assert (
        api.post(f"/goals/{mine}/achievement", {"note": "x"}, role="auditor", expect=403)["code"]
        == "forbidden"
    )
    api.get("/goals", role="federal_oversight", expect=403)


def test_an_idempotent_retry_sets_one_goal(api):
    pid = api.enrol()
    h = {**api.headers(), "Idempotency-Key": "goal-1"}
    first = api.client.post(f"{api.base}/goals", json=goal_body(pid), headers=h)
    again = api.client.post(f"{api.base}/goals", json=goal_body(pid), headers=h)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert first.json() == again.json()


def test_the_live_goal_view_equals_a_rebuild_from_the_log(api, app):
    pid = api.enrol()
    for n in range(3):
        gid = set_goal(api, pid, target_date=day(30 + n))["id"]
        sid = api.post(f"/goals/{gid}/steps", {"description": "a step"})["steps"][0]["step_id"]
        api.post(f"/goals/{gid}/progress", {"note": "n", "evidence": "e", "percent": 10 * n})
        api.post(f"/goals/{gid}/revisions", {"reason": "adjust", "target_date": day(45)})
        if n == 0:
            api.post(f"/goals/{gid}/steps/{sid}/completion", {"note": "done"})
            api.post(f"/goals/{gid}/achievement", {"note": "celebrated"})
        elif n == 1:
            api.post(f"/goals/{gid}/steps/{sid}/drop", {"reason": "not needed"})
            api.post(f"/goals/{gid}/abandonment", {"reason": "changed plans"})
    backdated_goal(app, api.slug, pid, days_ago=10, target_in=3)
    schema = f"g_{api.slug}"
    projector.drain(api.db, schema)
    live = projector.digests(api.db, schema)["goals"]
    board = api.get("/goals/board", participant_id=pid)
    build = rebuilds.rebuild(api.db, schema, "goals")
    assert build >= 2
    assert projector.digests(api.db, schema)["goals"] == live
    assert api.get("/goals/board", participant_id=pid) == board


def test_the_openapi_document_describes_every_goal_route(client):
    doc = client.get("/schema/openapi.json").json()
    # The auditor's reconstruction (`/audit/goals/{id}`) is an audit route, not a goal route.
    routes = {p: ops for p, ops in doc["paths"].items() if "/goals" in p and "/audit/" not in p}
    assert len(routes) == 10
    for path, ops in routes.items():
        for method, op in ops.items():
            assert op.get("description") or op.get("summary"), (method, path)
            if method != "post":
                continue
            content = op["requestBody"]["content"]["application/json"]
            assert content["schema"]["examples"], (method, path)
            problems = op["responses"]["422"]["content"]["application/problem+json"]["examples"]
            assert problems, path
            assert op["responses"]["404"]
    sets = routes["/v1/grantees/{grantee}/goals"]["post"]["responses"]["422"]
    codes = {
        e["value"]["code"] for e in sets["content"]["application/problem+json"]["examples"].values()
    }
    assert {"goal_not_specific", "target_in_past", "target_beyond_horizon"} <= codes
