"""The oversight projection and the quarterly figures, on a history built over HTTP and checked
against values worked out by hand; every figure drills down to the events that produced it.

The history (grantee time zone America/Chicago; the quarter checked is 2026Q3, 1 July to
30 September 2026, reported after it ended):

- P1 cohort C1, entered 2026-02-02; to an RRC on 07-15, to the community on 09-01; paired
  with mentor M1 from 07-06 (open at the end).
- P2 C1, entered 03-02; to the community on 08-10; exit recorded 09-15 (completed).
- P3 C1, entered 07-20 (new in the quarter); stays in stage 1, never paired.
- P4 cohort C2 (graduated 04-30), entered 01-12; no service after the graduation: the derived
  90-day exit holds at the end of Q3 (not yet at the end of Q2), dated back to 04-30.
- P5 C1, entered 02-16; home confinement 06-01 (their class hours end); returned to custody
  08-20; paired with M1 from 08-03 to 09-20: derived-exited in Q4, from 11-11, dated 08-12.
- P6 C1, entered 04-01; exit recorded 06-15 (relocated), before the quarter.

Meetings of P1's pairing: held 07-07 (60 min), 07-14 (90), missed 07-21, excused cancellation
07-28, held 08-04 (45); of P5's: held 08-05 (30), 08-12 (60). Escalations for M1: a conflict
raised 06-29 and resolved 07-01 (54 h), a crisis on 07-10 (12 h), a boundary concern 08-20 to
08-22 (48 h), a safety issue raised 09-25 and still open. Feedback: 08-15 (5 and 4), 09-01 (3).
Mentors (registered and certified when recorded: today) and goals (set when recorded) are
checked in the current quarter.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from domain import clock
from services.projector import live as projector
from services.projector import rebuilds
from services.reports.quarterly import Quarter
from services.store.database import Database

ZONE = ZoneInfo("America/Chicago")
MODULES = [
    "communication_skills",
    "crisis_management",
    "cultural_sensitivity",
    "mentoring_techniques",
    "boundaries_and_confidentiality",
    "conflict_resolution",
]
# Distinctive personal details: none of them may ever appear in an oversight response.
PEOPLE = {
    "P1": ("Zebulon", "Quartermaine", "1979-11-23", "40117-054"),
    "P2": ("Xanthe", "Vollbrecht", "1983-02-17", "40229-061"),
    "P3": ("Ysolde", "Prewitt", "1991-08-09", "40331-072"),
    "P4": ("Wendell", "Okonkwo", "1975-05-28", "40443-083"),
    "P5": ("Ulrich", "Fenwicke", "1987-12-04", "40555-094"),
    "P6": ("Tamsin", "Achterberg", "1969-06-30", "40667-015"),
}
MENTOR_NAMES = ("Hieronymus Blackwood", "Philippa Thistlewaite")


@dataclass
class History:
    client: TestClient[Litestar]
    auth: Callable[..., dict[str, str]]
    db: Database
    slug: str = field(default_factory=lambda: f"ov_{secrets.token_hex(5)}")
    ids: dict[str, str] = field(default_factory=dict)
    before_last: datetime | None = None
    settings: Any = None

    @property
    def base(self) -> str:
        return f"/v1/grantees/{self.slug}"

    @property
    def schema(self) -> str:
        return f"g_{self.slug}"

    def post(self, path: str, body: dict[str, Any], role: str = "coordinator") -> Any:
        r = self.client.post(self.base + path, json=body, headers=self.auth(role, self.slug))
        assert r.status_code in (200, 201), r.text
        return r.json()

    def positions(self, originator: str, topic_suffix: str) -> list[int]:
        """Log positions of one aggregate's events of one class, ascending."""
        rows = self.db.fetchall(
            f'SELECT notification_id FROM "{self.schema}".events WHERE originator_id = %s'
            " AND topic LIKE %s ORDER BY notification_id",
            (originator, f"%{topic_suffix}"),
        )
        return [int(r[0]) for r in rows]

    def topic_positions(self, topic_suffix: str) -> list[int]:
        rows = self.db.fetchall(
            f'SELECT notification_id FROM "{self.schema}".events WHERE topic LIKE %s'
            " ORDER BY notification_id",
            (f"%{topic_suffix}",),
        )
        return [int(r[0]) for r in rows]

    def report(self, quarter: str, role: str = "federal_oversight", **params: Any) -> Any:
        projector.drain(self.db, self.schema)
        r = self.client.get(
            f"{self.base}/reports/quarterly/{quarter}",
            params=params,
            headers=self.auth(role, self.slug),
        )
        assert r.status_code == 200, r.text
        return r

    def figures(self, quarter: str, **params: Any) -> dict[str, Any]:
        doc = self.report(quarter, **params).json()
        return {name: f["value"] for name, f in doc["figures"].items()}

    def drill(self, quarter: str, figure: str, **params: Any) -> dict[str, Any]:
        projector.drain(self.db, self.schema)
        r = self.client.get(
            f"{self.base}/reports/quarterly/{quarter}/figures/{figure}",
            params=params,
            headers=self.auth("federal_oversight", self.slug),
        )
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        return body


def today_utc() -> datetime:
    return clock.now()


def build(
    client: TestClient[Litestar], auth: Callable[..., dict[str, str]], db: Database
) -> History:
    h = History(client, auth, db)
    r = client.post(
        "/v1/grantees",
        json={
            "slug": h.slug,
            "name": "Oversight grantee",
            "grant_number": "FS-0077-26",
            "time_zone": "America/Chicago",
        },
        headers=auth("platform_admin"),
    )
    assert r.status_code == 201, r.text
    for code, kind in (("FCI-A", "bop_institution"), ("RRC-1", "rrc")):
        h.post("/facilities", {"code": code, "name": f"Facility {code}", "kind": kind})
    h.post("/cohorts", {"code": "C1", "facility": "FCI-A", "start_date": "2026-01-05"})
    h.post("/cohorts", {"code": "C2", "facility": "FCI-A", "start_date": "2026-01-05"})
    peers = ["community_peer"]
    h.post(
        "/policy",
        {"stage1": peers, "stage2": peers, "stage3": peers},
        role="grantee_admin",
    )
    entries = {
        "P1": ("C1", "2026-02-02"),
        "P2": ("C1", "2026-03-02"),
        "P3": ("C1", "2026-07-20"),
        "P4": ("C2", "2026-01-12"),
        "P5": ("C1", "2026-02-16"),
        "P6": ("C1", "2026-04-01"),
    }
    for key, (cohort, entry) in entries.items():
        first, last, dob, register = PEOPLE[key]
        h.ids[key] = h.post(
            "/participants",
            {
                "first_name": first,
                "last_name": last,
                "date_of_birth": dob,
                "program_entry_date": entry,
                "facility": "FCI-A",
                "cohort": cohort,
                "bop_register_number": register,
            },
        )["id"]
    h.post("/cohorts/C2/graduation", {"graduated_on": "2026-04-30"})

    def move(key: str, body: dict[str, Any]) -> None:
        h.post(f"/participants/{h.ids[key]}/stage-transitions", body)

    move(
        "P1",
        {
            "to_stage": 2,
            "placement": "rrc",
            "facility": "RRC-1",
            "occurred_at": "2026-07-15T14:00:00Z",
        },
    )
    move("P1", {"to_stage": 3, "occurred_at": "2026-09-01T14:00:00Z"})
    move("P2", {"to_stage": 3, "occurred_at": "2026-08-10T14:00:00Z"})
    move(
        "P5",
        {"to_stage": 2, "placement": "home_confinement", "occurred_at": "2026-06-01T14:00:00Z"},
    )
    move("P5", {"to_stage": 1, "returned_to_custody": True, "occurred_at": "2026-08-20T14:00:00Z"})
    h.post(f"/participants/{h.ids['P6']}/exit", {"exit_date": "2026-06-15", "reason": "relocated"})

    # Mentors: M1 certified, M2 half-trained; training and screening dated today (Chicago).
    local_today = today_utc().astimezone(ZONE).date().isoformat()
    for i, name in enumerate(MENTOR_NAMES):
        mentor = h.post(
            "/mentors",
            {
                "display_name": name,
                "source": "community_peer",
                "channel": "community_organization",
                "expected_hours_per_month": 6,
            },
        )["id"]
        h.ids[f"M{i + 1}"] = mentor
        modules = MODULES if i == 0 else MODULES[:3]
        for module in modules:
            h.post(
                f"/mentors/{mentor}/trainings",
                {
                    "module": module,
                    "completed_on": local_today,
                    "hours": 1.5,
                    "trainer": "Lou Brandt",
                },
            )
        if i == 0:
            for step in ("application", "interview", "references"):
                h.post(
                    f"/mentors/{mentor}/screening-steps",
                    {"step": step, "completed_on": local_today, "staff": "Dana Cole"},
                )
            h.post(
                f"/mentors/{mentor}/background-review",
                {"decision": "approved", "reviewer": "Rita Ortiz", "reviewed_on": local_today},
            )
            h.post(f"/mentors/{mentor}/certification", {})

    def pair(key: str, opened_at: str) -> str:
        return str(
            h.post(
                "/pairings",
                {
                    "kind": "individual",
                    "mentor_id": h.ids["M1"],
                    "members": [h.ids[key]],
                    "location": {"kind": "off_site"},
                    "criteria": ["shared_experience"],
                    "opened_at": opened_at,
                },
            )["id"]
        )

    h.ids["A"] = pair("P1", "2026-07-06T15:00:00Z")
    h.ids["B"] = pair("P5", "2026-08-03T15:00:00Z")

    def meet(pairing: str, day: str, minutes: int | None = None) -> str:
        body: dict[str, Any] = {
            "pairing_id": h.ids[pairing],
            "scheduled_for": f"{day}T15:00:00Z",
            "location": {"kind": "off_site"},
        }
        if minutes is not None:
            body["held"] = {
                "occurred_at": f"{day}T15:00:00Z",
                "duration_minutes": minutes,
                "topics": ["goals"],
                "summary": "Talked about Zebulon's plans",
            }
        return str(h.post("/meetings", body)["id"])

    for day, minutes in (("2026-07-07", 60), ("2026-07-14", 90), ("2026-08-04", 45)):
        h.ids[f"A-{day}"] = meet("A", day, minutes)
    missed = meet("A", "2026-07-21")
    h.post(f"/meetings/{missed}/missed", {"no_show_by": "mentee"})
    h.ids["missed"] = missed
    cancelled = meet("A", "2026-07-28")
    h.post(f"/meetings/{cancelled}/cancellation", {"reason": "facility lockdown", "excused": True})
    h.ids["cancelled"] = cancelled
    for day, minutes in (("2026-08-05", 30), ("2026-08-12", 60)):
        h.ids[f"B-{day}"] = meet("B", day, minutes)
    h.post(
        f"/pairings/{h.ids['B']}/closure",
        {
            "closure_type": "unplanned",
            "reason": "returned to custody",
            "initiator": "program",
            "rematch_eligible": True,
            "closed_at": "2026-09-20T15:00:00Z",
        },
    )

    def escalation(kind: str, raised: str, resolved: str | None) -> str:
        esc = h.post(
            "/escalations",
            {
                "mentor_id": h.ids["M1"],
                "type": kind,
                "severity": "high",
                "description": "Zebulon Quartermaine asked for help",
                "raised_at": raised,
            },
        )["id"]
        if resolved is not None:
            h.post(f"/escalations/{esc}/acknowledgement", {"acknowledged_at": raised})
            h.post(
                f"/escalations/{esc}/resolution",
                {"resolution": "talked it through", "resolved_at": resolved},
            )
        return str(esc)

    h.ids["conflict"] = escalation("conflict", "2026-06-29T12:00:00Z", "2026-07-01T18:00:00Z")
    h.ids["crisis"] = escalation("crisis", "2026-07-10T14:00:00Z", "2026-07-11T02:00:00Z")
    h.ids["boundary"] = escalation(
        "boundary_concern", "2026-08-20T12:00:00Z", "2026-08-22T12:00:00Z"
    )
    h.ids["safety"] = escalation("safety", "2026-09-25T12:00:00Z", None)

    for key, pairing, given_on, ratings in (
        ("P1", "A", "2026-08-15", [("overall", 5), ("trust", 4)]),
        ("P5", "B", "2026-09-01", [("overall", 3)]),
    ):
        h.post(
            "/feedback",
            {
                "pairing_id": h.ids[pairing],
                "participant_id": h.ids[key],
                "given_on": given_on,
                "ratings": [{"question": q, "score": s} for q, s in ratings],
                "comment": "Zebulon says thanks",
            },
        )

    # Goals are dated when recorded (today): checked in the current quarter.
    soon = (today_utc() + timedelta(days=3)).date().isoformat()
    month = (today_utc() + timedelta(days=30)).date().isoformat()
    year = (today_utc() + timedelta(days=365)).date().isoformat()
    goals = {}
    for key, who, horizon, target in (
        ("G1", "P1", "weekly", soon),
        ("G2", "P3", "short_term", month),
        ("G3", "P1", "long_term", year),
    ):
        goals[key] = h.post(
            "/goals",
            {
                "participant_id": h.ids[who],
                "horizon": horizon,
                "domain": "employment",
                "statement": "Apply for three jobs",
                "measure": "applications sent",
                "target": "3",
                "target_date": target,
            },
        )["id"]
    h.post(f"/goals/{goals['G1']}/achievement", {"note": "celebrated"})
    h.ids.update(goals)

    # The last event: P2's exit. `before_last` lies between it and everything else.
    time.sleep(0.02)
    h.before_last = today_utc()
    time.sleep(0.02)
    h.post(f"/participants/{h.ids['P2']}/exit", {"exit_date": "2026-09-15", "reason": "completed"})
    projector.drain(db, h.schema)
    return h


@pytest.fixture(scope="module")
def history(
    client: TestClient[Litestar], auth: Callable[..., dict[str, str]], db: Database
) -> History:
    return build(client, auth, db)


# The 2026Q3 figures, worked out by hand from the history above.
EXPECTED_Q3 = {
    "enrolment.new": 1,
    "enrolment.cumulative": 6,
    "enrolment.active": 3,
    "enrolment.stage_1": 2,
    "enrolment.stage_2": 0,
    "enrolment.stage_3": 1,
    "enrolment.exited": 3,
    "funnel.enrolled": 6,
    "funnel.reached_stage_2": 2,
    "funnel.reached_stage_3": 2,
    "funnel.stage_3_via_rrc": 1,
    "funnel.stage_3_direct": 1,
    "funnel.completed": 1,
    "transitions.1_to_2": 1,
    "transitions.1_to_3": 1,
    "transitions.2_to_2": 0,
    "transitions.2_to_3": 1,
    "returned_to_custody.total": 1,
    "returned_to_custody.from_stage_2": 1,
    "returned_to_custody.from_stage_3": 0,
    "exits.total": 2,
    "exits.completed": 1,
    "exits.relocated": 0,
    "exits.derived_90_day": 1,
    "retention.eligible": 5,
    "retention.retained": 3,
    "retention.rate": 0.6,
    "mentoring.active_participants": 3,
    "mentoring.paired_participants": 1,
    "mentoring.coverage_rate": 0.3333,
    "mentoring.first_pairings": 2,
    "mentoring.days_to_first_pairing_mean": 161.0,
    "mentoring.days_to_first_pairing_median": 161.0,
    "meetings.held": 5,
    "meetings.hours": 4.75,
    "meetings.missed": 1,
    "meetings.cancelled_excused": 1,
    "cadence.weeks_met": 5,
    "cadence.weeks_missed": 13,
    "cadence.weeks_excused": 1,
    "cadence.weeks_pending": 0,
    "cadence.compliance_rate": 0.2778,
    "cadence.week.2026-W27.met": 0,
    "cadence.week.2026-W28.met": 1,
    "cadence.week.2026-W30.missed": 1,
    "cadence.week.2026-W31.excused": 1,
    "cadence.week.2026-W32.met": 2,
    "cadence.week.2026-W33.met": 1,
    "cadence.week.2026-W33.missed": 1,
    "cadence.week.2026-W36.missed": 2,
    "cadence.week.2026-W39.missed": 1,
    "mentors.active": 1,
    "escalations.raised.total": 3,
    "escalations.raised.crisis": 1,
    "escalations.raised.boundary_concern": 1,
    "escalations.raised.safety": 1,
    "escalations.raised.conflict": 0,
    "escalations.resolved.total": 3,
    "escalations.hours_to_resolve_mean": 38.0,
    "escalations.hours_to_resolve_median": 48.0,
    "escalations.hours_to_resolve_mean.crisis": 12.0,
    "escalations.hours_to_resolve_mean.conflict": 54.0,
    "escalations.hours_to_resolve_mean.safety": None,
    "escalations.open_at_end": 1,
    "feedback.responses": 2,
    "feedback.mean_rating": 4.0,
    "goals.set.total": 0,
}


def test_quarter_figures_match_the_hand_computed_values(history: History) -> None:
    figures = history.figures("2026Q3")
    assert {name: figures[name] for name in EXPECTED_Q3} == EXPECTED_Q3
    doc = history.report("2026Q3").json()
    assert doc["period"] == {
        "start": "2026-07-01",
        "end": "2026-09-30",
        "through": "2026-09-30",
        "complete": True,
        "time_zone": "America/Chicago",
    }
    assert doc["stands_at"]["position"] == max(history.topic_positions(""))


def test_the_derived_exit_waits_for_ninety_days(history: History) -> None:
    # At the end of Q2 P4's last service (the graduation on 04-30) is 61 days old: no exit yet;
    # P6's recorded exit (06-15, relocated) falls in Q2.
    q2 = history.figures("2026Q2")
    assert q2["exits.derived_90_day"] == 0
    assert q2["exits.relocated"] == 1
    assert q2["exits.total"] == 1
    assert q2["transitions.2_to_2"] == 0
    assert q2["transitions.1_to_2"] == 1  # P5 to home confinement on 06-01
    # Q4 does not count P4's exit again. It counts P5's: their classes ended when they left
    # stage 1 (06-01), their pairing closed on 09-20, and from 11-11 (day 91 after their last
    # meeting, 08-12) nothing is planned; the suite's clock stands after that day.
    drilled = history.drill("2026Q4", "exits.derived_90_day")
    p = history.positions
    [unit] = drilled["units"]
    assert p(history.ids["P5"], "Enrolled")[0] in unit
    assert not set(p(history.ids["P4"], "Enrolled")) & set(unit)
    assert drilled["value"] == 1


def test_mentor_training_and_goal_figures_of_the_current_quarter(history: History) -> None:
    quarter = Quarter.of(today_utc().astimezone(ZONE).date()).name
    figures = history.figures(quarter)
    assert {
        k: figures[k]
        for k in (
            "mentors.registered",
            "mentors.registered_new",
            "mentors.certified",
            "mentors.certified_new",
            "training.modules_completed",
            "training.hours",
            "training.mentors_complete",
            "training.completion_rate",
            "goals.set.weekly",
            "goals.set.short_term",
            "goals.set.long_term",
            "goals.set.total",
            "goals.achieved.weekly",
            "goals.achieved.total",
        )
    } == {
        "mentors.registered": 2,
        "mentors.registered_new": 2,
        "mentors.certified": 1,
        "mentors.certified_new": 1,
        "training.modules_completed": 9,
        "training.hours": 13.5,
        "training.mentors_complete": 1,
        "training.completion_rate": 0.5,
        "goals.set.weekly": 1,
        "goals.set.short_term": 1,
        "goals.set.long_term": 1,
        "goals.set.total": 3,
        "goals.achieved.weekly": 1,
        "goals.achieved.total": 1,
    }


def test_figures_drill_down_to_the_events_that_produced_them(history: History) -> None:
    ids = history.ids
    p = history.positions

    def drilled(figure: str) -> list[int]:
        return list(history.drill("2026Q3", figure)["positions"])

    assert drilled("exits.completed") == p(ids["P2"], "Exited")
    # The derived exit points at the participant's last service (the cohort's graduation)
    # and at their entry: one unit per participant.
    derived = history.drill("2026Q3", "exits.derived_90_day")
    unit = sorted(history.topic_positions("Cohort.Graduated") + p(ids["P4"], "Enrolled"))
    assert derived["positions"] == unit and derived["units"] == [unit]
    assert drilled("enrolment.new") == p(ids["P3"], "Enrolled")
    assert drilled("transitions.1_to_2") == p(ids["P1"], "StageTransitioned")[:1]
    assert drilled("transitions.1_to_3") == p(ids["P2"], "StageTransitioned")
    assert drilled("returned_to_custody.total") == p(ids["P5"], "ReturnedToCustody")
    held = sorted(
        pos for key, mid in ids.items() if key[:2] in ("A-", "B-") for pos in p(mid, "Meeting.Held")
    )
    assert len(held) == 5
    assert drilled("meetings.held") == held
    assert drilled("meetings.missed") == p(ids["missed"], "Meeting.Missed")
    assert drilled("escalations.open_at_end") == p(ids["safety"], "Escalation.Raised")
    assert drilled("mentoring.paired_participants") == p(ids["P1"], "PairingJoined")
    assert drilled("feedback.mean_rating") == history.topic_positions("Feedback.Given")
    crisis = history.drill("2026Q3", "escalations.hours_to_resolve_mean.crisis")
    assert crisis["positions"] == p(ids["crisis"], "Escalation.Raised") + p(
        ids["crisis"], "Escalation.Resolved"
    )
    assert crisis["value"] == 12.0 and crisis["events"] == 2


def test_drill_down_pages_through_positions(history: History) -> None:
    whole = history.drill("2026Q3", "meetings.held")["positions"]
    first = history.drill("2026Q3", "meetings.held", limit=2)
    assert first["positions"] == whole[:2] and first["events"] == 5
    second = history.drill("2026Q3", "meetings.held", limit=2, after=first["next_after"])
    third = history.drill("2026Q3", "meetings.held", limit=2, after=second["next_after"])
    assert second["positions"] + third["positions"] == whole[2:]
    assert third["next_after"] is None


def test_unknown_figure_is_404(history: History) -> None:
    r = history.client.get(
        f"{history.base}/reports/quarterly/2026Q3/figures/enrolment.everyone",
        headers=history.auth("federal_oversight", history.slug),
    )
    assert r.status_code == 404
    assert r.json()["code"] == "figure_not_found"


def test_a_rebuild_of_the_facts_gives_the_same_rows_and_report(history: History) -> None:
    before = projector.digests(history.db, history.schema)["oversight"]
    report = history.report("2026Q3").content
    rebuilds.rebuild(history.db, history.schema, "oversight")
    assert projector.digests(history.db, history.schema)["oversight"] == before
    assert history.report("2026Q3").content == report
