"""Regression tests for the reporting rules of domain/definitions.py (issue 17): the demo's
findings, each reproduced on a fresh grantee over HTTP.

- A move from stage 1 straight to stage 3 is no stage-2 entry: the funnel shows who passed
  through an RRC and who was released directly.
- A graduate who still mentors is not derived-exited (a held meeting as peer mentor is a
  participation-level service); one who stops everything is, dated back to their last meeting,
  in the report and the PIRL file alike.
- A derived exit drills down per participant: their last service and their entry event, not a
  shared cohort event.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from typing import Any

import msgspec
import pytest

from services.projector import live as projector
from tests.conftest import FreezeAt
from tests.mentoring_helpers import Api, graduates_and_newcomers


@pytest.fixture
def api(client: Any, auth: Any, grantee: str, db: Any, frozen_at: FreezeAt) -> Api:
    # After 2026Q4 has ended: its report is complete whatever day the suite runs.
    frozen_at(datetime(2027, 1, 12, 15, 0, tzinfo=UTC), tick=True)
    return Api(client, auth, grantee, db)


def report(api: Api, quarter: str) -> dict[str, Any]:
    projector.drain(api.db, f"g_{api.slug}")
    out: dict[str, Any] = api.get(f"/reports/quarterly/{quarter}", role="federal_oversight")
    return out


def figures(api: Api, quarter: str) -> dict[str, Any]:
    return {k: f["value"] for k, f in report(api, quarter)["figures"].items()}


def drill(api: Api, quarter: str, figure: str) -> dict[str, Any]:
    projector.drain(api.db, f"g_{api.slug}")
    out: dict[str, Any] = api.get(
        f"/reports/quarterly/{quarter}/figures/{figure}", role="federal_oversight"
    )
    return out


def positions(api: Api, originator: str, suffix: str) -> list[int]:
    rows = api.db.fetchall(
        f'SELECT notification_id FROM "g_{api.slug}".events WHERE originator_id = %s'
        " AND topic LIKE %s ORDER BY notification_id",
        (originator, f"%{suffix}"),
    )
    return [int(r[0]) for r in rows]


def meet(api: Api, pairing: str, day: str) -> str:
    at = f"{day}T15:00:00Z"
    body = {
        "pairing_id": pairing,
        "scheduled_for": at,
        "location": {"kind": "off_site"},
        "held": {"occurred_at": at, "duration_minutes": 60, "topics": ["goals"]},
    }
    return str(api.post("/meetings", body)["id"])


def pirl(api: Api, quarter: str) -> dict[str, dict[str, str]]:
    """The PIRL file of `quarter` by participant id: element -> cell."""
    r = api.client.post(f"{api.base}/exports/pirl/{quarter}", headers=api.headers())
    # 201 records a new file; 200 serves the one already recorded for the same content.
    assert r.status_code in (200, 201), r.text
    table = list(csv.reader(io.StringIO(r.content.decode())))
    header, body = table[0], table[1:]
    rows = api.db.fetchall(
        f'SELECT state FROM "g_{api.slug}".events WHERE topic = %s',
        ("domain.exports:ExportRegister.IdentifiersAssigned",),
    )
    ids = {
        a["identifier"]: a["participant_id"]
        for (state,) in rows
        for a in msgspec.json.decode(bytes(state))["assignments"]
    }
    return {ids[row[0]]: dict(zip(header, row, strict=True)) for row in body}


def test_a_direct_release_is_not_a_stage_2_entry(api: Api) -> None:
    direct = api.enrol("C1", "2026-07-01", first_name="Dee")
    via = api.enrol("C1", "2026-07-01", first_name="Vic")
    api.move(direct, 3, at="2026-08-03T09:00:00Z")
    api.move(via, 2, placement="rrc", facility="RRC-1", at="2026-08-03T09:00:00Z")
    api.move(via, 3, at="2026-09-03T09:00:00Z")
    f = figures(api, "2026Q3")
    assert f["funnel.reached_stage_2"] == 1
    assert f["funnel.reached_stage_3"] == 2
    assert (f["funnel.stage_3_via_rrc"], f["funnel.stage_3_direct"]) == (1, 1)
    assert f["transitions.1_to_3"] == 1
    assert (
        drill(api, "2026Q3", "funnel.reached_stage_2")["positions"]
        == positions(api, via, "StageTransitioned")[:1]
    )
    assert drill(api, "2026Q3", "funnel.stage_3_direct")["units"] == [
        positions(api, direct, "StageTransitioned")
    ]


def test_a_mentor_who_still_mentors_stays_one_who_stops_is_derived_exited(api: Api) -> None:
    # Two graduates of C1 (entered 2026-02-01, graduated 2026-06-01) become certified mentors
    # of two newcomers of C2 (classes still running: the newcomers have service planned).
    (keeps, stops), (mentee_k, mentee_s) = graduates_and_newcomers(api, 2, 2)
    mentor_k = api.certified("Keeps Mentoring", participant_id=keeps)
    mentor_s = api.certified("Stops Mentoring", participant_id=stops)
    pairing_k = api.pair(mentor_k, [mentee_k], opened_at="2026-07-06T15:00:00Z")["id"]
    pairing_s = api.pair(mentor_s, [mentee_s], opened_at="2026-07-06T15:00:00Z")["id"]
    for day in ("2026-07-07", "2026-10-06", "2026-12-01"):
        meet(api, pairing_k, day)
    last = meet(api, pairing_s, "2026-07-08")
    api.close(pairing_s, closed_at="2026-07-10T15:00:00Z")

    # At the end of Q3 the one who stopped last served 84 days before: no exit yet (without
    # the mentoring rule the graduation of 06-01 would have made both exits in Q3).
    q3 = figures(api, "2026Q3")
    assert q3["exits.derived_90_day"] == 0
    q4 = figures(api, "2026Q4")
    assert q4["exits.derived_90_day"] == 1
    unit = sorted(positions(api, last, "Meeting.Held") + positions(api, stops, "Enrolled"))
    d = drill(api, "2026Q4", "exits.derived_90_day")
    assert d["units"] == [unit] and d["positions"] == unit

    rows = pirl(api, "2026Q4")
    assert (rows[stops]["901"], rows[stops]["923"]) == ("20260708", "0")
    assert rows[keeps]["901"] == ""

    # The caseload and the participant view agree with the report.
    projector.drain(api.db, f"g_{api.slug}")
    caseload = {r["id"]: r for r in api.get("/participants", limit=100)["items"]}
    assert {k: caseload[stops][k] for k in ("status", "exit_date", "exit_reason")} == {
        "status": "exited",
        "exit_date": "2026-07-08",
        "exit_reason": "no_service_90_days",
    }
    assert caseload[stops]["exit_derived"] is True
    assert caseload[keeps]["status"] == "active" and caseload[keeps]["exit_derived"] is False
    exited = api.get("/participants", status="exited")["items"]
    assert [r["id"] for r in exited] == [stops]
    assert stops not in {r["id"] for r in api.get("/participants", status="active")["items"]}
    view = api.get(f"/participants/{stops}")
    assert (view["status"], view["exit_date"], view["exit_derived"]) == (
        "exited",
        "2026-07-08",
        True,
    )
    assert api.get(f"/participants/{keeps}")["status"] == "active"


def test_a_derived_exit_stands_when_service_resumes_later(api: Api) -> None:
    # A graduate of C1 (graduated 2026-06-01) has no service for more than 90 days and none
    # planned: exited in Q3, dated 06-01. In Q4 they come back as a certified peer mentor and
    # hold meetings. The exit already reported to DOL stands (PIRL 901 of every later file),
    # rather than the Q4 file contradicting the Q3 one; the mentoring is a new period.
    (grad,), (newcomer,) = graduates_and_newcomers(api, 1, 1)
    q3 = figures(api, "2026Q3")
    assert q3["exits.derived_90_day"] == 1
    assert pirl(api, "2026Q3")[grad]["901"] == "20260601"

    mentor = api.certified("Back As Mentor", participant_id=grad)
    pairing = api.pair(mentor, [newcomer], opened_at="2026-10-05T15:00:00Z")["id"]
    for day in ("2026-10-06", "2026-11-03", "2026-12-01"):
        meet(api, pairing, day)

    q4 = figures(api, "2026Q4")
    assert q4["exits.derived_90_day"] == 0  # counted once, in the quarter it took effect
    assert q4["enrolment.exited"] == 1 and q4["enrolment.active"] == 1
    assert pirl(api, "2026Q4")[grad]["901"] == "20260601"
    projector.drain(api.db, f"g_{api.slug}")
    view = api.get(f"/participants/{grad}")
    assert (view["status"], view["exit_date"], view["exit_derived"]) == (
        "exited",
        "2026-06-01",
        True,
    )


def test_a_participant_released_before_graduation_is_no_longer_in_class(api: Api) -> None:
    # C2's classes run on (no graduation). One newcomer is released to the community on
    # 2026-07-15 and has no service after it: their classes ended that day, so from day 91
    # (2026-10-14), nothing planned, they have exited, dated 07-15. The other stays inside,
    # in class: service is planned, no exit.
    _, (released, inside) = graduates_and_newcomers(api, 0, 2)
    api.move(released, 3, at="2026-07-15T15:00:00Z")
    q3, q4 = figures(api, "2026Q3"), figures(api, "2026Q4")
    assert (q3["exits.derived_90_day"], q4["exits.derived_90_day"]) == (0, 1)
    unit = sorted(
        positions(api, released, "StageTransitioned") + positions(api, released, "Enrolled")
    )
    assert drill(api, "2026Q4", "exits.derived_90_day")["units"] == [unit]
    rows = pirl(api, "2026Q4")
    assert (rows[released]["901"], rows[inside]["901"]) == ("20260715", "")
    view = api.get(f"/participants/{released}")
    assert (view["status"], view["exit_date"], view["exit_derived"]) == (
        "exited",
        "2026-07-15",
        True,
    )
    assert api.get(f"/participants/{inside}")["status"] == "active"


def test_derived_exits_drill_down_per_participant(api: Api) -> None:
    # Two graduates with no service after the graduation: two units, each the shared
    # graduation and the participant's own entry.
    grads, _ = graduates_and_newcomers(api, 2, 0)
    d = drill(api, "2026Q3", "exits.derived_90_day")
    assert d["value"] == 2
    graduation = api.db.fetchall(
        f'SELECT notification_id FROM "g_{api.slug}".events WHERE topic LIKE %s',
        ("%Cohort.Graduated",),
    )
    g = int(graduation[0][0])
    assert d["units"] == sorted(sorted([g, *positions(api, p, "Enrolled")]) for p in grads)


def alerts(api: Api) -> list[dict[str, Any]]:
    projector.drain(api.db, f"g_{api.slug}")
    items: list[dict[str, Any]] = api.get("/alerts", kind="exit_approaching")["items"]
    return items


def test_exit_approaching_from_day_60_names_the_day_the_exit_takes_effect(
    client: Any, auth: Any, grantee: str, db: Any, frozen_at: FreezeAt
) -> None:
    clock = frozen_at(datetime(2026, 7, 20, 15, 0, tzinfo=UTC), tick=True)
    api = Api(client, auth, grantee, db)
    grads, news = graduates_and_newcomers(api, 2, 1)
    mentor = api.certified("Still Mentoring", participant_id=grads[1])
    pairing = api.pair(mentor, [news[0]], opened_at="2026-07-06T15:00:00Z")["id"]
    meet(api, pairing, "2026-07-14")
    # Day 49 after the graduation (06-01): no alert yet.
    assert alerts(api) == []
    # Day 65: grads[0] is warned, naming 08-31 (day 91); grads[1] mentored on 07-14.
    clock.set(datetime(2026, 8, 5, 15, 0, tzinfo=UTC))
    (alert,) = alerts(api)
    assert alert["participant_id"] == grads[0] and alert["subject"] == "participant"
    assert "takes effect on 2026-08-31" in alert["detail"]
    assert "exit date 2026-06-01" in alert["detail"]
    # Once the exit holds, it is an exit (caseload), no longer an alert.
    clock.set(datetime(2026, 9, 1, 15, 0, tzinfo=UTC))
    assert [a["participant_id"] for a in alerts(api)] == []
    row = next(r for r in api.get("/participants")["items"] if r["id"] == grads[0])
    assert (row["status"], row["exit_date"]) == ("exited", "2026-06-01")


@pytest.mark.parametrize("mentoring_is_service", [True, False])
def test_the_mentoring_policy_decides_whether_a_graduate_mentor_is_served(
    api: Api, mentoring_is_service: bool
) -> None:
    # A graduate of C1 (graduated 2026-06-01) mentors a newcomer weekly through the year. Under
    # the grantee's policy (on by default) that mentoring is service and the pairing planned
    # service; with it off, their last service is the graduation: derived exit in 2026Q3.
    (grad,), (mentee,) = graduates_and_newcomers(api, 1, 1)
    policy = api.policy(mentoring_is_service=mentoring_is_service)
    assert policy["rules"]["mentoring_is_service"] is mentoring_is_service
    mentor = api.certified("Graduate Mentor", participant_id=grad)
    pairing = api.pair(mentor, [mentee], opened_at="2026-07-06T15:00:00Z")["id"]
    for day in ("2026-07-07", "2026-08-04", "2026-09-01", "2026-10-06", "2026-12-01"):
        meet(api, pairing, day)
    q3 = figures(api, "2026Q3")
    assert q3["exits.derived_90_day"] == (0 if mentoring_is_service else 1)
    rows = pirl(api, "2026Q3")
    assert rows[grad]["901"] == ("" if mentoring_is_service else "20260601")
    assert rows[grad]["1007"] == ("20260901" if mentoring_is_service else "")
    projector.drain(api.db, f"g_{api.slug}")
    view = api.get(f"/participants/{grad}")
    assert view["status"] == ("active" if mentoring_is_service else "exited")
    assert view.get("exit_derived", False) is not mentoring_is_service


@pytest.mark.parametrize("cancelled", [False, True])
def test_a_meeting_scheduled_in_the_next_14_days_is_planned_service(
    api: Api, cancelled: bool, frozen_at: FreezeAt
) -> None:
    # A graduate (classes ended 2026-06-01) met a community mentor on 06-10, the pairing closed
    # on 06-20, and meetings stay scheduled for 09-20 and 10-02. From 09-09 (the 91st day after
    # the last service) to 10-02 one of them is always at most 14 days ahead: service is
    # planned, so no derived exit in 2026Q3 unless they were cancelled. Once 10-02 passed
    # without either being held, the exit holds (from 10-03, in 2026Q4).
    (grad,), _ = graduates_and_newcomers(api, 1, 0)
    api.policy(stage1=["community_peer"])
    mentor = api.certified("Community Mentor")
    pairing = api.pair(mentor, [grad], opened_at="2026-06-02T15:00:00Z")["id"]
    meet(api, pairing, "2026-06-10")
    for day in ("2026-09-20", "2026-10-02"):
        body = {
            "pairing_id": pairing,
            "scheduled_for": f"{day}T15:00:00Z",
            "location": {"kind": "off_site"},
        }
        later = api.post("/meetings", body)["id"]
        if cancelled:
            api.post(f"/meetings/{later}/cancellation", {"reason": "moved away", "excused": False})
    api.close(pairing, closed_at="2026-06-20T15:00:00Z")
    q3, q4 = figures(api, "2026Q3"), figures(api, "2026Q4")
    assert (q3["exits.derived_90_day"], q4["exits.derived_90_day"]) == (
        (1, 0) if cancelled else (0, 1)
    )
    assert pirl(api, "2026Q3")[grad]["901"] == ("20260610" if cancelled else "")
    assert pirl(api, "2026Q4")[grad]["901"] == "20260610"
    # The caseload and the alerts on 2026-09-30 agree with the Q3 figures: exited when the
    # meetings were cancelled; else still active, and no exit_approaching (service is planned).
    frozen_at(datetime(2026, 9, 30, 20, 0, tzinfo=UTC))
    view = api.get(f"/participants/{grad}")
    assert (view["status"], view["exit_date"]) == (
        ("exited", "2026-06-10") if cancelled else ("active", None)
    )
    assert [a for a in alerts(api) if a.get("participant_id") == grad] == []
