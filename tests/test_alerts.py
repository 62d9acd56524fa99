"""The grantee's alerts over HTTP, on the real app and PostgreSQL: each kind (missed cadence,
overdue goal, open crisis, expiring clearance, debrief due) appears when due and goes away when the
meeting is held, the goal achieved, the crisis resolved, the clearance renewed or the mentor
debriefed; `counts` per kind, the `kind` filter, who may read them, and no personal names."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from domain import clock
from domain.goals import Goal, GoalDomain, GoalTerms, Horizon
from services.projector import live as projector
from services.store.ledger import Command
from tests.meetings_helpers import held
from tests.mentoring_helpers import Api

KINDS = ("missed_cadence", "overdue_goal", "open_crisis", "clearance_expiring", "debrief_due")
# Personal names of everyone in the world below: no alert may carry any of them.
NAMES = (
    "Thaddeus",
    "Okonkwo-Baird",
    "Leocadia",
    "Vanterpool",
    "Hieronymus",
    "Quisenberry",
    "Philippa",
    "Castellanos",
    "Marcus Whitlow",
    "Rosa Pendergast",
)
OFF_SITE = {"kind": "off_site"}


def now() -> datetime:
    return clock.now()


def ago(**delta: float) -> str:
    return (now() - timedelta(**delta)).isoformat()


def day(offset: int) -> str:
    return (now().date() + timedelta(days=offset)).isoformat()


@dataclass
class World:
    api: Api
    mentor: str  # certified, clearance FCI-A until 2027-06-15, mentors `idle` and `active`
    other_mentor: str  # certified, clearance FCI-B expiring in 10 days
    idle: str  # participant in `idle_pairing` (opened 3 weeks ago, never met)
    active: str  # participant in `active_pairing` (met yesterday)
    idle_pairing: str
    active_pairing: str
    overdue_goal: str
    crisis: str  # raised 30 hours ago, unresolved
    last: int

    def alerts(self, *, role: str = "coordinator", **params: Any) -> tuple[int, str, Any]:
        projector.drain(self.api.db, f"g_{self.api.slug}")
        r = self.api.client.get(
            self.api.base + "/alerts",
            params={"min_position": self.last, **params},
            headers=self.api.headers(role),
        )
        return r.status_code, r.text, r.json()

    def ok(self, **params: Any) -> dict[str, Any]:
        status, raw, body = self.alerts(**params)
        assert status == 200, raw
        assert_no_names(raw)
        return dict(body)

    def post(self, path: str, body: dict[str, Any], **kw: Any) -> Any:
        out = self.api.post(path, body, **kw)
        self.last = out["position"]
        return out


def assert_no_names(raw: str) -> None:
    for name in NAMES:
        assert name not in raw, f"a personal name ({name!r}) in the alerts"


def backdated_goal(app: Any, slug: str, participant_id: str, days_ago: int, target_in: int) -> str:
    """A goal set `days_ago` days ago through the application layer (as an import of earlier
    records would), with its target `target_in` days after that: the only way a target date can
    have passed by today."""
    tenant = app.state.tenancy.app(slug)
    at = now() - timedelta(days=days_ago)
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


def build_world(api: Api, app: Any) -> World:
    grad = api.enrol("C1", first_name=NAMES[0], last_name=NAMES[1])
    other_grad = api.enrol("C1", first_name=NAMES[2], last_name=NAMES[3])
    api.graduate("C1", "2026-06-01")
    api.cohort("C2", "2026-07-06")
    idle = api.enrol("C2", "2026-07-06", first_name=NAMES[4], last_name=NAMES[5])
    active = api.enrol("C2", "2026-07-06", first_name=NAMES[6], last_name=NAMES[7])
    mentor = api.certified(NAMES[8], participant_id=grad, subject="pm-whitlow")
    other_mentor = api.certified(NAMES[9], participant_id=other_grad, subject="pm-pendergast")
    # A clearance for a second institution that runs out in 10 days; one elsewhere in 40 days.
    api.clear(other_mentor, "FCI-B", trained_on="2026-06-15", expires_on=day(10))
    api.clear(mentor, "FCI-B", trained_on="2026-06-15", expires_on=day(40))

    idle_pairing = api.pair(mentor, [idle], opened_at=ago(days=21))["id"]
    active_pairing = api.pair(other_mentor, [active], opened_at=ago(days=21))["id"]
    api.post(
        "/meetings",
        {
            "pairing_id": active_pairing,
            "scheduled_for": ago(days=1),
            "location": OFF_SITE,
            "held": held(ago(days=1)),
        },
    )

    overdue = backdated_goal(app, api.slug, idle, days_ago=20, target_in=5)
    api.post(
        "/goals",
        {  # on time: no alert
            "participant_id": active,
            "horizon": "short_term",
            "domain": "id_documents",
            "statement": "Get a state ID card",
            "measure": "ID card issued",
            "target": "card in hand",
            "target_date": day(30),
        },
    )
    crisis = api.post(
        "/escalations",
        {
            "mentor_id": mentor,
            "participant_id": idle,
            "type": "crisis",
            "severity": "high",
            "description": "talked of ending it all",
            "raised_at": ago(hours=30),
        },
    )["id"]
    # Not alerts: a crisis raised 2 hours ago, and an old escalation that is not a crisis.
    api.post(
        "/escalations",
        {
            "mentor_id": other_mentor,
            "participant_id": active,
            "type": "crisis",
            "severity": "medium",
            "description": "eviction notice",
            "raised_at": ago(hours=2),
        },
    )
    last = api.post(
        "/escalations",
        {
            "mentor_id": mentor,
            "type": "boundary_concern",
            "severity": "low",
            "description": "asked for a loan",
            "raised_at": ago(days=3),
        },
    )
    return World(
        api,
        mentor,
        other_mentor,
        idle,
        active,
        idle_pairing,
        active_pairing,
        overdue,
        crisis,
        last["position"],
    )


@pytest.fixture
def w(client, auth, grantee, db, app) -> World:
    return build_world(Api(client, auth, grantee, db), app)


def keyed(body: dict[str, Any]) -> set[tuple[str, str]]:
    return {(a["kind"], a["subject_id"]) for a in body["items"]}


# -- every kind, and what clears it -----------------------------------------------------------
def test_each_kind_of_alert_appears_when_due(w):
    body = w.ok()
    assert keyed(body) == {
        ("missed_cadence", w.idle_pairing),
        ("overdue_goal", w.overdue_goal),
        ("open_crisis", w.crisis),
        ("clearance_expiring", w.other_mentor),
        ("debrief_due", w.mentor),
        ("debrief_due", w.other_mentor),
    }
    assert body["counts"] == {
        "missed_cadence": 1,
        "overdue_goal": 1,
        "open_crisis": 1,
        "clearance_expiring": 1,
        "debrief_due": 2,
    }
    assert datetime.fromisoformat(body["generated_at"]) <= now()
    rows = {(a["kind"], a["subject_id"]): a for a in body["items"]}
    cadence = rows[("missed_cadence", w.idle_pairing)]
    assert (cadence["subject"], cadence["mentor_id"]) == ("pairing", w.mentor)
    goal = rows[("overdue_goal", w.overdue_goal)]
    assert (goal["subject"], goal["participant_id"]) == ("goal", w.idle)
    assert goal["since"].startswith((now().date() - timedelta(days=15)).isoformat())
    crisis = rows[("open_crisis", w.crisis)]
    assert (crisis["subject"], crisis["mentor_id"], crisis["participant_id"]) == (
        "escalation",
        w.mentor,
        w.idle,
    )
    assert "not acknowledged" in crisis["detail"] and "talked of" not in crisis["detail"]
    clearance = rows[("clearance_expiring", w.other_mentor)]
    assert clearance["subject"] == "mentor" and day(10) in clearance["detail"]
    assert "FCI-B" in clearance["detail"]
    assert rows[("debrief_due", w.mentor)]["detail"] == "no debrief yet"
    # Nothing lies in the future.
    for a in body["items"]:
        assert a["since"] is None or datetime.fromisoformat(a["since"]) <= now()


def test_holding_achieving_resolving_renewing_and_debriefing_clear_the_alerts(w):
    api = w.api
    # The idle pairing meets: no more missed cadence.
    w.post(
        "/meetings",
        {
            "pairing_id": w.idle_pairing,
            "scheduled_for": ago(hours=3),
            "location": OFF_SITE,
            "held": held(ago(hours=3)),
        },
    )
    assert "missed_cadence" not in w.ok()["counts"]
    # The overdue goal is achieved.
    w.post(f"/goals/{w.overdue_goal}/achievement", {"note": "three applications sent"})
    assert "overdue_goal" not in w.ok()["counts"]
    # Acknowledging alone keeps the crisis open (and says so); resolving clears it.
    w.post(f"/escalations/{w.crisis}/acknowledgement", {"acknowledged_at": ago(hours=29)})
    crisis = w.ok(kind="open_crisis")["items"]
    assert [a["subject_id"] for a in crisis] == [w.crisis]
    assert "not acknowledged" not in crisis[0]["detail"]
    w.post(f"/escalations/{w.crisis}/resolution", {"resolution": "safety plan agreed"})
    assert "open_crisis" not in w.ok()["counts"]
    # The expiring clearance is renewed.
    w.post(
        f"/mentors/{w.other_mentor}/clearances",
        {"facility": "FCI-B", "trained_on": day(0), "expires_on": day(365)},
    )
    assert "clearance_expiring" not in w.ok()["counts"]
    # A debrief with one mentor clears theirs only.
    w.post(
        "/debriefs",
        {
            "mentor_ids": [w.mentor],
            "held_on": day(0),
            "topics": ["self_care"],
            "checks": [{"mentor_id": w.mentor, "wellbeing": "steady"}],
        },
    )
    body = w.ok()
    assert keyed(body) == {("debrief_due", w.other_mentor)}
    assert body["counts"] == {"debrief_due": 1}
    # A debrief more than 30 days ago is due again; a suspended mentor is no longer alerted.
    w.post(
        "/debriefs",
        {
            "mentor_ids": [w.other_mentor],
            "held_on": day(-45),
            "topics": ["self_care"],
            "checks": [{"mentor_id": w.other_mentor, "wellbeing": "strained"}],
        },
    )
    rows = w.ok()["items"]
    assert [(a["subject_id"], a["detail"]) for a in rows] == [
        (w.other_mentor, f"last debrief on {day(-45)}")
    ]
    w.post(f"/mentors/{w.other_mentor}/suspension", {"reason": "on leave"})
    body = w.ok()
    assert (body["items"], body["counts"]) == ([], {})
    assert api.events() > 0


def test_a_newly_matched_pairing_and_a_fresh_crisis_are_not_yet_due(w):
    body = w.ok()
    assert ("missed_cadence", w.active_pairing) not in keyed(body)
    crises = [a["subject_id"] for a in body["items"] if a["kind"] == "open_crisis"]
    assert crises == [w.crisis]
    # A pairing matched today is not due this week.
    extra = w.api.enrol("C2", "2026-07-06", first_name=NAMES[4], last_name=NAMES[7])
    fresh = w.post("/pairings", w.api.pairing_body(w.mentor, [extra]))["id"]
    assert ("missed_cadence", fresh) not in keyed(w.ok())
    # Closing the idle pairing clears its cadence alert.
    w.post(
        f"/pairings/{w.idle_pairing}/closure",
        {
            "closure_type": "planned",
            "reason": "moved away",
            "initiator": "program",
            "rematch_eligible": True,
        },
    )
    assert "missed_cadence" not in w.ok()["counts"]


# -- counts and filter ------------------------------------------------------------------------
@pytest.mark.parametrize("kind", KINDS)
def test_the_kind_filter_keeps_one_kind_and_the_counts_of_all(w, kind):
    whole = w.ok()
    body = w.ok(kind=kind)
    assert body["items"] == [a for a in whole["items"] if a["kind"] == kind]
    assert body["items"] and {a["kind"] for a in body["items"]} == {kind}
    assert body["counts"] == whole["counts"]
    assert len(body["items"]) == body["counts"][kind]


def test_an_unknown_kind_is_a_bad_request(w):
    status, raw, _ = w.alerts(kind="everything")
    assert status == 400, raw


# -- who may read them ------------------------------------------------------------------------
@pytest.mark.parametrize("role", ["coordinator", "grantee_admin"])
def test_staff_read_the_alerts(w, role):
    status, raw, body = w.alerts(role=role)
    assert status == 200, raw
    assert sum(body["counts"].values()) == len(body["items"]) == 6
    assert_no_names(raw)


def test_a_case_manager_reads_the_alerts_without_supervision_records(w):
    status, raw, body = w.alerts(role="case_manager")
    assert status == 200, raw
    assert {i["kind"] for i in body["items"]} <= {
        "missed_cadence",
        "overdue_goal",
        "clearance_expiring",
    }
    assert "open_crisis" not in body["counts"] and "debrief_due" not in body["counts"]
    assert w.crisis not in raw
    assert_no_names(raw)


@pytest.mark.parametrize(
    "role", ["peer_mentor", "auditor", "rrc_staff", "federal_oversight", "platform_admin"]
)
def test_other_roles_are_forbidden(w, role):
    status, raw, body = w.alerts(role=role)
    assert status == 403, raw
    assert "items" not in body and "counts" not in body


def test_another_grantees_token_finds_nothing(w, make_grantee, auth):
    elsewhere = make_grantee()
    r = w.api.client.get(w.api.base + "/alerts", headers=auth("coordinator", elsewhere))
    assert r.status_code == 404, r.text
    assert "items" not in r.json() and w.crisis not in r.text
    # Their own alerts know nothing of ours.
    r = w.api.client.get(f"/v1/grantees/{elsewhere}/alerts", headers=auth("coordinator", elsewhere))
    assert r.status_code == 200, r.text
    assert (r.json()["items"], r.json()["counts"]) == ([], {})


def test_alerts_carry_ids_and_no_personal_names(w):
    status, raw, body = w.alerts()
    assert status == 200
    assert_no_names(raw)
    for a in body["items"]:
        assert set(a) <= {
            "kind",
            "subject",
            "subject_id",
            "since",
            "detail",
            "mentor_id",
            "participant_id",
            "pairing_id",
        }
    # The people do exist under those names elsewhere in the API.
    person = w.api.get(f"/participants/{w.idle}")
    assert NAMES[4] in str(person)


def test_a_lapsed_cadence_is_dated_from_the_week_after_the_last_meeting(w, frozen_at):
    """`since` of a missed cadence: the Monday (grantee's midnight) after the week of the last
    held meeting; for a pairing that never met, its match."""
    met = now() - timedelta(days=1)
    opened = {a["subject_id"]: a["since"] for a in w.ok()["items"]}[w.idle_pairing]
    frozen_at(now() + timedelta(days=21))
    rows = {(a["kind"], a["subject_id"]): a for a in w.ok()["items"]}
    zone = ZoneInfo(w.api.get("")["time_zone"])
    local = met.astimezone(zone).date()
    monday = local - timedelta(days=local.weekday()) + timedelta(days=7)
    lapsed = rows[("missed_cadence", w.active_pairing)]
    assert datetime.fromisoformat(lapsed["since"]) == datetime.combine(monday, time.min, zone)
    assert rows[("missed_cadence", w.idle_pairing)]["since"] == opened


def test_an_excused_week_counts_for_the_cadence_alert_as_the_cadence_view_counts_it(w, frozen_at):
    """A week whose meeting was cancelled and excused (a lockdown) is not missed in the
    pairing's cadence; the alert agrees (decision 122): an excused last week keeps it away,
    and once it lapses again it is dated from the week after the excused one."""
    frozen_at(now() + timedelta(days=21))
    assert ("missed_cadence", w.active_pairing) in keyed(w.ok())
    excused_at = now() - timedelta(days=7)
    meeting = w.post(
        "/meetings",
        {
            "pairing_id": w.active_pairing,
            "scheduled_for": excused_at.isoformat(),
            "location": OFF_SITE,
        },
    )
    w.post(
        f"/meetings/{meeting['id']}/cancellation",
        {"reason": "facility lockdown", "excused": True},
    )
    assert ("missed_cadence", w.active_pairing) not in keyed(w.ok())
    weeks = w.api.get(f"/pairings/{w.active_pairing}/cadence")
    assert "excused" in str(weeks)
    frozen_at(now() + timedelta(days=14))
    rows = {(a["kind"], a["subject_id"]): a for a in w.ok()["items"]}
    zone = ZoneInfo(w.api.get("")["time_zone"])
    local = excused_at.astimezone(zone).date()
    monday = local - timedelta(days=local.weekday()) + timedelta(days=7)
    since = rows[("missed_cadence", w.active_pairing)]["since"]
    assert datetime.fromisoformat(since) == datetime.combine(monday, time.min, zone)
