"""Calendars break at year ends, daylight-saving changes and leap days (DESIGN D10).

Every rule that depends on "today" runs here at several frozen todays, each an instant in a
grantee's time zone chosen where the local date or week differs from UTC's:

- an ordinary Wednesday (2026-11-18);
- New Year's Eve 2026 at 20:00 in Chicago (already 1 January 2027 in UTC), in ISO week
  2026-W53, and New Year's Day 2027, still in 2026-W53;
- the US daylight-saving change days of 2027 (14 March, clocks forward; 7 November, clocks
  back) in America/Chicago and America/Los_Angeles, late on the Sunday (already Monday, the
  next ISO week, in UTC);
- the leap day 2028-02-29.

The rules: meeting cadence and the current week, goal deadlines, the derived 90-day exit, the
quarter a report covers, records retention, and the alerts (expiring clearances, open crises,
debriefs due). Expected values are written out per date, not computed by the code under test.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from domain.cadence import week_start
from services.projector import live as projector
from tests.conftest import FreezeAt, unique_slug
from tests.meetings_helpers import World


@dataclass(frozen=True)
class Edge:
    local: datetime  # the frozen instant, in the grantee's zone
    week: str  # the grantee's ISO week on that day
    quarter: str  # the grantee's calendar quarter on that day

    @property
    def zone(self) -> str:
        return str(self.local.tzinfo)

    @property
    def today(self) -> date:
        return self.local.date()


CHI, LA = ZoneInfo("America/Chicago"), ZoneInfo("America/Los_Angeles")
EDGES = [
    pytest.param(
        Edge(datetime(2026, 11, 18, 12, tzinfo=CHI), "2026-W47", "2026Q4"),
        id="ordinary-wednesday-2026-11-18",
    ),
    pytest.param(
        Edge(datetime(2026, 12, 31, 20, tzinfo=CHI), "2026-W53", "2026Q4"),
        id="new-years-eve-2026-12-31-chicago-W53",
    ),
    pytest.param(
        Edge(datetime(2027, 1, 1, 9, tzinfo=CHI), "2026-W53", "2027Q1"),
        id="new-years-day-2027-01-01-W53",
    ),
    pytest.param(
        Edge(datetime(2027, 3, 14, 20, tzinfo=CHI), "2027-W10", "2027Q1"),
        id="dst-start-2027-03-14-chicago",
    ),
    pytest.param(
        Edge(datetime(2027, 3, 14, 22, 30, tzinfo=LA), "2027-W10", "2027Q1"),
        id="dst-start-2027-03-14-los-angeles",
    ),
    pytest.param(
        Edge(datetime(2027, 11, 7, 19, tzinfo=CHI), "2027-W44", "2027Q4"),
        id="dst-end-2027-11-07-chicago",
    ),
    pytest.param(
        Edge(datetime(2027, 11, 7, 22, tzinfo=LA), "2027-W44", "2027Q4"),
        id="dst-end-2027-11-07-los-angeles",
    ),
    pytest.param(
        Edge(datetime(2028, 2, 29, 12, tzinfo=CHI), "2028-W09", "2028Q1"), id="leap-day-2028-02-29"
    ),
]


def world_at(edge: Edge, frozen_at: FreezeAt, client: Any, auth: Any, db: Any) -> World:
    frozen_at(edge.local, tick=True)
    return World(client, auth, db, edge.zone)


def mentor(w: World, subject: str, edge: Edge) -> str:
    """A certified mentor whose clearance at FCI-A runs a year past the edge."""
    until = (edge.today + timedelta(days=365)).isoformat()
    return w.mentor(subject, clearances=(("FCI-A", "2025-08-01", until),))


def at_local(edge: Edge, days: int, hour: int) -> str:
    """An instant `days` from the edge's local date, at `hour` local time, with its offset."""
    day = edge.today + timedelta(days=days)
    return datetime(day.year, day.month, day.day, hour, tzinfo=edge.local.tzinfo).isoformat()


def monday_of_the_week_before(edge: Edge) -> date:
    return week_start(edge.week) - timedelta(days=7)


@pytest.mark.parametrize("edge", EDGES)
def test_cadence_counts_weeks_on_the_grantees_calendar(
    edge: Edge, frozen_at: FreezeAt, client: Any, auth: Any, db: Any
) -> None:
    w = world_at(edge, frozen_at, client, auth, db)
    m = mentor(w, "cal-mentor", edge)
    mentee = w.enrol()
    opened = monday_of_the_week_before(edge) - timedelta(days=14)  # three weeks before
    pid = w.pair(m, [mentee], at_local(edge, (opened - edge.today).days, 10))
    # Held on the Monday of the week before this one: that week is met, this one pending.
    w.meet(pid, at_local(edge, (monday_of_the_week_before(edge) - edge.today).days, 18))
    out = w.view(f"/pairings/{pid}/cadence", weeks=52)
    weeks = [x["week"] for x in out["weeks"]]
    statuses = {x["week"]: x["status"] for x in out["weeks"]}
    assert weeks[-1] == edge.week
    assert statuses[edge.week] == "pending"
    assert len(weeks) == 4
    starts = [week_start(name) for name in weeks]
    assert all(b - a == timedelta(days=7) for a, b in pairwise(starts))
    assert [statuses[name] for name in weeks] == ["missed", "missed", "met", "pending"]
    if edge.week == "2026-W53":
        assert weeks[-2:] == ["2026-W52", "2026-W53"]
    assert w.view("/cadence-alerts")["current_week"] == edge.week
    # A meeting held now (already the next week in UTC on most of these days) meets this week.
    w.meet(pid, edge.local.isoformat())
    assert w.cadence(pid, weeks=1) == {edge.week: "met"}


@pytest.mark.parametrize("edge", EDGES)
def test_a_goal_falls_overdue_the_day_after_its_target_on_the_grantees_calendar(
    edge: Edge, frozen_at: FreezeAt, client: Any, auth: Any, db: Any
) -> None:
    clock = frozen_at(edge.local - timedelta(days=10), tick=True)
    w = World(client, auth, db, edge.zone)
    mentee = w.enrol()
    body = {
        "participant_id": mentee,
        "horizon": "short_term",
        "domain": "employment",
        "statement": "Apply to three jobs",
        "measure": "applications sent",
        "target": "3",
    }
    due_yesterday = w.post(
        "/goals", {**body, "target_date": (edge.today - timedelta(days=1)).isoformat()}
    )
    clock.set(edge.local)
    # Set today, due today: the target date is the grantee's today, not before it.
    due_today = w.post("/goals", {**body, "target_date": edge.today.isoformat()})
    assert w.get(f"/goals/{due_today['id']}")["overdue"] is False
    assert w.get(f"/goals/{due_yesterday['id']}")["overdue"] is True
    overdue = {g["id"] for g in w.view("/goals", overdue="true")["items"]}
    assert overdue == {due_yesterday["id"]}
    board = w.view("/goals/board", participant_id=mentee)
    assert board["as_of"] == edge.today.isoformat() and board["overdue"] == 1
    alerts = w.view("/alerts", kind="overdue_goal")["items"]
    assert [a["subject_id"] for a in alerts] == [due_yesterday["id"]]


@pytest.mark.parametrize("edge", EDGES)
def test_the_derived_exit_takes_effect_after_90_days_without_service(
    edge: Edge, frozen_at: FreezeAt, client: Any, auth: Any, db: Any
) -> None:
    """The cohort's graduation is the participant's last service; on the 90th day after it they
    are still active, on the 91st they have exited, with the graduation as the exit's source."""
    clock = frozen_at(edge.local, tick=True)
    w = World(client, auth, db, edge.zone)
    graduated = edge.today - timedelta(days=90)
    w.post(
        "/cohorts",
        {
            "code": "CX",
            "facility": "FCI-A",
            "start_date": (graduated - timedelta(days=40)).isoformat(),
        },
    )
    w.enrol("CX", (graduated - timedelta(days=30)).isoformat(), "Exiting")
    w.post("/cohorts/CX/graduation", {"graduated_on": graduated.isoformat()}, status=200)

    def figures(quarter: str) -> dict[str, Any]:
        projector.drain(w.db, w.schema)
        r = w.client.get(f"{w.base}/reports/quarterly/{quarter}", headers=w.headers("coordinator"))
        assert r.status_code == 200, r.text
        return {name: f["value"] for name, f in r.json()["figures"].items()}

    before = figures(edge.quarter)
    clock.set(edge.local + timedelta(days=1))
    tomorrow = edge.today + timedelta(days=1)
    after = figures(f"{tomorrow.year}Q{(tomorrow.month - 1) // 3 + 1}")
    # The four graduates of C0 (World's mentors-to-be) exited long ago: only CX's member moves.
    assert after["enrolment.exited"] == before["enrolment.exited"] + 1
    assert after["enrolment.active"] == before["enrolment.active"] - 1


@pytest.mark.parametrize("edge", EDGES)
def test_a_report_covers_the_grantees_quarter_through_the_grantees_today(
    edge: Edge, frozen_at: FreezeAt, client: Any, auth: Any, db: Any
) -> None:
    w = world_at(edge, frozen_at, client, auth, db)
    r = w.client.get(f"{w.base}/reports/quarterly/{edge.quarter}", headers=w.headers("coordinator"))
    assert r.status_code == 200, r.text
    period = r.json()["period"]
    assert (period["through"], period["complete"]) == (edge.today.isoformat(), False)
    year, q = int(edge.quarter[:4]), int(edge.quarter[-1])
    following = f"{year + q // 4}Q{q % 4 + 1}"
    refused = w.client.get(
        f"{w.base}/reports/quarterly/{following}", headers=w.headers("coordinator")
    )
    assert refused.status_code == 422 and refused.json()["code"] == "quarter_not_started"


def three_years_after(day: date) -> date:
    """Retention (2 CFR 200.334): the same day three years on; a 29 February ends on the 28th."""
    year = day.year + 3
    leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
    if (day.month, day.day) == (2, 29) and not leap:
        return date(year, 2, 28)
    return date(year, day.month, day.day)


@pytest.mark.parametrize("edge", EDGES)
def test_retention_comes_due_three_years_after_the_final_report(
    edge: Edge, frozen_at: FreezeAt, client: Any, auth: Any, db: Any
) -> None:
    # Registered four years before the edge: a final report cannot predate the grantee.
    frozen_at(edge.local - timedelta(days=4 * 365), tick=True)
    slug = unique_slug()
    r = client.post(
        "/v1/grantees",
        json={
            "slug": slug,
            "name": "Old grantee",
            "grant_number": "FS-0001-22",
            "time_zone": edge.zone,
        },
        headers=auth("platform_admin"),
    )
    assert r.status_code == 201, r.text
    frozen_at(edge.local, tick=True)
    base, admin = f"/v1/grantees/{slug}", auth("grantee_admin", slug)

    def status_with(final: date) -> dict[str, Any]:
        r = client.put(
            f"{base}/retention",
            json={"final_expenditure_report_on": final.isoformat()},
            headers=admin,
        )
        assert r.status_code == 200, r.text
        out: dict[str, Any] = r.json()
        assert out["retention_ends_on"] == three_years_after(final).isoformat()
        return out

    # The latest final report whose retention has ended by today, and the day after it.
    candidates = (edge.today - timedelta(days=n) for n in range(1090, 1100))
    due = max(d for d in candidates if three_years_after(d) <= edge.today)
    assert status_with(due)["status"] == "due"
    assert status_with(due + timedelta(days=1))["status"] == "retaining"
    today = status_with(edge.today)  # a final report submitted today
    assert today["status"] == "retaining"
    if edge.today == date(2028, 2, 29):
        assert today["retention_ends_on"] == "2031-02-28"
    r = client.put(
        f"{base}/retention",
        json={"final_expenditure_report_on": (edge.today + timedelta(days=1)).isoformat()},
        headers=admin,
    )
    assert r.status_code == 422 and r.json()["code"] == "date_in_future"


@pytest.mark.parametrize("edge", EDGES)
def test_alerts_come_due_on_the_grantees_calendar(
    edge: Edge, frozen_at: FreezeAt, client: Any, auth: Any, db: Any
) -> None:
    w = world_at(edge, frozen_at, client, auth, db)
    m = mentor(w, "cal-alerts", edge)
    mentee = w.enrol()
    w.pair(m, [mentee], at_local(edge, -20, 10))
    # Clearances: one ends in exactly 30 days (warned), one in 31 (not yet), one ended yesterday.
    for facility, days in (("FCI-B", 30), ("RRC-1", 31)):
        w.post(
            f"/mentors/{m}/clearances",
            {
                "facility": facility,
                "trained_on": "2026-01-05",
                "expires_on": (edge.today + timedelta(days=days)).isoformat(),
            },
        )
    # Crises: one raised 24 hours and a minute ago, one 23 hours 59 minutes ago, in elapsed
    # time (in UTC: arithmetic on a zoned datetime moves the wall clock, which on a
    # daylight-saving day is an hour off).
    now = edge.local.astimezone(UTC)
    old = w.post("/escalations", crisis(m, mentee, now - timedelta(hours=24, minutes=1)))
    w.post("/escalations", crisis(m, mentee, now - timedelta(hours=23, minutes=59)))
    alerts = w.view("/alerts")["items"]
    clearances = [a["detail"] for a in alerts if a["kind"] == "clearance_expiring"]
    assert clearances == [f"clearance for FCI-B expires on {edge.today + timedelta(days=30)}"]
    assert [a["subject_id"] for a in alerts if a["kind"] == "open_crisis"] == [old["id"]]
    # Debriefs: due when the last one is more than 30 days back on the grantee's calendar.
    w.post("/debriefs", debrief(m, edge.today - timedelta(days=30)))
    assert [a for a in w.view("/alerts", kind="debrief_due")["items"] if a["subject_id"] == m] == []
    mentor_late = mentor(w, "cal-late", edge)
    w.post("/debriefs", debrief(mentor_late, edge.today - timedelta(days=31)))
    due = [a["subject_id"] for a in w.view("/alerts", kind="debrief_due")["items"]]
    assert mentor_late in due and m not in due


def crisis(mentor_id: str, participant_id: str, raised_at: datetime) -> dict[str, Any]:
    return {
        "mentor_id": mentor_id,
        "participant_id": participant_id,
        "type": "crisis",
        "severity": "high",
        "description": "lost the RRC bed",
        "raised_at": raised_at.isoformat(),
    }


def debrief(mentor_id: str, held_on: date) -> dict[str, Any]:
    return {
        "mentor_ids": [mentor_id],
        "held_on": held_on.isoformat(),
        "topics": ["self_care"],
        "checks": [{"mentor_id": mentor_id, "wellbeing": "steady"}],
    }
